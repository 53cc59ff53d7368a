// county_sim — one county's budget-performance year run through a real bpmd
// over gRPC, then the year's report printed beside the seed figures.
//
// The generator (DOMAIN.md §11) makes a county: --departments departments
// (主管部门, default 90) with 2–5 budget units each, 6–18 projects per unit
// (≈ 3,850 at the default size) with log-normal budgets (median 150,000
// yuan, about 20 % at 500,000 and more), plus each department's overall
// (部门整体) target. The driver then runs the year through the bundled
// workflows, --clients projects at a time:
//   1. targets (target-filing; department-target for 部门整体): the unit
//      files a six-to-ten-row form that passes the quality check, the
//      department approves, finance grades it (优 35 %, 良 45 %, 中 17 %,
//      差 3 %); 中 and 差 go to rectification (evidence, accepted) and are
//      graded again; the performance section publishes; then every fiftieth
//      project's budget is cut by a fifth and its targets adjusted
//      (TargetService.Adjust with budget_changed, target-adjustment);
//   2. monitoring (performance-monitoring): 64.5 % of the projects report
//      in July; execution of those at 500,000 and more is bimodal (38 %
//      under 35 %, as DOMAIN.md §11 describes); the engine lights them; every
//      red or yellow project explains itself (with --clock-file one in eight
//      after the 10 working days: late) and finance approves the
//      explanation; those projects report again in October (the follow-up
//      round), most of them caught up;
//   3. self-evaluation: 36 % of the projects score themselves (mean ≈ 94),
//      the department approves (or, one in twenty, scores again with a
//      reason: 部门复核评分), finance re-checks the projects the published
//      seed draws (lowering some by 0–8 points) and applies the result; 中
//      and 差 rectify (accepted);
//   4. key evaluations (key-evaluation): --key-evaluations of the largest
//      projects are engaged to three example agencies (examples/agency_client
//      as subprocesses, scoring 93 %, 84 % and 72 %); finance approves the
//      plan, the unit gives feedback, finance approves the result, 中 and 差
//      are rectified, the result is published.
//      One department in fifteen evaluates its largest unit project itself
//      (部门评价, department-evaluation: the evaluation stage scores the
//      决策/过程/产出/效益 sheet, each indicator at 70–100 % of its weight).
//   5. ex-ante (ex-ante): next year's new projects, one per 3–4 departments;
//      finance scores them (75 % 支持, 15 % 调整完善后支持: revised by the
//      unit and then supported, 10 % 不予支持).
//   6. next year's filings (target-filing, fiscal_year + 1): every project
//      graded 中 or 差 and one in twenty of the other evaluated ones continue
//      (previous_subject_ref: bpmd caps the amount under last year's budget
//      action), and the ex-ante projects are filed (不予支持 is refused);
//   7. 考核 (performance-assessment): every department's sheet, the manual
//      items entered by the performance section, the rest computed by bpmd
//      from the year's figures, ranked.
// Everything the engine decides (lights, scores, grades, draws) is the
// engine's: the simulation only supplies what people would enter. Progress
// goes to stderr once a second; the report (ReportService) to stdout, with
// --csv/--xlsx writing every column.
//
// With --clock-file (the file a test bpmd reads with --test-clock-file) the
// simulation moves bpmd's clock through the year: targets in January, their
// rectification by 28 January or, for one unit in seven, late on 25 February
// (overdue: the deadline is 30 days), adjustments in June, monitoring on 10
// July (warnings answered on 20 July or, one in eight, late on 3 August) and
// 12 October, self-evaluation and key evaluations in December. Without it
// everything happens now, and every rectification and warning is on time.
//
// Usage: county_sim [--server HOST:PORT] [--departments N] [--seed S]
//                   [--clients N] [--key-evaluations N] [--agency-client PATH]
//                   [--clock-file FILE] [--csv FILE] [--xlsx FILE]
// bpmd must run the bundled workflows and plugins with an empty org model for
// region 990101000 (the simulation imports it). Exit codes: 0 done, 1 a call
// failed (printed with its gRPC status), 2 usage.
#include <grpcpp/grpcpp.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "bpm/v1/agency.grpc.pb.h"
#include "bpm/v1/bpm.grpc.pb.h"
#include "bpm/v1/org.grpc.pb.h"
#include "bpm/v1/perf.grpc.pb.h"
#include "core/cli/report_output.h"
#include "google/protobuf/util/json_util.h"

namespace {

namespace v1 = ::bpm::v1;
using Clock = std::chrono::steady_clock;

constexpr const char* kRegion = "990101000";  // 模拟省模拟市模拟县
constexpr const char* kBureau = "sim-czj";
constexpr const char* kPerfSection = "sim-czj-jx";
constexpr int kSections = 6;

struct Options {
  std::string server = "127.0.0.1:7411";
  int departments = 90;
  uint64_t seed = 2026;
  int clients = 8;
  int key_evaluations = 20;
  std::string agency_client;
  std::string csv, xlsx;
  std::string clock_file;  // bpmd's --test-clock-file: move its clock through the year
};

struct Project {
  std::string code;     // subject_ref
  std::string unit;     // owning org
  std::string section;  // finance section owning its department
  int64_t budget = 0;   // yuan
  bool overall = false;  // 部门整体 target of a department
  bool monitored = false;
  bool self_evaluated = false;
  double july_execution = 0;  // share of the budget spent by July
};

struct County {
  std::vector<std::string> departments;
  std::map<std::string, std::string> section_of;  // department → section
  std::vector<std::string> units;
  std::vector<Project> projects;
};

County Generate(const Options& o, std::mt19937_64& rng) {
  County c;
  std::uniform_int_distribution<int> units_per(2, 5), projects_per(6, 18);
  std::lognormal_distribution<double> budget(std::log(150000.0), 1.43);
  std::uniform_real_distribution<double> u01(0, 1);
  for (int d = 0; d < o.departments; ++d) {
    const std::string dept = std::to_string(101 + d);
    c.departments.push_back(dept);
    c.section_of[dept] = "sim-czj-s" + std::to_string(d % kSections + 1);
    Project overall;
    overall.code = "2026-" + dept + "-ZT";
    overall.unit = dept;
    overall.section = c.section_of[dept];
    overall.overall = true;
    c.projects.push_back(overall);
    const int n_units = units_per(rng);
    for (int u = 1; u <= n_units; ++u) {
      char unit[16];
      std::snprintf(unit, sizeof unit, "%s%03d", dept.c_str(), u);
      c.units.push_back(unit);
      const int n = projects_per(rng);
      for (int p = 1; p <= n; ++p) {
        Project pr;
        char code[40];
        std::snprintf(code, sizeof code, "2026-%s-%03d", unit, p);
        pr.code = code;
        pr.unit = unit;
        pr.section = c.section_of[dept];
        pr.budget = std::clamp<int64_t>(std::llround(budget(rng) / 1000) * 1000, 10000, 200000000);
        pr.monitored = u01(rng) < 0.645;
        pr.self_evaluated = u01(rng) < 0.36;
        const double x = u01(rng);
        pr.july_execution = x < 0.38    ? 0.35 * u01(rng)
                            : x < 0.455 ? 0.35 + 0.115 * u01(rng)
                                        : 0.47 + 0.48 * u01(rng);
        c.projects.push_back(pr);
      }
    }
  }
  return c;
}

std::string OrgYaml(const County& c) {
  std::ostringstream y;
  y << "regions:\n  - {code: \"990000000\", name: 模拟省, level: province}\n"
    << "  - {code: \"990100000\", name: 模拟市, level: city, parent: \"990000000\"}\n"
    << "  - {code: \"" << kRegion << "\", name: 模拟县, level: county, parent: \"990100000\"}\n";
  y << "orgs:\n  - {code: " << kBureau << ", name: 模拟县财政局, kind: finance_bureau, region: \""
    << kRegion << "\", valid_from: 2026-01-01}\n";
  for (int s = 1; s <= kSections; ++s) {
    y << "  - {code: sim-czj-s" << s << ", name: 业务" << s << "股, kind: finance_section, "
      << "section_kind: business, parent: " << kBureau << ", valid_from: 2026-01-01}\n";
  }
  y << "  - {code: " << kPerfSection << ", name: 绩效管理股, kind: finance_section, "
    << "section_kind: performance, parent: " << kBureau << ", valid_from: 2026-01-01}\n";
  for (const std::string& d : c.departments) {
    y << "  - {code: \"" << d << "\", name: 模拟县第" << d << "部门, kind: department, region: \""
      << kRegion << "\", owner_section: " << c.section_of.at(d) << ", valid_from: 2026-01-01}\n";
  }
  for (const std::string& u : c.units) {
    y << "  - {code: \"" << u << "\", name: 模拟单位" << u << ", kind: unit, parent: \""
      << u.substr(0, 3) << "\", valid_from: 2026-01-01}\n";
  }
  // Each department's reviewer, who signs off its overall (部门整体) targets.
  y << "users:\n";
  for (const std::string& d : c.departments) {
    y << "  - {id: reviewer-" << d << ", name: 部门审核" << d << ", roles: [{role: dept_reviewer, org: \""
      << d << "\", from: 2026-01-01}]}\n";
  }
  return y.str();
}

// A target form that passes the quality check: the four output categories,
// one or two benefit rows, satisfaction; weights adding up to 100.
std::string TargetForm(const Project& p, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> count(10, 500), extra(0, 3);
  const int n = 50 + count(rng) % 50;
  std::ostringstream f;
  f << R"({"project_name": "模拟项目)" << p.code << R"(", "amount": )" << p.budget
    << R"(, "annual_goal": "完成)" << p.code << "项目建设任务" << n
    << R"(项，验收合格率达到95%以上，服务对象满意度不低于90%", "indicators": [)"
    << R"({"level1": "产出指标", "level2": "数量指标", "name": "完成建设任务)" << p.code
    << R"(", "operator": "≥", "target": ")" << n << R"(", "unit": "项", "weight": 20},)"
    << R"({"level1": "产出指标", "level2": "质量指标", "name": "验收合格率", "operator": "≥", "target": "95", "unit": "%", "weight": 15},)"
    << R"({"level1": "产出指标", "level2": "时效指标", "name": "完成时间", "operator": "≤", "target": "11", "unit": "月", "weight": 10},)"
    << R"({"level1": "产出指标", "level2": "成本指标", "name": "项目总成本", "operator": "≤", "target": ")"
    << p.budget / 10000.0 << R"(", "unit": "万元", "weight": 15},)";
  const int extras = extra(rng);
  const char* benefit[] = {"受益群众人数", "带动就业人数", "服务覆盖率", "设施使用率"};
  const int benefit_weight = 30 - 5 * extras;
  f << R"({"level1": "效益指标", "level2": "社会效益指标", "name": ")" << benefit[0]
    << R"(", "operator": "≥", "target": ")" << 100 * n << R"(", "unit": "人次", "weight": )"
    << benefit_weight << "},";
  for (int i = 1; i <= extras; ++i) {
    f << R"({"level1": "效益指标", "level2": "可持续影响指标", "name": ")" << benefit[i]
      << R"(", "operator": "≥", "target": ")" << 60 + 10 * i << R"(", "unit": "%", "weight": 5},)";
  }
  f << R"({"level1": "满意度指标", "level2": "服务对象满意度指标", "name": "服务对象满意度", "operator": "≥", "target": "90", "unit": "%", "weight": 10}]})";
  return f.str();
}

// A department's overall (部门整体) target form for department-target: 履职
// among the outputs, satisfaction, weights adding up to 100.
std::string DepartmentForm(const Project& p) {
  std::ostringstream f;
  f << R"({"department_name": "模拟县第)" << p.unit << R"(部门", "amount": )" << p.budget
    << R"(, "mid_term_goal": "三年内全面完成部门规划确定的重点任务，服务对象满意度保持在90%以上")"
    << R"(, "annual_goal": "年度重点工作任务完成率不低于95%，项目按期完成率达到90%", "indicators": [)"
    << R"({"level1": "产出指标", "level2": "履职", "name": "年度重点工作任务完成率", "operator": "≥", "target": "95", "unit": "%", "weight": 20},)"
    << R"({"level1": "产出指标", "level2": "数量指标", "name": "项目实施个数", "operator": "≥", "target": "10", "unit": "个", "weight": 15},)"
    << R"({"level1": "产出指标", "level2": "质量指标", "name": "项目验收合格率", "operator": "≥", "target": "95", "unit": "%", "weight": 15},)"
    << R"({"level1": "产出指标", "level2": "时效指标", "name": "项目按期完成率", "operator": "≥", "target": "90", "unit": "%", "weight": 10},)"
    << R"({"level1": "效益指标", "level2": "社会效益指标", "name": "服务对象覆盖率", "operator": "≥", "target": "85", "unit": "%", "weight": 25},)"
    << R"({"level1": "满意度指标", "level2": "服务对象满意度指标", "name": "服务对象满意度", "operator": "≥", "target": "90", "unit": "%", "weight": 15}]})";
  return f.str();
}

class Sim {
 public:
  Sim(Options o, County county)
      : o_(std::move(o)),
        county_(std::move(county)),
        channel_(grpc::CreateChannel(o_.server, grpc::InsecureChannelCredentials())),
        instances_(v1::InstanceService::NewStub(channel_)),
        tasks_(v1::TaskService::NewStub(channel_)),
        orgs_(v1::OrgService::NewStub(channel_)),
        agencies_(v1::AgencyService::NewStub(channel_)),
        targets_(v1::TargetService::NewStub(channel_)),
        reports_(v1::ReportService::NewStub(channel_)) {}

  int Run();

 private:
  struct Who {
    std::string user, role, org;
  };
  std::unique_ptr<grpc::ClientContext> Ctx(const Who& w) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("x-bpm-user", w.user);
    ctx->AddMetadata("x-bpm-roles", w.role);
    ctx->AddMetadata("x-bpm-org", w.org);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return ctx;
  }
  // Records the first failure; every later call is skipped.
  bool Check(const grpc::Status& s, const std::string& what) {
    if (s.ok()) return true;
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.empty()) error_ = what + ": " + std::to_string(s.error_code()) + " " + s.error_message();
    failed_ = true;
    return false;
  }
  bool Start(const Who& who, const std::string& key, const std::string& subject,
             v1::Instance* inst, const std::string& variables = "", const std::string& org = "") {
    if (failed_) return false;
    v1::StartInstanceRequest req;
    req.set_definition_key(key);
    req.set_subject_ref(subject);
    req.set_org(org.empty() ? who.org : org);
    if (!variables.empty()) {
      (void)google::protobuf::util::JsonStringToMessage(variables, req.mutable_variables());
    }
    v1::StartInstanceResponse resp;
    if (!Check(instances_->Start(Ctx(who).get(), req, &resp), "start " + key + " " + subject)) {
      return false;
    }
    *inst = resp.instance();
    ++calls_;
    return true;
  }
  bool Act(const Who& who, v1::Instance* inst, const std::string& action,
           const std::string& payload = "", const std::string& comment = "") {
    if (failed_) return false;
    if (inst->open_tasks_size() == 0) {
      return Check(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "no open task in state " + inst->state()),
                   action + " " + inst->subject_ref());
    }
    v1::ActRequest req;
    req.set_task_id(inst->open_tasks(0).id());
    req.set_action(action);
    req.set_comment(comment);
    if (!payload.empty() &&
        !google::protobuf::util::JsonStringToMessage(payload, req.mutable_payload()).ok()) {
      return Check(grpc::Status(grpc::StatusCode::INTERNAL, "bad payload " + payload), action);
    }
    v1::ActResponse resp;
    grpc::Status s = tasks_->Act(Ctx(who).get(), req, &resp);
    for (int retry = 0; s.error_code() == grpc::StatusCode::ABORTED && retry < 3; ++retry) {
      // The instance changed meanwhile (e.g. its overdue timer fired): re-read
      // it and act on the task again, as the error asks.
      v1::GetInstanceRequest get;
      get.set_id(inst->id());
      v1::GetInstanceResponse got;
      if (!instances_->Get(Ctx(who).get(), get, &got).ok()) break;
      *inst = got.instance();
      if (inst->open_tasks_size() == 0) break;
      req.set_task_id(inst->open_tasks(0).id());
      s = tasks_->Act(Ctx(who).get(), req, &resp);
    }
    if (!Check(s, action + " in " + inst->state() + " of " + inst->subject_ref())) return false;
    *inst = resp.instance();
    ++calls_;
    return true;
  }
  // Who works on a project: its unit's filer, its department's reviewer, the
  // finance section owning the department, the performance section.
  struct People {
    Who unit, reviewer, finance, perf;
  };
  static People PeopleOf(const Project& p) {
    const std::string dept = p.unit.substr(0, 3);
    return {{"filer-" + p.unit, "unit_filer", p.unit},
            {"reviewer-" + dept, "authority_reviewer", dept},
            {"finance-" + p.section, "finance_reviewer", p.section},
            {"perf", "performance_section", kPerfSection}};
  }
  // Runs work(i) for every index on --clients threads, showing progress.
  void Phase(const std::string& name, size_t n, const std::function<void(size_t, std::mt19937_64&)>& work);

  void Targets(const Project& p, std::mt19937_64& rng);
  // Rectifies (when finance graded 中 or 差 or returned it), publishes and
  // records an approved filing.
  void CloseTargets(const Project& p, v1::Instance inst);
  // With --clock-file: bpmd's time becomes month/day of the year, 09:00 China time.
  void SetClock(int month, int day);
  void ExAnte(size_t i, std::mt19937_64& rng);
  void Adjust(const Project& p, std::mt19937_64& rng);
  // 下年度预算申报: next year's target filing of a continuing project (it names
  // last year's subject; bpmd links last year's results and caps the amount
  // under last year's budget action) or of a new one (its ex-ante conclusion
  // applies: 不予支持 refuses the filing).
  struct NextYearFiling {
    std::string subject, previous, unit;
    int64_t amount = 0;
  };
  void NextYear(const NextYearFiling& r, std::mt19937_64& rng);
  void DepartmentEvaluation(const Project& p, std::mt19937_64& rng);
  void Monitor(const Project& p, int month, double execution, std::mt19937_64& rng);
  // The unit answers a warning (预警说明) and finance reviews the answer.
  void Explain(const Project& p, v1::Instance inst, std::mt19937_64& rng);
  void SelfEvaluate(const Project& p, std::mt19937_64& rng);
  bool KeyEvaluations(std::mt19937_64& rng);
  void Assess(const std::string& department, std::mt19937_64& rng);
  int PrintReport();

  Options o_;
  County county_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::InstanceService::Stub> instances_;
  std::unique_ptr<v1::TaskService::Stub> tasks_;
  std::unique_ptr<v1::OrgService::Stub> orgs_;
  std::unique_ptr<v1::AgencyService::Stub> agencies_;
  std::unique_ptr<v1::TargetService::Stub> targets_;
  std::unique_ptr<v1::ReportService::Stub> reports_;
  std::atomic<bool> failed_{false};
  std::atomic<int64_t> calls_{0};
  std::mutex mu_;
  std::string error_;
  std::vector<std::string> warned_;  // subjects lit red or yellow in July
  std::vector<std::pair<const Project*, v1::Instance>> responding_;  // July warnings to answer
  std::map<std::string, std::string> filings_;  // project code → its approved filing
  std::map<std::string, std::string> self_grades_;  // project code → self-evaluation grade
  std::vector<std::pair<std::string, std::string>> new_projects_;  // ex-ante subject, unit
  std::vector<std::pair<const Project*, v1::Instance>> rectifying_;  // targets to rectify
  std::atomic<int> next_continuing_{0}, next_capped_{0}, next_new_{0}, next_refused_{0};
  std::atomic<int> rescored_{0};  // self-evaluations the department scored again
  int year_ = 0;                      // the fiscal year: the instances' year, China time
};

void Sim::Phase(const std::string& name, size_t n,
                const std::function<void(size_t, std::mt19937_64&)>& work) {
  std::atomic<size_t> next{0}, done{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < o_.clients; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(o_.seed * 1000003 + std::hash<std::string>{}(name) + t);
      for (size_t i; !failed_ && (i = next++) < n;) {
        work(i, rng);
        ++done;
      }
    });
  }
  std::thread progress([&] {
    while (done < n && !failed_) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      const double s = std::chrono::duration<double>(Clock::now() - start).count();
      std::fprintf(stderr, "\r[%s] %zu/%zu (%.0f%%) %.0f/s   ", name.c_str(), done.load(), n,
                   n ? 100.0 * done / n : 100.0, done / s);
    }
  });
  for (auto& t : threads) t.join();
  progress.join();
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  std::fprintf(stderr, "\r[%s] %zu/%zu in %.1f s                 \n", name.c_str(), done.load(), n, s);
}

void Sim::Targets(const Project& p, std::mt19937_64& rng) {
  const auto [unit, reviewer, finance, perf] = PeopleOf(p);
  v1::Instance inst;
  if (p.overall) {
    // 部门整体: the department files, its reviewer signs off.
    const Who dept_filer{"filer-" + p.unit, "unit_filer", p.unit};
    const Who dept_reviewer{"reviewer-" + p.unit, "dept_reviewer", p.unit};
    if (!Start(dept_filer, "department-target", p.code, &inst)) return;
    if (!Act(dept_filer, &inst, "submit", DepartmentForm(p))) return;
    if (inst.state() == "department_review" && !Act(dept_reviewer, &inst, "approve")) return;
  } else {
    if (!Start(unit, "target-filing", p.code, &inst)) return;
    if (!Act(unit, &inst, "submit", TargetForm(p, rng))) return;
    if (inst.state() == "authority_review" && !Act(reviewer, &inst, "approve")) return;
  }
  const double g = std::uniform_real_distribution<double>(0, 1)(rng);
  const char* grade = g < 0.35 ? "优" : g < 0.80 ? "良" : g < 0.97 ? "中" : "差";
  if (!Act(finance, &inst, "approve", std::string(R"({"grade": ")") + grade + "\"}",
           "财政终审")) {
    return;
  }
  if (inst.state() == "rectification" && !o_.clock_file.empty()) {
    // On a moving clock the units rectify later in the year (Sim::Run).
    std::lock_guard<std::mutex> lock(mu_);
    rectifying_.emplace_back(&p, inst);
    return;
  }
  CloseTargets(p, std::move(inst));
}

void Sim::CloseTargets(const Project& p, v1::Instance inst) {
  const auto [unit, reviewer, finance, perf] = PeopleOf(p);
  if (inst.state() == "rectification") {
    if (!Act(unit, &inst, "submit", R"({"evidence": "已按审核意见修改绩效目标"})")) return;
    if (!Act(finance, &inst, "accept")) return;
    if (!Act(finance, &inst, "approve", R"({"grade": "良"})", "整改后复审")) return;
  }
  if (inst.state() == "disclosure") Act(perf, &inst, "publish");
  std::lock_guard<std::mutex> lock(mu_);
  filings_[p.code] = inst.id();
}

void Sim::SetClock(int month, int day) {
  if (o_.clock_file.empty() || failed_) return;
  std::tm tm{};
  tm.tm_year = year_ - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = 1;  // 09:00 China time
  const long long ms = static_cast<long long>(timegm(&tm)) * 1000;
  // Written aside and renamed: bpmd reads the file on every clock call.
  const std::string tmp = o_.clock_file + ".tmp";
  if (FILE* f = std::fopen(tmp.c_str(), "w")) {
    std::fprintf(f, "%lld\n", ms);
    const bool ok = std::fclose(f) == 0 && std::rename(tmp.c_str(), o_.clock_file.c_str()) == 0;
    if (ok) return;
  }
  Check(grpc::Status(grpc::StatusCode::INTERNAL, "cannot write " + o_.clock_file), "--clock-file");
}

void Sim::ExAnte(size_t i, std::mt19937_64& rng) {
  // Next year's new projects above the threshold (DOMAIN.md §11: 10–40 a
  // year, 5–15 % 不予支持).
  const std::string& unit_code = county_.units[(i * 7919) % county_.units.size()];
  const std::string dept = unit_code.substr(0, 3);
  const Who unit{"filer-" + unit_code, "unit_filer", unit_code};
  const Who finance{"finance-" + county_.section_of[dept], "finance_reviewer", county_.section_of[dept]};
  v1::Instance inst;
  const std::string code = std::to_string(year_ + 1) + "-" + unit_code + "-XM" + std::to_string(i);
  if (!Start(unit, "ex-ante", code, &inst)) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    new_projects_.emplace_back(code, unit_code);
  }
  if (!Act(unit, &inst, "submit",
           R"({"project_name": "新增项目)" + code + R"(", "amount": 3000000, "basis": "县十四五规划"})")) {
    return;
  }
  const double g = std::uniform_real_distribution<double>(0, 1)(rng);
  // 支持 (≥ 80), 调整完善后支持 (60–79.99), 不予支持 (< 60, with comments).
  const std::string scores =
      g < 0.75   ? R"({"立项必要性": 18, "投入经济性": 16, "绩效目标合理性": 17, "实施方案可行性": 16, "筹资合规性": 17})"
      : g < 0.90 ? R"({"立项必要性": 16, "投入经济性": 14, "绩效目标合理性": 13, "实施方案可行性": 14, "筹资合规性": 15})"
                 : R"({"立项必要性": 14, "投入经济性": 10, "绩效目标合理性": 11, "实施方案可行性": 8, "筹资合规性": 11})";
  const std::string comments =
      g < 0.90 ? "" : R"(, "comments": {"投入经济性": "测算依据不足", "绩效目标合理性": "目标不明确", "实施方案可行性": "无实施方案", "筹资合规性": "资金来源未落实"})";
  if (!Act(finance, &inst, "conclude",
           R"({"opinion": "按评估标准评分", "scores": )" + scores + comments + "}")) {
    return;
  }
  if (inst.state() != "application") return;
  // 调整完善后支持: the unit revises the application and finance supports it
  // (an unfinished assessment would refuse next year's filing).
  if (!Act(unit, &inst, "submit",
           R"({"project_name": "新增项目)" + code +
               R"(", "amount": 2500000, "basis": "县十四五规划；已补充实施方案和测算依据"})")) {
    return;
  }
  Act(finance, &inst, "conclude",
      R"({"opinion": "调整后符合要求", "scores": {"立项必要性": 18, "投入经济性": 16, "绩效目标合理性": 17, "实施方案可行性": 16, "筹资合规性": 17}})");
}

void Sim::Adjust(const Project& p, std::mt19937_64& rng) {
  // A budget cut mid-year: the targets are adjusted with the budget
  // (budget_changed: outside the window and the yearly limit).
  std::string filing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = filings_.find(p.code);
    if (it == filings_.end()) return;
    filing = it->second;
  }
  const auto [unit, reviewer, finance, perf] = PeopleOf(p);
  v1::AdjustTargetsRequest req;
  req.set_instance_id(filing);
  req.set_reason("年中预算调减20%，绩效目标相应调整");
  req.set_budget_changed(true);
  v1::AdjustTargetsResponse resp;
  if (!Check(targets_->Adjust(Ctx(unit).get(), req, &resp), "adjust the targets of " + p.code)) return;
  ++calls_;
  v1::Instance inst = resp.adjustment();
  Project cut = p;
  cut.budget = p.budget * 8 / 10;
  if (!Act(unit, &inst, "submit", TargetForm(cut, rng))) return;
  if (!Act(reviewer, &inst, "approve")) return;
  if (!Act(finance, &inst, "approve", R"({"grade": "良"})", "同意调整")) return;
  if (inst.state() == "disclosure") Act(perf, &inst, "publish");
}

void Sim::DepartmentEvaluation(const Project& p, std::mt19937_64& rng) {
  // 部门评价: the department's own team scores one key project of a unit.
  const auto [unit, team, finance, perf] = PeopleOf(p);
  v1::Instance inst;
  if (!Start(team, "department-evaluation", p.code + "-BMPJ", &inst,
             R"({"amount": )" + std::to_string(p.budget) + "}", p.unit)) {
    return;
  }
  if (!Act(team, &inst, "submit", R"({"method": "比较法", "team": "部门评价组", "schedule": "5月至7月"})")) {
    return;
  }
  // Each indicator at 70–100 % of its weight (mean about 85).
  std::uniform_real_distribution<double> share(0.7, 1.0);
  const std::vector<std::pair<const char*, int>> sheet = {
      {"D1", 5}, {"D2", 5}, {"D3", 5}, {"D4", 5}, {"P1", 5}, {"P2", 5}, {"P3", 5}, {"P4", 5},
      {"O1", 10}, {"O2", 10}, {"O3", 5}, {"O4", 5}, {"E1", 15}, {"E2", 5}, {"E3", 10}};
  std::ostringstream scores;
  scores << R"({"scores": {)";
  for (size_t i = 0; i < sheet.size(); ++i) {
    scores << (i ? ", " : "") << '"' << sheet[i].first << R"(": )"
           << std::llround(sheet[i].second * share(rng) * 10) / 10.0;
  }
  scores << R"(}, "findings": ["预算执行进度偏慢"], "recommendations": ["加快支付进度"]})";
  if (!Act(team, &inst, "score", scores.str())) return;
  if (!Act(unit, &inst, "submit", R"({"agree": true, "opinion": "认可评价结论"})")) return;
  const std::string grade = inst.variables().fields().at("evaluation_grade").string_value();
  if (!Act(finance, &inst, "approve", R"({"grade": ")" + grade + R"("})", "确认部门评价结果")) return;
  if (inst.state() == "rectification") {
    if (!Act(unit, &inst, "submit", R"({"evidence": "已按评价意见整改"})")) return;
    if (!Act(team, &inst, "accept")) return;
  }
  if (inst.state() == "disclosure") Act(perf, &inst, "publish");
}

void Sim::Monitor(const Project& p, int month, double execution, std::mt19937_64& rng) {
  const auto [unit, reviewer, finance, perf] = PeopleOf(p);
  v1::Instance inst;
  if (!Start(unit, "performance-monitoring", p.code + (month == 7 ? "" : "-R2"), &inst)) return;
  // The July round reports against the approved targets bpmd attached
  // (variables.approved_targets): the key quantity row, target left out. The
  // follow-up round (its own subject) names its target.
  std::string quantity = "完成建设任务";
  double n = 100;
  bool approved = false;
  if (auto a = inst.variables().fields().find("approved_targets");
      a != inst.variables().fields().end()) {
    for (const auto& row : a->second.struct_value().fields().at("indicators").list_value().values()) {
      const auto& r = row.struct_value().fields();
      if (r.at("level2").string_value() != "数量指标") continue;
      quantity = r.at("name").string_value();
      n = std::stod(r.at("target").string_value());
      approved = true;
      break;
    }
  }
  // Indicator progress: the linear share, a few behind.
  std::uniform_real_distribution<double> u01(0, 1);
  const double share = month / 12.0;
  const double progress = u01(rng) < 0.03 ? share * 0.7 : share * (0.95 + 0.1 * u01(rng));
  const long long actual = std::llround(n * progress);
  const long long executed = std::llround(static_cast<double>(p.budget) * execution);
  std::ostringstream payload;
  payload << R"({"month": )" << month << R"(, "budget": )" << p.budget << R"(, "executed": )"
          << executed << R"(, "indicators": [{"name": ")" << quantity << R"(", "operator": "≥", )";
  if (!approved) payload << R"("target": )" << n << ", ";
  payload << R"("actual": )" << actual;
  if (progress < share * 0.8) payload << R"(, "deviation_reason": "其他：合同进度滞后")";
  payload << (approved ? R"(}, {"name": "服务对象满意度", "actual": 92}]})"
                       : R"(}, {"name": "服务对象满意度", "operator": "定性", "grade": "达成目标", "likelihood": "确定能"}]})");
  if (!Act(unit, &inst, "submit", payload.str())) return;
  if (inst.state() != "report") return;  // on track: done
  if (month == 7) {
    // Warned: the unit answers later in the month (Run), and the project
    // reports again in October.
    std::lock_guard<std::mutex> lock(mu_);
    warned_.push_back(p.code);
    responding_.emplace_back(&p, inst);
    return;
  }
  Explain(p, inst, rng);
}

void Sim::Explain(const Project& p, v1::Instance inst, std::mt19937_64& rng) {
  const auto [unit, reviewer, finance, perf] = PeopleOf(p);
  // DOMAIN.md §11: funds ≈ 40 %, rules 10 %, staff 10 %, hardware 10 %, other 30 %.
  static const char* kReasons[] = {"经费保障", "经费保障", "经费保障", "经费保障",     "制度保障",
                                   "人员保障", "硬件条件保障", "其他", "其他", "其他"};
  const char* reason = kReasons[std::uniform_int_distribution<int>(0, 9)(rng)];
  if (!Act(unit, &inst, "explain",
           std::string(R"({"reason_category": ")") + reason + R"(", "measures": "加快支付进度"})")) {
    return;
  }
  if (inst.state() == "finance_review") Act(finance, &inst, "approve");
}

void Sim::SelfEvaluate(const Project& p, std::mt19937_64& rng) {
  const auto [unit, reviewer, finance, perf] = PeopleOf(p);
  std::uniform_real_distribution<double> u01(0, 1);
  // Mostly met: a few indicators fall short (DOMAIN.md §11: mean ≈ 94).
  auto actual = [&](int target) {
    const double x = u01(rng);
    return x < 0.75 ? target : std::llround(target * (x < 0.95 ? 0.85 + 0.14 * u01(rng) : 0.5 + 0.3 * u01(rng)));
  };
  const int64_t executed = std::llround(p.budget * (u01(rng) < 0.9 ? 0.9 + 0.1 * u01(rng) : 0.6 + 0.3 * u01(rng)));
  const bool partial = u01(rng) < 0.12;
  std::ostringstream f;
  f << R"({"budget": )" << p.budget << R"(, "executed": )" << executed << R"(, "indicators": [)"
    << R"({"name": "完成建设任务", "level1": "产出指标", "level2": "数量指标", "operator": "≥", "target": "100", "actual": ")"
    << actual(100) << R"(", "unit": "项", "weight": 30},)"
    << R"({"name": "验收合格率", "level1": "产出指标", "level2": "质量指标", "operator": "≥", "target": "95", "actual": ")"
    << std::min<long long>(100, actual(95)) << R"(", "unit": "%", "weight": 20},)"
    << R"({"name": "社会效益", "level1": "效益指标", "level2": "社会效益指标", "operator": "定性", "grade": ")"
    << (partial ? "部分达成年度指标并具有一定效果" : "达成年度指标") << R"(", "score": )"
    << (partial ? 20 : 28) << R"(, "weight": 30},)"
    << R"({"name": "服务对象满意度", "level1": "满意度指标", "level2": "服务对象满意度指标", "operator": "≥", "target": "90", "actual": ")"
    << actual(90) << R"(", "unit": "%", "weight": 10}]})";
  v1::Instance inst;
  if (!Start(unit, "self-evaluation", p.code, &inst)) return;
  if (!Act(unit, &inst, "submit", f.str())) return;
  if (inst.state() == "department_review") {
    if (u01(rng) < 0.05) {
      // 部门复核评分: the department counts a fifth less work done and
      // scores again; its score becomes the score of record.
      std::string rescored = f.str();
      const std::string key = R"("actual": ")";
      const size_t at = rescored.find(key) + key.size();
      const size_t end = rescored.find('"', at);
      const long long done = std::stoll(rescored.substr(at, end - at));
      rescored.replace(at, end - at, std::to_string(done * 4 / 5));
      rescored.replace(rescored.rfind('}'), 1, R"(, "reason": "以验收单为准，建设任务完成数核减"})");
      if (!Act(reviewer, &inst, "rescore", rescored)) return;
      ++rescored_;
    } else if (!Act(reviewer, &inst, "approve")) {
      return;
    }
  }
  if (inst.state() == "spot_check") {
    const double own = inst.variables().fields().at("self_eval_score").number_value();
    const double lowered = u01(rng) < 0.25 ? 5 + 3 * u01(rng) : 2 * u01(rng);
    std::ostringstream recheck;
    recheck << R"({"score": )" << std::floor((own - lowered) * 100) / 100
            << R"(, "opinion": "抽查复核：佐证材料)" << (lowered >= 5 ? "不足" : "基本完整") << "\"}";
    if (!Act(finance, &inst, "recheck", recheck.str())) return;
  }
  if (inst.state() == "apply" && !Act(finance, &inst, "apply")) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto g = inst.variables().fields().find("self_eval_grade"); g != inst.variables().fields().end()) {
      self_grades_[p.code] = g->second.string_value();
    }
  }
  // 中 and 差 rectify; finance accepts the evidence.
  if (inst.state() == "rectification" &&
      Act(unit, &inst, "submit", R"({"evidence": "已针对自评发现的问题完成整改"})")) {
    Act(finance, &inst, "accept");
  }
}

void Sim::NextYear(const NextYearFiling& r, std::mt19937_64& rng) {
  const Who unit{"filer-" + r.unit, "unit_filer", r.unit};
  v1::StartInstanceRequest req;
  req.set_definition_key("target-filing");
  req.set_subject_ref(r.subject);
  req.set_org(r.unit);
  auto& vars = *req.mutable_variables()->mutable_fields();
  vars["fiscal_year"].set_number_value(year_ + 1);
  if (!r.previous.empty()) vars["previous_subject_ref"].set_string_value(r.previous);
  v1::StartInstanceResponse resp;
  if (failed_) return;
  grpc::Status s = instances_->Start(Ctx(unit).get(), req, &resp);
  ++calls_;
  if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
    ++next_refused_;  // 不予支持, or 取消 without an accepted rectification
    return;
  }
  if (!Check(s, "start next year's target-filing " + r.subject)) return;
  v1::Instance inst = resp.instance();
  Project p;
  p.code = r.subject;
  p.unit = r.unit;
  p.budget = r.amount;
  // The unit asks for last year's amount, or the cap bpmd derived from last
  // year's budget action (project_history.previous.amount_cap).
  const auto& f = inst.variables().fields();
  if (auto h = f.find("project_history"); h != f.end()) {
    const auto& hf = h->second.struct_value().fields();
    if (auto prev = hf.find("previous"); prev != hf.end()) {
      const auto& pf = prev->second.struct_value().fields();
      if (auto cap = pf.find("amount_cap"); cap != pf.end()) {
        const auto capped = static_cast<int64_t>(std::floor(std::stod(cap->second.string_value())));
        if (capped < p.budget) {
          p.budget = capped;
          ++next_capped_;
        }
      }
    }
  }
  if (Act(unit, &inst, "submit", TargetForm(p, rng))) ++(r.previous.empty() ? next_new_ : next_continuing_);
}

// Key evaluations: the largest projects, engaged to three example agencies
// whose agency_client processes score 93 %, 84 % and 72 % of each weight.
bool Sim::KeyEvaluations(std::mt19937_64& rng) {
  if (o_.key_evaluations <= 0) return true;
  const Who head{"perf-head", "perf_head", kBureau};
  const Who reviewer{"perf-reviewer", "perf_reviewer", kBureau};
  const struct {
    const char* id;
    const char* name;
    const char* ratio;
    double share;
  } kAgencies[] = {{"ag-sim-a", "模拟甲会计师事务所", "0.93", 0.15},
                   {"ag-sim-b", "模拟乙咨询有限公司", "0.84", 0.55},
                   {"ag-sim-c", "模拟丙评估有限公司", "0.72", 0.30}};
  for (const auto& a : kAgencies) {
    const char digit = static_cast<char>('1' + (&a - kAgencies));
    v1::RegisterAgencyRequest req;
    req.mutable_agency()->set_id(a.id);
    req.mutable_agency()->set_name(a.name);
    req.mutable_agency()->set_credit_code(std::string("91369900000000000") + digit);
    req.mutable_agency()->set_type("accounting");
    req.mutable_agency()->set_no_major_violations_3y(true);
    req.mutable_agency()->set_status("active");
    v1::Agency resp;
    grpc::Status s = agencies_->RegisterAgency(Ctx(head).get(), req, &resp);
    if (!s.ok() && s.error_code() != grpc::StatusCode::ALREADY_EXISTS &&
        !Check(s, std::string("register agency ") + a.id)) {
      return false;
    }
  }
  // The largest projects (not department overall targets).
  std::vector<const Project*> by_size;
  for (const Project& p : county_.projects) {
    if (!p.overall) by_size.push_back(&p);
  }
  std::sort(by_size.begin(), by_size.end(),
            [](const Project* a, const Project* b) { return a->budget > b->budget; });
  by_size.resize(std::min<size_t>(by_size.size(), static_cast<size_t>(o_.key_evaluations)));

  std::vector<pid_t> children;
  for (const auto& a : kAgencies) {
    pid_t pid = fork();
    if (pid == 0) {
      // The agency's own log would drown the progress lines.
      if (int null = open("/dev/null", O_WRONLY); null >= 0) {
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
      }
      execl(o_.agency_client.c_str(), o_.agency_client.c_str(), "--server", o_.server.c_str(),
            "--agency", a.id, "--score-ratio", a.ratio, "--work-ms", "0", "--poll-ms", "500",
            static_cast<char*>(nullptr));
      std::perror(o_.agency_client.c_str());
      _exit(127);
    }
    if (pid < 0) return Check(grpc::Status(grpc::StatusCode::INTERNAL, "fork failed"), "agency_client");
    children.push_back(pid);
  }
  auto stop_children = [&] {
    for (pid_t pid : children) kill(pid, SIGTERM);
    for (pid_t pid : children) waitpid(pid, nullptr, 0);
  };

  std::vector<v1::Instance> instances;
  std::uniform_real_distribution<double> u01(0, 1);
  for (const Project* p : by_size) {
    const double x = u01(rng);
    const auto& a = x < kAgencies[0].share ? kAgencies[0]
                    : x < kAgencies[0].share + kAgencies[1].share ? kAgencies[1]
                                                                    : kAgencies[2];
    v1::EngageRequest req;
    v1::Engagement& e = *req.mutable_engagement();
    e.set_agency_id(a.id);
    e.set_purpose("key_evaluation");
    e.set_mode("independent");
    e.set_commissioner_org(kBureau);
    e.set_subject_ref(p->code);
    e.set_subject_org(p->unit);
    e.set_contract_amount(std::max<double>(30000, p->budget * 0.002));
    e.set_start_date("2026-03-01");
    e.set_end_date("2026-06-30");
    e.set_team_lead("模拟评价组");
    const struct { const char* code; const char* l1; const char* l2; const char* name; double w; } kSheet[] = {
        {"A1", "决策", "项目立项", "立项依据充分性", 8},  {"A2", "决策", "绩效目标", "绩效目标合理性", 7},
        {"B1", "过程", "资金管理", "预算执行率", 10},     {"B2", "过程", "组织实施", "制度执行有效性", 10},
        {"C1", "产出", "产出数量", "实际完成率", 15},     {"C2", "产出", "产出质量", "质量达标率", 10},
        {"C3", "产出", "产出时效", "完成及时性", 5},      {"C4", "产出", "产出成本", "成本节约率", 5},
        {"D1", "效益", "项目效益", "社会效益", 15},       {"D2", "效益", "项目效益", "可持续影响", 5},
        {"D3", "效益", "满意度", "服务对象满意度", 10}};
    for (const auto& s : kSheet) {
      v1::Indicator* i = e.mutable_sheet()->add_indicators();
      i->set_code(s.code);
      i->set_level1(s.l1);
      i->set_level2(s.l2);
      i->set_name(s.name);
      i->set_weight(s.w);
    }
    v1::Engagement engaged;
    if (!Check(agencies_->Engage(Ctx(head).get(), req, &engaged), "engage " + p->code)) break;
    v1::Instance inst;
    if (!Start(head, "key-evaluation", p->code, &inst,
               R"({"engagement_id": ")" + engaged.id() + R"(", "amount": )" + std::to_string(p->budget) + "}",
               p->unit)) {
      break;
    }
    instances.push_back(inst);
  }

  // The people's side: act on whatever each instance waits for, until done.
  const auto deadline = Clock::now() + std::chrono::minutes(10);
  size_t done = 0;
  while (!failed_ && done < instances.size() && Clock::now() < deadline) {
    done = 0;
    for (v1::Instance& inst : instances) {
      v1::GetInstanceRequest get;
      get.set_id(inst.id());
      v1::GetInstanceResponse got;
      if (!Check(instances_->Get(Ctx(head).get(), get, &got), "get " + inst.id())) break;
      inst = got.instance();
      const Who unit{"filer-" + inst.org(), "unit_filer", inst.org()};
      const std::string& state = inst.state();
      if (inst.status() != "running") {
        ++done;
      } else if (state == "plan_approval") {
        Act(reviewer, &inst, "approve");
      } else if (state == "unit_feedback") {
        Act(unit, &inst, "submit", R"({"agree": true, "opinion": "认可评价结论，将按建议整改"})");
      } else if (state == "result_approval") {
        const auto& vars = inst.variables().fields();
        auto g = vars.find("evaluation_grade");
        const std::string grade = g != vars.end() ? g->second.string_value() : "良";
        Act(head, &inst, "approve", R"({"grade": ")" + grade + "\"}", "审定评价结果");
      } else if (state == "rectification") {
        if (inst.open_tasks_size() > 0 && inst.open_tasks(0).name() == "check") {
          Act(reviewer, &inst, "accept");
        } else {
          Act(unit, &inst, "submit", R"({"evidence": "已按评价意见完成整改"})");
        }
      } else if (state == "disclosure") {
        Act(head, &inst, "publish");
      }
      // work_plan, draft_report, final_report: the agency's turn.
    }
    std::fprintf(stderr, "\r[key evaluations] %zu/%zu done   ", done, instances.size());
    if (done < instances.size()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::fprintf(stderr, "\n");
  stop_children();
  if (!failed_ && done < instances.size()) {
    return Check(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                              std::to_string(instances.size() - done) + " not finished in 10 min"),
                 "key evaluations");
  }
  return !failed_;
}

// 考核: the performance section enters the manual items of each department's
// sheet (most near full marks); the engine computes the rest.
void Sim::Assess(const std::string& department, std::mt19937_64& rng) {
  const Who perf{"perf", "performance_section", kPerfSection};
  v1::Instance inst;
  if (!Start(perf, "performance-assessment", "考核-" + department, &inst,
             R"({"fiscal_year": )" + std::to_string(year_) + "}", department)) {
    return;
  }
  std::uniform_real_distribution<double> u01(0, 1);
  auto points = [&](int max) {
    const double share = u01(rng) < 0.1 ? 0.5 + 0.3 * u01(rng) : 0.8 + 0.2 * u01(rng);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.1f", std::llround(max * share * 2) / 2.0);  // halves
    return std::string(buf);
  };
  Act(perf, &inst, "score",
      R"({"manual": {"org": )" + points(5) + R"(, "ex_ante": )" + points(10) +
          R"(, "target_quality": )" + points(8) + R"(, "key_eval": )" + points(10) +
          R"(, "linkage": )" + points(4) + R"(, "disclosure": )" + points(10) + "}}");
}

int Sim::PrintReport() {
  v1::GetReportRequest req;
  req.set_region(kRegion);
  req.set_year(year_);  // next year's filings are the next year's figures
  v1::GetReportResponse r;
  if (!Check(reports_->Get(Ctx({"perf", "performance_section", kPerfSection}).get(), req, &r), "report")) {
    return 1;
  }
  if (r.totals_size() == 0) {
    std::cerr << "county_sim: the report counted nothing\n";
    return 1;
  }
  const v1::ReportRow& t = r.totals(0);
  int monitored = 0, in_scope = 0, red = 0, yellow = 0, budget_red = 0, budget_yellow = 0;
  const v1::MonitoringRound* july = nullptr;
  const v1::MonitoringRound* october = nullptr;
  for (const auto& m : t.rounds()) {
    if (m.month() == 7) july = &m;
    if (m.month() == 10) october = &m;
  }
  if (july != nullptr) {
    monitored = july->monitored();
    in_scope = july->in_scope();
    red = july->red();
    yellow = july->yellow();
    budget_red = july->budget_red();
    budget_yellow = july->budget_yellow();
  }
  auto pct = [](int a, int b) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", b ? 100.0 * a / b : 0.0);
    return std::string(buf);
  };
  const auto& g = t.self_eval_grades();
  const auto& k = t.key_eval_grades();
  const auto& tg = t.target_grades();
  std::printf("\n模拟县 %d 年度预算绩效管理 (%d departments, %zu units, %d instances counted)\n\n",
              t.year(), static_cast<int>(county_.departments.size()), county_.units.size(),
              r.instances());
  std::printf("%-44s %14s   %s\n", "figure", "simulated", "seed (DOMAIN.md §11)");
  std::printf("%-44s %14d   %s\n", "targets filed (projects + 部门整体)", t.targets_filed(), "3,940");
  std::printf("%-44s %14s   %s\n", "targets reviewed by finance (coverage)",
              (std::to_string(t.targets_reviewed()) + " " + pct(t.targets_reviewed(), t.targets_filed())).c_str(), "");
  std::printf("%-44s %14s   %s\n", "  final grades 优/良/中/差 (after 整改)",
              (std::to_string(tg.you()) + "/" + std::to_string(tg.liang()) + "/" + std::to_string(tg.zhong()) + "/" + std::to_string(tg.cha())).c_str(),
              "优 30–40%, 良 40–50%, 中 10–20%, 差 1–3%");
  std::printf("%-44s %14d   %s\n", "  adjusted (绩效目标调整, approved versions)", t.targets_adjusted(), "");
  std::printf("%-44s %14d   %s\n", "projects monitored (July round)", monitored, "2,485");
  std::printf("%-44s %14d   %s\n", "  of them ≥ 500,000 yuan (budget lights)", in_scope, "493");
  std::printf("%-44s %14s   %s\n", "  budget-execution red / yellow",
              (std::to_string(budget_red) + " / " + std::to_string(budget_yellow)).c_str(), "186 / 37");
  std::printf("%-44s %14s   %s\n", "  project light red / yellow (with indicators)",
              (std::to_string(red) + " / " + std::to_string(yellow)).c_str(), "");
  if (july != nullptr) {
    std::printf("%-44s %14s   %s\n", "  warnings: explained / late (10 working days)",
                (std::to_string(july->warnings_explained()) + "/" + std::to_string(july->warnings()) +
                 " / " + std::to_string(july->warnings_late()))
                    .c_str(),
                "");
  }
  if (october != nullptr) {
    std::printf("%-44s %14s   %s\n", "follow-up round (October): red / yellow",
                (std::to_string(october->red()) + " / " + std::to_string(october->yellow())).c_str(), "");
    std::printf("%-44s %14s   %s\n", "  decline of red + yellow",
                pct(red + yellow - october->red() - october->yellow(), red + yellow).c_str(), "");
  }
  std::printf("%-44s %14d   %s\n", "self-evaluations", t.self_evaluations(), "1,179–1,599");
  std::printf("%-44s %14s   %s\n", "  grades 优/良/中/差",
              (std::to_string(g.you()) + "/" + std::to_string(g.liang()) + "/" + std::to_string(g.zhong()) + "/" + std::to_string(g.cha())).c_str(),
              "优 85–92%, 良 6–12%, 中 1–3%");
  std::printf("%-44s %14d   %s\n", "  re-scored by the department (部门复核)", rescored_.load(), "");
  std::printf("%-44s %14s   %s\n", "  spot-checked / lowered over 10 points",
              (std::to_string(t.spot_sampled()) + " / " + std::to_string(t.spot_flagged())).c_str(), "10–20% sampled");
  std::printf("%-44s %14d   %s\n", "key evaluations", t.key_evaluations(), "4–63");
  std::printf("%-44s %14s   %s\n", "  grades 优/良/中/差",
              (std::to_string(k.you()) + "/" + std::to_string(k.liang()) + "/" + std::to_string(k.zhong()) + "/" + std::to_string(k.cha())).c_str(),
              "优 10–20%, 良 45–55%, 中 25–35%");
  std::printf("%-44s %14s   %s\n", "  funds covered (yuan)", t.key_evaluation_funds().c_str(), "");
  std::printf("%-44s %14s   %s\n", "next year: continuing filed / capped",
              (std::to_string(next_continuing_) + " / " + std::to_string(next_capped_)).c_str(),
              "中 压减, 差 取消 (§5.6)");
  std::printf("%-44s %14s   %s\n", "  new filed / refused at start",
              (std::to_string(next_new_) + " / " + std::to_string(next_refused_)).c_str(),
              "不予支持 blocks (§5.1)");
  std::printf("%-44s %14s   %s\n", "rectifications: accepted / on time",
              (std::to_string(t.rectified()) + "/" + std::to_string(t.rectifications()) + " " +
               pct(t.rectified_on_time(), t.rectifications())).c_str(),
              "80–90% on time");
  {
    v1::GetScorecardRequest sreq;
    sreq.set_year(t.year());
    v1::GetScorecardResponse card;
    if (!Check(reports_->Scorecard(Ctx({"perf", "performance_section", kPerfSection}).get(), sreq, &card),
               "scorecard")) {
      return 1;
    }
    std::map<std::string, int> grades;
    double sum = 0;
    double low = 100, high = 0;
    int ranked = 0;
    for (const auto& row : card.rows()) {
      if (row.rank() == 0) continue;
      ++ranked;
      ++grades[row.grade()];
      const double total = std::stod(row.total());
      sum += total;
      low = std::min(low, total);
      high = std::max(high, total);
    }
    char buf[96];
    std::snprintf(buf, sizeof buf, "%d, %.1f–%.1f (mean %.1f)", ranked, low, high,
                  ranked ? sum / ranked : 0.0);
    std::printf("%-44s %14s   %s\n", "考核: departments ranked, scores", buf, "75–98");
    std::snprintf(buf, sizeof buf, "%d/%d/%d/%d", grades["优秀"], grades["良好"], grades["合格"],
                  grades["不合格"]);
    std::printf("%-44s %14s   %s\n", "  优秀/良好/合格/不合格", buf, "5–10% below 80");
    for (int i = 0; i < std::min(3, card.rows_size()); ++i) {
      const auto& row = card.rows(i);
      std::printf("    %d. %s %s %s\n", row.rank(), row.department_name().c_str(), row.total().c_str(),
                  row.grade().c_str());
    }
  }
  std::printf("\n%ld API calls\n", static_cast<long>(calls_.load()));
  const bpm::cli::Cells table = bpm::cli::ReportTable(r);
  if (!o_.csv.empty()) {
    std::FILE* f = std::fopen(o_.csv.c_str(), "wb");
    const std::string csv = bpm::cli::ToCsv(table);
    if (f == nullptr || std::fwrite(csv.data(), 1, csv.size(), f) != csv.size() || std::fclose(f) != 0) {
      std::cerr << "county_sim: cannot write " << o_.csv << "\n";
      return 1;
    }
  }
  if (!o_.xlsx.empty()) {
    if (auto s = bpm::cli::WriteXlsx(table, o_.xlsx, "模拟县"); !s.ok()) {
      std::cerr << "county_sim: " << s.message() << "\n";
      return 1;
    }
  }
  return 0;
}

int Sim::Run() {
  const auto start = Clock::now();
  {
    std::time_t now = std::time(nullptr) + 8 * 3600;
    std::tm tm{};
    gmtime_r(&now, &tm);
    year_ = tm.tm_year + 1900;
  }
  std::fprintf(stderr, "county_sim: %zu departments, %zu units, %zu targets against %s\n",
               county_.departments.size(), county_.units.size(), county_.projects.size(),
               o_.server.c_str());
  {
    v1::ImportOrgsRequest req;
    req.set_text(OrgYaml(county_));
    req.set_format("yaml");
    req.set_source_name("county_sim.yaml");
    v1::ImportOrgsResponse resp;
    if (!Check(orgs_->Import(Ctx({"sim-org-admin", "org_admin", ""}).get(), req, &resp),
               "import the org model")) {
      std::cerr << "county_sim: " << error_ << "\n";
      return 1;
    }
  }
  SetClock(1, 10);
  Phase("targets", county_.projects.size(),
        [&](size_t i, std::mt19937_64& rng) { Targets(county_.projects[i], rng); });
  if (!rectifying_.empty()) {
    // On a moving clock: most units rectify within the 30 days, one in seven
    // after the deadline (flagged overdue, still accepted).
    std::vector<std::pair<const Project*, v1::Instance>> on_time, late;
    for (size_t i = 0; i < rectifying_.size(); ++i) (i % 7 == 3 ? late : on_time).push_back(rectifying_[i]);
    SetClock(1, 28);
    Phase("target rectification", on_time.size(),
          [&](size_t i, std::mt19937_64&) { CloseTargets(*on_time[i].first, on_time[i].second); });
    SetClock(2, 25);
    Phase("target rectification, late", late.size(),
          [&](size_t i, std::mt19937_64&) { CloseTargets(*late[i].first, late[i].second); });
  }
  SetClock(6, 1);
  // About 2 % of the projects have their budget, and targets, cut mid-year.
  std::vector<const Project*> adjusted;
  for (size_t i = 0; i < county_.projects.size(); i += 50) {
    if (!county_.projects[i].overall) adjusted.push_back(&county_.projects[i]);
  }
  Phase("target adjustments", adjusted.size(),
        [&](size_t i, std::mt19937_64& rng) { Adjust(*adjusted[i], rng); });
  std::vector<const Project*> monitored;
  for (const Project& p : county_.projects) {
    if (p.monitored && !p.overall) monitored.push_back(&p);
  }
  SetClock(7, 10);
  Phase("monitoring, July", monitored.size(), [&](size_t i, std::mt19937_64& rng) {
    Monitor(*monitored[i], 7, monitored[i]->july_execution, rng);
  });
  {
    // The warnings' answers are due in 10 working days (24 July): on a
    // moving clock one unit in eight answers on 3 August, late.
    std::vector<std::pair<const Project*, v1::Instance>> on_time, late;
    for (size_t i = 0; i < responding_.size(); ++i) (i % 8 == 5 ? late : on_time).push_back(responding_[i]);
    SetClock(7, 20);
    Phase("warning responses", on_time.size(), [&](size_t i, std::mt19937_64& rng) {
      Explain(*on_time[i].first, on_time[i].second, rng);
    });
    SetClock(8, 3);
    Phase("warning responses, late", late.size(), [&](size_t i, std::mt19937_64& rng) {
      Explain(*late[i].first, late[i].second, rng);
    });
  }
  std::map<std::string, const Project*> by_code;
  for (const Project& p : county_.projects) by_code[p.code] = &p;
  std::vector<const Project*> follow_up;
  for (const std::string& code : warned_) follow_up.push_back(by_code[code]);
  SetClock(10, 12);
  Phase("monitoring, October follow-up", follow_up.size(), [&](size_t i, std::mt19937_64& rng) {
    // Most warned projects catch up (time progress 83 %: 60 % of it is 50 %).
    std::uniform_real_distribution<double> u01(0, 1);
    const double e = u01(rng) < 0.7 ? 0.67 + 0.3 * u01(rng) : 0.2 + 0.45 * u01(rng);
    Monitor(*follow_up[i], 10, e, rng);
  });
  std::vector<const Project*> evaluated;
  for (const Project& p : county_.projects) {
    if (p.self_evaluated && !p.overall) evaluated.push_back(&p);
  }
  SetClock(12, 1);
  Phase("self-evaluation", evaluated.size(),
        [&](size_t i, std::mt19937_64& rng) { SelfEvaluate(*evaluated[i], rng); });
  std::mt19937_64 rng(o_.seed);
  SetClock(12, 7);
  if (!failed_) KeyEvaluations(rng);
  // 部门评价: one department in fifteen evaluates its largest unit project.
  std::vector<const Project*> department_evaluated;
  {
    std::map<std::string, const Project*> largest;
    for (const Project& p : county_.projects) {
      if (p.overall) continue;
      const Project*& l = largest[p.unit.substr(0, 3)];
      if (l == nullptr || p.budget > l->budget) l = &p;
    }
    size_t n = 0;
    for (const auto& [dept, p] : largest) {
      if (n++ % 15 == 0) department_evaluated.push_back(p);
    }
  }
  Phase("department evaluations (部门评价)", department_evaluated.size(),
        [&](size_t i, std::mt19937_64& r) { DepartmentEvaluation(*department_evaluated[i], r); });
  // Next year's new projects: ex-ante assessment, one per 3–4 departments.
  Phase("ex-ante (next year)", std::max<size_t>(1, county_.departments.size() * 2 / 7),
        [&](size_t i, std::mt19937_64& r) { ExAnte(i, r); });
  // Next year's filings: every project graded 中 or 差 in its self-evaluation
  // and one in twenty of the others continue; the ex-ante projects are new.
  std::vector<NextYearFiling> next_year;
  {
    size_t n = 0;
    for (const Project* p : evaluated) {
      auto g = self_grades_.find(p->code);
      if (g == self_grades_.end()) continue;
      if (g->second == "中" || g->second == "差" || n++ % 20 == 0) {
        next_year.push_back({std::to_string(year_ + 1) + p->code.substr(4), p->code, p->unit, p->budget});
      }
    }
    for (const auto& [subject, unit] : new_projects_) next_year.push_back({subject, "", unit, 3000000});
  }
  SetClock(12, 15);
  Phase("next year's filings (下年度申报)", next_year.size(),
        [&](size_t i, std::mt19937_64& r) { NextYear(next_year[i], r); });
  SetClock(12, 28);
  Phase("assessment (考核)", county_.departments.size(),
        [&](size_t i, std::mt19937_64& r) { Assess(county_.departments[i], r); });
  if (failed_) {
    std::cerr << "county_sim: " << error_ << "\n";
    return 1;
  }
  const int rc = PrintReport();
  std::fprintf(stderr, "county_sim: done in %.1f s\n",
               std::chrono::duration<double>(Clock::now() - start).count());
  if (failed_) std::cerr << "county_sim: " << error_ << "\n";
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const char* s = std::getenv("BPM_SERVER")) o.server = s;
  CLI::App app{"county_sim: one county's budget-performance year through bpmd"};
  app.add_option("--server", o.server, "bpmd address HOST:PORT")->capture_default_str();
  app.add_option("--departments", o.departments, "Departments (主管部门)")
      ->check(CLI::Range(1, 500))->capture_default_str();
  app.add_option("--seed", o.seed, "Random seed of the generator and the people")->capture_default_str();
  app.add_option("--clients", o.clients, "Projects worked on at once")->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--key-evaluations", o.key_evaluations, "Key evaluations (the largest projects)")
      ->check(CLI::Range(0, 500))->capture_default_str();
  app.add_option("--agency-client", o.agency_client,
                 "The example agency program (default: agency_client beside this program)");
  app.add_option("--clock-file", o.clock_file,
                 "The file bpmd reads its time from (bpmd --test-clock-file): the simulation then "
                 "moves bpmd through the year, and some units rectify after their deadline");
  app.add_option("--csv", o.csv, "Also write the full report as CSV");
  app.add_option("--xlsx", o.xlsx, "Also write the full report as XLSX");
  CLI11_PARSE(app, argc, argv);
  if (o.agency_client.empty()) {
    std::string self = argv[0];
    const size_t slash = self.rfind('/');
    o.agency_client = (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) + "/agency_client";
  }
  if (o.key_evaluations > 0 && access(o.agency_client.c_str(), X_OK) != 0) {
    std::cerr << "county_sim: --agency-client " << o.agency_client << " is not an executable\n";
    return 2;
  }
  std::mt19937_64 rng(o.seed);
  County county = Generate(o, rng);
  Sim sim(o, std::move(county));
  return sim.Run();
}
