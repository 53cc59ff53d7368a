// fault_client — the client side of the crash and fault tests (tests/fault/).
//
// Modes (subcommands):
//   drive    N client threads run the approval chain of the bundled
//            target-filing workflow (start, submit, [return, submit,]
//            authority approve, finance approve 优, publish) against one or
//            more bpmd addresses, failing over between them. Every mutating
//            call carries an idempotency key fixed per (client, instance,
//            step), so a retry after a lost connection, UNAVAILABLE or
//            DEADLINE_EXCEEDED reuses it. Each acknowledged call is appended
//            (and flushed) to the client's ack log. Optionally also starts
//            instances of a timer workflow, engages an agency and starts
//            key-evaluation instances (push outbox), and pulls external tasks
//            with short locks (lease expiry).
//   verify   reads the ack logs and checks every instance through gRPC: each
//            acknowledged call present exactly once in the history, no action
//            applied twice, history seq contiguous, events chained
//            (from_state = previous to_state) along transitions the
//            definition has, the instance's state and status what its
//            history says; optionally that every outbox message was
//            delivered to the receiver.
//   race     rounds of two actors acting at once on one review task: exactly
//            one wins, the other gets ABORTED or FAILED_PRECONDITION, and the
//            history has exactly one action and one transition.
//   receive  a fake agency endpoint (bpm.v1.AgencyEndpoint) that logs every
//            delivery, for the outbox checks.
//   ready    waits until a bpmd answers its health check.
// Exit status: 0 when everything held, 1 on a violation, 2 on bad usage or
// when a server could not be reached.
#include <grpcpp/grpcpp.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bpm/v1/agency.grpc.pb.h"
#include "bpm/v1/bpm.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace bpm::fault {
namespace {

namespace v1 = ::bpm::v1;
using SteadyClock = std::chrono::steady_clock;

const char* kForm = R"({"project_name": "故障测试项目", "amount": 500000,
  "annual_goal": "完成10个建设点，验收合格率达到95%以上",
  "indicators": [
    {"level1": "产出指标", "level2": "数量指标", "name": "完成数", "operator": "≥", "target": "10", "unit": "个", "weight": 20},
    {"level1": "产出指标", "level2": "质量指标", "name": "验收合格率", "operator": "≥", "target": "95", "unit": "%", "weight": 20},
    {"level1": "产出指标", "level2": "时效指标", "name": "完成时间", "operator": "≤", "target": "11", "unit": "月", "weight": 10},
    {"level1": "产出指标", "level2": "成本指标", "name": "单位成本", "operator": "≤", "target": "5", "unit": "万元", "weight": 10},
    {"level1": "效益指标", "level2": "社会效益指标", "name": "受益人数", "operator": "≥", "target": "1000", "unit": "人次", "weight": 20},
    {"level1": "满意度指标", "level2": "服务对象满意度指标", "name": "服务对象满意度", "operator": "≥", "target": "90", "unit": "%", "weight": 20}]})";

struct Who {
  std::string user, roles, org;
};
// Engages agencies. The fault tests run without an org model, where no org is
// a finance org (core/server/authz.h), so finance's work here goes as an admin.
const Who kPerfHead{"qian", "perf_head,workflow_admin", "czj"};

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK: return "OK";
    case grpc::CANCELLED: return "CANCELLED";
    case grpc::UNKNOWN: return "UNKNOWN";
    case grpc::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::NOT_FOUND: return "NOT_FOUND";
    case grpc::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::ABORTED: return "ABORTED";
    case grpc::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::INTERNAL: return "INTERNAL";
    case grpc::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::DATA_LOSS: return "DATA_LOSS";
    case grpc::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "CODE_" + std::to_string(static_cast<int>(code));
  }
}

std::vector<std::string> SplitList(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& item : in) {
    std::stringstream s(item);
    std::string part;
    while (std::getline(s, part, ',')) {
      if (!part.empty()) out.push_back(part);
    }
  }
  return out;
}

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::stringstream s(line);
  while (std::getline(s, field, '\t')) out.push_back(field);
  return out;
}

// A channel that reconnects promptly: gRPC's default back-off grows to two
// minutes, far longer than a bpmd restart takes.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<grpc::ClientContext> Ctx(const Who& who, int deadline_ms) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!who.user.empty()) ctx->AddMetadata("x-bpm-user", who.user);
  if (!who.roles.empty()) ctx->AddMetadata("x-bpm-roles", who.roles);
  if (!who.org.empty()) ctx->AddMetadata("x-bpm-org", who.org);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
  return ctx;
}

google::protobuf::Struct Json(const std::string& text) {
  google::protobuf::Struct s;
  (void)google::protobuf::util::JsonStringToMessage(text, &s);
  return s;
}

// One bpmd address with its stubs.
struct Server {
  explicit Server(const std::string& address)
      : address(address),
        channel(MakeChannel(address)),
        definitions(v1::DefinitionService::NewStub(channel)),
        instances(v1::InstanceService::NewStub(channel)),
        tasks(v1::TaskService::NewStub(channel)),
        agencies(v1::AgencyService::NewStub(channel)) {}
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::DefinitionService::Stub> definitions;
  std::unique_ptr<v1::InstanceService::Stub> instances;
  std::unique_ptr<v1::TaskService::Stub> tasks;
  std::unique_ptr<v1::AgencyService::Stub> agencies;
};

// The addresses a client may use; calls go to the current one and move on to
// the next after a transient failure (fail-over).
class Servers {
 public:
  Servers(const std::vector<std::string>& addresses, size_t first) {
    for (const auto& a : addresses) servers_.push_back(std::make_unique<Server>(a));
    current_ = first % servers_.size();
  }
  Server& current() { return *servers_[current_]; }
  void Rotate() { current_ = (current_ + 1) % servers_.size(); }

 private:
  std::vector<std::unique_ptr<Server>> servers_;
  size_t current_ = 0;
};

// ---- drive ------------------------------------------------------------------------------

struct DriveOptions {
  std::vector<std::string> servers;
  int clients = 4;
  int seconds = 3600;
  std::string stop_file;
  std::string log_dir = ".";
  std::string tag = "f";
  int return_every = 4;      // every Nth instance goes through a return loop (0: never)
  int timer_every = 0;       // every Nth instance also starts a fault-timers instance
  int agency_every = 0;      // every Nth instance also engages the agency (push outbox)
  std::string agency;        // the agency id for agency_every and pull
  bool pull = false;         // one more thread fetches external tasks with short locks
  int deadline_ms = 5000;    // per call
  int grace_ms = 20000;      // after stop: how long an unfinished call is still retried
  std::string stats_file;
};

class Stats {
 public:
  void Count(const std::string& key, long n = 1) {
    std::lock_guard<std::mutex> lock(mu_);
    counts_[key] += n;
  }
  void Definitive(const std::string& what, const grpc::Status& s) {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_["definitive"];
    if (definitive_.size() < 20) {
      definitive_.push_back(what + ": " + CodeName(s.error_code()) + " " + s.error_message());
    }
  }
  std::map<std::string, long> counts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_;
  }
  std::vector<std::string> definitive() const {
    std::lock_guard<std::mutex> lock(mu_);
    return definitive_;
  }
  // Keeps the first few messages of each error code (for the report).
  void Sample(const std::string& what, const grpc::Status& s) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& v = samples_[CodeName(s.error_code())];
    if (v.size() < 3) v.push_back(what + ": " + s.error_message());
  }
  std::map<std::string, std::vector<std::string>> samples() const {
    std::lock_guard<std::mutex> lock(mu_);
    return samples_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, long> counts_;
  std::vector<std::string> definitive_;
  std::map<std::string, std::vector<std::string>> samples_;
};

// Whether the drive is stopping (time up or stop file) and since when.
class StopSignal {
 public:
  StopSignal(const DriveOptions& o) : options_(o), end_(SteadyClock::now() + std::chrono::seconds(o.seconds)) {}
  // Polled by the main thread.
  void Poll() {
    if (stopping_) return;
    if (SteadyClock::now() >= end_ ||
        (!options_.stop_file.empty() && std::filesystem::exists(options_.stop_file))) {
      stop_at_ms_ = NowMs();
      stopping_ = true;
    }
  }
  bool stopping() const { return stopping_; }
  // Stopping, and the grace for unfinished calls is over.
  bool gave_up() const { return stopping_ && NowMs() - stop_at_ms_ > options_.grace_ms; }

 private:
  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               SteadyClock::now().time_since_epoch())
        .count();
  }
  const DriveOptions& options_;
  SteadyClock::time_point end_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> stop_at_ms_{0};
};

// One client's acknowledgement log: a line per acknowledged call, flushed at
// once, tab separated:
//   kind instance_id task_id action idempotency_key state version subject def_key
// kind is start or act (task_id and action "-" for start).
class AckLog {
 public:
  explicit AckLog(const std::string& path) : f_(std::fopen(path.c_str(), "a")) {
    if (f_ == nullptr) {
      std::cerr << "fault_client: cannot open " << path << std::endl;
      std::exit(2);
    }
  }
  ~AckLog() { std::fclose(f_); }
  void Write(const std::string& kind, const v1::Instance& inst, const std::string& task_id,
             const std::string& action, const std::string& key) {
    std::fprintf(f_, "%s\t%s\t%s\t%s\t%s\t%s\t%lld\t%s\t%s\n", kind.c_str(), inst.id().c_str(),
                 task_id.empty() ? "-" : task_id.c_str(), action.empty() ? "-" : action.c_str(),
                 key.c_str(), inst.state().c_str(), static_cast<long long>(inst.version()),
                 inst.subject_ref().c_str(), inst.definition_key().c_str());
    std::fflush(f_);
  }

 private:
  std::FILE* f_;
};

class DriveClient {
 public:
  DriveClient(int id, const DriveOptions& o, Stats& stats, const StopSignal& stop)
      : id_(id),
        o_(o),
        stats_(stats),
        stop_(stop),
        servers_(o.servers, static_cast<size_t>(id)),
        log_(o.log_dir + "/ack-" + o.tag + "-c" + std::to_string(id) + ".log"),
        org_(o.tag + "-B" + std::to_string(id)),
        form_(Json(kForm)),
        rng_(std::random_device{}()) {}

  void Run() {
    for (long n = 0; !stop_.stopping(); ++n) {
      const std::string base = o_.tag + "-c" + std::to_string(id_) + "-" + std::to_string(n);
      if (o_.timer_every > 0 && n % o_.timer_every == 0) StartTimerInstance(base);
      if (o_.agency_every > 0 && n % o_.agency_every == 0) StartAgencyInstance(base);
      RunChain(base, o_.return_every > 0 && n % o_.return_every == o_.return_every - 1);
    }
  }

 private:
  // Runs call(server) until it succeeds, fails definitively, or the client
  // gives up (stopping, and the grace is over); the last status. Transient
  // failures (the call may or may not have been applied) move to the next
  // server and retry with the same request, idempotency key included.
  // ABORTED is retried too, and so is FAILED_PRECONDITION after a transient
  // failure: the earlier attempt may have been applied meanwhile, and the
  // retry then answers with its stored result.
  template <typename Fn>
  grpc::Status Retry(const std::string& what, Fn&& call) {
    bool ambiguous = false;
    int conflicts = 0;
    int backoff_ms = 20;
    while (true) {
      stats_.Count("calls");
      grpc::Status s = call(servers_.current());
      if (s.ok()) {
        if (ambiguous) stats_.Count("ok_after_retry");
        return s;
      }
      const grpc::StatusCode code = s.error_code();
      stats_.Count("code_" + CodeName(code));
      stats_.Sample(what, s);
      const bool transient = code == grpc::UNAVAILABLE || code == grpc::DEADLINE_EXCEEDED ||
                             code == grpc::CANCELLED || code == grpc::UNKNOWN ||
                             code == grpc::INTERNAL || code == grpc::RESOURCE_EXHAUSTED;
      if (transient) {
        ambiguous = true;
        servers_.Rotate();
      } else if (code == grpc::ABORTED || (ambiguous && code == grpc::FAILED_PRECONDITION)) {
        if (++conflicts > 30) {
          stats_.Definitive(what, s);
          return s;
        }
        if (code == grpc::FAILED_PRECONDITION) stats_.Count("precondition_after_ambiguous");
      } else {
        stats_.Definitive(what, s);
        return s;
      }
      if (stop_.gave_up()) {
        stats_.Count("abandoned");
        return s;
      }
      std::uniform_int_distribution<int> jitter(backoff_ms / 2, backoff_ms);
      std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng_)));
      backoff_ms = std::min(backoff_ms * 2, 400);
    }
  }

  bool Start(const std::string& def_key, const std::string& subject, const Who& who,
             const google::protobuf::Struct& vars, v1::Instance* out) {
    v1::StartInstanceRequest req;
    req.set_definition_key(def_key);
    req.set_subject_ref(subject);
    req.set_org(org_);
    *req.mutable_variables() = vars;
    req.set_idempotency_key("start-" + subject);
    v1::StartInstanceResponse resp;
    grpc::Status s = Retry("start " + subject, [&](Server& server) {
      auto ctx = Ctx(who, o_.deadline_ms);
      return server.instances->Start(ctx.get(), req, &resp);
    });
    if (!s.ok()) return false;
    *out = resp.instance();
    log_.Write("start", *out, "", "", req.idempotency_key());
    stats_.Count("ack_start");
    return true;
  }

  bool Act(v1::Instance& inst, const std::string& key, const Who& who, const std::string& action,
           const google::protobuf::Struct* payload, const std::string& comment) {
    if (inst.open_tasks_size() != 1) {
      stats_.Definitive("act " + action + " on " + inst.id(),
                        grpc::Status(grpc::FAILED_PRECONDITION,
                                     "expected one open task, found " +
                                         std::to_string(inst.open_tasks_size()) + " in state " +
                                         inst.state()));
      return false;
    }
    v1::ActRequest req;
    req.set_task_id(inst.open_tasks(0).id());
    req.set_action(action);
    if (payload != nullptr) *req.mutable_payload() = *payload;
    req.set_comment(comment);
    req.set_idempotency_key(key);
    v1::ActResponse resp;
    grpc::Status s = Retry("act " + action + " on " + inst.id(), [&](Server& server) {
      auto ctx = Ctx(who, o_.deadline_ms);
      return server.tasks->Act(ctx.get(), req, &resp);
    });
    if (!s.ok()) return false;
    inst = resp.instance();
    log_.Write("act", inst, req.task_id(), action, key);
    stats_.Count("ack_act");
    return true;
  }

  void RunChain(const std::string& base, bool with_return) {
    const std::string n = std::to_string(id_);
    const Who filer{"filer" + n, "unit_filer", org_};
    // No org model here: orgs are in scope by the budget-code rule, so the
    // reviewers sit at the unit's code and finance at the run's tag, its prefix.
    const Who reviewer{"reviewer" + n, "authority_reviewer", org_};
    const Who finance{"finance" + n, "finance_reviewer", o_.tag};
    const Who perf{"perf" + n, "performance_section", o_.tag};
    v1::Instance inst;
    if (!Start("target-filing", base, filer, {}, &inst)) return;
    const google::protobuf::Struct grade = Json(R"({"grade": "优"})");
    struct Step {
      const Who* who;
      const char* action;
      const google::protobuf::Struct* payload;
      const char* comment;
    };
    std::vector<Step> steps = {{&filer, "submit", &form_, ""}};
    if (with_return) {
      steps.push_back({&reviewer, "return", nullptr, "请补充满意度指标"});
      steps.push_back({&filer, "submit", &form_, "已补充"});
    }
    steps.push_back({&reviewer, "approve", nullptr, "同意"});
    steps.push_back({&finance, "approve", &grade, ""});
    steps.push_back({&perf, "publish", nullptr, ""});
    for (size_t i = 0; i < steps.size(); ++i) {
      const Step& st = steps[i];
      if (!Act(inst, base + "-s" + std::to_string(i), *st.who, st.action, st.payload, st.comment)) {
        return;
      }
    }
    if (inst.status() == "completed") stats_.Count("completed");
  }

  // An instance of the fault-timers workflow (tests/fault/workflows): its
  // review tasks have due dates; the timers fire while the chain runs on.
  void StartTimerInstance(const std::string& base) {
    v1::Instance inst;
    Start("fault-timers", base + "-t", {"starter" + std::to_string(id_), "", org_}, {}, &inst);
  }

  // Engages the agency for a fresh subject and starts a key-evaluation
  // instance: its first state opens an external task pushed through the
  // outbox to the agency's endpoint.
  void StartAgencyInstance(const std::string& base) {
    const std::string subject = base + "-a";
    v1::EngageRequest req;
    v1::Engagement* e = req.mutable_engagement();
    e->set_agency_id(o_.agency);
    e->set_purpose("key_evaluation");
    e->set_mode("independent");
    e->set_commissioner_org("czj");
    e->set_subject_ref(subject);
    e->set_subject_org(org_);
    e->set_contract_amount(100000);
    e->set_start_date("2026-03-01");
    e->set_end_date("2026-06-30");
    e->set_team_lead("刘敏");
    const std::pair<const char*, double> weights[] = {{"决策", 15}, {"过程", 20}, {"产出", 35},
                                                      {"效益", 30}};
    int code = 0;
    for (const auto& [level1, weight] : weights) {
      v1::Indicator* i = e->mutable_sheet()->add_indicators();
      i->set_code(std::string(1, static_cast<char>('A' + code++)));
      i->set_level1(level1);
      i->set_level2(std::string(level1) + "指标");
      i->set_name(std::string(level1) + "情况");
      i->set_weight(weight);
    }
    // Engage has no idempotency key: a retry may engage twice, which is
    // harmless here; a refused retry finds the first engagement.
    v1::Engagement engaged;
    grpc::Status s = Retry("engage " + subject, [&](Server& server) {
      auto ctx = Ctx(kPerfHead, o_.deadline_ms);
      return server.agencies->Engage(ctx.get(), req, &engaged);
    });
    if (!s.ok()) {
      v1::ListEngagementsRequest list;
      list.set_subject_ref(subject);
      v1::ListEngagementsResponse found;
      s = Retry("list engagements " + subject, [&](Server& server) {
        auto ctx = Ctx(kPerfHead, o_.deadline_ms);
        return server.agencies->ListEngagements(ctx.get(), list, &found);
      });
      if (!s.ok() || found.engagements_size() == 0) return;
      engaged = found.engagements(0);
    }
    stats_.Count("engaged");
    google::protobuf::Struct vars;
    (*vars.mutable_fields())["engagement_id"].set_string_value(engaged.id());
    v1::Instance inst;
    Start("key-evaluation", subject, kPerfHead, vars, &inst);
  }

  int id_;
  const DriveOptions& o_;
  Stats& stats_;
  const StopSignal& stop_;
  Servers servers_;
  AckLog log_;
  std::string org_;
  google::protobuf::Struct form_;
  std::mt19937 rng_;
};

// Fetches the agency's plan tasks with short locks and never completes them:
// each lock expires and the task is fetched again (lease expiry, FOR UPDATE
// SKIP LOCKED on MySQL).
void PullLoop(const DriveOptions& o, Stats& stats, const StopSignal& stop) {
  Servers servers(o.servers, 0);
  const Who worker{o.agency + "-worker", "agency", o.agency};
  std::map<std::string, int> fetched;
  while (!stop.stopping()) {
    v1::FetchAndLockRequest req;
    req.add_topics("key_evaluation_plan");
    req.set_max_tasks(20);
    req.set_lock_duration_ms(1000);
    req.set_worker_id(worker.user);
    v1::FetchAndLockResponse resp;
    auto ctx = Ctx(worker, o.deadline_ms);
    grpc::Status s = servers.current().agencies->FetchAndLock(ctx.get(), req, &resp);
    if (s.ok()) {
      for (const auto& t : resp.tasks()) {
        if (++fetched[t.id()] > 1) stats.Count("pull_refetched");
        stats.Count("pull_fetched");
      }
    } else {
      stats.Count("pull_code_" + CodeName(s.error_code()));
      servers.Rotate();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int Drive(DriveOptions o) {
  o.servers = SplitList(o.servers);
  if (o.servers.empty()) {
    std::cerr << "fault_client drive: --server is required" << std::endl;
    return 2;
  }
  std::filesystem::create_directories(o.log_dir);
  Stats stats;
  StopSignal stop(o);
  const auto start = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < o.clients; ++i) {
    threads.emplace_back([&, i] { DriveClient(i, o, stats, stop).Run(); });
  }
  if (o.pull) threads.emplace_back([&] { PullLoop(o, stats, stop); });
  std::atomic<bool> done{false};
  std::thread poller([&] {
    while (!done) {
      stop.Poll();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  poller.join();
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  const auto counts = stats.counts();
  std::printf("fault_client drive: %d clients, %.1f s\n", o.clients, elapsed);
  std::string text;
  for (const auto& [key, n] : counts) text += key + " " + std::to_string(n) + "\n";
  std::printf("%s", text.c_str());
  for (const auto& [code, v] : stats.samples()) {
    for (const auto& m : v) std::printf("sample %s: %s\n", code.c_str(), m.c_str());
  }
  for (const auto& d : stats.definitive()) std::printf("definitive error: %s\n", d.c_str());
  if (!o.stats_file.empty()) std::ofstream(o.stats_file) << text;
  return 0;
}

// ---- verify -------------------------------------------------------------------------------

struct Ack {
  std::string kind, instance, task, action, key, state, subject, def_key, file;
  int64_t version = 0;
  int line = 0;
};

// A workflow definition as far as reachability goes.
struct Graph {
  std::string initial;
  std::set<std::string> states, finals;
  std::map<std::string, std::set<std::string>> next;  // state -> targets of its outcomes
};

Graph ParseGraph(const std::string& yaml) {
  Graph g;
  YAML::Node root = YAML::Load(yaml);
  g.initial = root["initial"].as<std::string>("");
  for (const auto& st : root["states"]) {
    const std::string name = st.first.as<std::string>();
    g.states.insert(name);
    if (st.second["final"] && st.second["final"].as<bool>(false)) g.finals.insert(name);
    const YAML::Node on = st.second["on"];
    if (!on || !on.IsMap()) continue;
    for (const auto& outcome : on) {
      const YAML::Node target = outcome.second;
      if (target.IsScalar()) {
        g.next[name].insert(target.as<std::string>());
      } else if (target.IsSequence()) {
        for (const auto& alt : target) {
          if (alt["to"]) g.next[name].insert(alt["to"].as<std::string>());
        }
      } else if (target.IsMap() && target["to"]) {
        g.next[name].insert(target["to"].as<std::string>());
      }
    }
  }
  return g;
}

// Event kinds a command's first event never has: they follow another event
// of the same command.
bool IsFollowUp(const std::string& kind) {
  return kind == "transitioned" || kind == "completed" || kind == "external_task_opened";
}

class Verifier {
 public:
  Verifier(const std::vector<std::string>& servers) : servers_(servers, 0) {}

  void Violation(const std::string& instance, const std::string& text) {
    ++violations_;
    if (violations_ <= 50) std::printf("VIOLATION instance %s: %s\n", instance.c_str(), text.c_str());
  }
  int violations() const { return violations_; }

  // A read with a few retries (the server may still be starting).
  template <typename Fn>
  grpc::Status Read(Fn&& call) {
    grpc::Status s;
    for (int attempt = 0; attempt < 50; ++attempt) {
      s = call(servers_.current());
      if (s.ok() || (s.error_code() != grpc::UNAVAILABLE &&
                     s.error_code() != grpc::DEADLINE_EXCEEDED)) {
        return s;
      }
      servers_.Rotate();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return s;
  }

  const Graph* GraphOf(const std::string& key, int version) {
    const std::string id = key + "@" + std::to_string(version);
    auto it = graphs_.find(id);
    if (it != graphs_.end()) return &it->second;
    v1::GetDefinitionRequest req;
    req.set_key(key);
    req.set_version(version);
    v1::GetDefinitionResponse resp;
    grpc::Status s = Read([&](Server& server) {
      auto ctx = Ctx(observer_, 10000);
      return server.definitions->Get(ctx.get(), req, &resp);
    });
    if (!s.ok()) {
      Violation("-", "definition " + id + ": " + s.error_message());
      return nullptr;
    }
    return &graphs_.emplace(id, ParseGraph(resp.yaml())).first->second;
  }

  std::vector<v1::Instance> ListAll() {
    std::vector<v1::Instance> out;
    std::string token;
    do {
      v1::ListInstancesRequest req;
      req.set_page_size(500);
      req.set_page_token(token);
      v1::ListInstancesResponse resp;
      grpc::Status s = Read([&](Server& server) {
        auto ctx = Ctx(observer_, 30000);
        return server.instances->List(ctx.get(), req, &resp);
      });
      if (!s.ok()) {
        Violation("-", "list instances: " + s.error_message());
        break;
      }
      out.insert(out.end(), resp.instances().begin(), resp.instances().end());
      token = resp.next_page_token();
    } while (!token.empty());
    return out;
  }

  // Checks one instance's history and its acknowledgements.
  void CheckInstance(const std::string& id, const std::vector<Ack>& acks) {
    v1::GetInstanceRequest get;
    get.set_id(id);
    v1::GetInstanceResponse got;
    grpc::Status s = Read([&](Server& server) {
      auto ctx = Ctx(observer_, 10000);
      return server.instances->Get(ctx.get(), get, &got);
    });
    if (!s.ok()) {
      Violation(id, "acknowledged but cannot be read: " + CodeName(s.error_code()) + " " +
                        s.error_message());
      return;
    }
    const v1::Instance& inst = got.instance();
    v1::GetHistoryRequest hreq;
    hreq.set_instance_id(id);
    v1::GetHistoryResponse hist;
    s = Read([&](Server& server) {
      auto ctx = Ctx(observer_, 10000);
      return server.instances->GetHistory(ctx.get(), hreq, &hist);
    });
    if (!s.ok()) {
      Violation(id, "history cannot be read: " + s.error_message());
      return;
    }
    ++checked_;
    events_ += hist.events_size();
    const Graph* g = GraphOf(inst.definition_key(), inst.definition_version());
    if (g == nullptr) return;
    const auto& ev = hist.events();
    if (ev.empty()) {
      Violation(id, "empty history");
      return;
    }
    // Seq contiguous, events chained along the definition's transitions.
    std::string state;
    std::map<std::string, int> acted_per_task;
    for (int i = 0; i < ev.size(); ++i) {
      const v1::Event& e = ev[i];
      const std::string where = "event seq " + std::to_string(e.seq()) + " (" + e.kind() + ")";
      if (e.seq() != i + 1) {
        Violation(id, "history seq not contiguous: position " + std::to_string(i + 1) + " has seq " +
                          std::to_string(e.seq()));
      }
      if (i == 0) {
        if (e.kind() != "started" || e.to_state() != g->initial) {
          Violation(id, "history does not begin with started into the initial state '" +
                            g->initial + "' but " + where + " to '" + e.to_state() + "'");
        }
      } else {
        if (e.kind() == "started") Violation(id, "started twice: " + where);
        if (e.from_state() != state) {
          Violation(id, where + " leaves '" + e.from_state() + "' but the previous event ended in '" +
                            state + "'");
        }
        if (e.kind() == "transitioned") {
          auto it = g->next.find(e.from_state());
          if (it == g->next.end() || it->second.count(e.to_state()) == 0) {
            Violation(id, where + ": the definition has no transition '" + e.from_state() +
                              "' -> '" + e.to_state() + "'");
          }
        } else if (e.kind() != "withdrawn" && e.from_state() != e.to_state()) {
          Violation(id, where + " changes the state '" + e.from_state() + "' -> '" + e.to_state() +
                            "' without a transition");
        }
        if (e.kind() == "completed" && g->finals.count(e.to_state()) == 0) {
          Violation(id, where + ": completed in the non-final state '" + e.to_state() + "'");
        }
      }
      if (g->states.count(e.to_state()) == 0) {
        Violation(id, where + ": unknown state '" + e.to_state() + "'");
      }
      if (e.kind() == "acted" && ++acted_per_task[e.task_id()] == 2) {
        Violation(id, "task " + e.task_id() + " acted on twice (an action applied twice)");
      }
      state = e.to_state();
    }
    if (inst.state() != state) {
      Violation(id, "instance state '" + inst.state() + "' but its history ends in '" + state + "'");
    }
    const bool final_state = g->finals.count(inst.state()) > 0;
    if (final_state != (inst.status() == "completed") && inst.status() != "terminated") {
      Violation(id, "status '" + inst.status() + "' in state '" + inst.state() + "'");
    }
    if (final_state && ev[ev.size() - 1].kind() != "completed") {
      Violation(id, "in final state '" + state + "' without a completed event at the end");
    }
    // Every acknowledgement exactly once, with the state its command left.
    int64_t last_version = 0;
    for (const Ack& a : acks) {
      const std::string from = a.file + ":" + std::to_string(a.line) + " " + a.kind + " " +
                               a.action + " (key " + a.key + ")";
      if (a.version <= last_version) {
        Violation(id, from + ": acknowledged version " + std::to_string(a.version) +
                          " does not follow the previous " + std::to_string(last_version));
      }
      last_version = a.version;
      if (a.version > inst.version()) {
        Violation(id, from + ": acknowledged version " + std::to_string(a.version) +
                          " but the instance is at " + std::to_string(inst.version()));
      }
      int at = -1, matches = 0;
      for (int i = 0; i < ev.size(); ++i) {
        const bool hit = a.kind == "start"
                             ? ev[i].kind() == "started"
                             : (ev[i].kind() == "acted" && ev[i].task_id() == a.task &&
                                ev[i].action() == a.action);
        if (hit) {
          ++matches;
          at = i;
        }
      }
      if (matches != 1) {
        Violation(id, from + ": found " + std::to_string(matches) +
                          " times in the history (expected exactly once)");
        continue;
      }
      // The state the command left: the last event before the next command.
      int end = at;
      while (end + 1 < ev.size() && IsFollowUp(ev[end + 1].kind())) ++end;
      if (ev[end].to_state() != a.state) {
        Violation(id, from + ": acknowledged state '" + a.state + "' but the history says '" +
                          ev[end].to_state() + "' after seq " + std::to_string(ev[at].seq()));
      }
      ++acks_checked_;
    }
  }

  int checked() const { return checked_; }
  long events() const { return events_; }
  long acks_checked() const { return acks_checked_; }
  Servers& servers() { return servers_; }
  const Who& observer() const { return observer_; }

 private:
  Servers servers_;
  Who observer_{"fault-verifier", "workflow_admin", ""};  // reads every org
  std::map<std::string, Graph> graphs_;
  int violations_ = 0;
  int checked_ = 0;
  long events_ = 0;
  long acks_checked_ = 0;
};

struct VerifyOptions {
  std::vector<std::string> servers;
  std::string log_dir = ".";
  std::string outbox_log;     // the receiver's delivery log: check the outbox
  int outbox_wait_ms = 60000; // how long pending outbox messages may take to go
  int min_acks = 1;
  int max_unacked_per_client = 1;
};

int Verify(VerifyOptions o) {
  o.servers = SplitList(o.servers);
  if (o.servers.empty()) {
    std::cerr << "fault_client verify: --server is required" << std::endl;
    return 2;
  }
  std::map<std::string, std::vector<Ack>> by_instance;  // in log order per instance
  std::map<std::string, std::string> subject_of;        // instance -> subject
  std::set<std::string> acked_subjects;
  std::set<std::string> files;
  long total = 0;
  Verifier v(o.servers);
  for (const auto& entry : std::filesystem::directory_iterator(o.log_dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("ack-", 0) != 0 || entry.path().extension() != ".log") continue;
    files.insert(name);
    std::ifstream in(entry.path());
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      auto f = SplitTabs(line);
      if (f.size() != 9) {
        v.Violation("-", name + ":" + std::to_string(n) + ": malformed ack line '" + line + "'");
        continue;
      }
      Ack a{f[0], f[1], f[2], f[3], f[4], f[5], f[7], f[8], name, std::stoll(f[6]), n};
      if (subject_of.count(a.instance) && subject_of[a.instance] != a.subject) {
        v.Violation(a.instance, "acknowledged with two subjects");
      }
      subject_of[a.instance] = a.subject;
      acked_subjects.insert(a.subject);
      by_instance[a.instance].push_back(std::move(a));
      ++total;
    }
  }
  if (total < o.min_acks) {
    v.Violation("-", "only " + std::to_string(total) + " acknowledgements in " + o.log_dir +
                         " (expected at least " + std::to_string(o.min_acks) + ")");
  }
  for (const auto& [id, acks] : by_instance) v.CheckInstance(id, acks);

  // Every instance in the store: reachable states too, and no start applied
  // twice (one instance per subject).
  std::map<std::string, std::vector<std::string>> by_subject;
  int unacked = 0;
  for (const auto& inst : v.ListAll()) {
    by_subject[inst.subject_ref()].push_back(inst.id());
    if (by_instance.count(inst.id()) == 0) {
      ++unacked;
      v.CheckInstance(inst.id(), {});
    }
  }
  for (const auto& [subject, ids] : by_subject) {
    if (ids.size() > 1) {
      v.Violation(ids[1], "subject " + subject + " has " + std::to_string(ids.size()) +
                              " instances: a start applied twice");
    }
  }
  const int max_unacked = o.max_unacked_per_client * static_cast<int>(files.size());
  if (o.max_unacked_per_client >= 0 && unacked > max_unacked) {
    v.Violation("-", std::to_string(unacked) + " instances were never acknowledged (at most " +
                         std::to_string(max_unacked) + " expected: one unfinished call per client)");
  }

  // The outbox: every message delivered, and received by the agency.
  int outbox_total = 0, outbox_dupes = 0;
  if (!o.outbox_log.empty()) {
    std::vector<v1::OutboxMessage> messages;
    const auto deadline = SteadyClock::now() + std::chrono::milliseconds(o.outbox_wait_ms);
    while (true) {
      v1::ListOutboxRequest req;
      v1::ListOutboxResponse resp;
      grpc::Status s = v.Read([&](Server& server) {
        auto ctx = Ctx(kPerfHead, 10000);
        return server.agencies->ListOutbox(ctx.get(), req, &resp);
      });
      if (!s.ok()) {
        v.Violation("-", "list outbox: " + s.error_message());
        break;
      }
      messages.assign(resp.messages().begin(), resp.messages().end());
      const bool pending = std::any_of(messages.begin(), messages.end(),
                                       [](const auto& m) { return m.status() == "pending"; });
      if (!pending || SteadyClock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    std::map<std::string, int> received;
    std::ifstream in(o.outbox_log);
    std::string line;
    while (std::getline(in, line)) {
      auto f = SplitTabs(line);
      if (!f.empty()) ++received[f[0]];
    }
    outbox_total = static_cast<int>(messages.size());
    if (messages.empty()) v.Violation("-", "the outbox is empty: nothing was pushed");
    for (const auto& m : messages) {
      if (m.status() != "delivered") {
        v.Violation("-", "outbox message " + m.id() + " (external task " + m.external_task_id() +
                             ") is " + m.status() + " after " + std::to_string(m.attempts()) +
                             " attempts: " + m.last_error());
      }
      auto it = received.find(m.id());
      if (it == received.end()) {
        v.Violation("-", "outbox message " + m.id() + " is " + m.status() +
                             " but the agency never received it");
      } else if (it->second > 1) {
        outbox_dupes += it->second - 1;  // at least once: the agency deduplicates
      }
    }
  }

  std::printf(
      "fault_client verify: %ld acknowledgements in %zu logs, %ld checked; %d instances (%d never "
      "acknowledged), %ld events; outbox %d messages (%d duplicate deliveries); %d violations\n",
      total, files.size(), v.acks_checked(), v.checked(), unacked, v.events(), outbox_total,
      outbox_dupes, v.violations());
  return v.violations() == 0 ? 0 : 1;
}

// ---- race -------------------------------------------------------------------------------

struct RaceOptions {
  std::string server;
  int rounds = 1000;
  int parallel = 2;  // rounds run at once
  std::string tag = "race";
};

int Race(const RaceOptions& o) {
  std::atomic<int> next{0};
  std::atomic<int> violations{0};
  std::mutex mu;
  std::map<std::string, int> outcomes;  // winner/loser code counts
  auto violation = [&](int round, const std::string& id, const std::string& text) {
    if (++violations <= 50) {
      std::lock_guard<std::mutex> lock(mu);
      std::printf("VIOLATION round %d instance %s: %s\n", round, id.c_str(), text.c_str());
    }
  };
  auto count = [&](const std::string& key) {
    std::lock_guard<std::mutex> lock(mu);
    ++outcomes[key];
  };
  auto worker = [&](int w) {
    Server server(o.server);
    const std::string org = o.tag + "-R" + std::to_string(w);
    const Who filer{"rfiler" + std::to_string(w), "unit_filer", org};
    const google::protobuf::Struct form = Json(kForm);
    for (int round = next++; round < o.rounds; round = next++) {
      v1::StartInstanceRequest start;
      start.set_definition_key("target-filing");
      start.set_subject_ref(o.tag + "-" + std::to_string(round));
      start.set_org(org);
      v1::StartInstanceResponse started;
      grpc::Status s = server.instances->Start(Ctx(filer, 10000).get(), start, &started);
      if (!s.ok()) {
        violation(round, "-", "start: " + CodeName(s.error_code()) + " " + s.error_message());
        continue;
      }
      const std::string id = started.instance().id();
      v1::ActRequest submit;
      submit.set_task_id(started.instance().open_tasks(0).id());
      submit.set_action("submit");
      *submit.mutable_payload() = form;
      v1::ActResponse submitted;
      s = server.tasks->Act(Ctx(filer, 10000).get(), submit, &submitted);
      if (!s.ok() || submitted.instance().open_tasks_size() != 1) {
        violation(round, id, "submit: " + CodeName(s.error_code()) + " " + s.error_message());
        continue;
      }
      // The authority review is a group task of role authority_reviewer in
      // any org: two reviewers may both act on it. Odd rounds: one reviewer
      // sends two different actions at once (two windows, two keys).
      const std::string task = submitted.instance().open_tasks(0).id();
      const bool same_user = round % 2 == 1;
      const Who a{"ra" + std::to_string(w), "authority_reviewer", o.tag};  // tag: the prefix
      const Who b{same_user ? a.user : "rb" + std::to_string(w), "authority_reviewer", o.tag};
      struct Shot {
        const Who* who;
        const char* action;
        const char* comment;
        grpc::Status status;
        v1::ActResponse resp;
      };
      Shot shots[2] = {{&a, "approve", "同意", {}, {}}, {&b, "return", "退回重填", {}, {}}};
      std::atomic<int> ready{0};
      std::atomic<bool> go{false};
      std::vector<std::thread> pair;
      for (int k = 0; k < 2; ++k) {
        pair.emplace_back([&, k] {
          v1::ActRequest req;
          req.set_task_id(task);
          req.set_action(shots[k].action);
          req.set_comment(shots[k].comment);
          req.set_idempotency_key(o.tag + "-" + std::to_string(round) + "-" + std::to_string(k));
          auto ctx = Ctx(*shots[k].who, 10000);
          ++ready;
          while (!go.load()) std::this_thread::yield();
          shots[k].status = server.tasks->Act(ctx.get(), req, &shots[k].resp);
        });
      }
      while (ready.load() < 2) std::this_thread::yield();
      go = true;
      for (auto& t : pair) t.join();
      const int wins = shots[0].status.ok() + shots[1].status.ok();
      if (wins != 1) {
        violation(round, id,
                  std::to_string(wins) + " winners (" + CodeName(shots[0].status.error_code()) +
                      " " + shots[0].status.error_message() + " / " +
                      CodeName(shots[1].status.error_code()) + " " +
                      shots[1].status.error_message() + ")");
        if (wins == 0) continue;
      }
      const int winner = shots[0].status.ok() ? 0 : 1;
      const grpc::Status& lost = shots[1 - winner].status;
      count(std::string("winner ") + shots[winner].action);
      if (wins == 1) {
        count("loser " + CodeName(lost.error_code()));
        if (lost.error_code() != grpc::ABORTED && lost.error_code() != grpc::FAILED_PRECONDITION) {
          violation(round, id, std::string("the loser (") + shots[1 - winner].action + ") got " +
                                   CodeName(lost.error_code()) + " " + lost.error_message() +
                                   ", not ABORTED or FAILED_PRECONDITION");
        }
      }
      // Exactly one action and one transition out of the review.
      v1::GetHistoryRequest hreq;
      hreq.set_instance_id(id);
      v1::GetHistoryResponse hist;
      s = server.instances->GetHistory(Ctx(filer, 10000).get(), hreq, &hist);
      if (!s.ok()) {
        violation(round, id, "history: " + s.error_message());
        continue;
      }
      int acted = 0, transitions = 0;
      std::string acted_action;
      for (const auto& e : hist.events()) {
        if (e.kind() == "acted" && e.task_id() == task) {
          ++acted;
          acted_action = e.action();
        }
        if (e.kind() == "transitioned" && e.from_state() == "authority_review") ++transitions;
      }
      if (acted != 1 || transitions != 1) {
        violation(round, id, "history has " + std::to_string(acted) + " actions on task " + task +
                                 " and " + std::to_string(transitions) +
                                 " transitions out of authority_review (expected 1 and 1)");
      } else if (acted_action != shots[winner].action) {
        violation(round, id, "the winner did " + std::string(shots[winner].action) +
                                 " but the history records " + acted_action);
      }
      v1::GetInstanceRequest get;
      get.set_id(id);
      v1::GetInstanceResponse got;
      s = server.instances->Get(Ctx(filer, 10000).get(), get, &got);
      if (!s.ok() || got.instance().state() != shots[winner].resp.instance().state() ||
          got.instance().version() != shots[winner].resp.instance().version()) {
        violation(round, id, "the instance is at " + got.instance().state() + " v" +
                                 std::to_string(got.instance().version()) + ", the winner saw " +
                                 shots[winner].resp.instance().state() + " v" +
                                 std::to_string(shots[winner].resp.instance().version()));
      }
    }
  };
  const auto start = SteadyClock::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < o.parallel; ++w) workers.emplace_back(worker, w);
  for (auto& t : workers) t.join();
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  std::printf("fault_client race: %d rounds in %.1f s, %d violations\n", o.rounds, elapsed,
              violations.load());
  for (const auto& [key, n] : outcomes) std::printf("  %s %d\n", key.c_str(), n);
  return violations == 0 ? 0 : 1;
}

// ---- receive ----------------------------------------------------------------------------

// The fake agency endpoint: logs "delivery_id<TAB>external_task_id" per call.
class Receiver final : public v1::AgencyEndpoint::Service {
 public:
  explicit Receiver(const std::string& path) : f_(std::fopen(path.c_str(), "a")) {}
  ~Receiver() override {
    if (f_ != nullptr) std::fclose(f_);
  }
  bool ok() const { return f_ != nullptr; }
  grpc::Status Deliver(grpc::ServerContext*, const v1::Assignment* a,
                       v1::AssignmentAck*) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::fprintf(f_, "%s\t%s\n", a->delivery_id().c_str(), a->task().id().c_str());
    std::fflush(f_);
    return grpc::Status::OK;
  }

 private:
  std::mutex mu_;
  std::FILE* f_;
};

int Receive(const std::string& listen, const std::string& port_file, const std::string& log,
            const std::string& stop_file) {
  Receiver receiver(log);
  if (!receiver.ok()) {
    std::cerr << "fault_client receive: cannot open " << log << std::endl;
    return 2;
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&receiver);
  auto server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "fault_client receive: cannot listen on " << listen << std::endl;
    return 2;
  }
  {
    std::ofstream(port_file + ".tmp") << port << "\n";
    std::filesystem::rename(port_file + ".tmp", port_file);
  }
  while (!std::filesystem::exists(stop_file)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}

// ---- ready ------------------------------------------------------------------------------

int Ready(const std::string& address, int timeout_ms) {
  auto channel = MakeChannel(address);
  auto stub = grpc::health::v1::Health::NewStub(channel);
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  while (SteadyClock::now() < deadline) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    if (stub->Check(&ctx, req, &resp).ok() &&
        resp.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cerr << "fault_client ready: " << address << " did not answer in " << timeout_ms << " ms"
            << std::endl;
  return 2;
}

}  // namespace
}  // namespace bpm::fault

int main(int argc, char** argv) {
  using namespace bpm::fault;
  CLI::App app{"fault_client — client side of the crash and fault tests"};
  app.require_subcommand(1);

  DriveOptions drive;
  CLI::App* d = app.add_subcommand("drive", "run the approval chain with an ack log per client");
  d->add_option("--server", drive.servers, "bpmd address (repeatable or comma separated)")
      ->required();
  d->add_option("--clients", drive.clients)->capture_default_str();
  d->add_option("--seconds", drive.seconds, "stop after this long")->capture_default_str();
  d->add_option("--stop-file", drive.stop_file, "stop once this file exists");
  d->add_option("--log-dir", drive.log_dir, "where the ack logs go")->capture_default_str();
  d->add_option("--tag", drive.tag, "prefix of subjects, orgs and keys")->capture_default_str();
  d->add_option("--return-every", drive.return_every, "every Nth instance is returned once")
      ->capture_default_str();
  d->add_option("--timer-every", drive.timer_every, "every Nth instance also starts fault-timers")
      ->capture_default_str();
  d->add_option("--agency-every", drive.agency_every,
                "every Nth instance also engages --agency and starts key-evaluation")
      ->capture_default_str();
  d->add_option("--agency", drive.agency, "agency id (registered by the script)");
  d->add_flag("--pull", drive.pull, "fetch the agency's external tasks with 1 s locks");
  d->add_option("--deadline-ms", drive.deadline_ms, "per call")->capture_default_str();
  d->add_option("--grace-ms", drive.grace_ms, "retry an unfinished call this long after stop")
      ->capture_default_str();
  d->add_option("--stats-file", drive.stats_file, "write the counters here (key value lines)");

  VerifyOptions verify;
  CLI::App* v = app.add_subcommand("verify", "check the ack logs against the server");
  v->add_option("--server", verify.servers)->required();
  v->add_option("--log-dir", verify.log_dir)->capture_default_str();
  v->add_option("--outbox-log", verify.outbox_log, "the receiver's log: check the outbox");
  v->add_option("--outbox-wait-ms", verify.outbox_wait_ms)->capture_default_str();
  v->add_option("--min-acks", verify.min_acks)->capture_default_str();
  v->add_option("--max-unacked-per-client", verify.max_unacked_per_client,
                "instances nobody acknowledged allowed per ack log (-1: any number)")
      ->capture_default_str();

  RaceOptions race;
  CLI::App* r = app.add_subcommand("race", "two actors on one task, many times");
  r->add_option("--server", race.server)->required();
  r->add_option("--rounds", race.rounds)->capture_default_str();
  r->add_option("--parallel", race.parallel, "rounds at once")->capture_default_str();
  r->add_option("--tag", race.tag)->capture_default_str();

  std::string listen = "127.0.0.1:0", port_file, receive_log, stop_file;
  CLI::App* rc = app.add_subcommand("receive", "a fake agency endpoint logging deliveries");
  rc->add_option("--listen", listen)->capture_default_str();
  rc->add_option("--port-file", port_file)->required();
  rc->add_option("--log", receive_log)->required();
  rc->add_option("--stop-file", stop_file)->required();

  std::string ready_server;
  int ready_timeout_ms = 30000;
  CLI::App* rd = app.add_subcommand("ready", "wait until bpmd is SERVING");
  rd->add_option("--server", ready_server)->required();
  rd->add_option("--timeout-ms", ready_timeout_ms)->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  if (d->parsed()) return Drive(drive);
  if (v->parsed()) return Verify(verify);
  if (r->parsed()) return Race(race);
  if (rc->parsed()) return Receive(listen, port_file, receive_log, stop_file);
  if (rd->parsed()) return Ready(ready_server, ready_timeout_ms);
  return 2;
}
