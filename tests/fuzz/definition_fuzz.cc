// libFuzzer target: bytes -> the workflow YAML loader and the full validator
// (core/definition: Parse, then Validate against the real stage plugins, so
// each plugin's ValidateConfig sees whatever config the YAML carries), the
// way DefinitionService.Validate/Deploy and bpmd's --workflows run it. A
// definition that compiles is then asked for every transition with a few
// variable sets (Definition::Next, Condition::Evaluate). `extends: tmpl`
// resolves to a small template below, so template merging is fuzzed too.
//
// Seeds: corpus/definition_fuzz (the bundled workflows and the invalid
// fixtures). Findings are crashes, sanitizer reports and leaks; diagnostics
// are expected answers.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "core/definition/definition.h"
#include "core/plugin/loader.h"
#include "google/protobuf/util/json_util.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using bpm::definition::Definition;

bpm::plugin::Registry* g_plugins = nullptr;
bpm::definition::TemplateResolver* g_templates = nullptr;

// The one template `extends` finds (key tmpl, any version).
constexpr char kTemplate[] = R"(key: tmpl
template: true
overridable: [states.review.config, states.*.config.due, states.done.title, variables]
initial: review
variables: { grade: { type: string, values: [优, 良, 中, 差] }, score: number }
states:
  review:
    stage: review
    config: { assignee: { role: authority_reviewer }, due: { days: 5 } }
    on:
      approved:
        - { to: done, when: { var: grade, in: [优, 良] } }
        - { to: review }
      returned: review
  done: { title: 完成, final: true }
)";
std::vector<google::protobuf::Struct>* g_variable_sets = nullptr;

void CheckDiagnostics(const std::vector<bpm::definition::Diagnostic>& diags) {
  for (const auto& d : diags) {
    // Every diagnostic renders and names a position inside the text (or 0).
    if (d.pos.line < 0 || d.pos.column < 0) __builtin_trap();
    if (d.hint.empty()) __builtin_trap();  // every diagnostic says what to do
    // The parser's safety net caught an exception: a parser bug all the same.
    if (absl::StartsWith(d.message, bpm::definition::kUnreadablePrefix)) __builtin_trap();
    (void)d.ToString();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  bpm::fuzz::QuietProtobufLogs();
  g_plugins = new bpm::plugin::Registry();
  bpm::Status s = g_plugins->LoadDirectory(bpm::fuzz::PluginDir());
  if (!s.ok()) bpm::fuzz::Die(std::string(s.message()));
  g_templates = new bpm::definition::TemplateResolver(
      [](const std::string& key, int64_t version,
         const std::string&) -> bpm::StatusOr<bpm::definition::BaseTemplate> {
        if (key != "tmpl") return absl::NotFoundError("no such definition");
        return bpm::definition::BaseTemplate{key, version > 0 ? version : 1, kTemplate,
                                             std::string(64, 'a')};
      });
  g_variable_sets = new std::vector<google::protobuf::Struct>();
  for (const char* json : {"{}", R"({"grade":"中","score":85,"form":{"amount":1200000}})",
                           R"({"grade":"优","agree":true,"returned":1,"form":{"amount":-1}})"}) {
    google::protobuf::Struct vars;
    if (!google::protobuf::util::JsonStringToMessage(json, &vars).ok()) bpm::fuzz::Die(json);
    g_variable_sets->push_back(std::move(vars));
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  std::vector<bpm::definition::Diagnostic> diags;
  auto compiled = bpm::definition::Compile(yaml, "fuzz.yaml", *g_plugins, &diags, g_templates);
  CheckDiagnostics(diags);
  if (!compiled.ok()) {
    if (diags.empty()) __builtin_trap();  // refused without saying why
    return 0;
  }
  if (!diags.empty()) __builtin_trap();  // compiled despite diagnostics
  const Definition& def = **compiled;
  if (def.Find(def.initial) == nullptr) __builtin_trap();
  for (const auto& state : def.states) {
    for (const auto& [event, alts] : state.on) {
      for (const auto& vars : *g_variable_sets) {
        auto next = def.Next(state, event, vars);
        if (next.ok() && def.Find(*next) == nullptr) __builtin_trap();  // validated targets
      }
    }
  }
  return 0;
}
