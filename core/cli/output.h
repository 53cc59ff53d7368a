// Terminal output helpers for bpmctl: a plain-text table printer that pads
// columns by display width (CJK wide characters count as two columns, as a
// terminal shows them), UTF-8 width and truncation helpers, and a formatter
// for the unix-millisecond timestamps used throughout the API.
//
// Thread-safety: none needed and none provided; bpmctl is single-threaded.
// All functions are pure except Table::Print and FormatLocalTime (which reads
// the process time zone).
#pragma once

#include <google/protobuf/message.h>

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bpm::cli {

// Cells wider than this many columns are cut and end in "…" (unless the
// column is marked as not truncatable).
inline constexpr int kDefaultMaxCellWidth = 40;

// The byte offset of the first byte of `text` that is not part of
// well-formed UTF-8 (overlongs, surrogates and values beyond U+10FFFF are
// ill-formed), or std::string_view::npos if all of it is well-formed.
size_t FindInvalidUtf8(std::string_view text);

// The number of terminal columns `text` occupies. East Asian Wide and
// Fullwidth characters count 2, everything else 1; bytes that are not valid
// UTF-8 count 1 each.
int DisplayWidth(std::string_view text);

// Returns `text` unchanged if it fits in `max_width` columns, otherwise the
// longest prefix (cut on a character boundary) that fits in max_width - 1
// columns followed by "…". max_width < 1 is treated as 1.
std::string TruncateToWidth(std::string_view text, int max_width);

// Formats unix milliseconds as local time "YYYY-MM-DD HH:MM:SS"; 0 gives "-".
std::string FormatLocalTime(int64_t unix_ms);

// One table column: its header and whether long cells may be cut. IDs,
// hashes and similar values people copy and paste must not be truncated.
struct Column {
  std::string header;
  bool truncate = true;
};

// A column holding identifiers: never truncated.
inline Column IdColumn(std::string header) { return Column{std::move(header), false}; }

// A text table: a header row, then rows of cells, columns separated by two
// spaces and left-aligned by display width. Control characters in cells
// (newlines, tabs) are shown as spaces so a row stays on one line.
//
//   Table table({IdColumn("ID"), {"SUBJECT"}, {"STATE"}});
//   table.AddRow({"i-1", "P2024-001 城市道路改造", "unit_review"});
//   table.Print(std::cout);
class Table {
 public:
  explicit Table(std::vector<Column> columns, int max_cell_width = kDefaultMaxCellWidth);

  // Adds a row; missing cells are empty, surplus cells are ignored.
  void AddRow(std::vector<std::string> cells);

  bool empty() const { return rows_.empty(); }

  // Writes the header and all rows. The last column is not padded, so lines
  // carry no trailing blanks.
  void Print(std::ostream& out) const;

 private:
  std::vector<Column> columns_;
  int max_cell_width_;
  std::vector<std::vector<std::string>> rows_;  // already cleaned and cut
};

// Reads a whole file, or standard input for "-". On failure returns false
// and sets *error ("cannot read PATH: reason").
bool ReadInput(const std::string& path, std::string* content, std::string* error);

// A message as proto3 JSON, as --json prints it: field names as in the
// .proto, two-space indentation, no trailing newline.
std::string ToJson(const google::protobuf::Message& message);

}  // namespace bpm::cli
