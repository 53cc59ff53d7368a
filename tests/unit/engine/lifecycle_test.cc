// Instance and task lifecycles (Boost.Statechart): restore from stored status,
// legal events move, illegal ones are refused with one clear error.
#include <gtest/gtest.h>

#include "core/engine/lifecycle.h"

namespace bpm::engine {
namespace {

TEST(InstanceLifecycleTest, StartActComplete) {
  InstanceLifecycle lc = InstanceLifecycle::New();
  EXPECT_EQ(lc.status(), "created");
  ASSERT_TRUE(lc.Fire(InstanceEvent::kStart, "i").ok());
  EXPECT_EQ(lc.status(), "running");
  ASSERT_TRUE(lc.Fire(InstanceEvent::kAct, "i").ok());
  EXPECT_EQ(lc.status(), "running");
  ASSERT_TRUE(lc.Fire(InstanceEvent::kComplete, "i").ok());
  EXPECT_EQ(lc.status(), "completed");
  Status s = lc.Fire(InstanceEvent::kAct, "instance x");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "instance x is completed; act is not allowed");
}

TEST(InstanceLifecycleTest, RestoreEveryStatus) {
  for (const char* st : {"created", "running", "suspended", "incident", "completed", "terminated"}) {
    auto lc = InstanceLifecycle::Restore(st);
    ASSERT_TRUE(lc.ok()) << st;
    EXPECT_EQ(lc->status(), st);
  }
  EXPECT_EQ(InstanceLifecycle::Restore("bogus").status().code(), absl::StatusCode::kInternal);
}

TEST(InstanceLifecycleTest, SuspendedRefusesActUntilResumed) {
  auto lc = *InstanceLifecycle::Restore("suspended");
  EXPECT_EQ(lc.Fire(InstanceEvent::kAct, "i").message(), "i is suspended; act is not allowed");
  ASSERT_TRUE(lc.Fire(InstanceEvent::kResume, "i").ok());
  EXPECT_TRUE(lc.Fire(InstanceEvent::kAct, "i").ok());
  ASSERT_TRUE(lc.Fire(InstanceEvent::kTerminate, "i").ok());
  EXPECT_EQ(lc.status(), "terminated");
  EXPECT_FALSE(lc.Fire(InstanceEvent::kResume, "i").ok());
}

TEST(TaskLifecycleTest, CompletedTaskRefusesCompletion) {
  auto lc = *TaskLifecycle::Restore("open");
  ASSERT_TRUE(lc.Fire(TaskEvent::kClaim, "t").ok());
  EXPECT_EQ(lc.status(), "claimed");
  ASSERT_TRUE(lc.Fire(TaskEvent::kComplete, "t").ok());
  EXPECT_EQ(lc.status(), "completed");
  auto done = *TaskLifecycle::Restore("completed");
  Status s = done.Fire(TaskEvent::kComplete, "task 42");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "task 42 is completed; complete is not allowed");
  auto cancelled = *TaskLifecycle::Restore("cancelled");
  EXPECT_EQ(cancelled.Fire(TaskEvent::kComplete, "t").message(),
            "t is cancelled; complete is not allowed");
}

}  // namespace
}  // namespace bpm::engine
