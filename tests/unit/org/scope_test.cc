// bpm::org::Scope over the county model of examples/county-org.yaml (安远县),
// on a real store (SQLite, or MariaDB as org_scope_mysql).
#include "core/org/scope.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/common/clock.h"
#include "core/org/dates.h"
#include "core/org/import.h"
#include "core/store/store.h"
#include "tests/support/test_env.h"

namespace bpm::org {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class ScopeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::Store::Open(testing::FreshStoreUrl(dir_.path(), "scope"), 2);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
    ImportOptions options;
    options.format = ImportFormat::kYaml;
    options.source_name = "county-org.yaml";
    options.now_ms = clock_.NowMillis();
    auto report = ImportOrgFile(
        store_->orgs(), testing::ReadFile(testing::SourceDir() + "/examples/county-org.yaml"),
        options);
    ASSERT_TRUE(report.ok()) << report.status();
    scope_ = std::make_unique<Scope>(&store_->orgs(), clock_);
  }

  bool Covers(const std::string& caller, const std::string& target) {
    auto covered = scope_->Covers(caller, target);
    EXPECT_TRUE(covered.ok()) << covered.status();
    return covered.value_or(false);
  }

  testing::TempDir dir_;
  FakeClock clock_{*ParseChinaDate("2026-03-02")};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Scope> scope_;
};

TEST_F(ScopeTest, AUnitSeesItselfAndWhatIsBelowIt) {
  EXPECT_TRUE(Covers("906017", "906017"));
  EXPECT_FALSE(Covers("906017", "906018"));  // a sibling unit
  EXPECT_FALSE(Covers("906017", "906"));     // its department
  EXPECT_TRUE(Covers("906030", "906030001"));  // a sub-unit (parent link and code)
  EXPECT_FALSE(Covers("906030001", "906030"));
}

TEST_F(ScopeTest, ADepartmentSeesItsUnitsAtAnyDepth) {
  EXPECT_TRUE(Covers("906", "906017"));
  EXPECT_TRUE(Covers("906", "906030001"));
  EXPECT_TRUE(Covers("905", "905002001"));
  EXPECT_FALSE(Covers("906", "907002"));
  EXPECT_FALSE(Covers("906", "czj"));
}

TEST_F(ScopeTest, ABusinessSectionSeesTheDepartmentsItOwns) {
  EXPECT_TRUE(Covers("czj-jkw", "906"));  // 教科文股 owns 教育局
  EXPECT_TRUE(Covers("czj-jkw", "906030001"));
  EXPECT_FALSE(Covers("czj-jkw", "907001"));
  EXPECT_TRUE(Covers("czj-sb", "907001"));   // 社会保障股 owns 卫健委 and 民政局
  EXPECT_TRUE(Covers("czj-sb", "902001"));
  EXPECT_FALSE(Covers("czj-sb", "906017"));
  EXPECT_FALSE(Covers("czj-jkw", "czj-sb"));  // not the other sections
}

TEST_F(ScopeTest, ThePerformanceSectionAndTheBureauSeeTheRegion) {
  for (const char* caller : {"czj-jx", "czj-ld", "czj"}) {
    EXPECT_TRUE(Covers(caller, "906017")) << caller;
    EXPECT_TRUE(Covers(caller, "905002001")) << caller;
    EXPECT_TRUE(Covers(caller, "901")) << caller;
    EXPECT_FALSE(Covers(caller, "999999")) << caller;  // not in the model
  }
}

TEST_F(ScopeTest, UnknownAndEmptyOrgsSeeOnlyTheCodeRule) {
  EXPECT_FALSE(Covers("", "906017"));
  EXPECT_FALSE(Covers("906017", ""));
  EXPECT_TRUE(Covers("888", "888001"));  // not in the model: the budget-code rule
  EXPECT_FALSE(Covers("888", "906017"));
  EXPECT_FALSE(Covers("czj-nope", "906017"));
  Scope no_model(nullptr, clock_);
  EXPECT_TRUE(*no_model.Covers("906", "906017"));
  EXPECT_FALSE(*no_model.Covers("czj", "906017"));
  EXPECT_EQ(*no_model.KindOf("czj"), "");
}

TEST_F(ScopeTest, WithinListsTheScopeForAListFilter) {
  auto set = scope_->Within("czj-jkw");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->prefix, "czj-jkw");
  EXPECT_THAT(set->codes, ElementsAre("906", "906001", "906017", "906018", "906030", "906030001"));
  set = scope_->Within("906");
  ASSERT_TRUE(set.ok());
  EXPECT_THAT(set->codes, IsEmpty());  // all start with "906": the prefix says it
  set = scope_->Within("");
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->prefix, "");
  EXPECT_THAT(set->codes, IsEmpty());
}

TEST_F(ScopeTest, AnOrgChangeIsSeenAtOnce) {
  EXPECT_FALSE(Covers("czj-sb", "906018"));
  store::OrgRow moved;
  moved.code = "906018";
  moved.name = "安远县实验小学";
  moved.kind = "unit";
  moved.parent_code = "907";
  moved.region_code = "360726000";
  moved.valid_from_ms = clock_.NowMillis() - 1000;
  Status put = store_->orgs().PutOrg(moved);
  ASSERT_TRUE(put.ok()) << put;
  EXPECT_TRUE(Covers("czj-sb", "906018"));
  EXPECT_FALSE(Covers("czj-jkw", "906018"));
  EXPECT_EQ(*scope_->KindOf("czj-sb"), "finance_section");
}

}  // namespace
}  // namespace bpm::org
