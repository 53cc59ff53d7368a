#include "core/perf/decimal.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace bpm::perf {
namespace {
// absl::StrCat takes absl::string_view, which is not std::string_view here.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }
}  // namespace

StatusOr<Decimal> Decimal::Parse(std::string_view text, std::string_view what) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(what), ": '", Sv(text), "' is not a decimal number (", Sv(why), ")"));
  };
  size_t i = 0;
  while (i < text.size() && text[i] == ' ') ++i;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t whole = 0;
  int digits = 0;
  for (; i < text.size() && (text[i] == ',' || (text[i] >= '0' && text[i] <= '9')); ++i) {
    if (text[i] == ',') continue;
    // whole × kScale + 9,999 must fit.
    if (whole > (kMax / kScale - 1 - (text[i] - '0')) / 10) return bad("out of range");
    whole = whole * 10 + (text[i] - '0');
    ++digits;
  }
  int64_t fraction = 0;
  int places = 0;
  if (i < text.size() && text[i] == '.') {
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (++places > 4) return bad("more than 4 decimal places");
      fraction = fraction * 10 + (text[i] - '0');
      ++digits;
    }
  }
  while (i < text.size() && text[i] == ' ') ++i;
  if (digits == 0) return bad("no digits");
  if (i != text.size()) return bad(absl::StrCat("unexpected '", Sv(text.substr(i, 1)), "'"));
  for (; places < 4; ++places) fraction *= 10;
  const int64_t units = whole * kScale + fraction;
  return Decimal(negative ? -units : units);
}

StatusOr<Decimal> Decimal::FromDouble(double value, std::string_view what) {
  if (!std::isfinite(value) || std::fabs(value) > 9e14) {
    return absl::InvalidArgumentError(absl::StrCat(Sv(what), ": not a finite number in range"));
  }
  // Six places, the last two of which must be zero: 0.1 prints 0.100000.
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", value);
  std::string text = buf;
  if (text.compare(text.size() - 2, 2, "00") != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(what), ": ", text, " has more than 4 decimal places"));
  }
  text.resize(text.size() - 2);
  return Parse(text, what);
}

std::string Decimal::ToString() const {
  const bool negative = units_ < 0;
  // Magnitude without overflow at the minimum.
  const uint64_t m = negative ? 0 - static_cast<uint64_t>(units_) : static_cast<uint64_t>(units_);
  std::string out = absl::StrCat(negative ? "-" : "", m / kScale);
  uint64_t fraction = m % kScale;
  if (fraction != 0) {
    std::string f = std::to_string(fraction + kScale).substr(1);  // 4 digits, leading zeros
    while (!f.empty() && f.back() == '0') f.pop_back();
    absl::StrAppend(&out, ".", f);
  }
  return out;
}

}  // namespace bpm::perf
