#include "core/engine/lifecycle.h"

// GCC 12 reports a false -Wuse-after-free inside Boost.Statechart 1.74's
// intrusive reference counting (counted_base.hpp) when inlining at -O2.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuse-after-free"
#include <boost/mpl/list.hpp>
#include <boost/statechart/custom_reaction.hpp>
#include <boost/statechart/event.hpp>
#include <boost/statechart/in_state_reaction.hpp>
#include <boost/statechart/state.hpp>
#include <boost/statechart/state_machine.hpp>
#include <boost/statechart/transition.hpp>
#pragma GCC diagnostic pop
#include <vector>

#include "absl/strings/str_cat.h"

namespace bpm::engine {
namespace sc = boost::statechart;
namespace mpl = boost::mpl;

const char* ToString(InstanceEvent e) {
  switch (e) {
    case InstanceEvent::kStart: return "start";
    case InstanceEvent::kAct: return "act";
    case InstanceEvent::kComplete: return "complete";
    case InstanceEvent::kTerminate: return "terminate";
    case InstanceEvent::kSuspend: return "suspend";
    case InstanceEvent::kResume: return "resume";
    case InstanceEvent::kRaiseIncident: return "raise an incident";
    case InstanceEvent::kResolveIncident: return "resolve an incident";
  }
  return "?";
}

const char* ToString(TaskEvent e) {
  switch (e) {
    case TaskEvent::kClaim: return "claim";
    case TaskEvent::kUnclaim: return "unclaim";
    case TaskEvent::kComplete: return "complete";
    case TaskEvent::kCancel: return "cancel";
    case TaskEvent::kDelegate: return "delegate";
    case TaskEvent::kResolveDelegation: return "resolve a delegation";
    case TaskEvent::kEscalate: return "escalate";
  }
  return "?";
}

// Named, not anonymous: clang refuses Boost.Statechart transitions on events
// with internal linkage (no_context<Event>::no_function cannot be defined).
namespace lifecycle_internal {

// ---- Instance machine ------------------------------------------------------

struct EvStart : sc::event<EvStart> {};
struct EvAct : sc::event<EvAct> {};
struct EvComplete : sc::event<EvComplete> {};
struct EvTerminate : sc::event<EvTerminate> {};
struct EvSuspend : sc::event<EvSuspend> {};
struct EvResume : sc::event<EvResume> {};
struct EvRaiseIncident : sc::event<EvRaiseIncident> {};
struct EvResolveIncident : sc::event<EvResolveIncident> {};

struct ICreated;
struct IRunning;
struct IActive;
struct ISuspended;
struct IIncident;
struct ICompleted;
struct ITerminated;

struct InstanceMachine : sc::state_machine<InstanceMachine, ICreated> {
  std::string status;
  bool consumed = true;
  void unconsumed_event(const sc::event_base&) { consumed = false; }
};

// Each state records its status name on entry.
template <typename Self, typename Context, typename Inner = mpl::list<>>
struct Named : sc::state<Self, Context, Inner> {
  using base = sc::state<Self, Context, Inner>;
  explicit Named(typename base::my_context ctx) : base(ctx) {
    if (Self::kName != nullptr) this->outermost_context().status = Self::kName;
  }
};

struct ICreated : Named<ICreated, InstanceMachine> {
  static constexpr const char* kName = "created";
  using Named::Named;
  using reactions = mpl::list<sc::transition<EvStart, IActive>, sc::transition<EvTerminate, ITerminated>>;
};
struct IRunning : Named<IRunning, InstanceMachine, IActive> {
  static constexpr const char* kName = nullptr;  // a leaf names the status
  using Named::Named;
  using reactions = mpl::list<sc::transition<EvTerminate, ITerminated>>;
};
struct IActive : Named<IActive, IRunning> {
  static constexpr const char* kName = "running";
  using Named::Named;
  using reactions = mpl::list<sc::in_state_reaction<EvAct>, sc::transition<EvComplete, ICompleted>,
                              sc::transition<EvSuspend, ISuspended>,
                              sc::transition<EvRaiseIncident, IIncident>>;
};
struct ISuspended : Named<ISuspended, IRunning> {
  static constexpr const char* kName = "suspended";
  using Named::Named;
  using reactions = mpl::list<sc::transition<EvResume, IActive>>;
};
struct IIncident : Named<IIncident, IRunning> {
  static constexpr const char* kName = "incident";
  using Named::Named;
  using reactions = mpl::list<sc::transition<EvResolveIncident, IActive>>;
};
struct ICompleted : Named<ICompleted, InstanceMachine> {
  static constexpr const char* kName = "completed";
  using Named::Named;
};
struct ITerminated : Named<ITerminated, InstanceMachine> {
  static constexpr const char* kName = "terminated";
  using Named::Named;
};

void Post(InstanceMachine& m, InstanceEvent e) {
  switch (e) {
    case InstanceEvent::kStart: m.process_event(EvStart()); break;
    case InstanceEvent::kAct: m.process_event(EvAct()); break;
    case InstanceEvent::kComplete: m.process_event(EvComplete()); break;
    case InstanceEvent::kTerminate: m.process_event(EvTerminate()); break;
    case InstanceEvent::kSuspend: m.process_event(EvSuspend()); break;
    case InstanceEvent::kResume: m.process_event(EvResume()); break;
    case InstanceEvent::kRaiseIncident: m.process_event(EvRaiseIncident()); break;
    case InstanceEvent::kResolveIncident: m.process_event(EvResolveIncident()); break;
  }
}

// ---- Task machine ------------------------------------------------------------

struct TEvClaim : sc::event<TEvClaim> {};
struct TEvUnclaim : sc::event<TEvUnclaim> {};
struct TEvComplete : sc::event<TEvComplete> {};
struct TEvCancel : sc::event<TEvCancel> {};
struct TEvDelegate : sc::event<TEvDelegate> {};
struct TEvResolve : sc::event<TEvResolve> {};
struct TEvEscalate : sc::event<TEvEscalate> {};

struct TOpen;
struct TClaimed;
struct TDelegated;
struct TEscalated;
struct TCompleted;
struct TCancelled;

struct TaskMachine : sc::state_machine<TaskMachine, TOpen> {
  std::string status;
  bool consumed = true;
  void unconsumed_event(const sc::event_base&) { consumed = false; }
};

struct TOpen : Named<TOpen, TaskMachine> {
  static constexpr const char* kName = "open";
  using Named::Named;
  using reactions =
      mpl::list<sc::transition<TEvClaim, TClaimed>, sc::transition<TEvComplete, TCompleted>,
                sc::transition<TEvCancel, TCancelled>, sc::transition<TEvDelegate, TDelegated>,
                sc::transition<TEvEscalate, TEscalated>>;
};
struct TClaimed : Named<TClaimed, TaskMachine> {
  static constexpr const char* kName = "claimed";
  using Named::Named;
  using reactions =
      mpl::list<sc::transition<TEvUnclaim, TOpen>, sc::transition<TEvComplete, TCompleted>,
                sc::transition<TEvCancel, TCancelled>, sc::transition<TEvDelegate, TDelegated>,
                sc::transition<TEvEscalate, TEscalated>>;
};
struct TDelegated : Named<TDelegated, TaskMachine> {
  static constexpr const char* kName = "delegated";
  using Named::Named;
  using reactions = mpl::list<sc::transition<TEvResolve, TOpen>, sc::transition<TEvCancel, TCancelled>>;
};
struct TEscalated : Named<TEscalated, TaskMachine> {
  static constexpr const char* kName = "escalated";
  using Named::Named;
  using reactions =
      mpl::list<sc::transition<TEvClaim, TClaimed>, sc::transition<TEvComplete, TCompleted>,
                sc::transition<TEvCancel, TCancelled>>;
};
struct TCompleted : Named<TCompleted, TaskMachine> {
  static constexpr const char* kName = "completed";
  using Named::Named;
};
struct TCancelled : Named<TCancelled, TaskMachine> {
  static constexpr const char* kName = "cancelled";
  using Named::Named;
};

void Post(TaskMachine& m, TaskEvent e) {
  switch (e) {
    case TaskEvent::kClaim: m.process_event(TEvClaim()); break;
    case TaskEvent::kUnclaim: m.process_event(TEvUnclaim()); break;
    case TaskEvent::kComplete: m.process_event(TEvComplete()); break;
    case TaskEvent::kCancel: m.process_event(TEvCancel()); break;
    case TaskEvent::kDelegate: m.process_event(TEvDelegate()); break;
    case TaskEvent::kResolveDelegation: m.process_event(TEvResolve()); break;
    case TaskEvent::kEscalate: m.process_event(TEvEscalate()); break;
  }
}

}  // namespace lifecycle_internal

using lifecycle_internal::InstanceMachine;
using lifecycle_internal::Post;
using lifecycle_internal::TaskMachine;

// ---- Shared by both lifecycles ------------------------------------------------

namespace {

template <typename Event>
using Paths = std::vector<std::pair<std::string, std::vector<Event>>>;

// Rebuilds a machine in the stored status by replaying the events that lead
// there; null for a status no path names.
template <typename Wrapper, typename Event>
std::unique_ptr<Wrapper> Replay(const Paths<Event>& paths, const std::string& status) {
  for (const auto& [name, path] : paths) {
    if (name != status) continue;
    auto m = std::make_unique<Wrapper>();
    m->sm.initiate();
    for (Event e : path) Post(m->sm, e);
    return m;
  }
  return nullptr;
}

template <typename Wrapper, typename Event>
Status FireOn(Wrapper& m, Event event, const std::string& subject) {
  std::string before = m.sm.status;
  m.sm.consumed = true;
  Post(m.sm, event);
  if (!m.sm.consumed) {
    return absl::FailedPreconditionError(
        absl::StrCat(subject, " is ", before, "; ", ToString(event), " is not allowed"));
  }
  return absl::OkStatus();
}

}  // namespace

// ---- InstanceLifecycle ------------------------------------------------------------

struct InstanceLifecycle::Machine {
  InstanceMachine sm;
};

InstanceLifecycle::InstanceLifecycle(std::unique_ptr<Machine> m) : m_(std::move(m)) {}
InstanceLifecycle::~InstanceLifecycle() = default;
InstanceLifecycle::InstanceLifecycle(InstanceLifecycle&&) noexcept = default;
InstanceLifecycle& InstanceLifecycle::operator=(InstanceLifecycle&&) noexcept = default;

InstanceLifecycle InstanceLifecycle::New() { return *Restore("created"); }

StatusOr<InstanceLifecycle> InstanceLifecycle::Restore(const std::string& status) {
  static const Paths<InstanceEvent> kPaths = {
      {"created", {}},
      {"running", {InstanceEvent::kStart}},
      {"suspended", {InstanceEvent::kStart, InstanceEvent::kSuspend}},
      {"incident", {InstanceEvent::kStart, InstanceEvent::kRaiseIncident}},
      {"completed", {InstanceEvent::kStart, InstanceEvent::kComplete}},
      {"terminated", {InstanceEvent::kStart, InstanceEvent::kTerminate}},
  };
  auto m = Replay<Machine>(kPaths, status);
  if (m == nullptr) {
    return absl::InternalError(absl::StrCat("unknown stored instance status '", status, "'"));
  }
  return InstanceLifecycle(std::move(m));
}

Status InstanceLifecycle::Fire(InstanceEvent event, const std::string& subject) {
  return FireOn(*m_, event, subject);
}

std::string InstanceLifecycle::status() const { return m_->sm.status; }

// ---- TaskLifecycle ------------------------------------------------------------------

struct TaskLifecycle::Machine {
  TaskMachine sm;
};

TaskLifecycle::TaskLifecycle(std::unique_ptr<Machine> m) : m_(std::move(m)) {}
TaskLifecycle::~TaskLifecycle() = default;
TaskLifecycle::TaskLifecycle(TaskLifecycle&&) noexcept = default;
TaskLifecycle& TaskLifecycle::operator=(TaskLifecycle&&) noexcept = default;

StatusOr<TaskLifecycle> TaskLifecycle::Restore(const std::string& status) {
  static const Paths<TaskEvent> kPaths = {
      {"open", {}},
      {"claimed", {TaskEvent::kClaim}},
      {"delegated", {TaskEvent::kDelegate}},
      {"escalated", {TaskEvent::kEscalate}},
      {"completed", {TaskEvent::kComplete}},
      {"cancelled", {TaskEvent::kCancel}},
  };
  auto m = Replay<Machine>(kPaths, status);
  if (m == nullptr) {
    return absl::InternalError(absl::StrCat("unknown stored task status '", status, "'"));
  }
  return TaskLifecycle(std::move(m));
}

Status TaskLifecycle::Fire(TaskEvent event, const std::string& subject) {
  return FireOn(*m_, event, subject);
}

std::string TaskLifecycle::status() const { return m_->sm.status; }

}  // namespace bpm::engine
