#include "core/store/internal/soci_db.h"

#include <chrono>
#include <filesystem>
#include <mutex>
#include <regex>

#include "absl/strings/str_split.h"
#include "core/common/util.h"
#include "core/store/migrations.h"

namespace bpm::store::internal {

using soci::into;
using soci::use;

StatusOr<Url> ParseUrl(const std::string& url) {
  if (url.rfind("sqlite:", 0) == 0) {
    std::string path = url.substr(7);
    if (path.rfind("//", 0) == 0) path = path.substr(2);
    if (path.empty()) {
      return absl::InvalidArgumentError("store url 'sqlite:' needs a file path, e.g. sqlite:data/bpm.db");
    }
    return Url{"sqlite3", absl::StrCat("db=\"", path, "\" timeout=10"), path};
  }
  static const std::regex kMysql(R"(^mysql://([^:@/]+)(:([^@]*))?@([^:/]+)(:(\d+))?/([A-Za-z0-9_]+)$)");
  std::smatch m;
  if (std::regex_match(url, m, kMysql)) {
    std::string connect = absl::StrCat("db=", m[7].str(), " user=", m[1].str(), " host=",
                                       m[4].str(), " charset=utf8mb4");
    if (m[3].matched) absl::StrAppend(&connect, " password='", m[3].str(), "'");
    if (m[6].matched) absl::StrAppend(&connect, " port=", m[6].str());
    return Url{"mysql", connect, ""};
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "store url '", url,
      "' is not understood; use sqlite:PATH or mysql://USER:PASSWORD@HOST:PORT/DATABASE"));
}


Status SociDb::Connect() {
    if (!url_.path.empty()) {
      std::filesystem::path parent = std::filesystem::path(url_.path).parent_path();
      std::error_code ec;
      if (!parent.empty()) std::filesystem::create_directories(parent, ec);
      if (ec) {
        return absl::UnavailableError(
            absl::StrCat("cannot create directory ", parent.string(), ": ", ec.message()));
      }
    }
    if (url_.dialect == "sqlite3") {
      // By default SQLite counts every allocation under one process-wide
      // mutex, which all connections then contend for (a few hundred
      // allocations per command). Nothing reads those statistics. This must
      // precede SQLite's initialisation; if another store already opened
      // SQLite in this process the call is refused and changes nothing.
      static std::once_flag once;
      // SOCI's header puts SQLite's API in namespace sqlite_api.
      std::call_once(once, [] { sqlite_api::sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
    }
    for (int i = 0; i < size_; ++i) {
      Status s = Guard("open", [&]() -> Status {
        soci::session& sql = pool_.at(i);
        if (url_.dialect == "sqlite3") {
          sql.open(soci::sqlite3, url_.connect);
          sql << "PRAGMA journal_mode=WAL";
          sql << "PRAGMA synchronous=FULL";
          sql << "PRAGMA foreign_keys=ON";
          // Replaces SQLite's automatic checkpoint (see the header).
          auto* be = static_cast<soci::sqlite3_session_backend*>(sql.get_backend());
          sqlite_api::sqlite3_wal_hook(be->conn_, &SociDb::WalHook, this);
        } else {
          sql.open(soci::mysql, url_.connect);
          SetUpMysql(sql);
        }
        return absl::OkStatus();
      });
      if (!s.ok()) {
        return absl::UnavailableError(
            absl::StrCat("cannot open ", url_.dialect, " store: ", s.message()));
      }
    }
    if (url_.dialect == "sqlite3") {
      Status s = Guard("open", [&]() -> Status {
        checkpoint_session_ = std::make_unique<soci::session>(soci::sqlite3, url_.connect);
        // Opens the database: a connection that has read nothing yet does
        // not know the file is in WAL mode and checkpoints nothing.
        *checkpoint_session_ << "PRAGMA journal_mode=WAL";
        *checkpoint_session_ << "PRAGMA synchronous=FULL";
        return absl::OkStatus();
      });
      if (!s.ok()) {
        return absl::UnavailableError(absl::StrCat("cannot open sqlite3 store: ", s.message()));
      }
      checkpointer_ = std::thread([this] { Checkpointer(); });
    }
    return absl::OkStatus();
  }

SociDb::~SociDb() {
  {
    std::lock_guard<std::mutex> lock(checkpoint_mu_);
    checkpoint_stop_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
}

sqlite_api::sqlite3_stmt* SociDb::RawStatement(soci::session& sql, const std::string& query) {
  RawCache* cache = &raw_caches_[PoolIndex(sql)];
  auto it = cache->statements.find(query);
  if (it != cache->statements.end()) return it->second;
  auto* conn = static_cast<soci::sqlite3_session_backend*>(sql.get_backend())->conn_;
  sqlite_api::sqlite3_stmt* st = nullptr;
  const int rc = sqlite_api::sqlite3_prepare_v3(conn, query.data(), static_cast<int>(query.size()),
                                                SQLITE_PREPARE_PERSISTENT, &st, nullptr);
  if (rc != SQLITE_OK) {
    sqlite_api::sqlite3_finalize(st);
    throw soci::sqlite3_soci_error(
        absl::StrCat(sqlite_api::sqlite3_errmsg(conn), " while preparing \"", query, "\""), rc);
  }
  cache->statements.emplace(query, st);
  return st;
}

void SociDb::ThrowSqlite(sqlite_api::sqlite3_stmt* st, int rc) {
  throw soci::sqlite3_soci_error(
      absl::StrCat(sqlite_api::sqlite3_errmsg(sqlite_api::sqlite3_db_handle(st)), " while running \"",
                   sqlite_api::sqlite3_sql(st), "\""),
      rc);
}

int SociDb::WalHook(void* self, sqlite_api::sqlite3*, const char*, int frames) {
  if (frames >= kCheckpointFrames) {
    auto* db = static_cast<SociDb*>(self);
    {
      std::lock_guard<std::mutex> lock(db->checkpoint_mu_);
      db->checkpoint_wanted_ = true;
    }
    db->checkpoint_cv_.notify_one();
  }
  return SQLITE_OK;
}

void SociDb::Checkpointer() {
  SetThreadName("bpm-checkpoint");
  auto* be = static_cast<soci::sqlite3_session_backend*>(checkpoint_session_->get_backend());
  sqlite_api::sqlite3_busy_timeout(be->conn_, kCheckpointWaitMs);
  std::unique_lock<std::mutex> lock(checkpoint_mu_);
  for (;;) {
    checkpoint_cv_.wait(lock, [this] { return checkpoint_stop_ || checkpoint_wanted_; });
    if (checkpoint_stop_) return;
    checkpoint_wanted_ = false;
    lock.unlock();
    // The first pass (PASSIVE: never waits) copies the bulk of the WAL while
    // the writer goes on. The second, with writers held off, copies the few
    // pages committed meanwhile and waits (RESTART, up to the busy timeout)
    // for readers of older snapshots to finish, so that the next commit
    // starts the WAL over from its beginning. Without it the writer always
    // stays ahead of the copy, or some reader holds an old snapshot, and the
    // WAL grows without bound. BUSY (a reader outlasted the timeout) and I/O
    // errors leave the WAL to the next try: nothing is lost, the WAL only
    // grows until a checkpoint gets through.
    int log = 0;
    int copied = 0;
    sqlite_api::sqlite3_wal_checkpoint_v2(be->conn_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log,
                                          &copied);
    {
      {
        std::lock_guard<std::mutex> gate(checkpoint_mu_);
        checkpoint_pending_ = true;
      }
      std::lock_guard<std::mutex> writers(write_mu_);
      {
        std::lock_guard<std::mutex> gate(checkpoint_mu_);
        checkpoint_pending_ = false;
      }
      checkpoint_turn_cv_.notify_all();
      sqlite_api::sqlite3_wal_checkpoint_v2(be->conn_, nullptr, SQLITE_CHECKPOINT_RESTART, &log,
                                            &copied);
    }
    lock.lock();
    if (copied > 0) ++checkpoints_;
  }
}

void SociDb::SetUpMysql(soci::session& sql) {
  if (sql.get_backend_name() != "mysql") return;
  sql << "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";
  MYSQL* conn = static_cast<soci::mysql_session_backend*>(sql.get_backend())->conn_;
  if (mysql_set_server_option(conn, MYSQL_OPTION_MULTI_STATEMENTS_ON) != 0) {
    throw soci::mysql_soci_error(mysql_error(conn), static_cast<int>(mysql_errno(conn)));
  }
}

long SociDb::checkpoints() const {
  std::lock_guard<std::mutex> lock(checkpoint_mu_);
  return checkpoints_;
}


Status SociDb::Migrate() {
    return Write("migrate", [&](soci::session& sql) -> Status {
      bool mysql = url_.dialect == "mysql";
      if (mysql) {
        int got = 0;
        sql << "SELECT GET_LOCK('bpm_migrate', 60)", into(got);
        if (got != 1) return absl::UnavailableError("migrate: could not take the migration lock");
      }
      sql << "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT NOT NULL PRIMARY KEY, "
             "name VARCHAR(200) NOT NULL, applied_ms BIGINT NOT NULL)";
      long long current = 0;
      soci::indicator ind;
      sql << "SELECT MAX(version) FROM schema_migrations", into(current, ind);
      if (ind != soci::i_ok) current = 0;
      for (const Migration& m : Migrations(url_.dialect)) {
        if (m.number <= current) continue;
        soci::transaction tr(sql);
        for (const std::string& stmt : SplitStatements(m.sql)) sql << stmt;
        long long n = m.number;
        std::string name = m.name;
        long long now = static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                   std::chrono::system_clock::now().time_since_epoch())
                                                   .count());
        sql << "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (:v, :n, :t)",
            use(n, "v"), use(name, "n"), use(now, "t");
        tr.commit();
      }
      if (mysql) {
        int released = 0;
        sql << "SELECT RELEASE_LOCK('bpm_migrate')", into(released);
      }
      return absl::OkStatus();
    });
  }

std::vector<std::string> SociDb::SplitStatements(const std::string& text) {
    std::string cleaned;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      absl::string_view trimmed = line;
      while (!trimmed.empty() && trimmed.front() == ' ') trimmed.remove_prefix(1);
      if (trimmed.rfind("--", 0) == 0) continue;
      absl::StrAppend(&cleaned, line, "\n");
    }
    std::vector<std::string> out;
    for (absl::string_view part : absl::StrSplit(cleaned, ';')) {
      std::string s(part);
      if (s.find_first_not_of(" \n\t\r") != std::string::npos) out.push_back(s);
    }
    return out;
  }


}  // namespace bpm::store::internal
