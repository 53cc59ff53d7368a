// The gRPC AgencyService of bpmd (proto/bpm/v1/agency.proto): registry,
// engagements, the agencies' pull protocol, incidents and the outbox.
// Handlers only translate; the rules live in core/agency and the engine.
// Thread safety: stateless apart from the borrowed engine.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "core/engine/engine.h"

namespace bpm::server {

std::unique_ptr<grpc::Service> MakeAgencyService(engine::Engine& engine);

}  // namespace bpm::server
