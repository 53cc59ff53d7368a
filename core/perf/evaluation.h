// bpm::perf key evaluation (重点绩效评价, DOMAIN.md §4.2, §5.5, §6.2): the
// 决策 / 过程 / 产出 / 效益 indicator sheet, its weight rules and the weighted
// score. Used by the evaluation stage plugin (an evaluation team's own
// scoring: 部门评价, or 财政评价 by finance) and by the agency rules (a
// third party's scored report), so both hold sheets to the same rules.
//
// A sheet lists {code, level1, level2, name, weight}:
//   level1   one of kEvaluationLevel1 (决策 过程 产出 效益)
//   weight   points > 0, at most 2 decimals; the weights add up to 100
// and 产出 + 效益 weigh at least min_output_benefit (default 60: the
// 财预〔2020〕10号 principle; mid-term evaluations may weigh decision and
// process more, but not below it).
//
// A score gives every indicator 0..its weight (at most 2 decimals); the total
// is the sum, graded 优/良/中/差 by the half-open bands of rules.h.
// Thread safety: stateless.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/perf/decimal.h"
#include "core/perf/rules.h"
#include "core/perf/target_form.h"  // ConfigProblems
#include "google/protobuf/struct.pb.h"

namespace bpm::perf {

extern const std::vector<std::string> kEvaluationLevel1;  // 决策 过程 产出 效益

struct EvaluationIndicator {
  std::string code;
  std::string level1;
  std::string level2;
  std::string name;
  Decimal weight;
};

struct EvaluationSheet {
  std::vector<EvaluationIndicator> indicators;
  Decimal min_output_benefit = Decimal::FromInt(60);
};

// The weight rules over (level1, weight) pairs: "" when they hold, else the
// problem ("weights add up to 95, not 100", "产出 + 效益 weigh 50; ...").
std::string EvaluationWeightProblem(const std::vector<std::pair<std::string, Decimal>>& weights,
                                    Decimal min_output_benefit);

// config["sheet"] (a list) and config["min_output_benefit"]; problems with
// paths "sheet[2].weight", "sheet".
EvaluationSheet ReadEvaluationSheet(const google::protobuf::Struct& config,
                                    ConfigProblems* problems);

struct EvaluationResult {
  Decimal total;
  std::vector<std::pair<std::string, Decimal>> by_level1;  // score per level 1, sheet order
  std::vector<std::pair<std::string, Decimal>> scores;     // per code, sheet order
  std::string grade;
};

// Scores a sheet: scores["CODE"] for each indicator (a number or a decimal
// string). problems (paths "scores.CODE") for a missing, unknown, negative,
// over-weight or over-precise score; the result is meaningful only without.
EvaluationResult ScoreEvaluation(const EvaluationSheet& sheet,
                                 const google::protobuf::Struct& scores, const GradeBands& bands,
                                 ConfigProblems* problems);

}  // namespace bpm::perf
