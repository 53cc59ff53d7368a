// Conformance suite of OrgStore: ctest runs it on SQLite (label unit) and on
// the private MariaDB (label mysql), selected by BPM_TEST_BACKEND.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/org/dates.h"
#include "core/store/store.h"
#include "tests/support/test_env.h"

namespace bpm::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

int64_t Day(const char* date) {
  auto ms = org::ParseChinaDate(date);
  EXPECT_TRUE(ms.has_value()) << date;
  return ms.value_or(0);
}

OrgRow Org(const std::string& code, const std::string& name, const std::string& kind,
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

OrgRow Section(const std::string& code, const std::string& name, const std::string& section_kind) {
  OrgRow r = Org(code, name, "finance_section", "czj", Day("2026-01-01"));
  r.section_kind = section_kind;
  return r;
}

OrgRow Department(const std::string& code, const std::string& name, const std::string& owner,
                  int64_t from) {
  OrgRow r = Org(code, name, "department", "", from);
  r.owner_section = owner;
  return r;
}

std::vector<std::string> Codes(const std::vector<OrgRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.code);
  return out;
}

std::vector<std::string> Users(const std::vector<RoleGrantRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.user_id);
  return out;
}

class OrgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::Open(testing::FreshStoreUrl(dir_.path(), "org"), 4);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
    orgs_ = &store_->orgs();
  }

  // 江西省 → 赣州市 → 安远县; 财政局 czj with 教科文股, 社会保障股, 绩效管理股;
  // 教育局 906 (owned by 教科文股), 卫健委 907 (社会保障股); unit 906017.
  void Base() {
    ASSERT_TRUE(orgs_->PutRegion({"360000000", "江西省", "", "province"}).ok());
    ASSERT_TRUE(orgs_->PutRegion({"360700000", "赣州市", "360000000", "city"}).ok());
    ASSERT_TRUE(orgs_->PutRegion({"360726000", "安远县", "360700000", "county"}).ok());
    const int64_t jan = Day("2026-01-01");
    for (const OrgRow& r :
         {Org("czj", "安远县财政局", "finance_bureau", "", jan),
          Section("czj-jkw", "教科文股", "business"), Section("czj-sb", "社会保障股", "business"),
          Section("czj-jx", "绩效管理股", "performance"),
          Department("906", "安远县教育局", "czj-jkw", jan),
          Department("907", "安远县卫生健康委员会", "czj-sb", jan),
          Org("906017", "安远县第一中学", "unit", "906", jan)}) {
      Status s = orgs_->PutOrg(r);
      ASSERT_TRUE(s.ok()) << r.code << ": " << s;
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  OrgStore* orgs_ = nullptr;
};

TEST_F(OrgStoreTest, MigrationAddsTheOrgSchema) {
  auto v = store_->SchemaVersion();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_GE(*v, 2);
  auto regions = orgs_->ListRegions();
  ASSERT_TRUE(regions.ok()) << regions.status();
  EXPECT_THAT(*regions, IsEmpty());
}

TEST_F(OrgStoreTest, RegionsInsertReplaceAndList) {
  Base();
  auto r = orgs_->GetRegion("360726000");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->name, "安远县");
  EXPECT_EQ(r->parent_code, "360700000");
  EXPECT_EQ(r->level, "county");
  ASSERT_TRUE(orgs_->PutRegion({"360726000", "安远县（新）", "360700000", "county"}).ok());
  EXPECT_EQ(orgs_->GetRegion("360726000")->name, "安远县（新）");
  auto all = orgs_->ListRegions();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].code, "360000000");
  EXPECT_EQ((*all)[2].code, "360726000");
  EXPECT_TRUE(absl::IsNotFound(orgs_->GetRegion("360727000").status()));
}

TEST_F(OrgStoreTest, RegionChecksNameTheField) {
  Status s = orgs_->PutRegion({"36072600", "安远县", "", "province"});
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(std::string(s.message()), "region.code: '36072600' is not a 9-digit region code");
  s = orgs_->PutRegion({"360000000", "江西省", "", "state"});
  EXPECT_EQ(std::string(s.message()), "region.level: 'state' is not one of province, city, county");
  s = orgs_->PutRegion({"360700000", "赣州市", "360000000", "city"});
  EXPECT_EQ(std::string(s.message()), "region.parent_code: '360000000' does not exist");
  ASSERT_TRUE(orgs_->PutRegion({"360000000", "江西省", "", "province"}).ok());
  ASSERT_TRUE(orgs_->PutRegion({"360700000", "赣州市", "360000000", "city"}).ok());
  ASSERT_TRUE(orgs_->PutRegion({"360726000", "安远县", "360700000", "county"}).ok());
  s = orgs_->PutRegion({"360726100", "某镇", "360726000", "county"});
  EXPECT_EQ(std::string(s.message()),
            "region.parent_code: '360726000' is a county; a county's parent must be a province or "
            "city");
  s = orgs_->PutRegion({"360000000", "江西省", "360700000", "province"});
  EXPECT_EQ(std::string(s.message()), "region.parent_code: must be empty for a province");
  EXPECT_TRUE(absl::IsNotFound(orgs_->GetRegion("360726100").status()));
}

TEST_F(OrgStoreTest, OrgAsOfFollowsVersions) {
  Base();
  const int64_t jul = Day("2026-07-01");
  // Before its first version the unit does not exist.
  auto before = orgs_->GetOrg("906017", Day("2025-12-31"));
  EXPECT_TRUE(absl::IsNotFound(before.status())) << before.status();
  EXPECT_THAT(std::string(before.status().message()), HasSubstr("906017"));
  // From July it belongs to 907.
  OrgRow moved = Org("906017", "安远县第一中学", "unit", "907", jul);
  ASSERT_TRUE(orgs_->PutOrg(moved).ok());
  auto june = orgs_->GetOrg("906017", jul - 1);
  ASSERT_TRUE(june.ok()) << june.status();
  EXPECT_EQ(june->parent_code, "906");
  EXPECT_EQ(june->valid_from_ms, Day("2026-01-01"));
  auto july = orgs_->GetOrg("906017", jul);
  ASSERT_TRUE(july.ok());
  EXPECT_EQ(july->parent_code, "907");
  EXPECT_EQ(july->name, "安远县第一中学");
  EXPECT_EQ(july->region_code, "360726000");
  EXPECT_TRUE(july->active);
  auto history = orgs_->OrgHistory("906017");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].parent_code, "906");
  EXPECT_EQ((*history)[1].parent_code, "907");
  EXPECT_TRUE(absl::IsNotFound(orgs_->OrgHistory("999").status()));
}

TEST_F(OrgStoreTest, SameStartReplacesTheVersion) {
  Base();
  OrgRow renamed = Org("906017", "安远一中", "unit", "906", Day("2026-01-01"));
  ASSERT_TRUE(orgs_->PutOrg(renamed).ok());
  auto history = orgs_->OrgHistory("906017");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].name, "安远一中");
}

TEST_F(OrgStoreTest, DissolvedOrgIsNotFoundAndKeepsItsFields) {
  Base();
  OrgRow end;
  end.code = "906017";
  end.valid_from_ms = Day("2026-09-01");
  end.active = false;
  Status s = orgs_->PutOrg(end);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(orgs_->GetOrg("906017", Day("2026-08-31")).ok());
  EXPECT_TRUE(absl::IsNotFound(orgs_->GetOrg("906017", Day("2026-09-01")).status()));
  auto history = orgs_->OrgHistory("906017");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_FALSE((*history)[1].active);
  EXPECT_EQ((*history)[1].name, "安远县第一中学");
  EXPECT_EQ((*history)[1].parent_code, "906");
  OrgFilter children;
  children.parent_code = "906";
  EXPECT_THAT(Codes(*orgs_->ListOrgs(children, Day("2026-08-31"))), ElementsAre("906017"));
  EXPECT_THAT(Codes(*orgs_->ListOrgs(children, Day("2026-09-01"))), IsEmpty());
  // Nothing to dissolve before the first version.
  end.code = "907";
  end.valid_from_ms = Day("2025-06-01");
  s = orgs_->PutOrg(end);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()),
              StartsWith("org.active: false needs an earlier version of org 907"));
}

TEST_F(OrgStoreTest, ListOrgsFiltersTheVersionInEffect) {
  Base();
  ASSERT_TRUE(
      orgs_->PutOrg(Org("906017", "安远县第一中学", "unit", "907", Day("2026-07-01"))).ok());
  ASSERT_TRUE(
      orgs_->PutOrg(Org("906018", "安远县实验小学", "unit", "906", Day("2026-03-01"))).ok());
  OrgFilter f;
  f.parent_code = "906";
  EXPECT_THAT(Codes(*orgs_->ListOrgs(f, Day("2026-02-01"))), ElementsAre("906017"));
  EXPECT_THAT(Codes(*orgs_->ListOrgs(f, Day("2026-03-01"))), ElementsAre("906017", "906018"));
  EXPECT_THAT(Codes(*orgs_->ListOrgs(f, Day("2026-07-01"))), ElementsAre("906018"));
  f.parent_code = "907";
  EXPECT_THAT(Codes(*orgs_->ListOrgs(f, Day("2026-07-01"))), ElementsAre("906017"));
  OrgFilter kind;
  kind.kind = "finance_section";
  EXPECT_THAT(Codes(*orgs_->ListOrgs(kind, Day("2026-07-01"))),
              ElementsAre("czj-jkw", "czj-jx", "czj-sb"));
  OrgFilter region;
  region.region_code = "360726000";
  region.kind = "department";
  EXPECT_THAT(Codes(*orgs_->ListOrgs(region, Day("2026-07-01"))), ElementsAre("906", "907"));
  region.region_code = "360700000";
  EXPECT_THAT(Codes(*orgs_->ListOrgs(region, Day("2026-07-01"))), IsEmpty());
  EXPECT_THAT(Codes(*orgs_->ListOrgs({}, Day("2025-01-01"))), IsEmpty());
}

TEST_F(OrgStoreTest, ChangesBetweenIsHalfOpen) {
  Base();
  ASSERT_TRUE(
      orgs_->PutOrg(Org("906017", "安远县第一中学", "unit", "907", Day("2026-07-01"))).ok());
  auto changes = orgs_->ChangesBetween(Day("2026-06-30"), Day("2026-07-01"));
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].code, "906017");
  EXPECT_EQ((*changes)[0].parent_code, "907");
  EXPECT_THAT(*orgs_->ChangesBetween(Day("2026-07-01"), Day("2026-12-31")), IsEmpty());
  EXPECT_EQ(orgs_->ChangesBetween(0, Day("2026-01-01"))->size(), 7u);
}

TEST_F(OrgStoreTest, OrgChecksNameTheField) {
  Base();
  const int64_t jan = Day("2026-01-01");
  Status s = orgs_->PutOrg(Org("906019", "某校", "dept", "906", jan));
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()),
              StartsWith("org.kind: 'dept' is not one of finance_bureau, finance_section, "
                         "department, unit"));
  s = orgs_->PutOrg(Org("906019", "某校", "unit", "905", jan));
  EXPECT_THAT(std::string(s.message()), StartsWith("org.parent_code: '905' does not exist"));
  s = orgs_->PutOrg(Org("906019", "某校", "unit", "czj", jan));
  EXPECT_THAT(std::string(s.message()),
              StartsWith("org.parent_code: 'czj' is a finance_bureau; a unit's "
                         "parent must be a department or unit"));
  s = orgs_->PutOrg(Org("906019", "", "unit", "906", jan));
  EXPECT_THAT(std::string(s.message()), StartsWith("org.name: is required"));
  s = orgs_->PutOrg(Org("906 019", "某校", "unit", "906", jan));
  EXPECT_THAT(std::string(s.message()), StartsWith("org.code: '906 019' is not a valid code"));
  OrgRow no_region = Org("906019", "某校", "unit", "906", jan);
  no_region.region_code = "360726999";
  s = orgs_->PutOrg(no_region);
  EXPECT_THAT(std::string(s.message()), StartsWith("org.region_code: '360726999' does not exist"));
  // The parent must exist at the version's start.
  s = orgs_->PutOrg(Org("906019", "某校", "unit", "906", Day("2025-12-01")));
  EXPECT_THAT(std::string(s.message()), StartsWith("org.parent_code: '906' does not exist"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("as of 2025-12-01"));
  // Departments: owner_section required at the top, must be a business section.
  s = orgs_->PutOrg(Department("908", "农业农村局", "", jan));
  EXPECT_THAT(std::string(s.message()),
              StartsWith("org.owner_section: is required for a top department"));
  s = orgs_->PutOrg(Department("908", "农业农村局", "czj-jx", jan));
  EXPECT_THAT(std::string(s.message()), StartsWith("org.owner_section: 'czj-jx' is not a business "
                                                   "finance_section"));
  OrgRow section = Section("czj-ny", "农业股", "");
  s = orgs_->PutOrg(section);
  EXPECT_THAT(std::string(s.message()),
              StartsWith("org.section_kind: is required for a finance_section"));
  OrgRow with_kind = Department("908", "农业农村局", "czj-sb", jan);
  with_kind.section_kind = "business";
  s = orgs_->PutOrg(with_kind);
  EXPECT_THAT(std::string(s.message()),
              StartsWith("org.section_kind: applies only to a finance_section"));
  // None of them was stored.
  EXPECT_TRUE(absl::IsNotFound(orgs_->OrgHistory("906019").status()));
  EXPECT_TRUE(absl::IsNotFound(orgs_->OrgHistory("908").status()));
  EXPECT_TRUE(absl::IsNotFound(orgs_->OrgHistory("czj-ny").status()));
}

TEST_F(OrgStoreTest, CodesAreCaseSensitive) {
  Base();
  ASSERT_TRUE(orgs_->PutOrg(Org("U-a", "小写", "unit", "906", Day("2026-01-01"))).ok());
  ASSERT_TRUE(orgs_->PutOrg(Org("U-A", "大写", "unit", "906", Day("2026-01-01"))).ok());
  EXPECT_EQ(orgs_->GetOrg("U-a", Day("2026-02-01"))->name, "小写");
  EXPECT_EQ(orgs_->GetOrg("U-A", Day("2026-02-01"))->name, "大写");
}

TEST_F(OrgStoreTest, UsersInsertReplaceAndCheck) {
  ASSERT_TRUE(orgs_->PutUser({"zhang", "张伟"}).ok());
  EXPECT_EQ(orgs_->GetUser("zhang")->name, "张伟");
  ASSERT_TRUE(orgs_->PutUser({"zhang", "张伟（财务）"}).ok());
  EXPECT_EQ(orgs_->GetUser("zhang")->name, "张伟（财务）");
  EXPECT_TRUE(absl::IsNotFound(orgs_->GetUser("li").status()));
  Status s = orgs_->PutUser({"zhang san", "张三"});
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()), StartsWith("user.id: 'zhang san' is not a valid user id"));
  s = orgs_->PutUser({"li", std::string("\xFF\xFE", 2)});
  EXPECT_THAT(std::string(s.message()), StartsWith("user.name: is not UTF-8"));
}

class GrantTest : public OrgStoreTest {
 protected:
  void SetUp() override {
    OrgStoreTest::SetUp();
    Base();
    for (const char* u : {"zhang", "liu", "yang", "li"}) {
      ASSERT_TRUE(orgs_->PutUser({u, u}).ok());
    }
  }
  Status Grant(const std::string& user, const std::string& role, const std::string& org,
               int64_t from, int64_t to = 0) {
    return orgs_->Grant({user, role, org, from, to});
  }
};

TEST_F(GrantTest, GrantsHoldDuringFromTo) {
  const int64_t jan = Day("2026-01-01"), sep = Day("2026-09-01");
  ASSERT_TRUE(Grant("liu", "unit_filer", "906017", jan, sep).ok());
  ASSERT_TRUE(Grant("yang", "unit_filer", "906017", sep).ok());
  ASSERT_TRUE(Grant("zhang", "unit_leader", "906017", jan).ok());
  ASSERT_TRUE(Grant("li", "dept_reviewer", "906", jan).ok());
  EXPECT_THAT(Users(*orgs_->Grants("906017", "unit_filer", jan - 1)), IsEmpty());
  EXPECT_THAT(Users(*orgs_->Grants("906017", "unit_filer", jan)), ElementsAre("liu"));
  EXPECT_THAT(Users(*orgs_->Grants("906017", "unit_filer", sep - 1)), ElementsAre("liu"));
  EXPECT_THAT(Users(*orgs_->Grants("906017", "unit_filer", sep)), ElementsAre("yang"));
  // Empty role: every grant of the org, by role then user.
  auto all = orgs_->Grants("906017", "", sep);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].role, "unit_filer");
  EXPECT_EQ((*all)[1].role, "unit_leader");
  auto of_li = orgs_->GrantsOfUser("li", sep);
  ASSERT_TRUE(of_li.ok());
  ASSERT_EQ(of_li->size(), 1u);
  EXPECT_EQ((*of_li)[0].org_code, "906");
  EXPECT_EQ((*of_li)[0].to_ms, 0);
  // History: ended grants too.
  GrantFilter history;
  history.org_code = "906017";
  history.role = "unit_filer";
  auto h = orgs_->ListGrants(history);
  ASSERT_TRUE(h.ok());
  EXPECT_THAT(Users(*h), ElementsAre("liu", "yang"));
  EXPECT_EQ((*h)[0].to_ms, sep);
}

TEST_F(GrantTest, GrantChecks) {
  const int64_t jan = Day("2026-01-01");
  Status s = Grant("ghost", "unit_filer", "906017", jan);
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("user ghost not found"));
  s = Grant("zhang", "unit_filer", "999999", jan);
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("org 999999 not found"));
  s = Grant("zhang", "unit_filer", "906017", jan, jan);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(std::string(s.message()), "grant.to_ms: must be later than the start");
  s = Grant("zhang", "unit filer", "906017", jan);
  EXPECT_THAT(std::string(s.message()), StartsWith("grant.role: 'unit filer' is not a valid code"));
  ASSERT_TRUE(Grant("zhang", "unit_filer", "906017", jan).ok());
  s = Grant("zhang", "unit_filer", "906017", Day("2026-05-01"), Day("2026-06-01"));
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
  EXPECT_EQ(std::string(s.message()),
            "user zhang already holds role unit_filer in org 906017 [2026-01-01, open), which "
            "overlaps [2026-05-01, 2026-06-01)");
  // The same start replaces the end.
  ASSERT_TRUE(Grant("zhang", "unit_filer", "906017", jan, Day("2026-03-01")).ok());
  EXPECT_THAT(Users(*orgs_->Grants("906017", "unit_filer", Day("2026-03-01"))), IsEmpty());
  ASSERT_TRUE(Grant("zhang", "unit_filer", "906017", Day("2026-05-01")).ok());
  GrantFilter f;
  f.user_id = "zhang";
  EXPECT_EQ(orgs_->ListGrants(f)->size(), 2u);
}

TEST_F(GrantTest, RevokeEndsTheOpenGrant) {
  const int64_t jan = Day("2026-01-01"), jun = Day("2026-06-01");
  ASSERT_TRUE(Grant("zhang", "unit_filer", "906017", jan).ok());
  Status s = orgs_->Revoke("zhang", "unit_filer", "906017", jun);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(Users(*orgs_->Grants("906017", "unit_filer", jun - 1)), ElementsAre("zhang"));
  EXPECT_THAT(Users(*orgs_->Grants("906017", "unit_filer", jun)), IsEmpty());
  s = orgs_->Revoke("zhang", "unit_filer", "906017", jun);
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("holds no role unit_filer in org 906017"));
  s = orgs_->Revoke("li", "unit_filer", "906017", jun);
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  // A grant that starts after the revocation never takes effect.
  ASSERT_TRUE(Grant("yang", "unit_filer", "906017", Day("2026-10-01")).ok());
  ASSERT_TRUE(orgs_->Revoke("yang", "unit_filer", "906017", jun).ok());
  EXPECT_THAT(Users(*orgs_->Grants("906017", "unit_filer", Day("2026-11-01"))), IsEmpty());
  // And can be granted again afterwards.
  EXPECT_TRUE(Grant("yang", "unit_filer", "906017", Day("2026-11-01")).ok());
}

TEST_F(OrgStoreTest, ApplyIsAllOrNothing) {
  Base();
  OrgBatch batch;
  batch.regions.push_back({"360726100", "安远县（测试）", "360700000", "county"});
  batch.orgs.push_back(Org("906018", "安远县实验小学", "unit", "906", Day("2026-01-01")));
  batch.orgs.push_back(Org("906019", "子校", "unit", "906018", Day("2026-01-01")));
  batch.orgs.push_back(Org("906020", "坏", "unit", "905", Day("2026-01-01")));
  batch.users.push_back({"zhang", "张伟"});
  Status s = orgs_->Apply(batch);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()),
              StartsWith("orgs[2] 906020: org.parent_code: '905' does not exist"));
  EXPECT_TRUE(absl::IsNotFound(orgs_->GetRegion("360726100").status()));
  EXPECT_TRUE(absl::IsNotFound(orgs_->OrgHistory("906018").status()));
  EXPECT_TRUE(absl::IsNotFound(orgs_->GetUser("zhang").status()));

  batch.orgs.pop_back();
  batch.grants.push_back({"zhang", "unit_filer", "906019", Day("2026-01-01"), 0});
  s = orgs_->Apply(batch);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(orgs_->GetOrg("906019", Day("2026-02-01"))->parent_code, "906018");
  EXPECT_THAT(Users(*orgs_->Grants("906019", "unit_filer", Day("2026-02-01"))),
              ElementsAre("zhang"));
}

}  // namespace
}  // namespace bpm::store
