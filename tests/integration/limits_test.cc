// Limits against a real bpmd over gRPC: the per-identity rate limit
// (--rate-limit), the bound on commands in flight (--max-inflight-commands),
// the bound on threads serving the other calls (--max-rpc-threads; health
// checks are answered past it), the bound on what gRPC buffers
// (--max-rpc-memory), the 4 MiB message cap, the caps on a definition's size and
// nesting, and an over-long field: each a clear status, and the server goes
// on serving.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bpm/v1/bpm.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/support/test_env.h"

namespace bpm {
namespace {

using ::testing::HasSubstr;
namespace v1 = ::bpm::v1;

class LimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bpmd_ = std::make_unique<testing::BpmdProcess>(testing::FreshStoreUrl(dir_.path(), "limits"),
                                                   std::vector<std::string>{"--rate-limit=5"});
    ASSERT_TRUE(bpmd_->Start());
    tasks_ = v1::TaskService::NewStub(bpmd_->channel());
    instances_ = v1::InstanceService::NewStub(bpmd_->channel());
    definitions_ = v1::DefinitionService::NewStub(bpmd_->channel());
  }

  grpc::Status Inbox(const std::string& user) {
    v1::InboxRequest req;
    v1::InboxResponse resp;
    return tasks_->Inbox(testing::Context(user, "unit_filer", "906017").get(), req, &resp);
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::BpmdProcess> bpmd_;
  std::unique_ptr<v1::TaskService::Stub> tasks_;
  std::unique_ptr<v1::InstanceService::Stub> instances_;
  std::unique_ptr<v1::DefinitionService::Stub> definitions_;
};

TEST_F(LimitsTest, EachIdentityIsHeldToItsRate) {
  // A burst of up to 10 (twice the rate) passes; far more within a second
  // does not. Another identity is not affected.
  int ok = 0;
  int limited = 0;
  std::string message;
  for (int i = 0; i < 40; ++i) {
    grpc::Status s = Inbox("zhang");
    if (s.ok()) {
      ++ok;
    } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++limited;
      message = s.error_message();
    } else {
      ADD_FAILURE() << s.error_code() << ": " << s.error_message();
    }
  }
  EXPECT_GE(ok, 10);
  EXPECT_LT(ok, 40);
  EXPECT_EQ(ok + limited, 40);
  EXPECT_THAT(message, HasSubstr("rate limit: zhang made more than 5 calls per second"));
  EXPECT_TRUE(Inbox("qian").ok());
}

TEST_F(LimitsTest, OversizedAndDeepInputsAreRefusedClearly) {
  // Over gRPC's 4 MiB cap: refused before bpmd reads it.
  v1::StartInstanceRequest start;
  start.set_definition_key("target-filing");
  start.set_subject_ref("P1");
  (*start.mutable_variables()->mutable_fields())["blob"].set_string_value(
      std::string(5 << 20, 'x'));
  v1::StartInstanceResponse started;
  grpc::Status s =
      instances_->Start(testing::Context("zhang", "unit_filer", "906017").get(), start, &started);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();

  // A 2 MiB definition and a deeply nested one: diagnostics, not errors.
  v1::ValidateDefinitionRequest big;
  big.set_yaml("key: big\n# " + std::string(2 << 20, 'x') + "\n");
  v1::ValidateDefinitionResponse checked;
  s = definitions_->Validate(testing::Context("ops", "workflow_admin", "czj").get(), big, &checked);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(checked.valid());
  ASSERT_GT(checked.diagnostics_size(), 0);
  EXPECT_THAT(checked.diagnostics(0).message(), HasSubstr("1048576"));

  v1::ValidateDefinitionRequest deep;
  deep.set_yaml("key: deep\nx: " + std::string(5000, '[') + std::string(5000, ']') + "\n");
  s = definitions_->Validate(testing::Context("ops", "workflow_admin", "czj").get(), deep,
                             &checked);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(checked.valid());

  // An over-long identity field.
  s = Inbox(std::string(200, 'u'));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("x-bpm-user: longer than 128 bytes"));

  // Still serving.
  EXPECT_TRUE(Inbox("li").ok());
}

// A Start of the bundled target-filing workflow for org 906017.
v1::StartInstanceRequest FilingStart(const std::string& subject) {
  v1::StartInstanceRequest req;
  req.set_definition_key("target-filing");
  req.set_subject_ref(subject);
  req.set_org("906017");
  return req;
}

// One call of a burst sent on a completion queue, with what came back.
template <typename Resp>
struct AsyncCall {
  std::unique_ptr<grpc::ClientContext> ctx;
  Resp resp;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>> rpc;
};

TEST(InflightLimitTest, CommandsBeyondTheLimitAreRefusedAtOnce) {
  // With room for one command in flight, a burst of Starts sent at once:
  // each is either run (and stored) or refused at once with the limit named,
  // never queued without bound; and the server goes on serving.
  testing::TempDir dir;
  testing::BpmdProcess bpmd(testing::FreshStoreUrl(dir.path(), "inflight"),
                            {"--max-inflight-commands=1"});
  ASSERT_TRUE(bpmd.Start());
  auto instances = v1::InstanceService::NewStub(bpmd.channel());

  constexpr int kBurst = 64;
  using Call = AsyncCall<v1::StartInstanceResponse>;
  std::vector<Call> calls(kBurst);
  grpc::CompletionQueue cq;
  for (int i = 0; i < kBurst; ++i) {
    const v1::StartInstanceRequest req = FilingStart("P" + std::to_string(i));
    calls[i].ctx = testing::Context("zhang", "unit_filer", "906017");
    calls[i].rpc = instances->AsyncStart(calls[i].ctx.get(), req, &cq);
    calls[i].rpc->Finish(&calls[i].resp, &calls[i].status, &calls[i]);
  }
  for (int i = 0; i < kBurst; ++i) {
    void* tag = nullptr;
    bool ok = false;
    ASSERT_TRUE(cq.Next(&tag, &ok));
  }
  int started = 0;
  int refused = 0;
  for (const Call& c : calls) {
    if (c.status.ok()) {
      ++started;
      EXPECT_FALSE(c.resp.instance().id().empty());
    } else {
      ++refused;
      EXPECT_EQ(c.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << c.status.error_message();
      EXPECT_THAT(c.status.error_message(),
                  HasSubstr("bpmd has 1 commands in flight, its limit (--max-inflight-commands); "
                            "/bpm.v1.InstanceService/Start was not run"));
    }
  }
  EXPECT_GE(started, 1);
  EXPECT_GE(refused, 1) << "a burst of " << kBurst << " never found the one slot taken";

  // Exactly the acknowledged starts were stored.
  v1::ListInstancesRequest list;
  list.set_page_size(500);
  v1::ListInstancesResponse listed;
  grpc::Status s = instances->List(testing::Context("zhang", "unit_filer", "906017").get(), list,
                                   &listed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(listed.instances_size(), started);

  // One at a time, every command gets its slot.
  for (int i = 0; i < 3; ++i) {
    const v1::StartInstanceRequest req = FilingStart("Q" + std::to_string(i));
    v1::StartInstanceResponse resp;
    s = instances->Start(testing::Context("zhang", "unit_filer", "906017").get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
}

// Threads bpmd runs now.
int ThreadsOf(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

TEST(RpcThreadLimitTest, CallsBeyondTheThreadCapAreRefusedNotPiledUp) {
  // Sync calls (here Claim) that wait on the database each hold a server
  // thread. With --max-rpc-threads 4 a burst of them, while another process
  // holds SQLite's write lock, takes at most the cap; the rest are refused
  // at once instead of each starting a thread. Once the lock is released the
  // waiting calls complete and the refused ones succeed when sent again.
  testing::TempDir dir;
  const std::string path = dir.path() + "/threads.db";
  testing::BpmdProcess bpmd("sqlite:" + path, {"--max-rpc-threads=4"});
  ASSERT_TRUE(bpmd.Start());
  auto instances = v1::InstanceService::NewStub(bpmd.channel());
  auto tasks = v1::TaskService::NewStub(bpmd.channel());

  constexpr int kBurst = 24;
  std::vector<std::string> task_ids;
  for (int i = 0; i < kBurst; ++i) {
    const v1::StartInstanceRequest req = FilingStart("T" + std::to_string(i));
    v1::StartInstanceResponse resp;
    grpc::Status s =
        instances->Start(testing::Context("zhang", "unit_filer", "906017").get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(resp.instance().open_tasks_size(), 1);
    task_ids.push_back(resp.instance().open_tasks(0).id());
  }

  // Another process's writer: bpmd's writes wait for it (busy timeout).
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  const int threads_before = ThreadsOf(bpmd.pid());

  using Call = AsyncCall<v1::ActResponse>;
  std::vector<Call> calls(kBurst);
  grpc::CompletionQueue cq;
  for (int i = 0; i < kBurst; ++i) {
    v1::TaskOperationRequest req;
    req.set_task_id(task_ids[i]);
    calls[i].ctx = testing::Context("li", "unit_filer", "906017");
    calls[i].ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    calls[i].rpc = tasks->AsyncClaim(calls[i].ctx.get(), req, &cq);
    calls[i].rpc->Finish(&calls[i].resp, &calls[i].status, &calls[i]);
  }
  // While the lock holds, the refusals come back and the rest wait. The lock
  // is held until all but the cap's worth have answered, or for 8 s (under
  // SQLite's 10 s busy timeout, so that waiting calls then succeed).
  int threads_peak = threads_before;
  int answered = 0;
  const auto until = std::chrono::system_clock::now() + std::chrono::seconds(8);
  while (answered < kBurst - 4 && std::chrono::system_clock::now() < until) {
    threads_peak = std::max(threads_peak, ThreadsOf(bpmd.pid()));
    void* tag = nullptr;
    bool ok = false;
    if (cq.AsyncNext(&tag, &ok, std::chrono::system_clock::now() +
                                    std::chrono::milliseconds(50)) ==
        grpc::CompletionQueue::GOT_EVENT) {
      ++answered;
    }
  }
  threads_peak = std::max(threads_peak, ThreadsOf(bpmd.pid()));
  // Every sync thread is taken (an Inbox now is refused), yet a health probe
  // is answered: the health service runs on gRPC's callback threads, so an
  // orchestrator does not take a busy bpmd for a dead one.
  {
    v1::InboxRequest inbox;
    v1::InboxResponse listed;
    grpc::Status s =
        tasks->Inbox(testing::Context("li", "unit_filer", "906017").get(), inbox, &listed);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  }
  {
    auto health = grpc::health::v1::Health::NewStub(bpmd.channel());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = health->Check(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  for (; answered < kBurst; ++answered) {
    void* tag = nullptr;
    bool ok = false;
    ASSERT_TRUE(cq.Next(&tag, &ok));
  }

  int claimed = 0;
  std::vector<std::string> refused;
  for (int i = 0; i < kBurst; ++i) {
    const Call& c = calls[i];
    if (c.status.ok()) {
      ++claimed;
      EXPECT_EQ(c.resp.instance().open_tasks(0).status(), "claimed");
    } else {
      EXPECT_EQ(c.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << c.status.error_message();
      refused.push_back(task_ids[i]);
    }
  }
  // At most the cap's threads run calls (two of them poll), so at most a few
  // of the burst waited for the lock.
  EXPECT_GE(claimed, 1);
  EXPECT_GE(static_cast<int>(refused.size()), kBurst - 4);
  EXPECT_LE(threads_peak, threads_before + 4);

  // Nothing was lost: a refused call, sent again, is served.
  for (const std::string& id : refused) {
    v1::TaskOperationRequest req;
    req.set_task_id(id);
    v1::ActResponse resp;
    grpc::Status s = tasks->Claim(testing::Context("li", "unit_filer", "906017").get(), req, &resp);
    EXPECT_TRUE(s.ok()) << id << ": " << s.error_message();
  }
}


// bpmd's peak resident memory, in MiB.
long PeakMiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6)) / 1024;
  }
  return -1;
}

// ASan (its quarantine keeps freed memory) and TSan (its shadow memory)
// make the peak say nothing about what gRPC buffers. (The TSan build
// undefines __SANITIZE_THREAD__; see CMakeLists.txt.)
#if defined(__SANITIZE_ADDRESS__) || defined(BPM_THREAD_SANITIZER)
constexpr bool kSanitizedBuild = true;  // gcc
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitizedBuild = true;  // clang
#else
constexpr bool kSanitizedBuild = false;
#endif
#else
constexpr bool kSanitizedBuild = false;
#endif

TEST(RpcMemoryLimitTest, AFloodOfLargeCallsIsRefusedNotBuffered) {
  // 128 Starts of nearly 4 MiB each (the message cap), 16 on each of 8
  // connections, sent at once; every one is refused by its handler (the
  // variables exceed --max-payload-bytes), but only after gRPC received it
  // whole. Without a memory bound bpmd held them all at once (its peak grew
  // 262-296 MiB; 32 -> 545 MiB at 256 calls). With --max-rpc-memory gRPC refuses what
  // it cannot hold: RESOURCE_EXHAUSTED (a reset stream) or UNAVAILABLE (a
  // closed connection), each a status to retry on. Nothing is stored, and
  // bpmd goes on serving.
  testing::TempDir dir;
  testing::BpmdProcess bpmd(testing::FreshStoreUrl(dir.path(), "flood"),
                            {"--max-rpc-memory=16"});
  ASSERT_TRUE(bpmd.Start());
  const long before = PeakMiB(bpmd.pid());
  constexpr int kConnections = 8;
  constexpr int kPerConnection = 16;
  std::vector<std::unique_ptr<v1::InstanceService::Stub>> stubs;
  for (int c = 0; c < kConnections; ++c) {
    grpc::ChannelArguments channel_args;
    channel_args.SetInt("bpm-test-connection", c);  // a channel of its own: its own connection
    stubs.push_back(v1::InstanceService::NewStub(grpc::CreateCustomChannel(
        bpmd.address(), grpc::InsecureChannelCredentials(), channel_args)));
  }
  v1::StartInstanceRequest big = FilingStart("BIG");
  (*big.mutable_variables()->mutable_fields())["blob"].set_string_value(
      std::string(4000000, 'x'));
  using Call = AsyncCall<v1::StartInstanceResponse>;
  std::vector<Call> calls(kConnections * kPerConnection);
  grpc::CompletionQueue cq;
  for (size_t i = 0; i < calls.size(); ++i) {
    calls[i].ctx = testing::Context("zhang", "unit_filer", "906017");
    calls[i].ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    calls[i].rpc = stubs[i % kConnections]->AsyncStart(calls[i].ctx.get(), big, &cq);
    calls[i].rpc->Finish(&calls[i].resp, &calls[i].status, &calls[i]);
  }
  for (size_t i = 0; i < calls.size(); ++i) {
    void* tag = nullptr;
    bool ok = false;
    ASSERT_TRUE(cq.Next(&tag, &ok));
  }
  std::map<grpc::StatusCode, int> codes;
  for (const Call& c : calls) {
    ++codes[c.status.error_code()];
    if (c.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      EXPECT_THAT(c.status.error_message(),
                  HasSubstr("variables: 4000011 bytes exceeds the limit"));
    } else {
      EXPECT_THAT(c.status.error_code(),
                  ::testing::AnyOf(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                   grpc::StatusCode::UNAVAILABLE))
          << c.status.error_message();
    }
  }
  const long grown = PeakMiB(bpmd.pid()) - before;
  std::cerr << "refused by the handler " << codes[grpc::StatusCode::INVALID_ARGUMENT]
            << ", by gRPC " << codes[grpc::StatusCode::RESOURCE_EXHAUSTED] << " + "
            << codes[grpc::StatusCode::UNAVAILABLE] << "; peak memory grew " << grown
            << " MiB\n";
  EXPECT_GT(codes[grpc::StatusCode::RESOURCE_EXHAUSTED] + codes[grpc::StatusCode::UNAVAILABLE], 0);
  if (!kSanitizedBuild) {
    EXPECT_LT(grown, 200) << "MiB";
  }

  auto instances = v1::InstanceService::NewStub(bpmd.channel());
  v1::StartInstanceResponse started;
  grpc::Status s = instances->Start(testing::Context("zhang", "unit_filer", "906017").get(),
                                    FilingStart("after"), &started);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::ListInstancesRequest list;
  v1::ListInstancesResponse listed;
  s = instances->List(testing::Context("zhang", "unit_filer", "906017").get(), list, &listed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(listed.instances_size(), 1);
}

}  // namespace
}  // namespace bpm
