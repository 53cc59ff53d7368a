#include "core/definition/graph.h"

#include "absl/strings/str_cat.h"
#include "core/definition/diff.h"

namespace bpm::definition {
namespace {

// A DOT double-quoted string.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

std::string ToDot(const Definition& def, const std::string& label, const Path* path) {
  std::string out = absl::StrCat("digraph ", Quote(def.key), " {\n");
  absl::StrAppend(&out, "  label=", Quote(def.title.empty() ? label : def.title + "\n" + label),
                  ";\n  labelloc=t;\n  fontname=\"sans-serif\";\n  rankdir=LR;\n",
                  "  node [shape=box, style=rounded, fontname=\"sans-serif\"];\n",
                  "  edge [fontname=\"sans-serif\", fontsize=10];\n",
                  "  \"__start\" [shape=point, width=0.15, label=\"\"];\n");
  for (const State& s : def.states) {
    std::string text = s.title.empty() ? s.name : absl::StrCat(s.title, "\n", s.name);
    if (!s.final) absl::StrAppend(&text, "\n[", s.stage, "]");
    std::string attrs = absl::StrCat("label=", Quote(text));
    if (s.final) absl::StrAppend(&attrs, ", peripheries=2");
    if (path != nullptr && path->visited.count(s.name)) {
      absl::StrAppend(&attrs, ", style=\"rounded,filled\", fillcolor=\"#dbeafe\"");
    }
    if (path != nullptr && path->current == s.name) {
      absl::StrAppend(&attrs, ", color=\"#dc2626\", penwidth=2.5");
    }
    absl::StrAppend(&out, "  ", Quote(s.name), " [", attrs, "];\n");
  }
  const bool started = path != nullptr && path->visited.count(def.initial);
  absl::StrAppend(&out, "  \"__start\" -> ", Quote(def.initial),
                  started ? " [color=\"#2563eb\", penwidth=2];\n" : ";\n");
  for (const State& s : def.states) {
    for (const auto& [event, alternatives] : s.on) {
      for (const Transition& t : alternatives) {
        std::string text = event;
        if (t.when) absl::StrAppend(&text, "\n", ConditionText(*t.when));
        std::string attrs = absl::StrCat("label=", Quote(text));
        if (path != nullptr && path->taken.count({s.name, t.target})) {
          absl::StrAppend(&attrs, ", color=\"#2563eb\", fontcolor=\"#2563eb\", penwidth=2");
        }
        absl::StrAppend(&out, "  ", Quote(s.name), " -> ", Quote(t.target), " [", attrs, "];\n");
      }
    }
  }
  out += "}\n";
  return out;
}

}  // namespace bpm::definition
