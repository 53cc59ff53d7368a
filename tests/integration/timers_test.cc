// Timers fire exactly once even with several bpmd processes on one database:
// two real bpmd processes share the store (SQLite file, or the private
// MariaDB where leases use FOR UPDATE SKIP LOCKED); time jumps past 40 due
// dates; every instance gets exactly one overdue event and one notification.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "bpm/v1/bpm.grpc.pb.h"
#include "tests/support/test_env.h"

namespace bpm {
namespace {

namespace v1 = ::bpm::v1;
constexpr int64_t kStart = 1790647200000;  // 2026-09-29 10:00 China time
constexpr int64_t kDay = 24 * 3600 * 1000LL;
constexpr int kInstances = 40;

const char* kWorkflow = R"(
key: overdue-race
initial: review
states:
  review:
    stage: review
    config: { assignee: { role: reviewer }, due: { days: 1 }, on_overdue: notify }
    on: { approved: done, returned: review }
  done: { final: true }
)";

TEST(TimersTest, TwoProcessesFireEachTimerOnce) {
  testing::TempDir dir;
  const std::string url = testing::FreshStoreUrl(dir.path(), "timers");
  const std::string clock = dir.path() + "/clock";
  std::ofstream(clock) << kStart << "\n";
  std::vector<std::string> args = {"--calendars=" + testing::SourceDir() + "/deploy/calendars",
                                   "--test-clock-file=" + clock, "--tick-ms=20"};
  testing::BpmdProcess a(url, args);
  ASSERT_TRUE(a.Start());
  testing::BpmdProcess b(url, args);
  ASSERT_TRUE(b.Start());
  auto defs = v1::DefinitionService::NewStub(a.channel());
  auto instances_a = v1::InstanceService::NewStub(a.channel());
  auto instances_b = v1::InstanceService::NewStub(b.channel());
  auto tasks_b = v1::TaskService::NewStub(b.channel());
  {
    v1::DeployDefinitionRequest req;
    req.set_yaml(kWorkflow);
    req.set_source_name("overdue-race.yaml");
    v1::DeployDefinitionResponse resp;
    auto ctx = testing::Context("admin", "org_admin,workflow_admin", "");
    grpc::Status s = defs->Deploy(ctx.get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  std::vector<std::string> ids;
  for (int i = 0; i < kInstances; ++i) {
    v1::StartInstanceRequest req;
    req.set_definition_key("overdue-race");
    req.set_subject_ref("P-" + std::to_string(i));
    req.set_org("X");
    v1::StartInstanceResponse resp;
    auto ctx = testing::Context("starter", "unit_filer", "X");
    // Alternate the processes: both have written instances and timers.
    grpc::Status s = (i % 2 ? instances_a : instances_b)->Start(ctx.get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ids.push_back(resp.instance().id());
  }
  std::ofstream(clock) << kStart + 2 * kDay << "\n";

  auto overdue_events = [&](const std::string& id) {
    v1::GetHistoryRequest req;
    req.set_instance_id(id);
    v1::GetHistoryResponse resp;
    auto ctx = testing::Context("observer", "workflow_admin", "");
    EXPECT_TRUE(instances_a->GetHistory(ctx.get(), req, &resp).ok());
    int n = 0;
    for (const auto& e : resp.events()) n += e.kind() == "overdue";
    return n;
  };
  for (int round = 0; round < 300; ++round) {
    int done = 0;
    for (const auto& id : ids) done += overdue_events(id) > 0;
    if (done == kInstances) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // more ticks on both
  for (const auto& id : ids) EXPECT_EQ(overdue_events(id), 1) << id;
  if (::testing::Test::HasFailure()) {
    std::cerr << "--- bpmd a ---\n" << testing::ReadFile(a.log_path()) << "--- bpmd b ---\n"
              << testing::ReadFile(b.log_path());
  }

  v1::ListNotificationsRequest req;
  req.set_page_size(500);
  v1::ListNotificationsResponse resp;
  auto ctx = testing::Context("r1", "reviewer", "X");  // in scope of the instances' org
  ASSERT_TRUE(tasks_b->ListNotifications(ctx.get(), req, &resp).ok());
  int overdue_notes = 0;
  for (const auto& n : resp.notifications()) overdue_notes += n.kind() == "overdue";
  EXPECT_EQ(overdue_notes, kInstances);
}

}  // namespace
}  // namespace bpm
