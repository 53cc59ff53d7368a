// One conformance suite for every Store backend. ctest runs it twice: on
// SQLite (label unit) and on the private MariaDB (label mysql), selected by
// BPM_TEST_BACKEND.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/store/migrations.h"
#include "core/store/store.h"
#include "tests/support/test_env.h"

namespace bpm::store {
namespace {

using ::testing::HasSubstr;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::FreshStoreUrl(dir_.path(), "store");
    auto s = Store::Open(url_, 4);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }

  InstanceRow NewInstance(const std::string& id, const std::string& subject = "P1") {
    InstanceRow r;
    r.id = id;
    r.def_key = "target-filing";
    r.def_version = 1;
    r.subject_ref = subject;
    r.org = "906017";
    r.status = "running";
    r.state = "draft";
    r.variables_json = R"({"名称":"乡村振兴"})";
    r.version = 1;
    r.event_seq = 1;
    r.started_by = "u1";
    r.created_ms = 1000;
    r.updated_ms = 1000;
    return r;
  }

  TaskRow NewTask(const std::string& id, const std::string& instance, const std::string& role,
                  const std::string& org, const std::string& user = "") {
    TaskRow t;
    t.id = id;
    t.instance_id = instance;
    t.state = "draft";
    t.name = "fill";
    t.title = "填报";
    t.status = "open";
    t.assignee_user = user;
    t.assignee_role = role;
    t.assignee_org = org;
    t.actions_json = R"(["submit"])";
    t.data_json = "{}";
    t.created_ms = 1000;
    return t;
  }

  EventRow NewEvent(const std::string& instance, int64_t seq) {
    EventRow e;
    e.instance_id = instance;
    e.seq = seq;
    e.at_ms = 1000 + seq;
    e.actor = "u1";
    e.kind = "acted";
    e.comment = "意见 " + std::to_string(seq);
    return e;
  }

  testing::TempDir dir_;
  std::string url_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, MigrationsApplied) {
  auto v = store_->SchemaVersion();
  ASSERT_TRUE(v.ok()) << v.status();
  const int64_t latest = Migrations(store_->dialect()).back().number;
  EXPECT_GE(latest, 4);
  EXPECT_EQ(*v, latest);
  // Reopening applies nothing twice.
  auto again = Store::Open(url_, 1);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*(*again)->SchemaVersion(), latest);
}

TEST_F(StoreTest, DefinitionsVersionByContent) {
  DefinitionRow d{"k", 0, std::string(64, 'a'), "标题", "k.yaml", "key: k\n", 5, "", 0};
  bool created = false;
  auto v1 = store_->PutDefinition(d, std::nullopt, &created);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_TRUE(created);
  EXPECT_EQ(v1->version, 1);
  auto same = store_->PutDefinition(d, std::nullopt, &created);
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(same->version, 1);
  d.content_hash = std::string(64, 'b');
  d.yaml = "key: k\n# v2\n";
  d.base_key = "province-template";  // built on a template's version 3
  d.base_version = 3;
  auto v2 = store_->PutDefinition(d, std::nullopt, &created);
  ASSERT_TRUE(v2.ok());
  EXPECT_TRUE(created);
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(store_->GetDefinition("k", 2)->base_key, "province-template");
  EXPECT_EQ(store_->GetDefinition("k", 2)->base_version, 3);
  EXPECT_EQ(store_->GetDefinition("k", 1)->base_key, "");
  EXPECT_EQ(store_->GetDefinition("k", 1)->base_version, 0);
  EXPECT_EQ(store_->GetDefinition("k", 0)->version, 2);
  EXPECT_EQ(store_->GetDefinition("k", 1)->yaml, "key: k\n");
  EXPECT_EQ(store_->GetDefinition("k", 1)->title, "标题");
  EXPECT_EQ(store_->ListDefinitions("k")->size(), 2u);
  EXPECT_EQ(store_->ListDefinitions("")->size(), 1u);
  auto missing = store_->GetDefinition("k", 9);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "workflow definition k version 9 not found");
}

TEST_F(StoreTest, AliasesPointAtVersionsAndKeepTheirMoves) {
  DefinitionRow d{"k", 0, std::string(64, 'a'), "t", "k.yaml", "key: k\n", 5, "", 0};
  bool created = false;
  const AliasChange deploy{kCurrentAlias, "ops", "deployed", 10};
  // No version yet: nothing to resolve.
  EXPECT_EQ(store_->ResolveDefinitionVersion("k", "").status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(store_->PutDefinition(d, deploy, &created).ok());
  EXPECT_EQ(*store_->ResolveDefinitionVersion("k", ""), 1);
  // An inactive v2 is the latest, but "current" stays on 1.
  d.content_hash = std::string(64, 'b');
  d.yaml = "key: k\n# 2\n";
  auto v2 = store_->PutDefinition(d, std::nullopt, &created);
  ASSERT_TRUE(v2.ok() && created);
  EXPECT_EQ(*store_->ResolveDefinitionVersion("k", ""), 1);
  EXPECT_EQ(store_->GetDefinition("k", 0)->version, 2);
  // Known content never moves an alias (a redeploy must not undo a rollback).
  d.content_hash = std::string(64, 'a');
  auto again = store_->PutDefinition(d, AliasChange{kCurrentAlias, "ops", "x", 11}, &created);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(*store_->ResolveDefinitionVersion("k", ""), 1);
  // Moves: activate 2, a new alias, a no-op, an unknown version.
  auto prev = store_->MoveDefinitionAlias("k", 2, {kCurrentAlias, "li", "activate", 20});
  ASSERT_TRUE(prev.ok()) << prev.status();
  EXPECT_EQ(*prev, 1);
  EXPECT_EQ(*store_->ResolveDefinitionVersion("k", ""), 2);
  EXPECT_EQ(*store_->MoveDefinitionAlias("k", 1, {"pilot", "li", "试点", 21}), 0);
  EXPECT_EQ(*store_->ResolveDefinitionVersion("k", "pilot"), 1);
  EXPECT_EQ(*store_->MoveDefinitionAlias("k", 2, {kCurrentAlias, "li", "again", 22}), 2);
  auto missing = store_->MoveDefinitionAlias("k", 7, {kCurrentAlias, "li", "", 23});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "workflow definition k version 7 not found");
  EXPECT_EQ(store_->ResolveDefinitionVersion("k", "nosuch").status().message(),
            "workflow definition k has no alias 'nosuch'");
  EXPECT_EQ(store_->ResolveDefinitionVersion("x", "").status().message(),
            "workflow definition x not found");

  auto aliases = store_->ListDefinitionAliases("k");
  ASSERT_TRUE(aliases.ok()) << aliases.status();
  ASSERT_EQ(aliases->size(), 2u);
  EXPECT_EQ((*aliases)[0].alias, "current");
  EXPECT_EQ((*aliases)[0].version, 2);
  EXPECT_EQ((*aliases)[0].updated_by, "li");
  EXPECT_EQ((*aliases)[1].alias, "pilot");
  auto moves = store_->ListAliasMoves("k");
  ASSERT_TRUE(moves.ok()) << moves.status();
  ASSERT_EQ(moves->size(), 3u);  // deploy of 1, activation of 2, pilot; no-ops not kept
  EXPECT_EQ((*moves)[0].from_version, 0);
  EXPECT_EQ((*moves)[0].to_version, 1);
  EXPECT_EQ((*moves)[0].moved_by, "ops");
  EXPECT_EQ((*moves)[1].from_version, 1);
  EXPECT_EQ((*moves)[1].to_version, 2);
  EXPECT_EQ((*moves)[1].reason, "activate");
  EXPECT_EQ((*moves)[1].moved_ms, 20);
  EXPECT_EQ((*moves)[2].alias, "pilot");
  EXPECT_EQ((*moves)[2].reason, "试点");
  EXPECT_EQ(store_->ListDefinitionAliases("")->size(), 2u);
}

TEST_F(StoreTest, CommitWritesEverythingAtomically) {
  Commit c;
  c.insert_instance = NewInstance("i1");
  c.insert_tasks.push_back(NewTask("t1", "i1", "unit_filer", "906017"));
  c.events.push_back(NewEvent("i1", 1));
  c.documents.push_back({"d1", "i1", "draft", "disclosure", "application/json",
                         std::string("{\"a\":\"公开\"}\0tail", 20), "ff", 7});
  c.idempotency = IdempotencyRow{"start:u1", "key-1", "hash", std::string("\x01\x00\x02", 3), 9};
  ASSERT_TRUE(store_->Apply(c).ok());

  auto inst = store_->GetInstance("i1");
  ASSERT_TRUE(inst.ok());
  EXPECT_EQ(inst->variables_json, R"({"名称":"乡村振兴"})");
  EXPECT_EQ(inst->version, 1);
  EXPECT_GT(inst->row_id, 0);
  EXPECT_EQ(store_->ListTasks("i1", true)->size(), 1u);
  EXPECT_EQ(store_->ListTasks("i1", true)->at(0).exclude_users_json, "[]");
  EXPECT_EQ(store_->ListEvents("i1")->at(0).comment, "意见 1");
  auto doc = store_->GetDocument("d1");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->content, std::string("{\"a\":\"公开\"}\0tail", 20));
  auto idem = store_->GetIdempotency("start:u1", "key-1");
  ASSERT_TRUE(idem.ok());
  ASSERT_TRUE(idem->has_value());
  EXPECT_EQ((*idem)->response, std::string("\x01\x00\x02", 3));
  EXPECT_FALSE(store_->GetIdempotency("start:u2", "key-1")->has_value());
}

TEST_F(StoreTest, StaleVersionIsAbortedAndWritesNothing) {
  Commit c;
  c.insert_instance = NewInstance("i1");
  c.insert_tasks.push_back(NewTask("t1", "i1", "unit_filer", "906017"));
  ASSERT_TRUE(store_->Apply(c).ok());

  Commit win;
  win.update_instance = NewInstance("i1");
  win.update_instance->version = 2;
  win.update_instance->state = "review";
  win.expected_version = 1;
  TaskRow done = NewTask("t1", "i1", "unit_filer", "906017");
  done.status = "completed";
  done.completed_ms = 2000;
  done.completed_by = "u1";
  done.action = "submit";
  win.update_tasks.push_back({done, "open"});
  win.events.push_back(NewEvent("i1", 2));
  ASSERT_TRUE(store_->Apply(win).ok());

  Commit lose = win;  // same expected version: lost the race
  lose.events = {NewEvent("i1", 3)};
  lose.insert_tasks.push_back(NewTask("t2", "i1", "x", ""));
  Status s = store_->Apply(lose);
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("instance i1 changed meanwhile"));
  EXPECT_EQ(store_->ListEvents("i1")->size(), 1u);   // event 3 rolled back
  EXPECT_EQ(store_->GetTask("t2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetInstance("i1")->state, "review");

  Commit closed;  // closing a task that is no longer open
  done.completed_by = "u2";
  closed.update_tasks.push_back({done, "open"});
  s = store_->Apply(closed);
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(s.message(), "task t1 is no longer open: re-read and retry");
  EXPECT_EQ(store_->GetTask("t1")->completed_by, "u1");
}

// A commit that knows the stored status leaves an unchanged status out of
// its UPDATE; a changed one is written, and a commit that does not say what
// is stored writes it too. Read back through a second store, past the first
// one's instance cache, and through the (def_key, status) index.
TEST_F(StoreTest, StatusIsWrittenWhenItChanges) {
  Commit c;
  c.insert_instance = NewInstance("i1");
  ASSERT_TRUE(store_->Apply(c).ok());
  auto update = [&](int64_t from, const std::string& status,
                    std::optional<std::string> stored) {
    Commit u;
    u.update_instance = NewInstance("i1");
    u.update_instance->version = from + 1;
    u.update_instance->status = status;
    u.update_instance->state = absl::StrCat("s", from + 1);
    u.expected_version = from;
    u.stored_status = std::move(stored);
    return store_->Apply(u);
  };
  auto stored = [&] {
    auto other = Store::Open(url_, 1);
    EXPECT_TRUE(other.ok()) << other.status();
    auto row = (*other)->GetInstance("i1");
    EXPECT_TRUE(row.ok()) << row.status();
    InstanceFilter f;
    f.def_key = "target-filing";
    f.status = row->status;
    auto listed = (*other)->ListInstances(f, 0, 10);
    EXPECT_TRUE(listed.ok()) << listed.status();
    EXPECT_EQ(listed->size(), 1u) << "status " << row->status << " not found by the index";
    return absl::StrCat(row->status, " ", row->state);
  };
  ASSERT_TRUE(update(1, "running", "running").ok());
  EXPECT_EQ(stored(), "running s2");
  ASSERT_TRUE(update(2, "suspended", "running").ok());
  EXPECT_EQ(stored(), "suspended s3");
  ASSERT_TRUE(update(3, "completed", std::nullopt).ok());
  EXPECT_EQ(stored(), "completed s4");
  ASSERT_TRUE(update(4, "completed", "completed").ok());
  EXPECT_EQ(stored(), "completed s5");
}

TEST_F(StoreTest, DuplicateIdempotencyKeyIsAborted) {
  Commit a;
  a.insert_instance = NewInstance("i1");
  a.idempotency = IdempotencyRow{"s", "k", "h1", "r1", 1};
  ASSERT_TRUE(store_->Apply(a).ok());
  Commit b;
  b.insert_instance = NewInstance("i2");
  b.idempotency = IdempotencyRow{"s", "k", "h2", "r2", 2};
  EXPECT_EQ(store_->Apply(b).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_->GetInstance("i2").status().code(), absl::StatusCode::kNotFound);
}

// Concurrent commits share transactions (group commit), yet each one stands
// or falls alone: of many commits racing on one instance version exactly one
// wins and the losers leave nothing behind, while unrelated commits in the
// same batches all land.
TEST_F(StoreTest, ConcurrentCommitsShareTransactionsButFailAlone) {
  Commit seed;
  seed.insert_instance = NewInstance("hot");
  ASSERT_TRUE(store_->Apply(seed).ok());
  constexpr int kRounds = 10;
  constexpr int kRacers = 8;
  constexpr int kBystanders = 8;
  for (int round = 0; round < kRounds; ++round) {
    const int64_t version = round + 1;
    std::atomic<int> ready{0};
    std::atomic<int> winners{0};
    std::vector<Status> results(kRacers + kBystanders);
    std::vector<std::thread> threads;
    for (int i = 0; i < kRacers + kBystanders; ++i) {
      threads.emplace_back([&, i] {
        Commit c;
        const std::string own = "r" + std::to_string(round) + "-" + std::to_string(i);
        c.insert_instance = NewInstance(own);
        if (i < kRacers) {
          c.update_instance = NewInstance("hot");
          c.update_instance->version = version + 1;
          c.update_instance->state = own;
          c.expected_version = version;
          c.events.push_back(NewEvent("hot", version + 1));
        }
        ++ready;
        while (ready.load() < kRacers + kBystanders) std::this_thread::yield();
        results[i] = store_->Apply(c);
        if (i < kRacers && results[i].ok()) ++winners;
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(winners.load(), 1) << "round " << round;
    for (int i = 0; i < kRacers + kBystanders; ++i) {
      const std::string own = "r" + std::to_string(round) + "-" + std::to_string(i);
      if (i >= kRacers) {
        EXPECT_TRUE(results[i].ok()) << own << ": " << results[i];
      } else if (!results[i].ok()) {
        EXPECT_EQ(results[i].code(), absl::StatusCode::kAborted) << results[i];
      }
      // A losing racer's own instance was rolled back with its update.
      EXPECT_EQ(store_->GetInstance(own).ok(), results[i].ok()) << own;
    }
    auto hot = store_->GetInstance("hot");
    ASSERT_TRUE(hot.ok());
    EXPECT_EQ(hot->version, version + 1);
    EXPECT_EQ(store_->ListEvents("hot")->size(), static_cast<size_t>(round + 1));
  }
}

TEST_F(StoreTest, ApplyAllIsAllOrNothing) {
  std::vector<Commit> bad(3);
  bad[0].insert_instance = NewInstance("a1");
  bad[1].insert_instance = NewInstance("a2");
  bad[2].update_instance = NewInstance("missing");
  bad[2].update_instance->version = 2;
  bad[2].expected_version = 1;
  EXPECT_EQ(store_->ApplyAll(bad).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_->GetInstance("a1").status().code(), absl::StatusCode::kNotFound);
  bad.pop_back();
  ASSERT_TRUE(store_->ApplyAll(bad).ok());
  EXPECT_TRUE(store_->GetInstance("a1").ok());
  EXPECT_TRUE(store_->GetInstance("a2").ok());
}

// Every value reaches the database byte for byte, whatever SQL it looks like.
// On MariaDB commits are sent as text with escaped literals (CommitWriter), so
// quotes, backslashes, NUL bytes, placeholders and statement separators in
// values must stay data.
TEST_F(StoreTest, ValuesThatLookLikeSqlRoundTripExactly) {
  static constexpr char kNasty[] =
      "it's \\ \"q\" ; :id :expected -- '); DROP TABLE instances; -- \n\t\0 整改 \xF0\x9F\x93\x8A %_";
  const std::string nasty(kNasty, sizeof(kNasty) - 1);
  Commit c;
  c.insert_instance = NewInstance("i1", nasty);
  c.insert_instance->variables_json = R"({"说明":"a \"quoted\" ';' :vars \\ end"})";
  c.insert_tasks.push_back(NewTask("t1", "i1", "unit_filer", "906017"));
  c.insert_tasks.back().title = nasty;
  EventRow e = NewEvent("i1", 1);
  e.comment = nasty;
  c.events.push_back(e);
  ASSERT_TRUE(store_->Apply(c).ok());
  auto inst = store_->GetInstance("i1");
  ASSERT_TRUE(inst.ok()) << inst.status();
  EXPECT_EQ(inst->subject_ref, nasty);
  EXPECT_EQ(inst->variables_json, R"({"说明":"a \"quoted\" ';' :vars \\ end"})");
  EXPECT_EQ(store_->GetTask("t1")->title, nasty);
  EXPECT_EQ(store_->ListEvents("i1")->at(0).comment, nasty);
  EXPECT_EQ(nasty.size(), 77u);  // the NUL byte and everything after it included
}

// A transaction larger than one round trip may carry (MariaDB sends queued
// statements in parts of a few megabytes) still commits all or nothing.
TEST_F(StoreTest, LargeTransactionsAreAllOrNothing) {
  std::vector<Commit> commits(60);
  for (size_t i = 0; i < commits.size(); ++i) {
    commits[i].insert_instance = NewInstance("big" + std::to_string(i));
    commits[i].insert_instance->variables_json =
        R"({"text":")" + std::string(100 * 1024, 'x') + R"("})";
  }
  ASSERT_TRUE(store_->ApplyAll(commits).ok());
  EXPECT_EQ(store_->GetInstance("big59")->variables_json.size(), 100u * 1024 + 11);

  std::vector<Commit> bad(60);
  for (size_t i = 0; i < bad.size(); ++i) {
    bad[i].insert_instance = NewInstance("more" + std::to_string(i));
    bad[i].insert_instance->variables_json = commits[i].insert_instance->variables_json;
  }
  bad.back().update_instance = NewInstance("missing");  // fails after the first parts went
  bad.back().update_instance->version = 2;
  bad.back().expected_version = 1;
  EXPECT_EQ(store_->ApplyAll(bad).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_->GetInstance("more0").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetInstance("more58").status().code(), absl::StatusCode::kNotFound);
}

// LoadInstance and LoadTaskInstance (one read transaction on SQLite, one
// round trip on MariaDB) read exactly what the single calls read.
TEST_F(StoreTest, LoadInstanceReadsWhatTheSingleCallsRead) {
  EXPECT_EQ(store_->LoadInstance("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->LoadTaskInstance("nope").status(),
            absl::NotFoundError("task nope not found"));
  Commit c;
  c.insert_instance = NewInstance("i1");
  c.insert_tasks.push_back(NewTask("t1", "i1", "unit_filer", "906017"));
  c.insert_tasks.push_back(NewTask("t2", "i1", "auditor", "906"));
  c.insert_tasks.back().status = "completed";
  c.insert_tasks.push_back(NewTask("t3", "i1", "", "", "u9"));
  c.insert_tasks.back().status = "claimed";
  c.insert_tasks.push_back(NewTask("t4", "i1", "", "", "u9"));
  c.insert_tasks.back().status = "delegated";
  c.insert_tasks.push_back(NewTask("t5", "i1", "auditor", "906"));
  c.insert_tasks.back().status = "cancelled";
  c.insert_tasks.push_back(NewTask("other", "i2", "unit_filer", "906017"));
  c.insert_timers.push_back({"tm2", "i1", "t1", "remind", 9000, 0, "", 0});
  c.insert_timers.push_back({"tm1", "i1", "t1", "escalate", 5000, 0, "", 0});
  ExternalTaskRow x;
  x.id = "x1";
  x.instance_id = "i1";
  x.state = "assess";
  x.topic = "key-evaluation";
  x.payload_json = R"({"项目":"道路"})";
  x.status = "open";
  x.retries_left = 3;
  x.created_ms = 1000;
  c.insert_external_tasks.push_back(x);
  ASSERT_TRUE(store_->Apply(c).ok());

  auto expect_i1 = [&](const StatusOr<InstanceState>& loaded) {
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->instance.id, "i1");
    EXPECT_EQ(loaded->instance.variables_json, store_->GetInstance("i1")->variables_json);
    EXPECT_EQ(loaded->instance.row_id, store_->GetInstance("i1")->row_id);
    std::vector<std::string> tasks;
    for (const TaskRow& t : loaded->active_tasks) tasks.push_back(t.id + ":" + t.status);
    EXPECT_EQ(tasks, (std::vector<std::string>{"t1:open", "t3:claimed", "t4:delegated"}));
    for (const TaskRow& t : loaded->active_tasks) EXPECT_TRUE(IsActiveTaskStatus(t.status));
    EXPECT_EQ(loaded->active_tasks[0].title, "填报");
    ASSERT_EQ(loaded->external_tasks.size(), 1u);
    EXPECT_EQ(loaded->external_tasks[0].payload_json, R"({"项目":"道路"})");
    EXPECT_EQ(loaded->external_tasks[0].retries_left, 3);
    std::vector<std::string> timers;
    for (const TimerRow& t : loaded->timers) {
      timers.push_back(t.id + "@" + std::to_string(t.due_ms));
    }
    EXPECT_EQ(timers, (std::vector<std::string>{"tm1@5000", "tm2@9000"}));
  };
  expect_i1(store_->LoadInstance("i1"));
  EXPECT_EQ(store_->ListTasks("i1", true)->size(), 3u);   // t1, t3, t4
  EXPECT_EQ(store_->ListTasks("i1", false)->size(), 5u);  // and t2, t5
  // By a task, in any status: the completed t2 is found with its instance.
  auto by_task = store_->LoadTaskInstance("t2");
  expect_i1(by_task);
  ASSERT_TRUE(by_task.ok());
  EXPECT_EQ(by_task->task.id, "t2");
  EXPECT_EQ(by_task->task.status, "completed");
  EXPECT_EQ(by_task->task.assignee_role, "auditor");
  EXPECT_TRUE(store_->LoadInstance("i1")->task.id.empty());
}

// The reads of LoadTaskInstance see one moment on SQLite: a commit between
// them cannot show the task of one version beside the instance of another.
// (Checked by its result under concurrent commits: the task's status and the
// instance's version always agree.)
TEST_F(StoreTest, LoadTaskInstanceSeesOneMoment) {
  Commit c;
  c.insert_instance = NewInstance("i1");
  c.insert_tasks.push_back(NewTask("t1", "i1", "unit_filer", "906017"));
  ASSERT_TRUE(store_->Apply(c).ok());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    // Flips t1 between open and claimed, bumping the instance each time:
    // version odd <=> t1 open.
    for (int64_t v = 1; v < 400 && !stop; ++v) {
      Commit u;
      u.update_instance = NewInstance("i1");
      u.update_instance->version = v + 1;
      u.expected_version = v;
      TaskRow t = NewTask("t1", "i1", "unit_filer", "906017");
      t.status = v % 2 == 1 ? "claimed" : "open";
      if (t.status == "claimed") t.claimed_by = "u1";
      u.update_tasks.push_back({t, v % 2 == 1 ? "open" : "claimed"});
      ASSERT_TRUE(store_->Apply(u).ok());
    }
  });
  for (int i = 0; i < 400; ++i) {
    auto s = store_->LoadTaskInstance("t1");
    ASSERT_TRUE(s.ok()) << s.status();
    const bool open = s->task.status == "open";
    if (store_->dialect() == "sqlite3") {
      ASSERT_EQ(open, s->instance.version % 2 == 1)
          << "task " << s->task.status << " beside instance version " << s->instance.version;
    }
  }
  stop = true;
  writer.join();
}

TEST_F(StoreTest, InboxMatchesUserRoleAndOrg) {
  Commit c;
  c.insert_instance = NewInstance("i1");
  c.insert_tasks = {NewTask("mine", "i1", "", "", "alice"),
                    NewTask("role-org", "i1", "unit_filer", "906017"),
                    NewTask("role-any", "i1", "finance_reviewer", ""),
                    NewTask("other-org", "i1", "unit_filer", "906018"),
                    NewTask("for-bob", "i1", "", "", "bob")};
  ASSERT_TRUE(store_->Apply(c).ok());
  auto ids = [](const std::vector<TaskRow>& rows) {
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r.id);
    return out;
  };
  auto query = [](std::vector<std::string> users, std::vector<std::string> roles,
                  std::string org) {
    InboxQuery q;
    q.users = std::move(users);
    q.roles = std::move(roles);
    q.org = std::move(org);
    return q;
  };
  InboxQuery alice = query({"alice"}, {"unit_filer", "finance_reviewer"}, "906017");
  EXPECT_THAT(ids(*store_->Inbox(alice, 0, 10)),
              ::testing::ElementsAre("mine", "role-org", "role-any"));
  const InboxQuery nobody = query({"carol"}, {}, "906017");
  EXPECT_TRUE(store_->Inbox(nobody, 0, 10)->empty());
  // Paging by row_id.
  auto first = *store_->Inbox(alice, 0, 2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_THAT(ids(*store_->Inbox(alice, first[1].row_id, 10)), ::testing::ElementsAre("role-any"));
  // A proxy sees its principal's tasks; filters narrow by the instance.
  EXPECT_THAT(ids(*store_->Inbox(query({"carol", "bob"}, {}, ""), 0, 10)),
              ::testing::ElementsAre("for-bob"));
  alice.def_key = "other";
  EXPECT_TRUE(store_->Inbox(alice, 0, 10)->empty());
  alice.def_key.clear();

  // A task for one person reaches only that person, whatever role it
  // names; an empty user name is nobody's (a role task has no user).
  Commit more;
  more.update_instance = NewInstance("i1");
  more.update_instance->version = 2;
  more.expected_version = 1;
  more.insert_tasks = {NewTask("dave-as-filer", "i1", "unit_filer", "906017", "dave")};
  ASSERT_TRUE(store_->Apply(more).ok());
  EXPECT_THAT(ids(*store_->Inbox(query({"dave"}, {}, ""), 0, 10)),
              ::testing::ElementsAre("dave-as-filer"));
  EXPECT_THAT(ids(*store_->Inbox(alice, 0, 10)),
              ::testing::ElementsAre("mine", "role-org", "role-any"));
  EXPECT_TRUE(store_->Inbox(query({""}, {}, "906017"), 0, 10)->empty());

  // A role task handed to one person (its user set) leaves the role's inbox
  // for that person's, and back.
  auto hand = [&](int64_t from, const std::string& user) {
    Commit h;
    h.update_instance = NewInstance("i1");
    h.update_instance->version = from + 1;
    h.expected_version = from;
    TaskRow t = NewTask("role-any", "i1", "finance_reviewer", "", user);
    h.update_tasks.push_back({t, "open"});
    return store_->Apply(h);
  };
  const InboxQuery erin = query({"erin"}, {"finance_reviewer"}, "");
  ASSERT_TRUE(hand(2, "carol").ok());
  EXPECT_TRUE(store_->Inbox(erin, 0, 10)->empty());
  EXPECT_THAT(ids(*store_->Inbox(nobody, 0, 10)), ::testing::ElementsAre("role-any"));
  ASSERT_TRUE(hand(3, "").ok());
  EXPECT_THAT(ids(*store_->Inbox(erin, 0, 10)), ::testing::ElementsAre("role-any"));
  EXPECT_TRUE(store_->Inbox(nobody, 0, 10)->empty());
}

TEST_F(StoreTest, ListInstancesFiltersAndPages) {
  for (int i = 0; i < 5; ++i) {
    Commit c;
    c.insert_instance = NewInstance("i" + std::to_string(i), i % 2 ? "odd" : "even");
    ASSERT_TRUE(store_->Apply(c).ok());
  }
  InstanceFilter f;
  f.subject_ref = "even";
  EXPECT_EQ(store_->ListInstances(f, 0, 10)->size(), 3u);
  f = {};
  auto page = *store_->ListInstances(f, 0, 2);
  ASSERT_EQ(page.size(), 2u);
  auto rest = *store_->ListInstances(f, page[1].row_id, 10);
  EXPECT_EQ(rest.size(), 3u);
  f.state = "nope";
  EXPECT_TRUE(store_->ListInstances(f, 0, 10)->empty());
}

// An org scope (core/org/scope.h): a code prefix or a list of codes.
TEST_F(StoreTest, ListInstancesWithinAnOrgSet) {
  const char* orgs[] = {"906017", "906018", "9060170", "907001", "czj-jkw"};
  for (int i = 0; i < 5; ++i) {
    Commit c;
    c.insert_instance = NewInstance("i" + std::to_string(i));
    c.insert_instance->org = orgs[i];
    ASSERT_TRUE(store_->Apply(c).ok());
  }
  auto orgs_of = [&](const InstanceFilter& f) {
    std::vector<std::string> out;
    auto rows = store_->ListInstances(f, 0, 10);
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (rows.ok()) {
      for (const auto& r : *rows) out.push_back(r.org);
    }
    return out;
  };
  InstanceFilter f;
  f.orgs.all = false;
  EXPECT_TRUE(orgs_of(f).empty());  // an empty set matches nothing
  f.orgs.prefix = "906017";
  EXPECT_THAT(orgs_of(f), ::testing::ElementsAre("906017", "9060170"));
  f.orgs.codes = {"907001", "nope"};
  EXPECT_THAT(orgs_of(f), ::testing::ElementsAre("906017", "9060170", "907001"));
  f.orgs.prefix.clear();
  EXPECT_THAT(orgs_of(f), ::testing::ElementsAre("907001"));
  f.orgs.prefix = "%";  // bound, never a pattern
  f.orgs.codes.clear();
  EXPECT_TRUE(orgs_of(f).empty());
  f.org = "906018";  // and the other filters still apply
  f.orgs.prefix = "9060";
  EXPECT_THAT(orgs_of(f), ::testing::ElementsAre("906018"));
  f = {};
  f.orgs.all = false;
  f.orgs.codes.assign(kMaxOrgSetCodes + 1, "x");
  EXPECT_TRUE(absl::IsInvalidArgument(store_->ListInstances(f, 0, 10).status()));
}

TEST_F(StoreTest, DataSurvivesReopen) {
  Commit c;
  c.insert_instance = NewInstance("i1");
  ASSERT_TRUE(store_->Apply(c).ok());
  store_.reset();
  auto again = Store::Open(url_, 2);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->GetInstance("i1")->subject_ref, "P1");
}

// Every column of what LoadInstance returned, for comparing two loads.
std::string Describe(const InstanceState& s) {
  const InstanceRow& i = s.instance;
  std::string out = absl::StrCat(
      "instance ", i.id, "|", i.def_key, "|", i.def_version, "|", i.subject_ref, "|", i.org, "|",
      i.status, "|", i.state, "|", i.variables_json, "|", i.version, "|", i.event_seq, "|",
      i.started_by, "|", i.created_ms, "|", i.updated_ms, "|", i.campaign_id, "|", i.row_id,
      "|", i.last_event_hash, "\n");
  auto task = [&](const TaskRow& t) {
    absl::StrAppend(&out, "task ", t.id, "|", t.instance_id, "|", t.state, "|", t.name, "|",
                    t.title, "|", t.status, "|", t.assignee_user, "|", t.assignee_role, "|",
                    t.assignee_org, "|", t.actions_json, "|", t.data_json, "|", t.due_ms, "|",
                    t.created_ms, "|", t.completed_ms, "|", t.completed_by, "|", t.action, "|",
                    t.claimed_by, "|", t.delegated_to, "|", t.owner_user, "|",
                    t.exclude_users_json, "|", t.row_id, "\n");
  };
  if (!s.task.id.empty()) task(s.task);
  for (const TaskRow& t : s.active_tasks) task(t);
  for (const TimerRow& t : s.timers) {
    absl::StrAppend(&out, "timer ", t.id, "|", t.instance_id, "|", t.task_id, "|", t.name, "|",
                    t.due_ms, "|", t.fired_ms, "|", t.lease_owner, "|", t.lease_until_ms, "\n");
  }
  for (const ExternalTaskRow& x : s.external_tasks) absl::StrAppend(&out, "external ", x.id, "\n");
  return out;
}

// On SQLite LoadInstance answers recently used instances from memory (the
// instance cache). Whatever it answers must be what the database holds: each
// step below compares it with a store that has no cache, on the same file.
TEST_F(StoreTest, CachedLoadsMatchTheDatabase) {
  if (store_->dialect() != "sqlite3") GTEST_SKIP() << "only SQLite caches instances";
  auto opened = Store::Open(url_, 2, /*instance_cache=*/0);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Store& plain = **opened;
  auto same = [&](const std::string& id) {
    auto cached = store_->LoadInstance(id);
    auto read = plain.LoadInstance(id);
    ASSERT_TRUE(cached.ok()) << cached.status();
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(Describe(*cached), Describe(*read));
    for (const TaskRow& t : read->active_tasks) {
      auto by_task = store_->LoadTaskInstance(t.id);
      ASSERT_TRUE(by_task.ok()) << by_task.status();
      EXPECT_EQ(Describe(*by_task), Describe(*plain.LoadTaskInstance(t.id)));
    }
  };

  Commit start;
  start.insert_instance = NewInstance("i1");
  start.insert_tasks.push_back(NewTask("t1", "i1", "unit_filer", "906017"));
  start.insert_timers.push_back({"tm2", "i1", "t1", "remind", 9000, 0, "", 0});
  start.insert_timers.push_back({"tm1", "i1", "t1", "overdue", 5000, 0, "", 0});
  start.events.push_back(NewEvent("i1", 1));
  ASSERT_TRUE(store_->Apply(start).ok());
  same("i1");

  // Submit: t1 done, its timers cancelled, a review task with a timer.
  Commit submit;
  submit.update_instance = NewInstance("i1");
  submit.update_instance->version = 2;
  submit.update_instance->event_seq = 2;
  submit.update_instance->state = "review";
  submit.update_instance->variables_json = R"({"名称":"乡村振兴","总额":12})";
  submit.update_instance->updated_ms = 2000;
  submit.update_instance->last_event_hash = store_->LoadInstance("i1")->instance.last_event_hash;
  submit.expected_version = 1;
  TaskRow done = NewTask("t1", "i1", "unit_filer", "906017");
  done.status = "completed";
  done.completed_ms = 2000;
  done.completed_by = "u1";
  done.action = "submit";
  submit.update_tasks.push_back({done, "open"});
  submit.cancel_timers_of_tasks.push_back("t1");
  submit.insert_tasks.push_back(NewTask("t2", "i1", "auditor", "906"));
  submit.insert_tasks.back().state = "review";
  submit.insert_timers.push_back({"tm3", "i1", "t2", "remind", 7000, 0, "", 0});
  submit.events.push_back(NewEvent("i1", 2));
  ASSERT_TRUE(store_->Apply(submit).ok());
  same("i1");

  // The instance's next commit: from's row one version on, chained from the
  // hash that `by` reads, with one event and no other rows yet.
  auto next_of = [&](const Commit& from, Store& by) {
    Commit c;
    c.update_instance = from.update_instance;
    c.expected_version = from.update_instance->version;
    c.update_instance->version = c.expected_version + 1;
    c.update_instance->event_seq = c.update_instance->version;
    c.update_instance->last_event_hash = by.LoadInstance("i1")->instance.last_event_hash;
    c.events = {NewEvent("i1", c.update_instance->version)};
    return c;
  };

  // A timer fires, with the claim of t2 in the same commit.
  Commit fire = next_of(submit, *store_);
  TaskRow claimed = submit.insert_tasks[0];
  claimed.status = "claimed";
  claimed.claimed_by = "u7";
  fire.update_tasks = {{claimed, "open"}};
  fire.fire_timers.push_back("tm3");
  ASSERT_TRUE(store_->Apply(fire).ok());
  same("i1");

  // Timer leases change no instance version; the cache drops the instance.
  Commit remind = next_of(fire, *store_);
  remind.insert_timers.push_back({"tm4", "i1", "t2", "remind", 10, 0, "", 0});
  ASSERT_TRUE(store_->Apply(remind).ok());
  same("i1");
  auto leased = store_->LeaseDueTimers("bpmd-1", 100, 60000, 10);
  ASSERT_TRUE(leased.ok()) << leased.status();
  ASSERT_EQ(leased->size(), 1u);
  same("i1");

  // Another process writes the file: the cache cannot know. Its stale
  // answer is caught by the version check of the next commit, which drops
  // the instance, and the retry reads what the other process wrote.
  Commit other = next_of(remind, plain);
  other.update_instance->state = "elsewhere";
  ASSERT_TRUE(plain.Apply(other).ok());
  Commit stale = next_of(remind, *store_);
  stale.update_instance->state = "mine";
  EXPECT_EQ(store_->LoadInstance("i1")->instance.version, 4);  // the stale answer
  EXPECT_EQ(store_->Apply(stale).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_->LoadInstance("i1")->instance.state, "elsewhere");
  same("i1");
}

TEST(StoreOpenTest, BadUrls) {
  auto s = Store::Open("postgres://x");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("use sqlite:PATH or mysql://"));
  EXPECT_EQ(Store::Open("sqlite:").status().code(), absl::StatusCode::kInvalidArgument);
  auto down = Store::Open("mysql://u:p@127.0.0.1:1/db", 1);
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace bpm::store
