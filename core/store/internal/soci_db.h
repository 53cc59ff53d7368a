// Internal to core/store: the SOCI connection pool, error translation and
// migrations shared by every SOCI-backed repository. Only core/store/*.cc
// include this (and thus SOCI).
//
// Thread safety: SociDb is safe to share; Session() leases a pooled session
// per call; Write() additionally serializes writers on SQLite.
#pragma once

#include <soci/mysql/soci-mysql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/common/status.h"

namespace bpm::store::internal {

using Prep = soci::details::prepare_temp_type;

constexpr int kSqliteConstraint = 19;
constexpr int kSqliteBusy = 5;
constexpr int kSqliteLocked = 6;
constexpr int kMysqlDuplicateKey = 1062;

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

class SociDb {
 public:
  SociDb(Url url, int pool_size) : url_(std::move(url)), pool_(pool_size), size_(pool_size) {}
  SociDb(const SociDb&) = delete;
  SociDb& operator=(const SociDb&) = delete;

  // Opens every pooled session and applies pending migrations.
  // UNAVAILABLE when the database cannot be reached.
  Status Init();
  const std::string& dialect() const { return url_.dialect; }
  bool sqlite() const { return url_.dialect == "sqlite3"; }

  // Converts SOCI exceptions into statuses. Constraint violations become
  // ABORTED (a concurrent command took the row); lost connections UNAVAILABLE.
  template <typename Fn>
  auto Guard(const char* what, Fn&& fn, soci::session* sql = nullptr) -> decltype(fn()) {
    try {
      return fn();
    } catch (const soci::mysql_soci_error& e) {
      if (e.err_num_ == kMysqlDuplicateKey) {
        return absl::AbortedError(absl::StrCat(what, ": a concurrent command wrote the same row: ",
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
    }
  }

  // A session that lost its server is reconnected so the next lease works.
  void Reconnect(soci::session* sql) {
    if (sql == nullptr) return;
    try {
      sql->reconnect();
    } catch (const soci::soci_error& e) {
      // Still unreachable: the next use fails again and retries the reconnect.
      (void)e;
    }
  }

  // Leases a session from the pool for fn.
  template <typename Fn>
  auto Session(const char* what, Fn&& fn) -> decltype(fn(std::declval<soci::session&>())) {
    soci::session sql(pool_);
    return Guard(what, [&]() { return fn(sql); }, &sql);
  }

  // Like Session, but serialized with other writers on SQLite.
  template <typename Fn>
  auto Write(const char* what, Fn&& fn) -> decltype(fn(std::declval<soci::session&>())) {
    std::unique_lock<std::mutex> lock(write_mu_, std::defer_lock);
    if (url_.dialect == "sqlite3") lock.lock();
    return Session(what, std::forward<Fn>(fn));
  }

  Status Migrate();

 private:
  static std::vector<std::string> SplitStatements(const std::string& text);

  Url url_;
  soci::connection_pool pool_;
  int size_;
  std::mutex write_mu_;
};

}  // namespace bpm::store::internal
