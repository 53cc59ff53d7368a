#include "core/common/work_queue.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace bpm {
namespace {

TEST(WorkQueueTest, OneThreadRunsTasksInTheOrderPosted) {
  std::vector<int> seen;  // only the queue's one thread writes it
  {
    WorkQueue q(1, "test-queue");
    for (int i = 0; i < 100; ++i) q.Post([&seen, i] { seen.push_back(i); });
  }  // the destructor runs what was posted before joining
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
}

TEST(WorkQueueTest, TasksRunOnAllThreadsAtOnce) {
  // Four tasks that each wait until all four have started: they finish only
  // if four threads run them at the same time.
  std::mutex mu;
  std::condition_variable cv;
  int started = 0;
  std::atomic<int> finished{0};
  {
    WorkQueue q(4, "test-queue");
    for (int i = 0; i < 4; ++i) {
      q.Post([&] {
        std::unique_lock<std::mutex> lock(mu);
        ++started;
        cv.notify_all();
        if (cv.wait_for(lock, std::chrono::seconds(30), [&] { return started == 4; })) ++finished;
      });
    }
  }
  EXPECT_EQ(finished.load(), 4);
}

TEST(WorkQueueTest, ATaskMayPostMore) {
  std::atomic<int> ran{0};
  {
    WorkQueue q(2, "test-queue");
    q.Post([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // into the destructor
      ++ran;
      q.Post([&] { ++ran; });
    });
  }  // still runs the task posted while it drains
  EXPECT_EQ(ran.load(), 2);
}

}  // namespace
}  // namespace bpm
