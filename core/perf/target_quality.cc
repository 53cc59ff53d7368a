#include "core/perf/target_quality.h"

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/perf/rules.h"

namespace bpm::perf {
namespace {

// No heap-allocated statics here: this code is linked into stage plugins,
// which bpmd unloads (dlclose), and a leaked `new` there is a leak report.
struct DefaultSeverity {
  const char* code;
  Severity severity;
};
constexpr DefaultSeverity kDefaults[] = {
    {"unquantified", Severity::kError},      {"missing_output_category", Severity::kError},
    {"no_benefit", Severity::kError},        {"no_satisfaction", Severity::kOff},
    {"level_mismatch", Severity::kError},    {"duplicate_indicator", Severity::kError},
    {"weight_missing", Severity::kError},    {"weight_nonpositive", Severity::kError},
    {"weight_sum", Severity::kError},        {"impossible_value", Severity::kError},
    {"input_as_output", Severity::kWarning}, {"vague_goal", Severity::kWarning},
    {"vague_target", Severity::kWarning},    {"too_few_indicators", Severity::kWarning},
    {"copied", Severity::kWarning},          {"missing_mid_term_goal", Severity::kError},
};

bool Contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

bool ContainsAny(std::string_view text, const std::vector<std::string>& words) {
  for (const std::string& w : words) {
    if (!w.empty() && text.find(w) != std::string_view::npos) return true;
  }
  return false;
}

// Code points of UTF-8 text (continuation bytes not counted).
int CodePoints(std::string_view s) {
  int n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// ASCII digits or full-width ０-９ (EF BC 90..99).
bool HasDigit(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= '0' && c <= '9') return true;
    if (c == 0xEF && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xBC &&
        static_cast<unsigned char>(s[i + 2]) >= 0x90 && static_cast<unsigned char>(s[i + 2]) <= 0x99) {
      return true;
    }
  }
  return false;
}

// The first ASCII decimal number in text ("≥95.5%" → 95.5), if any.
std::optional<Decimal> FirstNumber(std::string_view s) {
  size_t i = s.find_first_of("0123456789");
  if (i == std::string_view::npos) return std::nullopt;
  size_t j = i;
  bool dot = false;
  while (j < s.size() && ((s[j] >= '0' && s[j] <= '9') || (s[j] == '.' && !dot))) {
    dot = dot || s[j] == '.';
    ++j;
  }
  if (s[j - 1] == '.') --j;
  auto d = Decimal::Parse(s.substr(i, j - i), "target");
  if (!d.ok()) return std::nullopt;
  return *d;
}

bool IsSpaceOrPunct(std::string_view s, size_t i, size_t* len) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    *len = 1;
    return c <= ' ' || (c >= '!' && c <= '/') || (c >= ':' && c <= '@') ||
           (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
  }
  // CJK punctuation U+3000..U+303F (E3 80 xx) and full-width forms ， ． ： ；
  // （ ） (EF BC 8C 8E 9A 9B 88 89).
  if (c == 0xE3 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80) {
    *len = 3;
    return true;
  }
  if (c == 0xEF && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xBC) {
    unsigned char t = static_cast<unsigned char>(s[i + 2]);
    *len = 3;
    return t == 0x8C || t == 0x8E || t == 0x9A || t == 0x9B || t == 0x88 || t == 0x89 || t == 0x81;
  }
  *len = 1;
  return false;
}

std::string Normalize(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    if (!IsSpaceOrPunct(s, i, &len)) out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

// A level-2 name without the "指标" many forms append ("数量指标" is 数量).
std::string Category(const std::string& level2) {
  static const std::string kSuffix = "指标";
  if (level2.size() > kSuffix.size() &&
      level2.compare(level2.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
    return level2.substr(0, level2.size() - kSuffix.size());
  }
  return level2;
}

std::string Row(size_t i, const char* field) {
  return field == nullptr ? absl::StrCat("indicators[", i, "]")
                          : absl::StrCat("indicators[", i, "].", field);
}

class Checker {
 public:
  Checker(const QualityRules& rules, std::vector<Finding>* out) : rules_(rules), out_(out) {}
  void Add(const std::string& code, std::string field, std::string message) {
    Severity s = rules_.SeverityOf(code);
    if (s == Severity::kOff) return;
    out_->push_back(Finding{code, s, std::move(field), std::move(message)});
  }

 private:
  const QualityRules& rules_;
  std::vector<Finding>* out_;
};

}  // namespace

const std::vector<std::string> kCodes = [] {
  std::vector<std::string> codes;
  for (const DefaultSeverity& d : kDefaults) codes.push_back(d.code);
  return codes;
}();

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kOff: return "off";
    case Severity::kWarning: return "warning";
    case Severity::kError: return "error";
  }
  return "?";
}

Severity QualityRules::SeverityOf(const std::string& code) const {
  if (auto it = severity.find(code); it != severity.end()) return it->second;
  for (const DefaultSeverity& d : kDefaults) {
    if (code == d.code) return d.severity;
  }
  return Severity::kWarning;
}

std::vector<Finding> CheckTargetForm(const TargetForm& form, const QualityRules& rules) {
  std::vector<Finding> out;
  Checker c(rules, &out);

  const bool goal_has_number = HasDigit(form.goal);
  if (CodePoints(form.goal) < rules.min_goal_chars) {
    c.Add("vague_goal", "goal",
          absl::StrCat("目标描述过短（", CodePoints(form.goal), " 字，至少 ", rules.min_goal_chars,
                       " 字）：应写明做什么、做多少、达到什么效果"));
  } else if (!goal_has_number && ContainsAny(form.goal, rules.vague_words)) {
    c.Add("vague_goal", "goal", "目标描述模糊：只有“较好”“进一步”等程度词而没有可衡量的数量");
  }

  if (form.term_years > 1 && absl::StripAsciiWhitespace(form.mid_term_goal).empty()) {
    c.Add("missing_mid_term_goal", "mid_term_goal",
          absl::StrCat("跨年度项目（实施期 ", form.term_years,
                       " 年）应填报中期（总体）目标，年度目标是其中本年度的部分"));
  }

  if (rules.min_indicators > 0 && static_cast<int>(form.indicators.size()) < rules.min_indicators) {
    c.Add("too_few_indicators", "indicators",
          absl::StrCat("只有 ", form.indicators.size(), " 个三级指标，至少应有 ", rules.min_indicators,
                       " 个"));
  }

  std::set<std::string> level2_seen;
  bool benefit = false, satisfaction = false;
  std::map<std::string, size_t> names;
  size_t weighted = 0;
  Decimal weight_sum;
  for (size_t i = 0; i < form.indicators.size(); ++i) {
    const TargetIndicator& row = form.indicators[i];
    const std::string category = Category(row.level2);
    auto cats = rules.categories.find(row.level1);
    if (cats == rules.categories.end()) {
      std::vector<std::string> level1s;
      for (const auto& [l1, l2s] : rules.categories) level1s.push_back(l1);
      c.Add("level_mismatch", Row(i, "level1"),
            absl::StrCat("一级指标“", row.level1, "”不是 ", absl::StrJoin(level1s, "、"), " 之一"));
    } else if (!Contains(cats->second, category)) {
      c.Add("level_mismatch", Row(i, "level2"),
            absl::StrCat("二级指标“", row.level2, "”不属于", row.level1, "（应为 ",
                         absl::StrJoin(cats->second, "、"), "）"));
    }
    const bool output = row.level1 == "产出指标";
    if (output) level2_seen.insert(category);
    benefit = benefit || row.level1 == "效益指标";
    const bool is_satisfaction = row.level1 == "满意度指标";
    satisfaction = satisfaction || is_satisfaction;

    std::string key = Normalize(row.name);
    if (auto [it, inserted] = names.emplace(key, i); !inserted) {
      c.Add("duplicate_indicator", Row(i, "name"),
            absl::StrCat("与第 ", it->second + 1, " 行指标“", row.name, "”重复"));
    }

    auto op = ParseOperator(row.op, "operator");
    const bool qualitative = op.ok() && *op == Operator::kQualitative;
    if (op.ok() && !qualitative && !HasDigit(row.target)) {
      c.Add("unquantified", Row(i, "target"),
            absl::StrCat("指标值“", row.target, "”没有数值，", OperatorSymbol(*op),
                         " 指标必须量化（如“≥50 个”）"));
    } else if (qualitative && output &&
               (category == "数量" || Contains(rules.cost_categories, category))) {
      c.Add("unquantified", Row(i, "operator"),
            absl::StrCat(category, "指标“", row.name, "”不能是定性指标，应给出数值和计量单位"));
    } else if (qualitative && !HasDigit(row.target) && CodePoints(row.target) <= 12 &&
               ContainsAny(row.target, rules.vague_words)) {
      c.Add("vague_target", Row(i, "target"),
            absl::StrCat("定性指标值“", row.target, "”只有程度词，无法判断是否达成"));
    }

    if (op.ok() && !qualitative) {
      const bool percent = Contains(rules.percent_units, row.unit) ||
                           ContainsAny(row.target, rules.percent_units);
      std::optional<Decimal> value = FirstNumber(row.target);
      const bool upward = *op == Operator::kGe || *op == Operator::kGt || *op == Operator::kEq;
      if (percent && value && upward && *value > Decimal::FromInt(100)) {
        c.Add("impossible_value", Row(i, "target"),
              absl::StrCat("百分比指标值 ", value->ToString(), "% 超过 100%"));
      } else if (is_satisfaction && (*op == Operator::kLe || *op == Operator::kLt)) {
        c.Add("impossible_value", Row(i, "operator"),
              absl::StrCat("满意度指标用了“", OperatorSymbol(*op), "”：满意度应为正向指标（≥）"));
      }
    }

    const bool money_or_people = row.unit.find("元") != std::string::npos || row.unit == "人" ||
                                 row.unit == "人次";
    if ((row.level1 == "效益指标" || (output && !Contains(rules.cost_categories, category))) &&
        ContainsAny(row.name, rules.input_words) &&
        (money_or_people || row.name.find("投入") != std::string::npos)) {
      c.Add("input_as_output", Row(i, "name"),
            absl::StrCat("“", row.name, "”衡量的是投入（资金、人力、物力），投入不能作为",
                         output ? "产出" : "效益", "目标"));
    }

    if (row.weight) {
      ++weighted;
      weight_sum = Decimal::FromUnits(weight_sum.units() + row.weight->units());
      if (*row.weight <= Decimal()) {
        c.Add("weight_nonpositive", Row(i, "weight"),
              absl::StrCat("权重 ", row.weight->ToString(), " 必须大于 0"));
      }
    }
  }

  for (const std::string& cat : rules.output_categories) {
    bool found = level2_seen.count(cat) > 0;
    // 成本 is also met by its 101号 split (经济成本 ...).
    if (!found && cat == "成本") {
      for (const std::string& c2 : rules.cost_categories) found = found || level2_seen.count(c2) > 0;
    }
    if (!found) {
      c.Add("missing_output_category", "indicators",
            absl::StrCat("缺少产出指标的“", cat, "”类指标（每个二级产出类别至少一个）"));
    }
  }
  if (!benefit) c.Add("no_benefit", "indicators", "没有效益指标（至少一个）");
  if (!satisfaction) c.Add("no_satisfaction", "indicators", "没有满意度指标");

  if (weighted > 0 && weighted < form.indicators.size()) {
    c.Add("weight_missing", "indicators",
          absl::StrCat(form.indicators.size() - weighted, " 个指标没有权重：权重要么都填，要么都不填"));
  } else if (weighted > 0 && rules.weight_total && weight_sum != *rules.weight_total) {
    c.Add("weight_sum", "indicators",
          absl::StrCat("权重合计 ", weight_sum.ToString(), "，应为 ", rules.weight_total->ToString()));
  }
  return out;
}

bool HasErrors(const std::vector<Finding>& findings) {
  return std::any_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return f.severity == Severity::kError; });
}

std::set<std::string> Fingerprint(const TargetForm& form) {
  std::set<std::string> out;
  for (const TargetIndicator& row : form.indicators) {
    auto op = ParseOperator(row.op, "operator");
    out.insert(absl::StrCat(Normalize(row.name), "|", op.ok() ? OperatorSymbol(*op) : row.op, "|",
                            Normalize(row.target), "|", Normalize(row.unit)));
  }
  return out;
}

Decimal Similarity(const std::set<std::string>& a, const std::set<std::string>& b) {
  size_t common = 0;
  for (const std::string& s : a) common += b.count(s);
  size_t all = a.size() + b.size() - common;
  if (all == 0) return Decimal();
  return Decimal::FromUnits(static_cast<int64_t>(common) * Decimal::kScale / static_cast<int64_t>(all));
}

bool IsCopy(const std::set<std::string>& a, const std::set<std::string>& b,
            const QualityRules& rules) {
  const size_t min = static_cast<size_t>(std::max(rules.copy_min_indicators, 1));
  return a.size() >= min && b.size() >= min && Similarity(a, b) >= rules.copy_similarity;
}

}  // namespace bpm::perf
