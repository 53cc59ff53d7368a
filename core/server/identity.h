// Who is calling. Development identity mode (until real authentication):
// the caller names itself in metadata x-bpm-user, x-bpm-roles (comma
// separated), x-bpm-org. Every service reads the caller through CallerOf.
//
// Errors: UNAUTHENTICATED without x-bpm-user; INVALID_ARGUMENT for values
// over the limits (128-byte user, 64 roles).
// Thread safety: stateless.
#pragma once

#include <grpcpp/grpcpp.h>

#include "core/common/status.h"
#include "core/store/store.h"

namespace bpm::server {

StatusOr<store::Caller> CallerOf(const grpc::ServerContextBase& ctx);

// absl::Status -> grpc::Status (same code, same message).
grpc::Status ToGrpc(const Status& status);

// Runs fn(caller) and moves its value into *out, translating the status.
template <typename Fn, typename Out>
grpc::Status Handle(const grpc::ServerContextBase* ctx, Out* out, Fn&& fn) {
  auto caller = CallerOf(*ctx);
  if (!caller.ok()) return ToGrpc(caller.status());
  auto result = fn(*caller);
  if (!result.ok()) return ToGrpc(result.status());
  *out = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace bpm::server
