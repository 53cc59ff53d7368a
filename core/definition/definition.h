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
// {not: COND}. Every variable a condition tests is declared, with its type
// and optionally its values; conditions are type-checked against them:
//
//   variables:
//     grade: { type: string, values: [优, 良, 中, 差] }
//     amount: number              # string number bool object list
//     form: object                # form.anything, untyped
//
// Templates across levels: a definition with `template: true` lists the
// paths an extending definition may change (`overridable`, segments joined
// by '.', '*' for any one segment); everything else is locked. A definition
// with `extends: KEY` (or {key, version} to pin, {key, alias}) is the
// template's text with its own values merged in (mappings merge, lists and
// scalars replace; an overridable part is replaced whole); changing a
// locked path is a diagnostic. A template that
// extends another may only narrow what it leaves overridable.
//
//   key: province-target-filing          key: county-target-filing
//   template: true                        extends: province-target-filing
//   overridable:                          states:
//     - states.review.config.chain          review:
//     - states.*.config.due                   config: { due: { working_days: 3 } }
//
// Parse() checks the shape; Validate() adds the checks that need the plugin
// registry and the graph (unknown plugin, plugin config, outcome events,
// unknown targets, reachability, condition types). Every Diagnostic carries
// file, line, column (1-based) and a hint. A definition's identity is its key
// plus the sha256 of its text (and of its template's, when it extends one).
//
// Thread safety: a Definition is immutable after Compile() and safe to share.
#pragma once

#include <functional>
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
  std::string hint;  // what to do about it; every diagnostic has one
  // "file:line:col: message" and, on the next line, "  hint: ..."
  std::string ToString() const;
};

enum class VarType { kString, kNumber, kBool, kObject, kList };
const char* VarTypeName(VarType type);

// A declared instance variable.
struct Variable {
  std::string name;  // dotted path, e.g. grade or form.amount
  VarType type = VarType::kString;
  std::vector<google::protobuf::Value> values;  // allowed values; empty: any
  std::string description;
  Position pos;
};

struct Condition {
  enum class Kind { kCompare, kAll, kAny, kNot };
  Kind kind = Kind::kCompare;
  std::string var;                    // kCompare: dotted variable path
  std::string op;                     // kCompare: eq ne lt le gt ge in exists
  google::protobuf::Value operand;    // kCompare
  std::vector<Condition> children;    // kAll / kAny / kNot (one child)
  Position pos;
  Position var_pos;                   // kCompare: the var's value
  Position operand_pos;               // kCompare: the operator's value

  // Evaluates against the instance variables. Missing variables compare
  // false (except `exists: false`, which is true).
  bool Evaluate(const google::protobuf::Struct& variables) const;
  // Appends the top-level variables Evaluate reads (each var's name before
  // its first dot).
  void AddVariables(std::vector<std::string>* names) const;
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
  // The only instance variables the stage reads under config, when its
  // plugin declared them (ValidateConfigResponse.variables), set by Compile;
  // the engine then sends the stage only these. nullopt: all of them.
  std::optional<std::vector<std::string>> variables_read;
  // event -> ordered alternatives (first whose condition holds wins)
  std::map<std::string, std::vector<Transition>> on;
  // The top-level variables the conditions on `event` read (Definition::Next
  // needs only these); empty when it has none.
  std::vector<std::string> ConditionVariables(const std::string& event) const;
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
  std::string content_hash;   // sha256 hex of yaml (and the template's hash)
  std::vector<Variable> variables;  // in file order
  Position variables_pos;

  // Templates (see above).
  bool is_template = false;
  std::vector<std::string> overridable;  // path patterns, templates only
  std::string extends_key;       // empty: extends nothing
  int64_t extends_version = 0;   // the template version it was built on
  bool extends_pinned = false;   // extends names a version: upstream changes stay out
  Position extends_pos;
  // The definition after applying its template (the text itself when it
  // extends nothing); what a definition extending this one builds on.
  std::string effective_yaml;

  const State* Find(const std::string& name) const;
  // The declaration covering a variable path: the exact name, or a declared
  // ancestor of type object. nullptr when undeclared.
  const Variable* FindVariable(const std::string& path) const;
  // Checks given variables (e.g. at start) against the declarations: types
  // and allowed values of the declared ones present. INVALID_ARGUMENT naming
  // `field`.NAME on the first mismatch.
  Status CheckVariables(const google::protobuf::Struct& variables,
                        const std::string& field) const;
  // Resolves the target for `event` leaving `state` given variables.
  // FAILED_PRECONDITION when the state has no such event or no alternative
  // matches.
  StatusOr<std::string> Next(const State& state, const std::string& event,
                             const google::protobuf::Struct& variables) const;
};

// "did you mean 'X'?" for the candidate nearest to word (by edit distance,
// when near enough), else `otherwise`. For hints.
std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates,
                       const std::string& otherwise);

// The format's vocabulary: what Parse accepts, from the parser itself.
// workflows/workflow.schema.json (the JSON Schema editors use for completion)
// is kept in step with it by a test.
struct Vocabulary {
  std::vector<std::string> definition_keys;  // top level
  std::vector<std::string> required_keys;    // top level, required
  std::vector<std::string> standalone_keys;  // required unless the definition extends a template
  std::vector<std::string> state_keys;
  std::vector<std::string> transition_keys;  // the mapping form of an alternative
  std::vector<std::string> condition_keys;   // var, the operators, all, any, not
  std::vector<std::string> operators;        // eq ne lt le gt ge in exists
  std::vector<std::string> variable_keys;    // the mapping form of a declaration
  std::vector<std::string> variable_types;   // string number bool object list
  std::vector<std::string> extends_keys;     // the mapping form of extends
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

// The template a definition extends, as the caller found it.
struct BaseTemplate {
  std::string key;
  int64_t version = 0;
  std::string effective_yaml;  // Definition::effective_yaml of that version
  std::string content_hash;
};
// Finds the template `extends` names: version > 0 pins one; otherwise the
// version `alias` points at ("current" when empty). NOT_FOUND and the like
// become a diagnostic at `extends`.
using TemplateResolver = std::function<StatusOr<BaseTemplate>(
    const std::string& key, int64_t version, const std::string& alias)>;

// Limits on a definition's text: larger files and deeper nesting are refused
// with a diagnostic (at 1:1, and at the first node too deep) before anything
// else is looked at.
constexpr size_t kMaxDefinitionBytes = 1 << 20;
constexpr int kMaxDefinitionDepth = 32;

// A diagnostic's message starts with this when the parser met a shape of
// input it did not expect (a bug in it, caught instead of ending the process).
inline constexpr char kUnreadablePrefix[] = "cannot read this definition: ";

// Parses YAML text and checks its shape (keys, types, names, conditions).
// A definition that extends a template needs `resolver` (without one, that
// is a diagnostic at `extends`).
ParseResult Parse(const std::string& yaml, const std::string& source_name,
                  const TemplateResolver* resolver = nullptr);

// Checks that need plugins and the whole graph. Returns diagnostics (empty:
// valid). variables_read, when given, receives per state the variables its
// stage declared it reads under the state's config (State::variables_read);
// states whose stage did not say are left out.
std::vector<Diagnostic> Validate(
    const Definition& def, const plugin::Registry& plugins,
    std::map<std::string, std::vector<std::string>>* variables_read = nullptr);

// Parse + Validate. On any diagnostic returns INVALID_ARGUMENT whose message
// lists every diagnostic, one per line, "file:line:col: message".
StatusOr<std::shared_ptr<const Definition>> Compile(const std::string& yaml,
                                                    const std::string& source_name,
                                                    const plugin::Registry& plugins,
                                                    std::vector<Diagnostic>* diagnostics,
                                                    const TemplateResolver* resolver = nullptr);

}  // namespace bpm::definition
