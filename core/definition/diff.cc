#include "core/definition/diff.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/common/util.h"

namespace bpm::definition {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// A scalar (or empty list/object) as canonical JSON.
std::string Leaf(const Value& v) {
  Struct wrapper;
  (*wrapper.mutable_fields())["v"] = v;
  const std::string json = CanonicalJson(wrapper);  // {"v":...}
  return json.substr(5, json.size() - 6);
}

void Flatten(const Value& v, const std::string& path, std::map<std::string, std::string>* out) {
  if (v.kind_case() == Value::kStructValue && !v.struct_value().fields().empty()) {
    for (const auto& [k, child] : v.struct_value().fields()) {
      Flatten(child, path.empty() ? k : absl::StrCat(path, ".", k), out);
    }
  } else if (v.kind_case() == Value::kListValue && v.list_value().values_size() > 0) {
    for (int i = 0; i < v.list_value().values_size(); ++i) {
      Flatten(v.list_value().values(i), absl::StrCat(path, "[", i, "]"), out);
    }
  } else {
    (*out)[path] = Leaf(v);
  }
}

std::map<std::string, std::string> FlatConfig(const Struct& config) {
  std::map<std::string, std::string> out;
  Value root;
  *root.mutable_struct_value() = config;
  if (!config.fields().empty()) Flatten(root, "", &out);
  return out;
}

std::string TransitionsText(const std::vector<Transition>& alternatives) {
  std::vector<std::string> parts;
  for (const auto& t : alternatives) {
    parts.push_back(t.when ? absl::StrCat(t.target, " when ", ConditionText(*t.when)) : t.target);
  }
  if (parts.size() == 1) return parts.front();
  return absl::StrCat("[", absl::StrJoin(parts, "; "), "]");
}

void DiffState(const State& a, const State& b, std::vector<std::string>* out) {
  const std::string where = absl::StrCat("state ", b.name, ": ");
  if (a.final != b.final) {
    out->push_back(absl::StrCat(where, b.final ? "is now final" : "is no longer final"));
  }
  if (a.title != b.title) {
    out->push_back(absl::StrCat(where, "title '", a.title, "' -> '", b.title, "'"));
  }
  if (a.stage != b.stage) {
    out->push_back(absl::StrCat(where, "stage ", a.stage.empty() ? "(none)" : a.stage, " -> ",
                                b.stage.empty() ? "(none)" : b.stage));
  }
  const auto ca = FlatConfig(a.config), cb = FlatConfig(b.config);
  for (const auto& [path, value] : cb) {
    auto it = ca.find(path);
    if (it == ca.end()) {
      out->push_back(absl::StrCat(where, "config ", path, ": added ", value));
    } else if (it->second != value) {
      out->push_back(absl::StrCat(where, "config ", path, ": ", it->second, " -> ", value));
    }
  }
  for (const auto& [path, value] : ca) {
    if (!cb.count(path)) out->push_back(absl::StrCat(where, "config ", path, ": removed ", value));
  }
  for (const auto& [event, alternatives] : b.on) {
    auto it = a.on.find(event);
    const std::string now = TransitionsText(alternatives);
    if (it == a.on.end()) {
      out->push_back(absl::StrCat(where, "on ", event, ": added -> ", now));
    } else if (TransitionsText(it->second) != now) {
      out->push_back(
          absl::StrCat(where, "on ", event, ": ", TransitionsText(it->second), " -> ", now));
    }
  }
  for (const auto& [event, alternatives] : a.on) {
    if (!b.on.count(event)) {
      out->push_back(absl::StrCat(where, "on ", event, ": removed (was -> ",
                                  TransitionsText(alternatives), ")"));
    }
  }
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // trailing newline
  return lines;
}

// One line of an edit script: ' ' kept, '-' only in from, '+' only in to.
struct Edit {
  char op;
  int a;  // index in from (for ' ' and '-')
  int b;  // index in to (for ' ' and '+')
};

// Longest common subsequence by dynamic programming over the lines between
// the common prefix and suffix (definitions are hundreds of lines).
std::vector<Edit> EditScript(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
  int pre = 0;
  while (pre < n && pre < m && a[pre] == b[pre]) ++pre;
  int suf = 0;
  while (suf < n - pre && suf < m - pre && a[n - 1 - suf] == b[m - 1 - suf]) ++suf;
  const int an = n - pre - suf, bm = m - pre - suf;
  std::vector<Edit> edits;
  for (int i = 0; i < pre; ++i) edits.push_back({' ', i, i});
  constexpr long kMaxCells = 20000L * 20000L / 4;
  if (static_cast<long>(an + 1) * (bm + 1) > kMaxCells) {
    for (int i = 0; i < an; ++i) edits.push_back({'-', pre + i, pre});
    for (int j = 0; j < bm; ++j) edits.push_back({'+', pre + an, pre + j});
  } else {
    // lcs[i][j]: LCS length of a[pre+i..] and b[pre+j..].
    std::vector<std::vector<int>> lcs(an + 1, std::vector<int>(bm + 1, 0));
    for (int i = an - 1; i >= 0; --i) {
      for (int j = bm - 1; j >= 0; --j) {
        lcs[i][j] = a[pre + i] == b[pre + j] ? lcs[i + 1][j + 1] + 1
                                             : std::max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    int i = 0, j = 0;
    while (i < an || j < bm) {
      if (i < an && j < bm && a[pre + i] == b[pre + j]) {
        edits.push_back({' ', pre + i, pre + j});
        ++i, ++j;
      } else if (i < an && (j == bm || lcs[i + 1][j] >= lcs[i][j + 1])) {
        edits.push_back({'-', pre + i, pre + j});  // removals first, as diff(1) does
        ++i;
      } else {
        edits.push_back({'+', pre + i, pre + j});
        ++j;
      }
    }
  }
  for (int k = 0; k < suf; ++k) edits.push_back({' ', n - suf + k, m - suf + k});
  return edits;
}

}  // namespace

std::string ConditionText(const Condition& c) {
  auto children = [&c]() {
    std::vector<std::string> parts;
    for (const auto& child : c.children) parts.push_back(ConditionText(child));
    return absl::StrJoin(parts, ", ");
  };
  switch (c.kind) {
    case Condition::Kind::kAll: return absl::StrCat("all(", children(), ")");
    case Condition::Kind::kAny: return absl::StrCat("any(", children(), ")");
    case Condition::Kind::kNot: return absl::StrCat("not(", children(), ")");
    case Condition::Kind::kCompare: break;
  }
  return absl::StrCat(c.var, " ", c.op, " ", Leaf(c.operand));
}

std::vector<std::string> StructuralDiff(const Definition& from, const Definition& to) {
  std::vector<std::string> out;
  if (from.title != to.title) {
    out.push_back(absl::StrCat("title: '", from.title, "' -> '", to.title, "'"));
  }
  if (from.subject != to.subject) {
    out.push_back(absl::StrCat("subject: '", from.subject, "' -> '", to.subject, "'"));
  }
  if (from.initial != to.initial) {
    out.push_back(absl::StrCat("initial: ", from.initial, " -> ", to.initial));
  }
  auto extends = [](const Definition& d) {
    return d.extends_key.empty() ? std::string("nothing")
                                 : absl::StrCat(d.extends_key, " v", d.extends_version);
  };
  if (extends(from) != extends(to)) {
    out.push_back(absl::StrCat("extends: ", extends(from), " -> ", extends(to)));
  }
  if (from.is_template != to.is_template) {
    out.push_back(absl::StrCat("template: ", from.is_template ? "yes" : "no", " -> ",
                               to.is_template ? "yes" : "no"));
  }
  if (from.overridable != to.overridable) {
    out.push_back(absl::StrCat("overridable: [", absl::StrJoin(from.overridable, ", "), "] -> [",
                               absl::StrJoin(to.overridable, ", "), "]"));
  }
  auto variable = [](const Variable& v) {
    std::string text = VarTypeName(v.type);
    if (!v.values.empty()) {
      std::vector<std::string> values;
      for (const auto& x : v.values) {
        values.push_back(x.has_string_value() ? x.string_value() : absl::StrCat(x.number_value()));
      }
      absl::StrAppend(&text, " [", absl::StrJoin(values, ", "), "]");
    }
    return text;
  };
  for (const Variable& v : to.variables) {
    const Variable* old = from.FindVariable(v.name);
    if (old == nullptr || old->name != v.name) {
      out.push_back(absl::StrCat("variable ", v.name, ": added (", variable(v), ")"));
    } else if (variable(*old) != variable(v)) {
      out.push_back(absl::StrCat("variable ", v.name, ": ", variable(*old), " -> ", variable(v)));
    }
  }
  for (const Variable& v : from.variables) {
    const Variable* now = to.FindVariable(v.name);
    if (now == nullptr || now->name != v.name) {
      out.push_back(absl::StrCat("variable ", v.name, ": removed"));
    }
  }
  for (const auto& s : to.states) {
    const State* old = from.Find(s.name);
    if (old == nullptr) {
      out.push_back(absl::StrCat("state ", s.name, ": added",
                                 s.final ? " (final)" : absl::StrCat(" (stage ", s.stage, ")")));
    } else {
      DiffState(*old, s, &out);
    }
  }
  for (const auto& s : from.states) {
    if (to.Find(s.name) == nullptr) out.push_back(absl::StrCat("state ", s.name, ": removed"));
  }
  return out;
}

std::string UnifiedDiff(const std::string& from_text, const std::string& to_text,
                        const std::string& from_label, const std::string& to_label) {
  if (from_text == to_text) return "";
  const auto a = SplitLines(from_text), b = SplitLines(to_text);
  const std::vector<Edit> edits = EditScript(a, b);
  constexpr int kContext = 3;
  std::string out = absl::StrCat("--- ", from_label, "\n+++ ", to_label, "\n");
  const int total = static_cast<int>(edits.size());
  int k = 0;
  while (k < total) {
    // Next change; a hunk spans changes closer than 2 * kContext kept lines.
    while (k < total && edits[k].op == ' ') ++k;
    if (k == total) break;
    const int start = std::max(0, k - kContext);
    int end = k;  // one past the last change of the hunk
    int kept = 0;
    for (int i = k; i < total; ++i) {
      if (edits[i].op == ' ') {
        if (++kept > 2 * kContext) break;
      } else {
        kept = 0;
        end = i + 1;
      }
    }
    const int stop = std::min(total, end + kContext);
    int a_start = -1, b_start = -1, a_count = 0, b_count = 0;
    std::string body;
    for (int i = start; i < stop; ++i) {
      const Edit& e = edits[i];
      if (e.op != '+') {
        if (a_start < 0) a_start = e.a;
        ++a_count;
      }
      if (e.op != '-') {
        if (b_start < 0) b_start = e.b;
        ++b_count;
      }
      absl::StrAppend(&body, std::string(1, e.op), e.op == '+' ? b[e.b] : a[e.a], "\n");
    }
    // Empty ranges name the line before them (unified format).
    if (a_start < 0) a_start = edits[start].a;
    if (b_start < 0) b_start = edits[start].b;
    absl::StrAppend(&out, "@@ -", a_count ? a_start + 1 : a_start, ",", a_count, " +",
                    b_count ? b_start + 1 : b_start, ",", b_count, " @@\n", body);
    k = stop;
  }
  return out;
}

}  // namespace bpm::definition
