// Shared by the budget-performance stage plugins (self_evaluation,
// monitoring, evaluation, ...): reading amounts and indicator values from
// payloads and configs as exact decimals (core/perf/decimal.h), and the
// grade_bands config block.
#pragma once

#include <string>
#include <vector>

#include "bpm/plugin/sdk.h"
#include "core/perf/decimal.h"
#include "core/perf/rules.h"

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

// ValidateConfig: config[key][sub] (config[key] when sub is empty), if
// present, is a number from 0 to 100.
inline void CheckConfigNumber(const ::google::protobuf::Struct& config, const std::string& key,
                              const std::string& sub,
                              std::vector<::bpm::plugin::v1::ConfigError>* errors) {
  using ::google::protobuf::Value;
  const Value* v = ::bpm::plugin::Field(config, key);
  std::string path = key;
  if (!sub.empty()) {
    if (v == nullptr || v->kind_case() != Value::kStructValue) return;
    v = ::bpm::plugin::Field(v->struct_value(), sub);
    path = ::bpm::plugin::JoinPath(key, sub);
  }
  if (v == nullptr) return;
  perf::Decimal d;
  std::string error;
  if (v->kind_case() != Value::kNumberValue) {
    ::bpm::plugin::AddError(errors, path, "must be a number.");
  } else if (!ToDecimal(v, &d, &error)) {
    ::bpm::plugin::AddError(errors, path, error + ".");
  } else if (d < perf::Decimal() || d > perf::Decimal::FromInt(100)) {
    ::bpm::plugin::AddError(errors, path, "must be between 0 and 100.");
  }
}

// The config's grade_bands {excellent, good, pass} (default 90/80/60).
inline perf::GradeBands GradeBandsOf(const ::google::protobuf::Struct& config) {
  perf::GradeBands b;
  b.excellent = ConfigNumber(config, "grade_bands", "excellent", b.excellent);
  b.good = ConfigNumber(config, "grade_bands", "good", b.good);
  b.pass = ConfigNumber(config, "grade_bands", "pass", b.pass);
  return b;
}

// ValidateConfig of an optional grade_bands block.
inline void CheckGradeBands(const ::google::protobuf::Struct& config,
                            std::vector<::bpm::plugin::v1::ConfigError>* errors) {
  using ::google::protobuf::Value;
  if (::bpm::plugin::TypedField(config, "grade_bands", Value::kStructValue, "", errors) == nullptr) {
    return;
  }
  ::bpm::plugin::CheckKnownKeys(::bpm::plugin::Field(config, "grade_bands")->struct_value(),
                                "grade_bands", {"excellent", "good", "pass"}, errors);
  for (const char* k : {"excellent", "good", "pass"}) CheckConfigNumber(config, "grade_bands", k, errors);
  const perf::GradeBands b = GradeBandsOf(config);
  if (!(b.pass <= b.good && b.good <= b.excellent)) {
    ::bpm::plugin::AddError(errors, "grade_bands", "must satisfy pass ≤ good ≤ excellent.");
  }
}

}  // namespace bpm::plugins::perf_values
