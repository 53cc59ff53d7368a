// Stage "review" (审核): a multi-level review chain routed by the org model.
//
// Config (all optional; see chain.h for one level's keys):
//   chain          list of levels (单位负责人 → 主管部门 up to N levels → 财政业务股 →
//                  绩效股 → 局领导, named roles or users), each with a mode:
//                  any 或签 | all 会签 | sequential 依次 | vote 票签
//   assignee       shorthand for a one-level chain {role, org} or {user}
//                  (default {role: authority_reviewer}, any org)
//   title          task title default; comment_required_on_return (default true)
//   on_self        skip (default) | superior: a level whose approvers are all
//                  excluded (the filing's initiator or submitter never reviews
//                  it) is skipped, or goes to superior_role (default head) of
//                  the level's org
//   on_empty       fail (default) | skip | fallback: nobody holds the role —
//                  refuse with a clear error, skip the level, or route to
//                  fallback_role (default head) of the level's org
//   return_to      previous (default) | initiator: where a return goes when the
//                  reviewer does not say (payload.to)
//   resume         rerun (default) | returning_step: after a return to the
//                  initiator and resubmission, start over or resume at the step
//                  that returned it (payload.resume overrides)
//   due            {days: N} | {working_days: N}; remind_before_hours
//   on_overdue     notify (default) | escalate | reassign | auto_approve |
//                  auto_return; escalate_role (default head); reassign_to
//                  {user} | {role, org}
//
// Actions on a review task: approve; return (payload {to: previous|initiator|
// step, step: NAME, resume: rerun|returning_step}); add_signer (payload {user,
// position: before|after}, 加签); remove_signer (payload {user}, 减签).
// Outcomes: approved (the last level passed), returned (back to the initiator).
// Progress lives in variables._review.<state>; every decision also records
// variables.last_review = {state, step, action, by, comment, at_unix_ms}.
#include <algorithm>
#include <string>
#include <vector>

#include "bpm/plugin/sdk.h"
#include "plugins/review/chain.h"

namespace bpm::plugins::review {
namespace {

using namespace ::bpm::plugin;  // NOLINT(build/namespaces): SDK vocabulary

const std::vector<std::string> kActions = {"approve", "return", "add_signer", "remove_signer"};

constexpr char kSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "assignee": {"type": "object", "additionalProperties": false,
      "properties": {"role": {"type": "string"}, "org": {"type": "string"}, "user": {"type": "string"}}},
    "chain": {"type": "array", "minItems": 1, "items": {"type": "object", "additionalProperties": false,
      "required": ["level"],
      "properties": {
        "level": {"enum": ["unit_leader", "department", "owning_section", "performance_section", "leadership", "role", "user"]},
        "depth": {"type": "integer", "minimum": 1, "maximum": 10},
        "role": {"type": "string"}, "org": {"type": "string"}, "user": {"type": "string"},
        "mode": {"enum": ["any", "all", "sequential", "vote"]},
        "veto": {"type": "boolean"}, "pass_ratio": {"type": "number"},
        "weights": {"type": "object", "additionalProperties": {"type": "number"}},
        "name": {"type": "string"}, "title": {"type": "string"}}}},
    "title": {"type": "string"},
    "comment_required_on_return": {"type": "boolean"},
    "on_self": {"enum": ["skip", "superior"]}, "superior_role": {"type": "string"},
    "on_empty": {"enum": ["fail", "skip", "fallback"]}, "fallback_role": {"type": "string"},
    "return_to": {"enum": ["previous", "initiator"]},
    "resume": {"enum": ["rerun", "returning_step"]},
    "due": {"type": "object", "additionalProperties": false,
      "properties": {"days": {"type": "integer"}, "working_days": {"type": "integer"}}},
    "remind_before_hours": {"type": "integer"},
    "on_overdue": {"enum": ["notify", "escalate", "reassign", "auto_approve", "auto_return"]},
    "escalate_role": {"type": "string"},
    "reassign_to": {"type": "object"}
  }
})json";

void CheckEnum(const Struct& s, const std::string& key, const std::vector<std::string>& values,
               std::vector<pb::ConfigError>* errors) {
  const Value* v = TypedField(s, key, Value::kStringValue, "", errors);
  if (v != nullptr && std::find(values.begin(), values.end(), v->string_value()) == values.end()) {
    AddError(errors, key, "'" + v->string_value() + "' is not one of " + JoinStrings(values, ", "));
  }
}

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

enum class Verdict { kPending, kPass, kFail };

// One decision of the stage: the chain state, the context, and the Decision
// being built.
class Run {
 public:
  explicit Run(const pb::StageContext& ctx)
      : ctx_(ctx), config_(ctx.config()), excluded_(ExcludedUsers(ctx)) {
    if (const Value* r = Field(Vars(ctx), "_review"); r != nullptr && r->has_struct_value()) {
      stored_ = &r->struct_value();
    }
    if (const Value* v = Field(*stored_, ctx.state()); v != nullptr && v->has_struct_value()) {
      state_ = FromStruct(v->struct_value());
      had_state_ = true;
    }
    d_.set_accepted(true);
  }

  bool had_state() const { return had_state_; }
  ChainState& state() { return state_; }
  pb::Decision& decision() { return d_; }

  // Enters step idx (skipping per policy); on the end emits "approved".
  bool Activate(int idx) {
    while (true) {
      if (idx >= static_cast<int>(state_.steps.size())) {
        d_.set_outcome("approved");
        state_.slots.clear();
        state_.current = idx;
        state_.resume_at = -1;
        return true;
      }
      const Step& st = state_.steps[idx];
      std::vector<std::string> entries;
      bool group = false;
      const bool needs_org = st.level != "role" && st.level != "user";
      if (needs_org && st.org.empty()) {
        // The org model does not know this level for the instance's org.
        if (!Empty(st, idx, &entries, "the org model has no " + st.level + " for org " + ctx_.org())) {
          return false;
        }
        if (entries.empty()) {
          ++idx;
          continue;
        }
      } else if (!st.members_known && st.user.empty()) {
        group = true;
      } else if (st.members.empty()) {
        if (st.only_excluded) {
          if (StringOr(config_, "on_self", "skip") == "skip") {
            Note("step " + st.name + " skipped: its approvers submitted the filing");
            ++idx;
            continue;
          }
          entries = Others(st, StringOr(config_, "superior_role", "head"));
          if (entries.empty() &&
              !Empty(st, idx, &entries,
                     "no superior (" + StringOr(config_, "superior_role", "head") + ") in org " +
                         st.org + " to take over from the filing's own submitter")) {
            return false;
          }
        } else if (!Empty(st, idx, &entries,
                          "nobody holds role " + st.role + " in org " + st.org)) {
          return false;
        }
        if (entries.empty()) {
          ++idx;
          continue;
        }
      } else {
        entries = st.members;
      }
      state_.current = idx;
      state_.slots.clear();
      if (group || (st.mode == "any" && st.user.empty() && entries == st.members)) {
        state_.slots.push_back({{"@group"}, 0, ""});
      } else if (st.mode == "any") {
        state_.slots.push_back({{entries.front()}, 0, ""});
        for (size_t k = 1; k < entries.size(); ++k) state_.slots.push_back({{entries[k]}, 0, ""});
      } else {
        for (const std::string& u : entries) state_.slots.push_back({{u}, 0, ""});
      }
      if (st.mode == "sequential") {
        OpenSlotTask(0);
      } else {
        for (size_t j = 0; j < state_.slots.size(); ++j) OpenSlotTask(static_cast<int>(j));
      }
      return true;
    }
  }

  // Opens the task of slot j's current signer.
  void OpenSlotTask(int j) {
    const Step& st = state_.steps[state_.current];
    const Slot& slot = state_.slots[j];
    const std::string& who = slot.users[slot.pos];
    pb::TaskSpec* t = d_.add_open_tasks();
    t->set_name("review");
    t->set_title(st.title);
    if (who == "@group") {
      t->set_assignee_role(st.role);
      t->set_assignee_org(st.org);
    } else if (who.rfind("@role:", 0) == 0) {
      std::string rest = who.substr(6);
      size_t at = rest.find('@');
      t->set_assignee_role(rest.substr(0, at));
      t->set_assignee_org(at == std::string::npos ? "" : rest.substr(at + 1));
    } else {
      t->set_assignee_user(who);
    }
    for (const auto& a : kActions) t->add_actions(a);
    auto& data = *t->mutable_data()->mutable_fields();
    data["step"] = NumberValue(state_.current);
    data["slot"] = NumberValue(j);
    for (const auto& u : excluded_) t->add_exclude_users(u);
    const Struct due = StructOr(config_, "due");
    if (!due.fields().empty()) {
      t->mutable_due()->set_days(static_cast<int32_t>(NumberOr(due, "days", 0)));
      t->mutable_due()->set_working_days(static_cast<int32_t>(NumberOr(due, "working_days", 0)));
      t->set_remind_before_hours(static_cast<int32_t>(NumberOr(config_, "remind_before_hours", 0)));
      t->set_overdue_timer(true);
    }
  }

  Verdict Evaluate() const {
    const Step& st = state_.steps[state_.current];
    int approved = 0, returned = 0, pending = 0;
    double w_approved = 0, w_pending = 0, w_total = 0;
    for (const Slot& s : state_.slots) {
      if (s.result == "removed") continue;
      const std::string& base = s.users.back();
      auto it = st.weights.find(base);
      double w = it == st.weights.end() ? 1.0 : it->second;
      w_total += w;
      if (s.result == "approved") {
        ++approved;
        w_approved += w;
      } else if (s.result == "returned") {
        ++returned;
      } else {
        ++pending;
        w_pending += w;
      }
    }
    if (approved + returned + pending == 0) return Verdict::kFail;
    if (st.mode == "any") {
      if (approved > 0) return Verdict::kPass;
      return returned > 0 ? Verdict::kFail : Verdict::kPending;
    }
    if (st.mode == "vote") {
      if (w_approved / w_total >= st.pass_ratio - 1e-9) return Verdict::kPass;
      if ((w_approved + w_pending) / w_total < st.pass_ratio - 1e-9) return Verdict::kFail;
      return Verdict::kPending;
    }
    if (returned > 0 && (st.mode == "sequential" || st.veto)) return Verdict::kFail;
    if (pending > 0) return Verdict::kPending;
    if (returned == 0) return Verdict::kPass;
    return approved > returned ? Verdict::kPass : Verdict::kFail;
  }

  // After a slot changed: pass to the next step, return, or go on.
  bool Advance(const std::string& acted_task, const Struct& return_payload) {
    switch (Evaluate()) {
      case Verdict::kPass:
        CancelStepTasks(acted_task);
        return Activate(state_.current + 1);
      case Verdict::kFail:
        CancelStepTasks(acted_task);
        return ReturnTo(return_payload);
      case Verdict::kPending:
        if (state_.steps[state_.current].mode == "sequential") {
          for (size_t j = 0; j < state_.slots.size(); ++j) {
            if (state_.slots[j].result.empty()) {
              if (!HasOpenTask(static_cast<int>(j))) OpenSlotTask(static_cast<int>(j));
              break;
            }
          }
        }
        return true;
    }
    return true;
  }

  bool ReturnTo(const Struct& payload) {
    std::string to = StringOr(payload, "to", StringOr(config_, "return_to", "previous"));
    if (to == "step") {
      const std::string name = StringOr(payload, "step", "");
      for (int i = 0; i < state_.current; ++i) {
        if (state_.steps[i].name == name) {
          Note("returned to step " + name);
          return Activate(i);
        }
      }
      Reject("payload.step", "'" + name + "' is not an earlier step of this review");
      return false;
    }
    if (to == "previous" && state_.current > 0) {
      Note("returned to step " + state_.steps[state_.current - 1].name);
      return Activate(state_.current - 1);
    }
    const std::string resume = StringOr(payload, "resume", StringOr(config_, "resume", "rerun"));
    state_.resume_at = resume == "returning_step" ? state_.current : -1;
    state_.slots.clear();
    d_.set_outcome("returned");
    return true;
  }

  void CancelStepTasks(const std::string& except) {
    for (const pb::TaskInfo& t : ctx_.open_tasks()) {
      if (t.id() != except) d_.add_cancel_tasks(t.id());
    }
  }

  bool HasOpenTask(int slot) const {
    for (const pb::TaskInfo& t : ctx_.open_tasks()) {
      if (IntegerOr<int>(t.data(), "slot", -1) == slot &&
          IntegerOr<int>(t.data(), "step", -1) == state_.current) {
        return true;
      }
    }
    return false;
  }

  std::string OpenTaskOfSlot(int slot) const {
    for (const pb::TaskInfo& t : ctx_.open_tasks()) {
      if (IntegerOr<int>(t.data(), "slot", -1) == slot &&
          IntegerOr<int>(t.data(), "step", -1) == state_.current) {
        return t.id();
      }
    }
    return "";
  }

  void Reject(const std::string& field, const std::string& message) {
    AddRejection(&d_, field, message);
  }

  void Note(const std::string& text) {
    d_.set_note(d_.note().empty() ? text : d_.note() + "; " + text);
  }

  void RecordReview(const std::string& action, const std::string& comment) {
    Struct review;
    auto& f = *review.mutable_fields();
    f["state"] = StringValue(ctx_.state());
    f["step"] = StringValue(state_.current < static_cast<int>(state_.steps.size())
                                ? state_.steps[state_.current].name
                                : "");
    f["action"] = StringValue(action);
    f["by"] = StringValue(ctx_.actor().user());
    f["comment"] = StringValue(comment);
    f["at_unix_ms"] = NumberValue(static_cast<double>(ctx_.now_unix_ms()));
    (*d_.mutable_set_variables()->mutable_fields())["last_review"] = StructValue(std::move(review));
  }

  // Writes the chain state back (removed once the chain has approved).
  pb::Decision Finish() {
    if (!d_.accepted()) {
      pb::Decision refused;
      *refused.mutable_rejections() = d_.rejections();
      return refused;
    }
    // The other review states' chains as they were; this state's as it is
    // now (none once approved).
    Struct all;
    for (const auto& [state, chain] : stored_->fields()) {
      if (state != ctx_.state()) (*all.mutable_fields())[state] = chain;
    }
    if (d_.outcome() != "approved") {
      (*all.mutable_fields())[ctx_.state()] = StructValue(ToStruct(state_));
    }
    (*d_.mutable_set_variables()->mutable_fields())["_review"] = StructValue(std::move(all));
    return std::move(d_);
  }

  const std::vector<std::string>& excluded() const { return excluded_; }

  // Whether someone who may review (not excluded) holds role in org.
  bool Holds(const std::string& org, const std::string& role) const {
    for (const auto& m : ctx_.org_context().members()) {
      if (m.org() != org || m.role() != role) continue;
      for (const std::string& u : m.users()) {
        if (!Contains(excluded_, u)) return true;
      }
    }
    return false;
  }

 private:
  // A level with nobody to route to, per on_empty. Returns false (rejected)
  // for "fail"; otherwise fills *entries (empty: skip the level).
  bool Empty(const Step& st, int idx, std::vector<std::string>* entries,
             const std::string& why) {
    const std::string policy = StringOr(config_, "on_empty", "fail");
    if (policy == "skip") {
      Note("step " + st.name + " skipped: " + why);
      entries->clear();
      return true;
    }
    if (policy == "fallback") {
      *entries = Others(st, StringOr(config_, "fallback_role", "head"));
      if (!entries->empty()) {
        Note("step " + st.name + " passed to " + StringOr(config_, "fallback_role", "head") +
             ": " + why);
        return true;
      }
    }
    Reject(IndexPath("config.chain", idx),
           "review level '" + st.name + "' has no one to review: " + why + " (on_empty: " +
               policy + ")");
    return false;
  }

  // Group entries for another role in the step's org, if anyone (not
  // excluded) holds it.
  std::vector<std::string> Others(const Step& st, const std::string& role) const {
    for (const auto& m : ctx_.org_context().members()) {
      if (m.org() != st.org || m.role() != role) continue;
      for (const std::string& u : m.users()) {
        if (!Contains(excluded_, u)) return {"@role:" + role + "@" + st.org};
      }
    }
    return {};
  }

  const pb::StageContext& ctx_;
  const Struct& config_;
  std::vector<std::string> excluded_;
  // variables._review as the request carries it: each review state's chain
  // by state name.
  const Struct* stored_ = &Struct::default_instance();
  ChainState state_;
  bool had_state_ = false;
  pb::Decision d_;
};

class ReviewStage : public Stage {
 public:
  static constexpr bool kVariablesByName = true;  // reads them through Vars()
  // The filer (the chain's first step may not review its own filing) and the
  // chain's progress.
  std::optional<std::vector<std::string>> VariablesRead(const Struct&) const override {
    return std::vector<std::string>{"_review", "submitted_by"};
  }

  pb::DescribeResponse Describe() const override {
    pb::DescribeResponse d;
    d.set_name("review");
    d.set_version("2.0.0");
    d.set_description(
        "审核链：按组织模型逐级审核（单位负责人、主管部门、财政业务股、绩效股、局领导），"
        "支持或签、会签、依次审批、票签，加签减签，退回上一级、任一步或发起人。"
        " A multi-level review chain routed by the org model.");
    AddAction(&d, "approve", "审核通过 / approve");
    AddAction(&d, "return", "退回（须填写意见）/ return, with a comment");
    AddAction(&d, "add_signer", "加签 / add a signer before or after oneself");
    AddAction(&d, "remove_signer", "减签 / remove a pending signer");
    d.add_outcomes("approved");
    d.add_outcomes("returned");
    d.set_config_schema_json(kSchema);
    return d;
  }

  void ValidateConfig(const Struct& config,
                      std::vector<pb::ConfigError>* errors) const override {
    CheckKnownKeys(config, "",
                   {"assignee", "title", "comment_required_on_return", "chain", "on_self",
                    "superior_role", "on_empty", "fallback_role", "return_to", "resume", "due",
                    "remind_before_hours", "on_overdue", "escalate_role", "reassign_to"},
                   errors);
    ValidateAssignee(config, "assignee", errors);
    TypedField(config, "title", Value::kStringValue, "", errors);
    TypedField(config, "comment_required_on_return", Value::kBoolValue, "", errors);
    ValidateChainConfig(config, errors);
    CheckEnum(config, "on_self", {"skip", "superior"}, errors);
    CheckEnum(config, "on_empty", {"fail", "skip", "fallback"}, errors);
    CheckEnum(config, "return_to", {"previous", "initiator"}, errors);
    CheckEnum(config, "resume", {"rerun", "returning_step"}, errors);
    CheckEnum(config, "on_overdue", {"notify", "escalate", "reassign", "auto_approve", "auto_return"},
              errors);
    CheckNonEmptyString(config, "superior_role", "", errors);
    CheckNonEmptyString(config, "fallback_role", "", errors);
    CheckNonEmptyString(config, "escalate_role", "", errors);
    if (const Value* due = TypedField(config, "due", Value::kStructValue, "", errors); due != nullptr) {
      CheckKnownKeys(due->struct_value(), "due", {"days", "working_days"}, errors);
      CheckIntegerInRange(due->struct_value(), "days", "due", 1, 3650, errors);
      CheckIntegerInRange(due->struct_value(), "working_days", "due", 1, 1000, errors);
      if (due->struct_value().fields_size() != 1) {
        AddError(errors, "due", "needs exactly one of days, working_days");
      }
    }
    CheckIntegerInRange(config, "remind_before_hours", "", 1, 24 * 365, errors);
    if (Field(config, "remind_before_hours") != nullptr && Field(config, "due") == nullptr) {
      AddError(errors, "remind_before_hours", "needs a due",
               "add due: {working_days: N} (or {days: N}), or remove the reminder");
    }
    // The reminder must fall inside the task's time: a working day is at
    // least 24 hours from the task's start, a calendar day exactly 24.
    const Struct due_struct = StructOr(config, "due");
    const double due_days = NumberOr(due_struct, "days", NumberOr(due_struct, "working_days", 0));
    const double remind = NumberOr(config, "remind_before_hours", 0);
    if (due_days > 0 && remind >= due_days * 24) {
      AddError(errors, "remind_before_hours",
               "reminds " + FormatNumber(remind) + " hours before a deadline only " +
                   FormatNumber(due_days * 24) + " hours after the task opens",
               "make remind_before_hours smaller than " + FormatNumber(due_days * 24) +
                   ", or the due longer");
    }
    const std::string overdue = StringOr(config, "on_overdue", "notify");
    if (Field(config, "on_overdue") != nullptr && Field(config, "due") == nullptr) {
      AddError(errors, "on_overdue", "needs a due",
               "add due: {working_days: N} (or {days: N}), or remove on_overdue");
    }
    ValidateAssignee(config, "reassign_to", errors);
    if (overdue == "reassign" && Field(config, "reassign_to") == nullptr) {
      AddError(errors, "reassign_to", "is required when on_overdue is reassign",
               "e.g. reassign_to: {role: section_head}");
    }
  }

  pb::Decision Enter(const pb::EnterRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    Run run(ctx);
    ChainState& s = run.state();
    const int resume_at = run.had_state() ? s.resume_at : -1;
    const int current = run.had_state() ? s.current : 0;
    s = ChainState();
    s.steps = ResolveSteps(ctx);
    int start = 0;
    if (request.reentry()) {
      start = current;  // re-routed: the same step, with the org as it is now
    } else if (resume_at >= 0 && resume_at < static_cast<int>(s.steps.size())) {
      start = resume_at;
      run.Note("resumed at step " + s.steps[start].name);
    }
    run.Activate(start);
    return run.Finish();
  }

  pb::Decision Act(const pb::ActRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    Run run(ctx);
    ChainState& s = run.state();
    const pb::TaskInfo& task = request.task();
    const int step = IntegerOr<int>(task.data(), "step", -1);
    const int j = IntegerOr<int>(task.data(), "slot", -1);
    if (task.name() != "review" || !run.had_state() || step != s.current || j < 0 ||
        j >= static_cast<int>(s.slots.size()) || !s.slots[j].result.empty()) {
      return Reject("task_id", "task " + task.id() + " belongs to a review step that is no longer current");
    }
    Slot& slot = s.slots[j];
    const std::string& action = request.action();
    const Struct& payload = request.payload();
    pb::Decision bad;
    if (action == "approve") {
      RejectUnknownFields(payload, "payload", {}, &bad);
      if (bad.rejections_size() > 0) return bad;
      run.RecordReview(action, request.comment());
      if (++slot.pos < static_cast<int>(slot.users.size())) {
        run.OpenSlotTask(j);  // the next signer of this slot (added after)
      } else {
        slot.result = "approved";
        run.Advance(task.id(), Struct());
      }
      run.decision().set_note(run.decision().note().empty()
                                  ? "approved by " + ctx.actor().user()
                                  : "approved by " + ctx.actor().user() + "; " +
                                        run.decision().note());
      return run.Finish();
    }
    if (action == "return") {
      RejectUnknownFields(payload, "payload", {"to", "step", "resume"}, &bad);
      const std::string to = StringOr(payload, "to", "");
      if (!to.empty() && to != "previous" && to != "initiator" && to != "step") {
        AddRejection(&bad, "payload.to", "'" + to + "' is not one of previous, initiator, step");
      }
      if (to == "step" && StringOr(payload, "step", "").empty()) {
        AddRejection(&bad, "payload.step", "is required when to is step");
      }
      const std::string resume = StringOr(payload, "resume", "");
      if (!resume.empty() && resume != "rerun" && resume != "returning_step") {
        AddRejection(&bad, "payload.resume", "'" + resume + "' is not one of rerun, returning_step");
      }
      if (BoolOr(ctx.config(), "comment_required_on_return", true) && Trim(request.comment()).empty()) {
        AddRejection(&bad, "comment", "a return needs a comment (退回须填写意见)");
      }
      if (bad.rejections_size() > 0) return bad;
      run.RecordReview(action, request.comment());
      slot.result = "returned";
      run.Advance(task.id(), payload);
      run.Note("returned by " + ctx.actor().user());
      return run.Finish();
    }
    if (action == "add_signer") {
      RejectUnknownFields(payload, "payload", {"user", "position"}, &bad);
      const std::string user = StringOr(payload, "user", "");
      const std::string position = StringOr(payload, "position", "after");
      if (user.empty()) AddRejection(&bad, "payload.user", "is required");
      if (position != "before" && position != "after") {
        AddRejection(&bad, "payload.position", "'" + position + "' is not one of before, after");
      }
      if (Contains(run.excluded(), user)) {
        AddRejection(&bad, "payload.user",
                     "separation of duties: " + user + " submitted or initiated this filing");
      }
      for (const Slot& other : s.slots) {
        for (size_t i = static_cast<size_t>(other.pos); other.result.empty() && i < other.users.size(); ++i) {
          if (other.users[i] == user) AddRejection(&bad, "payload.user", user + " is already a signer of this step");
        }
      }
      if (bad.rejections_size() > 0) return bad;
      if (position == "before") {
        slot.users.insert(slot.users.begin() + slot.pos, user);
        run.OpenSlotTask(j);  // the added signer first; the actor's turn comes after
      } else {
        slot.users.insert(slot.users.begin() + slot.pos + 1, user);
        run.decision().set_keep_task(true);
      }
      run.Note("加签 " + user + " " + position + " " + ctx.actor().user());
      return run.Finish();
    }
    if (action == "remove_signer") {
      RejectUnknownFields(payload, "payload", {"user"}, &bad);
      const std::string user = StringOr(payload, "user", "");
      if (user.empty()) AddRejection(&bad, "payload.user", "is required");
      if (user == ctx.actor().user()) AddRejection(&bad, "payload.user", "cannot remove oneself");
      if (bad.rejections_size() > 0) return bad;
      bool removed = false;
      for (size_t k = 0; k < s.slots.size() && !removed; ++k) {
        Slot& other = s.slots[k];
        if (!other.result.empty()) continue;
        for (size_t i = static_cast<size_t>(other.pos); i < other.users.size(); ++i) {
          if (other.users[i] != user) continue;
          if (static_cast<int>(i) == other.pos && static_cast<int>(k) == j) break;  // the actor's own turn
          const bool current_turn = static_cast<int>(i) == other.pos;
          if (current_turn) {
            std::string open = run.OpenTaskOfSlot(static_cast<int>(k));
            if (!open.empty()) run.decision().add_cancel_tasks(open);
          }
          other.users.erase(other.users.begin() + static_cast<long>(i));
          if (current_turn) {
            if (other.pos < static_cast<int>(other.users.size())) {
              run.OpenSlotTask(static_cast<int>(k));
            } else {
              other.result = "removed";
            }
          }
          removed = true;
          break;
        }
      }
      if (!removed) {
        return Reject("payload.user", user + " is not a pending signer of this step");
      }
      run.decision().set_keep_task(true);
      run.Note("减签 " + user + " by " + ctx.actor().user());
      run.Advance("", Struct());
      return run.Finish();
    }
    return RejectUnknownAction(request);
  }

  pb::Decision OnTimer(const pb::TimerRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    if (request.timer() != "overdue") return Accept();
    const std::string policy = StringOr(ctx.config(), "on_overdue", "notify");
    if (policy == "notify") return Accept();
    Run run(ctx);
    ChainState& s = run.state();
    const pb::TaskInfo& task = request.task();
    const int step = IntegerOr<int>(task.data(), "step", -1);
    const int j = IntegerOr<int>(task.data(), "slot", -1);
    if (!run.had_state() || step != s.current || j < 0 || j >= static_cast<int>(s.slots.size()) ||
        !s.slots[j].result.empty()) {
      return Accept();  // the step moved on: nothing to do
    }
    Slot& slot = s.slots[j];
    if (policy == "auto_approve") {
      run.RecordReview("auto_approve", "逾期自动通过");
      run.decision().add_cancel_tasks(task.id());
      if (++slot.pos < static_cast<int>(slot.users.size())) {
        run.OpenSlotTask(j);
      } else {
        slot.result = "approved";
        run.Advance(task.id(), Struct());
      }
      run.Note("overdue: auto-approved");
      return run.Finish();
    }
    if (policy == "auto_return") {
      run.RecordReview("auto_return", "逾期自动退回");
      run.CancelStepTasks("");
      Struct payload;
      (*payload.mutable_fields())["to"] = StringValue("initiator");
      run.ReturnTo(payload);
      run.Note("overdue: returned to the initiator");
      return run.Finish();
    }
    // escalate / reassign: the slot's current turn goes to someone else.
    std::string target;
    if (policy == "reassign") {
      Assignee who = ResolveAssignee(ctx, "reassign_to", {"", "", ""});
      target = who.user.empty() ? "@role:" + who.role + "@" + who.org : who.user;
    } else {
      // The level's head if someone holds that role there; else the next
      // level's reviewers; never a task nobody can see.
      const Step& st = s.steps[s.current];
      const std::string role = StringOr(ctx.config(), "escalate_role", "head");
      if (run.Holds(st.org, role)) {
        target = "@role:" + role + "@" + st.org;
      } else if (s.current + 1 < static_cast<int>(s.steps.size()) &&
                 run.Holds(s.steps[s.current + 1].org, s.steps[s.current + 1].role)) {
        target = "@role:" + s.steps[s.current + 1].role + "@" + s.steps[s.current + 1].org;
      } else {
        run.Note("overdue: nobody to escalate to (no " + role + " in org " + st.org +
                 "); the assignees were notified");
        return run.Finish();
      }
    }
    run.decision().add_cancel_tasks(task.id());
    slot.users[slot.pos] = target;
    run.OpenSlotTask(j);
    run.Note("overdue: " + policy + " to " + target);
    return run.Finish();
  }
};

}  // namespace
}  // namespace bpm::plugins::review

BPM_PLUGIN_EXPORT(bpm::plugins::review::ReviewStage, "review", "2.0.0")
