// Test vectors for the budget-performance rules (core/perf/rules.h), with the
// boundaries DOMAIN.md §6–§7 turn on: grade bands at 59.99/60, 79.99/80,
// 89.99/90; zero targets; a reverse indicator at exactly twice its target;
// the qualitative band edges; execution ratios of exactly 60 and 80; blue at
// exactly 120.
#include "core/perf/rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace bpm::perf {
namespace {

Decimal D(const char* text) {
  auto d = Decimal::Parse(text, "test");
  EXPECT_TRUE(d.ok()) << d.status();
  return d.value_or(Decimal());
}

std::string Score(Operator op, const char* target, const char* actual, const char* weight) {
  auto s = IndicatorScore(op, D(target), D(actual), D(weight));
  if (!s.ok()) return std::string(s.status().message());
  return s->ToString();
}

TEST(DecimalTest, ParsesAndPrintsExactly) {
  EXPECT_EQ(D("120").ToString(), "120");
  EXPECT_EQ(D("95.5").ToString(), "95.5");
  EXPECT_EQ(D("-0.0001").ToString(), "-0.0001");
  EXPECT_EQ(D("1,200,000.00").ToString(), "1200000");
  EXPECT_EQ(D(" 7 ").units(), 70000);
  EXPECT_EQ(D("0.3").units() * 2, D("0.6").units());  // no binary rounding
  for (const char* bad : {"", "-", ".", "1.23456", "1e5", "12a", "１２", "99999999999999999"}) {
    EXPECT_FALSE(Decimal::Parse(bad, "amount").ok()) << bad;
  }
  EXPECT_EQ(Decimal::Parse("1.23456", "indicators[2].target").status().message(),
            "indicators[2].target: '1.23456' is not a decimal number (more than 4 decimal places)");
}

TEST(DecimalTest, FromJsonNumbers) {
  EXPECT_EQ(Decimal::FromDouble(0.1, "x")->units(), 1000);  // the decimal it was written as
  EXPECT_EQ(Decimal::FromDouble(1234567.25, "x")->ToString(), "1234567.25");
  EXPECT_EQ(Decimal::FromDouble(-3, "x")->ToString(), "-3");
  EXPECT_EQ(Decimal::FromDouble(0.12345, "payload.budget").status().message(),
            "payload.budget: 0.123450 has more than 4 decimal places");
  EXPECT_FALSE(Decimal::FromDouble(1e300, "x").ok());
  EXPECT_FALSE(Decimal::FromDouble(std::nan(""), "x").ok());
}

TEST(OperatorTest, FullWidthAndAscii) {
  EXPECT_EQ(*ParseOperator("≥", "op"), Operator::kGe);
  EXPECT_EQ(*ParseOperator(">=", "op"), Operator::kGe);
  EXPECT_EQ(*ParseOperator("＞", "op"), Operator::kGt);
  EXPECT_EQ(*ParseOperator("＝", "op"), Operator::kEq);
  EXPECT_EQ(*ParseOperator("＜", "op"), Operator::kLt);
  EXPECT_EQ(*ParseOperator("≤", "op"), Operator::kLe);
  EXPECT_EQ(*ParseOperator("定性", "op"), Operator::kQualitative);
  EXPECT_STREQ(OperatorSymbol(Operator::kLe), "≤");
  EXPECT_EQ(ParseOperator("=>", "indicators[0].operator").status().message(),
            "indicators[0].operator: '=>' is not one of ≥ ＞ ＝ ＜ ≤ 定性 (or >= > = < <=)");
}

TEST(IndicatorScoreTest, Positive) {
  EXPECT_EQ(Score(Operator::kGe, "120", "120", "20"), "20");   // met
  EXPECT_EQ(Score(Operator::kGe, "120", "150", "20"), "20");   // exceeded: capped at the weight
  EXPECT_EQ(Score(Operator::kGe, "120", "90", "20"), "15");    // 90/120 × 20
  EXPECT_EQ(Score(Operator::kGe, "3", "1", "10"), "3.33");     // 3.333… rounds down
  EXPECT_EQ(Score(Operator::kGe, "3", "2", "10"), "6.67");     // 6.666… rounds up
  EXPECT_EQ(Score(Operator::kGe, "8", "1", "0.1"), "0.01");    // 0.0125: half up at the cent
  EXPECT_EQ(Score(Operator::kGt, "90", "89.99", "10"), "10");  // 9.998… rounds to 10.00
  EXPECT_EQ(Score(Operator::kGe, "120", "0", "20"), "0");
  EXPECT_EQ(Score(Operator::kGe, "120", "-5", "20"), "0");
}

TEST(IndicatorScoreTest, ZeroTargets) {
  // Positive or equality with target 0: full weight only when actual ≤ 0.
  EXPECT_EQ(Score(Operator::kGe, "0", "0", "10"), "10");
  EXPECT_EQ(Score(Operator::kGe, "0", "0.0001", "10"), "0");
  EXPECT_EQ(Score(Operator::kEq, "0", "0", "10"), "10");
  EXPECT_EQ(Score(Operator::kEq, "0", "1", "10"), "0");
  EXPECT_EQ(Score(Operator::kLe, "0", "0", "10"), "10");
  EXPECT_EQ(Score(Operator::kLe, "0", "1", "10"), "0");
  // Equality with a target: as positive.
  EXPECT_EQ(Score(Operator::kEq, "100", "100", "10"), "10");
  EXPECT_EQ(Score(Operator::kEq, "100", "80", "10"), "8");
}

TEST(IndicatorScoreTest, Reverse) {
  EXPECT_EQ(Score(Operator::kLe, "100", "100", "10"), "10");  // at the target
  EXPECT_EQ(Score(Operator::kLe, "100", "80", "10"), "10");   // under it
  EXPECT_EQ(Score(Operator::kLe, "100", "150", "10"), "5");   // (1 − 50/100) × 10
  EXPECT_EQ(Score(Operator::kLe, "100", "199.99", "10"), "0");  // 0.001 → 0.00
  EXPECT_EQ(Score(Operator::kLe, "100", "199.9", "10"), "0.01");
  EXPECT_EQ(Score(Operator::kLe, "100", "200", "10"), "0");   // exactly 2 × target
  EXPECT_EQ(Score(Operator::kLt, "100", "250", "10"), "0");
  EXPECT_EQ(Score(Operator::kLt, "100", "100.1", "10"), "9.99");
  EXPECT_EQ(Score(Operator::kLt, "100", "100.01", "10"), "10");  // 9.999 rounds to 10.00
}

TEST(IndicatorScoreTest, BadInput) {
  EXPECT_EQ(Score(Operator::kGe, "-1", "1", "10"), "target: -1 is negative");
  EXPECT_EQ(Score(Operator::kGe, "1", "1", "-10"), "weight: -10 is negative");
  EXPECT_EQ(Score(Operator::kQualitative, "1", "1", "10"),
            "operator: 定性 indicators are scored by the evaluator within their band");
}

TEST(QualitativeTest, BandEdges) {
  const Decimal w = D("10");
  EXPECT_TRUE(CheckQualitativeScore(kAchieved, D("10"), w).ok());
  EXPECT_TRUE(CheckQualitativeScore(kAchieved, D("8"), w).ok());        // 80% inclusive
  EXPECT_FALSE(CheckQualitativeScore(kAchieved, D("7.99"), w).ok());
  EXPECT_FALSE(CheckQualitativeScore(kAchieved, D("10.01"), w).ok());   // over the weight
  EXPECT_FALSE(CheckQualitativeScore(kPartlyAchieved, D("8"), w).ok()); // 80% exclusive
  EXPECT_TRUE(CheckQualitativeScore(kPartlyAchieved, D("7.99"), w).ok());
  EXPECT_TRUE(CheckQualitativeScore(kPartlyAchieved, D("6"), w).ok());  // 60% inclusive
  EXPECT_FALSE(CheckQualitativeScore(kPartlyAchieved, D("5.99"), w).ok());
  EXPECT_FALSE(CheckQualitativeScore(kNotAchieved, D("6"), w).ok());
  EXPECT_TRUE(CheckQualitativeScore(kNotAchieved, D("5.99"), w).ok());
  EXPECT_TRUE(CheckQualitativeScore(kNotAchieved, D("0"), w).ok());
  // A weight of 7.5: 80% is 6, 60% is 4.5.
  EXPECT_TRUE(CheckQualitativeScore(kAchieved, D("6"), D("7.5")).ok());
  EXPECT_TRUE(CheckQualitativeScore(kPartlyAchieved, D("4.5"), D("7.5")).ok());
  EXPECT_FALSE(CheckQualitativeScore(kPartlyAchieved, D("4.4999"), D("7.5")).ok());
  // The older Jiangxi bands 100–80 / 80–50 / 50–0.
  QualitativeBands old;
  old.partial = D("50");
  EXPECT_TRUE(CheckQualitativeScore(kPartlyAchieved, D("5"), w, old).ok());
  EXPECT_TRUE(CheckQualitativeScore(kPartlyAchieved, D("5.99"), w, old).ok());
  EXPECT_FALSE(CheckQualitativeScore(kPartlyAchieved, D("5.99"), w).ok());
  EXPECT_EQ(CheckQualitativeScore(kAchieved, D("7"), w).message(),
            "score: 7 of weight 10 is outside the band [80%, 100%] of the weight for 达成年度指标");
  EXPECT_FALSE(CheckQualitativeScore("基本达成", D("7"), w).ok());
}

TEST(ExecutionScoreTest, CappedAtTheBlock) {
  EXPECT_EQ(ExecutionScore(D("850000"), D("1000000")).ToString(), "8.5");
  EXPECT_EQ(ExecutionScore(D("1000000"), D("1000000")).ToString(), "10");
  EXPECT_EQ(ExecutionScore(D("1200000"), D("1000000")).ToString(), "10");  // over 100%
  EXPECT_EQ(ExecutionScore(D("1"), D("3")).ToString(), "3.33");
  EXPECT_EQ(ExecutionScore(D("5"), D("0")).ToString(), "0");                // no budget
  EXPECT_EQ(ExecutionScore(D("-5"), D("100")).ToString(), "0");
}

TEST(GradeTest, HalfOpenBands) {
  EXPECT_STREQ(Grade(D("100")), "优");
  EXPECT_STREQ(Grade(D("90")), "优");
  EXPECT_STREQ(Grade(D("89.99")), "良");
  EXPECT_STREQ(Grade(D("80")), "良");
  EXPECT_STREQ(Grade(D("79.99")), "中");
  EXPECT_STREQ(Grade(D("60")), "中");
  EXPECT_STREQ(Grade(D("59.99")), "差");
  EXPECT_STREQ(Grade(D("0")), "差");
  GradeBands early{D("80"), D("70"), D("60")};  // some early fasp2 configurations
  EXPECT_STREQ(Grade(D("80"), early), "优");
  EXPECT_STREQ(Grade(D("79.99"), early), "良");
  EXPECT_STREQ(Grade(D("69.99"), early), "中");
}

TEST(SelfEvaluateTest, SumsCapsAndGrades) {
  // 产出 50 + 效益 30 + 满意度 10, each indicator capped at its weight, plus
  // the execution block.
  auto r = SelfEvaluate({{D("48.5"), D("50")}, {D("27"), D("30")}, {D("9"), D("10")}}, D("5.49"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total.ToString(), "89.99");
  EXPECT_EQ(r->grade, "良");
  r = SelfEvaluate({{D("48.5"), D("50")}, {D("27"), D("30")}, {D("9"), D("10")}}, D("5.5"));
  EXPECT_EQ(r->total.ToString(), "90");
  EXPECT_EQ(r->grade, "优");
  r = SelfEvaluate({{D("60"), D("50")}, {D("30"), D("30")}, {D("10"), D("10")}}, D("10"));
  EXPECT_EQ(r->total.ToString(), "100");  // the 60 counts as 50; the total caps at 100
  r = SelfEvaluate({{D("40"), D("50")}, {D("20"), D("30")}}, D("0"));
  EXPECT_EQ(r->total.ToString(), "60");
  EXPECT_EQ(r->grade, "中");
  r = SelfEvaluate({{D("40"), D("50")}, {D("19.99"), D("30")}}, D("0"));
  EXPECT_EQ(r->grade, "差");
  EXPECT_EQ(SelfEvaluate({{D("-1"), D("50")}}, D("0")).status().message(),
            "indicators[0].score: -1 is negative");
}

TEST(ExAnteTest, Conclusions) {
  EXPECT_STREQ(ExAnteConclusion(D("80")), "支持");
  EXPECT_STREQ(ExAnteConclusion(D("79.99")), "调整完善后支持");
  EXPECT_STREQ(ExAnteConclusion(D("60")), "调整完善后支持");
  EXPECT_STREQ(ExAnteConclusion(D("59.99")), "不予支持");
}

TEST(BudgetLightTest, RatioRuleBoundaries) {
  const BudgetRule rule;  // ratio 60/80, ≥ 500,000 yuan
  auto light = [&](int month, const char* executed, const char* budget) {
    auto l = BudgetLight(rule, month, D(executed), D(budget));
    EXPECT_TRUE(l.ok()) << l.status();
    return LightName(l.value_or(Light::kNone));
  };
  // June: time progress 50%; ratio 60 ⇔ 30% executed, 80 ⇔ 40%.
  EXPECT_STREQ(light(6, "300000", "1000000"), "yellow");   // ratio exactly 60
  EXPECT_STREQ(light(6, "299999.99", "1000000"), "red");
  EXPECT_STREQ(light(6, "400000", "1000000"), "green");    // ratio exactly 80
  EXPECT_STREQ(light(6, "399999.99", "1000000"), "yellow");
  // July: time progress 7/12; ratio 60 ⇔ 35%.
  EXPECT_STREQ(light(7, "350000", "1000000"), "yellow");
  EXPECT_STREQ(light(7, "349999.99", "1000000"), "red");
  // October (time progress 10/12): ratio 60 ⇔ 50% executed, here of 600,000.03.
  EXPECT_STREQ(light(10, "300000.015", "600000.03"), "yellow");  // exactly 60
  EXPECT_STREQ(light(10, "300000.0149", "600000.03"), "red");
  EXPECT_STREQ(light(6, "0", "1000000"), "red");
  // The money threshold: 500,000 is in scope, 499,999.99 is not.
  EXPECT_STREQ(light(6, "0", "500000"), "red");
  EXPECT_STREQ(light(6, "0", "499999.99"), "none");
  EXPECT_STREQ(light(6, "0", "0"), "none");
  EXPECT_EQ(BudgetLight(rule, 13, D("1"), D("1000000")).status().message(),
            "month: 13 is not in 1..12");
  EXPECT_FALSE(BudgetLight(rule, 0, D("1"), D("1000000")).ok());
}

TEST(BudgetLightTest, MilestonesAndGap) {
  BudgetRule milestones;
  milestones.kind = BudgetRule::Kind::kMilestones;
  auto m = [&](int month, const char* executed) {
    return LightName(*BudgetLight(milestones, month, D(executed), D("1000000")));
  };
  EXPECT_STREQ(m(3, "0"), "green");        // no milestone yet
  EXPECT_STREQ(m(4, "250000"), "green");   // exactly 25% by April
  EXPECT_STREQ(m(5, "249999.99"), "red");  // April's milestone holds in May
  EXPECT_STREQ(m(6, "400000"), "green");
  EXPECT_STREQ(m(10, "799999.99"), "red");
  EXPECT_STREQ(m(12, "800000"), "green");

  BudgetRule gap;
  gap.kind = BudgetRule::Kind::kGap;
  auto g = [&](int month, const char* executed) {
    return LightName(*BudgetLight(gap, month, D(executed), D("1200000")));
  };
  // June: time progress 50%. Gap exactly 20 pp (30% executed) is yellow, over is red;
  // exactly 10 pp (40%) is green, over is yellow.
  EXPECT_STREQ(g(6, "360000"), "yellow");
  EXPECT_STREQ(g(6, "359999.99"), "red");
  EXPECT_STREQ(g(6, "480000"), "green");
  EXPECT_STREQ(g(6, "479999.99"), "yellow");
  EXPECT_STREQ(g(1, "0"), "green");  // January: 8.33 pp behind at most
}

TEST(IndicatorLightTest, PositiveProgressAndBlue) {
  auto l = [](const char* target, const char* actual, int month) {
    return LightName(*IndicatorLight(Operator::kGe, D(target), D(actual), month));
  };
  // Target 120 a year: by June the linear share is 60.
  EXPECT_STREQ(l("120", "36", 6), "yellow");    // progress exactly 60
  EXPECT_STREQ(l("120", "35.9999", 6), "red");
  EXPECT_STREQ(l("120", "48", 6), "green");     // exactly 80
  EXPECT_STREQ(l("120", "47.9999", 6), "yellow");
  EXPECT_STREQ(l("120", "72", 6), "blue");      // exactly 120
  EXPECT_STREQ(l("120", "71.9999", 6), "green");
  EXPECT_STREQ(l("120", "0", 6), "red");
  EXPECT_STREQ(l("0.9", "0.0525", 1), "yellow");  // 0.0525 / 0.075 = 70%
  // Target 0: green only when the actual is 0.
  EXPECT_STREQ(l("0", "0", 6), "green");
  EXPECT_STREQ(l("0", "1", 6), "red");
}

TEST(IndicatorLightTest, ReverseQualitativeAndWorst) {
  EXPECT_EQ(*IndicatorLight(Operator::kLe, D("5"), D("5"), 6), Light::kGreen);
  EXPECT_EQ(*IndicatorLight(Operator::kLe, D("5"), D("5.0001"), 6), Light::kRed);
  EXPECT_EQ(*IndicatorLight(Operator::kLt, D("5"), D("5"), 6), Light::kRed);
  EXPECT_EQ(*IndicatorLight(Operator::kLt, D("5"), D("4.9999"), 6), Light::kGreen);
  EXPECT_EQ(*QualitativeLight("达成目标"), Light::kGreen);
  EXPECT_EQ(*QualitativeLight("部分达成目标并具有一定效果"), Light::kYellow);
  EXPECT_EQ(*QualitativeLight("未达成目标且效果较差"), Light::kRed);
  EXPECT_FALSE(QualitativeLight("还行").ok());
  EXPECT_EQ(Worst({Light::kBlue, Light::kGreen}), Light::kGreen);
  EXPECT_EQ(Worst({Light::kBlue, Light::kYellow, Light::kGreen}), Light::kYellow);
  EXPECT_EQ(Worst({Light::kRed, Light::kBlue}), Light::kRed);
  EXPECT_EQ(Worst({Light::kBlue}), Light::kBlue);
  EXPECT_EQ(Worst({Light::kNone, Light::kBlue}), Light::kBlue);
  EXPECT_EQ(Worst({}), Light::kNone);
}

}  // namespace
}  // namespace bpm::perf
