// load_bench — a load generator for a running bpmd (issue 5's first step).
//
// N client threads each drive instances of the bundled target-filing workflow
// through the chain over gRPC — start, submit, authority approve, finance
// approve 优, publish — one API call per user task, and count workflow
// transitions. Prints transitions/s, instances/s, latency percentiles per
// call kind and errors by code. A figure printer, not a test: it asserts
// nothing about speed.
//
//   bench/load_bench --server 127.0.0.1:7411 --clients 16 --seconds 20
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bpm/v1/bpm.grpc.pb.h"
#include "google/protobuf/util/json_util.h"

namespace {

namespace v1 = ::bpm::v1;
using Clock = std::chrono::steady_clock;

const char* kPayload = R"({"project_name": "基准测试项目", "amount": 500000, "annual_goal": "完成",
  "indicators": [{"level1": "产出指标", "level2": "数量指标", "name": "完成数", "operator": "≥",
                  "target": "10", "unit": "个", "weight": 100}]})";

struct Stats {
  std::mutex mu;
  std::map<std::string, std::vector<double>> latency_ms;  // by call kind
  std::map<std::string, int> errors;                       // by code
  std::atomic<long> transitions{0};
  std::atomic<long> instances{0};
};

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& user, const std::string& roles,
                                         const std::string& org) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("x-bpm-user", user);
  ctx->AddMetadata("x-bpm-roles", roles);
  ctx->AddMetadata("x-bpm-org", org);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

// Runs one call, records its latency under kind; false on error.
template <typename Fn>
bool Timed(Stats& stats, const std::string& kind, Fn&& fn) {
  const auto start = Clock::now();
  grpc::Status s = fn();
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  std::lock_guard<std::mutex> lock(stats.mu);
  if (!s.ok()) {
    ++stats.errors[std::to_string(s.error_code()) + " " + s.error_message().substr(0, 60)];
    return false;
  }
  stats.latency_ms[kind].push_back(ms);
  return true;
}

void Client(int id, const std::string& server, Clock::time_point end, Stats& stats) {
  auto channel = grpc::CreateChannel(server, grpc::InsecureChannelCredentials());
  auto instances = v1::InstanceService::NewStub(channel);
  auto tasks = v1::TaskService::NewStub(channel);
  google::protobuf::Struct form;
  (void)google::protobuf::util::JsonStringToMessage(kPayload, &form);
  const std::string org = "B" + std::to_string(id);
  for (long n = 0; Clock::now() < end; ++n) {
    v1::StartInstanceRequest start;
    start.set_definition_key("target-filing");
    start.set_subject_ref(org + "-" + std::to_string(n));
    start.set_org(org);
    v1::StartInstanceResponse started;
    if (!Timed(stats, "start", [&] {
          auto c = Ctx("filer" + std::to_string(id), "unit_filer", org);
          return instances->Start(c.get(), start, &started);
        })) {
      continue;
    }
    v1::Instance inst = started.instance();
    struct Step {
      const char* kind;
      const char* user;
      const char* roles;
      const char* action;
      const char* payload;
    };
    const Step steps[] = {{"submit", "filer", "unit_filer", "submit", nullptr},
                          {"approve", "reviewer", "authority_reviewer", "approve", ""},
                          {"final", "finance", "finance_reviewer", "approve", R"({"grade": "优"})"},
                          {"publish", "perf", "performance_section", "publish", ""}};
    bool ok = true;
    for (const Step& step : steps) {
      if (!ok || inst.open_tasks_size() == 0) break;
      v1::ActRequest act;
      act.set_task_id(inst.open_tasks(0).id());
      act.set_action(step.action);
      if (step.payload == nullptr) {
        *act.mutable_payload() = form;
      } else if (*step.payload != '\0') {
        (void)google::protobuf::util::JsonStringToMessage(step.payload, act.mutable_payload());
      }
      v1::ActResponse resp;
      ok = Timed(stats, step.kind, [&] {
        auto c = Ctx(step.user + std::to_string(id), step.roles, org);
        return tasks->Act(c.get(), act, &resp);
      });
      if (ok) {
        inst = resp.instance();
        ++stats.transitions;
      }
    }
    if (ok && inst.status() == "completed") ++stats.instances;
  }
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"load_bench — drive target-filing instances through a running bpmd"};
  std::string server = "127.0.0.1:7411";
  int clients = 16;
  int seconds = 10;
  app.add_option("--server", server)->capture_default_str();
  app.add_option("--clients", clients, "concurrent client threads")->capture_default_str();
  app.add_option("--seconds", seconds, "how long to run")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  Stats stats;
  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] { Client(i, server, end, stats); });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("clients %d, %.1f s\n", clients, elapsed);
  std::printf("transitions/s %.0f   instances/s %.0f   (transitions %ld, instances %ld)\n",
              static_cast<double>(stats.transitions) / elapsed,
              static_cast<double>(stats.instances) / elapsed, stats.transitions.load(),
              stats.instances.load());
  std::printf("%-8s %8s %8s %8s %8s %8s\n", "call", "count", "p50 ms", "p95 ms", "p99 ms",
              "max ms");
  for (auto& [kind, v] : stats.latency_ms) {
    const size_t n = v.size();
    const double p50 = Percentile(v, 0.50), p95 = Percentile(v, 0.95),
                 p99 = Percentile(v, 0.99), max = v.empty() ? 0 : v.back();
    std::printf("%-8s %8zu %8.2f %8.2f %8.2f %8.2f\n", kind.c_str(), n, p50, p95, p99, max);
  }
  for (const auto& [code, n] : stats.errors) std::printf("error %s: %d\n", code.c_str(), n);
  return 0;
}
