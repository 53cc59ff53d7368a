// YAML text -> Definition, with shape checks. yaml-cpp throws; every call into
// it is inside this file and its exceptions become diagnostics.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <regex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/common/json.h"
#include "core/common/util.h"
#include "core/definition/definition.h"

namespace bpm::definition {

const Vocabulary& FormatVocabulary() {
  static const Vocabulary v = {
      {"key", "title", "description", "subject", "initial", "variables", "template",
       "overridable", "extends", "states"},
      {"key"},
      {"initial", "states"},
      {"stage", "config", "on", "final", "title", "description"},
      {"to", "when"},
      {"var", "eq", "ne", "lt", "le", "gt", "ge", "in", "exists", "all", "any", "not"},
      {"eq", "ne", "lt", "le", "gt", "ge", "in", "exists"},
      {"type", "values", "description"},
      {"string", "number", "bool", "object", "list"},
      {"key", "version", "alias"},
      R"(^[a-z0-9][a-z0-9_-]{0,63}$)",
      R"(^[A-Za-z_][A-Za-z0-9_]{0,63}$)",
      R"(^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$)",
  };
  return v;
}

namespace {

Position PosOf(const YAML::Node& n) {
  YAML::Mark m = n.Mark();
  if (m.is_null()) return {};
  return {m.line + 1, m.column + 1};
}

const char* TypeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "empty";
    default: return "undefined";
  }
}

// Writes n as YAML. Unlike emitting the Node, a scalar that was quoted in its
// source (tag "!") is written quoted, so "1" and "true" stay strings when the
// text is read again.
void Emit(YAML::Emitter& out, const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      out << YAML::BeginMap;
      for (const auto& kv : n) {
        out << YAML::Key;
        Emit(out, kv.first);
        out << YAML::Value;
        Emit(out, kv.second);
      }
      out << YAML::EndMap;
      break;
    case YAML::NodeType::Sequence:
      out << YAML::BeginSeq;
      for (const auto& item : n) Emit(out, item);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Scalar:
      if (n.Tag() == "!") out << YAML::DoubleQuoted;
      out << n.Scalar();
      break;
    default:
      out << YAML::Null;
  }
}

// Edit distance, for "did you mean" hints.
size_t Distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates,
                       const std::string& otherwise) {
  const std::string* best = nullptr;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const std::string& c : candidates) {
    size_t d = Distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = &c;
    }
  }
  return best != nullptr ? absl::StrCat("did you mean '", *best, "'?") : otherwise;
}

namespace {

class Parser {
 public:
  Parser(const std::string& source) : source_(source) {}

  std::vector<Diagnostic> diags;

  void Error(Position pos, std::string message, std::string hint) {
    diags.push_back({source_, pos, std::move(message), std::move(hint)});
  }
  void Error(const YAML::Node& n, std::string message, std::string hint) {
    Error(PosOf(n), std::move(message), std::move(hint));
  }

  // Iterates a mapping, reporting duplicate keys and keys outside `allowed`
  // (when non-empty). Calls fn(key, key_node, value_node) for first
  // occurrences of allowed keys.
  template <typename Fn>
  void ForEachKey(const YAML::Node& map, const std::string& where,
                  const std::vector<std::string>& allowed, Fn&& fn) {
    std::map<std::string, Position> seen;
    for (const auto& kv : map) {  // kv is a value: its nodes stay alive in the body
      const YAML::Node& k = kv.first;
      if (!k.IsScalar()) {
        Error(k, absl::StrCat(where, ": keys must be plain names, not ", TypeName(k)),
              "write the key as a plain word followed by ':'");
        continue;
      }
      std::string key = k.Scalar();
      auto [prev, inserted] = seen.emplace(key, PosOf(k));
      if (!inserted) {
        Error(k, absl::StrCat(where, ": duplicate key '", key, "' (first at line ",
                              prev->second.line, ")"),
              "YAML keeps only one of them: merge the two or rename one");
        continue;
      }
      if (!allowed.empty() &&
          std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        Error(k, absl::StrCat(where, ": unknown key '", key, "'; expected one of: ",
                              absl::StrJoin(allowed, ", ")),
              DidYouMean(key, allowed, "check the spelling and the indentation"));
        continue;
      }
      fn(key, k, kv.second);
    }
  }

  bool ScalarString(const YAML::Node& n, const std::string& what, std::string* out) {
    if (!n.IsScalar()) {
      Error(n, absl::StrCat(what, " must be a string, not ", TypeName(n)),
            "write a single value on the same line, quoted if it has ':' or '#'");
      return false;
    }
    *out = n.Scalar();
    return true;
  }

  // YAML -> protobuf Value. Plain scalars become bool/null/number where they
  // look like one; quoted scalars stay strings. Records each path's position.
  google::protobuf::Value ToValue(const YAML::Node& n, const std::string& path,
                                  std::map<std::string, Position>* paths) {
    (*paths)[path] = PosOf(n);
    google::protobuf::Value v;
    switch (n.Type()) {
      case YAML::NodeType::Map: {
        auto* s = v.mutable_struct_value();
        ForEachKey(n, path.empty() ? "config" : path, {},
                   [&](const std::string& key, const YAML::Node&, const YAML::Node& val) {
                     (*s->mutable_fields())[key] =
                         ToValue(val, path.empty() ? key : absl::StrCat(path, ".", key), paths);
                   });
        break;
      }
      case YAML::NodeType::Sequence: {
        auto* l = v.mutable_list_value();
        int i = 0;
        for (const auto& item : n) {
          *l->add_values() = ToValue(item, absl::StrCat(path, "[", i++, "]"), paths);
        }
        break;
      }
      case YAML::NodeType::Scalar: {
        const std::string& s = n.Scalar();
        if (n.Tag() == "!") {
          v.set_string_value(s);
        } else if (s == "true" || s == "True" || s == "TRUE") {
          v.set_bool_value(true);
        } else if (s == "false" || s == "False" || s == "FALSE") {
          v.set_bool_value(false);
        } else if (s == "null" || s == "~" || s == "Null" || s == "NULL") {
          v.set_null_value(google::protobuf::NULL_VALUE);
        } else {
          static const std::regex kNumber(R"(^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$)");
          if (std::regex_match(s, kNumber)) {
            v.set_number_value(std::stod(s));
          } else {
            v.set_string_value(s);
          }
        }
        break;
      }
      default:
        v.set_null_value(google::protobuf::NULL_VALUE);
    }
    return v;
  }

  bool ParseCondition(const YAML::Node& n, const std::string& where, Condition* out) {
    out->pos = PosOf(n);
    if (!n.IsMap()) {
      Error(n, absl::StrCat(where, ": a condition must be a mapping such as "
                                   "{var: grade, eq: 差}, not ",
                            TypeName(n)),
            "conditions are data: {var: NAME, OP: VALUE}, or {all|any: [...]}, {not: ...}");
      return false;
    }
    const std::vector<std::string>& kOps = FormatVocabulary().operators;
    const std::vector<std::string>& kAllowed = FormatVocabulary().condition_keys;
    bool ok = true;
    std::vector<std::pair<std::string, YAML::Node>> entries;
    size_t before = diags.size();
    ForEachKey(n, where, kAllowed,
               [&](const std::string& key, const YAML::Node&, const YAML::Node& val) {
                 entries.emplace_back(key, val);
               });
    if (diags.size() != before) return false;
    auto has = [&](const std::string& k) {
      return std::any_of(entries.begin(), entries.end(),
                         [&](const auto& e) { return e.first == k; });
    };
    auto get = [&](const std::string& k) {
      for (auto& e : entries)
        if (e.first == k) return e.second;
      return YAML::Node();
    };
    if (has("all") || has("any")) {
      if (entries.size() != 1) {
        Error(n, absl::StrCat(where, ": 'all'/'any' must stand alone in their mapping"),
              "move the other keys into a condition inside the list");
        return false;
      }
      const std::string k = entries[0].first;
      YAML::Node list = entries[0].second;
      out->kind = k == "all" ? Condition::Kind::kAll : Condition::Kind::kAny;
      if (!list.IsSequence() || list.size() == 0) {
        Error(list, absl::StrCat(where, ": '", k, "' needs a non-empty list of conditions"),
              absl::StrCat("e.g. ", k, ": [{var: grade, eq: 差}, {var: amount, gt: 1000000}]"));
        return false;
      }
      int i = 0;
      for (const auto& item : list) {
        Condition c;
        ok &= ParseCondition(item, absl::StrCat(where, ".", k, "[", i++, "]"), &c);
        out->children.push_back(std::move(c));
      }
      return ok;
    }
    if (has("not")) {
      if (entries.size() != 1) {
        Error(n, absl::StrCat(where, ": 'not' must stand alone in its mapping"),
              "e.g. not: {var: grade, eq: 差}");
        return false;
      }
      out->kind = Condition::Kind::kNot;
      Condition c;
      ok = ParseCondition(entries[0].second, where + ".not", &c);
      out->children.push_back(std::move(c));
      return ok;
    }
    out->kind = Condition::Kind::kCompare;
    if (!has("var")) {
      Error(n, absl::StrCat(where, ": a comparison needs 'var' (the variable to test)"),
            "e.g. {var: grade, in: [中, 差]}");
      return false;
    }
    if (!ScalarString(get("var"), where + ".var", &out->var)) return false;
    static const std::regex kVar(FormatVocabulary().var_pattern);
    if (!std::regex_match(out->var, kVar)) {
      Error(get("var"), absl::StrCat(where, ".var: '", out->var,
                                     "' is not a variable path such as form.amount"),
            "names are letters, digits and _, joined by '.'");
      return false;
    }
    std::vector<std::string> ops;
    for (auto& e : entries)
      if (e.first != "var") ops.push_back(e.first);
    if (ops.size() != 1) {
      Error(n, absl::StrCat(where, ": a comparison needs exactly one operator of: ",
                            absl::StrJoin(kOps, ", ")),
            "combine several tests with all: [...] or any: [...]");
      return false;
    }
    out->op = ops[0];
    out->var_pos = PosOf(get("var"));
    YAML::Node operand = get(out->op);
    out->operand_pos = PosOf(operand);
    std::map<std::string, Position> ignored;
    out->operand = ToValue(operand, "", &ignored);
    const auto kind = out->operand.kind_case();
    using V = google::protobuf::Value;
    if (out->op == "in") {
      if (kind != V::kListValue || out->operand.list_value().values_size() == 0) {
        Error(operand, absl::StrCat(where, ".in: needs a non-empty list of values"),
              "e.g. in: [中, 差]; for one value use eq");
        return false;
      }
    } else if (out->op == "exists") {
      if (kind != V::kBoolValue) {
        Error(operand, absl::StrCat(where, ".exists: needs true or false"),
              "exists: true holds when the variable is set, exists: false when it is not");
        return false;
      }
    } else if (out->op == "lt" || out->op == "le" || out->op == "gt" || out->op == "ge") {
      if (kind != V::kNumberValue) {
        Error(operand, absl::StrCat(where, ".", out->op, ": needs a number"),
              "lt, le, gt and ge compare numbers; for text use eq, ne or in");
        return false;
      }
    } else if (kind == V::kStructValue || kind == V::kListValue) {
      Error(operand, absl::StrCat(where, ".", out->op, ": needs a single value"),
            "to test several values use in: [...]");
      return false;
    }
    return true;
  }

  void ParseTransition(const YAML::Node& n, const std::string& where,
                       std::vector<Transition>* out) {
    if (n.IsScalar()) {
      out->push_back({n.Scalar(), std::nullopt, PosOf(n)});
      return;
    }
    if (n.IsMap()) {
      Transition t;
      t.pos = PosOf(n);
      bool has_to = false;
      ForEachKey(n, where, FormatVocabulary().transition_keys,
                 [&](const std::string& key, const YAML::Node&, const YAML::Node& val) {
                   if (key == "to") {
                     has_to = ScalarString(val, where + ".to", &t.target);
                     if (has_to) t.pos = PosOf(val);
                   } else {
                     Condition c;
                     if (ParseCondition(val, where + ".when", &c)) t.when = std::move(c);
                   }
                 });
      if (!has_to) {
        Error(n, absl::StrCat(where, ": a transition needs 'to' (the target state)"),
              "e.g. {to: rectification, when: {var: grade, eq: 差}}");
      }
      out->push_back(std::move(t));
      return;
    }
    if (n.IsSequence() && n.size() > 0) {
      int i = 0;
      for (const auto& item : n) {
        if (item.IsSequence()) {
          Error(item, absl::StrCat(where, "[", i, "]: nested lists are not transitions"),
                "list the alternatives in one flat list");
          ++i;
          continue;
        }
        ParseTransition(item, absl::StrCat(where, "[", i++, "]"), out);
      }
      for (size_t j = 0; j + 1 < out->size(); ++j) {
        if (!(*out)[j].when) {
          Error((*out)[j].pos,
                absl::StrCat(where, "[", j,
                             "]: only the last alternative may omit 'when' "
                             "(later ones could never be taken)"),
                "give it a 'when', or move it to the end of the list as the fallback");
        }
      }
      return;
    }
    Error(n,
          absl::StrCat(where, ": a transition is a state name, {to, when}, or a list of "
                              "those, not ",
                       TypeName(n)),
          "e.g. submitted: review");
  }

  void ParseState(const std::string& name, const YAML::Node& key_node, const YAML::Node& n,
                  Definition* def) {
    State st;
    st.name = name;
    st.pos = PosOf(key_node);
    static const std::regex kName(FormatVocabulary().state_name_pattern);
    if (!std::regex_match(name, kName)) {
      Error(key_node,
            absl::StrCat("state '", name,
                         "': names are letters, digits and _ (not starting with a "
                         "digit, at most 64)"),
            "use the 'title' key for a display name in Chinese, e.g. title: 财政终审");
    }
    const std::string where = absl::StrCat("state '", name, "'");
    if (!n.IsMap()) {
      Error(n, absl::StrCat(where, " must be a mapping, not ", TypeName(n)),
            "a state has stage, config and on (or final: true)");
      def->states.push_back(std::move(st));
      return;
    }
    bool has_stage = false, has_on = false;
    YAML::Node on_node;
    ForEachKey(n, where, FormatVocabulary().state_keys,
               [&](const std::string& key, const YAML::Node&, const YAML::Node& val) {
                 if (key == "stage") {
                   has_stage = ScalarString(val, where + ".stage", &st.stage);
                   st.stage_pos = PosOf(val);
                   if (has_stage && st.stage.empty()) {  // "" or a tag alone: !foo
                     Error(val, absl::StrCat(where, ": stage is empty"),
                           "name the stage plugin that runs this state, e.g. stage: review");
                   }
                 } else if (key == "config") {
                   st.config_pos = PosOf(val);
                   if (val.IsNull()) return;
                   if (!val.IsMap()) {
                     Error(val,
                           absl::StrCat(where, ".config must be a mapping, not ",
                                        TypeName(val)),
                           "the stage's settings, key: value, indented under config:");
                     return;
                   }
                   st.config = ToValue(val, "", &st.config_paths).struct_value();
                 } else if (key == "on") {
                   has_on = true;
                   on_node = val;
                 } else if (key == "final") {
                   if (!val.IsScalar() || (val.Scalar() != "true" && val.Scalar() != "false")) {
                     Error(val, where + ".final must be true or false",
                           "final: true marks an end state");
                   } else {
                     st.final = val.Scalar() == "true";
                   }
                 } else if (key == "title") {
                   ScalarString(val, where + ".title", &st.title);
                 }
               });
    if (st.final) {
      if (has_stage) {
        Error(st.stage_pos, absl::StrCat(where, ": a final state has no stage"),
              "remove 'stage', or remove 'final: true' if the state does work");
      }
      if (has_on) {
        Error(on_node, absl::StrCat(where, ": a final state has no transitions ('on')"),
              "remove 'on', or remove 'final: true' if the state goes on");
      }
    } else {
      if (!has_stage) {
        Error(n, absl::StrCat(where, ": needs 'stage' (or 'final: true')"),
              "the stage plugin that runs this state, e.g. stage: review");
      }
      if (!has_on) {
        Error(n, absl::StrCat(where, ": needs 'on' (its outcome events and target states)"),
              "e.g. on: { approved: finance_review, returned: draft }");
      } else if (!on_node.IsMap()) {
        Error(on_node,
              absl::StrCat(where, ".on must be a mapping of event: target, not ",
                           TypeName(on_node)),
              "e.g. on: { approved: finance_review, returned: draft }");
      } else {
        ForEachKey(on_node, where + ".on", {},
                   [&](const std::string& event, const YAML::Node& k, const YAML::Node& val) {
                     st.event_pos[event] = PosOf(k);
                     ParseTransition(val, absl::StrCat(where, ".on.", event), &st.on[event]);
                   });
      }
    }
    def->states.push_back(std::move(st));
  }

  // The first node nested deeper than kMaxDefinitionDepth, if any.
  static std::optional<YAML::Node> TooDeep(const YAML::Node& node, int depth) {
    if (depth > kMaxDefinitionDepth) return node;
    if (node.IsSequence()) {
      for (const YAML::Node& child : node) {
        if (auto deep = TooDeep(child, depth + 1)) return deep;
      }
    } else if (node.IsMap()) {
      for (const auto& kv : node) {
        if (auto deep = TooDeep(kv.second, depth + 1)) return deep;
      }
    }
    return std::nullopt;
  }

  // Parses yaml. An exception of yaml-cpp from a shape of input that no check
  // expected (a parser bug) becomes a diagnostic: a bad definition never ends
  // the server it is deployed to. definition_fuzz treats one as a finding.
  std::unique_ptr<Definition> Run(const std::string& yaml) {
    try {
      return RunChecked(yaml);
    } catch (const YAML::Exception& e) {
      Error({std::max(e.mark.line + 1, 1), std::max(e.mark.column + 1, 1)},
            absl::StrCat(kUnreadablePrefix, e.msg),
            "give each part the shape the format describes (see workflows/ for examples)");
      return nullptr;
    }
  }

 private:
  std::unique_ptr<Definition> RunChecked(const std::string& yaml) {
    if (yaml.size() > kMaxDefinitionBytes) {
      Error({1, 1},
            absl::StrCat("the file is ", yaml.size(), " bytes; a definition may have at most ",
                         kMaxDefinitionBytes),
            "split it: a template for what levels share, and definitions that extend it");
      return nullptr;
    }
    // YAML text is Unicode, and every string ends up in protobuf messages,
    // which must hold valid UTF-8: refuse the file here, at the byte, rather
    // than let a plugin fail to decode its config later.
    if (size_t bad = FirstInvalidUtf8(yaml); bad != std::string_view::npos) {
      const size_t line_start = yaml.rfind('\n', bad == 0 ? 0 : bad - 1);
      const size_t from = line_start == std::string::npos || bad == 0 ? 0 : line_start + 1;
      const int line = 1 + static_cast<int>(std::count(yaml.begin(), yaml.begin() + bad, '\n'));
      int col = 1;  // characters, not bytes, before the bad byte on its line
      for (size_t i = from; i < bad; ++i) {
        if ((static_cast<unsigned char>(yaml[i]) & 0xC0) != 0x80) ++col;
      }
      Error({line, col},
            absl::StrCat("not valid UTF-8: byte 0x",
                         absl::Hex(static_cast<unsigned char>(yaml[bad]), absl::kZeroPad2),
                         ""),
            "save the file as UTF-8 (e.g. iconv -f GBK -t UTF-8)");
      return nullptr;
    }
    YAML::Node root;
    try {
      root = YAML::Load(yaml);
    } catch (const YAML::ParserException& e) {
      Error({e.mark.line + 1, e.mark.column + 1}, absl::StrCat("YAML syntax: ", e.msg),
            "check the indentation (spaces, not tabs) and quote values with ':' or '#'");
      return nullptr;
    } catch (const YAML::Exception& e) {
      Error({e.mark.line + 1, e.mark.column + 1}, absl::StrCat("YAML: ", e.msg),
            "check the indentation (spaces, not tabs) and quote values with ':' or '#'");
      return nullptr;
    }
    if (std::optional<YAML::Node> deep = TooDeep(root, 1)) {
      Error(PosOf(*deep),
            absl::StrCat("nested more than ", kMaxDefinitionDepth, " levels deep"),
            "a workflow needs a few levels; flatten the structure");
      return nullptr;
    }
    if (!root.IsMap()) {
      Error(root.IsNull() ? Position{1, 1} : PosOf(root),
            absl::StrCat("a workflow definition must be a mapping, not ", TypeName(root)),
            "start with key:, initial: and states: (see workflows/ for examples)");
      return nullptr;
    }
    auto def = std::make_unique<Definition>();
    if (static_cast<const YAML::Node&>(root)["extends"]) {
      std::optional<YAML::Node> merged = ApplyTemplate(root, def.get());
      if (!merged) return nullptr;
      root = *merged;
    }
    RunNode(root, def.get());
    if (def->extends_key.empty()) {
      def->effective_yaml = yaml;
    } else {
      YAML::Emitter out;
      out.SetIndent(2);
      Emit(out, root);
      def->effective_yaml = std::string(out.c_str(), out.size()) + "\n";
    }
    return def;
  }

  // ---- the definition's own keys ------------------------------------------------

  void RunNode(const YAML::Node& root, Definition* def) {
    bool has_key = false, has_initial = false, has_states = false;
    Position key_pos;
    std::optional<YAML::Node> overridable;  // a default Node is a defined null
    ForEachKey(
        root, "definition", FormatVocabulary().definition_keys,
        [&](const std::string& key, const YAML::Node&, const YAML::Node& val) {
          if (key == "key") {
            has_key = ScalarString(val, "key", &def->key);
            key_pos = PosOf(val);
          } else if (key == "title") {
            ScalarString(val, "title", &def->title);
          } else if (key == "subject") {
            ScalarString(val, "subject", &def->subject);
          } else if (key == "initial") {
            has_initial = ScalarString(val, "initial", &def->initial);
            def->initial_pos = PosOf(val);
          } else if (key == "variables") {
            ParseVariables(val, def);
          } else if (key == "template") {
            if (!val.IsScalar() || (val.Scalar() != "true" && val.Scalar() != "false")) {
              Error(val, "template must be true or false",
                    "template: true publishes this definition for others to extend");
            } else {
              def->is_template = val.Scalar() == "true";
            }
          } else if (key == "overridable") {
            overridable = val;
          } else if (key == "states") {
            has_states = true;
            if (!val.IsMap() || val.size() == 0) {
              Error(val,
                    absl::StrCat("states must be a non-empty mapping of state names, not ",
                                 TypeName(val)),
                    "each state is a name followed by its stage, config and on");
              return;
            }
            ForEachKey(val, "states", {},
                       [&](const std::string& name, const YAML::Node& k, const YAML::Node& v) {
                         ParseState(name, k, v, def);
                       });
          }
          // "extends" was applied before (ApplyTemplate); description is text.
        });
    Position top{1, 1};
    if (!has_key) {
      Error(top, "definition: missing 'key' (the workflow's name, e.g. target-filing)",
            "add a line such as key: target-filing");
    } else {
      static const std::regex kKey(FormatVocabulary().key_pattern);
      if (!std::regex_match(def->key, kKey)) {
        Error(key_pos,
              absl::StrCat("key '", def->key,
                           "' must be lowercase letters, digits, - and _ (at most 64)"),
              "the key is an identifier; put the Chinese name in title:");
      }
    }
    if (!has_initial) {
      Error(top, "definition: missing 'initial' (the first state)",
            "add a line such as initial: draft, naming one of the states");
    }
    if (!has_states) {
      Error(top, "definition: missing 'states'",
            "add states:, a mapping of state names to their stage, config and on");
    }
    if (overridable) ParseOverridable(*overridable, *def);
  }

  void ParseVariables(const YAML::Node& n, Definition* def) {
    def->variables_pos = PosOf(n);
    if (!n.IsMap()) {
      Error(n, absl::StrCat("variables must be a mapping of name: type, not ", TypeName(n)),
            "e.g. variables: { grade: { type: string, values: [优, 良, 中, 差] } }");
      return;
    }
    static const std::regex kVar(FormatVocabulary().var_pattern);
    const std::vector<std::string>& types = FormatVocabulary().variable_types;
    ForEachKey(n, "variables", {}, [&](const std::string& name, const YAML::Node& k,
                                       const YAML::Node& spec) {
      const std::string where = absl::StrCat("variables.", name);
      Variable var;
      var.name = name;
      var.pos = PosOf(k);
      if (!std::regex_match(name, kVar)) {
        Error(k, absl::StrCat(where, ": '", name, "' is not a variable path such as form.amount"),
              "names are letters, digits and _, joined by '.'");
        return;
      }
      std::optional<YAML::Node> type_node;
      std::optional<YAML::Node> values;
      if (spec.IsScalar()) {
        type_node = spec;
      } else if (spec.IsMap()) {
        ForEachKey(spec, where, FormatVocabulary().variable_keys,
                   [&](const std::string& key, const YAML::Node&, const YAML::Node& val) {
                     if (key == "type") type_node = val;
                     if (key == "values") values = val;
                     if (key == "description") ScalarString(val, where + ".description",
                                                            &var.description);
                   });
      } else {
        Error(spec, absl::StrCat(where, ": needs a type, not ", TypeName(spec)),
              absl::StrCat("one of ", absl::StrJoin(types, ", "),
                           ", or {type: string, values: [...]}"));
        return;
      }
      if (!type_node) {
        Error(spec, absl::StrCat(where, ": needs 'type'"),
              absl::StrCat("one of ", absl::StrJoin(types, ", ")));
        return;
      }
      std::string type;
      if (!ScalarString(*type_node, where + ".type", &type)) return;
      auto it = std::find(types.begin(), types.end(), type);
      if (it == types.end()) {
        Error(*type_node, absl::StrCat(where, ": unknown type '", type, "'"),
              DidYouMean(type, types, absl::StrCat("one of ", absl::StrJoin(types, ", "))));
        return;
      }
      var.type = static_cast<VarType>(it - types.begin());
      if (values) {
        if (var.type != VarType::kString && var.type != VarType::kNumber) {
          Error(*values, absl::StrCat(where, ".values: only string and number variables list "
                                     "their values"),
                "remove values, or make the type string or number");
          return;
        }
        std::map<std::string, Position> ignored;
        google::protobuf::Value list = ToValue(*values, "", &ignored);
        if (list.kind_case() != google::protobuf::Value::kListValue ||
            list.list_value().values_size() == 0) {
          Error(*values, absl::StrCat(where, ".values: needs a non-empty list"),
                "e.g. values: [优, 良, 中, 差]");
          return;
        }
        const auto want = var.type == VarType::kString ? google::protobuf::Value::kStringValue
                                                       : google::protobuf::Value::kNumberValue;
        int i = 0;
        for (const auto& item : list.list_value().values()) {
          if (item.kind_case() != want) {
            Error((*values)[i], absl::StrCat(where, ".values[", i, "]: not a ", type),
                  type == "string" ? "quote it, e.g. \"1\"" : "write a plain number");
            return;
          }
          var.values.push_back(item);
          ++i;
        }
      }
      for (const Variable& other : def->variables) {
        if (absl::StartsWith(name, other.name + ".") &&
            other.type == VarType::kObject) {
          Error(k, absl::StrCat(where, ": '", other.name,
                                "' is declared object, which already covers ", name),
                absl::StrCat("remove one; declare ", other.name, "'s fields one by one to "
                             "type them"));
          return;
        }
      }
      def->variables.push_back(std::move(var));
    });
  }

  // ---- templates ------------------------------------------------------------------

  static std::vector<std::string> Segments(const std::string& path) {
    return absl::StrSplit(path, '.');
  }

  // Whether pattern covers path: pattern's segments are a prefix of path's,
  // '*' in the pattern matching any one segment.
  static bool Covers(const std::string& pattern, const std::string& path) {
    const auto p = Segments(pattern), q = Segments(path);
    if (p.size() > q.size()) return false;
    for (size_t i = 0; i < p.size(); ++i) {
      if (p[i] != "*" && p[i] != q[i]) return false;
    }
    return true;
  }
  static bool AnyCovers(const std::vector<std::string>& patterns, const std::string& path) {
    return std::any_of(patterns.begin(), patterns.end(),
                       [&](const std::string& p) { return Covers(p, path); });
  }

  void ParseOverridable(const YAML::Node& n, Definition& def) {
    if (!def.is_template) {
      Error(n, "overridable: only a template (template: true) lists overridable paths",
            "add template: true, or remove overridable");
      return;
    }
    if (!n.IsSequence()) {
      Error(n, absl::StrCat("overridable must be a list of paths, not ", TypeName(n)),
            "e.g. overridable: [states.review.config.chain, states.*.config.due]");
      return;
    }
    static const std::regex kPattern(
        R"(^(states|variables|subject|initial)(\.([A-Za-z_][A-Za-z0-9_]*|\*))*$)");
    for (size_t i = 0; i < n.size(); ++i) {
      const YAML::Node item = n[i];
      std::string path;
      if (!ScalarString(item, absl::StrCat("overridable[", i, "]"), &path)) continue;
      if (!std::regex_match(path, kPattern)) {
        Error(item, absl::StrCat("overridable[", i, "]: '", path, "' is not a path"),
              "a path starts with states, variables, subject or initial; segments are "
              "names or * joined by '.', e.g. states.*.config.due");
        continue;
      }
      const auto segs = Segments(path);
      if (segs[0] == "states" && segs.size() > 1 && segs[1] != "*" &&
          def.Find(segs[1]) == nullptr) {
        Error(item, absl::StrCat("overridable[", i, "]: no state '", segs[1], "'"),
              "name a state of this template, or * for every state");
        continue;
      }
      def.overridable.push_back(path);
    }
  }

  // Reads `extends`, finds the template and merges the definition into it.
  // Returns the merged document, or nullopt after a diagnostic.
  std::optional<YAML::Node> ApplyTemplate(const YAML::Node& root, Definition* def) {
    const YAML::Node ext = root["extends"];
    def->extends_pos = PosOf(ext);
    std::string key, alias;
    int64_t version = 0;
    if (ext.IsScalar()) {
      key = ext.Scalar();
    } else if (ext.IsMap()) {
      size_t before = diags.size();
      ForEachKey(ext, "extends", FormatVocabulary().extends_keys,
                 [&](const std::string& k, const YAML::Node&, const YAML::Node& val) {
                   if (k == "key") ScalarString(val, "extends.key", &key);
                   if (k == "alias") ScalarString(val, "extends.alias", &alias);
                   if (k == "version") {
                     if (!val.IsScalar() || !absl::SimpleAtoi(val.Scalar(), &version) ||
                         version <= 0) {
                       Error(val, "extends.version must be a version number (1, 2, ...)",
                             "bpmctl defs KEY lists the template's versions");
                     }
                   }
                 });
      if (diags.size() != before) return std::nullopt;
      if (version > 0 && !alias.empty()) {
        Error(ext, "extends: give a version or an alias, not both",
              "a version pins the template; an alias follows it");
        return std::nullopt;
      }
    }
    if (key.empty()) {
      Error(ext, "extends needs the key of a template",
            "e.g. extends: province-target-filing, or {key: ..., version: 3} to pin one");
      return std::nullopt;
    }
    if (resolver_ == nullptr) {
      Error(ext, absl::StrCat("extends: template '", key, "' cannot be looked up here"),
            "validate it against a server that has the template deployed "
            "(bpmctl validate talks to one)");
      return std::nullopt;
    }
    auto base = (*resolver_)(key, version, alias);
    if (!base.ok()) {
      Error(ext, absl::StrCat("extends: template '", key, "': ", base.status().message()),
            "deploy the template first; bpmctl defs lists what is deployed");
      return std::nullopt;
    }
    YAML::Node merged;
    try {
      merged = YAML::Load(base->effective_yaml);
    } catch (const YAML::Exception& e) {
      Error(ext, absl::StrCat("extends: template '", key, "' version ", base->version,
                              " is unreadable: ", e.msg),
            "redeploy the template");
      return std::nullopt;
    }
    def->extends_key = key;
    def->extends_version = base->version;
    def->extends_pinned = version > 0;
    base_hash_ = base->content_hash;
    const std::string from = absl::StrCat("template ", key, " v", base->version);
    const YAML::Node is_template = merged["template"];
    if (!merged.IsMap() || !is_template || !is_template.IsScalar() ||
        is_template.Scalar() != "true") {
      Error(ext, absl::StrCat("extends: ", key, " v", base->version, " is not a template"),
            "only a definition with template: true can be extended");
      return std::nullopt;
    }
    std::vector<std::string> allowed;
    if (const YAML::Node list = merged["overridable"]; list && list.IsSequence()) {
      for (const auto& item : list) allowed.push_back(item.Scalar());
    }
    merged.remove("template");
    merged.remove("overridable");
    size_t before = diags.size();
    ForEachKey(root, "definition", FormatVocabulary().definition_keys,
               [&](const std::string& k, const YAML::Node&, const YAML::Node& val) {
                 if (k == "extends") return;
                 if (k == "key" || k == "title" || k == "description" || k == "template") {
                   merged[k] = val;  // the definition's own
                   return;
                 }
                 if (k == "overridable") {  // a template narrowing what stays open
                   // Not a list: ParseOverridable reports it on the merged result.
                   if (!val.IsSequence()) {
                     merged[k] = val;
                     return;
                   }
                   for (const auto& item : val) {
                     if (item.IsScalar() && !AnyCovers(allowed, item.Scalar())) {
                       Error(item,
                             absl::StrCat("overridable: '", item.Scalar(), "' is locked by ",
                                          from, "; a template may only narrow what its "
                                          "template leaves open"),
                             absl::StrCat(from, " leaves open: ",
                                          allowed.empty() ? "nothing" : absl::StrJoin(allowed, ", ")));
                     }
                   }
                   merged[k] = val;
                   return;
                 }
                 Merge(merged, k, val, k, allowed, from);
               });
    if (diags.size() != before) return std::nullopt;
    return merged;
  }

  // Merges `value` into parent[key]; `path` is its dotted path. An
  // overridable part is replaced as a whole; above one, mappings merge.
  void Merge(YAML::Node parent, const std::string& key, const YAML::Node& value,
             const std::string& path, const std::vector<std::string>& allowed,
             const std::string& from) {
    if (AnyCovers(allowed, path)) {
      parent[key] = value;
      return;
    }
    const YAML::Node existing = static_cast<const YAML::Node&>(parent)[key];
    if (value.IsMap() && existing && existing.IsMap()) {
      YAML::Node target = parent[key];
      ForEachKey(value, path, {},
                 [&](const std::string& k, const YAML::Node&, const YAML::Node& v) {
                   Merge(target, k, v, absl::StrCat(path, ".", k), allowed, from);
                 });
      return;
    }
    Error(value,
          absl::StrCat("'", path, "' is locked by ", from,
                       existing ? "" : " (the template has no such part)"),
          absl::StrCat(from, " lets a definition change: ",
                       allowed.empty() ? "nothing" : absl::StrJoin(allowed, ", "),
                       "; ask the template's owner to make it overridable"));
  }

 public:
  const TemplateResolver* resolver_ = nullptr;
  std::string base_hash_;  // the template's content hash, when extending one

 private:
  std::string source_;
};

bool Less(const Diagnostic& a, const Diagnostic& b) {
  if (a.pos.line != b.pos.line) return a.pos.line < b.pos.line;
  return a.pos.column < b.pos.column;
}

}  // namespace

const char* VarTypeName(VarType type) {
  return FormatVocabulary().variable_types[static_cast<size_t>(type)].c_str();
}

std::string Diagnostic::ToString() const {
  std::string out = absl::StrCat(file, ":", pos.line, ":", pos.column, ": ", message);
  if (!hint.empty()) absl::StrAppend(&out, "\n  hint: ", hint);
  return out;
}

ParseResult Parse(const std::string& yaml, const std::string& source_name,
                  const TemplateResolver* resolver) {
  Parser p(source_name);
  p.resolver_ = resolver;
  ParseResult result;
  result.definition = p.Run(yaml);
  if (result.definition) {
    result.definition->source_name = source_name;
    result.definition->yaml = yaml;
    // A definition built on a template changes when the template does.
    result.definition->content_hash =
        result.definition->extends_key.empty()
            ? Sha256Hex(yaml)
            : Sha256Hex(absl::StrCat(yaml, "\n# extends ", result.definition->extends_key,
                                     " ", p.base_hash_, "\n"));
  }
  result.diagnostics = std::move(p.diags);
  std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(), Less);
  return result;
}

}  // namespace bpm::definition
