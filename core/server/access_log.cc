#include "core/server/access_log.h"

#include <chrono>
#include <cstdio>
#include <mutex>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace bpm::server {
namespace {

const char* CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {
      "OK",        "CANCELLED",          "UNKNOWN",          "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",  "ALREADY_EXISTS",   "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",       "UNAVAILABLE",      "DATA_LOSS",
      "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i < 17 ? kNames[i] : "UNKNOWN";
}

// Who each call in flight is, noted by CallerOf, taken by its log line.
class Callers {
 public:
  void Note(const void* ctx, const std::string& user) {
    std::lock_guard<std::mutex> lock(mu_);
    users_[ctx] = user;
  }
  std::string Take(const void* ctx) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = users_.find(ctx);
    if (it == users_.end()) return "-";
    std::string user = std::move(it->second);
    users_.erase(it);
    return user;
  }
  bool enabled = false;  // set once, before serving

 private:
  std::mutex mu_;
  std::unordered_map<const void*, std::string> users_;
};

Callers& TheCallers() {
  static auto* callers = new Callers();  // never destroyed: used by server threads
  return *callers;
}

class Sink {
 public:
  explicit Sink(FILE* f) : f_(f) {}
  void Write(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    std::fwrite(line.data(), 1, line.size(), f_);
    std::fflush(f_);
  }

 private:
  std::mutex mu_;
  FILE* f_;
};

class AccessLogInterceptor final : public grpc::experimental::Interceptor {
 public:
  AccessLogInterceptor(grpc::experimental::ServerRpcInfo* info, Sink* sink)
      : info_(info), sink_(sink), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      TheCallers().Take(info_->server_context());  // a stale note of an earlier call here
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      grpc::ServerContextBase* ctx = info_->server_context();
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_)
              .count();
      sink_->Write(absl::StrFormat(
          "%s peer=%s user=%s method=%s status=%s ms=%.1f\n",
          absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
          ctx != nullptr ? ctx->peer() : "-", TheCallers().Take(ctx), info_->method(),
          CodeName(status.error_code()), ms));
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  Sink* sink_;
  std::chrono::steady_clock::time_point start_;
};

class AccessLogFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit AccessLogFactory(FILE* f) : sink_(f) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new AccessLogInterceptor(info, &sink_);
  }

 private:
  Sink sink_;
};

}  // namespace

StatusOr<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> NewAccessLog(
    const std::string& path) {
  FILE* f = path == "-" ? stdout : std::fopen(path.c_str(), "a");
  if (f == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("--access-log ", path, ": cannot append"));
  }
  TheCallers().enabled = true;
  return std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>(
      new AccessLogFactory(f));
}

void NoteCaller(const grpc::ServerContextBase& ctx, const std::string& user) {
  if (TheCallers().enabled) TheCallers().Note(&ctx, user);
}

}  // namespace bpm::server
