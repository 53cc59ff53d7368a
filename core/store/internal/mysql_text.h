// Internal to core/store: MariaDB's text protocol, for what SOCI cannot do
// (several statements in one round trip). Values are rendered as escaped
// literals and rows decoded from text, both through the same "p, use(...)"
// and "p, into(...)" binding functions that SOCI statements use, so a
// statement's columns and parameters are named in one place.
//
// Thread safety: none; each object serves one leased session.
// Errors: std::logic_error for a placeholder without a value, a column that
// cannot be decoded or a result of the wrong shape (SociDb::Guard reports
// INTERNAL); soci::mysql_soci_error, with the server's error number, for what
// the server refuses (Guard maps it like any SOCI error).
#pragma once

#include <soci/mysql/soci-mysql.h>
#include <soci/soci.h>

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace bpm::store::internal {

// Throws the connection's last error as a soci::mysql_soci_error.
[[noreturn]] void ThrowMysqlError(MYSQL* conn);

// Collects the values of "p, use(value, "name"), ..." bindings as SQL
// literals and substitutes them for the :name placeholders of a query.
class SqlLiterals {
 public:
  explicit SqlLiterals(MYSQL* conn) : conn_(conn) {}

  template <typename T>
  SqlLiterals& operator,(const soci::details::use_container<T, soci::details::no_indicator>& u) {
    using V = std::remove_const_t<T>;
    if constexpr (std::is_same_v<V, std::string>) {
      Add(u.name, Quote(u.t));
    } else {
      static_assert(std::is_integral_v<V>, "only strings and integers are rendered");
      Add(u.name, std::to_string(u.t));
    }
    return *this;
  }

  // query with every :name replaced by its literal.
  std::string Render(const std::string& query) const;

 private:
  std::string Quote(const std::string& s) const;
  void Add(const std::string& name, std::string literal) {
    values_.emplace_back(name, std::move(literal));
  }

  MYSQL* conn_;
  std::vector<std::pair<std::string, std::string>> values_;
};

// One row of a text-protocol result, read column by column through
// "p, into(a), into(b), ..." in select-list order. NULL is refused, as SOCI
// refuses it without an indicator.
class RowReader {
 public:
  RowReader(MYSQL_ROW row, const unsigned long* lengths, unsigned columns)
      : row_(row), lengths_(lengths), columns_(columns) {}

  template <typename T>
  RowReader& operator,(const soci::details::into_container<T, soci::details::no_indicator>& c) {
    const std::string text = Next();
    if constexpr (std::is_same_v<T, std::string>) {
      c.t = text;
    } else {
      static_assert(std::is_integral_v<T>, "only strings and integers are decoded");
      c.t = static_cast<T>(ToInt(text));
    }
    return *this;
  }

  // Every column was read (a select list longer than its into's is a bug).
  void Finish() const;

 private:
  std::string Next();
  static int64_t ToInt(const std::string& text);

  MYSQL_ROW row_;
  const unsigned long* lengths_;
  unsigned columns_;
  unsigned next_ = 0;
};

// Runs `text`, `count` SELECT statements separated by ";", in one round trip
// on a connection with multi-statements on, and calls row(k, reader) for each
// row of the k-th result.
void MultiSelect(MYSQL* conn, const std::string& text, size_t count,
                 const std::function<void(size_t, RowReader&)>& row);

}  // namespace bpm::store::internal
