// Review chains and task operations, in process: the real engine, the real
// review/department_submit plugins (dlopen), a real SQLite store, a fake
// clock, and a fixed org context (the org model is tested on its own).
// Covers each approval mode and the combinations other engines got wrong.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "bpm/v1/snapshot.pb.h"
#include "core/common/clock.h"
#include "core/common/json.h"
#include "core/common/util.h"
#include "google/protobuf/util/json_util.h"
#include "core/engine/engine.h"
#include "tests/support/test_env.h"

namespace bpm::engine {
namespace {

using ::testing::HasSubstr;
namespace pb = ::bpm::plugin::v1;

constexpr int64_t kDay = 24 * 3600 * 1000LL;

// 906017 (unit) -> 906001 (sub-department) -> 906 (department), owned by
// finance section S1; performance section P; leadership L.
pb::OrgContext CountyContext() {
  pb::OrgContext c;
  auto ref = [](pb::OrgRef* r, const char* code, const char* kind) {
    r->set_code(code);
    r->set_kind(kind);
  };
  ref(c.mutable_unit(), "906017", "unit");
  ref(c.add_ancestors(), "906001", "unit");
  ref(c.add_ancestors(), "906", "department");
  ref(c.mutable_owning_section(), "S1", "finance_section");
  ref(c.mutable_performance_section(), "P", "finance_section");
  ref(c.mutable_leadership(), "L", "finance_section");
  auto members = [&](const char* org, const char* role, std::vector<std::string> users) {
    pb::RoleMembers* m = c.add_members();
    m->set_org(org);
    m->set_role(role);
    for (auto& u : users) m->add_users(u);
  };
  members("906017", "unit_filer", {"zhang"});
  members("906017", "unit_leader", {"ul"});
  members("906001", "dept_reviewer", {"d1"});
  members("906", "dept_reviewer", {"d2a", "d2b"});
  members("S1", "section_reviewer", {"s1", "s2"});
  members("S1", "head", {"shead"});
  members("P", "perf_reviewer", {"p1", "p2", "p3"});
  members("L", "leader", {"boss"});
  return c;
}

std::string Workflow(const std::string& review_config) {
  return R"(
key: chain
initial: draft
states:
  draft:
    stage: department_submit
    config: { form: { fields: [ { name: title, type: string, required: true } ] } }
    on: { submitted: review }
  review:
    stage: review
    config:
)" + review_config + R"(
    on: { approved: done, returned: draft }
  done: { final: true }
)";
}

const char* kFourLevels = R"(      chain:
        - { level: unit_leader }
        - { level: department, depth: 2 }
        - { level: owning_section, mode: all }
        - { level: performance_section, mode: vote, pass_ratio: 0.6, weights: { p1: 2 } }
      resume: returning_step)";

class ReviewChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.LoadDirectory(testing::PluginDir()).ok());
    auto store = store::Store::Open("sqlite:" + dir_.path() + "/chain.db", 4);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    EngineOptions options;
    options.org_resolver = [this](const std::string& org, int64_t) -> StatusOr<pb::OrgContext> {
      if (org != "906017") return absl::NotFoundError("unknown org " + org);
      return context_;
    };
    engine_ = std::make_unique<Engine>(*store_, registry_, clock_, options);
  }

  void Deploy(const std::string& config) {
    auto d = engine_->Deploy(Workflow(config), "chain.yaml");
    ASSERT_TRUE(d.ok()) << d.status();
  }

  // A start of the chain workflow on P-1 for unit 906017.
  static v1::StartInstanceRequest ChainStart() {
    v1::StartInstanceRequest req;
    req.set_definition_key("chain");
    req.set_subject_ref("P-1");
    req.set_org("906017");
    return req;
  }

  // Starts and submits as zhang; returns the instance.
  v1::Instance StartAndSubmit() {
    auto inst = engine_->Start(kZhang, ChainStart());
    EXPECT_TRUE(inst.ok()) << inst.status();
    return Act(kZhang, Only(*inst), "submit", R"({"title": "x"})");
  }

  v1::Task Only(const v1::Instance& inst) {
    EXPECT_EQ(inst.open_tasks_size(), 1) << inst.DebugString();
    return inst.open_tasks_size() ? inst.open_tasks(0) : v1::Task();
  }

  // The open task that user may take (assigned to them, or their group's).
  v1::Task TaskFor(const v1::Instance& inst, const Caller& who) {
    auto fresh = engine_->GetInstance(inst.id());
    EXPECT_TRUE(fresh.ok());
    for (const auto& t : fresh->open_tasks()) {
      if (t.assignee_user() == who.user || t.claimed_by() == who.user ||
          (t.assignee_user().empty() && t.claimed_by().empty() &&
           std::find(who.roles.begin(), who.roles.end(), t.assignee_role()) != who.roles.end() &&
           (t.assignee_org().empty() || t.assignee_org() == who.org))) {
        return t;
      }
    }
    ADD_FAILURE() << "no task for " << who.user << " in " << fresh->DebugString();
    return v1::Task();
  }

  StatusOr<v1::Instance> TryAct(const Caller& who, const v1::Task& task, const std::string& action,
                                const std::string& payload = "", const std::string& comment = "") {
    v1::ActRequest req;
    req.set_task_id(task.id());
    req.set_action(action);
    if (!payload.empty()) {
      auto p = ParseJson(payload);
      *req.mutable_payload() = p;
    }
    req.set_comment(comment);
    return engine_->Act(who, req);
  }

  v1::Instance Act(const Caller& who, const v1::Task& task, const std::string& action,
                   const std::string& payload = "", const std::string& comment = "") {
    auto r = TryAct(who, task, action, payload, comment);
    EXPECT_TRUE(r.ok()) << who.user << " " << action << ": " << r.status();
    return r.ok() ? *r : v1::Instance();
  }

  // Acts on the user's own task of the instance.
  v1::Instance Do(const v1::Instance& inst, const Caller& who, const std::string& action,
                  const std::string& payload = "", const std::string& comment = "") {
    return Act(who, TaskFor(inst, who), action, payload, comment);
  }

  static google::protobuf::Struct ParseJson(const std::string& text);

  std::vector<std::string> Assignees(const v1::Instance& inst) {
    auto fresh = engine_->GetInstance(inst.id());
    std::vector<std::string> out;
    for (const auto& t : fresh->open_tasks()) {
      out.push_back(!t.claimed_by().empty()     ? t.claimed_by()
                    : !t.assignee_user().empty() ? t.assignee_user()
                                                 : t.assignee_role() + "@" + t.assignee_org());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  const Caller kZhang{"zhang", {"unit_filer"}, "906017"};
  const Caller kUl{"ul", {"unit_leader"}, "906017"};
  const Caller kD1{"d1", {"dept_reviewer"}, "906001"};
  const Caller kD2a{"d2a", {"dept_reviewer"}, "906"};
  const Caller kS1{"s1", {"section_reviewer"}, "S1"};
  const Caller kS2{"s2", {"section_reviewer"}, "S1"};
  const Caller kP1{"p1", {"perf_reviewer"}, "P"};
  const Caller kP2{"p2", {"perf_reviewer"}, "P"};
  const Caller kP3{"p3", {"perf_reviewer"}, "P"};

  testing::TempDir dir_;
  plugin::Registry registry_;
  std::unique_ptr<store::Store> store_;
  FakeClock clock_{1'790'000'000'000};  // 2026-09
  std::unique_ptr<Engine> engine_;
  pb::OrgContext context_ = CountyContext();
};

google::protobuf::Struct ReviewChainTest::ParseJson(const std::string& text) {
  google::protobuf::Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &s).ok()) << text;
  return s;
}

TEST_F(ReviewChainTest, FourLevelsThroughEveryMode) {
  Deploy(kFourLevels);
  v1::Instance inst = StartAndSubmit();
  EXPECT_EQ(inst.state(), "review");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("unit_leader@906017"));
  inst = Do(inst, kUl, "approve");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("dept_reviewer@906001"));  // level 1
  inst = Do(inst, kD1, "approve");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("dept_reviewer@906"));     // level 2
  inst = Do(inst, kD2a, "approve");
  // 会签: both section reviewers, each their own task.
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("s1", "s2"));
  inst = Do(inst, kS1, "approve");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("s2"));
  inst = Do(inst, kS2, "approve");
  // 票签: p1 weighs 2 of 4; 0.6 needs p1 plus one more.
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("p1", "p2", "p3"));
  inst = Do(inst, kP1, "approve");
  EXPECT_EQ(inst.state(), "review");
  inst = Do(inst, kP3, "approve");  // 3/4 >= 0.6: decided; p2's task is cancelled
  EXPECT_EQ(inst.state(), "done");
  EXPECT_EQ(inst.open_tasks_size(), 0);
}

TEST_F(ReviewChainTest, VoteFailsAsSoonAsItCannotPass) {
  Deploy(kFourLevels);
  v1::Instance inst = StartAndSubmit();
  for (const Caller* c : {&kUl, &kD1, &kD2a, &kS1, &kS2}) inst = Do(inst, *c, "approve");
  inst = Do(inst, kP1, "return", "", "指标不合理");  // 2 of 4 gone: 2/4 < 0.6 can never pass
  // Default return_to previous: back to the 会签 level, both reviewers again.
  EXPECT_EQ(inst.state(), "review");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("s1", "s2"));
}

TEST_F(ReviewChainTest, OneVetoEndsCountersignAndTheOtherTaskIsCancelled) {
  Deploy(kFourLevels);
  v1::Instance inst = StartAndSubmit();
  for (const Caller* c : {&kUl, &kD1, &kD2a}) inst = Do(inst, *c, "approve");
  inst = Do(inst, kS1, "return", R"({"to": "initiator"})", "不同意");
  EXPECT_EQ(inst.state(), "draft");
  auto s2_task = engine_->Inbox(kS2, v1::InboxRequest());
  ASSERT_TRUE(s2_task.ok());
  EXPECT_EQ(s2_task->tasks_size(), 0);
}

TEST_F(ReviewChainTest, CountersignWithoutVetoDecidesByMajority) {
  Deploy(R"(      chain:
        - { level: performance_section, mode: all, veto: false })");
  v1::Instance inst = StartAndSubmit();
  inst = Do(inst, kP1, "return", "", "不同意");
  EXPECT_EQ(inst.state(), "review");  // no veto: the others still vote
  inst = Do(inst, kP2, "approve");
  inst = Do(inst, kP3, "approve");
  EXPECT_EQ(inst.state(), "done");
}

TEST_F(ReviewChainTest, SequentialGoesOneByOne) {
  Deploy(R"(      chain:
        - { level: performance_section, mode: sequential })");
  v1::Instance inst = StartAndSubmit();
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("p1"));
  inst = Do(inst, kP1, "approve");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("p2"));
  inst = Do(inst, kP2, "approve");
  inst = Do(inst, kP3, "approve");
  EXPECT_EQ(inst.state(), "done");
}

TEST_F(ReviewChainTest, AddSignerBeforeThenTheAddedSignerReturns) {
  Deploy(R"(      chain:
        - { level: owning_section, mode: all }
        - { level: leadership })");
  v1::Instance inst = StartAndSubmit();
  // s1 adds shead before herself: shead must decide first.
  inst = Do(inst, kS1, "add_signer", R"({"user": "shead", "position": "before"})");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("s2", "shead"));
  Caller shead{"shead", {"head"}, "S1"};
  inst = Do(inst, shead, "return", R"({"to": "initiator"})", "加签人不同意");
  EXPECT_EQ(inst.state(), "draft");  // the veto of an added signer ends the 会签
  // History shows the 加签 and the return.
  auto history = engine_->History(inst.id());
  ASSERT_TRUE(history.ok());
  std::vector<std::string> actions;
  for (const auto& e : history->events()) {
    if (e.kind() == "acted") actions.push_back(e.action() + ":" + e.actor());
  }
  EXPECT_THAT(actions, ::testing::ElementsAre("submit:zhang", "add_signer:s1", "return:shead"));
}

TEST_F(ReviewChainTest, AddSignerAfterAndRemoveSigner) {
  Deploy(R"(      chain:
        - { level: owning_section, mode: all })");
  v1::Instance inst = StartAndSubmit();
  inst = Do(inst, kS1, "add_signer", R"({"user": "shead", "position": "after"})");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("s1", "s2"));  // s1 keeps her task
  inst = Do(inst, kS1, "approve");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("s2", "shead"));
  // 减签: s2 removes shead, who has not acted yet; then s2's approval ends it.
  inst = Do(inst, kS2, "remove_signer", R"({"user": "shead"})");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("s2"));
  inst = Do(inst, kS2, "approve");
  EXPECT_EQ(inst.state(), "done");
  // Adding the submitter is refused (separation of duties).
  v1::Instance again = StartAndSubmit();
  auto r = TryAct(kS1, TaskFor(again, kS1), "add_signer", R"({"user": "zhang"})");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("payload.user: separation of duties: zhang submitted or initiated"));
}

TEST_F(ReviewChainTest, ReturnToInitiatorResumesAtTheReturningStep) {
  Deploy(kFourLevels);  // resume: returning_step
  v1::Instance inst = StartAndSubmit();
  for (const Caller* c : {&kUl, &kD1}) inst = Do(inst, *c, "approve");
  inst = Do(inst, kD2a, "return", R"({"to": "initiator"})", "补充材料");
  EXPECT_EQ(inst.state(), "draft");
  inst = Do(inst, kZhang, "submit", R"({"title": "y"})");
  // Resumes at department level 2, skipping the levels that already approved.
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("dept_reviewer@906"));
}

TEST_F(ReviewChainTest, ReturnToInitiatorWithRerunStartsOver) {
  Deploy(kFourLevels);
  v1::Instance inst = StartAndSubmit();
  for (const Caller* c : {&kUl, &kD1}) inst = Do(inst, *c, "approve");
  inst = Do(inst, kD2a, "return", R"({"to": "initiator", "resume": "rerun"})", "重新走流程");
  inst = Do(inst, kZhang, "submit", R"({"title": "y"})");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("unit_leader@906017"));
}

TEST_F(ReviewChainTest, ReturnToAnEarlierStep) {
  Deploy(kFourLevels);
  v1::Instance inst = StartAndSubmit();
  for (const Caller* c : {&kUl, &kD1, &kD2a}) inst = Do(inst, *c, "approve");
  inst = Do(inst, kS1, "return", R"({"to": "step", "step": "unit_leader"})", "请单位负责人复核");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("unit_leader@906017"));
  auto bad = TryAct(kUl, TaskFor(inst, kUl), "return", R"({"to": "step", "step": "owning_section"})", "x");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("payload.step: 'owning_section' is not an earlier step of this review"));
}

TEST_F(ReviewChainTest, WithdrawBeforeAndAfterTheNextLevelActed) {
  Deploy(kFourLevels);
  v1::Instance inst = StartAndSubmit();
  const v1::Task ul_task = TaskFor(inst, kUl);
  inst = Do(inst, kUl, "approve");
  v1::InstanceOperationRequest w;
  w.set_instance_id(inst.id());
  // Someone else cannot withdraw ul's action.
  auto other = engine_->Withdraw(kD1, w);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(other.status().message()), HasSubstr("the latest was by ul"));
  // ul withdraws: the level-1 task is gone, ul's task is back (same id).
  auto back = engine_->Withdraw(kUl, w);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_THAT(Assignees(*back), ::testing::ElementsAre("unit_leader@906017"));
  EXPECT_EQ(TaskFor(*back, kUl).id(), ul_task.id());
  // Approve again; the next level acts; now the withdraw is refused.
  inst = Do(*back, kUl, "approve");
  inst = Do(inst, kD1, "approve");
  auto late = engine_->Withdraw(kUl, w);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(late.status().message()), HasSubstr("has no action to withdraw"));
  // d1 can still withdraw (nobody acted after d1).
  EXPECT_TRUE(engine_->Withdraw(kD1, w).ok());
}

TEST_F(ReviewChainTest, WithdrawAcrossStatesBringsTheSubmissionBack) {
  Deploy(kFourLevels);
  v1::StartInstanceRequest req = ChainStart();
  auto started = engine_->Start(kZhang, req);
  ASSERT_TRUE(started.ok());
  v1::Instance inst = Act(kZhang, Only(*started), "submit", R"({"title": "x"})");
  EXPECT_EQ(inst.state(), "review");
  v1::InstanceOperationRequest w;
  w.set_instance_id(inst.id());
  auto back = engine_->Withdraw(kZhang, w);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->state(), "draft");
  EXPECT_EQ(Only(*back).id(), Only(*started).id());
  // The variables are those before the submit (it had set the form's).
  EXPECT_NE(CanonicalJson(inst.variables()), CanonicalJson(started->variables()));
  EXPECT_EQ(CanonicalJson(back->variables()), CanonicalJson(started->variables()));
}

// A snapshot keeps only what undoes the action's changes to the variables
// (their values before it, the keys it added). Older snapshots carry the
// whole variables instead, as stored JSON (variables_json, 2026-12) or as a
// Struct (instance.variables, before): a withdraw restores from each.
TEST_F(ReviewChainTest, WithdrawRestoresVariablesFromEachSnapshotFormat) {
  Deploy(kFourLevels);
  for (const std::string format : {"undo", "variables_json", "instance.variables"}) {
    SCOPED_TRACE(format);
    v1::StartInstanceRequest req = ChainStart();
    (*req.mutable_variables()->mutable_fields())["budget"].set_number_value(120);
    auto started = engine_->Start(kZhang, req);
    ASSERT_TRUE(started.ok());
    v1::Instance inst = Act(kZhang, Only(*started), "submit", R"({"title": "x"})");
    ASSERT_NE(CanonicalJson(inst.variables()), CanonicalJson(started->variables()));
    auto row = store_->GetSnapshot(inst.id());
    ASSERT_TRUE(row.ok() && row->has_value());
    std::string bytes;
    v1::InstanceSnapshot snap;
    ASSERT_TRUE(absl::Base64Unescape((*row)->body, &bytes) && snap.ParseFromString(bytes));
    ASSERT_TRUE(snap.has_variables_undo());
    EXPECT_TRUE(snap.variables_json().empty());
    // The submit added variables; budget, untouched, is not in the snapshot.
    EXPECT_GT(snap.variables_undo().added_size(), 0);
    EXPECT_EQ(snap.variables_undo().before_json().find("budget"), std::string::npos);
    if (format != "undo") {
      snap.clear_variables_undo();
      if (format == "variables_json") {
        snap.set_variables_json(CanonicalJson(started->variables()));
      } else {
        *snap.mutable_instance()->mutable_variables() = started->variables();
      }
      store::Commit old_format;
      old_format.snapshot = **row;
      old_format.snapshot->body = absl::Base64Escape(snap.SerializeAsString());
      ASSERT_TRUE(store_->Apply(old_format).ok());
    }

    v1::InstanceOperationRequest w;
    w.set_instance_id(inst.id());
    auto back = engine_->Withdraw(kZhang, w);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->state(), "draft");
    EXPECT_EQ(back->variables().fields().at("budget").number_value(), 120);
    EXPECT_EQ(CanonicalJson(back->variables()), CanonicalJson(started->variables()));
  }
}

TEST_F(ReviewChainTest, ClaimTransferDelegateAndTakeBack) {
  Deploy(kFourLevels);
  v1::Instance inst = StartAndSubmit();
  for (const Caller* c : {&kUl, &kD1}) inst = Do(inst, *c, "approve");
  // Level 2 is a group task of 906's dept reviewers: d2a claims it.
  v1::Task group = TaskFor(inst, kD2a);
  v1::TaskOperationRequest op;
  op.set_task_id(group.id());
  ASSERT_TRUE(engine_->Claim(kD2a, op).ok());
  Caller d2b{"d2b", {"dept_reviewer"}, "906"};
  auto stolen = TryAct(d2b, group, "approve");
  EXPECT_EQ(stolen.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(stolen.status().message()), HasSubstr("which is claimed by d2a"));
  // d2a delegates to d2b; a transfer of the delegated task is refused.
  op.set_target_user("d2b");
  ASSERT_TRUE(engine_->Delegate(kD2a, op).ok());
  op.set_target_user("ul");
  auto transfer = engine_->Transfer(kD2a, op);
  EXPECT_EQ(transfer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(transfer.status().message()),
              HasSubstr("is delegated to d2b by d2a: the owner takes it back"));
  // The delegate may not approve; it resolves, and the owner gets it back.
  auto by_delegate = TryAct(d2b, group, "approve");
  EXPECT_EQ(by_delegate.status().code(), absl::StatusCode::kFailedPrecondition);
  op.set_comment("已核实，建议通过");
  ASSERT_TRUE(engine_->ResolveDelegation(d2b, op).ok());
  // Now the owner transfers it to d2b outright, who approves.
  op.set_target_user("d2b");
  ASSERT_TRUE(engine_->Transfer(kD2a, op).ok());
  inst = Act(d2b, group, "approve");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("s1", "s2"));
  auto history = engine_->History(inst.id());
  std::vector<std::string> kinds;
  for (const auto& e : history->events()) kinds.push_back(e.kind());
  EXPECT_THAT(kinds, ::testing::IsSupersetOf({"claimed", "delegated", "delegation_resolved",
                                              "transferred"}));
}

TEST_F(ReviewChainTest, ProxyWhoseRangeEndsMidTask) {
  Deploy(R"(      chain:
        - { level: user, user: boss })");
  v1::Instance inst = StartAndSubmit();
  Caller boss{"boss", {"leader"}, "L"};
  Caller deputy{"deputy", {}, "L"};
  v1::SetProxyRequest proxy;
  proxy.set_proxy_user("deputy");
  proxy.set_from_unix_ms(clock_.NowMillis() - kDay);
  proxy.set_to_unix_ms(clock_.NowMillis() + kDay);
  ASSERT_TRUE(engine_->SetProxy(boss, proxy).ok());
  // While the proxy runs, deputy sees and could act on boss's task.
  auto inbox = engine_->Inbox(deputy, v1::InboxRequest());
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->tasks_size(), 1);
  // The range ends before deputy acts: refused; boss still can.
  clock_.Advance(2 * kDay);
  auto late = TryAct(deputy, inbox->tasks(0), "approve");
  EXPECT_EQ(late.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(engine_->Inbox(deputy, v1::InboxRequest())->tasks_size(), 0);
  inst = Act(boss, inbox->tasks(0), "approve");
  EXPECT_EQ(inst.state(), "done");
}

TEST_F(ReviewChainTest, ProxyActsForThePrincipalAndIsAudited) {
  Deploy(R"(      chain:
        - { level: user, user: boss })");
  v1::Instance inst = StartAndSubmit();
  Caller boss{"boss", {"leader"}, "L"};
  Caller deputy{"deputy", {}, "L"};
  v1::SetProxyRequest proxy;
  proxy.set_proxy_user("deputy");
  proxy.set_from_unix_ms(clock_.NowMillis() - 1);
  proxy.set_to_unix_ms(clock_.NowMillis() + kDay);
  ASSERT_TRUE(engine_->SetProxy(boss, proxy).ok());
  inst = Act(deputy, TaskFor(inst, boss), "approve");
  EXPECT_EQ(inst.state(), "done");
  auto history = engine_->History(inst.id());
  bool found = false;
  for (const auto& e : history->events()) found |= e.actor() == "deputy (for boss)";
  EXPECT_TRUE(found);
}

TEST_F(ReviewChainTest, SubmitterIsNeverItsOwnReviewer) {
  // zhang is also the unit leader.
  for (auto& m : *context_.mutable_members()) {
    if (m.role() == "unit_leader") m.set_users(0, "zhang");
  }
  Deploy(R"(      chain:
        - { level: unit_leader }
        - { level: user, user: boss })");
  v1::Instance inst = StartAndSubmit();
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("boss"));  // on_self: skip
}

TEST_F(ReviewChainTest, SelfApprovalPassesToTheSuperior) {
  for (auto& m : *context_.mutable_members()) {
    if (m.role() == "unit_leader") m.set_users(0, "zhang");
  }
  pb::RoleMembers* head = context_.add_members();
  head->set_org("906017");
  head->set_role("head");
  head->add_users("director");
  Deploy(R"(      chain:
        - { level: unit_leader }
      on_self: superior)");
  v1::Instance inst = StartAndSubmit();
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("head@906017"));
}

TEST_F(ReviewChainTest, NobodyToReviewFailsLoudlyOrSkips) {
  Deploy(R"(      chain:
        - { level: role, role: auditor, org: "906" }
        - { level: user, user: boss })");
  v1::StartInstanceRequest req = ChainStart();
  auto inst = engine_->Start(kZhang, req);
  ASSERT_TRUE(inst.ok());
  auto r = TryAct(kZhang, Only(*inst), "submit", R"({"title": "x"})");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("review level 'role' has no one to review: nobody holds role auditor in "
                        "org 906 (on_empty: fail)"));
  // Nothing was stored: the submission is still open.
  EXPECT_EQ(engine_->GetInstance(inst->id())->state(), "draft");
}

TEST_F(ReviewChainTest, UrgeCcCommentAndCancel) {
  Deploy(kFourLevels);
  v1::Instance inst = StartAndSubmit();
  v1::InstanceOperationRequest op;
  op.set_instance_id(inst.id());
  op.set_comment("月底前请完成");
  ASSERT_TRUE(engine_->Urge(kZhang, op).ok());
  v1::ListNotificationsRequest nreq;
  auto notes = engine_->ListNotifications(kUl, nreq);
  ASSERT_TRUE(notes.ok());
  ASSERT_EQ(notes->notifications_size(), 1);
  EXPECT_EQ(notes->notifications(0).kind(), "urge");
  EXPECT_EQ(notes->notifications(0).text(), "月底前请完成");
  op.add_users("auditor1");
  op.set_comment("供参阅");
  ASSERT_TRUE(engine_->Cc(kZhang, op).ok());
  v1::InboxRequest cc;
  cc.set_view("cc");
  auto cc_list = engine_->Inbox(Caller{"auditor1", {}, ""}, cc);
  ASSERT_TRUE(cc_list.ok());
  ASSERT_EQ(cc_list->cc_size(), 1);
  EXPECT_EQ(cc_list->cc(0).from_user(), "zhang");
  op.clear_users();
  op.set_comment("请注意口径");
  ASSERT_TRUE(engine_->Comment(kUl, op).ok());
  // Only the initiator cancels, with a reason.
  op.set_comment("项目取消");
  EXPECT_EQ(engine_->Cancel(kUl, op).status().code(), absl::StatusCode::kPermissionDenied);
  auto cancelled = engine_->Cancel(kZhang, op);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->status(), "terminated");
  EXPECT_EQ(cancelled->open_tasks_size(), 0);
  auto again = engine_->Cancel(kZhang, op);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
}

// Overdue policies: the timer fires once, and the policy acts.
class OverdueTest : public ReviewChainTest {
 protected:
  v1::Instance Overdue(const std::string& policy_config) {
    Deploy(R"(      chain:
        - { level: owning_section }
        - { level: leadership }
      due: { days: 2 }
      remind_before_hours: 24
)" + policy_config);
    v1::Instance inst = StartAndSubmit();
    EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("section_reviewer@S1"));
    clock_.Advance(3 * kDay);
    int fired = 0;
    for (int round = 0; round < 3; ++round) fired += *engine_->RunDueTimers("t", 10);
    EXPECT_EQ(fired, 2);  // the reminder, then the overdue timer; each once
    return *engine_->GetInstance(inst.id());
  }
};

// A task done in time takes its reminder and overdue timer with it.
TEST_F(OverdueTest, ATaskDoneInTimeCancelsItsTimers) {
  Deploy(R"(      chain:
        - { level: owning_section }
        - { level: leadership }
      due: { days: 2 }
      remind_before_hours: 24
      on_overdue: notify
)");
  v1::Instance inst = StartAndSubmit();
  clock_.Advance(kDay / 2);
  inst = Do(inst, kS1, "approve");  // the leader's task: remind at 1.5 days, due at 2.5
  clock_.Advance(kDay * 9 / 10);    // past the section task's reminder, before the leader's
  int fired = 0;
  for (int round = 0; round < 3; ++round) fired += *engine_->RunDueTimers("t", 10);
  EXPECT_EQ(fired, 0);
  auto notes = engine_->ListNotifications(kS1, v1::ListNotificationsRequest());
  ASSERT_TRUE(notes.ok());
  EXPECT_EQ(notes->notifications_size(), 0);
  clock_.Advance(kDay * 2);  // the leader's timers are still there
  fired = 0;
  for (int round = 0; round < 3; ++round) fired += *engine_->RunDueTimers("t", 10);
  EXPECT_EQ(fired, 2);
}

TEST_F(OverdueTest, RemindThenNotify) {
  v1::Instance inst = Overdue("      on_overdue: notify");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("section_reviewer@S1"));
  auto notes = engine_->ListNotifications(kS1, v1::ListNotificationsRequest());
  ASSERT_TRUE(notes.ok());
  std::vector<std::string> kinds;
  for (const auto& n : notes->notifications()) kinds.push_back(n.kind());
  EXPECT_THAT(kinds, ::testing::ElementsAre("remind", "overdue"));
}

TEST_F(OverdueTest, Escalate) {
  v1::Instance inst = Overdue("      on_overdue: escalate");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("head@S1"));
}

TEST_F(OverdueTest, EscalateWithoutAHeadGoesToTheNextLevel) {
  v1::Instance inst = Overdue("      on_overdue: escalate\n      escalate_role: nobody");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("leader@L"));
}

TEST_F(OverdueTest, Reassign) {
  v1::Instance inst = Overdue("      on_overdue: reassign\n      reassign_to: { user: s2 }");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("s2"));
}

TEST_F(OverdueTest, AutoApprove) {
  v1::Instance inst = Overdue("      on_overdue: auto_approve");
  EXPECT_THAT(Assignees(inst), ::testing::ElementsAre("leader@L"));  // the next level
}

TEST_F(OverdueTest, AutoReturn) {
  v1::Instance inst = Overdue("      on_overdue: auto_return");
  EXPECT_EQ(inst.state(), "draft");
}

TEST_F(ReviewChainTest, DoneInboxAndFilters) {
  Deploy(kFourLevels);
  v1::Instance inst = StartAndSubmit();
  inst = Do(inst, kUl, "approve");
  v1::InboxRequest done;
  done.set_view("done");
  auto d = engine_->Inbox(kUl, done);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->tasks_size(), 1);
  EXPECT_EQ(d->tasks(0).action(), "approve");
  v1::InboxRequest pending;
  pending.set_definition_key("other");
  EXPECT_EQ(engine_->Inbox(kD1, pending)->tasks_size(), 0);
  pending.set_definition_key("chain");
  EXPECT_EQ(engine_->Inbox(kD1, pending)->tasks_size(), 1);
  pending.set_year(2020);
  EXPECT_EQ(engine_->Inbox(kD1, pending)->tasks_size(), 0);
}


// Administration: suspend stops the clock, resume moves every due date on by
// the time suspended; jump and terminate; refusals.
class AdminTest : public ReviewChainTest {
 protected:
  StatusOr<v1::Instance> Op(StatusOr<v1::Instance> (Engine::*op)(const Caller&,
                                                                 const v1::InstanceOperationRequest&),
                            const Caller& who, const std::string& id, const std::string& reason,
                            const std::string& target = "") {
    v1::InstanceOperationRequest req;
    req.set_instance_id(id);
    req.set_comment(reason);
    req.set_target_state(target);
    return ((*engine_).*op)(who, req);
  }
  const Caller kAdmin{"admin", {"workflow_admin"}, "czj"};
};

TEST_F(AdminTest, SuspendStopsTheClockAndResumeMovesDueDatesOn) {
  Deploy(R"(      chain:
        - { level: owning_section }
      due: { days: 2 }
      remind_before_hours: 24
      on_overdue: notify
)");
  v1::Instance inst = StartAndSubmit();
  const int64_t due = Only(inst).due_unix_ms();
  ASSERT_GT(due, 0);

  EXPECT_EQ(Op(&Engine::Suspend, kZhang, inst.id(), "x").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Op(&Engine::Suspend, kAdmin, inst.id(), " ").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto suspended = Op(&Engine::Suspend, kAdmin, inst.id(), "审计调查");
  ASSERT_TRUE(suspended.ok()) << suspended.status();
  EXPECT_EQ(suspended->status(), "suspended");
  auto acted = TryAct(kS1, Only(inst), "approve");
  EXPECT_EQ(acted.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(acted.status().message()), ::testing::HasSubstr("suspended"));
  EXPECT_EQ(Op(&Engine::Suspend, kAdmin, inst.id(), "again").status().code(),
            absl::StatusCode::kFailedPrecondition);

  // Three days pass: nothing fires, nothing is lost.
  clock_.Advance(3 * kDay);
  EXPECT_EQ(*engine_->RunDueTimers("t", 10), 0);
  auto resumed = Op(&Engine::Resume, kAdmin, inst.id(), "调查结束");
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->status(), "running");
  EXPECT_EQ(Only(*resumed).due_unix_ms(), due + 3 * kDay);
  EXPECT_EQ(Op(&Engine::Resume, kAdmin, inst.id(), "again").status().code(),
            absl::StatusCode::kFailedPrecondition);

  // The reminder comes 24 h before the moved due date, the overdue after it.
  clock_.Advance(kDay / 2);
  EXPECT_EQ(*engine_->RunDueTimers("t2", 10), 0);
  clock_.Advance(kDay);
  EXPECT_EQ(*engine_->RunDueTimers("t3", 10), 1);
  clock_.Advance(kDay);
  EXPECT_EQ(*engine_->RunDueTimers("t4", 10), 1);

  auto history = engine_->History(inst.id());
  ASSERT_TRUE(history.ok());
  std::vector<std::string> admin;
  for (const auto& e : history->events()) {
    if (e.kind() == "suspended" || e.kind() == "resumed") {
      admin.push_back(e.kind() + ":" + e.actor() + ":" + e.comment());
    }
  }
  EXPECT_THAT(admin, ::testing::ElementsAre("suspended:admin:审计调查", "resumed:admin:调查结束"));
}

TEST_F(AdminTest, JumpAndTerminate) {
  Deploy("      chain:\n        - { level: owning_section }\n");
  v1::Instance inst = StartAndSubmit();
  ASSERT_EQ(inst.state(), "review");
  auto bad = Op(&Engine::Jump, kAdmin, inst.id(), "x", "nowhere");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "target_state: 'nowhere' is not a state of chain v1; its states: draft, review, done");
  EXPECT_EQ(Op(&Engine::Jump, kAdmin, inst.id(), "x", "review").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Op(&Engine::Jump, kS1, inst.id(), "x", "draft").status().code(),
            absl::StatusCode::kPermissionDenied);
  auto jumped = Op(&Engine::Jump, kAdmin, inst.id(), "材料需重报", "draft");
  ASSERT_TRUE(jumped.ok()) << jumped.status();
  EXPECT_EQ(jumped->state(), "draft");
  EXPECT_EQ(Only(*jumped).state(), "draft");
  auto history = engine_->History(inst.id());
  ASSERT_TRUE(history.ok());
  const auto& last_jump = *std::find_if(history->events().begin(), history->events().end(),
                                        [](const v1::Event& e) { return e.kind() == "jumped"; });
  EXPECT_EQ(last_jump.from_state(), "review");
  EXPECT_EQ(last_jump.to_state(), "draft");
  EXPECT_EQ(last_jump.comment(), "材料需重报");

  auto terminated = Op(&Engine::Terminate, kAdmin, inst.id(), "项目取消");
  ASSERT_TRUE(terminated.ok()) << terminated.status();
  EXPECT_EQ(terminated->status(), "terminated");
  EXPECT_EQ(terminated->open_tasks_size(), 0);
  EXPECT_EQ(Op(&Engine::Resume, kAdmin, inst.id(), "x").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Op(&Engine::Jump, kAdmin, inst.id(), "x", "review").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace bpm::engine
