// bpm::perf::Decimal — an exact decimal quantity for the budget-performance
// rules: indicator targets and actuals ("120", "95.5", "0.0001") and money in
// yuan ("1200000.00"). Stored as an integer count of 1/10,000, so comparisons
// at the rules' boundaries (a ratio of exactly 60, a score of exactly 90) are
// exact; a binary double would put 0.3 / 0.5 * 100 a hair off 60.
//
// Range: ±922,337,203,685.4775 (enough for any county's budget in yuan).
// Thread safety: a value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/common/status.h"

namespace bpm::perf {

class Decimal {
 public:
  static constexpr int64_t kScale = 10000;  // 4 decimal places

  constexpr Decimal() = default;
  static constexpr Decimal FromUnits(int64_t units) { return Decimal(units); }
  static constexpr Decimal FromInt(int64_t whole) { return Decimal(whole * kScale); }

  // "120", "-3.5", "0.0001", "1,200,000.00" (thousands separators allowed).
  // INVALID_ARGUMENT naming what for anything else: more than 4 decimal
  // places, no digits, out of range.
  static StatusOr<Decimal> Parse(std::string_view text, std::string_view what);
  // A JSON number: 95.5 and 0.1 (read as the decimals they were written as);
  // INVALID_ARGUMENT for more than 4 decimal places, infinities and NaN.
  static StatusOr<Decimal> FromDouble(double value, std::string_view what);

  constexpr int64_t units() const { return units_; }  // value × 10,000
  constexpr bool is_zero() const { return units_ == 0; }
  std::string ToString() const;  // shortest: "120", "95.5", "-0.0001"
  double ToDouble() const { return static_cast<double>(units_) / kScale; }

  friend constexpr bool operator==(Decimal a, Decimal b) { return a.units_ == b.units_; }
  friend constexpr bool operator!=(Decimal a, Decimal b) { return a.units_ != b.units_; }
  friend constexpr bool operator<(Decimal a, Decimal b) { return a.units_ < b.units_; }
  friend constexpr bool operator<=(Decimal a, Decimal b) { return a.units_ <= b.units_; }
  friend constexpr bool operator>(Decimal a, Decimal b) { return a.units_ > b.units_; }
  friend constexpr bool operator>=(Decimal a, Decimal b) { return a.units_ >= b.units_; }

 private:
  constexpr explicit Decimal(int64_t units) : units_(units) {}
  int64_t units_ = 0;
};

}  // namespace bpm::perf
