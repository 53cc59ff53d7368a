// The PRC working-day calendar. yaml-cpp throws; every call into it is inside
// ParseYear and its exceptions become "file:line:col: message" errors.
#include "core/calendar/calendar.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/common/util.h"

namespace bpm::calendar {
namespace {

constexpr int64_t kMsPerDay = 86'400'000;
constexpr int64_t kChinaOffsetMs = 8 * 3'600'000;  // UTC+8, no DST
// About 31,700 years either side of the epoch: far beyond any deadline, far
// from int64 overflow.
constexpr int64_t kMaxAbsUnixMs = 1'000'000'000'000'000;

const absl::CivilDay kEpochDay(1970, 1, 1);

absl::CivilDay ToCivil(const Date& d) { return absl::CivilDay(d.year, d.month, d.day); }

Date FromCivil(const absl::CivilDay& c) {
  return Date{static_cast<int>(c.year()), c.month(), c.day()};
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

const char* WeekdayName(absl::Weekday w) {
  switch (w) {
    case absl::Weekday::monday: return "Monday";
    case absl::Weekday::tuesday: return "Tuesday";
    case absl::Weekday::wednesday: return "Wednesday";
    case absl::Weekday::thursday: return "Thursday";
    case absl::Weekday::friday: return "Friday";
    case absl::Weekday::saturday: return "Saturday";
    case absl::Weekday::sunday: return "Sunday";
  }
  return "?";
}

// The year named by a file name "cn-YYYY.yaml" (last path component), if any.
std::optional<int> YearFromFileName(std::string_view path) {
  size_t slash = path.find_last_of('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (name.size() != 12 || name.substr(0, 3) != "cn-" || name.substr(7) != ".yaml") {
    return std::nullopt;
  }
  int year = 0;
  for (char c : name.substr(3, 4)) {
    if (c < '0' || c > '9') return std::nullopt;
    year = year * 10 + (c - '0');
  }
  return year;
}

struct Position {
  int line = 1;  // 1-based
  int column = 1;
};

Position PosOf(const YAML::Mark& m) {
  if (m.is_null()) return {};
  return {m.line + 1, m.column + 1};
}
Position PosOf(const YAML::Node& n) { return PosOf(n.Mark()); }

const char* TypeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "empty";
    default: return "undefined";
  }
}

// Parses one year's file. All problems are collected; the result is
// INVALID_ARGUMENT with one "source:line:col: message" per line.
class YearParser {
 public:
  enum class Kind { kHoliday, kWorkday };

  YearParser(std::string source, std::optional<int> expected_year)
      : source_(std::move(source)), expected_year_(expected_year) {}

  // Fills *info and the distinct listed dates; the status carries every problem.
  Status Parse(const std::string& text, YearInfo* info, std::vector<Date>* holidays,
               std::vector<Date>* workdays) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
      Error(PosOf(e.mark), e.msg);
      return Result();
    } catch (const YAML::Exception& e) {
      Error(PosOf(e.mark), e.msg);
      return Result();
    }
    try {
      ParseRoot(root, info);
    } catch (const YAML::Exception& e) {  // should not happen: shapes are checked first
      Error(PosOf(e.mark), e.msg);
    }
    for (const auto& [date, entry] : entries_) {
      (entry.kind == Kind::kHoliday ? holidays : workdays)->push_back(date);
    }
    return Result();
  }

 private:
  struct Entry {
    Kind kind;
    Position pos;
  };

  void Error(Position pos, std::string message) {
    errors_.push_back(absl::StrCat(source_, ":", pos.line, ":", pos.column, ": ", message));
  }
  void Error(const YAML::Node& n, std::string message) { Error(PosOf(n), std::move(message)); }

  Status Result() const {
    if (errors_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrJoin(errors_, "\n"));
  }

  // A key and its value. Errors about the value point at the value, or at the
  // key when the value is empty (yaml-cpp marks an empty value at the next
  // token, often on the next line).
  struct Field {
    YAML::Node key;
    YAML::Node value;
    Position pos() const { return value.IsNull() ? PosOf(key) : PosOf(value); }
  };

  // Iterates a mapping in document order, reporting non-scalar, duplicate and
  // unknown keys; returns the first occurrence of each allowed key.
  std::vector<std::pair<std::string, Field>> Keys(const YAML::Node& map, const std::string& where,
                                                  const std::vector<std::string>& allowed) {
    std::vector<std::pair<std::string, Field>> out;
    std::map<std::string, Position> seen;
    for (const auto& kv : map) {
      const YAML::Node& k = kv.first;
      if (!k.IsScalar()) {
        Error(k, absl::StrCat(where, ": keys must be plain names, not ", TypeName(k)));
        continue;
      }
      const std::string key = k.Scalar();
      auto [prev, inserted] = seen.emplace(key, PosOf(k));
      if (!inserted) {
        Error(k, absl::StrCat(where, ": duplicate key '", key, "' (first at line ",
                              prev->second.line, ")"));
        continue;
      }
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        Error(k, absl::StrCat(where, ": unknown key '", key, "' (expected one of: ",
                              absl::StrJoin(allowed, ", "), ")"));
        continue;
      }
      out.push_back({key, Field{k, kv.second}});
    }
    return out;
  }

  std::optional<std::string> NonEmptyScalar(const Field& f, const std::string& what) {
    if (!f.value.IsScalar() || f.value.Scalar().empty()) {
      Error(f.pos(), absl::StrCat(what, " must be a non-empty string, not ", TypeName(f.value)));
      return std::nullopt;
    }
    return f.value.Scalar();
  }

  void ParseRoot(const YAML::Node& root, YearInfo* info) {
    if (!root.IsMap()) {
      Error(root, absl::StrCat("a calendar file must be a mapping with keys year, source, "
                               "status, holidays, workdays, not ",
                               TypeName(root)));
      return;
    }
    static const std::vector<std::string> kTopKeys = {"year", "source", "status", "holidays",
                                                      "workdays"};
    const auto keys = Keys(root, "calendar", kTopKeys);
    auto find = [&](const std::string& key) -> const Field* {
      for (const auto& [k, field] : keys) {
        if (k == key) return &field;
      }
      return nullptr;
    };
    for (const std::string& key : kTopKeys) {
      if (find(key) == nullptr) {
        Error(root, absl::StrCat("calendar: missing key '", key, "'",
                                 key == "workdays" || key == "holidays" ? " (write [] for none)"
                                                                        : ""));
      }
    }

    bool year_ok = false;
    if (const Field* y = find("year")) {
      const std::string s = y->value.IsScalar() ? y->value.Scalar() : "";
      if (s.size() != 4 || s.find_first_not_of("0123456789") != std::string::npos) {
        Error(y->pos(), "year must be a four-digit year such as 2026");
      } else {
        info->year = std::atoi(s.c_str());
        if (expected_year_ && *expected_year_ != info->year) {
          Error(y->pos(), absl::StrCat("year ", info->year, " does not match the file name cn-",
                                       *expected_year_, ".yaml"));
        } else {
          year_ok = true;
        }
      }
    }
    if (const Field* f = find("source")) {
      if (auto v = NonEmptyScalar(*f, "source")) info->source = *v;
    }
    if (const Field* f = find("status")) {
      const std::string s = f->value.IsScalar() ? f->value.Scalar() : "";
      if (s == "official") {
        info->status = YearStatus::kOfficial;
      } else if (s == "provisional") {
        info->status = YearStatus::kProvisional;
      } else {
        Error(f->pos(), "status must be 'official' or 'provisional'");
      }
    }
    if (!year_ok) return;  // dates cannot be checked against an unknown year
    for (const auto& [key, field] : keys) {  // document order: later entries are the duplicates
      if (key == "holidays") ParseList(field, key, Kind::kHoliday, info->year);
      if (key == "workdays") ParseList(field, key, Kind::kWorkday, info->year);
    }
  }

  std::optional<Date> DateValue(const Field& f, const std::string& what, int year) {
    if (!f.value.IsScalar()) {
      Error(f.pos(), absl::StrCat(what, " must be a YYYY-MM-DD date, not ", TypeName(f.value)));
      return std::nullopt;
    }
    StatusOr<Date> d = ParseDate(f.value.Scalar());
    if (!d.ok()) {
      Error(f.pos(), absl::StrCat(what, ": ", d.status().message()));
      return std::nullopt;
    }
    if (d->year != year) {
      Error(f.pos(),
            absl::StrCat(what, " ", f.value.Scalar(), " is outside the file's year ", year));
      return std::nullopt;
    }
    return *d;
  }

  void ParseList(const Field& list, const std::string& key, Kind kind, int year) {
    if (!list.value.IsSequence()) {
      Error(list.pos(), absl::StrCat(key, " must be a list (write [] for none), not ",
                                     TypeName(list.value)));
      return;
    }
    static const std::vector<std::string> kEntryKeys = {"date", "from", "to", "name"};
    for (const YAML::Node& item : list.value) {
      if (!item.IsMap()) {
        Error(item, absl::StrCat(key, ": each entry must be a mapping such as "
                                      "{ date: YYYY-MM-DD, name: ... } or "
                                      "{ from: YYYY-MM-DD, to: YYYY-MM-DD, name: ... }, not ",
                                 TypeName(item)));
        continue;
      }
      std::optional<Field> date, from, to, name;
      for (const auto& [k, field] : Keys(item, key, kEntryKeys)) {
        if (k == "date") date = field;
        if (k == "from") from = field;
        if (k == "to") to = field;
        if (k == "name") name = field;
      }
      if (!name) {
        Error(item, absl::StrCat(key, ": entry has no name"));
      } else {
        NonEmptyScalar(*name, "name");
      }
      Date first, last;
      Position at;  // where errors about the entry's dates point
      if (date && !from && !to) {
        auto d = DateValue(*date, "date", year);
        if (!d) continue;
        first = last = *d;
        at = date->pos();
      } else if (from && to && !date) {
        auto f = DateValue(*from, "from", year);
        auto t = DateValue(*to, "to", year);
        if (!f || !t) continue;
        if (*t < *f) {
          Error(to->pos(),
                absl::StrCat("to ", FormatDate(*t), " is before from ", FormatDate(*f)));
          continue;
        }
        first = *f;
        last = *t;
        at = from->pos();
      } else {
        Error(item, absl::StrCat(key, ": an entry needs either 'date' or both 'from' and 'to'"));
        continue;
      }
      AddDates(first, last, kind, at);
    }
  }

  // Records first..last; reports only the first problem of an entry.
  void AddDates(const Date& first, const Date& last, Kind kind, Position at) {
    const char* const list_name = kind == Kind::kHoliday ? "holidays" : "workdays";
    for (Date d = first; d <= last; d = AddDays(d, 1)) {
      if (kind == Kind::kWorkday && !IsWeekend(d)) {
        Error(at, absl::StrCat("workday ", FormatDate(d), " is a ", WeekdayName(DayOfWeek(d)),
                               ": only a Saturday or Sunday can be a make-up working day"));
        return;
      }
      auto it = entries_.find(d);
      if (it != entries_.end()) {
        if (it->second.kind == kind) {
          Error(at, absl::StrCat("duplicate date: ", FormatDate(d), " is already listed under ",
                                 list_name, " at line ", it->second.pos.line));
        } else {
          Error(at, absl::StrCat(FormatDate(d), " is listed both under ",
                                 it->second.kind == Kind::kHoliday ? "holidays" : "workdays",
                                 " (line ", it->second.pos.line, ") and under ", list_name));
        }
        return;
      }
    }
    for (Date d = first; d <= last; d = AddDays(d, 1)) {
      entries_.emplace(d, Entry{kind, at});
    }
  }

  std::string source_;
  std::optional<int> expected_year_;
  std::vector<std::string> errors_;
  std::map<Date, Entry> entries_;
};

}  // namespace

bool operator==(const Date& a, const Date& b) {
  return a.year == b.year && a.month == b.month && a.day == b.day;
}
bool operator!=(const Date& a, const Date& b) { return !(a == b); }
bool operator<(const Date& a, const Date& b) {
  if (a.year != b.year) return a.year < b.year;
  if (a.month != b.month) return a.month < b.month;
  return a.day < b.day;
}
bool operator<=(const Date& a, const Date& b) { return !(b < a); }
bool operator>(const Date& a, const Date& b) { return b < a; }
bool operator>=(const Date& a, const Date& b) { return !(a < b); }

bool IsValidDate(const Date& d) {
  return d.month >= 1 && d.month <= 12 && d.day >= 1 && d.day <= DaysInMonth(d.year, d.month);
}

StatusOr<Date> ParseDate(std::string_view text_view) {
  // Debian's Abseil has its own string_view, which StrCat does not take from std.
  const std::string text(text_view);
  auto malformed = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a date of the form YYYY-MM-DD"));
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return malformed();
  int fields[3] = {0, 0, 0};
  const std::pair<size_t, size_t> spans[3] = {{0, 4}, {5, 2}, {8, 2}};
  for (int i = 0; i < 3; ++i) {
    for (size_t j = spans[i].first; j < spans[i].first + spans[i].second; ++j) {
      if (text[j] < '0' || text[j] > '9') return malformed();
      fields[i] = fields[i] * 10 + (text[j] - '0');
    }
  }
  Date d{fields[0], fields[1], fields[2]};
  if (!IsValidDate(d)) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a real date"));
  }
  return d;
}

std::string FormatDate(const Date& d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year, d.month, d.day);
  return buf;
}

absl::Weekday DayOfWeek(const Date& d) { return absl::GetWeekday(ToCivil(d)); }

bool IsWeekend(const Date& d) {
  absl::Weekday w = DayOfWeek(d);
  return w == absl::Weekday::saturday || w == absl::Weekday::sunday;
}

Date AddDays(const Date& d, int64_t n) { return FromCivil(ToCivil(d) + n); }

int64_t DaysBetween(const Date& a, const Date& b) { return ToCivil(b) - ToCivil(a); }

StatusOr<Date> ChinaDateOf(int64_t unix_ms) {
  if (unix_ms > kMaxAbsUnixMs || unix_ms < -kMaxAbsUnixMs) {
    return absl::InvalidArgumentError(absl::StrCat("timestamp ", unix_ms, " ms is out of range"));
  }
  int64_t local = unix_ms + kChinaOffsetMs;
  int64_t days = local / kMsPerDay;
  if (local % kMsPerDay < 0) --days;  // floor for instants before the epoch
  return FromCivil(kEpochDay + days);
}

int64_t StartOfChinaDay(const Date& d) {
  return (ToCivil(d) - kEpochDay) * kMsPerDay - kChinaOffsetMs;
}

int64_t EndOfChinaDay(const Date& d) { return StartOfChinaDay(d) + kMsPerDay - 1; }

std::string_view YearStatusName(YearStatus s) {
  return s == YearStatus::kProvisional ? "provisional" : "official";
}

StatusOr<WorkCalendar> WorkCalendar::FromYaml(const std::string& text,
                                              const std::string& source_name) {
  YearData data;
  std::vector<Date> holidays, workdays;
  YearParser parser(source_name, YearFromFileName(source_name));
  BPM_RETURN_IF_ERROR(parser.Parse(text, &data.info, &holidays, &workdays));
  const Date jan1{data.info.year, 1, 1};
  data.info.file = source_name;
  data.info.holiday_count = static_cast<int>(holidays.size());
  data.info.workday_count = static_cast<int>(workdays.size());
  data.days.assign(IsLeap(data.info.year) ? 366 : 365, DayKind::kDefault);
  for (const Date& d : holidays) data.days[DaysBetween(jan1, d)] = DayKind::kHoliday;
  for (const Date& d : workdays) data.days[DaysBetween(jan1, d)] = DayKind::kWorkday;
  WorkCalendar cal;
  cal.years_.emplace(data.info.year, std::move(data));
  return cal;
}

StatusOr<WorkCalendar> WorkCalendar::LoadDirectory(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(
        absl::StrCat("calendar directory ", dir, " does not exist or is not a directory"));
  }
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (YearFromFileName(name) && it->is_regular_file(ec)) names.push_back(name);
  }
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot list calendar directory ", dir, ": ",
                                            ec.message()));
  }
  if (names.empty()) {
    return absl::NotFoundError(absl::StrCat("calendar directory ", dir,
                                            " holds no cn-YYYY.yaml file"));
  }
  std::sort(names.begin(), names.end());
  WorkCalendar cal;
  std::vector<std::string> errors;
  for (const std::string& name : names) {
    const std::string path = absl::StrCat(dir, "/", name);
    BPM_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
    StatusOr<WorkCalendar> one = FromYaml(text, path);
    if (!one.ok()) {
      errors.emplace_back(one.status().message());
      continue;
    }
    BPM_RETURN_IF_ERROR(cal.Merge(*one));  // cannot fail: one file per year name
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  return cal;
}

Status WorkCalendar::Merge(const WorkCalendar& other) {
  for (const auto& [year, data] : other.years_) {
    if (auto it = years_.find(year); it != years_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("two calendars for ", year, ": ",
                                                     it->second.info.file, " and ",
                                                     data.info.file));
    }
  }
  for (const auto& [year, data] : other.years_) years_.emplace(year, data);
  return absl::OkStatus();
}

StatusOr<const WorkCalendar::YearData*> WorkCalendar::FindYear(int year) const {
  auto it = years_.find(year);
  if (it == years_.end()) {
    return absl::FailedPreconditionError(absl::StrCat("no working-day calendar for ", year,
                                                      ": add cn-", year,
                                                      ".yaml to the calendar directory"));
  }
  return &it->second;
}

StatusOr<bool> WorkCalendar::IsWorkingDay(const Date& d) const {
  if (!IsValidDate(d)) {
    return absl::InvalidArgumentError(absl::StrCat("'", FormatDate(d), "' is not a real date"));
  }
  BPM_ASSIGN_OR_RETURN(const YearData* year, FindYear(d.year));
  switch (year->days[DaysBetween(Date{d.year, 1, 1}, d)]) {
    case DayKind::kHoliday: return false;
    case DayKind::kWorkday: return true;
    case DayKind::kDefault: break;
  }
  return !IsWeekend(d);
}

StatusOr<int64_t> WorkCalendar::AddWorkingDays(int64_t from_unix_ms, int n) const {
  if (n < 0) {
    return absl::InvalidArgumentError(absl::StrCat("working days must be >= 0, got ", n));
  }
  BPM_ASSIGN_OR_RETURN(Date d, ChinaDateOf(from_unix_ms));
  for (int counted = 0; counted < n;) {
    d = AddDays(d, 1);
    BPM_ASSIGN_OR_RETURN(bool working, IsWorkingDay(d));
    if (working) ++counted;
  }
  return EndOfChinaDay(d);
}

StatusOr<int64_t> WorkCalendar::AddCalendarDays(int64_t from_unix_ms, int n) const {
  if (n < 0) {
    return absl::InvalidArgumentError(absl::StrCat("calendar days must be >= 0, got ", n));
  }
  BPM_ASSIGN_OR_RETURN(Date d, ChinaDateOf(from_unix_ms));
  return EndOfChinaDay(AddDays(d, n));
}

StatusOr<int> WorkCalendar::WorkingDaysBetween(int64_t a_ms, int64_t b_ms) const {
  BPM_ASSIGN_OR_RETURN(Date a, ChinaDateOf(a_ms));
  BPM_ASSIGN_OR_RETURN(Date b, ChinaDateOf(b_ms));
  const int sign = b < a ? -1 : 1;
  if (b < a) std::swap(a, b);
  int64_t count = 0;
  for (Date d = AddDays(a, 1); d <= b; d = AddDays(d, 1)) {
    BPM_ASSIGN_OR_RETURN(bool working, IsWorkingDay(d));
    if (working) ++count;
  }
  return sign * static_cast<int>(count);
}

std::vector<YearInfo> WorkCalendar::Years() const {
  std::vector<YearInfo> out;
  out.reserve(years_.size());
  for (const auto& [year, data] : years_) out.push_back(data.info);
  return out;
}

}  // namespace bpm::calendar
