// End to end through the command line, for bpmctl's operations on tasks
// (claim, unclaim, transfer, delegate, resolve), on instances (withdraw,
// cancel, comment, urge, cc), proxies, notifications, the inbox views and
// campaigns: the real bpmctl binary as a subprocess against a real bpmd
// (subprocess, port 0, real plugins, the bundled workflows and calendars).
// Identity and server come from the environment (BPM_SERVER, BPM_USER,
// BPM_ROLES, BPM_ORG), as in bpmctl_test.
//
// The workflow is target-filing: `draft` is a task of role unit_filer in the
// owning org; `authority_review` a group task of role authority_reviewer in
// any org; `finance_review` one of finance_reviewer.
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
#include "core/org/dates.h"
#include "google/protobuf/util/json_util.h"
#include "tests/support/bpmctl_runner.h"
#include "tests/support/test_env.h"


namespace bpm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;
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

// The blank-separated words of a table row.
std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// The words of a printed time "YYYY-MM-DD HH:MM:SS".
const auto kDate = MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}");
const auto kTime = MatchesRegex("[0-9]{2}:[0-9]{2}:[0-9]{2}");

// The rows of a table (after its header) that start with `first`.
std::vector<std::string> RowsStartingWith(const std::string& table, const std::string& first) {
  std::vector<std::string> rows;
  const auto lines = Lines(table);
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].rfind(first + " ", 0) == 0) rows.push_back(lines[i]);
  }
  return rows;
}

// "ok: instance ID now in state S (version N)", the first line of every
// operation that changes an instance.
std::string OkLine(const std::string& id, const std::string& state, int version) {
  return "ok: instance " + id + " now in state " + state + " (version " +
         std::to_string(version) + ")\n\n";
}

// ---- Identities and data --------------------------------------------------------

using testing::Who;
const Who kUnit{"zhang", "unit_filer", "906017"};
const Who kUnit18{"qian", "unit_filer", "906018"};
const Who kReviewer{"li", "authority_reviewer", "906"};
const Who kReviewer2{"zhou", "authority_reviewer", "906"};
const Who kHelper{"sun", "clerk", "906"};
const Who kFinance{"wang", "finance_reviewer", "czj"};
const Who kDeputy{"wu", "clerk", "906"};

const char* const kTargetPayload = testing::kSoundTargetForm;

class BpmctlOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bpmd_ = std::make_unique<testing::BpmdProcess>(
        testing::FreshStoreUrl(dir_.path(), "bpmctl_ops"),
        std::vector<std::string>{"--calendars=" + testing::SourceDir() + "/deploy/calendars"});
    ASSERT_TRUE(bpmd_->Start());
    testing::ImportCountyOrgs(bpmd_->channel());  // finance's scope: its region
    form_ = dir_.path() + "/form.json";
    WriteFile(form_, kTargetPayload);
  }

  EnvVars As(const Who& who) const {
    return {{"BPM_SERVER", bpmd_->address()},
            {"BPM_USER", who.user},
            {"BPM_ROLES", who.roles},
            {"BPM_ORG", who.org}};
  }

  Result Ctl(const Who& who, const std::vector<std::string>& args) {
    return RunBpmctl(args, As(who));
  }

  // Starts target-filing for `subject` owned by who's org; returns its id.
  std::string Start(const Who& who, const std::string& subject) {
    const Result r = Ctl(who, {"start", "target-filing", "--subject", subject, "--json"});
    EXPECT_EQ(r.exit, 0) << Dump(r);
    return ParseJson<v1::StartInstanceResponse>(r.out).instance().id();
  }

  // The tasks of `instance_id` in who's inbox (`inbox --json` plus `extra`).
  std::vector<v1::Task> Tasks(const Who& who, const std::string& instance_id,
                              const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"inbox", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const Result r = Ctl(who, args);
    EXPECT_EQ(r.exit, 0) << Dump(r);
    const auto inbox = ParseJson<v1::InboxResponse>(r.out);
    std::vector<v1::Task> found;
    for (const auto& task : inbox.tasks()) {
      if (task.instance_id() == instance_id) found.push_back(task);
    }
    return found;
  }

  // The one task of `instance_id` in who's inbox.
  v1::Task InboxTask(const Who& who, const std::string& instance_id) {
    const std::vector<v1::Task> found = Tasks(who, instance_id);
    EXPECT_EQ(found.size(), 1u) << who.user << "'s inbox has " << found.size() << " tasks of "
                                << instance_id;
    return found.empty() ? v1::Task() : found[0];
  }

  // Starts and submits one filing: the instance is in authority_review at
  // version 2. Returns its id.
  std::string StartSubmitted(const std::string& subject) {
    const std::string id = Start(kUnit, subject);
    const Result r = Ctl(kUnit, {"act", InboxTask(kUnit, id).id(), "submit", "--payload", "@" + form_});
    EXPECT_EQ(r.exit, 0) << Dump(r);
    EXPECT_THAT(r.out, StartsWith(OkLine(id, "authority_review", 2)));
    return id;
  }

  std::vector<std::string> HistoryKinds(const std::string& id) {
    const Result r = Ctl(kFinance, {"history", id, "--json"});
    EXPECT_EQ(r.exit, 0) << Dump(r);
    const auto history = ParseJson<v1::GetHistoryResponse>(r.out);
    std::vector<std::string> kinds;
    for (const auto& event : history.events()) {
      kinds.push_back(event.kind());
    }
    return kinds;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::BpmdProcess> bpmd_;
  std::string form_;
};

// ---- Tests ------------------------------------------------------------------

TEST_F(BpmctlOpsTest, ClaimUnclaimDelegateResolveTransfer) {
  const std::string id = StartSubmitted("P-1");
  const std::string task = InboxTask(kReviewer, id).id();
  EXPECT_EQ(InboxTask(kReviewer2, id).id(), task);  // a group task: both reviewers see it

  // li claims it: the instance shows who holds it.
  Result r = Ctl(kReviewer, {"claim", task});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, StartsWith(OkLine(id, "authority_review", 3) + "Instance:    " + id + "\n"));
  EXPECT_THAT(r.out, HasSubstr("  claimed by li  "));

  // Now zhou may neither act on it nor claim it, and no longer sees it.
  r = Ctl(kReviewer2, {"act", task, "approve"});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "bpmctl: act: PERMISSION_DENIED: user zhou (roles authority_reviewer; org 906) "
                   "may not act on task " + task + ", which is claimed by li\n");
  r = Ctl(kReviewer2, {"claim", task});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, StartsWith("bpmctl: claim: FAILED_PRECONDITION: task " + task +
                                " is not an unclaimed group task"));
  EXPECT_THAT(Tasks(kReviewer2, id), IsEmpty());
  // li's inbox table says who claimed it, in the ASSIGNEE column.
  r = Ctl(kReviewer, {"inbox"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  const auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_TRUE(std::regex_search(lines[0], std::regex("^TASK ID +INSTANCE +SUBJECT +STATE +"
                                                     "NAME/TITLE +ASSIGNEE +ACTIONS +DUE +CREATED$")))
      << lines[0];
  EXPECT_THAT(Words(lines[1]),
              ElementsAre(task, id, "P-1", "authority_review", "review", "/", "主管部门审核",
                          "claimed", "by", "li", "approve,return,add_signer,remove_signer", "-",
                          kDate, kTime));

  // unclaim with a stale version is refused; with the current one it works.
  r = Ctl(kReviewer, {"unclaim", task, "--expect-version", "2"});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: unclaim: ABORTED: instance " + id +
                       " (target-filing v1) is at version 3, not 2: re-read and retry\n");
  r = Ctl(kReviewer, {"unclaim", task, "--expect-version", "3"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, StartsWith(OkLine(id, "authority_review", 4)));
  EXPECT_THAT(r.out, Not(HasSubstr("claimed by")));
  EXPECT_EQ(InboxTask(kReviewer2, id).status(), "open");

  // Claim again, then delegate (委派) to sun, who resolves it back.
  r = Ctl(kReviewer, {"claim", task, "--idempotency-key", "claim-1"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, StartsWith(OkLine(id, "authority_review", 5)));
  r = Ctl(kReviewer, {"claim", task, "--idempotency-key", "claim-1"});  // a retry: same answer
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, StartsWith(OkLine(id, "authority_review", 5)));
  r = Ctl(kReviewer, {"delegate", task});  // USER missing
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: USER is required\nRun with --help for more information.\n");
  r = Ctl(kReviewer, {"delegate", task, "sun", "--comment", "请协助核对指标"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, StartsWith(OkLine(id, "authority_review", 6)));
  EXPECT_THAT(r.out, HasSubstr("  delegated to sun by li  "));
  const v1::Task delegated = InboxTask(kHelper, id);
  EXPECT_EQ(delegated.status(), "delegated");
  EXPECT_EQ(delegated.owner_user(), "li");
  // While delegated, the owner cannot transfer it.
  r = Ctl(kReviewer, {"transfer", task, "zhou"});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, StartsWith("bpmctl: transfer: FAILED_PRECONDITION: task " + task +
                                " is delegated to sun by li"));
  r = Ctl(kHelper, {"resolve", task, "--comment", "已核对"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, StartsWith(OkLine(id, "authority_review", 7)));
  EXPECT_THAT(r.out, HasSubstr("  claimed by li  "));
  EXPECT_THAT(Tasks(kHelper, id), IsEmpty());
  // li is told: a delegation_resolved notification from sun.
  r = Ctl(kReviewer, {"notifications"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  const auto resolved = Lines(r.out);
  ASSERT_EQ(resolved.size(), 2u) << r.out;
  EXPECT_TRUE(std::regex_search(resolved[0], std::regex("^TIME +KIND +FROM +INSTANCE +TASK +TEXT$")))
      << resolved[0];
  EXPECT_THAT(Words(resolved[1]), ElementsAre(kDate, kTime, "delegation_resolved", "sun", id, task,
                                              "sun", "已处理委派:", "已核对"));

  // Transfer (转办) to zhou, who approves.
  r = Ctl(kReviewer, {"transfer", task, "zhou", "--comment", "请你审"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, StartsWith(OkLine(id, "authority_review", 8)));
  EXPECT_EQ(InboxTask(kReviewer2, id).assignee_user(), "zhou");
  EXPECT_THAT(Tasks(kReviewer, id), IsEmpty());
  r = Ctl(kReviewer2, {"act", task, "approve"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, StartsWith(OkLine(id, "finance_review", 9)));

  EXPECT_THAT(HistoryKinds(id),
              ElementsAre("started", "acted", "transitioned", "claimed", "unclaimed", "claimed",
                          "delegated", "delegation_resolved", "transferred", "acted",
                          "transitioned"));
}

TEST_F(BpmctlOpsTest, WithdrawAfterApproveOnlyByTheActor) {
  const std::string id = StartSubmitted("P-2");
  const std::string task = InboxTask(kReviewer, id).id();
  Result r = Ctl(kReviewer, {"act", task, "approve"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, StartsWith(OkLine(id, "finance_review", 3)));
  ASSERT_EQ(Tasks(kFinance, id).size(), 1u);

  // Not the actor: another reviewer, the unit.
  r = Ctl(kReviewer2, {"withdraw", id});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "bpmctl: withdraw: FAILED_PRECONDITION: instance " + id +
                       ": zhou has no action to withdraw (only the latest action can be "
                       "withdrawn, by its actor; the latest was by li)\n");
  r = Ctl(kUnit, {"withdraw", id});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, StartsWith("bpmctl: withdraw: FAILED_PRECONDITION: "));

  // The actor takes the approval back: review is open again, finance's task gone.
  r = Ctl(kReviewer, {"withdraw", id, "--comment", "意见有误"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, StartsWith(OkLine(id, "authority_review", 4)));
  EXPECT_EQ(InboxTask(kReviewer, id).id(), task);
  EXPECT_THAT(Tasks(kFinance, id), IsEmpty());
  // Only once.
  r = Ctl(kReviewer, {"withdraw", id});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, StartsWith("bpmctl: withdraw: FAILED_PRECONDITION: instance " + id));
  EXPECT_EQ(HistoryKinds(id).back(), "withdrawn");
}

TEST_F(BpmctlOpsTest, AddSignerAndReturnWithFlags) {
  const std::string id = StartSubmitted("P-9");
  const std::string task = InboxTask(kReviewer, id).id();
  // 加签 after oneself: li keeps the task; after li approves, zhou decides.
  Result r = Ctl(kReviewer, {"add-signer", task, "zhou"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, StartsWith(OkLine(id, "authority_review", 3)));
  EXPECT_EQ(InboxTask(kReviewer, id).id(), task);
  r = Ctl(kReviewer, {"act", task, "approve"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  const v1::Task added = InboxTask(kReviewer2, id);
  EXPECT_EQ(added.assignee_user(), "zhou");
  // 驳回 to the initiator needs a comment; then it goes back to the unit.
  r = Ctl(kReviewer2, {"return", added.id(), "--to", "initiator"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  r = Ctl(kReviewer2, {"return", added.id(), "--to", "sideways", "--comment", "x"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  r = Ctl(kReviewer2, {"return", added.id(), "--to", "initiator", "--comment", "加签人不同意"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, StartsWith(OkLine(id, "draft", 5)));
  std::vector<std::string> kinds = HistoryKinds(id);
  EXPECT_EQ(kinds.back(), "transitioned");
}

TEST_F(BpmctlOpsTest, UrgeCcAndComment) {
  const std::string id = StartSubmitted("P-3");
  const std::string task = InboxTask(kReviewer, id).id();
  Result r = Ctl(kReviewer, {"claim", task});
  ASSERT_EQ(r.exit, 0) << Dump(r);

  // 催办 by the unit: the reminder goes to li, who holds the task, not to zhou.
  r = Ctl(kUnit, {"urge", id, "--comment", "请尽快审核"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, StartsWith(OkLine(id, "authority_review", 4)));
  r = Ctl(kReviewer, {"notifications"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(r.err, "");
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_TRUE(std::regex_match(lines[1], std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  urge  zhang  )" +
                                                    id + "  " + task + "  请尽快审核")))
      << lines[1];
  r = Ctl(kReviewer, {"notifications", "--json"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  const auto notes = ParseJson<v1::ListNotificationsResponse>(r.out);
  ASSERT_EQ(notes.notifications_size(), 1) << r.out;
  EXPECT_EQ(notes.notifications(0).kind(), "urge");
  EXPECT_EQ(notes.notifications(0).from_user(), "zhang");
  r = Ctl(kReviewer2, {"notifications"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(Lines(r.out).size(), 1u) << r.out;

  // 抄送 to wang and zhao: entries in their `inbox --view cc`.
  r = Ctl(kUnit, {"cc", id});  // no recipient
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: USER is required\nRun with --help for more information.\n");
  r = Ctl(kUnit, {"cc", id, "wang", "zhao", "--comment", "请阅"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, StartsWith(OkLine(id, "authority_review", 5)));
  r = Ctl(kFinance, {"inbox", "--view", "cc", "--json"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  const auto cc = ParseJson<v1::InboxResponse>(r.out);
  ASSERT_EQ(cc.cc_size(), 1) << r.out;
  EXPECT_EQ(cc.tasks_size(), 0);
  EXPECT_EQ(cc.cc(0).instance_id(), id);
  r = Ctl(kFinance, {"inbox", "--view", "cc"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_TRUE(std::regex_search(lines[0], std::regex("^ID +INSTANCE +SUBJECT +STATE +FROM +NOTE +TIME$")))
      << lines[0];
  EXPECT_THAT(Words(lines[1]), ElementsAre(cc.cc(0).id(), id, "P-3", "authority_review", "zhang",
                                           "请阅", kDate, kTime));
  // Someone not copied has none.
  r = Ctl(kReviewer2, {"inbox", "--view", "cc"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(Lines(r.out).size(), 1u) << r.out;

  // A comment: recorded, no state change; with a key it is not recorded twice.
  r = Ctl(kFinance, {"comment", id, "材料齐全", "--idempotency-key", "c-1"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, StartsWith(OkLine(id, "authority_review", 6)));
  r = Ctl(kFinance, {"comment", id, "材料齐全", "--idempotency-key", "c-1"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, StartsWith(OkLine(id, "authority_review", 6)));
  r = Ctl(kFinance, {"comment", id, "  "});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: comment: INVALID_ARGUMENT: comment: is required\n");
  r = Ctl(kFinance, {"comment", id});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: TEXT is required\nRun with --help for more information.\n");
  r = Ctl(kFinance, {"history", id});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_TRUE(std::regex_search(r.out, std::regex(" wang +commented +comment +authority_review "
                                                  "→ authority_review +材料齐全\n$")))
      << r.out;
  EXPECT_THAT(HistoryKinds(id), ElementsAre("started", "acted", "transitioned", "claimed",
                                            "urged", "cc", "commented"));
}

TEST_F(BpmctlOpsTest, CancelOnlyByTheInitiatorWithAReason) {
  const std::string id = StartSubmitted("P-4");
  ASSERT_EQ(Tasks(kReviewer, id).size(), 1u);

  Result r = Ctl(kReviewer, {"cancel", id, "--reason", "不需要"});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "bpmctl: cancel: PERMISSION_DENIED: only the initiator (zhang) may cancel "
                   "instance " + id + "\n");
  r = Ctl(kUnit, {"cancel", id});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: --reason is required\nRun with --help for more information.\n");
  r = Ctl(kUnit, {"cancel", id, "--reason", " "});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: cancel: INVALID_ARGUMENT: comment: a cancellation (撤销) needs a reason\n");

  r = Ctl(kUnit, {"cancel", id, "--reason", "项目取消"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, StartsWith(OkLine(id, "authority_review", 3)));
  EXPECT_THAT(r.out, HasSubstr("\nStatus:      terminated\n"));
  EXPECT_THAT(r.out, HasSubstr("\nOpen tasks: none\n"));
  EXPECT_THAT(Tasks(kReviewer, id), IsEmpty());
  // Nothing left to urge or cancel.
  r = Ctl(kUnit, {"urge", id});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, StartsWith("bpmctl: urge: FAILED_PRECONDITION: "));
  r = Ctl(kUnit, {"cancel", id, "--reason", "再撤一次"});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, StartsWith("bpmctl: cancel: FAILED_PRECONDITION: "));
}

TEST_F(BpmctlOpsTest, ProxySetListRemove) {
  // A proxy in the future, with times.
  Result r = Ctl(kReviewer, {"proxy", "set", "wu", "--from", "2090-01-01", "--to", "2090-01-10T18:00"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(r.err, "");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(r.out, m, std::regex("ok: proxy ([0-9a-f]+): wu acts for li from "
                                                    "2090-01-01 until 2090-01-10 18:00:00\n")))
      << r.out;
  const std::string later = m[1];
  // One from now on.
  r = Ctl(kReviewer, {"proxy", "set", "wu", "--to", "2091-01-01"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  ASSERT_TRUE(std::regex_match(
      r.out, m, std::regex("ok: proxy ([0-9a-f]+): wu acts for li from .* until 2091-01-01\n")))
      << r.out;
  const std::string now = m[1];

  // Listed for the principal, and for the proxy (--user after the subcommand is a filter).
  r = Ctl(kReviewer, {"proxy", "list"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_TRUE(std::regex_search(lines[0], std::regex("^ID +PRINCIPAL +PROXY +FROM +TO$"))) << lines[0];
  ASSERT_EQ(RowsStartingWith(r.out, later).size(), 1u) << r.out;
  EXPECT_THAT(Words(RowsStartingWith(r.out, later)[0]),
              ElementsAre(later, "li", "wu", "2090-01-01", "2090-01-10", "18:00:00"));
  ASSERT_EQ(RowsStartingWith(r.out, now).size(), 1u) << r.out;
  EXPECT_THAT(RowsStartingWith(r.out, now)[0], HasSubstr("  2091-01-01"));
  r = Ctl(kReviewer2, {"proxy", "list", "--user", "wu"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(Lines(r.out).size(), 3u) << r.out;
  r = Ctl(kReviewer2, {"proxy", "list"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(Lines(r.out).size(), 1u) << r.out;

  // The proxy in force works: wu sees li's claimed task.
  const std::string id = StartSubmitted("P-5");
  const std::string task = InboxTask(kReviewer, id).id();
  ASSERT_EQ(Ctl(kReviewer, {"claim", task}).exit, 0);
  EXPECT_EQ(InboxTask(kDeputy, id).id(), task);

  // Bad input: exit 2, the flag named, nothing sent.
  r = Ctl(kReviewer, {"proxy", "set", "wu", "--to", "2090-02-30"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: proxy set: --to: '2090-02-30' is not a date "
                   "(YYYY-MM-DD or YYYY-MM-DDTHH:MM, China time)\n");
  r = Ctl(kReviewer, {"proxy", "set", "wu", "--from", "2090-01-01T24:00", "--to", "2090-02-01"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_THAT(r.err, StartsWith("bpmctl: proxy set: --from: '2090-01-01T24:00' is not a date"));
  r = Ctl(kReviewer, {"proxy", "set", "wu", "--from", "2090-02-01", "--to", "2090-01-01"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: proxy set: --to: must be after --from\n");
  r = Ctl(kReviewer, {"proxy", "set", "wu", "--to", "2001-01-01"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: proxy set: --to: must be in the future\n");
  r = Ctl(kReviewer, {"proxy", "set", "wu"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: --to is required\nRun with --help for more information.\n");
  r = Ctl(kReviewer, {"proxy", "set", "li", "--to", "2090-01-01"});  // the server's check
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: proxy: INVALID_ARGUMENT: proxy_user: cannot be the principal\n");

  // Removal: only by the principal, once.
  r = Ctl(kDeputy, {"proxy", "rm", later});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: proxy: PERMISSION_DENIED: proxy " + later + " belongs to li\n");
  r = Ctl(kReviewer, {"proxy", "rm", later});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(r.out, "ok: proxy " + later + " removed\n");
  r = Ctl(kReviewer, {"proxy", "rm", later});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: proxy: NOT_FOUND: proxy " + later + " not found\n");
  r = Ctl(kReviewer, {"proxy", "list"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_THAT(lines[1], StartsWith(now + "  "));
}

TEST_F(BpmctlOpsTest, InboxViewsAndFilters) {
  // A: approved by li (done for li). B: of org 906018, pending review.
  const std::string a = StartSubmitted("P-A");
  const std::string a_task = InboxTask(kReviewer, a).id();
  Result r = Ctl(kReviewer, {"act", a_task, "approve"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  const std::string b = Start(kUnit18, "P-B");
  r = Ctl(kUnit18, {"act", InboxTask(kUnit18, b).id(), "submit", "--payload", "@" + form_});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  const std::string b_task = InboxTask(kReviewer, b).id();

  // done (已办): A's review task, with the action taken.
  r = Ctl(kReviewer, {"inbox", "--view", "done"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_TRUE(std::regex_search(lines[0], std::regex("^TASK ID +INSTANCE +SUBJECT +STATE +"
                                                     "NAME/TITLE +ASSIGNEE +ACTION +COMPLETED +CREATED$")))
      << lines[0];
  EXPECT_THAT(Words(lines[1]),
              ElementsAre(a_task, a, "P-A", "authority_review", "review", "/", "主管部门审核",
                          "authority_reviewer", "approve", kDate, kTime, kDate, kTime));
  r = Ctl(kReviewer, {"inbox", "--view", "done", "--json"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  const auto done = ParseJson<v1::InboxResponse>(r.out);
  ASSERT_EQ(done.tasks_size(), 1) << r.out;
  EXPECT_EQ(done.tasks(0).status(), "completed");
  EXPECT_EQ(done.tasks(0).completed_by(), "li");
  // pending (the default): only B's.
  r = Ctl(kReviewer, {"inbox"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_THAT(Words(lines[1]),
              ElementsAre(b_task, b, "P-B", "authority_review", "review", "/", "主管部门审核",
                          "authority_reviewer", "approve,return,add_signer,remove_signer", "-",
                          kDate, kTime));
  // Nothing is overdue.
  r = Ctl(kReviewer, {"inbox", "--view", "overdue"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(Lines(r.out).size(), 1u) << r.out;

  // Filters. --org after the subcommand is the instance's org, not the caller's.
  EXPECT_EQ(Tasks(kReviewer, b, {"--org", "906018"}).size(), 1u);
  EXPECT_THAT(Tasks(kReviewer, b, {"--org", "906017"}), IsEmpty());
  EXPECT_EQ(Tasks(kReviewer, a, {"--view", "done", "--org", "906017"}).size(), 1u);
  EXPECT_THAT(Tasks(kReviewer, a, {"--view", "done", "--org", "906018"}), IsEmpty());
  EXPECT_EQ(Tasks(kReviewer, b, {"--definition", "target-filing"}).size(), 1u);
  EXPECT_THAT(Tasks(kReviewer, b, {"--definition", "project-target-county"}), IsEmpty());
  EXPECT_EQ(Tasks(kReviewer, b, {"--state", "authority_review"}).size(), 1u);
  EXPECT_THAT(Tasks(kReviewer, b, {"--state", "finance_review"}), IsEmpty());
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const std::string year = org::FormatChinaDate(now_ms).substr(0, 4);
  EXPECT_EQ(Tasks(kReviewer, b, {"--year", year}).size(), 1u) << year;
  EXPECT_THAT(Tasks(kReviewer, b, {"--year", "2001"}), IsEmpty());

  // The identity org still comes from a global --org before the subcommand:
  // the unit's draft task (role unit_filer in org 906017) shows only then.
  const std::string c = Start(kUnit, "P-C");
  const EnvVars no_org = {{"BPM_SERVER", bpmd_->address()}, {"BPM_USER", "zhang"},
                          {"BPM_ROLES", "unit_filer"}};
  r = RunBpmctl({"--org", "906017", "inbox", "--json"}, no_org);
  ASSERT_EQ(r.exit, 0) << Dump(r);
  const auto with_identity = ParseJson<v1::InboxResponse>(r.out);
  ASSERT_EQ(with_identity.tasks_size(), 1) << r.out;
  EXPECT_EQ(with_identity.tasks(0).instance_id(), c);
  r = RunBpmctl({"inbox", "--org", "906017", "--json"}, no_org);
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(ParseJson<v1::InboxResponse>(r.out).tasks_size(), 0) << r.out;

  // Bad values: exit 2, naming the flag.
  r = Ctl(kReviewer, {"inbox", "--view", "later"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_THAT(r.err, StartsWith("bpmctl: --view: "));
  r = Ctl(kReviewer, {"inbox", "--year", "1999"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_THAT(r.err, StartsWith("bpmctl: --year: "));
}

TEST_F(BpmctlOpsTest, CampaignOfThreeOrgs) {
  const std::string orgs = dir_.path() + "/orgs.txt";
  WriteFile(orgs, "# 2098 targets\n906018\tP-18\n\n906019, P-19\n");
  Result r = Ctl(kFinance, {"campaign", "start", "target-filing", "--title", "2098年度绩效目标",
                            "--org", "906017", "--orgs-file", orgs, "--deadline", "2098-03-31",
                            "--var", "year=2098"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(r.err, "");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(r.out, m, std::regex("campaign ([0-9a-f]+): 3 instances\n"))) << r.out;
  const std::string campaign = m[1];
  const int64_t deadline = *org::ParseChinaDate("2098-04-01") - 1000;  // 2098-03-31 23:59:59

  // Each target has its filing task, due at the deadline, with its subject.
  const Result inbox = Ctl(kUnit18, {"inbox", "--json"});
  ASSERT_EQ(inbox.exit, 0) << Dump(inbox);
  const auto filing = ParseJson<v1::InboxResponse>(inbox.out);
  ASSERT_EQ(filing.tasks_size(), 1) << inbox.out;
  EXPECT_EQ(filing.tasks(0).subject_ref(), "P-18");
  EXPECT_EQ(filing.tasks(0).due_unix_ms(), deadline);
  // 906018 submits.
  r = Ctl(kUnit18, {"act", filing.tasks(0).id(), "submit", "--payload", "@" + form_});
  ASSERT_EQ(r.exit, 0) << Dump(r);

  r = Ctl(kFinance, {"campaign", "list"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_TRUE(std::regex_search(
      lines[0], std::regex("^ID +TITLE +DEFINITION +TARGETS +DEADLINE +CREATED BY +CREATED$")))
      << lines[0];
  EXPECT_THAT(lines[1], StartsWith(campaign + "  2098年度绩效目标  target-filing@1  3        "
                                              "2098-03-31 23:59:59  wang        "));

  r = Ctl(kFinance, {"campaign", "show", campaign});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, StartsWith("Campaign:    " + campaign + "\n"
                                "Title:       2098年度绩效目标\n"
                                "Definition:  target-filing@1\n"
                                "Deadline:    2098-03-31 23:59:59\n"
                                "Targets:     3\n"
                                "Created by:  wang\n"));
  lines = Lines(r.out);
  // By department in the org model (906017 and 906018 are units of 906);
  // 906019 is not in the model and stands alone.
  ASSERT_EQ(lines.size(), 12u) << r.out;
  EXPECT_EQ(lines[7], "");
  EXPECT_THAT(Words(lines[8]), ElementsAre("DEPARTMENT", "TOTAL", "NOT_STARTED", "SUBMITTED",
                                           "IN_REVIEW", "RETURNED", "APPROVED", "CANCELLED",
                                           "OVERDUE"));
  EXPECT_THAT(Words(lines[9]), ElementsAre("906", "2", "1", "1", "0", "0", "0", "0", "0"));
  EXPECT_THAT(Words(lines[10]), ElementsAre("906019", "1", "1", "0", "0", "0", "0", "0", "0"));
  EXPECT_THAT(Words(lines[11]), ElementsAre("TOTAL", "3", "2", "1", "0", "0", "0", "0", "0"));

  // Urge every running instance: the unit of 906017 is told.
  r = Ctl(kFinance, {"campaign", "urge", campaign, "--comment", "请尽快填报"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(r.out, "urged 3 instances\n");
  r = Ctl(kUnit, {"notifications", "--json"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  const auto notes = ParseJson<v1::ListNotificationsResponse>(r.out);
  ASSERT_EQ(notes.notifications_size(), 1) << r.out;
  EXPECT_EQ(notes.notifications(0).kind(), "urge");
  EXPECT_EQ(notes.notifications(0).text(), "请尽快填报");
  EXPECT_EQ(notes.notifications(0).from_user(), "wang");

  // Extend: the two filings still open move; 906018's review has no deadline.
  r = Ctl(kFinance, {"campaign", "extend", campaign, "--deadline", "2098-04-15T12:00"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(r.out, "extended 2 instances\n");
  r = Ctl(kUnit, {"inbox", "--json"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  const auto extended = ParseJson<v1::InboxResponse>(r.out);
  ASSERT_EQ(extended.tasks_size(), 1) << r.out;
  EXPECT_EQ(extended.tasks(0).due_unix_ms(), *org::ParseChinaDate("2098-04-15") + 12 * 3600 * 1000);
  r = Ctl(kFinance, {"campaign", "show", campaign});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, HasSubstr("\nDeadline:    2098-04-15 12:00:00\n"));
  // Not earlier.
  r = Ctl(kFinance, {"campaign", "extend", campaign, "--deadline", "2098-04-01"});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, StartsWith("bpmctl: campaign: INVALID_ARGUMENT: deadline_unix_ms: "));

  // Bad input: exit 2, naming the flag.
  r = Ctl(kFinance, {"campaign", "extend", campaign, "--deadline", "2098-4-15"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: campaign extend: --deadline: '2098-4-15' is not a date "
                   "(YYYY-MM-DD or YYYY-MM-DDTHH:MM, China time)\n");
  r = Ctl(kFinance, {"campaign", "extend", campaign});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: --deadline is required\nRun with --help for more information.\n");
  r = Ctl(kFinance, {"campaign", "start", "target-filing", "--title", "x"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: campaign start: --org or --orgs-file: give at least one target org\n");
  r = Ctl(kFinance, {"campaign", "start", "target-filing", "--org", "906017"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: --title is required\nRun with --help for more information.\n");
  r = Ctl(kFinance, {"campaign", "start", "target-filing", "--title", "x", "--orgs-file",
                     dir_.path() + "/none.txt"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: campaign start: --orgs-file: cannot read " + dir_.path() +
                       "/none.txt: No such file or directory\n");
  WriteFile(orgs, "906018\n,P-19\n");
  r = Ctl(kFinance, {"campaign", "start", "target-filing", "--title", "x", "--orgs-file", orgs});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_EQ(r.err, "bpmctl: campaign start: --orgs-file: " + orgs + ":2: no org before the subject\n");
  r = Ctl(kFinance, {"campaign", "start", "target-filing", "--title", "x", "--org", "906017",
                     "--deadline", "2098-03-31T8:00"});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_THAT(r.err, StartsWith("bpmctl: campaign start: --deadline: '2098-03-31T8:00' is not a date"));
  r = Ctl(kFinance, {"campaign", "show", "nope"});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, StartsWith("bpmctl: campaign: NOT_FOUND: "));
  // None of the refused starts made a campaign.
  r = Ctl(kFinance, {"campaign", "list", "--json"});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(ParseJson<v1::ListCampaignsResponse>(r.out).campaigns_size(), 1) << r.out;
}

}  // namespace
}  // namespace bpm
