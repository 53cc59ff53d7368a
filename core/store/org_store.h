// bpm::store::OrgStore — the org model's tables: regions (财政区划), orgs
// (finance bureaus, their sections, departments and units at any depth),
// users, role grants, with effective dating.
//
// Effective dating: every org change is a new row in org_versions with a
// valid_from_ms; the org "as of" time T is its latest version with
// valid_from_ms <= T. Role grants carry [from_ms, to_ms) (to_ms 0 = open).
// Nothing is updated in place, so history stays queryable.
//
// Rules every write checks (CheckRegion/CheckOrg/CheckUser/CheckGrant below
// state them; the importer in core/org applies the same functions):
//   regions   code 9 digits; level province | city | county; a province has
//             no parent, a city's parent is a province, a county's a province
//             or city; the parent must exist.
//   orgs      code [A-Za-z0-9._-]{1,64}; kind finance_bureau | finance_section
//             | department | unit; region must exist. A finance bureau has no
//             parent; a finance section's parent is a finance bureau and it
//             has a section_kind; a department's parent is none, a finance
//             bureau or a department; a unit's parent a department or unit.
//             A top department (parent not a department) names its owning
//             business section in owner_section. Parent and owner must exist
//             as of valid_from_ms. A version with active=false dissolves the
//             org; its empty fields are copied from the version before it.
//   users     id: printable ASCII without blanks or commas, at most 128 bytes.
//   grants    role [A-Za-z0-9._-]{1,64}; user must exist, org must have a
//             version; to_ms 0 or > from_ms; no two grants of the same (user,
//             role, org) overlap (granting again from the same from_ms
//             replaces that grant's to_ms).
// Names are UTF-8, 1 to 255 characters.
//
// Errors: NOT_FOUND (no such org/user as of T), INVALID_ARGUMENT (bad codes,
// kinds or references, naming the field: "org.kind: 'dept' is not one of
// ..."), ALREADY_EXISTS (an overlapping grant), UNAVAILABLE (database).
// Thread safety: safe to use from many threads (shares Store's pool).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/common/status.h"

namespace bpm::store {

struct RegionRow {
  std::string code;         // 9-digit 财政区划 code
  std::string name;
  std::string parent_code;  // "" for a province
  std::string level;        // province | city | county
};

struct OrgRow {
  std::string code;
  std::string name;
  std::string kind;           // finance_bureau | finance_section | department | unit
  std::string parent_code;    // "" at the top (a finance bureau, or a department)
  std::string region_code;
  std::string section_kind;   // finance_section only: business | performance | leadership
  std::string owner_section;  // department only: code of the owning finance business section
  int64_t valid_from_ms = 0;
  bool active = true;         // false: dissolved from valid_from_ms on
};

struct UserRow {
  std::string id;
  std::string name;
};

struct RoleGrantRow {
  std::string user_id;
  std::string role;
  std::string org_code;
  int64_t from_ms = 0;
  int64_t to_ms = 0;  // 0: no end
};

struct OrgFilter {
  std::string parent_code;  // children of this org
  std::string kind;
  std::string region_code;
};

// Empty fields match everything.
struct GrantFilter {
  std::string user_id;
  std::string org_code;
  std::string role;
  // Set: only grants active at this time (from_ms <= t < to_ms or open).
  // Unset: every grant, ended ones included (the history).
  std::optional<int64_t> active_at;
};

// Everything one import writes, applied in ONE transaction by Apply().
// Orgs must come parents (and owning sections) first.
struct OrgBatch {
  std::vector<RegionRow> regions;
  std::vector<OrgRow> orgs;
  std::vector<UserRow> users;
  std::vector<RoleGrantRow> grants;
};

// One problem of a row: the row's field (e.g. "parent_code") and what is
// wrong, written to follow the field's name ("'907' does not exist").
struct FieldError {
  std::string field;
  std::string detail;
};

// Static checks of one row (formats, enumerations, required fields and
// which fields apply to which kind); no database access. Empty: valid.
std::vector<FieldError> CheckRegion(const RegionRow& row);
std::vector<FieldError> CheckOrg(const OrgRow& row);
std::vector<FieldError> CheckUser(const UserRow& row);
std::vector<FieldError> CheckGrant(const RoleGrantRow& row);
// Reference checks of an org version against its parent and owning section
// as of row.valid_from_ms (nullptr: none exists then; ignored when the row
// names none). Region existence is checked by the caller.
std::vector<FieldError> CheckOrgLinks(const OrgRow& row, const OrgRow* parent, const OrgRow* owner);
// Reference check of a region against its parent (nullptr: does not exist).
std::vector<FieldError> CheckRegionLinks(const RegionRow& row, const RegionRow* parent);
// "org.kind: 'dept' is not one of ...; org.name: is required" (what: "org").
std::string FormatFieldErrors(const std::string& what, const std::vector<FieldError>& errors);

class OrgStore {
 public:
  virtual ~OrgStore() = default;

  // Changes after every write through this object (committed or not), so
  // caches of resolved org data (org::OrgContextCache) know to re-read.
  virtual uint64_t generation() const = 0;

  virtual Status PutRegion(const RegionRow& row) = 0;      // insert or replace
  virtual StatusOr<RegionRow> GetRegion(const std::string& code) = 0;
  virtual StatusOr<std::vector<RegionRow>> ListRegions() = 0;

  // Adds a version of the org effective from row.valid_from_ms.
  virtual Status PutOrg(const OrgRow& row) = 0;
  // The org as of at_ms; NOT_FOUND when it did not exist (or was dissolved).
  virtual StatusOr<OrgRow> GetOrg(const std::string& code, int64_t at_ms) = 0;
  // Orgs as of at_ms matching the filter, by code.
  virtual StatusOr<std::vector<OrgRow>> ListOrgs(const OrgFilter& filter, int64_t at_ms) = 0;
  // Every version of one org, oldest first.
  virtual StatusOr<std::vector<OrgRow>> OrgHistory(const std::string& code) = 0;

  virtual Status PutUser(const UserRow& row) = 0;  // insert or replace
  virtual StatusOr<UserRow> GetUser(const std::string& id) = 0;
  virtual Status Grant(const RoleGrantRow& row) = 0;
  // Ends the grant (user, role, org) at to_ms. NOT_FOUND when none is open.
  virtual Status Revoke(const std::string& user_id, const std::string& role,
                        const std::string& org_code, int64_t to_ms) = 0;
  // Users holding role in org at at_ms, sorted. Empty role: all grants of org.
  virtual StatusOr<std::vector<RoleGrantRow>> Grants(const std::string& org_code,
                                                     const std::string& role, int64_t at_ms) = 0;
  // Grants of one user active at at_ms.
  virtual StatusOr<std::vector<RoleGrantRow>> GrantsOfUser(const std::string& user_id,
                                                           int64_t at_ms) = 0;
  // Org versions whose valid_from_ms lies in (after_ms, until_ms]: the
  // changes that took effect in that window (for re-routing open tasks).
  virtual StatusOr<std::vector<OrgRow>> ChangesBetween(int64_t after_ms, int64_t until_ms) = 0;

  // Added for the org API and import:
  // Grants matching filter, ordered by org, role, user, from_ms.
  virtual StatusOr<std::vector<RoleGrantRow>> ListGrants(const GrantFilter& filter) = 0;
  // Writes regions, orgs, users, then grants, with the checks of the single
  // calls, in one transaction: all or nothing. The error names the row, e.g.
  // "orgs[3] 906017: org.parent_code: '907' does not exist".
  virtual Status Apply(const OrgBatch& batch) = 0;
};

}  // namespace bpm::store
