// Who is calling. Every service reads the caller through CallerOf, from one
// of two sources, chosen at start-up:
//   - signed tokens (SetTokenVerifier): metadata "authorization: Bearer JWT",
//     checked by core/server/token.h; the x-bpm-* metadata is ignored;
//   - development identity mode (bpmd --dev-identity): the caller names
//     itself in metadata x-bpm-user, x-bpm-roles (comma separated), x-bpm-org.
//
// Errors: UNAUTHENTICATED without x-bpm-user; INVALID_ARGUMENT for values
// over the limits (128-byte user, 64 roles); RESOURCE_EXHAUSTED when the
// caller is over its rate limit.
//
// Rate limit (bpmd --rate-limit N): each identity may make N calls per second
// on average and bursts of up to 2N (a token bucket per user); every RPC
// that names its caller counts. Off (0) by default.
// Thread safety: CallerOf may be called from any thread; SetRateLimit once,
// before serving.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "core/common/status.h"
#include "core/server/authz.h"
#include "core/server/tls.h"
#include "core/server/token.h"
#include "core/store/store.h"

namespace bpm::server {

StatusOr<store::Caller> CallerOf(const grpc::ServerContextBase& ctx);

// Calls per second allowed to each identity; 0 turns the limit off.
void SetRateLimit(double per_second);

// Callers must present a token this verifier accepts (null: development
// identity mode).
void SetTokenVerifier(std::shared_ptr<const TokenVerifier> verifier);

// A verified client certificate names the caller through these (mutual TLS,
// core/server/tls.h); it takes precedence over a token or metadata.
void SetCertIdentities(std::shared_ptr<const CertIdentities> identities);

// absl::Status -> grpc::Status (same code, same message).
grpc::Status ToGrpc(const Status& status);

// Admits the caller to method (core/server/authz.h), runs fn(caller) and
// moves its value into *out, translating the status.
template <typename Fn, typename Out>
grpc::Status Handle(const grpc::ServerContextBase* ctx, std::string_view method, Out* out,
                    Fn&& fn) {
  auto caller = Authorize(*ctx, method);
  if (!caller.ok()) return ToGrpc(caller.status());
  auto result = fn(*caller);
  if (!result.ok()) return ToGrpc(result.status());
  *out = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace bpm::server
