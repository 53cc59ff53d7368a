// The gRPC OrgService of bpmd (proto/bpm/v1/org.proto): regions, orgs,
// users, role grants, bulk import and context resolution over the org
// model. Handlers only translate (metadata -> caller, request -> OrgStore /
// core/org call, Status -> grpc::Status); the checks live in the store and
// in core/org. A time of 0 in a request means now, read from `clock`.
//
// Errors: those of OrgStore, bpm::org::ImportOrgFile and ResolveOrgContext,
// unchanged; UNAUTHENTICATED without x-bpm-user (as every service).
// Thread safety: stateless apart from the borrowed store and clock; called
// concurrently by gRPC's sync-server thread pool.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/common/clock.h"
#include "core/store/org_store.h"

namespace bpm::server {

// Called after org versions were written with the codes of those already in
// effect (valid_from <= now), so their open tasks can re-route at once;
// versions dated later are picked up by the scheduler when they take effect.
using OrgChangeHook = std::function<void(const std::vector<std::string>& org_codes)>;

// orgs and clock are borrowed and must outlive the service. on_change may be
// empty.
std::unique_ptr<grpc::Service> MakeOrgService(store::OrgStore& orgs, const Clock& clock,
                                              OrgChangeHook on_change = {});

}  // namespace bpm::server
