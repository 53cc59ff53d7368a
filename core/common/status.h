// The one status type of bpm: absl::Status / absl::StatusOr, whose codes are
// gRPC's. Fallible public functions in core/ return Status or StatusOr<T>;
// exceptions from third-party libraries are caught in adapters and converted.
// Debian's Abseil (20220623) has no status_macros.h, so the two macros live here.
#pragma once

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace bpm {

using Status = absl::Status;
template <typename T>
using StatusOr = absl::StatusOr<T>;

}  // namespace bpm

#define BPM_STATUS_CONCAT_INNER_(a, b) a##b
#define BPM_STATUS_CONCAT_(a, b) BPM_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function when expr is not OK.
#define BPM_RETURN_IF_ERROR(expr)                  \
  do {                                             \
    ::absl::Status bpm_status_ = (expr);           \
    if (!bpm_status_.ok()) return bpm_status_;     \
  } while (false)

// BPM_ASSIGN_OR_RETURN(auto x, F()): assigns the value or returns the error.
#define BPM_ASSIGN_OR_RETURN(lhs, expr) \
  BPM_ASSIGN_OR_RETURN_IMPL_(BPM_STATUS_CONCAT_(bpm_statusor_, __LINE__), lhs, expr)
#define BPM_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return std::move(tmp).status();   \
  lhs = std::move(tmp).value()
