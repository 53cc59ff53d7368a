// Internal to core/store: SQLite rows read straight off a sqlite3_stmt, for
// SociDb::FetchByKey. SOCI's sqlite3 backend spent about 20,000 instructions
// on each execute and 9,000 on each fetch (binding and converting every
// column through its own buffers): the five reads before every Act cost more
// than the rest of the command's reads and its SQLite writes. The reader
// takes the same "p, into(a), into(b), ..." column mappings as a SOCI
// statement and internal::RowReader (MariaDB), so a row's columns are still
// named in one place.
//
// Thread safety: none; a reader serves one statement of one leased session.
// Errors: std::logic_error for a NULL column (SOCI refuses NULL without an
// indicator too) or a row read past its end or not to its end.
#pragma once

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <string>
#include <type_traits>

namespace bpm::store::internal {

class SqliteRowReader {
 public:
  explicit SqliteRowReader(sqlite_api::sqlite3_stmt* st)
      : st_(st), columns_(sqlite_api::sqlite3_column_count(st)) {}

  template <typename T>
  SqliteRowReader& operator,(const soci::details::into_container<T, soci::details::no_indicator>& c) {
    const int i = Next();
    if constexpr (std::is_same_v<T, std::string>) {
      const auto* text = reinterpret_cast<const char*>(sqlite_api::sqlite3_column_text(st_, i));
      c.t.assign(text == nullptr ? "" : text,
                 static_cast<size_t>(sqlite_api::sqlite3_column_bytes(st_, i)));
    } else {
      static_assert(std::is_integral_v<T>, "only strings and integers are decoded");
      c.t = static_cast<T>(sqlite_api::sqlite3_column_int64(st_, i));
    }
    return *this;
  }

  // Every column was read (a select list longer than its into's is a bug).
  void Finish() const;

 private:
  int Next();  // the next column's index; throws for NULL or past the end

  sqlite_api::sqlite3_stmt* st_;
  int columns_;
  int next_ = 0;
};

}  // namespace bpm::store::internal
