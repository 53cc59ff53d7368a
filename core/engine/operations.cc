// Task operations (claim, transfer, delegate), instance operations (cancel,
// withdraw, comment, urge, CC), proxies, notifications, timers and org
// re-routing. Every operation is one command (engine.h): audited as a history
// event, committed atomically, version-checked.
#include <algorithm>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bpm/v1/snapshot.pb.h"
#include "core/common/json.h"
#include "core/common/util.h"
#include "core/engine/engine.h"

#include <map>
#include "core/engine/internal/scan.h"
#include "core/engine/internal/working.h"

namespace bpm::engine {

using internal::StringsFromJson;
using internal::StringsToJson;
namespace pb = ::bpm::plugin::v1;

namespace {

constexpr int64_t kTimerLeaseMs = 30'000;
const Caller kSystem{"system", {}, ""};

std::string OpHash(const v1::TaskOperationRequest& r, const char* name) {
  return Sha256Hex(absl::StrCat(name, "\n", r.task_id(), "\n", r.target_user(), "\n",
                                r.comment(), "\n", r.expected_version()));
}

std::string OpHash(const v1::InstanceOperationRequest& r, const char* name) {
  return Sha256Hex(absl::StrCat(name, "\n", r.instance_id(), "\n", r.comment(), "\n",
                                absl::StrJoin(r.users(), ","), "\n", r.expected_version()));
}

// A notification to whoever holds the task now.
store::NotificationRow NotifyHolder(const store::TaskRow& t, const std::string& kind,
                                    const std::string& text, const std::string& from,
                                    int64_t now) {
  store::NotificationRow n;
  n.id = NewId();
  if (t.status == "claimed") {
    n.user_id = t.claimed_by;
  } else if (t.status == "delegated") {
    n.user_id = t.delegated_to;
  } else if (!t.assignee_user.empty()) {
    n.user_id = t.assignee_user;
  } else {
    n.role = t.assignee_role;
    n.org = t.assignee_org;
  }
  n.instance_id = t.instance_id;
  n.task_id = t.id;
  n.kind = kind;
  n.text = text;
  n.from_user = from;
  n.created_ms = now;
  return n;
}

// "text" or "text: comment".
std::string WithComment(const std::string& text, const std::string& comment) {
  return comment.empty() ? text : absl::StrCat(text, ": ", comment);
}

Status RequireComment(const std::string& comment, const char* why) {
  if (comment.find_first_not_of(" \t\n") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("comment: ", why));
  }
  return absl::OkStatus();
}

}  // namespace

// ---- task operations ----------------------------------------------------------------

StatusOr<v1::Instance> Engine::TaskOperation(const Caller& caller,
                                             const v1::TaskOperationRequest& req,
                                             const char* name, const CommandBody& op) {
  if (req.task_id().empty()) return absl::InvalidArgumentError("task_id: is required");
  BPM_ASSIGN_OR_RETURN(store::TaskRow task, store_.GetTask(req.task_id()));
  return RunCommand(caller, task.instance_id, req.expected_version(),
                    absl::StrCat(name, ":", caller.user), req.idempotency_key(),
                    OpHash(req, name), [&](Working& w) -> Status {
                      if (w.Find(task.id) == nullptr) {
                        return absl::FailedPreconditionError(absl::StrCat(
                            "task ", task.id, " is ", task.status, "; ", name,
                            " is not allowed"));
                      }
                      return op(w);
                    });
}

StatusOr<v1::Instance> Engine::Claim(const Caller& caller, const v1::TaskOperationRequest& req) {
  return TaskOperation(caller, req, "claim", [&](Working& w) -> Status {
    Working::Task& t = *w.Find(req.task_id());
    if (t.row.status != "open" || !t.row.assignee_user.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "task ", t.row.id, " is not an unclaimed group task (it is ", t.row.status,
          t.row.assignee_user.empty() ? "" : absl::StrCat(", assigned to ", t.row.assignee_user),
          ")"));
    }
    BPM_ASSIGN_OR_RETURN(w.acting_as, ActingAs(caller, t.row, w.inst.org, w.now));
    BPM_ASSIGN_OR_RETURN(auto lc, TaskLifecycle::Restore(t.row.status));
    BPM_RETURN_IF_ERROR(lc.Fire(TaskEvent::kClaim, absl::StrCat("task ", t.row.id)));
    t.row.status = lc.status();
    t.row.claimed_by = caller.user;
    t.changed = true;
    w.AddEvent("claimed", "claim", w.inst.state, w.inst.state, t.row.id, req.comment());
    return absl::OkStatus();
  });
}

StatusOr<v1::Instance> Engine::Unclaim(const Caller& caller,
                                       const v1::TaskOperationRequest& req) {
  return TaskOperation(caller, req, "unclaim", [&](Working& w) -> Status {
    Working::Task& t = *w.Find(req.task_id());
    if (t.row.status != "claimed") {
      return absl::FailedPreconditionError(
          absl::StrCat("task ", t.row.id, " is ", t.row.status, "; unclaim is not allowed"));
    }
    BPM_ASSIGN_OR_RETURN(w.acting_as, ActingAs(caller, t.row, w.inst.org, w.now));
    t.row.status = "open";
    t.row.claimed_by.clear();
    t.changed = true;
    w.AddEvent("unclaimed", "unclaim", w.inst.state, w.inst.state, t.row.id, req.comment());
    return absl::OkStatus();
  });
}

StatusOr<v1::Instance> Engine::Transfer(const Caller& caller,
                                        const v1::TaskOperationRequest& req) {
  if (req.target_user().empty()) return absl::InvalidArgumentError("target_user: is required");
  return TaskOperation(caller, req, "transfer", [&](Working& w) -> Status {
    Working::Task& t = *w.Find(req.task_id());
    if (t.row.status == "delegated") {
      return absl::FailedPreconditionError(absl::StrCat(
          "task ", t.row.id, " is delegated to ", t.row.delegated_to, " by ", t.row.owner_user,
          ": the owner takes it back (resolve-delegation) before transferring it"));
    }
    BPM_ASSIGN_OR_RETURN(w.acting_as, ActingAs(caller, t.row, w.inst.org, w.now));
    if (req.target_user() == w.acting_as) {
      return absl::InvalidArgumentError("target_user: the task is already yours");
    }
    std::vector<std::string> excluded = StringsFromJson(t.row.exclude_users_json);
    if (std::find(excluded.begin(), excluded.end(), req.target_user()) != excluded.end()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "separation of duties: ", req.target_user(), " may not receive task ", t.row.id));
    }
    const std::string from = w.acting_as;
    t.row.status = "open";
    t.row.assignee_user = req.target_user();
    t.row.assignee_role.clear();
    t.row.assignee_org.clear();
    t.row.claimed_by.clear();
    t.changed = true;
    w.commit.notifications.push_back(
        NotifyHolder(t.row, "transferred", WithComment(absl::StrCat(from, " 转办给您"), req.comment()),
                     caller.user, w.now));
    w.AddEvent("transferred", "transfer", w.inst.state, w.inst.state, t.row.id, req.comment(),
               "", absl::StrCat(from, " -> ", req.target_user()));
    return absl::OkStatus();
  });
}

StatusOr<v1::Instance> Engine::Delegate(const Caller& caller,
                                        const v1::TaskOperationRequest& req) {
  if (req.target_user().empty()) return absl::InvalidArgumentError("target_user: is required");
  return TaskOperation(caller, req, "delegate", [&](Working& w) -> Status {
    Working::Task& t = *w.Find(req.task_id());
    if (t.row.status == "open" && t.row.assignee_user.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "task ", t.row.id, " is a group task: claim it before delegating it"));
    }
    BPM_ASSIGN_OR_RETURN(w.acting_as, ActingAs(caller, t.row, w.inst.org, w.now));
    BPM_ASSIGN_OR_RETURN(auto lc, TaskLifecycle::Restore(t.row.status));
    BPM_RETURN_IF_ERROR(lc.Fire(TaskEvent::kDelegate, absl::StrCat("task ", t.row.id)));
    if (req.target_user() == w.acting_as) {
      return absl::InvalidArgumentError("target_user: cannot delegate a task to its owner");
    }
    std::vector<std::string> excluded = StringsFromJson(t.row.exclude_users_json);
    if (std::find(excluded.begin(), excluded.end(), req.target_user()) != excluded.end()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "separation of duties: ", req.target_user(), " may not receive task ", t.row.id));
    }
    t.row.status = lc.status();
    t.row.owner_user = w.acting_as;
    t.row.delegated_to = req.target_user();
    t.changed = true;
    w.commit.notifications.push_back(
        NotifyHolder(t.row, "delegated",
                     WithComment(absl::StrCat(t.row.owner_user, " 委派给您"), req.comment()),
                     caller.user, w.now));
    w.AddEvent("delegated", "delegate", w.inst.state, w.inst.state, t.row.id, req.comment(), "",
               absl::StrCat(t.row.owner_user, " -> ", req.target_user()));
    return absl::OkStatus();
  });
}

StatusOr<v1::Instance> Engine::ResolveDelegation(const Caller& caller,
                                                 const v1::TaskOperationRequest& req) {
  return TaskOperation(caller, req, "resolve-delegation", [&](Working& w) -> Status {
    Working::Task& t = *w.Find(req.task_id());
    if (t.row.status != "delegated") {
      return absl::FailedPreconditionError(absl::StrCat(
          "task ", t.row.id, " is ", t.row.status, ", not delegated"));
    }
    const bool by_delegate = caller.user == t.row.delegated_to;
    if (!by_delegate && caller.user != t.row.owner_user) {
      return absl::PermissionDeniedError(absl::StrCat(
          "user ", caller.user, " may not resolve task ", t.row.id, ": it is delegated by ",
          t.row.owner_user, " to ", t.row.delegated_to));
    }
    BPM_ASSIGN_OR_RETURN(auto lc, TaskLifecycle::Restore(t.row.status));
    BPM_RETURN_IF_ERROR(lc.Fire(TaskEvent::kResolveDelegation, absl::StrCat("task ", t.row.id)));
    // Back to its owner: a user task is open again; a group task stays claimed.
    const std::string owner = t.row.owner_user;
    if (t.row.assignee_user == owner) {
      t.row.status = "open";
    } else {
      t.row.status = "claimed";
      t.row.claimed_by = owner;
    }
    t.row.delegated_to.clear();
    t.row.owner_user.clear();
    t.changed = true;
    if (by_delegate) {
      w.commit.notifications.push_back(NotifyHolder(
          t.row, "delegation_resolved",
          WithComment(absl::StrCat(caller.user, " 已处理委派"), req.comment()),
          caller.user, w.now));
    }
    w.AddEvent(by_delegate ? "delegation_resolved" : "delegation_taken_back",
               "resolve-delegation", w.inst.state, w.inst.state, t.row.id, req.comment());
    return absl::OkStatus();
  });
}

// ---- instance operations ------------------------------------------------------------

StatusOr<v1::Instance> Engine::Cancel(const Caller& caller,
                                      const v1::InstanceOperationRequest& req) {
  if (req.instance_id().empty()) return absl::InvalidArgumentError("instance_id: is required");
  BPM_RETURN_IF_ERROR(RequireComment(req.comment(), "a cancellation (撤销) needs a reason"));
  return RunCommand(
      caller, req.instance_id(), req.expected_version(), absl::StrCat("cancel:", caller.user),
      req.idempotency_key(), OpHash(req, "cancel"),
      [&](Working& w) -> Status {
        if (caller.user != w.inst.started_by) {
          return absl::PermissionDeniedError(absl::StrCat(
              "only the initiator (", w.inst.started_by, ") may cancel instance ", w.inst.id));
        }
        for (Working::Task* t : w.Active()) w.Close(*t, "cancelled", "");
        w.inst.status = w.lifecycle.status();
        w.commit.delete_snapshot = true;
        w.AddEvent("cancelled", "cancel", w.inst.state, w.inst.state, "", req.comment());
        return absl::OkStatus();
      },
      InstanceEvent::kTerminate);
}

// ---- administration -------------------------------------------------------------------

Status Engine::RequireAdmin(const Caller& caller, const char* op) {
  if (std::find(caller.roles.begin(), caller.roles.end(), kAdminRole) == caller.roles.end()) {
    return absl::PermissionDeniedError(
        absl::StrCat(op, " needs role ", kAdminRole, "; ", caller.user, " does not have it"));
  }
  return absl::OkStatus();
}

StatusOr<v1::Instance> Engine::AdminOperation(const Caller& caller,
                                              const v1::InstanceOperationRequest& req,
                                              const char* name, const char* why,
                                              const std::string& request_hash,
                                              const CommandBody& body, InstanceEvent event) {
  if (req.instance_id().empty()) return absl::InvalidArgumentError("instance_id: is required");
  BPM_RETURN_IF_ERROR(RequireAdmin(caller, name));
  BPM_RETURN_IF_ERROR(RequireComment(req.comment(), why));
  return RunCommand(caller, req.instance_id(), req.expected_version(),
                    absl::StrCat(name, ":", caller.user), req.idempotency_key(),
                    request_hash.empty() ? OpHash(req, name) : request_hash, body, event);
}

StatusOr<v1::Instance> Engine::Suspend(const Caller& caller,
                                       const v1::InstanceOperationRequest& req) {
  return AdminOperation(
      caller, req, "suspend", "suspending (暂停) needs a reason", "",
      [&](Working& w) -> Status {
        w.inst.status = w.lifecycle.status();
        w.AddEvent("suspended", "suspend", w.inst.state, w.inst.state, "", req.comment());
        return absl::OkStatus();
      },
      InstanceEvent::kSuspend);
}

StatusOr<v1::Instance> Engine::Resume(const Caller& caller,
                                      const v1::InstanceOperationRequest& req) {
  return AdminOperation(
      caller, req, "resume", "resuming (恢复) needs a reason", "",
      [&](Working& w) -> Status {
        // The clock stopped while suspended: every due date moves on by the
        // time since the suspension.
        BPM_ASSIGN_OR_RETURN(auto events, store_.ListEvents(w.inst.id));
        int64_t suspended_at = w.now;
        for (const auto& e : events) {
          if (e.kind == "suspended") suspended_at = e.at_ms;
        }
        const int64_t paused = std::max<int64_t>(0, w.now - suspended_at);
        if (paused > 0) {
          for (Working::Task* t : w.Active()) {
            if (t->row.due_ms == 0) continue;
            t->row.due_ms += paused;
            t->changed = true;
          }
          for (const auto& timer : w.timers) {
            if (timer.fired_ms != 0) continue;
            w.commit.fire_timers.push_back(timer.id);
            store::TimerRow moved = timer;
            moved.id = NewId();
            moved.due_ms += paused;
            moved.lease_owner.clear();
            moved.lease_until_ms = 0;
            w.commit.insert_timers.push_back(std::move(moved));
          }
        }
        w.inst.status = w.lifecycle.status();
        w.AddEvent("resumed", "resume", w.inst.state, w.inst.state, "", req.comment(), "",
                   absl::StrCat("due dates moved by ", paused / 1000, " s"));
        return absl::OkStatus();
      },
      InstanceEvent::kResume);
}

StatusOr<v1::Instance> Engine::Terminate(const Caller& caller,
                                         const v1::InstanceOperationRequest& req) {
  return AdminOperation(
      caller, req, "terminate", "terminating (终止) needs a reason", "",
      [&](Working& w) -> Status {
        if (!w.external.empty()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "instance ", w.inst.id, " has open agency work (external task ",
              w.external.front().id, "); cancel the engagement first"));
        }
        for (Working::Task* t : w.Active()) w.Close(*t, "cancelled", "terminated");
        w.inst.status = w.lifecycle.status();
        w.commit.delete_snapshot = true;
        w.AddEvent("terminated", "terminate", w.inst.state, w.inst.state, "", req.comment());
        return absl::OkStatus();
      },
      InstanceEvent::kTerminate);
}

StatusOr<v1::Instance> Engine::Jump(const Caller& caller, const v1::InstanceOperationRequest& req) {
  if (req.target_state().empty()) return absl::InvalidArgumentError("target_state: is required");
  return AdminOperation(
      caller, req, "jump", "a jump (跳转) needs a reason",
      Sha256Hex(absl::StrCat(OpHash(req, "jump"), "\n", req.target_state())),
      [&](Working& w) -> Status {
        if (w.def->Find(req.target_state()) == nullptr) {
          std::vector<std::string> names;
          for (const auto& st : w.def->states) names.push_back(st.name);
          return absl::InvalidArgumentError(absl::StrCat(
              "target_state: '", req.target_state(), "' is not a state of ", w.def->key, " v",
              w.inst.def_version, "; its states: ", absl::StrJoin(names, ", ")));
        }
        if (req.target_state() == w.inst.state) {
          return absl::FailedPreconditionError(absl::StrCat(
              "instance ", w.inst.id, " is already in state '", w.inst.state, "'"));
        }
        if (!w.external.empty()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "instance ", w.inst.id, " has open agency work (external task ",
              w.external.front().id, "); cancel the engagement first"));
        }
        const std::string from = w.inst.state;
        for (Working::Task* t : w.Active()) w.Close(*t, "cancelled", "jumped");
        w.commit.delete_snapshot = true;  // nothing to withdraw across an administrator's jump
        w.AddEvent("jumped", "jump", from, req.target_state(), "", req.comment());
        return EnterState(w, req.target_state(), 0);
      });
}

StatusOr<v1::Instance> Engine::Withdraw(const Caller& caller,
                                        const v1::InstanceOperationRequest& req) {
  if (req.instance_id().empty()) return absl::InvalidArgumentError("instance_id: is required");
  return RunCommand(
      caller, req.instance_id(), req.expected_version(), absl::StrCat("withdraw:", caller.user),
      req.idempotency_key(), OpHash(req, "withdraw"), [&](Working& w) -> Status {
        BPM_ASSIGN_OR_RETURN(auto snap, store_.GetSnapshot(w.inst.id));
        if (!snap || snap->actor != caller.user) {
          return absl::FailedPreconditionError(absl::StrCat(
              "instance ", w.inst.id, ": ", caller.user,
              " has no action to withdraw (only the latest action can be withdrawn, by its "
              "actor", snap ? absl::StrCat("; the latest was by ", snap->actor) : "", ")"));
        }
        if (snap->version_after != w.inst.version) {
          return absl::FailedPreconditionError(absl::StrCat(
              "instance ", w.inst.id, ": cannot withdraw: something happened after your action "
              "(the next step acted, or the instance was changed)"));
        }
        std::string bytes;
        v1::InstanceSnapshot before;
        if (!absl::Base64Unescape(snap->body, &bytes) || !before.ParseFromString(bytes)) {
          return absl::InternalError(absl::StrCat("instance ", w.inst.id, ": snapshot is corrupt"));
        }
        const std::string from_state = w.inst.state;
        std::set<std::string> restored;
        for (const v1::Task& t : before.instance().open_tasks()) restored.insert(t.id());
        // Tasks the action opened are cancelled; tasks it closed come back.
        for (Working::Task* t : w.Active()) {
          if (!restored.count(t->row.id)) w.Close(*t, "cancelled", "withdrawn");
        }
        for (const v1::Task& bt : before.instance().open_tasks()) {
          Working::Task* t = w.Find(bt.id());
          if (t == nullptr) {
            BPM_ASSIGN_OR_RETURN(store::TaskRow row, store_.GetTask(bt.id()));
            std::string status = row.status;
            w.tasks.push_back({std::move(row), std::move(status), true, false});
            t = &w.tasks.back();
          }
          store::TaskRow& r = t->row;
          r.status = bt.status();
          r.assignee_user = bt.assignee_user();
          r.assignee_role = bt.assignee_role();
          r.assignee_org = bt.assignee_org();
          r.claimed_by = bt.claimed_by();
          r.delegated_to = bt.delegated_to();
          r.owner_user = bt.owner_user();
          r.due_ms = bt.due_unix_ms();
          r.completed_ms = 0;
          r.completed_by.clear();
          r.action.clear();
          t->changed = true;
        }
        for (const v1::PendingTimer& pt : before.timers()) {
          if (!restored.count(pt.task_id())) continue;
          store::TimerRow timer;
          timer.id = NewId();
          timer.instance_id = w.inst.id;
          timer.task_id = pt.task_id();
          timer.name = pt.name();
          timer.due_ms = pt.due_unix_ms();
          w.commit.insert_timers.push_back(std::move(timer));
        }
        w.inst.state = before.instance().state();
        if (before.has_variables_undo()) {
          const v1::VariablesUndo& undo = before.variables_undo();
          Status undone = w.vars.ApplyUndo(
              undo.before_json(), std::vector<std::string>(undo.added().begin(), undo.added().end()));
          if (!undone.ok()) {
            return absl::InternalError(
                absl::StrCat("instance ", w.inst.id, ": snapshot is corrupt: ", undone.message()));
          }
        } else if (before.variables_json().empty()) {
          w.vars.Replace(before.instance().variables());  // a snapshot from before 2026-12
        } else {
          auto vars = ParseJsonStruct(before.variables_json());
          if (!vars.ok()) {
            return absl::InternalError(absl::StrCat("instance ", w.inst.id,
                                                    ": snapshot is corrupt: ", vars.status().message()));
          }
          w.vars.Replace(*std::move(vars));
        }
        w.commit.delete_snapshot = true;
        w.AddEvent("withdrawn", "withdraw", from_state, w.inst.state, "", req.comment());
        return absl::OkStatus();
      });
}

StatusOr<v1::Instance> Engine::Comment(const Caller& caller,
                                       const v1::InstanceOperationRequest& req) {
  if (req.instance_id().empty()) return absl::InvalidArgumentError("instance_id: is required");
  BPM_RETURN_IF_ERROR(RequireComment(req.comment(), "is required"));
  BPM_RETURN_IF_ERROR(internal::CheckLength(req.comment(), options_.max_comment_chars * 4, "comment"));
  return RunCommand(caller, req.instance_id(), req.expected_version(),
                    absl::StrCat("comment:", caller.user), req.idempotency_key(),
                    OpHash(req, "comment"), [&](Working& w) -> Status {
                      w.AddEvent("commented", "comment", w.inst.state, w.inst.state, "",
                                 req.comment());
                      return absl::OkStatus();
                    });
}

StatusOr<v1::Instance> Engine::Urge(const Caller& caller,
                                    const v1::InstanceOperationRequest& req) {
  if (req.instance_id().empty()) return absl::InvalidArgumentError("instance_id: is required");
  return RunCommand(caller, req.instance_id(), req.expected_version(),
                    absl::StrCat("urge:", caller.user), req.idempotency_key(),
                    OpHash(req, "urge"), [&](Working& w) -> Status {
                      auto active = w.Active();
                      if (active.empty()) {
                        return absl::FailedPreconditionError(absl::StrCat(
                            "instance ", w.inst.id, " has no open task to urge"));
                      }
                      const std::string text =
                          req.comment().empty() ? "请尽快处理（催办）" : req.comment();
                      std::vector<std::string> who;
                      for (Working::Task* t : active) {
                        auto n = NotifyHolder(t->row, "urge", text, caller.user, w.now);
                        who.push_back(n.user_id.empty() ? absl::StrCat(n.role, "@", n.org)
                                                        : n.user_id);
                        w.commit.notifications.push_back(std::move(n));
                      }
                      w.AddEvent("urged", "urge", w.inst.state, w.inst.state, "", req.comment(),
                                 "", absl::StrJoin(who, ", "));
                      return absl::OkStatus();
                    });
}

StatusOr<v1::Instance> Engine::Cc(const Caller& caller, const v1::InstanceOperationRequest& req) {
  if (req.instance_id().empty()) return absl::InvalidArgumentError("instance_id: is required");
  if (req.users().empty()) return absl::InvalidArgumentError("users: at least one recipient");
  if (static_cast<size_t>(req.users_size()) > options_.max_cc_users) {
    return absl::InvalidArgumentError(
        absl::StrCat("users: at most ", options_.max_cc_users, " recipients"));
  }
  for (int i = 0; i < req.users_size(); ++i) {
    if (req.users(i).empty() || req.users(i).size() > 128) {
      return absl::InvalidArgumentError(absl::StrCat("users[", i, "]: must be 1 to 128 bytes"));
    }
  }
  return RunCommand(caller, req.instance_id(), req.expected_version(),
                    absl::StrCat("cc:", caller.user), req.idempotency_key(), OpHash(req, "cc"),
                    [&](Working& w) -> Status {
                      std::set<std::string> seen;
                      for (const std::string& u : req.users()) {
                        if (!seen.insert(u).second) continue;
                        w.commit.cc.push_back(
                            {NewId(), w.inst.id, u, caller.user, req.comment(), w.now, 0});
                      }
                      w.AddEvent("cc", "cc", w.inst.state, w.inst.state, "", req.comment(), "",
                                 absl::StrJoin(seen, ", "));
                      return absl::OkStatus();
                    });
}

// ---- proxies and notifications --------------------------------------------------------

StatusOr<v1::Proxy> Engine::SetProxy(const Caller& caller, const v1::SetProxyRequest& req) {
  const std::string principal = req.principal().empty() ? caller.user : req.principal();
  if (principal != caller.user) {
    return absl::PermissionDeniedError(absl::StrCat(
        "user ", caller.user, " may not set a proxy for ", principal, " (only for oneself)"));
  }
  if (req.proxy_user().empty()) return absl::InvalidArgumentError("proxy_user: is required");
  if (req.proxy_user() == principal) {
    return absl::InvalidArgumentError("proxy_user: cannot be the principal");
  }
  if (req.to_unix_ms() <= req.from_unix_ms()) {
    return absl::InvalidArgumentError("to_unix_ms: must be after from_unix_ms");
  }
  const int64_t now = clock_.NowMillis();
  if (req.to_unix_ms() <= now) return absl::InvalidArgumentError("to_unix_ms: is in the past");
  store::ProxyRow row{NewId(), principal, req.proxy_user(), req.from_unix_ms(),
                      req.to_unix_ms(), caller.user, now};
  BPM_RETURN_IF_ERROR(store_.PutProxy(row));
  v1::Proxy out;
  out.set_id(row.id);
  out.set_principal(row.principal);
  out.set_proxy_user(row.proxy_user);
  out.set_from_unix_ms(row.from_ms);
  out.set_to_unix_ms(row.to_ms);
  out.set_created_by(row.created_by);
  return out;
}

StatusOr<v1::ListProxiesResponse> Engine::ListProxies(const Caller& caller,
                                                      const v1::ListProxiesRequest& req) {
  BPM_ASSIGN_OR_RETURN(auto rows, store_.ListProxies(req.user().empty() ? caller.user : req.user()));
  v1::ListProxiesResponse resp;
  for (const auto& r : rows) {
    v1::Proxy* p = resp.add_proxies();
    p->set_id(r.id);
    p->set_principal(r.principal);
    p->set_proxy_user(r.proxy_user);
    p->set_from_unix_ms(r.from_ms);
    p->set_to_unix_ms(r.to_ms);
    p->set_created_by(r.created_by);
  }
  return resp;
}

Status Engine::RemoveProxy(const Caller& caller, const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("id: is required");
  BPM_ASSIGN_OR_RETURN(auto row, store_.GetProxy(id));
  if (row.principal != caller.user) {
    return absl::PermissionDeniedError(absl::StrCat("proxy ", id, " belongs to ", row.principal));
  }
  return store_.DeleteProxy(id);
}

StatusOr<v1::ListNotificationsResponse> Engine::ListNotifications(
    const Caller& caller, const v1::ListNotificationsRequest& req) {
  BPM_ASSIGN_OR_RETURN(int size, internal::PageSize(req.page_size()));
  BPM_ASSIGN_OR_RETURN(int64_t after, internal::ParsePageToken(req.page_token()));
  BPM_ASSIGN_OR_RETURN(auto rows, store_.ListNotifications(caller, after, size + 1));
  v1::ListNotificationsResponse resp;
  std::map<std::string, bool> in_scope;  // by instance
  for (int i = 0; i < static_cast<int>(rows.size()) && i < size; ++i) {
    if (rows[i].user_id.empty() && rows[i].org.empty()) {
      // To a role with no org: only for holders whose scope covers the instance.
      auto it = in_scope.find(rows[i].instance_id);
      if (it == in_scope.end()) {
        auto inst = store_.GetInstance(rows[i].instance_id);
        bool covered = false;
        if (inst.ok()) {
          BPM_ASSIGN_OR_RETURN(covered, RoleTaskInScope(caller, inst->org));
        }
        it = in_scope.emplace(rows[i].instance_id, covered).first;
      }
      if (!it->second) continue;
    }
    v1::Notification* n = resp.add_notifications();
    n->set_id(rows[i].id);
    n->set_instance_id(rows[i].instance_id);
    n->set_task_id(rows[i].task_id);
    n->set_kind(rows[i].kind);
    n->set_text(rows[i].text);
    n->set_from_user(rows[i].from_user);
    n->set_created_unix_ms(rows[i].created_ms);
  }
  if (static_cast<int>(rows.size()) > size) {
    resp.set_next_page_token(std::to_string(rows[size - 1].row_id));
  }
  return resp;
}

// ---- timers and re-routing ------------------------------------------------------------

Status Engine::FireTimer(const store::TimerRow& timer) {
  auto result = RunCommand(kSystem, timer.instance_id, 0, "", "", "", [&](Working& w) -> Status {
    w.commit.fire_timers.push_back(timer.id);
    Working::Task* t = w.Find(timer.task_id);
    if (t == nullptr) return absl::OkStatus();  // the task ended meanwhile: nothing to do
    if (timer.name == "remind") {
      w.commit.notifications.push_back(NotifyHolder(
          t->row, "remind", absl::StrCat("「", t->row.title, "」即将到期"), "system", w.now));
      w.AddEvent("reminded", "remind", w.inst.state, w.inst.state, t->row.id);
      return absl::OkStatus();
    }
    const definition::State* state = w.def->Find(t->row.state);
    if (state == nullptr || state->final) return absl::OkStatus();
    const plugin::StageHandle* stage = plugins_.Find(state->stage);
    if (stage == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("stage plugin '", state->stage,
                                                        "' of state '", state->name,
                                                        "' is not loaded"));
    }
    if (timer.name == "overdue") {
      w.commit.notifications.push_back(NotifyHolder(
          t->row, "overdue", absl::StrCat("「", t->row.title, "」已逾期"), "system", w.now));
    }
    w.AddEvent(timer.name == "overdue" ? "overdue" : "timer", timer.name, w.inst.state,
               w.inst.state, t->row.id);
    BPM_RETURN_IF_ERROR(LoadOrgContext(w));
    pb::TimerRequest req;
    BPM_ASSIGN_OR_RETURN(*req.mutable_context(), w.Context(*state));
    req.set_timer(timer.name);
    *req.mutable_task() = internal::ToTaskInfo(t->row);
    BPM_ASSIGN_OR_RETURN(pb::Decision d, stage->OnTimer(req));
    if (!d.accepted()) return absl::OkStatus();  // the plugin declines: the event stays
    BPM_RETURN_IF_ERROR(ApplyDecision(w, *state, d, t->row.id));
    if (!d.outcome().empty()) BPM_RETURN_IF_ERROR(FollowOutcome(w, *state, d.outcome(), 0));
    return absl::OkStatus();
  });
  return result.status();
}

bool Engine::Suspended(const std::string& instance_id) {
  auto inst = store_.GetInstance(instance_id);
  return inst.ok() && inst->status == "suspended";
}

StatusOr<int> Engine::RunDueTimers(const std::string& owner, int limit) {
  BPM_ASSIGN_OR_RETURN(auto timers,
                       store_.LeaseDueTimers(owner, clock_.NowMillis(), kTimerLeaseMs, limit));
  int fired = 0;
  for (const auto& timer : timers) {
    Status s = FireTimer(timer);
    if (s.ok()) {
      ++fired;
    } else if (absl::IsFailedPrecondition(s) && Suspended(timer.instance_id)) {
      // A suspended instance's deadlines wait: Resume moves them on (this
      // timer is replaced then; until then its lease keeps it from firing).
      continue;
    } else if (absl::IsFailedPrecondition(s) || absl::IsNotFound(s)) {
      // The instance is no longer running (or gone): retire the timer.
      store::Commit retire;
      retire.fire_timers.push_back(timer.id);
      Status r = store_.Apply(retire);
      if (!r.ok() && !absl::IsAborted(r)) return r;
    } else if (!absl::IsAborted(s)) {
      // Another process fired it (ABORTED) or it will be retried after the lease.
      return s;
    }
  }
  return fired;
}

StatusOr<v1::Instance> Engine::Reroute(const std::string& instance_id,
                                       const std::string& reason) {
  return RunCommand(kSystem, instance_id, 0, "", "", "", [&](Working& w) -> Status {
    const std::string state = w.inst.state;
    for (Working::Task* t : w.Active(state)) w.Close(*t, "cancelled", "rerouted");
    w.AddEvent("rerouted", "reroute", state, state, "", "", "", reason);
    return EnterState(w, state, 0, /*reentry=*/true);
  });
}

StatusOr<int> Engine::RerouteOrgChanges(int64_t after_ms, int64_t until_ms) {
  BPM_ASSIGN_OR_RETURN(auto changes, store_.orgs().ChangesBetween(after_ms, until_ms));
  std::vector<std::string> codes;
  for (const auto& c : changes) codes.push_back(c.code);
  return RerouteOrgs(codes);
}

StatusOr<int> Engine::RerouteOrgs(const std::vector<std::string>& org_codes) {
  const int64_t now = clock_.NowMillis();
  std::set<std::string> orgs;
  std::vector<std::string> queue;
  for (const auto& code : org_codes) {
    if (orgs.insert(code).second) queue.push_back(code);
  }
  // Units below a moved org move with it.
  for (size_t i = 0; i < queue.size(); ++i) {
    store::OrgFilter f;
    f.parent_code = queue[i];
    auto children = store_.orgs().ListOrgs(f, now);
    if (!children.ok()) continue;
    for (const auto& c : *children) {
      if (orgs.insert(c.code).second) queue.push_back(c.code);
    }
  }
  int rerouted = 0;
  for (const std::string& org : orgs) {
    store::InstanceFilter f;
    f.org = org;
    f.status = "running";
    BPM_RETURN_IF_ERROR(internal::ForEachInstance(
        store_, f,
        [&](const store::InstanceRow& inst) {
          auto r = Reroute(inst.id, absl::StrCat("org model changed for ", org));
          if (r.ok()) ++rerouted;
          return true;
        },
        200));
  }
  return rerouted;
}

}  // namespace bpm::engine
