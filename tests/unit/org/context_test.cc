// ResolveOrgContext over a real store (SQLite, or MariaDB under label mysql).
#include "core/org/context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/org/dates.h"
#include "core/store/store.h"
#include "tests/support/test_env.h"

namespace bpm::org {
namespace {

using store::OrgRow;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

int64_t Day(const char* date) {
  auto ms = ParseChinaDate(date);
  EXPECT_TRUE(ms.has_value()) << date;
  return ms.value_or(0);
}

// "org/role:user,user" per RoleMembers, in order.
std::vector<std::string> Members(const plugin::v1::OrgContext& ctx) {
  std::vector<std::string> out;
  for (const auto& m : ctx.members()) {
    out.push_back(absl::StrCat(m.org(), "/", m.role(), ":", absl::StrJoin(m.users(), ",")));
  }
  return out;
}

std::vector<std::string> Ancestors(const plugin::v1::OrgContext& ctx) {
  std::vector<std::string> out;
  for (const auto& a : ctx.ancestors()) out.push_back(a.code());
  return out;
}

class ContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::Store::Open(testing::FreshStoreUrl(dir_.path(), "ctx"), 2);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
    orgs_ = &store_->orgs();
    Put(store::RegionRow{"360000000", "江西省", "", "province"});
    Put(store::RegionRow{"360700000", "赣州市", "360000000", "city"});
    Put(store::RegionRow{"360726000", "安远县", "360700000", "county"});
    Put(store::RegionRow{"360702000", "章贡区", "360700000", "county"});
    const int64_t jan = Day("2026-01-01");
    Put(Org("czj", "安远县财政局", "finance_bureau", "", jan));
    Put(Section("czj-jkw", "教科文股", "business"));
    Put(Section("czj-sb", "社会保障股", "business"));
    Put(Section("czj-jx", "绩效管理股", "performance"));
    Put(Section("czj-ld", "局领导", "leadership"));
    Put(Dept("906", "安远县教育局", "czj-jkw"));
    Put(Dept("907", "安远县卫生健康委员会", "czj-sb"));
    Put(Org("906030", "欣山镇中心学校", "unit", "906", jan));
    Put(Org("906030001", "欣山镇东门小学", "unit", "906030", jan));
    // 老龄中心 moves from 民政 (here: 906) to 卫健委 907 on 1 July.
    Put(Org("902004", "老龄工作服务中心", "unit", "906", jan));
    Put(Org("902004", "老龄工作服务中心", "unit", "907", Day("2026-07-01")));
    for (const char* u :
         {"guo", "fang", "li", "huang", "wang", "sun", "he", "zhao", "an", "wu", "liu", "yang"}) {
      ASSERT_TRUE(orgs_->PutUser({u, u}).ok());
    }
    Grant("guo", "unit_filer", "906030001", jan);
    Grant("fang", "dept_reviewer", "906030", jan);
    Grant("li", "dept_reviewer", "906", jan);
    Grant("huang", "dept_reviewer", "907", jan);
    Grant("wang", "section_reviewer", "czj-jkw", jan);
    Grant("sun", "section_head", "czj-jkw", jan);
    Grant("he", "section_reviewer", "czj-sb", jan);
    Grant("zhao", "perf_reviewer", "czj-jx", jan);
    Grant("an", "perf_reviewer", "czj-jx", jan);
    Grant("wu", "leader", "czj-ld", jan);
    // 902004's filer changes on 1 September.
    Grant("liu", "unit_filer", "902004", jan, Day("2026-09-01"));
    Grant("yang", "unit_filer", "902004", Day("2026-09-01"));
  }

  static OrgRow Org(const std::string& code, const std::string& name, const std::string& kind,
                    const std::string& parent, int64_t from) {
    OrgRow r;
    r.code = code;
    r.name = name;
    r.kind = kind;
    r.parent_code = parent;
    r.region_code = "360726000";
    r.valid_from_ms = from;
    return r;
  }
  static OrgRow Section(const std::string& code, const std::string& name, const std::string& sk) {
    OrgRow r = Org(code, name, "finance_section", "czj", Day("2026-01-01"));
    r.section_kind = sk;
    return r;
  }
  static OrgRow Dept(const std::string& code, const std::string& name, const std::string& owner) {
    OrgRow r = Org(code, name, "department", "", Day("2026-01-01"));
    r.owner_section = owner;
    return r;
  }
  void Put(const store::RegionRow& r) {
    Status s = orgs_->PutRegion(r);
    ASSERT_TRUE(s.ok()) << s;
  }
  void Put(const OrgRow& r) {
    Status s = orgs_->PutOrg(r);
    ASSERT_TRUE(s.ok()) << s;
  }
  void Grant(const std::string& user, const std::string& role, const std::string& org, int64_t from,
             int64_t to = 0) {
    Status s = orgs_->Grant({user, role, org, from, to});
    ASSERT_TRUE(s.ok()) << s;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  store::OrgStore* orgs_ = nullptr;
};

TEST_F(ContextTest, SubUnitHasTwoCompetentLevels) {
  const int64_t at = Day("2026-03-15");
  auto ctx = ResolveOrgContext(*orgs_, "906030001", at);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_EQ(ctx->unit().code(), "906030001");
  EXPECT_EQ(ctx->unit().name(), "欣山镇东门小学");
  EXPECT_EQ(ctx->unit().kind(), "unit");
  EXPECT_EQ(ctx->unit().region(), "360726000");
  EXPECT_THAT(Ancestors(*ctx), ElementsAre("906030", "906"));
  EXPECT_EQ(ctx->ancestors(1).kind(), "department");
  EXPECT_EQ(ctx->owning_section().code(), "czj-jkw");
  EXPECT_EQ(ctx->owning_section().section_kind(), "business");
  EXPECT_EQ(ctx->performance_section().code(), "czj-jx");
  EXPECT_EQ(ctx->performance_section().section_kind(), "performance");
  EXPECT_EQ(ctx->leadership().code(), "czj-ld");
  EXPECT_EQ(ctx->as_of_unix_ms(), at);
  // Orgs from the unit up, then the sections; roles sorted; users sorted.
  EXPECT_THAT(Members(*ctx), ElementsAre("906030001/unit_filer:guo", "906030/dept_reviewer:fang",
                                         "906/dept_reviewer:li", "czj-jkw/section_head:sun",
                                         "czj-jkw/section_reviewer:wang",
                                         "czj-jx/perf_reviewer:an,zhao", "czj-ld/leader:wu"));
}

TEST_F(ContextTest, MovedUnitResolvesByDate) {
  auto june = ResolveOrgContext(*orgs_, "902004", Day("2026-07-01") - 1);
  ASSERT_TRUE(june.ok()) << june.status();
  EXPECT_THAT(Ancestors(*june), ElementsAre("906"));
  EXPECT_EQ(june->owning_section().code(), "czj-jkw");
  EXPECT_THAT(Members(*june),
              ElementsAre("902004/unit_filer:liu", "906/dept_reviewer:li",
                          "czj-jkw/section_head:sun", "czj-jkw/section_reviewer:wang",
                          "czj-jx/perf_reviewer:an,zhao", "czj-ld/leader:wu"));
  auto july = ResolveOrgContext(*orgs_, "902004", Day("2026-07-01"));
  ASSERT_TRUE(july.ok()) << july.status();
  EXPECT_THAT(Ancestors(*july), ElementsAre("907"));
  EXPECT_EQ(july->owning_section().code(), "czj-sb");
  EXPECT_EQ(july->owning_section().name(), "社会保障股");
  EXPECT_THAT(Members(*july), ElementsAre("902004/unit_filer:liu", "907/dept_reviewer:huang",
                                          "czj-sb/section_reviewer:he",
                                          "czj-jx/perf_reviewer:an,zhao", "czj-ld/leader:wu"));
}

TEST_F(ContextTest, GrantWithAnEndDate) {
  auto before = ResolveOrgContext(*orgs_, "902004", Day("2026-09-01") - 1);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(Members(*before).front(), "902004/unit_filer:liu");
  auto after = ResolveOrgContext(*orgs_, "902004", Day("2026-09-01"));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(Members(*after).front(), "902004/unit_filer:yang");
  // Revoking ends a grant the same way.
  ASSERT_TRUE(orgs_->Revoke("yang", "unit_filer", "902004", Day("2026-10-01")).ok());
  auto revoked = ResolveOrgContext(*orgs_, "902004", Day("2026-10-01"));
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(Members(*revoked).front(), "907/dept_reviewer:huang");
}

TEST_F(ContextTest, DepartmentItself) {
  auto ctx = ResolveOrgContext(*orgs_, "906", Day("2026-03-01"));
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_EQ(ctx->unit().code(), "906");
  EXPECT_THAT(Ancestors(*ctx), IsEmpty());
  EXPECT_EQ(ctx->owning_section().code(), "czj-jkw");
  EXPECT_EQ(ctx->performance_section().code(), "czj-jx");
}

TEST_F(ContextTest, UnknownOrNotYetExistingOrgIsNotFound) {
  auto unknown = ResolveOrgContext(*orgs_, "999999", Day("2026-03-01"));
  EXPECT_TRUE(absl::IsNotFound(unknown.status())) << unknown.status();
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("999999"));
  auto early = ResolveOrgContext(*orgs_, "906030001", Day("2026-01-01") - 1);
  EXPECT_TRUE(absl::IsNotFound(early.status())) << early.status();
  OrgRow gone;
  gone.code = "906030001";
  gone.active = false;
  gone.valid_from_ms = Day("2026-10-01");
  Put(gone);
  EXPECT_TRUE(absl::IsNotFound(ResolveOrgContext(*orgs_, "906030001", Day("2026-10-01")).status()));
  EXPECT_TRUE(ResolveOrgContext(*orgs_, "906030001", Day("2026-09-30")).ok());
}

TEST_F(ContextTest, RegionWithoutFinanceBureauLeavesSectionsEmpty) {
  OrgRow dept = Dept("801", "章贡区某局", "czj-jkw");
  dept.region_code = "360702000";
  Put(dept);
  OrgRow unit = Org("801001", "章贡区某单位", "unit", "801", Day("2026-01-01"));
  unit.region_code = "360702000";
  Put(unit);
  auto ctx = ResolveOrgContext(*orgs_, "801001", Day("2026-03-01"));
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_THAT(Ancestors(*ctx), ElementsAre("801"));
  EXPECT_EQ(ctx->owning_section().code(), "czj-jkw");
  EXPECT_FALSE(ctx->has_performance_section());
  EXPECT_FALSE(ctx->has_leadership());
}

TEST_F(ContextTest, DissolvedParentIsAnInconsistency) {
  OrgRow gone;
  gone.code = "906030";
  gone.active = false;
  gone.valid_from_ms = Day("2026-10-01");
  Put(gone);
  auto ctx = ResolveOrgContext(*orgs_, "906030001", Day("2026-10-01"));
  EXPECT_TRUE(absl::IsFailedPrecondition(ctx.status())) << ctx.status();
  EXPECT_THAT(std::string(ctx.status().message()),
              HasSubstr("parent 906030 of 906030001 does not exist as of 2026-10-01"));
}

// OrgContextCache answers from memory, sees this process's writes at once,
// and re-resolves after its TTL or for an earlier time.
TEST_F(ContextTest, CacheSeesWritesAndExpires) {
  OrgContextCache cache(*orgs_, /*ttl_ms=*/1000);
  const int64_t at = Day("2026-03-01");
  auto first = cache.Resolve("906030001", at);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(Members(*first), ::testing::Contains("906030001/unit_filer:guo"));
  auto again = cache.Resolve("906030001", at + 500);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->as_of_unix_ms(), at + 500);  // as of the time asked for

  Grant("wang", "unit_filer", "906030001", Day("2026-02-01"));  // a write: generation moves
  auto after_write = cache.Resolve("906030001", at + 600);
  ASSERT_TRUE(after_write.ok());
  EXPECT_THAT(Members(*after_write), ::testing::Contains("906030001/unit_filer:guo,wang"));

  // Unknown orgs are remembered too, but not past a write.
  EXPECT_TRUE(absl::IsNotFound(cache.Resolve("999999", at).status()));
  Put(Org("999999", "新设单位", "unit", "906", Day("2026-01-01")));
  EXPECT_TRUE(cache.Resolve("999999", at).ok());

  // An earlier time, or one past the TTL, is resolved again (the 902004
  // filer changes on 1 September).
  auto aug = cache.Resolve("902004", Day("2026-08-31"));
  ASSERT_TRUE(aug.ok());
  EXPECT_THAT(Members(*aug), ::testing::Contains("902004/unit_filer:liu"));
  auto sep = cache.Resolve("902004", Day("2026-09-01"));
  ASSERT_TRUE(sep.ok());
  EXPECT_THAT(Members(*sep), ::testing::Contains("902004/unit_filer:yang"));
  auto back = cache.Resolve("902004", Day("2026-08-31"));
  ASSERT_TRUE(back.ok());
  EXPECT_THAT(Members(*back), ::testing::Contains("902004/unit_filer:liu"));
}

}  // namespace
}  // namespace bpm::org
