// Campaigns (一对多下发): one task to 100 departments, the progress view per
// department, bulk urge, deadline extension, and overdue timers that fire
// exactly once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/common/clock.h"
#include "core/engine/engine.h"
#include "google/protobuf/util/json_util.h"
#include "tests/support/test_env.h"

namespace bpm::engine {
namespace {

namespace pb = ::bpm::plugin::v1;
constexpr int64_t kDay = 24 * 3600 * 1000LL;
constexpr int kDepartments = 100;

const char* kWorkflow = R"(
key: annual-targets
initial: fill
states:
  fill:
    stage: department_submit
    config:
      assignee: { role: dept_filer, org: "${org}" }
      form: { fields: [ { name: summary, type: string, required: true } ] }
    on: { submitted: review }
  review:
    stage: review
    config: { assignee: { role: finance_reviewer } }
    on: { approved: done, returned: fill }
  done: { final: true }
)";

std::string Dept(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "D%03d", i);
  return buf;
}

class CampaignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.LoadDirectory(testing::PluginDir()).ok());
    auto store = store::Store::Open("sqlite:" + dir_.path() + "/campaign.db", 4);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    EngineOptions options;
    // Targets D001..D100 are departments; U001 is a unit of D001.
    options.org_resolver = [](const std::string& org, int64_t) -> StatusOr<pb::OrgContext> {
      pb::OrgContext c;
      c.mutable_unit()->set_code(org);
      if (org[0] == 'U') {
        c.mutable_unit()->set_kind("unit");
        c.add_ancestors()->set_code("D001");
      } else {
        c.mutable_unit()->set_kind("department");
      }
      return c;
    };
    engine_ = std::make_unique<Engine>(*store_, registry_, clock_, options);
    ASSERT_TRUE(engine_->Deploy(kWorkflow, "annual.yaml").ok());
  }

  v1::Campaign Issue() {
    v1::StartCampaignRequest req;
    req.set_title("2027年部门整体绩效目标填报");
    req.set_definition_key("annual-targets");
    req.set_deadline_unix_ms(clock_.NowMillis() + 10 * kDay);
    for (int i = 1; i <= kDepartments; ++i) req.add_targets()->set_org(Dept(i));
    v1::CampaignTarget* unit = req.add_targets();
    unit->set_org("U001");
    unit->set_subject_ref("U001-2027");
    auto c = engine_->StartCampaign(finance_, req);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : v1::Campaign();
  }

  v1::Instance InstanceOf(const v1::Campaign& c, const std::string& org) {
    v1::ListInstancesRequest req;
    req.set_org(org);
    req.set_definition_key("annual-targets");
    auto list = engine_->ListInstances(req);
    EXPECT_TRUE(list.ok());
    EXPECT_EQ(list->instances_size(), 1);
    auto inst = engine_->GetInstance(list->instances(0).id());
    (void)c;
    return *inst;
  }

  void Act(const Caller& who, const v1::Instance& inst, const std::string& action,
           const std::string& payload = "{}", const std::string& comment = "") {
    v1::ActRequest req;
    req.set_task_id(engine_->GetInstance(inst.id())->open_tasks(0).id());
    req.set_action(action);
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(payload, req.mutable_payload()).ok());
    req.set_comment(comment);
    auto r = engine_->Act(who, req);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  Caller Filer(const std::string& org) { return Caller{"filer-" + org, {"dept_filer"}, org}; }

  testing::TempDir dir_;
  plugin::Registry registry_;
  std::unique_ptr<store::Store> store_;
  FakeClock clock_{1'790'000'000'000};
  std::unique_ptr<Engine> engine_;
  const Caller finance_{"perf", {"performance_section"}, "P"};
  const Caller reviewer_{"wang", {"finance_reviewer"}, "S1"};
};

TEST_F(CampaignTest, HundredDepartmentsProgressUrgeAndExtend) {
  v1::Campaign c = Issue();
  EXPECT_EQ(c.target_count(), kDepartments + 1);

  // D001: approved; D002: returned; D003: submitted; D004: in review (a
  // second review round after a return and resubmission); the rest untouched.
  auto d1 = InstanceOf(c, "D001");
  Act(Filer("D001"), d1, "submit", R"({"summary": "a"})");
  Act(reviewer_, d1, "approve");
  auto d2 = InstanceOf(c, "D002");
  Act(Filer("D002"), d2, "submit", R"({"summary": "b"})");
  Act(reviewer_, d2, "return", "{}", "目标不明确");
  auto d3 = InstanceOf(c, "D003");
  Act(Filer("D003"), d3, "submit", R"({"summary": "c"})");
  auto d4 = InstanceOf(c, "D004");
  Act(Filer("D004"), d4, "submit", R"({"summary": "d"})");
  Act(reviewer_, d4, "return", "{}", "补充");
  Act(Filer("D004"), d4, "submit", R"({"summary": "d2"})");

  auto view = engine_->GetCampaign(c.id());
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->total().total(), kDepartments + 1);
  EXPECT_EQ(view->total().approved(), 1);
  EXPECT_EQ(view->total().returned(), 1);
  EXPECT_EQ(view->total().submitted(), 1);
  EXPECT_EQ(view->total().in_review(), 1);
  EXPECT_EQ(view->total().not_started(), kDepartments + 1 - 4);
  EXPECT_EQ(view->total().overdue(), 0);
  EXPECT_EQ(view->departments_size(), kDepartments);  // U001 counts under D001
  EXPECT_EQ(view->departments(0).department(), "D001");
  EXPECT_EQ(view->departments(0).total(), 2);

  // Past the deadline: the untouched filings are overdue; timers fire once.
  // (The deadline binds the filings the campaign opened; D002's new filing
  // after its return follows the stage's own due config, here none.)
  clock_.Advance(11 * kDay);
  view = engine_->GetCampaign(c.id());
  EXPECT_EQ(view->total().overdue(), kDepartments + 1 - 4);
  int fired = 0;
  while (true) {
    auto n = engine_->RunDueTimers("test", 50);
    ASSERT_TRUE(n.ok()) << n.status();
    if (*n == 0) break;
    fired += *n;
  }
  EXPECT_EQ(fired, kDepartments + 1 - 4);
  EXPECT_EQ(*engine_->RunDueTimers("test", 50), 0);  // exactly once
  auto notes = engine_->ListNotifications(Filer("D050"), v1::ListNotificationsRequest());
  ASSERT_TRUE(notes.ok());
  ASSERT_EQ(notes->notifications_size(), 1);
  EXPECT_EQ(notes->notifications(0).kind(), "overdue");

  // Bulk urge reaches every running instance; extension clears overdue.
  v1::CampaignOperationRequest op;
  op.set_id(c.id());
  op.set_comment("请于本周内完成填报");
  auto urged = engine_->UrgeCampaign(finance_, op);
  ASSERT_TRUE(urged.ok()) << urged.status();
  EXPECT_EQ(*urged, kDepartments + 1 - 1);
  op.set_deadline_unix_ms(clock_.NowMillis() + 5 * kDay);
  auto extended = engine_->ExtendCampaignDeadline(finance_, op);
  ASSERT_TRUE(extended.ok()) << extended.status();
  EXPECT_EQ(*extended, kDepartments + 1 - 4);
  view = engine_->GetCampaign(c.id());
  EXPECT_EQ(view->total().overdue(), 0);
  EXPECT_EQ(view->campaign().deadline_unix_ms(), op.deadline_unix_ms());
  op.set_deadline_unix_ms(clock_.NowMillis() + kDay);
  EXPECT_EQ(engine_->ExtendCampaignDeadline(finance_, op).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CampaignTest, RetriedStartMakesNoDuplicates) {
  v1::StartCampaignRequest req;
  req.set_title("监控");
  req.set_definition_key("annual-targets");
  req.set_idempotency_key("round-1");
  for (int i = 1; i <= 5; ++i) req.add_targets()->set_org(Dept(i));
  auto a = engine_->StartCampaign(finance_, req);
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = engine_->StartCampaign(finance_, req);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->id(), b->id());
  EXPECT_EQ(engine_->GetCampaign(a->id())->total().total(), 5);
  req.clear_targets();
  EXPECT_EQ(engine_->StartCampaign(finance_, req).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A stage's own state ("_review": where a review chain resumes) is never the
// starter's to give: refused before the campaign is stored.
TEST_F(CampaignTest, AStagesOwnStateCannotBeGivenAtStart) {
  v1::StartCampaignRequest req;
  req.set_title("监控");
  req.set_definition_key("annual-targets");
  for (int i = 1; i <= 2; ++i) req.add_targets()->set_org(Dept(i));
  (*req.mutable_targets(1)->mutable_variables()->mutable_fields())["_review"]
      .mutable_struct_value();
  auto c = engine_->StartCampaign(finance_, req);
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "targets[1].variables._review: names beginning with '_' are reserved for the "
            "stages' own state and cannot be given at start");
  (*req.mutable_variables()->mutable_fields())["_x"].set_number_value(1);
  c = engine_->StartCampaign(finance_, req);
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "variables._x: names beginning with '_' are reserved for the stages' own state and "
            "cannot be given at start");
  auto listed = engine_->ListCampaigns();
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->campaigns_size(), 0);
}

}  // namespace
}  // namespace bpm::engine
