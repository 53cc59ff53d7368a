// Authorization: who may call which RPC on what (role × org scope × action),
// deny by default. docs/authorization.md has the matrix in prose.
//
// Every RPC bpmd serves has one entry in a fixed policy table, keyed by its
// full gRPC method name ("/bpm.v1.InstanceService/Get"). A method missing
// from the table is refused (PERMISSION_DENIED "no authorization policy"), and
// tests/integration/authz_test.cc fails for it. Each entry names a gate:
//
//   kPublic      anyone, no identity: gRPC health checks and reflection
//   kSelf        any caller but the public; the engine limits it to what is
//                the caller's own (its inbox, the tasks assigned to it, its
//                proxies and notifications)
//   kStaff       any caller but the public and agencies (definitions, the org
//                model)
//   kInstance    staff whose org scope covers the org the request names: the
//                instance's owning org (by instance or task id) or the org to
//                start for (core/org/scope.h)
//   kList        staff; the answer holds only instances in the caller's scope
//   kDisclosure  as kInstance, and role public for disclosure documents
//   kFinance     staff of a finance bureau or section in the org model
//   kEngagement  kFinance, or an agency (the engine shows it only its own)
//   kAgencyWork  role agency (the engine checks the engagement is its own)
//   kOrgAdmin    role org_admin
//   kAdmin       role workflow_admin
// Role workflow_admin passes every gate but kAgencyWork and sees every org;
// it still acts on a task only when the task is assigned to it (separation
// of duties is the engine's: core/engine/engine.h). A caller with role public
// or agency is that and nothing else, whatever other roles it claims.
//
// Errors: PERMISSION_DENIED naming the method or object, the user, its roles
// and org; UNAVAILABLE when the org model cannot be read.
// Thread safety: SetOrgScope once before serving; the rest from any thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/status.h"
#include "core/org/scope.h"
#include "core/store/store.h"

namespace bpm::server {

enum class Gate {
  kPublic,
  kSelf,
  kStaff,
  kInstance,
  kList,
  kDisclosure,
  kFinance,
  kEngagement,
  kAgencyWork,
  kOrgAdmin,
  kAdmin,
};

struct MethodPolicy {
  const char* method;  // "/package.Service/Method"
  Gate gate;
};

// The whole table, and one method's entry (null: none).
const std::vector<MethodPolicy>& Policies();
const MethodPolicy* PolicyFor(std::string_view method);
const char* GateName(Gate gate);

// The org model scopes are computed from (unset: none, so callers see only
// their own org and codes below it by the budget-code rule).
void SetOrgScope(std::shared_ptr<org::Scope> scope);

// The caller of ctx, admitted to method by its gate (the org part of
// kInstance and kDisclosure is checked by CheckOrg once the org is known).
StatusOr<store::Caller> Authorize(const grpc::ServerContextBase& ctx, std::string_view method);

// PERMISSION_DENIED unless org is in the caller's scope; what names the
// object ("instance 42").
Status CheckOrg(const store::Caller& caller, const std::string& org, const std::string& what);

// Whether org is in the caller's scope (every org for workflow_admin).
StatusOr<bool> InScope(const store::Caller& caller, const std::string& org);

// The orgs the caller may list.
StatusOr<store::OrgSet> ScopeOf(const store::Caller& caller);

bool HasRole(const store::Caller& caller, std::string_view role);
inline constexpr const char* kPublicRole = "public";
inline constexpr const char* kAgencyRole = "agency";
inline constexpr const char* kOrgAdminRole = "org_admin";

}  // namespace bpm::server
