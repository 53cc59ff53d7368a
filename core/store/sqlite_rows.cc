#include "core/store/internal/sqlite_rows.h"

#include <stdexcept>

#include "absl/strings/str_cat.h"

namespace bpm::store::internal {

int SqliteRowReader::Next() {
  if (next_ >= columns_) {
    throw std::logic_error(absl::StrCat("a row of ", columns_, " columns read past its end"));
  }
  const int i = next_++;
  if (sqlite_api::sqlite3_column_type(st_, i) == SQLITE_NULL) {
    throw std::logic_error(absl::StrCat("column ", i + 1, " (",
                                        sqlite_api::sqlite3_column_name(st_, i), ") is NULL"));
  }
  return i;
}

void SqliteRowReader::Finish() const {
  if (next_ != columns_) {
    throw std::logic_error(
        absl::StrCat("a row has ", columns_, " columns but ", next_, " were read"));
  }
}

}  // namespace bpm::store::internal
