// bpm::perf scorecard — finance's assessment of departments (考核, DOMAIN.md
// §9): a sheet of items worth points, each either computed from the engine's
// own figures (the report's counts for the department and year) or entered
// by finance (manual). The scorecard stage plugin validates a sheet and
// records the manual points; bpmd's ReportService.Scorecard computes the
// rest, totals and ranks. Both read sheets through ReadSheet, so they agree.
//
// A sheet is the stage config's `items`, a list of
//   {id, name, points > 0, metric: one of kMetrics}   computed, or
//   {id, name, points > 0, manual: true}              entered, 0..points
// whose points add up to config `total` (default 100).
//
// Metrics (a rate with no cases to judge scores full points: nothing failed):
//   target_review_coverage    targets reviewed by finance / targets started
//   self_evaluation_coverage  self-evaluations / targets reviewed (at most 1)
//   spot_check_accuracy       1 − re-checks flagged / projects re-checked
//   rectification_on_time     rectified on time / rectifications opened
//   warning_decline           (warnings of the first round − of the last) /
//                             warnings of the first round, 0..1
// An item scores points × rate, rounded to 0.01 point half up; exact.
// Thread safety: stateless.
#pragma once

#include <string>
#include <vector>

#include "core/perf/decimal.h"
#include "core/perf/target_form.h"  // ConfigProblems
#include "google/protobuf/struct.pb.h"

namespace bpm::perf {

extern const std::vector<std::string> kMetrics;

struct ScoreItem {
  std::string id;
  std::string name;
  Decimal points;
  std::string metric;  // empty: manual
};

struct Sheet {
  std::vector<ScoreItem> items;
  Decimal total = Decimal::FromInt(100);
};

// config["items"] and config["total"]; problems with paths "items[2].points".
Sheet ReadSheet(const google::protobuf::Struct& config, ConfigProblems* problems);

// What a department did in the year (from ReportService's row).
struct DepartmentFigures {
  int targets_started = 0;
  int targets_reviewed = 0;
  int self_evaluations = 0;
  int spot_sampled = 0;
  int spot_flagged = 0;
  int rectifications = 0;
  int rectified_on_time = 0;
  int warned_first_round = 0;  // red + yellow, first monitoring round
  int warned_last_round = 0;   // and last (the same round when only one)
};

// The points of a computed item and how they were reached ("12/15 × 10").
Decimal MetricPoints(const std::string& metric, Decimal points, const DepartmentFigures& f,
                     std::string* basis);

}  // namespace bpm::perf
