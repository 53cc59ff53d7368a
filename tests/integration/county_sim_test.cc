// The county-year simulation at a small size (SQLite, or MariaDB as
// county_sim_mysql): examples/county_sim runs a generated county's year —
// targets, two monitoring rounds, self-evaluation with spot checks, key
// evaluations by the example agency processes, rectification, disclosure —
// through a real bpmd, and the report it prints agrees with what the
// ReportService counts and with what the generator made.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ctime>
#include <regex>
#include <set>
#include <string>

#include "bpm/v1/perf.grpc.pb.h"
#include "tests/support/bpmctl_runner.h"
#include "tests/support/test_env.h"

namespace bpm {
namespace {

namespace v1 = ::bpm::v1;
using ::testing::HasSubstr;

TEST(CountySimTest, ASmallCountyYearRunsThroughTheApi) {
  testing::TempDir dir;
  // The simulation moves bpmd's clock through the year (--clock-file).
  const std::string clock = dir.path() + "/clock";
  testing::BpmdProcess bpmd(
      testing::FreshStoreUrl(dir.path(), "county_sim"),
      std::vector<std::string>{"--calendars=" + testing::SourceDir() + "/deploy/calendars",
                               "--test-clock-file=" + clock});
  ASSERT_TRUE(bpmd.Start());
  const std::string csv = dir.path() + "/report.csv";
  const std::string xlsx = dir.path() + "/report.xlsx";
  testing::Result r = testing::RunProgram(
      "county_sim",
      {"--server", bpmd.address(), "--departments", "3", "--key-evaluations", "2", "--clients", "4",
       "--csv", csv, "--xlsx", xlsx, "--clock-file", clock},
      {}, "", 300);
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);

  // What the generator made: "county_sim: 3 departments, N units, M targets".
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex(R"(3 departments, (\d+) units, (\d+) targets)")))
      << r.err;
  const int targets = std::stoi(m[2]);
  EXPECT_GT(targets, 3 * 2 * 6);  // at least 2 units of 6 projects per department
  // Mid-year adjustments of targets, and 部门评价 (one department in fifteen).
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex(R"(\[target adjustments\] (\d+)/\d+ in)")))
      << r.err;
  const int adjustments = std::stoi(m[1]);
  EXPECT_GE(adjustments, 2);
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex(R"(\[department evaluations \(部门评价\)\] 1/1 in)")))
      << r.err;
  EXPECT_THAT(r.err, ::testing::ContainsRegex(R"(\[ex-ante \(next year\)\] [0-9]+/[0-9]+ in)"));

  // The engine's own count, asked directly.
  auto reports = v1::ReportService::NewStub(bpmd.channel());
  v1::GetReportRequest req;
  req.set_region("990101000");
  // The simulated year is this year, China time; its next year's filings
  // count in the next (below).
  std::time_t china = std::time(nullptr) + 8 * 3600;
  std::tm tm{};
  gmtime_r(&china, &tm);
  const int year = tm.tm_year + 1900;
  req.set_year(year);
  v1::GetReportResponse report;
  grpc::Status s = reports->Get(testing::Context("zhao", "performance_section", "sim-czj-jx").get(),
                                req, &report);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(report.rows_size(), 3);  // one per department
  ASSERT_EQ(report.totals_size(), 1);
  const v1::ReportRow& t = report.totals(0);
  EXPECT_EQ(t.targets_started(), targets);
  EXPECT_EQ(t.targets_filed(), targets);
  EXPECT_EQ(t.targets_reviewed(), targets);
  EXPECT_EQ(t.targets_adjusted(), adjustments);  // every simulated adjustment was approved
  ASSERT_EQ(t.rounds_size(), 2) << t.DebugString();  // July and the October follow-up
  const v1::MonitoringRound& july = t.rounds(0);
  const v1::MonitoringRound& october = t.rounds(1);
  EXPECT_EQ(july.month(), 7);
  EXPECT_EQ(october.month(), 10);
  EXPECT_GT(july.monitored(), 0);
  EXPECT_LT(july.monitored(), targets);
  EXPECT_LE(july.in_scope(), july.monitored());
  EXPECT_LE(july.budget_red() + july.budget_yellow(), july.in_scope());
  // Every warned project, and only those, reported again in October.
  EXPECT_EQ(october.monitored(), july.red() + july.yellow());
  // Every warning answered; one in eight after its 10 working days.
  EXPECT_EQ(july.warnings(), july.red() + july.yellow());
  EXPECT_EQ(july.warnings_explained(), july.warnings());
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex(R"(\[warning responses, late\] ([0-9]+)/[0-9]+ in)")))
      << r.err;
  EXPECT_EQ(july.warnings_late(), std::stoi(m[1]));
  EXPECT_GT(t.self_evaluations(), 0);
  EXPECT_LE(t.spot_sampled(), t.self_evaluations());
  // Two by agencies, one 部门评价; an adjustment is not another target.
  EXPECT_EQ(t.key_evaluations(), 3);
  EXPECT_EQ(t.key_evaluations_done(), 3);
  EXPECT_EQ(t.key_eval_grades().you() + t.key_eval_grades().liang() + t.key_eval_grades().zhong() +
                t.key_eval_grades().cha(),
            3);
  EXPECT_EQ(t.rectified(), t.rectifications());  // the simulation closes every one
  // One target rectification in seven comes after its 30 days (25 February
  // for targets graded on 10 January): flagged overdue by the stage.
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex(R"(\[target rectification, late\] ([0-9]+)/[0-9]+ in)")))
      << r.err;
  EXPECT_EQ(t.rectifications_overdue(), std::stoi(m[1]));
  EXPECT_GT(t.rectifications_overdue(), 0);
  EXPECT_EQ(t.rectified_on_time(), t.rectifications() - t.rectifications_overdue());

  // Next year's filings: the continuing projects (their amounts capped under
  // this year's budget actions) and the new ones the ex-ante assessment let
  // through; a 不予支持 is refused at start, so it is no instance.
  ASSERT_TRUE(std::regex_search(
      r.out, m, std::regex(R"(next year: continuing filed / capped +([0-9]+) / ([0-9]+))")))
      << r.out;
  const int continuing = std::stoi(m[1]);
  EXPECT_GT(continuing, 0);
  EXPECT_LE(std::stoi(m[2]), continuing);
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(new filed / refused at start +([0-9]+) / ([0-9]+))")))
      << r.out;
  const int fresh = std::stoi(m[1]);
  v1::GetReportRequest next_req = req;
  next_req.set_year(year + 1);
  v1::GetReportResponse next;
  s = reports->Get(testing::Context("zhao", "performance_section", "sim-czj-jx").get(), next_req, &next);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(next.totals_size(), 1);
  EXPECT_EQ(next.totals(0).targets_filed(), continuing + fresh);

  // Every filing, adjustment and key evaluation was published: the public
  // pages through all of them, each once.
  std::set<std::string> seen;
  v1::ListDisclosuresRequest page_req;
  page_req.set_page_size(50);
  int pages = 0;
  do {
    v1::ListDisclosuresResponse page;
    s = reports->ListDisclosures(testing::Context("visitor", "public", "").get(), page_req, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_LE(page.documents_size(), 50);
    for (const auto& d : page.documents()) EXPECT_TRUE(seen.insert(d.id()).second) << d.id();
    page_req.set_page_token(page.next_page_token());
    ++pages;
  } while (!page_req.page_token().empty() && pages < 1000);
  EXPECT_EQ(static_cast<int>(seen.size()), targets + adjustments + 3);
  EXPECT_GT(pages, 1);
  page_req.set_page_token("x");
  v1::ListDisclosuresResponse ignored;
  s = reports->ListDisclosures(testing::Context("visitor", "public", "").get(), page_req, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("page_token: 'x'"));

  // 考核: every department assessed and ranked.
  v1::GetScorecardRequest card_req;
  card_req.set_year(t.year());
  v1::GetScorecardResponse card;
  s = reports->Scorecard(testing::Context("zhao", "performance_section", "sim-czj-jx").get(), card_req,
                         &card);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(card.rows_size(), 3);
  for (const auto& row : card.rows()) {
    EXPECT_TRUE(row.complete()) << row.department();
    EXPECT_GE(row.rank(), 1);
  }
  EXPECT_EQ(card.rows(0).rank(), 1);
  EXPECT_THAT(r.out, ::testing::ContainsRegex("考核: departments ranked, scores +3, "));

  // The printed report says the same.
  EXPECT_THAT(r.out, HasSubstr("模拟县"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("targets filed \\(projects \\+ 部门整体\\) +" +
                                               std::to_string(targets) + " +3,940"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("key evaluations +3 +4–63"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("adjusted \\(绩效目标调整, approved versions\\) +" +
                                               std::to_string(adjustments)));
  EXPECT_THAT(testing::ReadFile(csv), HasSubstr("年度,财政区划,部门编码,部门,"));
  EXPECT_EQ(testing::ReadFile(xlsx).substr(0, 2), "PK");
}

}  // namespace
}  // namespace bpm
