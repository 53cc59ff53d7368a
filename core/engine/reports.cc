// Engine::Report: the annual figures (bpm.v1.ReportService, proto/bpm/v1/perf.proto)
// counted from the instances in the caller's scope. A workflow counts by the
// stage plugins it runs, so every region's own variants are counted alike.
#include <ctime>
#include <map>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/common/json.h"
#include "core/engine/internal/convert.h"
#include "core/engine/internal/scan.h"
#include "core/engine/internal/vars.h"
#include "core/engine/engine.h"
#include "core/perf/decimal_value.h"
#include "core/perf/rules.h"
#include "core/perf/scorecard.h"

namespace bpm::engine {
namespace {

using internal::Bool;
using internal::Get;
using internal::IntIn;
using internal::Num;
using internal::Obj;
using internal::Str;
using internal::YearOf;

constexpr int kPage = 500;

struct Kinds {
  bool targets = false;         // department_submit + final_review, not an adjustment
  bool monitoring = false;
  bool self_evaluation = false;
  bool key_evaluation = false;  // agency_work (a third party) or evaluation (部门评价)
  bool adjustment = false;      // department_submit with an adjustment block (绩效目标调整)
};

Kinds KindsOf(const definition::Definition& def) {
  Kinds k;
  bool submit = false, final_review = false;
  for (const definition::State& s : def.states) {
    submit = submit || s.stage == "department_submit";
    k.adjustment = k.adjustment || (s.stage == "department_submit" &&
                                    s.config.fields().count("adjustment") > 0);
    final_review = final_review || s.stage == "final_review";
    k.monitoring = k.monitoring || s.stage == "monitoring";
    k.self_evaluation = k.self_evaluation || s.stage == "self_evaluation";
    k.key_evaluation = k.key_evaluation || s.stage == "agency_work" || s.stage == "evaluation";
  }
  // An adjustment (绩效目标调整) is a new version of targets already counted.
  k.targets = submit && final_review && !k.key_evaluation && !k.adjustment;
  return k;
}

void Count(v1::GradeCounts* g, const std::string& grade) {
  if (grade == "优") g->set_you(g->you() + 1);
  if (grade == "良") g->set_liang(g->liang() + 1);
  if (grade == "中") g->set_zhong(g->zhong() + 1);
  if (grade == "差") g->set_cha(g->cha() + 1);
}


// An amount as a Decimal: a number or a decimal string; 0 when absent.
perf::Decimal Amount(const google::protobuf::Struct& vars) {
  const google::protobuf::Value* v = Get(vars, "amount");
  if (v == nullptr) {
    if (const auto* form = Obj(vars, "form")) v = Get(*form, "amount");
  }
  if (v == nullptr) return perf::Decimal();
  StatusOr<perf::Decimal> d = perf::DecimalOf(*v, "amount");
  return d.ok() ? *d : perf::Decimal();
}

struct Acc {
  v1::ReportRow row;
  std::map<int, v1::MonitoringRound> rounds;
  perf::Decimal funds;
};

void Add(v1::GradeCounts* to, const v1::GradeCounts& g) {
  to->set_you(to->you() + g.you());
  to->set_liang(to->liang() + g.liang());
  to->set_zhong(to->zhong() + g.zhong());
  to->set_cha(to->cha() + g.cha());
}

void Merge(Acc* to, const Acc& from) {
  v1::ReportRow& t = to->row;
  const v1::ReportRow& f = from.row;
  t.set_targets_started(t.targets_started() + f.targets_started());
  t.set_targets_filed(t.targets_filed() + f.targets_filed());
  t.set_targets_reviewed(t.targets_reviewed() + f.targets_reviewed());
  t.set_targets_adjusted(t.targets_adjusted() + f.targets_adjusted());
  Add(t.mutable_target_grades(), f.target_grades());
  t.set_self_evaluations(t.self_evaluations() + f.self_evaluations());
  Add(t.mutable_self_eval_grades(), f.self_eval_grades());
  t.set_spot_sampled(t.spot_sampled() + f.spot_sampled());
  t.set_spot_flagged(t.spot_flagged() + f.spot_flagged());
  t.set_key_evaluations(t.key_evaluations() + f.key_evaluations());
  t.set_key_evaluations_done(t.key_evaluations_done() + f.key_evaluations_done());
  Add(t.mutable_key_eval_grades(), f.key_eval_grades());
  t.set_rectifications(t.rectifications() + f.rectifications());
  t.set_rectified(t.rectified() + f.rectified());
  t.set_rectified_on_time(t.rectified_on_time() + f.rectified_on_time());
  t.set_rectifications_overdue(t.rectifications_overdue() + f.rectifications_overdue());
  to->funds = perf::Decimal::FromUnits(to->funds.units() + from.funds.units());
  for (const auto& [month, r] : from.rounds) {
    v1::MonitoringRound& m = to->rounds[month];
    m.set_month(month);
    m.set_monitored(m.monitored() + r.monitored());
    m.set_in_scope(m.in_scope() + r.in_scope());
    m.set_red(m.red() + r.red());
    m.set_yellow(m.yellow() + r.yellow());
    m.set_zero_spend(m.zero_spend() + r.zero_spend());
    m.set_budget_red(m.budget_red() + r.budget_red());
    m.set_budget_yellow(m.budget_yellow() + r.budget_yellow());
    m.set_warnings(m.warnings() + r.warnings());
    m.set_warnings_explained(m.warnings_explained() + r.warnings_explained());
    m.set_warnings_late(m.warnings_late() + r.warnings_late());
  }
}

v1::ReportRow ToRow(Acc acc) {
  for (auto& [month, r] : acc.rounds) *acc.row.add_rounds() = r;
  acc.row.set_key_evaluation_funds(acc.funds.ToString());
  return std::move(acc.row);
}

}  // namespace

StatusOr<v1::GetReportResponse> Engine::Report(const v1::GetReportRequest& req,
                                               const store::OrgSet& orgs) {
  if (req.year() != 0 && (req.year() < 2000 || req.year() > 2100)) {
    return absl::InvalidArgumentError(absl::StrCat("year: ", req.year(), " is not a fiscal year (2000..2100)"));
  }
  const int64_t now = clock_.NowMillis();  // one "now" for the whole report
  std::map<std::pair<std::string, int64_t>, Kinds> kinds;
  std::map<std::string, plugin::v1::OrgRef> tops;  // org → its top department
  auto where_of = [&](const std::string& org) -> const plugin::v1::OrgRef& {
    auto [it, fresh] = tops.emplace(org, plugin::v1::OrgRef());
    if (fresh) it->second = TopDepartment(org);
    return it->second;
  };

  std::map<std::tuple<int, std::string, std::string>, Acc> rows;
  v1::GetReportResponse out;
  store::InstanceFilter f;
  f.orgs = orgs;
  BPM_RETURN_IF_ERROR(internal::ForEachInstance(store_, f, [&](const store::InstanceRow& inst) {
    auto key = std::make_pair(inst.def_key, inst.def_version);
    auto k = kinds.find(key);
    if (k == kinds.end()) {
      auto def = Compiled(inst.def_key, inst.def_version);
      k = kinds.emplace(key, def.ok() ? KindsOf(**def) : Kinds{}).first;
    }
    const Kinds& kind = k->second;
    auto vars_or = ParseJsonStruct(inst.variables_json);
    if (!vars_or.ok()) return true;
    const google::protobuf::Struct& vars = *vars_or;
    const google::protobuf::Struct* rect = Obj(vars, "rectification");
    if (!kind.targets && !kind.adjustment && !kind.monitoring && !kind.self_evaluation &&
        !kind.key_evaluation && rect == nullptr) {
      return true;
    }
    const int year = IntIn(vars, "fiscal_year", 1900, 2200, YearOf(inst.created_ms));
    if (req.year() != 0 && year != req.year()) return true;
    const plugin::v1::OrgRef& w = where_of(inst.org);
    if (!req.region().empty() && w.region() != req.region()) return true;
    if (!req.department().empty() && w.code() != req.department()) return true;
    out.set_instances(out.instances() + 1);

    Acc& acc = rows[{year, w.region(), w.code()}];
    v1::ReportRow& r = acc.row;
    if (kind.targets) {
      r.set_targets_started(r.targets_started() + 1);
      if (Get(vars, "submitted_by") != nullptr) r.set_targets_filed(r.targets_filed() + 1);
      const std::string grade = Str(vars, "grade");
      if (!grade.empty()) {
        r.set_targets_reviewed(r.targets_reviewed() + 1);
        Count(r.mutable_target_grades(), grade);
      }
    }
    if (kind.adjustment) {
      const std::string grade = Str(vars, "grade");
      if (grade == "优" || grade == "良") r.set_targets_adjusted(r.targets_adjusted() + 1);
    }
    if (const auto* m = Obj(vars, "monitoring"); kind.monitoring && m != nullptr) {
      const int month = IntIn(*m, "month", 1, 12, 0);
      v1::MonitoringRound& round = acc.rounds[month];
      round.set_month(month);
      round.set_monitored(round.monitored() + 1);
      if (Str(*m, "budget_light") != "none") round.set_in_scope(round.in_scope() + 1);
      const std::string light = Str(*m, "light");
      if (light == "red") round.set_red(round.red() + 1);
      if (light == "yellow") round.set_yellow(round.yellow() + 1);
      if (Bool(*m, "zero_spend")) round.set_zero_spend(round.zero_spend() + 1);
      const std::string budget_light = Str(*m, "budget_light");
      if (budget_light == "red") round.set_budget_red(round.budget_red() + 1);
      if (budget_light == "yellow") round.set_budget_yellow(round.budget_yellow() + 1);
      if (const auto* warning = Obj(vars, "warning")) {
        const std::string status = Str(*warning, "status");
        round.set_warnings(round.warnings() + 1);
        if (status == "explained") round.set_warnings_explained(round.warnings_explained() + 1);
        if (status == "overdue" || (status == "explained" && Bool(*warning, "late"))) {
          round.set_warnings_late(round.warnings_late() + 1);
        }
      }
    }
    if (kind.self_evaluation) {
      const std::string grade = Str(vars, "self_eval_grade");
      if (!grade.empty()) {
        r.set_self_evaluations(r.self_evaluations() + 1);
        Count(r.mutable_self_eval_grades(), grade);
      }
      if (const auto* s = Obj(vars, "spot_check"); s != nullptr && Bool(*s, "sampled")) {
        r.set_spot_sampled(r.spot_sampled() + 1);
        if (Bool(*s, "deviation_flagged")) r.set_spot_flagged(r.spot_flagged() + 1);
      }
    }
    if (kind.key_evaluation) {
      r.set_key_evaluations(r.key_evaluations() + 1);
      if (inst.status == "completed") r.set_key_evaluations_done(r.key_evaluations_done() + 1);
      const std::string grade = Str(vars, "grade");
      if (!grade.empty()) Count(r.mutable_key_eval_grades(), grade);
      acc.funds = perf::Decimal::FromUnits(acc.funds.units() + Amount(vars).units());
    }
    if (rect != nullptr) {
      r.set_rectifications(r.rectifications() + 1);
      const bool accepted = Str(*rect, "result") == "整改到位";
      const double due = Num(*rect, "due_unix_ms");
      const bool late = Bool(*rect, "overdue") ||
                        (!accepted && due > 0 && static_cast<double>(now) > due);
      if (accepted) r.set_rectified(r.rectified() + 1);
      if (accepted && !late) r.set_rectified_on_time(r.rectified_on_time() + 1);
      if (late) r.set_rectifications_overdue(r.rectifications_overdue() + 1);
    }
    return true;
  }, kPage));

  std::map<std::pair<int, std::string>, Acc> totals;
  for (auto& [k, acc] : rows) {
    const auto& [year, region, department] = k;
    acc.row.set_year(year);
    acc.row.set_region(region);
    acc.row.set_department(department);
    acc.row.set_department_name(where_of(department).name());
    Acc& t = totals[{year, region}];
    t.row.set_year(year);
    t.row.set_region(region);
    Merge(&t, acc);
    *out.add_rows() = ToRow(std::move(acc));
  }
  for (auto& [k, acc] : totals) *out.add_totals() = ToRow(std::move(acc));
  return out;
}

StatusOr<v1::GetScorecardResponse> Engine::Scorecard(const v1::GetScorecardRequest& req,
                                                     const store::OrgSet& orgs) {
  if (req.year() < 2000 || req.year() > 2100) {
    return absl::InvalidArgumentError(absl::StrCat("year: ", req.year(), " is not a fiscal year (2000..2100)"));
  }
  const std::string key = req.definition_key().empty() ? "performance-assessment" : req.definition_key();
  BPM_ASSIGN_OR_RETURN(int64_t version, CurrentVersion(key));
  if (version == 0) return absl::NotFoundError("definition_key: no workflow " + key);
  BPM_ASSIGN_OR_RETURN(auto def, Compiled(key, version));
  const definition::State* sheet_state = nullptr;
  for (const definition::State& s : def->states) {
    if (s.stage == "scorecard") sheet_state = &s;
  }
  if (sheet_state == nullptr) {
    return absl::FailedPreconditionError("workflow " + key + " has no scorecard state: no sheet to assess by");
  }
  perf::ConfigProblems ignored;  // reported at deploy
  const perf::Sheet sheet = perf::ReadSheet(sheet_state->config, &ignored);

  v1::GetReportRequest report_req;
  report_req.set_year(req.year());
  BPM_ASSIGN_OR_RETURN(v1::GetReportResponse report, Report(report_req, orgs));
  std::map<std::string, const v1::ReportRow*> figures;
  for (const auto& row : report.rows()) figures[row.department()] = &row;

  v1::GetScorecardResponse out;
  out.set_year(req.year());
  store::InstanceFilter f;
  f.orgs = orgs;
  f.def_key = key;
  std::vector<std::pair<perf::Decimal, v1::ScorecardRow>> rows;
  BPM_RETURN_IF_ERROR(internal::ForEachInstance(store_, f, [&](const store::InstanceRow& inst) {
    auto vars_or = ParseJsonStruct(inst.variables_json);
    if (!vars_or.ok()) return true;
    const auto& vars = *vars_or;
    if (IntIn(vars, "fiscal_year", 1900, 2200, YearOf(inst.created_ms)) != req.year()) return true;
    v1::ScorecardRow row;
    row.set_department(TopDepartment(inst.org).code());
    row.set_instance_id(inst.id);
    perf::DepartmentFigures fig;
    if (auto it = figures.find(row.department()); it != figures.end()) {
      const v1::ReportRow& r = *it->second;
      row.set_department_name(r.department_name());
      fig.targets_started = r.targets_started();
      fig.targets_reviewed = r.targets_reviewed();
      fig.self_evaluations = r.self_evaluations();
      fig.spot_sampled = r.spot_sampled();
      fig.spot_flagged = r.spot_flagged();
      fig.rectifications = r.rectifications();
      fig.rectified_on_time = r.rectified_on_time();
      if (r.rounds_size() > 0) {
        fig.warned_first_round = r.rounds(0).red() + r.rounds(0).yellow();
        const auto& last = r.rounds(r.rounds_size() - 1);
        fig.warned_last_round = last.red() + last.yellow();
      }
    }
    const google::protobuf::Struct* entered = nullptr;
    if (const auto* sc = Obj(vars, "scorecard")) entered = Obj(*sc, "manual");
    bool complete = true;
    int64_t total = 0;
    for (const perf::ScoreItem& item : sheet.items) {
      v1::ScorecardItem* it = row.add_items();
      it->set_id(item.id);
      it->set_name(item.name);
      it->set_max_points(item.points.ToString());
      it->set_manual(item.metric.empty());
      if (item.metric.empty()) {
        const std::string given = entered != nullptr ? Str(*entered, item.id) : "";
        auto points = perf::Decimal::Parse(given, "points");
        if (given.empty() || !points.ok()) {
          complete = false;
          continue;
        }
        it->set_points(points->ToString());
        it->set_basis("财政评分");
        total += points->units();
      } else {
        std::string basis;
        const perf::Decimal points = perf::MetricPoints(item.metric, item.points, fig, &basis);
        it->set_points(points.ToString());
        it->set_basis(basis);
        total += points.units();
      }
    }
    const perf::Decimal sum = perf::Decimal::FromUnits(total);
    row.set_total(sum.ToString());
    row.set_complete(complete);
    const std::string g = perf::Grade(sum);  // 优 良 中 差 on 90/80/60
    row.set_grade(g == "优" ? "优秀" : g == "良" ? "良好" : g == "中" ? "合格" : "不合格");
    rows.emplace_back(complete ? sum : perf::Decimal::FromUnits(-1), std::move(row));
    return true;
  }, kPage));
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first > b.first;
    return a.second.department() < b.second.department();
  });
  int rank = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    v1::ScorecardRow& row = rows[i].second;
    if (row.complete()) {
      if (i == 0 || rows[i - 1].first != rows[i].first) rank = static_cast<int>(i) + 1;
      row.set_rank(rank);
    }
    *out.add_rows() = std::move(row);
  }
  return out;
}

StatusOr<v1::ListDisclosuresResponse> Engine::ListDisclosures(
    const v1::ListDisclosuresRequest& req, const store::OrgSet& orgs) {
  if (req.year() != 0 && (req.year() < 2000 || req.year() > 2100)) {
    return absl::InvalidArgumentError(absl::StrCat("year: ", req.year(), " is not a fiscal year (2000..2100)"));
  }
  if (req.page_size() < 0 || req.page_size() > 1000) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: ", req.page_size(), " is not in 0..1000"));
  }
  const int size = req.page_size() == 0 ? 200 : req.page_size();
  int64_t after = 0;
  if (!req.page_token().empty() && (!absl::SimpleAtoi(req.page_token(), &after) || after < 0)) {
    return absl::InvalidArgumentError("page_token: '" + req.page_token() + "' is not a token this call returned");
  }
  v1::ListDisclosuresResponse out;
  store::InstanceFilter f;
  f.orgs = orgs;
  f.def_key = req.definition_key();
  bool full = false;
  while (!full) {
    BPM_ASSIGN_OR_RETURN(auto page, store_.ListInstances(f, after, kPage));
    for (const store::InstanceRow& inst : page) {
      after = inst.row_id;
      // Only instances the disclosure stage has published (variables.disclosure).
      if (inst.variables_json.find("\"disclosure\"") == std::string::npos) continue;
      BPM_ASSIGN_OR_RETURN(auto docs, store_.ListDocuments(inst.id));
      for (const auto& d : docs) {
        if (d.kind != "disclosure") continue;
        if (req.year() != 0 && YearOf(d.created_ms) != req.year()) continue;
        *out.add_documents() = internal::ToDocument(d);
      }
      // A page ends after a whole instance, so the token resumes after it.
      if (out.documents_size() >= size) {
        full = true;
        out.set_next_page_token(std::to_string(after));
        break;
      }
    }
    if (page.size() < static_cast<size_t>(kPage)) break;
  }
  return out;
}

}  // namespace bpm::engine
