// Table printing and value formatting for bpmctl; see output.h.
#include "core/cli/output.h"

#include <cstring>

#include <cstdio>

#include <cerrno>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_split.h"

#include "absl/strings/str_cat.h"

#include <algorithm>
#include <ctime>

namespace bpm::cli {
namespace {

constexpr std::string_view kEllipsis = "…";  // U+2026, one column wide

// Decodes the UTF-8 sequence starting at text[pos]. Returns its length in
// bytes and sets *code_point, or returns 0 if the bytes there are not a
// well-formed sequence.
size_t DecodeUtf8(std::string_view text, size_t pos, char32_t* code_point) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  size_t length;
  char32_t value;
  char32_t min_value;
  if (lead < 0x80) {
    *code_point = lead;
    return 1;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2, value = lead & 0x1F, min_value = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, value = lead & 0x0F, min_value = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, value = lead & 0x07, min_value = 0x10000;
  } else {
    return 0;
  }
  if (text.size() - pos < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    const unsigned char next = byte(pos + i);
    if ((next & 0xC0) != 0x80) return 0;
    value = (value << 6) | (next & 0x3F);
  }
  if (value < min_value || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    return 0;
  }
  *code_point = value;
  return length;
}

bool IsWide(char32_t c) {
  return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) ||
         (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
         (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x20000 && c <= 0x3FFFD);
}

// Walks `text` one character at a time: calls fn(byte_offset, byte_length,
// columns) and stops early when fn returns false. Invalid bytes are single
// one-column characters.
template <typename Fn>
void ForEachChar(std::string_view text, Fn fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    char32_t c = 0;
    size_t length = DecodeUtf8(text, pos, &c);
    int columns = 1;
    if (length == 0) {
      length = 1;
    } else if (IsWide(c)) {
      columns = 2;
    }
    if (!fn(pos, length, columns)) return;
    pos += length;
  }
}

// Replaces ASCII control characters with spaces so a cell stays on one line.
std::string CleanCell(std::string cell) {
  for (char& ch : cell) {
    const auto byte = static_cast<unsigned char>(ch);
    if (byte < 0x20 || byte == 0x7F) ch = ' ';
  }
  return cell;
}

}  // namespace

size_t FindInvalidUtf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    char32_t c = 0;
    const size_t length = DecodeUtf8(text, pos, &c);
    if (length == 0) return pos;
    pos += length;
  }
  return std::string_view::npos;
}

int DisplayWidth(std::string_view text) {
  int width = 0;
  ForEachChar(text, [&](size_t, size_t, int columns) {
    width += columns;
    return true;
  });
  return width;
}

std::string TruncateToWidth(std::string_view text, int max_width) {
  max_width = std::max(max_width, 1);
  if (DisplayWidth(text) <= max_width) return std::string(text);
  const int budget = max_width - 1;  // room left for the ellipsis
  int width = 0;
  size_t cut = 0;
  ForEachChar(text, [&](size_t pos, size_t length, int columns) {
    if (width + columns > budget) return false;
    width += columns;
    cut = pos + length;
    return true;
  });
  std::string result(text.substr(0, cut));
  result += kEllipsis;
  return result;
}

std::string FormatLocalTime(int64_t unix_ms) {
  if (unix_ms == 0) return "-";
  // Floor division so times before 1970 still round toward the past.
  int64_t seconds = unix_ms / 1000;
  if (unix_ms % 1000 < 0) --seconds;
  const auto time = static_cast<std::time_t>(seconds);
  std::tm local{};
  if (localtime_r(&time, &local) == nullptr) return "?";
  char buffer[32];
  if (std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &local) == 0) return "?";
  return buffer;
}

Table::Table(std::vector<Column> columns, int max_cell_width)
    : columns_(std::move(columns)), max_cell_width_(max_cell_width) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  for (size_t i = 0; i < cells.size(); ++i) {
    cells[i] = CleanCell(std::move(cells[i]));
    if (columns_[i].truncate) cells[i] = TruncateToWidth(cells[i], max_cell_width_);
  }
  rows_.push_back(std::move(cells));
}

void Table::Print(std::ostream& out) const {
  std::vector<int> widths(columns_.size(), 0);
  for (size_t i = 0; i < columns_.size(); ++i) {
    widths[i] = DisplayWidth(columns_[i].header);
    for (const auto& row : rows_) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  const auto print_line = [&](const auto& cell_at) {
    std::string line;
    for (size_t i = 0; i < columns_.size(); ++i) {
      const std::string& cell = cell_at(i);
      line += cell;
      if (i + 1 < columns_.size()) {
        line.append(static_cast<size_t>(widths[i] - DisplayWidth(cell)) + 2, ' ');
      }
    }
    // An empty last cell would otherwise leave the padding of the one before.
    line.erase(line.find_last_not_of(' ') + 1);
    out << line << '\n';
  };
  print_line([&](size_t i) -> const std::string& { return columns_[i].header; });
  for (const auto& row : rows_) {
    print_line([&](size_t i) -> const std::string& { return row[i]; });
  }
}

bool ReadInput(const std::string& path, std::string* content, std::string* error) {
  const bool is_stdin = path == "-";
  std::FILE* file = is_stdin ? stdin : std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    *error = absl::StrCat("cannot read ", path, ": ", std::strerror(errno));
    return false;
  }
  content->clear();
  char buffer[65536];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) content->append(buffer, n);
  const bool failed = std::ferror(file) != 0;
  const int read_errno = errno;
  if (!is_stdin) std::fclose(file);
  if (failed) {
    *error = absl::StrCat("cannot read ", path, ": ", std::strerror(read_errno));
    return false;
  }
  return true;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) return absl::StrCat("{\"error\": \"", status.message().ToString(), "\"}");
  // Protobuf indents by one space; use two like the rest of bpmctl. A JSON
  // string never holds a raw newline, so leading blanks are all indentation.
  std::string indented;
  for (absl::string_view line : absl::StrSplit(json, '\n', absl::SkipEmpty())) {
    const size_t depth = line.find_first_not_of(' ');
    indented.append(depth == absl::string_view::npos ? 0 : depth, ' ');
    absl::StrAppend(&indented, line, "\n");
  }
  if (!indented.empty()) indented.pop_back();
  return indented;
}

}  // namespace bpm::cli
