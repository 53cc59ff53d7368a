// core/calendar: the PRC working-day calendar. The deadline tests run on the
// real shipped files in deploy/calendars (BPM_SOURCE_DIR is set by ctest);
// the bad-file tests pin the exact "file:line:col: message" of each error.
#include "core/calendar/calendar.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>

namespace bpm::calendar {
namespace {

namespace fs = std::filesystem;

// Unix ms of a China (UTC+8) wall-clock time, computed independently of the
// code under test.
int64_t ChinaMs(int y, int mo, int d, int h = 0, int mi = 0, int s = 0, int ms = 0) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms - 8 * 3600 * 1000;
}

// The deadline instant for a China date: 23:59:59.999 UTC+8.
int64_t EndOf(int y, int mo, int d) { return ChinaMs(y, mo, d, 23, 59, 59, 999); }

std::string CalendarDir() {
  const char* src = std::getenv("BPM_SOURCE_DIR");
  return std::string(src ? src : ".") + "/deploy/calendars";
}

class RealCalendarTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto loaded = WorkCalendar::LoadDirectory(CalendarDir());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    cal_ = new WorkCalendar(*std::move(loaded));
  }
  void SetUp() override { ASSERT_NE(cal_, nullptr) << "the real calendars did not load"; }
  static void TearDownTestSuite() {
    delete cal_;
    cal_ = nullptr;
  }

  static bool Working(int y, int m, int d) {
    auto w = cal_->IsWorkingDay(Date{y, m, d});
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() && *w;
  }

  static WorkCalendar* cal_;
};
WorkCalendar* RealCalendarTest::cal_ = nullptr;

TEST_F(RealCalendarTest, ShipsThreeYearsWith2027Provisional) {
  std::vector<YearInfo> years = cal_->Years();
  ASSERT_EQ(years.size(), 3u);
  EXPECT_EQ(years[0].year, 2025);
  EXPECT_EQ(years[0].status, YearStatus::kOfficial);
  EXPECT_EQ(years[0].holiday_count, 1 + 8 + 3 + 5 + 3 + 8);
  EXPECT_EQ(years[0].workday_count, 5);
  EXPECT_NE(years[0].source.find("国办发明电〔2024〕12号"), std::string::npos);
  EXPECT_EQ(years[0].file, CalendarDir() + "/cn-2025.yaml");
  EXPECT_EQ(years[1].year, 2026);
  EXPECT_EQ(years[1].status, YearStatus::kOfficial);
  EXPECT_EQ(years[1].holiday_count, 3 + 9 + 3 + 5 + 3 + 3 + 7);
  EXPECT_EQ(years[1].workday_count, 6);
  EXPECT_EQ(years[2].year, 2027);
  EXPECT_EQ(years[2].status, YearStatus::kProvisional);
  EXPECT_EQ(YearStatusName(years[2].status), "provisional");
  EXPECT_EQ(YearStatusName(years[0].status), "official");
  EXPECT_EQ(years[2].workday_count, 0);  // no invented 调休 days
  EXPECT_TRUE(cal_->HasYear(2027));
  EXPECT_FALSE(cal_->HasYear(2028));
}

TEST_F(RealCalendarTest, NationalDay2025SkipsOct1To8AndCountsSaturdayOct11) {
  EXPECT_TRUE(Working(2025, 9, 28));   // Sunday make-up day
  EXPECT_TRUE(Working(2025, 9, 30));   // Tuesday
  for (int d = 1; d <= 8; ++d) EXPECT_FALSE(Working(2025, 10, d)) << "2025-10-0" << d;
  EXPECT_TRUE(Working(2025, 10, 9));
  EXPECT_TRUE(Working(2025, 10, 11));  // Saturday make-up day
  EXPECT_FALSE(Working(2025, 10, 12));  // ordinary Sunday
  // Oct 9 (1), Oct 10 (2), Sat Oct 11 (3), Mon Oct 13 (4), Tue Oct 14 (5).
  auto due = cal_->AddWorkingDays(ChinaMs(2025, 9, 30, 10, 0), 5);
  ASSERT_TRUE(due.ok()) << due.status();
  EXPECT_EQ(*due, EndOf(2025, 10, 14));
  EXPECT_EQ(*due, 1760457599999);  // 2025-10-14T15:59:59.999Z, written out
  due = cal_->AddWorkingDays(ChinaMs(2025, 9, 30, 10, 0), 3);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(*due, EndOf(2025, 10, 11));
}

TEST_F(RealCalendarTest, MakeUpSaturdays2026) {
  EXPECT_TRUE(Working(2026, 2, 28));   // 春节调休 Saturday
  EXPECT_FALSE(Working(2026, 2, 21));  // Saturday inside 春节
  EXPECT_TRUE(Working(2026, 2, 14));   // 春节调休 Saturday
  EXPECT_FALSE(Working(2026, 3, 7));   // ordinary Saturday
  EXPECT_FALSE(Working(2026, 3, 8));   // ordinary Sunday
  EXPECT_TRUE(Working(2026, 3, 9));    // ordinary Monday
  EXPECT_TRUE(Working(2026, 5, 9));    // 劳动节调休 Saturday
  EXPECT_TRUE(Working(2026, 9, 20));   // 国庆节调休 Sunday
  EXPECT_TRUE(Working(2026, 10, 10));  // 国庆节调休 Saturday
}

TEST_F(RealCalendarTest, SpringFestival2026) {
  for (int d = 15; d <= 23; ++d) EXPECT_FALSE(Working(2026, 2, d)) << "2026-02-" << d;
  EXPECT_TRUE(Working(2026, 2, 13));
  EXPECT_TRUE(Working(2026, 2, 24));
  // From Friday Feb 13: Sat Feb 14 is the first working day, Tue Feb 24 the second.
  auto due = cal_->AddWorkingDays(ChinaMs(2026, 2, 13, 9, 30), 1);
  ASSERT_TRUE(due.ok()) << due.status();
  EXPECT_EQ(*due, EndOf(2026, 2, 14));
  due = cal_->AddWorkingDays(ChinaMs(2026, 2, 13, 9, 30), 2);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(*due, EndOf(2026, 2, 24));
  // (Feb 13, Feb 28]: Feb 14, 24, 25, 26, 27, 28.
  auto n = cal_->WorkingDaysBetween(ChinaMs(2026, 2, 13, 9), ChinaMs(2026, 2, 28, 18));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 6);
}

TEST_F(RealCalendarTest, DeadlineAcrossTheYearBoundary) {
  // Mon 2025-12-29 + 5: Dec 30 (1), Dec 31 (2), Jan 1-3 off, Sun Jan 4 make-up
  // (3), Mon Jan 5 (4), Tue Jan 6 (5).
  EXPECT_FALSE(Working(2026, 1, 1));
  EXPECT_FALSE(Working(2026, 1, 2));
  EXPECT_FALSE(Working(2026, 1, 3));
  EXPECT_TRUE(Working(2026, 1, 4));
  auto due = cal_->AddWorkingDays(ChinaMs(2025, 12, 29, 14, 0), 5);
  ASSERT_TRUE(due.ok()) << due.status();
  EXPECT_EQ(*due, EndOf(2026, 1, 6));
  EXPECT_EQ(*due, 1767715199999);  // 2026-01-06T15:59:59.999Z
  due = cal_->AddWorkingDays(ChinaMs(2025, 12, 29, 14, 0), 3);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(*due, EndOf(2026, 1, 4));
}

TEST_F(RealCalendarTest, EndOfDaySemanticsInUtcPlus8) {
  const int64_t last_ms_of_sep30 = 1759247999999;  // 2025-09-30T15:59:59.999Z
  EXPECT_EQ(ChinaMs(2025, 9, 30, 23, 59, 59, 999), last_ms_of_sep30);
  // N = 0: the end of T's own China date.
  auto due = cal_->AddWorkingDays(ChinaMs(2025, 9, 30, 0, 0), 0);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(*due, last_ms_of_sep30);
  due = cal_->AddWorkingDays(last_ms_of_sep30, 0);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(*due, last_ms_of_sep30);
  // One millisecond later it is Oct 1 in China (still Sep 30 in UTC).
  due = cal_->AddWorkingDays(last_ms_of_sep30 + 1, 0);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(*due, EndOf(2025, 10, 1));
  // The time of day of T does not matter, only its China date.
  auto early = cal_->AddWorkingDays(ChinaMs(2025, 10, 13, 0, 0), 1);
  auto late = cal_->AddWorkingDays(ChinaMs(2025, 10, 13, 23, 59, 59, 999), 1);
  ASSERT_TRUE(early.ok() && late.ok());
  EXPECT_EQ(*early, EndOf(2025, 10, 14));
  EXPECT_EQ(*late, EndOf(2025, 10, 14));
  // 07:59 on Oct 14 China time is Oct 13 in UTC: the China date counts.
  due = cal_->AddWorkingDays(ChinaMs(2025, 10, 14, 7, 59), 1);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(*due, EndOf(2025, 10, 15));

  auto d = ChinaDateOf(last_ms_of_sep30);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, (Date{2025, 9, 30}));
  d = ChinaDateOf(last_ms_of_sep30 + 1);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, (Date{2025, 10, 1}));
  EXPECT_EQ(StartOfChinaDay(Date{2025, 10, 1}), last_ms_of_sep30 + 1);
  EXPECT_EQ(EndOfChinaDay(Date{2025, 9, 30}), last_ms_of_sep30);
  d = ChinaDateOf(-1);  // 1970-01-01 07:59:59.999 China time
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, (Date{1970, 1, 1}));
  d = ChinaDateOf(-8 * 3600 * 1000 - 1);  // 1969-12-31 23:59:59.999 China time
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, (Date{1969, 12, 31}));
  EXPECT_EQ(ChinaDateOf(INT64_MAX).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RealCalendarTest, CalendarDaysIgnoreHolidays) {
  auto due = cal_->AddCalendarDays(ChinaMs(2025, 9, 30, 10, 0), 3);
  ASSERT_TRUE(due.ok()) << due.status();
  EXPECT_EQ(*due, EndOf(2025, 10, 3));
  due = cal_->AddCalendarDays(ChinaMs(2025, 9, 30, 10, 0), 0);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(*due, EndOf(2025, 9, 30));
  due = cal_->AddCalendarDays(ChinaMs(2025, 12, 30, 23, 0), 3);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(*due, EndOf(2026, 1, 2));
  due = cal_->AddCalendarDays(ChinaMs(2028, 2, 28, 8, 0), 1);  // no file needed
  ASSERT_TRUE(due.ok()) << due.status();
  EXPECT_EQ(*due, EndOf(2028, 2, 29));
  auto bad = cal_->AddCalendarDays(ChinaMs(2025, 9, 30), -1);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "calendar days must be >= 0, got -1");
  bad = cal_->AddWorkingDays(ChinaMs(2025, 9, 30), -2);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "working days must be >= 0, got -2");
}

TEST_F(RealCalendarTest, YearWithoutAFileFailsWithExactMessage) {
  auto w = cal_->IsWorkingDay(Date{2028, 1, 3});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(w.status().message(),
            "no working-day calendar for 2028: add cn-2028.yaml to the calendar directory");
  // A deadline that runs out of 2027 into 2028.
  auto due = cal_->AddWorkingDays(ChinaMs(2027, 12, 29, 12, 0), 5);
  ASSERT_FALSE(due.ok());
  EXPECT_EQ(due.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(due.status().message(),
            "no working-day calendar for 2028: add cn-2028.yaml to the calendar directory");
  // (2024-12-31, 2025-01-03] needs only 2025: Thu Jan 2 and Fri Jan 3.
  auto n = cal_->WorkingDaysBetween(ChinaMs(2024, 12, 31, 12), ChinaMs(2025, 1, 3));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);
  // (2024-12-30, 2025-01-03] includes 2024-12-31.
  n = cal_->WorkingDaysBetween(ChinaMs(2024, 12, 30), ChinaMs(2025, 1, 3));
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().message(),
            "no working-day calendar for 2024: add cn-2024.yaml to the calendar directory");
  // An invalid date is not a missing year.
  w = cal_->IsWorkingDay(Date{2026, 2, 29});
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RealCalendarTest, WorkingDaysBetweenInvertsAddWorkingDays) {
  const int64_t t = ChinaMs(2025, 9, 26, 16, 0);
  for (int n : {0, 1, 2, 5, 9, 30, 120}) {
    auto due = cal_->AddWorkingDays(t, n);
    ASSERT_TRUE(due.ok()) << due.status();
    auto back = cal_->WorkingDaysBetween(t, *due);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, n);
    back = cal_->WorkingDaysBetween(*due, t);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, -n);
  }
  // Same China date, different times: 0.
  auto same = cal_->WorkingDaysBetween(ChinaMs(2026, 3, 9, 1), ChinaMs(2026, 3, 9, 23));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, 0);
  // 2026 has 365 - 104 weekend days - holidays on weekdays + make-up days.
  auto year = cal_->WorkingDaysBetween(ChinaMs(2025, 12, 31, 12), ChinaMs(2026, 12, 31, 12));
  ASSERT_TRUE(year.ok());
  int expected = 0;
  for (Date d{2026, 1, 1}; d.year == 2026; d = AddDays(d, 1)) {
    expected += Working(d.year, d.month, d.day) ? 1 : 0;
  }
  EXPECT_EQ(*year, expected);
  // 261 weekdays; off on weekdays: 元旦 2 (Jan 1-2), 春节 6 (Feb 16-20, 23),
  // 清明 1 (Apr 6), 劳动节 3 (May 1, 4, 5), 端午 1 (Jun 19), 中秋 1 (Sep 25),
  // 国庆 5 (Oct 1, 2, 5, 6, 7); plus 6 make-up days.
  EXPECT_EQ(*year, 261 - (2 + 6 + 1 + 3 + 1 + 1 + 5) + 6);
}

// ---------------------------------------------------------------------------
// Dates.

TEST(DateTest, ParseIsStrict) {
  auto d = ParseDate("2024-02-29");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, (Date{2024, 2, 29}));
  EXPECT_EQ(FormatDate(*d), "2024-02-29");
  for (const char* bad : {"2026-1-01", "2026/01/01", "26-01-01", " 2026-01-01", "2026-01-01 ",
                          "2026-01-0x", "", "2026-001-01"}) {
    auto r = ParseDate(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(r.status().message(),
              std::string("'") + bad + "' is not a date of the form YYYY-MM-DD");
  }
  for (const char* unreal : {"2026-02-29", "2026-13-01", "2026-00-10", "2026-04-31",
                             "1900-02-29"}) {
    auto r = ParseDate(unreal);
    EXPECT_EQ(r.status().message(), std::string("'") + unreal + "' is not a real date");
  }
  EXPECT_TRUE(ParseDate("2000-02-29").ok());
}

TEST(DateTest, ArithmeticAndWeekdays) {
  EXPECT_EQ(DayOfWeek(Date{2026, 2, 28}), absl::Weekday::saturday);
  EXPECT_EQ(DayOfWeek(Date{2026, 1, 4}), absl::Weekday::sunday);
  EXPECT_EQ(DayOfWeek(Date{2025, 12, 29}), absl::Weekday::monday);
  EXPECT_TRUE(IsWeekend(Date{2025, 10, 11}));
  EXPECT_FALSE(IsWeekend(Date{2025, 10, 10}));
  EXPECT_EQ(AddDays(Date{2025, 12, 31}, 1), (Date{2026, 1, 1}));
  EXPECT_EQ(AddDays(Date{2024, 3, 1}, -1), (Date{2024, 2, 29}));
  EXPECT_EQ(DaysBetween(Date{2025, 12, 29}, Date{2026, 1, 6}), 8);
  EXPECT_TRUE((Date{2025, 12, 31}) < (Date{2026, 1, 1}));
  EXPECT_FALSE((Date{2026, 1, 1}) < (Date{2026, 1, 1}));
  EXPECT_TRUE((Date{2026, 1, 1}) <= (Date{2026, 1, 1}));
  EXPECT_TRUE((Date{2026, 2, 1}) > (Date{2026, 1, 31}));
  EXPECT_NE((Date{2026, 2, 1}), (Date{2026, 1, 1}));
  EXPECT_FALSE(IsValidDate(Date{2026, 2, 29}));
  EXPECT_TRUE(IsValidDate(Date{2028, 2, 29}));
}

// ---------------------------------------------------------------------------
// Bad files: each error with its exact file:line:col (1-based).

std::string LoadError(const std::string& text, const std::string& source = "cn-2026.yaml") {
  auto cal = WorkCalendar::FromYaml(text, source);
  if (cal.ok()) return "(loaded)";
  EXPECT_EQ(cal.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(cal.status().message());
}

TEST(BadFileTest, UnknownTopLevelKey) {
  EXPECT_EQ(LoadError("year: 2026\n"
                      "source: test\n"
                      "status: official\n"
                      "holiday:\n"
                      "  - { date: 2026-01-01, name: 元旦 }\n"
                      "holidays: []\n"
                      "workdays: []\n"),
            "cn-2026.yaml:4:1: calendar: unknown key 'holiday' (expected one of: year, source, "
            "status, holidays, workdays)");
}

TEST(BadFileTest, UnknownEntryKeyAndMissingName) {
  EXPECT_EQ(LoadError("year: 2026\n"
                      "source: test\n"
                      "status: official\n"
                      "holidays:\n"
                      "  - { date: 2026-01-01, nam: 元旦 }\n"
                      "workdays: []\n"),
            "cn-2026.yaml:5:25: holidays: unknown key 'nam' (expected one of: date, from, to, "
            "name)\n"
            "cn-2026.yaml:5:5: holidays: entry has no name");
}

TEST(BadFileTest, DateOutsideTheFilesYear) {
  EXPECT_EQ(LoadError("year: 2026\n"
                      "source: test\n"
                      "status: official\n"
                      "holidays:\n"
                      "  - { date: 2025-12-31, name: 除夕 }\n"
                      "workdays: []\n"),
            "cn-2026.yaml:5:13: date 2025-12-31 is outside the file's year 2026");
  EXPECT_EQ(LoadError("year: 2026\n"
                      "source: test\n"
                      "status: official\n"
                      "holidays:\n"
                      "  - { from: 2026-12-31, to: 2027-01-01, name: 元旦 }\n"
                      "workdays: []\n"),
            "cn-2026.yaml:5:29: to 2027-01-01 is outside the file's year 2026");
}

TEST(BadFileTest, DateBothHolidayAndWorkday) {
  EXPECT_EQ(LoadError("year: 2026\n"
                      "source: test\n"
                      "status: official\n"
                      "holidays:\n"
                      "  - { from: 2026-01-01, to: 2026-01-04, name: 元旦 }\n"
                      "workdays:\n"
                      "  - { date: 2026-01-04, name: 元旦调休 }\n"),
            "cn-2026.yaml:7:13: 2026-01-04 is listed both under holidays (line 5) and under "
            "workdays");
  // The later list is the one reported, whichever comes first in the file.
  EXPECT_EQ(LoadError("year: 2026\n"
                      "source: test\n"
                      "status: official\n"
                      "workdays:\n"
                      "  - { date: 2026-01-04, name: 元旦调休 }\n"
                      "holidays:\n"
                      "  - { date: 2026-01-04, name: 元旦 }\n"),
            "cn-2026.yaml:7:13: 2026-01-04 is listed both under workdays (line 5) and under "
            "holidays");
}

TEST(BadFileTest, WorkdayThatIsNotAWeekendDay) {
  EXPECT_EQ(LoadError("year: 2026\n"
                      "source: test\n"
                      "status: official\n"
                      "holidays: []\n"
                      "workdays:\n"
                      "  - { date: 2026-01-04, name: ok }\n"
                      "  - { date: 2026-01-05, name: 调休 }\n"),
            "cn-2026.yaml:7:13: workday 2026-01-05 is a Monday: only a Saturday or Sunday can "
            "be a make-up working day");
}

TEST(BadFileTest, WeekendHolidayIsAllowed) {
  auto cal = WorkCalendar::FromYaml("year: 2026\n"
                                    "source: test\n"
                                    "status: official\n"
                                    "holidays:\n"
                                    "  - { date: 2026-01-04, name: a Sunday }\n"
                                    "  - { date: 2026-01-05, name: a Monday }\n"
                                    "workdays: []\n",
                                    "cn-2026.yaml");
  ASSERT_TRUE(cal.ok()) << cal.status();
  EXPECT_FALSE(*cal->IsWorkingDay(Date{2026, 1, 4}));
  EXPECT_FALSE(*cal->IsWorkingDay(Date{2026, 1, 5}));
  EXPECT_TRUE(*cal->IsWorkingDay(Date{2026, 1, 6}));
  EXPECT_FALSE(*cal->IsWorkingDay(Date{2026, 1, 10}));
}

TEST(BadFileTest, DuplicateEntries) {
  EXPECT_EQ(LoadError("year: 2026\n"
                      "source: test\n"
                      "status: official\n"
                      "holidays:\n"
                      "  - { date: 2026-10-01, name: 国庆节 }\n"
                      "  - { from: 2026-09-30, to: 2026-10-02, name: 国庆节 }\n"
                      "workdays: []\n"),
            "cn-2026.yaml:6:13: duplicate date: 2026-10-01 is already listed under holidays "
            "at line 5");
  EXPECT_EQ(LoadError("year: 2026\n"
                      "source: test\n"
                      "status: official\n"
                      "holidays: []\n"
                      "workdays:\n"
                      "  - { date: 2026-02-14, name: a }\n"
                      "  - { date: 2026-02-28, name: b }\n"
                      "  - { date: 2026-02-14, name: c }\n"),
            "cn-2026.yaml:8:13: duplicate date: 2026-02-14 is already listed under workdays "
            "at line 6");
  EXPECT_EQ(LoadError("year: 2026\n"
                      "source: test\n"
                      "status: official\n"
                      "year: 2026\n"
                      "holidays: []\n"
                      "workdays: []\n"),
            "cn-2026.yaml:4:1: calendar: duplicate key 'year' (first at line 1)");
}

TEST(BadFileTest, MalformedDates) {
  EXPECT_EQ(LoadError("year: 2026\n"
                      "source: test\n"
                      "status: official\n"
                      "holidays:\n"
                      "  - { date: 2026-1-01, name: 元旦 }\n"
                      "  - { date: 2026-02-30, name: x }\n"
                      "  - { date: [2026-03-01], name: y }\n"
                      "  - { from: 2026-05-05, to: 2026-05-01, name: z }\n"
                      "  - { date: 2026-06-01, to: 2026-06-02, name: w }\n"
                      "  - 2026-07-01\n"
                      "workdays: []\n"),
            "cn-2026.yaml:5:13: date: '2026-1-01' is not a date of the form YYYY-MM-DD\n"
            "cn-2026.yaml:6:13: date: '2026-02-30' is not a real date\n"
            "cn-2026.yaml:7:13: date must be a YYYY-MM-DD date, not a list\n"
            "cn-2026.yaml:8:29: to 2026-05-01 is before from 2026-05-05\n"
            "cn-2026.yaml:9:5: holidays: an entry needs either 'date' or both 'from' and 'to'\n"
            "cn-2026.yaml:10:5: holidays: each entry must be a mapping such as "
            "{ date: YYYY-MM-DD, name: ... } or { from: YYYY-MM-DD, to: YYYY-MM-DD, name: ... }, "
            "not a scalar");
}

TEST(BadFileTest, HeaderProblems) {
  // The year must match the file name.
  EXPECT_EQ(LoadError("year: 2026\nsource: test\nstatus: official\nholidays: []\nworkdays: []\n",
                      "/etc/bpm/calendars/cn-2025.yaml"),
            "/etc/bpm/calendars/cn-2025.yaml:1:7: year 2026 does not match the file name "
            "cn-2025.yaml");
  EXPECT_EQ(LoadError("# comment\nyear: 26\nsource: test\nstatus: draft\nholidays: []\n"
                      "workdays: []\n"),
            "cn-2026.yaml:2:7: year must be a four-digit year such as 2026\n"
            "cn-2026.yaml:4:9: status must be 'official' or 'provisional'");
  EXPECT_EQ(LoadError("year: 2026\nsource: test\nstatus: official\nholidays: []\n"),
            "cn-2026.yaml:1:1: calendar: missing key 'workdays' (write [] for none)");
  EXPECT_EQ(LoadError("year: 2026\nsource:\nstatus: official\nholidays: {}\nworkdays: []\n"),
            "cn-2026.yaml:2:1: source must be a non-empty string, not empty\n"
            "cn-2026.yaml:4:11: holidays must be a list (write [] for none), not a mapping");
  // An empty value is reported at its key, not at the next line's token.
  EXPECT_EQ(LoadError("year: 2026\nsource: test\nstatus: official\nholidays: []\nworkdays:\n"
                      "# end\n"),
            "cn-2026.yaml:5:1: workdays must be a list (write [] for none), not empty");
  EXPECT_EQ(LoadError(""),
            "cn-2026.yaml:1:1: a calendar file must be a mapping with keys year, source, "
            "status, holidays, workdays, not empty");
}

TEST(BadFileTest, YamlSyntaxError) {
  EXPECT_EQ(LoadError("year: 2026\n"
                      "source: test\n"
                      "status: official\n"
                      "holidays: [ { date: 2026-01-01, name: x }\n"
                      "workdays: []\n"),
            "cn-2026.yaml:5:1: end of sequence flow not found");
}

// ---------------------------------------------------------------------------
// Directories.

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "bpm-calendar-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ + "/" + name) << text;
  }

 private:
  std::string path_;
};

constexpr char k2028[] =
    "year: 2028\n"
    "source: test\n"
    "status: provisional\n"
    "holidays:\n"
    "  - { date: 2028-01-03, name: x }\n"
    "workdays: []\n";

TEST(LoadDirectoryTest, LoadsOnlyCnYearFiles) {
  TempDir dir;
  dir.Write("cn-2028.yaml", k2028);
  dir.Write("README.md", "not yaml: [");
  dir.Write("cn-2029.yaml.bak", "not yaml: [");
  dir.Write("cn-29.yaml", "not yaml: [");
  fs::create_directory(dir.path() + "/cn-2030.yaml");  // not a regular file
  auto cal = WorkCalendar::LoadDirectory(dir.path());
  ASSERT_TRUE(cal.ok()) << cal.status();
  std::vector<YearInfo> years = cal->Years();
  ASSERT_EQ(years.size(), 1u);
  EXPECT_EQ(years[0].year, 2028);
  EXPECT_EQ(years[0].status, YearStatus::kProvisional);
  EXPECT_FALSE(*cal->IsWorkingDay(Date{2028, 1, 3}));
  EXPECT_TRUE(*cal->IsWorkingDay(Date{2028, 1, 4}));
  EXPECT_EQ(cal->IsWorkingDay(Date{2029, 1, 4}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(LoadDirectoryTest, ReportsEveryBadFileWithItsPath) {
  TempDir dir;
  dir.Write("cn-2028.yaml", k2028);
  dir.Write("cn-2029.yaml", "year: 2028\nsource: test\nstatus: official\nholidays: []\n"
                            "workdays: []\n");
  dir.Write("cn-2031.yaml", "year: 2031\nsource: test\nstatus: official\nholidays: []\n"
                            "workdays:\n  - { date: 2031-01-06, name: x }\n");
  auto cal = WorkCalendar::LoadDirectory(dir.path());
  ASSERT_FALSE(cal.ok());
  EXPECT_EQ(cal.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cal.status().message(),
            dir.path() + "/cn-2029.yaml:1:7: year 2028 does not match the file name "
                         "cn-2029.yaml\n" +
                dir.path() + "/cn-2031.yaml:6:13: workday 2031-01-06 is a Monday: only a "
                             "Saturday or Sunday can be a make-up working day");
}

TEST(LoadDirectoryTest, MissingOrEmptyDirectory) {
  TempDir dir;
  auto cal = WorkCalendar::LoadDirectory(dir.path());
  EXPECT_EQ(cal.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cal.status().message(),
            "calendar directory " + dir.path() + " holds no cn-YYYY.yaml file");
  cal = WorkCalendar::LoadDirectory(dir.path() + "/nope");
  EXPECT_EQ(cal.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cal.status().message(), "calendar directory " + dir.path() +
                                        "/nope does not exist or is not a directory");
}

TEST(LoadDirectoryTest, MergeRejectsTheSameYearTwice) {
  auto a = WorkCalendar::FromYaml(k2028, "a/cn-2028.yaml");
  auto b = WorkCalendar::FromYaml(k2028, "b/cn-2028.yaml");
  ASSERT_TRUE(a.ok() && b.ok());
  Status merged = a->Merge(*b);
  EXPECT_EQ(merged.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(merged.message(), "two calendars for 2028: a/cn-2028.yaml and b/cn-2028.yaml");
  WorkCalendar empty;
  EXPECT_EQ(empty.IsWorkingDay(Date{2028, 1, 4}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(empty.Merge(*a).ok());
  EXPECT_TRUE(*empty.IsWorkingDay(Date{2028, 1, 4}));
}

}  // namespace
}  // namespace bpm::calendar
