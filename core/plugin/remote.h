// Out-of-process stage plugins: a StageHandle that calls a plugin over gRPC
// (service bpm.plugin.v1.Stage, proto/bpm/plugin/v1/plugin.proto).
//
// ConnectRemoteStage waits for the channel (connect_timeout), calls Describe
// with the host ABI, and checks the answer the same way the dlopen loader
// checks an entry table: abi_major must equal BPM_PLUGIN_ABI_MAJOR and
// abi_minor must not be newer than BPM_PLUGIN_ABI_MINOR. The returned handle
// goes into the same plugin::Registry as in-process plugins (so a remote stage
// whose name a loaded plugin already has is refused with ALREADY_EXISTS).
//
// Calls: every call has call_deadline. Describe and ValidateConfig are
// idempotent and retried on UNAVAILABLE (max_retries times, backoff doubling
// from retry_backoff). Enter, Act and OnTimer are never retried here: the
// engine retries whole commands.
//
// Errors (exact prefixes are asserted by tests):
//   at connect, FAILED_PRECONDITION
//     "remote plugin <address>: unreachable: ..."
//     "remote plugin <address>: describe failed: ..."
//     "remote plugin <address>: ABI <M.m> is incompatible with host ABI <M.m> (stage '<name>' <version>)"
//     "remote plugin <address>: describes stage '<name>' <version> but '<expected>' was expected"
//     "remote plugin <address>: describe names no stage"
//   INVALID_ARGUMENT "remote plugin: empty address" (bad options)
//   on calls
//     UNAVAILABLE "stage plugin '<name>' at <address> unreachable: <hook>: ..."
//       (gRPC UNAVAILABLE, DEADLINE_EXCEEDED or CANCELLED: a transport
//       failure or no answer within the deadline; the message of a missed
//       deadline contains "deadline"). The plugin decided nothing:
//       callers must refuse the command, never treat it as approval.
//     INTERNAL "stage plugin '<name>' <version> (<address>) <hook> failed: <CODE>: <message>"
//       (the plugin answered with an error status).
//
// Health: unless health_check_interval is zero, a background thread calls
// grpc.health.v1.Health/Check (service "") every interval; healthy() reports
// the latest result (true right after a successful connect). A plugin server
// without the health service (UNIMPLEMENTED) counts as healthy when it
// answers at all. on_health_change, if set, is called from that thread on
// every change.
//
// Reconnects: the handle owns one channel with a short reconnect backoff
// (at most reconnect_backoff_max), so a plugin that comes back on the same
// address is used again without restarting the host.
//
// Thread safety: all StageHandle methods and healthy() are safe to call
// concurrently. Ownership: the handle owns its channel and health thread; the
// destructor stops the thread (cancelling an in-flight health check) and
// joins it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/common/status.h"
#include "core/plugin/stage.h"

namespace bpm::plugin {

struct RemoteStageOptions {
  // host:port of the plugin's gRPC server (any gRPC target works, e.g.
  // unix:/run/plugin.sock).
  std::string address;
  // When non-empty, the plugin must describe itself with this stage name.
  std::string expected_name;
  // Deadline of each call (each attempt, when retried).
  std::chrono::milliseconds call_deadline{2000};
  // How long ConnectRemoteStage waits for the first connection.
  std::chrono::milliseconds connect_timeout{5000};
  // Period of the background health check; zero: no health thread.
  std::chrono::milliseconds health_check_interval{5000};
  // Retries of idempotent calls (Describe, ValidateConfig) on UNAVAILABLE,
  // waiting retry_backoff, then twice as long each time.
  int max_retries = 3;
  std::chrono::milliseconds retry_backoff{100};
  // Upper bound of the channel's reconnect backoff.
  std::chrono::milliseconds reconnect_backoff_max{1000};
  // Called from the health thread when healthy() changes; detail says why
  // (the failed check's status, or "SERVING"). Must not block for long.
  std::function<void(bool healthy, const std::string& detail)> on_health_change;
};

// Connects to a remote stage plugin and checks its description. Errors: see
// the file comment. Blocks up to connect_timeout plus the Describe attempts.
StatusOr<std::unique_ptr<StageHandle>> ConnectRemoteStage(const RemoteStageOptions& options);

}  // namespace bpm::plugin
