#include "core/org/context.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/org/dates.h"

namespace bpm::org {
namespace {

namespace pv1 = ::bpm::plugin::v1;

// Parent chains longer than this are taken as a loop.
constexpr int kMaxDepth = 64;

bool IsDeptOrUnit(const store::OrgRow& row) {
  return row.kind == "department" || row.kind == "unit";
}

}  // namespace

pv1::OrgRef ToOrgRef(const store::OrgRow& row) {
  pv1::OrgRef ref;
  ref.set_code(row.code);
  ref.set_name(row.name);
  ref.set_kind(row.kind);
  ref.set_section_kind(row.section_kind);
  ref.set_region(row.region_code);
  return ref;
}

StatusOr<pv1::OrgContext> ResolveOrgContext(store::OrgStore& orgs, const std::string& org_code,
                                            int64_t at_ms) {
  const std::string when = FormatChinaTime(at_ms);
  BPM_ASSIGN_OR_RETURN(store::OrgRow unit, orgs.GetOrg(org_code, at_ms));
  pv1::OrgContext ctx;
  ctx.set_as_of_unix_ms(at_ms);
  *ctx.mutable_unit() = ToOrgRef(unit);
  std::vector<std::string> member_orgs = {unit.code};

  // Ancestors: parents while they are departments or units.
  std::optional<store::OrgRow> top_department;
  if (unit.kind == "department") top_department = unit;
  store::OrgRow current = unit;
  std::set<std::string> seen = {unit.code};
  for (int depth = 0; !current.parent_code.empty(); ++depth) {
    if (depth >= kMaxDepth || seen.count(current.parent_code) > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "org ", org_code, ": the parent chain loops at ", current.parent_code, " as of ", when));
    }
    auto parent = orgs.GetOrg(current.parent_code, at_ms);
    if (absl::IsNotFound(parent.status())) {
      return absl::FailedPreconditionError(absl::StrCat("org ", org_code, ": parent ",
                                                        current.parent_code, " of ", current.code,
                                                        " does not exist as of ", when));
    }
    if (!parent.ok()) return parent.status();
    if (!IsDeptOrUnit(*parent)) break;
    seen.insert(parent->code);
    *ctx.add_ancestors() = ToOrgRef(*parent);
    member_orgs.push_back(parent->code);
    if (parent->kind == "department") top_department = *parent;
    current = *std::move(parent);
  }

  // The owning business section of the top department.
  if (top_department && !top_department->owner_section.empty()) {
    auto owner = orgs.GetOrg(top_department->owner_section, at_ms);
    if (absl::IsNotFound(owner.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("org ", org_code, ": owning section ", top_department->owner_section,
                       " of department ", top_department->code, " does not exist as of ", when));
    }
    if (!owner.ok()) return owner.status();
    *ctx.mutable_owning_section() = ToOrgRef(*owner);
    member_orgs.push_back(owner->code);
  }

  // The performance and leadership sections of the region's finance bureau.
  store::OrgFilter bureaus;
  bureaus.kind = "finance_bureau";
  bureaus.region_code = unit.region_code;
  BPM_ASSIGN_OR_RETURN(std::vector<store::OrgRow> found, orgs.ListOrgs(bureaus, at_ms));
  if (!found.empty()) {
    store::OrgFilter sections;
    sections.parent_code = found.front().code;  // one bureau per region; the first by code
    sections.kind = "finance_section";
    BPM_ASSIGN_OR_RETURN(std::vector<store::OrgRow> children, orgs.ListOrgs(sections, at_ms));
    for (const store::OrgRow& s : children) {  // by code: the first of each kind wins
      if (s.section_kind == "performance" && !ctx.has_performance_section()) {
        *ctx.mutable_performance_section() = ToOrgRef(s);
      }
      if (s.section_kind == "leadership" && !ctx.has_leadership()) {
        *ctx.mutable_leadership() = ToOrgRef(s);
      }
    }
    if (ctx.has_performance_section()) member_orgs.push_back(ctx.performance_section().code());
    if (ctx.has_leadership()) member_orgs.push_back(ctx.leadership().code());
  }

  // Members: one entry per (org, role), in member_orgs order.
  std::set<std::string> done;
  for (const std::string& code : member_orgs) {
    if (!done.insert(code).second) continue;
    BPM_ASSIGN_OR_RETURN(std::vector<store::RoleGrantRow> grants, orgs.Grants(code, "", at_ms));
    std::map<std::string, std::set<std::string>> by_role;
    for (const store::RoleGrantRow& g : grants) by_role[g.role].insert(g.user_id);
    for (const auto& [role, users] : by_role) {
      pv1::RoleMembers* m = ctx.add_members();
      m->set_org(code);
      m->set_role(role);
      for (const std::string& u : users) m->add_users(u);
    }
  }
  return ctx;
}

StatusOr<pv1::OrgContext> OrgContextCache::Resolve(const std::string& org_code,
                                                  int64_t at_ms) {
  const uint64_t generation = orgs_.generation();  // read before resolving
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(org_code);
    if (it != entries_.end() && it->second.generation == generation &&
        at_ms >= it->second.at_ms && at_ms < it->second.at_ms + ttl_ms_) {
      StatusOr<pv1::OrgContext> out = it->second.ctx;
      if (out.ok()) out->set_as_of_unix_ms(at_ms);
      return out;
    }
  }
  StatusOr<pv1::OrgContext> ctx = ResolveOrgContext(orgs_, org_code, at_ms);
  if (ctx.ok() || absl::IsNotFound(ctx.status())) {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.size() >= max_entries_) entries_.clear();
    entries_[org_code] = Entry{ctx, at_ms, generation};
  }
  return ctx;
}

}  // namespace bpm::org
