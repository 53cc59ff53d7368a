// Workflow definitions: the YAML format, its model, and its validation.
//
// A definition names states; each non-final state runs one stage plugin with
// that plugin's config and maps the plugin's outcome events to target states,
// optionally through structured conditions (data, never code):
//
//   key: target-filing            # [a-z0-9][a-z0-9_-]*
//   title: 绩效目标填报与审核
//   subject: project              # what subject_ref names (free text)
//   initial: draft
//   states:
//     draft:
//       stage: department_submit
//       config: { ... }           # validated by the plugin
//       on: { submitted: review }
//     finance_review:
//       stage: final_review
//       on:
//         approved:               # first matching entry wins
//           - { to: rectification, when: { var: grade, in: [中, 差] } }
//           - { to: published }
//         returned: draft
//     done: { final: true }
//
// Conditions: {var: PATH, OP: VALUE} with OP one of eq ne lt le gt ge in
// exists (PATH is dotted: form.amount), or {all: [...]}, {any: [...]},
// {not: COND}.
//
// Parse() checks the shape; Validate() adds the checks that need the plugin
// registry and the graph (unknown plugin, plugin config, outcome events,
// unknown targets, reachability). Every Diagnostic carries file, line, column
// (1-based). A definition's identity is its key plus the sha256 of its text.
//
// Thread safety: a Definition is immutable after Compile() and safe to share.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/common/status.h"
#include "core/plugin/loader.h"
#include "google/protobuf/struct.pb.h"

namespace bpm::definition {

struct Position {
  int line = 0;    // 1-based; 0 means unknown
  int column = 0;  // 1-based
};

struct Diagnostic {
  std::string file;
  Position pos;
  std::string message;
  // "file:line:col: message"
  std::string ToString() const;
};

struct Condition {
  enum class Kind { kCompare, kAll, kAny, kNot };
  Kind kind = Kind::kCompare;
  std::string var;                    // kCompare: dotted variable path
  std::string op;                     // kCompare: eq ne lt le gt ge in exists
  google::protobuf::Value operand;    // kCompare
  std::vector<Condition> children;    // kAll / kAny / kNot (one child)
  Position pos;

  // Evaluates against the instance variables. Missing variables compare
  // false (except `exists: false`, which is true).
  bool Evaluate(const google::protobuf::Struct& variables) const;
};

struct Transition {
  std::string target;
  std::optional<Condition> when;
  Position pos;
};

struct State {
  std::string name;
  std::string title;
  bool final = false;
  std::string stage;                       // plugin stage name; empty when final
  google::protobuf::Struct config;
  // config serialized once as a plugin request prefix (plugin::ConfigWire),
  // set by Compile.
  std::string config_wire;
  // event -> ordered alternatives (first whose condition holds wins)
  std::map<std::string, std::vector<Transition>> on;
  Position pos;
  Position stage_pos;
  Position config_pos;
  // Positions of every node inside config, by path ("form.fields[2].type").
  std::map<std::string, Position> config_paths;
  std::map<std::string, Position> event_pos;
};

struct Definition {
  std::string key;
  std::string title;
  std::string subject;
  std::string initial;
  Position initial_pos;
  std::vector<State> states;  // in file order
  std::string source_name;
  std::string yaml;
  std::string content_hash;   // sha256 hex of yaml

  const State* Find(const std::string& name) const;
  // Resolves the target for `event` leaving `state` given variables.
  // FAILED_PRECONDITION when the state has no such event or no alternative
  // matches.
  StatusOr<std::string> Next(const State& state, const std::string& event,
                             const google::protobuf::Struct& variables) const;
};

// The format's vocabulary: what Parse accepts, from the parser itself.
// workflows/workflow.schema.json (the JSON Schema editors use for completion)
// is kept in step with it by a test.
struct Vocabulary {
  std::vector<std::string> definition_keys;  // top level
  std::vector<std::string> required_keys;    // top level, required
  std::vector<std::string> state_keys;
  std::vector<std::string> transition_keys;  // the mapping form of an alternative
  std::vector<std::string> condition_keys;   // var, the operators, all, any, not
  std::vector<std::string> operators;        // eq ne lt le gt ge in exists
  std::string key_pattern;                   // ECMAScript regex for `key`
  std::string state_name_pattern;
  std::string var_pattern;
};
const Vocabulary& FormatVocabulary();

struct ParseResult {
  std::unique_ptr<Definition> definition;  // null when the shape is broken
  std::vector<Diagnostic> diagnostics;     // sorted by position
  bool ok() const { return definition != nullptr && diagnostics.empty(); }
};

// Parses YAML text and checks its shape (keys, types, names, conditions).
ParseResult Parse(const std::string& yaml, const std::string& source_name);

// Checks that need plugins and the whole graph. Returns diagnostics (empty:
// valid).
std::vector<Diagnostic> Validate(const Definition& def, const plugin::Registry& plugins);

// Parse + Validate. On any diagnostic returns INVALID_ARGUMENT whose message
// lists every diagnostic, one per line, "file:line:col: message".
StatusOr<std::shared_ptr<const Definition>> Compile(const std::string& yaml,
                                                    const std::string& source_name,
                                                    const plugin::Registry& plugins,
                                                    std::vector<Diagnostic>* diagnostics);

}  // namespace bpm::definition
