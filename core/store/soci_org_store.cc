// The SOCI OrgStore (SQLite and MySQL/MariaDB), over the tables of migration
// 0002_org.sql. Every write runs its checks and its statements in one
// transaction on one pooled session; reads lease a session per call. Only
// bound parameters; statements are chosen from fixed fragments.
#include "core/store/internal/soci_org_store.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/org/dates.h"

namespace bpm::store::internal {
namespace {

using soci::into;
using soci::use;

const char* kOrgCols =
    "code, valid_from_ms, name, kind, parent_code, region_code, section_kind, owner_section, "
    "active";
struct OrgBinding {
  OrgRow row;
  int64_t active = 1;
};
void Into(Prep& p, OrgBinding& b) {
  p, into(b.row.code), into(b.row.valid_from_ms), into(b.row.name), into(b.row.kind),
      into(b.row.parent_code), into(b.row.region_code), into(b.row.section_kind),
      into(b.row.owner_section), into(b.active);
}

const char* kRegionCols = "code, name, parent_code, level";
void Into(Prep& p, RegionRow& r) {
  p, into(r.code), into(r.name), into(r.parent_code), into(r.level);
}

const char* kUserCols = "id, name";
void Into(Prep& p, UserRow& r) { p, into(r.id), into(r.name); }

const char* kGrantCols = "user_id, role, org_code, from_ms, to_ms";
void Into(Prep& p, RoleGrantRow& r) {
  p, into(r.user_id), into(r.role), into(r.org_code), into(r.from_ms), into(r.to_ms);
}

template <typename Row, typename Bind>
std::vector<Row> FetchAll(soci::session& sql, const std::string& query, Bind&& bind_params) {
  return FetchRows<Row>(
      sql, query, [](Prep& p, Row& r) { Into(p, r); }, std::forward<Bind>(bind_params));
}

std::vector<OrgRow> Unbind(std::vector<OrgBinding> bindings) {
  std::vector<OrgRow> out;
  out.reserve(bindings.size());
  for (OrgBinding& b : bindings) {
    b.row.active = b.active != 0;
    out.push_back(std::move(b.row));
  }
  return out;
}

std::string Span(int64_t from_ms, int64_t to_ms) {
  return absl::StrCat("[", org::FormatChinaTime(from_ms), ", ",
                      to_ms == 0 ? "open" : org::FormatChinaTime(to_ms), ")");
}

// ---- Statements shared by the single calls and Apply ---------------------

// The version of code in effect at at_ms, dissolved ones included.
std::optional<OrgRow> VersionAsOf(soci::session& sql, const std::string& code, int64_t at_ms) {
  auto rows = Unbind(FetchAll<OrgBinding>(
      sql,
      absl::StrCat("SELECT ", kOrgCols,
                   " FROM org_versions WHERE code = :c AND valid_from_ms <= :at "
                   "ORDER BY valid_from_ms DESC LIMIT 1"),
      [&](Prep& p) { p, use(code, "c"), use(at_ms, "at"); }));
  if (rows.empty()) return std::nullopt;
  return rows.front();
}

// Like VersionAsOf, but nullopt when the org is dissolved at at_ms.
std::optional<OrgRow> ActiveAsOf(soci::session& sql, const std::string& code, int64_t at_ms) {
  auto row = VersionAsOf(sql, code, at_ms);
  if (row && !row->active) return std::nullopt;
  return row;
}

std::optional<RegionRow> RegionOf(soci::session& sql, const std::string& code) {
  auto rows = FetchAll<RegionRow>(
      sql, absl::StrCat("SELECT ", kRegionCols, " FROM regions WHERE code = :c"),
      [&](Prep& p) { p, use(code, "c"); });
  if (rows.empty()) return std::nullopt;
  return rows.front();
}

bool UserExists(soci::session& sql, const std::string& id) {
  long long n = 0;
  sql << "SELECT COUNT(*) FROM users WHERE id = :id", into(n), use(id, "id");
  return n > 0;
}

bool OrgHasVersion(soci::session& sql, const std::string& code) {
  long long n = 0;
  sql << "SELECT COUNT(*) FROM org_versions WHERE code = :c", into(n), use(code, "c");
  return n > 0;
}

Status PutRegionIn(soci::session& sql, const RegionRow& row) {
  std::vector<FieldError> errors = CheckRegion(row);
  if (errors.empty() && !row.parent_code.empty()) {
    std::optional<RegionRow> parent = RegionOf(sql, row.parent_code);
    errors = CheckRegionLinks(row, parent ? &*parent : nullptr);
  }
  if (!errors.empty()) return absl::InvalidArgumentError(FormatFieldErrors("region", errors));
  if (RegionOf(sql, row.code)) {
    sql << "UPDATE regions SET name = :n, parent_code = :p, level = :l WHERE code = :c",
        use(row.name, "n"), use(row.parent_code, "p"), use(row.level, "l"), use(row.code, "c");
  } else {
    sql << "INSERT INTO regions (code, name, parent_code, level) VALUES (:c, :n, :p, :l)",
        use(row.code, "c"), use(row.name, "n"), use(row.parent_code, "p"), use(row.level, "l");
  }
  return absl::OkStatus();
}

Status PutOrgIn(soci::session& sql, OrgRow row) {
  if (!row.active) {
    // A dissolution: fields left empty keep the values of the version before.
    std::optional<OrgRow> before = VersionAsOf(sql, row.code, row.valid_from_ms - 1);
    if (!before) {
      return absl::InvalidArgumentError(
          absl::StrCat("org.active: false needs an earlier version of org ", row.code,
                       " to dissolve (before ", org::FormatChinaTime(row.valid_from_ms), ")"));
    }
    if (row.name.empty()) row.name = before->name;
    if (row.kind.empty()) row.kind = before->kind;
    if (row.parent_code.empty()) row.parent_code = before->parent_code;
    if (row.region_code.empty()) row.region_code = before->region_code;
    if (row.section_kind.empty() && row.kind == before->kind)
      row.section_kind = before->section_kind;
    if (row.owner_section.empty() && row.kind == before->kind) {
      row.owner_section = before->owner_section;
    }
  }
  std::vector<FieldError> errors = CheckOrg(row);
  if (errors.empty()) {
    if (!RegionOf(sql, row.region_code)) {
      errors.push_back({"region_code", absl::StrCat("'", row.region_code, "' does not exist")});
    }
    if (row.active) {
      std::optional<OrgRow> parent, owner;
      if (!row.parent_code.empty()) parent = ActiveAsOf(sql, row.parent_code, row.valid_from_ms);
      if (!row.owner_section.empty()) {
        owner = ActiveAsOf(sql, row.owner_section, row.valid_from_ms);
      }
      std::vector<FieldError> links =
          CheckOrgLinks(row, parent ? &*parent : nullptr, owner ? &*owner : nullptr);
      errors.insert(errors.end(), links.begin(), links.end());
    }
  }
  if (!errors.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(FormatFieldErrors("org", errors), " (org ",
                                                   row.code, " as of ",
                                                   org::FormatChinaTime(row.valid_from_ms), ")"));
  }
  long long active = row.active ? 1 : 0;
  long long existing = 0;
  sql << "SELECT COUNT(*) FROM org_versions WHERE code = :c AND valid_from_ms = :f", into(existing),
      use(row.code, "c"), use(row.valid_from_ms, "f");
  if (existing > 0) {
    sql << "UPDATE org_versions SET name = :n, kind = :k, parent_code = :p, region_code = :r, "
           "section_kind = :sk, owner_section = :o, active = :a WHERE code = :c AND "
           "valid_from_ms = :f",
        use(row.name, "n"), use(row.kind, "k"), use(row.parent_code, "p"),
        use(row.region_code, "r"), use(row.section_kind, "sk"), use(row.owner_section, "o"),
        use(active, "a"), use(row.code, "c"), use(row.valid_from_ms, "f");
  } else {
    sql << "INSERT INTO org_versions (code, valid_from_ms, name, kind, parent_code, region_code, "
           "section_kind, owner_section, active) VALUES (:c, :f, :n, :k, :p, :r, :sk, :o, :a)",
        use(row.code, "c"), use(row.valid_from_ms, "f"), use(row.name, "n"), use(row.kind, "k"),
        use(row.parent_code, "p"), use(row.region_code, "r"), use(row.section_kind, "sk"),
        use(row.owner_section, "o"), use(active, "a");
  }
  return absl::OkStatus();
}

Status PutUserIn(soci::session& sql, const UserRow& row) {
  std::vector<FieldError> errors = CheckUser(row);
  if (!errors.empty()) return absl::InvalidArgumentError(FormatFieldErrors("user", errors));
  if (UserExists(sql, row.id)) {
    sql << "UPDATE users SET name = :n WHERE id = :id", use(row.name, "n"), use(row.id, "id");
  } else {
    sql << "INSERT INTO users (id, name) VALUES (:id, :n)", use(row.id, "id"), use(row.name, "n");
  }
  return absl::OkStatus();
}

Status GrantIn(soci::session& sql, const RoleGrantRow& row) {
  std::vector<FieldError> errors = CheckGrant(row);
  if (!errors.empty()) return absl::InvalidArgumentError(FormatFieldErrors("grant", errors));
  if (!UserExists(sql, row.user_id)) {
    return absl::NotFoundError(absl::StrCat("grant: user ", row.user_id, " not found"));
  }
  if (!OrgHasVersion(sql, row.org_code)) {
    return absl::NotFoundError(absl::StrCat("grant: org ", row.org_code, " not found"));
  }
  auto existing = FetchAll<RoleGrantRow>(
      sql,
      absl::StrCat("SELECT ", kGrantCols,
                   " FROM role_grants WHERE user_id = :u AND role = :r AND org_code = :o"),
      [&](Prep& p) { p, use(row.user_id, "u"), use(row.role, "r"), use(row.org_code, "o"); });
  constexpr int64_t kOpen = std::numeric_limits<int64_t>::max();
  const int64_t end = row.to_ms == 0 ? kOpen : row.to_ms;
  bool same_start = false;
  for (const RoleGrantRow& e : existing) {
    if (e.from_ms == row.from_ms) {
      same_start = true;
      continue;
    }
    const int64_t e_end = e.to_ms == 0 ? kOpen : e.to_ms;
    if (e.from_ms < end && row.from_ms < e_end && e_end > e.from_ms) {
      return absl::AlreadyExistsError(absl::StrCat(
          "user ", row.user_id, " already holds role ", row.role, " in org ", row.org_code, " ",
          Span(e.from_ms, e.to_ms), ", which overlaps ", Span(row.from_ms, row.to_ms)));
    }
  }
  if (same_start) {
    sql << "UPDATE role_grants SET to_ms = :t WHERE user_id = :u AND role = :r AND org_code = :o "
           "AND from_ms = :f",
        use(row.to_ms, "t"), use(row.user_id, "u"), use(row.role, "r"), use(row.org_code, "o"),
        use(row.from_ms, "f");
  } else {
    sql << "INSERT INTO role_grants (user_id, role, org_code, from_ms, to_ms) VALUES (:u, :r, :o, "
           ":f, :t)",
        use(row.user_id, "u"), use(row.role, "r"), use(row.org_code, "o"), use(row.from_ms, "f"),
        use(row.to_ms, "t");
  }
  return absl::OkStatus();
}

// ---- The store -------------------------------------------------------------

class SociOrgStore final : public OrgStore {
 public:
  explicit SociOrgStore(std::shared_ptr<SociDb> db) : db_(std::move(db)) {}

  uint64_t generation() const override { return generation_.load(); }

  Status PutRegion(const RegionRow& row) override {
    return InTransaction("put region", [&](soci::session& sql) { return PutRegionIn(sql, row); });
  }

  StatusOr<RegionRow> GetRegion(const std::string& code) override {
    return db_->Session("get region", [&](soci::session& sql) -> StatusOr<RegionRow> {
      std::optional<RegionRow> row = RegionOf(sql, code);
      if (!row) return absl::NotFoundError(absl::StrCat("region ", code, " not found"));
      return *row;
    });
  }

  StatusOr<std::vector<RegionRow>> ListRegions() override {
    return db_->Session(
        "list regions", [&](soci::session& sql) -> StatusOr<std::vector<RegionRow>> {
          return FetchAll<RegionRow>(
              sql, absl::StrCat("SELECT ", kRegionCols, " FROM regions ORDER BY code"),
              [](Prep&) {});
        });
  }

  Status PutOrg(const OrgRow& row) override {
    return InTransaction("put org", [&](soci::session& sql) { return PutOrgIn(sql, row); });
  }

  StatusOr<OrgRow> GetOrg(const std::string& code, int64_t at_ms) override {
    return db_->Session("get org", [&](soci::session& sql) -> StatusOr<OrgRow> {
      std::optional<OrgRow> row = ActiveAsOf(sql, code, at_ms);
      if (!row) {
        return absl::NotFoundError(
            absl::StrCat("org ", code, " not found as of ", org::FormatChinaTime(at_ms)));
      }
      return *row;
    });
  }

  StatusOr<std::vector<OrgRow>> ListOrgs(const OrgFilter& f, int64_t at_ms) override {
    return db_->Session("list orgs", [&](soci::session& sql) -> StatusOr<std::vector<OrgRow>> {
      // Each org's latest version at at_ms, then the filters on that version.
      std::string q = absl::StrCat(
          "SELECT ", kOrgCols,
          " FROM org_versions v WHERE v.active = 1 AND v.valid_from_ms = (SELECT "
          "MAX(m.valid_from_ms) FROM org_versions m WHERE m.code = v.code AND m.valid_from_ms <= "
          ":at)");
      if (!f.parent_code.empty()) q += " AND v.parent_code = :p";
      if (!f.kind.empty()) q += " AND v.kind = :k";
      if (!f.region_code.empty()) q += " AND v.region_code = :r";
      q += " ORDER BY v.code";
      return Unbind(FetchAll<OrgBinding>(sql, q, [&](Prep& p) {
        p, use(at_ms, "at");
        if (!f.parent_code.empty()) p, use(f.parent_code, "p");
        if (!f.kind.empty()) p, use(f.kind, "k");
        if (!f.region_code.empty()) p, use(f.region_code, "r");
      }));
    });
  }

  StatusOr<std::vector<OrgRow>> OrgHistory(const std::string& code) override {
    return db_->Session("org history", [&](soci::session& sql) -> StatusOr<std::vector<OrgRow>> {
      auto rows = Unbind(FetchAll<OrgBinding>(
          sql,
          absl::StrCat("SELECT ", kOrgCols,
                       " FROM org_versions WHERE code = :c ORDER BY valid_from_ms"),
          [&](Prep& p) { p, use(code, "c"); }));
      if (rows.empty()) return absl::NotFoundError(absl::StrCat("org ", code, " not found"));
      return rows;
    });
  }

  Status PutUser(const UserRow& row) override {
    return InTransaction("put user", [&](soci::session& sql) { return PutUserIn(sql, row); });
  }

  StatusOr<UserRow> GetUser(const std::string& id) override {
    return db_->Session("get user", [&](soci::session& sql) -> StatusOr<UserRow> {
      auto rows =
          FetchAll<UserRow>(sql, absl::StrCat("SELECT ", kUserCols, " FROM users WHERE id = :id"),
                            [&](Prep& p) { p, use(id, "id"); });
      if (rows.empty()) return absl::NotFoundError(absl::StrCat("user ", id, " not found"));
      return rows.front();
    });
  }

  Status Grant(const RoleGrantRow& row) override {
    return InTransaction("grant role", [&](soci::session& sql) { return GrantIn(sql, row); });
  }

  Status Revoke(const std::string& user_id, const std::string& role, const std::string& org_code,
                int64_t to_ms) override {
    return InTransaction("revoke role", [&](soci::session& sql) -> Status {
      // Every grant still open at to_ms ends then; one that would only start
      // later becomes empty ([from, from)) and so never takes effect.
      soci::statement st =
          (sql.prepare << "UPDATE role_grants SET to_ms = CASE WHEN from_ms > :t1 THEN from_ms "
                          "ELSE :t2 END WHERE user_id = :u AND role = :r AND org_code = :o AND "
                          "(to_ms = 0 OR (to_ms > :t3 AND to_ms > from_ms))",
           use(to_ms, "t1"), use(to_ms, "t2"), use(user_id, "u"), use(role, "r"),
           use(org_code, "o"), use(to_ms, "t3"));
      st.execute(true);
      if (st.get_affected_rows() == 0) {
        return absl::NotFoundError(absl::StrCat("user ", user_id, " holds no role ", role,
                                                " in org ", org_code, " open at ",
                                                org::FormatChinaTime(to_ms)));
      }
      return absl::OkStatus();
    });
  }

  StatusOr<std::vector<RoleGrantRow>> Grants(const std::string& org_code, const std::string& role,
                                             int64_t at_ms) override {
    GrantFilter f;
    f.org_code = org_code;
    f.role = role;
    f.active_at = at_ms;
    return ListGrants(f);
  }

  StatusOr<std::vector<RoleGrantRow>> GrantsOfUser(const std::string& user_id,
                                                   int64_t at_ms) override {
    GrantFilter f;
    f.user_id = user_id;
    f.active_at = at_ms;
    return ListGrants(f);
  }

  StatusOr<std::vector<RoleGrantRow>> ListGrants(const GrantFilter& f) override {
    return db_->Session(
        "list grants", [&](soci::session& sql) -> StatusOr<std::vector<RoleGrantRow>> {
          std::string q = absl::StrCat("SELECT ", kGrantCols, " FROM role_grants WHERE 1 = 1");
          if (!f.user_id.empty()) q += " AND user_id = :u";
          if (!f.org_code.empty()) q += " AND org_code = :o";
          if (!f.role.empty()) q += " AND role = :r";
          int64_t at = f.active_at.value_or(0);
          if (f.active_at) q += " AND from_ms <= :at1 AND (to_ms = 0 OR to_ms > :at2)";
          q += " ORDER BY org_code, role, user_id, from_ms";
          return FetchAll<RoleGrantRow>(sql, q, [&](Prep& p) {
            if (!f.user_id.empty()) p, use(f.user_id, "u");
            if (!f.org_code.empty()) p, use(f.org_code, "o");
            if (!f.role.empty()) p, use(f.role, "r");
            if (f.active_at) p, use(at, "at1"), use(at, "at2");
          });
        });
  }

  StatusOr<std::vector<OrgRow>> ChangesBetween(int64_t after_ms, int64_t until_ms) override {
    return db_->Session("org changes", [&](soci::session& sql) -> StatusOr<std::vector<OrgRow>> {
      return Unbind(FetchAll<OrgBinding>(
          sql,
          absl::StrCat("SELECT ", kOrgCols,
                       " FROM org_versions WHERE valid_from_ms > :a AND valid_from_ms <= :u "
                       "ORDER BY valid_from_ms, code"),
          [&](Prep& p) { p, use(after_ms, "a"), use(until_ms, "u"); }));
    });
  }

  Status Apply(const OrgBatch& batch) override {
    return InTransaction("import orgs", [&](soci::session& sql) -> Status {
      for (size_t i = 0; i < batch.regions.size(); ++i) {
        BPM_RETURN_IF_ERROR(
            Named(PutRegionIn(sql, batch.regions[i]), "regions", i, batch.regions[i].code));
      }
      for (size_t i = 0; i < batch.orgs.size(); ++i) {
        BPM_RETURN_IF_ERROR(Named(PutOrgIn(sql, batch.orgs[i]), "orgs", i, batch.orgs[i].code));
      }
      for (size_t i = 0; i < batch.users.size(); ++i) {
        BPM_RETURN_IF_ERROR(Named(PutUserIn(sql, batch.users[i]), "users", i, batch.users[i].id));
      }
      for (size_t i = 0; i < batch.grants.size(); ++i) {
        const RoleGrantRow& g = batch.grants[i];
        BPM_RETURN_IF_ERROR(Named(GrantIn(sql, g), "grants", i,
                                  absl::StrCat(g.user_id, " ", g.role, "@", g.org_code)));
      }
      return absl::OkStatus();
    });
  }

 private:
  // Runs fn in one transaction of a writer session; commits when it is OK.
  template <typename Fn>
  Status InTransaction(const char* what, Fn&& fn) {
    Status out = db_->Write(what, [&](soci::session& sql) -> Status {
      soci::transaction tr(sql);
      Status s = fn(sql);
      if (!s.ok()) return s;  // ~transaction rolls back
      tr.commit();
      return absl::OkStatus();
    });
    ++generation_;  // after the commit: readers that cached older data miss
    return out;
  }

  static Status Named(Status s, const char* list, size_t index, const std::string& name) {
    if (s.ok()) return s;
    return Status(s.code(), absl::StrCat(list, "[", index, "] ", name, ": ", s.message()));
  }

  std::shared_ptr<SociDb> db_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace

std::unique_ptr<OrgStore> NewSociOrgStore(std::shared_ptr<SociDb> db) {
  return std::make_unique<SociOrgStore>(std::move(db));
}

}  // namespace bpm::store::internal
