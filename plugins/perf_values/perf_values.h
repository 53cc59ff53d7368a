// Shared by the budget-performance stage plugins (self_evaluation,
// monitoring): reading amounts and indicator values from payloads and
// configs as exact decimals (core/perf/decimal.h).
#pragma once

#include <string>

#include "bpm/plugin/sdk.h"
#include "core/perf/decimal.h"

namespace bpm::plugins::perf_values {

// A JSON number or decimal string ("1,200,000.00") as a Decimal. false with
// *error set to the reason ("is required", "has more than 4 decimal places"
// ...), for the caller to name its field.
inline bool ToDecimal(const ::google::protobuf::Value* v, perf::Decimal* out, std::string* error) {
  using ::google::protobuf::Value;
  if (v == nullptr) {
    *error = "is required";
    return false;
  }
  StatusOr<perf::Decimal> d;
  if (v->kind_case() == Value::kStringValue) {
    d = perf::Decimal::Parse(v->string_value(), "x");
  } else if (v->kind_case() == Value::kNumberValue) {
    d = perf::Decimal::FromDouble(v->number_value(), "x");
  } else {
    *error = std::string("must be a number or a decimal string, not ") +
             ::bpm::plugin::KindName(v->kind_case());
    return false;
  }
  if (!d.ok()) {
    *error = std::string(d.status().message().substr(3));  // drop "x: "
    return false;
  }
  *out = *d;
  return true;
}

// A number of the stage's config, already checked by ValidateConfig:
// config[section][key], or config[key] when section is empty; fallback when
// absent (or unreadable).
inline perf::Decimal ConfigNumber(const ::google::protobuf::Struct& config,
                                  const std::string& section, const std::string& key,
                                  perf::Decimal fallback) {
  using ::google::protobuf::Value;
  const Value* v = ::bpm::plugin::Field(config, section.empty() ? key : section);
  if (v != nullptr && !section.empty()) {
    v = v->kind_case() == Value::kStructValue ? ::bpm::plugin::Field(v->struct_value(), key)
                                              : nullptr;
  }
  perf::Decimal d = fallback;
  std::string ignored;
  if (v != nullptr && !ToDecimal(v, &d, &ignored)) d = fallback;
  return d;
}

}  // namespace bpm::plugins::perf_values
