// Org file import (YAML and CSV) into a real store (SQLite, or MariaDB under
// label mysql): happy paths, idempotence, effective-dated changes, and every
// kind of error with its exact file:line[:column] message.
#include "core/org/import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/org/context.h"
#include "core/org/dates.h"
#include "core/store/store.h"
#include "tests/support/test_env.h"

namespace bpm::org {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

int64_t Day(const char* date) {
  auto ms = ParseChinaDate(date);
  EXPECT_TRUE(ms.has_value()) << date;
  return ms.value_or(0);
}

// 2026-11-22 10:00 China time: the "now" of every import here.
const int64_t kNow = Day("2026-11-22") + 10 * 3600 * 1000;

// Lines of an INVALID_ARGUMENT message.
std::vector<std::string> Lines(const Status& s) {
  return absl::StrSplit(std::string(s.message()), '\n');
}

std::string Counts(const ImportReport& r) {
  auto c = [](const ImportCounts& x) { return absl::StrCat(x.written, "+", x.unchanged); };
  return absl::StrCat("regions ", c(r.regions), " orgs ", c(r.orgs), " users ", c(r.users),
                      " grants ", c(r.grants));
}

const char* kBase = R"(regions:
  - {code: "360000000", name: 江西省, level: province}
  - {code: "360700000", name: 赣州市, level: city, parent: "360000000"}
  - {code: "360726000", name: 安远县, level: county, parent: "360700000"}
orgs:
  - {code: czj, name: 安远县财政局, kind: finance_bureau, region: "360726000", valid_from: 2026-01-01}
  - {code: czj-jkw, name: 教科文股, kind: finance_section, section_kind: business, parent: czj, valid_from: 2026-01-01}
  - {code: czj-sb, name: 社会保障股, kind: finance_section, section_kind: business, parent: czj, valid_from: 2026-01-01}
  - {code: czj-jx, name: 绩效管理股, kind: finance_section, section_kind: performance, parent: czj, valid_from: 2026-01-01}
  - {code: "906", name: 安远县教育局, kind: department, region: "360726000", owner_section: czj-jkw, valid_from: 2026-01-01}
  - {code: "906017", name: 安远县第一中学, kind: unit, parent: "906", valid_from: 2026-01-01}
users:
  - id: zhang
    name: 张伟
    roles:
      - {role: unit_filer, org: "906017", from: 2026-01-01}
)";

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::Store::Open(testing::FreshStoreUrl(dir_.path(), "import"), 2);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
    orgs_ = &store_->orgs();
  }

  StatusOr<ImportReport> Import(const std::string& text, const std::string& name,
                                bool dry_run = false) {
    ImportOptions options;
    options.source_name = name;
    options.now_ms = kNow;
    options.dry_run = dry_run;
    return ImportOrgFile(*orgs_, text, options);
  }

  void ImportBase() {
    auto r = Import(kBase, "base.yaml");
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // Every org code as of t.
  std::vector<std::string> AllCodes(int64_t t) {
    std::vector<std::string> out;
    auto orgs = orgs_->ListOrgs({}, t);
    EXPECT_TRUE(orgs.ok()) << orgs.status();
    for (const auto& o : *orgs) out.push_back(o.code);
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  store::OrgStore* orgs_ = nullptr;
};

// ---- Happy paths --------------------------------------------------------------

TEST_F(ImportTest, ExampleCountyYaml) {
  const std::string path = testing::SourceDir() + "/examples/county-org.yaml";
  const std::string text = testing::ReadFile(path);
  ASSERT_FALSE(text.empty()) << path;
  auto r = Import(text, "county-org.yaml");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Counts(*r), "regions 3+0 orgs 45+0 users 29+0 grants 39+0");

  auto unit = orgs_->GetOrg("906017", kNow);
  ASSERT_TRUE(unit.ok()) << unit.status();
  EXPECT_EQ(unit->name, "安远县第一中学");
  EXPECT_EQ(unit->region_code, "360726000");  // inherited from 906
  EXPECT_EQ(orgs_->GetOrg("czj-jx", kNow)->section_kind, "performance");
  EXPECT_EQ(orgs_->GetOrg("906", kNow)->owner_section, "czj-jkw");

  // The README's walkthrough identities, resolved as the engine will.
  auto ctx = ResolveOrgContext(*orgs_, "906017", kNow);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  ASSERT_EQ(ctx->ancestors_size(), 1);
  EXPECT_EQ(ctx->ancestors(0).code(), "906");
  EXPECT_EQ(ctx->owning_section().code(), "czj-jkw");
  EXPECT_EQ(ctx->performance_section().code(), "czj-jx");
  EXPECT_EQ(ctx->leadership().code(), "czj-ld");
  std::vector<std::string> members;
  for (const auto& m : ctx->members()) {
    members.push_back(absl::StrCat(m.org(), "/", m.role(), ":", absl::StrJoin(m.users(), ",")));
  }
  EXPECT_THAT(members, ElementsAre("906017/unit_filer:zhang", "906017/unit_leader:chen",
                                   "906/dept_reviewer:li", "czj-jkw/section_head:sun",
                                   "czj-jkw/section_reviewer:wang", "czj-jx/perf_head:zhou",
                                   "czj-jx/perf_reviewer:zhao", "czj-ld/leader:wu"));

  // The moved unit and the sub-unit.
  auto june = ResolveOrgContext(*orgs_, "902004", Day("2026-06-30"));
  auto july = ResolveOrgContext(*orgs_, "902004", Day("2026-07-01"));
  ASSERT_TRUE(june.ok() && july.ok());
  EXPECT_EQ(june->ancestors(0).code(), "902");
  EXPECT_EQ(july->ancestors(0).code(), "907");
  auto sub = ResolveOrgContext(*orgs_, "905002001", kNow);
  ASSERT_TRUE(sub.ok());
  ASSERT_EQ(sub->ancestors_size(), 2);
  EXPECT_EQ(sub->ancestors(0).code(), "905002");
  EXPECT_EQ(sub->ancestors(1).code(), "905");
  EXPECT_EQ(sub->owning_section().code(), "czj-ny");

  // The filer of 906018 changed on 1 September.
  auto aug = orgs_->Grants("906018", "unit_filer", Day("2026-08-31"));
  auto sep = orgs_->Grants("906018", "unit_filer", Day("2026-09-01"));
  ASSERT_EQ(aug->size(), 1u);
  ASSERT_EQ(sep->size(), 1u);
  EXPECT_EQ((*aug)[0].user_id, "liu");
  EXPECT_EQ((*sep)[0].user_id, "yang");

  // Importing the same file again changes nothing.
  auto again = Import(text, "county-org.yaml");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Counts(*again), "regions 0+3 orgs 0+45 users 0+29 grants 0+39");
  EXPECT_EQ(orgs_->OrgHistory("906017")->size(), 1u);
}

TEST_F(ImportTest, CsvWithEveryRowType) {
  // BOM, CRLF, a comment, a blank line, quoted fields with a comma and a
  // doubled quote, columns in any order.
  const std::string csv =
      "\xEF\xBB\xBFtype,code,name,level,parent,kind,region,section_kind,owner_section,"
      "valid_from,active,user,role,org,from,to\r\n"
      "# 安远县\r\n"
      "region,360000000,江西省,province,,,,,,,,,,,,\r\n"
      "region,360700000,赣州市,city,360000000,,,,,,,,,,,\r\n"
      "region,360726000,安远县,county,360700000,,,,,,,,,,,\r\n"
      "\r\n"
      "org,czj,安远县财政局,,,finance_bureau,360726000,,,2026-01-01,,,,,,\r\n"
      "org,czj-jkw,教科文股,,czj,finance_section,,business,,2026-01-01,,,,,,\r\n"
      "org,czj-jx,绩效管理股,,czj,finance_section,,performance,,2026-01-01,,,,,,\r\n"
      "org,906,安远县教育局,,,department,360726000,,czj-jkw,2026-01-01,,,,,,\r\n"
      "org,906017,\"安远县第一中学,高中部\",,906,unit,,,,2026-01-01,true,,,,,\r\n"
      "org,906018,\"实验小学 \"\"东校区\"\"\",,906,unit,,,,2026-01-01,,,,,,\r\n"
      "org,906018,,,,,,,,2026-09-01,false,,,,,\r\n"
      "user,,张伟,,,,,,,,,zhang,,,,\r\n"
      "grant,,,,,,,,,,,zhang,unit_filer,906017,2026-01-01,2027-01-01\r\n"
      "grant,,,,,,,,,,,zhang,unit_leader,906017,,\r\n";
  auto r = Import(csv, "county.csv");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Counts(*r), "regions 3+0 orgs 7+0 users 1+0 grants 2+0");
  EXPECT_EQ(orgs_->GetOrg("906017", kNow)->name, "安远县第一中学,高中部");
  EXPECT_EQ(orgs_->GetOrg("906018", Day("2026-08-31"))->name, "实验小学 \"东校区\"");
  EXPECT_TRUE(absl::IsNotFound(orgs_->GetOrg("906018", Day("2026-09-01")).status()));
  auto history = orgs_->OrgHistory("906018");
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[1].name, "实验小学 \"东校区\"");  // kept from the version before
  EXPECT_FALSE((*history)[1].active);
  auto grants = orgs_->GrantsOfUser("zhang", kNow);
  ASSERT_EQ(grants->size(), 2u);
  EXPECT_EQ((*grants)[0].role, "unit_filer");
  EXPECT_EQ((*grants)[0].to_ms, Day("2027-01-01"));
  EXPECT_EQ((*grants)[1].role, "unit_leader");
  EXPECT_EQ((*grants)[1].from_ms, kNow);  // default: now
  // Again: nothing to write (a grant without `from` that is held now is unchanged).
  auto again = Import(csv, "county.csv");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Counts(*again), "regions 0+3 orgs 0+7 users 0+1 grants 0+2");
}

TEST_F(ImportTest, LaterVersionMovesAUnit) {
  ImportBase();
  auto r = Import(R"(orgs:
  - {code: "907", name: 卫健委, kind: department, region: "360726000", owner_section: czj-sb, valid_from: 2026-01-01}
  - {code: "906017", name: 安远县第一中学, kind: unit, parent: "906", valid_from: 2026-01-01}
  - {code: "906017", name: 安远县第一中学, kind: unit, parent: "907", valid_from: 2026-07-01}
)",
                  "move.yaml");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Counts(*r), "regions 0+0 orgs 2+1 users 0+0 grants 0+0");
  auto history = orgs_->OrgHistory("906017");
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[1].valid_from_ms, Day("2026-07-01"));
  auto before = ResolveOrgContext(*orgs_, "906017", Day("2026-06-30"));
  auto after = ResolveOrgContext(*orgs_, "906017", Day("2026-07-01"));
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(before->owning_section().code(), "czj-jkw");
  EXPECT_EQ(after->owning_section().code(), "czj-sb");
  EXPECT_EQ(after->ancestors(0).code(), "907");
}

TEST_F(ImportTest, DefaultValidFromIsNowAndEqualRowsAddNoVersion) {
  ImportBase();
  // Same content, no date: the version in effect now already says so.
  auto same = Import(R"(orgs:
  - {code: "906017", name: 安远县第一中学, kind: unit, parent: "906"}
)",
                     "same.yaml");
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(Counts(*same), "regions 0+0 orgs 0+1 users 0+0 grants 0+0");
  auto renamed = Import(R"(orgs:
  - {code: "906017", name: 安远一中, kind: unit, parent: "906"}
)",
                        "rename.yaml");
  ASSERT_TRUE(renamed.ok()) << renamed.status();
  EXPECT_EQ(Counts(*renamed), "regions 0+0 orgs 1+0 users 0+0 grants 0+0");
  auto history = orgs_->OrgHistory("906017");
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[1].valid_from_ms, kNow);
  EXPECT_EQ((*history)[1].name, "安远一中");
}

TEST_F(ImportTest, GrantEndCanBeSetByReimport) {
  ImportBase();
  auto r = Import(R"(grants:
  - {user: zhang, role: unit_filer, org: "906017", from: 2026-01-01, to: 2026-12-01}
)",
                  "end.yaml");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Counts(*r), "regions 0+0 orgs 0+0 users 0+0 grants 1+0");
  EXPECT_EQ(orgs_->Grants("906017", "unit_filer", Day("2026-12-01"))->size(), 0u);
  // A different start that overlaps the stored grant is refused.
  auto overlap = Import(R"(grants:
  - {user: zhang, role: unit_filer, org: "906017", from: 2026-03-01}
)",
                        "overlap.yaml");
  EXPECT_TRUE(absl::IsInvalidArgument(overlap.status())) << overlap.status();
  EXPECT_THAT(Lines(overlap.status()),
              ElementsAre("overlap.yaml:2:5: grant zhang unit_filer 906017: [2026-03-01, open) "
                          "overlaps the stored grant [2026-01-01, 2026-12-01) (revoke it first)"));
}

TEST_F(ImportTest, DryRunWritesNothing) {
  auto r = Import(kBase, "base.yaml", /*dry_run=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Counts(*r), "regions 3+0 orgs 6+0 users 1+0 grants 1+0");
  EXPECT_THAT(*orgs_->ListRegions(), IsEmpty());
  EXPECT_THAT(AllCodes(kNow), IsEmpty());
}

TEST_F(ImportTest, FormatFromNameOrArgument) {
  auto r = Import(kBase, "base.txt");
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
  EXPECT_EQ(std::string(r.status().message()),
            "cannot tell the format of 'base.txt' from its name: give format yaml or csv");
  ImportOptions options;
  options.source_name = "base.txt";
  options.format = ImportFormat::kYaml;
  options.now_ms = kNow;
  EXPECT_TRUE(ImportOrgFile(*orgs_, kBase, options).ok());
  EXPECT_EQ(*ParseImportFormat("CSV"), ImportFormat::kCsv);
  EXPECT_EQ(*ParseImportFormat("yml"), ImportFormat::kYaml);
  EXPECT_EQ(*ParseImportFormat(""), ImportFormat::kAuto);
  EXPECT_EQ(std::string(ParseImportFormat("xls").status().message()),
            "format 'xls' is not one of yaml, csv (or empty: by file extension)");
}

// ---- Errors --------------------------------------------------------------------

TEST_F(ImportTest, YamlErrorsNameLineAndColumn) {
  ImportBase();
  const char* bad = R"(orgs:
  - code: "906099"
    name: 坏单位
    kind: dept
    parent: "906"
  - code: "906017"
    name: 第一中学
    kind: unit
    parnet: "906"
  - code: "906018"
    name: 实验小学
    kind: unit
    parent: "909"
    valid_from: 2026-02-30
  - code: "906019"
    name: 子校
    kind: unit
    parent: "909"
users:
  - id: li
    name: 李明
    roles:
      - {role: dept_reviewer, org: "906777"}
colour: blue
)";
  auto r = Import(bad, "bad.yaml");
  ASSERT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_THAT(
      Lines(r.status()),
      ElementsAre(
          "bad.yaml:4:11: org 906099: kind 'dept' is not one of finance_bureau, finance_section, "
          "department, unit",
          "bad.yaml:9:5: org: unknown key 'parnet' (expected code, name, kind, parent, region, "
          "section_kind, owner_section, valid_from, active)",
          "bad.yaml:14:17: org 906018: valid_from '2026-02-30' is not a date (YYYY-MM-DD, China "
          "time)",
          "bad.yaml:18:13: org 906019: parent '909' does not exist",
          "bad.yaml:23:36: grant li dept_reviewer 906777: org '906777' does not exist",
          "bad.yaml:24:1: the file: unknown key 'colour' (expected regions, orgs, users, grants)"));
  // Nothing was written: li is unknown, 906019 too.
  EXPECT_TRUE(absl::IsNotFound(orgs_->GetUser("li").status()));
  EXPECT_TRUE(absl::IsNotFound(orgs_->OrgHistory("906019").status()));
}

TEST_F(ImportTest, YamlSyntaxAndShapeErrors) {
  auto syntax = Import("orgs:\n  - {code: x\n", "syntax.yaml");
  ASSERT_TRUE(absl::IsInvalidArgument(syntax.status()));
  EXPECT_THAT(std::string(syntax.status().message()), StartsWith("syntax.yaml:3:1: YAML syntax: "));
  auto list = Import("orgs:\n  code: x\n", "shape.yaml");
  EXPECT_EQ(std::string(list.status().message()),
            "shape.yaml:2:3: 'orgs' must be a list, not a mapping");
  auto empty = Import("", "empty.yaml");
  EXPECT_EQ(std::string(empty.status().message()),
            "empty.yaml:1:1: the file is empty (expected regions, orgs, users or grants)");
  auto nested = Import("orgs:\n  - code: [a, b]\n    code: c\n", "nested.yaml");
  EXPECT_THAT(Lines(nested.status()),
              ElementsAre("nested.yaml:2:11: org: 'code' must be a single value, not a list",
                          "nested.yaml:3:5: org: duplicate key 'code' (first at line 2)"));
}

TEST_F(ImportTest, ReferenceErrors) {
  ImportBase();
  const char* bad = R"(regions:
  - {code: "360726000", name: 安远县, level: county, parent: "360799000"}
orgs:
  - {code: "908", name: 农业农村局, kind: department, region: "360726000", owner_section: czj-ny}
  - {code: "909", name: 水利局, kind: department, region: "360726000", owner_section: czj-jx}
  - {code: "910", name: 公安局, kind: department, region: "360726001", owner_section: czj-sb}
  - {code: "911", name: 民政局, kind: department, region: "360726000"}
  - {code: "906020", name: 某校, kind: unit, parent: czj}
  - {code: "906030", name: 甲, kind: unit, parent: "906031"}
  - {code: "906031", name: 乙, kind: unit, parent: "906030"}
  - {code: "906017", name: 第一中学, kind: unit, parent: "906", valid_from: 2026-01-01}
  - {code: "906017", name: 一中, kind: unit, parent: "906", valid_from: 2026-01-01}
  - {code: "906040", active: false, valid_from: 2026-05-01}
grants:
  - {user: ghost, role: unit_filer, org: "906017"}
  - {user: zhang, role: unit_leader, org: "906017", from: 2026-01-01, to: 2026-06-01}
  - {user: zhang, role: unit_leader, org: "906017", from: 2026-05-01}
  - {user: zhang, role: unit_leader, org: "906017", from: 2026-07-01, to: 2026-07-01}
)";
  auto r = Import(bad, "refs.yaml");
  ASSERT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_THAT(
      Lines(r.status()),
      ElementsAre(
          "refs.yaml:2:59: region 360726000: parent '360799000' does not exist",
          "refs.yaml:4:86: org 908: owner_section 'czj-ny' does not exist",
          "refs.yaml:5:84: org 909: owner_section 'czj-jx' is not a business finance_section",
          "refs.yaml:6:56: org 910: region '360726001' does not exist",
          "refs.yaml:7:5: org 911: owner_section is required for a top department (its owning "
          "finance business section, 归口科室)",
          "refs.yaml:8:52: org 906020: parent 'czj' is a finance_bureau; a unit's parent must be "
          "a department or unit",
          "refs.yaml:9:51: org 906030: the parent chain loops: 906030 → 906031 → 906030",
          "refs.yaml:10:51: org 906031: the parent chain loops: 906031 → 906030 → 906031",
          "refs.yaml:12:12: org 906017: defined twice for valid_from 2026-01-01 (first at line "
          "11)",
          "refs.yaml:13:30: org 906040: active false needs an earlier version of the org to "
          "dissolve (none before 2026-05-01)",
          "refs.yaml:15:12: grant ghost unit_filer 906017: user 'ghost' does not exist",
          "refs.yaml:17:5: grant zhang unit_leader 906017: [2026-05-01, open) overlaps the grant "
          "at line 16 [2026-01-01, 2026-06-01)",
          "refs.yaml:18:75: grant zhang unit_leader 906017: to must be later than the start"));
}

TEST_F(ImportTest, ParentMustExistAtTheVersionsDate) {
  ImportBase();
  auto r = Import(
      "orgs:\n"
      "  - {code: \"906050\", name: 某校, kind: unit, parent: \"906\", valid_from: 2025-06-01}\n",
      "early.yaml");
  ASSERT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_EQ(std::string(r.status().message()),
            "early.yaml:2:52: org 906050: parent '906' does not exist as of 2025-06-01");
}

TEST_F(ImportTest, CsvErrorsNameTheLine) {
  ImportBase();
  std::string csv = "type,code,name,kind,parent\n# 安远县: units of 906\n";
  for (int i = 1; i <= 9; ++i) absl::StrAppend(&csv, "org,90610", i, ",单位", i, ",unit,906\n");
  absl::StrAppend(&csv, "org,906017,第一中学,unit,907\n");  // line 12
  auto r = Import(csv, "county.csv");
  ASSERT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_EQ(std::string(r.status().message()),
            "county.csv:12: org 906017: parent '907' does not exist");
  EXPECT_TRUE(absl::IsNotFound(orgs_->OrgHistory("906101").status()));

  auto rows = Import(
      "type,code,name,kind,parent,level,user,org\n"
      "org,906050,某校,unit,906,county,,\n"
      "department,906051,某校,unit,906,,,\n"
      ",906052,某校,unit,906,,,\n"
      "org,906053,某校,unit,906,,,,extra\n"
      "org,906054,某校,unit,906,,,\n"
      "region,360726000,安远县,,,county,,\n"
      "grant,,,,,,zhang,906054\n"
      "org,906055,\"unclosed,unit,906\n",
      "rows.csv");
  ASSERT_TRUE(absl::IsInvalidArgument(rows.status())) << rows.status();
  EXPECT_EQ(std::string(rows.status().message()), "rows.csv:9: a quoted field is not closed");

  rows = Import(
      "type,code,name,kind,parent,level,user,org,role\n"
      "org,906050,某校,unit,906,county,,,\n"
      "department,906051,某校,unit,906,,,,\n"
      ",906052,某校,unit,906,,,,\n"
      "org,906053,某校,unit,906,,,,,extra\n"
      "org,906054,某校,unit,906,,,,\n"
      "region,360726000,安远县,,,county,,,\n"
      "grant,,,,,,zhang,906054,unit_filer\n"
      "user,,张伟,,,,zhang,,\n"
      "user,,张伟,,,,zhang,,\n",
      "rows.csv");
  ASSERT_TRUE(absl::IsInvalidArgument(rows.status())) << rows.status();
  EXPECT_THAT(
      Lines(rows.status()),
      ElementsAre("rows.csv:2: column 'level' does not apply to type org (its columns: code, "
                  "name, kind, parent, region, section_kind, owner_section, valid_from, active)",
                  "rows.csv:3: type 'department' is not one of region, org, user, grant",
                  "rows.csv:4: type is required (region, org, user or grant)",
                  "rows.csv:5: the row has 10 fields but the header has 9",
                  "rows.csv:7: region 360726000: parent is required",
                  "rows.csv:10: user zhang: defined twice (first at line 9)"));

  auto header = Import("kind,code,colour\norg,1,2\n", "header.csv");
  EXPECT_THAT(Lines(header.status()),
              ElementsAre("header.csv:1: unknown column 'colour' (expected type, code, name, "
                          "kind, parent, region, level, section_kind, owner_section, valid_from, "
                          "active, user, role, org, from, to)",
                          "header.csv:1: the header has no 'type' column (region, org, user or "
                          "grant per row)"));
  auto bool_and_date = Import(
      "type,code,name,kind,parent,active,valid_from\n"
      "org,906060,某校,unit,906,yes,\n"
      "org,906061,某校,unit,906,,2026/01/01\n",
      "values.csv");
  EXPECT_THAT(Lines(bool_and_date.status()),
              ElementsAre("values.csv:2: org 906060: active 'yes' is not true or false",
                          "values.csv:3: org 906061: valid_from '2026/01/01' is not a date "
                          "(YYYY-MM-DD, China time)"));
}

// ---- Size ---------------------------------------------------------------------

TEST_F(ImportTest, GeneratedCountyImportsQuickly) {
  // 90 departments x 4 units, a filer in every unit: the size of a county.
  std::string yaml = absl::StrCat(
      "regions:\n"
      "  - {code: \"360000000\", name: 江西省, level: province}\n"
      "  - {code: \"360700000\", name: 赣州市, level: city, parent: \"360000000\"}\n"
      "  - {code: \"360726000\", name: 安远县, level: county, parent: \"360700000\"}\n"
      "orgs:\n"
      "  - {code: czj, name: 财政局, kind: finance_bureau, region: \"360726000\"}\n");
  const char* sections[] = {"xzzf", "jj", "sb", "jkw", "ny"};
  for (const char* s : sections) {
    absl::StrAppend(&yaml, "  - {code: czj-", s, ", name: 股", s,
                    ", kind: finance_section, section_kind: business, parent: czj}\n");
  }
  absl::StrAppend(&yaml,
                  "  - {code: czj-jx, name: 绩效管理股, kind: finance_section, section_kind: "
                  "performance, parent: czj}\n");
  for (int d = 0; d < 90; ++d) {
    const std::string dept = absl::StrCat(801 + d);
    absl::StrAppend(&yaml, "  - {code: \"", dept, "\", name: 部门", dept,
                    ", kind: department, region: \"360726000\", owner_section: czj-",
                    sections[d % 5], "}\n");
    for (int u = 1; u <= 4; ++u) {
      absl::StrAppend(&yaml, "  - {code: \"", dept, "00", u, "\", name: 单位", dept, u,
                      ", kind: unit, parent: \"", dept, "\"}\n");
    }
  }
  absl::StrAppend(&yaml, "users:\n");
  for (int d = 0; d < 90; ++d) {
    for (int u = 1; u <= 4; ++u) {
      const std::string unit = absl::StrCat(801 + d, "00", u);
      absl::StrAppend(&yaml, "  - {id: f", unit, ", name: 填报", unit,
                      ", roles: [{role: unit_filer, org: \"", unit, "\"}]}\n");
    }
  }
  const auto start = std::chrono::steady_clock::now();
  auto r = Import(yaml, "generated.yaml");
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Counts(*r), "regions 3+0 orgs 457+0 users 360+0 grants 360+0");
  std::cout << "[ TIMING   ] generated county (457 orgs, 360 users, 360 grants) imported in " << ms
            << " ms on " << store_->dialect() << "\n";
  EXPECT_EQ(AllCodes(kNow).size(), 457u);
  store::OrgFilter units;
  units.parent_code = "890";
  EXPECT_EQ(orgs_->ListOrgs(units, kNow)->size(), 4u);
  const auto again_start = std::chrono::steady_clock::now();
  auto again = Import(yaml, "generated.yaml");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Counts(*again), "regions 0+3 orgs 0+457 users 0+360 grants 0+360");
  std::cout << "[ TIMING   ] re-import (all unchanged) in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - again_start)
                   .count()
            << " ms\n";
}

}  // namespace
}  // namespace bpm::org
