#include "core/org/import.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/org/dates.h"

namespace bpm::org {
namespace {

// ---- Entries: what a file says, with where it says it ---------------------

struct Pos {
  int line = 0;
  int column = 0;  // 0: none (CSV)
};

struct Value {
  std::string text;
  Pos pos;
};

enum class Kind { kRegion, kOrg, kUser, kGrant };

// One item of the file. fields holds the keys that were given a non-empty
// value, by their name in the file format.
struct Entry {
  Kind kind;
  Pos pos;
  std::map<std::string, Value> fields;
  // Its shape was wrong (unknown or duplicate key, a list for a value): it
  // is reported already, so its own checks are skipped, but other rows may
  // still refer to it.
  bool broken = false;

  std::string Get(const std::string& key) const {
    auto it = fields.find(key);
    return it == fields.end() ? "" : it->second.text;
  }
  bool Has(const std::string& key) const { return fields.count(key) > 0; }
  Pos PosOf(const std::string& key) const {
    auto it = fields.find(key);
    return it == fields.end() ? pos : it->second.pos;
  }
};

struct Diag {
  Pos pos;
  std::string message;
};

const std::vector<std::string>& RegionKeys() {
  static const std::vector<std::string> k = {"code", "name", "level", "parent"};
  return k;
}
const std::vector<std::string>& OrgKeys() {
  static const std::vector<std::string> k = {"code",          "name",       "kind",
                                             "parent",        "region",     "section_kind",
                                             "owner_section", "valid_from", "active"};
  return k;
}
const std::vector<std::string>& GrantKeys() {
  static const std::vector<std::string> k = {"user", "role", "org", "from", "to"};
  return k;
}

bool Contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

// ---- YAML -----------------------------------------------------------------

const char* TypeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a single value";
    case YAML::NodeType::Null:
      return "empty";
    default:
      return "undefined";
  }
}

class YamlReader {
 public:
  YamlReader(std::vector<Entry>* entries, std::vector<Diag>* diags)
      : entries_(*entries), diags_(*diags) {}

  // An exception of yaml-cpp from a shape of input that no check expected (a
  // bug here) becomes a diagnostic: a bad org file never ends the server.
  void Read(std::string_view text) {
    try {
      ReadChecked(text);
    } catch (const YAML::Exception& e) {
      Error(PosOf(e.mark), absl::StrCat("cannot read this org file: ", e.msg));
    }
  }

 private:
  void ReadChecked(std::string_view text) {
    text_ = text;
    line_starts_ = {0};
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') line_starts_.push_back(i + 1);
    }
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      Error(PosOf(e.mark), absl::StrCat("YAML syntax: ", e.msg));
      return;
    }
    if (root.IsNull()) {
      Error({1, 1}, "the file is empty (expected regions, orgs, users or grants)");
      return;
    }
    if (!root.IsMap()) {
      Error(PosOf(root), absl::StrCat("an org file must be a mapping with regions, orgs, users "
                                      "or grants, not ",
                                      TypeName(root)));
      return;
    }
    ForEachKey(root, "the file", {"regions", "orgs", "users", "grants"},
               [&](const std::string& key, const YAML::Node& value) {
                 if (value.IsNull()) return;
                 if (!value.IsSequence()) {
                   Error(PosOf(value),
                         absl::StrCat("'", key, "' must be a list, not ", TypeName(value)));
                   return;
                 }
                 for (const YAML::Node& item : value) {
                   if (!item.IsMap()) {
                     Error(PosOf(item), absl::StrCat("each entry of '", key,
                                                     "' must be a mapping, not ", TypeName(item)));
                     continue;
                   }
                   if (key == "regions") ReadEntry(item, Kind::kRegion, "region", RegionKeys());
                   if (key == "orgs") ReadEntry(item, Kind::kOrg, "org", OrgKeys());
                   if (key == "grants") ReadEntry(item, Kind::kGrant, "grant", GrantKeys());
                   if (key == "users") ReadUser(item);
                 }
               });
  }

  void Error(Pos pos, std::string message) { diags_.push_back({pos, std::move(message)}); }

  // yaml-cpp counts columns in bytes; people (and editors) in characters.
  Pos PosOf(const YAML::Mark& m) const {
    if (m.is_null()) return {1, 1};
    int column = m.column + 1;
    if (m.line >= 0 && static_cast<size_t>(m.line) < line_starts_.size()) {
      const size_t start = line_starts_[m.line];
      const size_t end = std::min(text_.size(), start + static_cast<size_t>(m.column));
      column = 1;
      for (size_t i = start; i < end; ++i) {
        if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) ++column;
      }
    }
    return {m.line + 1, column};
  }
  Pos PosOf(const YAML::Node& n) const { return PosOf(n.Mark()); }

  // Calls fn(key, value) for each first occurrence of an allowed key;
  // reports other keys.
  template <typename Fn>
  void ForEachKey(const YAML::Node& map, const std::string& where,
                  const std::vector<std::string>& allowed, Fn&& fn) {
    std::map<std::string, int> seen;
    for (const auto& kv : map) {
      const YAML::Node& k = kv.first;
      if (!k.IsScalar()) {
        Error(PosOf(k), absl::StrCat(where, ": keys must be plain names, not ", TypeName(k)));
        continue;
      }
      const std::string key = k.Scalar();
      auto [prev, inserted] = seen.emplace(key, PosOf(k).line);
      if (!inserted) {
        Error(PosOf(k), absl::StrCat(where, ": duplicate key '", key, "' (first at line ",
                                     prev->second, ")"));
        continue;
      }
      if (!Contains(allowed, key)) {
        Error(PosOf(k), absl::StrCat(where, ": unknown key '", key, "' (expected ",
                                     absl::StrJoin(allowed, ", "), ")"));
        continue;
      }
      fn(key, kv.second);
    }
  }

  // The scalar keys of one mapping into e->fields; `nested` handles the
  // non-scalar keys it names.
  void ReadFields(const YAML::Node& map, const std::string& what,
                  const std::vector<std::string>& allowed, Entry* e,
                  const std::function<bool(const std::string&, const YAML::Node&)>& nested) {
    const size_t errors_before = diags_.size();
    ForEachKey(map, what, allowed, [&](const std::string& key, const YAML::Node& value) {
      if (nested && nested(key, value)) return;
      if (value.IsNull()) return;
      if (!value.IsScalar()) {
        Error(PosOf(value),
              absl::StrCat(what, ": '", key, "' must be a single value, not ", TypeName(value)));
        return;
      }
      std::string text(absl::StripAsciiWhitespace(value.Scalar()));
      if (!text.empty()) e->fields[key] = Value{std::move(text), PosOf(value)};
    });
    if (diags_.size() > errors_before) e->broken = true;
  }

  void ReadEntry(const YAML::Node& item, Kind kind, const std::string& what,
                 const std::vector<std::string>& keys) {
    Entry e{kind, PosOf(item), {}};
    ReadFields(item, what, keys, &e, nullptr);
    entries_.push_back(std::move(e));
  }

  void ReadUser(const YAML::Node& item) {
    Entry user{Kind::kUser, PosOf(item), {}};
    std::vector<Entry> grants;
    YAML::Node roles;
    ReadFields(item, "user", {"id", "name", "roles"}, &user,
               [&](const std::string& key, const YAML::Node& value) {
                 if (key != "roles") return false;
                 roles = value;
                 return true;
               });
    const std::string label = user.Has("id") ? absl::StrCat("user ", user.Get("id")) : "user";
    if (roles && !roles.IsNull()) {
      if (!roles.IsSequence()) {
        Error(PosOf(roles), absl::StrCat(label, ": 'roles' must be a list, not ", TypeName(roles)));
      } else {
        for (const YAML::Node& r : roles) {
          if (!r.IsMap()) {
            Error(PosOf(r), absl::StrCat(label, ": each entry of 'roles' must be a mapping, not ",
                                         TypeName(r)));
            continue;
          }
          Entry grant{Kind::kGrant, PosOf(r), {}};
          ReadFields(r, label + ": role", {"role", "org", "from", "to"}, &grant, nullptr);
          if (user.Has("id")) grant.fields["user"] = user.fields["id"];
          grants.push_back(std::move(grant));
        }
      }
    }
    entries_.push_back(std::move(user));
    for (Entry& g : grants) entries_.push_back(std::move(g));
  }

  std::vector<Entry>& entries_;
  std::vector<Diag>& diags_;
  std::string_view text_;
  std::vector<size_t> line_starts_;  // byte offset of each line
};

// ---- CSV ------------------------------------------------------------------

struct CsvRecord {
  int line = 0;
  std::vector<std::string> fields;
};

// RFC 4180 records (quotes, "" escapes, CR/LF/CRLF). false on an unclosed
// quote (*error set).
bool SplitCsv(std::string_view text, std::vector<CsvRecord>* out, Diag* error) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  int line = 1;
  CsvRecord record{1, {}};
  std::string field;
  bool quoted = false, in_quotes = false, after_quote = false;
  auto end_field = [&]() {
    record.fields.push_back(quoted ? field : std::string(absl::StripAsciiWhitespace(field)));
    field.clear();
    quoted = in_quotes = after_quote = false;
  };
  auto end_record = [&]() {
    end_field();
    out->push_back(std::move(record));
    record = CsvRecord{line, {}};
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
          after_quote = true;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == ',') {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      ++line;
      end_record();
    } else if (c == '"' && !quoted && absl::StripAsciiWhitespace(field).empty()) {
      quoted = in_quotes = true;
      field.clear();
    } else if (after_quote) {
      if (c != ' ' && c != '\t') {
        *error = {{line, 0}, "unexpected text after a closing quote"};
        return false;
      }
    } else {
      field += c;
    }
  }
  if (in_quotes) {
    *error = {{record.line, 0}, "a quoted field is not closed"};
    return false;
  }
  if (!field.empty() || !record.fields.empty() || quoted) end_record();
  return true;
}

class CsvReader {
 public:
  CsvReader(std::vector<Entry>* entries, std::vector<Diag>* diags)
      : entries_(*entries), diags_(*diags) {}

  void Read(std::string_view text) {
    std::vector<CsvRecord> records;
    Diag error;
    if (!SplitCsv(text, &records, &error)) {
      diags_.push_back(error);
      return;
    }
    static const std::vector<std::string> kColumns = {
        "type",  "code",         "name",          "kind",       "parent", "region",
        "level", "section_kind", "owner_section", "valid_from", "active", "user",
        "role",  "org",          "from",          "to"};
    std::vector<std::string> header;
    int header_line = 0;
    for (const CsvRecord& r : records) {
      if (Skip(r)) continue;
      if (header_line == 0) {
        header_line = r.line;
        header = r.fields;
        bool ok = true;
        std::set<std::string> seen;
        for (const std::string& col : header) {
          if (!Contains(kColumns, col)) {
            Error(r.line, absl::StrCat("unknown column '", col, "' (expected ",
                                       absl::StrJoin(kColumns, ", "), ")"));
            ok = false;
          } else if (!seen.insert(col).second) {
            Error(r.line, absl::StrCat("column '", col, "' appears twice"));
            ok = false;
          }
        }
        if (!Contains(header, "type")) {
          Error(r.line, "the header has no 'type' column (region, org, user or grant per row)");
          ok = false;
        }
        if (!ok) return;
        continue;
      }
      ReadRow(r, header);
    }
    if (header_line == 0) Error(1, "the file is empty (expected a header row, then rows)");
  }

 private:
  void Error(int line, std::string message) { diags_.push_back({{line, 0}, std::move(message)}); }

  static bool Skip(const CsvRecord& r) {
    if (!r.fields.empty() && !r.fields[0].empty() && r.fields[0][0] == '#') return true;
    return std::all_of(r.fields.begin(), r.fields.end(),
                       [](const std::string& f) { return f.empty(); });
  }

  void ReadRow(const CsvRecord& r, const std::vector<std::string>& header) {
    if (r.fields.size() > header.size()) {
      Error(r.line, absl::StrCat("the row has ", r.fields.size(), " fields but the header has ",
                                 header.size()));
      return;
    }
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < r.fields.size(); ++i) {
      if (!r.fields[i].empty()) row[header[i]] = r.fields[i];
    }
    const std::string type = row.count("type") ? row["type"] : "";
    Entry e{Kind::kOrg, {r.line, 0}, {}};
    const std::vector<std::string>* allowed;
    static const std::vector<std::string> kUserColumns = {"user", "name"};
    if (type == "region") {
      e.kind = Kind::kRegion;
      allowed = &RegionKeys();
    } else if (type == "org") {
      e.kind = Kind::kOrg;
      allowed = &OrgKeys();
    } else if (type == "user") {
      e.kind = Kind::kUser;
      allowed = &kUserColumns;
    } else if (type == "grant") {
      e.kind = Kind::kGrant;
      allowed = &GrantKeys();
    } else {
      Error(r.line, type.empty()
                        ? "type is required (region, org, user or grant)"
                        : absl::StrCat("type '", type, "' is not one of region, org, user, grant"));
      return;
    }
    bool ok = true;
    for (const auto& [column, value] : row) {
      if (column == "type") continue;
      if (!Contains(*allowed, column)) {
        Error(r.line, absl::StrCat("column '", column, "' does not apply to type ", type,
                                   " (its columns: ", absl::StrJoin(*allowed, ", "), ")"));
        ok = false;
        continue;
      }
      // A user row's id is in the `user` column.
      const std::string key = e.kind == Kind::kUser && column == "user" ? "id" : column;
      e.fields[key] = Value{value, {r.line, 0}};
    }
    if (ok) entries_.push_back(std::move(e));
  }

  std::vector<Entry>& entries_;
  std::vector<Diag>& diags_;
};

// ---- Validation and writing ------------------------------------------------

// The file key of a store row field, for messages.
std::string KeyOf(const std::string& field) {
  if (field == "user_id") return "user";
  if (field == "parent_code" || field == "region_code" || field == "org_code") {
    return field.substr(0, field.size() - 5);
  }
  if (field.size() > 3 && field.compare(field.size() - 3, 3, "_ms") == 0) {
    return field.substr(0, field.size() - 3);
  }
  return field;
}

bool SameContent(const store::OrgRow& a, const store::OrgRow& b) {
  return a.name == b.name && a.kind == b.kind && a.parent_code == b.parent_code &&
         a.region_code == b.region_code && a.section_kind == b.section_kind &&
         a.owner_section == b.owner_section && a.active == b.active;
}

constexpr int64_t kOpenEnd = std::numeric_limits<int64_t>::max();
int64_t EndOf(int64_t to_ms) { return to_ms == 0 ? kOpenEnd : to_ms; }

std::string SpanText(int64_t from_ms, int64_t to_ms) {
  return absl::StrCat("[", FormatChinaTime(from_ms), ", ",
                      to_ms == 0 ? "open" : FormatChinaTime(to_ms), ")");
}

class Importer {
 public:
  Importer(store::OrgStore& store, const ImportOptions& options, std::vector<Entry> entries,
           std::vector<Diag> diags)
      : store_(store), options_(options), entries_(std::move(entries)), diags_(std::move(diags)) {}

  StatusOr<ImportReport> Run() {
    // Rows with reading errors are reported already; the checks below still
    // run on the rest so that one pass shows every problem.
    BPM_RETURN_IF_ERROR(Regions());
    BPM_RETURN_IF_ERROR(Orgs());
    BPM_RETURN_IF_ERROR(Users());
    BPM_RETURN_IF_ERROR(Grants());
    if (!diags_.empty()) return Failure();
    if (!options_.dry_run) {
      Status s = store_.Apply(batch_);
      if (!s.ok()) {
        return Status(s.code(), absl::StrCat(options_.source_name,
                                             ": import failed, nothing was written: ",
                                             s.message()));
      }
    }
    return report_;
  }

 private:
  // ---- diagnostics ----

  void Error(Pos pos, const std::string& label, const std::string& message) {
    diags_.push_back({pos, label.empty() ? message : absl::StrCat(label, ": ", message)});
  }

  void FieldErrors(const Entry& e, const std::string& label,
                   const std::vector<store::FieldError>& errors) {
    for (const store::FieldError& f : errors) {
      const std::string key = KeyOf(f.field);
      Error(e.PosOf(key), label, absl::StrCat(key, " ", f.detail));
    }
  }

  Status Failure() {
    std::stable_sort(diags_.begin(), diags_.end(), [](const Diag& a, const Diag& b) {
      return std::make_pair(a.pos.line, a.pos.column) < std::make_pair(b.pos.line, b.pos.column);
    });
    constexpr size_t kMaxShown = 200;
    std::vector<std::string> lines;
    for (size_t i = 0; i < diags_.size() && i < kMaxShown; ++i) {
      const Diag& d = diags_[i];
      std::string where = absl::StrCat(options_.source_name, ":", d.pos.line);
      if (d.pos.column > 0) absl::StrAppend(&where, ":", d.pos.column);
      lines.push_back(absl::StrCat(where, ": ", d.message));
    }
    if (diags_.size() > kMaxShown) {
      lines.push_back(absl::StrCat("... and ", diags_.size() - kMaxShown, " more problems"));
    }
    return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
  }

  // A date field: its ms, dflt when absent, nullopt (reported) when bad.
  std::optional<int64_t> DateField(const Entry& e, const std::string& label, const std::string& key,
                                   int64_t dflt) {
    if (!e.Has(key)) return dflt;
    std::optional<int64_t> ms = ParseChinaDate(e.Get(key));
    if (!ms) {
      Error(e.PosOf(key), label,
            absl::StrCat(key, " '", e.Get(key), "' is not a date (YYYY-MM-DD, China time)"));
    }
    return ms;
  }

  // ---- store reads (cached) ----

  StatusOr<const store::RegionRow*> StoredRegion(const std::string& code) {
    auto it = stored_regions_.find(code);
    if (it == stored_regions_.end()) {
      auto r = store_.GetRegion(code);
      std::optional<store::RegionRow> value;
      if (r.ok()) {
        value = *std::move(r);
      } else if (!absl::IsNotFound(r.status())) {
        return r.status();
      }
      it = stored_regions_.emplace(code, std::move(value)).first;
    }
    return it->second ? &*it->second : nullptr;
  }

  StatusOr<const store::UserRow*> StoredUser(const std::string& id) {
    auto it = stored_users_.find(id);
    if (it == stored_users_.end()) {
      auto r = store_.GetUser(id);
      std::optional<store::UserRow> value;
      if (r.ok()) {
        value = *std::move(r);
      } else if (!absl::IsNotFound(r.status())) {
        return r.status();
      }
      it = stored_users_.emplace(id, std::move(value)).first;
    }
    return it->second ? &*it->second : nullptr;
  }

  // ---- regions ----

  Status Regions() {
    std::map<std::string, size_t> by_code;  // -> index in regions_
    for (const Entry& e : entries_) {
      if (e.kind != Kind::kRegion) continue;
      store::RegionRow row{e.Get("code"), e.Get("name"), e.Get("parent"), e.Get("level")};
      const std::string label = absl::StrCat("region", row.code.empty() ? "" : " ", row.code);
      std::vector<store::FieldError> errors = store::CheckRegion(row);
      if (e.broken) {
        if (!row.code.empty()) broken_regions_.insert(row.code);
        continue;
      }
      FieldErrors(e, label, errors);
      if (!errors.empty()) continue;
      auto [it, inserted] = by_code.emplace(row.code, regions_.size());
      if (!inserted) {
        Error(e.PosOf("code"), label,
              absl::StrCat("defined twice (first at line ", regions_[it->second].entry->pos.line,
                           ")"));
        continue;
      }
      regions_.push_back({row, &e});
    }
    for (const FileRegion& r : regions_) {
      const store::RegionRow* parent = nullptr;
      if (!r.row.parent_code.empty()) {
        auto it = by_code.find(r.row.parent_code);
        if (it != by_code.end()) {
          parent = &regions_[it->second].row;
        } else if (broken_regions_.count(r.row.parent_code) > 0) {
          continue;  // reported already
        } else {
          BPM_ASSIGN_OR_RETURN(parent, StoredRegion(r.row.parent_code));
        }
      }
      FieldErrors(*r.entry, absl::StrCat("region ", r.row.code),
                  store::CheckRegionLinks(r.row, parent));
    }
    // Write order: parents first (a region's parent is at most two levels up).
    std::vector<const FileRegion*> order;
    for (const FileRegion& r : regions_) order.push_back(&r);
    auto depth = [](const std::string& level) {
      return level == "province" ? 0 : level == "city" ? 1 : 2;
    };
    std::stable_sort(order.begin(), order.end(), [&](const FileRegion* a, const FileRegion* b) {
      return depth(a->row.level) < depth(b->row.level);
    });
    for (const FileRegion* r : order) {
      BPM_ASSIGN_OR_RETURN(const store::RegionRow* stored, StoredRegion(r->row.code));
      if (stored != nullptr && stored->name == r->row.name &&
          stored->parent_code == r->row.parent_code && stored->level == r->row.level) {
        ++report_.regions.unchanged;
      } else {
        ++report_.regions.written;
        batch_.regions.push_back(r->row);
      }
    }
    return absl::OkStatus();
  }

  StatusOr<bool> RegionExists(const std::string& code) {
    if (broken_regions_.count(code) > 0) return true;  // reported already
    for (const FileRegion& r : regions_) {
      if (r.row.code == code) return true;
    }
    BPM_ASSIGN_OR_RETURN(const store::RegionRow* stored, StoredRegion(code));
    return stored != nullptr;
  }

  // ---- orgs ----

  struct Version {
    store::OrgRow row;
    int file = -1;  // index in orgs_, -1: a stored version
  };

  struct FileOrg {
    const Entry* entry;
    store::OrgRow row;
    std::optional<store::OrgRow> replaced;  // the stored version at the same time
    enum State { kNew, kCompleting, kDone } state = kNew;
    bool bad = false;  // reported; not checked further
    bool region_from_parent = false;
    bool write = false;
    bool ordered = false;
  };

  // The version of code in effect at t (dissolved ones included), or null.
  const Version* AsOf(const std::string& code, int64_t t) const {
    auto it = model_.find(code);
    if (it == model_.end()) return nullptr;
    auto v = it->second.upper_bound(t);
    if (v == it->second.begin()) return nullptr;
    return &std::prev(v)->second;
  }

  // Like AsOf, completing a file version first; null when none or dissolved.
  const Version* ActiveAsOf(const std::string& code, int64_t t) {
    const Version* v = AsOf(code, t);
    if (v != nullptr && v->file >= 0) Complete(v->file);
    v = AsOf(code, t);
    return v != nullptr && v->row.active ? v : nullptr;
  }

  std::string Label(const store::OrgRow& row) const {
    return absl::StrCat("org", row.code.empty() ? "" : " ", row.code);
  }

  // Fills a dissolution's empty fields from the version before it, and an
  // empty region from the parent's.
  void Complete(int i) {
    FileOrg& f = orgs_[i];
    if (f.state != FileOrg::kNew) return;
    f.state = FileOrg::kCompleting;
    store::OrgRow& row = f.row;
    if (!row.active) {
      const Version* before = AsOf(row.code, row.valid_from_ms - 1);
      if (before != nullptr && before->file >= 0) Complete(before->file);
      before = AsOf(row.code, row.valid_from_ms - 1);
      if (before == nullptr) {
        if (!f.bad)
          Error(f.entry->PosOf("active"), Label(row),
                absl::StrCat("active false needs an earlier version of the org to dissolve (none "
                             "before ",
                             FormatChinaTime(row.valid_from_ms), ")"));
        f.bad = true;
      } else {
        const store::OrgRow& b = before->row;
        if (row.name.empty()) row.name = b.name;
        if (row.kind.empty()) row.kind = b.kind;
        if (row.parent_code.empty()) row.parent_code = b.parent_code;
        if (row.region_code.empty()) row.region_code = b.region_code;
        if (row.kind == b.kind && row.section_kind.empty()) row.section_kind = b.section_kind;
        if (row.kind == b.kind && row.owner_section.empty()) row.owner_section = b.owner_section;
      }
    }
    if (row.region_code.empty() && !row.parent_code.empty()) {
      const Version* parent = ActiveAsOf(row.parent_code, row.valid_from_ms);
      if (parent != nullptr) {
        row.region_code = parent->row.region_code;
        f.region_from_parent = true;
      }
    }
    auto& slot = model_[row.code][row.valid_from_ms];
    slot.row = row;
    f.state = FileOrg::kDone;
  }

  std::string Missing(const std::string& code, int64_t t) const {
    if (model_.count(code) > 0) {
      return absl::StrCat("'", code, "' does not exist as of ", FormatChinaTime(t));
    }
    return absl::StrCat("'", code, "' does not exist");
  }

  Status Orgs() {
    // 1. The rows as given.
    std::map<std::pair<std::string, int64_t>, int> seen;
    for (const Entry& e : entries_) {
      if (e.kind != Kind::kOrg) continue;
      FileOrg f{&e, {}, std::nullopt};
      store::OrgRow& row = f.row;
      row.code = e.Get("code");
      row.name = e.Get("name");
      row.kind = e.Get("kind");
      row.parent_code = e.Get("parent");
      row.region_code = e.Get("region");
      row.section_kind = e.Get("section_kind");
      row.owner_section = e.Get("owner_section");
      const std::string label = Label(row);
      if (row.code.empty()) {
        if (!e.broken) Error(e.pos, label, "code is required");
        continue;
      }
      std::optional<int64_t> from = DateField(e, label, "valid_from", options_.now_ms);
      bool ok = from.has_value();
      if (ok) row.valid_from_ms = *from;
      if (e.Has("active")) {
        const std::string a = e.Get("active");
        if (a == "true" || a == "false") {
          row.active = a == "true";
        } else {
          Error(e.PosOf("active"), label, absl::StrCat("active '", a, "' is not true or false"));
          ok = false;
        }
      }
      if (!ok) continue;
      f.bad = e.broken;
      auto [it, inserted] =
          seen.emplace(std::make_pair(row.code, row.valid_from_ms), static_cast<int>(orgs_.size()));
      if (!inserted) {
        Error(e.PosOf("code"), label,
              absl::StrCat("defined twice for valid_from ", FormatChinaDate(row.valid_from_ms),
                           " (first at line ", orgs_[it->second].entry->pos.line, ")"));
        continue;
      }
      orgs_.push_back(std::move(f));
    }

    // 2. The stored history of every org the file names.
    std::set<std::string> codes;
    for (const FileOrg& f : orgs_) {
      for (const std::string* c : {&f.row.code, &f.row.parent_code, &f.row.owner_section}) {
        if (!c->empty()) codes.insert(*c);
      }
    }
    for (const Entry& e : entries_) {
      if (e.kind == Kind::kGrant && e.Has("org")) codes.insert(e.Get("org"));
    }
    for (const std::string& code : codes) {
      auto history = store_.OrgHistory(code);
      if (absl::IsNotFound(history.status())) continue;
      if (!history.ok()) return history.status();
      for (store::OrgRow& row : *history) {
        const int64_t t = row.valid_from_ms;
        model_[code][t] = Version{std::move(row), -1};
      }
    }
    for (size_t i = 0; i < orgs_.size(); ++i) {
      FileOrg& f = orgs_[i];
      auto& versions = model_[f.row.code];
      auto it = versions.find(f.row.valid_from_ms);
      if (it != versions.end()) f.replaced = it->second.row;
      versions[f.row.valid_from_ms] = Version{f.row, static_cast<int>(i)};
    }

    // 3. Complete, then check each row.
    for (size_t i = 0; i < orgs_.size(); ++i) Complete(static_cast<int>(i));
    for (size_t i = 0; i < orgs_.size(); ++i) {
      FileOrg& f = orgs_[i];
      if (f.bad) continue;
      const store::OrgRow& row = f.row;
      const Entry& e = *f.entry;
      const std::string label = Label(row);
      std::set<std::string> suppress;
      // A missing parent is reported once, not also as a missing region.
      if (row.region_code.empty() && !row.parent_code.empty()) suppress.insert("region");
      std::vector<store::FieldError> errors = store::CheckOrg(row);
      errors.erase(std::remove_if(errors.begin(), errors.end(),
                                  [&](const store::FieldError& x) {
                                    return suppress.count(KeyOf(x.field)) > 0;
                                  }),
                   errors.end());
      FieldErrors(e, label, errors);
      if (!errors.empty()) {
        f.bad = true;
        continue;
      }
      bool region_ok = true;
      if (!row.region_code.empty()) {
        BPM_ASSIGN_OR_RETURN(region_ok, RegionExists(row.region_code));
      }
      if (!region_ok) {
        Error(e.PosOf(f.region_from_parent ? "parent" : "region"), label,
              absl::StrCat("region '", row.region_code, "' does not exist",
                           f.region_from_parent ? " (inherited from the parent)" : ""));
        f.bad = true;
      }
      if (!row.active) continue;
      const Version* parent =
          row.parent_code.empty() ? nullptr : ActiveAsOf(row.parent_code, row.valid_from_ms);
      const Version* owner =
          row.owner_section.empty() ? nullptr : ActiveAsOf(row.owner_section, row.valid_from_ms);
      std::vector<store::FieldError> links =
          store::CheckOrgLinks(row, parent ? &parent->row : nullptr, owner ? &owner->row : nullptr);
      for (store::FieldError& l : links) {
        if (l.field == "parent_code" && parent == nullptr) {
          l.detail = Missing(row.parent_code, row.valid_from_ms);
        }
        if (l.field == "owner_section" && owner == nullptr && !row.owner_section.empty()) {
          l.detail = Missing(row.owner_section, row.valid_from_ms);
        }
      }
      FieldErrors(e, label, links);
      if (!links.empty()) f.bad = true;
      if (!f.bad) CheckLoop(f);
    }
    if (!diags_.empty()) return absl::OkStatus();

    // 4. What changes, in an order the store accepts: what a version refers
    // to (its parent, owner and previous version) is written before it.
    for (FileOrg& f : orgs_) {
      std::optional<store::OrgRow> base = f.replaced;
      if (!base) {
        const Version* before = AsOf(f.row.code, f.row.valid_from_ms - 1);
        if (before != nullptr) base = before->row;
      }
      f.write = !base || !SameContent(*base, f.row);
      if (f.write) {
        ++report_.orgs.written;
        report_.changed_orgs.emplace_back(f.row.code, f.row.valid_from_ms);
      } else {
        ++report_.orgs.unchanged;
      }
    }
    for (size_t i = 0; i < orgs_.size(); ++i) Order(static_cast<int>(i));
    return absl::OkStatus();
  }

  void CheckLoop(const FileOrg& f) {
    std::vector<std::string> chain = {f.row.code};
    store::OrgRow current = f.row;
    while (!current.parent_code.empty()) {
      if (std::find(chain.begin(), chain.end(), current.parent_code) != chain.end() ||
          chain.size() > 64) {
        chain.push_back(current.parent_code);
        Error(f.entry->PosOf("parent"), Label(f.row),
              absl::StrCat("the parent chain loops: ", absl::StrJoin(chain, " → ")));
        return;
      }
      const Version* parent = ActiveAsOf(current.parent_code, f.row.valid_from_ms);
      if (parent == nullptr) return;
      chain.push_back(parent->row.code);
      current = parent->row;
    }
  }

  void Order(int i) {
    FileOrg& f = orgs_[i];
    if (f.ordered) return;
    f.ordered = true;  // set first: a loop (already reported) cannot recurse forever
    auto dep = [&](const Version* v) {
      if (v != nullptr && v->file >= 0 && v->file != i) Order(v->file);
    };
    if (!f.row.parent_code.empty()) dep(AsOf(f.row.parent_code, f.row.valid_from_ms));
    if (!f.row.owner_section.empty()) dep(AsOf(f.row.owner_section, f.row.valid_from_ms));
    dep(AsOf(f.row.code, f.row.valid_from_ms - 1));
    if (f.write) batch_.orgs.push_back(f.row);
  }

  // ---- users ----

  Status Users() {
    std::map<std::string, int> seen;
    for (const Entry& e : entries_) {
      if (e.kind != Kind::kUser) continue;
      store::UserRow row{e.Get("id"), e.Get("name")};
      const std::string label = absl::StrCat("user", row.id.empty() ? "" : " ", row.id);
      if (e.broken) {
        if (!row.id.empty()) file_users_.insert(row.id);
        continue;
      }
      std::vector<store::FieldError> errors = store::CheckUser(row);
      FieldErrors(e, label, errors);
      if (!errors.empty()) continue;
      auto [it, inserted] = seen.emplace(row.id, e.pos.line);
      if (!inserted) {
        Error(e.PosOf("id"), label, absl::StrCat("defined twice (first at line ", it->second, ")"));
        continue;
      }
      file_users_.insert(row.id);
      BPM_ASSIGN_OR_RETURN(const store::UserRow* stored, StoredUser(row.id));
      if (stored != nullptr && stored->name == row.name) {
        ++report_.users.unchanged;
      } else {
        ++report_.users.written;
        batch_.users.push_back(row);
      }
    }
    return absl::OkStatus();
  }

  // ---- grants ----

  struct FileGrant {
    const Entry* entry;
    store::RoleGrantRow row;
    bool explicit_from;
  };

  Status Grants() {
    std::vector<FileGrant> grants;
    for (const Entry& e : entries_) {
      if (e.kind != Kind::kGrant || e.broken) continue;
      store::RoleGrantRow row;
      row.user_id = e.Get("user");
      row.role = e.Get("role");
      row.org_code = e.Get("org");
      const std::string label = absl::StrCat("grant ", row.user_id.empty() ? "?" : row.user_id, " ",
                                             row.role.empty() ? "?" : row.role, " ",
                                             row.org_code.empty() ? "?" : row.org_code);
      std::optional<int64_t> from = DateField(e, label, "from", options_.now_ms);
      std::optional<int64_t> to = DateField(e, label, "to", 0);
      if (!from || !to) continue;
      row.from_ms = *from;
      row.to_ms = *to;
      std::vector<store::FieldError> errors = store::CheckGrant(row);
      FieldErrors(e, label, errors);
      if (!errors.empty()) continue;
      bool ok = true;
      if (file_users_.count(row.user_id) == 0) {
        BPM_ASSIGN_OR_RETURN(const store::UserRow* stored, StoredUser(row.user_id));
        if (stored == nullptr) {
          Error(e.PosOf("user"), label, absl::StrCat("user '", row.user_id, "' does not exist"));
          ok = false;
        }
      }
      if (model_.count(row.org_code) == 0) {
        Error(e.PosOf("org"), label, absl::StrCat("org '", row.org_code, "' does not exist"));
        ok = false;
      }
      if (!ok) continue;
      // Two grants of the file for the same (user, role, org) must not overlap.
      bool overlaps = false;
      for (const FileGrant& g : grants) {
        if (g.row.user_id == row.user_id && g.row.role == row.role &&
            g.row.org_code == row.org_code && g.row.from_ms < EndOf(row.to_ms) &&
            row.from_ms < EndOf(g.row.to_ms)) {
          Error(e.pos, label,
                absl::StrCat(SpanText(row.from_ms, row.to_ms), " overlaps the grant at line ",
                             g.entry->pos.line, " ", SpanText(g.row.from_ms, g.row.to_ms)));
          overlaps = true;
          break;
        }
      }
      if (!overlaps) grants.push_back({&e, row, e.Has("from")});
    }
    if (!diags_.empty()) return absl::OkStatus();

    // Against the store: a grant already held as given is unchanged; one held
    // from the same start (or, without an explicit start, held now) gets the
    // file's end; any other overlap is an error.
    for (const FileGrant& g : grants) {
      const store::RoleGrantRow& row = g.row;
      auto it = stored_grants_.find(row.user_id);
      if (it == stored_grants_.end()) {
        store::GrantFilter filter;
        filter.user_id = row.user_id;
        BPM_ASSIGN_OR_RETURN(std::vector<store::RoleGrantRow> held, store_.ListGrants(filter));
        it = stored_grants_.emplace(row.user_id, std::move(held)).first;
      }
      const store::RoleGrantRow* active = nullptr;
      const store::RoleGrantRow* overlap = nullptr;
      for (const store::RoleGrantRow& h : it->second) {
        if (h.role != row.role || h.org_code != row.org_code) continue;
        if (h.to_ms != 0 && h.to_ms <= h.from_ms) continue;  // empty: never held
        if (h.from_ms <= row.from_ms && row.from_ms < EndOf(h.to_ms)) {
          active = &h;
        } else if (h.from_ms < EndOf(row.to_ms) && row.from_ms < EndOf(h.to_ms)) {
          overlap = &h;
        }
      }
      const std::string label =
          absl::StrCat("grant ", row.user_id, " ", row.role, " ", row.org_code);
      if (active != nullptr && active->to_ms == row.to_ms) {
        ++report_.grants.unchanged;
        continue;
      }
      if (active != nullptr && (active->from_ms == row.from_ms || !g.explicit_from) &&
          overlap == nullptr) {
        store::RoleGrantRow changed = *active;
        changed.to_ms = row.to_ms;
        ++report_.grants.written;
        batch_.grants.push_back(changed);
        continue;
      }
      if (active != nullptr || overlap != nullptr) {
        const store::RoleGrantRow& h = active != nullptr ? *active : *overlap;
        Error(g.entry->pos, label,
              absl::StrCat(SpanText(row.from_ms, row.to_ms), " overlaps the stored grant ",
                           SpanText(h.from_ms, h.to_ms), " (revoke it first)"));
        continue;
      }
      ++report_.grants.written;
      batch_.grants.push_back(row);
    }
    return absl::OkStatus();
  }

  struct FileRegion {
    store::RegionRow row;
    const Entry* entry;
  };

  store::OrgStore& store_;
  const ImportOptions& options_;
  std::vector<Entry> entries_;
  std::vector<Diag> diags_;
  ImportReport report_;
  store::OrgBatch batch_;

  std::vector<FileRegion> regions_;
  std::set<std::string> broken_regions_;
  std::vector<FileOrg> orgs_;
  std::map<std::string, std::map<int64_t, Version>> model_;  // code -> valid_from -> version
  std::set<std::string> file_users_;
  std::map<std::string, std::optional<store::RegionRow>> stored_regions_;
  std::map<std::string, std::optional<store::UserRow>> stored_users_;
  std::map<std::string, std::vector<store::RoleGrantRow>> stored_grants_;
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

StatusOr<ImportFormat> ParseImportFormat(std::string_view name) {
  const std::string lower = absl::AsciiStrToLower(std::string(name));
  if (lower.empty()) return ImportFormat::kAuto;
  if (lower == "yaml" || lower == "yml") return ImportFormat::kYaml;
  if (lower == "csv") return ImportFormat::kCsv;
  return absl::InvalidArgumentError(absl::StrCat(
      "format '", std::string(name), "' is not one of yaml, csv (or empty: by file extension)"));
}

StatusOr<ImportReport> ImportOrgFile(store::OrgStore& store, std::string_view text,
                                     const ImportOptions& options) {
  ImportOptions opts = options;
  if (opts.source_name.empty()) opts.source_name = "<request>";
  ImportFormat format = opts.format;
  if (format == ImportFormat::kAuto) {
    const std::string lower = absl::AsciiStrToLower(opts.source_name);
    if (EndsWith(lower, ".yaml") || EndsWith(lower, ".yml")) {
      format = ImportFormat::kYaml;
    } else if (EndsWith(lower, ".csv")) {
      format = ImportFormat::kCsv;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("cannot tell the format of '",
                                                     opts.source_name,
                                                     "' from its name: give format yaml or csv"));
    }
  }
  std::vector<Entry> entries;
  std::vector<Diag> diags;
  if (format == ImportFormat::kYaml) {
    YamlReader(&entries, &diags).Read(text);
  } else {
    CsvReader(&entries, &diags).Read(text);
  }
  return Importer(store, opts, std::move(entries), std::move(diags)).Run();
}

}  // namespace bpm::org
