#include "core/plugin/remote.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bpm/plugin/abi.h"
#include "bpm/plugin/v1/plugin.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace bpm::plugin {
namespace {

namespace health = ::grpc::health::v1;

const char* ChannelStateName(grpc_connectivity_state state) {
  switch (state) {
    case GRPC_CHANNEL_IDLE: return "IDLE";
    case GRPC_CHANNEL_CONNECTING: return "CONNECTING";
    case GRPC_CHANNEL_READY: return "READY";
    case GRPC_CHANNEL_TRANSIENT_FAILURE: return "TRANSIENT_FAILURE";
    case GRPC_CHANNEL_SHUTDOWN: return "SHUTDOWN";
  }
  return "UNKNOWN";
}

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// "UNAVAILABLE: failed to connect ..." for messages.
std::string StatusText(const grpc::Status& s) {
  return s.error_message().empty() ? CodeName(s.error_code())
                                   : absl::StrCat(CodeName(s.error_code()), ": ", s.error_message());
}

// The plugin never got or never answered the call: nothing was decided.
bool IsTransportFailure(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::CANCELLED;
}

class RemoteStage final : public StageHandle {
 public:
  explicit RemoteStage(RemoteStageOptions options) : options_(std::move(options)) {
    grpc::ChannelArguments args;
    // Short reconnect backoff: a plugin that comes back is used again within
    // about reconnect_backoff_max instead of gRPC's default of up to 120 s.
    int max_backoff_ms =
        static_cast<int>(std::max<int64_t>(100, options_.reconnect_backoff_max.count()));
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_backoff_ms);
    // One connection per handle, never shared with another channel.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channel_ = grpc::CreateCustomChannel(options_.address, grpc::InsecureChannelCredentials(),
                                         args);
    stub_ = pb::Stage::NewStub(channel_);
    health_stub_ = health::Health::NewStub(channel_);
  }

  ~RemoteStage() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      if (health_call_ != nullptr) health_call_->TryCancel();
    }
    cv_.notify_all();
    if (health_thread_.joinable()) health_thread_.join();
  }

  // Connects, describes and checks; then starts the health thread.
  Status Init() {
    const std::string& address = options_.address;
    auto connect_deadline = std::chrono::system_clock::now() + options_.connect_timeout;
    if (!channel_->WaitForConnected(connect_deadline)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "remote plugin ", address, ": unreachable: no connection within ",
          options_.connect_timeout.count(), " ms (channel ",
          ChannelStateName(channel_->GetState(false)), ")"));
    }
    pb::DescribeRequest req;
    req.set_host_abi_major(BPM_PLUGIN_ABI_MAJOR);
    req.set_host_abi_minor(BPM_PLUGIN_ABI_MINOR);
    grpc::Status s = Call(
        [&](grpc::ClientContext* ctx) { return stub_->Describe(ctx, req, &description_); },
        &description_, options_.max_retries);
    if (!s.ok()) {
      std::string why = s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                            ? absl::StrCat("no answer within the ", options_.call_deadline.count(),
                                           " ms deadline")
                            : StatusText(s);
      return absl::FailedPreconditionError(
          absl::StrCat("remote plugin ", address, ": describe failed: ", why));
    }
    const pb::DescribeResponse& d = description_;
    if (d.abi_major() != BPM_PLUGIN_ABI_MAJOR || d.abi_minor() > BPM_PLUGIN_ABI_MINOR) {
      return absl::FailedPreconditionError(absl::StrCat(
          "remote plugin ", address, ": ABI ", d.abi_major(), ".", d.abi_minor(),
          " is incompatible with host ABI ", BPM_PLUGIN_ABI_MAJOR, ".", BPM_PLUGIN_ABI_MINOR,
          " (stage '", d.name(), "' ", d.version(), ")"));
    }
    if (d.name().empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("remote plugin ", address, ": describe names no stage"));
    }
    if (!options_.expected_name.empty() && d.name() != options_.expected_name) {
      return absl::FailedPreconditionError(absl::StrCat(
          "remote plugin ", address, ": describes stage '", d.name(), "' ", d.version(),
          " but '", options_.expected_name, "' was expected"));
    }
    if (options_.health_check_interval.count() > 0) {
      health_thread_ = std::thread([this] { HealthLoop(); });
    }
    return absl::OkStatus();
  }

  const pb::DescribeResponse& description() const override { return description_; }
  const std::string& origin() const override { return options_.address; }
  std::string_view transport() const override { return "gRPC"; }
  bool healthy() const override { return healthy_.load(); }

  StatusOr<pb::ValidateConfigResponse> ValidateConfig(
      const pb::ValidateConfigRequest& request) const override {
    pb::ValidateConfigResponse resp;
    grpc::Status s = Call(
        [&](grpc::ClientContext* ctx) { return stub_->ValidateConfig(ctx, request, &resp); },
        &resp, options_.max_retries);
    if (!s.ok()) return CallError("validate_config", s);
    return resp;
  }

  StatusOr<pb::Decision> Enter(const pb::EnterRequest& request) const override {
    pb::Decision d;
    grpc::Status s =
        Call([&](grpc::ClientContext* ctx) { return stub_->Enter(ctx, request, &d); }, &d, 0);
    if (!s.ok()) return CallError("enter", s);
    return d;
  }

  StatusOr<pb::Decision> Act(const pb::ActRequest& request) const override {
    pb::Decision d;
    grpc::Status s =
        Call([&](grpc::ClientContext* ctx) { return stub_->Act(ctx, request, &d); }, &d, 0);
    if (!s.ok()) return CallError("act", s);
    return d;
  }

  StatusOr<pb::Decision> OnTimer(const pb::TimerRequest& request) const override {
    pb::Decision d;
    grpc::Status s =
        Call([&](grpc::ClientContext* ctx) { return stub_->OnTimer(ctx, request, &d); }, &d, 0);
    if (!s.ok()) return CallError("on_timer", s);
    return d;
  }

 private:
  // Runs rpc with a fresh context and the call deadline; retries UNAVAILABLE
  // up to `retries` times with doubling backoff. Clears *response before
  // each retry.
  template <typename Rpc>
  grpc::Status Call(Rpc&& rpc, google::protobuf::Message* response, int retries) const {
    std::chrono::milliseconds backoff = options_.retry_backoff;
    for (int attempt = 0;; ++attempt) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + options_.call_deadline);
      grpc::Status s = rpc(&ctx);
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE || attempt >= retries) return s;
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
      response->Clear();
    }
  }

  Status CallError(const char* hook, const grpc::Status& s) const {
    const pb::DescribeResponse& d = description_;
    if (IsTransportFailure(s.error_code())) {
      std::string why = s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                            ? absl::StrCat("no answer within the ", options_.call_deadline.count(),
                                           " ms deadline")
                            : StatusText(s);
      return absl::UnavailableError(absl::StrCat("stage plugin '", d.name(), "' at ",
                                                 options_.address, " unreachable: ", hook, ": ",
                                                 why));
    }
    return absl::InternalError(absl::StrCat("stage plugin '", d.name(), "' ", d.version(), " (",
                                            options_.address, ") ", hook,
                                            " failed: ", StatusText(s)));
  }

  void HealthLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      if (cv_.wait_for(lock, options_.health_check_interval, [this] { return stopping_; })) {
        return;
      }
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + options_.call_deadline);
      health_call_ = &ctx;
      lock.unlock();
      health::HealthCheckRequest req;  // service "": the server as a whole
      health::HealthCheckResponse resp;
      grpc::Status s = health_stub_->Check(&ctx, req, &resp);
      lock.lock();
      health_call_ = nullptr;
      if (stopping_) return;

      bool ok = false;
      std::string detail;
      if (s.ok()) {
        ok = resp.status() == health::HealthCheckResponse::SERVING;
        detail = health::HealthCheckResponse::ServingStatus_Name(resp.status());
      } else if (s.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
        ok = true;  // no health service, but the server answered
        detail = "answering (no health service)";
      } else {
        detail = absl::StrCat("health check failed: ", StatusText(s));
      }
      bool was = healthy_.exchange(ok);
      if (was != ok && options_.on_health_change) {
        lock.unlock();
        options_.on_health_change(ok, detail);
        lock.lock();
      }
    }
  }

  const RemoteStageOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Stage::Stub> stub_;
  std::unique_ptr<health::Health::Stub> health_stub_;
  pb::DescribeResponse description_;  // set by Init, then read-only
  std::atomic<bool> healthy_{true};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                      // guarded by mu_
  grpc::ClientContext* health_call_ = nullptr;  // guarded by mu_
  std::thread health_thread_;
};

}  // namespace

StatusOr<std::unique_ptr<StageHandle>> ConnectRemoteStage(const RemoteStageOptions& options) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError("remote plugin: empty address");
  }
  auto stage = std::make_unique<RemoteStage>(options);
  BPM_RETURN_IF_ERROR(stage->Init());
  return std::unique_ptr<StageHandle>(std::move(stage));
}

}  // namespace bpm::plugin
