// bpm::org::ResolveOrgContext — the org model around one org as of a time,
// in the form the engine hands stage plugins (bpm.plugin.v1.OrgContext):
//
//   unit                 the org itself
//   ancestors            its parents, nearest first, while they are units or
//                        departments: up to and including the top department
//                        (finance bureaus are never ancestors)
//   owning_section       owner_section of the top department (归口业务股)
//   performance_section  the finance_section with section_kind performance
//                        under the finance bureau of the unit's region
//   leadership           the section_kind leadership section under that
//                        bureau, if any (局领导)
//   members              the grants active at at_ms of the unit, every
//                        ancestor and the three sections: one RoleMembers per
//                        (org, role), orgs in the order above, roles sorted,
//                        users sorted and distinct
//   as_of_unix_ms        at_ms
//
// Everything is read "as of" at_ms, so an org moved to another department
// from a date resolves to the old chain before it and the new one after.
// Sections that do not exist are left empty (no error).
//
// Errors: NOT_FOUND when org_code does not exist (or is dissolved) at at_ms;
// FAILED_PRECONDITION when the model is inconsistent at at_ms (a parent or
// owning section missing, a parent loop); UNAVAILABLE/INTERNAL from the store.
// Thread safety: stateless; safe to call concurrently if the store is.
// OrgContextCache (below) answers repeated resolutions from memory.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "bpm/plugin/v1/plugin.pb.h"
#include "core/common/status.h"
#include "core/store/org_store.h"

namespace bpm::org {

StatusOr<bpm::plugin::v1::OrgContext> ResolveOrgContext(store::OrgStore& orgs,
                                                        const std::string& org_code, int64_t at_ms);

// The OrgRef of one org version (code, name, kind, section_kind, region).
bpm::plugin::v1::OrgRef ToOrgRef(const store::OrgRow& row);

// Remembers resolved contexts (and NOT_FOUND answers) briefly, because the
// engine resolves the owning org's context for nearly every command and the
// resolution takes a dozen reads. An entry computed as of T answers requests
// as of [T, T + ttl_ms) while the store's generation() is unchanged, so a
// write through this process's OrgStore is seen at once, and a change made
// by another bpmd on the same database, or one dated to take effect later,
// at most ttl_ms late. Other errors are never cached.
// Thread safety: Resolve may be called concurrently. Borrows orgs.
class OrgContextCache {
 public:
  explicit OrgContextCache(store::OrgStore& orgs, int64_t ttl_ms = 5000,
                           size_t max_entries = 50000)
      : orgs_(orgs), ttl_ms_(ttl_ms), max_entries_(max_entries) {}
  OrgContextCache(const OrgContextCache&) = delete;
  OrgContextCache& operator=(const OrgContextCache&) = delete;

  // Same contract as ResolveOrgContext (as_of_unix_ms is at_ms).
  StatusOr<bpm::plugin::v1::OrgContext> Resolve(const std::string& org_code, int64_t at_ms);

 private:
  struct Entry {
    StatusOr<bpm::plugin::v1::OrgContext> ctx;
    int64_t at_ms = 0;
    uint64_t generation = 0;
  };
  store::OrgStore& orgs_;
  const int64_t ttl_ms_;
  const size_t max_entries_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace bpm::org
