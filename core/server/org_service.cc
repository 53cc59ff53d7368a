#include "core/server/org_service.h"

#include <string>
#include <utility>
#include <vector>

#include "bpm/v1/org.grpc.pb.h"
#include "core/org/context.h"
#include "core/org/import.h"
#include "core/server/identity.h"

namespace bpm::server {
namespace {

namespace v1 = ::bpm::v1;

// ---- Message <-> row translation -------------------------------------------

store::RegionRow FromProto(const v1::Region& r) {
  return {r.code(), r.name(), r.parent_code(), r.level()};
}
v1::Region ToProto(const store::RegionRow& r) {
  v1::Region out;
  out.set_code(r.code);
  out.set_name(r.name);
  out.set_parent_code(r.parent_code);
  out.set_level(r.level);
  return out;
}

store::OrgRow FromProto(const v1::Org& o) {
  store::OrgRow row;
  row.code = o.code();
  row.name = o.name();
  row.kind = o.kind();
  row.parent_code = o.parent_code();
  row.region_code = o.region_code();
  row.section_kind = o.section_kind();
  row.owner_section = o.owner_section();
  row.valid_from_ms = o.valid_from_unix_ms();
  row.active = !o.dissolved();
  return row;
}
v1::Org ToProto(const store::OrgRow& o) {
  v1::Org out;
  out.set_code(o.code);
  out.set_name(o.name);
  out.set_kind(o.kind);
  out.set_parent_code(o.parent_code);
  out.set_region_code(o.region_code);
  out.set_section_kind(o.section_kind);
  out.set_owner_section(o.owner_section);
  out.set_valid_from_unix_ms(o.valid_from_ms);
  out.set_dissolved(!o.active);
  return out;
}

v1::User ToProto(const store::UserRow& u) {
  v1::User out;
  out.set_id(u.id);
  out.set_name(u.name);
  return out;
}

store::RoleGrantRow FromProto(const v1::RoleGrant& g) {
  return {g.user_id(), g.role(), g.org_code(), g.from_unix_ms(), g.to_unix_ms()};
}
v1::RoleGrant ToProto(const store::RoleGrantRow& g) {
  v1::RoleGrant out;
  out.set_user_id(g.user_id);
  out.set_role(g.role);
  out.set_org_code(g.org_code);
  out.set_from_unix_ms(g.from_ms);
  out.set_to_unix_ms(g.to_ms);
  return out;
}

v1::ImportCounts ToProto(const org::ImportCounts& c) {
  v1::ImportCounts out;
  out.set_written(c.written);
  out.set_unchanged(c.unchanged);
  return out;
}

// ---- The service ----------------------------------------------------------

class OrgServiceImpl final : public v1::OrgService::Service {
 public:
  OrgServiceImpl(store::OrgStore& orgs, const Clock& clock, OrgChangeHook on_change)
      : orgs_(orgs), clock_(clock), on_change_(std::move(on_change)) {}

  grpc::Status PutRegion(grpc::ServerContext* ctx, const v1::PutRegionRequest* req,
                         v1::PutRegionResponse* resp) override {
    return Handle(ctx, "/bpm.v1.OrgService/PutRegion", resp, [&](const store::Caller&) -> StatusOr<v1::PutRegionResponse> {
      const store::RegionRow row = FromProto(req->region());
      BPM_RETURN_IF_ERROR(orgs_.PutRegion(row));
      BPM_ASSIGN_OR_RETURN(store::RegionRow stored, orgs_.GetRegion(row.code));
      v1::PutRegionResponse out;
      *out.mutable_region() = ToProto(stored);
      return out;
    });
  }

  grpc::Status ListRegions(grpc::ServerContext* ctx, const v1::ListRegionsRequest*,
                           v1::ListRegionsResponse* resp) override {
    return Handle(ctx, "/bpm.v1.OrgService/ListRegions", resp, [&](const store::Caller&) -> StatusOr<v1::ListRegionsResponse> {
      BPM_ASSIGN_OR_RETURN(std::vector<store::RegionRow> rows, orgs_.ListRegions());
      v1::ListRegionsResponse out;
      for (const auto& r : rows) *out.add_regions() = ToProto(r);
      return out;
    });
  }

  grpc::Status PutOrg(grpc::ServerContext* ctx, const v1::PutOrgRequest* req,
                      v1::PutOrgResponse* resp) override {
    return Handle(ctx, "/bpm.v1.OrgService/PutOrg", resp, [&](const store::Caller&) -> StatusOr<v1::PutOrgResponse> {
      store::OrgRow row = FromProto(req->org());
      row.valid_from_ms = Or(row.valid_from_ms);
      BPM_RETURN_IF_ERROR(orgs_.PutOrg(row));
      Changed({{row.code, row.valid_from_ms}});
      BPM_ASSIGN_OR_RETURN(std::vector<store::OrgRow> history, orgs_.OrgHistory(row.code));
      v1::PutOrgResponse out;
      for (const auto& v : history) {
        if (v.valid_from_ms == row.valid_from_ms) *out.mutable_org() = ToProto(v);
      }
      return out;
    });
  }

  grpc::Status GetOrg(grpc::ServerContext* ctx, const v1::GetOrgRequest* req,
                      v1::GetOrgResponse* resp) override {
    return Handle(ctx, "/bpm.v1.OrgService/GetOrg", resp, [&](const store::Caller&) -> StatusOr<v1::GetOrgResponse> {
      BPM_ASSIGN_OR_RETURN(store::OrgRow row, orgs_.GetOrg(req->code(), Or(req->as_of_unix_ms())));
      v1::GetOrgResponse out;
      *out.mutable_org() = ToProto(row);
      return out;
    });
  }

  grpc::Status ListOrgs(grpc::ServerContext* ctx, const v1::ListOrgsRequest* req,
                        v1::ListOrgsResponse* resp) override {
    return Handle(ctx, "/bpm.v1.OrgService/ListOrgs", resp, [&](const store::Caller&) -> StatusOr<v1::ListOrgsResponse> {
      store::OrgFilter filter{req->parent_code(), req->kind(), req->region_code()};
      const int64_t at = Or(req->as_of_unix_ms());
      BPM_ASSIGN_OR_RETURN(std::vector<store::OrgRow> rows, orgs_.ListOrgs(filter, at));
      v1::ListOrgsResponse out;
      for (const auto& r : rows) *out.add_orgs() = ToProto(r);
      out.set_as_of_unix_ms(at);
      return out;
    });
  }

  grpc::Status OrgHistory(grpc::ServerContext* ctx, const v1::OrgHistoryRequest* req,
                          v1::OrgHistoryResponse* resp) override {
    return Handle(ctx, "/bpm.v1.OrgService/OrgHistory", resp, [&](const store::Caller&) -> StatusOr<v1::OrgHistoryResponse> {
      BPM_ASSIGN_OR_RETURN(std::vector<store::OrgRow> rows, orgs_.OrgHistory(req->code()));
      v1::OrgHistoryResponse out;
      for (const auto& r : rows) *out.add_versions() = ToProto(r);
      return out;
    });
  }

  grpc::Status PutUser(grpc::ServerContext* ctx, const v1::PutUserRequest* req,
                       v1::PutUserResponse* resp) override {
    return Handle(ctx, "/bpm.v1.OrgService/PutUser", resp, [&](const store::Caller&) -> StatusOr<v1::PutUserResponse> {
      BPM_RETURN_IF_ERROR(orgs_.PutUser({req->user().id(), req->user().name()}));
      BPM_ASSIGN_OR_RETURN(store::UserRow stored, orgs_.GetUser(req->user().id()));
      v1::PutUserResponse out;
      *out.mutable_user() = ToProto(stored);
      return out;
    });
  }

  grpc::Status GrantRole(grpc::ServerContext* ctx, const v1::GrantRoleRequest* req,
                         v1::GrantRoleResponse* resp) override {
    return Handle(ctx, "/bpm.v1.OrgService/GrantRole", resp, [&](const store::Caller&) -> StatusOr<v1::GrantRoleResponse> {
      store::RoleGrantRow row = FromProto(req->grant());
      row.from_ms = Or(row.from_ms);
      BPM_RETURN_IF_ERROR(orgs_.Grant(row));
      v1::GrantRoleResponse out;
      *out.mutable_grant() = ToProto(row);
      return out;
    });
  }

  grpc::Status RevokeRole(grpc::ServerContext* ctx, const v1::RevokeRoleRequest* req,
                          v1::RevokeRoleResponse* resp) override {
    return Handle(ctx, "/bpm.v1.OrgService/RevokeRole", resp, [&](const store::Caller&) -> StatusOr<v1::RevokeRoleResponse> {
      BPM_RETURN_IF_ERROR(
          orgs_.Revoke(req->user_id(), req->role(), req->org_code(), Or(req->at_unix_ms())));
      return v1::RevokeRoleResponse();
    });
  }

  grpc::Status ListGrants(grpc::ServerContext* ctx, const v1::ListGrantsRequest* req,
                          v1::ListGrantsResponse* resp) override {
    return Handle(ctx, "/bpm.v1.OrgService/ListGrants", resp, [&](const store::Caller&) -> StatusOr<v1::ListGrantsResponse> {
      store::GrantFilter filter;
      filter.user_id = req->user_id();
      filter.org_code = req->org_code();
      filter.role = req->role();
      if (!req->history()) filter.active_at = Or(req->as_of_unix_ms());
      BPM_ASSIGN_OR_RETURN(std::vector<store::RoleGrantRow> rows, orgs_.ListGrants(filter));
      v1::ListGrantsResponse out;
      for (const auto& g : rows) *out.add_grants() = ToProto(g);
      return out;
    });
  }

  grpc::Status Import(grpc::ServerContext* ctx, const v1::ImportOrgsRequest* req,
                      v1::ImportOrgsResponse* resp) override {
    return Handle(ctx, "/bpm.v1.OrgService/Import", resp, [&](const store::Caller&) -> StatusOr<v1::ImportOrgsResponse> {
      org::ImportOptions options;
      BPM_ASSIGN_OR_RETURN(options.format, org::ParseImportFormat(req->format()));
      options.source_name = req->source_name();
      options.now_ms = clock_.NowMillis();
      options.dry_run = req->dry_run();
      BPM_ASSIGN_OR_RETURN(org::ImportReport report,
                           org::ImportOrgFile(orgs_, req->text(), options));
      if (!req->dry_run()) Changed(report.changed_orgs);
      v1::ImportOrgsResponse out;
      *out.mutable_regions() = ToProto(report.regions);
      *out.mutable_orgs() = ToProto(report.orgs);
      *out.mutable_users() = ToProto(report.users);
      *out.mutable_grants() = ToProto(report.grants);
      out.set_dry_run(req->dry_run());
      return out;
    });
  }

  grpc::Status ResolveContext(grpc::ServerContext* ctx, const v1::ResolveContextRequest* req,
                              v1::ResolveContextResponse* resp) override {
    return Handle(ctx, "/bpm.v1.OrgService/ResolveContext", resp, [&](const store::Caller&) -> StatusOr<v1::ResolveContextResponse> {
      v1::ResolveContextResponse out;
      BPM_ASSIGN_OR_RETURN(
          *out.mutable_context(),
          org::ResolveOrgContext(orgs_, req->org_code(), Or(req->as_of_unix_ms())));
      return out;
    });
  }

 private:
  // A request time: 0 means now.
  int64_t Or(int64_t ms) const { return ms != 0 ? ms : clock_.NowMillis(); }

  void Changed(const std::vector<std::pair<std::string, int64_t>>& versions) {
    if (!on_change_) return;
    const int64_t now = clock_.NowMillis();
    std::vector<std::string> codes;
    for (const auto& [code, from] : versions) {
      if (from <= now) codes.push_back(code);
    }
    if (!codes.empty()) on_change_(codes);
  }

  store::OrgStore& orgs_;
  const Clock& clock_;
  OrgChangeHook on_change_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeOrgService(store::OrgStore& orgs, const Clock& clock,
                                              OrgChangeHook on_change) {
  return std::make_unique<OrgServiceImpl>(orgs, clock, std::move(on_change));
}

}  // namespace bpm::server
