// bpm::perf — the budget-performance rules as pure functions, exact at every
// boundary (all arithmetic on Decimal, decimal.h): indicator scoring and the
// self-evaluation total and grade (DOMAIN.md §6.1), the ex-ante conclusion
// (§6.3), budget-execution lights (§7.1) and indicator lights (§7.2). Every
// threshold is a field of a rules struct so a region (财政区划) and fiscal year
// can set its own; the defaults are the national ones. Stage plugins call
// these; tests/unit/perf/rules_test.cc holds the boundary vectors.
//
// Scores are rounded to 0.01 point, half up. Errors are INVALID_ARGUMENT
// naming the input (a negative target, a month outside 1..12, a qualitative
// score outside its band). Thread safety: stateless.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/common/status.h"
#include "core/perf/decimal.h"

namespace bpm::perf {

// ---- indicators (§4.3) ---------------------------------------------------------------

// ≥ ＞ ＝ ＜ ≤ and 定性 (qualitative). Parsed from the full-width and ASCII
// forms: "≥" ">=", "＞" ">", "＝" "=", "＜" "<", "≤" "<=", "定性".
enum class Operator { kGe, kGt, kEq, kLt, kLe, kQualitative };
StatusOr<Operator> ParseOperator(std::string_view text, std::string_view what);
const char* OperatorSymbol(Operator op);  // "≥", "＞", "＝", "＜", "≤", "定性"

// ---- self-evaluation scoring (§6.1) --------------------------------------------------

// The score of a quantitative indicator, 0..weight:
//   positive (≥, ＞)  weight when actual ≥ target, else actual / target × weight;
//                     target 0: weight when actual ≤ 0, else 0
//   reverse (≤, ＜)   weight when actual ≤ target, 0 when actual ≥ 2 × target,
//                     else (1 − (actual − target) / target) × weight;
//                     target 0: weight when actual ≤ 0, else 0
//   equality (＝)     target 0: weight when actual ≤ 0, else 0; else as positive
// INVALID_ARGUMENT for a negative target or weight, or kQualitative (its
// score is chosen by the evaluator: CheckQualitativeScore).
StatusOr<Decimal> IndicatorScore(Operator op, Decimal target, Decimal actual, Decimal weight);

// The three qualitative grades and their bands, as percentages of the weight:
// 达成年度指标 [achieved, 100], 部分达成年度指标并具有一定效果 [partial, achieved),
// 未达成年度指标且效果较差 [0, partial).
inline constexpr const char* kAchieved = "达成年度指标";
inline constexpr const char* kPartlyAchieved = "部分达成年度指标并具有一定效果";
inline constexpr const char* kNotAchieved = "未达成年度指标且效果较差";
struct QualitativeBands {
  Decimal achieved = Decimal::FromInt(80);  // % of the weight, inclusive
  Decimal partial = Decimal::FromInt(60);
};
// OK when score lies in grade's band; INVALID_ARGUMENT naming the band.
Status CheckQualitativeScore(std::string_view grade, Decimal score, Decimal weight,
                             const QualitativeBands& bands = {});

// The budget-execution block: min(executed / budget × block_weight,
// block_weight); 0 when the budget is 0 or less.
Decimal ExecutionScore(Decimal executed, Decimal budget, Decimal block_weight = Decimal::FromInt(10));

// 优 / 良 / 中 / 差 by half-open bands: [excellent, ∞), [good, excellent),
// [pass, good), below pass. Some regions used 80/70/60.
struct GradeBands {
  Decimal excellent = Decimal::FromInt(90);
  Decimal good = Decimal::FromInt(80);
  Decimal pass = Decimal::FromInt(60);
};
const char* Grade(Decimal score, const GradeBands& bands = {});

struct ScoredIndicator {
  Decimal score;
  Decimal weight;
};
struct SelfEvaluation {
  Decimal total;      // Σ min(score, weight) + execution score, at most 100
  std::string grade;  // by the grade bands
};
// INVALID_ARGUMENT for a negative score or weight.
StatusOr<SelfEvaluation> SelfEvaluate(const std::vector<ScoredIndicator>& indicators,
                                      Decimal execution_score, const GradeBands& bands = {});

// ---- ex-ante assessment (§6.3) -------------------------------------------------------

// 支持 at or above support, 调整完善后支持 at or above adjust, else 不予支持
// (which blocks the project's budget request).
struct ExAnteBands {
  Decimal support = Decimal::FromInt(80);
  Decimal adjust = Decimal::FromInt(60);
};
const char* ExAnteConclusion(Decimal score, const ExAnteBands& bands = {});

// ---- warnings (§7) -------------------------------------------------------------------

// kNone: the rule does not apply (a project under the money threshold, an
// indicator with nothing to judge yet).
enum class Light { kNone, kBlue, kGreen, kYellow, kRed };
const char* LightName(Light light);  // "none", "blue", "green", "yellow", "red"

// The budget-execution light of a project after the last closed month
// (1..12), from its cumulative execution and adjusted annual budget (yuan).
struct BudgetRule {
  enum class Kind {
    kRatio,       // ratio = execution rate / time progress × 100: red below
                  // red_below, yellow below yellow_below (fasp2 bgttracewarn)
    kMilestones,  // red when the execution rate is under the latest
                  // milestone reached (川财绩〔2025〕10号: Apr 25%, ...)
    kGap,         // gap = time progress − execution rate, in percentage
                  // points: red above gap_red, yellow above gap_yellow
  };
  Kind kind = Kind::kRatio;
  Decimal red_below = Decimal::FromInt(60);
  Decimal yellow_below = Decimal::FromInt(80);
  std::vector<std::pair<int, Decimal>> milestones = {{4, Decimal::FromInt(25)},
                                                     {6, Decimal::FromInt(40)},
                                                     {8, Decimal::FromInt(60)},
                                                     {10, Decimal::FromInt(80)}};
  Decimal gap_red = Decimal::FromInt(20);
  Decimal gap_yellow = Decimal::FromInt(10);
  Decimal min_budget = Decimal::FromInt(500000);  // smaller projects: kNone
};
StatusOr<Light> BudgetLight(const BudgetRule& rule, int month, Decimal executed, Decimal budget);

// The light of one indicator after month (1..12), from the value reached so far:
//   positive (≥, ＞)  progress = actual / (target / 12 × month) × 100: red when
//                     actual is 0 or progress < 60, yellow < 80, green < 120,
//                     blue from 120 (the target may be set too low); target 0:
//                     green only when actual is 0
//   ＝                target 0 as above; else as positive
//   ≤ / ＜            green when actual ≤ / < target, else red
// For 定性 use QualitativeLight.
struct IndicatorRule {
  Decimal red_below = Decimal::FromInt(60);
  Decimal yellow_below = Decimal::FromInt(80);
  Decimal blue_from = Decimal::FromInt(120);
};
StatusOr<Light> IndicatorLight(Operator op, Decimal target, Decimal actual, int month,
                               const IndicatorRule& rule = {});
// 达成目标 green, 部分达成目标并具有一定效果 yellow, 未达成目标且效果较差 red
// (the annual grades above are accepted too).
StatusOr<Light> QualitativeLight(std::string_view grade);

// The project light: the worst of its lights, red > yellow > green > blue
// (kNone ignored; kNone when all are).
Light Worst(const std::vector<Light>& lights);

}  // namespace bpm::perf
