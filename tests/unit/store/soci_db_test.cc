// core/store/internal/soci_db.h: the per-session statement cache refuses a
// session that is not from the pool (INTERNAL), pooled sessions reuse their
// prepared statements, and SQLite's WAL is checkpointed by the checkpointer
// thread, not inside the writer's commits.
#include "core/store/internal/soci_db.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "tests/support/test_env.h"

namespace bpm::store::internal {
namespace {

TEST(SociDbTest, PreparedStatementsAreReusedOnPooledSessions) {
  bpm::testing::TempDir dir;
  SociDb db(Url{"sqlite3", "db=" + dir.path() + "/t.db", dir.path() + "/t.db"}, 2);
  ASSERT_TRUE(db.Connect().ok());
  struct B {
    long long v = 0;
    long long out = 0;
  };
  Status s = db.Session("reuse", [&](soci::session& sql) -> Status {
    auto bind = [](Prep& p, B& b) { p, soci::into(b.out), soci::use(b.v, "v"); };
    auto& first = db.Prepare<B>(sql, "SELECT :v + 1", bind);
    first.b.v = 41;
    EXPECT_EQ(SociDb::Fetch<long long>(first, [](const B& b) { return b.out; }),
              std::vector<long long>{42});
    auto& again = db.Prepare<B>(sql, "SELECT :v + 1", bind);
    EXPECT_EQ(&first, &again);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
}

TEST(SociDbTest, SessionOutsideThePoolIsAnInternalError) {
  bpm::testing::TempDir dir;
  const std::string path = dir.path() + "/t.db";
  SociDb db(Url{"sqlite3", "db=" + path, path}, 1);
  ASSERT_TRUE(db.Connect().ok());
  soci::session stray(soci::sqlite3, "db=" + path);
  Status s = db.Guard("stray", [&]() -> Status {
    struct B {
      long long out = 0;
    };
    db.Prepare<B>(stray, "SELECT 1", [](Prep& p, B& b) { p, soci::into(b.out); });
    return absl::OkStatus();
  });
  EXPECT_TRUE(absl::IsInternal(s)) << s;
  EXPECT_NE(s.message().find("not from the pool"), absl::string_view::npos) << s;
}

TEST(SociDbTest, TheCheckpointerThreadCheckpointsTheWal) {
  bpm::testing::TempDir dir;
  const std::string path = dir.path() + "/t.db";
  SociDb db(Url{"sqlite3", "db=" + path, path}, 2);
  ASSERT_TRUE(db.Connect().ok());
  // No pooled session checkpoints on its own commits.
  for (int i = 0; i < 2; ++i) {
    Status s = db.Session("pragma", [&](soci::session& sql) -> Status {
      int pages = -1;
      sql << "PRAGMA wal_autocheckpoint", soci::into(pages);
      EXPECT_EQ(pages, 0);
      return absl::OkStatus();
    });
    ASSERT_TRUE(s.ok()) << s;
  }
  // About three WAL pages per commit (a row fills a page; the tree above it
  // changes too): some twelve checkpoint intervals, 200 MB of WAL unless it
  // is copied back and started over.
  const std::string blob(4000, 'x');
  constexpr int kRows = 4 * kCheckpointFrames;
  Status s = db.Write("create", [&](soci::session& sql) -> Status {
    sql << "CREATE TABLE filler (n INTEGER PRIMARY KEY, b BLOB)";
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  for (int i = 0; i < kRows; ++i) {
    s = db.Write("fill", [&](soci::session& sql) -> Status {
      sql << "INSERT INTO filler (n, b) VALUES (:n, :b)", soci::use(i), soci::use(blob);
      return absl::OkStatus();
    });
    ASSERT_TRUE(s.ok()) << s;
  }
  for (int i = 0; i < 500 && db.checkpoints() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(db.checkpoints(), 1);
  // Started over, not grown: a few checkpoint intervals at most.
  EXPECT_LT(std::filesystem::file_size(path + "-wal"), 4u * kCheckpointFrames * 4096)
      << "the WAL was never started over";
  s = db.Session("count", [&](soci::session& sql) -> Status {
    int rows = 0;
    sql << "SELECT COUNT(*) FROM filler", soci::into(rows);
    EXPECT_EQ(rows, kRows);
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

}  // namespace
}  // namespace bpm::store::internal
