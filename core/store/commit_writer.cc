#include "core/store/internal/commit_writer.h"

#include <stdexcept>

#include "absl/strings/str_cat.h"

namespace bpm::store::internal {

CommitWriter::CommitWriter(SociDb& db, soci::session& sql) : db_(db), sql_(sql) {
  if (!db.sqlite()) conn_ = static_cast<soci::mysql_session_backend*>(sql.get_backend())->conn_;
}

int64_t CommitWriter::LastInsertRowId() {
  if (!db_.sqlite()) return 0;
  auto* be = static_cast<soci::sqlite3_session_backend*>(sql_.get_backend());
  return sqlite_api::sqlite3_last_insert_rowid(be->conn_);
}

void CommitWriter::Queue(std::string statement, int64_t expect_rows, std::string mismatch) {
  if (!queued_.empty()) queued_ += ";\n";
  queued_ += statement;
  expectations_.push_back(Expectation{expect_rows, std::move(mismatch)});
  if (queued_.size() >= kMaxQueuedBytes) {
    Status s = Flush();
    if (!s.ok() && deferred_.ok()) deferred_ = s;
  }
}

CommitWriter::InsertParts CommitWriter::SplitInsert(const std::string& query) {
  static const std::string kValues = " VALUES ";
  const size_t values = query.find(kValues);
  if (query.rfind("INSERT INTO ", 0) != 0 || values == std::string::npos) {
    throw std::logic_error(absl::StrCat("not an INSERT ... VALUES: ", query));
  }
  // The row list: parenthesized rows separated by commas. The template holds
  // only placeholders there, so parentheses balance without quoting.
  size_t i = values + kValues.size();
  const size_t begin = i;
  size_t end = std::string::npos;
  int depth = 0;
  for (; i < query.size(); ++i) {
    const char c = query[i];
    if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (--depth < 0) break;
      if (depth == 0) {
        end = i + 1;
        size_t next = query.find_first_not_of(' ', end);
        if (next == std::string::npos || query[next] != ',') break;
        i = next;
      }
    } else if (depth == 0 && c != ' ') {
      break;
    }
  }
  if (end == std::string::npos || depth != 0) {
    throw std::logic_error(absl::StrCat("INSERT without a row list: ", query));
  }
  return InsertParts{begin, end};
}

void CommitWriter::AddRows(const std::string& query, const InsertParts& parts,
                           std::string rows) {
  const std::string_view head(query.data(), parts.rows_begin);
  const std::string_view tail(query.data() + parts.rows_end, query.size() - parts.rows_end);
  HeldInsert* held = nullptr;
  for (HeldInsert& h : held_) {
    if (h.head == head && h.tail == tail) {
      held = &h;
      break;
    }
  }
  if (held == nullptr) {
    held = &held_.emplace_back(HeldInsert{std::string(head), std::string(tail), ""});
  } else {
    held->rows += ", ";
  }
  held->rows += rows;
  if (held->rows.size() >= kMaxHeldBytes) {
    HeldInsert full = std::move(*held);
    held_.erase(held_.begin() + (held - held_.data()));
    Queue(absl::StrCat(full.head, full.rows, full.tail), -1, "");
  }
}

void CommitWriter::QueueHeld() {
  std::vector<HeldInsert> held = std::move(held_);
  held_.clear();
  for (HeldInsert& h : held) Queue(absl::StrCat(h.head, h.rows, h.tail), -1, "");
}

Status CommitWriter::Flush() {
  QueueHeld();
  if (!deferred_.ok()) return deferred_;
  if (queued_.empty()) return absl::OkStatus();
  std::string text = std::move(queued_);
  std::vector<Expectation> expectations = std::move(expectations_);
  queued_.clear();
  expectations_.clear();
  if (mysql_real_query(conn_, text.data(), text.size()) != 0) ThrowMysqlError(conn_);
  // One result per statement, in order. Every one is read even after a failed
  // expectation, so the connection is ready for the rollback.
  Status out = absl::OkStatus();
  size_t i = 0;
  for (;;) {
    if (MYSQL_RES* res = mysql_store_result(conn_)) mysql_free_result(res);
    const auto rows = static_cast<int64_t>(mysql_affected_rows(conn_));
    if (i < expectations.size() && expectations[i].rows >= 0 && rows != expectations[i].rows &&
        out.ok()) {
      out = absl::AbortedError(expectations[i].mismatch);
    }
    ++i;
    const int next = mysql_next_result(conn_);
    if (next < 0) break;
    if (next > 0) ThrowMysqlError(conn_);  // statement i failed; the server ran no more
  }
  if (i != expectations.size()) {
    throw std::logic_error(absl::StrCat("the server returned ", i, " results for ",
                                        expectations.size(), " queued statements"));
  }
  return out;
}

}  // namespace bpm::store::internal
