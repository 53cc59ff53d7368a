#include "core/server/workflow_dirs.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/common/util.h"

namespace bpm::server {

WorkflowDirs::WorkflowDirs(engine::Engine& engine, std::vector<std::string> dirs,
                           std::ostream& log)
    : engine_(engine), dirs_(std::move(dirs)), log_(log) {}

WorkflowDirs::~WorkflowDirs() { Stop(); }

std::vector<std::pair<std::string, std::string>> WorkflowDirs::Files(Status* status) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& dir : dirs_) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      *status = absl::NotFoundError("workflow directory " + dir + " does not exist");
      return out;
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      auto ext = entry.path().extension();
      if ((ext == ".yaml" || ext == ".yml") && entry.is_regular_file(ec)) {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      if (!in) {
        *status = absl::UnavailableError("cannot read " + file.string());
        return out;
      }
      out.emplace_back(file.string(), text.str());
    }
  }
  return out;
}

Status WorkflowDirs::DeployAll() {
  Status status;
  auto files = Files(&status);
  BPM_RETURN_IF_ERROR(status);
  // A definition that extends a template needs the template deployed first,
  // whatever the files' order: deploy in rounds while some file succeeds.
  while (!files.empty()) {
    std::vector<std::pair<std::string, std::string>> failed;
    Status first_error;
    for (auto& [path, text] : files) {
      auto deployed = engine_.Deploy(text, path);
      if (!deployed.ok()) {
        if (first_error.ok()) first_error = deployed.status();
        failed.emplace_back(std::move(path), std::move(text));
        continue;
      }
      seen_[path] = Sha256Hex(text);
      log_ << "bpmd: workflow " << deployed->definition().key() << " version "
           << deployed->definition().version()
           << (deployed->created() ? " deployed" : " unchanged") << " from " << path
           << std::endl;
    }
    if (failed.size() == files.size()) return first_error;
    files = std::move(failed);
  }
  return absl::OkStatus();
}

int WorkflowDirs::Rescan() {
  Status status;
  auto files = Files(&status);
  if (!status.ok()) {
    // A directory that went away (or an unreadable file mid-edit) is retried
    // on the next scan; what is deployed stays.
    log_ << "bpmd: watch: " << status.message() << std::endl;
  }
  int created = 0;
  auto deploy = [&](const std::string& path, const std::string& text, bool log_refusal) {
    auto deployed = engine_.Deploy(text, path, "watch", /*inactive=*/false, /*governed=*/true);
    if (!deployed.ok()) {
      if (log_refusal) {
        log_ << "bpmd: watch: " << path << " not deployed: "
             << absl::StrReplaceAll(deployed.status().message(), {{"\n", "\n  "}}) << std::endl;
      }
      return false;
    }
    if (!deployed->created()) return true;  // same content as a stored version
    ++created;
    const auto& d = deployed->definition();
    log_ << "bpmd: watch: workflow " << d.key() << " version " << d.version()
         << " deployed from " << path;
    if (!deployed->approval_instance_id().empty()) {
      log_ << "; awaiting approval in change request " << deployed->approval_instance_id();
    } else {
      log_ << "; current: " << d.version();
      if (deployed->previous_current() > 0) log_ << " (was " << deployed->previous_current() << ")";
    }
    log_ << std::endl;
    for (const auto& derived : deployed->derived()) {
      log_ << "bpmd: watch:   " << derived.key()
           << (derived.version() > 0 ? absl::StrCat(" rebuilt on it: version ", derived.version())
                                     : absl::StrCat(" stays on version ", derived.previous_version(),
                                                    ": ", derived.error()))
           << std::endl;
    }
    return true;
  };
  for (const auto& [path, text] : files) {
    std::string hash = Sha256Hex(text);
    auto it = seen_.find(path);
    if (it != seen_.end() && it->second == hash) continue;
    seen_[path] = hash;
    waiting_.erase(path);
    if (!deploy(path, text, true)) waiting_[path] = text;
  }
  // A refused file may have waited for the template it extends: once
  // something new is deployed, each gets another try (quietly: its refusal
  // was logged).
  while (created > 0 && !waiting_.empty()) {
    const int before = created;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      it = deploy(it->first, it->second, false) ? waiting_.erase(it) : std::next(it);
    }
    if (created == before) break;
  }
  return created;
}

void WorkflowDirs::Watch(std::chrono::milliseconds interval) {
  thread_ = std::thread([this, interval]() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, interval, [this] { return stop_; })) {
      lock.unlock();
      Rescan();
      lock.lock();
    }
  });
}

void WorkflowDirs::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace bpm::server
