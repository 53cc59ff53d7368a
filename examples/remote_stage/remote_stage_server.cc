// remote_stage_server — an example OUT-OF-PROCESS stage plugin: a gRPC server
// implementing bpm.plugin.v1.Stage (proto/bpm/plugin/v1/plugin.proto) for the
// stage "expert_review" (专家评审). bpmd uses it with
//   bpmd ... --remote-plugin expert_review=127.0.0.1:PORT
// See README.md beside this file.
//
// The stage is written against the same SDK as in-process plugins
// (bpm/plugin/sdk.h, class bpm::plugin::Stage); StageService below adapts any
// such Stage to gRPC and is the part to copy for another remote plugin.
//
// Stage "expert_review":
//   config   assignee  who reviews; default {role: expert}: holders of the role
//                      whose org scope covers the project (name the expert
//                      pool's org to reach it: {role: expert, org: zjk})
//            title     task title; default "专家评审"
//            (any other key is an error)
//   Enter    opens one task "expert_review" with actions approve, return
//   Act      approve -> outcome "approved"
//            return  -> outcome "returned"; needs a non-blank comment
//            a payload is refused (the stage takes none)
//
// Test knobs: --abi-major N poses as a plugin built for another ABI;
// --delay-ms N makes every call sleep N ms first (a slow plugin).
//
// Serves grpc.health.v1 (SERVING while up). Stops on SIGINT/SIGTERM.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bpm/plugin/sdk.h"
#include "bpm/plugin/v1/plugin.grpc.pb.h"

namespace {

using namespace ::bpm::plugin;  // NOLINT(build/namespaces): SDK vocabulary

constexpr char kName[] = "expert_review";
constexpr char kVersion[] = "1.0.0";
constexpr char kTask[] = "expert_review";
const Assignee kDefaultExpert = {"expert", "", ""};

constexpr char kSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "assignee": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "role": {"type": "string", "minLength": 1, "default": "expert"},
        "org": {"type": "string", "default": ""},
        "user": {"type": "string", "minLength": 1}
      }
    },
    "title": {"type": "string", "default": "专家评审"}
  }
})json";

class ExpertReviewStage : public Stage {
 public:
  // It reads no variables of its own (only those its config's "${var.NAME}"
  // templates name, which the SDK adds), so bpmd sends it none but those.
  static constexpr bool kVariablesByName = true;
  std::optional<std::vector<std::string>> VariablesRead(const Struct&) const override {
    return std::vector<std::string>{};
  }

  pb::DescribeResponse Describe() const override {
    pb::DescribeResponse d;
    d.set_name(kName);
    d.set_version(kVersion);
    d.set_description(
        "专家评审：一位专家评审通过或退回（退回须填写意见）。"
        " One expert approves, or returns with a comment.");
    AddAction(&d, "approve", "评审通过 / approve");
    AddAction(&d, "return", "退回（须填写意见） / return, with a comment");
    d.add_outcomes("approved");
    d.add_outcomes("returned");
    d.set_config_schema_json(kSchema);
    return d;
  }

  void ValidateConfig(const Struct& config,
                      std::vector<pb::ConfigError>* errors) const override {
    CheckKnownKeys(config, "", {"assignee", "title"}, errors);
    ValidateAssignee(config, "assignee", errors);
    TypedField(config, "title", Value::kStringValue, "", errors);
  }

  pb::Decision Enter(const pb::EnterRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    Assignee who = ResolveAssignee(ctx, "assignee", kDefaultExpert);
    pb::Decision d = Accept();
    *d.add_open_tasks() = MakeTask(kTask, StringOr(ctx.config(), "title", "专家评审"), who,
                                   {"approve", "return"});
    return d;
  }

  pb::Decision Act(const pb::ActRequest& request) const override {
    if (request.task().name() != kTask) return RejectUnknownAction(request);
    pb::Decision bad;
    RejectUnknownFields(request.payload(), "payload", {}, &bad);
    if (request.action() == "approve") {
      if (bad.rejections_size() > 0) return bad;
      pb::Decision d = Accept("approved");
      d.set_note("专家评审通过");
      return d;
    }
    if (request.action() == "return") {
      if (Trim(request.comment()).empty()) {
        AddRejection(&bad, "comment", "退回须填写意见 / a return needs a comment");
      }
      if (bad.rejections_size() > 0) return bad;
      pb::Decision d = Accept("returned");
      d.set_note("专家评审退回：" + request.comment());
      return d;
    }
    return RejectUnknownAction(request);
  }
};

// Serves one SDK Stage over gRPC: the same hooks BPM_PLUGIN_EXPORT exports
// in process, including the variables an accepted config reads
// (ValidateConfigResponse.variables: ValidateConfigAnswer). Every
// call first sleeps delay_ms (test knob); exceptions from the stage become
// INTERNAL. Thread-safe: the Stage's hooks are const and the knobs fixed at
// construction.
template <typename StageClass>
class StageService final : public pb::Stage::Service {
 public:
  StageService(const StageClass& stage, uint32_t abi_major, int delay_ms)
      : stage_(stage), abi_major_(abi_major), delay_ms_(delay_ms) {}

  grpc::Status Describe(grpc::ServerContext*, const pb::DescribeRequest*,
                        pb::DescribeResponse* out) override {
    return Run("describe", [&] {
      *out = stage_.Describe();
      out->set_abi_major(abi_major_);
      out->set_abi_minor(BPM_PLUGIN_ABI_MINOR);
    });
  }

  grpc::Status ValidateConfig(grpc::ServerContext*, const pb::ValidateConfigRequest* req,
                              pb::ValidateConfigResponse* out) override {
    return Run("validate_config", [&] { *out = ValidateConfigAnswer(stage_, req->config()); });
  }

  grpc::Status Enter(grpc::ServerContext*, const pb::EnterRequest* req,
                     pb::Decision* out) override {
    return Run("enter", [&] { *out = stage_.Enter(*req); });
  }

  grpc::Status Act(grpc::ServerContext*, const pb::ActRequest* req, pb::Decision* out) override {
    return Run("act", [&] { *out = stage_.Act(*req); });
  }

  grpc::Status OnTimer(grpc::ServerContext*, const pb::TimerRequest* req,
                       pb::Decision* out) override {
    return Run("on_timer", [&] { *out = stage_.OnTimer(*req); });
  }

 private:
  template <typename Fn>
  grpc::Status Run(const char* hook, Fn&& fn) {
    if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    try {
      fn();
      return grpc::Status::OK;
    } catch (const std::exception& e) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          std::string(hook) + " hook threw an exception: " + e.what());
    } catch (...) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          std::string(hook) + " hook threw a non-standard exception");
    }
  }

  const StageClass& stage_;
  const uint32_t abi_major_;
  const int delay_ms_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"remote_stage_server — example out-of-process bpm stage plugin (expert_review)"};
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  uint32_t abi_major = BPM_PLUGIN_ABI_MAJOR;
  int delay_ms = 0;
  app.add_option("--listen", listen, "address:port to listen on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--port-file", port_file, "write the port actually bound to this file");
  app.add_option("--abi-major", abi_major,
                 "TESTS ONLY: ABI major version to declare (pose as an incompatible plugin)")
      ->capture_default_str();
  app.add_option("--delay-ms", delay_ms, "TESTS ONLY: sleep this long in every call")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  ExpertReviewStage stage;
  StageService service(stage, abi_major, delay_ms);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "remote_stage_server: cannot listen on " << listen << std::endl;
    return 1;
  }
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << port << "\n";
    std::filesystem::rename(tmp, port_file);
  }
  std::string host = listen.substr(0, listen.rfind(':'));
  std::cout << "remote_stage_server: stage " << kName << " " << kVersion << " (ABI " << abi_major
            << "." << BPM_PLUGIN_ABI_MINOR << ") listening on " << host << ":" << port
            << (delay_ms > 0 ? " (every call delayed " + std::to_string(delay_ms) + " ms)" : "")
            << std::endl;

  std::thread waiter([&]() {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::cout << "remote_stage_server: signal " << sig << ", shutting down" << std::endl;
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  });
  server->Wait();
  waiter.join();
  return 0;
}
