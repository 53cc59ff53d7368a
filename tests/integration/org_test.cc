// OrgService end to end: a real bpmd (subprocess, port 0, real plugins) on a
// fresh store, driven over gRPC and through the real bpmctl binary.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bpm/v1/org.grpc.pb.h"
#include "core/org/dates.h"
#include "tests/support/test_env.h"

namespace bpm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
namespace v1 = ::bpm::v1;

int64_t Day(const char* date) {
  auto ms = org::ParseChinaDate(date);
  EXPECT_TRUE(ms.has_value()) << date;
  return ms.value_or(0);
}

std::unique_ptr<grpc::ClientContext> Admin() { return testing::Context("admin", "org_admin", ""); }

class OrgServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bpmd_ = std::make_unique<testing::BpmdProcess>(testing::FreshStoreUrl(dir_.path(), "orgsvc"));
    ASSERT_TRUE(bpmd_->Start());
    stub_ = v1::OrgService::NewStub(bpmd_->channel());
  }

  // Imports examples/county-org.yaml.
  v1::ImportOrgsResponse ImportExample() {
    v1::ImportOrgsRequest req;
    req.set_text(testing::ReadFile(testing::SourceDir() + "/examples/county-org.yaml"));
    req.set_source_name("county-org.yaml");
    v1::ImportOrgsResponse resp;
    grpc::Status s = stub_->Import(Admin().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
    return resp;
  }

  // Runs bpmctl against this bpmd; returns stdout+stderr and sets *exit_code.
  std::string Bpmctl(const std::string& args, int* exit_code) {
    const std::string cmd =
        absl::StrCat("BPM_SERVER=", bpmd_->address(),
                     " BPM_USER=admin BPM_ROLES=org_admin BPM_ORG= ", testing::BinaryDir(), "/bin/bpmctl ",
                     args, " 2>&1");
    std::FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) {
      ADD_FAILURE() << "popen failed: " << cmd;
      return "";
    }
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int status = pclose(p);
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::BpmdProcess> bpmd_;
  std::unique_ptr<v1::OrgService::Stub> stub_;
};

TEST_F(OrgServiceTest, ImportThenReadBack) {
  v1::ImportOrgsResponse first = ImportExample();
  EXPECT_EQ(first.regions().written(), 3);
  EXPECT_EQ(first.orgs().written(), 45);
  EXPECT_EQ(first.users().written(), 29);
  EXPECT_EQ(first.grants().written(), 39);
  v1::ImportOrgsResponse second = ImportExample();
  EXPECT_EQ(second.orgs().written(), 0);
  EXPECT_EQ(second.orgs().unchanged(), 45);
  EXPECT_EQ(second.grants().unchanged(), 39);

  v1::GetOrgRequest get;
  get.set_code("906017");
  v1::GetOrgResponse org;
  ASSERT_TRUE(stub_->GetOrg(Admin().get(), get, &org).ok());
  EXPECT_EQ(org.org().name(), "安远县第一中学");
  EXPECT_EQ(org.org().parent_code(), "906");
  EXPECT_EQ(org.org().region_code(), "360726000");
  EXPECT_FALSE(org.org().dissolved());
  get.set_as_of_unix_ms(Day("2025-12-31"));
  grpc::Status s = stub_->GetOrg(Admin().get(), get, &org);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();

  v1::ListOrgsRequest list;
  list.set_parent_code("906");
  v1::ListOrgsResponse children;
  ASSERT_TRUE(stub_->ListOrgs(Admin().get(), list, &children).ok());
  std::vector<std::string> codes;
  for (const auto& o : children.orgs()) codes.push_back(o.code());
  EXPECT_THAT(codes, ElementsAre("906001", "906017", "906018", "906030"));

  v1::OrgHistoryRequest history;
  history.set_code("902004");
  v1::OrgHistoryResponse versions;
  ASSERT_TRUE(stub_->OrgHistory(Admin().get(), history, &versions).ok());
  ASSERT_EQ(versions.versions_size(), 2);
  EXPECT_EQ(versions.versions(0).parent_code(), "902");
  EXPECT_EQ(versions.versions(1).parent_code(), "907");
  EXPECT_EQ(versions.versions(1).valid_from_unix_ms(), Day("2026-07-01"));
}

TEST_F(OrgServiceTest, ResolveContextFollowsTheDate) {
  ImportExample();
  v1::ResolveContextRequest req;
  req.set_org_code("902004");
  req.set_as_of_unix_ms(Day("2026-06-30"));
  v1::ResolveContextResponse june, july;
  ASSERT_TRUE(stub_->ResolveContext(Admin().get(), req, &june).ok());
  req.set_as_of_unix_ms(Day("2026-07-01"));
  ASSERT_TRUE(stub_->ResolveContext(Admin().get(), req, &july).ok());
  ASSERT_EQ(june.context().ancestors_size(), 1);
  ASSERT_EQ(july.context().ancestors_size(), 1);
  EXPECT_EQ(june.context().ancestors(0).code(), "902");
  EXPECT_EQ(july.context().ancestors(0).code(), "907");
  EXPECT_EQ(june.context().owning_section().code(), "czj-sb");
  EXPECT_EQ(july.context().performance_section().code(), "czj-jx");
  EXPECT_EQ(july.context().leadership().code(), "czj-ld");
  EXPECT_EQ(july.context().as_of_unix_ms(), Day("2026-07-01"));
  std::vector<std::string> members;
  for (const auto& m : july.context().members()) {
    members.push_back(absl::StrCat(m.org(), "/", m.role(), ":", absl::StrJoin(m.users(), ",")));
  }
  EXPECT_THAT(members, ElementsAre("902004/unit_filer:song", "902004/unit_leader:song",
                                   "907/dept_reviewer:huang", "czj-sb/section_head:he",
                                   "czj-sb/section_reviewer:he", "czj-jx/perf_head:zhou",
                                   "czj-jx/perf_reviewer:zhao", "czj-ld/leader:wu"));
  req.set_org_code("999999");
  grpc::Status s = stub_->ResolveContext(Admin().get(), req, &july);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(OrgServiceTest, UsersAndGrants) {
  ImportExample();
  v1::PutUserRequest user;
  user.mutable_user()->set_id("qian");
  user.mutable_user()->set_name("钱多多");
  v1::PutUserResponse put;
  ASSERT_TRUE(stub_->PutUser(Admin().get(), user, &put).ok());
  EXPECT_EQ(put.user().name(), "钱多多");

  v1::GrantRoleRequest grant;
  grant.mutable_grant()->set_user_id("qian");
  grant.mutable_grant()->set_role("unit_filer");
  grant.mutable_grant()->set_org_code("906017");
  grant.mutable_grant()->set_from_unix_ms(Day("2026-02-01"));
  v1::GrantRoleResponse granted;
  grpc::Status s = stub_->GrantRole(Admin().get(), grant, &granted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // Granting it again overlaps.
  s = stub_->GrantRole(Admin().get(), grant, &granted);
  EXPECT_TRUE(s.ok()) << "same start replaces the end: " << s.error_message();
  grant.mutable_grant()->set_from_unix_ms(Day("2026-03-01"));
  s = stub_->GrantRole(Admin().get(), grant, &granted);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();

  v1::ListGrantsRequest list;
  list.set_org_code("906017");
  list.set_role("unit_filer");
  list.set_as_of_unix_ms(Day("2026-03-01"));
  v1::ListGrantsResponse grants;
  ASSERT_TRUE(stub_->ListGrants(Admin().get(), list, &grants).ok());
  std::vector<std::string> users;
  for (const auto& g : grants.grants()) users.push_back(g.user_id());
  EXPECT_THAT(users, ElementsAre("qian", "zhang"));

  v1::RevokeRoleRequest revoke;
  revoke.set_user_id("qian");
  revoke.set_role("unit_filer");
  revoke.set_org_code("906017");
  revoke.set_at_unix_ms(Day("2026-04-01"));
  v1::RevokeRoleResponse revoked;
  ASSERT_TRUE(stub_->RevokeRole(Admin().get(), revoke, &revoked).ok());
  list.set_as_of_unix_ms(Day("2026-04-01"));
  ASSERT_TRUE(stub_->ListGrants(Admin().get(), list, &grants).ok());
  ASSERT_EQ(grants.grants_size(), 1);
  EXPECT_EQ(grants.grants(0).user_id(), "zhang");
  list.set_history(true);
  list.set_user_id("qian");
  ASSERT_TRUE(stub_->ListGrants(Admin().get(), list, &grants).ok());
  ASSERT_EQ(grants.grants_size(), 1);
  EXPECT_EQ(grants.grants(0).to_unix_ms(), Day("2026-04-01"));
  s = stub_->RevokeRole(Admin().get(), revoke, &revoked);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
}

TEST_F(OrgServiceTest, ErrorsNameTheFieldOrLine) {
  ImportExample();
  v1::PutOrgRequest put;
  v1::Org* o = put.mutable_org();
  o->set_code("906099");
  o->set_name("某校");
  o->set_kind("dept");
  o->set_parent_code("906");
  o->set_region_code("360726000");
  v1::PutOrgResponse stored;
  grpc::Status s = stub_->PutOrg(Admin().get(), put, &stored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              HasSubstr("org.kind: 'dept' is not one of finance_bureau, finance_section, "
                        "department, unit"));
  o->set_kind("unit");
  ASSERT_TRUE(stub_->PutOrg(Admin().get(), put, &stored).ok());
  EXPECT_EQ(stored.org().code(), "906099");
  EXPECT_GT(stored.org().valid_from_unix_ms(), Day("2026-01-01"));  // 0 -> now

  v1::ImportOrgsRequest bad;
  bad.set_text("type,code,name,kind,parent\norg,906098,某校,unit,999\n");
  bad.set_source_name("bad.csv");
  v1::ImportOrgsResponse report;
  s = stub_->Import(Admin().get(), bad, &report);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "bad.csv:2: org 906098: parent '999' does not exist");
  bad.set_format("xlsx");
  s = stub_->Import(Admin().get(), bad, &report);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("format 'xlsx' is not one of yaml, csv"));

  grpc::ClientContext anonymous;
  v1::GetOrgRequest get;
  get.set_code("906017");
  v1::GetOrgResponse org;
  s = stub_->GetOrg(&anonymous, get, &org);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(OrgServiceTest, BpmctlOrgCommands) {
  int code = -1;
  std::string out = Bpmctl(
      absl::StrCat("org import --dry-run ", testing::SourceDir(), "/examples/county-org.yaml"),
      &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("dry run: nothing was written"));
  out =
      Bpmctl(absl::StrCat("org import ", testing::SourceDir(), "/examples/county-org.yaml"), &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("orgs     45"));

  out = Bpmctl("org show 905002001 --as-of 2026-10-01", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("competent level 1    905002"));
  EXPECT_THAT(out, HasSubstr("competent level 2    905 "));
  EXPECT_THAT(out, HasSubstr("owning section       czj-ny"));
  EXPECT_THAT(out, HasSubstr("performance section  czj-jx"));
  EXPECT_THAT(out, HasSubstr("905002001  unit_filer"));

  out = Bpmctl("org tree 906", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("906  安远县教育局  [department]  归口 czj-jkw\n"));
  EXPECT_THAT(out, HasSubstr("└─ 906030  安远县欣山镇中心学校  [unit]\n"));
  EXPECT_THAT(out, HasSubstr("   └─ 906030001  安远县欣山镇东门小学  [unit]\n"));

  out = Bpmctl("org grants --org 906018 --history", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("liu   unit_filer   906018  2026-01-01  2026-09-01"));

  out = Bpmctl("org grant zhang unit_filer 906017 --from 2026-13-01", &code);
  EXPECT_EQ(code, 2) << out;
  EXPECT_THAT(out, HasSubstr("--from: '2026-13-01' is not a date"));
  out = Bpmctl("org show 999999", &code);
  EXPECT_EQ(code, 1) << out;
  EXPECT_THAT(out, HasSubstr("NOT_FOUND"));
  EXPECT_THAT(out, Not(HasSubstr("UNIMPLEMENTED")));
}

}  // namespace
}  // namespace bpm
