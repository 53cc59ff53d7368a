// The instance cache on its own: what it keeps, how commits change it, and
// everything it must drop rather than guess.
#include "core/store/internal/instance_cache.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace bpm::store::internal {
namespace {

InstanceRow Instance(const std::string& id, int64_t version) {
  InstanceRow r;
  r.id = id;
  r.def_key = "target-filing";
  r.def_version = 1;
  r.subject_ref = "P-" + id;
  r.org = "906017";
  r.status = "running";
  r.state = "draft";
  r.variables_json = R"({"a":1})";
  r.version = version;
  r.event_seq = version;
  r.last_event_hash = "h" + std::to_string(version);
  r.row_id = 7;
  return r;
}

TaskRow Task(const std::string& id, const std::string& instance, const std::string& status) {
  TaskRow t;
  t.id = id;
  t.instance_id = instance;
  t.state = "draft";
  t.name = "fill";
  t.status = status;
  t.assignee_role = "department_filer";
  return t;
}

TimerRow Timer(const std::string& id, const std::string& instance, const std::string& task,
               int64_t due) {
  TimerRow t;
  t.id = id;
  t.instance_id = instance;
  t.task_id = task;
  t.name = "remind";
  t.due_ms = due;
  return t;
}

InstanceState State(const std::string& id, int64_t version, std::vector<TaskRow> tasks = {},
                    std::vector<TimerRow> timers = {}) {
  InstanceState s;
  s.instance = Instance(id, version);
  s.active_tasks = std::move(tasks);
  s.timers = std::move(timers);
  return s;
}

// An update of instance id from version `from` to from + 1.
Commit Update(const std::string& id, int64_t from) {
  Commit c;
  c.update_instance = Instance(id, from + 1);
  c.update_instance->state = "review";
  c.update_instance->variables_json = R"({"a":2})";
  c.update_instance->updated_ms = 5000;
  c.expected_version = from;
  return c;
}

// What the store would report for c: the hash, and row ids from 100.
Written Wrote(const Commit& c, const std::string& hash) {
  Written w;
  w.last_event_hash = hash;
  w.instance_row_id = 99;
  for (size_t i = 0; i < c.insert_tasks.size(); ++i) {
    w.task_row_ids.push_back(100 + static_cast<int64_t>(i));
  }
  return w;
}

TEST(InstanceCacheTest, KeepsWhatWasReadAndFindsItByTask) {
  InstanceCache cache(8);
  cache.Put(cache.Begin(0), State("i1", 3, {Task("t1", "i1", "open")}));
  auto hit = cache.Find("i1");
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->instance.version, 3);
  ASSERT_EQ(hit->active_tasks.size(), 1u);
  EXPECT_TRUE(hit->task.id.empty());

  auto by_task = cache.FindByTask("t1");
  ASSERT_TRUE(by_task.has_value());
  EXPECT_EQ(by_task->instance.id, "i1");
  EXPECT_EQ(by_task->task.id, "t1");
  EXPECT_FALSE(cache.FindByTask("t2").has_value());
  EXPECT_FALSE(cache.Find("i2").has_value());
}

TEST(InstanceCacheTest, AReadOverlappingACommitIsNotKept) {
  InstanceCache cache(8);
  const uint64_t epoch = cache.Begin(0);
  // The commit lands between the read and its Put: what was read may be
  // older than it.
  Commit moved = Update("i1", 3);
  cache.Applied(moved, Wrote(moved, "x"), 0);
  cache.Put(epoch, State("i1", 3));
  EXPECT_FALSE(cache.Find("i1").has_value());

  const uint64_t erased = cache.Begin(0);
  cache.Erase("other");
  cache.Put(erased, State("i1", 3));
  EXPECT_FALSE(cache.Find("i1").has_value());
}

TEST(InstanceCacheTest, UntrackedWritesDropEverything) {
  InstanceCache cache(8);
  cache.Put(cache.Begin(0), State("i1", 3));
  cache.Begin(0);
  EXPECT_TRUE(cache.Find("i1").has_value());
  cache.Begin(1);  // someone wrote behind the cache's back
  EXPECT_FALSE(cache.Find("i1").has_value());
  EXPECT_EQ(cache.size(), 0u);
}

TEST(InstanceCacheTest, ACommitAfterUntrackedWritesStartsOver) {
  InstanceCache cache(8);
  cache.Put(cache.Begin(0), State("i1", 3));
  Commit c;
  c.insert_instance = Instance("i2", 1);
  cache.Applied(c, Wrote(c, "h"), 2);  // writes the cache never saw came first
  EXPECT_FALSE(cache.Find("i1").has_value());
  EXPECT_TRUE(cache.Find("i2").has_value());  // the commit's own state is current
  cache.Begin(2);
  EXPECT_TRUE(cache.Find("i2").has_value());
}

TEST(InstanceCacheTest, ACommitIsReplayedOnItsInstance) {
  InstanceCache cache(8);
  cache.Put(cache.Begin(0),
            State("i1", 3, {Task("t1", "i1", "open"), Task("t2", "i1", "claimed")},
                  {Timer("m1", "i1", "t1", 100), Timer("m2", "i1", "t2", 200),
                   Timer("m3", "i1", "t2", 300)}));
  Commit c = Update("i1", 3);
  TaskRow done = Task("t1", "i1", "completed");
  done.completed_by = "u1";
  done.action = "submit";
  c.update_tasks.push_back({done, "open"});
  TaskRow delegated = Task("t2", "i1", "delegated");
  delegated.delegated_to = "u9";
  c.update_tasks.push_back({delegated, "claimed"});
  c.insert_tasks.push_back(Task("t3", "i1", "open"));
  c.insert_tasks.push_back(Task("t4", "i1", "cancelled"));  // never active
  c.fire_timers.push_back("m2");
  c.cancel_timers_of_tasks.push_back("t1");
  c.insert_timers.push_back(Timer("m0", "i1", "t3", 150));
  cache.Applied(c, Wrote(c, "new-hash"), 0);

  auto s = cache.Find("i1");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->instance.version, 4);
  EXPECT_EQ(s->instance.state, "review");
  EXPECT_EQ(s->instance.variables_json, R"({"a":2})");
  EXPECT_EQ(s->instance.last_event_hash, "new-hash");
  EXPECT_EQ(s->instance.row_id, 7);  // not a column the update writes
  EXPECT_EQ(s->instance.subject_ref, "P-i1");
  ASSERT_EQ(s->active_tasks.size(), 2u);
  EXPECT_EQ(s->active_tasks[0].id, "t2");
  EXPECT_EQ(s->active_tasks[0].status, "delegated");
  EXPECT_EQ(s->active_tasks[0].delegated_to, "u9");
  EXPECT_EQ(s->active_tasks[1].id, "t3");
  EXPECT_EQ(s->active_tasks[1].row_id, 100);  // as the store assigned it
  EXPECT_FALSE(cache.FindByTask("t1").has_value());
  EXPECT_TRUE(cache.FindByTask("t3").has_value());
  EXPECT_FALSE(cache.FindByTask("t4").has_value());
  // By due time, then id: m1 (cancelled), m0 (new), m2 (fired), m3.
  ASSERT_EQ(s->timers.size(), 4u);
  EXPECT_EQ(s->timers[0].id, "m1");
  EXPECT_EQ(s->timers[0].fired_ms, -1);
  EXPECT_EQ(s->timers[1].id, "m0");
  EXPECT_EQ(s->timers[1].fired_ms, 0);
  EXPECT_EQ(s->timers[2].id, "m2");
  EXPECT_EQ(s->timers[2].fired_ms, 5000);
  EXPECT_EQ(s->timers[3].id, "m3");
  EXPECT_EQ(s->timers[3].fired_ms, 0);
}

TEST(InstanceCacheTest, ANewInstanceIsKeptFromItsCommit) {
  InstanceCache cache(8);
  Commit c;
  c.insert_instance = Instance("i1", 1);
  c.insert_tasks.push_back(Task("t1", "i1", "open"));
  c.insert_timers.push_back(Timer("m2", "i1", "t1", 200));
  c.insert_timers.push_back(Timer("m1", "i1", "t1", 200));
  cache.Applied(c, Wrote(c, "first"), 0);
  auto s = cache.FindByTask("t1");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->instance.last_event_hash, "first");
  EXPECT_EQ(s->instance.row_id, 99);
  EXPECT_EQ(s->task.row_id, 100);
  ASSERT_EQ(s->timers.size(), 2u);
  EXPECT_EQ(s->timers[0].id, "m1");

  // With an external task it is not kept: agencies change those.
  Commit x;
  x.insert_instance = Instance("i2", 1);
  ExternalTaskRow ext;
  ext.id = "x1";
  ext.instance_id = "i2";
  x.insert_external_tasks.push_back(ext);
  cache.Applied(x, Wrote(x, "h"), 0);
  EXPECT_FALSE(cache.Find("i2").has_value());
  InstanceState read = State("i2", 1);
  read.external_tasks.push_back(ext);
  cache.Put(cache.Begin(0), read);
  EXPECT_FALSE(cache.Find("i2").has_value());
}

// A commit the cache cannot follow exactly, and what it must drop: the
// entry of its instance, or (rows of other instances) every entry.
struct Unfollowable {
  const char* what;
  Commit commit;
  std::optional<InstanceState> other;  // a second cached instance
  bool drops_all = false;
};

std::vector<Unfollowable> UnfollowableCommits() {
  std::vector<Unfollowable> out;
  {
    Commit c = Update("i1", 3);
    c.update_tasks.push_back({Task("t9", "i1", "open"), "completed"});
    out.push_back({"a task the entry does not have active", c, std::nullopt});
  }
  {
    Commit c = Update("i1", 3);
    c.update_tasks.push_back({Task("t1", "i1", "completed"), "claimed"});
    out.push_back({"a task status other than the one expected", c, std::nullopt});
  }
  {
    Commit c = Update("i1", 3);
    c.fire_timers.push_back("m9");
    out.push_back({"a timer that already fired, or is unknown", c, std::nullopt});
  }
  {
    Commit c = Update("i1", 3);
    Commit::ExternalTaskUpdate u;
    u.row.id = "x1";
    u.row.instance_id = "i1";
    c.update_external_tasks.push_back(u);
    out.push_back({"an external task of the instance", c, std::nullopt});
  }
  {
    Commit c = Update("i1", 3);
    c.cancel_timers_of_tasks.push_back("t2");
    out.push_back({"rows of another instance", c, State("i2", 1, {Task("t2", "i2", "open")}),
                   true});
  }
  {
    Commit c = Update("i1", 3);
    c.fire_timers.push_back("m2");
    out.push_back({"a timer of another cached instance fired", c,
                   State("i2", 1, {}, {Timer("m2", "i2", "", 50)}), true});
  }
  {
    Commit c;
    c.insert_tasks.push_back(Task("t5", "i1", "open"));
    out.push_back({"a commit without an instance row", c, std::nullopt, true});
  }
  return out;
}

TEST(InstanceCacheTest, WhatCannotBeReplayedIsDropped) {
  {
    InstanceCache cache(8);  // another version than the entry's
    cache.Put(cache.Begin(0), State("i1", 3, {Task("t1", "i1", "open")}));
    ASSERT_TRUE(cache.Find("i1").has_value());
    Commit later = Update("i1", 5);
    cache.Applied(later, Wrote(later, "h"), 0);
    EXPECT_FALSE(cache.Find("i1").has_value());
    EXPECT_FALSE(cache.FindByTask("t1").has_value());
  }
  for (const Unfollowable& u : UnfollowableCommits()) {
    SCOPED_TRACE(u.what);
    InstanceCache cache(8);
    cache.Put(cache.Begin(0), State("i1", 3, {Task("t1", "i1", "open")},
                                    {Timer("m1", "i1", "t1", 100)}));
    if (u.other) cache.Put(cache.Begin(0), *u.other);
    ASSERT_EQ(cache.size(), u.other ? 2u : 1u);
    cache.Applied(u.commit, Wrote(u.commit, u.commit.update_instance ? "h" : ""), 0);
    EXPECT_FALSE(cache.Find("i1").has_value());
    EXPECT_FALSE(cache.FindByTask("t1").has_value());
    EXPECT_EQ(cache.size(), u.drops_all || !u.other ? 0u : 1u);
  }
}

TEST(InstanceCacheTest, TheLeastRecentlyUsedGoFirst) {
  InstanceCache cache(2);
  cache.Put(cache.Begin(0), State("i1", 1, {Task("t1", "i1", "open")}));
  cache.Put(cache.Begin(0), State("i2", 1));
  ASSERT_TRUE(cache.Find("i1").has_value());  // i2 is now the oldest
  cache.Put(cache.Begin(0), State("i3", 1));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.Find("i1").has_value());
  EXPECT_FALSE(cache.Find("i2").has_value());
  EXPECT_TRUE(cache.Find("i3").has_value());
  cache.Put(cache.Begin(0), State("i4", 1));
  EXPECT_FALSE(cache.Find("i1").has_value());
  EXPECT_FALSE(cache.FindByTask("t1").has_value());  // its tasks went with it
}

TEST(InstanceCacheTest, CapacityZeroKeepsNothing) {
  InstanceCache cache(0);
  cache.Put(cache.Begin(0), State("i1", 1));
  Commit c;
  c.insert_instance = Instance("i2", 1);
  cache.Applied(c, Wrote(c, "h"), 0);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.Find("i1").has_value());
}

}  // namespace
}  // namespace bpm::store::internal
