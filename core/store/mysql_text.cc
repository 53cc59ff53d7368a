#include "core/store/internal/mysql_text.h"

#include <stdexcept>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace bpm::store::internal {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

void ThrowMysqlError(MYSQL* conn) {
  throw soci::mysql_soci_error(mysql_error(conn), static_cast<int>(mysql_errno(conn)));
}

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

std::string RowReader::Next() {
  if (next_ >= columns_) {
    throw std::logic_error(absl::StrCat("a row of ", columns_, " columns read past its end"));
  }
  const unsigned i = next_++;
  if (row_[i] == nullptr) {
    throw std::logic_error(absl::StrCat("column ", i + 1, " is NULL"));
  }
  return std::string(row_[i], lengths_[i]);
}

int64_t RowReader::ToInt(const std::string& text) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(text, &v)) {
    throw std::logic_error(absl::StrCat("'", text, "' is not an integer"));
  }
  return v;
}

void RowReader::Finish() const {
  if (next_ != columns_) {
    throw std::logic_error(
        absl::StrCat("a row has ", columns_, " columns but ", next_, " were read"));
  }
}

void MultiSelect(MYSQL* conn, const std::string& text, size_t count,
                 const std::function<void(size_t, RowReader&)>& row) {
  if (mysql_real_query(conn, text.data(), text.size()) != 0) ThrowMysqlError(conn);
  size_t k = 0;
  std::exception_ptr failed;  // the first decoding error; every result is read first
  for (;;) {
    MYSQL_RES* res = mysql_store_result(conn);
    if (res == nullptr && mysql_field_count(conn) != 0) ThrowMysqlError(conn);
    if (res != nullptr) {
      const unsigned columns = mysql_num_fields(res);
      while (MYSQL_ROW r = mysql_fetch_row(res)) {
        if (failed) continue;
        try {
          if (k >= count) throw std::logic_error("more results than statements");
          RowReader reader(r, mysql_fetch_lengths(res), columns);
          row(k, reader);
          reader.Finish();
        } catch (...) {
          failed = std::current_exception();
        }
      }
      mysql_free_result(res);
    }
    ++k;
    const int next = mysql_next_result(conn);
    if (next < 0) break;
    if (next > 0) ThrowMysqlError(conn);
  }
  if (failed) std::rethrow_exception(failed);
  if (k != count) {
    throw std::logic_error(absl::StrCat("the server returned ", k, " results for ", count,
                                        " statements"));
  }
}

}  // namespace bpm::store::internal
