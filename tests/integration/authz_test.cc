// The authorization matrix (core/server/authz.h): every RPC bpmd serves,
// called over real gRPC by every kind of caller — each role at each org
// scope — with the answer asserted: allowed (any status but
// PERMISSION_DENIED) or denied (PERMISSION_DENIED).
//
// The RPCs are enumerated from the compiled-in proto descriptors, not from
// a list kept by hand: a new RPC without a row here fails
// EveryServedRpcHasARow, and one without a policy entry in authz.cc fails
// EveryServedRpcHasAPolicy (and is refused by bpmd at run time).
//
// The data: the county org model of examples/county-org.yaml; instance I in
// its first state and instance P published (with a disclosure document D),
// both owned by unit 906017 (安远县第一中学) of department 906 (教育局),
// which finance business section czj-jkw (教科文股) owns. Requests that an
// allowed caller could use to change something carry a stale
// expected_version or an invalid field, so the matrix changes nothing and
// the order of the calls does not matter.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bpm/v1/agency.grpc.pb.h"
#include "bpm/v1/bpm.grpc.pb.h"
#include "bpm/v1/org.grpc.pb.h"
#include "bpm/v1/perf.grpc.pb.h"
#include "core/server/authz.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/support/test_env.h"

namespace bpm {
namespace {

namespace v1 = ::bpm::v1;
namespace pb = ::google::protobuf;
using testing::Who;

// Every kind of caller, by the name the matrix uses.
const std::map<std::string, Who>& Principals() {
  static const auto* p = new std::map<std::string, Who>{
      {"admin", {"root", "workflow_admin", "czj"}},           // 系统管理员
      {"org_admin", {"oa", "org_admin", ""}},                 // keeps the org model
      {"unit", {"zhang", "unit_filer", "906017"}},            // the owning unit
      {"unit_peer", {"yang", "unit_filer", "906018"}},        // another unit of 906
      {"dept", {"li", "authority_reviewer", "906"}},          // its department
      {"dept_other", {"huang", "authority_reviewer", "907"}}, // another department
      {"section", {"wang", "finance_reviewer", "czj-jkw"}},   // owns 906
      {"section_other", {"sun", "finance_reviewer", "czj-sb"}},  // owns 902, 907
      {"perf", {"zhao", "perf_head", "czj-jx"}},              // 绩效管理股: the region
      {"agency", {"ag-huaxin", "agency", "ag-huaxin"}},       // a third-party agency
      {"public", {"anon", "public", ""}},                     // 社会公众
      {"no_org", {"drifter", "unit_filer", ""}},              // staff without an org
  };
  return *p;
}

std::set<std::string> All() {
  std::set<std::string> out;
  for (const auto& [name, who] : Principals()) out.insert(name);
  return out;
}
std::set<std::string> Minus(std::set<std::string> s, const std::set<std::string>& drop) {
  for (const auto& d : drop) s.erase(d);
  return s;
}

// The gates as sets of principals (core/server/authz.h).
const std::set<std::string> kEveryone = All();
const std::set<std::string> kSelf = Minus(All(), {"public"});
const std::set<std::string> kStaff = Minus(All(), {"public", "agency"});
const std::set<std::string> kScope906017 = {"admin", "unit", "dept", "section", "perf"};
const std::set<std::string> kFinance = {"admin", "section", "section_other", "perf"};
const std::set<std::string> kEngagement = {"admin", "section", "section_other", "perf", "agency"};
const std::set<std::string> kOrgAdmin = {"admin", "org_admin"};
const std::set<std::string> kAdmin = {"admin"};
const std::set<std::string> kAgency = {"agency"};

struct Row {
  const char* method;
  // Text-format request; $I, $P, $T, $D, $C, $G, $R are replaced by instance
  // I, instance P, I's open task, P's disclosure document, a task claimed by
  // zhang, one zhang claimed and delegated to yang, and an authority review.
  const char* request;
  std::set<std::string> allowed;
};

const std::vector<Row>& Rows() {
  static const auto* rows = new std::vector<Row>{
      // ---- definitions: read by staff; changed by workflow_admin only
      {"/bpm.v1.DefinitionService/Validate", R"(yaml: "key: x" source_name: "x.yaml")", kStaff},
      {"/bpm.v1.DefinitionService/Deploy", R"(yaml: "key: [" source_name: "x.yaml")", kAdmin},
      {"/bpm.v1.DefinitionService/Get", R"(key: "target-filing")", kStaff},
      {"/bpm.v1.DefinitionService/List", "", kStaff},
      {"/bpm.v1.DefinitionService/SetAlias", R"(key: "target-filing" version: 99)", kAdmin},
      {"/bpm.v1.DefinitionService/Diff",
       R"(key: "target-filing" from_version: 1 to_version: 1)", kStaff},
      {"/bpm.v1.DefinitionService/Graph", R"(key: "target-filing")", kStaff},
      // With an instance it shows where the instance is: its scope only.
      {"/bpm.v1.DefinitionService/Graph", R"(instance_id: "$I")", kScope906017},
      {"/bpm.v1.DefinitionService/Migrate",
       R"(plan { key: "target-filing" from_version: 1 to_version: 1 } dry_run: true)", kAdmin},

      // ---- instances: the owning org's scope
      {"/bpm.v1.InstanceService/Start",
       R"(definition_key: "target-filing" subject_ref: "M-1" org: "906017")", kScope906017},
      {"/bpm.v1.InstanceService/Get", R"(id: "$I")", kScope906017},
      {"/bpm.v1.InstanceService/List", "", kStaff},  // filtered: ListShowsOnlyTheScope
      {"/bpm.v1.InstanceService/GetHistory", R"(instance_id: "$I")", kScope906017},
      {"/bpm.v1.InstanceService/ListDocuments", R"(instance_id: "$P")",
       Minus(kScope906017, {}) /* + public, below */},
      {"/bpm.v1.InstanceService/GetDocument", R"(id: "$D")", {}},
      // 撤销 is the initiator's (the engine checks) within the scope.
      {"/bpm.v1.InstanceService/Cancel", R"(instance_id: "$I" expected_version: 999)",
       kScope906017},
      {"/bpm.v1.InstanceService/Withdraw", R"(instance_id: "$I" expected_version: 999)",
       kScope906017},
      {"/bpm.v1.InstanceService/Comment",
       R"(instance_id: "$I" comment: "意见" expected_version: 999)", kScope906017},
      {"/bpm.v1.InstanceService/Urge", R"(instance_id: "$I" expected_version: 999)",
       kScope906017},
      {"/bpm.v1.InstanceService/Cc",
       R"(instance_id: "$I" users: "li" expected_version: 999)", kScope906017},
      {"/bpm.v1.InstanceService/Preview", R"(definition_key: "target-filing" org: "906017")",
       kScope906017},
      {"/bpm.v1.InstanceService/Suspend", R"(instance_id: "$I" expected_version: 999)", kAdmin},
      {"/bpm.v1.InstanceService/Resume", R"(instance_id: "$I" expected_version: 999)", kAdmin},
      {"/bpm.v1.InstanceService/Terminate", R"(instance_id: "$I" expected_version: 999)",
       kAdmin},
      {"/bpm.v1.InstanceService/Jump",
       R"(instance_id: "$I" target_state: "finance_review" expected_version: 999)", kAdmin},

      // ---- reports: staff; counted over their scope only (ReportsCountOnlyTheScope)
      {"/bpm.v1.ReportService/Get", "", kStaff},
      // Published snapshots: the public sees all, staff their scope.
      {"/bpm.v1.ReportService/ListDisclosures", "", Minus(All(), {"agency"})},
      // 考核: staff, over their scope (a year is required: INVALID_ARGUMENT without).
      {"/bpm.v1.ReportService/Scorecard", "", kStaff},

      // ---- targets: reads the filing and, for copies, other filings
      // (redacted outside the scope)
      {"/bpm.v1.TargetService/CheckQuality", R"(instance_id: "$I")", kScope906017},
      // 绩效目标调整 and the versions: the filing's scope
      {"/bpm.v1.TargetService/Adjust", R"(instance_id: "$I" reason: "预算调整")", kScope906017},
      {"/bpm.v1.TargetService/Versions", R"(instance_id: "$I")", kScope906017},

      // ---- tasks: the caller's own; a task only by whom it is assigned to
      {"/bpm.v1.TaskService/Inbox", "", kSelf},
      {"/bpm.v1.TaskService/Act", R"(task_id: "$T" action: "submit" expected_version: 999)",
       {"unit"}},
      // $R is for role authority_reviewer with no org: only a holder of the
      // role whose scope covers the instance (906's, not 907's).
      {"/bpm.v1.TaskService/Act", R"(task_id: "$R" action: "approve" expected_version: 999)",
       {"dept"}},
      {"/bpm.v1.TaskService/Claim", R"(task_id: "$T" expected_version: 999)", {"unit"}},
      {"/bpm.v1.TaskService/Claim", R"(task_id: "$R" expected_version: 999)", {"dept"}},
      // $C is claimed by zhang; $G is claimed by zhang and delegated to yang.
      {"/bpm.v1.TaskService/Unclaim", R"(task_id: "$C" expected_version: 999)", {"unit"}},
      {"/bpm.v1.TaskService/Transfer",
       R"(task_id: "$T" target_user: "yang" expected_version: 999)", {"unit"}},
      {"/bpm.v1.TaskService/Delegate",
       R"(task_id: "$C" target_user: "yang" expected_version: 999)", {"unit"}},
      {"/bpm.v1.TaskService/ResolveDelegation", R"(task_id: "$G" expected_version: 999)",
       {"unit", "unit_peer"}},
      {"/bpm.v1.TaskService/SetProxy", R"(proxy_user: "")", kSelf},
      {"/bpm.v1.TaskService/ListProxies", "", kSelf},
      {"/bpm.v1.TaskService/RemoveProxy", R"(id: "no-such-proxy")", kSelf},
      {"/bpm.v1.TaskService/ListNotifications", "", kSelf},

      // ---- campaigns (一对多下发): finance
      {"/bpm.v1.CampaignService/Start", R"(title: "t" definition_key: "target-filing")",
       kFinance},
      {"/bpm.v1.CampaignService/Get", R"(id: "no-such-campaign")", kFinance},
      {"/bpm.v1.CampaignService/List", "", kFinance},
      {"/bpm.v1.CampaignService/Urge", R"(id: "no-such-campaign")", kFinance},
      {"/bpm.v1.CampaignService/ExtendDeadline", R"(id: "no-such-campaign")", kFinance},

      // ---- the org model: read by staff, kept by org_admin
      {"/bpm.v1.OrgService/PutRegion", R"(region { code: "bad" })", kOrgAdmin},
      {"/bpm.v1.OrgService/ListRegions", "", kStaff},
      {"/bpm.v1.OrgService/PutOrg", R"(org { code: "x" kind: "dept" })", kOrgAdmin},
      {"/bpm.v1.OrgService/GetOrg", R"(code: "906017")", kStaff},
      {"/bpm.v1.OrgService/ListOrgs", "", kStaff},
      {"/bpm.v1.OrgService/OrgHistory", R"(code: "906017")", kStaff},
      {"/bpm.v1.OrgService/PutUser", R"(user { id: "" })", kOrgAdmin},
      {"/bpm.v1.OrgService/GrantRole", R"(grant { user_id: "" })", kOrgAdmin},
      {"/bpm.v1.OrgService/RevokeRole",
       R"(user_id: "nobody" role: "unit_filer" org_code: "906017")", kOrgAdmin},
      {"/bpm.v1.OrgService/ListGrants", "", kStaff},
      {"/bpm.v1.OrgService/Import", R"(text: "regions: [" format: "yaml" dry_run: true)",
       kOrgAdmin},
      {"/bpm.v1.OrgService/ResolveContext", R"(org_code: "906017")", kStaff},

      // ---- agencies: finance registers and engages; an agency works its own
      {"/bpm.v1.AgencyService/RegisterAgency", R"(agency { id: "" })", kFinance},
      {"/bpm.v1.AgencyService/GetAgency", R"(id: "ag-huaxin")", kEngagement},
      {"/bpm.v1.AgencyService/ListAgencies", "", kEngagement},
      {"/bpm.v1.AgencyService/Engage", R"(engagement { agency_id: "" })", kFinance},
      {"/bpm.v1.AgencyService/GetEngagement", R"(id: "no-such-engagement")", kEngagement},
      {"/bpm.v1.AgencyService/ListEngagements", "", kEngagement},
      {"/bpm.v1.AgencyService/FetchAndLock", R"(topics: "key_evaluation")", kAgency},
      {"/bpm.v1.AgencyService/ExtendLock", R"(task_id: "no-such-task" lock_token: "x")",
       kAgency},
      {"/bpm.v1.AgencyService/Complete", R"(task_id: "no-such-task" lock_token: "x")", kAgency},
      {"/bpm.v1.AgencyService/ReportFailure", R"(task_id: "no-such-task" lock_token: "x")",
       kAgency},
      {"/bpm.v1.AgencyService/ListIncidents", "", kFinance},
      {"/bpm.v1.AgencyService/ResolveIncident", R"(id: "no-such-incident" action: "retry")",
       kFinance},
      {"/bpm.v1.AgencyService/ListOutbox", "", kFinance},
      {"/bpm.v1.AgencyService/ReplayOutbox", R"(id: "no-such-message")", kFinance},

      // ---- gRPC's own: liveness, no data
      {"/grpc.health.v1.Health/Check", "", kEveryone},
  };
  return *rows;
}

// Documents: the scope, and the public for published disclosures.
std::set<std::string> DocumentReaders() {
  std::set<std::string> s = kScope906017;
  s.insert("public");
  return s;
}

// Services in the descriptors that bpmd does not serve: it is their client.
const std::set<std::string> kNotServed = {
    "bpm.v1.AgencyEndpoint",  // served by agencies (push delivery)
    "bpm.plugin.v1.Stage",    // served by remote stage plugins
};

// Server-streaming methods, checked by their policy entry only.
const std::set<std::string> kStreaming = {"/grpc.health.v1.Health/Watch"};

// Every RPC of the API, from the compiled-in descriptors.
std::vector<std::string> ServedMethods() {
  // Reference one type of each file so its descriptor is in the pool.
  const pb::FileDescriptor* files[] = {
      v1::Instance::descriptor()->file(), v1::Org::descriptor()->file(),
      v1::Agency::descriptor()->file(), v1::TargetCopy::descriptor()->file(),
      grpc::health::v1::HealthCheckRequest::descriptor()->file()};
  std::vector<std::string> out;
  for (const pb::FileDescriptor* f : files) {
    for (int i = 0; i < f->service_count(); ++i) {
      const pb::ServiceDescriptor* s = f->service(i);
      if (kNotServed.count(s->full_name())) continue;
      for (int j = 0; j < s->method_count(); ++j) {
        out.push_back("/" + s->full_name() + "/" + s->method(j)->name());
      }
    }
  }
  return out;
}

class AuthzTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    bpmd_ = new testing::BpmdProcess(testing::FreshStoreUrl(dir_->path(), "authz"));
    ASSERT_TRUE(bpmd_->Start());
    testing::ImportCountyOrgs(bpmd_->channel());
    auto instances = v1::InstanceService::NewStub(bpmd_->channel());
    auto tasks = v1::TaskService::NewStub(bpmd_->channel());
    const Who& unit = Principals().at("unit");

    auto start = [&](const std::string& subject) {
      v1::StartInstanceRequest req;
      req.set_definition_key("target-filing");
      req.set_subject_ref(subject);
      req.set_org("906017");
      v1::StartInstanceResponse resp;
      grpc::Status s = instances->Start(Ctx(unit).get(), req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      return resp.instance();
    };
    auto act = [&](const Who& who, v1::Instance& inst, const std::string& action,
                   const std::string& payload_json) {
      ASSERT_EQ(inst.open_tasks_size(), 1) << inst.DebugString();
      v1::ActRequest req;
      req.set_task_id(inst.open_tasks(0).id());
      req.set_action(action);
      if (!payload_json.empty()) {
        ASSERT_TRUE(pb::util::JsonStringToMessage(payload_json, req.mutable_payload()).ok());
      }
      v1::ActResponse resp;
      grpc::Status s = tasks->Act(Ctx(who).get(), req, &resp);
      ASSERT_TRUE(s.ok()) << action << ": " << s.error_message();
      inst = resp.instance();
    };

    v1::Instance i = start("P-2027-906017-001");
    ids_["$I"] = i.id();
    ids_["$T"] = i.open_tasks(0).id();

    auto operate = [&](const std::string& method_name, const std::string& task,
                       const std::string& target) {
      v1::TaskOperationRequest req;
      req.set_task_id(task);
      req.set_target_user(target);
      v1::ActResponse resp;
      auto ctx = Ctx(unit);
      grpc::Status s = method_name == "claim" ? tasks->Claim(ctx.get(), req, &resp)
                                              : tasks->Delegate(ctx.get(), req, &resp);
      ASSERT_TRUE(s.ok()) << method_name << ": " << s.error_message();
    };
    const std::string claimed = start("P-2027-906017-003").open_tasks(0).id();
    operate("claim", claimed, "");
    ids_["$C"] = claimed;
    const std::string delegated = start("P-2027-906017-004").open_tasks(0).id();
    operate("claim", delegated, "");
    operate("delegate", delegated, "yang");
    ids_["$G"] = delegated;

    v1::Instance r = start("P-2027-906017-005");
    act(unit, r, "submit", testing::ReadFile(testing::SourceDir() + "/examples/target.json"));
    ids_["$R"] = r.open_tasks(0).id();
    review_instance_ = r.id();
    EXPECT_EQ(r.open_tasks(0).assignee_org(), "");  // role-wide: the scope decides

    // P: filed, reviewed, approved and published (信息公开).
    v1::Instance p = start("P-2027-906017-002");
    act(unit, p, "submit", testing::ReadFile(testing::SourceDir() + "/examples/target.json"));
    act(Principals().at("dept"), p, "approve", "");
    act(Principals().at("section"), p, "approve", R"({"grade": "良"})");
    act({"zhao", "performance_section", "czj-jx"}, p, "publish", "");
    ASSERT_EQ(p.state(), "done") << p.DebugString();
    ids_["$P"] = p.id();
    v1::ListDocumentsRequest dreq;
    dreq.set_instance_id(p.id());
    v1::ListDocumentsResponse docs;
    ASSERT_TRUE(instances->ListDocuments(Ctx(unit).get(), dreq, &docs).ok());
    ASSERT_EQ(docs.documents_size(), 1);
    ASSERT_EQ(docs.documents(0).kind(), "disclosure");
    ids_["$D"] = docs.documents(0).id();
  }
  static void TearDownTestSuite() {
    delete bpmd_;
    delete dir_;
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(const Who& who) {
    return testing::Context(who.user, who.roles, who.org);
  }

  // Calls method as who with the request in text format.
  static grpc::Status Call(const std::string& method, const std::string& text, const Who& who) {
    const std::string dotted = method.substr(1, method.rfind('/') - 1) + "." +
                               method.substr(method.rfind('/') + 1);
    const pb::MethodDescriptor* m = pb::DescriptorPool::generated_pool()->FindMethodByName(dotted);
    if (m == nullptr) return grpc::Status(grpc::StatusCode::INTERNAL, "no descriptor " + dotted);
    const pb::Message* proto =
        pb::MessageFactory::generated_factory()->GetPrototype(m->input_type());
    std::unique_ptr<pb::Message> req(proto->New());
    std::unique_ptr<pb::Message> resp(
        pb::MessageFactory::generated_factory()->GetPrototype(m->output_type())->New());
    std::string filled = text;
    for (const auto& [key, id] : ids_) {
      for (size_t at; (at = filled.find(key)) != std::string::npos;) filled.replace(at, 2, id);
    }
    if (!pb::TextFormat::ParseFromString(filled, req.get())) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "bad request text: " + filled);
    }
    // The completion-queue API, not the callback one: TSan sees no
    // synchronisation in gRPC's callback threads (tests/tsan.supp).
    grpc::TemplatedGenericStub<pb::Message, pb::Message> stub(bpmd_->channel());
    auto ctx = Ctx(who);
    grpc::CompletionQueue cq;
    auto call = stub.PrepareUnaryCall(ctx.get(), method, *req, &cq);
    call->StartCall();
    grpc::Status status;
    call->Finish(resp.get(), &status, reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok) || tag != reinterpret_cast<void*>(1) || !ok) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "the completion queue failed the call");
    }
    return status;
  }

  static testing::TempDir* dir_;
  static testing::BpmdProcess* bpmd_;
  static std::map<std::string, std::string> ids_;
  static std::string review_instance_;  // the instance of $R
};

testing::TempDir* AuthzTest::dir_ = nullptr;
testing::BpmdProcess* AuthzTest::bpmd_ = nullptr;
std::map<std::string, std::string> AuthzTest::ids_;
std::string AuthzTest::review_instance_;

TEST_F(AuthzTest, EveryServedRpcHasARow) {
  std::set<std::string> covered;
  for (const Row& row : Rows()) covered.insert(row.method);
  for (const std::string& method : ServedMethods()) {
    if (kStreaming.count(method)) continue;
    EXPECT_TRUE(covered.count(method)) << method << " has no row in the authorization matrix";
  }
}

TEST_F(AuthzTest, EveryServedRpcHasAPolicy) {
  for (const std::string& method : ServedMethods()) {
    EXPECT_NE(server::PolicyFor(method), nullptr) << method << " has no authorization policy";
  }
  // And nothing in the table that bpmd does not serve (a typo, a removed RPC).
  const std::vector<std::string> served = ServedMethods();
  for (const server::MethodPolicy& p : server::Policies()) {
    const std::string method = p.method;
    if (method.rfind("/grpc.reflection.", 0) == 0) continue;  // not in these descriptors
    EXPECT_NE(std::find(served.begin(), served.end(), method), served.end())
        << method << " is in the policy table but not served";
  }
}

TEST_F(AuthzTest, EveryRoleAtEveryScopeGetsItsAnswer) {
  for (const Row& row : Rows()) {
    std::set<std::string> allowed = row.allowed;
    const std::string method = row.method;
    if (method == "/bpm.v1.InstanceService/ListDocuments" ||
        method == "/bpm.v1.InstanceService/GetDocument") {
      allowed = DocumentReaders();
    }
    for (const auto& [name, who] : Principals()) {
      const grpc::Status s = Call(method, row.request, who);
      ASSERT_NE(s.error_code(), grpc::StatusCode::INTERNAL) << method << ": " << s.error_message();
      ASSERT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << method << " as " << name << ": " << s.error_message();
      if (allowed.count(name)) {
        EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
            << method << " " << row.request << ": " << name << " should be allowed: "
            << s.error_message();
      } else {
        EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
            << method << " " << row.request << ": " << name << " should be denied, got "
            << s.error_code() << " " << s.error_message();
      }
    }
  }
}

// A method without a policy is refused, whoever calls: deny by default.
TEST_F(AuthzTest, NoPolicyMeansDenied) {
  EXPECT_EQ(server::PolicyFor("/bpm.v1.InstanceService/Delete"), nullptr);
  EXPECT_EQ(server::PolicyFor("/bpm.v1.InstanceService/get"), nullptr);
  EXPECT_NE(server::PolicyFor("/bpm.v1.InstanceService/Get"), nullptr);
}

// List answers hold only instances in the caller's scope.
TEST_F(AuthzTest, ListShowsOnlyTheScope) {
  auto instances = v1::InstanceService::NewStub(bpmd_->channel());
  for (const auto& [name, who] : Principals()) {
    if (!kStaff.count(name)) continue;
    v1::ListInstancesRequest req;
    req.set_page_size(500);
    v1::ListInstancesResponse resp;
    grpc::Status s = instances->List(Ctx(who).get(), req, &resp);
    ASSERT_TRUE(s.ok()) << name << ": " << s.error_message();
    std::set<std::string> ids;
    for (const auto& inst : resp.instances()) ids.insert(inst.id());
    const bool sees = kScope906017.count(name) > 0;
    EXPECT_EQ(ids.count(ids_["$I"]) > 0, sees) << name;
    EXPECT_EQ(ids.count(ids_["$P"]) > 0, sees) << name;
    if (!sees) {
      EXPECT_EQ(resp.instances_size(), 0) << name;
    }
    // Asking for the org by name does not widen it.
    req.set_org("906017");
    ASSERT_TRUE(instances->List(Ctx(who).get(), req, &resp).ok());
    EXPECT_EQ(resp.instances_size() > 0, sees) << name;
  }
}

// The public reads published disclosures and nothing else of an instance.
TEST_F(AuthzTest, ThePublicSeesOnlyDisclosures) {
  auto instances = v1::InstanceService::NewStub(bpmd_->channel());
  const Who& anon = Principals().at("public");
  v1::ListDocumentsRequest req;
  req.set_instance_id(ids_["$P"]);
  v1::ListDocumentsResponse docs;
  ASSERT_TRUE(instances->ListDocuments(Ctx(anon).get(), req, &docs).ok());
  ASSERT_EQ(docs.documents_size(), 1);
  EXPECT_EQ(docs.documents(0).kind(), "disclosure");
  req.set_instance_id(ids_["$I"]);  // nothing published yet
  ASSERT_TRUE(instances->ListDocuments(Ctx(anon).get(), req, &docs).ok());
  EXPECT_EQ(docs.documents_size(), 0);
  v1::GetInstanceRequest get;
  get.set_id(ids_["$P"]);
  v1::GetInstanceResponse inst;
  EXPECT_EQ(instances->Get(Ctx(anon).get(), get, &inst).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

// A task for a role with no org shows in the inboxes of the role's holders
// whose scope covers the instance, and no one else's.
TEST_F(AuthzTest, ARoleWideTaskShowsOnlyWithinTheScope) {
  auto tasks = v1::TaskService::NewStub(bpmd_->channel());
  auto has_r = [&](const Who& who) {
    v1::InboxRequest req;
    req.set_page_size(500);
    v1::InboxResponse resp;
    grpc::Status s = tasks->Inbox(Ctx(who).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const auto& t : resp.tasks()) {
      if (t.id() == ids_["$R"]) return true;
    }
    return false;
  };
  EXPECT_TRUE(has_r(Principals().at("dept")));
  EXPECT_FALSE(has_r(Principals().at("dept_other")));
  EXPECT_FALSE(has_r({"zhou", "authority_reviewer", ""}));
  EXPECT_TRUE(has_r({"ma", "authority_reviewer", "czj-jkw"}));  // the owning section's

  // So does an urge (催办) sent to the role.
  auto instances = v1::InstanceService::NewStub(bpmd_->channel());
  v1::InstanceOperationRequest urge;
  urge.set_instance_id(review_instance_);
  urge.set_comment("请尽快审核");
  v1::ActResponse urged;
  grpc::Status s = instances->Urge(Ctx(Principals().at("unit")).get(), urge, &urged);
  ASSERT_TRUE(s.ok()) << s.error_message();
  auto urged_about_r = [&](const Who& who) {
    v1::ListNotificationsRequest req;
    req.set_page_size(500);
    v1::ListNotificationsResponse resp;
    EXPECT_TRUE(tasks->ListNotifications(Ctx(who).get(), req, &resp).ok());
    for (const auto& n : resp.notifications()) {
      if (n.instance_id() == review_instance_ && n.kind() == "urge") return true;
    }
    return false;
  };
  EXPECT_TRUE(urged_about_r(Principals().at("dept")));
  EXPECT_FALSE(urged_about_r(Principals().at("dept_other")));
}

// The denial says what was refused, to whom, and why.
TEST_F(AuthzTest, DenialsNameTheCallerAndTheReason) {
  grpc::Status s = Call("/bpm.v1.InstanceService/Get", R"(id: "$I")", Principals().at("dept_other"));
  EXPECT_EQ(s.error_message(),
            "instance " + ids_["$I"] +
                ": org 906017 is outside the scope of user huang (roles authority_reviewer; org 907)");
  s = Call("/bpm.v1.DefinitionService/Deploy", R"(yaml: "key: x")", Principals().at("perf"));
  EXPECT_EQ(s.error_message(),
            "/bpm.v1.DefinitionService/Deploy: denied to user zhao (roles perf_head; org czj-jx): "
            "needs role workflow_admin");
}

}  // namespace
}  // namespace bpm
