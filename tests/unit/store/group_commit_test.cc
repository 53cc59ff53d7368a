// GroupCommit (core/store/internal/group_commit.h): every item is written
// exactly once, gets its own result, and concurrent items share batches.
#include "core/store/internal/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace bpm::store::internal {
namespace {

// A batch function that records what it wrote and how many batches ran at
// once, sleeps like an fsync, and fails every item divisible by 3 (ABORTED
// naming the item).
struct Recorder {
  std::chrono::milliseconds fsync;
  std::mutex mu;
  std::multiset<int> written;
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};

  explicit Recorder(std::chrono::milliseconds f) : fsync(f) {}
  GroupCommit<int>::BatchFn Fn() {
    return [this](const std::vector<GroupCommit<int>::Entry*>& batch) {
      const int now = ++in_flight;
      if (now > max_in_flight) max_in_flight = now;
      std::this_thread::sleep_for(fsync);
      {
        std::lock_guard<std::mutex> lock(mu);
        for (auto* e : batch) written.insert(*e->item);
      }
      for (auto* e : batch) {
        e->result = *e->item % 3 == 0 ? absl::AbortedError(std::to_string(*e->item))
                                      : absl::OkStatus();
      }
      --in_flight;
    };
  }
};

TEST(GroupCommitTest, EachItemOnceWithItsOwnResultAndBatchesForm) {
  Recorder rec(std::chrono::milliseconds(2));
  auto& written = rec.written;
  auto& max_in_flight = rec.max_in_flight;
  GroupCommit<int> group(1, 64, rec.Fn());
  constexpr int kThreads = 16;
  constexpr int kPerThread = 20;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int item = t * kPerThread + i;
        Status s = group.Run(item);
        const bool want_ok = item % 3 != 0;
        if (s.ok() != want_ok || (!s.ok() && s.message() != std::to_string(item))) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  ASSERT_EQ(written.size(), static_cast<size_t>(kThreads * kPerThread));
  for (int i = 0; i < kThreads * kPerThread; ++i) EXPECT_EQ(written.count(i), 1u) << i;
  EXPECT_EQ(max_in_flight.load(), 1);  // one leader at a time
  auto [batches, items] = group.Counters();
  EXPECT_EQ(items, kThreads * kPerThread);
  EXPECT_LT(batches, items / 2) << "concurrent items should share batches";
  // Each caller sleeps at most once: woken when its item is written or when
  // it is handed the leadership, not after every batch (a few spurious
  // wake-ups are allowed by the standard, hence the slack).
  EXPECT_LE(group.Wakeups(), items + items / 20);
}

TEST(GroupCommitTest, SeveralLeadersRunBatchesInParallel) {
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  GroupCommit<int> group(4, 1, [&](const std::vector<GroupCommit<int>::Entry*>& batch) {
    const int now = ++in_flight;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (auto* e : batch) e->result = absl::OkStatus();
    --in_flight;
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) EXPECT_TRUE(group.Run(t).ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(max_in_flight.load(), 1);
  EXPECT_LE(max_in_flight.load(), 4);
  EXPECT_LE(group.Wakeups(), 8 * 5 + 2);
}

// A caller handed the leadership whose item another leader wrote first gives
// the leadership on: no slot leaks, so the group never stalls.
TEST(GroupCommitTest, LeadershipIsNeverLost) {
  std::atomic<long> calls{0};
  GroupCommit<int> group(3, 2, [&](const std::vector<GroupCommit<int>::Entry*>& batch) {
    ++calls;
    if (calls % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
    for (auto* e : batch) e->result = absl::OkStatus();
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 300; ++i) ASSERT_TRUE(group.Run(i).ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(group.Counters().second, 12 * 300);
}

// Submit() never blocks and mixes with Run(): every item once, each callback
// once with its own result, never more leaders than allowed, batches shared.
TEST(GroupCommitTest, SubmittedItemsAreWrittenWithoutTheCallerWaiting) {
  Recorder rec(std::chrono::milliseconds(1));
  auto& written = rec.written;
  auto& max_in_flight = rec.max_in_flight;
  std::atomic<int> callbacks{0};
  std::atomic<int> wrong{0};
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  {
    GroupCommit<int> group(1, 64, rec.Fn());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const int item = t * kPerThread + i;
          auto check = [&wrong, item](const Status& s) {
            const bool want_ok = item % 3 != 0;
            if (s.ok() != want_ok || (!s.ok() && s.message() != std::to_string(item))) ++wrong;
          };
          if (t % 2 == 0) {  // half the callers wait, half submit
            check(group.Run(item));
          } else {
            const auto before = std::chrono::steady_clock::now();
            group.Submit(item, [check, &callbacks](Status s) {
              check(s);
              ++callbacks;
            });
            // Submitting is queueing: far shorter than the 1 ms write.
            if (std::chrono::steady_clock::now() - before > std::chrono::milliseconds(50)) ++wrong;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    // The group's destructor waits for the queued items to be written.
  }
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(callbacks.load(), kThreads / 2 * kPerThread);
  ASSERT_EQ(written.size(), static_cast<size_t>(kThreads * kPerThread));
  for (int i = 0; i < kThreads * kPerThread; ++i) EXPECT_EQ(written.count(i), 1u) << i;
  EXPECT_EQ(max_in_flight.load(), 1);
}

// Callbacks run one at a time, in the order their items were written, both
// where the committer runs them itself (nothing else queued) and where the
// replier does (batches wrote on while slow callbacks ran).
TEST(GroupCommitTest, CallbacksRunOneAtATimeInWriteOrder) {
  std::mutex mu;
  std::vector<int> write_order;
  std::vector<int> callback_order;
  std::set<std::thread::id> callback_threads;
  std::atomic<int> running{0};
  std::atomic<int> overlapped{0};
  auto callback = [&](int item) {
    return [&, item](Status) {
      if (++running > 1) ++overlapped;
      {
        std::lock_guard<std::mutex> lock(mu);
        callback_order.push_back(item);
        callback_threads.insert(std::this_thread::get_id());
      }
      if (item % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      --running;
    };
  };
  {
    GroupCommit<int> group(1, 4, [&](const std::vector<GroupCommit<int>::Entry*>& batch) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      std::lock_guard<std::mutex> lock(mu);
      for (auto* e : batch) write_order.push_back(*e->item);
    });
    // A lone item: nothing else queued, so the committer answers it.
    std::promise<void> first;
    group.Submit(-1, [&](Status s) {
      callback(-1)(s);
      first.set_value();
    });
    first.get_future().wait();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 100; ++i) group.Submit(t * 100 + i, callback(t * 100 + i));
      });
    }
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(overlapped.load(), 0);
  ASSERT_EQ(callback_order.size(), 401u);
  EXPECT_EQ(callback_order, write_order);
  EXPECT_EQ(callback_threads.size(), 2u) << "the committer and the replier both answered";
}

}  // namespace
}  // namespace bpm::store::internal
