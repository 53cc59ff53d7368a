#include "core/perf/evaluation.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/perf/decimal_value.h"
#include "core/perf/internal/fields.h"

namespace bpm::perf {
namespace {

using ::google::protobuf::Struct;
using ::google::protobuf::Value;

using internal::Get;

std::string Text(const Struct& s, const std::string& key) {
  const Value* v = Get(s, key);
  return v != nullptr && v->kind_case() == Value::kStringValue ? v->string_value() : "";
}

// A number or decimal string with at most 2 decimals.
bool Points(const Value* v, Decimal* out) {
  if (v == nullptr) return false;
  StatusOr<Decimal> d = DecimalOf(*v, "points");
  if (!d.ok() || d->units() % 100 != 0) return false;
  *out = *d;
  return true;
}

}  // namespace

const std::vector<std::string> kEvaluationLevel1 = {"决策", "过程", "产出", "效益"};

std::string EvaluationWeightProblem(const std::vector<std::pair<std::string, Decimal>>& weights,
                                    Decimal min_output_benefit) {
  int64_t total = 0, output_benefit = 0;
  for (const auto& [level1, weight] : weights) {
    total += weight.units();
    if (level1 == "产出" || level1 == "效益") output_benefit += weight.units();
  }
  if (total != Decimal::FromInt(100).units()) {
    return absl::StrCat("weights add up to ", Decimal::FromUnits(total).ToString(), ", not 100");
  }
  if (output_benefit < min_output_benefit.units()) {
    return absl::StrCat("产出 + 效益 weigh ", Decimal::FromUnits(output_benefit).ToString(),
                        "; they must be at least ", min_output_benefit.ToString(),
                        " (财预〔2020〕10号)");
  }
  return "";
}

EvaluationSheet ReadEvaluationSheet(const Struct& config, ConfigProblems* problems) {
  EvaluationSheet sheet;
  if (const Value* m = Get(config, "min_output_benefit")) {
    Decimal min;
    if (!Points(m, &min) || min < Decimal() || min > Decimal::FromInt(100)) {
      problems->emplace_back("min_output_benefit", "must be a number from 0 to 100.");
    } else {
      sheet.min_output_benefit = min;
    }
  }
  const Value* list = Get(config, "sheet");
  if (list == nullptr || list->kind_case() != Value::kListValue ||
      list->list_value().values_size() == 0) {
    problems->emplace_back("sheet", "is required: a list of {code, level1, level2, name, weight}.");
    return sheet;
  }
  std::set<std::string> codes;
  std::vector<std::pair<std::string, Decimal>> weights;
  for (int i = 0; i < list->list_value().values_size(); ++i) {
    const Value& v = list->list_value().values(i);
    const std::string path = absl::StrCat("sheet[", i, "]");
    if (v.kind_case() != Value::kStructValue) {
      problems->emplace_back(path, "must be {code, level1, level2, name, weight}.");
      continue;
    }
    const Struct& s = v.struct_value();
    for (const auto& [key, value] : s.fields()) {
      if (key != "code" && key != "level1" && key != "level2" && key != "name" && key != "weight") {
        problems->emplace_back(path + "." + key, "is not a column; use code, level1, level2, name, weight.");
      }
    }
    EvaluationIndicator ind{Text(s, "code"), Text(s, "level1"), Text(s, "level2"), Text(s, "name"),
                            Decimal()};
    if (ind.code.empty() || !codes.insert(ind.code).second) {
      problems->emplace_back(path + ".code", "'" + ind.code + "' is empty or used twice.");
    }
    if (std::find(kEvaluationLevel1.begin(), kEvaluationLevel1.end(), ind.level1) ==
        kEvaluationLevel1.end()) {
      problems->emplace_back(path + ".level1",
                             "'" + ind.level1 + "' is not one of 决策, 过程, 产出, 效益.");
    }
    if (ind.name.empty()) problems->emplace_back(path + ".name", "is required.");
    if (!Points(Get(s, "weight"), &ind.weight) || ind.weight <= Decimal()) {
      problems->emplace_back(path + ".weight", "must be a number greater than 0 with at most 2 decimals.");
      continue;
    }
    weights.emplace_back(ind.level1, ind.weight);
    sheet.indicators.push_back(std::move(ind));
  }
  if (problems->empty()) {
    const std::string problem = EvaluationWeightProblem(weights, sheet.min_output_benefit);
    if (!problem.empty()) problems->emplace_back("sheet", problem + ".");
  }
  return sheet;
}

EvaluationResult ScoreEvaluation(const EvaluationSheet& sheet, const Struct& scores,
                                 const GradeBands& bands, ConfigProblems* problems) {
  EvaluationResult out;
  std::set<std::string> known;
  std::map<std::string, int64_t> level1;
  int64_t total = 0;
  for (const EvaluationIndicator& ind : sheet.indicators) {
    known.insert(ind.code);
    const std::string path = "scores." + ind.code;
    Decimal s;
    if (!Points(Get(scores, ind.code), &s)) {
      problems->emplace_back(path, Get(scores, ind.code) == nullptr
                                       ? "is required (" + ind.name + ")"
                                       : "must be a number with at most 2 decimals");
      continue;
    }
    if (s < Decimal() || s > ind.weight) {
      problems->emplace_back(path, absl::StrCat("must be from 0 to the weight ", ind.weight.ToString()));
      continue;
    }
    total += s.units();
    level1[ind.level1] += s.units();
    out.scores.emplace_back(ind.code, s);
  }
  for (const auto& [code, value] : scores.fields()) {
    if (!known.count(code)) problems->emplace_back("scores." + code, "is not an indicator of the sheet");
  }
  out.total = Decimal::FromUnits(total);
  for (const std::string& l1 : kEvaluationLevel1) {
    auto it = level1.find(l1);
    if (it != level1.end()) out.by_level1.emplace_back(l1, Decimal::FromUnits(it->second));
  }
  out.grade = Grade(out.total, bands);
  return out;
}

}  // namespace bpm::perf
