// Calendar dates of the org model. Org files, bpmctl flags and messages use
// dates "YYYY-MM-DD" in China time (UTC+8, no daylight saving): a date means
// 00:00 of that day in Beijing. The API carries Unix milliseconds.
//
// Header-only and dependency-free so that bpmctl, the store's messages and
// the importer share one definition. Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace bpm::org {

inline constexpr int64_t kChinaOffsetMs = int64_t{8} * 3600 * 1000;
inline constexpr int64_t kDayMs = int64_t{24} * 3600 * 1000;

namespace dates_internal {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
constexpr int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct Civil {
  int64_t y;
  int64_t m;
  int64_t d;
};

constexpr Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp + (mp < 10 ? 3 : -9);
  return {yoe + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

inline int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

}  // namespace dates_internal

// "2026-07-01" -> Unix ms of 2026-07-01 00:00 UTC+8. nullopt unless the text
// is exactly YYYY-MM-DD naming a real day of the years 1900 to 2999.
inline std::optional<int64_t> ParseChinaDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  auto digits = [&](size_t from, size_t n) -> int64_t {
    int64_t v = 0;
    for (size_t i = from; i < from + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  const int64_t y = digits(0, 4), m = digits(5, 2), d = digits(8, 2);
  if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1) return std::nullopt;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  const int64_t max_day = kDays[m - 1] + (m == 2 && leap ? 1 : 0);
  if (d > max_day) return std::nullopt;
  return dates_internal::DaysFromCivil(y, m, d) * kDayMs - kChinaOffsetMs;
}

// Unix ms -> "YYYY-MM-DD" of that instant in China time.
inline std::string FormatChinaDate(int64_t ms) {
  const int64_t local = ms + kChinaOffsetMs;
  const auto c = dates_internal::CivilFromDays(dates_internal::FloorDiv(local, kDayMs));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld", static_cast<long long>(c.y),
                static_cast<long long>(c.m), static_cast<long long>(c.d));
  return buf;
}

// Unix ms -> "YYYY-MM-DD" when it is midnight in China, else
// "YYYY-MM-DD HH:MM:SS" (China time). 0 gives "-" (no time, e.g. an open end).
inline std::string FormatChinaTime(int64_t ms) {
  if (ms == 0) return "-";
  const int64_t local = ms + kChinaOffsetMs;
  const int64_t in_day = local - dates_internal::FloorDiv(local, kDayMs) * kDayMs;
  std::string out = FormatChinaDate(ms);
  if (in_day == 0) return out;
  const int64_t secs = in_day / 1000;
  char buf[64];
  std::snprintf(buf, sizeof buf, " %02lld:%02lld:%02lld", static_cast<long long>(secs / 3600),
                static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  return out + buf;
}

}  // namespace bpm::org
