// Stage "disclosure" (信息公开): publishes a snapshot of the instance.
//
// Config:
//   mode      "manual" (default: a person publishes) or "auto" (on entering)
//   assignee  who publishes in manual mode; default {role: performance_section}
//             (any org)
//   title     task title; default "信息公开"
//   publish   variable names to include; default: all variables. Names that
//             are absent from the instance are omitted.
//   channel   where it is published; default "portal"
//
// The snapshot is one document {kind "disclosure", content_type
// "application/json"} whose content is the canonical JSON of
//   {definition_key, instance_id, subject_ref, org, state, channel,
//    published_at_unix_ms, published_by, data: {selected variables},
//    redaction_note (manual mode, when given)}.
// Auto mode records it on Enter (published_by is the actor whose command led
// here, or "system") and emits outcome "published". Manual mode opens task
// "publish"; Act publish takes payload {channel, redaction_note}, both
// optional strings, records the document and emits "published". Both set
// variables.disclosure = {channel, published_at_unix_ms}.
#include <string>
#include <vector>

#include "bpm/plugin/sdk.h"

namespace bpm::plugins::disclosure {
namespace {

using namespace ::bpm::plugin;  // NOLINT(build/namespaces): SDK vocabulary

constexpr char kSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "mode": {"enum": ["manual", "auto"], "default": "manual"},
    "assignee": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "role": {"type": "string", "minLength": 1, "default": "performance_section"},
        "org": {"type": "string", "default": ""},
        "user": {"type": "string", "minLength": 1}
      }
    },
    "title": {"type": "string", "default": "信息公开"},
    "publish": {
      "type": "array",
      "uniqueItems": true,
      "items": {"type": "string", "minLength": 1},
      "description": "variables to publish; default all"
    },
    "channel": {"type": "string", "minLength": 1, "default": "portal"}
  }
})json";

// Records the snapshot document and variables.disclosure, emitting "published".
pb::Decision Publish(const pb::StageContext& ctx, const std::string& channel,
                     const std::string& published_by, const std::string* redaction_note) {
  Struct data;
  const Value* publish = Field(ctx.config(), "publish");
  if (publish == nullptr) {
    data = ctx.variables();
  } else {
    for (const std::string& name : StringList(ctx.config(), "publish")) {
      if (const Value* v = Field(ctx.variables(), name)) (*data.mutable_fields())[name] = *v;
    }
  }
  const double at = static_cast<double>(ctx.now_unix_ms());

  Struct snapshot;
  auto& s = *snapshot.mutable_fields();
  s["definition_key"] = StringValue(ctx.definition_key());
  s["instance_id"] = StringValue(ctx.instance_id());
  s["subject_ref"] = StringValue(ctx.subject_ref());
  s["org"] = StringValue(ctx.org());
  s["state"] = StringValue(ctx.state());
  s["channel"] = StringValue(channel);
  s["published_at_unix_ms"] = NumberValue(at);
  s["published_by"] = StringValue(published_by);
  s["data"] = StructValue(data);
  if (redaction_note != nullptr) s["redaction_note"] = StringValue(*redaction_note);

  Struct disclosure;
  (*disclosure.mutable_fields())["channel"] = StringValue(channel);
  (*disclosure.mutable_fields())["published_at_unix_ms"] = NumberValue(at);

  pb::Decision d = Accept("published");
  pb::DocumentSpec* doc = d.add_documents();
  doc->set_kind("disclosure");
  doc->set_content_type("application/json");
  doc->set_content(CanonicalJson(snapshot));
  (*d.mutable_set_variables()->mutable_fields())["disclosure"] = StructValue(std::move(disclosure));
  d.set_note("published to " + channel + " by " + published_by);
  return d;
}

class DisclosureStage : public Stage {
 public:
  pb::DescribeResponse Describe() const override {
    pb::DescribeResponse d;
    d.set_name("disclosure");
    d.set_version("1.0.0");
    d.set_description(
        "信息公开：将所选变量生成公开快照文档并发布。"
        " Publishes a canonical-JSON snapshot of selected variables, automatically "
        "or by a person.");
    AddAction(&d, "publish", "发布公开信息 / publish the snapshot");
    d.add_outcomes("published");
    d.set_config_schema_json(kSchema);
    return d;
  }

  void ValidateConfig(const Struct& config,
                      std::vector<pb::ConfigError>* errors) const override {
    CheckKnownKeys(config, "", {"mode", "assignee", "title", "publish", "channel"}, errors);
    if (const Value* mode = TypedField(config, "mode", Value::kStringValue, "", errors);
        mode != nullptr && mode->string_value() != "manual" && mode->string_value() != "auto") {
      AddError(errors, "mode", "must be \"manual\" or \"auto\", not \"" +
                                   mode->string_value() + "\".");
    }
    ValidateAssignee(config, "assignee", errors);
    TypedField(config, "title", Value::kStringValue, "", errors);
    CheckStringList(config, "publish", "", /*non_empty=*/false, errors);
    CheckNonEmptyString(config, "channel", "", errors);
  }

  pb::Decision Enter(const pb::EnterRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    const std::string channel = StringOr(ctx.config(), "channel", "portal");
    if (StringOr(ctx.config(), "mode", "manual") == "auto") {
      const std::string& actor = ctx.actor().user();
      return Publish(ctx, channel, actor.empty() ? "system" : actor, nullptr);
    }
    Assignee who = ResolveAssignee(ctx, "assignee", {"performance_section", "", ""});
    pb::Decision d = Accept();
    *d.add_open_tasks() =
        MakeTask("publish", StringOr(ctx.config(), "title", "信息公开"), who, {"publish"});
    return d;
  }

  pb::Decision Act(const pb::ActRequest& request) const override {
    if (request.task().name() != "publish" || request.action() != "publish") {
      return RejectUnknownAction(request);
    }
    const pb::StageContext& ctx = request.context();
    const Struct& payload = request.payload();
    pb::Decision bad;
    RejectUnknownFields(payload, "payload", {"channel", "redaction_note"}, &bad);
    const Value* channel = Field(payload, "channel");
    if (channel != nullptr && (channel->kind_case() != Value::kStringValue ||
                               Trim(channel->string_value()).empty())) {
      AddRejection(&bad, "payload.channel", "must be a non-empty string");
    }
    const Value* note = Field(payload, "redaction_note");
    if (note != nullptr && note->kind_case() != Value::kStringValue) {
      AddRejection(&bad, "payload.redaction_note", "must be a string");
    }
    if (bad.rejections_size() > 0) return bad;

    return Publish(ctx,
                   channel != nullptr ? channel->string_value()
                                      : StringOr(ctx.config(), "channel", "portal"),
                   ctx.actor().user(), note != nullptr ? &note->string_value() : nullptr);
  }
};

}  // namespace
}  // namespace bpm::plugins::disclosure

BPM_PLUGIN_EXPORT(bpm::plugins::disclosure::DisclosureStage, "disclosure", "1.0.0")
