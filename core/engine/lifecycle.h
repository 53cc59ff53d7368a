// Instance and task lifecycles — the parts of the engine whose states never
// change with the workflow, modelled as Boost.Statechart machines (the
// workflow graph itself is data and is interpreted, see engine.h).
//
// Instance: Created -> Running{Active, Suspended, Incident} -> Completed | Terminated
// Task:     Open -> Claimed -> Completed, with Delegated, Escalated, Cancelled
//
// A lifecycle is restored from the stored status string; Fire() applies one
// event and returns FAILED_PRECONDITION naming the current status when the
// event is not allowed there (e.g. acting on a completed instance). The
// machines live only for the duration of one command.
// Thread safety: none; one object per command.
#pragma once

#include <memory>
#include <string>

#include "core/common/status.h"

namespace bpm::engine {

enum class InstanceEvent { kStart, kAct, kComplete, kTerminate, kSuspend, kResume, kRaiseIncident, kResolveIncident };
enum class TaskEvent { kClaim, kUnclaim, kComplete, kCancel, kDelegate, kResolveDelegation, kEscalate };

const char* ToString(InstanceEvent e);
const char* ToString(TaskEvent e);

class InstanceLifecycle {
 public:
  // Status strings: "created", "running", "suspended", "incident",
  // "completed", "terminated". INTERNAL for an unknown stored status.
  static StatusOr<InstanceLifecycle> Restore(const std::string& status);
  static InstanceLifecycle New();
  ~InstanceLifecycle();
  InstanceLifecycle(InstanceLifecycle&&) noexcept;
  InstanceLifecycle& operator=(InstanceLifecycle&&) noexcept;

  // FAILED_PRECONDITION "<subject> is <status>; <event> is not allowed".
  Status Fire(InstanceEvent event, const std::string& subject);
  std::string status() const;

 private:
  struct Machine;
  explicit InstanceLifecycle(std::unique_ptr<Machine> m);
  std::unique_ptr<Machine> m_;
};

class TaskLifecycle {
 public:
  // Status strings: "open", "claimed", "delegated", "escalated",
  // "completed", "cancelled". INTERNAL for an unknown stored status.
  static StatusOr<TaskLifecycle> Restore(const std::string& status);
  ~TaskLifecycle();
  TaskLifecycle(TaskLifecycle&&) noexcept;
  TaskLifecycle& operator=(TaskLifecycle&&) noexcept;

  Status Fire(TaskEvent event, const std::string& subject);
  std::string status() const;

 private:
  struct Machine;
  explicit TaskLifecycle(std::unique_ptr<Machine> m);
  std::unique_ptr<Machine> m_;
};

}  // namespace bpm::engine
