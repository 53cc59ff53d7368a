#include "core/store/internal/instance_cache.h"

#include <algorithm>
#include <tuple>
#include <utility>
#include <vector>

namespace bpm::store::internal {
namespace {

// The order of Store::ListTimers: due time, then id.
bool TimerBefore(const TimerRow& a, const TimerRow& b) {
  return std::tie(a.due_ms, a.id) < std::tie(b.due_ms, b.id);
}

// The columns the store's task UPDATE writes (the others never change).
void CopyUpdatedColumns(const TaskRow& from, TaskRow* to) {
  to->status = from.status;
  to->assignee_user = from.assignee_user;
  to->assignee_role = from.assignee_role;
  to->assignee_org = from.assignee_org;
  to->data_json = from.data_json;
  to->due_ms = from.due_ms;
  to->completed_ms = from.completed_ms;
  to->completed_by = from.completed_by;
  to->action = from.action;
  to->claimed_by = from.claimed_by;
  to->delegated_to = from.delegated_to;
  to->owner_user = from.owner_user;
  to->exclude_users_json = from.exclude_users_json;
}

const InstanceRow* InstanceOf(const Commit& c) {
  if (c.update_instance) return &*c.update_instance;
  if (c.insert_instance) return &*c.insert_instance;
  return nullptr;
}

}  // namespace

uint64_t InstanceCache::Begin(uint64_t untracked_writes) {
  std::lock_guard<std::mutex> lock(mu_);
  SyncLocked(untracked_writes);
  return epoch_;
}

void InstanceCache::SyncLocked(uint64_t untracked_writes) {
  // A caller that read the count before another caller's Begin may bring an
  // older one: the count only grows, so only a larger one is news.
  if (untracked_writes > untracked_seen_) {
    ClearLocked();
    untracked_seen_ = untracked_writes;
  }
}

std::optional<InstanceState> InstanceCache::Find(const std::string& instance_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(instance_id);
  if (it == entries_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.state;
}

std::optional<InstanceState> InstanceCache::FindByTask(const std::string& task_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto owner = task_to_instance_.find(task_id);
  if (owner == task_to_instance_.end()) return std::nullopt;
  auto it = entries_.find(owner->second);
  if (it == entries_.end()) return std::nullopt;
  const std::vector<TaskRow>& active = it->second.state.active_tasks;
  auto task = std::find_if(active.begin(), active.end(),
                           [&](const TaskRow& t) { return t.id == task_id; });
  if (task == active.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  InstanceState out = it->second.state;
  out.task = *task;
  return out;
}

void InstanceCache::Put(uint64_t epoch, const InstanceState& state) {
  std::lock_guard<std::mutex> lock(mu_);
  // External tasks change outside commits (agencies lock them), so an
  // instance that has any is not cached.
  if (capacity_ == 0 || epoch != epoch_ || !state.external_tasks.empty()) return;
  if (entries_.count(state.instance.id) != 0) return;
  InstanceState copy = state;
  copy.task = TaskRow();
  InsertLocked(std::move(copy));
}

void InstanceCache::Applied(const Commit& c, const Written& written,
                            uint64_t untracked_writes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (capacity_ == 0) return;
  SyncLocked(untracked_writes);
  ++epoch_;
  const InstanceRow* row = InstanceOf(c);
  const std::string id = row != nullptr ? row->id : std::string();
  if (!OnlyTouches(c, id)) {
    // Rows of instances other than its own (no command writes those; but
    // nothing here can follow them).
    ClearLocked();
    return;
  }
  if (row == nullptr) return;
  const bool external = !c.insert_external_tasks.empty() || !c.update_external_tasks.empty();
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    if (!c.insert_instance || external) return;
    if (written.task_row_ids.size() != c.insert_tasks.size()) return;
    InstanceState fresh;
    fresh.instance = *c.insert_instance;
    fresh.instance.last_event_hash = written.last_event_hash;
    fresh.instance.row_id = written.instance_row_id;
    for (size_t i = 0; i < c.insert_tasks.size(); ++i) {
      if (!IsActiveTaskStatus(c.insert_tasks[i].status)) continue;
      fresh.active_tasks.push_back(c.insert_tasks[i]);
      fresh.active_tasks.back().row_id = written.task_row_ids[i];
    }
    fresh.timers = c.insert_timers;
    std::stable_sort(fresh.timers.begin(), fresh.timers.end(), TimerBefore);
    InsertLocked(std::move(fresh));
    return;
  }
  if (external || !ReplayLocked(c, written, it->second)) {
    EraseLocked(it);
    return;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
}

bool InstanceCache::OnlyTouches(const Commit& c, const std::string& id) const {
  for (const TaskRow& t : c.insert_tasks) {
    if (t.instance_id != id) return false;
  }
  for (const TaskUpdate& u : c.update_tasks) {
    if (u.row.instance_id != id) return false;
  }
  for (const TimerRow& t : c.insert_timers) {
    if (t.instance_id != id) return false;
  }
  for (const ExternalTaskRow& x : c.insert_external_tasks) {
    if (x.instance_id != id) return false;
  }
  for (const Commit::ExternalTaskUpdate& u : c.update_external_tasks) {
    if (u.row.instance_id != id) return false;
  }
  for (const std::string& task : c.cancel_timers_of_tasks) {
    auto owner = task_to_instance_.find(task);
    if (owner != task_to_instance_.end() && owner->second != id) return false;
  }
  if (!c.fire_timers.empty()) {
    // Timers fire rarely: a scan of the other entries is cheap enough.
    for (const auto& [other, e] : entries_) {
      if (other == id) continue;
      for (const TimerRow& t : e.state.timers) {
        if (std::find(c.fire_timers.begin(), c.fire_timers.end(), t.id) != c.fire_timers.end()) {
          return false;
        }
      }
    }
  }
  return true;
}

bool InstanceCache::ReplayLocked(const Commit& c, const Written& written, Entry& e) {
  InstanceState& s = e.state;
  if (c.insert_instance || s.instance.version != c.expected_version ||
      written.task_row_ids.size() != c.insert_tasks.size()) {
    return false;
  }
  // The columns of the store's instance UPDATE.
  const InstanceRow& r = *c.update_instance;
  s.instance.status = r.status;
  s.instance.state = r.state;
  s.instance.variables_json = r.variables_json;
  s.instance.version = r.version;
  s.instance.event_seq = r.event_seq;
  s.instance.updated_ms = r.updated_ms;
  s.instance.def_version = r.def_version;
  s.instance.last_event_hash = written.last_event_hash;
  // Tasks: inserts, then updates (the store's order).
  for (size_t i = 0; i < c.insert_tasks.size(); ++i) {
    const TaskRow& t = c.insert_tasks[i];
    if (!IsActiveTaskStatus(t.status)) continue;
    s.active_tasks.push_back(t);
    s.active_tasks.back().row_id = written.task_row_ids[i];
    task_to_instance_[t.id] = s.instance.id;
  }
  for (const TaskUpdate& u : c.update_tasks) {
    auto t = std::find_if(s.active_tasks.begin(), s.active_tasks.end(),
                          [&](const TaskRow& a) { return a.id == u.row.id; });
    // A task that was not active (a withdrawal reopening one) has its place
    // among the rows by row_id, which only the database knows.
    if (t == s.active_tasks.end() || t->status != u.expected_status) return false;
    CopyUpdatedColumns(u.row, &*t);
    if (!IsActiveTaskStatus(t->status)) {
      task_to_instance_.erase(t->id);
      s.active_tasks.erase(t);
    }
  }
  // Timers: fired, then cancelled, then inserted (the store's order).
  const int64_t fired_at = r.updated_ms;
  for (const std::string& id : c.fire_timers) {
    auto t = std::find_if(s.timers.begin(), s.timers.end(),
                          [&](const TimerRow& x) { return x.id == id; });
    if (t == s.timers.end() || t->fired_ms != 0) return false;
    t->fired_ms = fired_at;
  }
  for (const std::string& task : c.cancel_timers_of_tasks) {
    for (TimerRow& t : s.timers) {
      if (t.task_id == task && t.fired_ms == 0) t.fired_ms = -1;
    }
  }
  for (const TimerRow& t : c.insert_timers) {
    s.timers.insert(std::upper_bound(s.timers.begin(), s.timers.end(), t, TimerBefore), t);
  }
  return true;
}

void InstanceCache::Erase(const std::string& instance_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ++epoch_;
  auto it = entries_.find(instance_id);
  if (it != entries_.end()) EraseLocked(it);
}

void InstanceCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  ClearLocked();
}

size_t InstanceCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

void InstanceCache::EraseLocked(Map::iterator it) {
  for (const TaskRow& t : it->second.state.active_tasks) task_to_instance_.erase(t.id);
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

void InstanceCache::ClearLocked() {
  ++epoch_;
  entries_.clear();
  lru_.clear();
  task_to_instance_.clear();
}

void InstanceCache::InsertLocked(InstanceState state) {
  while (!entries_.empty() && entries_.size() >= capacity_) {
    EraseLocked(entries_.find(lru_.back()));
  }
  const std::string id = state.instance.id;
  for (const TaskRow& t : state.active_tasks) task_to_instance_[t.id] = id;
  lru_.push_front(id);
  entries_.emplace(id, Entry{std::move(state), lru_.begin()});
}

}  // namespace bpm::store::internal
