// bpm::perf target forms as JSON (google.protobuf.Struct): reading a filed
// target form and a stage's `quality` config block into the structs of
// target_quality.h. The department_submit stage plugin (the check at submit)
// and bpmd's TargetService.CheckQuality (the check against other filings)
// both read through here, so the two always agree.
//
// A form's indicator table has the columns of the bundled target-filing
// workflow: level1 level2 name operator target unit weight (weight a number
// or a decimal string; absent or null: not weighted).
//
// The `quality` block (every key optional; defaults in QualityRules):
//   goal_field, indicators_field   form fields (default annual_goal, indicators)
//   output_categories, vague_words, input_words   lists of strings
//   categories        {level1: [level2, ...]}
//   weight_total      number: the weights must add up to it
//   min_goal_chars, min_indicators, copy_min_indicators   integers ≥ 0
//   copy_similarity   number in (0, 1]
//   severity          {code: error | warning | off}, codes of kCodes
// Thread safety: stateless.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/perf/target_quality.h"
#include "google/protobuf/struct.pb.h"

namespace bpm::perf {

struct QualityConfig {
  std::string goal_field = "annual_goal";
  std::string indicators_field = "indicators";
  // Optional, together: the form's implementation period in years and its
  // mid-term (总体) goal; a form with more than one year and no mid-term goal
  // is a missing_mid_term_goal finding. Unset: not checked.
  std::string term_field;
  std::string mid_term_goal_field;
  QualityRules rules;
};

// (path inside the stage config, message), e.g. ("quality.severity.vague", ...).
using ConfigProblems = std::vector<std::pair<std::string, std::string>>;

// Reads config["quality"] (absent: the defaults); problems are appended,
// with paths starting "quality".
QualityConfig ReadQualityConfig(const google::protobuf::Struct& stage_config,
                                ConfigProblems* problems);

// The form's goal and indicator rows; missing or mistyped cells read as
// empty (the form's own validation reports those).
TargetForm ReadTargetForm(const google::protobuf::Struct& form, const QualityConfig& config);

// A finding's field as a path in the form: "goal" → config.goal_field,
// "mid_term_goal" → config.mid_term_goal_field,
// "indicators[2].target" → "<indicators_field>[2].target".
std::string FormPath(const QualityConfig& config, const std::string& field);

// Findings as JSON: {errors: n, warnings: n, findings: [{code, severity,
// field (a FormPath), message}]}, the value department_submit stores in
// variables.quality.
google::protobuf::Struct FindingsToStruct(const std::vector<Finding>& findings,
                                          const QualityConfig& config);

// The `adjustment` block of a department_submit state (绩效目标调整, DOMAIN.md
// §5.2), read by the stage (at deploy) and by TargetService.Adjust:
//   window_until      "MM-DD": the adjustments of fiscal year Y close after
//                     Y-MM-DD, China time (absent: no window)
//   per_year          integer 0..12: adjustments of one filing per fiscal year
//                     (0: no limit; default 1)
//   replace_original  boolean: an approved adjustment becomes the version in
//                     force (default true; false keeps the filing in force and
//                     records the adjustment)
// The window and the yearly number are waived when the budget itself changed.
struct AdjustmentRules {
  std::string window_until;
  int per_year = 1;
  bool replace_original = true;
};

// config["adjustment"], or nullopt when the state has none; problems are
// appended with paths starting "adjustment".
std::optional<AdjustmentRules> ReadAdjustmentRules(const google::protobuf::Struct& stage_config,
                                                   ConfigProblems* problems);

// The `history` block of a department_submit state (项目关联, DOMAIN.md §5.1,
// §5.6): a filing that links the project to its ex-ante assessment and to the
// previous fiscal year's results. bpmd reads it when the workflow starts
// (Engine::AttachProjectHistory) and the stage when the form is submitted:
//   previous_variable       the start variable naming the project's subject
//                           in the previous fiscal year (a continuing
//                           project, 延续项目); default "previous_subject_ref"
//   amount_field            the form's requested amount (a number field);
//                           default "amount"
//   block_on_ex_ante        boolean (default true): the subject's ex-ante
//                           assessment refuses the start while it is
//                           unfinished, and for good once it concluded
//                           不予支持 ("a unit must complete the assessment
//                           before budget compilation")
//   rectified_adjustment    integer −99..0: the cut that replaces a −100
//                           (取消) budget action once a rectification of the
//                           previous year was accepted after it (default −50)
//   ex_ante_required_from   amount in yuan (optional): a new project asking
//                           this much or more needs a concluded ex-ante
//                           assessment (the region's "major project"
//                           threshold, DOMAIN.md §5.1 and §12 item 9); submit
//                           refuses it without one
//   ex_ante_continuing      boolean (default false): the threshold applies to
//                           continuing projects (previous_variable set) too
struct HistoryRules {
  std::string previous_variable = "previous_subject_ref";
  std::string amount_field = "amount";
  bool block_on_ex_ante = true;
  int rectified_adjustment = -50;
  std::optional<Decimal> ex_ante_required_from;
  bool ex_ante_continuing = false;
};

// config["history"], or nullopt when the state has none; problems are
// appended with paths starting "history".
std::optional<HistoryRules> ReadHistoryRules(const google::protobuf::Struct& stage_config,
                                             ConfigProblems* problems);

// The variable bpmd fills from the history block at start (absent when it
// finds nothing): {ex_ante: {instance_id, conclusion, total, at_unix_ms},
// previous: {subject_ref, filing_instance_id, amount, rectifications:
// [{instance_id, definition_key, result, overdue, due_unix_ms,
// checked_at_unix_ms}], result_application: {instance_id, definition_key,
// grade, action, adjustment, at_unix_ms}, rectified_by, effective_adjustment,
// amount_cap}}, each part only when found; amounts are decimal strings.
inline constexpr char kProjectHistoryVariable[] = "project_history";

}  // namespace bpm::perf
