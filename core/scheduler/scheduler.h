// bpm::scheduler — the background loop of bpmd: fires due timers (reminders,
// overdue actions) and re-routes open tasks when org changes take effect.
//
// Several bpmd processes may share one database: timers are leased with
// FOR UPDATE SKIP LOCKED and each takes effect exactly once (the engine checks
// the timer is still pending in the same transaction as its effects).
//
// Thread safety: Start/Stop from one thread; the loop runs on its own thread
// and only calls the (thread-safe) Engine.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <functional>
#include <vector>

#include "core/common/clock.h"
#include "core/engine/engine.h"

namespace bpm::scheduler {

struct SchedulerOptions {
  int tick_ms = 500;           // how often due timers are looked for
  int timers_per_tick = 100;
  int reroute_every_ticks = 10;
  std::string owner;           // lease owner name (host:pid)
  // More periodic work, run every tick after the timers (e.g. the outbox).
  std::vector<std::function<void()>> jobs;
};

class Scheduler {
 public:
  Scheduler(engine::Engine& engine, const Clock& clock, SchedulerOptions options);
  ~Scheduler();  // stops
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void Start();
  void Stop();
  // One round now (tests): fire due timers, re-route org changes.
  void Tick();

 private:
  void Loop();

  engine::Engine& engine_;
  const Clock& clock_;
  SchedulerOptions options_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;        // guarded by mu_
  int64_t reroute_watermark_ms_ = 0;
  int ticks_ = 0;
};

}  // namespace bpm::scheduler
