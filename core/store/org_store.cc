// The static row checks of org_store.h, shared by the SOCI OrgStore and the
// importer (core/org/import.cc) so both refuse the same rows with the same
// words.
#include "core/store/org_store.h"

#include <algorithm>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bpm::store {
namespace {

constexpr size_t kMaxCodeBytes = 64;
constexpr size_t kMaxUserBytes = 128;
constexpr size_t kMaxNameChars = 255;

const std::vector<std::string>& OrgKinds() {
  static const std::vector<std::string> k = {"finance_bureau", "finance_section", "department",
                                             "unit"};
  return k;
}
const std::vector<std::string>& SectionKinds() {
  static const std::vector<std::string> k = {"business", "performance", "leadership"};
  return k;
}
const std::vector<std::string>& RegionLevels() {
  static const std::vector<std::string> k = {"province", "city", "county"};
  return k;
}

bool OneOf(const std::string& value, const std::vector<std::string>& allowed) {
  return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

std::string NotOneOf(const std::string& value, const std::vector<std::string>& allowed) {
  return absl::StrCat("'", value, "' is not one of ", absl::StrJoin(allowed, ", "));
}

// Letters, digits, '.', '_', '-'; 1 to 64 bytes.
bool IsCode(std::string_view s) {
  if (s.empty() || s.size() > kMaxCodeBytes) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

bool IsRegionCode(std::string_view s) {
  return s.size() == 9 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsUserId(std::string_view s) {
  if (s.empty() || s.size() > kMaxUserBytes) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7F && c != ','; });
}

// Number of code points of well-formed UTF-8 without control characters, or
// -1 when it is not.
int NameLength(std::string_view s) {
  int chars = 0;
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7F) return -1;
      n = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      n = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      cp = c & 0x07;
    } else {
      return -1;
    }
    if (i + n > s.size()) return -1;
    for (size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return -1;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
    i += n;
    ++chars;
  }
  return chars;
}

void CheckName(const std::string& name, std::vector<FieldError>* out) {
  if (name.empty()) {
    out->push_back({"name", "is required"});
    return;
  }
  const int n = NameLength(name);
  if (n < 0) {
    out->push_back({"name", "is not UTF-8 text without control characters"});
  } else if (static_cast<size_t>(n) > kMaxNameChars) {
    out->push_back({"name", absl::StrCat("is ", n, " characters long; at most ", kMaxNameChars)});
  }
}

void CheckCodeField(const char* field, const std::string& value, bool required,
                    std::vector<FieldError>* out) {
  if (value.empty()) {
    if (required) out->push_back({field, "is required"});
    return;
  }
  if (!IsCode(value)) {
    out->push_back({field, absl::StrCat("'", value,
                                        "' is not a valid code (letters, digits, '.', '_', '-'; "
                                        "at most 64)")});
  }
}

void CheckRegionField(const char* field, const std::string& value, bool required,
                      std::vector<FieldError>* out) {
  if (value.empty()) {
    if (required) out->push_back({field, "is required"});
    return;
  }
  if (!IsRegionCode(value)) {
    out->push_back({field, absl::StrCat("'", value, "' is not a 9-digit region code")});
  }
}

}  // namespace

std::vector<FieldError> CheckRegion(const RegionRow& row) {
  std::vector<FieldError> out;
  CheckRegionField("code", row.code, true, &out);
  CheckName(row.name, &out);
  if (row.level.empty()) {
    out.push_back({"level", "is required"});
  } else if (!OneOf(row.level, RegionLevels())) {
    out.push_back({"level", NotOneOf(row.level, RegionLevels())});
  }
  if (row.level == "province") {
    if (!row.parent_code.empty()) out.push_back({"parent_code", "must be empty for a province"});
  } else if (OneOf(row.level, RegionLevels())) {
    CheckRegionField("parent_code", row.parent_code, true, &out);
    if (!row.parent_code.empty() && row.parent_code == row.code) {
      out.push_back({"parent_code", "a region cannot be its own parent"});
    }
  }
  return out;
}

std::vector<FieldError> CheckRegionLinks(const RegionRow& row, const RegionRow* parent) {
  std::vector<FieldError> out;
  if (row.parent_code.empty()) return out;
  if (parent == nullptr) {
    out.push_back({"parent_code", absl::StrCat("'", row.parent_code, "' does not exist")});
  } else if (row.level == "city" && parent->level != "province") {
    out.push_back({"parent_code", absl::StrCat("'", row.parent_code, "' is a ", parent->level,
                                               "; a city's parent must be a province")});
  } else if (row.level == "county" && parent->level == "county") {
    out.push_back({"parent_code", absl::StrCat("'", row.parent_code,
                                               "' is a county; a county's parent must be a "
                                               "province or city")});
  }
  return out;
}

std::vector<FieldError> CheckOrg(const OrgRow& row) {
  std::vector<FieldError> out;
  CheckCodeField("code", row.code, true, &out);
  CheckName(row.name, &out);
  if (row.kind.empty()) {
    out.push_back({"kind", "is required"});
  } else if (!OneOf(row.kind, OrgKinds())) {
    out.push_back({"kind", NotOneOf(row.kind, OrgKinds())});
  }
  CheckRegionField("region_code", row.region_code, true, &out);
  if (row.kind == "finance_section") {
    if (row.section_kind.empty()) {
      out.push_back({"section_kind", "is required for a finance_section"});
    } else if (!OneOf(row.section_kind, SectionKinds())) {
      out.push_back({"section_kind", NotOneOf(row.section_kind, SectionKinds())});
    }
  } else if (!row.section_kind.empty()) {
    out.push_back({"section_kind", "applies only to a finance_section"});
  }
  if (row.kind == "department") {
    CheckCodeField("owner_section", row.owner_section, false, &out);
  } else if (!row.owner_section.empty()) {
    out.push_back({"owner_section", "applies only to a department"});
  }
  if (row.kind == "finance_bureau") {
    if (!row.parent_code.empty()) {
      out.push_back({"parent_code", "must be empty: a finance_bureau has no parent"});
    }
  } else {
    const bool required = row.kind == "finance_section" || row.kind == "unit";
    if (required && row.parent_code.empty()) {
      out.push_back({"parent_code", absl::StrCat("is required for a ", row.kind)});
    }
    CheckCodeField("parent_code", row.parent_code, false, &out);
    if (!row.parent_code.empty() && row.parent_code == row.code) {
      out.push_back({"parent_code", "an org cannot be its own parent"});
    }
  }
  return out;
}

std::vector<FieldError> CheckOrgLinks(const OrgRow& row, const OrgRow* parent,
                                      const OrgRow* owner) {
  std::vector<FieldError> out;
  if (!row.parent_code.empty()) {
    if (parent == nullptr) {
      out.push_back({"parent_code", absl::StrCat("'", row.parent_code, "' does not exist")});
    } else {
      std::vector<std::string> allowed;
      if (row.kind == "finance_section") allowed = {"finance_bureau"};
      if (row.kind == "department") allowed = {"finance_bureau", "department"};
      if (row.kind == "unit") allowed = {"department", "unit"};
      if (!allowed.empty() && !OneOf(parent->kind, allowed)) {
        out.push_back({"parent_code",
                       absl::StrCat("'", row.parent_code, "' is a ", parent->kind, "; a ", row.kind,
                                    "'s parent must be a ", absl::StrJoin(allowed, " or "))});
      }
    }
  }
  if (row.kind == "department") {
    const bool top = parent == nullptr || parent->kind != "department";
    if (row.owner_section.empty()) {
      if (top) {
        out.push_back({"owner_section",
                       "is required for a top department (its owning finance business "
                       "section, 归口科室)"});
      }
    } else if (owner == nullptr) {
      out.push_back({"owner_section", absl::StrCat("'", row.owner_section, "' does not exist")});
    } else if (owner->kind != "finance_section" || owner->section_kind != "business") {
      out.push_back({"owner_section",
                     absl::StrCat("'", row.owner_section, "' is not a business finance_section")});
    }
  }
  return out;
}

std::vector<FieldError> CheckUser(const UserRow& row) {
  std::vector<FieldError> out;
  if (row.id.empty()) {
    out.push_back({"id", "is required"});
  } else if (!IsUserId(row.id)) {
    out.push_back({"id", absl::StrCat("'", row.id,
                                      "' is not a valid user id (printable ASCII without blanks "
                                      "or commas; at most 128)")});
  }
  CheckName(row.name, &out);
  return out;
}

std::vector<FieldError> CheckGrant(const RoleGrantRow& row) {
  std::vector<FieldError> out;
  if (row.user_id.empty()) {
    out.push_back({"user_id", "is required"});
  } else if (!IsUserId(row.user_id)) {
    out.push_back({"user_id", absl::StrCat("'", row.user_id, "' is not a valid user id")});
  }
  CheckCodeField("role", row.role, true, &out);
  CheckCodeField("org_code", row.org_code, true, &out);
  if (row.to_ms != 0 && row.to_ms <= row.from_ms) {
    out.push_back({"to_ms", "must be later than the start"});
  }
  return out;
}

std::string FormatFieldErrors(const std::string& what, const std::vector<FieldError>& errors) {
  std::vector<std::string> parts;
  parts.reserve(errors.size());
  for (const FieldError& e : errors)
    parts.push_back(absl::StrCat(what, ".", e.field, ": ", e.detail));
  return absl::StrJoin(parts, "; ");
}

}  // namespace bpm::store
