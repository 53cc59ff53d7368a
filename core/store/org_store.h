// bpm::store::OrgStore — the org model's tables: regions (财政区划), orgs
// (finance bureaus, their sections, departments and units at any depth),
// users, role grants, with effective dating.
//
// Effective dating: every org change is a new row in org_versions with a
// valid_from_ms; the org "as of" time T is its latest version with
// valid_from_ms <= T. Role grants carry [from_ms, to_ms) (to_ms 0 = open).
// Nothing is updated in place, so history stays queryable.
//
// Errors: NOT_FOUND (no such org/user as of T), INVALID_ARGUMENT (bad codes
// or kinds, naming the field), UNAVAILABLE (database).
// Thread safety: safe to use from many threads (shares Store's pool).
#pragma once

#include <cstdint>
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

class OrgStore {
 public:
  virtual ~OrgStore() = default;

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
};

}  // namespace bpm::store
