// gRPC services of bpmd. Handlers only translate: metadata -> Caller,
// request -> engine call, Status -> grpc::Status. No business logic here.
//
// Identity: core/server/identity.h (a token, a client certificate or, in
// development mode, metadata). Every handler admits its caller through
// Authorize (core/server/authz.h) and checks the org of the instance or org a
// request names against the caller's scope before the engine runs.
//
// Thread safety: the services are stateless apart from the borrowed Engine
// and are called concurrently by gRPC's sync-server thread pool (and, for
// Start and Act with async_commands, by its callback threads and the
// command queue).
#pragma once

#include <memory>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/service_type.h>

#include "core/common/work_queue.h"
#include "core/engine/engine.h"

namespace bpm::server {

// Creates the API services over engine (borrowed; must outlive them).
// async_commands: Start and Act on gRPC's callback API, answered when their
// commit is durable without a thread waiting for it; the rest on the sync API.
// command_queue (borrowed, must outlive the server; nullptr for a store with
// local reads, Store::LocalReads): where async commands are prepared, since
// their reads block and gRPC's callback threads must not. Without it they are
// prepared on the gRPC thread that read the request.
std::vector<std::unique_ptr<grpc::Service>> MakeServices(engine::Engine& engine,
                                                         bool async_commands,
                                                         WorkQueue* command_queue = nullptr);

}  // namespace bpm::server
