// Internal to core/store: what the last commits left of recently used
// instances, so the next command on one reads memory instead of the
// database (the "mutable state cache" of workflow engines).
//
// Holds, per instance, what Store::LoadInstance returns: the instance row, its
// active tasks and its timers. Entries come from two places:
//   * a database read (Put), after Begin() gave the read an epoch: an entry
//     read while a commit was being applied is dropped, never stored stale;
//   * a durable commit (Applied), which the committer replays on the entry it
//     read from (same instance version) or, for a new instance, creates one.
// Anything Applied cannot follow exactly drops the entry (or, when it cannot
// tell which entries, all of them): an instance with external tasks, a task
// or timer of another instance, a task that is not among the entry's.
//
// This process's writes that do not go through Applied (other SociDb::Write
// calls) are counted by the caller; Begin(count) drops everything when the
// count moved. Another process's commits (several bpmd on one MariaDB) are
// never seen: a hit can be older than the database, as any read can be older
// than the commit that follows it. Every commit re-checks what it read
// (instance version, task status, pending timer); a refused commit drops its
// instance's entry (Erase); and the engine runs a command that failed on a
// cached state once more from the database (InstanceState::from_cache).
//
// Bounded: at most `capacity` instances, least recently used dropped first.
// Thread safety: every method may be called from any thread (one mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/store/store.h"

namespace bpm::store::internal {

// What the store assigned while it wrote a commit, which the commit itself
// does not carry.
struct Written {
  std::string last_event_hash;  // the instance row's new chain hash
  int64_t instance_row_id = 0;  // of an inserted instance
  std::vector<int64_t> task_row_ids;  // of the inserted tasks, in order
};

class InstanceCache {
 public:
  // capacity 0: disabled (nothing is stored, every lookup misses).
  explicit InstanceCache(size_t capacity) : capacity_(capacity) {}
  InstanceCache(const InstanceCache&) = delete;
  InstanceCache& operator=(const InstanceCache&) = delete;

  // Before a lookup: drops everything if untracked_writes (a count that only
  // grows) grew since the last call. Returns the epoch to give Put() for what the caller then reads.
  uint64_t Begin(uint64_t untracked_writes);
  // A copy of the instance's state (InstanceState::task empty), or nullopt.
  std::optional<InstanceState> Find(const std::string& instance_id);
  // The state of the instance whose active task task_id is, with the task in
  // InstanceState::task; nullopt when no cached instance has it active.
  std::optional<InstanceState> FindByTask(const std::string& task_id);
  // Stores what the database returned (task ignored), unless anything was
  // applied, erased or cleared since Begin() returned epoch.
  void Put(uint64_t epoch, const InstanceState& state);
  // A durable commit: brings the entry of its instance up to date, creates
  // one for a new instance, or drops what it cannot follow. written: what the
  // store assigned. untracked_writes: as for Begin, read after the commit
  // (an entry must not outlive an untracked write that preceded it).
  void Applied(const Commit& commit, const Written& written, uint64_t untracked_writes);
  // Drops one instance (a commit of it was refused), or all of them.
  void Erase(const std::string& instance_id);
  void Clear();

  size_t size() const;
  size_t capacity() const { return capacity_; }

 private:
  struct Entry {
    InstanceState state;  // task unused
    std::list<std::string>::iterator lru;
  };
  using Map = std::unordered_map<std::string, Entry>;

  // Guarded by mu_.
  void SyncLocked(uint64_t untracked_writes);
  void EraseLocked(Map::iterator it);
  void ClearLocked();
  void InsertLocked(InstanceState state);
  // Replays c on e; false when it cannot (the caller drops the entry).
  bool ReplayLocked(const Commit& c, const Written& written, Entry& e);
  // Whether every task, timer and external task c writes, and every cached
  // timer it fires or cancels, belongs to instance id (with id "": whether
  // it leaves every cached entry alone).
  bool OnlyTouches(const Commit& c, const std::string& id) const;

  const size_t capacity_;
  mutable std::mutex mu_;
  Map entries_;
  std::list<std::string> lru_;  // most recently used first
  std::unordered_map<std::string, std::string> task_to_instance_;  // active tasks of entries
  uint64_t epoch_ = 0;          // moves on every Applied/Erase/Clear
  uint64_t untracked_seen_ = 0;
};

}  // namespace bpm::store::internal
