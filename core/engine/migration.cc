// Engine::Migrate: moving running instances from one version of a definition
// to another by a plan (engine.h, MigrationPlan in bpm.proto).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/common/util.h"
#include "core/engine/engine.h"
#include "core/engine/internal/scan.h"
#include "core/engine/internal/working.h"

namespace bpm::engine {
namespace {

constexpr int kDefaultBatch = 100;
constexpr int kMaxBatch = 1000;
constexpr int kListPage = 500;

// Why an instance in `state` of `from` with open work there cannot move to
// `to` (empty: it can); *target is the state it moves to.
std::string Refusal(const definition::Definition& from, const definition::Definition& to,
                    const v1::MigrationPlan& plan, const std::string& status,
                    const std::string& state, bool open_tasks, bool open_external,
                    std::string* target) {
  if (status == "suspended") return "suspended: resume it first";
  if (status == "incident") return "has an open incident: resolve it first";
  auto mapped = plan.state_map().find(state);
  *target = mapped != plan.state_map().end() ? mapped->second : state;
  const definition::State* old_state = from.Find(state);
  const definition::State* new_state = to.Find(*target);
  if (new_state == nullptr) {
    return absl::StrCat("state '", state, "' is not in v", plan.to_version(),
                        " and the plan does not map it");
  }
  if (old_state == nullptr) return absl::StrCat("state '", state, "' is not in its own version");
  if (open_external) return "agency work is open: finish or cancel the engagement first";
  // A state kept by name keeps its open tasks, which its stage made with the
  // old config; a mapped state restarts (see Migrate). Configs compare as
  // canonical JSON (serialized Structs have no fixed map order).
  if (open_tasks && *target == state &&
      (old_state->stage != new_state->stage || old_state->final != new_state->final ||
       CanonicalJson(old_state->config) != CanonicalJson(new_state->config))) {
    return absl::StrCat("has open tasks in '", state, "', which v", plan.to_version(),
                        " runs with another stage or config: finish that step first, or map "
                        "the state to restart it");
  }
  return "";
}

}  // namespace

StatusOr<v1::MigrateInstancesResponse> Engine::Migrate(const Caller& caller,
                                                       const v1::MigrateInstancesRequest& req) {
  BPM_RETURN_IF_ERROR(RequireAdmin(caller, "migrate"));
  const v1::MigrationPlan& plan = req.plan();
  if (plan.key().empty()) return absl::InvalidArgumentError("plan.key: is required");
  if (plan.from_version() <= 0) return absl::InvalidArgumentError("plan.from_version: is required");
  if (plan.to_version() <= 0) return absl::InvalidArgumentError("plan.to_version: is required");
  if (plan.from_version() == plan.to_version()) {
    return absl::InvalidArgumentError("plan.to_version: must differ from plan.from_version");
  }
  if (!req.dry_run() && req.reason().find_first_not_of(" \t\n") == std::string::npos) {
    return absl::InvalidArgumentError("reason: migrating instances needs a reason");
  }
  if (req.batch_size() < 0 || req.batch_size() > kMaxBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size: must be between 1 and ", kMaxBatch, " (0: ", kDefaultBatch, ")"));
  }
  BPM_ASSIGN_OR_RETURN(auto from, Compiled(plan.key(), plan.from_version()));
  BPM_ASSIGN_OR_RETURN(auto to, Compiled(plan.key(), plan.to_version()));
  for (const auto& [old_name, new_name] : plan.state_map()) {
    if (from->Find(old_name) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("plan.state_map: '", old_name,
                                                     "' is not a state of ", plan.key(), " v",
                                                     plan.from_version()));
    }
    if (to->Find(new_name) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("plan.state_map['", old_name, "']: '",
                                                     new_name, "' is not a state of ", plan.key(),
                                                     " v", plan.to_version()));
    }
  }

  // Every instance still on from_version, oldest first.
  std::vector<store::InstanceRow> candidates;
  store::InstanceFilter filter;
  filter.def_key = plan.key();
  BPM_RETURN_IF_ERROR(internal::ForEachInstance(
      store_, filter,
      [&](store::InstanceRow& r) {
        const bool live = r.status == "running" || r.status == "suspended" || r.status == "incident";
        if (live && r.def_version == plan.from_version()) candidates.push_back(std::move(r));
        return true;
      },
      kListPage));

  v1::MigrateInstancesResponse resp;
  const int batch = req.batch_size() == 0 ? kDefaultBatch : req.batch_size();
  int attempted = 0;
  for (const auto& inst : candidates) {
    BPM_ASSIGN_OR_RETURN(auto tasks, store_.ListTasks(inst.id, true));
    BPM_ASSIGN_OR_RETURN(auto external, store_.agencies().ListExternalTasks(inst.id));
    const bool open_external = std::any_of(external.begin(), external.end(), [](const auto& x) {
      return x.status == "open" || x.status == "locked";
    });
    std::string target;
    v1::MigrationItem* item = resp.add_items();
    item->set_instance_id(inst.id);
    item->set_subject_ref(inst.subject_ref);
    item->set_org(inst.org);
    item->set_from_state(inst.state);
    item->set_refused(
        Refusal(*from, *to, plan, inst.status, inst.state, !tasks.empty(), open_external, &target));
    item->set_to_state(target);
    if (!item->refused().empty()) {
      resp.set_refused(resp.refused() + 1);
      continue;
    }
    resp.set_movable(resp.movable() + 1);
    if (req.dry_run() || attempted >= batch) continue;
    ++attempted;
    // Its own transaction; the same checks again on what the command reads.
    auto moved = RunCommand(caller, inst.id, 0, "", "", "", [&](Working& w) -> Status {
      if (w.inst.def_version != plan.from_version()) {
        return absl::AbortedError(absl::StrCat("instance ", w.inst.id, " is on v",
                                               w.inst.def_version, " now"));
      }
      std::string now_target;
      std::string why = Refusal(*from, *to, plan, w.inst.status, w.inst.state,
                                !w.Active().empty(), !w.external.empty(), &now_target);
      if (!why.empty()) return absl::FailedPreconditionError(why);
      const std::string old_state = w.inst.state;
      w.def = to;
      w.inst.def_version = plan.to_version();
      w.commit.delete_snapshot = true;  // no withdrawing across versions
      w.AddEvent("migrated", "migrate", old_state, now_target, "", req.reason(), "",
                 absl::StrCat(plan.key(), " v", plan.from_version(), " -> v", plan.to_version()));
      if (now_target == old_state) return absl::OkStatus();  // the step goes on
      // A mapped state restarts in the new version: stages keep their own
      // bookkeeping by state name, so tasks cannot simply be relabelled.
      for (Working::Task* t : w.Active()) w.Close(*t, "cancelled", "migrated");
      return EnterState(w, now_target, 0);
    });
    if (moved.ok()) {
      item->set_migrated(true);
      resp.set_migrated(resp.migrated() + 1);
    } else {
      item->set_error(std::string(moved.status().message()));
      resp.set_failed(resp.failed() + 1);
    }
  }
  if (!req.dry_run()) resp.set_remaining(resp.movable() - resp.migrated());
  return resp;
}

}  // namespace bpm::engine
