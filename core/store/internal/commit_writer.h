// Internal to core/store: where the statements of a commit go.
//
// On SQLite each statement runs at once, through the session's cache of
// prepared statements. On MariaDB every statement is a network round trip, and
// a batch of commits wrote about nine per command, one after another on the one
// connection that holds the audit head's lock. There the writer renders each
// statement to text instead (every value escaped by the client library for the
// connection's character set) and queues it; Flush() sends the queue as one
// multi-statement query and reads each statement's outcome in order. A batch
// of commits then costs a few round trips, not hundreds.
//
// Both paths check the same expectations: a statement given expect_rows must
// affect exactly that many rows, or the commit is ABORTED with the caller's
// message (an optimistic check lost to a concurrent command). On SQLite the
// check happens in Exec; on MariaDB in Flush, after the whole queue ran. The
// caller rolls the transaction back on any error either way.
//
// Thread safety: none; one writer per leased session, used by its leaseholder.
// Errors: Exec and Flush throw SOCI errors (also for MariaDB errors in a
// queued statement, with the server's error number), which SociDb::Guard
// translates; a failed expectation is returned as ABORTED.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/common/status.h"
#include "core/store/internal/mysql_text.h"
#include "core/store/internal/soci_db.h"

namespace bpm::store::internal {

class CommitWriter {
 public:
  // The smallest max_allowed_packet Store::Open(require_durable) accepts on
  // MariaDB: a full queue (kMaxQueuedBytes) plus the statement that took it
  // past, which may carry a 4 MiB document as base64. MariaDB's default.
  static constexpr int64_t kMinServerPacketBytes = 16 << 20;

  // sql: a session leased from db, inside the caller's transaction.
  CommitWriter(SociDb& db, soci::session& sql);
  CommitWriter(const CommitWriter&) = delete;
  CommitWriter& operator=(const CommitWriter&) = delete;

  soci::session& session() { return sql_; }

  // SQLite: the row_id the last INSERT on this session assigned. MariaDB
  // (queued statements): 0.
  int64_t LastInsertRowId();

  // Runs (SQLite) or queues (MariaDB) query with b's values, named by
  // bind(p, b) as for SociDb::Prepare.
  template <typename B, typename BindFn>
  Status Exec(const std::string& query, BindFn&& bind, B b) {
    return Exec(query, std::forward<BindFn>(bind), std::move(b), -1, [] { return std::string(); });
  }

  // The same, and the statement must affect exactly expect_rows rows, else
  // ABORTED with the message mismatch() returns.
  template <typename B, typename BindFn, typename MismatchFn>
  Status Exec(const std::string& query, BindFn&& bind, B b, int64_t expect_rows,
              MismatchFn&& mismatch) {
    if (db_.sqlite()) {
      auto& p = db_.Prepare<B>(sql_, query, std::forward<BindFn>(bind));
      p.b = std::move(b);
      if (SociDb::Exec(p) != expect_rows && expect_rows >= 0) {
        return absl::AbortedError(mismatch());
      }
      return absl::OkStatus();
    }
    SqlLiterals literals(conn_);
    bind(literals, b);
    Queue(literals.Render(query), expect_rows, expect_rows >= 0 ? mismatch() : std::string());
    return absl::OkStatus();
  }

  // An INSERT of rows that no later statement of the transaction reads or
  // changes (history events, new tasks, snapshots, documents, timers).
  // SQLite: Exec. MariaDB: its rows join those of every other Insert with the
  // same text around the VALUES list, from any commit of the batch, and go
  // out as one multi-row INSERT when the writer flushes: a batch of n commits
  // then sends one INSERT per table instead of n. The server still checks
  // every row (a duplicate key fails the statement, and Flush throws).
  template <typename B, typename BindFn>
  Status Insert(const std::string& query, BindFn&& bind, B b) {
    if (db_.sqlite()) return Exec(query, std::forward<BindFn>(bind), std::move(b));
    const InsertParts parts = SplitInsert(query);
    SqlLiterals literals(conn_);
    bind(literals, b);
    AddRows(query, parts, literals.Render(query.substr(parts.rows_begin,
                                                       parts.rows_end - parts.rows_begin)));
    return absl::OkStatus();
  }

  // Sends what is queued (nothing to do on SQLite), the held INSERTs last.
  // Call before reading in the same transaction, and before committing it.
  Status Flush();

 private:
  // query[0, rows_begin) is "INSERT INTO t (...) VALUES ", query[rows_begin,
  // rows_end) the row list, the rest what follows it (e.g. ON DUPLICATE KEY
  // UPDATE ...). Throws std::logic_error for a query of another shape.
  struct InsertParts {
    size_t rows_begin;
    size_t rows_end;
  };
  static InsertParts SplitInsert(const std::string& query);
  struct HeldInsert {
    std::string head;
    std::string tail;
    std::string rows;  // rendered rows, comma-separated
  };
  void AddRows(const std::string& query, const InsertParts& parts, std::string rows);
  // Moves the held INSERTs to the queue.
  void QueueHeld();
  // A held INSERT this large goes to the queue at once.
  static constexpr size_t kMaxHeldBytes = 1 << 20;

  struct Expectation {
    int64_t rows;
    std::string mismatch;
  };
  // A queue this large is sent at once; well under MariaDB's default 16 MB
  // max_allowed_packet.
  static constexpr size_t kMaxQueuedBytes = 4 << 20;
  static_assert(kMaxQueuedBytes + (4 << 20) / 3 * 4 + (1 << 20) <=
                static_cast<size_t>(kMinServerPacketBytes));

  void Queue(std::string statement, int64_t expect_rows, std::string mismatch);

  SociDb& db_;
  soci::session& sql_;
  MYSQL* conn_ = nullptr;  // MariaDB only
  std::string queued_;
  std::vector<Expectation> expectations_;  // one per queued statement
  std::vector<HeldInsert> held_;           // MariaDB: Insert's rows, by statement
  Status deferred_;  // a failed expectation of an earlier automatic flush
};

}  // namespace bpm::store::internal
