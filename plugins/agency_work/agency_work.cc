// Stage "agency_work" (第三方机构作业): work done by the third-party agency of
// an engagement, over the agencies' pull protocol (or pushed to its endpoint).
//
// Config:
//   topic            required: what the agency fetches, e.g. key_evaluation_report
//   engagement_var   variable holding the engagement id (default "engagement_id")
//   payload_vars     variables handed to the agency with the task (default none)
//   retries          failures allowed before an incident (default 3)
//   scored           true: the deliverable is a scored report, checked against
//                    the engagement's indicator sheet by the engine
//   into             variable that receives the deliverable (default: the topic)
//   title            shown in history
//
// Enter asks the engine for one external task for the engagement's agency.
// When the agency completes it, Act receives action "complete" on the task
// "external:<topic>" with the deliverable as payload (already validated and
// recorded as a document with its sha256 by the engine): the deliverable is
// stored in variables[into] (plus `grade`/`score` for scored reports), and
// the stage emits outcome "completed".
#include <string>
#include <vector>

#include "bpm/plugin/sdk.h"

namespace bpm::plugins::agency_work {
namespace {

using namespace ::bpm::plugin;  // NOLINT(build/namespaces): SDK vocabulary

constexpr char kSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "required": ["topic"],
  "properties": {
    "topic": {"type": "string", "minLength": 1},
    "engagement_var": {"type": "string", "default": "engagement_id"},
    "payload_vars": {"type": "array", "items": {"type": "string"}},
    "retries": {"type": "integer", "minimum": 1, "maximum": 20, "default": 3},
    "scored": {"type": "boolean", "default": false},
    "into": {"type": "string"},
    "title": {"type": "string"}
  }
})json";

class AgencyWorkStage : public Stage {
 public:
  static constexpr bool kVariablesByName = true;  // reads them through Vars()

  pb::DescribeResponse Describe() const override {
    pb::DescribeResponse d;
    d.set_name("agency_work");
    d.set_version("1.0.0");
    d.set_description(
        "第三方机构作业：由受托机构通过拉取协议（或推送）完成的工作，交付成果经引擎校验后记录。"
        " Work done by the engaged third-party agency over the pull protocol.");
    AddAction(&d, "complete", "机构交付成果 / the agency delivers (engine-issued)");
    d.add_outcomes("completed");
    d.set_config_schema_json(kSchema);
    return d;
  }

  void ValidateConfig(const Struct& config, std::vector<pb::ConfigError>* errors) const override {
    CheckKnownKeys(config, "",
                   {"topic", "engagement_var", "payload_vars", "retries", "scored", "into", "title"},
                   errors);
    if (Field(config, "topic") == nullptr) {
      AddError(errors, "topic", "is required (what the agency fetches)");
    }
    CheckNonEmptyString(config, "topic", "", errors);
    CheckNonEmptyString(config, "engagement_var", "", errors);
    CheckStringList(config, "payload_vars", "", false, errors);
    CheckIntegerInRange(config, "retries", "", 1, 20, errors);
    TypedField(config, "scored", Value::kBoolValue, "", errors);
    CheckNonEmptyString(config, "into", "", errors);
    TypedField(config, "title", Value::kStringValue, "", errors);
  }

  pb::Decision Enter(const pb::EnterRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    const std::string var = StringOr(ctx.config(), "engagement_var", "engagement_id");
    const std::string engagement = StringOr(Vars(ctx), var, "");
    if (engagement.empty()) {
      return Reject("variables." + var,
                    "no engagement: engage an agency and start the instance with " + var);
    }
    pb::Decision d = Accept();
    pb::ExternalTaskSpec* x = d.add_external_tasks();
    x->set_topic(StringOr(ctx.config(), "topic", ""));
    x->set_engagement_id(engagement);
    x->set_retries(static_cast<int32_t>(NumberOr(ctx.config(), "retries", 3)));
    auto& payload = *x->mutable_payload()->mutable_fields();
    for (const std::string& name : StringList(ctx.config(), "payload_vars")) {
      if (const Value* v = Field(Vars(ctx), name)) payload[name] = *v;
    }
    payload["subject_ref"] = StringValue(ctx.subject_ref());
    payload["title"] = StringValue(StringOr(ctx.config(), "title", ctx.state()));
    d.set_note("work for the agency: " + x->topic());
    return d;
  }

  pb::Decision Act(const pb::ActRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    const std::string topic = StringOr(ctx.config(), "topic", "");
    if (request.task().name() != "external:" + topic || request.action() != "complete") {
      return RejectUnknownAction(request);
    }
    const std::string into = StringOr(ctx.config(), "into", topic);
    pb::Decision d = Accept("completed");
    auto& vars = *d.mutable_set_variables()->mutable_fields();
    Struct delivered = request.payload();
    (*delivered.mutable_fields())["sha256"] =
        StringValue(StringOr(request.task().data(), "deliverable_sha256", ""));
    (*delivered.mutable_fields())["agency_id"] =
        StringValue(StringOr(request.task().data(), "agency_id", ""));
    vars[into] = StructValue(std::move(delivered));
    if (BoolOr(ctx.config(), "scored", false)) {
      vars["evaluation_grade"] = StringValue(StringOr(request.payload(), "grade", ""));
      vars["evaluation_score"] = NumberValue(NumberOr(request.payload(), "total", 0));
    }
    d.set_note("delivered by agency " + StringOr(request.task().data(), "agency_id", ""));
    return d;
  }
};

}  // namespace
}  // namespace bpm::plugins::agency_work

BPM_PLUGIN_EXPORT(bpm::plugins::agency_work::AgencyWorkStage, "agency_work", "1.0.0")
