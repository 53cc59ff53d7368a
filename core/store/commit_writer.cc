#include "core/store/internal/commit_writer.h"

#include <stdexcept>

#include "absl/strings/str_cat.h"

namespace bpm::store::internal {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

[[noreturn]] void ThrowMysql(MYSQL* conn) {
  throw soci::mysql_soci_error(mysql_error(conn), static_cast<int>(mysql_errno(conn)));
}

}  // namespace

std::string SqlLiterals::Quote(const std::string& s) const {
  std::string out(s.size() * 2 + 3, '\0');
  out[0] = '\'';
  const unsigned long n = mysql_real_escape_string(conn_, &out[1], s.data(), s.size());
  if (n == static_cast<unsigned long>(-1)) {
    throw std::logic_error("a value cannot be escaped in the connection's character set");
  }
  out[n + 1] = '\'';
  out.resize(n + 2);
  return out;
}

std::string SqlLiterals::Render(const std::string& query) const {
  std::string out;
  out.reserve(query.size() + 64);
  size_t i = 0;
  while (i < query.size()) {
    const char c = query[i];
    if (c != ':' || i + 1 >= query.size() || !IsNameChar(query[i + 1])) {
      out.push_back(c);
      ++i;
      continue;
    }
    size_t end = i + 1;
    while (end < query.size() && IsNameChar(query[end])) ++end;
    const std::string name = query.substr(i + 1, end - i - 1);
    const std::string* literal = nullptr;
    for (const auto& [n, v] : values_) {
      if (n == name) {
        literal = &v;
        break;
      }
    }
    if (literal == nullptr) {
      throw std::logic_error(absl::StrCat("placeholder :", name, " has no value in: ", query));
    }
    out += *literal;
    i = end;
  }
  return out;
}

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
  if (mysql_real_query(conn_, text.data(), text.size()) != 0) ThrowMysql(conn_);
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
    if (next > 0) ThrowMysql(conn_);  // statement i failed; the server ran no more
  }
  if (i != expectations.size()) {
    throw std::logic_error(absl::StrCat("the server returned ", i, " results for ",
                                        expectations.size(), " queued statements"));
  }
  return out;
}

}  // namespace bpm::store::internal
