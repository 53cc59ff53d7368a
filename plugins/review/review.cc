// Stage "review" (主管部门审核): the competent authority reviews a submission.
//
// Config:
//   assignee                    who reviews; default {role: authority_reviewer}
//                               (any org)
//   title                       task title; default "审核"
//   comment_required_on_return  bool; default true
//
// Enter opens one task "review" with the actions approve and return.
// approve emits outcome "approved"; return emits "returned" and, unless
// comment_required_on_return is false, needs a non-blank comment. Both record
// variables.last_review = {state, action, by, comment, at_unix_ms}. The payload
// is not used.
#include <string>
#include <vector>

#include "bpm/plugin/sdk.h"

namespace bpm::plugins::review {
namespace {

using namespace ::bpm::plugin;  // NOLINT(build/namespaces): SDK vocabulary

constexpr char kSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "assignee": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "role": {"type": "string", "minLength": 1, "default": "authority_reviewer"},
        "org": {"type": "string", "default": ""},
        "user": {"type": "string", "minLength": 1}
      }
    },
    "title": {"type": "string", "default": "审核"},
    "comment_required_on_return": {"type": "boolean", "default": true}
  }
})json";

class ReviewStage : public Stage {
 public:
  pb::DescribeResponse Describe() const override {
    pb::DescribeResponse d;
    d.set_name("review");
    d.set_version("1.0.0");
    d.set_description(
        "主管部门审核：审核通过或退回修改。"
        " The competent authority approves the submission or returns it with a comment.");
    AddAction(&d, "approve", "审核通过 / approve");
    AddAction(&d, "return", "退回修改（须填写意见） / return for revision, with a comment");
    d.add_outcomes("approved");
    d.add_outcomes("returned");
    d.set_config_schema_json(kSchema);
    return d;
  }

  void ValidateConfig(const Struct& config,
                      std::vector<pb::ConfigError>* errors) const override {
    CheckKnownKeys(config, "", {"assignee", "title", "comment_required_on_return"}, errors);
    ValidateAssignee(config, "assignee", errors);
    TypedField(config, "title", Value::kStringValue, "", errors);
    TypedField(config, "comment_required_on_return", Value::kBoolValue, "", errors);
  }

  pb::Decision Enter(const pb::EnterRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    Assignee who = ResolveAssignee(ctx, "assignee", {"authority_reviewer", "", ""});
    pb::Decision d = Accept();
    *d.add_open_tasks() =
        MakeTask("review", StringOr(ctx.config(), "title", "审核"), who, {"approve", "return"});
    return d;
  }

  pb::Decision Act(const pb::ActRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    const std::string& action = request.action();
    std::string outcome;
    if (request.task().name() == "review" && action == "approve") {
      outcome = "approved";
    } else if (request.task().name() == "review" && action == "return") {
      outcome = "returned";
      if (BoolOr(ctx.config(), "comment_required_on_return", true) &&
          Trim(request.comment()).empty()) {
        return Reject("comment", "a return needs a comment (退回须填写意见)");
      }
    } else {
      return RejectUnknownAction(request);
    }

    Struct review;
    auto& f = *review.mutable_fields();
    f["state"] = StringValue(ctx.state());
    f["action"] = StringValue(action);
    f["by"] = StringValue(ctx.actor().user());
    f["comment"] = StringValue(request.comment());
    f["at_unix_ms"] = NumberValue(static_cast<double>(ctx.now_unix_ms()));

    pb::Decision d = Accept(outcome);
    (*d.mutable_set_variables()->mutable_fields())["last_review"] = StructValue(review);
    d.set_note(action + " by " + ctx.actor().user());
    return d;
  }
};

}  // namespace
}  // namespace bpm::plugins::review

BPM_PLUGIN_EXPORT(bpm::plugins::review::ReviewStage, "review", "1.0.0")
