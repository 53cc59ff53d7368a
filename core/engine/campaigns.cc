// Campaigns (一对多下发): finance issues one task to many orgs at once — one
// instance per target, each started in its own transaction — and follows it
// with counts per department, bulk urge and bulk deadline extension.
#include <map>

#include "absl/strings/str_cat.h"
#include "core/common/util.h"
#include "core/engine/engine.h"
#include "core/engine/internal/vars.h"
#include "core/engine/internal/working.h"

namespace bpm::engine {
namespace {

constexpr int kMaxTargets = 5000;

v1::Campaign ToCampaign(const store::CampaignRow& r) {
  v1::Campaign c;
  c.set_id(r.id);
  c.set_title(r.title);
  c.set_definition_key(r.def_key);
  c.set_definition_version(static_cast<int32_t>(r.def_version));
  c.set_deadline_unix_ms(r.deadline_ms);
  c.set_target_count(static_cast<int32_t>(r.target_count));
  c.set_created_by(r.created_by);
  c.set_created_unix_ms(r.created_ms);
  return c;
}

}  // namespace

StatusOr<v1::Campaign> Engine::StartCampaign(const Caller& caller,
                                             const v1::StartCampaignRequest& req) {
  if (req.title().empty()) return absl::InvalidArgumentError("title: is required");
  if (req.definition_key().empty()) return absl::InvalidArgumentError("definition_key: is required");
  if (req.targets().empty()) return absl::InvalidArgumentError("targets: at least one target");
  if (req.targets_size() > kMaxTargets) {
    return absl::InvalidArgumentError(absl::StrCat("targets: at most ", kMaxTargets));
  }
  BPM_RETURN_IF_ERROR(internal::CheckStarterVariables(req.variables(), "variables"));
  for (int i = 0; i < req.targets_size(); ++i) {
    if (req.targets(i).org().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("targets[", i, "].org: is required"));
    }
    BPM_RETURN_IF_ERROR(internal::CheckStarterVariables(
        req.targets(i).variables(), absl::StrCat("targets[", i, "].variables")));
  }
  const int64_t now = clock_.NowMillis();
  if (req.deadline_unix_ms() != 0 && req.deadline_unix_ms() <= now) {
    return absl::InvalidArgumentError("deadline_unix_ms: is in the past");
  }
  BPM_ASSIGN_OR_RETURN(store::DefinitionRow def,
                       store_.GetDefinition(req.definition_key(), req.definition_version()));
  BPM_RETURN_IF_ERROR(Compiled(def.key, def.version).status());
  store::CampaignRow row;
  row.id = req.idempotency_key().empty()
               ? NewId()
               : Sha256Hex(absl::StrCat("campaign\n", caller.user, "\n", req.idempotency_key()))
                     .substr(0, 32);
  row.title = req.title();
  row.def_key = def.key;
  row.def_version = def.version;
  row.deadline_ms = req.deadline_unix_ms();
  row.target_count = req.targets_size();
  row.created_by = caller.user;
  row.created_ms = now;
  Status put = store_.PutCampaign(row);
  if (absl::IsAborted(put) && !req.idempotency_key().empty()) {
    // A retry: the campaign exists; the instances below are idempotent too.
    BPM_ASSIGN_OR_RETURN(row, store_.GetCampaign(row.id));
  } else {
    BPM_RETURN_IF_ERROR(put);
  }
  for (int i = 0; i < req.targets_size(); ++i) {
    const v1::CampaignTarget& t = req.targets(i);
    v1::StartInstanceRequest start;
    start.set_definition_key(def.key);
    start.set_definition_version(static_cast<int32_t>(def.version));
    start.set_subject_ref(t.subject_ref().empty() ? t.org() : t.subject_ref());
    start.set_org(t.org());
    *start.mutable_variables() = req.variables();
    for (const auto& [k, v] : t.variables().fields()) (*start.mutable_variables()->mutable_fields())[k] = v;
    // Each target's instance is idempotent per campaign, so a retried or
    // interrupted start completes without duplicates.
    start.set_idempotency_key(absl::StrCat("campaign:", row.id, ":", i));
    auto inst = StartInstance(caller, start, row.id, row.deadline_ms);
    if (!inst.ok()) {
      return Status(inst.status().code(),
                    absl::StrCat("campaign ", row.id, ": targets[", i, "] (org ", t.org(),
                                 "): ", inst.status().message()));
    }
  }
  return ToCampaign(row);
}

StatusOr<v1::ListCampaignsResponse> Engine::ListCampaigns() {
  BPM_ASSIGN_OR_RETURN(auto rows, store_.ListCampaigns());
  v1::ListCampaignsResponse resp;
  for (const auto& r : rows) *resp.add_campaigns() = ToCampaign(r);
  return resp;
}

StatusOr<v1::GetCampaignResponse> Engine::GetCampaign(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("id: is required");
  BPM_ASSIGN_OR_RETURN(store::CampaignRow row, store_.GetCampaign(id));
  BPM_ASSIGN_OR_RETURN(auto def, Compiled(row.def_key, row.def_version));
  const int64_t now = clock_.NowMillis();
  BPM_ASSIGN_OR_RETURN(auto members, store_.CampaignMembers(id, now));
  v1::GetCampaignResponse resp;
  *resp.mutable_campaign() = ToCampaign(row);
  std::map<std::string, v1::CampaignCounts> by_dept;
  std::map<std::string, std::string> dept_of;  // org -> department, resolved once
  v1::CampaignCounts* total = resp.mutable_total();
  for (const auto& m : members) {
    auto it = dept_of.find(m.org);
    if (it == dept_of.end()) {
      std::string dept = m.org;
      if (options_.org_resolver) {
        auto ctx = options_.org_resolver(m.org, now);
        if (ctx.ok()) {
          if (ctx->unit().kind() != "department" && ctx->ancestors_size() > 0) {
            dept = ctx->ancestors(ctx->ancestors_size() - 1).code();
          }
        }
      }
      it = dept_of.emplace(m.org, dept).first;
    }
    v1::CampaignCounts& c = by_dept[it->second];
    c.set_department(it->second);
    for (v1::CampaignCounts* x : {&c, total}) {
      x->set_total(x->total() + 1);
      if (m.status == "completed") {
        x->set_approved(x->approved() + 1);
      } else if (m.status == "terminated") {
        x->set_cancelled(x->cancelled() + 1);
      } else if (m.state == def->initial) {
        if (m.acted == 0) {
          x->set_not_started(x->not_started() + 1);
        } else {
          x->set_returned(x->returned() + 1);
        }
      } else if (m.acted <= 1) {
        x->set_submitted(x->submitted() + 1);
      } else {
        x->set_in_review(x->in_review() + 1);
      }
      if (m.overdue_tasks > 0) x->set_overdue(x->overdue() + 1);
    }
  }
  for (auto& [dept, c] : by_dept) *resp.add_departments() = c;
  return resp;
}

StatusOr<int> Engine::UrgeCampaign(const Caller& caller, const v1::CampaignOperationRequest& req) {
  if (req.id().empty()) return absl::InvalidArgumentError("id: is required");
  BPM_RETURN_IF_ERROR(store_.GetCampaign(req.id()).status());
  BPM_ASSIGN_OR_RETURN(auto members, store_.CampaignMembers(req.id(), clock_.NowMillis()));
  int urged = 0;
  for (const auto& m : members) {
    if (m.status != "running") continue;
    v1::InstanceOperationRequest op;
    op.set_instance_id(m.instance_id);
    op.set_comment(req.comment());
    auto r = Urge(caller, op);
    if (r.ok()) {
      ++urged;
    } else if (!absl::IsFailedPrecondition(r.status()) && !absl::IsAborted(r.status())) {
      return r.status();
    }
  }
  return urged;
}

StatusOr<int> Engine::ExtendCampaignDeadline(const Caller& caller,
                                             const v1::CampaignOperationRequest& req) {
  if (req.id().empty()) return absl::InvalidArgumentError("id: is required");
  BPM_ASSIGN_OR_RETURN(store::CampaignRow row, store_.GetCampaign(req.id()));
  if (req.deadline_unix_ms() <= row.deadline_ms || req.deadline_unix_ms() <= clock_.NowMillis()) {
    return absl::InvalidArgumentError(
        "deadline_unix_ms: a new deadline must be later than the campaign's and in the future");
  }
  BPM_ASSIGN_OR_RETURN(auto members, store_.CampaignMembers(req.id(), clock_.NowMillis()));
  int extended = 0;
  for (const auto& m : members) {
    if (m.status != "running") continue;
    auto r = RunCommand(caller, m.instance_id, 0, "", "", "", [&](Working& w) -> Status {
      int moved = 0;
      for (Working::Task* t : w.Active()) {
        if (t->row.due_ms == 0 || t->row.due_ms >= req.deadline_unix_ms()) continue;
        t->row.due_ms = req.deadline_unix_ms();
        t->changed = true;
        w.commit.cancel_timers_of_tasks.push_back(t->row.id);
        store::TimerRow timer;
        timer.id = NewId();
        timer.instance_id = w.inst.id;
        timer.task_id = t->row.id;
        timer.name = "overdue";
        timer.due_ms = req.deadline_unix_ms();
        w.commit.insert_timers.push_back(std::move(timer));
        ++moved;
      }
      if (moved == 0) return absl::FailedPreconditionError("no task with an earlier deadline");
      w.AddEvent("deadline_extended", "extend", w.inst.state, w.inst.state, "", req.comment(), "",
                 absl::StrCat("campaign ", req.id()));
      return absl::OkStatus();
    });
    if (r.ok()) {
      ++extended;
    } else if (!absl::IsFailedPrecondition(r.status()) && !absl::IsAborted(r.status())) {
      return r.status();
    }
  }
  BPM_RETURN_IF_ERROR(store_.SetCampaignDeadline(req.id(), req.deadline_unix_ms()));
  return extended;
}

}  // namespace bpm::engine
