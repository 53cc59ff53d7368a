// PLACEHOLDER being replaced by the org-model work: every call fails loudly.
#include "core/store/internal/soci_org_store.h"

namespace bpm::store::internal {
namespace {

Status Unimplemented() { return absl::UnimplementedError("org model: not implemented yet"); }

class SociOrgStore final : public OrgStore {
 public:
  explicit SociOrgStore(std::shared_ptr<SociDb> db) : db_(std::move(db)) {}
  Status PutRegion(const RegionRow&) override { return Unimplemented(); }
  StatusOr<RegionRow> GetRegion(const std::string&) override { return Unimplemented(); }
  StatusOr<std::vector<RegionRow>> ListRegions() override { return Unimplemented(); }
  Status PutOrg(const OrgRow&) override { return Unimplemented(); }
  StatusOr<OrgRow> GetOrg(const std::string&, int64_t) override { return Unimplemented(); }
  StatusOr<std::vector<OrgRow>> ListOrgs(const OrgFilter&, int64_t) override { return Unimplemented(); }
  StatusOr<std::vector<OrgRow>> OrgHistory(const std::string&) override { return Unimplemented(); }
  Status PutUser(const UserRow&) override { return Unimplemented(); }
  StatusOr<UserRow> GetUser(const std::string&) override { return Unimplemented(); }
  Status Grant(const RoleGrantRow&) override { return Unimplemented(); }
  Status Revoke(const std::string&, const std::string&, const std::string&, int64_t) override {
    return Unimplemented();
  }
  StatusOr<std::vector<RoleGrantRow>> Grants(const std::string&, const std::string&, int64_t) override {
    return Unimplemented();
  }
  StatusOr<std::vector<RoleGrantRow>> GrantsOfUser(const std::string&, int64_t) override {
    return Unimplemented();
  }
  StatusOr<std::vector<OrgRow>> ChangesBetween(int64_t, int64_t) override { return Unimplemented(); }

 private:
  std::shared_ptr<SociDb> db_;
};

}  // namespace

std::unique_ptr<OrgStore> NewSociOrgStore(std::shared_ptr<SociDb> db) {
  return std::make_unique<SociOrgStore>(std::move(db));
}

}  // namespace bpm::store::internal
