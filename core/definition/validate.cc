// Checks that need plugins and the whole graph; condition evaluation; Compile.
#include <algorithm>
#include <deque>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/common/json.h"
#include "core/common/util.h"
#include "core/definition/definition.h"

namespace bpm::definition {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

const Value* Lookup(const Struct& vars, const std::string& path) {
  const Struct* cur = &vars;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos
                                                                    : dot - start);
    auto it = cur->fields().find(part);
    if (it == cur->fields().end()) return nullptr;
    if (dot == std::string::npos) return &it->second;
    if (it->second.kind_case() != Value::kStructValue) return nullptr;
    cur = &it->second.struct_value();
    start = dot + 1;
  }
}

bool ScalarEqual(const Value& a, const Value& b) {
  if (a.kind_case() != b.kind_case()) return false;
  switch (a.kind_case()) {
    case Value::kStringValue: return a.string_value() == b.string_value();
    case Value::kNumberValue: return a.number_value() == b.number_value();
    case Value::kBoolValue: return a.bool_value() == b.bool_value();
    case Value::kNullValue: return true;
    default: return false;
  }
}

}  // namespace

bool Condition::Evaluate(const Struct& variables) const {
  switch (kind) {
    case Kind::kAll:
      return std::all_of(children.begin(), children.end(),
                         [&](const Condition& c) { return c.Evaluate(variables); });
    case Kind::kAny:
      return std::any_of(children.begin(), children.end(),
                         [&](const Condition& c) { return c.Evaluate(variables); });
    case Kind::kNot:
      return !children.at(0).Evaluate(variables);
    case Kind::kCompare:
      break;
  }
  const Value* v = Lookup(variables, var);
  if (op == "exists") return (v != nullptr) == operand.bool_value();
  if (v == nullptr) return false;
  if (op == "eq") return ScalarEqual(*v, operand);
  if (op == "ne") return !ScalarEqual(*v, operand);
  if (op == "in") {
    for (const Value& item : operand.list_value().values())
      if (ScalarEqual(*v, item)) return true;
    return false;
  }
  if (v->kind_case() != Value::kNumberValue) return false;
  double x = v->number_value(), y = operand.number_value();
  if (op == "lt") return x < y;
  if (op == "le") return x <= y;
  if (op == "gt") return x > y;
  if (op == "ge") return x >= y;
  return false;
}

const Variable* Definition::FindVariable(const std::string& path) const {
  for (const Variable& v : variables) {
    if (v.name == path) return &v;
    if (v.type == VarType::kObject && path.size() > v.name.size() &&
        path.compare(0, v.name.size(), v.name) == 0 && path[v.name.size()] == '.') {
      return &v;
    }
  }
  return nullptr;
}

namespace {

Value::KindCase KindOf(VarType type) {
  switch (type) {
    case VarType::kString: return Value::kStringValue;
    case VarType::kNumber: return Value::kNumberValue;
    case VarType::kBool: return Value::kBoolValue;
    case VarType::kObject: return Value::kStructValue;
    case VarType::kList: return Value::kListValue;
  }
  return Value::KIND_NOT_SET;
}

std::string Show(const Value& v) {
  switch (v.kind_case()) {
    case Value::kStringValue: return absl::StrCat("'", v.string_value(), "'");
    case Value::kNumberValue: return absl::StrCat(v.number_value());
    case Value::kBoolValue: return v.bool_value() ? "true" : "false";
    case Value::kNullValue: return "null";
    default: return "a compound value";
  }
}

std::string ShowValues(const Variable& var) {
  std::vector<std::string> out;
  for (const Value& v : var.values) {
    out.push_back(v.kind_case() == Value::kStringValue ? v.string_value() : Show(v));
  }
  return absl::StrJoin(out, ", ");
}

bool AllowedValue(const Variable& var, const Value& v) {
  if (var.values.empty()) return true;
  return std::any_of(var.values.begin(), var.values.end(),
                     [&](const Value& allowed) { return ScalarEqual(allowed, v); });
}

}  // namespace

Status Definition::CheckVariables(const Struct& given, const std::string& field) const {
  for (const Variable& var : variables) {
    const Value* v = Lookup(given, var.name);
    if (v == nullptr || v->kind_case() == Value::kNullValue) continue;
    if (v->kind_case() != KindOf(var.type)) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".", var.name, ": workflow ", key, " declares it ", VarTypeName(var.type),
          ", not ", Show(*v)));
    }
    if (!AllowedValue(var, *v)) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".", var.name, ": ", Show(*v),
                                                     " is not one of workflow ", key,
                                                     "'s values: ", ShowValues(var)));
    }
  }
  return absl::OkStatus();
}

const State* Definition::Find(const std::string& name) const {
  for (const State& s : states)
    if (s.name == name) return &s;
  return nullptr;
}

void Condition::AddVariables(std::vector<std::string>* names) const {
  if (kind == Kind::kCompare) {
    names->push_back(var.substr(0, var.find('.')));
    return;
  }
  for (const Condition& c : children) c.AddVariables(names);
}

std::vector<std::string> State::ConditionVariables(const std::string& event) const {
  std::vector<std::string> names;
  auto it = on.find(event);
  if (it == on.end()) return names;
  for (const Transition& t : it->second) {
    if (t.when) t.when->AddVariables(&names);
  }
  return names;
}

StatusOr<std::string> Definition::Next(const State& state, const std::string& event,
                                       const Struct& variables) const {
  auto it = state.on.find(event);
  if (it == state.on.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("workflow ", key, ": state '", state.name, "' (stage ", state.stage,
                     ") has no transition for outcome '", event, "'"));
  }
  for (const Transition& t : it->second) {
    if (!t.when || t.when->Evaluate(variables)) return t.target;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("workflow ", key, ": no alternative of state '", state.name, "' on '", event,
                   "' matches the instance's variables"));
}

namespace {

// A hint for a plugin's config error that has none: what the stage's schema
// says of the top-level key the error is under, else the keys it accepts.
std::string SchemaHint(const plugin::StageHandle& stage, const std::string& path) {
  const std::string& schema_json = stage.description().config_schema_json();
  const std::string stage_name = stage.description().name();
  auto schema = ParseJsonStruct(schema_json);
  if (!schema.ok()) return absl::StrCat("see the documentation of stage '", stage_name, "'");
  auto props_it = schema->fields().find("properties");
  if (props_it == schema->fields().end()) {
    return absl::StrCat("see the documentation of stage '", stage_name, "'");
  }
  const Struct& props = props_it->second.struct_value();
  const std::string top = path.substr(0, path.find_first_of(".["));
  auto it = props.fields().find(top);
  if (!top.empty() && it != props.fields().end()) {
    std::string text = CanonicalJson(it->second.struct_value());
    if (text.size() > 240) text = text.substr(0, 237) + "...";
    return absl::StrCat("stage '", stage_name, "' describes '", top, "' as ", text);
  }
  std::vector<std::string> keys;
  for (const auto& [k, unused] : props.fields()) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return absl::StrCat("stage '", stage_name, "' config keys: ", absl::StrJoin(keys, ", "));
}

class ConditionChecker {
 public:
  ConditionChecker(const Definition& def, std::vector<Diagnostic>* out) : def_(def), out_(out) {
    for (const Variable& v : def.variables) names_.push_back(v.name);
  }

  void Check(const Condition& c) {
    if (c.kind != Condition::Kind::kCompare) {
      for (const Condition& child : c.children) Check(child);
      return;
    }
    const Variable* var = def_.FindVariable(c.var);
    if (var == nullptr) {
      Error(c.var_pos, absl::StrCat("condition tests '", c.var, "', which is not declared"),
            DidYouMean(c.var, names_,
                       absl::StrCat("declare it under variables:, e.g. ", c.var,
                                    ": {type: string}")));
      return;
    }
    if (c.op == "exists") return;
    const bool exact = var->name == c.var;
    if (!exact) return;  // a field of an object variable: untyped
    const std::string declared =
        absl::StrCat("'", c.var, "' is declared ", VarTypeName(var->type));
    if (var->type == VarType::kObject || var->type == VarType::kList) {
      Error(c.var_pos, absl::StrCat(declared, "; ", c.op, " compares single values"),
            absl::StrCat("test one of its fields (", c.var, ".NAME), or use exists"));
      return;
    }
    if (c.op == "lt" || c.op == "le" || c.op == "gt" || c.op == "ge") {
      if (var->type != VarType::kNumber) {
        Error(c.var_pos, absl::StrCat(c.op, " compares numbers but ", declared),
              absl::StrCat("use eq, ne or in, or declare ", c.var, " as number"));
      }
      return;
    }
    std::vector<const Value*> operands;
    if (c.op == "in") {
      for (const Value& v : c.operand.list_value().values()) operands.push_back(&v);
    } else {
      operands.push_back(&c.operand);
    }
    for (const Value* v : operands) {
      if (v->kind_case() == Value::kNullValue) continue;
      if (v->kind_case() != KindOf(var->type)) {
        Error(c.operand_pos,
              absl::StrCat(declared, " but is compared with ", Show(*v)),
              var->type == VarType::kString ? "quote the value, e.g. \"1\""
                                            : absl::StrCat("compare with a ",
                                                           VarTypeName(var->type)));
        return;
      }
      if (!AllowedValue(*var, *v)) {
        std::vector<std::string> values;
        for (const Value& a : var->values) {
          values.push_back(a.kind_case() == Value::kStringValue ? a.string_value() : Show(a));
        }
        Error(c.operand_pos,
              absl::StrCat(Show(*v), " is not one of the values of '", c.var, "': ",
                           ShowValues(*var)),
              v->kind_case() == Value::kStringValue
                  ? DidYouMean(v->string_value(), values,
                               absl::StrCat("add it to ", c.var, "'s values, or fix the typo"))
                  : absl::StrCat("add it to ", c.var, "'s values"));
        return;
      }
    }
  }

 private:
  void Error(Position pos, std::string message, std::string hint) {
    out_->push_back({def_.source_name, pos, std::move(message), std::move(hint)});
  }
  const Definition& def_;
  std::vector<Diagnostic>* out_;
  std::vector<std::string> names_;
};

}  // namespace

std::vector<Diagnostic> Validate(const Definition& def, const plugin::Registry& plugins,
                                 std::map<std::string, std::vector<std::string>>* variables_read) {
  std::vector<Diagnostic> out;
  auto error = [&](Position pos, std::string msg, std::string hint) {
    out.push_back({def.source_name, pos, std::move(msg), std::move(hint)});
  };
  std::map<std::string, const State*> by_name;
  std::vector<std::string> state_names;
  for (const State& s : def.states) {
    by_name[s.name] = &s;
    state_names.push_back(s.name);
  }

  if (!def.initial.empty() && by_name.count(def.initial) == 0) {
    error(def.initial_pos, absl::StrCat("initial state '", def.initial, "' is not defined"),
          DidYouMean(def.initial, state_names, "name one of the states"));
  }
  ConditionChecker conditions(def, &out);
  bool any_final = false;
  for (const State& s : def.states) {
    if (s.final) {
      any_final = true;
      continue;
    }
    if (s.stage.empty()) continue;  // reported by Parse
    const plugin::StageHandle* stage = plugins.Find(s.stage);
    if (stage == nullptr) {
      error(s.stage_pos,
            absl::StrCat("state '", s.name, "': unknown stage plugin '", s.stage,
                         "'; loaded: ", absl::StrJoin(plugins.Names(), ", ")),
            DidYouMean(s.stage, plugins.Names(),
                       "load the plugin (bpmd --plugin-dir) or fix the stage name"));
    } else {
      plugin::pb::ValidateConfigRequest req;
      *req.mutable_config() = s.config;
      auto resp = stage->ValidateConfig(req);
      if (!resp.ok()) {
        error(s.config_pos.line ? s.config_pos : s.stage_pos,
              absl::StrCat("state '", s.name, "': ", resp.status().message()),
              absl::StrCat("the plugin of stage '", s.stage,
                           "' failed; check bpmd's log and the plugin's version"));
      } else {
        if (resp->has_variables() && resp->errors_size() == 0) {
          const auto& names = resp->variables().names();
          if (std::any_of(names.begin(), names.end(), [](const std::string& n) { return n.empty(); })) {
            error(s.stage_pos,
                  absl::StrCat("state '", s.name, "': stage plugin '", s.stage,
                               "' declared an empty variable name among those it reads"),
                  "a bug in the plugin: report it with the plugin's version");
          } else if (variables_read != nullptr) {
            // Each once (a remote plugin's list may repeat one): the engine
            // moves each into the request.
            std::vector<std::string> read(names.begin(), names.end());
            std::sort(read.begin(), read.end());
            read.erase(std::unique(read.begin(), read.end()), read.end());
            (*variables_read)[s.name] = std::move(read);
          }
        }
        for (const auto& e : resp->errors()) {
          // Point at the config node the error names, or its nearest parent.
          std::string path = e.path();
          Position pos = s.config_pos.line ? s.config_pos : s.stage_pos;
          while (true) {
            auto it = s.config_paths.find(path);
            if (it != s.config_paths.end()) {
              pos = it->second;
              break;
            }
            size_t cut = path.find_last_of(".[");
            if (cut == std::string::npos || path.empty()) break;
            path = path.substr(0, cut);
          }
          error(pos,
                absl::StrCat("state '", s.name, "': stage '", s.stage, "' config ",
                             e.path().empty() ? "" : absl::StrCat("'", e.path(), "' "),
                             "rejected: ", e.message()),
                e.hint().empty() ? SchemaHint(*stage, e.path()) : e.hint());
        }
      }
      const auto& outcomes = stage->description().outcomes();
      for (const auto& [event, alts] : s.on) {
        if (std::find(outcomes.begin(), outcomes.end(), event) == outcomes.end()) {
          auto pos_it = s.event_pos.find(event);
          const std::vector<std::string> emitted(outcomes.begin(), outcomes.end());
          error(pos_it != s.event_pos.end() ? pos_it->second : s.pos,
                absl::StrCat("state '", s.name, "': stage '", s.stage,
                             "' never emits outcome '", event,
                             "'; it emits: ", absl::StrJoin(outcomes, ", ")),
                DidYouMean(event, emitted, "map only the outcomes the stage emits"));
        }
      }
    }
    for (const auto& [event, alts] : s.on) {
      for (const Transition& t : alts) {
        if (!t.target.empty() && by_name.count(t.target) == 0) {
          error(t.pos,
                absl::StrCat("state '", s.name, "' on '", event, "': unknown target state '",
                             t.target, "'"),
                DidYouMean(t.target, state_names, "add the state, or name an existing one"));
        }
        if (t.when) conditions.Check(*t.when);
      }
    }
  }
  if (!def.states.empty() && !any_final) {
    error(def.states.front().pos, "the workflow has no final state (add one with final: true)",
          "e.g. done: { title: 已完成, final: true }");
  }
  // Reachability from the initial state, and every state reaching a final one.
  if (by_name.count(def.initial) != 0) {
    std::set<std::string> seen{def.initial};
    std::deque<std::string> queue{def.initial};
    while (!queue.empty()) {
      const State* s = by_name[queue.front()];
      queue.pop_front();
      for (const auto& [event, alts] : s->on)
        for (const Transition& t : alts)
          if (by_name.count(t.target) && seen.insert(t.target).second) queue.push_back(t.target);
    }
    std::set<std::string> reaches_final;
    bool changed = true;
    while (changed) {
      changed = false;
      for (const State& s : def.states) {
        if (reaches_final.count(s.name)) continue;
        bool ok = s.final;
        for (const auto& [event, alts] : s.on)
          for (const Transition& t : alts) ok = ok || reaches_final.count(t.target) > 0;
        if (ok) changed = reaches_final.insert(s.name).second || changed;
      }
    }
    for (const State& s : def.states) {
      if (!seen.count(s.name)) {
        error(s.pos,
              absl::StrCat("state '", s.name, "' is unreachable from initial state '",
                           def.initial, "'"),
              "add a transition to it, or remove it");
      } else if (any_final && !reaches_final.count(s.name)) {
        error(s.pos, absl::StrCat("state '", s.name, "' cannot reach any final state"),
              "instances entering it could never finish: add a transition towards a final "
              "state");
      }
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return a.pos.line != b.pos.line ? a.pos.line < b.pos.line : a.pos.column < b.pos.column;
  });
  return out;
}

StatusOr<std::shared_ptr<const Definition>> Compile(const std::string& yaml,
                                                    const std::string& source_name,
                                                    const plugin::Registry& plugins,
                                                    std::vector<Diagnostic>* diagnostics,
                                                    const TemplateResolver* resolver) {
  ParseResult parsed = Parse(yaml, source_name, resolver);
  std::vector<Diagnostic> diags = std::move(parsed.diagnostics);
  std::map<std::string, std::vector<std::string>> variables_read;
  if (parsed.definition && diags.empty()) {
    diags = Validate(*parsed.definition, plugins, &variables_read);
  }
  if (diagnostics != nullptr) *diagnostics = diags;
  if (!diags.empty()) {
    std::vector<std::string> lines;
    for (const Diagnostic& d : diags) lines.push_back(d.ToString());
    return absl::InvalidArgumentError(absl::StrCat("invalid workflow definition:\n",
                                                   absl::StrJoin(lines, "\n")));
  }
  for (State& st : parsed.definition->states) {
    if (st.final) continue;
    st.config_wire = plugin::ConfigWire(st.config);
    auto read = variables_read.find(st.name);
    if (read != variables_read.end()) st.variables_read = std::move(read->second);
  }
  return std::shared_ptr<const Definition>(std::move(parsed.definition));
}

}  // namespace bpm::definition
