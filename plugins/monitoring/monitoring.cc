// Stage "monitoring" (绩效运行监控, DOMAIN.md §5.3, §7): the unit reports a
// round's budget execution and indicator progress; the stage lights them
// exactly (core/perf/rules.h) and runs the warning's response.
//
// Config:
//   assignee               who reports; default {role: unit_filer, org: "${org}"}
//   title                  task title; default "绩效运行监控"
//   month                  the round's month (1..12); else payload.month
//   budget_rule            {kind: ratio | milestones | gap, red_below, yellow_below,
//                           milestones: [{month, rate}], gap_red, gap_yellow,
//                           min_budget}; defaults: ratio 60/80, 川财绩〔2025〕10号
//                           milestones, 20/10 pp, 500,000 yuan
//   indicator_rule         {red_below, yellow_below, blue_from}; default 60/80/120
//   response_working_days  days the unit has to answer a warning; default 10
//
// Enter opens task "monitor" (action submit). Payload:
//   month       1..12 (unless config.month)
//   budget      adjusted annual budget (yuan); executed: spent so far (yuan)
//   indicators  [{name, operator ≥ ＞ ＝ ＜ ≤ 定性, target and actual (to date),
//                 or grade (定性: 达成目标 | 部分达成目标并具有一定效果 |
//                 未达成目标且效果较差), likelihood (确定能 | 有可能 | 完全不可能),
//                 deviation_reason (required when the indicator is red or yellow)}]
// With variables.approved_targets (bpmd attaches the project's targets in
// force at start when the workflow declares that variable), only approved
// indicators are reported, each against its approved operator and target (a
// target may be left out: the approved one is used); approved indicators the
// round leaves out are listed in monitoring.unreported.
// The project's light is the worst of the budget light and the indicator
// lights (red > yellow > green > blue); 完全不可能 makes it red. A project that
// spent nothing is flagged (zero_spend). variables.monitoring records it all.
//   green, blue, none  outcome "on_track"
//   yellow, red        variables.warning = {status: raised, light, month}; task
//                      "warning_response" due in response_working_days, action
//                      explain {reason_category: 经费保障 | 制度保障 | 人员保障 |
//                      硬件条件保障 | 其他, measures, forecast_rate (0–100)} ->
//                      warning.status explained, outcome "explained". Past its due
//                      time the warning turns overdue (status overdue), and the
//                      task stays open; an explanation after the due time is
//                      recorded as late (warning.late).
#include <map>
#include <set>
#include <string>
#include <vector>

#include "bpm/plugin/sdk.h"
#include "core/perf/rules.h"
#include "plugins/perf_values/perf_values.h"

namespace bpm::plugins::monitoring {
namespace {

using namespace ::bpm::plugin;  // NOLINT(build/namespaces): SDK vocabulary
using ::bpm::perf::Decimal;
using ::bpm::perf::Light;
using ::bpm::plugins::perf_values::ConfigNumber;
using ::bpm::plugins::perf_values::ToDecimal;

constexpr char kSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "assignee": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "role": {"type": "string", "minLength": 1, "default": "unit_filer"},
        "org": {"type": "string", "default": "${org}"},
        "user": {"type": "string", "minLength": 1}
      }
    },
    "title": {"type": "string", "default": "绩效运行监控"},
    "month": {"type": "integer", "minimum": 1, "maximum": 12},
    "budget_rule": {"type": "object"},
    "indicator_rule": {"type": "object"},
    "response_working_days": {"type": "integer", "minimum": 1, "maximum": 60, "default": 10}
  }
})json";

const std::vector<std::string> kReasonCategories = {"经费保障", "制度保障", "人员保障",
                                                    "硬件条件保障", "其他"};
const std::vector<std::string> kLikelihoods = {"确定能", "有可能", "完全不可能"};

perf::BudgetRule BudgetRuleOf(const Struct& config) {
  perf::BudgetRule r;
  const Struct rule = StructOr(config, "budget_rule");
  const std::string kind = StringOr(rule, "kind", "ratio");
  r.kind = kind == "milestones" ? perf::BudgetRule::Kind::kMilestones
           : kind == "gap"      ? perf::BudgetRule::Kind::kGap
                                : perf::BudgetRule::Kind::kRatio;
  r.red_below = ConfigNumber(config, "budget_rule", "red_below", r.red_below);
  r.yellow_below = ConfigNumber(config, "budget_rule", "yellow_below", r.yellow_below);
  r.gap_red = ConfigNumber(config, "budget_rule", "gap_red", r.gap_red);
  r.gap_yellow = ConfigNumber(config, "budget_rule", "gap_yellow", r.gap_yellow);
  r.min_budget = ConfigNumber(config, "budget_rule", "min_budget", r.min_budget);
  if (const Value* m = Field(rule, "milestones"); m != nullptr && m->kind_case() == Value::kListValue) {
    r.milestones.clear();
    for (const Value& item : m->list_value().values()) {
      if (item.kind_case() != Value::kStructValue) continue;
      Decimal rate;
      std::string ignored;
      ToDecimal(Field(item.struct_value(), "rate"), &rate, &ignored);
      r.milestones.emplace_back(IntegerOr<int>(item.struct_value(), "month", 0), rate);
    }
  }
  return r;
}

perf::IndicatorRule IndicatorRuleOf(const Struct& config) {
  perf::IndicatorRule r;
  r.red_below = ConfigNumber(config, "indicator_rule", "red_below", r.red_below);
  r.yellow_below = ConfigNumber(config, "indicator_rule", "yellow_below", r.yellow_below);
  r.blue_from = ConfigNumber(config, "indicator_rule", "blue_from", r.blue_from);
  return r;
}

void CheckRuleNumbers(const Struct& config, const std::string& section,
                      const std::vector<std::string>& keys, std::vector<pb::ConfigError>* errors) {
  const Value* v = TypedField(config, section, Value::kStructValue, "", errors);
  if (v == nullptr) return;
  for (const std::string& key : keys) {
    const Value* n = Field(v->struct_value(), key);
    if (n == nullptr) continue;
    Decimal d;
    std::string error;
    if (n->kind_case() != Value::kNumberValue || !ToDecimal(n, &d, &error) || d < Decimal()) {
      AddError(errors, JoinPath(section, key), "must be a number, 0 or more, at most 4 decimals.");
    }
  }
}

class MonitoringStage : public Stage {
 public:
  static constexpr bool kVariablesByName = true;  // reads them through Vars()

  pb::DescribeResponse Describe() const override {
    pb::DescribeResponse d;
    d.set_name("monitoring");
    d.set_version("1.0.0");
    d.set_description(
        "绩效运行监控：填报预算执行与指标进度，自动亮灯（红/黄/绿/蓝），预警须在期限内说明。"
        " Budget execution and indicator progress lit red/yellow/green/blue; a warning must be"
        " answered in time.");
    AddAction(&d, "submit", "提交监控情况 / report the round");
    AddAction(&d, "explain", "预警说明与整改措施 / answer the warning");
    d.add_outcomes("on_track");
    d.add_outcomes("explained");
    d.set_config_schema_json(kSchema);
    return d;
  }

  void ValidateConfig(const Struct& config,
                      std::vector<pb::ConfigError>* errors) const override {
    CheckKnownKeys(config, "",
                   {"assignee", "title", "month", "budget_rule", "indicator_rule",
                    "response_working_days"},
                   errors);
    ValidateAssignee(config, "assignee", errors);
    TypedField(config, "title", Value::kStringValue, "", errors);
    CheckIntegerInRange(config, "month", "", 1, 12, errors);
    CheckIntegerInRange(config, "response_working_days", "", 1, 60, errors);
    CheckRuleNumbers(config, "budget_rule",
                     {"red_below", "yellow_below", "gap_red", "gap_yellow", "min_budget"}, errors);
    if (const Value* b = Field(config, "budget_rule");
        b != nullptr && b->kind_case() == Value::kStructValue) {
      CheckKnownKeys(b->struct_value(), "budget_rule",
                     {"kind", "red_below", "yellow_below", "milestones", "gap_red", "gap_yellow",
                      "min_budget"},
                     errors);
      const std::string kind = StringOr(b->struct_value(), "kind", "ratio");
      if (kind != "ratio" && kind != "milestones" && kind != "gap") {
        AddError(errors, "budget_rule.kind", "must be one of ratio, milestones, gap.");
      }
      if (const Value* m = Field(b->struct_value(), "milestones")) {
        if (m->kind_case() != Value::kListValue) {
          AddError(errors, "budget_rule.milestones", "must be a list of {month, rate}.");
        } else {
          for (int i = 0; i < m->list_value().values_size(); ++i) {
            const Value& item = m->list_value().values(i);
            const std::string path = IndexPath("budget_rule.milestones", i);
            if (item.kind_case() != Value::kStructValue) {
              AddError(errors, path, "must be {month, rate}.");
              continue;
            }
            CheckKnownKeys(item.struct_value(), path, {"month", "rate"}, errors);
            CheckIntegerInRange(item.struct_value(), "month", path, 1, 12, errors);
            Decimal rate;
            std::string error;
            if (!ToDecimal(Field(item.struct_value(), "rate"), &rate, &error) ||
                rate < Decimal() || rate > Decimal::FromInt(100)) {
              AddError(errors, JoinPath(path, "rate"), "must be a percentage from 0 to 100.");
            }
          }
        }
      }
    }
    CheckRuleNumbers(config, "indicator_rule", {"red_below", "yellow_below", "blue_from"}, errors);
    if (const Value* r = Field(config, "indicator_rule");
        r != nullptr && r->kind_case() == Value::kStructValue) {
      CheckKnownKeys(r->struct_value(), "indicator_rule", {"red_below", "yellow_below", "blue_from"},
                     errors);
    }
  }

  pb::Decision Enter(const pb::EnterRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    pb::Decision d = Accept();
    // Re-entry while a warning is open re-opens its response; else the report.
    const Struct warning = StructOr(Vars(ctx), "warning");
    if (request.reentry() && StringOr(warning, "status", "") != "" &&
        StringOr(warning, "status", "") != "explained") {
      *d.add_open_tasks() = ResponseTask(ctx);
    } else {
      *d.add_open_tasks() = MakeTask("monitor", StringOr(ctx.config(), "title", "绩效运行监控"),
                                     Unit(ctx), {"submit"});
    }
    return d;
  }

  pb::Decision Act(const pb::ActRequest& request) const override {
    if (request.task().name() == "monitor" && request.action() == "submit") return Submit(request);
    if (request.task().name() == "warning_response" && request.action() == "explain") {
      return Explain(request);
    }
    return RejectUnknownAction(request);
  }

  pb::Decision OnTimer(const pb::TimerRequest& request) const override {
    if (request.timer() != "overdue" || request.task().name() != "warning_response") {
      return Accept();
    }
    Struct warning = StructOr(Vars(request.context()), "warning");
    auto& f = *warning.mutable_fields();
    f["status"] = StringValue("overdue");
    f["overdue_at_unix_ms"] = NumberValue(static_cast<double>(request.context().now_unix_ms()));
    pb::Decision d = Accept();
    (*d.mutable_set_variables()->mutable_fields())["warning"] = StructValue(std::move(warning));
    d.set_note("warning not answered in time: overdue (逾期未说明)");
    return d;
  }

 private:
  static Assignee Unit(const pb::StageContext& ctx) {
    return ResolveAssignee(ctx, "assignee", {"unit_filer", "${org}", ""});
  }

  static pb::TaskSpec ResponseTask(const pb::StageContext& ctx) {
    pb::TaskSpec t = MakeTask("warning_response", "预警说明与整改措施", Unit(ctx), {"explain"});
    t.mutable_due()->set_working_days(
        static_cast<int32_t>(NumberOr(ctx.config(), "response_working_days", 10)));
    t.set_overdue_timer(true);
    return t;
  }

  pb::Decision Submit(const pb::ActRequest& request) const {
    const pb::StageContext& ctx = request.context();
    const Struct& config = ctx.config();
    const Struct& payload = request.payload();
    pb::Decision bad;
    RejectUnknownFields(payload, "payload", {"month", "budget", "executed", "indicators"}, &bad);
    int month = IntegerOr<int>(config, "month", 0);
    if (month == 0) {
      const Value* m = Field(payload, "month");
      if (m == nullptr || m->kind_case() != Value::kNumberValue || !IsInteger(m->number_value()) ||
          m->number_value() < 1 || m->number_value() > 12) {
        AddRejection(&bad, "payload.month", "must be the round's month, 1 to 12");
      } else {
        month = static_cast<int>(m->number_value());
      }
    } else if (Field(payload, "month") != nullptr &&
               NumberOr(payload, "month", 0) != static_cast<double>(month)) {
      AddRejection(&bad, "payload.month", "this round is month " + std::to_string(month));
    }
    auto amount = [&](const std::string& key, Decimal* out) {
      std::string error;
      if (!ToDecimal(Field(payload, key), out, &error)) {
        AddRejection(&bad, "payload." + key, error);
      } else if (*out < Decimal()) {
        AddRejection(&bad, "payload." + key, "must not be negative");
      }
    };
    Decimal budget, executed;
    amount("budget", &budget);
    amount("executed", &executed);
    const Value* list = Field(payload, "indicators");
    if (list == nullptr || list->kind_case() != Value::kListValue ||
        list->list_value().values_size() == 0) {
      AddRejection(&bad, "payload.indicators", "must be a non-empty list of indicators");
    }
    if (bad.rejections_size() > 0) return bad;

    // The approved targets in force, when bpmd attached them at start
    // (variables.approved_targets, for a workflow that declares it).
    std::map<std::string, const Struct*> approved;
    double approved_number = 0;
    std::string approved_version;  // as text, for messages
    if (const Value* a = Field(Vars(ctx), "approved_targets");
        a != nullptr && a->kind_case() == Value::kStructValue) {
      approved_number = NumberOr(a->struct_value(), "version", 0);
      approved_version = std::to_string(static_cast<int>(approved_number));
      if (const Value* rows = Field(a->struct_value(), "indicators");
          rows != nullptr && rows->kind_case() == Value::kListValue) {
        for (const Value& row : rows->list_value().values()) {
          if (row.kind_case() != Value::kStructValue) continue;
          approved[StringOr(row.struct_value(), "name", "")] = &row.struct_value();
        }
      }
    }
    std::set<std::string> reported;

    const perf::IndicatorRule indicator_rule = IndicatorRuleOf(config);
    std::vector<Light> lights;
    bool impossible = false;
    ListValue rows;
    const auto& values = list->list_value().values();
    for (int i = 0; i < values.size(); ++i) {
      const std::string path = IndexPath("payload.indicators", i);
      if (values[i].kind_case() != Value::kStructValue) {
        AddRejection(&bad, path, "must be an object");
        continue;
      }
      const Struct& ind = values[i].struct_value();
      RejectUnknownFields(ind, path,
                          {"name", "level1", "level2", "operator", "target", "actual", "unit",
                           "grade", "likelihood", "deviation_reason"},
                          &bad);
      const std::string name = StringOr(ind, "name", "");
      if (Trim(name).empty()) AddRejection(&bad, JoinPath(path, "name"), "is required");
      const Struct* approved_row = nullptr;
      if (!approved.empty()) {
        auto it = approved.find(name);
        if (it == approved.end()) {
          AddRejection(&bad, JoinPath(path, "name"),
                       "'" + name + "' is not an indicator of the approved targets (version " +
                           approved_version + ")");
          continue;
        }
        approved_row = it->second;
        if (!reported.insert(name).second) {
          AddRejection(&bad, JoinPath(path, "name"), "'" + name + "' is reported twice");
          continue;
        }
      }
      auto op = perf::ParseOperator(
          StringOr(ind, "operator", approved_row ? StringOr(*approved_row, "operator", "") : ""),
          "operator");
      if (!op.ok()) {
        AddRejection(&bad, JoinPath(path, "operator"),
                     std::string(op.status().message().substr(10)));
        continue;
      }
      if (approved_row != nullptr && Field(ind, "operator") != nullptr) {
        auto approved_op = perf::ParseOperator(StringOr(*approved_row, "operator", ""), "operator");
        if (!approved_op.ok() || *approved_op != *op) {
          AddRejection(&bad, JoinPath(path, "operator"),
                       "is not the approved operator " + StringOr(*approved_row, "operator", "") +
                           " (version " + approved_version + ")");
          continue;
        }
      }
      StatusOr<Light> light;
      if (*op == perf::Operator::kQualitative) {
        light = perf::QualitativeLight(StringOr(ind, "grade", ""));
        if (!light.ok()) {
          AddRejection(&bad, JoinPath(path, "grade"), std::string(light.status().message().substr(7)));
          continue;
        }
      } else {
        Decimal target, actual;
        std::string error;
        const Value* given = Field(ind, "target");
        if (!ToDecimal(given != nullptr || approved_row == nullptr ? given
                                                                   : Field(*approved_row, "target"),
                       &target, &error)) {
          AddRejection(&bad, JoinPath(path, "target"), error);
          continue;
        }
        if (approved_row != nullptr && given != nullptr) {
          Decimal approved_target;
          if (!ToDecimal(Field(*approved_row, "target"), &approved_target, &error) ||
              !(approved_target == target)) {
            AddRejection(&bad, JoinPath(path, "target"),
                         target.ToString() + " is not the approved target " +
                             StringOr(*approved_row, "target", "") + " (version " +
                             approved_version + "); leave it out or report the approved one");
            continue;
          }
        }
        if (!ToDecimal(Field(ind, "actual"), &actual, &error)) {
          AddRejection(&bad, JoinPath(path, "actual"), error);
          continue;
        }
        light = perf::IndicatorLight(*op, target, actual, month, indicator_rule);
        if (!light.ok()) {
          AddRejection(&bad, path, std::string(light.status().message()));
          continue;
        }
      }
      const std::string likelihood = StringOr(ind, "likelihood", "");
      if (!likelihood.empty() &&
          std::find(kLikelihoods.begin(), kLikelihoods.end(), likelihood) == kLikelihoods.end()) {
        AddRejection(&bad, JoinPath(path, "likelihood"),
                     "must be one of " + JoinStrings(kLikelihoods, ", "));
      }
      impossible = impossible || likelihood == "完全不可能";
      const std::string reason = Trim(StringOr(ind, "deviation_reason", ""));
      if ((*light == Light::kRed || *light == Light::kYellow) && reason.empty()) {
        AddRejection(&bad, JoinPath(path, "deviation_reason"),
                     std::string("is required for a ") + perf::LightName(*light) +
                         " indicator (偏差原因)");
      }
      lights.push_back(*light);
      Struct row;
      auto& f = *row.mutable_fields();
      f["name"] = StringValue(name);
      f["light"] = StringValue(perf::LightName(*light));
      if (!reason.empty()) f["deviation_reason"] = StringValue(reason);
      if (!likelihood.empty()) f["likelihood"] = StringValue(likelihood);
      *rows.add_values() = StructValue(std::move(row));
    }
    if (bad.rejections_size() > 0) return bad;
    ListValue unreported;  // approved indicators this round left out, for finance
    for (const auto& [name, row] : approved) {
      if (!reported.count(name)) *unreported.add_values() = StringValue(name);
    }
    auto budget_light = perf::BudgetLight(BudgetRuleOf(config), month, executed, budget);
    if (!budget_light.ok()) return Reject("payload", std::string(budget_light.status().message()));
    const Light goal_light = perf::Worst(lights);
    Light light = perf::Worst({*budget_light, goal_light});
    if (impossible) light = Light::kRed;

    Struct record;
    auto& f = *record.mutable_fields();
    f["month"] = NumberValue(month);
    f["budget"] = StringValue(budget.ToString());
    f["executed"] = StringValue(executed.ToString());
    f["budget_light"] = StringValue(perf::LightName(*budget_light));
    f["goal_light"] = StringValue(perf::LightName(goal_light));
    f["light"] = StringValue(perf::LightName(light));
    f["zero_spend"] = BoolValue(executed.is_zero());
    *f["indicators"].mutable_list_value() = std::move(rows);
    if (!approved.empty()) {
      f["targets_version"] = NumberValue(approved_number);
      *f["unreported"].mutable_list_value() = std::move(unreported);
    }
    f["by"] = StringValue(ctx.actor().user());
    f["at_unix_ms"] = NumberValue(static_cast<double>(ctx.now_unix_ms()));

    const bool warned = light == Light::kRed || light == Light::kYellow;
    pb::Decision d = Accept(warned ? "" : "on_track");
    auto& vars = *d.mutable_set_variables()->mutable_fields();
    vars["monitoring"] = StructValue(std::move(record));
    std::string note = std::string("month ") + std::to_string(month) + ": " +
                       perf::LightName(light) + " (budget " + perf::LightName(*budget_light) +
                       ", goals " + perf::LightName(goal_light) + ")";
    if (warned) {
      Struct warning;
      auto& w = *warning.mutable_fields();
      w["status"] = StringValue("raised");
      w["light"] = StringValue(perf::LightName(light));
      w["month"] = NumberValue(month);
      w["raised_at_unix_ms"] = NumberValue(static_cast<double>(ctx.now_unix_ms()));
      vars["warning"] = StructValue(std::move(warning));
      *d.add_open_tasks() = ResponseTask(ctx);
      note += "; warning raised";
    }
    d.set_note(note);
    return d;
  }

  pb::Decision Explain(const pb::ActRequest& request) const {
    const pb::StageContext& ctx = request.context();
    const Struct& payload = request.payload();
    pb::Decision bad;
    RejectUnknownFields(payload, "payload", {"reason_category", "measures", "forecast_rate"}, &bad);
    const std::string category = StringOr(payload, "reason_category", "");
    if (std::find(kReasonCategories.begin(), kReasonCategories.end(), category) ==
        kReasonCategories.end()) {
      AddRejection(&bad, "payload.reason_category",
                   "must be one of " + JoinStrings(kReasonCategories, ", "));
    }
    const std::string measures = Trim(StringOr(payload, "measures", ""));
    if (measures.empty()) AddRejection(&bad, "payload.measures", "is required (整改措施)");
    const Value* forecast = Field(payload, "forecast_rate");
    if (forecast != nullptr &&
        (forecast->kind_case() != Value::kNumberValue || !(forecast->number_value() >= 0) ||
         forecast->number_value() > 100)) {
      AddRejection(&bad, "payload.forecast_rate", "must be a percentage from 0 to 100");
    }
    if (bad.rejections_size() > 0) return bad;
    Struct warning = StructOr(Vars(ctx), "warning");
    auto& w = *warning.mutable_fields();
    // Late when the overdue timer fired, or past the due time before it did
    // (timers fire on the scheduler's next tick).
    const int64_t due = request.task().due_unix_ms();
    const bool late = StringOr(warning, "status", "") == "overdue" ||
                      (due > 0 && ctx.now_unix_ms() > due);
    w["status"] = StringValue("explained");
    w["late"] = BoolValue(late);
    w["reason_category"] = StringValue(category);
    w["measures"] = StringValue(measures);
    if (forecast != nullptr) w["forecast_rate"] = *forecast;
    w["explained_by"] = StringValue(ctx.actor().user());
    w["explained_at_unix_ms"] = NumberValue(static_cast<double>(ctx.now_unix_ms()));
    pb::Decision d = Accept("explained");
    (*d.mutable_set_variables()->mutable_fields())["warning"] = StructValue(std::move(warning));
    d.set_note(std::string("warning explained (") + category + ")" + (late ? ", late" : ""));
    return d;
  }
};

}  // namespace
}  // namespace bpm::plugins::monitoring

BPM_PLUGIN_EXPORT(bpm::plugins::monitoring::MonitoringStage, "monitoring", "1.0.0")
