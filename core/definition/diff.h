// Differences between two versions of a workflow definition, for reviewers
// deciding whether to deploy or activate a version.
//
// StructuralDiff names each change in workflow terms, one line each, in the
// order of the new version's states (removed states last):
//   title: '旧' -> '新'
//   initial: draft -> intake
//   state review: added (stage review)
//   state old_step: removed
//   state review: stage review -> final_review
//   state review: config deadline.days: 10 -> 15
//   state review: on approved: published -> [rectification when grade in ["中","差"]; published]
//   state review: on escalated: added -> finance
// Identical definitions give no lines.
//
// UnifiedDiff is a line diff of the YAML texts in the unified format (3 lines
// of context, "--- from" / "+++ to" headers, @@ hunks), empty when the texts
// are equal. Texts over 20,000 lines each are compared as one replaced block.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "core/definition/definition.h"

namespace bpm::definition {

std::vector<std::string> StructuralDiff(const Definition& from, const Definition& to);

std::string UnifiedDiff(const std::string& from_text, const std::string& to_text,
                        const std::string& from_label, const std::string& to_label);

// One condition as text: `grade in ["中","差"]`, `all(a eq 1, not(b exists true))`.
std::string ConditionText(const Condition& c);

}  // namespace bpm::definition
