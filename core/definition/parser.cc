// YAML text -> Definition, with shape checks. yaml-cpp throws; every call into
// it is inside this file and its exceptions become diagnostics.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/common/json.h"
#include "core/common/util.h"
#include "core/definition/definition.h"

namespace bpm::definition {

const Vocabulary& FormatVocabulary() {
  static const Vocabulary v = {
      {"key", "title", "description", "subject", "initial", "states"},
      {"key", "initial", "states"},
      {"stage", "config", "on", "final", "title", "description"},
      {"to", "when"},
      {"var", "eq", "ne", "lt", "le", "gt", "ge", "in", "exists", "all", "any", "not"},
      {"eq", "ne", "lt", "le", "gt", "ge", "in", "exists"},
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

class Parser {
 public:
  Parser(const std::string& source) : source_(source) {}

  std::vector<Diagnostic> diags;

  void Error(Position pos, std::string message) {
    diags.push_back({source_, pos, std::move(message)});
  }
  void Error(const YAML::Node& n, std::string message) { Error(PosOf(n), std::move(message)); }

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
        Error(k, absl::StrCat(where, ": keys must be plain names, not ", TypeName(k)));
        continue;
      }
      std::string key = k.Scalar();
      auto [prev, inserted] = seen.emplace(key, PosOf(k));
      if (!inserted) {
        Error(k, absl::StrCat(where, ": duplicate key '", key, "' (first at line ",
                              prev->second.line, ")"));
        continue;
      }
      if (!allowed.empty() &&
          std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        Error(k, absl::StrCat(where, ": unknown key '", key, "'; expected one of: ",
                              absl::StrJoin(allowed, ", ")));
        continue;
      }
      fn(key, k, kv.second);
    }
  }

  bool ScalarString(const YAML::Node& n, const std::string& what, std::string* out) {
    if (!n.IsScalar()) {
      Error(n, absl::StrCat(what, " must be a string, not ", TypeName(n)));
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
                            TypeName(n)));
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
        Error(n, absl::StrCat(where, ": 'all'/'any' must stand alone in their mapping"));
        return false;
      }
      const std::string k = entries[0].first;
      YAML::Node list = entries[0].second;
      out->kind = k == "all" ? Condition::Kind::kAll : Condition::Kind::kAny;
      if (!list.IsSequence() || list.size() == 0) {
        Error(list, absl::StrCat(where, ": '", k, "' needs a non-empty list of conditions"));
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
        Error(n, absl::StrCat(where, ": 'not' must stand alone in its mapping"));
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
      Error(n, absl::StrCat(where, ": a comparison needs 'var' (the variable to test)"));
      return false;
    }
    if (!ScalarString(get("var"), where + ".var", &out->var)) return false;
    static const std::regex kVar(FormatVocabulary().var_pattern);
    if (!std::regex_match(out->var, kVar)) {
      Error(get("var"), absl::StrCat(where, ".var: '", out->var,
                                     "' is not a variable path such as form.amount"));
      return false;
    }
    std::vector<std::string> ops;
    for (auto& e : entries)
      if (e.first != "var") ops.push_back(e.first);
    if (ops.size() != 1) {
      Error(n, absl::StrCat(where, ": a comparison needs exactly one operator of: ",
                            absl::StrJoin(kOps, ", ")));
      return false;
    }
    out->op = ops[0];
    YAML::Node operand = get(out->op);
    std::map<std::string, Position> ignored;
    out->operand = ToValue(operand, "", &ignored);
    const auto kind = out->operand.kind_case();
    using V = google::protobuf::Value;
    if (out->op == "in") {
      if (kind != V::kListValue || out->operand.list_value().values_size() == 0) {
        Error(operand, absl::StrCat(where, ".in: needs a non-empty list of values"));
        return false;
      }
    } else if (out->op == "exists") {
      if (kind != V::kBoolValue) {
        Error(operand, absl::StrCat(where, ".exists: needs true or false"));
        return false;
      }
    } else if (out->op == "lt" || out->op == "le" || out->op == "gt" || out->op == "ge") {
      if (kind != V::kNumberValue) {
        Error(operand, absl::StrCat(where, ".", out->op, ": needs a number"));
        return false;
      }
    } else if (kind == V::kStructValue || kind == V::kListValue) {
      Error(operand, absl::StrCat(where, ".", out->op, ": needs a single value"));
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
      if (!has_to) Error(n, absl::StrCat(where, ": a transition needs 'to' (the target state)"));
      out->push_back(std::move(t));
      return;
    }
    if (n.IsSequence() && n.size() > 0) {
      int i = 0;
      for (const auto& item : n) {
        if (item.IsSequence()) {
          Error(item, absl::StrCat(where, "[", i, "]: nested lists are not transitions"));
          ++i;
          continue;
        }
        ParseTransition(item, absl::StrCat(where, "[", i++, "]"), out);
      }
      for (size_t j = 0; j + 1 < out->size(); ++j) {
        if (!(*out)[j].when) {
          Error((*out)[j].pos, absl::StrCat(where, "[", j,
                                            "]: only the last alternative may omit 'when' "
                                            "(later ones could never be taken)"));
        }
      }
      return;
    }
    Error(n, absl::StrCat(where, ": a transition is a state name, {to, when}, or a list of "
                                 "those, not ",
                          TypeName(n)));
  }

  void ParseState(const std::string& name, const YAML::Node& key_node, const YAML::Node& n,
                  Definition* def) {
    State st;
    st.name = name;
    st.pos = PosOf(key_node);
    static const std::regex kName(FormatVocabulary().state_name_pattern);
    if (!std::regex_match(name, kName)) {
      Error(key_node, absl::StrCat("state '", name,
                                   "': names are letters, digits and _ (not starting with a "
                                   "digit, at most 64)"));
    }
    const std::string where = absl::StrCat("state '", name, "'");
    if (!n.IsMap()) {
      Error(n, absl::StrCat(where, " must be a mapping, not ", TypeName(n)));
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
                 } else if (key == "config") {
                   st.config_pos = PosOf(val);
                   if (val.IsNull()) return;
                   if (!val.IsMap()) {
                     Error(val, absl::StrCat(where, ".config must be a mapping, not ",
                                             TypeName(val)));
                     return;
                   }
                   st.config = ToValue(val, "", &st.config_paths).struct_value();
                 } else if (key == "on") {
                   has_on = true;
                   on_node = val;
                 } else if (key == "final") {
                   if (!val.IsScalar() || (val.Scalar() != "true" && val.Scalar() != "false")) {
                     Error(val, where + ".final must be true or false");
                   } else {
                     st.final = val.Scalar() == "true";
                   }
                 } else if (key == "title") {
                   ScalarString(val, where + ".title", &st.title);
                 }
               });
    if (st.final) {
      if (has_stage) Error(st.stage_pos, absl::StrCat(where, ": a final state has no stage"));
      if (has_on) Error(on_node, absl::StrCat(where, ": a final state has no transitions ('on')"));
    } else {
      if (!has_stage) Error(n, absl::StrCat(where, ": needs 'stage' (or 'final: true')"));
      if (!has_on) {
        Error(n, absl::StrCat(where, ": needs 'on' (its outcome events and target states)"));
      } else if (!on_node.IsMap()) {
        Error(on_node, absl::StrCat(where, ".on must be a mapping of event: target, not ",
                                    TypeName(on_node)));
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

  std::unique_ptr<Definition> Run(const std::string& yaml) {
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
                         " (save the file as UTF-8)"));
      return nullptr;
    }
    YAML::Node root;
    try {
      root = YAML::Load(yaml);
    } catch (const YAML::ParserException& e) {
      Error({e.mark.line + 1, e.mark.column + 1}, absl::StrCat("YAML syntax: ", e.msg));
      return nullptr;
    } catch (const YAML::Exception& e) {
      Error({e.mark.line + 1, e.mark.column + 1}, absl::StrCat("YAML: ", e.msg));
      return nullptr;
    }
    if (!root.IsMap()) {
      Error(root.IsNull() ? Position{1, 1} : PosOf(root),
            absl::StrCat("a workflow definition must be a mapping, not ", TypeName(root)));
      return nullptr;
    }
    auto def = std::make_unique<Definition>();
    bool has_key = false, has_initial = false, has_states = false;
    Position key_pos;
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
          } else if (key == "states") {
            has_states = true;
            if (!val.IsMap() || val.size() == 0) {
              Error(val, absl::StrCat("states must be a non-empty mapping of state names, not ",
                                      TypeName(val)));
              return;
            }
            ForEachKey(val, "states", {},
                       [&](const std::string& name, const YAML::Node& k, const YAML::Node& v) {
                         ParseState(name, k, v, def.get());
                       });
          }
        });
    Position top{1, 1};
    if (!has_key) {
      Error(top, "definition: missing 'key' (the workflow's name, e.g. target-filing)");
    } else {
      static const std::regex kKey(FormatVocabulary().key_pattern);
      if (!std::regex_match(def->key, kKey)) {
        Error(key_pos, absl::StrCat("key '", def->key,
                                    "' must be lowercase letters, digits, - and _ (at most 64)"));
      }
    }
    if (!has_initial) Error(top, "definition: missing 'initial' (the first state)");
    if (!has_states) Error(top, "definition: missing 'states'");
    return def;
  }

 private:
  std::string source_;
};

bool Less(const Diagnostic& a, const Diagnostic& b) {
  if (a.pos.line != b.pos.line) return a.pos.line < b.pos.line;
  return a.pos.column < b.pos.column;
}

}  // namespace

std::string Diagnostic::ToString() const {
  return absl::StrCat(file, ":", pos.line, ":", pos.column, ": ", message);
}

ParseResult Parse(const std::string& yaml, const std::string& source_name) {
  Parser p(source_name);
  ParseResult result;
  result.definition = p.Run(yaml);
  if (result.definition) {
    result.definition->source_name = source_name;
    result.definition->yaml = yaml;
    result.definition->content_hash = Sha256Hex(yaml);
  }
  result.diagnostics = std::move(p.diags);
  std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(), Less);
  return result;
}

}  // namespace bpm::definition
