// bpm::perf target quality — the checks a performance-target form (绩效目标,
// DOMAIN.md §3.3–3.4, §4) must pass before a unit submits it and that its
// reviewers see: the faults the seed reviews name ("目标描述模糊", "同质化",
// logical errors in the indicator tree).
//
//   CheckTargetForm   one form on its own: vague or unquantified targets, a
//                     missing output category, no benefit indicator, inputs
//                     used as outputs, weights, level-2 names that do not
//                     belong to their level 1, duplicated rows, impossible
//                     values (a satisfaction target above 100 %).
//   Fingerprint and Similarity
//                     indicator sets copied across projects: the Jaccard
//                     similarity of two forms' normalised indicator rows.
//                     The engine compares a form with the other filings it
//                     stores (the API's TargetService.CheckQuality).
//
// Each finding has a code (kCodes), a severity (error: the form cannot be
// submitted; warning: shown to the filer and the reviewers) and the field it
// concerns ("indicators[2].target"). Every severity, word list and threshold
// is a QualityRules field a workflow's stage config sets
// (target_form.h reads it), so a region sets its own.
// Thread safety: stateless.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/perf/decimal.h"

namespace bpm::perf {

// One level-3 indicator row as filed.
struct TargetIndicator {
  std::string level1;  // 产出指标 | 效益指标 | 满意度指标
  std::string level2;  // 数量, 质量, ... (§4.1)
  std::string name;    // the level-3 indicator
  std::string op;      // ≥ ＞ ＝ ＜ ≤ 定性 (or the ASCII forms ParseOperator reads)
  std::string target;  // the value as text, e.g. "50", "≥90", "按期完成"
  std::string unit;
  std::optional<Decimal> weight;
};

struct TargetForm {
  std::string goal;  // the annual (or overall) goal text
  std::vector<TargetIndicator> indicators;
  // A multi-year project (实施期 over one year) states its mid-term (总体)
  // goal as well as the year's (DOMAIN.md §3.3: 中期/总体目标 and 年度目标).
  int term_years = 1;
  std::string mid_term_goal;
};

enum class Severity { kOff, kWarning, kError };
const char* SeverityName(Severity s);  // "off", "warning", "error"

// The finding codes, with their default severities:
//   unquantified             error    a ≥ ＞ ＝ ＜ ≤ target with no number, or a
//                                     定性 row under 数量 or 成本
//   missing_output_category  error    an output category (数量 质量 时效 成本) with no row
//   no_benefit               error    no 效益指标 row
//   no_satisfaction          off      no 满意度指标 row (warning/error when a region requires it)
//   level_mismatch           error    level 2 not one of its level 1's categories
//   duplicate_indicator      error    the same level-3 name twice
//   weight_missing           error    some rows weighted, others not
//   weight_nonpositive       error    a weight of 0 or less
//   weight_sum               error    the weights do not add up to weight_total
//   impossible_value         error    a percentage target above 100 with ≥ ＞ ＝, or a
//                                     satisfaction target with ≤ ＜
//   input_as_output          warning  an output or benefit row measuring inputs
//                                     (资金, 经费, 人员 ...): "投入不能作为绩效目标"
//   vague_goal               warning  a goal shorter than min_goal_chars, or with no
//                                     number and a vague word (较好, 进一步 ...)
//   vague_target             warning  a 定性 target that is only vague words
//   missing_mid_term_goal    error    a project of more than one year with no
//                                     mid-term (总体) goal
//   too_few_indicators       warning  fewer rows than min_indicators
//   copied                   warning  (Similarity) the same indicator set as a
//                                     project of another department
extern const std::vector<std::string> kCodes;

struct QualityRules {
  // Level 2 categories of each level 1 (§4.1); a row's level 2 must be one,
  // written bare or with 指标 appended (数量 or 数量指标).
  std::map<std::string, std::vector<std::string>> categories = {
      {"产出指标", {"数量", "质量", "时效", "成本", "经济成本", "社会成本", "生态环境成本"}},
      {"效益指标", {"经济效益", "社会效益", "生态效益", "可持续影响"}},
      {"满意度指标", {"服务对象满意度"}},
  };
  std::vector<std::string> output_categories = {"数量", "质量", "时效", "成本"};
  std::vector<std::string> cost_categories = {"成本", "经济成本", "社会成本", "生态环境成本"};
  std::vector<std::string> vague_words = {"较好", "明显", "进一步", "有效", "大幅", "显著",
                                          "逐步", "不断", "基本", "一定程度", "积极", "良好",
                                          "稳步", "持续", "大力", "切实", "努力"};
  std::vector<std::string> input_words = {"资金", "经费", "预算", "投入", "拨付",
                                          "人员", "人力", "财力", "物力", "编制"};
  std::vector<std::string> percent_units = {"%", "％", "百分比"};
  // Unset: weights are optional, but all or none. Set: they must add up to it
  // (100, or 90 when self-evaluation keeps 10 for budget execution).
  std::optional<Decimal> weight_total;
  int min_goal_chars = 10;
  int min_indicators = 0;  // 0: not checked
  // Two forms are copies at this Jaccard similarity or more (0..1) ...
  Decimal copy_similarity = Decimal::FromUnits(8000);  // 0.8
  // ... when each has at least this many rows (small sets match by chance).
  int copy_min_indicators = 4;
  std::map<std::string, Severity> severity;  // overrides of the defaults above

  Severity SeverityOf(const std::string& code) const;
};

struct Finding {
  std::string code;
  Severity severity = Severity::kWarning;
  std::string field;    // "goal", "indicators", "indicators[2].target"
  std::string message;  // Chinese, for the filer
};

// Every finding of the form (severity off left out), in row order.
std::vector<Finding> CheckTargetForm(const TargetForm& form, const QualityRules& rules);

// True when any finding is an error.
bool HasErrors(const std::vector<Finding>& findings);

// The normalised rows of a form: level-3 name without spaces and
// punctuation, operator, target and unit; one string each.
std::set<std::string> Fingerprint(const TargetForm& form);

// |a ∩ b| / |a ∪ b| rounded down to 4 places; 0 when both are empty.
Decimal Similarity(const std::set<std::string>& a, const std::set<std::string>& b);

// Whether a form with fingerprint a copies one with b under the rules
// (size and similarity thresholds).
bool IsCopy(const std::set<std::string>& a, const std::set<std::string>& b,
            const QualityRules& rules);

}  // namespace bpm::perf
