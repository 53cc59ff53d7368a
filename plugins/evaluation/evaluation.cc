// Stage "evaluation" (重点绩效评价 scored by an evaluation team, DOMAIN.md
// §4.2, §5.5, §6.2): a department evaluating its own key projects (部门评价),
// or finance evaluating with its own team and experts (财政评价), scores the
// 决策 / 过程 / 产出 / 效益 sheet. (A third party's scored report comes through
// the agency_work stage instead, checked against the same rules.)
//
// Config:
//   sheet               required: [{code, level1: 决策|过程|产出|效益, level2,
//                       name, weight}], weights adding up to 100, 产出 + 效益 at
//                       least min_output_benefit (core/perf/evaluation.h)
//   min_output_benefit  default 60 (财预〔2020〕10号)
//   grade_bands         {excellent, good, pass}; default {90, 80, 60}
//   assignee            who scores; default {role: perf_reviewer}
//   title               task title; default "绩效评价评分"
//
// Enter opens task "score" (action score). Payload:
//   scores            {CODE: points 0..weight, at most 2 decimals}, every indicator
//   findings          non-empty list of strings (主要问题)
//   recommendations   non-empty list of strings (有关建议)
//   method            optional text (评价方法, e.g. 成本效益分析法)
// Sets variables.evaluation = {total, grade, by_level1 {决策: points, ...},
// scores {CODE: points}, findings, recommendations, method, by, at_unix_ms},
// variables.evaluation_score and evaluation_grade, and emits "scored".
#include <memory>
#include <string>
#include <vector>

#include "bpm/plugin/sdk.h"
#include "core/perf/evaluation.h"
#include "plugins/perf_values/perf_values.h"

namespace bpm::plugins::evaluation {
namespace {

using namespace ::bpm::plugin;  // NOLINT(build/namespaces): SDK vocabulary
using ::bpm::perf::Decimal;
using ::bpm::plugins::perf_values::CheckGradeBands;
using ::bpm::plugins::perf_values::GradeBandsOf;

constexpr char kSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "required": ["sheet"],
  "properties": {
    "sheet": {
      "type": "array",
      "minItems": 1,
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["code", "level1", "name", "weight"],
        "properties": {
          "code": {"type": "string", "minLength": 1},
          "level1": {"enum": ["决策", "过程", "产出", "效益"]},
          "level2": {"type": "string"},
          "name": {"type": "string", "minLength": 1},
          "weight": {"type": "number", "exclusiveMinimum": 0}
        }
      }
    },
    "min_output_benefit": {"type": "number", "minimum": 0, "maximum": 100, "default": 60},
    "grade_bands": {
      "type": "object",
      "additionalProperties": false,
      "properties": {"excellent": {"type": "number", "default": 90},
                     "good": {"type": "number", "default": 80},
                     "pass": {"type": "number", "default": 60}}
    },
    "assignee": {"type": "object"},
    "title": {"type": "string", "default": "绩效评价评分"}
  }
})json";

// payload[key]: a non-empty list of non-empty strings.
ListValue TextList(const Struct& payload, const std::string& key, const std::string& what,
                   pb::Decision* bad) {
  ListValue out;
  const Value* v = Field(payload, key);
  if (v == nullptr || v->kind_case() != Value::kListValue || v->list_value().values_size() == 0) {
    AddRejection(bad, "payload." + key, "is required: at least one " + what);
    return out;
  }
  for (int i = 0; i < v->list_value().values_size(); ++i) {
    const Value& item = v->list_value().values(i);
    if (item.kind_case() != Value::kStringValue || Trim(item.string_value()).empty()) {
      AddRejection(bad, IndexPath("payload." + key, i), "must be non-empty text");
      continue;
    }
    *out.add_values() = StringValue(Trim(item.string_value()));
  }
  return out;
}

class EvaluationStage : public Stage {
 public:
  static constexpr bool kVariablesByName = true;  // reads them through Vars()

  pb::DescribeResponse Describe() const override {
    pb::DescribeResponse d;
    d.set_name("evaluation");
    d.set_version("1.0.0");
    d.set_description(
        "重点绩效评价评分：按决策、过程、产出、效益指标体系评分（产出与效益权重不低于60%），"
        "得出总分与等级。 Key-evaluation scoring of the 决策/过程/产出/效益 sheet.");
    AddAction(&d, "score", "评分并提出问题与建议 / score with findings and recommendations");
    d.add_outcomes("scored");
    d.set_config_schema_json(kSchema);
    return d;
  }

  void ValidateConfig(const Struct& config,
                      std::vector<pb::ConfigError>* errors) const override {
    CheckKnownKeys(config, "", {"sheet", "min_output_benefit", "grade_bands", "assignee", "title"},
                   errors);
    ValidateAssignee(config, "assignee", errors);
    TypedField(config, "title", Value::kStringValue, "", errors);
    perf::ConfigProblems problems;
    perf::ReadEvaluationSheet(config, &problems);
    for (const auto& [path, message] : problems) AddError(errors, path, message);
    CheckGradeBands(config, errors);
  }

  pb::Decision Enter(const pb::EnterRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    Assignee who = ResolveAssignee(ctx, "assignee", {"perf_reviewer", "", ""});
    pb::Decision d = Accept();
    *d.add_open_tasks() =
        MakeTask("score", StringOr(ctx.config(), "title", "绩效评价评分"), who, {"score"});
    return d;
  }

  pb::Decision Act(const pb::ActRequest& request) const override {
    if (request.task().name() != "score" || request.action() != "score") {
      return RejectUnknownAction(request);
    }
    const pb::StageContext& ctx = request.context();
    const Struct& payload = request.payload();
    pb::Decision bad;
    RejectUnknownFields(payload, "payload", {"scores", "findings", "recommendations", "method"},
                        &bad);
    // The sheet, read once per config from one ValidateConfig accepted.
    const std::shared_ptr<const perf::EvaluationSheet> sheet =
        CompiledConfig<perf::EvaluationSheet>(ctx.config(), [](const Struct& config) {
          perf::ConfigProblems ignored;  // reported when the workflow was deployed
          return perf::ReadEvaluationSheet(config, &ignored);
        });
    perf::ConfigProblems problems;
    const perf::EvaluationResult result = perf::ScoreEvaluation(
        *sheet, StructOr(payload, "scores"), GradeBandsOf(ctx.config()), &problems);
    for (const auto& [path, message] : problems) AddRejection(&bad, "payload." + path, message);
    ListValue findings = TextList(payload, "findings", "finding (主要问题)", &bad);
    ListValue recommendations =
        TextList(payload, "recommendations", "recommendation (有关建议)", &bad);
    if (bad.rejections_size() > 0) return bad;

    Struct by_level1, scores;
    for (const auto& [level1, points] : result.by_level1) {
      (*by_level1.mutable_fields())[level1] = StringValue(points.ToString());
    }
    for (const auto& [code, points] : result.scores) {
      (*scores.mutable_fields())[code] = StringValue(points.ToString());
    }
    Struct record;
    auto& f = *record.mutable_fields();
    f["total"] = StringValue(result.total.ToString());
    f["grade"] = StringValue(result.grade);
    f["by_level1"] = StructValue(std::move(by_level1));
    f["scores"] = StructValue(std::move(scores));
    *f["findings"].mutable_list_value() = std::move(findings);
    *f["recommendations"].mutable_list_value() = std::move(recommendations);
    const std::string method = Trim(StringOr(payload, "method", ""));
    if (!method.empty()) f["method"] = StringValue(method);
    f["by"] = StringValue(ctx.actor().user());
    f["at_unix_ms"] = NumberValue(static_cast<double>(ctx.now_unix_ms()));
    pb::Decision d = Accept("scored");
    auto& vars = *d.mutable_set_variables()->mutable_fields();
    vars["evaluation"] = StructValue(std::move(record));
    vars["evaluation_score"] = NumberValue(result.total.ToDouble());
    vars["evaluation_grade"] = StringValue(result.grade);
    d.set_note("evaluated " + result.total.ToString() + " (" + result.grade + ") by " +
               ctx.actor().user());
    return d;
  }
};

}  // namespace
}  // namespace bpm::plugins::evaluation

BPM_PLUGIN_EXPORT(bpm::plugins::evaluation::EvaluationStage, "evaluation", "1.0.0")
