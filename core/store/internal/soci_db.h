// Internal to core/store: the SOCI connection pool, error translation and
// migrations shared by every SOCI-backed repository. Only core/store/*.cc
// include this (and thus SOCI).
//
// Thread safety: SociDb is safe to share; Session() leases a pooled session
// per call; Write() additionally serializes writers on SQLite.
//
// SQLite checkpoints: a commit that leaves the WAL at kCheckpointFrames pages
// or more wakes a checkpointer thread ("bpm-checkpoint", own connection) that
// copies the WAL back into the database file: the bulk while writes go on,
// the last pages with writers held off so the WAL can start over (see
// Checkpointer()). SQLite's own automatic checkpoint would run inside that commit,
// on the writer's thread, with its fsyncs: every thousandth page the writer
// (and every command in its batch) waited for a whole checkpoint.
#pragma once

#include <soci/mysql/soci-mysql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/common/status.h"
#include "core/store/internal/sqlite_rows.h"

namespace bpm::store::internal {

using Prep = soci::details::prepare_temp_type;

constexpr int kSqliteConstraint = 19;
constexpr int kSqliteBusy = 5;
constexpr int kSqliteLocked = 6;
constexpr int kMysqlDuplicateKey = 1062;
constexpr int kMysqlDeadlock = 1213;         // the transaction was rolled back
constexpr int kMysqlLockWaitTimeout = 1205;
constexpr int kMysqlServerShutdown = 1053;
// WAL size (pages) at which a commit wakes the checkpointer: four times
// SQLite's default automatic checkpoint size (a WAL file of about 16 MB at
// 4 KB pages, reused from its start after each checkpoint). A page committed
// several times between two checkpoints is copied into the database once, so
// a longer interval writes less: on the approval workload (four or five WAL
// pages a transition), in alternated runs, 4,000 against 1,000 wrote 9-21 %
// fewer bytes and ran 4-8 % faster (docs/performance.md).
constexpr int kCheckpointFrames = 4000;
// How long a checkpoint waits, writers held off, for readers of an older
// snapshot so the WAL can start over (reads take well under a millisecond).
constexpr int kCheckpointWaitMs = 50;

struct Url {
  std::string dialect;
  std::string connect;  // SOCI connection string
  std::string path;     // sqlite file
};

// Parses sqlite:PATH or mysql://USER:PASSWORD@HOST:PORT/DB.
StatusOr<Url> ParseUrl(const std::string& url);

// Runs a prepared SELECT and collects every row: into_row(p, row) adds one
// soci::into per selected column to p; bind_params(p) adds the soci::use's.
template <typename Row, typename IntoRow, typename Bind>
std::vector<Row> FetchRows(soci::session& sql, const std::string& query, IntoRow&& into_row,
                           Bind&& bind_params) {
  std::vector<Row> out;
  Row row;
  Prep p = (sql.prepare << query);
  into_row(p, row);
  bind_params(p);
  soci::statement st(p);
  st.execute();
  while (st.fetch()) out.push_back(row);
  return out;
}

// Base of SociDb::Prepared (type-erased cache entries).
struct PreparedBase {
  virtual ~PreparedBase() = default;
  bool broken = false;  // threw mid-run: prepared again on next use
};

class SociDb {
 public:
  SociDb(Url url, int pool_size)
      : url_(std::move(url)),
        pool_(pool_size),
        size_(pool_size),
        caches_(pool_size),
        raw_caches_(pool_size) {}
  SociDb(const SociDb&) = delete;
  SociDb& operator=(const SociDb&) = delete;
  // Stops the checkpointer (the last connection to close checkpoints).
  ~SociDb();

  // Opens every pooled session (and on SQLite starts the checkpointer).
  // UNAVAILABLE when the database cannot be reached. Migrate() then applies
  // the pending migrations.
  Status Connect();
  const std::string& dialect() const { return url_.dialect; }
  bool sqlite() const { return url_.dialect == "sqlite3"; }
  int pool_size() const { return size_; }

  // Converts SOCI exceptions into statuses. Constraint violations, MySQL
  // deadlocks and lock wait timeouts become ABORTED (a concurrent command
  // won; retry); lost connections and a server shutting down UNAVAILABLE.
  template <typename Fn>
  auto Guard(const char* what, Fn&& fn, soci::session* sql = nullptr) -> decltype(fn()) {
    try {
      return fn();
    } catch (const soci::mysql_soci_error& e) {
      if (e.err_num_ == kMysqlDuplicateKey) {
        return absl::AbortedError(absl::StrCat(what, ": a concurrent command wrote the same row: ",
                                               e.get_error_message()));
      }
      if (e.err_num_ == kMysqlDeadlock || e.err_num_ == kMysqlLockWaitTimeout) {
        return absl::AbortedError(absl::StrCat(what, ": lost a lock to a concurrent command: ",
                                               e.get_error_message()));
      }
      if (e.err_num_ == kMysqlServerShutdown) {
        Reconnect(sql);
        return absl::UnavailableError(absl::StrCat(what, ": database shutting down: ",
                                                   e.get_error_message()));
      }
      if (e.get_error_category() == soci::soci_error::connection_error) {
        Reconnect(sql);
        return absl::UnavailableError(absl::StrCat(what, ": database unreachable: ",
                                                   e.get_error_message()));
      }
      return absl::InternalError(absl::StrCat(what, ": ", e.get_error_message()));
    } catch (const soci::sqlite3_soci_error& e) {
      if (e.result() == kSqliteConstraint) {
        return absl::AbortedError(absl::StrCat(what, ": a concurrent command wrote the same row: ",
                                               e.get_error_message()));
      }
      if (e.result() == kSqliteBusy || e.result() == kSqliteLocked) {
        return absl::UnavailableError(absl::StrCat(what, ": database busy: ", e.get_error_message()));
      }
      return absl::InternalError(absl::StrCat(what, ": ", e.get_error_message()));
    } catch (const soci::soci_error& e) {
      if (e.get_error_category() == soci::soci_error::connection_error) {
        Reconnect(sql);
        return absl::UnavailableError(absl::StrCat(what, ": database unreachable: ",
                                                   e.get_error_message()));
      }
      return absl::InternalError(absl::StrCat(what, ": ", e.get_error_message()));
    } catch (const std::bad_cast& e) {
      return absl::InternalError(absl::StrCat(what, ": column type mismatch: ", e.what()));
    } catch (const std::logic_error& e) {
      return absl::InternalError(absl::StrCat(what, ": ", e.what()));
    }
  }

  // A session that lost its server is reconnected so the next lease works.
  void Reconnect(soci::session* sql) {
    if (sql == nullptr) return;
    CacheOf(*sql).clear();  // its statements belong to the dead connection
    try {
      sql->reconnect();
      SetUpMysql(*sql);
    } catch (const soci::soci_error& e) {
      // Still unreachable: the next use fails again and retries the reconnect.
      (void)e;
    }
  }

  // Leases a session from the pool for fn.
  template <typename Fn>
  auto Session(const char* what, Fn&& fn) -> decltype(fn(std::declval<soci::session&>())) {
    struct Lease {
      soci::connection_pool& pool;
      size_t pos;
      ~Lease() { pool.give_back(pos); }
    } lease{pool_, pool_.lease()};
    soci::session& sql = pool_.at(lease.pos);
    if (sql.get_backend() == nullptr) {
      // An earlier reconnect failed (the server was down) and left no
      // connection: try again now, or report the database still unreachable.
      CacheOf(sql).clear();
      try {
        sql.reconnect();
        SetUpMysql(sql);
      } catch (const soci::soci_error& e) {
        return absl::UnavailableError(
            absl::StrCat(what, ": database unreachable: ", e.get_error_message()));
      }
    }
    return Guard(what, [&]() { return fn(sql); }, &sql);
  }

  // A statement prepared once per pooled session and run again with new
  // values: soci::use and soci::into refer to members of `b`, which the
  // caller fills before each run. Saves the parse and plan of every call.
  template <typename B>
  struct Prepared : PreparedBase {
    B b;
    std::unique_ptr<soci::statement> st;
    bool sqlite = false;
  };

  // The statement for query on this session, prepared on first use with
  // bind(prep, b) adding the use/into elements.
  template <typename B, typename BindFn>
  Prepared<B>& Prepare(soci::session& sql, const std::string& query, BindFn&& bind) {
    auto& cache = CacheOf(sql);
    auto it = cache.find(query);
    if (it != cache.end() && !it->second->broken) return static_cast<Prepared<B>&>(*it->second);
    auto entry = std::make_unique<Prepared<B>>();
    Prep p = (sql.prepare << query);
    bind(p, entry->b);
    entry->st = std::make_unique<soci::statement>(p);
    entry->sqlite = sqlite();
    Prepared<B>& out = *entry;
    cache[query] = std::move(entry);
    return out;
  }

  // Rows of a prepared "... WHERE col = :k" query; into_row(prep, row)
  // adds the soci::into of each selected column. When into_row also takes a
  // SqliteRowReader (a generic lambda over a template Into), SQLite reads
  // the rows straight off the statement instead of through SOCI.
  template <typename Row, typename IntoRow>
  std::vector<Row> FetchByKey(soci::session& sql, const std::string& query,
                              const std::string& key, IntoRow&& into_row) {
    if constexpr (std::is_invocable_v<IntoRow&, SqliteRowReader&, Row&>) {
      if (sqlite()) return FetchByKeySqlite<Row>(sql, query, key, into_row);
    }
    struct B {
      std::string k;
      Row row;
    };
    auto& p = Prepare<B>(sql, query, [&](Prep& prep, B& b) {
      into_row(prep, b.row);
      prep, soci::use(b.k, "k");
    });
    p.b.k = key;
    return Fetch<Row>(p, [](const B& b) { return b.row; });
  }

  // Runs a prepared statement without a result set; the affected rows.
  template <typename B>
  static long long Exec(Prepared<B>& p) {
    return Finally(p, [&] {
      p.st->execute(true);
      return p.st->get_affected_rows();
    });
  }

  // Runs a prepared SELECT; row(b) is copied out after each fetch.
  template <typename Row, typename B, typename RowFn>
  static std::vector<Row> Fetch(Prepared<B>& p, RowFn&& row) {
    return Finally(p, [&] {
      std::vector<Row> out;
      if (p.st->execute(true)) {
        do {
          out.push_back(row(p.b));
        } while (p.st->fetch());
      }
      return out;
    });
  }

  // Like Session, but serialized with other writers on SQLite. Counted in
  // untracked_writes() once fn returns (whether or not it wrote anything).
  template <typename Fn>
  auto Write(const char* what, Fn&& fn) -> decltype(fn(std::declval<soci::session&>())) {
    struct Count {
      std::atomic<uint64_t>& n;
      ~Count() { n.fetch_add(1, std::memory_order_release); }
    } count{untracked_writes_};
    return WriteTracked(what, std::forward<Fn>(fn));
  }

  // Write for a caller that tells the instance cache what it wrote itself
  // (the group commit, timer leases): not counted.
  template <typename Fn>
  auto WriteTracked(const char* what, Fn&& fn) -> decltype(fn(std::declval<soci::session&>())) {
    std::unique_lock<std::mutex> lock(write_mu_, std::defer_lock);
    if (url_.dialect == "sqlite3") {
      // A checkpoint waiting for the write lock goes first: a busy writer
      // re-taking the (unfair) mutex could starve it, and the WAL would grow.
      std::unique_lock<std::mutex> gate(checkpoint_mu_);
      checkpoint_turn_cv_.wait(gate, [this] { return !checkpoint_pending_; });
      gate.unlock();
      lock.lock();
    }
    return Session(what, std::forward<Fn>(fn));
  }

  // Applies the dialect's pending migrations (core/store/migrations/).
  Status Migrate();

  // How many Write() calls have returned: writes an instance cache
  // (instance_cache.h) cannot follow, so it starts over when this moves.
  uint64_t untracked_writes() const { return untracked_writes_.load(std::memory_order_acquire); }

  // A MariaDB session's settings, on open and after every reconnect: READ
  // COMMITTED, and multi-statement queries (CommitWriter). Throws SOCI errors.
  static void SetUpMysql(soci::session& sql);

  // Checkpoints that copied pages back into the database file (0 on MySQL);
  // for tests.
  long checkpoints() const;

 private:
  static std::vector<std::string> SplitStatements(const std::string& text);

  // sqlite3_wal_hook: called after each commit with the WAL's size in pages.
  static int WalHook(void* self, sqlite_api::sqlite3* db, const char* name, int frames);
  void Checkpointer();

  // Resets a prepared statement after use so SQLite ends its read
  // transaction (a statement left mid-result would pin an old snapshot on
  // its connection); a statement that threw is dropped from the cache.
  template <typename B, typename Fn>
  static auto Finally(Prepared<B>& p, Fn&& fn) -> decltype(fn()) {
    struct Reset {
      Prepared<B>& p;
      bool ok = false;
      ~Reset() {
        if (!ok) p.broken = true;
        if (p.sqlite) {
          auto* be = static_cast<soci::sqlite3_statement_backend*>(p.st->get_backend());
          if (be != nullptr && be->stmt_ != nullptr) sqlite_api::sqlite3_reset(be->stmt_);
        }
      }
    } reset{p};
    auto out = fn();
    reset.ok = true;
    return out;
  }

  // FetchByKey on SQLite without SOCI: the statement prepared once per
  // session, :k bound as parameter 1, each row read by a SqliteRowReader.
  template <typename Row, typename IntoRow>
  std::vector<Row> FetchByKeySqlite(soci::session& sql, const std::string& query,
                                    const std::string& key, IntoRow& into_row) {
    sqlite_api::sqlite3_stmt* st = RawStatement(sql, query);
    struct Reset {  // ends the statement's read, and drops the borrowed key
      sqlite_api::sqlite3_stmt* st;
      ~Reset() {
        sqlite_api::sqlite3_reset(st);
        sqlite_api::sqlite3_clear_bindings(st);
      }
    } reset{st};
    int rc = sqlite_api::sqlite3_bind_text(st, 1, key.data(), static_cast<int>(key.size()),
                                           SQLITE_STATIC);
    if (rc != SQLITE_OK) ThrowSqlite(st, rc);
    std::vector<Row> out;
    while ((rc = sqlite_api::sqlite3_step(st)) == SQLITE_ROW) {
      SqliteRowReader reader(st);
      into_row(reader, out.emplace_back());
      reader.Finish();
    }
    if (rc != SQLITE_DONE) ThrowSqlite(st, rc);
    return out;
  }
  // The session's raw statement for query (one parameter, :k), prepared on
  // first use. Throws soci::sqlite3_soci_error.
  sqlite_api::sqlite3_stmt* RawStatement(soci::session& sql, const std::string& query);
  [[noreturn]] static void ThrowSqlite(sqlite_api::sqlite3_stmt* st, int rc);

  // Raw SQLite statements of a pooled session; finalized with the cache,
  // before the pool closes the connection (declared after pool_).
  struct RawCache {
    std::unordered_map<std::string, sqlite_api::sqlite3_stmt*> statements;
    RawCache() = default;
    RawCache(RawCache&& other) noexcept : statements(std::move(other.statements)) {}
    RawCache(const RawCache&) = delete;
    RawCache& operator=(const RawCache&) = delete;
    ~RawCache() {
      for (auto& [query, st] : statements) sqlite_api::sqlite3_finalize(st);
    }
  };

  using Cache = std::unordered_map<std::string, std::unique_ptr<PreparedBase>>;
  // The statement cache of a pooled session (found by address). A session
  // from anywhere else has no cache of its own, and sharing one would let
  // two threads use the same statements: std::logic_error, which Guard
  // reports as INTERNAL.
  Cache& CacheOf(soci::session& sql) { return caches_[PoolIndex(sql)]; }
  // The pool position of sql; std::logic_error for any other session.
  size_t PoolIndex(soci::session& sql) {
    for (int i = 0; i < size_; ++i) {
      if (&pool_.at(i) == &sql) return static_cast<size_t>(i);
    }
    throw std::logic_error("prepared statement on a session that is not from the pool");
  }

  Url url_;
  soci::connection_pool pool_;
  int size_;
  std::vector<Cache> caches_;  // one per pooled session, used by its leaseholder only
  std::vector<RawCache> raw_caches_;  // SQLite: likewise
  std::mutex write_mu_;
  std::atomic<uint64_t> untracked_writes_{0};

  // SQLite only: the checkpointer thread, its connection, and its wake-ups.
  std::unique_ptr<soci::session> checkpoint_session_;
  std::thread checkpointer_;
  mutable std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;  // guarded by checkpoint_mu_
  bool checkpoint_pending_ = false;  // the checkpointer waits for write_mu_; guarded likewise
  std::condition_variable checkpoint_turn_cv_;  // writers wait for it to get write_mu_
  bool checkpoint_stop_ = false;    // guarded by checkpoint_mu_
  long checkpoints_ = 0;            // guarded by checkpoint_mu_
};

}  // namespace bpm::store::internal
