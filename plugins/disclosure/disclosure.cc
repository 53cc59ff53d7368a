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
//   due_days  the deadline in calendar days from entering (信息公开时限, e.g.
//             20 days after the budget's approval); the publish task is due
//             then, an overdue notification goes out when it passes, and the
//             snapshot and variables.disclosure record on_time
//   review    optional: {assignee, title} of a redaction review (绩效公开审核):
//             publish then only proposes, opening task "review" for the
//             reviewer, who approves (the snapshot is recorded) or returns it
//             with a comment (the publish task opens again)
//
// The snapshot is one document {kind "disclosure", content_type
// "application/json"} whose content is the canonical JSON of
//   {definition_key, instance_id, subject_ref, org, state, channel,
//    published_at_unix_ms, published_by, data: {selected variables},
//    redaction_note (manual mode, when given)}.
// Auto mode records it on Enter (published_by is the actor whose command led
// here, or "system") and emits outcome "published". Manual mode opens task
// "publish"; Act publish takes payload {channel, redaction_note, redactions},
// where redactions lists dotted paths of the published data to withhold
// (保密内容, e.g. "form.amount"; each must exist), records the document and
// emits "published" (with a review: after the reviewer approves). The
// snapshot lists the withheld paths under "redacted". Both modes set
// variables.disclosure = {channel, published_at_unix_ms, on_time
// [, due_unix_ms, reviewed_by]}.
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
    "channel": {"type": "string", "minLength": 1, "default": "portal"},
    "due_days": {"type": "integer", "minimum": 1, "maximum": 366},
    "review": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "assignee": {"type": "object"},
        "title": {"type": "string", "default": "绩效公开审核"}
      }
    }
  }
})json";

// Removes a dotted path ("form.amount") from data; false when it is absent.
bool Redact(Struct* data, const std::string& path) {
  Struct* at = data;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? dot : dot - start);
    auto it = at->mutable_fields()->find(key);
    if (key.empty() || it == at->mutable_fields()->end()) return false;
    if (dot == std::string::npos) {
      at->mutable_fields()->erase(it);
      return true;
    }
    if (it->second.kind_case() != Value::kStructValue) return false;
    at = it->second.mutable_struct_value();
    start = dot + 1;
  }
}

// What a publish (or its review) carries: {channel, redaction_note, redactions}.
struct Proposal {
  std::string channel;
  const std::string* note = nullptr;
  std::vector<std::string> redactions;
  std::string by;           // who prepared it
  std::string reviewed_by;  // "" without a review
};

// The selected variables, with the proposal's redactions applied; a
// rejection naming the first path that is not there.
bool Data(const pb::StageContext& ctx, const std::vector<std::string>& redactions, Struct* data,
          pb::Decision* bad) {
  const Value* publish = Field(ctx.config(), "publish");
  if (publish == nullptr) {
    *data = Vars(ctx).All();
  } else {
    for (const std::string& name : StringList(ctx.config(), "publish")) {
      if (const Value* v = Field(Vars(ctx), name)) (*data->mutable_fields())[name] = *v;
    }
  }
  for (size_t i = 0; i < redactions.size(); ++i) {
    if (!Redact(data, redactions[i])) {
      AddRejection(bad, "payload.redactions[" + std::to_string(i) + "]",
                   "'" + redactions[i] + "' is not in the published data");
    }
  }
  return bad->rejections_size() == 0;
}

// Records the snapshot document and variables.disclosure, emitting "published".
pb::Decision Publish(const pb::StageContext& ctx, const Proposal& p, int64_t due_ms) {
  Struct data;
  pb::Decision bad;
  if (!Data(ctx, p.redactions, &data, &bad)) return bad;
  const bool on_time = due_ms <= 0 || ctx.now_unix_ms() <= due_ms;
  const double at = static_cast<double>(ctx.now_unix_ms());

  Struct snapshot;
  auto& s = *snapshot.mutable_fields();
  s["definition_key"] = StringValue(ctx.definition_key());
  s["instance_id"] = StringValue(ctx.instance_id());
  s["subject_ref"] = StringValue(ctx.subject_ref());
  s["org"] = StringValue(ctx.org());
  s["state"] = StringValue(ctx.state());
  s["channel"] = StringValue(p.channel);
  s["published_at_unix_ms"] = NumberValue(at);
  s["published_by"] = StringValue(p.by);
  s["data"] = StructValue(std::move(data));  // moved: a copy is of every variable
  if (p.note != nullptr) s["redaction_note"] = StringValue(*p.note);
  if (!p.redactions.empty()) s["redacted"] = StringListValue(p.redactions);
  if (!p.reviewed_by.empty()) s["reviewed_by"] = StringValue(p.reviewed_by);
  if (due_ms > 0) s["due_unix_ms"] = NumberValue(static_cast<double>(due_ms));
  s["on_time"] = BoolValue(on_time);

  Struct disclosure;
  auto& v = *disclosure.mutable_fields();
  v["channel"] = StringValue(p.channel);
  v["published_at_unix_ms"] = NumberValue(at);
  v["on_time"] = BoolValue(on_time);
  if (due_ms > 0) v["due_unix_ms"] = NumberValue(static_cast<double>(due_ms));
  if (!p.reviewed_by.empty()) v["reviewed_by"] = StringValue(p.reviewed_by);

  pb::Decision d = Accept("published");
  pb::DocumentSpec* doc = d.add_documents();
  doc->set_kind("disclosure");
  doc->set_content_type("application/json");
  doc->set_content(CanonicalJson(snapshot));
  (*d.mutable_set_variables()->mutable_fields())["disclosure"] = StructValue(std::move(disclosure));
  d.set_note("published to " + p.channel + " by " + p.by +
             (p.reviewed_by.empty() ? "" : ", reviewed by " + p.reviewed_by) +
             (on_time ? "" : " (after the deadline)"));
  return d;
}

// The due time of the state's publish task (0: none).
int64_t DueOf(const pb::StageContext& ctx) {
  for (const pb::TaskInfo& t : ctx.open_tasks()) {
    if (t.name() == "publish" || t.name() == "review") {
      const Value* due = Field(t.data(), "due_unix_ms");
      if (due != nullptr) return static_cast<int64_t>(due->number_value());
      if (t.due_unix_ms() > 0) return t.due_unix_ms();
    }
  }
  return 0;
}

class DisclosureStage : public Stage {
 public:
  static constexpr bool kVariablesByName = true;  // reads them through Vars()
  // Its own record, and what it publishes: the configured variables, or all.
  std::optional<std::vector<std::string>> VariablesRead(const Struct& config) const override {
    if (Field(config, "publish") == nullptr) return std::nullopt;
    std::vector<std::string> names = StringList(config, "publish");
    names.push_back("disclosure");
    return names;
  }

  pb::DescribeResponse Describe() const override {
    pb::DescribeResponse d;
    d.set_name("disclosure");
    d.set_version("1.0.0");
    d.set_description(
        "信息公开：将所选变量生成公开快照文档并发布。"
        " Publishes a canonical-JSON snapshot of selected variables, automatically "
        "or by a person.");
    AddAction(&d, "publish", "发布公开信息 / publish the snapshot");
    AddAction(&d, "approve", "公开审核通过 / the redaction review approves");
    AddAction(&d, "return", "公开审核退回 / the redaction review returns it");
    d.add_outcomes("published");
    d.set_config_schema_json(kSchema);
    return d;
  }

  void ValidateConfig(const Struct& config,
                      std::vector<pb::ConfigError>* errors) const override {
    CheckKnownKeys(config, "", {"mode", "assignee", "title", "publish", "channel", "due_days", "review"},
                   errors);
    CheckIntegerInRange(config, "due_days", "", 1, 366, errors);
    if (const Value* review = TypedField(config, "review", Value::kStructValue, "", errors)) {
      CheckKnownKeys(review->struct_value(), "review", {"assignee", "title"}, errors);
      std::vector<pb::ConfigError> inner;  // paths relative to review
      ValidateAssignee(review->struct_value(), "assignee", &inner);
      for (pb::ConfigError& e : inner) {
        e.set_path("review." + e.path());
        errors->push_back(std::move(e));
      }
      TypedField(review->struct_value(), "title", Value::kStringValue, "review", errors);
      if (StringOr(config, "mode", "manual") == "auto") {
        AddError(errors, "review", "needs mode manual: an automatic publication has nobody to review.");
      }
    }
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
      Proposal p;
      p.channel = channel;
      p.by = actor.empty() ? "system" : actor;
      return Publish(ctx, p, 0);
    }
    pb::Decision d = Accept();
    *d.add_open_tasks() = PublishTask(ctx, 0);
    return d;
  }

  pb::Decision OnTimer(const pb::TimerRequest& request) const override {
    pb::Decision d = Accept();
    if (request.timer() != "overdue") return d;
    const pb::StageContext& ctx = request.context();
    Struct disclosure = StructOr(Vars(ctx), "disclosure");
    (*disclosure.mutable_fields())["overdue"] = BoolValue(true);
    (*d.mutable_set_variables()->mutable_fields())["disclosure"] = StructValue(std::move(disclosure));
    d.set_note("disclosure deadline passed (信息公开逾期)");
    return d;
  }

  pb::Decision Act(const pb::ActRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    if (request.task().name() == "review" &&
        (request.action() == "approve" || request.action() == "return")) {
      return Review(request);
    }
    if (request.task().name() != "publish" || request.action() != "publish") {
      return RejectUnknownAction(request);
    }
    const Struct& payload = request.payload();
    pb::Decision bad;
    RejectUnknownFields(payload, "payload", {"channel", "redaction_note", "redactions"}, &bad);
    std::vector<std::string> redactions;
    if (const Value* r = Field(payload, "redactions"); r != nullptr) {
      if (r->kind_case() != Value::kListValue) {
        AddRejection(&bad, "payload.redactions", "must be a list of dotted paths");
      } else {
        for (int i = 0; i < r->list_value().values_size(); ++i) {
          const Value& e = r->list_value().values(i);
          if (e.kind_case() != Value::kStringValue || Trim(e.string_value()).empty()) {
            AddRejection(&bad, "payload.redactions[" + std::to_string(i) + "]",
                         "must be a non-empty string");
          } else {
            redactions.push_back(e.string_value());
          }
        }
      }
    }
    const Value* channel = Field(payload, "channel");
    if (channel != nullptr && (channel->kind_case() != Value::kStringValue ||
                               Trim(channel->string_value()).empty())) {
      AddRejection(&bad, "payload.channel", "must be a non-empty string");
    }
    const Value* note = Field(payload, "redaction_note");
    if (note != nullptr && note->kind_case() != Value::kStringValue) {
      AddRejection(&bad, "payload.redaction_note", "must be a string");
    }
    if (!redactions.empty() && (note == nullptr || Trim(note->string_value()).empty())) {
      AddRejection(&bad, "payload.redaction_note", "is required with redactions: say why (保密理由)");
    }
    if (bad.rejections_size() > 0) return bad;
    Proposal p;
    p.channel = channel != nullptr ? channel->string_value()
                                   : StringOr(ctx.config(), "channel", "portal");
    p.note = note != nullptr ? &note->string_value() : nullptr;
    p.redactions = redactions;
    p.by = ctx.actor().user();
    const int64_t due = DueOf(ctx);
    const Value* review = Field(ctx.config(), "review");
    if (review == nullptr) return Publish(ctx, p, due);

    // The redaction review: check the proposal now, publish on approval.
    Struct ignored;
    if (!Data(ctx, p.redactions, &ignored, &bad)) return bad;
    const Struct& rc = review->struct_value();
    pb::StageContext review_ctx = ctx;  // the review block's assignee, substituted alike
    *review_ctx.mutable_config() = rc;
    Assignee who = ResolveAssignee(review_ctx, "assignee", {"performance_section", "", ""});
    pb::Decision d = Accept();
    pb::TaskSpec* t = d.add_open_tasks();
    *t = MakeTask("review", StringOr(rc, "title", "绩效公开审核"), who, {"approve", "return"});
    t->add_exclude_users(p.by);  // separation of duties
    auto& f = *t->mutable_data()->mutable_fields();
    f["channel"] = StringValue(p.channel);
    if (p.note != nullptr) f["redaction_note"] = StringValue(*p.note);
    f["redactions"] = StringListValue(p.redactions);
    f["prepared_by"] = StringValue(p.by);
    if (due > 0) f["due_unix_ms"] = NumberValue(static_cast<double>(due));
    d.set_note("proposed for publication by " + p.by + " (" + std::to_string(p.redactions.size()) +
               " redactions); awaiting review");
    return d;
  }

 private:
  pb::TaskSpec PublishTask(const pb::StageContext& ctx, int64_t due_ms) const {
    Assignee who = ResolveAssignee(ctx, "assignee", {"performance_section", "", ""});
    pb::TaskSpec t = MakeTask("publish", StringOr(ctx.config(), "title", "信息公开"), who, {"publish"});
    const int days = IntegerOr<int>(ctx.config(), "due_days", 0);
    if (due_ms > 0) {
      t.set_due_unix_ms(due_ms);
      (*t.mutable_data()->mutable_fields())["due_unix_ms"] = NumberValue(static_cast<double>(due_ms));
    } else if (days > 0) {
      t.mutable_due()->set_days(days);
      t.set_overdue_timer(true);
    }
    return t;
  }

  pb::Decision Review(const pb::ActRequest& request) const {
    const pb::StageContext& ctx = request.context();
    const Struct& data = request.task().data();
    int64_t due = IntegerOr<int64_t>(data, "due_unix_ms", 0);
    if (request.action() == "return") {
      if (Trim(request.comment()).empty()) {
        return Reject("comment", "a return needs a comment (退回须填写意见)");
      }
      pb::Decision d = Accept();
      *d.add_open_tasks() = PublishTask(ctx, due);
      d.set_note("publication returned by " + ctx.actor().user());
      return d;
    }
    Proposal p;
    p.channel = StringOr(data, "channel", "portal");
    const Value* note = Field(data, "redaction_note");
    p.note = note != nullptr ? &note->string_value() : nullptr;
    p.redactions = StringList(data, "redactions");
    p.by = StringOr(data, "prepared_by", "");
    p.reviewed_by = ctx.actor().user();
    return Publish(ctx, p, due);
  }
};

}  // namespace
}  // namespace bpm::plugins::disclosure

BPM_PLUGIN_EXPORT(bpm::plugins::disclosure::DisclosureStage, "disclosure", "1.0.0")
