// The PRC working-day calendar: which dates are working days, and deadlines
// counted in working days or calendar days.
//
// A date is a working day when it is Monday–Friday and not a statutory
// holiday (放假), or when it is a weekend day declared a make-up working day
// (调休上班). The holiday data is not compiled in: it is read from one YAML
// file per year, `cn-YYYY.yaml`, in a calendar directory (deploy/calendars/ in
// the source tree; see its README.md for the format). Replacing a file and
// restarting is enough to change a year; no rebuild.
//
// Time zone: China Standard Time, a fixed UTC+8 with no daylight saving. The
// "China date" of an instant is its calendar date in UTC+8.
//
// Deadline semantics:
//   * "N working days from T" is the END of the N-th working day strictly
//     after the China date of T, i.e. 23:59:59.999 UTC+8 of that day. T's own
//     day never counts, whatever time of day T is and whether or not it is a
//     working day. N = 0 means the end of T's own China date.
//   * "N calendar days from T" is the end (23:59:59.999 UTC+8) of the China
//     date of T plus N days; N = 0 is again the end of T's own day.
//   * WorkingDaysBetween(a, b) counts the working days in the half-open range
//     (China date of a, China date of b], negated when b is before a. It is
//     the inverse of AddWorkingDays: WorkingDaysBetween(T, AddWorkingDays(T, n))
//     == n.
//
// Never guessing: a question about a date in a year with no loaded file fails
// with FAILED_PRECONDITION ("no working-day calendar for 2028: add
// cn-2028.yaml to the calendar directory") instead of falling back to
// weekends-only. A year's file carries `status: official` or `status:
// provisional` (built from the statutory rules before the State Council
// published the year's notice); Years() exposes it so callers can warn.
//
// Error codes:
//   INVALID_ARGUMENT     a malformed calendar file ("file:line:col: message",
//                        1-based line and column; all problems of the file,
//                        one per line), a malformed date, a negative N, an
//                        instant too far from the epoch to convert.
//   FAILED_PRECONDITION  a date in a year that has no loaded calendar file.
//   NOT_FOUND            LoadDirectory: the directory does not exist or holds
//                        no cn-YYYY.yaml file.
//   INTERNAL             LoadDirectory: a file could not be read.
//
// Thread safety: a WorkCalendar is immutable once built (LoadDirectory,
// FromYaml, and Merge while assembling one); its const methods are safe to
// call concurrently from any number of threads. Do not Merge into a calendar
// other threads are reading. The free functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"
#include "core/common/status.h"

namespace bpm::calendar {

// A calendar date (proleptic Gregorian). Plain data; use IsValidDate to check.
struct Date {
  int year = 1970;
  int month = 1;
  int day = 1;
};

bool operator==(const Date& a, const Date& b);
bool operator!=(const Date& a, const Date& b);
bool operator<(const Date& a, const Date& b);
bool operator<=(const Date& a, const Date& b);
bool operator>(const Date& a, const Date& b);
bool operator>=(const Date& a, const Date& b);

// True when the fields name a real date (e.g. 2026-02-29 is not one).
bool IsValidDate(const Date& d);

// Parses exactly "YYYY-MM-DD" (four-digit year, two-digit month and day, no
// surrounding space). INVALID_ARGUMENT otherwise or when it is no real date.
StatusOr<Date> ParseDate(std::string_view text);

// "YYYY-MM-DD". For valid dates with a four-digit year, the inverse of
// ParseDate.
std::string FormatDate(const Date& d);

// Day of the week of a valid date.
absl::Weekday DayOfWeek(const Date& d);
bool IsWeekend(const Date& d);

// d plus n days (n may be negative). d must be valid.
Date AddDays(const Date& d, int64_t n);

// Signed number of days from a to b (b - a).
int64_t DaysBetween(const Date& a, const Date& b);

// The China (UTC+8) date of an instant. INVALID_ARGUMENT when unix_ms is more
// than about 10^15 ms (31,000 years) from the epoch.
StatusOr<Date> ChinaDateOf(int64_t unix_ms);

// The first (00:00:00.000) and last (23:59:59.999) millisecond of a China
// date, as Unix milliseconds. d must be valid.
int64_t StartOfChinaDay(const Date& d);
int64_t EndOfChinaDay(const Date& d);

// What a year's file says about its own authority.
enum class YearStatus {
  kOfficial,     // transcribed from the State Council's published notice
  kProvisional,  // statutory rules only; replace once the notice is published
};
std::string_view YearStatusName(YearStatus s);  // "official" / "provisional"

// One loaded year.
struct YearInfo {
  int year = 0;
  YearStatus status = YearStatus::kOfficial;
  std::string source;       // the file's `source:` (the notice it transcribes)
  std::string file;         // the source name the year was loaded from
  int holiday_count = 0;    // distinct dates listed under `holidays`
  int workday_count = 0;    // distinct dates listed under `workdays`
};

class WorkCalendar {
 public:
  // Loads every regular file named cn-YYYY.yaml in dir (other files, such as
  // README.md, are ignored). Each file's `year` must match its name. Errors
  // name the file by dir + "/" + file name.
  static StatusOr<WorkCalendar> LoadDirectory(const std::string& dir);

  // Builds a calendar from the text of one year's file; source_name is used in
  // error messages and YearInfo::file. When source_name's last path component
  // is cn-YYYY.yaml, the file's year must match it.
  static StatusOr<WorkCalendar> FromYaml(const std::string& text,
                                         const std::string& source_name);

  // An empty calendar: every date question fails with FAILED_PRECONDITION.
  WorkCalendar() = default;

  // Adds the years of other. INVALID_ARGUMENT when a year is in both.
  Status Merge(const WorkCalendar& other);

  // Whether d is a working day. INVALID_ARGUMENT for an invalid date,
  // FAILED_PRECONDITION when d's year has no file.
  StatusOr<bool> IsWorkingDay(const Date& d) const;

  // The deadline "n working days from from_unix_ms" (see the top of this
  // file): Unix ms of 23:59:59.999 UTC+8 on the n-th working day after the
  // China date of from_unix_ms. INVALID_ARGUMENT for n < 0;
  // FAILED_PRECONDITION when the count runs into a year without a file.
  StatusOr<int64_t> AddWorkingDays(int64_t from_unix_ms, int n) const;

  // The deadline "n calendar days from from_unix_ms": 23:59:59.999 UTC+8 on
  // the China date of from_unix_ms plus n days. Needs no holiday data, so it
  // works for any year. INVALID_ARGUMENT for n < 0.
  StatusOr<int64_t> AddCalendarDays(int64_t from_unix_ms, int n) const;

  // Working days in (China date of a_ms, China date of b_ms]; negative when
  // b is on an earlier date than a; 0 on the same date.
  // FAILED_PRECONDITION when the range touches a year without a file.
  StatusOr<int> WorkingDaysBetween(int64_t a_ms, int64_t b_ms) const;

  // The loaded years, ascending.
  std::vector<YearInfo> Years() const;

  // True when year is loaded.
  bool HasYear(int year) const { return years_.count(year) > 0; }

 private:
  enum class DayKind : uint8_t { kDefault, kHoliday, kWorkday };
  struct YearData {
    YearInfo info;
    std::vector<DayKind> days;  // indexed by day of year, 0-based
  };

  StatusOr<const YearData*> FindYear(int year) const;

  std::map<int, YearData> years_;
};

}  // namespace bpm::calendar
