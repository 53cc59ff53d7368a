// The assessment sheet (core/perf/scorecard.h): reading and its errors, and
// the computed items' exact points, rounding and the no-case rule.
#include "core/perf/scorecard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "google/protobuf/util/json_util.h"

namespace bpm::perf {
namespace {

google::protobuf::Struct Json(const std::string& text) {
  google::protobuf::Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &s).ok()) << text;
  return s;
}

std::vector<std::string> Problems(const std::string& config) {
  ConfigProblems problems;
  ReadSheet(Json(config), &problems);
  std::vector<std::string> out;
  for (const auto& [path, message] : problems) out.push_back(path + ": " + message);
  return out;
}

TEST(Scorecard, ReadsASheet) {
  ConfigProblems problems;
  Sheet s = ReadSheet(Json(R"({"total": 20, "items": [
      {"id": "a", "name": "目标", "points": 12.5, "metric": "target_review_coverage"},
      {"id": "b", "points": 7.5, "manual": true}]})"),
                      &problems);
  EXPECT_TRUE(problems.empty());
  ASSERT_EQ(s.items.size(), 2u);
  EXPECT_EQ(s.items[0].points, Decimal::FromUnits(125000));
  EXPECT_EQ(s.items[1].metric, "");
  EXPECT_EQ(s.items[1].name, "b");
}

TEST(Scorecard, SheetErrorsNameTheirPath) {
  EXPECT_THAT(Problems("{}"), ::testing::ElementsAre(::testing::StartsWith("items: is required")));
  EXPECT_THAT(Problems(R"({"items": [{"id": "a", "points": 0, "metric": "x"},
                                     {"id": "a", "points": 5},
                                     {"id": "c", "points": 5, "metric": "warning_decline", "manual": true, "w": 1}]})"),
              ::testing::ElementsAre(
                  "items[0].points: must be a number greater than 0.",
                  ::testing::StartsWith("items[0].metric: must be one of"),
                  "items[1].id: repeats 'a'; ids must be unique.",
                  "items[1]: needs a metric, or manual: true.",
                  "items[2].w: is not an item setting (id, name, points, metric, manual).",
                  "items[2]: is either computed (metric) or manual, not both."));
  EXPECT_THAT(Problems(R"({"items": [{"id": "a", "points": 60, "manual": true}]})"),
              ::testing::ElementsAre("items: points add up to 60, not the total 100."));
}

TEST(Scorecard, MetricPointsAreExact) {
  DepartmentFigures f;
  f.targets_started = 3;
  f.targets_reviewed = 2;
  std::string basis;
  EXPECT_EQ(MetricPoints("target_review_coverage", Decimal::FromInt(10), f, &basis),
            Decimal::FromUnits(66700));  // 6.666… → 6.67
  EXPECT_EQ(basis, "2/3 × 10");
  f.rectifications = 8;
  f.rectified_on_time = 1;
  EXPECT_EQ(MetricPoints("rectification_on_time", Decimal::FromInt(1), f, &basis),
            Decimal::FromUnits(1300));  // 0.125 → 0.13, half up
  // No cases to judge: full points.
  EXPECT_EQ(MetricPoints("spot_check_accuracy", Decimal::FromInt(8), f, &basis), Decimal::FromInt(8));
  EXPECT_EQ(basis, "无考核对象，得满分");
  // Warnings that grew score 0, never negative.
  f.warned_first_round = 4;
  f.warned_last_round = 6;
  EXPECT_EQ(MetricPoints("warning_decline", Decimal::FromInt(15), f, &basis), Decimal());
  f.warned_last_round = 1;
  EXPECT_EQ(MetricPoints("warning_decline", Decimal::FromInt(15), f, &basis),
            Decimal::FromUnits(112500));  // 3/4 × 15 = 11.25
  // Self-evaluations beyond the reviewed targets do not score above full.
  f.self_evaluations = 5;
  EXPECT_EQ(MetricPoints("self_evaluation_coverage", Decimal::FromInt(12), f, &basis),
            Decimal::FromInt(12));
}

}  // namespace
}  // namespace bpm::perf
