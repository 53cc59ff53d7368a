// Checks that need plugins and the whole graph; condition evaluation; Compile.
#include <algorithm>
#include <deque>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

const State* Definition::Find(const std::string& name) const {
  for (const State& s : states)
    if (s.name == name) return &s;
  return nullptr;
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

std::vector<Diagnostic> Validate(const Definition& def, const plugin::Registry& plugins) {
  std::vector<Diagnostic> out;
  auto error = [&](Position pos, std::string msg) {
    out.push_back({def.source_name, pos, std::move(msg)});
  };
  std::map<std::string, const State*> by_name;
  for (const State& s : def.states) by_name[s.name] = &s;

  if (!def.initial.empty() && by_name.count(def.initial) == 0) {
    error(def.initial_pos, absl::StrCat("initial state '", def.initial, "' is not defined"));
  }
  bool any_final = false;
  for (const State& s : def.states) {
    if (s.final) {
      any_final = true;
      continue;
    }
    if (s.stage.empty()) continue;  // reported by Parse
    const plugin::StageHandle* stage = plugins.Find(s.stage);
    if (stage == nullptr) {
      error(s.stage_pos, absl::StrCat("state '", s.name, "': unknown stage plugin '", s.stage,
                                      "'; loaded: ", absl::StrJoin(plugins.Names(), ", ")));
    } else {
      plugin::pb::ValidateConfigRequest req;
      *req.mutable_config() = s.config;
      auto resp = stage->ValidateConfig(req);
      if (!resp.ok()) {
        error(s.config_pos.line ? s.config_pos : s.stage_pos,
              absl::StrCat("state '", s.name, "': ", resp.status().message()));
      } else {
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
          error(pos, absl::StrCat("state '", s.name, "': stage '", s.stage, "' config ",
                                  e.path().empty() ? "" : absl::StrCat("'", e.path(), "' "),
                                  "rejected: ", e.message()));
        }
      }
      const auto& outcomes = stage->description().outcomes();
      for (const auto& [event, alts] : s.on) {
        if (std::find(outcomes.begin(), outcomes.end(), event) == outcomes.end()) {
          auto pos_it = s.event_pos.find(event);
          error(pos_it != s.event_pos.end() ? pos_it->second : s.pos,
                absl::StrCat("state '", s.name, "': stage '", s.stage,
                             "' never emits outcome '", event,
                             "'; it emits: ", absl::StrJoin(outcomes, ", ")));
        }
      }
    }
    for (const auto& [event, alts] : s.on) {
      for (const Transition& t : alts) {
        if (!t.target.empty() && by_name.count(t.target) == 0) {
          error(t.pos, absl::StrCat("state '", s.name, "' on '", event,
                                    "': unknown target state '", t.target, "'"));
        }
      }
    }
  }
  if (!def.states.empty() && !any_final) {
    error(def.states.front().pos, "the workflow has no final state (add one with final: true)");
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
        error(s.pos, absl::StrCat("state '", s.name, "' is unreachable from initial state '",
                                  def.initial, "'"));
      } else if (any_final && !reaches_final.count(s.name)) {
        error(s.pos, absl::StrCat("state '", s.name, "' cannot reach any final state"));
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
                                                    std::vector<Diagnostic>* diagnostics) {
  ParseResult parsed = Parse(yaml, source_name);
  std::vector<Diagnostic> diags = std::move(parsed.diagnostics);
  if (parsed.definition && diags.empty()) diags = Validate(*parsed.definition, plugins);
  if (diagnostics != nullptr) *diagnostics = diags;
  if (!diags.empty()) {
    std::vector<std::string> lines;
    for (const Diagnostic& d : diags) lines.push_back(d.ToString());
    return absl::InvalidArgumentError(absl::StrCat("invalid workflow definition:\n",
                                                   absl::StrJoin(lines, "\n")));
  }
  for (State& st : parsed.definition->states) {
    if (!st.final) st.config_wire = plugin::ConfigWire(st.config);
  }
  return std::shared_ptr<const Definition>(std::move(parsed.definition));
}

}  // namespace bpm::definition
