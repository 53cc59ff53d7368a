// 绩效运行监控 end to end through gRPC on a real bpmd (SQLite, or MariaDB as
// monitoring_mysql): workflows/performance-monitoring.yaml with the monitoring
// stage plugin. bpmd reads "now" from a test clock file, so the warning's
// 10-working-day response period can run out.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "bpm/v1/bpm.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/support/test_env.h"

namespace bpm {
namespace {

namespace v1 = ::bpm::v1;
using ::testing::HasSubstr;
using testing::Who;

const Who kUnit{"zhang", "unit_filer", "906017"};
const Who kFinance{"wang", "finance_reviewer", "czj"};
constexpr int64_t kStart = 1783908000000;  // Monday 2026-07-13 10:00 China time
constexpr int64_t kDay = 24 * 3600 * 1000;
constexpr int64_t kDue = kStart + 14 * kDay + 14 * 3600 * 1000 - 1;  // 27 July 23:59:59.999

// Target 120 km a year, 70 by July (100% of the linear share), satisfaction met.
std::string Report(const std::string& executed, const std::string& km,
                   const std::string& reason = "") {
  return R"({"month": 7, "budget": "1,000,000", "executed": ")" + executed +
         R"(", "indicators": [
      {"name": "养护里程", "operator": "≥", "target": 120, "actual": )" + km +
         (reason.empty() ? "" : R"(, "deviation_reason": ")" + reason + "\"") + R"(},
      {"name": "群众满意度", "operator": "定性", "grade": "达成目标", "likelihood": "确定能"}]})";
}

class MonitoringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_file_ = dir_.path() + "/clock";
    SetClock(kStart);
    ASSERT_NO_FATAL_FAILURE(StartBpmd("monitoring", 50));
  }

  // A bpmd on a fresh store, reading the test clock, looking for due timers
  // every tick_ms.
  void StartBpmd(const std::string& store, int tick_ms) {
    bpmd_.reset();
    bpmd_ = std::make_unique<testing::BpmdProcess>(
        testing::FreshStoreUrl(dir_.path(), store),
        std::vector<std::string>{"--calendars=" + testing::SourceDir() + "/deploy/calendars",
                                 "--test-clock-file=" + clock_file_,
                                 "--tick-ms=" + std::to_string(tick_ms)});
    ASSERT_TRUE(bpmd_->Start());
    testing::ImportCountyOrgs(bpmd_->channel());
    instances_ = v1::InstanceService::NewStub(bpmd_->channel());
    tasks_ = v1::TaskService::NewStub(bpmd_->channel());
  }

  void SetClock(int64_t ms) {  // written whole and renamed: never read half-written
    const std::string tmp = clock_file_ + ".tmp";
    std::ofstream(tmp) << ms << "\n";
    std::rename(tmp.c_str(), clock_file_.c_str());
  }

  v1::Instance Start(const std::string& subject) {
    v1::StartInstanceRequest req;
    req.set_definition_key("performance-monitoring");
    req.set_subject_ref(subject);
    req.set_org("906017");
    v1::StartInstanceResponse resp;
    grpc::Status s = instances_->Start(Ctx(kUnit).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.instance();
  }

  grpc::Status Act(const Who& who, const v1::Instance& inst, const std::string& action,
                   const std::string& payload, v1::Instance* out) {
    EXPECT_EQ(inst.open_tasks_size(), 1) << inst.DebugString();
    v1::ActRequest req;
    req.set_task_id(inst.open_tasks_size() ? inst.open_tasks(0).id() : "");
    req.set_action(action);
    if (!payload.empty()) {
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(payload, req.mutable_payload()).ok())
          << payload;
    }
    v1::ActResponse resp;
    grpc::Status s = tasks_->Act(Ctx(who).get(), req, &resp);
    if (out != nullptr) *out = resp.instance();
    return s;
  }

  v1::Instance Get(const std::string& id) {
    v1::GetInstanceRequest req;
    req.set_id(id);
    v1::GetInstanceResponse resp;
    EXPECT_TRUE(instances_->Get(Ctx(kUnit).get(), req, &resp).ok());
    return resp.instance();
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(const Who& who) {
    return testing::Context(who.user, who.roles, who.org);
  }
  static std::string Str(const v1::Instance& inst, const std::string& var, const std::string& key) {
    const auto& fields = inst.variables().fields();
    if (!fields.count(var)) return "";
    const auto& f = fields.at(var).struct_value().fields();
    return f.count(key) ? f.at(key).string_value() : "";
  }

  testing::TempDir dir_;
  std::string clock_file_;
  std::unique_ptr<testing::BpmdProcess> bpmd_;
  std::unique_ptr<v1::InstanceService::Stub> instances_;
  std::unique_ptr<v1::TaskService::Stub> tasks_;
};

TEST_F(MonitoringTest, OnTrackEndsTheRound) {
  v1::Instance inst = Start("P-2026-001");
  // 70% executed by July: ratio 120, green; the indicator at 100% of its share.
  ASSERT_TRUE(Act(kUnit, inst, "submit", Report("700000", "70"), &inst).ok());
  EXPECT_EQ(inst.state(), "done");
  EXPECT_EQ(Str(inst, "monitoring", "light"), "green");
  EXPECT_EQ(Str(inst, "monitoring", "budget_light"), "green");
}

TEST_F(MonitoringTest, AWarningIsExplainedAndReviewed) {
  v1::Instance inst = Start("P-2026-002");
  // 35% executed by July is a ratio of exactly 60: yellow, not red.
  ASSERT_TRUE(Act(kUnit, inst, "submit", Report("350000", "70"), &inst).ok());
  EXPECT_EQ(inst.state(), "report");
  EXPECT_EQ(Str(inst, "monitoring", "budget_light"), "yellow");
  EXPECT_EQ(Str(inst, "warning", "status"), "raised");
  ASSERT_EQ(inst.open_tasks_size(), 1);
  EXPECT_EQ(inst.open_tasks(0).name(), "warning_response");
  // Due at the end of the 10th working day: Monday 27 July, 23:59:59.999 China time.
  EXPECT_EQ(inst.open_tasks(0).due_unix_ms(), kDue);

  grpc::Status s = Act(kUnit, inst, "explain", R"({"reason_category": "天气"})", nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("payload.reason_category: must be one of 经费保障"));
  EXPECT_THAT(s.error_message(), HasSubstr("payload.measures: is required"));
  ASSERT_TRUE(Act(kUnit, inst, "explain",
                  R"({"reason_category": "其他", "measures": "汛期停工，8月加快支付", "forecast_rate": 95})",
                  &inst)
                  .ok());
  EXPECT_EQ(inst.state(), "finance_review");
  EXPECT_EQ(Str(inst, "warning", "status"), "explained");
  ASSERT_TRUE(Act(kFinance, inst, "approve", "", &inst).ok());
  EXPECT_EQ(inst.state(), "done");
}

TEST_F(MonitoringTest, LaggingIndicatorsNeedAReason) {
  v1::Instance inst = Start("P-2026-003");
  // 41 km of a 70 km share is 58.6%: red, and the reason is required.
  grpc::Status s = Act(kUnit, inst, "submit", Report("700000", "41"), nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              HasSubstr("payload.indicators[0].deviation_reason: is required for a red indicator"));
  ASSERT_TRUE(Act(kUnit, inst, "submit", Report("700000", "41", "雨季施工受阻"), &inst).ok());
  EXPECT_EQ(Str(inst, "monitoring", "goal_light"), "red");
  EXPECT_EQ(Str(inst, "monitoring", "light"), "red");  // the worst of budget and goals
}

TEST_F(MonitoringTest, AnUnansweredWarningTurnsOverdue) {
  v1::Instance inst = Start("P-2026-004");
  ASSERT_TRUE(Act(kUnit, inst, "submit", Report("100000", "70"), &inst).ok());  // ratio 17: red
  EXPECT_EQ(Str(inst, "warning", "status"), "raised");
  SetClock(kDue + 1000);  // past the due time
  std::string status;
  for (int i = 0; i < 200 && status != "overdue"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = Str(Get(inst.id()), "warning", "status");
  }
  EXPECT_EQ(status, "overdue");
  // Still answerable, and recorded as late.
  inst = Get(inst.id());
  ASSERT_TRUE(Act(kUnit, inst, "explain", R"({"reason_category": "经费保障", "measures": "追加资金"})",
                  &inst)
                  .ok());
  EXPECT_TRUE(inst.variables().fields().at("warning").struct_value().fields().at("late").bool_value());
}

// An explanation past the due time is late even when the overdue timer has
// not fired yet: here the scheduler looks for due timers once an hour.
TEST_F(MonitoringTest, AnAnswerPastTheDueIsLateBeforeTheTimerFires) {
  ASSERT_NO_FATAL_FAILURE(StartBpmd("monitoring_slow_timers", 3600000));

  v1::Instance inst = Start("P-2026-005");
  ASSERT_TRUE(Act(kUnit, inst, "submit", Report("100000", "70"), &inst).ok());  // red
  SetClock(kDue + 1);
  ASSERT_TRUE(Act(kUnit, inst, "explain", R"({"reason_category": "经费保障", "measures": "追加资金"})",
                  &inst)
                  .ok());
  const auto& w = inst.variables().fields().at("warning").struct_value().fields();
  EXPECT_EQ(w.at("status").string_value(), "explained");
  EXPECT_TRUE(w.at("late").bool_value());
  // On time at the last millisecond of the due day.
  v1::Instance other = Start("P-2026-006");
  SetClock(kStart);
  ASSERT_TRUE(Act(kUnit, other, "submit", Report("100000", "70"), &other).ok());
  SetClock(kDue);
  ASSERT_TRUE(Act(kUnit, other, "explain", R"({"reason_category": "经费保障", "measures": "追加资金"})",
                  &other)
                  .ok());
  EXPECT_FALSE(other.variables().fields().at("warning").struct_value().fields().at("late").bool_value());
}

}  // namespace
}  // namespace bpm

namespace bpm {
namespace {

// A round for a project with approved targets reports against them: bpmd
// attaches the targets in force at start (variables.approved_targets), and the
// monitoring stage refuses other indicators and changed targets, takes a
// left-out target from the approval, and lists the indicators left out.
TEST_F(MonitoringTest, ARoundReportsAgainstTheApprovedTargets) {
  const std::string subject = "360726-2026-906017-301";
  v1::StartInstanceRequest start;
  start.set_definition_key("target-filing");
  start.set_subject_ref(subject);
  start.set_org("906017");
  v1::StartInstanceResponse started;
  ASSERT_TRUE(instances_->Start(Ctx(kUnit).get(), start, &started).ok());
  v1::Instance filing = started.instance();
  ASSERT_TRUE(Act(kUnit, filing, "submit", testing::kSoundTargetForm, &filing).ok());
  ASSERT_TRUE(Act({"li", "authority_reviewer", "906"}, filing, "approve", "", &filing).ok());
  grpc::Status s = Act(kFinance, filing, "approve", R"({"grade": "优"})", &filing);
  ASSERT_TRUE(s.ok()) << s.error_message();

  v1::Instance inst = Start(subject);
  const auto& attached = inst.variables().fields().at("approved_targets").struct_value().fields();
  EXPECT_EQ(attached.at("version").number_value(), 1);
  EXPECT_EQ(attached.at("instance_id").string_value(), filing.id());
  EXPECT_EQ(attached.at("indicators").list_value().values_size(), 6);

  auto report = [&](const std::string& rows) {
    return R"({"month": 7, "budget": "1,000,000", "executed": "700000", "indicators": [)" + rows +
           "]}";
  };
  v1::Instance out;
  s = Act(kUnit, inst, "submit", report(R"({"name": "桥梁数", "operator": "≥", "target": 3, "actual": 2})"), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("payload.indicators[0].name: '桥梁数' is not an indicator "
                                           "of the approved targets (version 1)"));
  s = Act(kUnit, inst, "submit", report(R"({"name": "养护里程", "target": 100, "actual": 70})"), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              HasSubstr("payload.indicators[0].target: 100 is not the approved target 120 (version 1)"));
  s = Act(kUnit, inst, "submit", report(R"({"name": "养护里程", "operator": "≤", "actual": 70})"), &out);
  EXPECT_THAT(s.error_message(), HasSubstr("payload.indicators[0].operator: is not the approved operator ≥"));

  // 70 of the approved 120 km by July, satisfaction 92 against 90.
  s = Act(kUnit, inst, "submit",
          report(R"({"name": "养护里程", "actual": 70}, {"name": "沿线群众满意度", "actual": 92})"), &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.state(), "done");
  const auto& m = out.variables().fields().at("monitoring").struct_value().fields();
  EXPECT_EQ(m.at("targets_version").number_value(), 1);
  EXPECT_EQ(m.at("unreported").list_value().values_size(), 4);
  EXPECT_EQ(m.at("light").string_value(), "green");

  // The variable is bpmd's to fill.
  v1::StartInstanceRequest forged;
  forged.set_definition_key("performance-monitoring");
  forged.set_subject_ref(subject);
  forged.set_org("906017");
  (*forged.mutable_variables()->mutable_fields())["approved_targets"].mutable_struct_value();
  s = instances_->Start(Ctx(kUnit).get(), forged, &started);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("variables.approved_targets: bpmd fills it"));
}

}  // namespace
}  // namespace bpm
