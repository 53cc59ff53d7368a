// End to end: the real bpmd (subprocess, port 0, real plugin .so files, the
// bundled workflows) driven over gRPC on loopback. Runs on SQLite (label
// integration) and on the private MariaDB (labels integration, mysql).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <grpcpp/generic/generic_stub.h>

#include "bpm/v1/bpm.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/support/test_env.h"

namespace bpm {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace v1 = ::bpm::v1;

using testing::Who;
const Who kUnit{"zhang", "unit_filer", "906017"};
const Who kAuthority{"li", "authority_reviewer", "906"};
const Who kFinance{"wang", "finance_reviewer", "czj"};
const Who kPerformance{"zhao", "performance_section", "czj"};
const Who kStranger{"mallory", "unit_filer", "999999"};

google::protobuf::Struct Json(const std::string& text) {
  google::protobuf::Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(text, &s);
  EXPECT_TRUE(status.ok()) << text;
  return s;
}

const char* const kTargetPayload = testing::kSoundTargetForm;

class ChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::FreshStoreUrl(dir_.path(), "chain");
    bpmd_ = std::make_unique<testing::BpmdProcess>(url_);
    ASSERT_TRUE(bpmd_->Start());
    testing::ImportCountyOrgs(bpmd_->channel());  // finance (czj) reviews the region
    Connect();
  }

  void Connect() {
    instances_ = v1::InstanceService::NewStub(bpmd_->channel());
    tasks_ = v1::TaskService::NewStub(bpmd_->channel());
    definitions_ = v1::DefinitionService::NewStub(bpmd_->channel());
  }

  grpc::Status Start(const Who& who, v1::Instance* out, const std::string& subject = "P-2026-001",
                     const std::string& key = "") {
    v1::StartInstanceRequest req;
    req.set_definition_key("target-filing");
    req.set_subject_ref(subject);
    req.set_org(kUnit.org);
    req.set_idempotency_key(key);
    v1::StartInstanceResponse resp;
    auto ctx = testing::Context(who.user, who.roles, who.org);
    grpc::Status s = instances_->Start(ctx.get(), req, &resp);
    *out = resp.instance();
    return s;
  }

  // The single open task of the instance, or fails.
  v1::Task OpenTask(const std::string& instance_id) {
    v1::GetInstanceRequest req;
    req.set_id(instance_id);
    v1::GetInstanceResponse resp;
    auto ctx = testing::Context("observer", "workflow_admin", "");
    grpc::Status s = instances_->Get(ctx.get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.instance().open_tasks_size(), 1) << resp.instance().DebugString();
    return resp.instance().open_tasks_size() ? resp.instance().open_tasks(0) : v1::Task();
  }

  grpc::Status Act(const Who& who, const std::string& task, const std::string& action,
                   const std::string& payload_json, const std::string& comment,
                   v1::Instance* out, int64_t expected_version = 0,
                   const std::string& key = "") {
    v1::ActRequest req;
    req.set_task_id(task);
    req.set_action(action);
    if (!payload_json.empty()) *req.mutable_payload() = Json(payload_json);
    req.set_comment(comment);
    req.set_expected_version(expected_version);
    req.set_idempotency_key(key);
    v1::ActResponse resp;
    auto ctx = testing::Context(who.user, who.roles, who.org);
    grpc::Status s = tasks_->Act(ctx.get(), req, &resp);
    if (out != nullptr) *out = resp.instance();
    return s;
  }

  // Acts on the instance's single open task and expects success.
  v1::Instance Step(const Who& who, const std::string& instance_id, const std::string& action,
                    const std::string& payload = "", const std::string& comment = "") {
    v1::Task t = OpenTask(instance_id);
    v1::Instance out;
    grpc::Status s = Act(who, t.id(), action, payload, comment, &out);
    EXPECT_TRUE(s.ok()) << action << ": " << s.error_message();
    return out;
  }

  std::vector<v1::Event> History(const std::string& id) {
    v1::GetHistoryRequest req;
    req.set_instance_id(id);
    v1::GetHistoryResponse resp;
    auto ctx = testing::Context("observer", "workflow_admin", "");
    EXPECT_TRUE(instances_->GetHistory(ctx.get(), req, &resp).ok());
    return {resp.events().begin(), resp.events().end()};
  }

  testing::TempDir dir_;
  std::string url_;
  std::unique_ptr<testing::BpmdProcess> bpmd_;
  std::unique_ptr<v1::InstanceService::Stub> instances_;
  std::unique_ptr<v1::TaskService::Stub> tasks_;
  std::unique_ptr<v1::DefinitionService::Stub> definitions_;
};

TEST_F(ChainTest, WholeChainWithReturnAndRectificationLoop) {
  v1::Instance inst;
  ASSERT_TRUE(Start(kUnit, &inst).ok());
  EXPECT_EQ(inst.state(), "draft");
  EXPECT_EQ(inst.status(), "running");
  EXPECT_EQ(inst.definition_version(), 1);

  // The unit sees its task in its inbox; the stranger from another org does not.
  {
    v1::InboxRequest req;
    v1::InboxResponse resp;
    auto ctx = testing::Context(kUnit.user, kUnit.roles, kUnit.org);
    ASSERT_TRUE(tasks_->Inbox(ctx.get(), req, &resp).ok());
    ASSERT_EQ(resp.tasks_size(), 1);
    EXPECT_EQ(resp.tasks(0).instance_id(), inst.id());
    EXPECT_EQ(resp.tasks(0).subject_ref(), "P-2026-001");
    EXPECT_THAT(resp.tasks(0).actions(), ::testing::ElementsAre("submit", "check"));
    auto other = testing::Context(kStranger.user, kStranger.roles, kStranger.org);
    v1::InboxResponse none;
    ASSERT_TRUE(tasks_->Inbox(other.get(), req, &none).ok());
    EXPECT_EQ(none.tasks_size(), 0);
  }

  inst = Step(kUnit, inst.id(), "submit", kTargetPayload);
  EXPECT_EQ(inst.state(), "authority_review");
  inst = Step(kAuthority, inst.id(), "return", "", "指标值不够细化，请补充");
  EXPECT_EQ(inst.state(), "draft");  // returned to the department
  inst = Step(kUnit, inst.id(), "submit", kTargetPayload);
  inst = Step(kAuthority, inst.id(), "approve", "", "同意");
  EXPECT_EQ(inst.state(), "finance_review");
  inst = Step(kFinance, inst.id(), "approve", R"({"grade": "中"})", "需整改");
  EXPECT_EQ(inst.state(), "rectification");
  EXPECT_EQ(inst.variables().fields().at("grade").string_value(), "中");
  v1::Task rect = OpenTask(inst.id());
  EXPECT_EQ(rect.name(), "submit_evidence");
  EXPECT_GT(rect.due_unix_ms(), inst.updated_unix_ms());
  inst = Step(kUnit, inst.id(), "submit", R"({"evidence": "已补充产出指标"})");
  EXPECT_EQ(inst.state(), "rectification");
  inst = Step(kFinance, inst.id(), "return", "", "证据不足");
  EXPECT_EQ(OpenTask(inst.id()).due_unix_ms(), rect.due_unix_ms());  // deadline kept
  inst = Step(kUnit, inst.id(), "submit", R"({"evidence": "补充了测算依据"})");
  inst = Step(kFinance, inst.id(), "accept");
  EXPECT_EQ(inst.state(), "finance_review");
  inst = Step(kFinance, inst.id(), "approve", R"({"grade": "优"})");
  EXPECT_EQ(inst.state(), "disclosure");
  inst = Step(kPerformance, inst.id(), "publish", R"({"channel": "portal"})");
  EXPECT_EQ(inst.state(), "done");
  EXPECT_EQ(inst.status(), "completed");
  EXPECT_EQ(inst.open_tasks_size(), 0);

  // The disclosure snapshot is stored with its hash and holds the approved data.
  v1::ListDocumentsRequest dreq;
  dreq.set_instance_id(inst.id());
  v1::ListDocumentsResponse docs;
  auto ctx = testing::Context("observer", "workflow_admin", "");
  ASSERT_TRUE(instances_->ListDocuments(ctx.get(), dreq, &docs).ok());
  ASSERT_EQ(docs.documents_size(), 1);
  EXPECT_EQ(docs.documents(0).kind(), "disclosure");
  EXPECT_EQ(docs.documents(0).sha256().size(), 64u);
  EXPECT_THAT(docs.documents(0).content(), HasSubstr("乡村道路养护"));
  EXPECT_THAT(docs.documents(0).content(), HasSubstr("\"grade\":\"优\""));
  v1::GetDocumentRequest greq;
  greq.set_id(docs.documents(0).id());
  v1::GetDocumentResponse got;
  auto ctx2 = testing::Context("observer", "workflow_admin", "");
  ASSERT_TRUE(instances_->GetDocument(ctx2.get(), greq, &got).ok());
  EXPECT_EQ(got.document().content(), docs.documents(0).content());

  // History: every step, in order, with actors and comments.
  auto events = History(inst.id());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().kind(), "started");
  EXPECT_EQ(events.back().kind(), "completed");
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].seq(), static_cast<int64_t>(i + 1));
  int acted = 0;
  bool saw_return_comment = false;
  for (const auto& e : events) {
    if (e.kind() == "acted") ++acted;
    if (e.action() == "return" && e.comment() == "指标值不够细化，请补充") {
      saw_return_comment = true;
      EXPECT_EQ(e.actor(), "li");
    }
    if (e.action() == "submit" && e.from_state() == "draft") {
      EXPECT_EQ(e.payload_digest().size(), 64u);
    }
  }
  EXPECT_EQ(acted, 11);
  EXPECT_TRUE(saw_return_comment);
}

TEST_F(ChainTest, FinanceRejectionClosesTheInstance) {
  v1::Instance inst;
  ASSERT_TRUE(Start(kUnit, &inst).ok());
  Step(kUnit, inst.id(), "submit", kTargetPayload);
  Step(kAuthority, inst.id(), "approve");
  inst = Step(kFinance, inst.id(), "reject", R"({"grade": "差"})", "不纳入预算");
  EXPECT_EQ(inst.state(), "closed");
  EXPECT_EQ(inst.status(), "completed");
}

TEST_F(ChainTest, BadInputGetsExactCodesAndMessages) {
  v1::Instance inst;
  ASSERT_TRUE(Start(kUnit, &inst).ok());
  v1::Task task = OpenTask(inst.id());
  v1::Instance out;

  // No identity.
  {
    v1::InboxRequest req;
    v1::InboxResponse resp;
    auto ctx = testing::Context("", "", "");
    grpc::Status s = tasks_->Inbox(ctx.get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_THAT(s.error_message(), StartsWith("no identity: send metadata x-bpm-user"));
  }
  // Unknown task.
  grpc::Status s = Act(kUnit, "nope", "submit", "", "", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "task nope not found");
  // Unknown action.
  s = Act(kUnit, task.id(), "frobnicate", "", "", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "action: 'frobnicate' is not offered by task " + task.id() +
                                   " in state 'draft'; offered: submit, check");
  // Wrong actor.
  s = Act(kStranger, task.id(), "submit", kTargetPayload, "", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "user mallory (roles unit_filer; org 999999) may not act on task " +
                                   task.id() + ", which is assigned to role unit_filer in org 906017");
  // Invalid payload: each bad field named.
  s = Act(kUnit, task.id(), "submit",
          R"({"project_name": "x", "amount": -5, "annual_goal": "g", "extra": 1,
              "indicators": [{"level1": "产出指标", "level2": "数量", "name": "n",
                              "operator": "约等于", "target": "1"}]})",
          "", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              StartsWith("state 'draft' (stage department_submit) refused action 'submit' on task " +
                         task.id() + ": "));
  EXPECT_THAT(s.error_message(), HasSubstr("payload.amount: "));
  EXPECT_THAT(s.error_message(), HasSubstr("payload.extra: "));
  EXPECT_THAT(s.error_message(), HasSubstr("payload.indicators[0].operator: "));
  // Oversized payload.
  std::string big = R"({"project_name": ")" + std::string(70000, 'x') + R"("})";
  s = Act(kUnit, task.id(), "submit", big, "", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "payload: 70019 bytes exceeds the limit of 65536");
  // Stale version.
  s = Act(kUnit, task.id(), "submit", kTargetPayload, "", &out, inst.version() + 7);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(s.error_message(), "instance " + inst.id() + " (target-filing v1) is at version 1, not 8: re-read and retry");
  // Nothing of the above changed the instance.
  EXPECT_EQ(OpenTask(inst.id()).id(), task.id());
  EXPECT_EQ(History(inst.id()).size(), 1u);

  // A finished instance refuses action; its old task is not acted upon twice.
  ASSERT_TRUE(Act(kUnit, task.id(), "submit", kTargetPayload, "", &out).ok());
  Step(kAuthority, inst.id(), "approve");
  Step(kFinance, inst.id(), "reject", "", "不予支持");
  s = Act(kUnit, task.id(), "submit", kTargetPayload, "", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "instance " + inst.id() + " (target-filing v1) is completed; act is not allowed");

  // Malformed and invalid YAML: line and column in the message.
  v1::DeployDefinitionRequest dreq;
  dreq.set_yaml("key: x\ninitial: a\nstates:\n  a:\n    stage: [review\n");
  dreq.set_source_name("broken.yaml");
  v1::DeployDefinitionResponse dresp;
  auto ctx = testing::Context("admin", "workflow_admin", "");
  s = definitions_->Deploy(ctx.get(), dreq, &dresp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("broken.yaml:6:1: YAML syntax"));
  dreq.set_yaml("key: y\ninitial: a\nstates:\n  a:\n    stage: nosuch\n    on: { done: z }\n  z: { final: true }\n");
  auto ctx2 = testing::Context("admin", "workflow_admin", "");
  s = definitions_->Deploy(ctx2.get(), dreq, &dresp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("broken.yaml:5:12: state 'a': unknown stage plugin 'nosuch'"));
}

TEST_F(ChainTest, IdempotencyKeys) {
  v1::Instance a, b;
  ASSERT_TRUE(Start(kUnit, &a, "P-1", "start-key-1").ok());
  ASSERT_TRUE(Start(kUnit, &b, "P-1", "start-key-1").ok());
  EXPECT_EQ(a.id(), b.id());  // the retry returned the first result
  grpc::Status s = Start(kUnit, &b, "P-2", "start-key-1");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(s.error_message(), "idempotency_key 'start-key-1' was already used for a different request");

  v1::Task t = OpenTask(a.id());
  v1::Instance r1, r2;
  ASSERT_TRUE(Act(kUnit, t.id(), "submit", kTargetPayload, "", &r1, 0, "act-1").ok());
  ASSERT_TRUE(Act(kUnit, t.id(), "submit", kTargetPayload, "", &r2, 0, "act-1").ok());
  EXPECT_EQ(r1.version(), r2.version());
  EXPECT_EQ(r2.state(), "authority_review");
  s = Act(kUnit, t.id(), "submit", kTargetPayload, "different", &r2, 0, "act-1");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  // Applied exactly once: started, acted, transitioned.
  EXPECT_EQ(History(a.id()).size(), 3u);
}

// InstanceView over gRPC: BASIC answers leave the variables out, on the
// async commands (Start, Act), an instance operation (Comment) and Get
// alike; FULL and unset carry them; an unknown view is refused before
// anything runs.
TEST_F(ChainTest, TheViewChoosesWhetherAnswersCarryTheVariables) {
  auto ctx = [](const Who& who) { return testing::Context(who.user, who.roles, who.org); };
  v1::StartInstanceRequest start;
  start.set_definition_key("target-filing");
  start.set_subject_ref("P-VIEW");
  start.set_org(kUnit.org);
  start.set_view(v1::INSTANCE_VIEW_BASIC);
  v1::StartInstanceResponse started;
  ASSERT_TRUE(instances_->Start(ctx(kUnit).get(), start, &started).ok());
  const std::string id = started.instance().id();
  EXPECT_EQ(started.instance().variables().fields_size(), 0);
  ASSERT_EQ(started.instance().open_tasks_size(), 1);

  v1::ActRequest submit;
  submit.set_task_id(started.instance().open_tasks(0).id());
  submit.set_action("submit");
  *submit.mutable_payload() = Json(kTargetPayload);
  submit.set_view(static_cast<v1::InstanceView>(7));
  v1::ActResponse acted;
  grpc::Status s = tasks_->Act(ctx(kUnit).get(), submit, &acted);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "view: 7 is not an InstanceView (INSTANCE_VIEW_FULL or INSTANCE_VIEW_BASIC)");
  EXPECT_EQ(History(id).size(), 1u);  // only started: nothing ran

  submit.set_view(v1::INSTANCE_VIEW_BASIC);
  submit.set_idempotency_key("submit-view");
  ASSERT_TRUE(tasks_->Act(ctx(kUnit).get(), submit, &acted).ok());
  EXPECT_EQ(acted.instance().state(), "authority_review");
  EXPECT_EQ(acted.instance().variables().fields_size(), 0);
  // The retry asks for everything and gets it, from the stored answer.
  submit.set_view(v1::INSTANCE_VIEW_FULL);
  v1::ActResponse replayed;
  ASSERT_TRUE(tasks_->Act(ctx(kUnit).get(), submit, &replayed).ok());
  EXPECT_EQ(replayed.instance().version(), acted.instance().version());
  EXPECT_TRUE(replayed.instance().variables().fields().count("form"))
      << replayed.instance().DebugString();

  v1::GetInstanceRequest get;
  get.set_id(id);
  v1::GetInstanceResponse full, basic;
  ASSERT_TRUE(instances_->Get(ctx(kUnit).get(), get, &full).ok());
  get.set_view(v1::INSTANCE_VIEW_BASIC);
  ASSERT_TRUE(instances_->Get(ctx(kUnit).get(), get, &basic).ok());
  EXPECT_TRUE(full.instance().variables().fields().count("form"));
  EXPECT_EQ(basic.instance().variables().fields_size(), 0);
  EXPECT_EQ(basic.instance().version(), full.instance().version());
  EXPECT_EQ(basic.instance().open_tasks_size(), full.instance().open_tasks_size());

  v1::InstanceOperationRequest comment;
  comment.set_instance_id(id);
  comment.set_comment("请尽快审核");
  comment.set_view(v1::INSTANCE_VIEW_BASIC);
  v1::ActResponse commented;
  ASSERT_TRUE(instances_->Comment(ctx(kUnit).get(), comment, &commented).ok());
  EXPECT_EQ(commented.instance().variables().fields_size(), 0);
  EXPECT_EQ(commented.instance().state(), "authority_review");
}

TEST_F(ChainTest, ConcurrentActorsExactlyOneWins) {
  v1::Instance inst;
  ASSERT_TRUE(Start(kUnit, &inst).ok());
  Step(kUnit, inst.id(), "submit", kTargetPayload);
  v1::Task t = OpenTask(inst.id());
  v1::GetInstanceRequest greq;
  greq.set_id(inst.id());
  v1::GetInstanceResponse current;
  auto gctx = testing::Context("observer", "workflow_admin", "");
  ASSERT_TRUE(instances_->Get(gctx.get(), greq, &current).ok());
  const int64_t version = current.instance().version();

  constexpr int kRacers = 8;
  std::atomic<int> ok{0}, aborted{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kRacers; ++i) {
    threads.emplace_back([&, i]() {
      Who who{"reviewer" + std::to_string(i), "authority_reviewer", "906"};
      grpc::Status s = Act(who, t.id(), i % 2 ? "approve" : "return", "", "racing", nullptr,
                           version);
      if (s.ok()) {
        ++ok;
      } else if (s.error_code() == grpc::StatusCode::ABORTED) {
        ++aborted;
      } else {
        ++other;
        ADD_FAILURE() << s.error_code() << " " << s.error_message();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(aborted.load(), kRacers - 1);
  EXPECT_EQ(other.load(), 0);
  int acted_on_review = 0;
  for (const auto& e : History(inst.id())) {
    if (e.kind() == "acted" && e.from_state() == "authority_review") ++acted_on_review;
  }
  EXPECT_EQ(acted_on_review, 1);
}

TEST_F(ChainTest, RestartMidChainLosesNothing) {
  v1::Instance inst;
  ASSERT_TRUE(Start(kUnit, &inst).ok());
  Step(kUnit, inst.id(), "submit", kTargetPayload);
  inst = Step(kAuthority, inst.id(), "approve", "", "同意");
  const size_t events_before = History(inst.id()).size();

  bpmd_->Kill();  // no chance to flush anything: acknowledged means on disk
  bpmd_ = std::make_unique<testing::BpmdProcess>(url_);
  ASSERT_TRUE(bpmd_->Start());
  Connect();

  v1::GetInstanceRequest req;
  req.set_id(inst.id());
  v1::GetInstanceResponse resp;
  auto ctx = testing::Context("observer", "workflow_admin", "");
  ASSERT_TRUE(instances_->Get(ctx.get(), req, &resp).ok());
  EXPECT_EQ(resp.instance().state(), "finance_review");
  EXPECT_EQ(resp.instance().version(), inst.version());
  EXPECT_EQ(History(inst.id()).size(), events_before);
  // Redeploying the unchanged bundled workflow kept version 1.
  EXPECT_EQ(resp.instance().definition_version(), 1);

  inst = Step(kFinance, inst.id(), "approve", R"({"grade": "良"})");
  inst = Step(kPerformance, inst.id(), "publish");
  EXPECT_EQ(inst.state(), "done");
}

// Server reflection (v1alpha in gRPC 1.51) lists the API services. Debian
// ships no reflection client, so this speaks the protocol with raw bytes:
// ServerReflectionRequest{list_services: ""} is field 7, an empty string.
TEST_F(ChainTest, ReflectionListsTheServices) {
  grpc::GenericStub stub(bpmd_->channel());
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto call = stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag = nullptr;
  bool ok = false;
  auto wait = [&](intptr_t want) {
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(reinterpret_cast<intptr_t>(tag), want);
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(wait(1));
  const std::string request("\x3a\x00", 2);
  grpc::Slice slice(request);
  grpc::ByteBuffer out(&slice, 1);
  call->Write(out, reinterpret_cast<void*>(2));
  ASSERT_TRUE(wait(2));
  grpc::ByteBuffer in;
  call->Read(&in, reinterpret_cast<void*>(3));
  ASSERT_TRUE(wait(3));
  call->WritesDone(reinterpret_cast<void*>(4));
  wait(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  wait(5);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(in.Dump(&slices).ok());
  std::string response;
  for (const auto& s : slices) response.append(reinterpret_cast<const char*>(s.begin()), s.size());
  for (const char* service : {"bpm.v1.DefinitionService", "bpm.v1.InstanceService",
                              "bpm.v1.TaskService", "grpc.health.v1.Health"}) {
    EXPECT_THAT(response, HasSubstr(service));
  }
}

}  // namespace
}  // namespace bpm
