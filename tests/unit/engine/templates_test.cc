// Templates across levels and declared variables, through the engine: a real
// SQLite store, the real plugins. A province template and a county definition
// built on it (examples/templates/); the template's new versions flow down to
// the definitions that follow it, not to pinned ones; a definition the new
// template version no longer admits stays where it was, with the reason; a
// restart compiles each stored version on the template version it was built
// on; a template cannot be started; start variables are checked against the
// declarations.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/common/clock.h"
#include "core/engine/engine.h"
#include "tests/support/test_env.h"

namespace bpm::engine {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

class TemplatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.LoadDirectory(testing::PluginDir()).ok());
    Open();
    auto province = engine_->Deploy(Province(), "province.yaml", "province-ops");
    ASSERT_TRUE(province.ok()) << province.status();
    auto county = engine_->Deploy(County(), "county.yaml", "county-ops");
    ASSERT_TRUE(county.ok()) << county.status();
    EXPECT_EQ(county->definition().extends(), "province-project-target");
    EXPECT_EQ(county->definition().extends_version(), 1);
  }

  void Open() {
    engine_.reset();
    store_.reset();
    auto store = store::Store::Open("sqlite:" + dir_.path() + "/engine.db", 4);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    engine_ = std::make_unique<Engine>(*store_, registry_, clock_);
  }

  static std::string Province() {
    return testing::ReadFile(testing::SourceDir() +
                             "/examples/templates/province-project-target.yaml");
  }
  static std::string County() {
    return testing::ReadFile(testing::SourceDir() +
                             "/examples/templates/county-project-target.yaml");
  }
  static std::string Replace(std::string text, const std::string& from, const std::string& to) {
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return text;
  }

  StatusOr<v1::Instance> Start(const std::string& key, const std::string& grade = "") {
    v1::StartInstanceRequest req;
    req.set_definition_key(key);
    req.set_subject_ref("P1");
    req.set_org("906017");
    if (!grade.empty()) (*req.mutable_variables()->mutable_fields())["grade"].set_string_value(grade);
    return engine_->Start(starter_, req);
  }

  int64_t Current(const std::string& key) {
    auto def = engine_->GetDefinition(key, 0, "current");
    EXPECT_TRUE(def.ok()) << def.status();
    return def.ok() ? def->definition().version() : 0;
  }

  testing::TempDir dir_;
  plugin::Registry registry_;
  std::unique_ptr<store::Store> store_;
  FakeClock clock_{1'767'225'600'000};  // 2026-01-01
  std::unique_ptr<Engine> engine_;
  Caller starter_{"zhang", {"unit_filer"}, "906017"};
};

TEST_F(TemplatesTest, ATemplateIsNotStartedButWhatExtendsItIs) {
  auto province = Start("province-project-target");
  ASSERT_FALSE(province.ok());
  EXPECT_EQ(province.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(province.status().message(), HasSubstr("is a template"));
  auto county = Start("county-project-target");
  ASSERT_TRUE(county.ok()) << county.status();
  EXPECT_EQ(county->state(), "draft");
}

TEST_F(TemplatesTest, StartVariablesAreCheckedAgainstTheDeclarations) {
  auto typo = Start("county-project-target", "中等");
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(typo.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(typo.status().message(),
            "variables.grade: '中等' is not one of workflow county-project-target's values: "
            "优, 良, 中, 差");
  v1::StartInstanceRequest req;
  req.set_definition_key("county-project-target");
  req.set_subject_ref("P2");
  req.set_org("906017");
  (*req.mutable_variables()->mutable_fields())["grade"].set_number_value(3);
  auto number = engine_->Start(starter_, req);
  ASSERT_FALSE(number.ok());
  EXPECT_EQ(number.status().message(),
            "variables.grade: workflow county-project-target declares it string, not 3");
  EXPECT_TRUE(Start("county-project-target", "良").ok());
}

TEST_F(TemplatesTest, ANewTemplateVersionFlowsDownToWhatFollowsIt) {
  // A county that pinned version 1 of the template.
  auto pinned = engine_->Deploy(R"(key: county-pinned
extends: { key: province-project-target, version: 1 }
)", "pinned.yaml");
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  ASSERT_TRUE(Start("county-project-target").ok());  // an instance on county v1

  // The province shortens rectification to 20 days.
  auto v2 = engine_->Deploy(Replace(Province(), "due_days: 30", "due_days: 20"),
                            "province.yaml", "province-ops");
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->definition().version(), 2);
  ASSERT_EQ(v2->derived_size(), 1);  // the pinned one is left alone
  EXPECT_EQ(v2->derived(0).key(), "county-project-target");
  EXPECT_EQ(v2->derived(0).previous_version(), 1);
  EXPECT_EQ(v2->derived(0).version(), 2);
  EXPECT_EQ(v2->derived(0).error(), "");
  EXPECT_EQ(Current("county-project-target"), 2);
  EXPECT_EQ(Current("county-pinned"), 1);
  v1::DiffDefinitionsRequest diff;
  diff.set_key("county-project-target");
  diff.set_from_version(1);
  diff.set_to_version(2);
  auto changes = engine_->Diff(diff);
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_THAT(changes->changes(), Contains("extends: province-project-target v1 -> "
                                           "province-project-target v2"));
  EXPECT_THAT(changes->changes(), Contains("state rectification: config due_days: 30 -> 20"));

  // Version 3 locks the review chain the county changes: the county stays.
  auto v3 = engine_->Deploy(
      Replace(Province(), "  - states.review.config.chain                 # review levels\n", ""),
      "province.yaml", "province-ops");
  ASSERT_TRUE(v3.ok()) << v3.status();
  ASSERT_EQ(v3->derived_size(), 1);
  EXPECT_EQ(v3->derived(0).version(), 0);
  EXPECT_THAT(v3->derived(0).error(),
              HasSubstr("'states.review.config.chain' is locked by template "
                        "province-project-target v3"));
  EXPECT_EQ(Current("county-project-target"), 2);

  // Rolling the province back to version 1 takes the county back to its
  // build on version 1.
  v1::SetAliasRequest back;
  back.set_key("province-project-target");
  back.set_version(1);
  back.set_reason("v2/v3 withdrawn");
  auto moved = engine_->SetAlias(Caller{"province-ops", {}, ""}, back);
  ASSERT_TRUE(moved.ok()) << moved.status();
  ASSERT_EQ(moved->derived_size(), 1);
  EXPECT_EQ(moved->derived(0).version(), 1);
  EXPECT_EQ(Current("county-project-target"), 1);

  // After a restart every stored version compiles on its own template
  // version, whatever "current" says now.
  Open();
  auto after = engine_->Diff(diff);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_THAT(after->changes(), ::testing::ElementsAreArray(changes->changes()));
  auto on_v1 = Start("county-project-target");
  ASSERT_TRUE(on_v1.ok()) << on_v1.status();
  EXPECT_EQ(on_v1->definition_version(), 1);
}

TEST_F(TemplatesTest, ValidateNeedsTheTemplateOnTheServer) {
  auto ok = engine_->Validate(County(), "county.yaml");
  EXPECT_TRUE(ok.valid());
  auto locked = engine_->Validate("key: c\nextends: province-project-target\ninitial: review\n",
                                  "c.yaml");
  ASSERT_FALSE(locked.valid());
  ASSERT_EQ(locked.diagnostics_size(), 1);
  EXPECT_EQ(locked.diagnostics(0).line(), 3);
  EXPECT_EQ(locked.diagnostics(0).column(), 10);
  EXPECT_THAT(locked.diagnostics(0).message(), HasSubstr("'initial' is locked"));
  EXPECT_THAT(locked.diagnostics(0).hint(), HasSubstr("lets a definition change"));
}

}  // namespace
}  // namespace bpm::engine
