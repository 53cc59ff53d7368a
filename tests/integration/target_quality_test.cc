// 绩效目标质量检查 end to end through gRPC on a real bpmd (SQLite, or MariaDB as
// target_quality_mysql): the bundled target-filing workflow's quality block,
// run by the department_submit plugin loaded from its .so (自检 and the check
// at submit), and TargetService.CheckQuality comparing a filing with the
// other departments' filings (同质化), redacted outside the caller's scope.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bpm/v1/bpm.grpc.pb.h"
#include "bpm/v1/perf.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/support/test_env.h"

namespace bpm {
namespace {

namespace v1 = ::bpm::v1;
using ::testing::HasSubstr;
using testing::Who;

const Who kUnit{"zhang", "unit_filer", "906017"};       // 教育局's 第一中学
const Who kSameDept{"qian", "unit_filer", "906001"};    // 教育局机关
const Who kOtherDept{"zhou", "unit_filer", "904002"};   // 交通运输局's 公路中心
const Who kPerformance{"zhao", "performance_section", "czj-jx"};

google::protobuf::Struct Json(const std::string& text) {
  google::protobuf::Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &s).ok()) << text;
  return s;
}

// The sound form with one change: text replaced.
std::string Edited(const std::string& from, const std::string& to) {
  std::string form = testing::kSoundTargetForm;
  size_t at = form.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return form.replace(at, from.size(), to);
}

class TargetQualityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bpmd_ = std::make_unique<testing::BpmdProcess>(testing::FreshStoreUrl(dir_.path(), "quality"));
    ASSERT_TRUE(bpmd_->Start());
    testing::ImportCountyOrgs(bpmd_->channel());
    instances_ = v1::InstanceService::NewStub(bpmd_->channel());
    tasks_ = v1::TaskService::NewStub(bpmd_->channel());
    targets_ = v1::TargetService::NewStub(bpmd_->channel());
  }

  v1::Instance Start(const Who& who, const std::string& subject,
                     const std::string& key = "target-filing") {
    v1::StartInstanceRequest req;
    req.set_definition_key(key);
    req.set_subject_ref(subject);
    req.set_org(who.org);
    v1::StartInstanceResponse resp;
    grpc::Status s = instances_->Start(Ctx(who).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.instance();
  }

  grpc::Status Act(const Who& who, v1::Instance* inst, const std::string& action,
                   const std::string& payload) {
    EXPECT_EQ(inst->open_tasks_size(), 1) << inst->DebugString();
    v1::ActRequest req;
    req.set_task_id(inst->open_tasks_size() ? inst->open_tasks(0).id() : "");
    req.set_action(action);
    *req.mutable_payload() = Json(payload);
    v1::ActResponse resp;
    grpc::Status s = tasks_->Act(Ctx(who).get(), req, &resp);
    if (s.ok()) *inst = resp.instance();
    return s;
  }

  v1::Instance Filed(const Who& who, const std::string& subject, const std::string& form) {
    v1::Instance inst = Start(who, subject);
    grpc::Status s = Act(who, &inst, "submit", form);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return inst;
  }

  grpc::Status Check(const Who& who, const std::string& id, v1::CheckTargetQualityResponse* out,
                     const std::string& draft = "") {
    v1::CheckTargetQualityRequest req;
    req.set_instance_id(id);
    if (!draft.empty()) *req.mutable_form() = Json(draft);
    return targets_->CheckQuality(Ctx(who).get(), req, out);
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(const Who& who) {
    return testing::Context(who.user, who.roles, who.org);
  }
  static const google::protobuf::Struct& Quality(const v1::Instance& inst) {
    return inst.variables().fields().at("quality").struct_value();
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::BpmdProcess> bpmd_;
  std::unique_ptr<v1::InstanceService::Stub> instances_;
  std::unique_ptr<v1::TaskService::Stub> tasks_;
  std::unique_ptr<v1::TargetService::Stub> targets_;
};

TEST_F(TargetQualityTest, SelfCheckShowsFindingsWithoutSubmitting) {
  v1::Instance inst = Start(kUnit, "360726-2026-906017-101");
  ASSERT_EQ(inst.open_tasks(0).actions_size(), 2);  // submit and check
  const std::string vague = Edited(R"("target": "120")", R"("target": "大幅增加")");
  ASSERT_TRUE(Act(kUnit, &inst, "check", vague).ok());
  EXPECT_EQ(inst.state(), "draft");
  ASSERT_EQ(inst.open_tasks_size(), 1);  // the fill task stays open
  const auto& q = Quality(inst);
  EXPECT_EQ(q.fields().at("errors").number_value(), 1);
  const auto& f = q.fields().at("findings").list_value().values(0).struct_value().fields();
  EXPECT_EQ(f.at("code").string_value(), "unquantified");
  EXPECT_EQ(f.at("field").string_value(), "indicators[0].target");
  EXPECT_THAT(f.at("message").string_value(), HasSubstr("大幅增加"));
}

TEST_F(TargetQualityTest, SubmitRefusesErrorsNamingEachField) {
  v1::Instance inst = Start(kUnit, "360726-2026-906017-102");
  // No 时效 row (its weight moved to 数量), 120 % 优良路率, weights 101.
  std::string bad = Edited(R"({"level1": "产出指标", "level2": "时效指标", "name": "养护完成时间", "operator": "≤",
     "target": "11", "unit": "月", "weight": 10},
    )", "");
  bad = bad.replace(bad.find(R"("target": "85")"), 14, R"("target": "120")");
  bad = bad.replace(bad.find(R"("weight": 10})"), 13, R"("weight": 21})");
  grpc::Status s = Act(kUnit, &inst, "submit", bad);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("payload.indicators[1].target: [impossible_value]"));
  EXPECT_THAT(s.error_message(), HasSubstr("payload.indicators: [missing_output_category]"));
  EXPECT_THAT(s.error_message(), HasSubstr("“时效”"));
  EXPECT_THAT(s.error_message(), HasSubstr("[weight_sum] 权重合计 101，应为 100"));
  // Nothing changed.
  v1::GetInstanceRequest get;
  get.set_id(inst.id());
  v1::GetInstanceResponse got;
  ASSERT_TRUE(instances_->Get(Ctx(kUnit).get(), get, &got).ok());
  EXPECT_EQ(got.instance().version(), inst.version());
  EXPECT_EQ(got.instance().state(), "draft");
}

// A multi-year project states its mid-term (总体) goal: target-filing's
// quality block names term_years and mid_term_goal.
TEST_F(TargetQualityTest, AMultiYearProjectNeedsItsMidTermGoal) {
  v1::Instance inst = Start(kUnit, "360726-2026-906017-103");
  const std::string goal = R"("annual_goal": "完成农村公路养护120公里，优良路率达到85%")";
  grpc::Status s = Act(kUnit, &inst, "submit", Edited(goal, goal + R"(, "term_years": 3)"));
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              HasSubstr("payload.mid_term_goal: [missing_mid_term_goal] 跨年度项目（实施期 3 年）"));
  s = Act(kUnit, &inst, "submit",
          Edited(goal, goal + R"(, "term_years": 3, "mid_term_goal": "三年养护农村公路360公里，优良路率达到90%")"));
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(inst.state(), "authority_review");
}

TEST_F(TargetQualityTest, WarningsPassAndReachTheReviewers) {
  // A vague goal is a warning: the filing goes on, with the finding recorded.
  v1::Instance inst = Filed(kUnit, "360726-2026-906017-103",
                            Edited("完成农村公路养护120公里，优良路率达到85%",
                                   "进一步提高农村公路通行水平，群众出行条件明显改善"));
  EXPECT_EQ(inst.state(), "authority_review");
  const auto& q = Quality(inst);
  EXPECT_EQ(q.fields().at("errors").number_value(), 0);
  EXPECT_EQ(q.fields().at("warnings").number_value(), 1);
  EXPECT_EQ(q.fields().at("findings").list_value().values(0).struct_value().fields().at("code").string_value(),
            "vague_goal");
  // The history records it.
  v1::GetHistoryRequest h;
  h.set_instance_id(inst.id());
  v1::GetHistoryResponse history;
  ASSERT_TRUE(instances_->GetHistory(Ctx(kPerformance).get(), h, &history).ok());
  bool noted = false;
  for (const auto& e : history.events()) noted = noted || e.note().find("1 warnings (vague_goal)") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST_F(TargetQualityTest, CopiesAcrossDepartmentsAreFoundAndRedactedOutsideTheScope) {
  v1::Instance mine = Filed(kUnit, "360726-2026-906017-104", testing::kSoundTargetForm);
  // The same department's template is not 同质化; another department's copy is.
  Filed(kSameDept, "360726-2026-906001-001", testing::kSoundTargetForm);
  v1::Instance copy = Filed(kOtherDept, "360726-2026-904002-001", testing::kSoundTargetForm);
  // One row differs (5 of 7 distinct rows shared, 0.71): not a copy.
  Filed(kOtherDept, "360726-2026-904002-002",
        Edited(R"("养护里程", "operator": "≥",
     "target": "120")", R"("桥梁维修", "operator": "≥",
     "target": "3")"));

  v1::CheckTargetQualityResponse r;
  grpc::Status s = Check(kPerformance, mine.id(), &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(r.passed());  // a copy is a warning
  EXPECT_EQ(r.compared(), 3);
  ASSERT_EQ(r.copies_size(), 1) << r.DebugString();
  EXPECT_EQ(r.copies(0).instance_id(), copy.id());
  EXPECT_EQ(r.copies(0).org(), "904002");
  EXPECT_EQ(r.copies(0).similarity(), "1");
  ASSERT_EQ(r.findings_size(), 1);
  EXPECT_EQ(r.findings(0).code(), "copied");
  EXPECT_EQ(r.findings(0).severity(), "warning");

  // The filer sees that a copy exists, not whose.
  ASSERT_TRUE(Check(kUnit, mine.id(), &r).ok());
  ASSERT_EQ(r.copies_size(), 1);
  EXPECT_EQ(r.copies(0).instance_id(), "");
  EXPECT_EQ(r.copies(0).org(), "");
  EXPECT_EQ(r.copies(0).similarity(), "1");

  // A draft is checked as given.
  ASSERT_TRUE(Check(kUnit, mine.id(), &r, Edited(R"("target": "120")", R"("target": "很多")")).ok());
  EXPECT_FALSE(r.passed());
  EXPECT_EQ(r.findings(0).code(), "unquantified");
  EXPECT_EQ(r.copies_size(), 0);  // one row differs: 5 of 7, below 0.8

  // Outside the scope: denied.
  EXPECT_EQ(Check(kOtherDept, mine.id(), &r).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(TargetQualityTest, ErrorsNameWhatIsMissing) {
  v1::CheckTargetQualityResponse r;
  EXPECT_EQ(Check(kPerformance, "", &r).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Check(kPerformance, "nosuch", &r).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::Instance fresh = Start(kUnit, "360726-2026-906017-105");
  grpc::Status s = Check(kUnit, fresh.id(), &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("no filed form yet (variables.form)"));
}

}  // namespace
}  // namespace bpm

namespace bpm {
namespace {

// 部门整体绩效目标 (workflows/department-target.yaml) end to end: the
// department files its overall targets (examples/department-target.json),
// checked with a department's categories (履职 among the outputs,
// satisfaction required); its reviewer signs off; finance approves with a
// grade; the performance section publishes.
TEST_F(TargetQualityTest, DepartmentOverallTargetsRunEndToEnd) {
  const Who filer{"liu", "unit_filer", "906"};
  const Who leader{"li", "dept_reviewer", "906"};  // 教育局's reviewer (county-org.yaml)
  const Who finance{"wang", "finance_reviewer", "czj-jkw"};
  const std::string form = testing::ReadFile(testing::SourceDir() + "/examples/department-target.json");
  ASSERT_FALSE(form.empty());
  auto edited = [&](const std::string& from, const std::string& to) {
    std::string out = form;
    const size_t at = out.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return out.replace(at, from.size(), to);
  };

  v1::Instance inst = Start(filer, "906-2026", "department-target");
  ASSERT_EQ(inst.state(), "draft");
  // Key tasks (履职) filed as a count: the department's outputs lack 履职.
  grpc::Status s = Act(filer, &inst, "submit", edited(R"("level2": "履职")", R"("level2": "数量")"));
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("[missing_output_category]"));
  EXPECT_THAT(s.error_message(), HasSubstr("“履职”"));
  // No satisfaction row: required of department targets.
  s = Act(filer, &inst, "submit",
          edited(R"("level1": "满意度指标", "level2": "社会公众满意度指标")",
                 R"("level1": "效益指标", "level2": "社会效益指标")"));
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("[no_satisfaction]"));

  s = Act(filer, &inst, "submit", form);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(inst.state(), "department_review");
  EXPECT_EQ(Quality(inst).fields().at("errors").number_value(), 0);
  ASSERT_TRUE(Act(leader, &inst, "approve", "{}").ok());
  EXPECT_EQ(inst.state(), "finance_review");
  ASSERT_TRUE(Act(finance, &inst, "approve", R"({"grade": "良"})").ok());
  EXPECT_EQ(inst.state(), "disclosure");
  EXPECT_EQ(inst.variables().fields().at("grade").string_value(), "良");
  ASSERT_TRUE(Act(kPerformance, &inst, "publish", "{}").ok());
  EXPECT_EQ(inst.state(), "done");
  EXPECT_EQ(inst.status(), "completed");
}

// 绩效目标调整 (workflows/target-adjustment.yaml, TargetService.Adjust and
// Versions): only approved targets are adjusted, with a reason; the window
// (30 September of the fiscal year) and the yearly number are enforced and
// waived when the budget changed; each approved adjustment is the next
// version and the one in force.
TEST_F(TargetQualityTest, ApprovedTargetsAreAdjustedIntoVersions) {
  const Who dept{"li", "authority_reviewer", "906"};
  const Who finance{"wang", "finance_reviewer", "czj-jkw"};
  auto start = [&](int fiscal_year) {
    v1::StartInstanceRequest req;
    req.set_definition_key("target-filing");
    req.set_subject_ref("360726-2027-906017-201");
    req.set_org(kUnit.org);
    (*req.mutable_variables()->mutable_fields())["fiscal_year"].set_number_value(fiscal_year);
    v1::StartInstanceResponse resp;
    grpc::Status s = instances_->Start(Ctx(kUnit).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.instance();
  };
  auto adjust = [&](const std::string& id, const std::string& reason, bool budget_changed,
                    v1::AdjustTargetsResponse* out) {
    v1::AdjustTargetsRequest req;
    req.set_instance_id(id);
    req.set_reason(reason);
    req.set_budget_changed(budget_changed);
    return targets_->Adjust(Ctx(kUnit).get(), req, out);
  };
  auto versions = [&](const std::string& id) {
    v1::TargetVersionsRequest req;
    req.set_instance_id(id);
    v1::TargetVersionsResponse out;
    grpc::Status s = targets_->Versions(Ctx(kUnit).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  };
  auto approve = [&](v1::Instance* inst, const std::string& form, const std::string& grade) {
    grpc::Status s = Act(kUnit, inst, "submit", form);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_TRUE(Act(dept, inst, "approve", "{}").ok());
    s = Act(finance, inst, "approve", R"({"grade": ")" + grade + R"("})");
    ASSERT_TRUE(s.ok()) << s.error_message();
  };

  // Next fiscal year: its window (until 30 September) is open now.
  const int this_year = [] {
    const std::time_t now = std::time(nullptr) + 8 * 3600;  // China time
    std::tm tm{};
    gmtime_r(&now, &tm);
    return tm.tm_year + 1900;
  }();
  v1::Instance filing = start(this_year + 1);
  v1::AdjustTargetsResponse adjusted;
  grpc::Status s = adjust(filing.id(), "预算调减", false, &adjusted);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("not approved (not graded yet)"));
  approve(&filing, testing::kSoundTargetForm, "优");
  EXPECT_EQ(filing.state(), "disclosure");

  s = adjust(filing.id(), "  ", false, &adjusted);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("reason: is required"));

  s = adjust(filing.id(), "预算调减20%，养护里程相应调整", false, &adjusted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(adjusted.version(), 2);
  v1::Instance adjustment = adjusted.adjustment();
  EXPECT_EQ(adjustment.definition_key(), "target-adjustment");
  EXPECT_EQ(adjustment.subject_ref(), filing.subject_ref());
  EXPECT_EQ(adjustment.state(), "draft");
  const auto& av = adjustment.variables().fields();
  EXPECT_EQ(av.at("original_instance_id").string_value(), filing.id());
  EXPECT_EQ(av.at("reason").string_value(), "预算调减20%，养护里程相应调整");
  EXPECT_EQ(av.at("base_form").struct_value().fields().at("annual_goal").string_value(),
            "完成农村公路养护120公里，优良路率达到85%");

  // Once a year: a second adjustment while the first is under review is refused,
  // unless the budget itself changed.
  v1::AdjustTargetsResponse second;
  s = adjust(filing.id(), "再次调整", false, &second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr(absl::StrCat("already adjusted in ", this_year + 1, " (instance ",
                                                   adjustment.id())));

  std::string reduced = Edited(R"("target": "120", "unit": "公里")", R"("target": "96", "unit": "公里")");
  reduced.replace(reduced.find("养护120公里"), std::string("养护120公里").size(), "养护96公里");
  approve(&adjustment, reduced, "良");
  EXPECT_EQ(adjustment.state(), "disclosure");

  v1::TargetVersionsResponse all = versions(adjustment.id());
  EXPECT_EQ(all.subject_ref(), filing.subject_ref());
  ASSERT_EQ(all.versions_size(), 2);
  EXPECT_EQ(all.versions(0).version(), 1);
  EXPECT_EQ(all.versions(0).instance_id(), filing.id());
  EXPECT_FALSE(all.versions(0).in_force());
  EXPECT_EQ(all.versions(1).version(), 2);
  EXPECT_EQ(all.versions(1).instance_id(), adjustment.id());
  EXPECT_EQ(all.versions(1).grade(), "良");
  EXPECT_TRUE(all.versions(1).in_force());
  const auto& rows = all.versions(1).form().fields().at("indicators").list_value();
  EXPECT_EQ(rows.values(0).struct_value().fields().at("target").string_value(), "96");

  // The budget changed: a third version in the same year, adjusting version 2.
  s = adjust(adjustment.id(), "追加预算", true, &second);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(second.version(), 3);
  EXPECT_EQ(second.adjustment().variables().fields().at("original_instance_id").string_value(),
            filing.id());
  EXPECT_EQ(second.adjustment().variables().fields().at("base_form").struct_value().fields()
                .at("indicators").list_value().values(0).struct_value().fields().at("target")
                .string_value(),
            "96");
  all = versions(filing.id());
  ASSERT_EQ(all.versions_size(), 3);
  EXPECT_EQ(all.versions(2).status(), "in_review");
  EXPECT_EQ(all.versions(2).version(), 0);
  EXPECT_TRUE(all.versions(1).in_force());

  // Last fiscal year: its window closed on 30 September.
  v1::Instance late = start(this_year - 1);
  approve(&late, Edited("乡村道路养护", "乡村道路养护二期"), "良");
  s = adjust(late.id(), "进度调整", false, &second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr(absl::StrCat("closed on ", this_year - 1, "-09-30")));
  EXPECT_TRUE(adjust(late.id(), "预算调减", true, &second).ok());
}

// Adjustments racing: eight unit filers ask to adjust the same approved
// filing at once, on each of six filings. The yearly limit (one) holds:
// exactly one adjustment starts per filing; the others are refused by the
// limit or told the race was lost (ABORTED), never both started.
TEST_F(TargetQualityTest, ConcurrentAdjustmentsStartExactlyOne) {
  const Who dept{"li", "authority_reviewer", "906"};
  const Who finance{"wang", "finance_reviewer", "czj-jkw"};
  const int next_year = [] {
    const std::time_t now = std::time(nullptr) + 8 * 3600;  // China time: the window is open
    std::tm tm{};
    gmtime_r(&now, &tm);
    return tm.tm_year + 1901;
  }();
  constexpr int kRacers = 8;
  for (int round = 0; round < 6; ++round) {
    v1::StartInstanceRequest req;
    req.set_definition_key("target-filing");
    req.set_subject_ref("360726-2027-906017-3" + std::to_string(10 + round));
    req.set_org(kUnit.org);
    (*req.mutable_variables()->mutable_fields())["fiscal_year"].set_number_value(next_year);
    v1::StartInstanceResponse started;
    ASSERT_TRUE(instances_->Start(Ctx(kUnit).get(), req, &started).ok());
    v1::Instance filing = started.instance();
    ASSERT_TRUE(Act(kUnit, &filing, "submit", testing::kSoundTargetForm).ok());
    ASSERT_TRUE(Act(dept, &filing, "approve", "{}").ok());
    ASSERT_TRUE(Act(finance, &filing, "approve", R"({"grade": "良"})").ok());

    std::atomic<int> ready{0};
    std::vector<grpc::Status> results(kRacers);
    std::vector<std::string> ids(kRacers);
    std::vector<std::thread> racers;
    for (int i = 0; i < kRacers; ++i) {
      racers.emplace_back([&, i] {
        auto stub = v1::TargetService::NewStub(bpmd_->channel());
        v1::AdjustTargetsRequest adjust;
        adjust.set_instance_id(filing.id());
        adjust.set_reason("调整理由" + std::to_string(i));
        v1::AdjustTargetsResponse out;
        ++ready;
        while (ready < kRacers) std::this_thread::yield();
        results[i] = stub->Adjust(Ctx({"filer" + std::to_string(i), "unit_filer", kUnit.org}).get(),
                                  adjust, &out);
        ids[i] = out.adjustment().id();
      });
    }
    for (auto& t : racers) t.join();
    int won = 0;
    for (int i = 0; i < kRacers; ++i) {
      if (results[i].ok()) {
        ++won;
        continue;
      }
      EXPECT_THAT(results[i].error_code(),
                  ::testing::AnyOf(grpc::StatusCode::FAILED_PRECONDITION, grpc::StatusCode::ABORTED))
          << results[i].error_message();
    }
    EXPECT_EQ(won, 1) << "round " << round;
    v1::TargetVersionsRequest vreq;
    vreq.set_instance_id(filing.id());
    v1::TargetVersionsResponse versions;
    ASSERT_TRUE(targets_->Versions(Ctx(kUnit).get(), vreq, &versions).ok());
    EXPECT_EQ(versions.versions_size(), 2) << "round " << round;  // the filing and one adjustment
  }
}

}  // namespace
}  // namespace bpm
