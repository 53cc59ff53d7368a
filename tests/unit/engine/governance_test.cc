// Governance of definition changes (EngineOptions::definition_approval), in
// process with a real SQLite store and the real plugins: a person's deploy or
// move of "current" waits for a second workflow_admin's approval, run as an
// instance of bpm-definition-change; the requester cannot approve it; a
// return leaves everything as it was; the approval moves the alias in the
// commit that completes the request (and rebuilds what follows a template).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/common/clock.h"
#include "core/engine/engine.h"
#include "tests/support/test_env.h"

namespace bpm::engine {
namespace {

using ::testing::HasSubstr;

const char* kFlow = R"(
key: flow
initial: review
states:
  review:
    stage: review
    config: { assignee: { role: authority_reviewer } }
    on: { approved: done, returned: review }
  done: { final: true }
)";

class GovernanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.LoadDirectory(testing::PluginDir()).ok());
    auto store = store::Store::Open("sqlite:" + dir_.path() + "/engine.db", 4);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    EngineOptions options;
    options.definition_approval = true;
    engine_ = std::make_unique<Engine>(*store_, registry_, clock_, options);
    ASSERT_TRUE(engine_->StartGovernance().ok());
  }

  // The open approval task of change request `id`.
  std::string TaskOf(const std::string& id) {
    auto inst = engine_->GetInstance(id);
    EXPECT_TRUE(inst.ok()) << inst.status();
    if (!inst.ok() || inst->open_tasks_size() != 1) return "";
    EXPECT_EQ(inst->open_tasks(0).assignee_role(), "workflow_admin");
    return inst->open_tasks(0).id();
  }

  StatusOr<v1::Instance> Decide(const Caller& who, const std::string& request,
                                const std::string& action, const std::string& comment = "") {
    v1::ActRequest act;
    act.set_task_id(TaskOf(request));
    act.set_action(action);
    act.set_comment(comment);
    return engine_->Act(who, act);
  }

  int64_t Current(const std::string& key) {
    auto v = store_->ResolveDefinitionVersion(key, "current");
    return v.ok() ? *v : 0;
  }

  StatusOr<v1::Instance> Start(const std::string& key) {
    v1::StartInstanceRequest req;
    req.set_definition_key(key);
    req.set_subject_ref("P1");
    req.set_org("906017");
    return engine_->Start(Caller{"zhang", {"unit_filer"}, "906017"}, req);
  }

  testing::TempDir dir_;
  plugin::Registry registry_;
  std::unique_ptr<store::Store> store_;
  FakeClock clock_{1'767'225'600'000};  // 2026-01-01
  std::unique_ptr<Engine> engine_;
  const Caller alice_{"alice", {"workflow_admin"}, "czj"};
  const Caller bob_{"bob", {"workflow_admin"}, "czj"};
};

TEST_F(GovernanceTest, ADeployWaitsForASecondPerson) {
  auto deployed = engine_->Deploy(kFlow, "flow.yaml", "alice", false, /*governed=*/true);
  ASSERT_TRUE(deployed.ok()) << deployed.status();
  EXPECT_TRUE(deployed->created());
  EXPECT_FALSE(deployed->activated());
  const std::string request = deployed->approval_instance_id();
  ASSERT_FALSE(request.empty());
  EXPECT_EQ(Current("flow"), 0);
  auto early = Start("flow");
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(early.status().message(), HasSubstr("no approved current version"));

  // The requester cannot approve their own change.
  auto own = Decide(alice_, request, "approve");
  ASSERT_FALSE(own.ok());
  EXPECT_EQ(own.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Current("flow"), 0);

  auto approved = Decide(bob_, request, "approve");
  ASSERT_TRUE(approved.ok()) << approved.status();
  EXPECT_EQ(approved->state(), "approved");
  EXPECT_EQ(Current("flow"), 1);
  auto moves = store_->ListAliasMoves("flow");
  ASSERT_TRUE(moves.ok());
  ASSERT_EQ(moves->size(), 1u);
  EXPECT_EQ(moves->at(0).moved_by, "bob");
  EXPECT_THAT(moves->at(0).reason,
              HasSubstr("approved in " + request + " (deploy requested by alice"));
  EXPECT_TRUE(Start("flow").ok());

  // Deploys that are not a person's (a server's start-up directory) are not held.
  std::string v2 = kFlow;
  v2 += "# v2\n";
  auto startup = engine_->Deploy(v2, "flow.yaml", "system");
  ASSERT_TRUE(startup.ok());
  EXPECT_TRUE(startup->activated());
  EXPECT_EQ(startup->approval_instance_id(), "");
  EXPECT_EQ(Current("flow"), 2);
}

TEST_F(GovernanceTest, MovingCurrentIsARequestTooAndAReturnChangesNothing) {
  ASSERT_TRUE(engine_->Deploy(kFlow, "flow.yaml").ok());  // v1, current
  std::string v2 = std::string(kFlow) + "# v2\n";
  auto held = engine_->Deploy(v2, "flow.yaml", "alice", false, true);
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(Decide(bob_, held->approval_instance_id(), "approve").ok());
  EXPECT_EQ(Current("flow"), 2);

  v1::SetAliasRequest back;
  back.set_key("flow");
  back.set_version(1);
  back.set_reason("县里反馈");
  auto rollback = engine_->SetAlias(alice_, back);
  ASSERT_TRUE(rollback.ok()) << rollback.status();
  EXPECT_FALSE(rollback->moved());
  EXPECT_EQ(rollback->alias().version(), 2);
  ASSERT_FALSE(rollback->approval_instance_id().empty());
  EXPECT_EQ(Current("flow"), 2);

  auto returned = Decide(bob_, rollback->approval_instance_id(), "return", "先别回退");
  ASSERT_TRUE(returned.ok()) << returned.status();
  EXPECT_EQ(returned->state(), "rejected");
  EXPECT_EQ(Current("flow"), 2);

  // A fiscal year's alias is what starts run on by default: governed too.
  back.set_alias("fy2026");
  auto yearly = engine_->SetAlias(alice_, back);
  ASSERT_TRUE(yearly.ok()) << yearly.status();
  EXPECT_FALSE(yearly->moved());
  ASSERT_FALSE(yearly->approval_instance_id().empty());
  ASSERT_TRUE(Decide(bob_, yearly->approval_instance_id(), "approve").ok());
  EXPECT_EQ(engine_->ListDefinitions("flow")->definitions(0).aliases(0), "fy2026");
  EXPECT_EQ(Current("flow"), 2);

  // Other aliases are not governed.
  back.set_alias("pilot");
  auto pilot = engine_->SetAlias(alice_, back);
  ASSERT_TRUE(pilot.ok());
  EXPECT_TRUE(pilot->moved());
  EXPECT_EQ(pilot->approval_instance_id(), "");
}

TEST_F(GovernanceTest, ApprovingATemplateRebuildsWhatFollowsIt) {
  const std::string examples = testing::SourceDir() + "/examples/templates/";
  std::string province = testing::ReadFile(examples + "province-project-target.yaml");
  ASSERT_TRUE(engine_->Deploy(province, "p.yaml").ok());
  ASSERT_TRUE(
      engine_->Deploy(testing::ReadFile(examples + "county-project-target.yaml"), "c.yaml").ok());
  province.replace(province.find("due_days: 30"), 12, "due_days: 20");
  auto held = engine_->Deploy(province, "p.yaml", "alice", false, true);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(held->derived_size(), 0);  // nothing rebuilt before the approval
  EXPECT_EQ(Current("county-project-target"), 1);
  ASSERT_TRUE(Decide(bob_, held->approval_instance_id(), "approve").ok());
  EXPECT_EQ(Current("province-project-target"), 2);
  EXPECT_EQ(Current("county-project-target"), 2);
}

}  // namespace
}  // namespace bpm::engine
