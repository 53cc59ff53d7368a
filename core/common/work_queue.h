// bpm::WorkQueue — a fixed set of named threads running posted tasks in the
// order they were posted.
//
// bpmd runs the commands of a store whose reads are network round trips
// (MariaDB) here when they arrive on gRPC's callback API: its threads must
// never block, and a command's reads do (core/server/services.h).
//
// Thread safety: Post may be called from any thread, also from a task. The
// destructor lets the threads run every task posted, including those that
// tasks post meanwhile, then joins them.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bpm {

class WorkQueue {
 public:
  // threads >= 1; name: the threads' name (at most 15 characters shown).
  WorkQueue(int threads, std::string name);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Post(std::function<void()> task);

 private:
  void Loop();

  const std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stop_ = false;                        // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace bpm
