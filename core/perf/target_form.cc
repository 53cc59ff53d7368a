#include "core/perf/target_form.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/perf/decimal_value.h"
#include "core/perf/internal/fields.h"

namespace bpm::perf {
namespace {

using ::google::protobuf::ListValue;
using ::google::protobuf::Struct;
using ::google::protobuf::Value;

using internal::Get;

std::string Text(const Struct& s, const std::string& key) {
  const Value* v = Get(s, key);
  if (v == nullptr) return "";
  if (v->kind_case() == Value::kStringValue) return v->string_value();
  if (v->kind_case() == Value::kNumberValue) {
    auto d = Decimal::FromDouble(v->number_value(), key);
    return d.ok() ? d->ToString() : "";
  }
  return "";
}

void Strings(const Struct& q, const std::string& key, std::vector<std::string>* out,
             ConfigProblems* problems) {
  const Value* v = Get(q, key);
  if (v == nullptr) return;
  const std::string path = "quality." + key;
  if (v->kind_case() != Value::kListValue) {
    problems->emplace_back(path, "must be a list of strings.");
    return;
  }
  out->clear();
  for (int i = 0; i < v->list_value().values_size(); ++i) {
    const Value& e = v->list_value().values(i);
    if (e.kind_case() != Value::kStringValue || e.string_value().empty()) {
      problems->emplace_back(absl::StrCat(path, "[", i, "]"), "must be a non-empty string.");
      continue;
    }
    out->push_back(e.string_value());
  }
}

void Integer(const Struct& q, const std::string& key, int max, int* out, ConfigProblems* problems) {
  const Value* v = Get(q, key);
  if (v == nullptr) return;
  if (v->kind_case() != Value::kNumberValue || v->number_value() != std::floor(v->number_value()) ||
      v->number_value() < 0 || v->number_value() > max) {
    problems->emplace_back("quality." + key, absl::StrCat("must be an integer from 0 to ", max, "."));
    return;
  }
  *out = static_cast<int>(v->number_value());
}

void FieldName(const Struct& q, const std::string& key, std::string* out, ConfigProblems* problems) {
  const Value* v = Get(q, key);
  if (v == nullptr) return;
  if (v->kind_case() != Value::kStringValue || v->string_value().empty()) {
    problems->emplace_back("quality." + key, "must be the name of a form field.");
    return;
  }
  *out = v->string_value();
}

}  // namespace

QualityConfig ReadQualityConfig(const Struct& stage_config, ConfigProblems* problems) {
  QualityConfig c;
  const Value* block = Get(stage_config, "quality");
  if (block == nullptr) return c;
  if (block->kind_case() != Value::kStructValue) {
    problems->emplace_back("quality", "must be a mapping of quality-check settings.");
    return c;
  }
  const Struct& q = block->struct_value();
  static const std::vector<std::string> kKeys = {
      "goal_field",     "indicators_field", "output_categories",   "vague_words",
      "input_words",    "categories",       "weight_total",        "min_goal_chars",
      "min_indicators", "copy_similarity",  "copy_min_indicators", "severity",
      "term_field",     "mid_term_goal_field"};
  for (const auto& [key, value] : q.fields()) {
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
      problems->emplace_back("quality." + key, "is not a quality setting.");
    }
  }
  FieldName(q, "goal_field", &c.goal_field, problems);
  FieldName(q, "indicators_field", &c.indicators_field, problems);
  FieldName(q, "term_field", &c.term_field, problems);
  FieldName(q, "mid_term_goal_field", &c.mid_term_goal_field, problems);
  if (c.term_field.empty() != c.mid_term_goal_field.empty()) {
    problems->emplace_back(c.term_field.empty() ? "quality.mid_term_goal_field" : "quality.term_field",
                           "goes with term_field and mid_term_goal_field both set.");
  }
  QualityRules& r = c.rules;
  Strings(q, "output_categories", &r.output_categories, problems);
  Strings(q, "vague_words", &r.vague_words, problems);
  Strings(q, "input_words", &r.input_words, problems);
  if (const Value* v = Get(q, "categories"); v != nullptr) {
    if (v->kind_case() != Value::kStructValue || v->struct_value().fields().empty()) {
      problems->emplace_back("quality.categories", "must map each level-1 name to its level-2 names.");
    } else {
      r.categories.clear();
      for (const auto& [level1, list] : v->struct_value().fields()) {
        std::vector<std::string> names;
        Struct one;
        (*one.mutable_fields())[level1] = list;
        Strings(one, level1, &names, problems);
        r.categories[level1] = names;
      }
    }
  }
  if (const Value* v = Get(q, "weight_total"); v != nullptr) {
    auto d = v->kind_case() == Value::kNumberValue ? Decimal::FromDouble(v->number_value(), "x")
                                                   : StatusOr<Decimal>(absl::InvalidArgumentError("x"));
    if (!d.ok() || *d <= Decimal() || *d > Decimal::FromInt(100)) {
      problems->emplace_back("quality.weight_total", "must be a number in (0, 100].");
    } else {
      r.weight_total = *d;
    }
  }
  Integer(q, "min_goal_chars", 1000, &r.min_goal_chars, problems);
  Integer(q, "min_indicators", 200, &r.min_indicators, problems);
  Integer(q, "copy_min_indicators", 200, &r.copy_min_indicators, problems);
  if (const Value* v = Get(q, "copy_similarity"); v != nullptr) {
    auto d = v->kind_case() == Value::kNumberValue ? Decimal::FromDouble(v->number_value(), "x")
                                                   : StatusOr<Decimal>(absl::InvalidArgumentError("x"));
    if (!d.ok() || *d <= Decimal() || *d > Decimal::FromInt(1)) {
      problems->emplace_back("quality.copy_similarity", "must be a number in (0, 1].");
    } else {
      r.copy_similarity = *d;
    }
  }
  if (const Value* v = Get(q, "severity"); v != nullptr) {
    if (v->kind_case() != Value::kStructValue) {
      problems->emplace_back("quality.severity", "must map finding codes to error, warning or off.");
    } else {
      for (const auto& [code, level] : v->struct_value().fields()) {
        const std::string path = "quality.severity." + code;
        if (std::find(kCodes.begin(), kCodes.end(), code) == kCodes.end()) {
          problems->emplace_back(path, "is not a finding code (see target_quality.h).");
          continue;
        }
        const std::string s = level.kind_case() == Value::kStringValue ? level.string_value() : "";
        if (s == "error") {
          r.severity[code] = Severity::kError;
        } else if (s == "warning") {
          r.severity[code] = Severity::kWarning;
        } else if (s == "off") {
          r.severity[code] = Severity::kOff;
        } else {
          problems->emplace_back(path, "must be error, warning or off.");
        }
      }
    }
  }
  return c;
}

TargetForm ReadTargetForm(const Struct& form, const QualityConfig& config) {
  TargetForm out;
  out.goal = Text(form, config.goal_field);
  if (!config.term_field.empty()) {
    const Value* years = Get(form, config.term_field);
    if (years != nullptr && years->kind_case() == Value::kNumberValue &&
        years->number_value() >= 1 && years->number_value() <= 100) {
      out.term_years = static_cast<int>(years->number_value());
    }
    out.mid_term_goal = Text(form, config.mid_term_goal_field);
  }
  const Value* rows = Get(form, config.indicators_field);
  if (rows == nullptr || rows->kind_case() != Value::kListValue) return out;
  for (const Value& v : rows->list_value().values()) {
    TargetIndicator row;
    if (v.kind_case() == Value::kStructValue) {
      const Struct& s = v.struct_value();
      row.level1 = Text(s, "level1");
      row.level2 = Text(s, "level2");
      row.name = Text(s, "name");
      row.op = Text(s, "operator");
      row.target = Text(s, "target");
      row.unit = Text(s, "unit");
      if (const Value* w = Get(s, "weight"); w != nullptr) {
        if (StatusOr<Decimal> d = DecimalOf(*w, "weight"); d.ok()) row.weight = *d;
      }
    }
    out.indicators.push_back(std::move(row));
  }
  return out;
}

std::string FormPath(const QualityConfig& config, const std::string& field) {
  if (field == "goal") return config.goal_field;
  if (field == "mid_term_goal" && !config.mid_term_goal_field.empty()) {
    return config.mid_term_goal_field;
  }
  static const std::string kIndicators = "indicators";
  if (field.compare(0, kIndicators.size(), kIndicators) == 0) {
    return config.indicators_field + field.substr(kIndicators.size());
  }
  return field;
}

Struct FindingsToStruct(const std::vector<Finding>& findings, const QualityConfig& config) {
  Struct out;
  int errors = 0, warnings = 0;
  ListValue list;
  for (const Finding& f : findings) {
    (f.severity == Severity::kError ? errors : warnings) += 1;
    Struct one;
    auto& m = *one.mutable_fields();
    m["code"].set_string_value(f.code);
    m["severity"].set_string_value(SeverityName(f.severity));
    m["field"].set_string_value(FormPath(config, f.field));
    m["message"].set_string_value(f.message);
    *list.add_values()->mutable_struct_value() = std::move(one);
  }
  auto& m = *out.mutable_fields();
  m["errors"].set_number_value(errors);
  m["warnings"].set_number_value(warnings);
  *m["findings"].mutable_list_value() = std::move(list);
  return out;
}

std::optional<AdjustmentRules> ReadAdjustmentRules(const Struct& stage_config,
                                                   ConfigProblems* problems) {
  const Value* block = Get(stage_config, "adjustment");
  if (block == nullptr) return std::nullopt;
  AdjustmentRules rules;
  if (block->kind_case() != Value::kStructValue) {
    problems->emplace_back("adjustment", "must be an object {window_until, per_year, replace_original}.");
    return rules;
  }
  const Struct& a = block->struct_value();
  for (const auto& [key, value] : a.fields()) {
    if (key != "window_until" && key != "per_year" && key != "replace_original") {
      problems->emplace_back("adjustment." + key,
                             "is not a setting; use window_until, per_year, replace_original.");
    }
  }
  if (const Value* w = Get(a, "window_until")) {
    const std::string text = w->kind_case() == Value::kStringValue ? w->string_value() : "";
    int month = 0, day = 0;
    const bool shaped = text.size() == 5 && text[2] == '-' &&
                        std::all_of(text.begin(), text.begin() + 2, ::isdigit) &&
                        std::all_of(text.begin() + 3, text.end(), ::isdigit);
    if (shaped) {
      month = std::stoi(text.substr(0, 2));
      day = std::stoi(text.substr(3, 2));
    }
    static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!shaped || month < 1 || month > 12 || day < 1 || day > kDays[month - 1]) {
      problems->emplace_back("adjustment.window_until",
                             "must be a month and day \"MM-DD\", e.g. \"09-30\".");
    } else {
      rules.window_until = text;
    }
  }
  if (const Value* n = Get(a, "per_year")) {
    if (n->kind_case() != Value::kNumberValue || n->number_value() < 0 ||
        n->number_value() > 12 || n->number_value() != std::floor(n->number_value())) {
      problems->emplace_back("adjustment.per_year", "must be a whole number from 0 (no limit) to 12.");
    } else {
      rules.per_year = static_cast<int>(n->number_value());
    }
  }
  if (const Value* r = Get(a, "replace_original")) {
    if (r->kind_case() != Value::kBoolValue) {
      problems->emplace_back("adjustment.replace_original", "must be true or false.");
    } else {
      rules.replace_original = r->bool_value();
    }
  }
  return rules;
}

std::optional<HistoryRules> ReadHistoryRules(const Struct& stage_config,
                                             ConfigProblems* problems) {
  const Value* block = Get(stage_config, "history");
  if (block == nullptr) return std::nullopt;
  HistoryRules rules;
  if (block->kind_case() != Value::kStructValue) {
    problems->emplace_back("history",
                           "must be an object {previous_variable, amount_field, "
                           "block_on_ex_ante, rectified_adjustment, ex_ante_required_from, "
                           "ex_ante_continuing}.");
    return rules;
  }
  const Struct& h = block->struct_value();
  static const std::set<std::string> kKeys = {
      "previous_variable",    "amount_field",          "block_on_ex_ante",
      "rectified_adjustment", "ex_ante_required_from", "ex_ante_continuing"};
  for (const auto& [key, value] : h.fields()) {
    if (kKeys.count(key) == 0) {
      problems->emplace_back("history." + key,
                             "is not a setting; use previous_variable, amount_field, "
                             "block_on_ex_ante, rectified_adjustment, ex_ante_required_from, "
                             "ex_ante_continuing.");
    }
  }
  for (auto [key, out] : {std::pair<const char*, std::string*>{"previous_variable",
                                                               &rules.previous_variable},
                          {"amount_field", &rules.amount_field}}) {
    const Value* v = Get(h, key);
    if (v == nullptr) continue;
    if (v->kind_case() != Value::kStringValue || v->string_value().empty()) {
      problems->emplace_back(absl::StrCat("history.", key), "must be a non-empty name.");
    } else {
      *out = v->string_value();
    }
  }
  for (auto [key, out] : {std::pair<const char*, bool*>{"block_on_ex_ante", &rules.block_on_ex_ante},
                          {"ex_ante_continuing", &rules.ex_ante_continuing}}) {
    const Value* b = Get(h, key);
    if (b == nullptr) continue;
    if (b->kind_case() != Value::kBoolValue) {
      problems->emplace_back(absl::StrCat("history.", key), "must be true or false.");
    } else {
      *out = b->bool_value();
    }
  }
  if (const Value* v = Get(h, "ex_ante_required_from")) {
    StatusOr<Decimal> d = DecimalOf(*v, "ex_ante_required_from");
    if (!d.ok() || *d < Decimal()) {
      problems->emplace_back("history.ex_ante_required_from",
                             "must be an amount in yuan, 0 or more (e.g. 5000000).");
    } else {
      rules.ex_ante_required_from = *d;
    }
  }
  if (const Value* n = Get(h, "rectified_adjustment")) {
    if (n->kind_case() != Value::kNumberValue || n->number_value() < -99 ||
        n->number_value() > 0 || n->number_value() != std::floor(n->number_value())) {
      problems->emplace_back("history.rectified_adjustment",
                             "must be a whole percentage from -99 to 0.");
    } else {
      rules.rectified_adjustment = static_cast<int>(n->number_value());
    }
  }
  return rules;
}

}  // namespace bpm::perf
