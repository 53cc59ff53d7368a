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
#pragma once

#include <cstdint>
#include <string>

#include "bpm/plugin/v1/plugin.pb.h"
#include "core/common/status.h"
#include "core/store/org_store.h"

namespace bpm::org {

StatusOr<bpm::plugin::v1::OrgContext> ResolveOrgContext(store::OrgStore& orgs,
                                                        const std::string& org_code, int64_t at_ms);

// The OrgRef of one org version (code, name, kind, section_kind, region).
bpm::plugin::v1::OrgRef ToOrgRef(const store::OrgRow& row);

}  // namespace bpm::org
