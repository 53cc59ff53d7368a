// ConnectRemoteStage against an in-process gRPC server playing the plugin:
// the ABI and name checks at connect, deadlines, error mapping, retries of
// idempotent calls only, health tracking and reconnecting.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "bpm/plugin/abi.h"
#include "bpm/plugin/v1/plugin.grpc.pb.h"
#include "core/plugin/loader.h"
#include "core/plugin/remote.h"
#include "tests/support/test_env.h"

namespace bpm::plugin {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

// The plugin side. Behaviour is set before the server starts, except the
// atomics, which tests may change at any time.
class FakeStage final : public pb::Stage::Service {
 public:
  FakeStage() {
    describe.set_name("fake");
    describe.set_version("1.2.3");
    describe.set_abi_major(BPM_PLUGIN_ABI_MAJOR);
    describe.set_abi_minor(BPM_PLUGIN_ABI_MINOR);
  }

  pb::DescribeResponse describe;
  grpc::Status describe_status = grpc::Status::OK;
  grpc::Status act_status = grpc::Status::OK;
  std::atomic<int> act_delay_ms{0};
  // The first N calls of ValidateConfig / Act answer UNAVAILABLE.
  std::atomic<int> validate_unavailable{0};
  std::atomic<int> act_unavailable{0};
  std::atomic<int> describe_calls{0};
  std::atomic<int> validate_calls{0};
  std::atomic<int> act_calls{0};

  grpc::Status Describe(grpc::ServerContext*, const pb::DescribeRequest* req,
                        pb::DescribeResponse* out) override {
    ++describe_calls;
    host_major.store(req->host_abi_major());
    *out = describe;
    return describe_status;
  }
  grpc::Status ValidateConfig(grpc::ServerContext*, const pb::ValidateConfigRequest* req,
                              pb::ValidateConfigResponse* out) override {
    ++validate_calls;
    if (validate_unavailable.fetch_sub(1) > 0) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "warming up");
    }
    for (const auto& kv : req->config().fields()) {
      pb::ConfigError* e = out->add_errors();
      e->set_path(kv.first);
      e->set_message("unknown key");
    }
    return grpc::Status::OK;
  }
  grpc::Status Enter(grpc::ServerContext*, const pb::EnterRequest* req,
                     pb::Decision* out) override {
    out->set_accepted(true);
    out->set_note("entered " + req->context().instance_id());
    return grpc::Status::OK;
  }
  grpc::Status Act(grpc::ServerContext*, const pb::ActRequest* req, pb::Decision* out) override {
    ++act_calls;
    if (act_delay_ms > 0) std::this_thread::sleep_for(milliseconds(act_delay_ms.load()));
    if (act_unavailable.fetch_sub(1) > 0) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "busy");
    }
    if (!act_status.ok()) return act_status;
    out->set_accepted(true);
    out->set_outcome(req->action() + "d");
    out->set_note(req->comment());
    return grpc::Status::OK;
  }
  grpc::Status OnTimer(grpc::ServerContext*, const pb::TimerRequest* req,
                       pb::Decision* out) override {
    out->set_accepted(true);
    out->set_note("timer " + req->timer());
    return grpc::Status::OK;
  }

  std::atomic<uint32_t> host_major{0};
};

// Serves a FakeStage (and grpc.health.v1) on 127.0.0.1.
class FakeServer {
 public:
  // port 0: any free port.
  explicit FakeServer(FakeStage* stage, int port = 0) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port),
                             grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(stage);
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    EXPECT_NE(port_, 0);
  }
  ~FakeServer() { Shutdown(); }
  void Shutdown() {
    if (server_ == nullptr) return;
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
    server_.reset();
  }
  void SetServing(bool serving) { server_->GetHealthCheckService()->SetServingStatus(serving); }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

RemoteStageOptions Options(const std::string& address) {
  RemoteStageOptions o;
  o.address = address;
  o.connect_timeout = milliseconds(2000);
  o.call_deadline = milliseconds(1000);
  o.retry_backoff = milliseconds(10);
  o.health_check_interval = milliseconds(0);
  return o;
}

// Polls pred every 10 ms for up to timeout_ms.
bool Eventually(const std::function<bool()>& pred, int timeout_ms) {
  auto deadline = Clock::now() + milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return pred();
}

TEST(RemoteStageTest, ConnectsAndDescribes) {
  FakeStage fake;
  FakeServer server(&fake);
  auto stage = ConnectRemoteStage(Options(server.address()));
  ASSERT_TRUE(stage.ok()) << stage.status();
  EXPECT_EQ((*stage)->description().name(), "fake");
  EXPECT_EQ((*stage)->description().version(), "1.2.3");
  EXPECT_EQ((*stage)->origin(), server.address());
  EXPECT_TRUE((*stage)->healthy());
  EXPECT_EQ(fake.describe_calls.load(), 1);
  EXPECT_EQ(fake.host_major.load(), BPM_PLUGIN_ABI_MAJOR);
}

TEST(RemoteStageTest, RefusesAbiMajorMismatch) {
  FakeStage fake;
  fake.describe.set_abi_major(BPM_PLUGIN_ABI_MAJOR + 1);
  fake.describe.set_abi_minor(0);
  fake.describe.set_name("future_stage");
  fake.describe.set_version("9.9.9");
  FakeServer server(&fake);
  auto stage = ConnectRemoteStage(Options(server.address()));
  ASSERT_FALSE(stage.ok());
  EXPECT_EQ(stage.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(stage.status().message(),
            "remote plugin " + server.address() +
                ": ABI 2.0 is incompatible with host ABI 1.1 (stage 'future_stage' 9.9.9)");
}

TEST(RemoteStageTest, RefusesNewerAbiMinor) {
  FakeStage fake;
  fake.describe.set_abi_minor(BPM_PLUGIN_ABI_MINOR + 1);
  FakeServer server(&fake);
  auto stage = ConnectRemoteStage(Options(server.address()));
  ASSERT_FALSE(stage.ok());
  EXPECT_EQ(stage.status().message(),
            "remote plugin " + server.address() +
                ": ABI 1.2 is incompatible with host ABI 1.1 (stage 'fake' 1.2.3)");
}

TEST(RemoteStageTest, RefusesAPluginThatDeclaresNoAbi) {
  FakeStage fake;
  fake.describe.clear_abi_major();
  fake.describe.clear_abi_minor();
  FakeServer server(&fake);
  auto stage = ConnectRemoteStage(Options(server.address()));
  ASSERT_FALSE(stage.ok());
  EXPECT_EQ(stage.status().message(),
            "remote plugin " + server.address() +
                ": ABI 0.0 is incompatible with host ABI 1.1 (stage 'fake' 1.2.3)");
}

TEST(RemoteStageTest, RefusesAnUnexpectedNameAndANameless) {
  FakeStage fake;
  FakeServer server(&fake);
  RemoteStageOptions o = Options(server.address());
  o.expected_name = "expert_review";
  auto stage = ConnectRemoteStage(o);
  ASSERT_FALSE(stage.ok());
  EXPECT_EQ(stage.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(stage.status().message(),
            "remote plugin " + server.address() +
                ": describes stage 'fake' 1.2.3 but 'expert_review' was expected");
  o.expected_name = "fake";
  EXPECT_TRUE(ConnectRemoteStage(o).ok());

  FakeStage nameless;
  nameless.describe.clear_name();
  FakeServer server2(&nameless);
  auto s2 = ConnectRemoteStage(Options(server2.address()));
  ASSERT_FALSE(s2.ok());
  EXPECT_EQ(s2.status().message(),
            "remote plugin " + server2.address() + ": describe names no stage");
}

TEST(RemoteStageTest, RefusesAnUnreachableAddressAfterTheConnectTimeout) {
  std::string address = "127.0.0.1:" + std::to_string(testing::FreePort());
  RemoteStageOptions o = Options(address);
  o.connect_timeout = milliseconds(300);
  auto start = Clock::now();
  auto stage = ConnectRemoteStage(o);
  int64_t took = MsSince(start);
  ASSERT_FALSE(stage.ok());
  EXPECT_EQ(stage.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(stage.status().message()),
              StartsWith("remote plugin " + address + ": unreachable: no connection within 300 ms"));
  EXPECT_GE(took, 250);
  EXPECT_LT(took, 3000);

  o.address = "";
  EXPECT_EQ(ConnectRemoteStage(o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RemoteStageTest, ReportsAFailingDescribeAndRetriesItWhenUnavailable) {
  FakeStage fake;
  fake.describe_status = grpc::Status(grpc::StatusCode::INTERNAL, "boom");
  FakeServer server(&fake);
  auto stage = ConnectRemoteStage(Options(server.address()));
  ASSERT_FALSE(stage.ok());
  EXPECT_EQ(stage.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(stage.status().message(),
            "remote plugin " + server.address() + ": describe failed: INTERNAL: boom");
  EXPECT_EQ(fake.describe_calls.load(), 1);  // not retried

  FakeStage unavailable;
  unavailable.describe_status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "starting");
  FakeServer server2(&unavailable);
  auto s2 = ConnectRemoteStage(Options(server2.address()));
  ASSERT_FALSE(s2.ok());
  EXPECT_EQ(s2.status().message(),
            "remote plugin " + server2.address() + ": describe failed: UNAVAILABLE: starting");
  EXPECT_EQ(unavailable.describe_calls.load(), 4);  // 1 + 3 retries
}

TEST(RemoteStageTest, PassesEveryHookThrough) {
  FakeStage fake;
  FakeServer server(&fake);
  auto stage = ConnectRemoteStage(Options(server.address()));
  ASSERT_TRUE(stage.ok()) << stage.status();

  pb::ValidateConfigRequest vreq;
  (*vreq.mutable_config()->mutable_fields())["colour"].set_string_value("red");
  auto v = (*stage)->ValidateConfig(vreq);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->errors_size(), 1);
  EXPECT_EQ(v->errors(0).path(), "colour");

  pb::EnterRequest ereq;
  ereq.mutable_context()->set_instance_id("I-1");
  auto e = (*stage)->Enter(ereq);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->note(), "entered I-1");

  pb::ActRequest areq;
  areq.set_action("approve");
  areq.set_comment("同意");
  auto a = (*stage)->Act(areq);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->accepted());
  EXPECT_EQ(a->outcome(), "approved");
  EXPECT_EQ(a->note(), "同意");

  pb::TimerRequest treq;
  treq.set_timer("overdue");
  auto t = (*stage)->OnTimer(treq);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->note(), "timer overdue");
}

TEST(RemoteStageTest, ConcurrentCallsAllAnswer) {
  FakeStage fake;
  FakeServer server(&fake);
  auto stage = ConnectRemoteStage(Options(server.address()));
  ASSERT_TRUE(stage.ok()) << stage.status();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 20; ++j) {
        pb::ActRequest req;
        req.set_action("approve");
        req.set_comment(std::to_string(i * 100 + j));
        auto d = (*stage)->Act(req);
        if (d.ok() && d->note() == req.comment()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 160);
}

TEST(RemoteStageTest, APluginErrorBecomesInternalNamingPluginAddressAndHook) {
  FakeStage fake;
  fake.act_status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "nope");
  FakeServer server(&fake);
  auto stage = ConnectRemoteStage(Options(server.address()));
  ASSERT_TRUE(stage.ok()) << stage.status();
  auto d = (*stage)->Act(pb::ActRequest());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(d.status().message(), "stage plugin 'fake' 1.2.3 (" + server.address() +
                                      ") act failed: INVALID_ARGUMENT: nope");
}

TEST(RemoteStageTest, ASlowPluginMissesTheDeadlineAsUnavailable) {
  FakeStage fake;
  fake.act_delay_ms = 800;
  FakeServer server(&fake);
  RemoteStageOptions o = Options(server.address());
  o.call_deadline = milliseconds(200);
  auto stage = ConnectRemoteStage(o);
  ASSERT_TRUE(stage.ok()) << stage.status();
  auto start = Clock::now();
  auto d = (*stage)->Act(pb::ActRequest());
  int64_t took = MsSince(start);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(d.status().message(), "stage plugin 'fake' at " + server.address() +
                                      " unreachable: act: no answer within the 200 ms deadline");
  EXPECT_GE(took, 150);
  EXPECT_LT(took, 700);  // bounded by the deadline, not by the plugin's 800 ms
  EXPECT_EQ(fake.act_calls.load(), 1);  // a missed deadline is not retried
  fake.act_delay_ms = 0;
}

TEST(RemoteStageTest, RetriesOnlyIdempotentCalls) {
  FakeStage fake;
  FakeServer server(&fake);
  auto stage = ConnectRemoteStage(Options(server.address()));
  ASSERT_TRUE(stage.ok()) << stage.status();

  // ValidateConfig: two UNAVAILABLE answers, then success on the third try.
  fake.validate_unavailable = 2;
  auto v = (*stage)->ValidateConfig(pb::ValidateConfigRequest());
  EXPECT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(fake.validate_calls.load(), 3);

  // ... and it gives up after 3 retries.
  fake.validate_calls = 0;
  fake.validate_unavailable = 100;
  v = (*stage)->ValidateConfig(pb::ValidateConfigRequest());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(v.status().message(), "stage plugin 'fake' at " + server.address() +
                                      " unreachable: validate_config: UNAVAILABLE: warming up");
  EXPECT_EQ(fake.validate_calls.load(), 4);

  // Act: never retried.
  fake.act_unavailable = 1;
  auto d = (*stage)->Act(pb::ActRequest());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(fake.act_calls.load(), 1);
}

TEST(RemoteStageTest, TracksHealthAndReconnectsToAPluginThatComesBack) {
  auto fake = std::make_unique<FakeStage>();
  auto server = std::make_unique<FakeServer>(fake.get());
  const std::string address = server->address();
  const int port = server->port();
  std::mutex mu;
  std::vector<std::pair<bool, std::string>> changes;
  RemoteStageOptions o = Options(address);
  o.health_check_interval = milliseconds(50);
  o.on_health_change = [&](bool healthy, const std::string& detail) {
    std::lock_guard<std::mutex> lock(mu);
    changes.emplace_back(healthy, detail);
  };
  auto stage = ConnectRemoteStage(o);
  ASSERT_TRUE(stage.ok()) << stage.status();
  const StageHandle& h = **stage;
  EXPECT_TRUE(h.healthy());

  // NOT_SERVING is unhealthy.
  server->SetServing(false);
  EXPECT_TRUE(Eventually([&] { return !h.healthy(); }, 3000));
  server->SetServing(true);
  EXPECT_TRUE(Eventually([&] { return h.healthy(); }, 3000));

  // The plugin goes away: calls fail fast as UNAVAILABLE, health follows.
  server->Shutdown();
  auto start = Clock::now();
  auto d = h.Act(pb::ActRequest());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(d.status().message()),
              StartsWith("stage plugin 'fake' at " + address + " unreachable: act: UNAVAILABLE"));
  EXPECT_LT(MsSince(start), 1000);
  EXPECT_TRUE(Eventually([&] { return !h.healthy(); }, 3000));

  // It comes back on the same address: healthy again, calls answer.
  fake = std::make_unique<FakeStage>();
  server = std::make_unique<FakeServer>(fake.get(), port);
  ASSERT_EQ(server->port(), port);
  EXPECT_TRUE(Eventually([&] { return h.healthy(); }, 5000));
  pb::ActRequest req;
  req.set_action("approve");
  auto again = h.Act(req);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->outcome(), "approved");

  stage->reset();  // stop the health thread before reading changes
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_GE(changes.size(), 4u);
  EXPECT_FALSE(changes[0].first);
  EXPECT_EQ(changes[0].second, "NOT_SERVING");
  EXPECT_TRUE(changes[1].first);
  EXPECT_EQ(changes[1].second, "SERVING");
  EXPECT_FALSE(changes[2].first);  // NOT_SERVING while shutting down, or UNAVAILABLE
  EXPECT_TRUE(changes.back().first);
}

TEST(RemoteStageTest, DestructionDoesNotWaitForTheHealthInterval) {
  FakeStage fake;
  FakeServer server(&fake);
  RemoteStageOptions o = Options(server.address());
  o.health_check_interval = milliseconds(60000);
  auto stage = ConnectRemoteStage(o);
  ASSERT_TRUE(stage.ok()) << stage.status();
  auto start = Clock::now();
  stage->reset();
  EXPECT_LT(MsSince(start), 1000);
}

TEST(RemoteStageTest, TheRegistryRefusesARemoteStageWhoseNameIsTaken) {
  Registry registry;
  ASSERT_TRUE(registry.LoadDirectory(testing::PluginDir()).ok());
  FakeStage fake;
  fake.describe.set_name("review");
  FakeServer server(&fake);
  auto stage = ConnectRemoteStage(Options(server.address()));
  ASSERT_TRUE(stage.ok()) << stage.status();
  Status s = registry.Add(*std::move(stage));
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "plugin " + server.address() +
                             ": stage 'review' is already provided by " + testing::PluginDir() +
                             "/bpm_stage_review.so");
}

TEST(RemoteStageTest, InProcessPluginsDeclareTheirAbiThroughTheSdk) {
  auto review = LoadPluginFile(testing::PluginDir() + "/bpm_stage_review.so");
  ASSERT_TRUE(review.ok()) << review.status();
  EXPECT_EQ((*review)->description().abi_major(), BPM_PLUGIN_ABI_MAJOR);
  EXPECT_EQ((*review)->description().abi_minor(), BPM_PLUGIN_ABI_MINOR);
}

}  // namespace
}  // namespace bpm::plugin
