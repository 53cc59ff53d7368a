// Internal to core/store: leader/follower group commit.
//
// Concurrent callers of Run() queue their item; a caller that finds fewer than
// max_leaders batches in flight becomes a leader, takes up to max_batch queued
// items (its own or others') and hands them to the batch function, which
// writes them in one transaction and sets each item's result. Followers sleep
// until their item is done. While one batch waits for its fsync, the next
// batch fills up, so the commit rate scales with concurrency instead of being
// capped at one fsync per command.
//
// Ordering: items are taken in arrival order; with max_leaders > 1 batches may
// commit in any order (callers that need an order use optimistic checks).
//
// Thread safety: Run() may be called from any number of threads. The batch
// function runs on the leader's thread, never on two threads for the same item.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "core/common/status.h"

namespace bpm::store::internal {

template <typename Item>
class GroupCommit {
 public:
  struct Entry {
    const Item* item = nullptr;
    Status result;
    bool done = false;
  };
  // Writes every entry of the batch and sets each entry's result.
  using BatchFn = std::function<void(const std::vector<Entry*>& batch)>;

  GroupCommit(int max_leaders, size_t max_batch, BatchFn fn)
      : max_leaders_(max_leaders < 1 ? 1 : max_leaders),
        max_batch_(max_batch < 1 ? 1 : max_batch),
        fn_(std::move(fn)) {}
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Blocks until item is written (alone or with others); its result.
  Status Run(const Item& item) {
    Entry self;
    self.item = &item;
    std::unique_lock<std::mutex> lock(mu_);
    queue_.push_back(&self);
    for (;;) {
      if (self.done) return std::move(self.result);
      if (leaders_ < max_leaders_ && !queue_.empty()) {
        ++leaders_;
        std::vector<Entry*> batch;
        while (!queue_.empty() && batch.size() < max_batch_) {
          batch.push_back(queue_.front());
          queue_.pop_front();
        }
        lock.unlock();
        fn_(batch);
        lock.lock();
        for (Entry* e : batch) e->done = true;
        --leaders_;
        ++batches_;
        items_ += batch.size();
        cv_.notify_all();
        continue;
      }
      cv_.wait(lock);
    }
  }

  // Batches run and items written so far (for the benchmark's figures).
  std::pair<long, long> Counters() const {
    std::lock_guard<std::mutex> lock(mu_);
    return {batches_, items_};
  }

 private:
  const int max_leaders_;
  const size_t max_batch_;
  const BatchFn fn_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Entry*> queue_;
  int leaders_ = 0;
  long batches_ = 0;
  long items_ = 0;
};

}  // namespace bpm::store::internal
