// Stage "ex_ante" (事前绩效评估, DOMAIN.md §5.1, §6.3): a project or policy is
// scored on five dimensions before it may enter the budget; the conclusion
// decides whether it does.
//
// Config:
//   assignee     who assesses; default {role: finance_reviewer} (finance's
//                review; a unit's own assessment names the unit)
//   title        task title; default "事前绩效评估"
//   dimensions   [{name, weight}], weights adding up to 100; default the five
//                of §5.1 at 20 each: 立项必要性, 投入经济性, 绩效目标合理性,
//                实施方案可行性, 筹资合规性
//   bands        {support, adjust}; default {80, 60}: 支持 from 80,
//                调整完善后支持 from 60, else 不予支持
//
// Enter opens task "ex_ante" (action conclude). Payload:
//   scores   {dimension name: score 0..its weight, at most 2 decimals}, one per
//            dimension
//   opinion  text, required (评估意见); required per dimension scored under
//            60% of its weight as well: comments {dimension name: text}
// Sets variables.ex_ante = {total, conclusion, scores, comments, by,
// at_unix_ms} and variables.budget_blocked (true for 不予支持: no budget may be
// arranged), and emits "supported", "adjust" or "rejected".
#include <map>
#include <string>
#include <vector>

#include "bpm/plugin/sdk.h"
#include "core/perf/rules.h"
#include "plugins/perf_values/perf_values.h"

namespace bpm::plugins::ex_ante {
namespace {

using namespace ::bpm::plugin;  // NOLINT(build/namespaces): SDK vocabulary
using ::bpm::perf::Decimal;
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
        "role": {"type": "string", "minLength": 1, "default": "finance_reviewer"},
        "org": {"type": "string", "default": ""},
        "user": {"type": "string", "minLength": 1}
      }
    },
    "title": {"type": "string", "default": "事前绩效评估"},
    "dimensions": {
      "type": "array",
      "minItems": 1,
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "weight"],
        "properties": {"name": {"type": "string", "minLength": 1}, "weight": {"type": "number"}}
      }
    },
    "bands": {
      "type": "object",
      "additionalProperties": false,
      "properties": {"support": {"type": "number", "default": 80},
                     "adjust": {"type": "number", "default": 60}}
    }
  }
})json";

struct Dimension {
  std::string name;
  Decimal weight;
};

std::vector<Dimension> Dimensions(const Struct& config) {
  const Value* list = Field(config, "dimensions");
  if (list == nullptr || list->kind_case() != Value::kListValue) {
    std::vector<Dimension> out;
    for (const char* n : {"立项必要性", "投入经济性", "绩效目标合理性", "实施方案可行性", "筹资合规性"}) {
      out.push_back({n, Decimal::FromInt(20)});
    }
    return out;
  }
  std::vector<Dimension> out;
  for (const Value& v : list->list_value().values()) {
    if (v.kind_case() != Value::kStructValue) continue;
    Dimension d{StringOr(v.struct_value(), "name", ""), Decimal()};
    std::string ignored;
    ToDecimal(Field(v.struct_value(), "weight"), &d.weight, &ignored);
    out.push_back(d);
  }
  return out;
}

perf::ExAnteBands Bands(const Struct& config) {
  perf::ExAnteBands b;
  b.support = ConfigNumber(config, "bands", "support", b.support);
  b.adjust = ConfigNumber(config, "bands", "adjust", b.adjust);
  return b;
}

class ExAnteStage : public Stage {
 public:
  static constexpr bool kVariablesByName = true;  // reads them through Vars()

  pb::DescribeResponse Describe() const override {
    pb::DescribeResponse d;
    d.set_name("ex_ante");
    d.set_version("1.0.0");
    d.set_description(
        "事前绩效评估：五个维度评分，得出支持、调整完善后支持或不予支持（不予支持则不得安排预算）。"
        " Five-dimension ex-ante assessment; 不予支持 blocks the budget.");
    AddAction(&d, "conclude", "评分并出具结论 / score and conclude");
    d.add_outcomes("supported");
    d.add_outcomes("adjust");
    d.add_outcomes("rejected");
    d.set_config_schema_json(kSchema);
    return d;
  }

  void ValidateConfig(const Struct& config,
                      std::vector<pb::ConfigError>* errors) const override {
    CheckKnownKeys(config, "", {"assignee", "title", "dimensions", "bands"}, errors);
    ValidateAssignee(config, "assignee", errors);
    TypedField(config, "title", Value::kStringValue, "", errors);
    if (const Value* list = TypedField(config, "dimensions", Value::kListValue, "", errors)) {
      int64_t total = 0;
      std::vector<std::string> names;
      for (int i = 0; i < list->list_value().values_size(); ++i) {
        const Value& v = list->list_value().values(i);
        const std::string path = IndexPath("dimensions", i);
        if (v.kind_case() != Value::kStructValue) {
          AddError(errors, path, "must be {name, weight}.");
          continue;
        }
        CheckKnownKeys(v.struct_value(), path, {"name", "weight"}, errors);
        const std::string name = StringOr(v.struct_value(), "name", "");
        if (name.empty()) {
          AddError(errors, JoinPath(path, "name"), "is required.");
        } else if (std::find(names.begin(), names.end(), name) != names.end()) {
          AddError(errors, JoinPath(path, "name"), "'" + name + "' is listed twice.");
        }
        names.push_back(name);
        Decimal w;
        std::string error;
        if (!ToDecimal(Field(v.struct_value(), "weight"), &w, &error) || w <= Decimal()) {
          AddError(errors, JoinPath(path, "weight"), "must be a number greater than 0.");
          continue;
        }
        total += w.units();
      }
      if (total != Decimal::FromInt(100).units()) {
        AddError(errors, "dimensions",
                 "weights add up to " + Decimal::FromUnits(total).ToString() + ", not 100.");
      }
    }
    if (const Value* b = TypedField(config, "bands", Value::kStructValue, "", errors)) {
      CheckKnownKeys(b->struct_value(), "bands", {"support", "adjust"}, errors);
      const perf::ExAnteBands bands = Bands(config);
      if (!(bands.adjust <= bands.support)) {
        AddError(errors, "bands", "must satisfy adjust ≤ support.");
      }
    }
  }

  pb::Decision Enter(const pb::EnterRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    Assignee who = ResolveAssignee(ctx, "assignee", {"finance_reviewer", "", ""});
    pb::Decision d = Accept();
    *d.add_open_tasks() =
        MakeTask("ex_ante", StringOr(ctx.config(), "title", "事前绩效评估"), who, {"conclude"});
    return d;
  }

  pb::Decision Act(const pb::ActRequest& request) const override {
    if (request.task().name() != "ex_ante" || request.action() != "conclude") {
      return RejectUnknownAction(request);
    }
    const pb::StageContext& ctx = request.context();
    const Struct& payload = request.payload();
    pb::Decision bad;
    RejectUnknownFields(payload, "payload", {"scores", "opinion", "comments"}, &bad);
    const std::vector<Dimension> dims = Dimensions(ctx.config());
    const Struct scores = StructOr(payload, "scores");
    const Struct comments = StructOr(payload, "comments");
    std::vector<std::string> names;
    for (const Dimension& d : dims) names.push_back(d.name);
    RejectUnknownFields(scores, "payload.scores", names, &bad);
    RejectUnknownFields(comments, "payload.comments", names, &bad);
    int64_t total = 0;
    Struct scored;
    for (const Dimension& dim : dims) {
      const std::string path = JoinPath("payload.scores", dim.name);
      Decimal s;
      std::string error;
      if (!ToDecimal(Field(scores, dim.name), &s, &error)) {
        AddRejection(&bad, path, error);
        continue;
      }
      if (s < Decimal() || s > dim.weight || s.units() % 100 != 0) {
        AddRejection(&bad, path,
                     "must be from 0 to " + dim.weight.ToString() + " with at most 2 decimals");
        continue;
      }
      // Under 60% of the weight: say why (评估意见 per dimension).
      if (s.units() * 10 < dim.weight.units() * 6 &&
          Trim(StringOr(comments, dim.name, "")).empty()) {
        AddRejection(&bad, JoinPath("payload.comments", dim.name),
                     "is required for a score under 60% of the dimension's weight");
      }
      total += s.units();
      (*scored.mutable_fields())[dim.name] = StringValue(s.ToString());
    }
    const std::string opinion = Trim(StringOr(payload, "opinion", ""));
    if (opinion.empty()) AddRejection(&bad, "payload.opinion", "is required (评估意见)");
    if (bad.rejections_size() > 0) return bad;

    const Decimal sum = Decimal::FromUnits(total);
    const std::string conclusion = perf::ExAnteConclusion(sum, Bands(ctx.config()));
    const std::string outcome = conclusion == "支持"              ? "supported"
                                : conclusion == "调整完善后支持" ? "adjust"
                                                                  : "rejected";
    Struct record;
    auto& f = *record.mutable_fields();
    f["total"] = StringValue(sum.ToString());
    f["conclusion"] = StringValue(conclusion);
    f["scores"] = StructValue(std::move(scored));
    if (!comments.fields().empty()) f["comments"] = StructValue(comments);
    f["opinion"] = StringValue(opinion);
    f["by"] = StringValue(ctx.actor().user());
    f["at_unix_ms"] = NumberValue(static_cast<double>(ctx.now_unix_ms()));
    pb::Decision d = Accept(outcome);
    auto& vars = *d.mutable_set_variables()->mutable_fields();
    vars["ex_ante"] = StructValue(std::move(record));
    vars["budget_blocked"] = BoolValue(outcome == "rejected");
    d.set_note("ex-ante " + sum.ToString() + ": " + conclusion + " by " + ctx.actor().user());
    return d;
  }
};

}  // namespace
}  // namespace bpm::plugins::ex_ante

BPM_PLUGIN_EXPORT(bpm::plugins::ex_ante::ExAnteStage, "ex_ante", "1.0.0")
