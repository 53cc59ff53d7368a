#include "core/server/identity.h"

#include "core/server/access_log.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace bpm::server {
namespace {

std::string Metadata(const grpc::ServerContextBase& ctx, const char* key) {
  auto range = ctx.client_metadata().equal_range(key);
  if (range.first == range.second) return "";
  return std::string(range.first->second.data(), range.first->second.size());
}

// A token bucket per identity: rate tokens a second, up to 2 * rate saved.
class RateLimiter {
 public:
  void Set(double per_second) {
    std::lock_guard<std::mutex> lock(mu_);
    rate_ = per_second;
    buckets_.clear();
  }

  // Takes a token for user; false when it has none left.
  bool Allow(const std::string& user) {
    using Clock = std::chrono::steady_clock;
    std::lock_guard<std::mutex> lock(mu_);
    if (rate_ <= 0) return true;
    const double now = std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
    if (buckets_.size() > kMaxTracked) Prune(now);
    auto [it, fresh] = buckets_.try_emplace(user, Bucket{2 * rate_, now});
    Bucket& b = it->second;
    if (!fresh) {
      b.tokens = std::min(2 * rate_, b.tokens + (now - b.at) * rate_);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  double rate() {
    std::lock_guard<std::mutex> lock(mu_);
    return rate_;
  }

 private:
  struct Bucket {
    double tokens;
    double at;  // seconds
  };
  static constexpr size_t kMaxTracked = 100000;

  // Forgets identities whose bucket has refilled (they lose nothing).
  void Prune(double now) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      if (it->second.tokens + (now - it->second.at) * rate_ >= 2 * rate_) {
        it = buckets_.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::mutex mu_;
  double rate_ = 0;
  std::unordered_map<std::string, Bucket> buckets_;
};

RateLimiter& Limiter() {
  static RateLimiter* limiter = new RateLimiter();  // never destroyed: used by server threads
  return *limiter;
}

}  // namespace

void SetRateLimit(double per_second) { Limiter().Set(per_second); }

namespace {
// The start-up configuration of type T (set once, before serving; never
// destroyed: server threads read it until the process ends).
template <typename T>
std::shared_ptr<const T>& Configured() {
  static auto* value = new std::shared_ptr<const T>();
  return *value;
}
}  // namespace

void SetTokenVerifier(std::shared_ptr<const TokenVerifier> verifier) {
  Configured<TokenVerifier>() = std::move(verifier);
}

void SetCertIdentities(std::shared_ptr<const CertIdentities> identities) {
  Configured<CertIdentities>() = std::move(identities);
}

namespace {

// The caller a bearer token names.
StatusOr<store::Caller> FromToken(const grpc::ServerContextBase& ctx,
                                  const TokenVerifier& verifier) {
  const std::string auth = Metadata(ctx, "authorization");
  if (auth.empty()) {
    return absl::UnauthenticatedError(
        "no credentials: send metadata 'authorization: Bearer <token>' (bpmctl --token-file)");
  }
  if (auth.rfind("Bearer ", 0) != 0) {
    return absl::UnauthenticatedError("authorization: expected 'Bearer <token>'");
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return verifier.Verify(std::string_view(auth).substr(7), now);
}

// The development-mode identity the caller names in metadata.
StatusOr<store::Caller> FromMetadata(const grpc::ServerContextBase& ctx) {
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
  return c;
}

}  // namespace

StatusOr<store::Caller> CallerOf(const grpc::ServerContextBase& ctx) {
  StatusOr<store::Caller> c;
  std::optional<store::Caller> by_cert;
  if (const auto& certs = Configured<CertIdentities>();
      certs != nullptr && ctx.auth_context() != nullptr) {
    BPM_ASSIGN_OR_RETURN(by_cert, certs->CallerFor(*ctx.auth_context()));
  }
  if (by_cert) {
    c = *std::move(by_cert);
  } else if (const auto& verifier = Configured<TokenVerifier>()) {
    c = FromToken(ctx, *verifier);
  } else {
    c = FromMetadata(ctx);
  }
  if (!c.ok()) return c;
  if (!Limiter().Allow(c->user)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "rate limit: ", c->user, " made more than ", Limiter().rate(),
        " calls per second (bpmd --rate-limit); retry later"));
  }
  // Where the call came from ("ipv4:10.1.2.3:50412"), kept with each history
  // event it causes.
  c->source = ctx.peer();
  NoteCaller(ctx, c->user);
  return c;
}

grpc::Status ToGrpc(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace bpm::server
