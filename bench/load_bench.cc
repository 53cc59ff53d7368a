// load_bench — the approval-chain load generator and its companions.
//
//   load_bench run   --server ADDR [--clients N] [--seconds S | --instances K]
//                    [--rate T] [--rectify-pct P] [--view basic|full] [--store URL]
//                    [--bpmd-pid PID]
//       N concurrent clients drive instances of the bundled target-filing
//       workflow over gRPC: start → submit → authority approve → finance
//       approve (优; P% get 中 and go through rectification: submit evidence →
//       accept → finance approve 良) → publish. One API call per user task;
//       each client has one call in flight and issues the next from its
//       completion (gRPC's callback API), so a few threads drive any number of
//       clients. Prints transitions/s, instances/s, p50/p95/p99/max latency
//       per call kind and errors by code. --rate paces the calls to T
//       transitions/s in all (for latency at a given load); 0 runs flat out.
//       --view: what each answer carries (InstanceView); by default basic,
//       the instance without its variables, which is all the chain reads.
//       With --store (the URL bpmd uses) it also measures the raw single-row
//       commit rate of that database on the same disk and prints the ratio.
//       With --bpmd-pid it prints bpmd's CPU time, context switches per
//       transition, resident memory, and how busy the machine's cores were.
//   load_bench seed  --store URL --instances N
//       Writes N finished instances with their tasks, history and disclosure
//       document straight into the store (in transactions of 2,000), so the
//       measured part can run against 10k, 100k or 1M stored instances.
//   load_bench commit-rate --store URL [--seconds S]
//       Only the raw commit-rate measurement.
//
// A figure printer, not a test: it asserts nothing about speed. bench/run.sh
// runs the whole matrix (SQLite and MariaDB, 10k/100k/1M instances).
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <mysql.h>
#include <sqlite3.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/synchronization/mutex.h"
#include "bpm/v1/bpm.grpc.pb.h"
#include "core/common/util.h"
#include "core/store/audit.h"
#include "core/store/store.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/json_util.h"

namespace {

namespace v1 = ::bpm::v1;
using Clock = std::chrono::steady_clock;

const char* kPayload = R"({"project_name": "基准测试项目", "amount": 500000,
  "annual_goal": "完成10个建设点，验收合格率达到95%以上",
  "indicators": [
    {"level1": "产出指标", "level2": "数量指标", "name": "完成数", "operator": "≥", "target": "10", "unit": "个", "weight": 20},
    {"level1": "产出指标", "level2": "质量指标", "name": "验收合格率", "operator": "≥", "target": "95", "unit": "%", "weight": 20},
    {"level1": "产出指标", "level2": "时效指标", "name": "完成时间", "operator": "≤", "target": "11", "unit": "月", "weight": 10},
    {"level1": "产出指标", "level2": "成本指标", "name": "单位成本", "operator": "≤", "target": "5", "unit": "万元", "weight": 10},
    {"level1": "效益指标", "level2": "社会效益指标", "name": "受益人数", "operator": "≥", "target": "1000", "unit": "人次", "weight": 20},
    {"level1": "满意度指标", "level2": "服务对象满意度指标", "name": "服务对象满意度", "operator": "≥", "target": "90", "unit": "%", "weight": 20}]})";

// What one run counts. Each client fills its own (its calls follow one
// another, so it needs no lock); Run adds them up at the end.
struct Stats {
  std::map<std::string, std::vector<double>> latency_ms;  // by call kind
  std::map<std::string, int> errors;                      // by code
  long transitions = 0;
  long instances = 0;

  // Records one finished call under kind; false on error.
  bool Record(const char* kind, const grpc::Status& s, Clock::time_point issued) {
    if (!s.ok()) {
      ++errors[std::to_string(s.error_code()) + " " + s.error_message().substr(0, 80)];
      return false;
    }
    latency_ms[kind].push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - issued).count());
    return true;
  }

  void Add(const Stats& other) {
    for (const auto& [kind, v] : other.latency_ms) {
      auto& into = latency_ms[kind];
      into.insert(into.end(), v.begin(), v.end());
    }
    for (const auto& [code, n] : other.errors) errors[code] += n;
    transitions += other.transitions;
    instances += other.instances;
  }
};

// Spreads calls evenly over time when a rate is set: each call takes the next
// slot and is issued at that time. Calls are issued from gRPC's callback
// threads, which must never sleep, so a call whose slot is still ahead waits
// in a queue for the pacer's own thread; one whose slot has come is issued at
// once by the caller.
class Pacer {
 public:
  explicit Pacer(double per_second) : interval_(per_second > 0 ? 1.0 / per_second : 0) {
    if (interval_ > 0) thread_ = std::thread([this] { Loop(); });
  }
  ~Pacer() { Stop(); }

  // Runs issue now, or on the pacer's thread when its slot comes.
  void Issue(std::function<void()> issue) {
    if (interval_ <= 0) {
      issue();
      return;
    }
    const long slot = next_.fetch_add(1);
    const auto at =
        start_ + std::chrono::duration_cast<Clock::duration>(
                     std::chrono::duration<double>(interval_ * static_cast<double>(slot)));
    if (at <= Clock::now()) {
      issue();
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    queue_.emplace(at, std::move(issue));
    if (queue_.begin()->first == at) wake_.notify_one();  // earlier than the thread's wait
  }

  // Ends the thread. Every client has finished by then, so nothing is queued.
  void Stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      if (queue_.empty()) {
        wake_.wait(lock);
      } else if (queue_.begin()->first > Clock::now()) {
        wake_.wait_until(lock, queue_.begin()->first);
      } else {
        auto due = queue_.extract(queue_.begin());
        lock.unlock();  // the call's callback may queue the next call
        due.mapped()();
        lock.lock();
      }
    }
  }

  const double interval_;
  const Clock::time_point start_ = Clock::now();
  std::atomic<long> next_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  std::multimap<Clock::time_point, std::function<void()>> queue_;  // by slot time
  bool stop_ = false;
  std::thread thread_;
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

struct Workload {
  std::string server;
  Clock::time_point end;
  // What each answer carries (StartInstanceRequest/ActRequest.view): the
  // chain needs only the next task, so by default not the variables.
  bpm::v1::InstanceView view = bpm::v1::INSTANCE_VIEW_BASIC;
  long max_instances = 0;  // 0: until end
  int rectify_pct = 10;
};

// What the chain reads from a StartInstanceResponse or ActResponse (both are
// `Instance instance = 1`). Decoding only this, instead of the whole message,
// skips the instance's variables: a Struct holding the whole target form,
// whose parsing was over a third of the client's CPU per call.
struct InstanceHead {
  std::string status;         // Instance.status (6)
  int open_tasks = 0;         // Instance.open_tasks (13)
  std::string first_task_id;  // Task.id (1) of the first open task
};

using google::protobuf::io::CodedInputStream;

// Skips the value of a field whose tag was just read; false if malformed.
bool SkipValue(CodedInputStream& in, uint32_t tag) {
  uint64_t varint;
  uint32_t length;
  switch (tag & 7) {  // the wire type
    case 0:
      return in.ReadVarint64(&varint);
    case 1:
      return in.Skip(8);
    case 2:
      return in.ReadVarint32(&length) && in.Skip(static_cast<int>(length));
    case 5:
      return in.Skip(4);
    default:
      return false;  // groups: not in these messages
  }
}

// Reads a message up to the input's limit: calls on_field(number, in) for each
// length-delimited field with the input limited to that field (what it leaves
// unread is skipped) and skips the other fields. False if malformed.
template <typename OnField>
bool ReadFields(CodedInputStream& in, OnField on_field) {
  while (const uint32_t tag = in.ReadTag()) {
    uint32_t length;
    if ((tag & 7) != 2) {
      if (!SkipValue(in, tag)) return false;
    } else if (!in.ReadVarint32(&length)) {
      return false;
    } else {
      const auto limit = in.PushLimit(static_cast<int>(length));
      if (!on_field(tag >> 3, in) || !in.Skip(in.BytesUntilLimit())) return false;
      in.PopLimit(limit);
    }
  }
  return in.ConsumedEntireMessage();
}

bool ReadString(CodedInputStream& in, std::string* out) {
  return in.ReadString(out, in.BytesUntilLimit());
}

// The field numbers ReadInstanceHead walks, checked against the generated code.
static_assert(v1::StartInstanceResponse::kInstanceFieldNumber == 1 &&
              v1::ActResponse::kInstanceFieldNumber == 1);
static_assert(v1::Instance::kStatusFieldNumber == 6 && v1::Instance::kOpenTasksFieldNumber == 13);
static_assert(v1::Task::kIdFieldNumber == 1);

bool ReadInstanceHead(CodedInputStream& in, InstanceHead* head) {
  return ReadFields(in, [head](uint32_t field, CodedInputStream& in) {  // the response
    if (field != 1) return true;
    return ReadFields(in, [head](uint32_t field, CodedInputStream& in) {  // Instance
      if (field == 6) return ReadString(in, &head->status);
      if (field != 13 || head->open_tasks++ > 0) return true;
      return ReadFields(in, [head](uint32_t field, CodedInputStream& in) {  // Task
        return field != 1 || ReadString(in, &head->first_task_id);
      });
    });
  });
}

}  // namespace

// How gRPC turns a response into an InstanceHead (as it would parse a message).
template <>
class grpc::SerializationTraits<InstanceHead> {
 public:
  static grpc::Status Deserialize(grpc::ByteBuffer* buffer, InstanceHead* head) {
    if (buffer == nullptr) return grpc::Status(grpc::StatusCode::INTERNAL, "no response");
    head->status.clear();
    head->open_tasks = 0;
    head->first_task_id.clear();
    bool ok;
    {
      grpc::ProtoBufferReader reader(buffer);
      if (!reader.status().ok()) return reader.status();
      CodedInputStream in(&reader);
      ok = ReadInstanceHead(in, head);
    }
    buffer->Clear();
    return ok ? grpc::Status::OK
              : grpc::Status(grpc::StatusCode::INTERNAL, "cannot decode the response's instance");
  }
};

namespace {

// What the clients of one run share; outlives them.
struct Shared {
  Shared(const Workload& w, Pacer& p, int clients) : work(w), pacer(p), running(clients) {}

  // Called by each client as the very last thing it does.
  void ClientDone() {
    std::lock_guard<std::mutex> lock(mu);
    if (--running == 0) all_done.notify_all();
  }
  void WaitForClients() {
    std::unique_lock<std::mutex> lock(mu);
    all_done.wait(lock, [this] { return running == 0; });
  }

  const Workload& work;
  Pacer& pacer;
  // The methods' paths, as the generated stubs have them.
  const std::string start_method =
      std::string("/") + v1::InstanceService::service_full_name() + "/Start";
  const std::string act_method = std::string("/") + v1::TaskService::service_full_name() + "/Act";
  std::atomic<long> issued{0};  // instances begun, for --instances
  std::mutex mu;
  std::condition_variable all_done;
  int running;
};

// The user tasks of one instance after start, one call each.
struct StepSpec {
  const char* kind;
  const char* user;  // the client's id is appended
  const char* roles;
  const char* action;
  const char* payload;  // nullptr: the target form; "": none
};
constexpr StepSpec kSubmit = {"submit", "filer", "unit_filer", "submit", nullptr};
constexpr StepSpec kApprove = {"approve", "reviewer", "authority_reviewer", "approve", ""};
constexpr StepSpec kPublish = {"publish", "perf", "performance_section", "publish", ""};
const StepSpec kPlainSteps[] = {
    kSubmit,
    kApprove,
    {"final", "finance", "finance_reviewer", "approve", R"({"grade": "优"})"},
    kPublish};
const StepSpec kRectifySteps[] = {
    kSubmit,
    kApprove,
    {"final", "finance", "finance_reviewer", "approve", R"({"grade": "中"})"},
    {"evidence", "filer", "unit_filer", "submit", R"({"evidence": "已按终审意见修改绩效目标"})"},
    {"accept", "finance", "finance_reviewer", "accept", ""},
    {"final", "finance", "finance_reviewer", "approve", R"({"grade": "良"})"},
    kPublish};

// The two calls of the chain, through gRPC's callback API. Typed requests;
// responses decoded as InstanceHead.
using StartStub = grpc::TemplatedGenericStub<v1::StartInstanceRequest, InstanceHead>;
using ActStub = grpc::TemplatedGenericStub<v1::ActRequest, InstanceHead>;

// One logical client: a chain of calls with at most one in flight. Each call
// is issued from the completion callback of the one before (through the
// pacer), so no thread waits on a call. The client owns the context, request
// and response of its call in flight and touches them only before issuing it
// and in its callback.
class Client {
 public:
  Client(int id, StartStub* starts, ActStub* acts, Shared* shared)
      : id_(id),
        org_("B" + std::to_string(id)),
        filer_("filer" + std::to_string(id)),
        rng_(static_cast<unsigned>(id) * 7919u + 17u),
        starts_(starts),
        acts_(acts),
        shared_(shared),
        plain_(MakeSteps(kPlainSteps)),
        rectify_(MakeSteps(kRectifySteps)) {
    start_.set_definition_key("target-filing");
    start_.set_org(org_);
    start_.set_view(shared_->work.view);
    act_.set_view(shared_->work.view);
  }

  // Begins the chain; it runs on gRPC's threads until the client is done.
  void Begin() { NextInstance(); }

  Stats& stats() { return stats_; }

 private:
  // A StepSpec with its user name made and its payload parsed once.
  struct Step {
    const char* kind;
    std::string user;
    const char* roles;
    const char* action;
    bool has_payload;
    google::protobuf::Struct payload;
  };

  template <size_t N>
  std::vector<Step> MakeSteps(const StepSpec (&specs)[N]) const {
    std::vector<Step> steps;
    for (const StepSpec& s : specs) {
      Step step{s.kind, s.user + std::to_string(id_), s.roles, s.action, false, {}};
      if (s.payload == nullptr || *s.payload != '\0') {
        step.has_payload = true;
        (void)google::protobuf::util::JsonStringToMessage(s.payload ? s.payload : kPayload,
                                                          &step.payload);
      }
      steps.push_back(std::move(step));
    }
    return steps;
  }

  // Starts the next instance, or ends the client when the time or the
  // instance budget is used up.
  void NextInstance() {
    if (Clock::now() >= shared_->work.end ||
        (shared_->work.max_instances > 0 &&
         shared_->issued.fetch_add(1) >= shared_->work.max_instances)) {
      shared_->ClientDone();  // the last use of this client
      return;
    }
    start_.set_subject_ref(org_ + "-" + std::to_string(n_++));
    shared_->pacer.Issue([this] { IssueStart(); });
  }

  void IssueStart() {
    issued_at_ = Clock::now();
    ctx_ = Ctx(filer_, "unit_filer", org_);
    starts_->UnaryCall(ctx_.get(), shared_->start_method, grpc::StubOptions(), &start_, &head_,
                       [this](grpc::Status s) { OnStarted(s); });
  }

  void OnStarted(const grpc::Status& s) {
    if (!stats_.Record("start", s, issued_at_)) return NextInstance();
    ++stats_.transitions;  // created, entered the first state
    // Drawn only for started instances, as the chain has always done.
    steps_ = static_cast<int>(rng_() % 100) < shared_->work.rectify_pct ? &rectify_ : &plain_;
    step_ = 0;
    NextStep();
  }

  // Acts on the instance's first open task (head_, from the last response)
  // with the next step, or finishes the instance when the steps or its open
  // tasks have run out.
  void NextStep() {
    if (step_ == steps_->size() || head_.open_tasks == 0) {
      if (head_.status == "completed") ++stats_.instances;
      return NextInstance();
    }
    const Step& step = (*steps_)[step_];
    act_.set_task_id(head_.first_task_id);
    act_.set_action(step.action);
    if (step.has_payload) {
      *act_.mutable_payload() = step.payload;
    } else {
      act_.clear_payload();
    }
    shared_->pacer.Issue([this] { IssueAct(); });
  }

  void IssueAct() {
    const Step& step = (*steps_)[step_];
    issued_at_ = Clock::now();
    ctx_ = Ctx(step.user, step.roles, org_);
    acts_->UnaryCall(ctx_.get(), shared_->act_method, grpc::StubOptions(), &act_, &head_,
                     [this](grpc::Status s) { OnActed(s); });
  }

  void OnActed(const grpc::Status& s) {
    if (!stats_.Record((*steps_)[step_].kind, s, issued_at_)) return NextInstance();
    ++stats_.transitions;
    ++step_;
    NextStep();
  }

  const int id_;
  const std::string org_;
  const std::string filer_;
  std::mt19937 rng_;
  StartStub* const starts_;
  ActStub* const acts_;
  Shared* const shared_;
  const std::vector<Step> plain_, rectify_;
  Stats stats_;

  long n_ = 0;  // instances begun, for the subject_ref
  const std::vector<Step>* steps_ = nullptr;
  size_t step_ = 0;
  // The call in flight.
  Clock::time_point issued_at_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  v1::StartInstanceRequest start_;
  v1::ActRequest act_;
  InstanceHead head_;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// ---- raw commit rate ---------------------------------------------------------------

struct RawRate {
  double commits_per_s = 0;
  std::string error;
};

// Single-row INSERT commits on a scratch table next to the store, for about
// `seconds`, with the store's durability settings.
RawRate SqliteCommitRate(const std::string& store_path, double seconds) {
  RawRate out;
  const std::string path = store_path + ".commit-rate";
  std::remove(path.c_str());
  std::remove((path + "-wal").c_str());
  std::remove((path + "-shm").c_str());
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    out.error = sqlite3_errmsg(db);
    sqlite3_close(db);
    return out;
  }
  char* err = nullptr;
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)",
               nullptr, nullptr, &err);
  if (err != nullptr) {
    out.error = err;
    sqlite3_free(err);
  }
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO t (v) VALUES ('a single row of about forty bytes...')",
                     -1, &st, nullptr);
  long n = 0;
  const auto start = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
    sqlite3_step(st);  // autocommit: one transaction, one fsync of the WAL
    sqlite3_reset(st);
    ++n;
  }
  out.commits_per_s =
      static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - start).count();
  sqlite3_finalize(st);
  sqlite3_close(db);
  std::remove(path.c_str());
  std::remove((path + "-wal").c_str());
  std::remove((path + "-shm").c_str());
  return out;
}

// A MySQL C API connection for a mysql:// store URL; nullptr and *error on failure.
MYSQL* MysqlConnect(const std::string& url, std::string* error) {
  static const std::regex kMysql(
      R"(^mysql://([^:@/]+)(:([^@]*))?@([^:/]+)(:(\d+))?/([A-Za-z0-9_]+)$)");
  std::smatch m;
  if (!std::regex_match(url, m, kMysql)) {
    *error = "not a mysql:// url";
    return nullptr;
  }
  MYSQL* c = mysql_init(nullptr);
  if (mysql_real_connect(c, m[4].str().c_str(), m[1].str().c_str(),
                         m[3].matched ? m[3].str().c_str() : nullptr, m[7].str().c_str(),
                         m[6].matched ? static_cast<unsigned>(std::stoi(m[6].str())) : 3306,
                         nullptr, 0) == nullptr) {
    *error = mysql_error(c);
    mysql_close(c);
    return nullptr;
  }
  mysql_set_character_set(c, "utf8mb4");
  return c;
}

RawRate MysqlCommitRate(const std::string& url, double seconds) {
  RawRate out;
  MYSQL* c = MysqlConnect(url, &out.error);
  if (c == nullptr) return out;
  mysql_query(c, "DROP TABLE IF EXISTS bench_commit_rate");
  mysql_query(c,
              "CREATE TABLE bench_commit_rate (id BIGINT AUTO_INCREMENT PRIMARY KEY, v "
              "VARCHAR(64) NOT NULL) ENGINE=InnoDB");
  long n = 0;
  const auto start = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
    if (mysql_query(c, "INSERT INTO bench_commit_rate (v) VALUES ('a single row of about "
                       "forty bytes...')") != 0) {
      out.error = mysql_error(c);
      break;
    }
    ++n;
  }
  out.commits_per_s =
      static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - start).count();
  mysql_query(c, "DROP TABLE IF EXISTS bench_commit_rate");
  mysql_close(c);
  return out;
}

RawRate CommitRate(const std::string& url, double seconds) {
  if (url.rfind("sqlite:", 0) == 0) {
    std::string path = url.substr(7);
    if (path.rfind("//", 0) == 0) path = path.substr(2);
    return SqliteCommitRate(path, seconds);
  }
  return MysqlCommitRate(url, seconds);
}

// VmRSS and VmHWM of a process, in MiB; "" when unreadable.
std::string Memory(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0 || line.rfind("VmHWM:", 0) == 0) {
      long kb = std::atol(line.c_str() + 6);
      out += line.substr(0, 5) + " " + std::to_string(kb / 1024) + " MiB  ";
    }
  }
  return out;
}

// User + system CPU seconds a process has used so far; -1 when unreadable.
double CpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::atol(f.c_str());
    if (i == 15) stime = std::atol(f.c_str());
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Context switches of a process so far, summed over its threads: voluntary
// (the thread slept: a lock, a condition, I/O, epoll) and involuntary (the
// scheduler preempted it). {-1, -1} when unreadable.
std::pair<long, long> ContextSwitches(int pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  std::pair<long, long> sum{0, 0};
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream in(task.path() / "status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0) {
        sum.first += std::atol(line.c_str() + 24);
      } else if (line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
        sum.second += std::atol(line.c_str() + 27);
      }
    }
  }
  if (ec) return {-1, -1};
  return sum;
}

// The machine's CPU time so far in clock ticks, {busy, total}, over all
// cores (the first line of /proc/stat; idle and iowait count as not busy).
std::pair<long long, long long> MachineTicks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  long long v[8] = {};
  in >> cpu;
  for (long long& x : v) in >> x;
  if (!in || cpu != "cpu") return {0, 0};
  long long total = 0;
  for (long long x : v) total += x;
  return {total - v[3] - v[4], total};
}

// ---- seeding -----------------------------------------------------------------------

// One finished instance as the engine would have written it over its life.
bpm::store::Commit FinishedInstance(long n, int64_t now) {
  namespace st = bpm::store;
  st::Commit c;
  const std::string org = "S" + std::to_string(n % 300);
  st::InstanceRow inst;
  inst.id = bpm::NewId();
  inst.def_key = "target-filing";
  inst.def_version = 1;
  inst.subject_ref = "SEED-" + std::to_string(n);
  inst.org = org;
  inst.status = "completed";
  inst.state = "done";
  inst.variables_json = R"({"grade":"优","project_name":"存量项目","published":true})";
  inst.version = 5;
  inst.started_by = "seed";
  inst.created_ms = now - 86400000;
  inst.updated_ms = now - 3600000;
  const char* states[] = {"draft", "authority_review", "finance_review", "disclosure", "done"};
  const char* actions[] = {"submit", "approve", "approve", "publish"};
  int64_t seq = 0;
  auto event = [&](const std::string& kind, const std::string& action, const std::string& from,
                   const std::string& to, const std::string& task) {
    st::EventRow e;
    e.instance_id = inst.id;
    e.seq = ++seq;
    e.at_ms = inst.created_ms + seq * 60000;
    e.actor = "seed";
    e.kind = kind;
    e.action = action;
    e.from_state = from;
    e.to_state = to;
    e.task_id = task;
    c.events.push_back(std::move(e));
  };
  event("started", "", "", "draft", "");
  for (int i = 0; i < 4; ++i) {
    st::TaskRow t;
    t.id = bpm::NewId();
    t.instance_id = inst.id;
    t.state = states[i];
    t.name = i == 0 ? "fill" : "review";
    t.title = states[i];
    t.status = "completed";
    t.assignee_role = "seed_role";
    t.assignee_org = org;
    t.actions_json = R"(["approve"])";
    t.data_json = "{}";
    t.created_ms = inst.created_ms + i * 60000;
    t.completed_ms = t.created_ms + 30000;
    t.completed_by = "seed";
    t.action = actions[i];
    event("acted", actions[i], states[i], states[i], t.id);
    event("transitioned", "", states[i], states[i + 1], t.id);
    c.insert_tasks.push_back(std::move(t));
  }
  event("completed", "", "done", "done", "");
  inst.event_seq = seq;
  st::DocumentRow doc;
  doc.id = bpm::NewId();
  doc.instance_id = inst.id;
  doc.state = "disclosure";
  doc.kind = "disclosure";
  doc.content_type = "application/json";
  doc.content = R"({"form":{"project_name":"存量项目","amount":500000},"grade":"优"})";
  doc.sha256 = bpm::Sha256Hex(doc.content);
  doc.created_ms = inst.updated_ms;
  c.documents.push_back(std::move(doc));
  c.insert_instance = std::move(inst);
  return c;
}

// MariaDB: one multi-row INSERT per table per batch. Writing the commits
// through the store costs a round trip per row (about 16 per instance), which
// made a million instances take over an hour. The store (opened first) has
// applied the migrations, so the tables are the store's own.
class MysqlBulk {
 public:
  explicit MysqlBulk(MYSQL* c) : c_(c) {}
  std::string Q(const std::string& v) {
    std::string out(v.size() * 2 + 3, '\0');
    out[0] = '\'';
    const unsigned long n = mysql_real_escape_string(c_, &out[1], v.data(), v.size());
    out.resize(n + 1);
    out += '\'';
    return out;
  }
  static std::string N(int64_t v) { return std::to_string(v); }
  // Adds one row "(a, b, ...)" to table's statement.
  void Row(const std::string& head, std::vector<std::string> values) {
    std::string& stmt = statements_[head];
    stmt += stmt.empty() ? head + " VALUES (" : ", (";
    for (size_t i = 0; i < values.size(); ++i) stmt += (i ? ", " : "") + values[i];
    stmt += ")";
  }
  // The audit trail's head (the seed goes around the store: it chains the
  // events itself, as the store would).
  bool ReadHead(bpm::store::AuditHead* head, std::string* error) {
    if (!Exec("SELECT seq, hash FROM audit_head WHERE id = 1", error)) return false;
    MYSQL_RES* res = mysql_store_result(c_);
    MYSQL_ROW row = res != nullptr ? mysql_fetch_row(res) : nullptr;
    if (row == nullptr) {
      *error = "audit_head has no row";
      if (res != nullptr) mysql_free_result(res);
      return false;
    }
    head->seq = std::stoll(row[0]);
    head->hash = row[1];
    mysql_free_result(res);
    return true;
  }
  void WriteHead(const bpm::store::AuditHead& head) {
    statements_["UPDATE audit_head"] =
        "UPDATE audit_head SET seq = " + N(head.seq) + ", hash = " + Q(head.hash) + " WHERE id = 1";
  }
  bool Flush(std::string* error) {
    if (!Exec("START TRANSACTION", error)) return false;
    for (auto& [head, stmt] : statements_) {
      if (!Exec(stmt, error)) return false;
    }
    statements_.clear();
    return Exec("COMMIT", error);
  }

 private:
  bool Exec(const std::string& sql, std::string* error) {
    if (mysql_real_query(c_, sql.data(), sql.size()) == 0) return true;
    *error = mysql_error(c_);
    return false;
  }
  MYSQL* c_;
  std::map<std::string, std::string> statements_;
};

void AddRows(MysqlBulk& bulk, const bpm::store::Commit& c, bpm::store::AuditHead* head) {
  using B = MysqlBulk;
  const auto& i = *c.insert_instance;
  std::vector<bpm::store::EventRow> events = c.events;
  std::string last_hash;
  bpm::store::ChainEvents(&last_hash, head, &events);
  bulk.WriteHead(*head);
  bulk.Row("INSERT INTO instances (id, def_key, def_version, subject_ref, org, status, state, "
           "variables, version, event_seq, started_by, created_ms, updated_ms, campaign_id, "
           "last_event_hash)",
           {bulk.Q(i.id), bulk.Q(i.def_key), B::N(i.def_version), bulk.Q(i.subject_ref),
            bulk.Q(i.org), bulk.Q(i.status), bulk.Q(i.state), bulk.Q(i.variables_json),
            B::N(i.version), B::N(i.event_seq), bulk.Q(i.started_by), B::N(i.created_ms),
            B::N(i.updated_ms), bulk.Q(i.campaign_id), bulk.Q(last_hash)});
  for (const auto& t : c.insert_tasks) {
    bulk.Row("INSERT INTO tasks (id, instance_id, state, name, title, status, assignee_user, "
             "assignee_role, assignee_org, actions, data, due_ms, created_ms, completed_ms, "
             "completed_by, action, claimed_by, delegated_to, owner_user, exclude_users)",
             {bulk.Q(t.id), bulk.Q(t.instance_id), bulk.Q(t.state), bulk.Q(t.name),
              bulk.Q(t.title), bulk.Q(t.status), bulk.Q(t.assignee_user),
              bulk.Q(t.assignee_role), bulk.Q(t.assignee_org), bulk.Q(t.actions_json),
              bulk.Q(t.data_json), B::N(t.due_ms), B::N(t.created_ms), B::N(t.completed_ms),
              bulk.Q(t.completed_by), bulk.Q(t.action), bulk.Q(t.claimed_by),
              bulk.Q(t.delegated_to), bulk.Q(t.owner_user), bulk.Q(t.exclude_users_json)});
  }
  for (const auto& e : events) {
    bulk.Row("INSERT INTO events (instance_id, seq, at_ms, actor, kind, action, from_state, "
             "to_state, task_id, comment, payload_digest, note, source, prev_hash, hash, "
             "chain_seq, chain_prev, chain_hash)",
             {bulk.Q(e.instance_id), B::N(e.seq), B::N(e.at_ms), bulk.Q(e.actor),
              bulk.Q(e.kind), bulk.Q(e.action), bulk.Q(e.from_state), bulk.Q(e.to_state),
              bulk.Q(e.task_id), bulk.Q(e.comment), bulk.Q(e.payload_digest), bulk.Q(e.note),
              bulk.Q(e.source), bulk.Q(e.prev_hash), bulk.Q(e.hash), B::N(e.chain_seq),
              bulk.Q(e.chain_prev), bulk.Q(e.chain_hash)});
  }
  for (const auto& d : c.documents) {
    bulk.Row("INSERT INTO documents (id, instance_id, state, kind, content_type, content_b64, "
             "sha256, created_ms)",
             {bulk.Q(d.id), bulk.Q(d.instance_id), bulk.Q(d.state), bulk.Q(d.kind),
              bulk.Q(d.content_type), bulk.Q(absl::Base64Escape(d.content)), bulk.Q(d.sha256),
              B::N(d.created_ms)});
  }
}

int Seed(const std::string& url, long count) {
  auto store = bpm::store::Store::Open(url, 1);
  if (!store.ok()) {
    std::fprintf(stderr, "seed: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  const int64_t now = static_cast<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
  const auto start = Clock::now();
  const bool mysql = (*store)->dialect() == "mysql";
  std::string error;
  MYSQL* conn = mysql ? MysqlConnect(url, &error) : nullptr;
  if (mysql && conn == nullptr) {
    std::fprintf(stderr, "seed: %s\n", error.c_str());
    return 1;
  }
  MysqlBulk bulk(conn);
  bpm::store::AuditHead head;
  if (mysql && !bulk.ReadHead(&head, &error)) {
    std::fprintf(stderr, "seed: %s\n", error.c_str());
    mysql_close(conn);
    return 1;
  }
  const long batch_size = mysql ? 500 : 2000;
  for (long done = 0; done < count;) {
    std::vector<bpm::store::Commit> batch;
    for (long i = 0; i < batch_size && done < count; ++i, ++done) {
      batch.push_back(FinishedInstance(done, now));
    }
    bpm::Status s;
    if (mysql) {
      for (const auto& c : batch) AddRows(bulk, c, &head);
      if (!bulk.Flush(&error)) s = absl::InternalError(error);
    } else {
      s = (*store)->ApplyAll(batch);
    }
    if (!s.ok()) {
      std::fprintf(stderr, "seed: %s\n", std::string(s.message()).c_str());
      if (conn != nullptr) mysql_close(conn);
      return 1;
    }
    if (done % 100000 == 0 || done == count) {
      std::fprintf(stderr, "seeded %ld instances (%.0f/s)\n", done,
                   static_cast<double>(done) /
                       std::chrono::duration<double>(Clock::now() - start).count());
    }
  }
  if (conn != nullptr) mysql_close(conn);
  return 0;
}

int Run(const Workload& base, int clients, int channels, double rate,
        const std::string& store_url, int bpmd_pid) {
  const double cpu_before = bpmd_pid > 0 ? CpuSeconds(bpmd_pid) : -1;
  const double self_before = CpuSeconds(getpid());
  const std::pair<long, long> switches_before =
      bpmd_pid > 0 ? ContextSwitches(bpmd_pid) : std::pair<long, long>{-1, -1};
  const std::pair<long long, long long> machine_before = MachineTicks();
  // Clients are spread over `channels` channels, each its own connection (a
  // finance bureau's many users arrive on many connections; on one
  // connection every call contends for the same HTTP/2 transport lock).
  // Retries off: the chain has no retry policy, and being ready for
  // transparent retries (of calls bpmd never saw) cost a tenth of the client's
  // instructions per call.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  std::vector<std::unique_ptr<StartStub>> starts;
  std::vector<std::unique_ptr<ActStub>> acts;
  for (int i = 0; i < channels; ++i) {
    // Distinct arguments keep gRPC from sharing one connection (subchannel).
    grpc::ChannelArguments own = args;
    own.SetInt("bpm.load_bench.channel", i);
    const auto channel =
        grpc::CreateCustomChannel(base.server, grpc::InsecureChannelCredentials(), own);
    starts.push_back(std::make_unique<StartStub>(channel));
    acts.push_back(std::make_unique<ActStub>(channel));
  }
  Pacer pacer(rate);
  Shared shared(base, pacer, clients);
  std::vector<std::unique_ptr<Client>> chains;
  for (int i = 0; i < clients; ++i) {
    chains.push_back(std::make_unique<Client>(i, starts[i % channels].get(),
                                             acts[i % channels].get(), &shared));
  }
  const auto start = Clock::now();
  for (auto& c : chains) c->Begin();
  shared.WaitForClients();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  pacer.Stop();
  Stats stats;
  for (auto& c : chains) stats.Add(c->stats());
  const double tps = static_cast<double>(stats.transitions) / elapsed;
  std::printf("clients %d on %d connections, %.1f s%s, view %s\n", clients, channels, elapsed,
              rate > 0 ? (", paced at " + std::to_string(static_cast<long>(rate)) + " calls/s").c_str()
                       : ", flat out",
              base.view == bpm::v1::INSTANCE_VIEW_FULL ? "full" : "basic");
  std::printf("transitions/s %.0f   instances/s %.0f   (transitions %ld, instances %ld)\n", tps,
              static_cast<double>(stats.instances) / elapsed, stats.transitions,
              stats.instances);
  std::printf("%-8s %8s %8s %8s %8s %8s\n", "call", "count", "p50 ms", "p95 ms", "p99 ms",
              "max ms");
  std::vector<double> all;
  for (auto& [kind, v] : stats.latency_ms) {
    all.insert(all.end(), v.begin(), v.end());
    const size_t n = v.size();
    const double p50 = Percentile(v, 0.50), p95 = Percentile(v, 0.95),
                 p99 = Percentile(v, 0.99), max = v.empty() ? 0 : v.back();
    std::printf("%-8s %8zu %8.2f %8.2f %8.2f %8.2f\n", kind.c_str(), n, p50, p95, p99, max);
  }
  {
    const size_t n = all.size();
    const double p50 = Percentile(all, 0.50), p95 = Percentile(all, 0.95),
                 p99 = Percentile(all, 0.99), max = all.empty() ? 0 : all.back();
    std::printf("%-8s %8zu %8.2f %8.2f %8.2f %8.2f\n", "all", n, p50, p95, p99, max);
  }
  for (const auto& [code, n] : stats.errors) std::printf("error %s: %d\n", code.c_str(), n);
  if (stats.errors.empty()) std::printf("errors: none\n");
  if (bpmd_pid > 0 && stats.transitions > 0) {
    const double cpu = CpuSeconds(bpmd_pid) - cpu_before;
    std::printf("bpmd CPU %.1f s = %.0f us per transition; load_bench CPU %.1f s\n", cpu,
                1e6 * cpu / static_cast<double>(stats.transitions),
                CpuSeconds(getpid()) - self_before);
    const std::pair<long, long> switches = ContextSwitches(bpmd_pid);
    const std::pair<long long, long long> machine = MachineTicks();
    if (switches.first >= 0 && switches_before.first >= 0) {
      // At a moderate rate a command wakes sleeping threads where flat out it
      // finds them running; on a virtual machine each wake-up costs tens of
      // microseconds, so these explain CPU per transition rising as the rate
      // falls.
      const double n = static_cast<double>(stats.transitions);
      std::printf("bpmd context switches per transition: %.2f voluntary, %.2f involuntary\n",
                  static_cast<double>(switches.first - switches_before.first) / n,
                  static_cast<double>(switches.second - switches_before.second) / n);
    }
    if (machine.second > machine_before.second) {
      std::printf("machine CPU busy %.0f%% of %ld cores (every process)\n",
                  100.0 * static_cast<double>(machine.first - machine_before.first) /
                      static_cast<double>(machine.second - machine_before.second),
                  sysconf(_SC_NPROCESSORS_ONLN));
    }
    std::printf("bpmd memory: %s\n", Memory(bpmd_pid).c_str());
  }
  if (!store_url.empty()) {
    RawRate raw = CommitRate(store_url, 3.0);
    if (!raw.error.empty()) {
      std::printf("raw commit rate: failed: %s\n", raw.error.c_str());
    } else {
      std::printf("raw single-row commits/s %.0f   transitions per raw commit %.2f\n",
                  raw.commits_per_s, raw.commits_per_s > 0 ? tps / raw.commits_per_s : 0);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // gRPC's mutexes are absl::Mutex; Debian's absl keeps deadlock detection
  // on, which maintains a lock graph on every lock (a few % of the client's CPU).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"load_bench — approval-chain load, seeding and raw commit rate"};
  app.require_subcommand(1);

  Workload work;
  work.server = "127.0.0.1:7411";
  int clients = 16, channels = 1, seconds = 10, bpmd_pid = 0;
  double rate = 0;
  std::string store_url;
  CLI::App* run = app.add_subcommand("run", "drive the approval chain through a running bpmd");
  run->add_option("--server", work.server)->capture_default_str();
  run->add_option("--clients", clients, "concurrent clients, one call in flight each")
      ->capture_default_str();
  run->add_option("--connections", channels, "gRPC channels (connections) the clients share")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  run->add_option("--seconds", seconds, "how long to run")->capture_default_str();
  run->add_option("--instances", work.max_instances, "stop after this many instances (0: time)");
  run->add_option("--rate", rate, "pace to this many calls/s in all (0: flat out)");
  run->add_option("--rectify-pct", work.rectify_pct, "percent of instances graded 中")
      ->capture_default_str();
  run->add_option("--store", store_url, "bpmd's store URL: also measure its raw commit rate");
  std::string view = "basic";
  run->add_option("--view", view,
                  "what each answer carries: basic (the instance without its variables, all "
                  "the chain needs) or full")
      ->check(CLI::IsMember({"basic", "full"}))
      ->capture_default_str();
  run->add_option("--bpmd-pid", bpmd_pid, "print this bpmd's resident memory");

  long seed_count = 0;
  CLI::App* seed = app.add_subcommand("seed", "write finished instances straight into a store");
  seed->add_option("--store", store_url, "store URL")->required();
  seed->add_option("--instances", seed_count, "how many")->required();

  double rate_seconds = 3;
  CLI::App* commit_rate = app.add_subcommand("commit-rate", "raw single-row commit rate");
  commit_rate->add_option("--store", store_url, "store URL")->required();
  commit_rate->add_option("--seconds", rate_seconds)->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (seed->parsed()) return Seed(store_url, seed_count);
  if (commit_rate->parsed()) {
    RawRate r = CommitRate(store_url, rate_seconds);
    if (!r.error.empty()) {
      std::fprintf(stderr, "commit-rate: %s\n", r.error.c_str());
      return 1;
    }
    std::printf("raw single-row commits/s %.0f\n", r.commits_per_s);
    return 0;
  }
  work.view = view == "full" ? bpm::v1::INSTANCE_VIEW_FULL : bpm::v1::INSTANCE_VIEW_BASIC;
  work.end = Clock::now() + std::chrono::seconds(seconds);
  if (work.max_instances > 0) work.end = Clock::now() + std::chrono::hours(24);
  return Run(work, clients, channels, rate, store_url, bpmd_pid);
}
