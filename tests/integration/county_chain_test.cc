// A county's 4-level review chain end to end over gRPC, on SQLite (label
// integration) and MariaDB (labels integration, mysql): the real bpmd with
// the bundled workflow project-target-county.yaml, the org model imported
// from examples/county-org.yaml through the API, PRC working-day due dates
// from deploy/calendars, and a test clock file so time can pass across a
// restart (overdue escalation fired by the restarted bpmd's scheduler).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "bpm/v1/bpm.grpc.pb.h"
#include "bpm/v1/org.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/support/test_env.h"

namespace bpm {
namespace {

using ::testing::ElementsAre;
namespace v1 = ::bpm::v1;

// 2026-09-29 10:00 China time (Tuesday before 国庆).
constexpr int64_t kStart = 1790647200000;
// 5 working days later: Sep 30, Oct 8, Oct 9, Sat Oct 10 (调休), Mon Oct 12.
constexpr int64_t kFiveWorkingDaysLater = 1791820799999;  // 2026-10-12 23:59:59.999 +08
constexpr int64_t kAfterDue = 1791853200000;              // 2026-10-13 09:00 +08

using testing::Who;
const Who kZhang{"zhang", "unit_filer", "906017"};
const Who kChen{"chen", "unit_leader", "906017"};
const Who kLi{"li", "dept_reviewer", "906"};
const Who kWang{"wang", "section_reviewer", "czj-jkw"};
const Who kSun{"sun", "section_head", "czj-jkw"};
const Who kZhao{"zhao", "perf_reviewer", "czj-jx"};

class CountyChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::FreshStoreUrl(dir_.path(), "county");
    clock_file_ = dir_.path() + "/clock";
    SetClock(kStart);
    StartBpmd();
    // The org model, through the API, as a county would load it.
    v1::ImportOrgsRequest req;
    req.set_text(testing::ReadFile(testing::SourceDir() + "/examples/county-org.yaml"));
    req.set_source_name("county-org.yaml");
    v1::ImportOrgsResponse resp;
    auto ctx = testing::Context("admin", "org_admin,workflow_admin", "");
    grpc::Status s = orgs_->Import(ctx.get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_GT(resp.orgs().written(), 40);
  }

  void SetClock(int64_t ms) { std::ofstream(clock_file_) << ms << "\n"; }

  void StartBpmd() {
    bpmd_ = std::make_unique<testing::BpmdProcess>(
        url_, std::vector<std::string>{"--calendars=" + testing::SourceDir() + "/deploy/calendars",
                                       "--test-clock-file=" + clock_file_, "--tick-ms=50"});
    ASSERT_TRUE(bpmd_->Start());
    instances_ = v1::InstanceService::NewStub(bpmd_->channel());
    tasks_ = v1::TaskService::NewStub(bpmd_->channel());
    orgs_ = v1::OrgService::NewStub(bpmd_->channel());
  }

  v1::Instance Get(const std::string& id) {
    v1::GetInstanceRequest req;
    req.set_id(id);
    v1::GetInstanceResponse resp;
    auto ctx = testing::Context("observer", "workflow_admin", "");
    EXPECT_TRUE(instances_->Get(ctx.get(), req, &resp).ok());
    return resp.instance();
  }

  std::vector<std::string> Assignees(const std::string& id) {
    std::vector<std::string> out;
    const v1::Instance inst = Get(id);
    for (const auto& t : inst.open_tasks()) {
      out.push_back(!t.assignee_user().empty() ? t.assignee_user()
                                               : t.assignee_role() + "@" + t.assignee_org());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // The open task `who` may act on.
  v1::Task TaskFor(const std::string& id, const Who& who) {
    const v1::Instance inst = Get(id);
    for (const auto& t : inst.open_tasks()) {
      if (t.assignee_user() == who.user ||
          (t.assignee_user().empty() && t.assignee_role() == who.roles &&
           (t.assignee_org().empty() || t.assignee_org() == who.org))) {
        return t;
      }
    }
    ADD_FAILURE() << "no task for " << who.user << " in " << Get(id).DebugString();
    return v1::Task();
  }

  grpc::Status TryAct(const Who& who, const std::string& id, const std::string& action,
                      const std::string& payload, const std::string& comment, v1::Instance* out) {
    v1::ActRequest req;
    req.set_task_id(TaskFor(id, who).id());
    req.set_action(action);
    if (!payload.empty()) {
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(payload, req.mutable_payload()).ok());
    }
    req.set_comment(comment);
    v1::ActResponse resp;
    auto ctx = testing::Context(who.user, who.roles, who.org);
    grpc::Status s = tasks_->Act(ctx.get(), req, &resp);
    *out = resp.instance();
    return s;
  }

  v1::Instance Act(const Who& who, const std::string& id, const std::string& action,
                   const std::string& payload = "", const std::string& comment = "") {
    v1::Instance out;
    grpc::Status s = TryAct(who, id, action, payload, comment, &out);
    EXPECT_TRUE(s.ok()) << who.user << " " << action << ": " << s.error_message();
    return out;
  }

  std::string StartAndSubmit() {
    v1::StartInstanceRequest req;
    req.set_definition_key("project-target-county");
    req.set_subject_ref("360726-2027-906017-001");
    req.set_org("906017");
    v1::StartInstanceResponse resp;
    auto ctx = testing::Context(kZhang.user, kZhang.roles, kZhang.org);
    grpc::Status s = instances_->Start(ctx.get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    Act(kZhang, resp.instance().id(), "submit",
        testing::ReadFile(testing::SourceDir() + "/examples/target.json"));
    return resp.instance().id();
  }

  testing::TempDir dir_;
  std::string url_;
  std::string clock_file_;
  std::unique_ptr<testing::BpmdProcess> bpmd_;
  std::unique_ptr<v1::InstanceService::Stub> instances_;
  std::unique_ptr<v1::TaskService::Stub> tasks_;
  std::unique_ptr<v1::OrgService::Stub> orgs_;
};

TEST_F(CountyChainTest, FourLevelsRoutedByTheOrgModel) {
  const std::string id = StartAndSubmit();
  EXPECT_THAT(Assignees(id), ElementsAre("unit_leader@906017"));
  // Due in 5 PRC working days across 国庆 and the 调休 Saturday.
  EXPECT_EQ(Get(id).open_tasks(0).due_unix_ms(), kFiveWorkingDaysLater);
  Act(kChen, id, "approve", "", "同意上报");
  EXPECT_THAT(Assignees(id), ElementsAre("dept_reviewer@906"));  // 906017's one competent level
  Act(kLi, id, "approve", "", "主管部门审核通过");
  EXPECT_THAT(Assignees(id), ElementsAre("section_reviewer@czj-jkw"));  // 教科文股 owns 教育局
  Act(kWang, id, "approve", "", "业务股同意");
  EXPECT_THAT(Assignees(id), ElementsAre("zhao"));  // 会签 of every perf_reviewer
  v1::Instance inst = Act(kZhao, id, "approve", "", "绩效股同意");
  EXPECT_EQ(inst.state(), "finance_review");
}

TEST_F(CountyChainTest, ReturnToTheUnitResumesAtTheReturningLevel) {
  const std::string id = StartAndSubmit();
  Act(kChen, id, "approve");
  Act(kLi, id, "approve");
  v1::Instance inst =
      Act(kWang, id, "return", R"({"to": "initiator"})", "成本指标缺失，请补充");
  EXPECT_EQ(inst.state(), "draft");
  Act(kZhang, id, "submit", testing::ReadFile(testing::SourceDir() + "/examples/target.json"));
  EXPECT_THAT(Assignees(id), ElementsAre("section_reviewer@czj-jkw"));
}

TEST_F(CountyChainTest, WithdrawIsRefusedOnceTheNextLevelActed) {
  const std::string id = StartAndSubmit();
  Act(kChen, id, "approve");
  Act(kLi, id, "approve");
  v1::InstanceOperationRequest req;
  req.set_instance_id(id);
  v1::ActResponse resp;
  auto ctx = testing::Context(kChen.user, kChen.roles, kChen.org);
  grpc::Status s = instances_->Withdraw(ctx.get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("chen has no action to withdraw"));
  auto ctx2 = testing::Context(kLi.user, kLi.roles, kLi.org);
  s = instances_->Withdraw(ctx2.get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(Assignees(id), ElementsAre("dept_reviewer@906"));
}

TEST_F(CountyChainTest, OverdueEscalationFiresAfterARestart) {
  const std::string id = StartAndSubmit();
  Act(kChen, id, "approve");
  Act(kLi, id, "approve");
  EXPECT_THAT(Assignees(id), ElementsAre("section_reviewer@czj-jkw"));
  // bpmd goes down; time passes the due date; a new bpmd fires the timer.
  bpmd_->Kill();
  SetClock(kAfterDue);
  StartBpmd();
  std::vector<std::string> now;
  for (int i = 0; i < 200; ++i) {
    now = Assignees(id);
    if (now != std::vector<std::string>{"section_reviewer@czj-jkw"}) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_THAT(now, ElementsAre("section_head@czj-jkw")) << testing::ReadFile(bpmd_->log_path());
  // Once: a second pass of the scheduler changes nothing.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_THAT(Assignees(id), ElementsAre("section_head@czj-jkw"));
  v1::GetHistoryRequest hreq;
  hreq.set_instance_id(id);
  v1::GetHistoryResponse history;
  auto hctx = testing::Context("observer", "workflow_admin", "");
  ASSERT_TRUE(instances_->GetHistory(hctx.get(), hreq, &history).ok());
  int overdue_events = 0;
  for (const auto& e : history.events()) overdue_events += e.kind() == "overdue";
  EXPECT_EQ(overdue_events, 1);
  v1::Instance inst = Act(kSun, id, "approve", "", "股长审核通过");
  EXPECT_THAT(Assignees(id), ElementsAre("zhao"));
  (void)inst;
}

// 906017 moves from 教育局 (906) to 卫健委 (907): its open task at the
// competent-department level follows the unit — at once for a change in
// effect, and when its date comes for a change dated later.
TEST_F(CountyChainTest, OpenTasksRerouteWhenTheUnitMoves) {
  const std::string id = StartAndSubmit();
  Act(kChen, id, "approve");
  EXPECT_THAT(Assignees(id), ElementsAre("dept_reviewer@906"));
  auto move = [&](const std::string& parent, int64_t from) {
    v1::PutOrgRequest req;
    v1::Org* o = req.mutable_org();
    o->set_code("906017");
    o->set_name("安远县第一中学");
    o->set_kind("unit");
    o->set_parent_code(parent);
    o->set_region_code("360726000");
    o->set_valid_from_unix_ms(from);
    v1::PutOrgResponse resp;
    auto ctx = testing::Context("admin", "org_admin,workflow_admin", "");
    grpc::Status s = orgs_->PutOrg(ctx.get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  };
  move("907", kStart);  // in effect now: re-routed by the org service at once
  EXPECT_THAT(Assignees(id), ElementsAre("dept_reviewer@907"));
  // Back to 906 from tomorrow: nothing changes today ...
  constexpr int64_t kDay = 24 * 3600 * 1000LL;
  move("906", kStart + kDay);
  EXPECT_THAT(Assignees(id), ElementsAre("dept_reviewer@907"));
  // ... and the scheduler re-routes when the day comes.
  SetClock(kStart + kDay + 1000);
  std::vector<std::string> now;
  for (int i = 0; i < 200; ++i) {
    now = Assignees(id);
    if (now != std::vector<std::string>{"dept_reviewer@907"}) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_THAT(now, ElementsAre("dept_reviewer@906"));
  // The history says why.
  v1::GetHistoryRequest hreq;
  hreq.set_instance_id(id);
  v1::GetHistoryResponse history;
  auto hctx = testing::Context("observer", "workflow_admin", "");
  ASSERT_TRUE(instances_->GetHistory(hctx.get(), hreq, &history).ok());
  int rerouted = 0;
  for (const auto& e : history.events()) rerouted += e.kind() == "rerouted";
  EXPECT_EQ(rerouted, 2);
  Act(kLi, id, "approve");
  EXPECT_THAT(Assignees(id), ElementsAre("section_reviewer@czj-jkw"));
}

}  // namespace
}  // namespace bpm
