// 绩效管理报表 end to end (SQLite, or MariaDB as report_mysql): filings,
// monitoring rounds, a self-evaluation and a rectification driven through the
// bundled workflows over gRPC, then ReportService.Get counts them per
// department exactly, within the caller's scope only, and bpmctl report
// renders them as CSV, XLSX and SVG.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "bpm/v1/bpm.grpc.pb.h"
#include "bpm/v1/perf.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/support/bpmctl_runner.h"
#include "tests/support/test_env.h"

namespace bpm {
namespace {

namespace v1 = ::bpm::v1;
using ::testing::HasSubstr;
using testing::Who;

const Who kUnit{"zhang", "unit_filer", "906017"};
const Who kDept{"li", "authority_reviewer", "906"};
const Who kFinance{"wang", "finance_reviewer", "czj-jkw"};
const Who kOtherUnit{"zhou", "unit_filer", "904002"};
const Who kPerformance{"zhao", "performance_section", "czj-jx"};

google::protobuf::Struct Json(const std::string& text) {
  google::protobuf::Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &s).ok()) << text;
  return s;
}

std::string Monitoring(int month, const std::string& executed) {
  return "{\"month\": " + std::to_string(month) + R"(, "budget": "1,000,000", "executed": ")" +
         executed + R"(", "indicators": [
      {"name": "养护里程", "operator": "≥", "target": 120, "actual": )" +
         std::to_string(10 * month) + R"(},
      {"name": "群众满意度", "operator": "定性", "grade": "达成目标", "likelihood": "确定能"}]})";
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bpmd_ = std::make_unique<testing::BpmdProcess>(
        testing::FreshStoreUrl(dir_.path(), "report"),
        std::vector<std::string>{"--calendars=" + testing::SourceDir() + "/deploy/calendars"});
    ASSERT_TRUE(bpmd_->Start());
    testing::ImportCountyOrgs(bpmd_->channel());
    instances_ = v1::InstanceService::NewStub(bpmd_->channel());
    tasks_ = v1::TaskService::NewStub(bpmd_->channel());
    reports_ = v1::ReportService::NewStub(bpmd_->channel());
  }

  v1::Instance Start(const Who& who, const std::string& key, const std::string& subject) {
    v1::StartInstanceRequest req;
    req.set_definition_key(key);
    req.set_subject_ref(subject);
    req.set_org(who.org);
    v1::StartInstanceResponse resp;
    grpc::Status s = instances_->Start(Ctx(who).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.instance();
  }

  void Act(const Who& who, v1::Instance* inst, const std::string& action,
           const std::string& payload = "") {
    ASSERT_EQ(inst->open_tasks_size(), 1) << inst->DebugString();
    v1::ActRequest req;
    req.set_task_id(inst->open_tasks(0).id());
    req.set_action(action);
    if (!payload.empty()) *req.mutable_payload() = Json(payload);
    v1::ActResponse resp;
    grpc::Status s = tasks_->Act(Ctx(who).get(), req, &resp);
    ASSERT_TRUE(s.ok()) << action << ": " << s.error_message();
    *inst = resp.instance();
  }

  v1::GetReportResponse Report(const Who& who, int year = 0) {
    v1::GetReportRequest req;
    req.set_year(year);
    v1::GetReportResponse resp;
    grpc::Status s = reports_->Get(Ctx(who).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  // The year's work of 教育局's school and one filing of 交通运输局.
  void RunTheYear() {
    // Three filings: one graded 优, one graded 中 and rectified, one not submitted.
    v1::Instance a = Start(kUnit, "target-filing", "2026-906017-001");
    Act(kUnit, &a, "submit", testing::kSoundTargetForm);
    Act(kDept, &a, "approve");
    Act(kFinance, &a, "approve", R"({"grade": "优"})");
    v1::Instance b = Start(kUnit, "target-filing", "2026-906017-002");
    Act(kUnit, &b, "submit", testing::kSoundTargetForm);
    Act(kDept, &b, "approve");
    Act(kFinance, &b, "approve", R"({"grade": "中"})");
    ASSERT_EQ(b.state(), "rectification");
    Act(kUnit, &b, "submit", R"({"evidence": "成本指标已下调"})");
    Act(kFinance, &b, "accept");
    Start(kUnit, "target-filing", "2026-906017-003");
    v1::Instance c = Start(kOtherUnit, "target-filing", "2026-904002-001");
    Act(kOtherUnit, &c, "submit", testing::kSoundTargetForm);

    // Two monitoring rounds: July green, yellow and red; October one red
    // (by budget execution; the indicator keeps its linear share, 10 km a month).
    const std::pair<int, const char*> reports[] = {
        {7, "700000"}, {7, "350000"}, {7, "100000"}, {10, "100000"}};
    int n = 0;
    for (const auto& [month, executed] : reports) {
      v1::Instance m = Start(kUnit, "performance-monitoring", "2026-906017-M" + std::to_string(++n));
      Act(kUnit, &m, "submit", Monitoring(month, executed));
      // The yellow one's warning is explained (on time); the reds are not yet.
      if (n == 2) Act(kUnit, &m, "explain", R"({"reason_category": "经费保障", "measures": "加快支付"})");
    }

    // A self-evaluation: 95.5, 优.
    v1::Instance s = Start(kUnit, "self-evaluation", "2026-906017-001");
    Act(kUnit, &s, "submit",
        testing::ReadFile(testing::SourceDir() + "/examples/self-evaluation.json"));
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(const Who& who) {
    return testing::Context(who.user, who.roles, who.org);
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::BpmdProcess> bpmd_;
  std::unique_ptr<v1::InstanceService::Stub> instances_;
  std::unique_ptr<v1::TaskService::Stub> tasks_;
  std::unique_ptr<v1::ReportService::Stub> reports_;
};

TEST_F(ReportTest, CountsEachDepartmentExactly) {
  ASSERT_NO_FATAL_FAILURE(RunTheYear());
  v1::GetReportResponse r = Report(kPerformance);
  EXPECT_EQ(r.instances(), 9);  // 4 filings, 4 monitoring reports, 1 self-evaluation
  ASSERT_EQ(r.rows_size(), 2) << r.DebugString();
  const v1::ReportRow& roads = r.rows(0);  // 904 sorts first
  EXPECT_EQ(roads.department(), "904");
  EXPECT_EQ(roads.department_name(), "安远县交通运输局");
  EXPECT_EQ(roads.region(), "360726000");
  EXPECT_EQ(roads.targets_started(), 1);
  EXPECT_EQ(roads.targets_filed(), 1);
  EXPECT_EQ(roads.targets_reviewed(), 0);

  const v1::ReportRow& edu = r.rows(1);
  EXPECT_EQ(edu.department(), "906");
  EXPECT_EQ(edu.targets_started(), 3);
  EXPECT_EQ(edu.targets_filed(), 2);
  EXPECT_EQ(edu.targets_reviewed(), 2);
  EXPECT_EQ(edu.target_grades().you(), 1);
  EXPECT_EQ(edu.target_grades().zhong(), 1);
  ASSERT_EQ(edu.rounds_size(), 2);
  EXPECT_EQ(edu.rounds(0).month(), 7);
  EXPECT_EQ(edu.rounds(0).monitored(), 3);
  EXPECT_EQ(edu.rounds(0).in_scope(), 3);
  EXPECT_EQ(edu.rounds(0).red(), 1);
  EXPECT_EQ(edu.rounds(0).yellow(), 1);
  EXPECT_EQ(edu.rounds(0).budget_red(), 1);
  EXPECT_EQ(edu.rounds(0).budget_yellow(), 1);
  EXPECT_EQ(edu.rounds(0).warnings(), 2);
  EXPECT_EQ(edu.rounds(0).warnings_explained(), 1);
  EXPECT_EQ(edu.rounds(0).warnings_late(), 0);
  EXPECT_EQ(edu.rounds(1).month(), 10);
  EXPECT_EQ(edu.rounds(1).red(), 1);
  EXPECT_EQ(edu.rounds(1).warnings(), 1);
  EXPECT_EQ(edu.rounds(1).warnings_explained(), 0);
  EXPECT_EQ(edu.self_evaluations(), 1);
  EXPECT_EQ(edu.self_eval_grades().you(), 1);
  EXPECT_EQ(edu.rectifications(), 1);
  EXPECT_EQ(edu.rectified(), 1);
  EXPECT_EQ(edu.rectified_on_time(), 1);
  EXPECT_EQ(edu.rectifications_overdue(), 0);

  ASSERT_EQ(r.totals_size(), 1);
  EXPECT_EQ(r.totals(0).targets_started(), 4);
  EXPECT_EQ(r.totals(0).targets_filed(), 3);
  EXPECT_EQ(r.totals(0).rounds(0).red(), 1);
  EXPECT_EQ(r.totals(0).department(), "");

  // By year: this year has everything, another nothing.
  EXPECT_EQ(Report(kPerformance, edu.year()).instances(), 9);
  EXPECT_EQ(Report(kPerformance, 2001).instances(), 0);
  v1::GetReportRequest bad;
  bad.set_year(1999);
  v1::GetReportResponse ignored;
  grpc::Status s = reports_->Get(Ctx(kPerformance).get(), bad, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("year: 1999"));
}

TEST_F(ReportTest, AnOutlandishFiscalYearVariableFallsBackToTheStartYear) {
  // Variables given at start are the starter's: 1e300 must not reach an int.
  v1::StartInstanceRequest req;
  req.set_definition_key("target-filing");
  req.set_subject_ref("2026-906017-099");
  req.set_org(kUnit.org);
  (*req.mutable_variables()->mutable_fields())["fiscal_year"].set_number_value(1e300);
  v1::StartInstanceResponse resp;
  grpc::Status s = instances_->Start(Ctx(kUnit).get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::GetReportResponse r = Report(kPerformance);
  ASSERT_EQ(r.rows_size(), 1);
  EXPECT_EQ(r.rows(0).targets_started(), 1);
  EXPECT_GE(r.rows(0).year(), 2026);
}

TEST_F(ReportTest, CountsOnlyTheCallersScope) {
  ASSERT_NO_FATAL_FAILURE(RunTheYear());
  v1::GetReportResponse r = Report(kOtherUnit);
  ASSERT_EQ(r.rows_size(), 1);
  EXPECT_EQ(r.rows(0).department(), "904");
  EXPECT_EQ(r.instances(), 1);
  // 教科文股 owns 教育局 only.
  r = Report(kFinance);
  ASSERT_EQ(r.rows_size(), 1);
  EXPECT_EQ(r.rows(0).department(), "906");
}

TEST_F(ReportTest, DisclosuresAreListedRedactedAndExported) {
  ASSERT_NO_FATAL_FAILURE(RunTheYear());
  // Publish the 优 filing's targets, withholding the amount.
  v1::ListInstancesRequest list;
  list.set_definition_key("target-filing");
  list.set_state("disclosure");
  v1::ListInstancesResponse found;
  ASSERT_TRUE(instances_->List(Ctx(kPerformance).get(), list, &found).ok());
  ASSERT_EQ(found.instances_size(), 1);  // the 优 one (the rectified one is back in finance review)
  v1::GetInstanceRequest get;
  get.set_id(found.instances(0).id());
  v1::GetInstanceResponse got;
  ASSERT_TRUE(instances_->Get(Ctx(kPerformance).get(), get, &got).ok());
  v1::Instance inst = got.instance();
  ASSERT_EQ(inst.open_tasks_size(), 1);
  EXPECT_GT(inst.open_tasks(0).due_unix_ms(), 0);  // due_days: 20
  Act(kPerformance, &inst, "publish",
      R"({"redactions": ["form.amount"], "redaction_note": "预算数待批复后公开"})");
  ASSERT_EQ(inst.state(), "done");

  auto as = [&](const Who& who) {
    v1::ListDisclosuresResponse out;
    grpc::Status s = reports_->ListDisclosures(Ctx(who).get(), v1::ListDisclosuresRequest(), &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  };
  const Who kPublic{"visitor", "public", ""};
  v1::ListDisclosuresResponse pub = as(kPublic);
  ASSERT_EQ(pub.documents_size(), 1);
  const std::string& snapshot = pub.documents(0).content();
  EXPECT_EQ(snapshot.find("1200000"), std::string::npos);  // the amount is withheld
  EXPECT_NE(snapshot.find(R"("redacted":["form.amount"])"), std::string::npos);
  EXPECT_NE(snapshot.find(R"("on_time":true)"), std::string::npos);
  EXPECT_NE(snapshot.find("乡村道路养护"), std::string::npos);
  EXPECT_EQ(as(kOtherUnit).documents_size(), 0);  // another department's scope
  EXPECT_EQ(as(kPerformance).documents_size(), 1);

  const testing::EnvVars env = {{"BPM_SERVER", bpmd_->address()},
                                 {"BPM_USER", "visitor"},
                                 {"BPM_ROLES", "public"}};
  testing::Result csv = testing::RunBpmctl({"disclosures", "--format", "csv"}, env);
  ASSERT_EQ(csv.exit, 0) << testing::Dump(csv);
  EXPECT_THAT(csv.out, HasSubstr("公开时间,工作流,项目/事项编码,单位,渠道,发布人,审核人,按期,隐去项,sha256,文档ID"));
  EXPECT_THAT(csv.out, HasSubstr(",target-filing,2026-906017-001,906017,portal,zhao,,是,form.amount," +
                                     pub.documents(0).sha256() + "," + pub.documents(0).id()));
  testing::Result html = testing::RunBpmctl({"disclosures", "--format", "html"}, env);
  ASSERT_EQ(html.exit, 0) << testing::Dump(html);
  EXPECT_THAT(html.out, HasSubstr("<!DOCTYPE html>"));
  EXPECT_THAT(html.out, HasSubstr("乡村道路养护"));
  EXPECT_THAT(html.out, HasSubstr(pub.documents(0).sha256()));
  testing::Result json = testing::RunBpmctl({"disclosures", "--format", "json"}, env);
  ASSERT_EQ(json.exit, 0) << testing::Dump(json);
  google::protobuf::ListValue parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.out, &parsed).ok()) << json.out;
  ASSERT_EQ(parsed.values_size(), 1);
  EXPECT_EQ(parsed.values(0).struct_value().fields().at("sha256").string_value(),
            pub.documents(0).sha256());
}

TEST_F(ReportTest, ScorecardComputesRanksAndWaitsForManualItems) {
  ASSERT_NO_FATAL_FAILURE(RunTheYear());
  const int year = Report(kPerformance).rows(0).year();
  auto assess = [&](const std::string& dept) {
    v1::StartInstanceRequest req;
    req.set_definition_key("performance-assessment");
    req.set_subject_ref("考核-" + dept);
    req.set_org(dept);
    (*req.mutable_variables()->mutable_fields())["fiscal_year"].set_number_value(year);
    v1::StartInstanceResponse resp;
    grpc::Status s = instances_->Start(Ctx(kPerformance).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.instance();
  };
  v1::Instance edu = assess("906");
  assess("904");
  // Manual items must all be given, each within its points.
  v1::ActRequest act;
  act.set_task_id(edu.open_tasks(0).id());
  act.set_action("score");
  *act.mutable_payload() = Json(R"({"manual": {"org": 5, "ex_ante": 11}})");
  v1::ActResponse ignored;
  grpc::Status s = tasks_->Act(Ctx(kPerformance).get(), act, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("payload.manual.ex_ante: 11 is not from 0 to 10"));
  EXPECT_THAT(s.error_message(), HasSubstr("payload.manual.target_quality: is required"));
  Act(kPerformance, &edu, "score",
      R"({"manual": {"org": 5, "ex_ante": 8, "target_quality": 7, "key_eval": 9, "linkage": 4,
                     "disclosure": 9}})");
  ASSERT_EQ(edu.state(), "done");

  v1::GetScorecardRequest req;
  req.set_year(year);
  v1::GetScorecardResponse card;
  s = reports_->Scorecard(Ctx(kPerformance).get(), req, &card);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(card.rows_size(), 2);
  const v1::ScorecardRow& first = card.rows(0);
  EXPECT_EQ(first.department(), "906");
  EXPECT_EQ(first.rank(), 1);
  EXPECT_TRUE(first.complete());
  // Computed: targets 2/3 × 12 = 8; warnings 2 → 1, 1/2 × 15 = 7.5; self-evaluation
  // 1/2 × 12 = 6; no re-check: 8; rectification 1/1 × 6 = 6. Manual: 42.
  std::map<std::string, std::string> points;
  for (const auto& item : first.items()) points[item.id()] = item.points();
  EXPECT_EQ(points["target_review"], "8");
  EXPECT_EQ(points["monitoring"], "7.5");
  EXPECT_EQ(points["self_eval"], "6");
  EXPECT_EQ(points["recheck"], "8");
  EXPECT_EQ(points["rectification"], "6");
  EXPECT_EQ(points["disclosure"], "9");
  EXPECT_EQ(first.total(), "77.5");
  EXPECT_EQ(first.grade(), "合格");
  EXPECT_EQ(first.items(2).basis(), "2/3 × 12");
  const v1::ScorecardRow& roads = card.rows(1);
  EXPECT_EQ(roads.department(), "904");
  EXPECT_FALSE(roads.complete());
  EXPECT_EQ(roads.rank(), 0);

  // Without a year: INVALID_ARGUMENT.
  s = reports_->Scorecard(Ctx(kPerformance).get(), v1::GetScorecardRequest(), &card);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // bpmctl prints the ranking and, as CSV, every item.
  const testing::EnvVars env = {{"BPM_SERVER", bpmd_->address()},
                                 {"BPM_USER", kPerformance.user},
                                 {"BPM_ROLES", kPerformance.roles},
                                 {"BPM_ORG", kPerformance.org}};
  testing::Result csv =
      testing::RunBpmctl({"scorecard", "--year", std::to_string(year), "--format", "csv"}, env);
  ASSERT_EQ(csv.exit, 0) << testing::Dump(csv);
  EXPECT_THAT(csv.out, HasSubstr("名次,部门编码,部门,总分,等级,组织与制度（5）,"));
  EXPECT_THAT(csv.out, HasSubstr("1,906,安远县教育局,77.5,合格,5,8,8,7,7.5,6,8,9,6,4,9"));
  EXPECT_THAT(csv.out, HasSubstr("未完成,904,"));
}

TEST_F(ReportTest, BpmctlWritesCsvXlsxAndSvg) {
  ASSERT_NO_FATAL_FAILURE(RunTheYear());
  const testing::EnvVars env = {{"BPM_SERVER", bpmd_->address()},
                                 {"BPM_USER", kPerformance.user},
                                 {"BPM_ROLES", kPerformance.roles},
                                 {"BPM_ORG", kPerformance.org}};
  auto ctl = [&](const std::vector<std::string>& args) { return testing::RunBpmctl(args, env); };
  testing::Result csv = ctl({"report", "--format", "csv"});
  ASSERT_EQ(csv.exit, 0) << csv.err;
  EXPECT_THAT(csv.out, HasSubstr("年度,财政区划,部门编码,部门,"));
  EXPECT_THAT(csv.out, HasSubstr("7月红灯,7月黄灯,7月执行红灯,7月执行黄灯,7月预警,7月预警已说明,"
                                 "7月预警逾期,10月监控项目"));
  // Targets 3/2/2 (66.7 %), 优 1 中 1, none adjusted; July 3 monitored, 3 in
  // scope, 1 red, 1 yellow, budget-execution red 1, yellow 1, 2 warnings, 1
  // explained, none late; October 1/1/1/0, budget red 1, 1 warning; warnings
  // down 50.0 %; one self-evaluation, 优.
  EXPECT_THAT(csv.out, HasSubstr(",906,安远县教育局,3,2,2,66.7,1,0,1,0,0,3,3,1,1,1,1,2,1,0,1,1,1,0,1,0,"
                                 "1,0,0,50.0,1,1,0,0,0,"));
  EXPECT_THAT(csv.out, HasSubstr(",合计,4,3,2,50.0,"));

  const std::string xlsx = dir_.path() + "/report.xlsx";
  testing::Result x = ctl({"report", "--format", "xlsx", "--out", xlsx});
  ASSERT_EQ(x.exit, 0) << x.err;
  EXPECT_EQ(testing::ReadFile(xlsx).substr(0, 2), "PK");  // a zip, as .xlsx is
  testing::Result no_out = ctl({"report", "--format", "xlsx"});
  EXPECT_EQ(no_out.exit, 2);
  EXPECT_THAT(no_out.err, HasSubstr("--format xlsx needs --out"));

  testing::Result svg = ctl({"report", "--format", "svg"});
  ASSERT_EQ(svg.exit, 0) << svg.err;
  EXPECT_THAT(svg.out, HasSubstr("<svg xmlns="));
  EXPECT_THAT(svg.out, HasSubstr("<title>7月 红灯 1</title>"));
  EXPECT_THAT(svg.out, HasSubstr("<title>绩效自评 优 1</title>"));

  testing::Result table = ctl({"report"});
  ASSERT_EQ(table.exit, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("7月:1/1 10月:1/0"));
}

}  // namespace
}  // namespace bpm
