// End to end through the command line: the real bpmctl binary, run as a
// subprocess the way a newcomer would run it from a shell, against a real
// bpmd (subprocess, port 0, real plugins, the bundled workflows). Identity and
// server come from the environment (BPM_SERVER, BPM_USER, BPM_ROLES, BPM_ORG).
#include <signal.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "bpm/v1/bpm.grpc.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/support/bpmctl_runner.h"
#include "tests/support/test_env.h"


namespace bpm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace v1 = ::bpm::v1;

// ---- Running bpmctl: tests/support/bpmctl_runner.h --------------------------

using testing::Dump;
using testing::EnvVars;
using testing::Lines;
using testing::ParseJson;
using testing::Result;
using testing::RunBpmctl;
using testing::WriteFile;

// ---- Identities and data (as in chain_test) ----------------------------------

using testing::Who;
const Who kUnit{"zhang", "unit_filer", "906017"};
const Who kAuthority{"li", "authority_reviewer", "906"};
const Who kFinance{"wang", "finance_reviewer", "czj"};
const Who kPerformance{"zhao", "performance_section", "czj"};
const Who kStranger{"mallory", "unit_filer", "999999"};
const Who kAdmin{"root", "workflow_admin", "czj"};

const char* const kTargetPayload = testing::kSoundTargetForm;

// A definition whose only non-final state names a stage plugin that does not
// exist: line 5, column 12 is "nosuch".
const char* kUnknownStage =
    "key: y\n"
    "initial: a\n"
    "states:\n"
    "  a:\n"
    "    stage: nosuch\n"
    "    on: { done: z }\n"
    "  z: { final: true }\n";

class BpmctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bpmd_ = std::make_unique<testing::BpmdProcess>(testing::FreshStoreUrl(dir_.path(), "bpmctl"));
    ASSERT_TRUE(bpmd_->Start());
    testing::ImportCountyOrgs(bpmd_->channel());  // finance's scope: its region
  }

  EnvVars As(const Who& who) const {
    return {{"BPM_SERVER", bpmd_->address()},
            {"BPM_USER", who.user},
            {"BPM_ROLES", who.roles},
            {"BPM_ORG", who.org}};
  }

  Result Ctl(const Who& who, const std::vector<std::string>& args, const std::string& cwd = "") {
    return RunBpmctl(args, As(who), cwd);
  }

  // Starts target-filing for subject P-1 owned by the unit; returns the instance.
  v1::Instance StartOne() {
    const Result r =
        Ctl(kUnit, {"start", "target-filing", "--subject", "P-1", "--org", "906017", "--json"});
    EXPECT_EQ(r.exit, 0) << Dump(r);
    return ParseJson<v1::StartInstanceResponse>(r.out).instance();
  }

  // The one task of `instance_id` in who's inbox (via `bpmctl inbox --json`).
  v1::Task InboxTask(const Who& who, const std::string& instance_id) {
    const Result r = Ctl(who, {"inbox", "--json"});
    EXPECT_EQ(r.exit, 0) << Dump(r);
    EXPECT_EQ(r.err, "");
    const auto inbox = ParseJson<v1::InboxResponse>(r.out);
    std::vector<v1::Task> found;
    for (const auto& task : inbox.tasks()) {
      if (task.instance_id() == instance_id) found.push_back(task);
    }
    EXPECT_EQ(found.size(), 1u) << who.user << "'s inbox:\n" << r.out;
    return found.empty() ? v1::Task() : found[0];
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::BpmdProcess> bpmd_;
};

// ---- Tests ------------------------------------------------------------------

TEST_F(BpmctlTest, HealthPrintsServing) {
  const Result r = Ctl(kUnit, {"health"});
  EXPECT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(r.out, "SERVING\n");
  EXPECT_EQ(r.err, "");

  // --server on the command line wins over BPM_SERVER; nobody listens on port 1.
  const Result down = Ctl(kUnit, {"health", "--server", "127.0.0.1:1", "--timeout", "5"});
  EXPECT_EQ(down.exit, 1) << Dump(down);
  EXPECT_EQ(down.out, "");
  EXPECT_THAT(down.err, StartsWith("bpmctl: health: UNAVAILABLE"));
}

TEST_F(BpmctlTest, DefsListsTheBundledWorkflow) {
  const Result json = Ctl(kUnit, {"defs", "--json"});
  ASSERT_EQ(json.exit, 0) << Dump(json);
  const auto defs = ParseJson<v1::ListDefinitionsResponse>(json.out);
  ASSERT_EQ(defs.definitions_size(), 10) << json.out;  // by key
  EXPECT_EQ(defs.definitions(0).key(), "department-evaluation");
  EXPECT_EQ(defs.definitions(1).key(), "department-target");
  EXPECT_EQ(defs.definitions(2).key(), "ex-ante");
  EXPECT_EQ(defs.definitions(3).key(), "key-evaluation");
  EXPECT_EQ(defs.definitions(4).key(), "performance-assessment");
  EXPECT_EQ(defs.definitions(5).key(), "performance-monitoring");
  EXPECT_EQ(defs.definitions(6).key(), "project-target-county");
  EXPECT_EQ(defs.definitions(7).key(), "self-evaluation");
  EXPECT_EQ(defs.definitions(8).key(), "target-adjustment");
  const auto& def = defs.definitions(9);
  EXPECT_EQ(def.key(), "target-filing");
  EXPECT_EQ(def.version(), 1);
  EXPECT_EQ(def.title(), "绩效目标填报与审核");
  EXPECT_EQ(def.content_hash().size(), 64u);
  EXPECT_THAT(def.states(), ElementsAre("draft", "authority_review", "finance_review",
                                        "rectification", "disclosure", "done", "closed"));

  const Result table = Ctl(kUnit, {"defs"});
  EXPECT_EQ(table.exit, 0) << Dump(table);
  EXPECT_EQ(table.err, "");
  const auto lines = Lines(table.out);
  ASSERT_EQ(lines.size(), 11u) << table.out;
  EXPECT_THAT(lines[0], StartsWith("KEY                     VERSION  ALIASES  TITLE"));
  EXPECT_THAT(lines[1], StartsWith("department-evaluation   1        current  部门重点绩效评价"));
  EXPECT_THAT(lines[2], StartsWith("department-target       1        current  部门整体绩效目标填报与审核"));
  EXPECT_THAT(lines[3], StartsWith("ex-ante                 1        current  事前绩效评估"));
  EXPECT_THAT(lines[4], StartsWith("key-evaluation          1        current  "));
  EXPECT_THAT(lines[5], StartsWith("performance-assessment  1        current  预算绩效管理工作考核"));
  EXPECT_THAT(lines[6], StartsWith("performance-monitoring  1        current  绩效运行监控"));
  EXPECT_THAT(lines[7], StartsWith("project-target-county   1        current  "));
  EXPECT_THAT(lines[8], StartsWith("self-evaluation         1        current  项目绩效自评"));
  EXPECT_THAT(lines[9], StartsWith("target-adjustment       1        current  绩效目标调整"));
  EXPECT_THAT(lines[10], StartsWith("target-filing           1        current  绩效目标填报与审核"));
  EXPECT_THAT(lines[10], HasSubstr("  " + def.content_hash().substr(0, 12) + "  "));
}

TEST_F(BpmctlTest, ValidateGoodAndBadFiles) {
  // Run from the source tree with a relative path, as the README does.
  const Result good =
      Ctl(kUnit, {"validate", "workflows/target-filing.yaml"}, testing::SourceDir());
  EXPECT_EQ(good.exit, 0) << Dump(good);
  EXPECT_EQ(good.out, "workflows/target-filing.yaml: ok (key target-filing)\n");
  EXPECT_EQ(good.err, "");

  const std::string bad = dir_.path() + "/bad.yaml";
  WriteFile(bad, kUnknownStage);
  const Result invalid = Ctl(kUnit, {"validate", bad});
  EXPECT_EQ(invalid.exit, 1) << Dump(invalid);
  EXPECT_EQ(invalid.err, "");
  const auto lines = Lines(invalid.out);
  ASSERT_EQ(lines.size(), 2u) << invalid.out;  // the diagnostic and its hint
  EXPECT_THAT(lines[0], StartsWith(bad + ":5:12: state 'a': unknown stage plugin 'nosuch'; loaded: "));
  EXPECT_THAT(lines[0], HasSubstr("department_submit"));
  EXPECT_EQ(lines[1], "  hint: load the plugin (bpmd --plugin-dir) or fix the stage name");

  // A YAML syntax error: the position of the unclosed flow sequence's end.
  const std::string broken = dir_.path() + "/broken.yaml";
  WriteFile(broken, "key: x\ninitial: a\nstates:\n  a:\n    stage: [review\n");
  const Result syntax = Ctl(kUnit, {"validate", broken});
  EXPECT_EQ(syntax.exit, 1) << Dump(syntax);
  EXPECT_THAT(syntax.out, StartsWith(broken + ":6:1: YAML syntax"));

  // Several files: each reported, the exit code is the worst.
  const Result both = Ctl(kUnit, {"validate", testing::SourceDir() + "/workflows/target-filing.yaml", bad});
  EXPECT_EQ(both.exit, 1) << Dump(both);
  EXPECT_THAT(both.out, HasSubstr("/workflows/target-filing.yaml: ok (key target-filing)\n"));
  EXPECT_THAT(both.out, HasSubstr(bad + ":5:12: "));

  // A file that cannot be read is a usage error.
  const Result missing = Ctl(kUnit, {"validate", dir_.path() + "/nope.yaml"});
  EXPECT_EQ(missing.exit, 2) << Dump(missing);
  EXPECT_EQ(missing.err, "bpmctl: validate: cannot read " + dir_.path() +
                             "/nope.yaml: No such file or directory\n");

  // Deploying the invalid file fails with the same position.
  const Result deploy = Ctl(kAdmin, {"deploy", bad});
  EXPECT_EQ(deploy.exit, 1) << Dump(deploy);
  EXPECT_EQ(deploy.out, "");
  EXPECT_THAT(deploy.err, StartsWith("bpmctl: deploy: INVALID_ARGUMENT: "));
  EXPECT_THAT(deploy.err, HasSubstr(bad + ":5:12: state 'a': unknown stage plugin 'nosuch'"));
}

TEST_F(BpmctlTest, TemplatesAcrossLevels) {
  const std::string examples = testing::SourceDir() + "/examples/templates/";
  const Result deployed = Ctl(kAdmin, {"deploy", examples + "province-project-target.yaml",
                                         examples + "county-project-target.yaml"});
  ASSERT_EQ(deployed.exit, 0) << Dump(deployed);
  EXPECT_THAT(deployed.out, HasSubstr("deployed county-project-target version 1"));

  // A county change to a locked part: refused at its line and column, with a hint.
  const std::string locked = dir_.path() + "/locked.yaml";
  WriteFile(locked,
            "key: county-locked\nextends: province-project-target\nstates:\n"
            "  disclosure:\n    config: { mode: auto }\n");
  const Result refused = Ctl(kFinance, {"validate", locked});
  EXPECT_EQ(refused.exit, 1) << Dump(refused);
  EXPECT_EQ(refused.out,
            locked + ":5:21: 'states.disclosure.config.mode' is locked by template "
                     "province-project-target v1\n"
                     "  hint: template province-project-target v1 lets a definition change: "
                     "states.review.config.chain, states.*.config.due, "
                     "states.review.config.remind_before_hours, "
                     "states.rectification.config.due_days, states.finance_review.on.approved; "
                     "ask the template's owner to make it overridable\n");

  // The province's next version: the county is rebuilt on it.
  const std::string v2 = dir_.path() + "/province.yaml";
  std::string text = testing::ReadFile(examples + "province-project-target.yaml");
  text.replace(text.find("due_days: 30"), 12, "due_days: 20");
  WriteFile(v2, text);
  const Result next = Ctl(kAdmin, {"deploy", v2});
  ASSERT_EQ(next.exit, 0) << Dump(next);
  EXPECT_THAT(next.out, HasSubstr("; current: 2 (was 1)\n  rebuilt county-project-target on "
                                  "it: version 2; current: 2 (was 1)\n"));
}

TEST_F(BpmctlTest, GovernanceHoldsADeployForASecondAdmin) {
  testing::BpmdProcess governed(testing::FreshStoreUrl(dir_.path(), "governed"),
                                {"--definition-approval"});
  ASSERT_TRUE(governed.Start());
  const Who alice{"alice", "workflow_admin", "czj"};
  const Who bob{"bob", "workflow_admin", "czj"};
  auto as = [&](const Who& who, const std::vector<std::string>& args) {
    return RunBpmctl(args,
                     {{"BPM_SERVER", governed.address()}, {"BPM_USER", who.user},
                      {"BPM_ROLES", who.roles}, {"BPM_ORG", who.org}},
                     "");
  };
  const std::string copy = dir_.path() + "/target-filing.yaml";
  WriteFile(copy, testing::ReadFile(testing::SourceDir() + "/workflows/target-filing.yaml") +
                      "# 2027\n");
  const Result held = as(alice, {"deploy", copy});
  ASSERT_EQ(held.exit, 0) << Dump(held);
  EXPECT_THAT(held.out, HasSubstr("deployed target-filing version 2"));
  EXPECT_THAT(held.out, HasSubstr("; awaiting approval in change request "));
  EXPECT_THAT(held.out, HasSubstr("current stays 1\n"));

  // Alice's own request is not in her inbox; it is in Bob's.
  const Result alices = as(alice, {"inbox", "--json"});
  EXPECT_THAT(ParseJson<v1::InboxResponse>(alices.out).tasks(), ::testing::IsEmpty());
  const Result bobs = as(bob, {"inbox", "--json"});
  const auto inbox = ParseJson<v1::InboxResponse>(bobs.out);
  ASSERT_EQ(inbox.tasks_size(), 1) << bobs.out;
  const Result approved = as(bob, {"act", inbox.tasks(0).id(), "approve", "--comment", "同意"});
  ASSERT_EQ(approved.exit, 0) << Dump(approved);
  const Result defs = as(bob, {"def", "target-filing", "--alias", "current", "--json"});
  ASSERT_EQ(defs.exit, 0) << Dump(defs);
  EXPECT_EQ(ParseJson<v1::GetDefinitionResponse>(defs.out).definition().version(), 2);
}

TEST_F(BpmctlTest, DeployNewVersionThenUnchanged) {
  const std::string copy = dir_.path() + "/target-filing.yaml";
  WriteFile(copy, testing::ReadFile(testing::SourceDir() + "/workflows/target-filing.yaml") +
                      "# 2026 revision\n");

  const Result first = Ctl(kAdmin, {"deploy", copy});
  EXPECT_EQ(first.exit, 0) << Dump(first);
  EXPECT_EQ(first.err, "");
  const Result listed = Ctl(kFinance, {"defs", "target-filing", "--json"});
  ASSERT_EQ(listed.exit, 0) << Dump(listed);
  const auto defs = ParseJson<v1::ListDefinitionsResponse>(listed.out);
  ASSERT_EQ(defs.definitions_size(), 2) << listed.out;
  std::string v2_hash;
  for (const auto& def : defs.definitions()) {
    if (def.version() == 2) v2_hash = def.content_hash();
  }
  ASSERT_EQ(v2_hash.size(), 64u) << listed.out;
  EXPECT_EQ(first.out, "deployed target-filing version 2 (sha256 " + v2_hash.substr(0, 12) +
                           "…); current: 2 (was 1)\n");

  const Result again = Ctl(kAdmin, {"deploy", copy});
  EXPECT_EQ(again.exit, 0) << Dump(again);
  EXPECT_EQ(again.out, "unchanged: target-filing version 2\n");
  EXPECT_EQ(again.err, "");

  // The latest version is what `defs` shows and what new instances use.
  const Result latest = Ctl(kFinance, {"defs", "--json"});
  ASSERT_EQ(latest.exit, 0) << Dump(latest);
  const auto latest_defs = ParseJson<v1::ListDefinitionsResponse>(latest.out);
  ASSERT_EQ(latest_defs.definitions_size(), 10) << latest.out;
  EXPECT_EQ(latest_defs.definitions(9).key(), "target-filing");
  EXPECT_EQ(latest_defs.definitions(9).version(), 2);
  EXPECT_EQ(StartOne().definition_version(), 2);

  // `def` prints the deployed YAML back, byte for byte.
  const Result yaml = Ctl(kFinance, {"def", "target-filing", "--version", "2"});
  EXPECT_EQ(yaml.exit, 0) << Dump(yaml);
  EXPECT_EQ(yaml.out, testing::ReadFile(copy));
}

// A county's yearly change on a running server: stage a version, read the
// diff, activate it, roll back; instances started meanwhile keep their version.
TEST_F(BpmctlTest, StageDiffActivateAndRollBack) {
  const std::string original =
      testing::ReadFile(testing::SourceDir() + "/workflows/target-filing.yaml");
  // Version 2: finance returns a target to the unit's draft instead of to
  // rectification.
  std::string changed = original;
  const std::string from = "returned: rectification";
  ASSERT_NE(changed.find(from), std::string::npos);
  changed.replace(changed.find(from), from.size(), "returned: draft");
  const std::string file = dir_.path() + "/target-filing-2027.yaml";
  WriteFile(file, changed);

  const Result staged = Ctl(kAdmin, {"deploy", "--inactive", file});
  ASSERT_EQ(staged.exit, 0) << Dump(staged);
  EXPECT_THAT(staged.out, HasSubstr("deployed target-filing version 2 "));
  EXPECT_THAT(staged.out, HasSubstr("; inactive, current stays 1\n"));
  const v1::Instance on_v1 = StartOne();
  EXPECT_EQ(on_v1.definition_version(), 1);

  const Result diff = Ctl(kPerformance, {"diff", "target-filing", "1", "2"});
  ASSERT_EQ(diff.exit, 0) << Dump(diff);
  const auto lines = Lines(diff.out);
  ASSERT_GE(lines.size(), 5u) << diff.out;
  EXPECT_EQ(lines[0], "Changes from target-filing version 1 to 2:");
  EXPECT_EQ(lines[1], "  state finance_review: on returned: rectification -> draft");
  EXPECT_EQ(lines[2], "");
  EXPECT_EQ(lines[3], "--- target-filing v1");
  EXPECT_EQ(lines[4], "+++ target-filing v2");
  EXPECT_THAT(diff.out,
              HasSubstr("\n-      returned: rectification\n+      returned: draft\n"));

  const Result activate =
      Ctl(kAdmin, {"alias", "target-filing", "2", "--reason", "2027 年度流程"});
  ASSERT_EQ(activate.exit, 0) << Dump(activate);
  EXPECT_EQ(activate.out, "current of target-filing: version 1 -> 2\n");
  const v1::Instance on_v2 = StartOne();
  EXPECT_EQ(on_v2.definition_version(), 2);

  const Result back = Ctl(kAdmin, {"rollback", "target-filing", "--reason", "县里反馈"});
  ASSERT_EQ(back.exit, 0) << Dump(back);
  EXPECT_EQ(back.out, "current of target-filing: version 2 -> 1\n");
  EXPECT_EQ(StartOne().definition_version(), 1);
  // Both earlier instances are still on their own versions.
  for (const auto& [id, version] : {std::pair{on_v1.id(), 1}, std::pair{on_v2.id(), 2}}) {
    const Result shown = Ctl(kUnit, {"show", id, "--json"});
    ASSERT_EQ(shown.exit, 0) << Dump(shown);
    EXPECT_THAT(shown.out, HasSubstr("\"definition_version\": " + std::to_string(version)));
  }

  // The table shows where the aliases point and every move, with who and why.
  const Result defs = Ctl(kPerformance, {"defs", "target-filing"});
  ASSERT_EQ(defs.exit, 0) << Dump(defs);
  EXPECT_THAT(defs.out, HasSubstr("\nAlias moves:\n"));
  EXPECT_THAT(defs.out, HasSubstr("  current  -     1   system  deployed from "));
  EXPECT_THAT(defs.out, HasSubstr("  current  1     2   root    2027 年度流程\n"));
  EXPECT_THAT(defs.out, HasSubstr("  current  2     1   root    县里反馈\n"));
  // A start through a named alias.
  ASSERT_EQ(Ctl(kAdmin, {"alias", "target-filing", "2", "--name", "pilot"}).exit, 0);
  const Result piloted = Ctl(kUnit, {"start", "target-filing", "--subject", "P-9", "--org",
                                     "906017", "--alias", "pilot", "--json"});
  ASSERT_EQ(piloted.exit, 0) << Dump(piloted);
  EXPECT_EQ(ParseJson<v1::StartInstanceResponse>(piloted.out).instance().definition_version(), 2);

  // Migration: the instance started on v1 (in draft, which v2 keeps as it
  // was) moves to v2; only a workflow_admin may, and a dry run comes first.
  const Who admin{"root", "workflow_admin", "czj"};
  const Result denied = Ctl(kPerformance, {"migrate", "target-filing", "1", "2"});
  EXPECT_EQ(denied.exit, 1);
  EXPECT_EQ(denied.err,
            "bpmctl: migrate: PERMISSION_DENIED: /bpm.v1.DefinitionService/Migrate: denied to user "
            "zhao (roles performance_section; org czj): needs role workflow_admin\n");
  const Result dry = Ctl(admin, {"migrate", "target-filing", "1", "2"});
  ASSERT_EQ(dry.exit, 0) << Dump(dry);
  EXPECT_THAT(dry.out, HasSubstr(on_v1.id()));
  EXPECT_THAT(dry.out, HasSubstr("would move"));
  EXPECT_THAT(dry.out, HasSubstr("dry run: 2 would move, 0 refused; --apply --reason TEXT to migrate\n"));
  const Result applied =
      Ctl(admin, {"migrate", "target-filing", "1", "2", "--apply", "--reason", "统一到2027流程"});
  ASSERT_EQ(applied.exit, 0) << Dump(applied);
  EXPECT_THAT(applied.out, HasSubstr("target-filing v1 -> v2: 2 migrated, 0 failed, 0 refused, "
                                     "0 left (run again for them)\n"));
  const Result moved = Ctl(kUnit, {"show", on_v1.id(), "--json"});
  EXPECT_THAT(moved.out, HasSubstr("\"definition_version\": 2"));

  // Pictures: the instance's path on its own version, and an SVG by Graphviz.
  const Result graph = Ctl(kUnit, {"graph", "--instance", on_v2.id()});
  ASSERT_EQ(graph.exit, 0) << Dump(graph);
  EXPECT_THAT(graph.out, StartsWith("digraph \"target-filing\" {\n"));
  EXPECT_THAT(graph.out, HasSubstr("\\ntarget-filing v2\";"));
  EXPECT_THAT(graph.out, HasSubstr("\"__start\" -> \"draft\" [color=\"#2563eb\""));
  EXPECT_THAT(graph.out, HasSubstr("fillcolor=\"#dbeafe\", color=\"#dc2626\", penwidth=2.5];"));
  EXPECT_THAT(graph.out, HasSubstr("\"finance_review\" -> \"draft\" [label=\"returned\"];"));
  const std::string svg = dir_.path() + "/target-filing.svg";
  const Result drawn = Ctl(kUnit, {"graph", "target-filing", "--version", "1", "--format", "svg",
                                   "-o", svg});
  ASSERT_EQ(drawn.exit, 0) << Dump(drawn);
  EXPECT_EQ(drawn.out, "wrote " + svg + " (target-filing version 1, svg)\n");
  EXPECT_THAT(testing::ReadFile(svg), HasSubstr("<svg"));
  EXPECT_THAT(testing::ReadFile(svg), HasSubstr("finance_review"));
  const Result no_key = Ctl(kUnit, {"graph"});
  EXPECT_EQ(no_key.exit, 2);
  EXPECT_EQ(no_key.err, "bpmctl: graph: give a definition KEY or --instance ID\n");

  // Refusals: an unknown version, nothing earlier to roll back to.
  const Result unknown = Ctl(kAdmin, {"alias", "target-filing", "9"});
  EXPECT_EQ(unknown.exit, 1);
  EXPECT_EQ(unknown.err,
            "bpmctl: alias: NOT_FOUND: workflow definition target-filing version 9 not found\n");
  const Result nothing = Ctl(kAdmin, {"rollback", "key-evaluation"});
  EXPECT_EQ(nothing.exit, 1);
  EXPECT_EQ(nothing.err,
            "bpmctl: rollback: no earlier version of key-evaluation to roll 'current' back to; "
            "name one with --to\n");
}

TEST_F(BpmctlTest, PreviewShowsThePathAndCreatesNothing) {
  const Result r = Ctl(kUnit, {"preview", "target-filing", "--org", "906017", "--act",
                               std::string("submit=") + kTargetPayload, "--act", "approve"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  const auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 5u) << r.out;
  EXPECT_THAT(lines[0], StartsWith("STEP  ACTION"));
  EXPECT_THAT(lines[1], HasSubstr("(start)  zhang"));
  EXPECT_THAT(lines[1], HasSubstr("draft"));
  EXPECT_THAT(lines[2], HasSubstr("submit"));
  EXPECT_THAT(lines[2], HasSubstr("authority_review"));
  EXPECT_THAT(lines[3], HasSubstr("approve"));
  EXPECT_THAT(lines[3], HasSubstr("finance_review"));
  EXPECT_EQ(lines[4], "preview only: nothing was created");
  const Result list = Ctl(kUnit, {"list", "--json"});
  ASSERT_EQ(list.exit, 0) << Dump(list);
  EXPECT_EQ(ParseJson<v1::ListInstancesResponse>(list.out).instances_size(), 0);

  const Result stop = Ctl(kUnit, {"preview", "target-filing", "--org", "906017", "--act", "approve"});
  ASSERT_EQ(stop.exit, 0) << Dump(stop);
  EXPECT_THAT(stop.out, HasSubstr("stopped: no open task offers 'approve' in state 'draft'\n"));
}

TEST_F(BpmctlTest, WholeChainFromTheCommandLine) {
  // Start, as the unit.
  const v1::Instance started = StartOne();
  const std::string id = started.id();
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(started.definition_key(), "target-filing");
  EXPECT_EQ(started.definition_version(), 1);
  EXPECT_EQ(started.subject_ref(), "P-1");
  EXPECT_EQ(started.org(), "906017");
  EXPECT_EQ(started.state(), "draft");
  EXPECT_EQ(started.status(), "running");
  EXPECT_EQ(started.started_by(), "zhang");
  EXPECT_EQ(started.version(), 1);

  // The unit's inbox: the filing task, as JSON and as a table.
  const v1::Task draft = InboxTask(kUnit, id);
  EXPECT_EQ(draft.state(), "draft");
  EXPECT_EQ(draft.subject_ref(), "P-1");
  EXPECT_THAT(draft.actions(), ElementsAre("submit", "check"));
  const Result inbox = Ctl(kUnit, {"inbox"});
  EXPECT_EQ(inbox.exit, 0) << Dump(inbox);
  const auto inbox_lines = Lines(inbox.out);
  ASSERT_EQ(inbox_lines.size(), 2u) << inbox.out;
  EXPECT_THAT(inbox_lines[0], StartsWith("TASK ID"));
  EXPECT_THAT(inbox_lines[1], StartsWith(draft.id() + "  " + id + "  P-1  "));
  EXPECT_THAT(inbox_lines[1], HasSubstr("  submit,check  "));
  // Another unit does not see it.
  const Result other = Ctl(kStranger, {"inbox", "--json"});
  EXPECT_EQ(other.exit, 0) << Dump(other);
  EXPECT_EQ(ParseJson<v1::InboxResponse>(other.out).tasks_size(), 0) << other.out;

  // Submit the form from a file.
  const std::string form = dir_.path() + "/form.json";
  WriteFile(form, kTargetPayload);
  Result r = Ctl(kUnit, {"act", draft.id(), "submit", "--payload", "@" + form});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, StartsWith("ok: instance " + id + " now in state authority_review (version 2)\n\n"
                                "Instance:    " + id + "\n"));

  // Competent department approves.
  const v1::Task review = InboxTask(kAuthority, id);
  EXPECT_EQ(review.state(), "authority_review");
  r = Ctl(kAuthority, {"act", review.id(), "approve", "--comment", "同意"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, StartsWith("ok: instance " + id + " now in state finance_review (version 3)\n"));

  // Finance approves with grade 优.
  const v1::Task final_review = InboxTask(kFinance, id);
  EXPECT_EQ(final_review.state(), "finance_review");
  r = Ctl(kFinance, {"act", final_review.id(), "approve", "--payload", R"({"grade":"优"})"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, StartsWith("ok: instance " + id + " now in state disclosure (version 4)\n"));

  // Performance section publishes; the instance is done.
  const v1::Task disclosure = InboxTask(kPerformance, id);
  EXPECT_EQ(disclosure.state(), "disclosure");
  r = Ctl(kPerformance, {"act", disclosure.id(), "publish", "--json"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  const v1::Instance done = ParseJson<v1::ActResponse>(r.out).instance();
  EXPECT_EQ(done.state(), "done");
  EXPECT_EQ(done.status(), "completed");
  EXPECT_EQ(done.open_tasks_size(), 0);
  EXPECT_EQ(done.version(), 5);
  // Nothing left in anyone's inbox.
  for (const Who& who : {kUnit, kAuthority, kFinance, kPerformance}) {
    const Result empty = Ctl(who, {"inbox"});
    EXPECT_EQ(empty.exit, 0) << Dump(empty);
    EXPECT_EQ(Lines(empty.out).size(), 1u) << who.user << ":\n" << empty.out;
  }

  // show: header fields, variables, no open tasks, then the history.
  const Result show = Ctl(kFinance, {"show", id});
  ASSERT_EQ(show.exit, 0) << Dump(show);
  EXPECT_EQ(show.err, "");
  EXPECT_THAT(show.out, StartsWith("Instance:    " + id + "\n"
                                   "Definition:  target-filing@1\n"
                                   "Subject:     P-1\n"
                                   "Org:         906017\n"
                                   "Status:      completed\n"
                                   "State:       done\n"
                                   "Version:     5\n"
                                   "Started by:  zhang\n"));
  EXPECT_THAT(show.out, HasSubstr("\nVariables:\n{\n"));
  EXPECT_THAT(show.out, HasSubstr("\n  \"grade\": \"优\""));
  EXPECT_THAT(show.out, HasSubstr("\n\nOpen tasks: none\n\nHistory:\nSEQ  "));

  // history: the same table alone, one row per event of `history --json`.
  const Result history_json = Ctl(kFinance, {"history", id, "--json"});
  ASSERT_EQ(history_json.exit, 0) << Dump(history_json);
  const auto events = ParseJson<v1::GetHistoryResponse>(history_json.out).events();
  ASSERT_FALSE(events.empty()) << history_json.out;
  EXPECT_EQ(events.begin()->kind(), "started");
  EXPECT_EQ(events.rbegin()->kind(), "completed");
  const Result history = Ctl(kFinance, {"history", id});
  ASSERT_EQ(history.exit, 0) << Dump(history);
  EXPECT_EQ(history.err, "");
  EXPECT_THAT(show.out, HasSubstr("\nHistory:\n" + history.out));
  // Each step is an "acted" event (state unchanged) then a "transitioned"
  // event named after the stage's outcome.
  const std::vector<std::string> expected = {
      "1 +{T} +zhang +started +→ draft",
      "2 +{T} +zhang +acted +submit +draft → draft",
      "3 +{T} +zhang +transitioned +submitted +draft → authority_review",
      "4 +{T} +li +acted +approve +authority_review → authority_review +同意",
      "5 +{T} +li +transitioned +approved +authority_review → finance_review",
      "6 +{T} +wang +acted +approve +finance_review → finance_review",
      "7 +{T} +wang +transitioned +approved +finance_review → disclosure",
      "8 +{T} +zhao +acted +publish +disclosure → disclosure",
      "9 +{T} +zhao +transitioned +published +disclosure → done",
      "10 +{T} +zhao +completed +done → done",
  };
  const auto history_lines = Lines(history.out);
  ASSERT_EQ(history_lines.size(), expected.size() + 1) << history.out;
  ASSERT_EQ(static_cast<size_t>(events.size()), expected.size()) << history_json.out;
  EXPECT_TRUE(std::regex_match(history_lines[0],
                               std::regex("SEQ +TIME +ACTOR +KIND +ACTION +FROM → TO +COMMENT")))
      << history_lines[0];
  for (size_t i = 0; i < expected.size(); ++i) {
    std::string pattern = expected[i];
    pattern.replace(pattern.find("{T}"), 3, R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)");
    EXPECT_TRUE(std::regex_match(history_lines[i + 1], std::regex(pattern + " *")))
        << "line " << i + 1 << " does not match " << pattern << ":\n" << history.out;
  }

  // docs: the disclosure snapshot; doc: its content, with the hash on stderr.
  const Result docs_json = Ctl(kFinance, {"docs", id, "--json"});
  ASSERT_EQ(docs_json.exit, 0) << Dump(docs_json);
  const auto docs = ParseJson<v1::ListDocumentsResponse>(docs_json.out);
  ASSERT_EQ(docs.documents_size(), 1) << docs_json.out;
  const v1::Document& doc = docs.documents(0);
  EXPECT_EQ(doc.kind(), "disclosure");
  EXPECT_EQ(doc.sha256().size(), 64u);
  const Result docs_table = Ctl(kFinance, {"docs", id});
  ASSERT_EQ(docs_table.exit, 0) << Dump(docs_table);
  const auto doc_lines = Lines(docs_table.out);
  ASSERT_EQ(doc_lines.size(), 2u) << docs_table.out;
  EXPECT_THAT(doc_lines[0], StartsWith("ID"));
  EXPECT_THAT(doc_lines[1], StartsWith(doc.id() + "  disclosure  " + doc.state()));
  EXPECT_THAT(doc_lines[1], HasSubstr("  " + doc.sha256().substr(0, 12) + "  "));
  const Result content = Ctl(kFinance, {"doc", doc.id()});
  ASSERT_EQ(content.exit, 0) << Dump(content);
  EXPECT_EQ(content.out, doc.content());
  EXPECT_THAT(content.out, HasSubstr("乡村道路养护"));
  EXPECT_THAT(content.out, HasSubstr("\"grade\":\"优\""));
  EXPECT_EQ(content.err, "sha256 " + doc.sha256() + "\n");

  // list: the instance, completed.
  const Result list = Ctl(kFinance, {"list", "--subject", "P-1", "--json"});
  ASSERT_EQ(list.exit, 0) << Dump(list);
  const auto listed = ParseJson<v1::ListInstancesResponse>(list.out);
  ASSERT_EQ(listed.instances_size(), 1) << list.out;
  EXPECT_EQ(listed.instances(0).id(), id);
  EXPECT_EQ(listed.instances(0).status(), "completed");
}

TEST_F(BpmctlTest, ErrorsHaveExactMessagesAndExitCodes) {
  const v1::Instance inst = StartOne();
  const v1::Task task = InboxTask(kUnit, inst.id());
  const std::string form = dir_.path() + "/form.json";
  WriteFile(form, kTargetPayload);

  // Unknown task: the server's NOT_FOUND, exit 1.
  Result r = Ctl(kUnit, {"act", "nope", "submit", "--payload", "@" + form});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, StartsWith("bpmctl: act: NOT_FOUND: task"));
  EXPECT_EQ(r.err, "bpmctl: act: NOT_FOUND: task nope not found\n");

  // Malformed JSON payload: a usage error, exit 2, nothing sent.
  r = Ctl(kUnit, {"act", task.id(), "submit", "--payload", R"({"project_name": )"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, StartsWith("bpmctl: act: --payload: invalid JSON: "));
  // JSON that is not an object.
  r = Ctl(kUnit, {"act", task.id(), "submit", "--payload", "[1, 2]"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: act: --payload: invalid JSON: expected a JSON object {...}\n");
  // A payload file that does not exist.
  r = Ctl(kUnit, {"act", task.id(), "submit", "--payload", "@" + dir_.path() + "/none.json"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: act: --payload: cannot read " + dir_.path() +
                       "/none.json: No such file or directory\n");

  // Wrong actor: a unit_filer of another org.
  r = Ctl(kStranger, {"act", task.id(), "submit", "--payload", "@" + form});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "bpmctl: act: PERMISSION_DENIED: user mallory (roles unit_filer; org 999999) "
                   "may not act on task " + task.id() +
                   ", which is assigned to role unit_filer in org 906017\n");

  // An action the task does not offer.
  r = Ctl(kUnit, {"act", task.id(), "frobnicate"});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: act: INVALID_ARGUMENT: action: 'frobnicate' is not offered by task " +
                       task.id() + " in state 'draft'; offered: submit, check\n");

  // A stale --expect-version.
  r = Ctl(kUnit, {"act", task.id(), "submit", "--payload", "@" + form, "--expect-version", "8"});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: act: ABORTED: instance " + inst.id() +
                       " (target-filing v1) is at version 1, not 8: re-read and retry\n");

  // None of that changed the instance: still one event, same open task.
  const Result history = Ctl(kUnit, {"history", inst.id(), "--json"});
  ASSERT_EQ(history.exit, 0) << Dump(history);
  EXPECT_EQ(ParseJson<v1::GetHistoryResponse>(history.out).events_size(), 1) << history.out;
  EXPECT_EQ(InboxTask(kUnit, inst.id()).id(), task.id());

  // No identity at all.
  r = RunBpmctl({"inbox"}, {{"BPM_SERVER", bpmd_->address()}});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, StartsWith("bpmctl: inbox: UNAUTHENTICATED: no identity: send metadata x-bpm-user"));

  // start without any org: a usage error before any call.
  r = RunBpmctl({"start", "target-filing", "--subject", "P-9"},
          {{"BPM_SERVER", bpmd_->address()}, {"BPM_USER", "zhang"}, {"BPM_ROLES", "unit_filer"}});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: start: --org is required (or give the caller's org with BPM_ORG)\n");

  // Unknown instance.
  r = Ctl(kUnit, {"show", "no-such-instance"});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: show: NOT_FOUND: instance no-such-instance not found\n");

  // Command-line usage errors.
  r = Ctl(kUnit, {"frobnicate"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_THAT(r.err, StartsWith("bpmctl: "));
  r = Ctl(kUnit, {"act", task.id()});  // ACTION missing
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: ACTION is required\nRun with --help for more information.\n");
  r = Ctl(kUnit, {"--help"});
  EXPECT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, HasSubstr("validate"));
}

}  // namespace
}  // namespace bpm
