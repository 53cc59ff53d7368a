// Third-party agencies (第三方机构) end to end over gRPC, on SQLite (label
// integration) and MariaDB (labels integration, mysql): the real bpmd with the
// bundled key-evaluation workflow and a test clock file, the real
// agency_client example as a subprocess, bpmctl's agency commands, and an
// in-process fake agency serving bpm.v1.AgencyEndpoint for push delivery.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bpm/v1/agency.grpc.pb.h"
#include "bpm/v1/bpm.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/support/bpmctl_runner.h"
#include "tests/support/test_env.h"

namespace bpm {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace v1 = ::bpm::v1;

// 2026-03-02 10:00 China time, a Monday. bpmd's clock stands still at the
// test clock file's time until a test moves it.
constexpr int64_t kStart = 1772416800000;

const std::vector<std::string> kTopics = {"key_evaluation_plan", "key_evaluation_draft",
                                          "key_evaluation_final"};

using testing::Who;
const Who kQian{"qian", "perf_head", "czj"};       // 绩效管理股 head
const Who kZhao{"zhao", "perf_reviewer", "czj"};   // 绩效管理股 reviewer
const Who kZhang{"zhang", "unit_filer", "906017"};  // the evaluated unit

Who AgencyWho(const std::string& agency) { return {agency + "-worker", "agency", agency}; }

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  std::string out;
  char hex[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", digest[i]);
    out += hex;
  }
  return out;
}

bool IsSha256(const std::string& s) { return std::regex_match(s, std::regex("^[0-9a-f]{64}$")); }

// The lines of the agency_client's output that start with `action`.
std::vector<std::string> LinesOf(const std::string& log, const std::string& action) {
  std::vector<std::string> out;
  for (const std::string& line : testing::Lines(log)) {
    if (line.rfind(action + " ", 0) == 0) out.push_back(line);
  }
  return out;
}

// The value of "key=value" in an agency_client line ("" when absent).
std::string Field(const std::string& line, const std::string& key) {
  const std::string needle = " " + key + "=";
  const size_t at = line.find(needle);
  if (at == std::string::npos) return "";
  const size_t from = at + needle.size();
  return line.substr(from, line.find(' ', from) - from);
}

// The weight sheet most tests use: 决策 15, 过程 20, 产出 35, 效益 30.
v1::IndicatorSheet Sheet() {
  v1::IndicatorSheet s;
  auto add = [&](const char* code, const char* l1, const char* l2, const char* name, double w) {
    v1::Indicator* i = s.add_indicators();
    i->set_code(code);
    i->set_level1(l1);
    i->set_level2(l2);
    i->set_name(name);
    i->set_weight(w);
  };
  add("A", "决策", "项目立项", "立项依据充分性", 15);
  add("B", "过程", "资金管理", "预算执行率", 20);
  add("C", "产出", "产出数量", "实际完成率", 35);
  add("D", "效益", "项目效益", "社会效益", 30);
  return s;
}

v1::Deliverable PlanDeliverable(const std::string& text = "评价工作方案") {
  v1::Deliverable d;
  d.set_summary("评价工作方案：" + text);
  v1::FileDigest* f = d.add_files();
  f->set_name("评价工作方案.md");
  f->set_sha256(Sha256Hex(text));
  return d;
}

// A valid scored report on Sheet(): A 13.5, B 16, C 31.5, D 24 = 85 (良).
v1::Deliverable ReportDeliverable() {
  v1::Deliverable d;
  const std::pair<const char*, double> scores[] = {{"A", 13.5}, {"B", 16}, {"C", 31.5}, {"D", 24}};
  for (const auto& [code, score] : scores) {
    v1::IndicatorScore* s = d.add_scores();
    s->set_code(code);
    s->set_score(score);
  }
  d.set_total(85);
  d.set_grade("良");
  d.add_findings("部分产出指标未达到年度目标值。");
  d.add_recommendations("细化量化绩效目标。");
  v1::FileDigest* f = d.add_files();
  f->set_name("评价报告.md");
  f->set_sha256(Sha256Hex("评价报告"));
  return d;
}

// ---- the fake agency (push) ---------------------------------------------------------

// What the fake agency received. Thread-safe.
class Deliveries {
 public:
  void Record(const v1::Assignment& a, const std::string& header_id) {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    if (header_id != a.delivery_id()) ++header_mismatches_;
    // The agency deduplicates by delivery_id: a repeated one is acknowledged
    // but not recorded again.
    if (seen_.insert(a.delivery_id()).second) {
      by_task_[a.task().id()].push_back(a.delivery_id());
      tasks_[a.task().id()] = a.task();
    }
  }
  std::map<std::string, std::vector<std::string>> by_task() const {
    std::lock_guard<std::mutex> lock(mu_);
    return by_task_;
  }
  v1::ExternalTask task(const std::string& id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tasks_.find(id);
    return it == tasks_.end() ? v1::ExternalTask() : it->second;
  }
  int header_mismatches() const {
    std::lock_guard<std::mutex> lock(mu_);
    return header_mismatches_;
  }

 private:
  mutable std::mutex mu_;
  int calls_ = 0;
  int header_mismatches_ = 0;
  std::set<std::string> seen_;
  std::map<std::string, std::vector<std::string>> by_task_;
  std::map<std::string, v1::ExternalTask> tasks_;
};

class FakeEndpoint final : public v1::AgencyEndpoint::Service {
 public:
  explicit FakeEndpoint(Deliveries& d) : d_(d) {}
  grpc::Status Deliver(grpc::ServerContext* ctx, const v1::Assignment* a,
                       v1::AssignmentAck*) override {
    std::string header;
    auto it = ctx->client_metadata().find("x-bpm-delivery-id");
    if (it != ctx->client_metadata().end()) header.assign(it->second.data(), it->second.size());
    d_.Record(*a, header);
    return grpc::Status::OK;
  }

 private:
  Deliveries& d_;
};

// An agency's AgencyEndpoint that can be started and stopped on one port.
class FakeAgency {
 public:
  ~FakeAgency() { Stop(); }
  // Listens on port (0: any); returns the port, 0 on failure.
  int Start(int port) {
    service_ = std::make_unique<FakeEndpoint>(deliveries_);
    grpc::ServerBuilder builder;
    int selected = 0;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port),
                             grpc::InsecureServerCredentials(), &selected);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    return server_ == nullptr ? 0 : selected;
  }
  void Stop() {
    if (server_ == nullptr) return;
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
    server_.reset();
    service_.reset();
  }
  Deliveries& deliveries() { return deliveries_; }

 private:
  Deliveries deliveries_;
  std::unique_ptr<FakeEndpoint> service_;
  std::unique_ptr<grpc::Server> server_;
};

// ---- the fixture ------------------------------------------------------------------

class AgencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::FreshStoreUrl(dir_.path(), "agency");
    clock_file_ = dir_.path() + "/clock";
    SetClock(kStart);
    bpmd_ = std::make_unique<testing::BpmdProcess>(
        url_, std::vector<std::string>{"--calendars=" + testing::SourceDir() + "/deploy/calendars",
                                       "--test-clock-file=" + clock_file_, "--tick-ms=50"});
    ASSERT_TRUE(bpmd_->Start());
    testing::ImportCountyOrgs(bpmd_->channel());  // czj is a finance bureau there
    agencies_ = v1::AgencyService::NewStub(bpmd_->channel());
    instances_ = v1::InstanceService::NewStub(bpmd_->channel());
    tasks_ = v1::TaskService::NewStub(bpmd_->channel());
  }

  // Written whole and renamed, so bpmd never reads a half-written file.
  void SetClock(int64_t ms) {
    now_ = ms;
    const std::string tmp = clock_file_ + ".tmp";
    std::ofstream(tmp) << ms << "\n";
    std::rename(tmp.c_str(), clock_file_.c_str());
  }
  void Advance(int64_t ms) { SetClock(now_ + ms); }

  std::unique_ptr<grpc::ClientContext> Ctx(const Who& who) {
    return testing::Context(who.user, who.roles, who.org);
  }

  // ---- registry and engagements

  grpc::Status Register(const std::string& id, const std::string& endpoint = "",
                        const std::vector<std::string>& related = {}, bool clean = true,
                        const std::string& status = "active") {
    v1::RegisterAgencyRequest req;
    v1::Agency* a = req.mutable_agency();
    a->set_id(id);
    a->set_name("机构 " + id);
    a->set_credit_code("91360700MA35K0XX1Y");
    a->set_type("consulting");
    a->set_status(status);
    a->set_no_major_violations_3y(clean);
    for (const auto& r : related) a->add_related_parties(r);
    a->set_endpoint(endpoint);
    v1::Agency resp;
    return agencies_->RegisterAgency(Ctx(kQian).get(), req, &resp);
  }
  void MustRegister(const std::string& id, const std::string& endpoint = "") {
    grpc::Status s = Register(id, endpoint);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  static v1::Engagement KeyEvaluation(const std::string& agency, const std::string& subject) {
    v1::Engagement e;
    e.set_agency_id(agency);
    e.set_purpose("key_evaluation");
    e.set_mode("independent");
    e.set_commissioner_org("czj");
    e.set_subject_ref(subject);
    e.set_subject_org("906017");
    e.set_contract_amount(180000);
    e.set_start_date("2026-03-01");
    e.set_end_date("2026-06-30");
    e.set_team_lead("刘敏");
    *e.mutable_sheet() = Sheet();
    return e;
  }
  grpc::Status Engage(const v1::Engagement& e, v1::Engagement* out, const Who& who = kQian) {
    v1::EngageRequest req;
    *req.mutable_engagement() = e;
    return agencies_->Engage(Ctx(who).get(), req, out);
  }
  std::string MustEngage(const v1::Engagement& e) {
    v1::Engagement out;
    grpc::Status s = Engage(e, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.id();
  }

  // ---- instances and people's tasks

  std::string StartEvaluation(const std::string& engagement_id, const std::string& subject) {
    v1::StartInstanceRequest req;
    req.set_definition_key("key-evaluation");
    req.set_subject_ref(subject);
    req.set_org("906017");
    (*req.mutable_variables()->mutable_fields())["engagement_id"].set_string_value(engagement_id);
    v1::StartInstanceResponse resp;
    grpc::Status s = instances_->Start(Ctx(kQian).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.instance().state(), "work_plan");
    return resp.instance().id();
  }

  v1::Instance Get(const std::string& id) {
    v1::GetInstanceRequest req;
    req.set_id(id);
    v1::GetInstanceResponse resp;
    grpc::Status s = instances_->Get(Ctx({"observer", "workflow_admin", ""}).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.instance();
  }

  v1::Task TaskFor(const std::string& id, const Who& who) {
    const v1::Instance inst = Get(id);
    for (const auto& t : inst.open_tasks()) {
      if (t.assignee_user() == who.user ||
          (t.assignee_user().empty() && t.assignee_role() == who.roles &&
           (t.assignee_org().empty() || t.assignee_org() == who.org))) {
        return t;
      }
    }
    ADD_FAILURE() << "no task for " << who.user << " in " << inst.DebugString();
    return v1::Task();
  }

  v1::Instance Act(const Who& who, const std::string& id, const std::string& action,
                   const std::string& payload = "", const std::string& comment = "") {
    v1::ActRequest req;
    req.set_task_id(TaskFor(id, who).id());
    req.set_action(action);
    if (!payload.empty()) {
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(payload, req.mutable_payload()).ok());
    }
    req.set_comment(comment);
    v1::ActResponse resp;
    grpc::Status s = tasks_->Act(Ctx(who).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << who.user << " " << action << ": " << s.error_message();
    return resp.instance();
  }

  std::vector<v1::Event> History(const std::string& id, const std::string& kind = "") {
    v1::GetHistoryRequest req;
    req.set_instance_id(id);
    v1::GetHistoryResponse resp;
    grpc::Status s = instances_->GetHistory(Ctx({"observer", "workflow_admin", ""}).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<v1::Event> out;
    for (const auto& e : resp.events()) {
      if (kind.empty() || e.kind() == kind) out.push_back(e);
    }
    return out;
  }

  std::vector<v1::Document> Documents(const std::string& id) {
    v1::ListDocumentsRequest req;
    req.set_instance_id(id);
    v1::ListDocumentsResponse resp;
    grpc::Status s = instances_->ListDocuments(Ctx({"observer", "workflow_admin", ""}).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<v1::Document> out;
    for (const auto& d : resp.documents()) {
      v1::GetDocumentRequest get;
      get.set_id(d.id());
      v1::GetDocumentResponse full;
      s = instances_->GetDocument(Ctx({"observer", "workflow_admin", ""}).get(), get, &full);
      EXPECT_TRUE(s.ok()) << s.error_message();
      out.push_back(full.document());
    }
    return out;
  }

  // ---- the pull protocol

  grpc::Status Fetch(const Who& who, const std::vector<std::string>& topics, int64_t lock_ms,
                     std::vector<v1::ExternalTask>* out, int64_t wait_ms = 0) {
    v1::FetchAndLockRequest req;
    for (const auto& t : topics) req.add_topics(t);
    req.set_max_tasks(10);
    req.set_lock_duration_ms(lock_ms);
    req.set_long_poll_timeout_ms(wait_ms);
    req.set_worker_id(who.user);
    v1::FetchAndLockResponse resp;
    grpc::Status s = agencies_->FetchAndLock(Ctx(who).get(), req, &resp);
    out->assign(resp.tasks().begin(), resp.tasks().end());
    return s;
  }
  // Exactly one task of `topic` for the agency.
  v1::ExternalTask FetchOne(const Who& who, const std::string& topic, int64_t lock_ms = 60000) {
    std::vector<v1::ExternalTask> tasks;
    grpc::Status s = Fetch(who, {topic}, lock_ms, &tasks);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(tasks.size(), 1u);
    return tasks.empty() ? v1::ExternalTask() : tasks.front();
  }
  std::vector<v1::ExternalTask> FetchAll(const Who& who) {
    std::vector<v1::ExternalTask> tasks;
    grpc::Status s = Fetch(who, kTopics, 60000, &tasks);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return tasks;
  }

  grpc::Status Complete(const Who& who, const std::string& task_id, const std::string& token,
                        const v1::Deliverable& d, v1::CompleteExternalTaskResponse* out) {
    v1::CompleteExternalTaskRequest req;
    req.set_task_id(task_id);
    req.set_lock_token(token);
    *req.mutable_deliverable() = d;
    return agencies_->Complete(Ctx(who).get(), req, out);
  }
  grpc::Status Extend(const Who& who, const std::string& task_id, const std::string& token,
                      int64_t lock_ms, v1::ExtendLockResponse* out) {
    v1::ExtendLockRequest req;
    req.set_task_id(task_id);
    req.set_lock_token(token);
    req.set_lock_duration_ms(lock_ms);
    return agencies_->ExtendLock(Ctx(who).get(), req, out);
  }
  grpc::Status ReportFailure(const Who& who, const std::string& task_id, const std::string& token,
                             v1::ReportFailureResponse* out) {
    v1::ReportFailureRequest req;
    req.set_task_id(task_id);
    req.set_lock_token(token);
    req.set_error_message("机构系统故障");
    return agencies_->ReportFailure(Ctx(who).get(), req, out);
  }

  // Completes the work plan (pull) and approves it: the instance is then in
  // draft_report.
  void PassThePlan(const std::string& agency, const std::string& id) {
    const v1::ExternalTask plan = FetchOne(AgencyWho(agency), "key_evaluation_plan");
    v1::CompleteExternalTaskResponse resp;
    grpc::Status s = Complete(AgencyWho(agency), plan.id(), plan.lock_token(), PlanDeliverable(),
                              &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    Act(kZhao, id, "approve");
    ASSERT_EQ(Get(id).state(), "draft_report");
  }

  // ---- incidents and the outbox

  std::vector<v1::Incident> Incidents(bool all) {
    v1::ListIncidentsRequest req;
    req.set_include_resolved(all);
    v1::ListIncidentsResponse resp;
    grpc::Status s = agencies_->ListIncidents(Ctx(kQian).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.incidents().begin(), resp.incidents().end()};
  }
  grpc::Status Resolve(const std::string& incident, const std::string& action,
                       const std::string& engagement, v1::ResolveIncidentResponse* out) {
    v1::ResolveIncidentRequest req;
    req.set_id(incident);
    req.set_action(action);
    req.set_engagement_id(engagement);
    return agencies_->ResolveIncident(Ctx(kQian).get(), req, out);
  }
  std::vector<v1::OutboxMessage> Outbox(const std::string& status = "") {
    v1::ListOutboxRequest req;
    req.set_status(status);
    v1::ListOutboxResponse resp;
    grpc::Status s = agencies_->ListOutbox(Ctx(kQian).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.messages().begin(), resp.messages().end()};
  }
  // The one outbox message (fails the test otherwise).
  v1::OutboxMessage OnlyMessage() {
    auto all = Outbox();
    EXPECT_EQ(all.size(), 1u);
    return all.empty() ? v1::OutboxMessage() : all.front();
  }

  // ---- subprocesses

  struct ClientRun {
    int exit = -1;
    std::string log;
  };
  // Runs agency_client against this bpmd until it exits (at most timeout_ms).
  ClientRun RunClient(const std::vector<std::string>& args, int timeout_ms = 60000) {
    std::vector<std::string> argv = {testing::BinaryDir() + "/bin/agency_client", "--server",
                                     bpmd_->address()};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string log = dir_.path() + "/client-" + std::to_string(++clients_) + ".log";
    testing::Subprocess p(argv, log);
    ClientRun run;
    if (!p.Start()) return run;
    const int status = p.Wait(timeout_ms);
    if (status == -1) {
      p.Kill();
      ADD_FAILURE() << "agency_client did not exit in " << timeout_ms << " ms";
    } else if (WIFEXITED(status)) {
      run.exit = WEXITSTATUS(status);
    }
    run.log = testing::ReadFile(log);
    return run;
  }

  testing::Result Ctl(const std::vector<std::string>& args, const Who& who = kQian) {
    return testing::RunBpmctl(args, {{"BPM_SERVER", bpmd_->address()},
                                     {"BPM_USER", who.user},
                                     {"BPM_ROLES", who.roles},
                                     {"BPM_ORG", who.org}});
  }

  // Moves the clock to the outbox message's next attempt until it is no
  // longer pending (30 s at most), at most once per 1.5 s of real time: the
  // deliverer's gRPC channel keeps its own real-time reconnect back-off, and
  // in production the outbox back-off (≥ 0.5 s) passes in real time too.
  v1::OutboxMessage UntilNotPending() {
    v1::OutboxMessage msg;
    auto last_jump = std::chrono::steady_clock::now() - std::chrono::seconds(10);
    WaitFor(
        [&] {
          msg = OnlyMessage();
          if (msg.status() != "pending") return true;
          const auto now = std::chrono::steady_clock::now();
          if (msg.next_attempt_unix_ms() > now_ && now - last_jump >= std::chrono::milliseconds(1500)) {
            SetClock(msg.next_attempt_unix_ms());
            last_jump = now;
          }
          return false;
        },
        30000);
    return msg;
  }

  // Polls until done() or timeout; true when done.
  static bool WaitFor(const std::function<bool()>& done, int timeout_ms = 10000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
  }

  testing::TempDir dir_;
  std::string url_;
  std::string clock_file_;
  int64_t now_ = kStart;
  int clients_ = 0;
  std::unique_ptr<testing::BpmdProcess> bpmd_;
  std::unique_ptr<v1::AgencyService::Stub> agencies_;
  std::unique_ptr<v1::InstanceService::Stub> instances_;
  std::unique_ptr<v1::TaskService::Stub> tasks_;
};

// ---- end to end ---------------------------------------------------------------------

TEST_F(AgencyTest, KeyEvaluationByAnAgencyEndToEnd) {
  // Finance registers the agency and engages it with the example sheet.
  testing::Result r = Ctl({"agency", "register", "ag-huaxin", "--name", "华信会计师事务所",
                           "--credit-code", "913607005812345678", "--type", "accounting"});
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  EXPECT_THAT(r.out, HasSubstr("ok: agency ag-huaxin registered"));
  r = Ctl({"--json", "agency", "engage", "ag-huaxin", "--purpose", "key_evaluation", "--mode",
           "independent", "--commissioner", "czj", "--subject", "P-2026-01", "--subject-org",
           "906017", "--amount", "180000", "--start", "2026-03-01", "--end", "2026-06-30",
           "--lead", "刘敏", "--sheet", testing::SourceDir() + "/examples/key-evaluation-sheet.yaml"});
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  const auto engagement = testing::ParseJson<v1::Engagement>(r.out);
  ASSERT_EQ(engagement.sheet().indicators_size(), 15);
  double total = 0, output_benefit = 0;
  for (const auto& i : engagement.sheet().indicators()) {
    total += i.weight();
    if (i.level1() == "产出" || i.level1() == "效益") output_benefit += i.weight();
  }
  EXPECT_DOUBLE_EQ(total, 100);
  EXPECT_DOUBLE_EQ(output_benefit, 65);
  EXPECT_EQ(engagement.status(), "active");
  EXPECT_EQ(engagement.created_by(), "qian");

  const std::string id = StartEvaluation(engagement.id(), "P-2026-01");
  EXPECT_EQ(Get(id).open_tasks_size(), 0);  // the agency's work: no person's task

  // The agency system writes the work plan.
  std::map<std::string, std::string> sha_by_topic;
  ClientRun run = RunClient({"--agency", "ag-huaxin", "--count", "1", "--idle-exit-ms", "20000"});
  ASSERT_EQ(run.exit, 0) << run.log;
  auto completed = LinesOf(run.log, "completed");
  ASSERT_EQ(completed.size(), 1u) << run.log;
  EXPECT_EQ(Field(completed[0], "topic"), "key_evaluation_plan");
  EXPECT_EQ(Field(completed[0], "state"), "plan_approval");
  EXPECT_EQ(Field(completed[0], "instance"), id);
  sha_by_topic["key_evaluation_plan"] = Field(completed[0], "sha256");

  Act(kZhao, id, "approve", "", "同意评价工作方案");
  ASSERT_EQ(Get(id).state(), "draft_report");

  // Fieldwork and the draft report, scored at 90% of every weight.
  run = RunClient({"--agency", "ag-huaxin", "--count", "1", "--idle-exit-ms", "20000"});
  ASSERT_EQ(run.exit, 0) << run.log;
  completed = LinesOf(run.log, "completed");
  ASSERT_EQ(completed.size(), 1u) << run.log;
  EXPECT_EQ(Field(completed[0], "topic"), "key_evaluation_draft");
  EXPECT_EQ(Field(completed[0], "state"), "unit_feedback");
  EXPECT_EQ(Field(completed[0], "total"), "90");
  EXPECT_EQ(Field(completed[0], "grade"), "优");
  sha_by_topic["key_evaluation_draft"] = Field(completed[0], "sha256");

  // The evaluated unit answers the draft.
  Act(kZhang, id, "submit", R"({"agree": false, "opinion": "满意度调查样本偏少，建议补充问卷"})");
  ASSERT_EQ(Get(id).state(), "final_report");

  run = RunClient({"--agency", "ag-huaxin", "--count", "1", "--idle-exit-ms", "20000"});
  ASSERT_EQ(run.exit, 0) << run.log;
  completed = LinesOf(run.log, "completed");
  ASSERT_EQ(completed.size(), 1u) << run.log;
  EXPECT_EQ(Field(completed[0], "topic"), "key_evaluation_final");
  EXPECT_EQ(Field(completed[0], "state"), "result_approval");
  sha_by_topic["key_evaluation_final"] = Field(completed[0], "sha256");

  // Finance approves the result with a grade and publishes it.
  v1::Instance inst = Act(kQian, id, "approve", R"({"grade": "优"})", "审定评价结果");
  EXPECT_EQ(inst.state(), "disclosure");
  inst = Act(kQian, id, "publish");
  EXPECT_EQ(inst.state(), "done");
  EXPECT_EQ(inst.status(), "completed");

  const auto& vars = inst.variables().fields();
  EXPECT_EQ(vars.at("evaluation_grade").string_value(), "优");
  EXPECT_DOUBLE_EQ(vars.at("evaluation_score").number_value(), 90);
  const auto& final_report = vars.at("key_evaluation_final").struct_value().fields();
  EXPECT_EQ(final_report.at("agency_id").string_value(), "ag-huaxin");
  EXPECT_EQ(final_report.at("sha256").string_value(), sha_by_topic["key_evaluation_final"]);

  // Each deliverable is a document with its sha256, as the agency was told.
  std::map<std::string, v1::Document> docs;
  for (const v1::Document& d : Documents(id)) {
    if (d.kind().rfind("deliverable:", 0) == 0) {
      EXPECT_EQ(docs.count(d.kind()), 0u) << "two documents of kind " << d.kind();
      docs[d.kind()] = d;
    }
  }
  ASSERT_EQ(docs.size(), 3u);
  for (const std::string& topic : kTopics) {
    const v1::Document& d = docs["deliverable:" + topic];
    EXPECT_TRUE(IsSha256(d.sha256())) << topic;
    EXPECT_EQ(d.sha256(), Sha256Hex(d.content())) << topic;
    EXPECT_EQ(d.sha256(), sha_by_topic[topic]) << topic;
    EXPECT_EQ(d.content_type(), "application/json");
  }
  const auto plan = testing::ParseJson<v1::Deliverable>(docs["deliverable:key_evaluation_plan"].content());
  EXPECT_EQ(plan.scores_size(), 0);
  ASSERT_EQ(plan.files_size(), 1);
  EXPECT_TRUE(IsSha256(plan.files(0).sha256()));
  EXPECT_THAT(plan.summary(), HasSubstr("P-2026-01"));
  const auto report = testing::ParseJson<v1::Deliverable>(docs["deliverable:key_evaluation_final"].content());
  EXPECT_EQ(report.scores_size(), 15);
  EXPECT_DOUBLE_EQ(report.total(), 90);
  EXPECT_EQ(report.grade(), "优");
  ASSERT_EQ(report.files_size(), 1);
  EXPECT_TRUE(IsSha256(report.files(0).sha256()));
  EXPECT_THAT(report.findings(),
              ::testing::Contains(HasSubstr("满意度调查样本偏少，建议补充问卷")));

  // The history names the agency, its worker and the engagement for every
  // deliverable.
  const auto events = History(id, "external_completed");
  ASSERT_EQ(events.size(), 3u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].action(), kTopics[i]);
    EXPECT_EQ(events[i].actor(), "ag-huaxin-worker");
    EXPECT_EQ(events[i].payload_digest(), sha_by_topic[kTopics[i]]);
    EXPECT_EQ(events[i].note(), "agency ag-huaxin (worker ag-huaxin-worker), engagement " +
                                    engagement.id() + ", deliverable sha256 " +
                                    sha_by_topic[kTopics[i]]);
  }
  EXPECT_EQ(History(id, "external_task_opened").size(), 3u);
}

// ---- locks ----------------------------------------------------------------------------

TEST_F(AgencyTest, AnExpiredLockIsRedeliveredAndTheOldHolderIsRefused) {
  MustRegister("ag-huaxin");
  const std::string engagement = MustEngage(KeyEvaluation("ag-huaxin", "P-2026-01"));
  const std::string id = StartEvaluation(engagement, "P-2026-01");
  const Who agency = AgencyWho("ag-huaxin");

  const v1::ExternalTask first = FetchOne(agency, "key_evaluation_plan", 1000);
  EXPECT_EQ(first.instance_id(), id);
  EXPECT_EQ(first.engagement_id(), engagement);
  EXPECT_EQ(first.agency_id(), "ag-huaxin");
  EXPECT_EQ(first.subject_ref(), "P-2026-01");
  EXPECT_EQ(first.status(), "locked");
  EXPECT_EQ(first.retries_left(), 3);
  EXPECT_EQ(first.lock_expires_unix_ms(), kStart + 1000);
  EXPECT_EQ(first.payload().fields().at("engagement_id").string_value(), engagement);
  EXPECT_EQ(first.payload().fields().at("title").string_value(), "评价工作方案");
  EXPECT_TRUE(FetchAll(agency).empty()) << "locked tasks are not handed out twice";

  Advance(1500);  // the lock ran out
  const v1::ExternalTask second = FetchOne(agency, "key_evaluation_plan", 60000);
  EXPECT_EQ(second.id(), first.id());
  EXPECT_FALSE(second.lock_token().empty());
  EXPECT_NE(second.lock_token(), first.lock_token());

  // The first holder comes back late.
  v1::CompleteExternalTaskResponse done;
  grpc::Status s = Complete(agency, first.id(), first.lock_token(), PlanDeliverable(), &done);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "external task " + first.id() +
                                   ": this lock is no longer held (it was re-delivered to another "
                                   "fetch); a late completion is refused");
  v1::ExtendLockResponse extended;
  s = Extend(agency, first.id(), first.lock_token(), 60000, &extended);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  v1::ReportFailureResponse failed;
  s = ReportFailure(agency, first.id(), first.lock_token(), &failed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "external task " + first.id() +
                                   ": this lock is no longer held; the failure is not recorded");

  // The current holder's heartbeat and completion work.
  Advance(500);
  s = Extend(agency, second.id(), second.lock_token(), 120000, &extended);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(extended.lock_expires_unix_ms(), now_ + 120000);
  const v1::Deliverable plan = PlanDeliverable("第一版");
  s = Complete(agency, second.id(), second.lock_token(), plan, &done);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(done.instance_id(), id);
  EXPECT_EQ(done.state(), "plan_approval");
  EXPECT_FALSE(done.replayed());
  EXPECT_TRUE(IsSha256(done.deliverable_sha256()));
  const std::string sha = done.deliverable_sha256();

  // The same completion again (a retry after a lost answer) is replayed.
  v1::CompleteExternalTaskResponse again;
  s = Complete(agency, second.id(), second.lock_token(), plan, &again);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.deliverable_sha256(), sha);
  EXPECT_EQ(again.state(), "plan_approval");
  // Another deliverable for a completed task is refused.
  s = Complete(agency, second.id(), second.lock_token(), PlanDeliverable("第二版"), &again);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(s.error_message(), "external task " + second.id() +
                                   " was already completed with another deliverable (sha256 " +
                                   sha + ")");
  EXPECT_EQ(History(id, "external_completed").size(), 1u);
  EXPECT_EQ(Get(id).state(), "plan_approval");

  // A lock that simply ran out (nobody fetched again) refuses too.
  Act(kZhao, id, "approve");
  const v1::ExternalTask draft = FetchOne(agency, "key_evaluation_draft", 1000);
  Advance(1000);
  s = Complete(agency, draft.id(), draft.lock_token(), ReportDeliverable(), &done);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "external task " + draft.id() +
                                   ": this lock is no longer held (the lock expired); a late "
                                   "completion is refused");
  EXPECT_EQ(Get(id).state(), "draft_report");
}

TEST_F(AgencyTest, AnAgencyThatCrashesMidTaskGetsItBackAfterTheLockExpires) {
  MustRegister("ag-huaxin");
  const std::string id =
      StartEvaluation(MustEngage(KeyEvaluation("ag-huaxin", "P-2026-01")), "P-2026-01");

  ClientRun run = RunClient({"--agency", "ag-huaxin", "--lock-ms", "5000", "--crash-after-lock"});
  EXPECT_EQ(run.exit, 3) << run.log;
  const auto fetched = LinesOf(run.log, "fetched");
  ASSERT_EQ(fetched.size(), 1u) << run.log;
  const std::string task = Field(fetched[0], "task");
  EXPECT_EQ(Field(fetched[0], "instance"), id);
  EXPECT_EQ(LinesOf(run.log, "crashed").size(), 1u) << run.log;
  EXPECT_TRUE(LinesOf(run.log, "completed").empty()) << run.log;

  // While the dead worker's lock holds, nobody gets the task.
  run = RunClient({"--agency", "ag-huaxin", "--idle-exit-ms", "1000", "--poll-ms", "500"});
  EXPECT_EQ(run.exit, 0) << run.log;
  EXPECT_TRUE(LinesOf(run.log, "fetched").empty()) << run.log;
  EXPECT_EQ(LinesOf(run.log, "idle:").size(), 1u) << run.log;
  EXPECT_EQ(Get(id).state(), "work_plan");

  // Then it is re-delivered and finished by the restarted agency system.
  Advance(5000);
  run = RunClient({"--agency", "ag-huaxin", "--count", "1", "--idle-exit-ms", "20000"});
  ASSERT_EQ(run.exit, 0) << run.log;
  const auto completed = LinesOf(run.log, "completed");
  ASSERT_EQ(completed.size(), 1u) << run.log;
  EXPECT_EQ(Field(completed[0], "task"), task);
  EXPECT_EQ(Field(completed[0], "state"), "plan_approval");
  EXPECT_EQ(Get(id).state(), "plan_approval");
  EXPECT_EQ(History(id, "external_completed").size(), 1u);
}

TEST_F(AgencyTest, TheClientExtendsItsLockWhenTheWorkOutlastsHalfTheLock) {
  MustRegister("ag-huaxin");
  const std::string id =
      StartEvaluation(MustEngage(KeyEvaluation("ag-huaxin", "P-2026-01")), "P-2026-01");
  // The clock stands still, so the lock outlives the real-time work unless
  // the heartbeat is refused; what is checked is that it is sent and taken.
  ClientRun run = RunClient({"--agency", "ag-huaxin", "--count", "1", "--idle-exit-ms", "20000",
                             "--lock-ms", "1000", "--work-ms", "1600"});
  ASSERT_EQ(run.exit, 0) << run.log;
  const auto extended = LinesOf(run.log, "extended");
  ASSERT_EQ(extended.size(), 3u) << run.log;  // at 500, 1000 and 1500 ms
  EXPECT_EQ(Field(extended[0], "lock_expires_unix_ms"), std::to_string(kStart + 1000));
  EXPECT_EQ(LinesOf(run.log, "completed").size(), 1u) << run.log;
  EXPECT_EQ(Get(id).state(), "plan_approval");
}

// ---- retries and incidents --------------------------------------------------------------

TEST_F(AgencyTest, RetriesRunOutIntoAnIncidentThatRetryResolves) {
  MustRegister("ag-huaxin");
  const std::string id =
      StartEvaluation(MustEngage(KeyEvaluation("ag-huaxin", "P-2026-01")), "P-2026-01");

  ClientRun run = RunClient({"--agency", "ag-huaxin", "--fail-first", "3", "--backoff-ms", "0",
                             "--idle-exit-ms", "1500", "--poll-ms", "500"});
  ASSERT_EQ(run.exit, 0) << run.log;
  const auto failed = LinesOf(run.log, "failed");
  ASSERT_EQ(failed.size(), 3u) << run.log;
  EXPECT_EQ(Field(failed[0], "retries_left"), "2");
  EXPECT_EQ(Field(failed[1], "retries_left"), "1");
  EXPECT_EQ(Field(failed[2], "retries_left"), "0");
  EXPECT_EQ(Field(failed[0], "incident"), "");
  const std::string task = Field(failed[2], "task");
  const std::string incident_id = Field(failed[2], "incident");
  ASSERT_FALSE(incident_id.empty()) << run.log;

  auto incidents = Incidents(false);
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_EQ(incidents[0].id(), incident_id);
  EXPECT_EQ(incidents[0].instance_id(), id);
  EXPECT_EQ(incidents[0].external_task_id(), task);
  EXPECT_EQ(incidents[0].kind(), "retries_exhausted");
  EXPECT_EQ(incidents[0].message(),
            "agency ag-huaxin failed external task " + task +
                " (key_evaluation_plan) with no retries left: 模拟故障：评价系统暂不可用 "
                "(--fail-first 3)");
  EXPECT_EQ(incidents[0].resolved_unix_ms(), 0);
  EXPECT_EQ(Get(id).status(), "incident");
  EXPECT_EQ(History(id, "external_failed").size(), 2u);
  EXPECT_EQ(History(id, "incident").size(), 1u);

  testing::Result r = Ctl({"incidents"});
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  EXPECT_THAT(r.out, HasSubstr(incident_id));
  EXPECT_THAT(r.out, HasSubstr("retries_exhausted"));

  r = Ctl({"incident", "resolve", incident_id, "retry", "--comment", "机构系统已恢复"});
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  EXPECT_THAT(r.out, HasSubstr("ok: incident " + incident_id + " resolved by retry"));
  EXPECT_EQ(Get(id).status(), "running");
  EXPECT_TRUE(Incidents(false).empty());
  incidents = Incidents(true);
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_EQ(incidents[0].resolution(), "retry");
  EXPECT_EQ(incidents[0].resolved_by(), "qian");
  EXPECT_EQ(incidents[0].resolved_unix_ms(), now_);
  r = Ctl({"incidents"});
  EXPECT_THAT(r.out, HasSubstr("no open incidents"));
  r = Ctl({"incidents", "--all"});
  EXPECT_THAT(r.out, HasSubstr(incident_id));

  // The task is open again with fresh retries, for the same agency.
  run = RunClient({"--agency", "ag-huaxin", "--count", "1", "--idle-exit-ms", "20000"});
  ASSERT_EQ(run.exit, 0) << run.log;
  const auto fetched = LinesOf(run.log, "fetched");
  ASSERT_EQ(fetched.size(), 1u) << run.log;
  EXPECT_EQ(Field(fetched[0], "task"), task);
  EXPECT_EQ(Field(fetched[0], "retries_left"), "3");
  EXPECT_EQ(LinesOf(run.log, "completed").size(), 1u) << run.log;
  EXPECT_EQ(Get(id).state(), "plan_approval");

  v1::ResolveIncidentResponse resolved;
  grpc::Status s = Resolve(incident_id, "retry", "", &resolved);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "incident " + incident_id + " is already resolved (retry)");
}

TEST_F(AgencyTest, AnIncidentCanBeReassignedToAnotherAgencysEngagement) {
  MustRegister("ag-huaxin");
  MustRegister("ag-zhongcheng");
  const std::string first = MustEngage(KeyEvaluation("ag-huaxin", "P-2026-02"));
  const std::string second = MustEngage(KeyEvaluation("ag-zhongcheng", "P-2026-02"));
  const std::string elsewhere = MustEngage(KeyEvaluation("ag-zhongcheng", "P-2026-03"));
  const std::string id = StartEvaluation(first, "P-2026-02");

  ClientRun run = RunClient({"--agency", "ag-huaxin", "--fail-first", "3", "--backoff-ms", "0",
                             "--idle-exit-ms", "1500", "--poll-ms", "500"});
  ASSERT_EQ(run.exit, 0) << run.log;
  auto incidents = Incidents(false);
  ASSERT_EQ(incidents.size(), 1u) << run.log;
  const std::string incident_id = incidents[0].id();
  const std::string task = incidents[0].external_task_id();

  // Only an engagement for the same purpose and subject will do.
  v1::ResolveIncidentResponse resolved;
  grpc::Status s = Resolve(incident_id, "reassign", elsewhere, &resolved);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "engagement " + elsewhere +
                                   " is for key_evaluation of P-2026-03, not key_evaluation of "
                                   "P-2026-02");
  testing::Result r = Ctl({"incident", "resolve", incident_id, "reassign"});
  EXPECT_EQ(r.exit, 2) << testing::Dump(r);
  EXPECT_THAT(r.err, HasSubstr("reassign needs --engagement"));

  r = Ctl({"incident", "resolve", incident_id, "reassign", "--engagement", second, "--comment",
           "改由中诚咨询承担"});
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  EXPECT_THAT(r.out, HasSubstr("resolved by reassign"));
  EXPECT_EQ(Get(id).status(), "running");

  EXPECT_TRUE(FetchAll(AgencyWho("ag-huaxin")).empty());
  run = RunClient({"--agency", "ag-zhongcheng", "--count", "1", "--idle-exit-ms", "20000"});
  ASSERT_EQ(run.exit, 0) << run.log;
  const auto completed = LinesOf(run.log, "completed");
  ASSERT_EQ(completed.size(), 1u) << run.log;
  EXPECT_EQ(Field(completed[0], "task"), task);
  EXPECT_EQ(Get(id).state(), "plan_approval");
  const auto events = History(id, "incident_resolved");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].action(), "reassign");
  EXPECT_EQ(events[0].note(), "reassigned to agency ag-zhongcheng");
  const auto done = History(id, "external_completed");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_THAT(done[0].note(), StartsWith("agency ag-zhongcheng (worker ag-zhongcheng-worker), "
                                         "engagement " + second));
}

TEST_F(AgencyTest, CancellingAnIncidentTerminatesTheInstance) {
  MustRegister("ag-huaxin");
  const std::string id =
      StartEvaluation(MustEngage(KeyEvaluation("ag-huaxin", "P-2026-01")), "P-2026-01");
  ClientRun run = RunClient({"--agency", "ag-huaxin", "--fail-first", "3", "--backoff-ms", "0",
                             "--idle-exit-ms", "1500", "--poll-ms", "500"});
  ASSERT_EQ(run.exit, 0) << run.log;
  auto incidents = Incidents(false);
  ASSERT_EQ(incidents.size(), 1u) << run.log;

  testing::Result r =
      Ctl({"--json", "incident", "resolve", incidents[0].id(), "cancel", "--comment", "终止评价"});
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  const auto resolved = testing::ParseJson<v1::ResolveIncidentResponse>(r.out);
  EXPECT_EQ(resolved.incident().resolution(), "cancel");
  const v1::Instance inst = Get(id);
  EXPECT_EQ(inst.status(), "terminated");
  EXPECT_EQ(inst.state(), "work_plan");
  EXPECT_TRUE(FetchAll(AgencyWho("ag-huaxin")).empty());
  EXPECT_TRUE(Incidents(false).empty());
  const auto cancelled = History(id, "cancelled");
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0].comment(), "终止评价");
}

// ---- 财预〔2021〕6号 ---------------------------------------------------------------------

TEST_F(AgencyTest, EngagementsFollowTheRulesOf6Hao) {
  MustRegister("ag-huaxin");
  MustRegister("ag-zhongcheng");
  v1::Engagement out;
  auto refused = [&](const v1::Engagement& e) {
    grpc::Status s = Engage(e, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    return s.error_message();
  };

  // A department may not commission the evaluation of its own performance.
  v1::Engagement own = KeyEvaluation("ag-huaxin", "P-2026-04");
  own.set_commissioner_org("906");
  own.set_subject_org("906");
  EXPECT_EQ(refused(own),
            "财预〔2021〕6号: 906 may not commission an evaluation of its own performance "
            "management");

  // Target setting, monitoring and self-evaluation stay with the budget unit.
  for (const std::string purpose : {"target_setting", "monitoring", "self_evaluation"}) {
    v1::Engagement e = KeyEvaluation("ag-huaxin", "P-2026-04");
    e.set_purpose(purpose);
    e.set_commissioner_org("906017");
    e.clear_sheet();
    EXPECT_EQ(refused(e), "财预〔2021〕6号: " + purpose +
                              " stays with the budget unit; an agency may only assist (mode: "
                              "assist), never author the conclusion");
    e.set_mode("assist");
    grpc::Status s = Engage(e, &out);
    EXPECT_TRUE(s.ok()) << purpose << ": " << s.error_message();
    EXPECT_EQ(out.mode(), "assist");
  }

  // Who did the ex-ante assessment of a project may not evaluate it.
  v1::Engagement ex_ante = KeyEvaluation("ag-huaxin", "P-2026-05");
  ex_ante.set_purpose("ex_ante");
  ex_ante.clear_sheet();
  const std::string ex_ante_id = MustEngage(ex_ante);
  EXPECT_EQ(refused(KeyEvaluation("ag-huaxin", "P-2026-05")),
            "conflict of interest: agency ag-huaxin did the ex_ante work for P-2026-05 "
            "(engagement " + ex_ante_id + ") and cannot evaluate it");
  EXPECT_FALSE(MustEngage(KeyEvaluation("ag-zhongcheng", "P-2026-05")).empty());

  // A declared related party.
  ASSERT_TRUE(Register("ag-guanlian", "", {"906017"}).ok());
  EXPECT_EQ(refused(KeyEvaluation("ag-guanlian", "P-2026-06")),
            "conflict of interest: agency ag-guanlian declared 906017 a related party");

  // Not eligible: no declaration of 3 years without major violations
  // (registered with bpmctl --violations, engaged with bpmctl).
  testing::Result r = Ctl({"agency", "register", "ag-weigui", "--name", "某咨询公司",
                           "--credit-code", "91360700MA35K0XX1Y", "--type", "consulting",
                           "--violations"});
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  EXPECT_THAT(r.out, HasSubstr("NOT declared"));
  r = Ctl({"agency", "engage", "ag-weigui", "--purpose", "key_evaluation", "--mode",
           "independent", "--commissioner", "czj", "--subject", "P-2026-06", "--subject-org",
           "906017", "--sheet", testing::SourceDir() + "/examples/key-evaluation-sheet.yaml"});
  EXPECT_EQ(r.exit, 1) << testing::Dump(r);
  EXPECT_EQ(r.err,
            "bpmctl: agency: FAILED_PRECONDITION: agency ag-weigui has not declared 3 years "
            "without major violations: it is not eligible (财监〔2021〕4号)\n");

  // A suspended agency.
  ASSERT_TRUE(Register("ag-zanting", "", {}, true, "suspended").ok());
  EXPECT_EQ(refused(KeyEvaluation("ag-zanting", "P-2026-06")),
            "agency ag-zanting is suspended: it cannot be engaged");

  // An agency cannot engage itself.
  grpc::Status s = Engage(KeyEvaluation("ag-huaxin", "P-2026-07"), &out, AgencyWho("ag-huaxin"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "/bpm.v1.AgencyService/Engage: denied to user ag-huaxin-worker (roles agency; org "
            "ag-huaxin): needs an org that is a finance bureau or section in the org model");

  // None of the refused engagements was recorded.
  v1::ListEngagementsRequest list;
  v1::ListEngagementsResponse engagements;
  ASSERT_TRUE(agencies_->ListEngagements(Ctx(kQian).get(), list, &engagements).ok());
  EXPECT_EQ(engagements.engagements_size(), 5);  // 3 assist, ex-ante, ag-zhongcheng's
}

TEST_F(AgencyTest, AKeyEvaluationSheetMustWeigh100WithOutputAndBenefitAtLeast60) {
  MustRegister("ag-huaxin");
  v1::Engagement out;
  v1::Engagement e = KeyEvaluation("ag-huaxin", "P-2026-01");
  e.mutable_sheet()->mutable_indicators(3)->set_weight(25);  // 95 in all
  grpc::Status s = Engage(e, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "engagement.sheet: weights add up to 95, not 100");

  e = KeyEvaluation("ag-huaxin", "P-2026-01");
  e.mutable_sheet()->mutable_indicators(0)->set_weight(30);  // 决策 30
  e.mutable_sheet()->mutable_indicators(2)->set_weight(30);  // 产出 30
  e.mutable_sheet()->mutable_indicators(3)->set_weight(20);  // 效益 20
  s = Engage(e, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "engagement.sheet: 产出 + 效益 weigh 50; they must be at least 60 (财预〔2020〕10号)");

  e.clear_sheet();
  s = Engage(e, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "engagement.sheet: a key evaluation needs its indicator sheet");

  // bpmctl reads the sheet file and says where it is wrong.
  const std::string bad = dir_.path() + "/bad-sheet.yaml";
  testing::WriteFile(bad,
                     "indicators:\n"
                     "  - {code: A, level1: 决策, name: 立项依据充分性, weight: 15}\n"
                     "  - {code: B, level1: 过程, name: 预算执行率, weight: 20, score: 3}\n");
  testing::Result r = Ctl({"agency", "engage", "ag-huaxin", "--purpose", "key_evaluation",
                           "--mode", "independent", "--commissioner", "czj", "--subject",
                           "P-2026-01", "--subject-org", "906017", "--sheet", bad});
  EXPECT_EQ(r.exit, 2) << testing::Dump(r);
  EXPECT_EQ(r.err, "bpmctl: agency engage: --sheet: " + bad +
                       ":3:52: unknown key 'score' (expected code, level1, level2, name, weight)\n");
  testing::WriteFile(bad,
                     "indicators:\n"
                     "  - {code: A, level1: 决策, name: 立项依据充分性, weight: 100}\n");
  r = Ctl({"agency", "engage", "ag-huaxin", "--purpose", "key_evaluation", "--mode",
           "independent", "--commissioner", "czj", "--subject", "P-2026-01", "--subject-org",
           "906017", "--sheet", bad});
  EXPECT_EQ(r.exit, 1) << testing::Dump(r);
  EXPECT_EQ(r.err,
            "bpmctl: agency: INVALID_ARGUMENT: engagement.sheet: 产出 + 效益 weigh 0; they must "
            "be at least 60 (财预〔2020〕10号)\n");

  v1::ListEngagementsRequest list;
  v1::ListEngagementsResponse engagements;
  ASSERT_TRUE(agencies_->ListEngagements(Ctx(kQian).get(), list, &engagements).ok());
  EXPECT_EQ(engagements.engagements_size(), 0);
}

// ---- deliverables -------------------------------------------------------------------------

TEST_F(AgencyTest, AnInvalidDeliverableIsRefusedAndTheTaskStaysWithTheAgency) {
  MustRegister("ag-huaxin");
  const std::string id =
      StartEvaluation(MustEngage(KeyEvaluation("ag-huaxin", "P-2026-01")), "P-2026-01");
  const Who agency = AgencyWho("ag-huaxin");

  // The work plan's file digest must be a sha256.
  const v1::ExternalTask plan = FetchOne(agency, "key_evaluation_plan");
  v1::Deliverable d = PlanDeliverable();
  d.mutable_files(0)->set_sha256("ABC");
  v1::CompleteExternalTaskResponse done;
  grpc::Status s = Complete(agency, plan.id(), plan.lock_token(), d, &done);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "deliverable.files[0].sha256: must be 64 lowercase hex characters");
  ASSERT_TRUE(Complete(agency, plan.id(), plan.lock_token(), PlanDeliverable(), &done).ok());
  Act(kZhao, id, "approve");

  const v1::ExternalTask draft = FetchOne(agency, "key_evaluation_draft");
  auto refused = [&](const v1::Deliverable& bad) {
    grpc::Status st = Complete(agency, draft.id(), draft.lock_token(), bad, &done);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
    return st.error_message();
  };
  d = ReportDeliverable();
  d.mutable_scores()->RemoveLast();  // D not scored
  d.set_total(61);
  d.set_grade("中");
  EXPECT_EQ(refused(d), "deliverable.scores: indicator 'D' is not scored");

  d = ReportDeliverable();
  d.set_grade("优");
  EXPECT_EQ(refused(d), "deliverable.grade: a total of 85 is graded 良, not '优' (bands 90/80/60)");

  d = ReportDeliverable();
  d.set_total(90);
  EXPECT_EQ(refused(d), "deliverable.total: 90 is not the sum of the scores (85)");

  d = ReportDeliverable();
  d.mutable_scores(1)->set_score(21);
  d.set_total(90);
  d.set_grade("优");
  EXPECT_EQ(refused(d), "deliverable.scores[1].score: must be between 0 and the weight 20");

  d = ReportDeliverable();
  d.mutable_scores(0)->set_code("Z");
  EXPECT_EQ(refused(d), "deliverable.scores[0].code: 'Z' is not an indicator of the sheet");

  d = ReportDeliverable();
  d.clear_findings();
  EXPECT_EQ(refused(d), "deliverable.findings: at least one finding");

  d = ReportDeliverable();
  d.clear_recommendations();
  EXPECT_EQ(refused(d), "deliverable.recommendations: at least one recommendation");

  // None of that used up the task or a retry.
  EXPECT_EQ(Get(id).state(), "draft_report");
  EXPECT_TRUE(History(id, "external_failed").empty());
  s = Complete(agency, draft.id(), draft.lock_token(), ReportDeliverable(), &done);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(done.state(), "unit_feedback");
  const v1::Instance inst = Get(id);
  EXPECT_EQ(inst.variables().fields().at("evaluation_grade").string_value(), "良");
  EXPECT_DOUBLE_EQ(inst.variables().fields().at("evaluation_score").number_value(), 85);
}

TEST_F(AgencyTest, AnAgencyThatOnlyAssistsMayNotAuthorTheConclusion) {
  MustRegister("ag-huaxin");
  v1::Engagement e = KeyEvaluation("ag-huaxin", "P-2026-01");
  e.set_mode("assist");
  const std::string engagement = MustEngage(e);
  const std::string id = StartEvaluation(engagement, "P-2026-01");
  const Who agency = AgencyWho("ag-huaxin");
  const v1::ExternalTask plan = FetchOne(agency, "key_evaluation_plan");
  v1::Deliverable d = PlanDeliverable();
  d.set_grade("优");
  v1::CompleteExternalTaskResponse done;
  grpc::Status s = Complete(agency, plan.id(), plan.lock_token(), d, &done);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "engagement " + engagement +
                                   " is in assist mode: the agency may not author the conclusion "
                                   "(scores, total, grade)");
  ASSERT_TRUE(Complete(agency, plan.id(), plan.lock_token(), PlanDeliverable(), &done).ok());
  EXPECT_EQ(Get(id).state(), "plan_approval");
}

// ---- one agency, not another's ----------------------------------------------------------

TEST_F(AgencyTest, AnAgencyMayNotTouchAnotherAgencysWork) {
  MustRegister("ag-huaxin");
  MustRegister("ag-zhongcheng");
  const std::string engagement = MustEngage(KeyEvaluation("ag-huaxin", "P-2026-01"));
  const std::string id = StartEvaluation(engagement, "P-2026-01");
  const Who mine = AgencyWho("ag-huaxin");
  const Who other = AgencyWho("ag-zhongcheng");

  v1::GetEngagementRequest get;
  get.set_id(engagement);
  v1::Engagement e;
  grpc::Status s = agencies_->GetEngagement(Ctx(other).get(), get, &e);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(),
            "agency ag-zhongcheng may not read engagement " + engagement + " of another agency");
  ASSERT_TRUE(agencies_->GetEngagement(Ctx(mine).get(), get, &e).ok());
  EXPECT_EQ(e.sheet().indicators_size(), 4);

  v1::ListEngagementsRequest list;
  list.set_agency_id("ag-huaxin");
  v1::ListEngagementsResponse listed;
  s = agencies_->ListEngagements(Ctx(other).get(), list, &listed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  list.clear_agency_id();
  ASSERT_TRUE(agencies_->ListEngagements(Ctx(other).get(), list, &listed).ok());
  EXPECT_EQ(listed.engagements_size(), 0);

  testing::Result r = Ctl({"agency", "engagement", engagement}, other);
  EXPECT_EQ(r.exit, 1) << testing::Dump(r);
  EXPECT_THAT(r.err, HasSubstr("PERMISSION_DENIED"));

  EXPECT_TRUE(FetchAll(other).empty());
  const v1::ExternalTask task = FetchOne(mine, "key_evaluation_plan");
  v1::CompleteExternalTaskResponse done;
  s = Complete(other, task.id(), task.lock_token(), PlanDeliverable(), &done);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "external task " + task.id() + " belongs to another agency");
  v1::ExtendLockResponse extended;
  s = Extend(other, task.id(), task.lock_token(), 60000, &extended);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  v1::ReportFailureResponse failed;
  s = ReportFailure(other, task.id(), task.lock_token(), &failed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // Someone who is not an agency has no pull protocol at all.
  std::vector<v1::ExternalTask> tasks;
  s = Fetch(kQian, kTopics, 60000, &tasks);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(),
            "/bpm.v1.AgencyService/FetchAndLock: denied to user qian (roles perf_head; org czj): "
            "needs role agency");

  ASSERT_TRUE(Complete(mine, task.id(), task.lock_token(), PlanDeliverable(), &done).ok());
  EXPECT_EQ(Get(id).state(), "plan_approval");
}

// ---- bpmctl as the agency ------------------------------------------------------------------

TEST_F(AgencyTest, BpmctlSpeaksThePullProtocol) {
  MustRegister("ag-huaxin");
  const std::string engagement = MustEngage(KeyEvaluation("ag-huaxin", "P-2026-01"));
  const std::string id = StartEvaluation(engagement, "P-2026-01");
  const Who agency = AgencyWho("ag-huaxin");

  testing::Result r = Ctl({"agency", "engagement", engagement}, agency);
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  EXPECT_THAT(r.out, HasSubstr("立项依据充分性"));
  EXPECT_THAT(r.out, HasSubstr("合计"));

  r = Ctl({"--json", "agency", "fetch", "--topic", "key_evaluation_plan", "--topic",
           "key_evaluation_draft", "--lock-ms", "60000"},
          agency);
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  const auto fetched = testing::ParseJson<v1::FetchAndLockResponse>(r.out);
  ASSERT_EQ(fetched.tasks_size(), 1);
  const v1::ExternalTask& task = fetched.tasks(0);
  EXPECT_EQ(task.instance_id(), id);
  r = Ctl({"agency", "fetch", "--topic", "key_evaluation_plan"}, agency);
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  EXPECT_EQ(r.out, "no tasks\n");

  r = Ctl({"agency", "extend", task.id(), "--token", task.lock_token(), "--lock-ms", "90000"},
          agency);
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  EXPECT_THAT(r.out, HasSubstr("ok: lock on task " + task.id() + " extended until"));

  const std::string file = dir_.path() + "/plan.json";
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(PlanDeliverable(), &json).ok());
  testing::WriteFile(file, json);
  r = Ctl({"agency", "complete", task.id(), "--token", "wrong", "--deliverable", file}, agency);
  EXPECT_EQ(r.exit, 1) << testing::Dump(r);
  EXPECT_THAT(r.err, HasSubstr("FAILED_PRECONDITION: external task " + task.id() +
                               ": this lock is no longer held"));
  r = Ctl({"agency", "complete", task.id(), "--token", task.lock_token(), "--deliverable", file},
          agency);
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  EXPECT_THAT(r.out, HasSubstr("ok: task " + task.id() + " completed; instance " + id +
                               " now in state plan_approval"));
  r = Ctl({"agency", "complete", task.id(), "--token", task.lock_token(), "--deliverable", file},
          agency);
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  EXPECT_THAT(r.out, HasSubstr("(replayed: it was already completed with this deliverable)"));

  testing::WriteFile(file, R"({"scores": [{"code": "A", "points": 3}]})");
  r = Ctl({"agency", "complete", task.id(), "--token", task.lock_token(), "--deliverable", file},
          agency);
  EXPECT_EQ(r.exit, 2) << testing::Dump(r);
  EXPECT_THAT(r.err, HasSubstr("--deliverable: not a bpm.v1.Deliverable in JSON"));

  // Failures through bpmctl count down the retries.
  Act(kZhao, id, "approve");
  r = Ctl({"--json", "agency", "fetch", "--topic", "key_evaluation_draft"}, agency);
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  const auto draft = testing::ParseJson<v1::FetchAndLockResponse>(r.out);
  ASSERT_EQ(draft.tasks_size(), 1);
  r = Ctl({"agency", "fail", draft.tasks(0).id(), "--token", draft.tasks(0).lock_token(),
           "--error", "现场核查延期", "--backoff-ms", "60000"},
          agency);
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  EXPECT_EQ(r.out, "ok: failure of task " + draft.tasks(0).id() + " recorded; 2 retries left\n");
  EXPECT_TRUE(FetchAll(agency).empty()) << "not before the back-off";
  Advance(60000);
  const v1::ExternalTask again = FetchOne(agency, "key_evaluation_draft");
  EXPECT_EQ(again.retries_left(), 2);
  EXPECT_EQ(again.last_error(), "现场核查延期");

  r = Ctl({"agency", "list"});
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  EXPECT_THAT(r.out, HasSubstr("ag-huaxin"));
  r = Ctl({"agency", "engagements", "--subject", "P-2026-01"});
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  EXPECT_THAT(r.out, HasSubstr(engagement));
  r = Ctl({"agency", "engagements", "--subject", "P-2099-99"});
  EXPECT_EQ(r.out, "no engagements\n");
}

// ---- push delivery ---------------------------------------------------------------------------

// The longest back-off before attempt number attempts + 1 (base 1 s doubling,
// capped at 10 min, jitter up to 1.5).
int64_t MaxBackoff(int64_t attempts) {
  int64_t backoff = 1000;
  for (int64_t i = 1; i < attempts && backoff < 600000; ++i) backoff *= 2;
  return std::min<int64_t>(backoff, 600000) * 3 / 2 + 1;
}

TEST_F(AgencyTest, AssignmentsArePushedToTheAgencysEndpointOnce) {
  FakeAgency fake;
  const int port = fake.Start(0);
  ASSERT_NE(port, 0);
  MustRegister("ag-push", "127.0.0.1:" + std::to_string(port));
  const std::string engagement = MustEngage(KeyEvaluation("ag-push", "P-2026-01"));
  const std::string id = StartEvaluation(engagement, "P-2026-01");

  ASSERT_TRUE(WaitFor([&] { return fake.deliveries().by_task().size() == 1; }));
  auto delivered = fake.deliveries().by_task();
  const std::string plan_task = delivered.begin()->first;
  ASSERT_EQ(delivered.begin()->second.size(), 1u);
  const v1::ExternalTask pushed = fake.deliveries().task(plan_task);
  EXPECT_EQ(pushed.instance_id(), id);
  EXPECT_EQ(pushed.topic(), "key_evaluation_plan");
  EXPECT_EQ(pushed.agency_id(), "ag-push");
  EXPECT_EQ(pushed.engagement_id(), engagement);
  EXPECT_EQ(pushed.subject_ref(), "P-2026-01");
  EXPECT_EQ(pushed.status(), "open");
  EXPECT_TRUE(pushed.lock_token().empty());
  EXPECT_EQ(fake.deliveries().header_mismatches(), 0);

  ASSERT_TRUE(WaitFor([&] { return OnlyMessage().status() == "delivered"; }));
  v1::OutboxMessage msg = OnlyMessage();
  EXPECT_EQ(msg.id(), delivered.begin()->second[0]);
  EXPECT_EQ(msg.external_task_id(), plan_task);
  EXPECT_EQ(msg.agency_id(), "ag-push");
  EXPECT_EQ(msg.endpoint(), "127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(msg.attempts(), 1);
  EXPECT_EQ(msg.last_error(), "");

  // The pushed agency then locks and completes the task over the pull protocol.
  const v1::ExternalTask locked = FetchOne(AgencyWho("ag-push"), "key_evaluation_plan");
  EXPECT_EQ(locked.id(), plan_task);
  v1::CompleteExternalTaskResponse done;
  ASSERT_TRUE(Complete(AgencyWho("ag-push"), locked.id(), locked.lock_token(), PlanDeliverable(),
                       &done).ok());
  Act(kZhao, id, "approve");
  ASSERT_TRUE(WaitFor([&] { return fake.deliveries().by_task().size() == 2; }));
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& m : Outbox()) {
      if (m.status() != "delivered") return false;
    }
    return true;
  }));
  delivered = fake.deliveries().by_task();
  for (const auto& [task, ids] : delivered) {
    EXPECT_EQ(ids.size(), 1u) << "task " << task << " got " << ids.size() << " delivery ids";
  }
  EXPECT_EQ(Outbox("delivered").size(), 2u);
  EXPECT_TRUE(Outbox("pending").empty());
}

TEST_F(AgencyTest, APushWaitsForTheEndpointToComeBack) {
  const int port = testing::FreePort();
  ASSERT_NE(port, 0);
  const std::string endpoint = "127.0.0.1:" + std::to_string(port);
  MustRegister("ag-push", endpoint);
  const std::string id =
      StartEvaluation(MustEngage(KeyEvaluation("ag-push", "P-2026-01")), "P-2026-01");

  // Down: the attempts grow, with the error kept.
  ASSERT_TRUE(WaitFor([&] { return OnlyMessage().attempts() >= 1; }));
  v1::OutboxMessage msg = OnlyMessage();
  EXPECT_EQ(msg.status(), "pending");
  EXPECT_EQ(msg.attempts(), 1);
  EXPECT_THAT(msg.last_error(), StartsWith("attempt 1: 14 "));  // UNAVAILABLE
  EXPECT_GT(msg.next_attempt_unix_ms(), now_);
  EXPECT_LE(msg.next_attempt_unix_ms(), now_ + MaxBackoff(1));
  testing::Result r = Ctl({"outbox", "--status", "pending"});
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  EXPECT_THAT(r.out, HasSubstr(msg.id()));
  EXPECT_THAT(r.out, HasSubstr("attempt 1: 14"));

  Advance(MaxBackoff(1));
  ASSERT_TRUE(WaitFor([&] { return OnlyMessage().attempts() >= 2; }));
  msg = OnlyMessage();
  EXPECT_EQ(msg.status(), "pending");
  EXPECT_EQ(msg.attempts(), 2);
  EXPECT_THAT(msg.last_error(), StartsWith("attempt 2: 14 "));

  // Up again: the next attempt delivers.
  FakeAgency fake;
  ASSERT_EQ(fake.Start(port), port);
  msg = UntilNotPending();
  EXPECT_EQ(msg.status(), "delivered") << msg.DebugString();
  EXPECT_EQ(msg.last_error(), "");
  const auto delivered = fake.deliveries().by_task();
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered.begin()->first, msg.external_task_id());
  EXPECT_EQ(delivered.begin()->second, std::vector<std::string>{msg.id()});
  EXPECT_EQ(Get(id).state(), "work_plan");
}

TEST_F(AgencyTest, AnUndeliverablePushGoesDeadAndIsReplayed) {
  const int port = testing::FreePort();
  ASSERT_NE(port, 0);
  MustRegister("ag-push", "127.0.0.1:" + std::to_string(port));
  StartEvaluation(MustEngage(KeyEvaluation("ag-push", "P-2026-01")), "P-2026-01");

  // Eight failed attempts, the clock jumping over each back-off.
  for (int attempt = 1; attempt <= 8; ++attempt) {
    ASSERT_TRUE(WaitFor([&] { return OnlyMessage().attempts() >= attempt; })) << attempt;
    const v1::OutboxMessage msg = OnlyMessage();
    ASSERT_EQ(msg.attempts(), attempt);
    ASSERT_EQ(msg.status(), attempt < 8 ? "pending" : "dead");
    ASSERT_THAT(msg.last_error(), StartsWith("attempt " + std::to_string(attempt) + ": 14 "));
    if (attempt < 8) SetClock(msg.next_attempt_unix_ms());
  }
  Advance(3600 * 1000);  // dead stays dead
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  v1::OutboxMessage msg = OnlyMessage();
  EXPECT_EQ(msg.status(), "dead");
  EXPECT_EQ(msg.attempts(), 8);

  testing::Result r = Ctl({"outbox", "--status", "dead"});
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  EXPECT_THAT(r.out, HasSubstr(msg.id()));
  r = Ctl({"outbox", "--status", "pending"});
  EXPECT_EQ(r.out, "no pending outbox messages\n");

  // Finance replays it once the agency is reachable again.
  v1::ReplayOutboxRequest replay;
  replay.set_id(msg.id());
  v1::ReplayOutboxResponse replayed;
  grpc::Status s = agencies_->ReplayOutbox(Ctx(AgencyWho("ag-push")).get(), replay, &replayed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "/bpm.v1.AgencyService/ReplayOutbox: denied to user ag-push-worker (roles agency; org "
            "ag-push): needs an org that is a finance bureau or section in the org model");

  FakeAgency fake;
  ASSERT_EQ(fake.Start(port), port);
  r = Ctl({"outbox", "replay", msg.id()});
  ASSERT_EQ(r.exit, 0) << testing::Dump(r);
  EXPECT_THAT(r.out, HasSubstr("ok: outbox message " + msg.id() + " is pending again"));
  msg = UntilNotPending();
  EXPECT_EQ(msg.status(), "delivered") << msg.DebugString();
  const auto delivered = fake.deliveries().by_task();
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered.begin()->second, std::vector<std::string>{msg.id()});

  s = agencies_->ReplayOutbox(Ctx(kQian).get(), replay, &replayed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "outbox message " + msg.id() + " is delivered, not dead");
}

}  // namespace
}  // namespace bpm
