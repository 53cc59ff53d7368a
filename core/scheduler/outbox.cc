#include "core/scheduler/outbox.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "bpm/v1/agency.grpc.pb.h"

namespace bpm::scheduler {

OutboxDeliverer::OutboxDeliverer(store::AgencyStore& store, const Clock& clock,
                                 OutboxOptions options)
    : store_(store), clock_(clock), options_(options) {}

int64_t OutboxDeliverer::Backoff(int64_t attempts) {
  int64_t backoff = options_.base_backoff_ms;
  for (int64_t i = 1; i < attempts && backoff < options_.max_backoff_ms; ++i) backoff *= 2;
  backoff = std::min(backoff, options_.max_backoff_ms);
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  return static_cast<int64_t>(static_cast<double>(backoff) * jitter(rng_));
}

StatusOr<int> OutboxDeliverer::Deliver(int limit) {
  BPM_ASSIGN_OR_RETURN(auto due, store_.LeaseOutbox(clock_.NowMillis(), options_.lease_ms, limit));
  int delivered = 0;
  for (auto& msg : due) {
    v1::Assignment assignment;
    if (!assignment.ParseFromString(msg.body)) {
      msg.status = "dead";
      msg.last_error = "the stored assignment is corrupt";
      Status updated = store_.UpdateOutbox(msg, "pending");
      if (!updated.ok() && !absl::IsAborted(updated)) return updated;
      continue;
    }
    auto& channel = channels_[msg.endpoint];
    if (channel == nullptr) {
      // Reconnect promptly: gRPC's default back-off (up to 120 s) would fail
      // our own retries long after the agency is back.
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
      args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
      channel = grpc::CreateCustomChannel(msg.endpoint, grpc::InsecureChannelCredentials(), args);
    }
    auto stub = v1::AgencyEndpoint::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(options_.call_deadline_ms));
    ctx.AddMetadata("x-bpm-delivery-id", msg.id);
    v1::AssignmentAck ack;
    grpc::Status s = stub->Deliver(&ctx, assignment, &ack);
    msg.attempts += 1;
    msg.lease_until_ms = 0;
    if (s.ok()) {
      msg.status = "delivered";
      msg.last_error.clear();
      ++delivered;
    } else {
      channels_.erase(msg.endpoint);  // a fresh channel next time, no stale back-off
      msg.last_error = absl::StrCat("attempt ", msg.attempts, ": ", s.error_code(), " ",
                                    s.error_message());
      if (msg.attempts >= options_.max_attempts) {
        msg.status = "dead";
      } else {
        msg.next_attempt_ms = clock_.NowMillis() + Backoff(msg.attempts);
      }
    }
    Status updated = store_.UpdateOutbox(msg, "pending");
    if (absl::IsAborted(updated)) continue;  // settled meanwhile by another bpmd
    BPM_RETURN_IF_ERROR(updated);
  }
  return delivered;
}

}  // namespace bpm::scheduler
