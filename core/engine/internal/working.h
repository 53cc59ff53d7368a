// Internal to core/engine: the working set of one command — everything it
// read and everything it will write. Built by a command, changed by the
// interpreter, turned into one store::Commit by Engine::Finish.
// Thread safety: none; one per command.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpm/v1/snapshot.pb.h"
#include "core/definition/definition.h"
#include "core/engine/engine.h"
#include "core/engine/internal/convert.h"
#include "core/engine/internal/instance_vars.h"
#include "core/engine/lifecycle.h"

namespace bpm::engine {

struct Engine::Working {
  // One task the command knows: read from the store, or opened by it.
  struct Task {
    store::TaskRow row;
    std::string stored_status;  // status in the database ("" when new)
    bool persisted = false;
    bool changed = false;
  };

  std::shared_ptr<const definition::Definition> def;
  store::InstanceRow inst;
  std::string entry_state;   // the state the instance was in when the command began
  std::string entry_status;  // and its lifecycle status
  // The instance's variables, loaded from inst.variables_json (which stays
  // as stored until Finish) and parsed as they are asked for. A change goes
  // through vars.Set, or Replace (sanitizer builds check, see Finish).
  internal::InstanceVars vars;
  // Whether the command's answer must carry the variables (InstanceView
  // FULL). When not, and no idempotency key keeps the answer, those nobody
  // read are never parsed, and the answer has none.
  bool answer_with_vars = true;
  // An action's withdraw snapshot (commit.snapshot) before Finish adds how
  // to undo the action's changes to the variables and serializes it.
  std::optional<v1::InstanceSnapshot> snapshot;
  std::vector<Task> tasks;  // the instance's active tasks, plus those this command touched
  // Open or locked external tasks (agency work) of the instance.
  std::vector<store::ExternalTaskRow> external;
  // The instance's timers as the command found them (its snapshot for a
  // withdrawal records them).
  std::vector<store::TimerRow> timers;
  store::Commit commit;
  Caller caller;
  std::string acting_as;    // caller.user, or the principal it acts for as proxy
  int64_t now = 0;
  InstanceLifecycle lifecycle = InstanceLifecycle::New();
  internal::pb::OrgContext org_context;
  bool org_context_loaded = false;

  std::string Actor() const {
    return acting_as.empty() || acting_as == caller.user
               ? caller.user
               : caller.user + " (for " + acting_as + ")";
  }

  void AddEvent(std::string kind, std::string action, std::string from, std::string to,
                std::string task_id = "", std::string comment = "", std::string digest = "",
                std::string note = "") {
    store::EventRow e;
    e.instance_id = inst.id;
    e.seq = ++inst.event_seq;
    e.at_ms = now;
    e.actor = Actor();
    e.kind = std::move(kind);
    e.action = std::move(action);
    e.from_state = std::move(from);
    e.to_state = std::move(to);
    e.task_id = std::move(task_id);
    e.comment = std::move(comment);
    e.payload_digest = std::move(digest);
    e.note = std::move(note);
    e.source = caller.source;
    commit.events.push_back(std::move(e));
  }

  Task* Find(const std::string& task_id) {
    for (auto& t : tasks)
      if (t.row.id == task_id) return &t;
    return nullptr;
  }

  // Active tasks of one state (all states when state is empty).
  std::vector<Task*> Active(const std::string& state = "") {
    std::vector<Task*> out;
    for (auto& t : tasks) {
      if (store::IsActiveTaskStatus(t.row.status) && (state.empty() || t.row.state == state)) {
        out.push_back(&t);
      }
    }
    return out;
  }

  // Ends a task (completed or cancelled); its pending timers are cancelled:
  // those this command would add are dropped, and the stored ones (as the
  // command found them: any change since fails the commit's version check)
  // are cancelled in the commit. A task without pending timers, the usual
  // case, costs no statement.
  void Close(Task& t, const std::string& status, const std::string& action) {
    t.row.status = status;
    t.row.completed_ms = now;
    t.row.completed_by = status == "completed" ? Actor() : "";
    t.row.action = action;
    t.changed = true;
    auto& added = commit.insert_timers;
    added.erase(std::remove_if(added.begin(), added.end(),
                               [&](const store::TimerRow& r) { return r.task_id == t.row.id; }),
                added.end());
    if (t.persisted && std::any_of(timers.begin(), timers.end(), [&](const store::TimerRow& r) {
          return r.task_id == t.row.id && r.fired_ms == 0;
        })) {
      commit.cancel_timers_of_tasks.push_back(t.row.id);
    }
  }

  // Cancels the open external tasks of a state (it is being left).
  void CancelExternal(const std::string& state) {
    for (auto& x : external) {
      if (x.state != state || (x.status != "open" && x.status != "locked")) continue;
      store::Commit::ExternalTaskUpdate u{x, x.status, x.lock_token};
      u.row.status = "cancelled";
      u.row.completed_ms = now;
      commit.update_external_tasks.push_back(std::move(u));
      x.status = "cancelled";
    }
  }

  // The state's config for StageHandle::EnterWithConfig / ActWithConfig.
  static plugin::StageHandle::Config ConfigOf(const definition::State& state) {
    return {state.config, state.config_wire};
  }

  // The StageContext for a call to the stage of `state`; DATA_LOSS when a
  // variable it reads does not parse (InstanceVars).
  StatusOr<internal::pb::StageContext> Context(const definition::State& state) {
    internal::pb::StageContext ctx;
    FillCommon(state, &ctx);
    BPM_ASSIGN_OR_RETURN(google::protobuf::Struct * all, VarsFor(state));
    if (state.variables_read) {
      ForSelected(*all, state, &ctx, [&](const std::string& name, const google::protobuf::Value& v) {
        (*ctx.mutable_variables()->mutable_fields())[name] = v;
      });
    } else {
      *ctx.mutable_variables() = *all;
    }
    *ctx.mutable_config() = state.config;
    *ctx.mutable_org_context() = org_context;
    return ctx;
  }

  // Context() for one plugin call, built in a message on a protobuf arena
  // without copying the variables and org context: they are lent to the
  // message (unsafe_arena_set_allocated) and taken back when the lease ends,
  // before the arena goes. A stage that declared the variables it reads
  // (State::variables_read) gets only those: they are moved out of vars for
  // the lease and back. Nothing may read or change vars or the org context
  // meanwhile. status() is DATA_LOSS when a variable the stage reads does not
  // parse; the message must not be used then.
  // The config is left out: the call passes the state's config apart
  // (StageHandle::EnterWithConfig / ActWithConfig, with ConfigOf).
  class LentContext {
   public:
    LentContext(Working& w, const definition::State& state, internal::pb::StageContext* ctx)
        : ctx_(ctx) {
      w.FillCommon(state, ctx);
      auto vars = w.VarsFor(state);
      if (!vars.ok()) {
        status_ = vars.status();
        return;
      }
      if (state.variables_read) {
        // The declared variables move (Swap: no copy) into a Struct of the
        // lease's own and back when it ends.
        ForSelected(**vars, state, ctx, [&](const std::string& name, google::protobuf::Value& v) {
          (*selected_.mutable_fields())[name].Swap(&v);
          moved_.push_back({&v, &name});
        });
        ctx_->unsafe_arena_set_allocated_variables(&selected_);
      } else {
        ctx_->unsafe_arena_set_allocated_variables(*vars);
      }
      ctx_->unsafe_arena_set_allocated_org_context(&w.org_context);
      lent_ = true;
    }
    ~LentContext() {
      if (!lent_) return;
      ctx_->unsafe_arena_release_variables();
      ctx_->unsafe_arena_release_org_context();
      for (const auto& [value, name] : moved_) value->Swap(&(*selected_.mutable_fields())[*name]);
    }
    LentContext(const LentContext&) = delete;
    LentContext& operator=(const LentContext&) = delete;

    const Status& status() const { return status_; }

   private:
    internal::pb::StageContext* ctx_;
    Status status_;
    bool lent_ = false;
    google::protobuf::Struct selected_;  // a declaring stage's variables, moved in
    std::vector<std::pair<google::protobuf::Value*, const std::string*>> moved_;
  };

  // The variables the stage of `state` reads: those it declared
  // (State::variables_read) parsed, or all of them.
  StatusOr<google::protobuf::Struct*> VarsFor(const definition::State& state) {
    return state.variables_read ? vars.With(*state.variables_read) : vars.All();
  }

  // For a stage that declared the variables it reads (State::variables_read):
  // marks them in ctx as the selection, and calls fn(name, value) for each
  // of `all` (VarsFor's) the instance has.
  template <typename Fn>
  static void ForSelected(google::protobuf::Struct& all, const definition::State& state,
                          internal::pb::StageContext* ctx, Fn&& fn) {
    internal::pb::VariableSelection* selected = ctx->mutable_variables_selected();
    auto& fields = *all.mutable_fields();
    for (const std::string& name : *state.variables_read) {
      selected->add_names(name);
      auto it = fields.find(name);
      if (it != fields.end()) fn(name, it->second);
    }
  }

  // What every StageContext has: the instance, the state, the actor, the
  // time and the state's open tasks; not the variables, the org context or
  // the config.
  void FillCommon(const definition::State& state, internal::pb::StageContext* ctx) {
    ctx->set_instance_id(inst.id);
    ctx->set_definition_key(inst.def_key);
    ctx->set_definition_version(static_cast<int32_t>(inst.def_version));
    ctx->set_state(state.name);
    ctx->set_subject_ref(inst.subject_ref);
    ctx->set_org(inst.org);
    ctx->mutable_actor()->set_user(acting_as.empty() ? caller.user : acting_as);
    for (const auto& r : caller.roles) ctx->mutable_actor()->add_roles(r);
    ctx->mutable_actor()->set_org(caller.org);
    ctx->set_now_unix_ms(now);
    for (Task* t : Active(state.name)) *ctx->add_open_tasks() = internal::ToTaskInfo(t->row);
    ctx->set_started_by(inst.started_by);
  }
};

}  // namespace bpm::engine
