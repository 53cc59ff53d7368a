// agency_client — an example third-party agency system (第三方机构) working for
// bpmd over the pull protocol of bpm.v1.AgencyService (proto/bpm/v1/agency.proto).
// See README.md beside this file.
//
// The loop: FetchAndLock (long poll) on --topics as agency --agency (metadata
// x-bpm-roles=agency, x-bpm-org=AGENCY, x-bpm-user=WORKER); for each task
// GetEngagement (its indicator sheet), "work" for --work-ms (extending the lock
// with ExtendLock as a heartbeat every half lock while the work lasts longer
// than half the lock), then Complete with a deliverable:
//   - a topic ending in "_plan": a work plan (评价工作方案): summary plus the
//     sha256 of the generated plan text;
//   - any other topic: a report (评价报告). For an independent engagement
//     with a sheet it is scored: every indicator gets round(weight ×
//     --score-ratio, 2), total = sum, grade by the 90/80/60 bands (优/良/中/差);
//     in assist mode (协助) it carries no scores, total or grade. Findings,
//     recommendations and the sha256 of the generated report text always.
// Test knobs: --fail-first N reports a failure (ReportFailure, --backoff-ms)
// for the first N tasks; --crash-after-lock exits with status 3 right after
// locking a task (an agency crash: the lock runs out and the task is
// re-delivered).
//
// A completion bpmd refuses (INVALID_ARGUMENT, or FAILED_PRECONDITION other
// than a lost lock) is reported with ReportFailure, so it is retried and then
// becomes an incident instead of being re-delivered forever.
//
// Output: one line per action on stdout (fetched, extended, completed,
// refused, failed, lost, crashed, idle); errors on stderr.
// Exit codes: 0 done (--count reached or --idle-exit-ms passed), 1 an error
// the loop cannot continue after, 2 usage, 3 the simulated crash.
#include <grpcpp/grpcpp.h>
#include <openssl/evp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bpm/v1/agency.grpc.pb.h"

namespace {

namespace v1 = ::bpm::v1;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string server = "127.0.0.1:7411";
  std::string agency;
  std::string worker;
  std::vector<std::string> topics = {"key_evaluation_plan", "key_evaluation_draft",
                                     "key_evaluation_final"};
  int64_t lock_ms = 60'000;
  int64_t poll_ms = 20'000;
  int64_t work_ms = 0;
  double score_ratio = 0.9;
  int count = 0;
  int fail_first = 0;
  int64_t backoff_ms = 1000;
  bool crash_after_lock = false;
  int64_t idle_exit_ms = 0;
};

// One line on stdout, flushed at once (tests and pipes read it live).
void Say(const std::string& line) { std::cout << line << std::endl; }
void Warn(const std::string& line) { std::cerr << "agency_client: " << line << std::endl; }

std::string Describe(const grpc::Status& s) {
  static const char* const kNames[] = {
      "OK",        "CANCELLED",          "UNKNOWN",      "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS",     "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION", "ABORTED",  "OUT_OF_RANGE", "UNIMPLEMENTED",    "INTERNAL",
      "UNAVAILABLE", "DATA_LOSS",        "UNAUTHENTICATED"};
  const int code = static_cast<int>(s.error_code());
  const std::string name = code >= 0 && code <= 16 ? kNames[code] : std::to_string(code);
  return name + ": " + s.error_message();
}

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("sha256 failed");
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

double Round2(double x) { return std::round(x * 100) / 100; }

// The same half-open bands as the server (core/agency/rules.h).
std::string GradeOf(double total) {
  if (total >= 90) return "优";
  if (total >= 80) return "良";
  if (total >= 60) return "中";
  return "差";
}

std::string Number(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string StringField(const google::protobuf::Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() || !it->second.has_string_value() ? ""
                                                                  : it->second.string_value();
}

// The evaluated unit's opinion handed over with the final-report task
// (payload.unit_feedback.opinion), or "".
std::string UnitOpinion(const google::protobuf::Struct& payload) {
  auto it = payload.fields().find("unit_feedback");
  if (it == payload.fields().end() || !it->second.has_struct_value()) return "";
  return StringField(it->second.struct_value(), "opinion");
}

class AgencyClient {
 public:
  explicit AgencyClient(Options options)
      : o_(std::move(options)),
        stub_(v1::AgencyService::NewStub(
            grpc::CreateChannel(o_.server, grpc::InsecureChannelCredentials()))) {}

  int Run() {
    auto last_work = Clock::now();
    int completed = 0;
    while (o_.count == 0 || completed < o_.count) {
      int64_t wait = o_.poll_ms;
      if (o_.idle_exit_ms > 0) {
        const int64_t idle = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 Clock::now() - last_work)
                                 .count();
        if (idle >= o_.idle_exit_ms) {
          Say("idle: no work for " + std::to_string(idle) + " ms, exiting");
          return 0;
        }
        wait = std::min(wait, o_.idle_exit_ms - idle);
      }
      v1::FetchAndLockResponse fetched;
      grpc::Status s = Fetch(wait, &fetched);
      if (!s.ok()) {
        Warn("fetch: " + Describe(s));
        if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
            s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED &&
            s.error_code() != grpc::StatusCode::ABORTED) {
          return 1;  // permission, arguments: retrying cannot help
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      for (const v1::ExternalTask& task : fetched.tasks()) {
        last_work = Clock::now();
        Say("fetched task=" + task.id() + " topic=" + task.topic() + " instance=" +
            task.instance_id() + " engagement=" + task.engagement_id() + " subject=" +
            task.subject_ref() + " token=" + task.lock_token() +
            " retries_left=" + std::to_string(task.retries_left()));
        if (o_.crash_after_lock) {
          Say("crashed task=" + task.id() + " (--crash-after-lock: exiting without completing)");
          std::_Exit(3);
        }
        if (Work(task)) ++completed;
        last_work = Clock::now();
      }
    }
    return 0;
  }

 private:
  void Identify(grpc::ClientContext* ctx, int64_t deadline_ms) const {
    ctx->AddMetadata("x-bpm-user", o_.worker);
    ctx->AddMetadata("x-bpm-roles", "agency");
    ctx->AddMetadata("x-bpm-org", o_.agency);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
  }

  grpc::Status Fetch(int64_t wait_ms, v1::FetchAndLockResponse* out) {
    v1::FetchAndLockRequest req;
    for (const auto& t : o_.topics) req.add_topics(t);
    req.set_max_tasks(1);
    req.set_lock_duration_ms(o_.lock_ms);
    req.set_long_poll_timeout_ms(std::max<int64_t>(0, wait_ms));
    req.set_worker_id(o_.worker);
    grpc::ClientContext ctx;
    Identify(&ctx, wait_ms + 10'000);
    return stub_->FetchAndLock(&ctx, req, out);
  }

  // Works on one locked task; true when it was completed (or replayed).
  bool Work(const v1::ExternalTask& task) {
    if (failures_ < o_.fail_first) {
      ++failures_;
      Fail(task, "模拟故障：评价系统暂不可用 (--fail-first " + std::to_string(o_.fail_first) + ")");
      return false;
    }
    v1::GetEngagementRequest get;
    get.set_id(task.engagement_id());
    v1::Engagement engagement;
    grpc::ClientContext ctx;
    Identify(&ctx, 10'000);
    grpc::Status s = stub_->GetEngagement(&ctx, get, &engagement);
    if (!s.ok()) {
      Warn("engagement " + task.engagement_id() + ": " + Describe(s));
      Fail(task, "cannot read engagement " + task.engagement_id() + ": " + Describe(s));
      return false;
    }
    if (!Heartbeat(task)) return false;
    const v1::Deliverable deliverable = Build(task, engagement);
    v1::CompleteExternalTaskRequest req;
    req.set_task_id(task.id());
    req.set_lock_token(task.lock_token());
    *req.mutable_deliverable() = deliverable;
    v1::CompleteExternalTaskResponse resp;
    grpc::ClientContext cctx;
    Identify(&cctx, 30'000);
    s = stub_->Complete(&cctx, req, &resp);
    if (!s.ok()) {
      Say("refused task=" + task.id() + " " + Describe(s));
      // A refused deliverable would be refused again after re-delivery:
      // report it, so the task is retried and then becomes an incident.
      // (Without the lock, e.g. it expired, there is nothing to report.)
      if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
          (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
           s.error_message().find("lock is no longer held") == std::string::npos)) {
        Fail(task, "completion refused: " + Describe(s));
      }
      return false;
    }
    std::string line = "completed task=" + task.id() + " topic=" + task.topic() +
                       " instance=" + resp.instance_id() + " state=" + resp.state() +
                       " sha256=" + resp.deliverable_sha256() +
                       " replayed=" + (resp.replayed() ? "true" : "false");
    if (!deliverable.grade().empty()) {
      line += " total=" + Number(deliverable.total()) + " grade=" + deliverable.grade();
    }
    Say(line);
    return true;
  }

  void Fail(const v1::ExternalTask& task, const std::string& error) {
    v1::ReportFailureRequest req;
    req.set_task_id(task.id());
    req.set_lock_token(task.lock_token());
    req.set_error_message(error);
    req.set_retry_backoff_ms(o_.backoff_ms);
    v1::ReportFailureResponse resp;
    grpc::ClientContext ctx;
    Identify(&ctx, 10'000);
    grpc::Status s = stub_->ReportFailure(&ctx, req, &resp);
    if (!s.ok()) {
      Warn("report failure of " + task.id() + ": " + Describe(s));
      return;
    }
    Say("failed task=" + task.id() + " retries_left=" + std::to_string(resp.retries_left()) +
        (resp.incident_id().empty() ? "" : " incident=" + resp.incident_id()));
  }

  // Sleeps --work-ms; when that is longer than half the lock, extends the
  // lock every half lock. False when the lock was lost meanwhile.
  bool Heartbeat(const v1::ExternalTask& task) {
    const int64_t half = std::max<int64_t>(1, o_.lock_ms / 2);
    int64_t left = o_.work_ms;
    while (left > 0) {
      const int64_t step = o_.work_ms > half ? std::min(left, half) : left;
      std::this_thread::sleep_for(std::chrono::milliseconds(step));
      left -= step;
      if (left <= 0 || o_.work_ms <= half) break;
      v1::ExtendLockRequest req;
      req.set_task_id(task.id());
      req.set_lock_token(task.lock_token());
      req.set_lock_duration_ms(o_.lock_ms);
      v1::ExtendLockResponse resp;
      grpc::ClientContext ctx;
      Identify(&ctx, 10'000);
      grpc::Status s = stub_->ExtendLock(&ctx, req, &resp);
      if (!s.ok()) {
        Say("lost task=" + task.id() + " " + Describe(s));
        return false;
      }
      Say("extended task=" + task.id() +
          " lock_expires_unix_ms=" + std::to_string(resp.lock_expires_unix_ms()));
    }
    return true;
  }

  v1::Deliverable Build(const v1::ExternalTask& task, const v1::Engagement& e) const {
    const std::string title = StringField(task.payload(), "title");
    const std::string subject = task.subject_ref().empty() ? e.subject_ref() : task.subject_ref();
    std::ostringstream text;
    v1::Deliverable d;
    text << "# " << (title.empty() ? task.topic() : title) << "\n\n"
         << "评价对象：" << subject << "\n被评价单位：" << e.subject_org()
         << "\n委托方：" << e.commissioner_org() << "\n评价机构：" << e.agency_id()
         << "（项目负责人：" << (e.team_lead().empty() ? "未指定" : e.team_lead()) << "）\n"
         << "委托方式：" << (e.mode() == "assist" ? "协助" : "独立评价") << "\n\n";
    if (EndsWith(task.topic(), "_plan")) {
      text << "## 一、评价目的\n全面了解项目资金使用和目标实现情况，为预算安排和政策调整提供参考。\n\n"
           << "## 二、评价指标体系\n";
      for (const v1::Indicator& i : e.sheet().indicators()) {
        text << "- " << i.code() << " " << i.level1() << "／" << i.level2() << "／" << i.name()
             << "（" << Number(i.weight()) << " 分）\n";
      }
      text << "\n## 三、评价方法\n成本效益分析法、比较法、因素分析法、公众评判法。\n\n"
           << "## 四、工作安排\n前期准备、现场评价、撰写报告、征求意见、提交正式报告。\n";
      d.set_summary("评价工作方案：" + subject + " 重点绩效评价，指标 " +
                    std::to_string(e.sheet().indicators_size()) + " 项，采用现场核查与问卷调查相结合的方式");
      v1::FileDigest* f = d.add_files();
      f->set_name("评价工作方案-" + subject + ".md");
      f->set_sha256(Sha256Hex(text.str()));
      return d;
    }
    const bool scored = e.mode() != "assist" && e.sheet().indicators_size() > 0;
    double total = 0;
    if (scored) {
      text << "## 评分\n";
      for (const v1::Indicator& i : e.sheet().indicators()) {
        const double score = Round2(i.weight() * o_.score_ratio);
        v1::IndicatorScore* s = d.add_scores();
        s->set_code(i.code());
        s->set_score(score);
        total += score;
        text << "- " << i.code() << " " << i.name() << "：" << Number(score) << " / "
             << Number(i.weight()) << "\n";
      }
      total = Round2(total);
      d.set_total(total);
      d.set_grade(GradeOf(total));
      text << "\n总分 " << Number(total) << "，评价等级 " << d.grade() << "\n\n";
    }
    d.add_findings("项目立项依据充分，资金到位及时，预算执行率较高。");
    d.add_findings("部分产出指标未达到年度目标值，绩效目标细化量化程度不足。");
    d.add_recommendations("细化量化绩效目标，完善项目绩效指标体系。");
    d.add_recommendations("加强项目过程管理和资金监管，建立绩效跟踪机制。");
    const std::string opinion = UnitOpinion(task.payload());
    if (!opinion.empty()) d.add_findings("已研究吸收被评价单位反馈意见：" + opinion);
    text << "## 主要发现\n";
    for (const auto& f : d.findings()) text << "- " << f << "\n";
    text << "\n## 意见建议\n";
    for (const auto& r : d.recommendations()) text << "- " << r << "\n";
    d.set_summary((title.empty() ? std::string("评价报告") : title) + "：" + subject +
                  (scored ? "，总分 " + Number(total) + "，等级 " + d.grade() : std::string()));
    v1::FileDigest* f = d.add_files();
    f->set_name((title.empty() ? task.topic() : title) + "-" + subject + ".md");
    f->set_sha256(Sha256Hex(text.str()));
    return d;
  }

  Options o_;
  std::unique_ptr<v1::AgencyService::Stub> stub_;
  int failures_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app(
      "agency_client: an example third-party agency system working for bpmd over the pull "
      "protocol (FetchAndLock, ExtendLock, Complete, ReportFailure)",
      "agency_client");
  app.add_option("--server", o.server, "bpmd address HOST:PORT")->capture_default_str();
  app.add_option("--agency", o.agency, "Agency id (x-bpm-org)")->required();
  app.add_option("--worker", o.worker, "Worker id (x-bpm-user; default AGENCY-worker)");
  app.add_option("--topics", o.topics, "Topics to fetch (repeatable or comma separated)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--lock-ms", o.lock_ms, "Lock duration per task")
      ->check(CLI::Range(int64_t{1000}, int64_t{24} * 3600 * 1000))
      ->capture_default_str();
  app.add_option("--poll-ms", o.poll_ms, "Long-poll wait per fetch")
      ->check(CLI::Range(int64_t{0}, int64_t{60'000}))
      ->capture_default_str();
  app.add_option("--work-ms", o.work_ms, "Time each task takes")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--score-ratio", o.score_ratio, "Score = weight × this, for every indicator")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--count", o.count, "Stop after N completions (0: run until idle or forever)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--fail-first", o.fail_first, "Report a failure for the first N tasks")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--backoff-ms", o.backoff_ms, "Retry back-off asked for with each failure")
      ->check(CLI::Range(int64_t{0}, int64_t{24} * 3600 * 1000))
      ->capture_default_str();
  app.add_flag("--crash-after-lock", o.crash_after_lock,
               "Exit with status 3 right after locking a task (simulates a crash)");
  app.add_option("--idle-exit-ms", o.idle_exit_ms,
                 "Exit 0 after this long without work (0: never)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (o.worker.empty()) o.worker = o.agency + "-worker";
  if (o.topics.empty()) {
    std::cerr << "agency_client: --topics: at least one topic\n";
    return 2;
  }
  try {
    return AgencyClient(o).Run();
  } catch (const std::exception& e) {
    std::cerr << "agency_client: " << e.what() << '\n';
    return 1;
  }
}
