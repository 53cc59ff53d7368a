// The review chain: a state of the "review" stage walks a declarative list of
// levels, each resolved from the org model when it is entered, each with an
// approval mode. Pure functions of (config, context, chain state); the chain
// state lives in the instance variable `_review.<state>`.
//
// Level config keys (one mapping per level in config.chain):
//   level      unit_leader | department | owning_section | performance_section |
//              leadership | role | user
//   depth      department only: competent-department levels 1..depth, nearest
//              first (default 1); each becomes its own step
//   role       role routed to (defaults: unit_leader, dept_reviewer,
//              section_reviewer, perf_reviewer, leader); required for `role`
//   org        `role` only: the org ("${org}" = the instance's org; "" = any)
//   user       `user` only: the named user
//   mode       any (或签, default) | all (会签) | sequential (依次) | vote (票签)
//   veto       all: one return ends the level as returned (default true); when
//              false the level passes iff approvals outnumber returns
//   pass_ratio vote: share of weight needed (default 0.5, inclusive)
//   weights    vote: {user: weight}, default 1 each
//   name, title  step name (for "return to step") and task title
//
// Thread safety: pure functions.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "bpm/plugin/sdk.h"

namespace bpm::plugins::review {

namespace pb = ::bpm::plugin::pb;
using ::bpm::plugin::Struct;
using ::bpm::plugin::Value;

// A signer entry: a user id, or "@group" (the step's role in its org), or
// "@role:<role>@<org>" (a group task for another role: superior, fallback,
// escalation, reassignment).
struct Slot {
  std::vector<std::string> users;  // signers in order (add_signer inserts here)
  int pos = 0;                     // the signer whose turn it is
  std::string result;              // "" pending | approved | returned | removed
};

struct Step {
  std::string level;
  std::string name;
  std::string title;
  std::string mode = "any";
  std::string org;
  std::string role;
  std::string user;                  // level `user`
  std::vector<std::string> members;  // known individual members (after exclusions)
  bool members_known = false;
  bool only_excluded = false;        // members existed, but all are excluded (SoD)
  double pass_ratio = 0.5;
  std::map<std::string, double> weights;
  bool veto = true;
};

struct ChainState {
  std::vector<Step> steps;
  int current = 0;
  std::vector<Slot> slots;  // of the current step
  int resume_at = -1;       // after a return to the initiator: step to resume at
};

// Struct <-> state (stored in variables._review.<state>).
Struct ToStruct(const ChainState& s);
ChainState FromStruct(const Struct& s);

// Config validation of config.chain (and the policy keys) into errors.
void ValidateChainConfig(const Struct& config, std::vector<pb::ConfigError>* errors);

// Resolves config.chain (or the one-level `assignee` shorthand) against the
// org context. Unknown org-model parts leave steps with no org.
std::vector<Step> ResolveSteps(const pb::StageContext& ctx);

// Users who may never review this filing: the initiator and the submitter.
std::vector<std::string> ExcludedUsers(const pb::StageContext& ctx);

}  // namespace bpm::plugins::review
