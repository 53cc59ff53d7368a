// Stage "final_review" (财政终审): the finance department's final decision.
//
// Config:
//   assignee  who decides; default {role: finance_reviewer} (any org)
//   title     task title; default "财政终审"
//   grades    allowed grades: non-empty list of distinct strings;
//             default [优, 良, 中, 差]
//
// Enter opens one task "final_review" with the actions approve, return and
// reject. Payload: {grade} only.
//   approve  needs payload.grade, one of grades        -> outcome "approved"
//   return   needs a non-blank comment; takes no grade -> outcome "returned"
//   reject   needs a non-blank comment; grade optional -> outcome "rejected"
// Every action records variables.final_review = {action, by, comment,
// at_unix_ms, grade (when given)}; a given grade is also stored in
// variables.grade.
#include <string>
#include <vector>

#include "bpm/plugin/sdk.h"

namespace bpm::plugins::final_review {
namespace {

using namespace ::bpm::plugin;  // NOLINT(build/namespaces): SDK vocabulary

const std::vector<std::string> kDefaultGrades = {"优", "良", "中", "差"};

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
    "title": {"type": "string", "default": "财政终审"},
    "grades": {
      "type": "array",
      "minItems": 1,
      "uniqueItems": true,
      "items": {"type": "string", "minLength": 1},
      "default": ["优", "良", "中", "差"]
    }
  }
})json";

class FinalReviewStage : public Stage {
 public:
  static constexpr bool kVariablesByName = true;  // reads them through Vars()
  // None: the grade comes with the action.
  std::optional<std::vector<std::string>> VariablesRead(const Struct&) const override {
    return std::vector<std::string>{};
  }

  pb::DescribeResponse Describe() const override {
    pb::DescribeResponse d;
    d.set_name("final_review");
    d.set_version("1.0.0");
    d.set_description(
        "财政终审：评定等级并通过、退回或不予通过。"
        " The finance department grades and approves, returns or rejects.");
    AddAction(&d, "approve", "终审通过并评级 / approve with a grade");
    AddAction(&d, "return", "退回修改（须填写意见） / return for revision, with a comment");
    AddAction(&d, "reject", "不予通过（须填写意见） / reject, with a comment");
    d.add_outcomes("approved");
    d.add_outcomes("returned");
    d.add_outcomes("rejected");
    d.set_config_schema_json(kSchema);
    return d;
  }

  void ValidateConfig(const Struct& config,
                      std::vector<pb::ConfigError>* errors) const override {
    CheckKnownKeys(config, "", {"assignee", "title", "grades"}, errors);
    ValidateAssignee(config, "assignee", errors);
    TypedField(config, "title", Value::kStringValue, "", errors);
    CheckStringList(config, "grades", "", /*non_empty=*/true, errors);
  }

  pb::Decision Enter(const pb::EnterRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    Assignee who = ResolveAssignee(ctx, "assignee", {"finance_reviewer", "", ""});
    pb::Decision d = Accept();
    *d.add_open_tasks() = MakeTask("final_review", StringOr(ctx.config(), "title", "财政终审"),
                                   who, {"approve", "return", "reject"});
    return d;
  }

  pb::Decision Act(const pb::ActRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    const std::string& action = request.action();
    static const std::vector<std::pair<std::string, std::string>> kOutcomes = {
        {"approve", "approved"}, {"return", "returned"}, {"reject", "rejected"}};
    auto it = std::find_if(kOutcomes.begin(), kOutcomes.end(),
                           [&](const auto& p) { return p.first == action; });
    if (request.task().name() != "final_review" || it == kOutcomes.end()) {
      return RejectUnknownAction(request);
    }

    std::vector<std::string> grades = Field(ctx.config(), "grades") != nullptr
                                          ? StringList(ctx.config(), "grades")
                                          : kDefaultGrades;
    const Struct& payload = request.payload();
    const Value* grade = Field(payload, "grade");
    pb::Decision bad;
    RejectUnknownFields(payload, "payload", {"grade"}, &bad);
    if (action == "return" && grade != nullptr) {
      AddRejection(&bad, "payload.grade", "a return takes no grade (退回不评级)");
    } else if (grade != nullptr || action == "approve") {
      if (grade == nullptr || grade->kind_case() != Value::kStringValue ||
          std::find(grades.begin(), grades.end(), grade->string_value()) == grades.end()) {
        AddRejection(&bad, "payload.grade", "must be one of " + JoinStrings(grades, ", "));
      }
    }
    if (action != "approve" && Trim(request.comment()).empty()) {
      AddRejection(&bad, "comment",
                   "a " + action + " needs a comment (" +
                       (action == "return" ? "退回" : "不予通过") + "须填写意见)");
    }
    if (bad.rejections_size() > 0) return bad;

    Struct record;
    auto& f = *record.mutable_fields();
    f["action"] = StringValue(action);
    f["by"] = StringValue(ctx.actor().user());
    f["comment"] = StringValue(request.comment());
    f["at_unix_ms"] = NumberValue(static_cast<double>(ctx.now_unix_ms()));

    pb::Decision d = Accept(it->second);
    auto& vars = *d.mutable_set_variables()->mutable_fields();
    std::string note = action + " by " + ctx.actor().user();
    if (grade != nullptr) {
      f["grade"] = *grade;
      vars["grade"] = *grade;
      note += " (grade " + grade->string_value() + ")";
    }
    vars["final_review"] = StructValue(std::move(record));
    d.set_note(note);
    return d;
  }
};

}  // namespace
}  // namespace bpm::plugins::final_review

BPM_PLUGIN_EXPORT(bpm::plugins::final_review::FinalReviewStage, "final_review", "1.0.0")
