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
// Wake-ups: each waiting caller sleeps on its own condition variable and is
// woken once, either because its item is done or because it is handed the
// leadership (the oldest queued caller is, when a leader finishes and items
// are waiting). A shared condition with notify_all woke every waiter after
// every batch; on a virtual machine a context switch costs tens of
// microseconds, and those wake-ups were the largest single cost of a command.
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
    // Guarded by the GroupCommit's mutex.
    bool done = false;
    bool lead = false;  // handed the leadership while queued
    std::condition_variable cv;
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
    if (leaders_ < max_leaders_) {
      ++leaders_;
      self.lead = true;
    }
    for (;;) {
      while (!self.done && !self.lead) {
        self.cv.wait(lock);
        ++wakeups_;
      }
      if (self.done) {
        // Handed the leadership, but another leader wrote this item first.
        if (self.lead) PassLead();
        return std::move(self.result);
      }
      // This caller leads (leaders_ already counts it) until its own item is
      // written: the queue is served from the front, so a leader may first
      // write batches of items queued before its own.
      std::vector<Entry*> batch;
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
      lock.unlock();
      fn_(batch);
      lock.lock();
      ++batches_;
      items_ += batch.size();
      for (Entry* e : batch) {
        e->done = true;
        // Notified under the lock: once the waiter sees done it returns and
        // its Entry (with the condition variable) is gone.
        if (e != &self) e->cv.notify_one();
      }
      if (self.done) {
        PassLead();
        return std::move(self.result);
      }
    }
  }

  // Batches run and items written so far (for the benchmark's figures).
  std::pair<long, long> Counters() const {
    std::lock_guard<std::mutex> lock(mu_);
    return {batches_, items_};
  }

  // Times a waiting caller was woken (for tests: about one per follower).
  long Wakeups() const {
    std::lock_guard<std::mutex> lock(mu_);
    return wakeups_;
  }

 private:
  // Called with mu_ held by a leader that stops leading: the oldest queued
  // caller that does not lead yet takes over its slot, or the slot is freed.
  void PassLead() {
    for (Entry* e : queue_) {
      if (!e->lead) {
        e->lead = true;
        e->cv.notify_one();
        return;
      }
    }
    --leaders_;
  }

  const int max_leaders_;
  const size_t max_batch_;
  const BatchFn fn_;
  mutable std::mutex mu_;
  std::deque<Entry*> queue_;
  int leaders_ = 0;
  long batches_ = 0;
  long items_ = 0;
  long wakeups_ = 0;
};

}  // namespace bpm::store::internal
