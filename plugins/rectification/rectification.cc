// Stage "rectification" (整改): the unit rectifies, the checker verifies.
//
// Config:
//   unit          who rectifies; default {role: unit_filer, org: "${org}"}
//   checker       who verifies; default {role: finance_reviewer} (any org)
//   due_days      whole days from entering to the deadline, 1..3650; default 30
//   requirements  整改要求, free text; default ""
//   title         title of the unit's task; default "提交整改材料"
//   check_title   title of the checker's task; default "整改验收"
//
// Enter sets variables.rectification = {due_unix_ms, requirements, round: 1}
// and opens "submit_evidence" (action submit, due at the deadline) for the unit.
//   submit_evidence/submit  payload {evidence: non-blank string,
//                           attachments: [{name, sha256 (64 lowercase hex)}]};
//                           records evidence, attachments, submitted_by,
//                           submitted_at_unix_ms and overdue (true when later
//                           than the deadline; still accepted), then opens
//                           "check" (accept, return) for the checker.
//   check/accept            result "整改到位", checked_by -> outcome "accepted"
//   check/return            needs a comment; round + 1 and a new
//                           "submit_evidence" task with the ORIGINAL deadline.
// The deadline and round live in variables.rectification, the source of truth.
#include <cstdint>
#include <string>
#include <vector>

#include "bpm/plugin/sdk.h"

namespace bpm::plugins::rectification {
namespace {

using namespace ::bpm::plugin;  // NOLINT(build/namespaces): SDK vocabulary

constexpr int64_t kDayMs = 86400000;
constexpr int64_t kDefaultDueDays = 30;

// The config's due_days in milliseconds (ValidateConfig holds it to 1..3650;
// anything else is the default).
int64_t DueDaysMs(const Struct& config) {
  const int64_t days = IntegerOr<int64_t>(config, "due_days", kDefaultDueDays);
  return (days >= 1 && days <= 3650 ? days : kDefaultDueDays) * kDayMs;
}

// The round recorded in variables.rectification: 1 unless a plausible count
// (the variable is the instance's, which a client may have set at start).
int Round(const Struct& rect) {
  const int round = IntegerOr<int>(rect, "round", 1);
  return round >= 1 && round <= 1000000 ? round : 1;
}

const Assignee kDefaultUnit = {"unit_filer", "${org}", ""};
const Assignee kDefaultChecker = {"finance_reviewer", "", ""};

constexpr char kSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "unit": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "role": {"type": "string", "minLength": 1, "default": "unit_filer"},
        "org": {"type": "string", "default": "${org}"},
        "user": {"type": "string", "minLength": 1}
      }
    },
    "checker": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "role": {"type": "string", "minLength": 1, "default": "finance_reviewer"},
        "org": {"type": "string", "default": ""},
        "user": {"type": "string", "minLength": 1}
      }
    },
    "due_days": {"type": "integer", "minimum": 1, "maximum": 3650, "default": 30},
    "requirements": {"type": "string", "default": ""},
    "title": {"type": "string", "default": "提交整改材料"},
    "check_title": {"type": "string", "default": "整改验收"}
  }
})json";

bool IsSha256Hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Checks payload.attachments (absent is fine).
void ValidateAttachments(const Struct& payload, pb::Decision* bad) {
  const Value* v = Field(payload, "attachments");
  if (v == nullptr) return;
  if (v->kind_case() != Value::kListValue) {
    return AddRejection(bad, "payload.attachments", "must be a list of {name, sha256}");
  }
  for (int i = 0; i < v->list_value().values_size(); ++i) {
    const Value& item = v->list_value().values(i);
    const std::string path = IndexPath("payload.attachments", i);
    if (item.kind_case() != Value::kStructValue) {
      AddRejection(bad, path, "must be an object {name, sha256}");
      continue;
    }
    const Struct& a = item.struct_value();
    RejectUnknownFields(a, path, {"name", "sha256"}, bad);
    if (Trim(StringOr(a, "name", "")).empty()) {
      AddRejection(bad, JoinPath(path, "name"), "must be a non-empty file name");
    }
    if (!IsSha256Hex(StringOr(a, "sha256", ""))) {
      AddRejection(bad, JoinPath(path, "sha256"),
                   "must be a SHA-256 digest: 64 lowercase hex digits");
    }
  }
}

class RectificationStage : public Stage {
 public:
  static constexpr bool kVariablesByName = true;  // reads them through Vars()
  std::optional<std::vector<std::string>> VariablesRead(const Struct&) const override {
    return std::vector<std::string>{"rectification"};
  }

  pb::DescribeResponse Describe() const override {
    pb::DescribeResponse d;
    d.set_name("rectification");
    d.set_version("1.0.0");
    d.set_description(
        "整改：单位在期限内提交整改材料，财政部门验收，不到位则退回重新整改。"
        " The unit submits rectification evidence before a deadline; a checker "
        "accepts it or returns it for another round with the same deadline.");
    AddAction(&d, "submit", "提交整改材料 / submit rectification evidence");
    AddAction(&d, "accept", "验收通过（整改到位） / accept the rectification");
    AddAction(&d, "return", "退回重新整改（须填写意见） / return for another round, with a comment");
    d.add_outcomes("accepted");
    d.set_config_schema_json(kSchema);
    return d;
  }

  void ValidateConfig(const Struct& config,
                      std::vector<pb::ConfigError>* errors) const override {
    CheckKnownKeys(config, "",
                   {"unit", "checker", "due_days", "requirements", "title", "check_title"},
                   errors);
    ValidateAssignee(config, "unit", errors);
    ValidateAssignee(config, "checker", errors);
    CheckIntegerInRange(config, "due_days", "", 1, 3650, errors);
    TypedField(config, "requirements", Value::kStringValue, "", errors);
    TypedField(config, "title", Value::kStringValue, "", errors);
    TypedField(config, "check_title", Value::kStringValue, "", errors);
  }

  pb::Decision Enter(const pb::EnterRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    int64_t due = ctx.now_unix_ms() + DueDaysMs(ctx.config());
    Struct rect;
    auto& f = *rect.mutable_fields();
    f["due_unix_ms"] = NumberValue(static_cast<double>(due));
    f["requirements"] = StringValue(StringOr(ctx.config(), "requirements", ""));
    f["round"] = NumberValue(1);

    pb::Decision d = Accept();
    (*d.mutable_set_variables()->mutable_fields())["rectification"] = StructValue(std::move(rect));
    *d.add_open_tasks() = SubmitTask(ctx, due, 1);
    return d;
  }

  pb::Decision Act(const pb::ActRequest& request) const override {
    const std::string& task = request.task().name();
    const std::string& action = request.action();
    if (task == "submit_evidence" && action == "submit") return Submit(request);
    if (task == "check" && (action == "accept" || action == "return")) return Check(request);
    return RejectUnknownAction(request);
  }

 private:
  pb::TaskSpec SubmitTask(const pb::StageContext& ctx, int64_t due, int round) const {
    pb::TaskSpec t = MakeTask("submit_evidence", StringOr(ctx.config(), "title", "提交整改材料"),
                              ResolveAssignee(ctx, "unit", kDefaultUnit), {"submit"}, due);
    (*t.mutable_data()->mutable_fields())["round"] = NumberValue(round);
    return t;
  }

  pb::Decision Submit(const pb::ActRequest& request) const {
    const pb::StageContext& ctx = request.context();
    const Struct& payload = request.payload();
    pb::Decision bad;
    RejectUnknownFields(payload, "payload", {"evidence", "attachments"}, &bad);
    const Value* evidence = Field(payload, "evidence");
    if (evidence == nullptr || evidence->kind_case() != Value::kStringValue ||
        Trim(evidence->string_value()).empty()) {
      AddRejection(&bad, "payload.evidence",
                   "is required: describe the rectification (须说明整改情况)");
    }
    ValidateAttachments(payload, &bad);
    if (bad.rejections_size() > 0) return bad;

    Struct rect = StructOr(Vars(ctx), "rectification");
    auto& f = *rect.mutable_fields();
    const int round = Round(rect);
    const double due = NumberOr(rect, "due_unix_ms", 0);
    const bool overdue = due > 0 && static_cast<double>(ctx.now_unix_ms()) > due;
    f["evidence"] = *evidence;
    // Each round's attachments replace the previous round's; none is [].
    const Value* attachments = Field(payload, "attachments");
    f["attachments"] = attachments != nullptr ? *attachments : StringListValue({});
    f["submitted_by"] = StringValue(ctx.actor().user());
    f["submitted_at_unix_ms"] = NumberValue(static_cast<double>(ctx.now_unix_ms()));
    f["round"] = NumberValue(round);
    f["overdue"] = BoolValue(overdue);

    pb::Decision d = Accept();
    (*d.mutable_set_variables()->mutable_fields())["rectification"] = StructValue(std::move(rect));
    pb::TaskSpec* check = d.add_open_tasks();
    *check = MakeTask("check", StringOr(ctx.config(), "check_title", "整改验收"),
                      ResolveAssignee(ctx, "checker", kDefaultChecker), {"accept", "return"});
    (*check->mutable_data()->mutable_fields())["round"] = NumberValue(round);
    d.set_note("round " + std::to_string(round) + " evidence submitted by " +
               ctx.actor().user() + (overdue ? " (overdue, 逾期)" : ""));
    return d;
  }

  pb::Decision Check(const pb::ActRequest& request) const {
    const pb::StageContext& ctx = request.context();
    Struct rect = StructOr(Vars(ctx), "rectification");
    auto& f = *rect.mutable_fields();
    const int round = Round(rect);
    pb::Decision d;
    if (request.action() == "accept") {
      f["result"] = StringValue("整改到位");
      f["checked_by"] = StringValue(ctx.actor().user());
      f["checked_at_unix_ms"] = NumberValue(static_cast<double>(ctx.now_unix_ms()));
      d = Accept("accepted");
      d.set_note("rectification accepted by " + ctx.actor().user());
    } else {
      if (Trim(request.comment()).empty()) {
        return Reject("comment", "a return needs a comment (退回须填写意见)");
      }
      // The deadline stays the one set on entering; fall back to a fresh one
      // only if the variable was lost.
      int64_t due = IntegerOr<int64_t>(rect, "due_unix_ms", 0);
      if (due <= 0) {
        due = ctx.now_unix_ms() + DueDaysMs(ctx.config());
        f["due_unix_ms"] = NumberValue(static_cast<double>(due));
      }
      f["round"] = NumberValue(round + 1);
      f["returned_by"] = StringValue(ctx.actor().user());
      f["return_comment"] = StringValue(request.comment());
      d = Accept();
      *d.add_open_tasks() = SubmitTask(ctx, due, round + 1);
      d.set_note("round " + std::to_string(round) + " returned by " + ctx.actor().user());
    }
    (*d.mutable_set_variables()->mutable_fields())["rectification"] = StructValue(std::move(rect));
    return d;
  }
};

}  // namespace
}  // namespace bpm::plugins::rectification

BPM_PLUGIN_EXPORT(bpm::plugins::rectification::RectificationStage, "rectification", "1.0.0")
