// The target-form quality check (core/perf/target_quality.h) and its JSON
// reading (target_form.h): each finding code fires on the fault it names and
// not on a sound form; severities and thresholds follow the config.
#include "core/perf/target_quality.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/perf/target_form.h"
#include "google/protobuf/util/json_util.h"

namespace bpm::perf {
namespace {

TargetIndicator Row(std::string l1, std::string l2, std::string name, std::string op,
                    std::string target, std::string unit) {
  return TargetIndicator{l1, l2, name, op, target, unit, std::nullopt};
}

// A sound project target: every output category, a benefit and a
// satisfaction row, quantified.
TargetForm Sound() {
  TargetForm f;
  f.goal = "2026年完成农村公路改造50公里，群众出行时间缩短20%";
  f.indicators = {
      Row("产出指标", "数量", "改造农村公路里程", "≥", "50", "公里"),
      Row("产出指标", "质量", "工程验收合格率", "＝", "100", "%"),
      Row("产出指标", "时效", "完工时间", "≤", "11", "月"),
      Row("产出指标", "成本", "每公里改造成本", "≤", "80", "万元"),
      Row("效益指标", "社会效益", "群众出行时间缩短", "≥", "20", "%"),
      Row("满意度指标", "服务对象满意度", "沿线群众满意度", "≥", "90", "%"),
  };
  return f;
}

std::vector<std::string> Codes(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  for (const Finding& f : findings) out.push_back(f.code + "@" + f.field);
  return out;
}

TEST(TargetQuality, SoundFormHasNoFindings) {
  EXPECT_TRUE(CheckTargetForm(Sound(), {}).empty()) << ::testing::PrintToString(Codes(CheckTargetForm(Sound(), {})));
}

TEST(TargetQuality, UnquantifiedTargetIsAnError) {
  TargetForm f = Sound();
  f.indicators[0].target = "大幅增加";
  auto findings = CheckTargetForm(f, {});
  ASSERT_EQ(Codes(findings), std::vector<std::string>{"unquantified@indicators[0].target"});
  EXPECT_EQ(findings[0].severity, Severity::kError);
  EXPECT_TRUE(HasErrors(findings));
}

TEST(TargetQuality, FullWidthDigitsCountAsQuantified) {
  TargetForm f = Sound();
  f.indicators[0].target = "５０";
  EXPECT_TRUE(CheckTargetForm(f, {}).empty());
}

TEST(TargetQuality, QualitativeQuantityOrCostRowIsUnquantified) {
  TargetForm f = Sound();
  f.indicators[3] = Row("产出指标", "成本", "成本控制", "定性", "控制在预算内", "");
  EXPECT_EQ(Codes(CheckTargetForm(f, {})), std::vector<std::string>{"unquantified@indicators[3].operator"});
}

TEST(TargetQuality, VagueQualitativeTargetIsAWarning) {
  TargetForm f = Sound();
  f.indicators[4] = Row("效益指标", "社会效益", "群众生活改善", "定性", "效果明显", "");
  auto findings = CheckTargetForm(f, {});
  ASSERT_EQ(Codes(findings), std::vector<std::string>{"vague_target@indicators[4].target"});
  EXPECT_EQ(findings[0].severity, Severity::kWarning);
  EXPECT_FALSE(HasErrors(findings));
  // A specific qualitative target is fine.
  f.indicators[4].target = "在项目计划完成时间内完成全部路段通车";
  EXPECT_TRUE(CheckTargetForm(f, {}).empty());
}

TEST(TargetQuality, VagueOrShortGoal) {
  TargetForm f = Sound();
  f.goal = "进一步提高农村公路通行水平，效果明显";
  EXPECT_EQ(Codes(CheckTargetForm(f, {})), std::vector<std::string>{"vague_goal@goal"});
  f.goal = "修路";
  EXPECT_EQ(Codes(CheckTargetForm(f, {})), std::vector<std::string>{"vague_goal@goal"});
  // Exactly min_goal_chars code points (10) is long enough.
  f.goal = "完成改造五十公里道路";
  EXPECT_TRUE(CheckTargetForm(f, {}).empty());
  f.goal = "完成改造五十公里道";  // 9
  EXPECT_EQ(Codes(CheckTargetForm(f, {})), std::vector<std::string>{"vague_goal@goal"});
}

TEST(TargetQuality, MissingOutputCategoryAndBenefit) {
  TargetForm f = Sound();
  f.indicators.erase(f.indicators.begin() + 4);  // the benefit row
  f.indicators.erase(f.indicators.begin() + 2);  // 时效
  EXPECT_EQ(Codes(CheckTargetForm(f, {})),
            (std::vector<std::string>{"missing_output_category@indicators", "no_benefit@indicators"}));
  // Level 2 may carry the 指标 suffix many forms use.
  TargetForm h = Sound();
  for (auto& row : h.indicators) row.level2 += "指标";
  EXPECT_TRUE(CheckTargetForm(h, {}).empty());
  // 成本 is met by the 101号 split.
  TargetForm g = Sound();
  g.indicators[3].level2 = "经济成本";
  EXPECT_TRUE(CheckTargetForm(g, {}).empty());
}

TEST(TargetQuality, SatisfactionRequiredOnlyWhenConfigured) {
  TargetForm f = Sound();
  f.indicators.pop_back();
  EXPECT_TRUE(CheckTargetForm(f, {}).empty());
  QualityRules r;
  r.severity["no_satisfaction"] = Severity::kError;
  EXPECT_EQ(Codes(CheckTargetForm(f, r)), std::vector<std::string>{"no_satisfaction@indicators"});
}

TEST(TargetQuality, LevelMismatchAndDuplicates) {
  TargetForm f = Sound();
  f.indicators[1].level2 = "经济效益";        // a benefit category under output
  f.indicators.push_back(f.indicators[0]);   // the same indicator twice
  f.indicators.back().name = "改造 农村公路里程";  // spacing does not hide it
  EXPECT_EQ(Codes(CheckTargetForm(f, {})),
            (std::vector<std::string>{"level_mismatch@indicators[1].level2",
                                      "duplicate_indicator@indicators[6].name",
                                      "missing_output_category@indicators"}));
}

TEST(TargetQuality, InputsAsOutputs) {
  TargetForm f = Sound();
  f.indicators[0] = Row("产出指标", "数量", "投入资金", "≥", "500", "万元");
  auto codes = Codes(CheckTargetForm(f, {}));
  EXPECT_EQ(codes, std::vector<std::string>{"input_as_output@indicators[0].name"});
  // Money under 成本 is the cost indicator, not an input target.
  EXPECT_TRUE(CheckTargetForm(Sound(), {}).empty());
  f = Sound();
  f.indicators[4] = Row("效益指标", "社会效益", "参与人员", "≥", "300", "人");
  EXPECT_EQ(Codes(CheckTargetForm(f, {})), std::vector<std::string>{"input_as_output@indicators[4].name"});
}

TEST(TargetQuality, ImpossibleValues) {
  TargetForm f = Sound();
  f.indicators[1].target = "120";  // 合格率 ＝ 120 %
  f.indicators[5].op = "≤";        // satisfaction ≤ 90 %
  EXPECT_EQ(Codes(CheckTargetForm(f, {})),
            (std::vector<std::string>{"impossible_value@indicators[1].target",
                                      "impossible_value@indicators[5].operator"}));
  f = Sound();
  f.indicators[1].target = "100";  // exactly 100 % is possible
  EXPECT_TRUE(CheckTargetForm(f, {}).empty());
}

TEST(TargetQuality, Weights) {
  TargetForm f = Sound();
  QualityRules r;
  r.weight_total = Decimal::FromInt(90);
  for (auto& row : f.indicators) row.weight = Decimal::FromInt(15);
  EXPECT_TRUE(CheckTargetForm(f, r).empty());  // 6 × 15 = 90
  f.indicators[0].weight = Decimal::FromUnits(149999);  // 14.9999: sum 89.9999
  EXPECT_EQ(Codes(CheckTargetForm(f, r)), std::vector<std::string>{"weight_sum@indicators"});
  f.indicators[0].weight = Decimal();
  f.indicators[1].weight = Decimal::FromInt(30);
  EXPECT_EQ(Codes(CheckTargetForm(f, r)), std::vector<std::string>{"weight_nonpositive@indicators[0].weight"});
  f.indicators[0].weight.reset();
  EXPECT_EQ(Codes(CheckTargetForm(f, r)), std::vector<std::string>{"weight_missing@indicators"});
}

TEST(TargetQuality, TooFewIndicators) {
  QualityRules r;
  r.min_indicators = 6;
  EXPECT_TRUE(CheckTargetForm(Sound(), r).empty());
  r.min_indicators = 7;
  EXPECT_EQ(Codes(CheckTargetForm(Sound(), r)), std::vector<std::string>{"too_few_indicators@indicators"});
}

TEST(TargetQuality, SeverityOverrides) {
  TargetForm f = Sound();
  f.indicators[0].target = "大幅增加";
  QualityRules r;
  r.severity["unquantified"] = Severity::kWarning;
  auto findings = CheckTargetForm(f, r);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_FALSE(HasErrors(findings));
  r.severity["unquantified"] = Severity::kOff;
  EXPECT_TRUE(CheckTargetForm(f, r).empty());
}

TEST(TargetQuality, SimilarityAndCopies) {
  QualityRules r;  // 0.8, at least 4 rows
  TargetForm a = Sound();
  TargetForm b = Sound();
  b.indicators[0].name = "改造农村公路里程。";  // punctuation is ignored
  EXPECT_EQ(Similarity(Fingerprint(a), Fingerprint(b)), Decimal::FromInt(1));
  EXPECT_TRUE(IsCopy(Fingerprint(a), Fingerprint(b), r));
  // 5 common of 7 distinct rows: 0.7142 — not a copy at 0.8.
  b.indicators[0].target = "60";
  EXPECT_EQ(Similarity(Fingerprint(a), Fingerprint(b)), Decimal::FromUnits(7142));
  EXPECT_FALSE(IsCopy(Fingerprint(a), Fingerprint(b), r));
  r.copy_similarity = Decimal::FromUnits(7142);  // the boundary is inclusive
  EXPECT_TRUE(IsCopy(Fingerprint(a), Fingerprint(b), r));
  // Small sets never count.
  TargetForm small;
  small.indicators = {a.indicators[0], a.indicators[1], a.indicators[2]};
  EXPECT_FALSE(IsCopy(Fingerprint(small), Fingerprint(small), r));
  EXPECT_EQ(Similarity({}, {}), Decimal());
}

google::protobuf::Struct Json(const std::string& text) {
  google::protobuf::Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &s).ok()) << text;
  return s;
}

TEST(TargetForm, ReadsConfigAndForm) {
  ConfigProblems problems;
  QualityConfig c = ReadQualityConfig(
      Json(R"({"quality": {"goal_field": "goal", "weight_total": 90, "copy_similarity": 0.9,
                "min_indicators": 6, "severity": {"vague_goal": "error", "copied": "off"}}})"),
      &problems);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(c.goal_field, "goal");
  EXPECT_EQ(c.rules.weight_total, Decimal::FromInt(90));
  EXPECT_EQ(c.rules.copy_similarity, Decimal::FromUnits(9000));
  EXPECT_EQ(c.rules.SeverityOf("vague_goal"), Severity::kError);
  EXPECT_EQ(c.rules.SeverityOf("copied"), Severity::kOff);

  TargetForm f = ReadTargetForm(
      Json(R"({"goal": "x", "indicators": [
              {"level1": "产出指标", "level2": "数量", "name": "n", "operator": "≥", "target": "5",
               "unit": "个", "weight": 12.5},
              {"level1": "效益指标", "level2": "社会效益", "name": "m", "operator": "定性",
               "target": "达成", "weight": "7.25"},
              "not a row"]})"),
      c);
  EXPECT_EQ(f.goal, "x");
  ASSERT_EQ(f.indicators.size(), 3u);
  EXPECT_EQ(f.indicators[0].weight, Decimal::FromUnits(125000));
  EXPECT_EQ(f.indicators[1].weight, Decimal::FromUnits(72500));
  EXPECT_EQ(f.indicators[2].name, "");

  auto s = FindingsToStruct({{"vague_goal", Severity::kError, "goal", "m"},
                             {"copied", Severity::kWarning, "indicators[1].name", "n"}},
                            c);
  EXPECT_EQ(s.fields().at("errors").number_value(), 1);
  EXPECT_EQ(s.fields().at("warnings").number_value(), 1);
  EXPECT_EQ(s.fields().at("findings").list_value().values(0).struct_value().fields().at("severity").string_value(),
            "error");
  EXPECT_EQ(s.fields().at("findings").list_value().values(0).struct_value().fields().at("field").string_value(),
            "goal");
  EXPECT_EQ(FormPath(c, "goal"), "goal");
  QualityConfig d;
  EXPECT_EQ(FormPath(d, "goal"), "annual_goal");
  d.indicators_field = "kpis";
  EXPECT_EQ(FormPath(d, "indicators[1].name"), "kpis[1].name");
}

TEST(TargetForm, ConfigProblemsNameTheirPath) {
  ConfigProblems problems;
  ReadQualityConfig(Json(R"({"quality": {"weight_total": 0, "copy_similarity": 1.5,
      "min_indicators": -1, "severity": {"nope": "error", "vague_goal": "fatal"},
      "vague_words": ["", 3], "colour": "red"}})"),
                    &problems);
  std::vector<std::string> paths;
  for (const auto& [path, message] : problems) paths.push_back(path);
  std::sort(paths.begin(), paths.end());
  EXPECT_EQ(paths, (std::vector<std::string>{
                       "quality.colour", "quality.copy_similarity", "quality.min_indicators",
                       "quality.severity.nope", "quality.severity.vague_goal",
                       "quality.vague_words[0]", "quality.vague_words[1]", "quality.weight_total"}));
  problems.clear();
  ReadQualityConfig(Json(R"({"quality": {"term_field": "years"}})"), &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].first, "quality.term_field");
  EXPECT_EQ(problems[0].second, "goes with term_field and mid_term_goal_field both set.");
  problems.clear();
  ReadQualityConfig(Json(R"({"quality": "strict"})"), &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].first, "quality");
}

// 中期（总体）目标: a project of more than one year states it; a one-year
// project (or a form without the setting) is not asked for one.
TEST(TargetQuality, AMultiYearProjectNeedsItsMidTermGoal) {
  TargetForm f = Sound();
  f.term_years = 3;
  auto findings = CheckTargetForm(f, {});
  ASSERT_EQ(Codes(findings), std::vector<std::string>{"missing_mid_term_goal@mid_term_goal"});
  EXPECT_EQ(findings[0].severity, Severity::kError);
  EXPECT_EQ(findings[0].message, "跨年度项目（实施期 3 年）应填报中期（总体）目标，年度目标是其中本年度的部分");
  f.mid_term_goal = "  ";
  EXPECT_EQ(Codes(CheckTargetForm(f, {})), std::vector<std::string>{"missing_mid_term_goal@mid_term_goal"});
  f.mid_term_goal = "2026—2028年改造农村公路150公里";
  EXPECT_TRUE(CheckTargetForm(f, {}).empty());
  f.term_years = 1;
  f.mid_term_goal.clear();
  EXPECT_TRUE(CheckTargetForm(f, {}).empty());

  ConfigProblems problems;
  const QualityConfig c = ReadQualityConfig(
      Json(R"({"quality": {"term_field": "years", "mid_term_goal_field": "overall"}})"), &problems);
  EXPECT_TRUE(problems.empty());
  const std::string goal = R"("goal": "2026年完成农村公路改造50公里，群众出行时间缩短20%")";
  TargetForm read = ReadTargetForm(Json("{" + goal + R"(, "years": 2})"), c);
  EXPECT_EQ(read.term_years, 2);
  EXPECT_EQ(FormPath(c, "mid_term_goal"), "overall");
  read = ReadTargetForm(Json("{" + goal + R"(, "years": 2, "overall": "两年改造100公里"})"), c);
  EXPECT_EQ(read.mid_term_goal, "两年改造100公里");
  // Without the settings the term is not read.
  EXPECT_EQ(ReadTargetForm(Json("{" + goal + R"(, "years": 2})"), QualityConfig{}).term_years, 1);
}

}  // namespace
}  // namespace bpm::perf
