#include "core/store/internal/commit_writer.h"

#include <stdexcept>

#include "absl/strings/str_cat.h"

namespace bpm::store::internal {

CommitWriter::CommitWriter(SociDb& db, soci::session& sql) : db_(db), sql_(sql) {
  if (!db.sqlite()) conn_ = static_cast<soci::mysql_session_backend*>(sql.get_backend())->conn_;
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

Status CommitWriter::Flush() {
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
