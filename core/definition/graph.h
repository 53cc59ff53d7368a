// A workflow definition as a Graphviz DOT graph (`bpmctl graph`), optionally
// with one instance's path drawn on it.
//
// Each state is a node labelled with its title, name and stage plugin; final
// states are double-bordered; an arrow from a start point marks the initial
// state. Each alternative of each outcome event is an edge labelled with the
// event and, when it has one, its condition. With a Path, the states the
// instance has been in are filled, the edges it took are bold and coloured, and
// its current state is outlined in red.
//
// Thread safety: pure function.
#pragma once

#include <set>
#include <string>
#include <utility>

#include "core/definition/definition.h"

namespace bpm::definition {

struct Path {
  std::set<std::string> visited;                          // states entered
  std::set<std::pair<std::string, std::string>> taken;    // (from, to) transitions
  std::string current;                                    // the instance's state now
};

// label: the graph's caption, e.g. "target-filing v3".
std::string ToDot(const Definition& def, const std::string& label, const Path* path = nullptr);

}  // namespace bpm::definition
