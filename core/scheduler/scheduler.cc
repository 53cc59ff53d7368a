#include "core/scheduler/scheduler.h"

#include <iostream>

namespace bpm::scheduler {

Scheduler::Scheduler(engine::Engine& engine, const Clock& clock, SchedulerOptions options)
    : engine_(engine), clock_(clock), options_(std::move(options)) {
  reroute_watermark_ms_ = clock_.NowMillis();
}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this]() { Loop(); });
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::Tick() {
  // Fire in rounds until nothing more is due (a backlog after a restart).
  while (true) {
    auto fired = engine_.RunDueTimers(options_.owner, options_.timers_per_tick);
    if (!fired.ok()) {
      std::cerr << "bpmd: scheduler: timers: " << fired.status() << std::endl;
      break;
    }
    if (*fired < options_.timers_per_tick) break;
  }
  for (const auto& job : options_.jobs) job();
  if (++ticks_ % options_.reroute_every_ticks == 0) {
    const int64_t now = clock_.NowMillis();
    auto rerouted = engine_.RerouteOrgChanges(reroute_watermark_ms_, now);
    if (rerouted.ok()) {
      reroute_watermark_ms_ = now;
      if (*rerouted > 0) std::cout << "bpmd: re-routed " << *rerouted << " instances" << std::endl;
    } else if (!absl::IsUnimplemented(rerouted.status())) {
      std::cerr << "bpmd: scheduler: re-route: " << rerouted.status() << std::endl;
    }
  }
}

void Scheduler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    Tick();
    lock.lock();
    cv_.wait_for(lock, std::chrono::milliseconds(options_.tick_ms), [this]() { return stop_; });
  }
}

}  // namespace bpm::scheduler
