// bpm::perf::DecimalOf — a Decimal out of a JSON value as forms, records and
// configs carry one: a number (95.5) or a decimal string ("1,200,000.00").
//
// Thread safety: stateless.
#pragma once

#include <string>
#include <string_view>

#include "core/common/status.h"
#include "core/perf/decimal.h"
#include "google/protobuf/struct.pb.h"

namespace bpm::perf {

// INVALID_ARGUMENT naming what for a value of any other kind, and as
// Decimal::FromDouble and Decimal::Parse say for a bad number or string.
inline StatusOr<Decimal> DecimalOf(const google::protobuf::Value& v, std::string_view what) {
  switch (v.kind_case()) {
    case google::protobuf::Value::kNumberValue:
      return Decimal::FromDouble(v.number_value(), what);
    case google::protobuf::Value::kStringValue:
      return Decimal::Parse(v.string_value(), what);
    default:
      return absl::InvalidArgumentError(std::string(what) +
                                        ": must be a number or a decimal string");
  }
}

}  // namespace bpm::perf
