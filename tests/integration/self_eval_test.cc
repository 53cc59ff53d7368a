// 项目绩效自评 and 事前绩效评估 end to end through gRPC on a real bpmd (SQLite,
// or MariaDB as self_eval_mysql): workflows/self-evaluation.yaml with the
// self_evaluation and spot_check stage plugins, workflows/ex-ante.yaml with
// ex_ante, loaded from their .so files. The unit's scores are computed by the
// stage; the department reviews; finance re-checks exactly the projects the
// published seed draws. Ex-ante: five dimensions, three conclusions.
#include <openssl/sha.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "bpm/v1/bpm.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/support/test_env.h"

namespace bpm {
namespace {

namespace v1 = ::bpm::v1;
using ::testing::HasSubstr;
using testing::Who;

const Who kUnit{"zhang", "unit_filer", "906017"};
const Who kDept{"li", "authority_reviewer", "906"};
const Who kFinance{"wang", "finance_reviewer", "czj"};
const char* kSeed = "安远县-2026年度项目自评抽查";  // workflows/self-evaluation.yaml

// The draw, computed here independently of the plugin.
int Draw(const std::string& subject) {
  const std::string input = std::string(kSeed) + "\n" + subject;
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), md);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | md[i];
  return static_cast<int>(v % 10000);
}

// examples/target.json (asking 1,200,000) asking amount instead.
std::string TargetFormAsking(const std::string& amount) {
  std::string form = testing::ReadFile(testing::SourceDir() + "/examples/target.json");
  const size_t at = form.find(R"("amount": 1200000)");
  EXPECT_NE(at, std::string::npos) << "examples/target.json no longer asks 1200000";
  return at == std::string::npos ? form : form.replace(at, 17, R"("amount": )" + amount);
}

google::protobuf::Struct Json(const std::string& text) {
  google::protobuf::Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &s).ok()) << text;
  return s;
}

class SelfEvalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Calendars: department-evaluation's unit feedback is due in working days.
    bpmd_ = std::make_unique<testing::BpmdProcess>(
        testing::FreshStoreUrl(dir_.path(), "selfeval"),
        std::vector<std::string>{"--calendars=" + testing::SourceDir() + "/deploy/calendars"});
    ASSERT_TRUE(bpmd_->Start());
    testing::ImportCountyOrgs(bpmd_->channel());
    instances_ = v1::InstanceService::NewStub(bpmd_->channel());
    tasks_ = v1::TaskService::NewStub(bpmd_->channel());
  }

  v1::Instance Start(const std::string& subject, const std::string& key = "self-evaluation") {
    v1::Instance inst;
    grpc::Status s = StartWith(subject, key, "", &inst);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return inst;
  }
  grpc::Status StartWith(const std::string& subject, const std::string& key,
                         const std::string& variables, v1::Instance* out) {
    v1::StartInstanceRequest req;
    req.set_definition_key(key);
    req.set_subject_ref(subject);
    req.set_org("906017");
    if (!variables.empty()) *req.mutable_variables() = Json(variables);
    v1::StartInstanceResponse resp;
    grpc::Status s = instances_->Start(Ctx(kUnit).get(), req, &resp);
    *out = resp.instance();
    return s;
  }

  grpc::Status Act(const Who& who, const v1::Instance& inst, const std::string& action,
                   const std::string& payload, v1::Instance* out, const std::string& comment = "") {
    EXPECT_EQ(inst.open_tasks_size(), 1) << inst.DebugString();
    v1::ActRequest req;
    req.set_task_id(inst.open_tasks_size() ? inst.open_tasks(0).id() : "");
    req.set_action(action);
    if (!payload.empty()) *req.mutable_payload() = Json(payload);
    req.set_comment(comment);
    v1::ActResponse resp;
    grpc::Status s = tasks_->Act(Ctx(who).get(), req, &resp);
    if (out != nullptr) *out = resp.instance();
    return s;
  }

  // Files the example targets (amount 1,200,000) on subject and has them
  // approved with grade 良.
  void ApproveTargets(const std::string& subject) {
    v1::Instance inst = Start(subject, "target-filing");
    ASSERT_TRUE(Act(kUnit, inst, "submit",
                    testing::ReadFile(testing::SourceDir() + "/examples/target.json"), &inst)
                    .ok());
    ASSERT_TRUE(Act(kDept, inst, "approve", "", &inst).ok());
    grpc::Status s = Act(kFinance, inst, "approve", R"({"grade": "良"})", &inst);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(inst.state(), "disclosure");
  }

  // A self-evaluation of subject scored from form, through the department,
  // the spot check (at the unit's score) and finance's result application.
  v1::Instance EvaluateAndApply(const std::string& subject, const std::string& form) {
    v1::Instance inst = Start(subject);
    grpc::Status s = Act(kUnit, inst, "submit", form, &inst);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(Act(kDept, inst, "approve", "", &inst).ok());
    if (inst.state() == "spot_check") {
      const double own = Var(inst, "self_eval_score").number_value();
      EXPECT_TRUE(Act(kFinance, inst, "recheck",
                      R"({"score": )" + std::to_string(own) + R"(, "opinion": "复核无误"})", &inst)
                      .ok());
    }
    EXPECT_EQ(inst.state(), "apply");
    EXPECT_TRUE(Act(kFinance, inst, "apply", "", &inst).ok());
    return inst;
  }

  // Submits the example form and has the department approve it.
  v1::Instance SubmitAndApprove(const std::string& subject) {
    v1::Instance inst = Start(subject);
    grpc::Status s = Act(kUnit, inst, "submit",
                         testing::ReadFile(testing::SourceDir() + "/examples/self-evaluation.json"),
                         &inst);
    EXPECT_TRUE(s.ok()) << s.error_message();
    s = Act(kDept, inst, "approve", "", &inst);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return inst;
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(const Who& who) {
    return testing::Context(who.user, who.roles, who.org);
  }
  static const google::protobuf::Value& Var(const v1::Instance& inst, const std::string& name) {
    return inst.variables().fields().at(name);
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::BpmdProcess> bpmd_;
  std::unique_ptr<v1::InstanceService::Stub> instances_;
  std::unique_ptr<v1::TaskService::Stub> tasks_;
};

TEST_F(SelfEvalTest, TheStageScoresAndGradesExactly) {
  v1::Instance inst = Start("360726-2026-906017-001");
  ASSERT_TRUE(Act(kUnit, inst, "submit",
                  testing::ReadFile(testing::SourceDir() + "/examples/self-evaluation.json"), &inst)
                  .ok());
  EXPECT_EQ(inst.state(), "department_review");
  // 118/120 × 30 = 29.5; 20; 27 (定性, within 80–100%); 10; execution 90% → 9.
  const auto& record = Var(inst, "self_evaluation").struct_value().fields();
  EXPECT_EQ(record.at("total").string_value(), "95.5");
  EXPECT_EQ(record.at("grade").string_value(), "优");
  EXPECT_EQ(record.at("execution_rate").string_value(), "90");
  EXPECT_EQ(record.at("execution_score").string_value(), "9");
  const auto& rows = record.at("indicators").list_value();
  ASSERT_EQ(rows.values_size(), 4);
  EXPECT_EQ(rows.values(0).struct_value().fields().at("score").string_value(), "29.5");
  EXPECT_EQ(Var(inst, "self_eval_score").number_value(), 95.5);
  EXPECT_EQ(Var(inst, "self_eval_grade").string_value(), "优");
}

TEST_F(SelfEvalTest, TheDepartmentApprovesReturnsOrRescores) {
  const std::string unit_form =
      testing::ReadFile(testing::SourceDir() + "/examples/self-evaluation.json");
  v1::Instance inst = Start("360726-2026-906017-011");
  ASSERT_TRUE(Act(kUnit, inst, "submit", unit_form, &inst).ok());
  ASSERT_EQ(inst.state(), "department_review");
  ASSERT_EQ(inst.open_tasks_size(), 1);
  EXPECT_THAT(inst.open_tasks(0).actions(), ::testing::ElementsAre("approve", "rescore", "return"));

  // A return needs a comment; a re-score needs a reason.
  grpc::Status s = Act(kDept, inst, "return", "", nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("comment: a return needs a comment"));
  // The department finds 90 km done, not 118: 90/120 × 30 = 22.5, total 88.5, 良.
  std::string rescored = unit_form;
  rescored.replace(rescored.find(R"("actual": "118")"), 15, R"("actual": "90")");
  s = Act(kDept, inst, "rescore", rescored, nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("payload.reason: is required"));

  rescored.replace(rescored.rfind('}'), 1, R"(, "reason": "养护里程以验收单为准，实际完成90公里"})");
  ASSERT_TRUE(Act(kDept, inst, "rescore", rescored, &inst).ok());
  // On to the spot check, which lets a project the seed does not draw (15 %) pass.
  EXPECT_EQ(inst.state(), Draw("360726-2026-906017-011") < 1500 ? "spot_check" : "apply");
  EXPECT_EQ(Var(inst, "self_eval_score").number_value(), 88.5);
  EXPECT_EQ(Var(inst, "self_eval_grade").string_value(), "良");
  const auto& dept = Var(inst, "department_rescore").struct_value().fields();
  EXPECT_EQ(dept.at("total").string_value(), "88.5");
  EXPECT_EQ(dept.at("unit_total").string_value(), "95.5");
  EXPECT_EQ(dept.at("unit_grade").string_value(), "优");
  EXPECT_EQ(dept.at("by").string_value(), kDept.user);
  // The unit's own record stays as it filed it.
  EXPECT_EQ(Var(inst, "self_evaluation").struct_value().fields().at("total").string_value(), "95.5");

  // Returned with a comment: back to the unit.
  v1::Instance other = Start("360726-2026-906017-012");
  ASSERT_TRUE(Act(kUnit, other, "submit", unit_form, &other).ok());
  ASSERT_TRUE(Act(kDept, other, "return", "", &other, "佐证材料不全").ok());
  EXPECT_EQ(other.state(), "evaluate");
}

TEST_F(SelfEvalTest, BadFormsAreRefusedFieldByField) {
  v1::Instance inst = Start("360726-2026-906017-002");
  // Weights add up to 80, not 90.
  grpc::Status s = Act(kUnit, inst, "submit", R"({"budget": 100, "executed": 50, "indicators": [
      {"name": "a", "operator": "≥", "target": 10, "actual": 10, "weight": 80}]})", nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              HasSubstr("payload.indicators: weights add up to 80, not 90 (100 less the "
                        "budget-execution block's 10)"));
  // A qualitative score outside its grade's band, a bad operator, a negative budget.
  s = Act(kUnit, inst, "submit", R"({"budget": -1, "executed": 0, "indicators": [
      {"name": "a", "operator": "定性", "grade": "达成年度指标", "score": 7, "weight": 10},
      {"name": "b", "operator": "=>", "target": 1, "actual": 1, "weight": 80}]})", nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("payload.budget: must not be negative"));
  EXPECT_THAT(s.error_message(),
              HasSubstr("payload.indicators[0].score: 7 of weight 10 is outside the band [80%, "
                        "100%] of the weight for 达成年度指标"));
  EXPECT_THAT(s.error_message(), HasSubstr("payload.indicators[1].operator: '=>' is not one of"));
  // 120% of the target or more needs an explanation (目标是否设置偏低).
  const char* over = R"({"budget": 100, "executed": 100, "indicators": [
      {"name": "a", "operator": "≥", "target": 10, "actual": 12, "weight": 90}]})";
  s = Act(kUnit, inst, "submit", over, nullptr);
  EXPECT_THAT(s.error_message(), HasSubstr("payload.explanation: an indicator exceeds its target"));
  const std::string explained = std::string(over).substr(0, std::string(over).size() - 1) +
                                R"(, "explanation": "提前完工"})";
  ASSERT_TRUE(Act(kUnit, inst, "submit", explained, &inst).ok());
  EXPECT_EQ(Var(inst, "self_eval_score").number_value(), 100);
}

TEST_F(SelfEvalTest, FinanceRechecksExactlyTheDrawnProjects) {
  // Find one project the seed draws (rate 15%: draw < 1500) and one it does not.
  std::string drawn, skipped;
  for (int i = 0; (drawn.empty() || skipped.empty()) && i < 200; ++i) {
    const std::string subject = "360726-2026-906017-" + std::to_string(100 + i);
    (Draw(subject) < 1500 ? drawn : skipped) = subject;
  }
  ASSERT_FALSE(drawn.empty());
  ASSERT_FALSE(skipped.empty());

  v1::Instance not_sampled = SubmitAndApprove(skipped);
  EXPECT_EQ(not_sampled.state(), "apply");
  const auto& check = Var(not_sampled, "spot_check").struct_value().fields();
  EXPECT_FALSE(check.at("sampled").bool_value());
  EXPECT_EQ(check.at("draw").number_value(), Draw(skipped));
  EXPECT_EQ(check.at("seed").string_value(), kSeed);
  // 结果应用: finance confirms next year's budget action for the grade (优).
  ASSERT_TRUE(Act(kFinance, not_sampled, "apply", "", &not_sampled).ok());
  EXPECT_EQ(not_sampled.state(), "done");
  const auto& applied = Var(not_sampled, "result_application").struct_value().fields();
  EXPECT_EQ(applied.at("grade").string_value(), "优");
  EXPECT_EQ(applied.at("action").string_value(), "优先保障");
  EXPECT_EQ(applied.at("adjustment").number_value(), 0);

  v1::Instance sampled = SubmitAndApprove(drawn);
  ASSERT_EQ(sampled.state(), "spot_check");
  EXPECT_EQ(Var(sampled, "spot_check").struct_value().fields().at("draw").number_value(),
            Draw(drawn));
  // The re-check needs an opinion; 84.5 is 11 points under the unit's 95.5.
  grpc::Status s = Act(kFinance, sampled, "recheck", R"({"score": 84.5})", nullptr);
  EXPECT_THAT(s.error_message(), HasSubstr("payload.opinion: is required"));
  ASSERT_TRUE(Act(kFinance, sampled, "recheck", R"({"score": 84.5, "opinion": "成本指标佐证不足"})",
                  &sampled)
                  .ok());
  EXPECT_EQ(sampled.state(), "apply");
  const auto& rechecked = Var(sampled, "spot_check").struct_value().fields();
  EXPECT_EQ(rechecked.at("recheck_score").number_value(), 84.5);
  EXPECT_EQ(rechecked.at("deviation").number_value(), 11);
  EXPECT_TRUE(rechecked.at("deviation_flagged").bool_value());
}

// Scores for the five dimensions of §5.1 adding up to total (20 each at most).
std::string ExAnte(const char* a, const char* b, const char* c, const char* d, const char* e,
                   const std::string& extra = "") {
  return std::string(R"({"opinion": "论证充分", "scores": {"立项必要性": )") + a +
         R"(, "投入经济性": )" + b + R"(, "绩效目标合理性": )" + c + R"(, "实施方案可行性": )" + d +
         R"(, "筹资合规性": )" + e + "}" + extra + "}";
}

TEST_F(SelfEvalTest, ExAnteConcludesAtTheBandEdges) {
  const char* application =
      R"({"project_name": "乡村道路提升", "amount": 5000000, "basis": "县十四五交通规划"})";
  auto assess = [&](const std::string& subject, const std::string& scores, v1::Instance* out) {
    v1::Instance inst = Start(subject, "ex-ante");
    EXPECT_TRUE(Act(kUnit, inst, "submit", application, &inst).ok());
    EXPECT_EQ(inst.state(), "assessment");
    return Act(kFinance, inst, "conclude", scores, out);
  };
  v1::Instance inst;
  // Exactly 80: 支持.
  ASSERT_TRUE(assess("E-1", ExAnte("16", "16", "16", "16", "16"), &inst).ok());
  EXPECT_EQ(inst.state(), "supported");
  EXPECT_FALSE(Var(inst, "budget_blocked").bool_value());
  EXPECT_EQ(Var(inst, "ex_ante").struct_value().fields().at("conclusion").string_value(), "支持");
  // 79.99: 调整完善后支持, back to the unit for revision.
  ASSERT_TRUE(assess("E-2", ExAnte("16", "16", "16", "16", "15.99"), &inst).ok());
  EXPECT_EQ(inst.state(), "application");
  EXPECT_EQ(Var(inst, "ex_ante").struct_value().fields().at("total").string_value(), "79.99");
  // 59.99 (with the low dimension explained): 不予支持 blocks the budget.
  ASSERT_TRUE(assess("E-3",
                     ExAnte("20", "15", "15", "9.99", "0",
                            R"(, "comments": {"实施方案可行性": "无实施方案", "筹资合规性": "资金来源不明"})"),
                     &inst)
                  .ok());
  EXPECT_EQ(inst.state(), "not_supported");
  EXPECT_TRUE(Var(inst, "budget_blocked").bool_value());
  // A score over its weight, a missing dimension, a low one unexplained.
  grpc::Status s = assess("E-4", R"({"opinion": "x", "scores": {"立项必要性": 21, "投入经济性": 5,
      "绩效目标合理性": 20, "实施方案可行性": 20}})", nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("payload.scores.立项必要性: must be from 0 to 20"));
  EXPECT_THAT(s.error_message(), HasSubstr("payload.scores.筹资合规性: is required"));
  EXPECT_THAT(s.error_message(),
              HasSubstr("payload.comments.投入经济性: is required for a score under 60%"));
}

// 部门评价 (workflows/department-evaluation.yaml) end to end: the department's
// team files its plan and scores the 决策/过程/产出/效益 sheet
// (examples/department-evaluation.json: 89, 良), the unit answers, finance
// confirms 中 and the unit rectifies before the result is published.
TEST_F(SelfEvalTest, DepartmentEvaluationScoresTheTree) {
  v1::Instance inst = Start("360726-2026-906017-401", "department-evaluation");
  ASSERT_EQ(inst.state(), "plan");
  grpc::Status s = Act(kDept, inst, "submit",
                       R"({"method": "比较法", "team": "教育局评价组", "schedule": "5月至7月"})", &inst);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(inst.state(), "scoring");
  // A score over its weight is refused by path.
  s = Act(kDept, inst, "score",
          R"({"scores": {"D1": 6}, "findings": ["x"], "recommendations": ["y"]})", nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("payload.scores.D1: must be from 0 to the weight 5"));
  EXPECT_THAT(s.error_message(), HasSubstr("payload.scores.E3: is required (服务对象满意度)"));

  s = Act(kDept, inst, "score", testing::ReadFile(testing::SourceDir() + "/examples/department-evaluation.json"),
          &inst);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(inst.state(), "unit_feedback");
  EXPECT_EQ(Var(inst, "evaluation_score").number_value(), 89);
  EXPECT_EQ(Var(inst, "evaluation_grade").string_value(), "良");
  const auto& by = Var(inst, "evaluation").struct_value().fields().at("by_level1").struct_value().fields();
  EXPECT_EQ(by.at("决策").string_value(), "18.5");
  EXPECT_EQ(by.at("过程").string_value(), "18");
  EXPECT_EQ(by.at("产出").string_value(), "26.5");
  EXPECT_EQ(by.at("效益").string_value(), "26");

  ASSERT_TRUE(Act(kUnit, inst, "submit", R"({"agree": true, "opinion": "认可评价结论"})", &inst).ok());
  ASSERT_EQ(inst.state(), "result_approval");
  ASSERT_TRUE(Act(kFinance, inst, "approve", R"({"grade": "中"})", &inst).ok());
  ASSERT_EQ(inst.state(), "rectification");
  ASSERT_TRUE(Act(kUnit, inst, "submit", R"({"evidence": "已加快支付进度并修订绩效目标"})", &inst).ok());
  ASSERT_TRUE(Act(kDept, inst, "accept", "", &inst).ok());
  EXPECT_EQ(inst.state(), "disclosure");
}

// 项目关联 (workflows/target-filing.yaml's history block): a filing starts
// with the project's ex-ante conclusion and last year's results; 不予支持
// and an unrectified 取消 refuse it, and last year's budget action caps the
// amount (中 压减 −20 %; 差 rectified: −50 %).
TEST_F(SelfEvalTest, NextYearsFilingFollowsTheResults) {
  v1::Instance inst;

  // Ex-ante 不予支持 (59.99) on next year's new project: no filing.
  v1::Instance ex = Start("360726-2027-906017-501", "ex-ante");
  ASSERT_TRUE(Act(kUnit, ex, "submit",
                  R"({"project_name": "新建文体中心", "amount": 8000000, "basis": "县十四五规划"})", &ex)
                  .ok());
  ASSERT_TRUE(Act(kFinance, ex, "conclude",
                  ExAnte("20", "15", "15", "9.99", "0",
                         R"(, "comments": {"实施方案可行性": "无实施方案", "筹资合规性": "资金来源不明"})"),
                  &ex)
                  .ok());
  ASSERT_EQ(ex.state(), "not_supported");
  grpc::Status s = StartWith("360726-2027-906017-501", "target-filing", "", &inst);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("ex-ante assessment " + ex.id()));
  EXPECT_THAT(s.error_message(), HasSubstr("concluded 不予支持 (59.99 points"));
  // 支持 (80): the filing starts and carries the conclusion; not before the
  // assessment is finished.
  ex = Start("360726-2027-906017-502", "ex-ante");
  s = StartWith("360726-2027-906017-502", "target-filing", "", &inst);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(),
              HasSubstr("the ex-ante assessment " + ex.id() + " of 360726-2027-906017-502 is "
                        "not finished"));
  ASSERT_TRUE(Act(kUnit, ex, "submit",
                  R"({"project_name": "智慧校园", "amount": 3000000, "basis": "县教育规划"})", &ex)
                  .ok());
  ASSERT_TRUE(Act(kFinance, ex, "conclude", ExAnte("16", "16", "16", "16", "16"), &ex).ok());
  ASSERT_TRUE(StartWith("360726-2027-906017-502", "target-filing", "", &inst).ok());
  const auto& ex_ante =
      Var(inst, "project_history").struct_value().fields().at("ex_ante").struct_value().fields();
  EXPECT_EQ(ex_ante.at("conclusion").string_value(), "支持");
  EXPECT_EQ(ex_ante.at("instance_id").string_value(), ex.id());
  // A new project without an ex-ante assessment has no history, and is not
  // assessed after its budget request.
  ASSERT_TRUE(StartWith("360726-2027-906017-503", "target-filing", "", &inst).ok());
  EXPECT_EQ(inst.variables().fields().count("project_history"), 0u);
  s = StartWith("360726-2027-906017-503", "ex-ante", "", &ex);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(),
              HasSubstr("subject_ref: 360726-2027-906017-503 already requested its budget (target "
                        "filing " + inst.id() + ", in review): the ex-ante assessment comes before"));

  // Last year 中 (压减 −20 %): this year's amount is capped at 80 % of 1,200,000.
  std::string middling = testing::ReadFile(testing::SourceDir() + "/examples/self-evaluation.json");
  middling.replace(middling.find(R"("actual": "118")"), 15, R"("actual": "60")");
  middling.replace(middling.find(R"("actual": "96")"), 14, R"("actual": "50")");
  ApproveTargets("360726-2026-906017-601");
  v1::Instance evaluated = EvaluateAndApply("360726-2026-906017-601", middling);
  ASSERT_EQ(Var(evaluated, "self_eval_grade").string_value(), "中");
  EXPECT_EQ(evaluated.state(), "rectification");  // 中 and 差 rectify
  s = StartWith("360726-2027-906017-601", "target-filing",
                R"({"previous_subject_ref": "360726-2026-906017-601"})", &inst);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const auto& prev = Var(inst, "project_history").struct_value().fields().at("previous").struct_value().fields();
  EXPECT_EQ(prev.at("amount").string_value(), "1200000");
  EXPECT_EQ(prev.at("effective_adjustment").number_value(), -20);
  EXPECT_EQ(prev.at("amount_cap").string_value(), "960000");
  EXPECT_EQ(prev.at("result_application").struct_value().fields().at("action").string_value(), "压减");
  ASSERT_EQ(prev.at("rectifications").list_value().values_size(), 1);
  EXPECT_EQ(prev.at("rectifications").list_value().values(0).struct_value().fields().at("result").string_value(),
            "未完成");
  s = Act(kUnit, inst, "submit", TargetFormAsking("960000.01"), nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              HasSubstr("payload.amount: 960000.01 is over 960000, last year's 1200000 under last "
                        "year's budget action 压减 (-20%, grade 中 in instance " + evaluated.id()));
  s = Act(kUnit, inst, "submit", TargetFormAsking("960000"), &inst);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(inst.state(), "authority_review");

  // Last year 差 (取消): refused until the rectification is accepted, then −50 %.
  std::string poor = testing::ReadFile(testing::SourceDir() + "/examples/self-evaluation.json");
  poor.replace(poor.find(R"("actual": "118")"), 15, R"("actual": "30")");
  poor.replace(poor.find(R"("actual": "96")"), 14, R"("actual": "40")");
  poor.replace(poor.find(R"("actual": "92")"), 14, R"("actual": "40")");
  poor.replace(poor.find(R"("executed": "1,080,000.00")"), 26, R"("executed": "600,000.00")");
  ApproveTargets("360726-2026-906017-602");
  evaluated = EvaluateAndApply("360726-2026-906017-602", poor);
  ASSERT_EQ(Var(evaluated, "self_eval_grade").string_value(), "差");
  ASSERT_EQ(evaluated.state(), "rectification");
  const std::string continuing = R"({"previous_subject_ref": "360726-2026-906017-602"})";
  s = StartWith("360726-2027-906017-602", "target-filing", continuing, &inst);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("variables.previous_subject_ref: the previous year's "
                                           "result application (instance " + evaluated.id() +
                                           ", grade 差) is 取消 (-100%)"));
  ASSERT_TRUE(Act(kUnit, evaluated, "submit", R"({"evidence": "已整改：补齐验收资料"})", &evaluated).ok());
  ASSERT_TRUE(Act(kFinance, evaluated, "accept", "", &evaluated).ok());
  EXPECT_EQ(evaluated.state(), "done");
  s = StartWith("360726-2027-906017-602", "target-filing", continuing, &inst);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const auto& rectified =
      Var(inst, "project_history").struct_value().fields().at("previous").struct_value().fields();
  EXPECT_EQ(rectified.at("effective_adjustment").number_value(), -50);
  EXPECT_EQ(rectified.at("amount_cap").string_value(), "600000");
  EXPECT_EQ(rectified.at("rectified_by").string_value(), evaluated.id());

  // Bad links are named.
  s = StartWith("360726-2027-906017-603", "target-filing", R"({"previous_subject_ref": "nope"})", &inst);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("variables.previous_subject_ref: no instance in your "
                                           "org scope has the subject nope"));
  // Another department's project is not the unit's to link (and its
  // existence is not revealed).
  {
    v1::StartInstanceRequest req;
    req.set_definition_key("ex-ante");
    req.set_subject_ref("360726-2026-901001-700");
    req.set_org("901001");
    v1::StartInstanceResponse resp;
    s = instances_->Start(Ctx(Who{"sun", "unit_filer", "901001"}).get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  s = StartWith("360726-2027-906017-603", "target-filing",
                R"({"previous_subject_ref": "360726-2026-901001-700"})", &inst);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("no instance in your org scope has the subject "
                                           "360726-2026-901001-700"));
  s = StartWith("360726-2027-906017-603", "target-filing",
                R"({"previous_subject_ref": "360726-2027-906017-603"})", &inst);
  EXPECT_THAT(s.error_message(), HasSubstr("names this instance's own subject"));
  s = StartWith("360726-2027-906017-603", "target-filing", R"({"project_history": {}})", &inst);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("variables.project_history: bpmd fills it"));
}

// The region's "major project" threshold (history.ex_ante_required_from):
// a new project asking that much or more needs its ex-ante assessment first;
// a continuing one does not, unless ex_ante_continuing says so.
TEST_F(SelfEvalTest, AMajorNewProjectNeedsItsExAnteFirst) {
  std::string yaml = testing::ReadFile(testing::SourceDir() + "/workflows/target-filing.yaml");
  ASSERT_NE(yaml.find("key: target-filing\n"), std::string::npos);
  yaml.replace(yaml.find("key: target-filing\n"), 19, "key: target-filing-major\n");
  const std::string block = "        block_on_ex_ante: true\n";
  ASSERT_NE(yaml.find(block), std::string::npos);
  yaml.replace(yaml.find(block), block.size(), block + "        ex_ante_required_from: 5000000\n");
  auto definitions = v1::DefinitionService::NewStub(bpmd_->channel());
  v1::DeployDefinitionRequest dreq;
  dreq.set_yaml(yaml);
  dreq.set_source_name("target-filing-major.yaml");
  v1::DeployDefinitionResponse dresp;
  grpc::Status s =
      definitions->Deploy(testing::Context("admin", "workflow_admin", "").get(), dreq, &dresp);
  ASSERT_TRUE(s.ok()) << s.error_message();

  v1::Instance inst;
  // Below the threshold: no assessment needed.
  ASSERT_TRUE(StartWith("360726-2027-906017-701", "target-filing-major", "", &inst).ok());
  s = Act(kUnit, inst, "submit", TargetFormAsking("4999999.99"), &inst);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // At the threshold without one: refused, naming the field and the rule.
  ASSERT_TRUE(StartWith("360726-2027-906017-702", "target-filing-major", "", &inst).ok());
  s = Act(kUnit, inst, "submit", TargetFormAsking("5000000"), nullptr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              HasSubstr("payload.amount: 5000000 is at or above 5000000: a new project of this "
                        "size needs a concluded ex-ante assessment (事前绩效评估)"));
  // With the assessment concluded 支持 before the filing started: accepted.
  v1::Instance ex = Start("360726-2027-906017-703", "ex-ante");
  ASSERT_TRUE(Act(kUnit, ex, "submit",
                  R"({"project_name": "县城供水管网改造", "amount": 8000000, "basis": "县十四五规划"})", &ex)
                  .ok());
  ASSERT_TRUE(Act(kFinance, ex, "conclude", ExAnte("18", "16", "16", "16", "16"), &ex).ok());
  ASSERT_EQ(ex.state(), "supported");
  ASSERT_TRUE(StartWith("360726-2027-906017-703", "target-filing-major", "", &inst).ok());
  s = Act(kUnit, inst, "submit", TargetFormAsking("8000000"), &inst);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // A continuing project is not held to it (ex_ante_continuing: false).
  ASSERT_TRUE(StartWith("360726-2028-906017-701", "target-filing-major",
                        R"({"previous_subject_ref": "360726-2027-906017-701"})", &inst)
                  .ok());
  s = Act(kUnit, inst, "submit", TargetFormAsking("6000000"), &inst);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // The setting is checked at deploy.
  const size_t at = yaml.find("ex_ante_required_from: 5000000");
  yaml.replace(at, 30, "ex_ante_required_from: -1");
  const std::string line = std::to_string(std::count(yaml.begin(), yaml.begin() + at, '\n') + 1);
  const std::string column = std::to_string(at - yaml.rfind('\n', at) + 23);  // at the value
  dreq.set_yaml(yaml);
  s = definitions->Deploy(testing::Context("admin", "workflow_admin", "").get(), dreq, &dresp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              HasSubstr("target-filing-major.yaml:" + line + ":" + column +
                        ": state 'draft': stage 'department_submit' config "
                        "'history.ex_ante_required_from' rejected: must be an amount in yuan, 0 "
                        "or more"));
}

}  // namespace
}  // namespace bpm
