// The engine in process: real plugins (dlopen), a real SQLite store in a temp
// dir, a fake clock. Covers what is awkward over gRPC: plugin failures leave
// nothing behind, races without an expected version, automatic transitions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/str_replace.h"
#include "core/common/clock.h"
#include "core/common/util.h"
#include "core/engine/engine.h"
#include "google/protobuf/util/json_util.h"
#include "tests/support/test_env.h"

namespace bpm::engine {
namespace {

using ::testing::HasSubstr;

const char* kThrowing = R"(
key: throwing
initial: a
states:
  a: { stage: throwing_act, on: { done: end } }
  end: { final: true }
)";

const char* kAutoDisclosure = R"(
key: auto-publish
initial: review
states:
  review:
    stage: review
    config: { assignee: { role: authority_reviewer } }
    on: { approved: publish, returned: review }
  publish:
    stage: disclosure
    config: { mode: auto, publish: [last_review] }
    on: { published: done }
  done: { final: true }
)";

const char* kCycle = R"(
key: cycle
initial: one
variables: { never: bool }
states:
  one:
    stage: disclosure
    config: { mode: auto }
    on: { published: two }
  two:
    stage: disclosure
    config: { mode: auto }
    on:
      published:
        - { to: done, when: { var: never, exists: true } }
        - { to: one }
  done: { final: true }
)";

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.LoadDirectory(testing::PluginDir()).ok());
    auto throwing = plugin::LoadPluginFile(testing::FixturePluginDir() +
                                           "/bpm_stage_throwing_act.so");
    ASSERT_TRUE(throwing.ok()) << throwing.status();
    ASSERT_TRUE(registry_.Add(*std::move(throwing)).ok());
    auto store = store::Store::Open("sqlite:" + dir_.path() + "/engine.db", 8);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    engine_ = std::make_unique<Engine>(*store_, registry_, clock_);
    for (const char* yaml : {kThrowing, kAutoDisclosure, kCycle}) {
      auto d = engine_->Deploy(yaml, "test.yaml");
      ASSERT_TRUE(d.ok()) << d.status();
    }
  }

  v1::Instance Start(const std::string& key, const std::string& idem = "") {
    v1::StartInstanceRequest req;
    req.set_definition_key(key);
    req.set_subject_ref("P1");
    req.set_org("906017");
    req.set_idempotency_key(idem);
    auto inst = engine_->Start(starter_, req);
    EXPECT_TRUE(inst.ok()) << inst.status();
    return inst.ok() ? *inst : v1::Instance();
  }

  // Starts req's instance and approves its one open task as a reviewer.
  StatusOr<v1::Instance> StartAndApprove(const v1::StartInstanceRequest& req) {
    auto inst = engine_->Start(starter_, req);
    if (!inst.ok()) return inst.status();
    if (inst->open_tasks_size() != 1) {
      return absl::InternalError("expected one open task: " + inst->DebugString());
    }
    v1::ActRequest act;
    act.set_task_id(inst->open_tasks(0).id());
    act.set_action("approve");
    return engine_->Act(Caller{"li", {"authority_reviewer"}, "906"}, act);
  }

  testing::TempDir dir_;
  plugin::Registry registry_;
  std::unique_ptr<store::Store> store_;
  FakeClock clock_{1'767'225'600'000};  // 2026-01-01
  std::unique_ptr<Engine> engine_;
  Caller starter_{"zhang", {"unit_filer"}, "906017"};
};

// "_review" tells the review stage where its chain resumes: a starter who
// could give it would skip review levels. Names beginning with "_" are the
// stages' own and refused at start, with nothing stored.
TEST_F(EngineTest, AStarterCannotGiveAStagesOwnState) {
  v1::StartInstanceRequest req;
  req.set_definition_key("auto-publish");
  req.set_subject_ref("P1");
  req.set_org("906017");
  google::protobuf::Struct resume;
  (*resume.mutable_fields())["resume_at"].set_number_value(1);
  (*(*req.mutable_variables()->mutable_fields())["_review"]
        .mutable_struct_value()
        ->mutable_fields())["review"]
      .mutable_struct_value()
      ->Swap(&resume);
  auto inst = engine_->Start(starter_, req);
  ASSERT_EQ(inst.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(inst.status().message(),
            "variables._review: names beginning with '_' are reserved for the stages' own "
            "state and cannot be given at start");
  auto listed = engine_->ListInstances(v1::ListInstancesRequest());
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->instances_size(), 0);
}

TEST_F(EngineTest, AThrowingPluginChangesNothing) {
  v1::Instance inst = Start("throwing");
  ASSERT_EQ(inst.open_tasks_size(), 1);
  v1::ActRequest act;
  act.set_task_id(inst.open_tasks(0).id());
  act.set_action("go");
  auto r = engine_->Act(Caller{"t", {"tester"}, ""}, act);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("stage plugin 'throwing_act' 1.0.0 ("));
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr(") act failed: act hook threw an exception: boom in act"));
  auto after = engine_->GetInstance(inst.id());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->version(), inst.version());
  EXPECT_EQ(after->open_tasks_size(), 1);
  EXPECT_EQ(engine_->History(inst.id())->events_size(), 1);
}

// A stage under another name that records the context of each call the
// engine makes to it, then lets the real plugin decide.
class RecordingStage : public plugin::StageHandle {
 public:
  RecordingStage(const plugin::StageHandle& inner, const std::string& name) : inner_(inner) {
    description_ = inner.description();
    description_.set_name(name);
  }
  const plugin::pb::DescribeResponse& description() const override { return description_; }
  const std::string& origin() const override { return inner_.origin(); }
  std::string_view transport() const override { return inner_.transport(); }
  StatusOr<plugin::pb::ValidateConfigResponse> ValidateConfig(
      const plugin::pb::ValidateConfigRequest& r) const override {
    return inner_.ValidateConfig(r);
  }
  StatusOr<plugin::pb::Decision> Enter(const plugin::pb::EnterRequest& r) const override {
    Record(r.context());
    return inner_.Enter(r);
  }
  StatusOr<plugin::pb::Decision> Act(const plugin::pb::ActRequest& r) const override {
    Record(r.context());
    return inner_.Act(r);
  }
  StatusOr<plugin::pb::Decision> EnterWithConfig(plugin::pb::EnterRequest& r,
                                                 const Config& c) const override {
    Record(r.context());
    return inner_.EnterWithConfig(r, c);
  }
  StatusOr<plugin::pb::Decision> ActWithConfig(plugin::pb::ActRequest& r,
                                               const Config& c) const override {
    Record(r.context());
    return inner_.ActWithConfig(r, c);
  }
  StatusOr<plugin::pb::Decision> OnTimer(const plugin::pb::TimerRequest& r) const override {
    Record(r.context());
    return inner_.OnTimer(r);
  }
  std::vector<plugin::pb::StageContext> Seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  void Record(const plugin::pb::StageContext& ctx) const {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.push_back(ctx);
  }
  const plugin::StageHandle& inner_;
  plugin::pb::DescribeResponse description_;
  mutable std::mutex mu_;
  mutable std::vector<plugin::pb::StageContext> seen_;
};

// A recording stage whose plugin declares the variables it reads as given
// (whatever the real plugin says).
class DeclaringStage : public RecordingStage {
 public:
  DeclaringStage(const plugin::StageHandle& inner, const std::string& name,
                 std::vector<std::string> declared)
      : RecordingStage(inner, name), declared_(std::move(declared)) {}
  StatusOr<plugin::pb::ValidateConfigResponse> ValidateConfig(
      const plugin::pb::ValidateConfigRequest&) const override {
    plugin::pb::ValidateConfigResponse resp;
    for (const std::string& name : declared_) resp.mutable_variables()->add_names(name);
    return resp;
  }

 private:
  std::vector<std::string> declared_;
};

// kAutoDisclosure under another key and with other stages in its two
// states; disclosure publishes every variable (no publish list).
std::string AutoPublishWith(const std::string& key, const std::string& review_stage,
                            const std::string& disclosure_stage) {
  return absl::StrReplaceAll(kAutoDisclosure, {{"key: auto-publish", "key: " + key},
                                               {"stage: review", "stage: " + review_stage},
                                               {"stage: disclosure", "stage: " + disclosure_stage},
                                               {", publish: [last_review]", ""}});
}

std::vector<std::string> Keys(const google::protobuf::Struct& s) {
  std::vector<std::string> out;
  for (const auto& [key, value] : s.fields()) out.push_back(key);
  std::sort(out.begin(), out.end());
  return out;
}

// A stage that declared the variables it reads gets only those, with the
// selection marked; one that did not gets them all. Review declares
// "_review" and "submitted_by", so the filed form stays with the engine.
TEST_F(EngineTest, AStageGetsOnlyTheVariablesItDeclared) {
  auto review = std::make_unique<RecordingStage>(*registry_.Find("review"), "recorded_review");
  auto disclosure =
      std::make_unique<RecordingStage>(*registry_.Find("disclosure"), "recorded_disclosure");
  const RecordingStage& review_seen = *review;
  const RecordingStage& disclosure_seen = *disclosure;
  ASSERT_TRUE(registry_.Add(std::move(review)).ok());
  ASSERT_TRUE(registry_.Add(std::move(disclosure)).ok());
  auto deployed = engine_->Deploy(
      AutoPublishWith("selected-variables", "recorded_review", "recorded_disclosure"),
      "selected.yaml");
  ASSERT_TRUE(deployed.ok()) << deployed.status();
  v1::StartInstanceRequest req;
  req.set_definition_key("selected-variables");
  req.set_subject_ref("P1");
  req.set_org("906017");
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  R"({"form": {"project_name": "营养改善计划", "amount": 1250.5},
                      "submitted_by": "zhang", "grade": "优"})",
                  req.mutable_variables())
                  .ok());
  auto done = StartAndApprove(req);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), "done");

  const auto reviewed = review_seen.Seen();
  ASSERT_EQ(reviewed.size(), 2u);  // enter, then the approval
  for (const auto& ctx : reviewed) {
    ASSERT_TRUE(ctx.has_variables_selected());
    EXPECT_THAT(std::vector<std::string>(ctx.variables_selected().names().begin(),
                                         ctx.variables_selected().names().end()),
                ::testing::ElementsAre("_review", "submitted_by"));
  }
  EXPECT_THAT(Keys(reviewed[0].variables()), ::testing::ElementsAre("submitted_by"));
  // By the approval the chain has recorded its progress.
  EXPECT_THAT(Keys(reviewed[1].variables()), ::testing::ElementsAre("_review", "submitted_by"));
  const auto published = disclosure_seen.Seen();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_FALSE(published[0].has_variables_selected());
  EXPECT_THAT(Keys(published[0].variables()),
              ::testing::ElementsAre("_review", "form", "grade", "last_review", "submitted_by"));
  // The instance keeps every variable.
  EXPECT_THAT(Keys(done->variables()),
              ::testing::ElementsAre("_review", "disclosure", "form", "grade", "last_review",
                                     "submitted_by"));
}

// A declaration that names a variable twice (a remote plugin's may) is
// taken once: the stage gets the variable's value, not an empty one.
TEST_F(EngineTest, AVariableDeclaredTwiceIsSentOnce) {
  auto twice = std::make_unique<DeclaringStage>(
      *registry_.Find("review"), "twice_review",
      std::vector<std::string>{"submitted_by", "_review", "submitted_by"});
  const DeclaringStage& seen = *twice;
  ASSERT_TRUE(registry_.Add(std::move(twice)).ok());
  auto deployed =
      engine_->Deploy(AutoPublishWith("twice", "twice_review", "disclosure"), "twice.yaml");
  ASSERT_TRUE(deployed.ok()) << deployed.status();
  v1::StartInstanceRequest req;
  req.set_definition_key("twice");
  req.set_subject_ref("P1");
  req.set_org("906017");
  (*req.mutable_variables()->mutable_fields())["submitted_by"].set_string_value("zhang");
  auto inst = engine_->Start(starter_, req);
  ASSERT_TRUE(inst.ok()) << inst.status();
  const auto calls = seen.Seen();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_THAT(std::vector<std::string>(calls[0].variables_selected().names().begin(),
                                       calls[0].variables_selected().names().end()),
              ::testing::ElementsAre("_review", "submitted_by"));
  EXPECT_EQ(calls[0].variables().fields().at("submitted_by").string_value(), "zhang");
  EXPECT_EQ(inst->variables().fields().at("submitted_by").string_value(), "zhang");
}

// A condition reads its variable from the stored instance though no stage
// of the command read it (the engine parses stored variables only as they
// are asked for).
TEST_F(EngineTest, AConditionReadsAStoredVariableNoStageRead) {
  auto deployed = engine_->Deploy(R"(
key: by-amount
initial: review
variables: { amount: number }
states:
  review:
    stage: review
    config: { assignee: { role: authority_reviewer } }
    on:
      approved:
        - { to: large, when: { var: amount, gt: 100 } }
        - { to: small }
      returned: review
  large: { final: true }
  small: { final: true }
)",
                                  "by-amount.yaml");
  ASSERT_TRUE(deployed.ok()) << deployed.status();
  for (const auto& [amount, expected] :
       std::vector<std::pair<double, std::string>>{{500, "large"}, {50, "small"}}) {
    v1::StartInstanceRequest req;
    req.set_definition_key("by-amount");
    req.set_subject_ref("P1");
    req.set_org("906017");
    (*req.mutable_variables()->mutable_fields())["amount"].set_number_value(amount);
    (*req.mutable_variables()->mutable_fields())["notes"].set_string_value("一二三");
    auto done = StartAndApprove(req);
    ASSERT_TRUE(done.ok()) << done.status();
    EXPECT_EQ(done->state(), expected) << "amount " << amount;
  }
}

// A BASIC answer leaves out the variables (the engine parses none nobody
// read); the instance keeps them all. With an idempotency key the answer
// keeps them, for a replay asking for either view (the server applies each
// call's view).
TEST_F(EngineTest, ABasicAnswerLeavesOutTheVariablesNotTheInstance) {
  const Caller reviewer{"li", {"authority_reviewer"}, "906"};
  for (const std::string key : {"", "approve-1"}) {
    SCOPED_TRACE("idempotency key '" + key + "'");
    v1::StartInstanceRequest start;
    start.set_definition_key("auto-publish");
    start.set_subject_ref("P1");
    start.set_org("906017");
    start.set_view(v1::INSTANCE_VIEW_BASIC);
    (*start.mutable_variables()->mutable_fields())["form"].set_string_value("填报内容");
    auto inst = engine_->Start(starter_, start);
    ASSERT_TRUE(inst.ok()) << inst.status();
    ASSERT_EQ(inst->open_tasks_size(), 1);
    v1::ActRequest act;
    act.set_task_id(inst->open_tasks(0).id());
    act.set_action("approve");
    act.set_idempotency_key(key);
    act.set_view(v1::INSTANCE_VIEW_BASIC);
    auto done = engine_->Act(reviewer, act);
    ASSERT_TRUE(done.ok()) << done.status();
    EXPECT_EQ(done->state(), "done");
    auto stored = engine_->GetInstance(inst->id());
    ASSERT_TRUE(stored.ok());
    EXPECT_THAT(Keys(stored->variables()),
                ::testing::ElementsAre("_review", "disclosure", "form", "last_review"));
    EXPECT_EQ(stored->variables().fields().at("form").string_value(), "填报内容");
    if (key.empty()) {
      EXPECT_EQ(done->variables().fields_size(), 0);
      continue;
    }
    EXPECT_EQ(CanonicalJson(done->variables()), CanonicalJson(stored->variables()));
    act.set_view(v1::INSTANCE_VIEW_FULL);
    auto replayed = engine_->Act(reviewer, act);
    ASSERT_TRUE(replayed.ok()) << replayed.status();
    EXPECT_EQ(replayed->version(), done->version());
    EXPECT_EQ(CanonicalJson(replayed->variables()), CanonicalJson(stored->variables()));
  }
}

// A plugin that declares an empty variable name has a bug: the workflow is
// refused at deploy, naming the state and the stage.
TEST_F(EngineTest, AnEmptyDeclaredVariableNameIsRefusedAtDeploy) {
  ASSERT_TRUE(registry_
                  .Add(std::make_unique<DeclaringStage>(*registry_.Find("final_review"),
                                                        "empty_name",
                                                        std::vector<std::string>{"grade", ""}))
                  .ok());
  auto deployed = engine_->Deploy(R"(
key: empty-name
initial: final
states:
  final:
    stage: empty_name
    on: { approved: done, returned: done, rejected: done }
  done: { final: true }
)",
                                  "empty.yaml");
  ASSERT_FALSE(deployed.ok());
  EXPECT_EQ(deployed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(deployed.status().message()),
              HasSubstr("empty.yaml:6:12: state 'final': stage plugin 'empty_name' declared an "
                        "empty variable name among those it reads"));
}

// A plugin's set_variables meet the workflow's declarations like a caller's
// variables do. Here final_review's config offers grades the workflow does
// not declare: approving with one is refused, naming the stage, the state and
// the variable, and nothing is stored.
TEST_F(EngineTest, AVariableAPluginSetsMustMatchItsDeclaration) {
  auto deployed = engine_->Deploy(R"(
key: mismatched-grades
initial: final
variables:
  grade: { type: string, values: [优, 良, 中, 差] }
states:
  final:
    stage: final_review
    config: { assignee: { role: finance_reviewer }, grades: [A, 中] }
    on: { approved: done, returned: done, rejected: done }
  done: { final: true }
)",
                                  "mismatched.yaml");
  ASSERT_TRUE(deployed.ok()) << deployed.status();
  v1::Instance inst = Start("mismatched-grades");
  ASSERT_EQ(inst.open_tasks_size(), 1);
  const Caller finance{"qian", {"finance_reviewer"}, "906"};
  auto approve = [&](const std::string& grade) {
    v1::ActRequest act;
    act.set_task_id(inst.open_tasks(0).id());
    act.set_action("approve");
    (*act.mutable_payload()->mutable_fields())["grade"].set_string_value(grade);
    return engine_->Act(finance, act);
  };
  auto refused = approve("A");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("stage plugin 'final_review' in state 'final' set variables.grade: "
                        "'A' is not one of workflow mismatched-grades's values: 优, 良, 中, 差"));
  auto after = engine_->GetInstance(inst.id());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->version(), inst.version());
  EXPECT_EQ(after->state(), "final");
  EXPECT_FALSE(after->variables().fields().contains("grade"));
  // A declared grade passes.
  auto approved = approve("中");
  ASSERT_TRUE(approved.ok()) << approved.status();
  EXPECT_EQ(approved->state(), "done");
  EXPECT_EQ(approved->variables().fields().at("grade").string_value(), "中");
}

// Two bpmd processes on one database (MariaDB in production; here two
// stores on one SQLite file) each keep their own instance cache, which the
// other's commits leave stale. A command that runs on a stale state runs
// again from the database: the caller never sees the staleness.
TEST_F(EngineTest, AStaleCachedInstanceIsReadAgainNotRefused) {
  auto opened = store::Store::Open("sqlite:" + dir_.path() + "/engine.db", 4);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Engine other(**opened, registry_, clock_);
  const Caller li{"li", {"authority_reviewer"}, "906"};
  // Each instance is cached here by its start; the other process then
  // claims its review task for li, which this engine does not see.
  auto claimed_elsewhere = [&](const v1::Instance& inst) {
    EXPECT_TRUE(store_->LoadInstance(inst.id())->from_cache);
    v1::TaskOperationRequest claim;
    claim.set_task_id(inst.open_tasks(0).id());
    auto claimed = other.Claim(li, claim);
    ASSERT_TRUE(claimed.ok()) << claimed.status();
    auto cached = store_->LoadInstance(inst.id());
    ASSERT_TRUE(cached.ok());
    EXPECT_TRUE(cached->from_cache);
    EXPECT_EQ(cached->instance.version, inst.version());  // stale
  };

  // Act (sync): refused at its commit (version), then run from the database.
  v1::Instance first = Start("auto-publish");
  claimed_elsewhere(first);
  v1::ActRequest act;
  act.set_task_id(first.open_tasks(0).id());
  act.set_action("approve");
  auto acted = engine_->Act(li, act);
  ASSERT_TRUE(acted.ok()) << acted.status();
  EXPECT_EQ(acted->state(), "done");

  // Act (async): the refusal comes from the commit thread; the same again.
  v1::Instance second = Start("auto-publish");
  claimed_elsewhere(second);
  v1::ActRequest async_act;
  async_act.set_task_id(second.open_tasks(0).id());
  async_act.set_action("approve");
  std::mutex mu;
  std::condition_variable cv;
  std::optional<StatusOr<v1::Instance>> answer;
  engine_->ActAsync(li, async_act, [&](StatusOr<v1::Instance> r) {
    std::lock_guard<std::mutex> lock(mu);
    answer = std::move(r);
    cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return answer.has_value(); }));
  }
  ASSERT_TRUE(answer->ok()) << answer->status();
  EXPECT_EQ((*answer)->state(), "done");

  // Any other command: refused before its commit on the stale state (the
  // task looks unclaimed here), then run from the database.
  v1::Instance third = Start("auto-publish");
  claimed_elsewhere(third);
  v1::TaskOperationRequest unclaim;
  unclaim.set_task_id(third.open_tasks(0).id());
  auto unclaimed = engine_->Unclaim(li, unclaim);
  ASSERT_TRUE(unclaimed.ok()) << unclaimed.status();
  EXPECT_EQ(unclaimed->open_tasks(0).status(), "open");
}

TEST_F(EngineTest, AutomaticOutcomesChainToTheEnd) {
  v1::Instance inst = Start("auto-publish");
  v1::ActRequest act;
  act.set_task_id(inst.open_tasks(0).id());
  act.set_action("approve");
  act.set_comment("同意公开");
  auto r = engine_->Act(Caller{"li", {"authority_reviewer"}, "906"}, act);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state(), "done");
  EXPECT_EQ(r->status(), "completed");
  auto docs = engine_->Documents(inst.id());
  ASSERT_TRUE(docs.ok());
  ASSERT_EQ(docs->documents_size(), 1);
  EXPECT_THAT(docs->documents(0).content(), HasSubstr("同意公开"));
  std::vector<std::string> kinds;
  auto history = engine_->History(inst.id());
  ASSERT_TRUE(history.ok());
  for (const auto& e : history->events()) kinds.push_back(e.kind());
  EXPECT_THAT(kinds, ::testing::ElementsAre("started", "acted", "transitioned", "transitioned",
                                            "completed"));
}

TEST_F(EngineTest, AnOutcomeCycleIsRefusedAndStoresNothing) {
  v1::StartInstanceRequest req;
  req.set_definition_key("cycle");
  req.set_subject_ref("P1");
  req.set_org("906017");
  auto r = engine_->Start(starter_, req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("workflow cycle: more than 50 automatic transitions in one command"));
  v1::ListInstancesRequest list;
  list.set_definition_key("cycle");
  EXPECT_EQ(engine_->ListInstances(list)->instances_size(), 0);
}

TEST_F(EngineTest, RacingActorsWithoutVersionsApplyOnce) {
  v1::Instance inst = Start("auto-publish");
  const std::string task = inst.open_tasks(0).id();
  constexpr int kRacers = 8;
  std::atomic<int> ok{0}, lost{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kRacers; ++i) {
    threads.emplace_back([&, i]() {
      v1::ActRequest act;
      act.set_task_id(task);
      act.set_action("approve");
      auto r = engine_->Act(Caller{"r" + std::to_string(i), {"authority_reviewer"}, "906"}, act);
      if (r.ok()) {
        ++ok;
      } else if (absl::IsAborted(r.status()) || absl::IsFailedPrecondition(r.status())) {
        ++lost;  // lost the commit race, or came after the winner committed
      } else {
        ADD_FAILURE() << r.status();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(lost.load(), kRacers - 1);
  int acted = 0;
  auto history = engine_->History(inst.id());
  ASSERT_TRUE(history.ok());
  for (const auto& e : history->events()) acted += e.kind() == "acted";
  EXPECT_EQ(acted, 1);
  EXPECT_EQ(engine_->Documents(inst.id())->documents_size(), 1);
}

TEST_F(EngineTest, ConcurrentRetriesOfOneStartMakeOneInstance) {
  constexpr int kRetries = 6;
  std::vector<std::string> ids(kRetries);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRetries; ++i) {
    threads.emplace_back([&, i]() { ids[i] = Start("auto-publish", "same-key").id(); });
  }
  for (auto& t : threads) t.join();
  for (const auto& id : ids) EXPECT_EQ(id, ids[0]);
  v1::ListInstancesRequest list;
  list.set_definition_key("auto-publish");
  EXPECT_EQ(engine_->ListInstances(list)->instances_size(), 1);
}

// StartAsync/ActAsync (bpmd's callback path on SQLite): the same outcomes as
// the waiting calls, each callback exactly once, answered after the commit.
TEST_F(EngineTest, AsyncCommandsRaceAndRetryLikeWaitingOnes) {
  struct Outcome {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<StatusOr<v1::Instance>> results;
    void Add(StatusOr<v1::Instance> r) {
      std::lock_guard<std::mutex> lock(mu);
      results.push_back(std::move(r));
      cv.notify_all();
    }
    void WaitFor(size_t n) {
      std::unique_lock<std::mutex> lock(mu);
      ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return results.size() >= n; }));
    }
  };
  // Concurrent retries of one start with one idempotency key: one instance.
  Outcome starts;
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      v1::StartInstanceRequest req;
      req.set_definition_key("auto-publish");
      req.set_subject_ref("P-async");
      req.set_org("906017");
      req.set_idempotency_key("async-key");
      engine_->StartAsync(starter_, req, [&](StatusOr<v1::Instance> r) { starts.Add(std::move(r)); });
    });
  }
  for (auto& t : threads) t.join();
  starts.WaitFor(6);
  ASSERT_EQ(starts.results.size(), 6u);
  for (const auto& r : starts.results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->id(), starts.results[0]->id());
  }
  // The answer comes after the commit: the instance is there to read.
  EXPECT_TRUE(engine_->GetInstance(starts.results[0]->id()).ok());

  // Racing approvals of one task: one winner, the others refused.
  const v1::Instance inst = *starts.results[0];
  Outcome acts;
  threads.clear();
  // Each request outlives its answer (ActAsync's contract: a loser may run
  // again from the database after its commit was refused).
  std::vector<v1::ActRequest> requests(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      v1::ActRequest& act = requests[i];
      act.set_task_id(inst.open_tasks(0).id());
      act.set_action("approve");
      engine_->ActAsync(Caller{"r" + std::to_string(i), {"authority_reviewer"}, "906"}, act,
                        [&](StatusOr<v1::Instance> r) { acts.Add(std::move(r)); });
    });
  }
  for (auto& t : threads) t.join();
  acts.WaitFor(8);
  int ok = 0;
  for (const auto& r : acts.results) {
    if (r.ok()) {
      ++ok;
      EXPECT_EQ(r->state(), "done");
    } else {
      EXPECT_TRUE(absl::IsAborted(r.status()) || absl::IsFailedPrecondition(r.status()))
          << r.status();
    }
  }
  EXPECT_EQ(ok, 1);
  // A refusal before the commit is answered at once.
  v1::ActRequest bad;
  bad.set_task_id("nope");
  bad.set_action("approve");
  Outcome refused;
  engine_->ActAsync(starter_, bad, [&](StatusOr<v1::Instance> r) { refused.Add(std::move(r)); });
  ASSERT_EQ(refused.results.size(), 1u);
  EXPECT_EQ(refused.results[0].status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, RunningInstancesStayOnTheirVersion) {
  v1::Instance old = Start("auto-publish");
  EXPECT_EQ(old.definition_version(), 1);
  // Version 2 sends approvals straight to the end, without disclosure.
  std::string v2 = kAutoDisclosure;
  const std::string from = "on: { approved: publish, returned: review }";
  v2.replace(v2.find(from), from.size(), "on: { approved: done, returned: publish }");
  auto deployed = engine_->Deploy(v2, "v2.yaml");
  ASSERT_TRUE(deployed.ok()) << deployed.status();
  EXPECT_EQ(deployed->definition().version(), 2);
  EXPECT_TRUE(deployed->created());
  v1::Instance fresh = Start("auto-publish");
  EXPECT_EQ(fresh.definition_version(), 2);

  Caller reviewer{"li", {"authority_reviewer"}, "906"};
  v1::ActRequest act;
  act.set_action("approve");
  act.set_task_id(old.open_tasks(0).id());
  auto a = engine_->Act(reviewer, act);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(engine_->Documents(old.id())->documents_size(), 1);  // v1 path: disclosure ran
  act.set_task_id(fresh.open_tasks(0).id());
  auto b = engine_->Act(reviewer, act);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->state(), "done");
  EXPECT_EQ(engine_->Documents(fresh.id())->documents_size(), 0);  // v2 path: none
  // Identical content deploys nothing new.
  auto again = engine_->Deploy(v2, "v2-again.yaml");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created());
  EXPECT_EQ(again->definition().version(), 2);
}

// A fiscal year's rules (alias fy2026): a start carrying that fiscal year
// runs on them after "current" has moved on to the next year's; a named
// version or alias still wins.
TEST_F(EngineTest, AFiscalYearsAliasKeepsItsRules) {
  std::string yearly = kAutoDisclosure;
  yearly.replace(yearly.find("key: auto-publish"), 17,
                 "key: yearly\nvariables: { fiscal_year: { type: number } }");
  ASSERT_TRUE(engine_->Deploy(yearly, "yearly.yaml").ok());  // v1, current
  Caller ops{"ops", {"performance_section"}, "czj"};
  v1::SetAliasRequest alias;
  alias.set_key("yearly");
  alias.set_alias("fy2026");
  alias.set_version(1);
  alias.set_reason("2026 年度规则");
  ASSERT_TRUE(engine_->SetAlias(ops, alias).ok());
  std::string next = yearly + "# 2027 规则\n";
  auto v2 = engine_->Deploy(next, "yearly.yaml");  // v2 becomes current
  ASSERT_TRUE(v2.ok()) << v2.status();
  ASSERT_EQ(v2->definition().version(), 2);

  auto start = [&](const std::string& vars, int version, const std::string& named) {
    v1::StartInstanceRequest req;
    req.set_definition_key("yearly");
    req.set_subject_ref("P-yearly");
    req.set_org("906017");
    req.set_definition_version(version);
    req.set_definition_alias(named);
    if (!vars.empty()) {
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(vars, req.mutable_variables()).ok());
    }
    auto inst = engine_->Start(starter_, req);
    EXPECT_TRUE(inst.ok()) << inst.status();
    return inst.ok() ? inst->definition_version() : -1;
  };
  EXPECT_EQ(start(R"({"fiscal_year": 2026})", 0, ""), 1);
  EXPECT_EQ(start(R"({"fiscal_year": 2027})", 0, ""), 2);  // no fy2027: current
  EXPECT_EQ(start("", 0, ""), 2);
  EXPECT_EQ(start(R"({"fiscal_year": 2026})", 0, "current"), 2);
  EXPECT_EQ(start(R"({"fiscal_year": 2026})", 2, ""), 2);
  EXPECT_EQ(start(R"({"fiscal_year": 2026.5})", 0, ""), 2);  // not a year: no alias
}

// Deploy inactive, activate, roll back, start through a named alias: new
// instances follow "current"; running ones stay where they started.
TEST_F(EngineTest, AliasesChooseTheVersionNewInstancesStartOn) {
  std::string v2 = kAutoDisclosure;
  const std::string from = "on: { approved: publish, returned: review }";
  v2.replace(v2.find(from), from.size(), "on: { approved: done, returned: publish }");
  auto staged = engine_->Deploy(v2, "v2.yaml", "ops", /*inactive=*/true);
  ASSERT_TRUE(staged.ok()) << staged.status();
  EXPECT_TRUE(staged->created());
  EXPECT_FALSE(staged->activated());
  EXPECT_EQ(staged->previous_current(), 1);
  EXPECT_EQ(Start("auto-publish").definition_version(), 1);  // still current

  Caller ops{"ops", {"performance_section"}, "czj"};
  v1::SetAliasRequest activate;
  activate.set_key("auto-publish");
  activate.set_version(2);
  activate.set_reason("2026 版");
  auto moved = engine_->SetAlias(ops, activate);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->previous_version(), 1);
  EXPECT_TRUE(moved->moved());
  EXPECT_EQ(moved->alias().alias(), "current");
  v1::Instance on_v2 = Start("auto-publish");
  EXPECT_EQ(on_v2.definition_version(), 2);

  activate.set_version(1);  // roll back
  ASSERT_TRUE(engine_->SetAlias(ops, activate).ok());
  EXPECT_EQ(Start("auto-publish").definition_version(), 1);
  // The instance started on v2 still runs v2's transitions.
  v1::ActRequest act;
  act.set_action("approve");
  act.set_task_id(on_v2.open_tasks(0).id());
  auto acted = engine_->Act({"li", {"authority_reviewer"}, "906"}, act);
  ASSERT_TRUE(acted.ok()) << acted.status();
  EXPECT_EQ(acted->state(), "done");

  // A named alias, and the refusals.
  activate.set_alias("pilot");
  activate.set_version(2);
  ASSERT_TRUE(engine_->SetAlias(ops, activate).ok());
  v1::StartInstanceRequest req;
  req.set_definition_key("auto-publish");
  req.set_definition_alias("pilot");
  req.set_subject_ref("P9");
  req.set_org("906017");
  auto piloted = engine_->Start(starter_, req);
  ASSERT_TRUE(piloted.ok()) << piloted.status();
  EXPECT_EQ(piloted->definition_version(), 2);
  req.set_definition_version(1);
  EXPECT_EQ(engine_->Start(starter_, req).status().message(),
            "definition_alias: give definition_version or definition_alias, not both");
  req.set_definition_version(0);
  req.set_definition_alias("nosuch");
  EXPECT_EQ(engine_->Start(starter_, req).status().code(), absl::StatusCode::kNotFound);
  activate.set_alias("Bad Name");
  EXPECT_EQ(engine_->SetAlias(ops, activate).status().code(),
            absl::StatusCode::kInvalidArgument);
  activate.set_alias("current");
  activate.set_version(9);
  EXPECT_EQ(engine_->SetAlias(ops, activate).status().code(), absl::StatusCode::kNotFound);

  auto listed = engine_->ListDefinitions("auto-publish");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->definitions_size(), 2);
  EXPECT_THAT(listed->definitions(0).aliases(), ::testing::ElementsAre("current"));
  EXPECT_THAT(listed->definitions(1).aliases(), ::testing::ElementsAre("pilot"));
  ASSERT_EQ(listed->alias_moves_size(), 4);  // deploy 1, activate 2, back to 1, pilot
  EXPECT_EQ(listed->alias_moves(1).reason(), "2026 版");
  EXPECT_EQ(listed->alias_moves(1).moved_by(), "ops");

  // Redeploying v2's content changes nothing (no undoing the rollback).
  auto again = engine_->Deploy(v2, "v2.yaml");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created());
  EXPECT_FALSE(again->activated());
  EXPECT_EQ(Start("auto-publish").definition_version(), 1);

  v1::DiffDefinitionsRequest diff;
  diff.set_key("auto-publish");
  diff.set_from_version(1);
  diff.set_to_version(2);
  auto d = engine_->Diff(diff);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->changes(), ::testing::ElementsAre(
                                "state review: on approved: publish -> done",
                                "state review: on returned: review -> publish"));
  EXPECT_THAT(d->unified_diff(), ::testing::HasSubstr("+    on: { approved: done, returned: publish }"));
  diff.set_to_version(5);
  EXPECT_EQ(engine_->Diff(diff).status().code(), absl::StatusCode::kNotFound);
}

// Migration by plan: a dry run lists who moves and who is refused; apply
// moves each instance in its own transaction, in batches, re-runnably.
TEST_F(EngineTest, MigrationByPlan) {
  v1::Instance a = Start("auto-publish"), b = Start("auto-publish");
  // v2 renames review to check (same stage and config).
  std::string v2 = kAutoDisclosure;
  for (size_t at; (at = v2.find("review:")) != std::string::npos;) v2.replace(at, 7, "check:");
  v2.replace(v2.find("returned: review"), 16, "returned: check");
  v2.replace(v2.find("initial: review"), 15, "initial: check");
  ASSERT_TRUE(engine_->Deploy(v2, "v2.yaml").ok());
  // v3 gives review to another role: open review tasks cannot move there.
  std::string v3 = kAutoDisclosure;
  v3.replace(v3.find("authority_reviewer"), 18, "finance_reviewer");
  ASSERT_TRUE(engine_->Deploy(v3, "v3.yaml", "ops", /*inactive=*/true).ok());

  Caller admin{"ops", {"workflow_admin"}, "czj"};
  v1::MigrateInstancesRequest req;
  req.mutable_plan()->set_key("auto-publish");
  req.mutable_plan()->set_from_version(1);
  req.mutable_plan()->set_to_version(2);
  req.set_dry_run(true);
  EXPECT_EQ(engine_->Migrate(starter_, req).status().code(), absl::StatusCode::kPermissionDenied);
  auto unmapped = engine_->Migrate(admin, req);
  ASSERT_TRUE(unmapped.ok()) << unmapped.status();
  EXPECT_EQ(unmapped->movable(), 0);
  ASSERT_EQ(unmapped->refused(), 2);
  EXPECT_EQ(unmapped->items(0).refused(),
            "state 'review' is not in v2 and the plan does not map it");

  (*req.mutable_plan()->mutable_state_map())["nosuch"] = "check";
  EXPECT_EQ(engine_->Migrate(admin, req).status().message(),
            "plan.state_map: 'nosuch' is not a state of auto-publish v1");
  req.mutable_plan()->mutable_state_map()->clear();
  (*req.mutable_plan()->mutable_state_map())["review"] = "check";
  auto dry = engine_->Migrate(admin, req);
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_EQ(dry->movable(), 2);
  EXPECT_EQ(dry->items(0).to_state(), "check");
  EXPECT_EQ(engine_->GetInstance(a.id())->definition_version(), 1);  // a dry run changes nothing

  req.set_dry_run(false);
  EXPECT_EQ(engine_->Migrate(admin, req).status().message(),
            "reason: migrating instances needs a reason");
  req.set_reason("2026 流程调整");
  req.set_batch_size(1);
  auto first = engine_->Migrate(admin, req);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->migrated(), 1);
  EXPECT_EQ(first->remaining(), 1);
  v1::Instance moved = *engine_->GetInstance(a.id());
  EXPECT_EQ(moved.definition_version(), 2);
  EXPECT_EQ(moved.state(), "check");
  ASSERT_EQ(moved.open_tasks_size(), 1);  // the step restarted in v2's state
  EXPECT_EQ(moved.open_tasks(0).state(), "check");
  EXPECT_NE(moved.open_tasks(0).id(), a.open_tasks(0).id());
  auto history = engine_->History(a.id());
  ASSERT_TRUE(history.ok());
  const v1::Event& last = *std::find_if(history->events().begin(), history->events().end(),
                                        [](const v1::Event& e) { return e.kind() == "migrated"; });
  EXPECT_EQ(last.from_state(), "review");
  EXPECT_EQ(last.to_state(), "check");
  EXPECT_EQ(last.comment(), "2026 流程调整");
  EXPECT_EQ(last.note(), "auto-publish v1 -> v2");
  // The moved instance runs on: its v2 task approves through v2's graph.
  v1::ActRequest act;
  act.set_action("approve");
  act.set_task_id(moved.open_tasks(0).id());
  auto acted = engine_->Act({"li", {"authority_reviewer"}, "906"}, act);
  ASSERT_TRUE(acted.ok()) << acted.status();
  EXPECT_EQ(acted->state(), "done");

  // Re-running picks up the rest, then finds nothing.
  auto second = engine_->Migrate(admin, req);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->migrated(), 1);
  EXPECT_EQ(second->remaining(), 0);
  EXPECT_EQ(engine_->Migrate(admin, req)->items_size(), 0);
  EXPECT_EQ(engine_->GetInstance(b.id())->definition_version(), 2);

  // v1 -> v3 (whose review step has another assignee): an open review task
  // cannot stay; mapping the state restarts the step instead.
  v1::StartInstanceRequest on_v1;
  on_v1.set_definition_key("auto-publish");
  on_v1.set_definition_version(1);
  on_v1.set_subject_ref("P3");
  on_v1.set_org("906017");
  auto d = engine_->Start(starter_, on_v1);
  ASSERT_TRUE(d.ok()) << d.status();
  req.mutable_plan()->set_to_version(3);
  req.mutable_plan()->mutable_state_map()->clear();
  auto refused = engine_->Migrate(admin, req);
  ASSERT_TRUE(refused.ok()) << refused.status();
  ASSERT_EQ(refused->items_size(), 1);
  EXPECT_EQ(refused->items(0).refused(),
            "has open tasks in 'review', which v3 runs with another stage or config: finish "
            "that step first, or map the state to restart it");
  EXPECT_EQ(refused->migrated(), 0);
  EXPECT_EQ(engine_->GetInstance(d->id())->definition_version(), 1);
}

// A preview runs the real engine on a scratch store: its steps are what a
// real run of the same inputs does, and it creates nothing.
TEST_F(EngineTest, PreviewMatchesARealRunAndCreatesNothing) {
  v1::PreviewRequest req;
  req.set_definition_key("auto-publish");
  req.set_org("906017");
  (*req.mutable_variables()->mutable_fields())["amount"].set_number_value(500000);
  req.add_actions()->set_action("approve");
  auto preview = engine_->Preview(starter_, req);
  ASSERT_TRUE(preview.ok()) << preview.status();
  EXPECT_EQ(preview->definition_version(), 1);
  EXPECT_EQ(preview->stopped(), "");
  ASSERT_EQ(preview->steps_size(), 2);
  v1::ListInstancesRequest all;
  EXPECT_EQ(engine_->ListInstances(all)->instances_size(), 0);  // nothing was created

  // The same inputs for real.
  v1::StartInstanceRequest start;
  start.set_definition_key("auto-publish");
  start.set_subject_ref("preview");
  start.set_org("906017");
  *start.mutable_variables() = req.variables();
  auto real = engine_->Start(starter_, start);
  ASSERT_TRUE(real.ok()) << real.status();
  const v1::PreviewStep& first = preview->steps(0);
  EXPECT_EQ(first.state(), real->state());
  ASSERT_EQ(first.open_tasks_size(), real->open_tasks_size());
  EXPECT_EQ(first.open_tasks(0).assignee_role(), real->open_tasks(0).assignee_role());
  EXPECT_EQ(first.open_tasks(0).assignee_role(), "authority_reviewer");
  EXPECT_EQ(first.open_tasks(0).assignee_user(), real->open_tasks(0).assignee_user());
  EXPECT_EQ(first.open_tasks(0).assignee_org(), real->open_tasks(0).assignee_org());
  v1::ActRequest act;
  act.set_action("approve");
  act.set_task_id(real->open_tasks(0).id());
  auto acted = engine_->Act({"li", {"authority_reviewer"}, "906"}, act);
  ASSERT_TRUE(acted.ok()) << acted.status();
  const v1::PreviewStep& second = preview->steps(1);
  EXPECT_EQ(second.action(), "approve");
  EXPECT_EQ(second.state(), acted->state());
  EXPECT_EQ(second.status(), acted->status());
  EXPECT_EQ(second.state(), "done");

  // An action no task offers stops the preview, saying why.
  req.add_actions()->set_action("approve");
  auto stopped = engine_->Preview(starter_, req);
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->steps_size(), 2);
  EXPECT_EQ(stopped->stopped(), "no open task offers 'approve' in state 'done'");
  req.clear_org();
  EXPECT_EQ(engine_->Preview(starter_, req).status().message(),
            "org: is required (the owning unit)");
}

TEST_F(EngineTest, PagingThroughInstances) {
  for (int i = 0; i < 5; ++i) Start("auto-publish");
  v1::ListInstancesRequest req;
  req.set_page_size(2);
  std::set<std::string> seen;
  int pages = 0;
  while (true) {
    auto page = engine_->ListInstances(req);
    ASSERT_TRUE(page.ok()) << page.status();
    ++pages;
    for (const auto& i : page->instances()) seen.insert(i.id());
    if (page->next_page_token().empty()) break;
    req.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(pages, 3);
  req.set_page_token("garbage");
  EXPECT_EQ(engine_->ListInstances(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.set_page_token("");
  req.set_page_size(501);
  EXPECT_EQ(engine_->ListInstances(req).status().message(), "page_size: must be between 0 and 500");
}

}  // namespace
}  // namespace bpm::engine
