// Stage "result_application" (评价结果应用, DOMAIN.md §5.6): a grade becomes a
// budget action for the next year.
//
// Config:
//   grade_variable  the variable holding the grade; default "grade"
//                   (final_review's); self-evaluation's is self_eval_grade
//   actions         {grade: {action, adjustment}}: the budget action and the
//                   change to next year's request in percent (−100..100);
//                   default 优 优先保障 0, 良 保障 0, 中 压减 −20, 差 取消 −100
//   mode            "auto" (default): recorded on entering; "manual": finance
//                   confirms it (task "apply"), and may set another adjustment
//                   with a reason
//   assignee        manual mode; default {role: finance_reviewer}
//   title           task title; default "评价结果应用"
//
// Records variables.result_application = {grade, action, adjustment,
// default_adjustment, reason (when changed), by, at_unix_ms} and emits
// "applied". A grade without an action is refused (entering fails with the
// grade named), so a workflow cannot silently skip the linkage.
#include <algorithm>
#include <string>
#include <vector>

#include "bpm/plugin/sdk.h"

namespace bpm::plugins::result_application {
namespace {

using namespace ::bpm::plugin;  // NOLINT(build/namespaces): SDK vocabulary

constexpr char kSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "grade_variable": {"type": "string", "minLength": 1, "default": "grade"},
    "actions": {
      "type": "object",
      "additionalProperties": {
        "type": "object",
        "additionalProperties": false,
        "required": ["action", "adjustment"],
        "properties": {
          "action": {"type": "string", "minLength": 1},
          "adjustment": {"type": "integer", "minimum": -100, "maximum": 100}
        }
      }
    },
    "mode": {"enum": ["auto", "manual"], "default": "auto"},
    "assignee": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "role": {"type": "string", "minLength": 1, "default": "finance_reviewer"},
        "org": {"type": "string", "default": ""},
        "user": {"type": "string", "minLength": 1}
      }
    },
    "title": {"type": "string", "default": "评价结果应用"}
  }
})json";

struct Linkage {
  std::string action;
  int adjustment = 0;
};

// The action for grade, from config or the defaults of §5.6; false if none.
bool LinkageFor(const Struct& config, const std::string& grade, Linkage* out) {
  const Value* actions = Field(config, "actions");
  if (actions == nullptr) {
    static const std::vector<std::pair<std::string, Linkage>> kDefaults = {
        {"优", {"优先保障", 0}}, {"良", {"保障", 0}}, {"中", {"压减", -20}}, {"差", {"取消", -100}}};
    for (const auto& [g, l] : kDefaults) {
      if (g == grade) {
        *out = l;
        return true;
      }
    }
    return false;
  }
  const Value* entry =
      actions->kind_case() == Value::kStructValue ? Field(actions->struct_value(), grade) : nullptr;
  if (entry == nullptr || entry->kind_case() != Value::kStructValue) return false;
  out->action = StringOr(entry->struct_value(), "action", "");
  out->adjustment = IntegerOr<int>(entry->struct_value(), "adjustment", 0);
  return true;
}

Struct Record(const pb::StageContext& ctx, const std::string& grade, const Linkage& linkage,
              int adjustment, const std::string& reason, const std::string& by) {
  Struct record;
  auto& f = *record.mutable_fields();
  f["grade"] = StringValue(grade);
  f["action"] = StringValue(linkage.action);
  f["adjustment"] = NumberValue(adjustment);
  f["default_adjustment"] = NumberValue(linkage.adjustment);
  if (!reason.empty()) f["reason"] = StringValue(reason);
  f["by"] = StringValue(by);
  f["at_unix_ms"] = NumberValue(static_cast<double>(ctx.now_unix_ms()));
  return record;
}

pb::Decision Applied(Struct record, const std::string& note) {
  pb::Decision d = Accept("applied");
  (*d.mutable_set_variables()->mutable_fields())["result_application"] =
      StructValue(std::move(record));
  d.set_note(note);
  return d;
}

class ResultApplicationStage : public Stage {
 public:
  static constexpr bool kVariablesByName = true;  // reads them through Vars()

  pb::DescribeResponse Describe() const override {
    pb::DescribeResponse d;
    d.set_name("result_application");
    d.set_version("1.0.0");
    d.set_description(
        "评价结果应用：按等级确定下年度预算安排（优先保障、保障、压减、取消）。"
        " A grade becomes next year's budget action.");
    AddAction(&d, "apply", "确认预算安排 / confirm the budget action");
    d.add_outcomes("applied");
    d.set_config_schema_json(kSchema);
    return d;
  }

  void ValidateConfig(const Struct& config,
                      std::vector<pb::ConfigError>* errors) const override {
    CheckKnownKeys(config, "", {"grade_variable", "actions", "mode", "assignee", "title"}, errors);
    CheckNonEmptyString(config, "grade_variable", "", errors);
    if (const Value* actions = TypedField(config, "actions", Value::kStructValue, "", errors)) {
      if (actions->struct_value().fields().empty()) {
        AddError(errors, "actions", "must name at least one grade.");
      }
      // In a stable order (the map's is not): by grade.
      std::vector<std::string> grades;
      for (const auto& kv : actions->struct_value().fields()) grades.push_back(kv.first);
      std::sort(grades.begin(), grades.end());
      for (const std::string& grade : grades) {
        const Value& v = actions->struct_value().fields().at(grade);
        const std::string path = JoinPath("actions", grade);
        if (v.kind_case() != Value::kStructValue) {
          AddError(errors, path, "must be {action, adjustment}.");
          continue;
        }
        CheckKnownKeys(v.struct_value(), path, {"action", "adjustment"}, errors);
        if (Field(v.struct_value(), "action") == nullptr) {
          AddError(errors, JoinPath(path, "action"), "is required.");
        } else {
          CheckNonEmptyString(v.struct_value(), "action", path, errors);
        }
        if (Field(v.struct_value(), "adjustment") == nullptr) {
          AddError(errors, JoinPath(path, "adjustment"), "is required (percent, -100..100).");
        } else {
          CheckIntegerInRange(v.struct_value(), "adjustment", path, -100, 100, errors);
        }
      }
    }
    if (const Value* m = TypedField(config, "mode", Value::kStringValue, "", errors)) {
      if (m->string_value() != "auto" && m->string_value() != "manual") {
        AddError(errors, "mode", "must be auto or manual.");
      }
    }
    ValidateAssignee(config, "assignee", errors);
    TypedField(config, "title", Value::kStringValue, "", errors);
  }

  pb::Decision Enter(const pb::EnterRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    const std::string var = StringOr(ctx.config(), "grade_variable", "grade");
    const std::string grade = StringOr(Vars(ctx), var, "");
    Linkage linkage;
    if (!LinkageFor(ctx.config(), grade, &linkage)) {
      return Reject("variables." + var, grade.empty()
                                            ? "no grade to apply: the evaluation comes first"
                                            : "grade '" + grade + "' has no budget action");
    }
    if (StringOr(ctx.config(), "mode", "auto") == "auto") {
      const std::string by = ctx.actor().user().empty() ? "system" : ctx.actor().user();
      return Applied(Record(ctx, grade, linkage, linkage.adjustment, "", by),
                     grade + " → " + linkage.action + " (" + std::to_string(linkage.adjustment) +
                         "%)");
    }
    Assignee who = ResolveAssignee(ctx, "assignee", {"finance_reviewer", "", ""});
    pb::Decision d = Accept();
    *d.add_open_tasks() =
        MakeTask("apply", StringOr(ctx.config(), "title", "评价结果应用"), who, {"apply"});
    return d;
  }

  pb::Decision Act(const pb::ActRequest& request) const override {
    if (request.task().name() != "apply" || request.action() != "apply") {
      return RejectUnknownAction(request);
    }
    const pb::StageContext& ctx = request.context();
    const Struct& payload = request.payload();
    pb::Decision bad;
    RejectUnknownFields(payload, "payload", {"adjustment", "reason"}, &bad);
    const std::string var = StringOr(ctx.config(), "grade_variable", "grade");
    const std::string grade = StringOr(Vars(ctx), var, "");
    Linkage linkage;
    if (!LinkageFor(ctx.config(), grade, &linkage)) {
      AddRejection(&bad, "variables." + var, "grade '" + grade + "' has no budget action");
      return bad;
    }
    int adjustment = linkage.adjustment;
    const Value* given = Field(payload, "adjustment");
    if (given != nullptr) {
      if (given->kind_case() != Value::kNumberValue || !IsInteger(given->number_value()) ||
          given->number_value() < -100 || given->number_value() > 100) {
        AddRejection(&bad, "payload.adjustment", "must be a whole percent from -100 to 100");
      } else {
        adjustment = static_cast<int>(given->number_value());
      }
    }
    const std::string reason = Trim(StringOr(payload, "reason", ""));
    if (adjustment != linkage.adjustment && reason.empty()) {
      AddRejection(&bad, "payload.reason",
                   "is required to change the adjustment from " +
                       std::to_string(linkage.adjustment) + "% (调整理由)");
    }
    if (bad.rejections_size() > 0) return bad;
    return Applied(Record(ctx, grade, linkage, adjustment, reason, ctx.actor().user()),
                   grade + " → " + linkage.action + " (" + std::to_string(adjustment) + "%) by " +
                       ctx.actor().user());
  }
};

}  // namespace
}  // namespace bpm::plugins::result_application

BPM_PLUGIN_EXPORT(bpm::plugins::result_application::ResultApplicationStage, "result_application",
                  "1.0.0")
