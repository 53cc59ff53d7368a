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
// Submit() queues an item without waiting: its callback gets the result. A
// committer thread ("bpm-commit", started with the first Submit) leads when
// async items wait and a leader slot is free, so a caller of Submit never
// blocks on the write; callers of Run() may write async items too. Callbacks
// run on a second thread ("bpm-reply"), in the order their items were
// written: a leader hands a written batch's callbacks over and starts the next
// batch at once, so the time callbacks take (bpmd serializes and sends a
// response in them) does not stretch the serial write path. When nothing else
// is queued, though, the committer runs its batch's callbacks itself: there
// is no next batch to start, and waking the replier would cost more.
//
// Ordering: items are taken in arrival order; with max_leaders > 1 batches may
// commit in any order (callers that need an order use optimistic checks).
//
// Thread safety: Run() and Submit() may be called from any number of threads.
// The batch function runs on the leader's thread, never on two threads for the
// same item. Callbacks run without the lock held, one at a time; one that
// blocks delays the callbacks after it, not the writes.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "core/common/status.h"
#include "core/common/util.h"

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
    // Submit(): the item (owned) and where its result goes; empty for Run().
    std::unique_ptr<Item> owned;
    std::function<void(Status)> on_done;
  };
  // Writes every entry of the batch and sets each entry's result.
  using BatchFn = std::function<void(const std::vector<Entry*>& batch)>;

  GroupCommit(int max_leaders, size_t max_batch, BatchFn fn)
      : max_leaders_(max_leaders < 1 ? 1 : max_leaders),
        max_batch_(max_batch < 1 ? 1 : max_batch),
        fn_(std::move(fn)) {}
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;
  ~GroupCommit() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    committer_cv_.notify_all();
    if (committer_.joinable()) committer_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      replies_stop_ = true;
    }
    reply_cv_.notify_all();
    if (replier_.joinable()) replier_.join();
  }

  // Queues item; on_done(result) runs once it is written (alone or with
  // others). Never blocks on the write.
  void Submit(Item item, std::function<void(Status)> on_done) {
    auto* e = new Entry;
    e->owned = std::make_unique<Item>(std::move(item));
    e->item = e->owned.get();
    e->on_done = std::move(on_done);
    std::lock_guard<std::mutex> lock(mu_);
    if (!committer_.joinable()) {
      committer_ = std::thread([this] { Committer(); });
      replier_ = std::thread([this] { Replier(); });
    }
    ++async_pending_;
    queue_.push_back(e);
    if (leaders_ < max_leaders_) committer_cv_.notify_one();
  }

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
      WriteBatch(lock, &self);
      if (self.done) {
        PassLead();
        return std::move(self.result);
      }
    }
  }

  // Waits until every Submit()ted item is written and its callback has
  // returned: after it, nothing of this group touches what the callbacks
  // reference (bpmd calls it before destroying its gRPC server).
  void Quiesce() {
    std::unique_lock<std::mutex> lock(mu_);
    quiet_cv_.wait(lock, [this] { return async_pending_ == 0; });
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
  // With mu_ held (in `lock`) by a leader: writes the next batch from the
  // queue, marks its entries done and wakes their waiters; async entries go
  // to the replier thread, which runs their callbacks and frees them.
  // `self`: the leader's own entry (not notified), or null for the committer.
  void WriteBatch(std::unique_lock<std::mutex>& lock, Entry* self) {
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
    std::vector<Entry*> async;
    for (Entry* e : batch) {
      e->done = true;
      if (e->on_done) {
        async.push_back(e);
      } else if (e != self) {
        // Notified under the lock: once the waiter sees done it returns and
        // its Entry (with the condition variable) is gone.
        e->cv.notify_one();
      }
    }
    if (async.empty()) return;
    if (self == nullptr && queue_.empty() && replies_.empty() && !replying_) {
      // Nothing waits to be written and no callback runs: the committer runs
      // these itself rather than wake the replier for them, a context switch
      // each way per batch, which at a moderate load (small batches) cost
      // more than the callbacks. Items that arrive meanwhile wait for them.
      RunCallbacks(lock, async);
      return;
    }
    bool idle = replies_.empty();
    replies_.insert(replies_.end(), async.begin(), async.end());
    if (idle && !replying_) reply_cv_.notify_one();
  }

  // With mu_ held (in `lock`), no callback running: runs the callbacks of
  // `ready` in order without the lock, frees their entries, and wakes the
  // replier if callbacks were queued meanwhile.
  void RunCallbacks(std::unique_lock<std::mutex>& lock, const std::vector<Entry*>& ready) {
    replying_ = true;
    lock.unlock();
    for (Entry* e : ready) {
      e->on_done(std::move(e->result));
      delete e;
    }
    lock.lock();
    replying_ = false;
    async_pending_ -= static_cast<long>(ready.size());
    if (async_pending_ == 0) quiet_cv_.notify_all();
    if (!replies_.empty()) reply_cv_.notify_one();
  }

  // Runs the callbacks of written async items, oldest first, until stopped
  // with none left.
  void Replier() {
    SetThreadName("bpm-reply");
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      reply_cv_.wait(lock, [this] { return !replying_ && (replies_stop_ || !replies_.empty()); });
      if (replies_.empty()) return;  // stopped, nothing left
      std::vector<Entry*> ready(replies_.begin(), replies_.end());
      replies_.clear();
      RunCallbacks(lock, ready);
    }
  }

  // Leads whenever async items wait for a free leader slot.
  void Committer() {
    SetThreadName("bpm-commit");
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      committer_cv_.wait(lock, [this] {
        return (stop_ && queue_.empty()) || (leaders_ < max_leaders_ && AsyncQueued());
      });
      if (leaders_ >= max_leaders_ || !AsyncQueued()) return;  // stopped, nothing left
      ++leaders_;
      while (AsyncQueued()) WriteBatch(lock, nullptr);
      PassLead();
    }
  }

  // Whether a Submit() item is queued (Run() callers lead themselves).
  bool AsyncQueued() const {
    for (const Entry* e : queue_) {
      if (e->on_done) return true;
    }
    return false;
  }

  // Called with mu_ held by a leader that stops leading: the oldest queued
  // Run() caller that does not lead yet takes over its slot; otherwise the
  // slot is freed and the committer takes it if async items wait.
  void PassLead() {
    for (Entry* e : queue_) {
      if (!e->lead && !e->on_done) {
        e->lead = true;
        e->cv.notify_one();
        return;
      }
    }
    --leaders_;
    if (!queue_.empty() || stop_) committer_cv_.notify_one();
  }

  const int max_leaders_;
  const size_t max_batch_;
  const BatchFn fn_;
  mutable std::mutex mu_;
  std::deque<Entry*> queue_;
  std::condition_variable committer_cv_;
  std::condition_variable quiet_cv_;
  std::condition_variable reply_cv_;
  std::deque<Entry*> replies_;  // written async items, callbacks not yet run
  bool replying_ = false;       // callbacks are running (on either thread)
  long async_pending_ = 0;  // submitted items whose callback has not returned
  std::thread committer_;  // started by the first Submit
  std::thread replier_;    // started with the committer
  bool stop_ = false;
  bool replies_stop_ = false;  // set after the committer has stopped
  int leaders_ = 0;
  long batches_ = 0;
  long items_ = 0;
  long wakeups_ = 0;
};

}  // namespace bpm::store::internal
