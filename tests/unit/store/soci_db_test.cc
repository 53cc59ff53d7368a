// core/store/internal/soci_db.h: the per-session statement cache refuses a
// session that is not from the pool (INTERNAL), and pooled sessions reuse
// their prepared statements.
#include "core/store/internal/soci_db.h"

#include <gtest/gtest.h>

#include "tests/support/test_env.h"

namespace bpm::store::internal {
namespace {

TEST(SociDbTest, PreparedStatementsAreReusedOnPooledSessions) {
  bpm::testing::TempDir dir;
  SociDb db(Url{"sqlite3", "db=" + dir.path() + "/t.db", dir.path() + "/t.db"}, 2);
  ASSERT_TRUE(db.Init().ok());
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
  ASSERT_TRUE(db.Init().ok());
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

}  // namespace
}  // namespace bpm::store::internal
