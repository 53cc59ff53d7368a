// Workflow directories of bpmd (--workflows): every *.yaml / *.yml file is
// deployed at start, all or nothing; with --watch-workflows, the directories
// are scanned again every interval and each file whose content changed is
// deployed (a new version, which "current" then points at, exactly as
// `bpmctl deploy` does). A file that does not validate is reported on the log
// with file:line:col and skipped until its content changes again; the running
// server and the stored versions are untouched. Removed files remove nothing
// (versions are never deleted).
//
// Thread safety: DeployAll and Rescan are called from one thread at a time;
// Watch starts one thread that calls Rescan until Stop (or destruction).
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "core/common/status.h"
#include "core/engine/engine.h"

namespace bpm::server {

class WorkflowDirs {
 public:
  // Borrows engine and log, which must outlive this object.
  WorkflowDirs(engine::Engine& engine, std::vector<std::string> dirs, std::ostream& log);
  ~WorkflowDirs();
  WorkflowDirs(const WorkflowDirs&) = delete;
  WorkflowDirs& operator=(const WorkflowDirs&) = delete;

  // Deploys every file in name order. NOT_FOUND for a missing directory,
  // UNAVAILABLE for an unreadable file, or the first file's deploy error.
  Status DeployAll();

  // Deploys the files whose content changed since they were last seen;
  // failures are logged, not returned. Returns how many new versions it made.
  int Rescan();

  // Rescans every interval on a thread of its own.
  void Watch(std::chrono::milliseconds interval);
  void Stop();

 private:
  // (path, content) of every workflow file, by directory then name.
  std::vector<std::pair<std::string, std::string>> Files(Status* status) const;

  engine::Engine& engine_;
  const std::vector<std::string> dirs_;
  std::ostream& log_;
  std::map<std::string, std::string> seen_;  // path -> sha256 of the content last deployed or refused
  std::map<std::string, std::string> waiting_;  // path -> refused content, retried after a deploy
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace bpm::server
