// Internal to core/engine: scans that read across instances and definitions
// (targets.cc, history.cc, reports.cc, operations.cc, migration.cc).
// Thread safety: as the store's ListInstances; the helpers keep no state.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "core/common/status.h"
#include "core/definition/definition.h"
#include "core/perf/target_form.h"
#include "core/store/store.h"

namespace bpm::engine::internal {

// Calls fn(row) for every instance the filter matches, a page at a time in
// row order, until fn returns false. Returns the store's error, if any.
template <typename Fn>
Status ForEachInstance(store::Store& store, const store::InstanceFilter& filter, Fn&& fn,
                       int page = 500) {
  int64_t after = 0;
  while (true) {
    BPM_ASSIGN_OR_RETURN(std::vector<store::InstanceRow> rows,
                         store.ListInstances(filter, after, page));
    for (store::InstanceRow& row : rows) {
      if (!fn(row)) return absl::OkStatus();
    }
    if (rows.size() < static_cast<size_t>(page)) return absl::OkStatus();
    after = rows.back().row_id;
  }
}

// The first department_submit state's config block that read (one of
// core/perf/target_form.h's Read*Rules) finds, or nullopt. Problems in it
// were reported when the definition was deployed.
template <typename Rules>
std::optional<Rules> SubmitBlock(const definition::Definition& def,
                                 std::optional<Rules> (*read)(const google::protobuf::Struct&,
                                                              perf::ConfigProblems*)) {
  for (const definition::State& state : def.states) {
    if (state.stage != "department_submit") continue;
    perf::ConfigProblems ignored;
    if (auto rules = read(state.config, &ignored)) return rules;
  }
  return std::nullopt;
}

}  // namespace bpm::engine::internal
