// Stage "scorecard" (考核, DOMAIN.md §9): finance enters the manual items of a
// department's assessment sheet; bpmd's ReportService.Scorecard computes the
// other items from the engine's own figures, totals and ranks
// (core/perf/scorecard.h).
//
// Config:
//   items     the sheet (core/perf/scorecard.h): {id, name, points, metric}
//             or {id, name, points, manual: true}; points add up to total
//   total     default 100
//   assignee  who enters the manual items; default {role: performance_section}
//   title     task title; default "考核评分"
//
// Enter opens task "assess" with action score. Payload {manual: {ID: points,
// ...}} gives every manual item, each from 0 to its points (at most 2
// decimals). It sets variables.scorecard = {manual: {ID: "points"}, by,
// at_unix_ms} and emits "scored". A sheet with no manual item is scored
// on entering.
#include <memory>
#include <string>
#include <vector>

#include "bpm/plugin/sdk.h"
#include "core/perf/scorecard.h"
#include "plugins/perf_values/perf_values.h"

namespace bpm::plugins::scorecard {
namespace {

using namespace ::bpm::plugin;  // NOLINT(build/namespaces): SDK vocabulary
using ::bpm::perf::Decimal;

constexpr char kSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "required": ["items"],
  "properties": {
    "items": {"type": "array", "minItems": 1, "description": "core/perf/scorecard.h"},
    "total": {"type": "number", "exclusiveMinimum": 0, "default": 100},
    "assignee": {"type": "object"},
    "title": {"type": "string", "default": "考核评分"}
  }
})json";

// The state's sheet, read once per config (CompiledConfig) from one
// ValidateConfig accepted.
std::shared_ptr<const perf::Sheet> SheetOf(const pb::StageContext& ctx) {
  return CompiledConfig<perf::Sheet>(ctx.config(), [](const Struct& config) {
    perf::ConfigProblems ignored;  // reported when the workflow was deployed
    return perf::ReadSheet(config, &ignored);
  });
}

pb::Decision Scored(const pb::StageContext& ctx, Struct manual) {
  Struct record;
  auto& f = *record.mutable_fields();
  f["manual"] = StructValue(std::move(manual));
  f["by"] = StringValue(ctx.actor().user());
  f["at_unix_ms"] = NumberValue(static_cast<double>(ctx.now_unix_ms()));
  pb::Decision d = Accept("scored");
  (*d.mutable_set_variables()->mutable_fields())["scorecard"] = StructValue(std::move(record));
  d.set_note("assessment scored by " + (ctx.actor().user().empty() ? std::string("system") : ctx.actor().user()));
  return d;
}

class ScorecardStage : public Stage {
 public:
  static constexpr bool kVariablesByName = true;  // reads them through Vars()

  pb::DescribeResponse Describe() const override {
    pb::DescribeResponse d;
    d.set_name("scorecard");
    d.set_version("1.0.0");
    d.set_description(
        "考核：财政录入考核表的人工评分项，其余各项由引擎按自身数据计算并排名。"
        " Finance enters the manual items of a department's assessment sheet.");
    AddAction(&d, "score", "录入人工评分项 / enter the manual items");
    d.add_outcomes("scored");
    d.set_config_schema_json(kSchema);
    return d;
  }

  void ValidateConfig(const Struct& config, std::vector<pb::ConfigError>* errors) const override {
    CheckKnownKeys(config, "", {"items", "total", "assignee", "title"}, errors);
    ValidateAssignee(config, "assignee", errors);
    TypedField(config, "title", Value::kStringValue, "", errors);
    perf::ConfigProblems problems;
    perf::ReadSheet(config, &problems);
    for (const auto& [path, message] : problems) AddError(errors, path, message);
  }

  pb::Decision Enter(const pb::EnterRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    const std::shared_ptr<const perf::Sheet> compiled = SheetOf(ctx);
    const perf::Sheet& sheet = *compiled;
    bool manual = false;
    for (const auto& item : sheet.items) manual = manual || item.metric.empty();
    if (!manual) return Scored(ctx, Struct());
    Assignee who = ResolveAssignee(ctx, "assignee", {"performance_section", "", ""});
    pb::Decision d = Accept();
    *d.add_open_tasks() = MakeTask("assess", StringOr(ctx.config(), "title", "考核评分"), who, {"score"});
    return d;
  }

  pb::Decision Act(const pb::ActRequest& request) const override {
    if (request.task().name() != "assess" || request.action() != "score") {
      return RejectUnknownAction(request);
    }
    const pb::StageContext& ctx = request.context();
    const std::shared_ptr<const perf::Sheet> compiled = SheetOf(ctx);
    const perf::Sheet& sheet = *compiled;
    pb::Decision bad;
    RejectUnknownFields(request.payload(), "payload", {"manual"}, &bad);
    const Value* given = Field(request.payload(), "manual");
    if (given == nullptr || given->kind_case() != Value::kStructValue) {
      AddRejection(&bad, "payload.manual", "must map each manual item's id to its points");
      return bad;
    }
    const Struct& m = given->struct_value();
    Struct manual;
    for (const auto& [id, value] : m.fields()) {
      bool known = false;
      for (const auto& item : sheet.items) known = known || (item.id == id && item.metric.empty());
      if (!known) AddRejection(&bad, "payload.manual." + id, "is not a manual item of the sheet");
    }
    for (const auto& item : sheet.items) {
      if (!item.metric.empty()) continue;
      const std::string path = "payload.manual." + item.id;
      Decimal points;
      std::string error;
      if (!perf_values::ToDecimal(Field(m, item.id), &points, &error)) {
        AddRejection(&bad, path, error + " (" + item.name + ", 0 to " + item.points.ToString() + ")");
        continue;
      }
      if (points < Decimal() || points > item.points || points.units() % 100 != 0) {
        AddRejection(&bad, path, points.ToString() + " is not from 0 to " + item.points.ToString() +
                                     " in steps of 0.01 (" + item.name + ")");
        continue;
      }
      (*manual.mutable_fields())[item.id] = StringValue(points.ToString());
    }
    if (bad.rejections_size() > 0) return bad;
    return Scored(ctx, std::move(manual));
  }
};

}  // namespace
}  // namespace bpm::plugins::scorecard

BPM_PLUGIN_EXPORT(bpm::plugins::scorecard::ScorecardStage, "scorecard", "1.0.0")
