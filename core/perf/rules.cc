#include "core/perf/rules.h"

#include <algorithm>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace bpm::perf {
namespace {
// absl::StrCat takes absl::string_view, which is not std::string_view here.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }
}  // namespace
namespace {

using Wide = absl::int128;
constexpr int64_t kScale = Decimal::kScale;
constexpr int64_t kCent = kScale / 100;  // 0.01 in units

Wide W(Decimal d) { return Wide(d.units()); }

// num / den × weight rounded half up to 0.01; num ≥ 0, den > 0, weight ≥ 0.
Decimal Scaled(Decimal num, Decimal den, Decimal weight) {
  // result.units = num.units / den.units × weight.units; counted in cents.
  const Wide r = W(num) * W(weight);
  const Wide d = W(den) * kCent;
  const Wide cents = (2 * r + d) / (2 * d);  // half up
  return Decimal::FromUnits(static_cast<int64_t>(cents * kCent));
}

Status CheckMonth(int month) {
  if (month < 1 || month > 12) {
    return absl::InvalidArgumentError(absl::StrCat("month: ", month, " is not in 1..12"));
  }
  return absl::OkStatus();
}

Status NotNegative(Decimal d, std::string_view what) {
  if (d < Decimal()) {
    return absl::InvalidArgumentError(absl::StrCat(Sv(what), ": ", d.ToString(), " is negative"));
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<Operator> ParseOperator(std::string_view text, std::string_view what) {
  static const std::pair<std::string_view, Operator> kNames[] = {
      {"≥", Operator::kGe}, {">=", Operator::kGe}, {"＞", Operator::kGt}, {">", Operator::kGt},
      {"＝", Operator::kEq}, {"=", Operator::kEq}, {"＜", Operator::kLt}, {"<", Operator::kLt},
      {"≤", Operator::kLe}, {"<=", Operator::kLe}, {"定性", Operator::kQualitative},
  };
  for (const auto& [name, op] : kNames) {
    if (text == name) return op;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(Sv(what), ": '", Sv(text), "' is not one of ≥ ＞ ＝ ＜ ≤ 定性 (or >= > = < <=)"));
}

const char* OperatorSymbol(Operator op) {
  switch (op) {
    case Operator::kGe: return "≥";
    case Operator::kGt: return "＞";
    case Operator::kEq: return "＝";
    case Operator::kLt: return "＜";
    case Operator::kLe: return "≤";
    case Operator::kQualitative: return "定性";
  }
  return "?";
}

StatusOr<Decimal> IndicatorScore(Operator op, Decimal target, Decimal actual, Decimal weight) {
  BPM_RETURN_IF_ERROR(NotNegative(target, "target"));
  BPM_RETURN_IF_ERROR(NotNegative(weight, "weight"));
  const Decimal zero;
  switch (op) {
    case Operator::kQualitative:
      return absl::InvalidArgumentError(
          "operator: 定性 indicators are scored by the evaluator within their band");
    case Operator::kEq:
    case Operator::kGe:
    case Operator::kGt:
      if (target.is_zero()) return actual <= zero ? weight : zero;
      if (actual >= target) return weight;
      if (actual <= zero) return zero;
      return Scaled(actual, target, weight);
    case Operator::kLe:
    case Operator::kLt: {
      if (target.is_zero()) return actual <= zero ? weight : zero;
      if (actual <= target) return weight;
      const Decimal twice = Decimal::FromUnits(2 * target.units());
      if (actual >= twice) return zero;
      return Scaled(Decimal::FromUnits(twice.units() - actual.units()), target, weight);
    }
  }
  return absl::InvalidArgumentError("operator: unknown");
}

Status CheckQualitativeScore(std::string_view grade, Decimal score, Decimal weight,
                             const QualitativeBands& bands) {
  BPM_RETURN_IF_ERROR(NotNegative(score, "score"));
  BPM_RETURN_IF_ERROR(NotNegative(weight, "weight"));
  // score / weight × 100 against a percentage p: score × 100 vs p × weight.
  auto at_least = [&](Decimal pct) { return W(score) * 100 * kScale >= W(pct) * W(weight); };
  const bool within_weight = score <= weight;
  bool ok = false;
  std::string band;
  if (grade == kAchieved) {
    ok = at_least(bands.achieved) && within_weight;
    band = absl::StrCat("[", bands.achieved.ToString(), "%, 100%]");
  } else if (grade == kPartlyAchieved) {
    ok = at_least(bands.partial) && !at_least(bands.achieved);
    band = absl::StrCat("[", bands.partial.ToString(), "%, ", bands.achieved.ToString(), "%)");
  } else if (grade == kNotAchieved) {
    ok = !at_least(bands.partial);
    band = absl::StrCat("[0, ", bands.partial.ToString(), "%)");
  } else {
    return absl::InvalidArgumentError(absl::StrCat("grade: '", Sv(grade), "' is not one of ", kAchieved,
                                                   ", ", kPartlyAchieved, ", ", kNotAchieved));
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "score: ", score.ToString(), " of weight ", weight.ToString(), " is outside the band ",
        band, " of the weight for ", Sv(grade)));
  }
  return absl::OkStatus();
}

Decimal ExecutionScore(Decimal executed, Decimal budget, Decimal block_weight) {
  const Decimal zero;
  if (budget <= zero || executed <= zero || block_weight <= zero) return zero;
  if (executed >= budget) return block_weight;
  return Scaled(executed, budget, block_weight);
}

const char* Grade(Decimal score, const GradeBands& bands) {
  if (score >= bands.excellent) return "优";
  if (score >= bands.good) return "良";
  if (score >= bands.pass) return "中";
  return "差";
}

StatusOr<SelfEvaluation> SelfEvaluate(const std::vector<ScoredIndicator>& indicators,
                                      Decimal execution_score, const GradeBands& bands) {
  BPM_RETURN_IF_ERROR(NotNegative(execution_score, "execution score"));
  int64_t total = execution_score.units();
  for (size_t i = 0; i < indicators.size(); ++i) {
    const std::string what = absl::StrCat("indicators[", i, "]");
    BPM_RETURN_IF_ERROR(NotNegative(indicators[i].score, what + ".score"));
    BPM_RETURN_IF_ERROR(NotNegative(indicators[i].weight, what + ".weight"));
    total += std::min(indicators[i].score, indicators[i].weight).units();
  }
  SelfEvaluation out;
  out.total = std::min(Decimal::FromUnits(total), Decimal::FromInt(100));
  out.grade = Grade(out.total, bands);
  return out;
}

const char* ExAnteConclusion(Decimal score, const ExAnteBands& bands) {
  if (score >= bands.support) return "支持";
  if (score >= bands.adjust) return "调整完善后支持";
  return "不予支持";
}

const char* LightName(Light light) {
  switch (light) {
    case Light::kNone: return "none";
    case Light::kBlue: return "blue";
    case Light::kGreen: return "green";
    case Light::kYellow: return "yellow";
    case Light::kRed: return "red";
  }
  return "?";
}

StatusOr<Light> BudgetLight(const BudgetRule& rule, int month, Decimal executed, Decimal budget) {
  BPM_RETURN_IF_ERROR(CheckMonth(month));
  BPM_RETURN_IF_ERROR(NotNegative(budget, "budget"));
  if (budget < rule.min_budget || budget.is_zero()) return Light::kNone;
  const Wide e = W(std::max(executed, Decimal()));
  const Wide b = W(budget);
  switch (rule.kind) {
    case BudgetRule::Kind::kRatio: {
      // ratio = (e / b) / (month / 12) × 100 = 1200 e / (b month); against a
      // threshold t (in units): 1200 e kScale < t b month.
      auto below = [&](Decimal t) { return 1200 * e * kScale < W(t) * b * month; };
      if (below(rule.red_below)) return Light::kRed;
      if (below(rule.yellow_below)) return Light::kYellow;
      return Light::kGreen;
    }
    case BudgetRule::Kind::kMilestones: {
      const std::pair<int, Decimal>* reached = nullptr;
      for (const auto& m : rule.milestones) {
        if (m.first <= month && (reached == nullptr || m.first > reached->first)) reached = &m;
      }
      if (reached == nullptr) return Light::kGreen;
      // rate % = e / b × 100 < pct: 100 e kScale < pct b.
      return 100 * e * kScale < W(reached->second) * b ? Light::kRed : Light::kGreen;
    }
    case BudgetRule::Kind::kGap: {
      // gap = month / 12 × 100 − e / b × 100 > g  ⇔  (100 month b − 1200 e) kScale > 12 b g.
      const Wide lhs = (100 * month * b - 1200 * e) * kScale;
      if (lhs > 12 * b * W(rule.gap_red)) return Light::kRed;
      if (lhs > 12 * b * W(rule.gap_yellow)) return Light::kYellow;
      return Light::kGreen;
    }
  }
  return absl::InvalidArgumentError("rule: unknown kind");
}

StatusOr<Light> IndicatorLight(Operator op, Decimal target, Decimal actual, int month,
                               const IndicatorRule& rule) {
  BPM_RETURN_IF_ERROR(CheckMonth(month));
  BPM_RETURN_IF_ERROR(NotNegative(target, "target"));
  switch (op) {
    case Operator::kQualitative:
      return absl::InvalidArgumentError("operator: 定性 indicators take QualitativeLight");
    case Operator::kLe:
      return actual <= target ? Light::kGreen : Light::kRed;
    case Operator::kLt:
      return actual < target ? Light::kGreen : Light::kRed;
    case Operator::kEq:
    case Operator::kGe:
    case Operator::kGt: {
      if (target.is_zero()) return actual.is_zero() ? Light::kGreen : Light::kRed;
      if (actual <= Decimal()) return Light::kRed;
      // progress = actual / (target / 12 × month) × 100 = 1200 a / (t month);
      // against p (units): 1200 a kScale vs p t month.
      const Wide lhs = 1200 * W(actual) * kScale;
      auto rhs = [&](Decimal p) { return W(p) * W(target) * month; };
      if (lhs < rhs(rule.red_below)) return Light::kRed;
      if (lhs < rhs(rule.yellow_below)) return Light::kYellow;
      if (lhs < rhs(rule.blue_from)) return Light::kGreen;
      return Light::kBlue;
    }
  }
  return absl::InvalidArgumentError("operator: unknown");
}

StatusOr<Light> QualitativeLight(std::string_view grade) {
  if (grade == "达成目标" || grade == kAchieved) return Light::kGreen;
  if (grade == "部分达成目标并具有一定效果" || grade == kPartlyAchieved) return Light::kYellow;
  if (grade == "未达成目标且效果较差" || grade == kNotAchieved) return Light::kRed;
  return absl::InvalidArgumentError(absl::StrCat(
      "grade: '", Sv(grade), "' is not one of 达成目标, 部分达成目标并具有一定效果, 未达成目标且效果较差"));
}

Light Worst(const std::vector<Light>& lights) {
  // Severity: none < blue < green < yellow < red (the enum's order).
  Light worst = Light::kNone;
  for (Light l : lights) worst = std::max(worst, l);
  return worst;
}

}  // namespace bpm::perf
