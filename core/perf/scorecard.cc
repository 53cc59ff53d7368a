#include "core/perf/scorecard.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "core/perf/internal/fields.h"

namespace bpm::perf {
namespace {

using ::google::protobuf::Struct;
using ::google::protobuf::Value;

using internal::Get;

// points × num / den, rounded to 0.01 point half up; full points when den is 0.
Decimal Share(Decimal points, int64_t num, int64_t den) {
  if (den <= 0) return points;
  num = std::clamp<int64_t>(num, 0, den);
  // In hundredths of a point: points.units / 100 hundredths.
  const absl::int128 hundredths = absl::int128(points.units()) * num * 2 / (den * 100);
  const int64_t rounded = static_cast<int64_t>((hundredths + 1) / 2);  // half up
  return Decimal::FromUnits(rounded * 100);
}

}  // namespace

const std::vector<std::string> kMetrics = {"target_review_coverage", "self_evaluation_coverage",
                                           "spot_check_accuracy", "rectification_on_time",
                                           "warning_decline"};

Sheet ReadSheet(const Struct& config, ConfigProblems* problems) {
  Sheet sheet;
  if (const Value* t = Get(config, "total"); t != nullptr) {
    auto d = t->kind_case() == Value::kNumberValue ? Decimal::FromDouble(t->number_value(), "total")
                                                   : StatusOr<Decimal>(absl::InvalidArgumentError("total"));
    if (!d.ok() || *d <= Decimal()) {
      problems->emplace_back("total", "must be a positive number.");
    } else {
      sheet.total = *d;
    }
  }
  const Value* items = Get(config, "items");
  if (items == nullptr || items->kind_case() != Value::kListValue ||
      items->list_value().values_size() == 0) {
    problems->emplace_back("items", "is required: list the sheet's items ({id, name, points, metric | manual}).");
    return sheet;
  }
  std::set<std::string> ids;
  int64_t sum = 0;
  for (int i = 0; i < items->list_value().values_size(); ++i) {
    const std::string path = absl::StrCat("items[", i, "]");
    const Value& v = items->list_value().values(i);
    if (v.kind_case() != Value::kStructValue) {
      problems->emplace_back(path, "must be a mapping {id, name, points, metric | manual}.");
      continue;
    }
    const Struct& s = v.struct_value();
    for (const auto& [key, value] : s.fields()) {
      if (key != "id" && key != "name" && key != "points" && key != "metric" && key != "manual") {
        problems->emplace_back(path + "." + key, "is not an item setting (id, name, points, metric, manual).");
      }
    }
    ScoreItem item;
    const Value* id = Get(s, "id");
    if (id == nullptr || !id->has_string_value() || id->string_value().empty()) {
      problems->emplace_back(path + ".id", "is required.");
    } else if (!ids.insert(id->string_value()).second) {
      problems->emplace_back(path + ".id", "repeats '" + id->string_value() + "'; ids must be unique.");
    } else {
      item.id = id->string_value();
    }
    const Value* name = Get(s, "name");
    item.name = name != nullptr && name->has_string_value() ? name->string_value() : item.id;
    const Value* points = Get(s, "points");
    auto p = points != nullptr && points->kind_case() == Value::kNumberValue
                 ? Decimal::FromDouble(points->number_value(), "points")
                 : StatusOr<Decimal>(absl::InvalidArgumentError("points"));
    if (!p.ok() || *p <= Decimal()) {
      problems->emplace_back(path + ".points", "must be a number greater than 0.");
    } else {
      item.points = *p;
      sum += p->units();
    }
    const Value* metric = Get(s, "metric");
    const Value* manual = Get(s, "manual");
    const bool is_manual = manual != nullptr && manual->kind_case() == Value::kBoolValue && manual->bool_value();
    if (metric != nullptr && is_manual) {
      problems->emplace_back(path, "is either computed (metric) or manual, not both.");
    } else if (metric != nullptr) {
      if (!metric->has_string_value() ||
          std::find(kMetrics.begin(), kMetrics.end(), metric->string_value()) == kMetrics.end()) {
        problems->emplace_back(path + ".metric", "must be one of target_review_coverage, "
                                                 "self_evaluation_coverage, spot_check_accuracy, "
                                                 "rectification_on_time, warning_decline.");
      } else {
        item.metric = metric->string_value();
      }
    } else if (!is_manual) {
      problems->emplace_back(path, "needs a metric, or manual: true.");
    }
    sheet.items.push_back(std::move(item));
  }
  if (problems->empty() && sum != sheet.total.units()) {
    problems->emplace_back("items", "points add up to " + Decimal::FromUnits(sum).ToString() +
                                        ", not the total " + sheet.total.ToString() + ".");
  }
  return sheet;
}

Decimal MetricPoints(const std::string& metric, Decimal points, const DepartmentFigures& f,
                     std::string* basis) {
  int64_t num = 0, den = 0;
  if (metric == "target_review_coverage") {
    num = f.targets_reviewed;
    den = f.targets_started;
  } else if (metric == "self_evaluation_coverage") {
    num = std::min(f.self_evaluations, f.targets_reviewed);
    den = f.targets_reviewed;
  } else if (metric == "spot_check_accuracy") {
    num = f.spot_sampled - f.spot_flagged;
    den = f.spot_sampled;
  } else if (metric == "rectification_on_time") {
    num = f.rectified_on_time;
    den = f.rectifications;
  } else if (metric == "warning_decline") {
    num = f.warned_first_round - f.warned_last_round;
    den = f.warned_first_round;
  }
  const Decimal out = Share(points, num, den);
  *basis = den <= 0 ? "无考核对象，得满分"
                    : absl::StrCat(std::clamp<int64_t>(num, 0, den), "/", den, " × ", points.ToString());
  return out;
}

}  // namespace bpm::perf
