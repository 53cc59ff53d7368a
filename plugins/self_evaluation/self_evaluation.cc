// Stage "self_evaluation" (绩效自评, DOMAIN.md §5.4, §6.1): the unit scores its
// project against its targets; the stage computes every score exactly
// (core/perf/rules.h) and the grade.
//
// Config:
//   assignee            who evaluates; default {role: unit_filer, org: "${org}"}
//   title               task title; default "绩效自评"
//   execution_weight    points of the budget-execution block; default 10
//   grade_bands         {excellent, good, pass}; default {90, 80, 60}
//   qualitative_bands   {achieved, partial}, % of the weight; default {80, 60}
//   mode                "unit" (default) or "department" (below)
// (a region and year set these in the workflow; numbers, at most 4 places)
//
// Enter opens task "self_evaluation" with action submit. Payload:
//   budget       全年预算数 (adjusted annual budget, yuan), ≥ 0
//   executed     全年执行数 (yuan), ≥ 0
//   indicators   non-empty list of
//                  {name, level1?, operator: ≥ ＞ ＝ ＜ ≤ 定性, weight > 0,
//                   target and actual (quantitative), or
//                   grade and score (定性: 达成年度指标 | 部分达成年度指标并具有一定效果 |
//                   未达成年度指标且效果较差, score within the grade's band)}
//   explanation  text; required when a positive indicator's actual exceeds
//                its target by 20% or more (the target may have been set low)
// Numbers are JSON numbers or decimal strings ("1,200,000.00").
// The indicator weights must add up to 100 − execution_weight. Every problem
// is a rejection naming its field (payload.indicators[2].weight: ...).
//
// Submit emits "submitted" and sets
//   variables.self_evaluation = {total, grade, execution_rate, execution_score,
//                                indicators: [{name, operator, weight, score}],
//                                by, at_unix_ms, explanation}
//   variables.self_eval_score (number) and variables.self_eval_grade (优/良/中/差)
// so transitions can route on them ({var: self_eval_score, lt: 60}).
//
// Mode "department" (部门复核): the competent department reviews the unit's
// self-evaluation in its own state. Enter opens task "department_review"
// (default assignee {role: authority_reviewer}, title "主管部门审核自评") with
//   approve   the unit's score stands; outcome "approved"
//   return    back to the unit (a comment is required); outcome "returned"
//   rescore   the department scores again: the payload of submit plus a
//             required reason; the same rules score it, and its total and
//             grade become self_eval_score and self_eval_grade (the score
//             of record the spot check and the report use), with
//             variables.department_rescore = {total, grade, unit_total,
//             unit_grade, reason, by, at_unix_ms, indicators, ...};
//             outcome "approved"
#include <string>
#include <vector>

#include "bpm/plugin/sdk.h"
#include "core/perf/rules.h"
#include "plugins/perf_values/perf_values.h"

namespace bpm::plugins::self_evaluation {
namespace {

using namespace ::bpm::plugin;  // NOLINT(build/namespaces): SDK vocabulary
using ::bpm::perf::Decimal;
using ::bpm::plugins::perf_values::CheckConfigNumber;
using ::bpm::plugins::perf_values::CheckGradeBands;
using ::bpm::plugins::perf_values::ConfigNumber;
using ::bpm::plugins::perf_values::GradeBandsOf;
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
    "title": {"type": "string", "default": "绩效自评"},
    "execution_weight": {"type": "number", "minimum": 0, "maximum": 100, "default": 10},
    "grade_bands": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "excellent": {"type": "number", "default": 90},
        "good": {"type": "number", "default": 80},
        "pass": {"type": "number", "default": 60}
      }
    },
    "qualitative_bands": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "achieved": {"type": "number", "default": 80},
        "partial": {"type": "number", "default": 60}
      }
    }
  }
})json";

class SelfEvaluationStage : public Stage {
 public:
  static constexpr bool kVariablesByName = true;  // reads them through Vars()

  pb::DescribeResponse Describe() const override {
    pb::DescribeResponse d;
    d.set_name("self_evaluation");
    d.set_version("1.0.0");
    d.set_description(
        "绩效自评：按指标计分、预算执行率计分并评定等级。"
        " The unit scores each indicator and budget execution; the stage grades the total.");
    AddAction(&d, "submit", "提交自评 / submit the self-evaluation");
    AddAction(&d, "approve", "主管部门认可自评 / the department approves the unit's score");
    AddAction(&d, "rescore", "主管部门复核评分 / the department scores again, with a reason");
    AddAction(&d, "return", "退回单位 / return to the unit");
    d.add_outcomes("submitted");
    d.add_outcomes("approved");
    d.add_outcomes("returned");
    d.set_config_schema_json(kSchema);
    return d;
  }

  void ValidateConfig(const Struct& config,
                      std::vector<pb::ConfigError>* errors) const override {
    CheckKnownKeys(config, "",
                   {"assignee", "title", "execution_weight", "grade_bands", "qualitative_bands",
                    "mode"},
                   errors);
    if (const Value* mode = TypedField(config, "mode", Value::kStringValue, "", errors);
        mode != nullptr && mode->string_value() != "unit" && mode->string_value() != "department") {
      AddError(errors, "mode", "must be \"unit\" or \"department\", not \"" + mode->string_value() + "\".");
    }
    ValidateAssignee(config, "assignee", errors);
    TypedField(config, "title", Value::kStringValue, "", errors);
    CheckConfigNumber(config, "execution_weight", "", errors);
    CheckGradeBands(config, errors);
    if (TypedField(config, "qualitative_bands", Value::kStructValue, "", errors) != nullptr) {
      CheckKnownKeys(Field(config, "qualitative_bands")->struct_value(), "qualitative_bands",
                     {"achieved", "partial"}, errors);
      for (const char* k : {"achieved", "partial"}) {
        CheckConfigNumber(config, "qualitative_bands", k, errors);
      }
      const auto q = Qualitative(config);
      if (!(q.partial <= q.achieved)) {
        AddError(errors, "qualitative_bands", "must satisfy partial ≤ achieved.");
      }
    }
  }

  pb::Decision Enter(const pb::EnterRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    pb::Decision d = Accept();
    if (Department(ctx.config())) {
      Assignee who = ResolveAssignee(ctx, "assignee", {"authority_reviewer", "", ""});
      *d.add_open_tasks() =
          MakeTask("department_review", StringOr(ctx.config(), "title", "主管部门审核自评"), who,
                   {"approve", "rescore", "return"});
      return d;
    }
    Assignee who = ResolveAssignee(ctx, "assignee", {"unit_filer", "${org}", ""});
    *d.add_open_tasks() = MakeTask("self_evaluation",
                                   StringOr(ctx.config(), "title", "绩效自评"), who, {"submit"});
    return d;
  }

  pb::Decision Act(const pb::ActRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    const std::string& action = request.action();
    if (Department(ctx.config())) {
      if (request.task().name() != "department_review" ||
          (action != "approve" && action != "rescore" && action != "return")) {
        return RejectUnknownAction(request);
      }
      if (action == "return") {
        if (Trim(request.comment()).empty()) {
          return Reject("comment", "a return needs a comment (退回须填写意见)");
        }
        pb::Decision d = Accept("returned");
        d.set_note("self-evaluation returned by " + ctx.actor().user());
        return d;
      }
      if (action == "approve") {
        pb::Decision d = Accept("approved");
        d.set_note("self-evaluation approved by " + ctx.actor().user() + " at the unit's score");
        return d;
      }
      return Score(ctx, request.payload(), /*rescore=*/true);
    }
    if (request.task().name() != "self_evaluation" || action != "submit") {
      return RejectUnknownAction(request);
    }
    return Score(ctx, request.payload(), /*rescore=*/false);
  }

 private:
  static bool Department(const Struct& config) { return StringOr(config, "mode", "unit") == "department"; }

  // Scores a submit (or the department's rescore) exactly: the decision.
  pb::Decision Score(const pb::StageContext& ctx, const Struct& payload, bool rescore) const {
    const Struct& config = ctx.config();
    pb::Decision bad;
    std::vector<std::string> known = {"budget", "executed", "indicators", "explanation"};
    if (rescore) known.push_back("reason");
    RejectUnknownFields(payload, "payload", known, &bad);
    const std::string reason = Trim(StringOr(payload, "reason", ""));
    if (rescore && reason.empty()) {
      AddRejection(&bad, "payload.reason", "is required: why the department scores differently (复核理由)");
    }
    auto number = [&](const Struct& s, const std::string& key, const std::string& path,
                      Decimal* out) {
      std::string error;
      if (!ToDecimal(Field(s, key), out, &error)) {
        AddRejection(&bad, path, error);
        return false;
      }
      if (*out < Decimal()) {
        AddRejection(&bad, path, "must not be negative");
        return false;
      }
      return true;
    };
    Decimal budget, executed;
    number(payload, "budget", "payload.budget", &budget);
    number(payload, "executed", "payload.executed", &executed);
    const Value* list = Field(payload, "indicators");
    if (list == nullptr || list->kind_case() != Value::kListValue ||
        list->list_value().values_size() == 0) {
      AddRejection(&bad, "payload.indicators", "must be a non-empty list of indicators");
      return bad;
    }
    const Decimal exec_weight = ConfigNumber(config, "", "execution_weight", Decimal::FromInt(10));
    const perf::QualitativeBands qual = Qualitative(config);
    const std::string explanation = Trim(StringOr(payload, "explanation", ""));

    std::vector<perf::ScoredIndicator> scored;
    ListValue rows;
    int64_t weight_units = 0;
    bool over_target = false;
    const auto& values = list->list_value().values();
    for (int i = 0; i < values.size(); ++i) {
      const std::string path = IndexPath("payload.indicators", i);
      if (values[i].kind_case() != Value::kStructValue) {
        AddRejection(&bad, path, "must be an object");
        continue;
      }
      const Struct& ind = values[i].struct_value();
      RejectUnknownFields(ind, path,
                          {"name", "level1", "level2", "operator", "weight", "target", "actual",
                           "grade", "score", "unit"},
                          &bad);
      const std::string name = StringOr(ind, "name", "");
      if (Trim(name).empty()) AddRejection(&bad, JoinPath(path, "name"), "is required");
      auto op = perf::ParseOperator(StringOr(ind, "operator", ""), JoinPath(path, "operator"));
      if (!op.ok()) {
        AddRejection(&bad, JoinPath(path, "operator"),
                     std::string(op.status().message().substr(JoinPath(path, "operator").size() + 2)));
        continue;
      }
      Decimal weight;
      if (!number(ind, "weight", JoinPath(path, "weight"), &weight)) continue;
      if (weight.is_zero()) {
        AddRejection(&bad, JoinPath(path, "weight"), "must be greater than 0");
        continue;
      }
      weight_units += weight.units();
      Decimal score;
      if (*op == perf::Operator::kQualitative) {
        const std::string grade = StringOr(ind, "grade", "");
        if (!number(ind, "score", JoinPath(path, "score"), &score)) continue;
        Status s = perf::CheckQualitativeScore(grade, score, weight, qual);
        if (!s.ok()) {
          const std::string msg(s.message());
          const bool is_grade = msg.rfind("grade: ", 0) == 0;
          AddRejection(&bad, JoinPath(path, is_grade ? "grade" : "score"),
                       msg.substr(msg.find(": ") + 2));
          continue;
        }
      } else {
        Decimal target, actual;
        if (!number(ind, "target", JoinPath(path, "target"), &target)) continue;
        std::string error;
        if (!ToDecimal(Field(ind, "actual"), &actual, &error)) {
          AddRejection(&bad, JoinPath(path, "actual"), error);
          continue;
        }
        auto s = perf::IndicatorScore(*op, target, actual, weight);
        if (!s.ok()) {
          AddRejection(&bad, path, std::string(s.status().message()));
          continue;
        }
        score = *s;
        // 10号: an actual far above its target suggests the target was set low.
        const bool positive = *op == perf::Operator::kGe || *op == perf::Operator::kGt;
        if (positive && !target.is_zero() && actual.units() * 10 >= target.units() * 12) {
          over_target = true;
        }
      }
      scored.push_back({score, weight});
      Struct row;
      auto& f = *row.mutable_fields();
      f["name"] = StringValue(name);
      f["operator"] = StringValue(perf::OperatorSymbol(*op));
      f["weight"] = StringValue(weight.ToString());
      f["score"] = StringValue(score.ToString());
      *rows.add_values() = StructValue(std::move(row));
    }
    const Decimal expected = Decimal::FromUnits(Decimal::FromInt(100).units() - exec_weight.units());
    if (bad.rejections_size() == 0 && weight_units != expected.units()) {
      AddRejection(&bad, "payload.indicators",
                   "weights add up to " + Decimal::FromUnits(weight_units).ToString() + ", not " +
                       expected.ToString() + " (100 less the budget-execution block's " +
                       exec_weight.ToString() + ")");
    }
    if (over_target && explanation.empty()) {
      AddRejection(&bad, "payload.explanation",
                   "an indicator exceeds its target by 20% or more: explain why (目标是否设置偏低)");
    }
    if (bad.rejections_size() > 0) return bad;

    const Decimal exec_score = perf::ExecutionScore(executed, budget, exec_weight);
    auto result = perf::SelfEvaluate(scored, exec_score, GradeBandsOf(config));
    if (!result.ok()) return Reject("payload", std::string(result.status().message()));

    Struct record;
    auto& f = *record.mutable_fields();
    f["total"] = StringValue(result->total.ToString());
    f["grade"] = StringValue(result->grade);
    f["execution_score"] = StringValue(exec_score.ToString());
    // Percent executed, at most 100 (the block's own formula with 100 points).
    f["execution_rate"] =
        StringValue(perf::ExecutionScore(executed, budget, Decimal::FromInt(100)).ToString());
    *f["indicators"].mutable_list_value() = std::move(rows);
    f["by"] = StringValue(ctx.actor().user());
    f["at_unix_ms"] = NumberValue(static_cast<double>(ctx.now_unix_ms()));
    if (!explanation.empty()) f["explanation"] = StringValue(explanation);

    pb::Decision d = Accept(rescore ? "approved" : "submitted");
    auto& vars = *d.mutable_set_variables()->mutable_fields();
    vars["self_eval_score"] = NumberValue(result->total.ToDouble());
    vars["self_eval_grade"] = StringValue(result->grade);
    if (!rescore) {
      vars["self_evaluation"] = StructValue(std::move(record));
      d.set_note("self-evaluation " + result->total.ToString() + " (" + result->grade + ") by " +
                 ctx.actor().user());
      return d;
    }
    const Struct unit = StructOr(Vars(ctx), "self_evaluation");
    const std::string unit_total = StringOr(unit, "total", "");
    f["unit_total"] = StringValue(unit_total);
    f["unit_grade"] = StringValue(StringOr(unit, "grade", ""));
    f["reason"] = StringValue(reason);
    vars["department_rescore"] = StructValue(std::move(record));
    d.set_note("self-evaluation re-scored by " + ctx.actor().user() + ": " +
               result->total.ToString() + " (" + result->grade + "), the unit's " +
               (unit_total.empty() ? "?" : unit_total));
    return d;
  }

  static perf::QualitativeBands Qualitative(const Struct& config) {
    perf::QualitativeBands q;
    q.achieved = ConfigNumber(config, "qualitative_bands", "achieved", Decimal::FromInt(80));
    q.partial = ConfigNumber(config, "qualitative_bands", "partial", Decimal::FromInt(60));
    return q;
  }
};

}  // namespace
}  // namespace bpm::plugins::self_evaluation

BPM_PLUGIN_EXPORT(bpm::plugins::self_evaluation::SelfEvaluationStage, "self_evaluation", "1.0.0")
