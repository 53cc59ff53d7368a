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
// async Start and Act, by its callback threads and the command queue). The
// in-flight count of async commands is atomic.
#pragma once

#include <memory>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/service_type.h>

#include "core/common/work_queue.h"
#include "core/engine/engine.h"

namespace bpm::server {

// How Start and Act are served.
struct CommandOptions {
  // On gRPC's callback API, answered when their commit is durable without a
  // thread waiting for it; false: on the sync API like the other calls.
  bool async = true;
  // Borrowed, must outlive the server; nullptr for a store with local reads
  // (Store::LocalReads): where async commands are prepared, since their reads
  // block and gRPC's callback threads must not. Without it they are prepared
  // on the gRPC thread that read the request.
  WorkQueue* queue = nullptr;
  // Back-pressure for async commands: at most this many accepted and not yet
  // answered (preparing, queued for their commit or being written); more are
  // answered RESOURCE_EXHAUSTED at once, naming the limit, instead of queuing
  // without bound. 0: no limit. (The sync API is bounded by its threads.)
  int max_inflight = 0;
};

// Creates the API services over engine (borrowed; must outlive them).
std::vector<std::unique_ptr<grpc::Service>> MakeServices(engine::Engine& engine,
                                                         const CommandOptions& commands);

}  // namespace bpm::server
