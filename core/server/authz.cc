#include "core/server/authz.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/engine/engine.h"
#include "core/server/identity.h"

namespace bpm::server {
namespace {

constexpr const char* kAdminRole = engine::kAdminRole;

// Sorted by method name (PolicyFor binary-searches it; Policies() checks).
const std::vector<MethodPolicy>& Table() {
  static const auto* table = new std::vector<MethodPolicy>{
      {"/bpm.v1.AgencyService/Complete", Gate::kAgencyWork},
      {"/bpm.v1.AgencyService/Engage", Gate::kFinance},
      {"/bpm.v1.AgencyService/ExtendLock", Gate::kAgencyWork},
      {"/bpm.v1.AgencyService/FetchAndLock", Gate::kAgencyWork},
      {"/bpm.v1.AgencyService/GetAgency", Gate::kEngagement},
      {"/bpm.v1.AgencyService/GetEngagement", Gate::kEngagement},
      {"/bpm.v1.AgencyService/ListAgencies", Gate::kEngagement},
      {"/bpm.v1.AgencyService/ListEngagements", Gate::kEngagement},
      {"/bpm.v1.AgencyService/ListIncidents", Gate::kFinance},
      {"/bpm.v1.AgencyService/ListOutbox", Gate::kFinance},
      {"/bpm.v1.AgencyService/RegisterAgency", Gate::kFinance},
      {"/bpm.v1.AgencyService/ReplayOutbox", Gate::kFinance},
      {"/bpm.v1.AgencyService/ReportFailure", Gate::kAgencyWork},
      {"/bpm.v1.AgencyService/ResolveIncident", Gate::kFinance},
      {"/bpm.v1.CampaignService/ExtendDeadline", Gate::kFinance},
      {"/bpm.v1.CampaignService/Get", Gate::kFinance},
      {"/bpm.v1.CampaignService/List", Gate::kFinance},
      {"/bpm.v1.CampaignService/Start", Gate::kFinance},
      {"/bpm.v1.CampaignService/Urge", Gate::kFinance},
      {"/bpm.v1.DefinitionService/Deploy", Gate::kAdmin},
      {"/bpm.v1.DefinitionService/Diff", Gate::kStaff},
      {"/bpm.v1.DefinitionService/Get", Gate::kStaff},
      {"/bpm.v1.DefinitionService/Graph", Gate::kStaff},
      {"/bpm.v1.DefinitionService/List", Gate::kStaff},
      {"/bpm.v1.DefinitionService/Migrate", Gate::kAdmin},
      {"/bpm.v1.DefinitionService/SetAlias", Gate::kAdmin},
      {"/bpm.v1.DefinitionService/Validate", Gate::kStaff},
      {"/bpm.v1.InstanceService/Cancel", Gate::kInstance},
      {"/bpm.v1.InstanceService/Cc", Gate::kInstance},
      {"/bpm.v1.InstanceService/Comment", Gate::kInstance},
      {"/bpm.v1.InstanceService/Get", Gate::kInstance},
      {"/bpm.v1.InstanceService/GetDocument", Gate::kDisclosure},
      {"/bpm.v1.InstanceService/GetHistory", Gate::kInstance},
      {"/bpm.v1.InstanceService/Jump", Gate::kAdmin},
      {"/bpm.v1.InstanceService/List", Gate::kList},
      {"/bpm.v1.InstanceService/ListDocuments", Gate::kDisclosure},
      {"/bpm.v1.InstanceService/Preview", Gate::kInstance},
      {"/bpm.v1.InstanceService/Resume", Gate::kAdmin},
      {"/bpm.v1.InstanceService/Start", Gate::kInstance},
      {"/bpm.v1.InstanceService/Suspend", Gate::kAdmin},
      {"/bpm.v1.InstanceService/Terminate", Gate::kAdmin},
      {"/bpm.v1.InstanceService/Urge", Gate::kInstance},
      {"/bpm.v1.InstanceService/Withdraw", Gate::kInstance},
      {"/bpm.v1.OrgService/GetOrg", Gate::kStaff},
      {"/bpm.v1.OrgService/GrantRole", Gate::kOrgAdmin},
      {"/bpm.v1.OrgService/Import", Gate::kOrgAdmin},
      {"/bpm.v1.OrgService/ListGrants", Gate::kStaff},
      {"/bpm.v1.OrgService/ListOrgs", Gate::kStaff},
      {"/bpm.v1.OrgService/ListRegions", Gate::kStaff},
      {"/bpm.v1.OrgService/OrgHistory", Gate::kStaff},
      {"/bpm.v1.OrgService/PutOrg", Gate::kOrgAdmin},
      {"/bpm.v1.OrgService/PutRegion", Gate::kOrgAdmin},
      {"/bpm.v1.OrgService/PutUser", Gate::kOrgAdmin},
      {"/bpm.v1.OrgService/ResolveContext", Gate::kStaff},
      {"/bpm.v1.OrgService/RevokeRole", Gate::kOrgAdmin},
      {"/bpm.v1.ReportService/Get", Gate::kList},
      {"/bpm.v1.ReportService/ListDisclosures", Gate::kDisclosure},
      {"/bpm.v1.ReportService/Scorecard", Gate::kList},
      {"/bpm.v1.TargetService/Adjust", Gate::kInstance},
      {"/bpm.v1.TargetService/CheckQuality", Gate::kInstance},
      {"/bpm.v1.TargetService/Versions", Gate::kInstance},
      {"/bpm.v1.TaskService/Act", Gate::kSelf},
      {"/bpm.v1.TaskService/Claim", Gate::kSelf},
      {"/bpm.v1.TaskService/Delegate", Gate::kSelf},
      {"/bpm.v1.TaskService/Inbox", Gate::kSelf},
      {"/bpm.v1.TaskService/ListNotifications", Gate::kSelf},
      {"/bpm.v1.TaskService/ListProxies", Gate::kSelf},
      {"/bpm.v1.TaskService/RemoveProxy", Gate::kSelf},
      {"/bpm.v1.TaskService/ResolveDelegation", Gate::kSelf},
      {"/bpm.v1.TaskService/SetProxy", Gate::kSelf},
      {"/bpm.v1.TaskService/Transfer", Gate::kSelf},
      {"/bpm.v1.TaskService/Unclaim", Gate::kSelf},
      // Served by gRPC itself: liveness and the API's schema, no data.
      {"/grpc.health.v1.Health/Check", Gate::kPublic},
      {"/grpc.health.v1.Health/Watch", Gate::kPublic},
      {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", Gate::kPublic},
  };
  return *table;
}

// Never destroyed: server threads read it until the process ends. Without
// SetOrgScope, a scope with no org model (the budget-code rule alone).
std::shared_ptr<org::Scope>& TheScope() {
  static auto* clock = new SystemClock();
  static auto* scope = new std::shared_ptr<org::Scope>(std::make_shared<org::Scope>(nullptr, *clock));
  return *scope;
}

std::string Who(const store::Caller& c) {
  return absl::StrCat("user ", c.user, " (roles ", c.roles.empty() ? "none" : absl::StrJoin(c.roles, ","),
                      "; org ", c.org.empty() ? "none" : c.org, ")");
}

bool IsAdmin(const store::Caller& c) { return HasRole(c, kAdminRole); }
bool IsPublic(const store::Caller& c) { return HasRole(c, kPublicRole); }
bool IsAgency(const store::Caller& c) { return HasRole(c, kAgencyRole); }
bool IsStaff(const store::Caller& c) { return !IsPublic(c) && !IsAgency(c); }

StatusOr<bool> IsFinance(const store::Caller& c) {
  if (!IsStaff(c)) return false;
  BPM_ASSIGN_OR_RETURN(std::string kind, TheScope()->KindOf(c.org));
  return kind == "finance_bureau" || kind == "finance_section";
}

// Whether c passes gate (the org part of kInstance/kDisclosure aside).
StatusOr<bool> Passes(const store::Caller& c, Gate gate) {
  if (gate == Gate::kPublic) return true;
  if (gate == Gate::kAgencyWork) return IsAgency(c) && !IsPublic(c);
  if (IsAdmin(c) && !IsPublic(c) && !IsAgency(c)) return true;
  switch (gate) {
    case Gate::kSelf:
      return !IsPublic(c);
    case Gate::kStaff:
    case Gate::kInstance:
    case Gate::kList:
      return IsStaff(c);
    case Gate::kDisclosure:
      return IsStaff(c) || (IsPublic(c) && !IsAgency(c));
    case Gate::kFinance:
      return IsFinance(c);
    case Gate::kEngagement: {
      if (IsAgency(c)) return !IsPublic(c);
      return IsFinance(c);
    }
    case Gate::kOrgAdmin:
      return IsStaff(c) && HasRole(c, kOrgAdminRole);
    case Gate::kAdmin:
    case Gate::kPublic:
    case Gate::kAgencyWork:
      return false;
  }
  return false;
}

}  // namespace

const char* GateName(Gate gate) {
  switch (gate) {
    case Gate::kPublic: return "public";
    case Gate::kSelf: return "self";
    case Gate::kStaff: return "staff";
    case Gate::kInstance: return "instance";
    case Gate::kList: return "list";
    case Gate::kDisclosure: return "disclosure";
    case Gate::kFinance: return "finance";
    case Gate::kEngagement: return "engagement";
    case Gate::kAgencyWork: return "agency-work";
    case Gate::kOrgAdmin: return "org-admin";
    case Gate::kAdmin: return "admin";
  }
  return "?";
}

const std::vector<MethodPolicy>& Policies() { return Table(); }

const MethodPolicy* PolicyFor(std::string_view method) {
  const auto& t = Table();
  auto it = std::lower_bound(t.begin(), t.end(), method,
                             [](const MethodPolicy& p, std::string_view m) { return p.method < m; });
  if (it == t.end() || it->method != method) return nullptr;
  return &*it;
}

void SetOrgScope(std::shared_ptr<org::Scope> scope) {
  if (scope != nullptr) TheScope() = std::move(scope);
}

bool HasRole(const store::Caller& caller, std::string_view role) {
  return std::find(caller.roles.begin(), caller.roles.end(), role) != caller.roles.end();
}

namespace {
// Why a gate refuses, in words a caller can act on.
std::string Needs(Gate gate) {
  switch (gate) {
    case Gate::kSelf: return "an identity other than public";
    case Gate::kStaff:
    case Gate::kInstance:
    case Gate::kList: return "a staff identity (not public, not an agency)";
    case Gate::kDisclosure: return "a staff identity, or role public for disclosures";
    case Gate::kFinance: return "an org that is a finance bureau or section in the org model";
    case Gate::kEngagement: return "a finance org, or role agency for its own engagements";
    case Gate::kAgencyWork: return "role agency";
    case Gate::kOrgAdmin: return "role org_admin";
    case Gate::kAdmin: return "role workflow_admin";
    case Gate::kPublic: return "nothing";
  }
  return "?";
}
}  // namespace

StatusOr<store::Caller> Authorize(const grpc::ServerContextBase& ctx, std::string_view method) {
  const MethodPolicy* policy = PolicyFor(method);
  if (policy == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat(std::string(method), ": no authorization policy (denied by default)"));
  }
  BPM_ASSIGN_OR_RETURN(store::Caller caller, CallerOf(ctx));
  BPM_ASSIGN_OR_RETURN(bool ok, Passes(caller, policy->gate));
  if (!ok) {
    return absl::PermissionDeniedError(
        absl::StrCat(std::string(method), ": denied to ", Who(caller), ": needs ", Needs(policy->gate)));
  }
  return caller;
}

StatusOr<bool> InScope(const store::Caller& caller, const std::string& org) {
  if (!IsStaff(caller)) return false;
  if (IsAdmin(caller)) return true;
  return TheScope()->Covers(caller.org, org);
}

Status CheckOrg(const store::Caller& caller, const std::string& org, const std::string& what) {
  BPM_ASSIGN_OR_RETURN(bool covered, InScope(caller, org));
  if (!covered) {
    return absl::PermissionDeniedError(absl::StrCat(what, ": org ", org.empty() ? "none" : org,
                                                    " is outside the scope of ", Who(caller)));
  }
  return absl::OkStatus();
}

StatusOr<store::OrgSet> ScopeOf(const store::Caller& caller) {
  store::OrgSet out;
  if (IsAdmin(caller) && IsStaff(caller)) return out;
  out.all = false;
  if (!IsStaff(caller)) return out;
  BPM_ASSIGN_OR_RETURN(org::Scope::Set set, TheScope()->Within(caller.org));
  out.codes = std::move(set.codes);
  out.prefix = std::move(set.prefix);
  return out;
}

}  // namespace bpm::server
