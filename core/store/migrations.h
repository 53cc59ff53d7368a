// The versioned schema migrations of each dialect, compiled into the binary
// from core/store/migrations/<dialect>/NNNN_name.sql (generated at build
// time), so bpmd needs no file beside it to create or upgrade its database.
// Thread safety: immutable data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bpm::store {

struct Migration {
  int64_t number;    // NNNN of the file name; applied in increasing order
  std::string name;  // file name
  std::string sql;   // statements separated by ';'
};

// Migrations of "sqlite3" or "mysql", in order; empty for another dialect.
const std::vector<Migration>& Migrations(const std::string& dialect);

}  // namespace bpm::store
