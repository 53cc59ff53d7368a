#include "core/server/identity.h"

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace bpm::server {
namespace {

std::string Metadata(const grpc::ServerContextBase& ctx, const char* key) {
  auto range = ctx.client_metadata().equal_range(key);
  if (range.first == range.second) return "";
  return std::string(range.first->second.data(), range.first->second.size());
}

}  // namespace

// Reads the development-mode identity from metadata.
StatusOr<store::Caller> CallerOf(const grpc::ServerContextBase& ctx) {
  store::Caller c;
  c.user = Metadata(ctx, "x-bpm-user");
  if (c.user.empty()) {
    return absl::UnauthenticatedError(
        "no identity: send metadata x-bpm-user (and x-bpm-roles, x-bpm-org); bpmd runs in "
        "development identity mode");
  }
  if (c.user.size() > 128) return absl::InvalidArgumentError("x-bpm-user: longer than 128 bytes");
  for (absl::string_view r : absl::StrSplit(Metadata(ctx, "x-bpm-roles"), ',', absl::SkipEmpty())) {
    c.roles.emplace_back(absl::StripAsciiWhitespace(r));
  }
  if (c.roles.size() > 64) return absl::InvalidArgumentError("x-bpm-roles: more than 64 roles");
  c.org = Metadata(ctx, "x-bpm-org");
  // Where the call came from ("ipv4:10.1.2.3:50412"), kept with each history
  // event it causes.
  c.source = ctx.peer();
  return c;
}

grpc::Status ToGrpc(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace bpm::server
