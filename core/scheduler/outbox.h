// bpm::scheduler::OutboxDeliverer — pushes assignments to agencies that
// expose an AgencyEndpoint (agency.proto), after commit, from the outbox.
//
// At least once: a message is delivered until its endpoint acknowledges it;
// the agency deduplicates by Assignment.delivery_id. A failed attempt is
// retried with exponential back-off and jitter (base 1 s, doubling, capped
// at 10 min, times a random 0.5–1.5); after max_attempts the message goes to
// the dead-letter list (status dead), which finance can replay.
//
// Thread safety: Deliver() is called from the scheduler thread only; the
// channel cache is not shared.
#pragma once

#include <map>
#include <memory>
#include <random>
#include <string>

#include <grpcpp/grpcpp.h>

#include "core/common/clock.h"
#include "core/store/store.h"

namespace bpm::scheduler {

struct OutboxOptions {
  int max_attempts = 8;
  int64_t base_backoff_ms = 1000;
  int64_t max_backoff_ms = 10 * 60 * 1000;
  int64_t call_deadline_ms = 2000;
  int64_t lease_ms = 30'000;
};

class OutboxDeliverer {
 public:
  OutboxDeliverer(store::AgencyStore& store, const Clock& clock, OutboxOptions options = {});
  // Delivers up to limit due messages; returns how many were acknowledged.
  StatusOr<int> Deliver(int limit);
  // The back-off before attempt number `attempts` + 1 (jitter from rng).
  int64_t Backoff(int64_t attempts);

 private:
  store::AgencyStore& store_;
  const Clock& clock_;
  OutboxOptions options_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace bpm::scheduler
