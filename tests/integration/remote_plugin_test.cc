// End to end with an OUT-OF-PROCESS stage plugin: the example
// remote_stage_server (stage expert_review) and a real bpmd started with
// --remote-plugin, both real processes on loopback, driven over gRPC. Covers
// the happy path, refusals at start (wrong ABI, plugin down), and a plugin
// that dies, is slow, and comes back in the middle of a flow (where the
// engine refuses the command and raises a plugin_unavailable incident).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bpm/plugin/v1/plugin.grpc.pb.h"
#include "bpm/v1/agency.grpc.pb.h"
#include "bpm/v1/bpm.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/support/test_env.h"

namespace bpm {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
namespace v1 = ::bpm::v1;

using testing::Who;
const Who kUnit{"zhang", "unit_filer", "906017"};
const Who kExpert{"qian", "expert", "zjk"};
const Who kFinance{"wang", "finance_reviewer", "czj"};

const char* kForm = R"({"project_name": "乡村道路养护", "amount": 1200000})";

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

// examples/remote_stage/remote_stage_server as a child process.
class PluginServer {
 public:
  explicit PluginServer(std::string dir) : dir_(std::move(dir)) {}

  // Starts it on 127.0.0.1:port (0: any free port) with extra flags (test
  // knobs) and waits for its port file.
  bool Start(int port = 0, const std::vector<std::string>& extra = {}) {
    ++runs_;
    std::string port_file = dir_ + "/plugin-port-" + std::to_string(runs_);
    std::vector<std::string> args = {testing::BinaryDir() + "/bin/remote_stage_server",
                                     "--listen=127.0.0.1:" + std::to_string(port),
                                     "--port-file=" + port_file};
    args.insert(args.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<testing::Subprocess>(args, log_path());
    if (!proc_->Start()) return false;
    std::string text = testing::WaitForFile(port_file, 10000);
    if (text.empty()) {
      ADD_FAILURE() << "remote_stage_server did not start; log:\n" << testing::ReadFile(log_path());
      return false;
    }
    port_ = std::stoi(text);
    return true;
  }
  void Kill() {
    if (proc_ != nullptr) proc_->Kill();
  }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log_path() const { return dir_ + "/plugin.log"; }

 private:
  std::string dir_;
  int runs_ = 0;
  int port_ = 0;
  std::unique_ptr<testing::Subprocess> proc_;
};

// Runs bpmd with extra args and expects it to exit during start-up. Returns
// its log; *status is the waitpid status (-1: it was still running after 30 s).
std::string RunBpmdExpectingExit(const std::string& dir, const std::vector<std::string>& extra,
                                 int* status) {
  std::vector<std::string> args = {testing::BinaryDir() + "/bin/bpmd",
                                   "--listen=127.0.0.1:0",
                                   "--store=sqlite:" + dir + "/refused.db",
                                   "--plugins=" + testing::PluginDir(),
                                   "--dev-identity"};
  args.insert(args.end(), extra.begin(), extra.end());
  testing::Subprocess bpmd(args, dir + "/bpmd-refused.log");
  if (!bpmd.Start()) return "";
  *status = bpmd.Wait(30000);
  return bpmd.log();
}

class RemotePluginTest : public ::testing::Test {
 protected:
  void StartAll() {
    ASSERT_TRUE(plugin_.Start());
    bpmd_ = std::make_unique<testing::BpmdProcess>(
        testing::FreshStoreUrl(dir_.path(), "remote"),
        std::vector<std::string>{"--remote-plugin=expert_review=" + plugin_.address()});
    ASSERT_TRUE(bpmd_->Start());
    testing::ImportCountyOrgs(bpmd_->channel());
    definitions_ = v1::DefinitionService::NewStub(bpmd_->channel());
    instances_ = v1::InstanceService::NewStub(bpmd_->channel());
    tasks_ = v1::TaskService::NewStub(bpmd_->channel());
    agencies_ = v1::AgencyService::NewStub(bpmd_->channel());
  }

  grpc::Status Deploy(const std::string& yaml, v1::DeployDefinitionResponse* resp) {
    v1::DeployDefinitionRequest req;
    req.set_yaml(yaml);
    req.set_source_name("expert-review.yaml");
    auto ctx = testing::Context("admin", "org_admin,workflow_admin", "");
    return definitions_->Deploy(ctx.get(), req, resp);
  }

  std::string ExampleYaml() {
    return testing::ReadFile(testing::SourceDir() + "/examples/remote_stage/expert-review.yaml");
  }

  v1::Instance Get(const std::string& id) {
    v1::GetInstanceRequest req;
    req.set_id(id);
    v1::GetInstanceResponse resp;
    auto ctx = testing::Context("observer", "workflow_admin", "");
    grpc::Status s = instances_->Get(ctx.get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.instance();
  }

  grpc::Status Act(const Who& who, const std::string& task, const std::string& action,
                   const std::string& payload_json, const std::string& comment,
                   v1::Instance* out = nullptr) {
    v1::ActRequest req;
    req.set_task_id(task);
    req.set_action(action);
    if (!payload_json.empty()) {
      EXPECT_TRUE(
          google::protobuf::util::JsonStringToMessage(payload_json, req.mutable_payload()).ok());
    }
    req.set_comment(comment);
    v1::ActResponse resp;
    auto ctx = testing::Context(who.user, who.roles, who.org);
    grpc::Status s = tasks_->Act(ctx.get(), req, &resp);
    if (out != nullptr) *out = resp.instance();
    return s;
  }

  // Deploys the example, starts an instance and submits the form: the
  // instance then waits in expert_review.
  v1::Instance StartAtExpertReview(const std::string& subject = "P-2026-007") {
    v1::DeployDefinitionResponse deployed;
    grpc::Status s = Deploy(ExampleYaml(), &deployed);  // identical content: a no-op
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::StartInstanceRequest req;
    req.set_definition_key("expert-review");
    req.set_subject_ref(subject);
    req.set_org(kUnit.org);
    v1::StartInstanceResponse started;
    auto ctx = testing::Context(kUnit.user, kUnit.roles, kUnit.org);
    s = instances_->Start(ctx.get(), req, &started);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(started.instance().state(), "draft");
    if (started.instance().open_tasks_size() != 1) {
      ADD_FAILURE() << started.instance().DebugString();
      return started.instance();
    }
    v1::Instance out;
    s = Act(kUnit, started.instance().open_tasks(0).id(), "submit", kForm, "", &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(out.state(), "expert_review");
    return out;
  }

  // The plugin decided nothing: the instance is still in expert_review with
  // the same task open.
  void ExpectNothingDecided(const v1::Instance& before, const char* when) {
    v1::Instance now = Get(before.id());
    EXPECT_EQ(now.state(), "expert_review") << when;
    ASSERT_EQ(now.open_tasks_size(), 1) << when << ": " << now.DebugString();
    EXPECT_EQ(now.open_tasks(0).id(), before.open_tasks(0).id()) << when;
    EXPECT_EQ(now.open_tasks(0).status(), before.open_tasks(0).status()) << when;
  }

  // The engine's policy for an unreachable plugin ("refuse + incident"): the
  // instance waits in status incident with one open plugin_unavailable
  // incident carrying the refusal's message. Returns the incident's id.
  std::string ExpectPluginIncident(const std::string& instance_id, const std::string& message) {
    EXPECT_EQ(Get(instance_id).status(), "incident");
    v1::ListIncidentsResponse resp;
    auto ctx = testing::Context(kFinance.user, kFinance.roles, kFinance.org);
    grpc::Status s = agencies_->ListIncidents(ctx.get(), v1::ListIncidentsRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<v1::Incident> mine;
    for (const auto& inc : resp.incidents()) {
      if (inc.instance_id() == instance_id) mine.push_back(inc);
    }
    if (mine.size() != 1) {
      ADD_FAILURE() << "expected one open incident of " << instance_id << ":\n"
                    << resp.DebugString();
      return "";
    }
    EXPECT_EQ(mine[0].kind(), "plugin_unavailable");
    EXPECT_EQ(mine[0].message(), message);
    return mine[0].id();
  }

  // Validates the example definition through bpmd (ValidateConfig reaches the
  // plugin) until bpmd reaches the plugin again: until the definition is
  // valid (want ""), or a diagnostic contains want (e.g. "deadline" for a
  // slow plugin). Nothing about instances changes. False after 15 s.
  bool WaitUntilPluginAnswers(const std::string& want) {
    auto give_up = Clock::now() + std::chrono::seconds(15);
    while (Clock::now() < give_up) {
      v1::ValidateDefinitionRequest req;
      req.set_yaml(ExampleYaml());
      req.set_source_name("expert-review.yaml");
      v1::ValidateDefinitionResponse resp;
      auto ctx = testing::Context("admin", "org_admin,workflow_admin", "");
      grpc::Status s = definitions_->Validate(ctx.get(), req, &resp);
      if (s.ok()) {
        if (want.empty() && resp.valid()) return true;
        for (const auto& d : resp.diagnostics()) {
          if (!want.empty() && d.message().find(want) != std::string::npos) return true;
        }
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    return false;
  }

  testing::TempDir dir_;
  PluginServer plugin_{dir_.path()};
  std::unique_ptr<testing::BpmdProcess> bpmd_;
  std::unique_ptr<v1::DefinitionService::Stub> definitions_;
  std::unique_ptr<v1::InstanceService::Stub> instances_;
  std::unique_ptr<v1::TaskService::Stub> tasks_;
  std::unique_ptr<v1::AgencyService::Stub> agencies_;
};

TEST_F(RemotePluginTest, DrivesAWorkflowThroughTheRemoteStage) {
  StartAll();
  EXPECT_THAT(testing::ReadFile(bpmd_->log_path()),
              HasSubstr("bpmd: remote stage plugin expert_review 1.0.0 at " + plugin_.address() +
                        "\n"));

  // ValidateConfig crosses the wire: an unknown key is refused at deploy.
  std::string bad = ExampleYaml();
  size_t at = bad.find("      assignee: { role: expert, org: zjk }");
  ASSERT_NE(at, std::string::npos);
  bad.insert(at, "      colour: red\n");
  v1::DeployDefinitionResponse deployed;
  grpc::Status s = Deploy(bad, &deployed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("colour"));
  EXPECT_THAT(s.error_message(), HasSubstr("unknown key; allowed keys are: assignee, title."));

  v1::Instance inst = StartAtExpertReview();
  ASSERT_EQ(inst.open_tasks_size(), 1) << inst.DebugString();
  const v1::Task task = inst.open_tasks(0);
  EXPECT_EQ(task.name(), "expert_review");
  EXPECT_EQ(task.assignee_role(), "expert");
  EXPECT_EQ(task.assignee_org(), "zjk");  // the expert pool
  EXPECT_THAT(task.actions(), ::testing::ElementsAre("approve", "return"));

  // The plugin's rejection comes back with its field; nothing changes.
  s = Act(kExpert, task.id(), "return", "", "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("a return needs a comment"));
  EXPECT_EQ(Get(inst.id()).version(), inst.version());

  // return -> back to draft; submit again; approve -> done.
  v1::Instance out;
  s = Act(kExpert, task.id(), "return", "", "请补充项目预算明细", &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.state(), "draft");
  ASSERT_EQ(out.open_tasks_size(), 1);
  s = Act(kUnit, out.open_tasks(0).id(), "submit", kForm, "", &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(out.state(), "expert_review");
  ASSERT_EQ(out.open_tasks_size(), 1);
  s = Act(kExpert, out.open_tasks(0).id(), "approve", "", "同意立项", &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.state(), "done");
  EXPECT_EQ(out.status(), "completed");
  EXPECT_EQ(out.open_tasks_size(), 0);
}

// The example declares the variables a config reads: none of its own, plus
// the config's templates; a refused config declares nothing.
TEST_F(RemotePluginTest, TheExampleDeclaresTheVariablesItReads) {
  ASSERT_TRUE(plugin_.Start());
  auto stub = plugin::v1::Stage::NewStub(
      grpc::CreateChannel(plugin_.address(), grpc::InsecureChannelCredentials()));
  auto validate = [&](const std::string& json) {
    plugin::v1::ValidateConfigRequest req;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, req.mutable_config()).ok());
    plugin::v1::ValidateConfigResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub->ValidateConfig(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  };
  plugin::v1::ValidateConfigResponse plain = validate(R"({"title": "专家评审"})");
  EXPECT_EQ(plain.errors_size(), 0);
  ASSERT_TRUE(plain.has_variables());
  EXPECT_EQ(plain.variables().names_size(), 0);

  plugin::v1::ValidateConfigResponse templated =
      validate(R"({"assignee": {"user": "${var.lead_expert}"}, "title": "${var.project} 评审"})");
  EXPECT_EQ(templated.errors_size(), 0);
  EXPECT_EQ(std::vector<std::string>(templated.variables().names().begin(),
                                     templated.variables().names().end()),
            (std::vector<std::string>{"lead_expert", "project"}));

  plugin::v1::ValidateConfigResponse refused = validate(R"({"colour": "red"})");
  EXPECT_GT(refused.errors_size(), 0);
  EXPECT_FALSE(refused.has_variables());
}

TEST_F(RemotePluginTest, BpmdRefusesAPluginOfAnotherAbiAtStart) {
  ASSERT_TRUE(plugin_.Start(0, {"--abi-major=2"}));
  int status = 0;
  std::string log = RunBpmdExpectingExit(
      dir_.path(), {"--remote-plugin=expert_review=" + plugin_.address()}, &status);
  ASSERT_NE(status, -1) << "bpmd did not exit; log:\n" << log;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_THAT(log, HasSubstr("\nbpmd: remote plugin " + plugin_.address() +
                             ": ABI 2.1 is incompatible with host ABI 1.1 (stage "
                             "'expert_review' 1.0.0)\n"));
  EXPECT_THAT(log, Not(HasSubstr("listening on")));
}

TEST_F(RemotePluginTest, BpmdRefusesToStartWhenThePluginIsDown) {
  ASSERT_TRUE(plugin_.Start());
  plugin_.Kill();  // nothing listens on its port any more
  int status = 0;
  auto start = Clock::now();
  std::string log = RunBpmdExpectingExit(
      dir_.path(), {"--remote-plugin=expert_review=" + plugin_.address()}, &status);
  ASSERT_NE(status, -1) << "bpmd did not exit; log:\n" << log;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_THAT(log, HasSubstr("\nbpmd: remote plugin " + plugin_.address() +
                             ": unreachable: no connection within 5000 ms"));
  EXPECT_THAT(log, Not(HasSubstr("listening on")));
  EXPECT_GE(MsSince(start), 4500);  // it did wait for the connect timeout
}

TEST_F(RemotePluginTest, AnUnreachableOrSlowPluginDecidesNothingAndTheSameActSucceedsLater) {
  StartAll();
  v1::Instance a = StartAtExpertReview("P-2026-007");
  v1::Instance b = StartAtExpertReview("P-2026-008");
  ASSERT_EQ(a.open_tasks_size(), 1) << a.DebugString();
  ASSERT_EQ(b.open_tasks_size(), 1) << b.DebugString();
  const int port = plugin_.port();
  const std::string prefix =
      "stage plugin 'expert_review' at " + plugin_.address() + " unreachable: act: ";

  // 1. The plugin dies: the approval is refused as UNAVAILABLE within the
  //    deadline; nothing was decided, and the instance waits with an incident.
  plugin_.Kill();
  auto start = Clock::now();
  grpc::Status s = Act(kExpert, a.open_tasks(0).id(), "approve", "", "同意");
  EXPECT_LT(MsSince(start), 2000);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), StartsWith(prefix));
  ExpectNothingDecided(a, "plugin down");
  std::string incident_a = ExpectPluginIncident(a.id(), s.error_message());

  // 2. It comes back slow (every call 3 s; the deadline is 2 s). Once bpmd
  //    reaches it again, an approval is refused as UNAVAILABLE naming the
  //    deadline, and the late answer is never applied.
  ASSERT_TRUE(plugin_.Start(port, {"--delay-ms=3000"}));
  ASSERT_EQ(plugin_.port(), port);
  ASSERT_TRUE(WaitUntilPluginAnswers("deadline")) << "bpmd never reached the slow plugin";
  start = Clock::now();
  s = Act(kExpert, b.open_tasks(0).id(), "approve", "", "同意");
  int64_t took = MsSince(start);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(s.error_message(), prefix + "no answer within the 2000 ms deadline");
  EXPECT_GE(took, 1900);
  EXPECT_LT(took, 3000);
  ExpectNothingDecided(b, "plugin slow");
  ExpectPluginIncident(b.id(), s.error_message());
  std::this_thread::sleep_for(milliseconds(1500));  // the plugin has answered by now
  ExpectNothingDecided(b, "after the slow plugin's late answer");

  // 3. Back at normal speed on the same address (bpmd is not restarted): once
  //    the incident is resolved, the same Act succeeds over the reconnected
  //    channel.
  plugin_.Kill();
  ASSERT_TRUE(plugin_.Start(port));
  ASSERT_TRUE(WaitUntilPluginAnswers("")) << "bpmd never reached the plugin again";
  v1::ResolveIncidentRequest resolve;
  resolve.set_id(incident_a);
  resolve.set_action("retry");
  v1::ResolveIncidentResponse resolved;
  auto ctx = testing::Context(kFinance.user, kFinance.roles, kFinance.org);
  s = agencies_->ResolveIncident(ctx.get(), resolve, &resolved);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::Instance out;
  s = Act(kExpert, a.open_tasks(0).id(), "approve", "", "同意", &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.state(), "done");
  EXPECT_EQ(out.status(), "completed");
}

}  // namespace
}  // namespace bpm
