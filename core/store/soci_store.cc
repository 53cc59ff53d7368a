// The SOCI implementation of Store for SQLite and MySQL/MariaDB. This is the
// only file that includes SOCI; every SOCI exception is caught here and
// converted to a Status.
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/store/internal/soci_db.h"
#include "core/store/internal/soci_agency_store.h"
#include "core/store/internal/soci_org_store.h"
#include "core/store/store.h"

namespace bpm::store {
namespace {

using internal::Prep;
using soci::into;
using soci::use;

const char* kInstanceCols =
    "row_id, id, def_key, def_version, subject_ref, org, status, state, variables, version, "
    "event_seq, started_by, created_ms, updated_ms, campaign_id";
void Into(Prep& p, InstanceRow& r) {
  p, into(r.row_id), into(r.id), into(r.def_key), into(r.def_version), into(r.subject_ref),
      into(r.org), into(r.status), into(r.state), into(r.variables_json), into(r.version),
      into(r.event_seq), into(r.started_by), into(r.created_ms), into(r.updated_ms),
      into(r.campaign_id);
}

const char* kCampaignCols =
    "id, title, def_key, def_version, deadline_ms, target_count, created_by, created_ms";
void Into(Prep& p, CampaignRow& r) {
  p, into(r.id), into(r.title), into(r.def_key), into(r.def_version), into(r.deadline_ms),
      into(r.target_count), into(r.created_by), into(r.created_ms);
}

void Into(Prep& p, CampaignMember& r) {
  p, into(r.instance_id), into(r.org), into(r.state), into(r.status), into(r.acted),
      into(r.overdue_tasks);
}

const char* kTaskCols =
    "row_id, id, instance_id, state, name, title, status, assignee_user, assignee_role, "
    "assignee_org, actions, data, due_ms, created_ms, completed_ms, completed_by, action, "
    "claimed_by, delegated_to, owner_user, exclude_users";
const char* kTaskColsT =
    "t.row_id, t.id, t.instance_id, t.state, t.name, t.title, t.status, t.assignee_user, "
    "t.assignee_role, t.assignee_org, t.actions, t.data, t.due_ms, t.created_ms, "
    "t.completed_ms, t.completed_by, t.action, t.claimed_by, t.delegated_to, t.owner_user, "
    "t.exclude_users";
void Into(Prep& p, TaskRow& r) {
  p, into(r.row_id), into(r.id), into(r.instance_id), into(r.state), into(r.name),
      into(r.title), into(r.status), into(r.assignee_user), into(r.assignee_role),
      into(r.assignee_org), into(r.actions_json), into(r.data_json), into(r.due_ms),
      into(r.created_ms), into(r.completed_ms), into(r.completed_by), into(r.action),
      into(r.claimed_by), into(r.delegated_to), into(r.owner_user), into(r.exclude_users_json);
}

const char* kTimerCols = "id, instance_id, task_id, name, due_ms, fired_ms, lease_owner, lease_until_ms";
void Into(Prep& p, TimerRow& r) {
  p, into(r.id), into(r.instance_id), into(r.task_id), into(r.name), into(r.due_ms),
      into(r.fired_ms), into(r.lease_owner), into(r.lease_until_ms);
}

const char* kNotificationCols =
    "row_id, id, user_id, role, org, instance_id, task_id, kind, text, from_user, created_ms";
void Into(Prep& p, NotificationRow& r) {
  p, into(r.row_id), into(r.id), into(r.user_id), into(r.role), into(r.org),
      into(r.instance_id), into(r.task_id), into(r.kind), into(r.text), into(r.from_user),
      into(r.created_ms);
}

const char* kCcCols = "row_id, id, instance_id, user_id, from_user, note, created_ms";
void Into(Prep& p, CcRow& r) {
  p, into(r.row_id), into(r.id), into(r.instance_id), into(r.user_id), into(r.from_user),
      into(r.note), into(r.created_ms);
}

const char* kProxyCols = "id, principal, proxy_user, from_ms, to_ms, created_by, created_ms";
void Into(Prep& p, ProxyRow& r) {
  p, into(r.id), into(r.principal), into(r.proxy_user), into(r.from_ms), into(r.to_ms),
      into(r.created_by), into(r.created_ms);
}

// Appends " AND col IN (:pfx0, :pfx1, ...)" placeholders for n values.
std::string Placeholders(const std::string& prefix, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) absl::StrAppend(&out, i ? ", " : "", ":", prefix, i);
  return out;
}

// Binds values[i] to :prefix<i>; names must outlive the statement.
void BindList(Prep& p, const std::string& prefix, const std::vector<std::string>& values,
              std::vector<std::string>* names) {
  for (size_t i = 0; i < values.size(); ++i) names->push_back(absl::StrCat(prefix, i));
  for (size_t i = 0; i < values.size(); ++i) {
    p, use(values[i], (*names)[names->size() - values.size() + i]);
  }
}

const char* kDefinitionCols =
    "def_key, version, content_hash, title, source_name, yaml, created_ms";
void Into(Prep& p, DefinitionRow& r) {
  p, into(r.key), into(r.version), into(r.content_hash), into(r.title), into(r.source_name),
      into(r.yaml), into(r.created_ms);
}

const char* kEventCols =
    "instance_id, seq, at_ms, actor, kind, action, from_state, to_state, task_id, comment, "
    "payload_digest, note";
void Into(Prep& p, EventRow& r) {
  p, into(r.instance_id), into(r.seq), into(r.at_ms), into(r.actor), into(r.kind),
      into(r.action), into(r.from_state), into(r.to_state), into(r.task_id), into(r.comment),
      into(r.payload_digest), into(r.note);
}

const char* kDocumentCols =
    "id, instance_id, state, kind, content_type, content_b64, sha256, created_ms";
struct DocumentBinding {
  DocumentRow row;
  std::string b64;
};
void Into(Prep& p, DocumentBinding& r) {
  p, into(r.row.id), into(r.row.instance_id), into(r.row.state), into(r.row.kind),
      into(r.row.content_type), into(r.b64), into(r.row.sha256), into(r.row.created_ms);
}
Status Finish(DocumentBinding& b) {
  if (!absl::Base64Unescape(b.b64, &b.row.content)) {
    return absl::InternalError(absl::StrCat("document ", b.row.id, ": stored content is corrupt"));
  }
  return absl::OkStatus();
}

// FetchRows with this file's Into() overloads.
template <typename Row, typename Bind>
std::vector<Row> FetchAll(soci::session& sql, const std::string& query, Bind&& bind_params) {
  return internal::FetchRows<Row>(sql, query, [](Prep& p, Row& r) { Into(p, r); },
                                  std::forward<Bind>(bind_params));
}

class SociStore final : public Store {
 public:
  explicit SociStore(std::shared_ptr<internal::SociDb> db)
      : db_(db),
        orgs_(internal::NewSociOrgStore(db)),
        agencies_(internal::NewSociAgencyStore(db)) {}

  OrgStore& orgs() override { return *orgs_; }
  AgencyStore& agencies() override { return *agencies_; }

  std::string dialect() const override { return db_->dialect(); }

  StatusOr<int64_t> SchemaVersion() override {
    return db_->Session("schema version", [&](soci::session& sql) -> StatusOr<int64_t> {
      long long v = 0;
      soci::indicator ind;
      sql << "SELECT MAX(version) FROM schema_migrations", into(v, ind);
      return ind == soci::i_ok ? static_cast<int64_t>(v) : 0;
    });
  }

  StatusOr<DefinitionRow> PutDefinition(const DefinitionRow& in, bool* created) override {
    return db_->Write("put definition", [&](soci::session& sql) -> StatusOr<DefinitionRow> {
      soci::transaction tr(sql);
      auto existing = FetchAll<DefinitionRow>(
          sql,
          absl::StrCat("SELECT ", kDefinitionCols,
                       " FROM definitions WHERE def_key = :k AND content_hash = :h"),
          [&](Prep& p) { p, use(in.key, "k"), use(in.content_hash, "h"); });
      if (!existing.empty()) {
        *created = false;
        return existing.front();
      }
      long long max_version = 0;
      soci::indicator ind;
      sql << "SELECT MAX(version) FROM definitions WHERE def_key = :k", into(max_version, ind),
          use(in.key, "k");
      DefinitionRow row = in;
      row.version = (ind == soci::i_ok ? max_version : 0) + 1;
      sql << "INSERT INTO definitions (def_key, version, content_hash, title, source_name, "
             "yaml, created_ms) VALUES (:k, :v, :h, :t, :s, :y, :c)",
          use(row.key, "k"), use(row.version, "v"), use(row.content_hash, "h"),
          use(row.title, "t"), use(row.source_name, "s"), use(row.yaml, "y"),
          use(row.created_ms, "c");
      tr.commit();
      *created = true;
      return row;
    });
  }

  StatusOr<DefinitionRow> GetDefinition(const std::string& key, int64_t version) override {
    return db_->Session("get definition", [&](soci::session& sql) -> StatusOr<DefinitionRow> {
      std::vector<DefinitionRow> rows;
      if (version > 0) {
        rows = FetchAll<DefinitionRow>(
            sql,
            absl::StrCat("SELECT ", kDefinitionCols,
                         " FROM definitions WHERE def_key = :k AND version = :v"),
            [&](Prep& p) { p, use(key, "k"), use(version, "v"); });
      } else {
        rows = FetchAll<DefinitionRow>(
            sql,
            absl::StrCat("SELECT ", kDefinitionCols,
                         " FROM definitions WHERE def_key = :k ORDER BY version DESC LIMIT 1"),
            [&](Prep& p) { p, use(key, "k"); });
      }
      if (rows.empty()) {
        return absl::NotFoundError(
            version > 0 ? absl::StrCat("workflow definition ", key, " version ", version,
                                       " not found")
                        : absl::StrCat("workflow definition ", key, " not found"));
      }
      return rows.front();
    });
  }

  StatusOr<std::vector<DefinitionRow>> ListDefinitions(const std::string& key) override {
    return db_->Session("list definitions",
                   [&](soci::session& sql) -> StatusOr<std::vector<DefinitionRow>> {
                     if (!key.empty()) {
                       return FetchAll<DefinitionRow>(
                           sql,
                           absl::StrCat("SELECT ", kDefinitionCols,
                                        " FROM definitions WHERE def_key = :k ORDER BY version"),
                           [&](Prep& p) { p, use(key, "k"); });
                     }
                     return FetchAll<DefinitionRow>(
                         sql,
                         absl::StrCat("SELECT ", kDefinitionCols,
                                      " FROM definitions d WHERE version = (SELECT MAX(version) "
                                      "FROM definitions m WHERE m.def_key = d.def_key) ORDER BY "
                                      "def_key"),
                         [](Prep&) {});
                   });
  }

  StatusOr<InstanceRow> GetInstance(const std::string& id) override {
    return db_->Session("get instance", [&](soci::session& sql) -> StatusOr<InstanceRow> {
      auto rows = FetchAll<InstanceRow>(
          sql, absl::StrCat("SELECT ", kInstanceCols, " FROM instances WHERE id = :id"),
          [&](Prep& p) { p, use(id, "id"); });
      if (rows.empty()) return absl::NotFoundError(absl::StrCat("instance ", id, " not found"));
      return rows.front();
    });
  }

  StatusOr<std::vector<InstanceRow>> ListInstances(const InstanceFilter& f, int64_t after,
                                                   int limit) override {
    return db_->Session("list instances", [&](soci::session& sql) -> StatusOr<std::vector<InstanceRow>> {
      // Fixed fragments chosen by which filters are set; values always bound.
      std::string q = absl::StrCat("SELECT ", kInstanceCols, " FROM instances WHERE row_id > :after");
      if (!f.campaign_id.empty()) q += " AND campaign_id = :cid";
      if (!f.def_key.empty()) q += " AND def_key = :dk";
      if (!f.subject_ref.empty()) q += " AND subject_ref = :sr";
      if (!f.org.empty()) q += " AND org = :org";
      if (!f.status.empty()) q += " AND status = :st";
      if (!f.state.empty()) q += " AND state = :state";
      q += " ORDER BY row_id LIMIT :lim";
      long long lim = limit;
      return FetchAll<InstanceRow>(sql, q, [&](Prep& p) {
        p, use(after, "after");
        if (!f.campaign_id.empty()) p, use(f.campaign_id, "cid");
        if (!f.def_key.empty()) p, use(f.def_key, "dk");
        if (!f.subject_ref.empty()) p, use(f.subject_ref, "sr");
        if (!f.org.empty()) p, use(f.org, "org");
        if (!f.status.empty()) p, use(f.status, "st");
        if (!f.state.empty()) p, use(f.state, "state");
        p, use(lim, "lim");
      });
    });
  }

  StatusOr<TaskRow> GetTask(const std::string& id) override {
    return db_->Session("get task", [&](soci::session& sql) -> StatusOr<TaskRow> {
      auto rows = FetchAll<TaskRow>(
          sql, absl::StrCat("SELECT ", kTaskCols, " FROM tasks WHERE id = :id"),
          [&](Prep& p) { p, use(id, "id"); });
      if (rows.empty()) return absl::NotFoundError(absl::StrCat("task ", id, " not found"));
      return rows.front();
    });
  }

  StatusOr<std::vector<TaskRow>> ListTasks(const std::string& instance_id,
                                           bool active_only) override {
    return db_->Session("list tasks", [&](soci::session& sql) -> StatusOr<std::vector<TaskRow>> {
      std::string q = absl::StrCat("SELECT ", kTaskCols, " FROM tasks WHERE instance_id = :iid");
      if (active_only) q += " AND status IN ('open', 'claimed', 'delegated')";
      q += " ORDER BY row_id";
      return FetchAll<TaskRow>(sql, q, [&](Prep& p) { p, use(instance_id, "iid"); });
    });
  }

  StatusOr<std::vector<TaskRow>> Inbox(const InboxQuery& q, int64_t after, int limit) override {
    if (q.users.empty()) return absl::InvalidArgumentError("inbox: no user");
    return db_->Session("inbox", [&](soci::session& sql) -> StatusOr<std::vector<TaskRow>> {
      // Fixed fragments chosen by the query's shape; every value is bound.
      std::string users = Placeholders("u", q.users.size());
      std::string where;
      if (q.view == "done") {
        where = "t.status = 'completed' AND t.completed_by = :u0";
      } else {
        where = absl::StrCat("((t.status = 'open' AND (t.assignee_user IN (", users, ")");
        if (!q.roles.empty()) {
          absl::StrAppend(&where, " OR (t.assignee_user = '' AND t.assignee_role IN (",
                          Placeholders("r", q.roles.size()),
                          ") AND (t.assignee_org = '' OR t.assignee_org = :org))");
        }
        absl::StrAppend(&where, ")) OR (t.status = 'claimed' AND t.claimed_by IN (", users,
                        ")) OR (t.status = 'delegated' AND t.delegated_to IN (", users, ")))");
        if (q.view == "overdue") where += " AND t.due_ms > 0 AND t.due_ms < :now";
      }
      if (!q.def_key.empty()) where += " AND i.def_key = :dk";
      if (!q.state.empty()) where += " AND i.state = :st";
      if (!q.instance_org.empty()) where += " AND i.org = :io";
      if (q.created_from_ms > 0) where += " AND t.created_ms >= :cf";
      if (q.created_to_ms > 0) where += " AND t.created_ms < :ct";
      std::string query = absl::StrCat("SELECT ", kTaskColsT,
                                       " FROM tasks t JOIN instances i ON i.id = t.instance_id "
                                       "WHERE t.row_id > :after AND ",
                                       where, " ORDER BY t.row_id LIMIT :lim");
      long long lim = limit;
      std::vector<std::string> names;
      names.reserve(q.users.size() + q.roles.size());
      return FetchAll<TaskRow>(sql, query, [&](Prep& p) {
        p, use(after, "after");
        if (q.view == "done") {
          p, use(q.users[0], "u0");
        } else {
          BindList(p, "u", q.users, &names);
          if (!q.roles.empty()) {
            BindList(p, "r", q.roles, &names);
            p, use(q.org, "org");
          }
          if (q.view == "overdue") p, use(q.now_ms, "now");
        }
        if (!q.def_key.empty()) p, use(q.def_key, "dk");
        if (!q.state.empty()) p, use(q.state, "st");
        if (!q.instance_org.empty()) p, use(q.instance_org, "io");
        if (q.created_from_ms > 0) p, use(q.created_from_ms, "cf");
        if (q.created_to_ms > 0) p, use(q.created_to_ms, "ct");
        p, use(lim, "lim");
      });
    });
  }

  Status PutCampaign(const CampaignRow& r) override {
    return db_->Write("put campaign", [&](soci::session& sql) -> Status {
      sql << "INSERT INTO campaigns (id, title, def_key, def_version, deadline_ms, target_count, "
             "created_by, created_ms) VALUES (:id, :t, :dk, :dv, :dl, :n, :by, :c)",
          use(r.id, "id"), use(r.title, "t"), use(r.def_key, "dk"), use(r.def_version, "dv"),
          use(r.deadline_ms, "dl"), use(r.target_count, "n"), use(r.created_by, "by"),
          use(r.created_ms, "c");
      return absl::OkStatus();
    });
  }

  StatusOr<CampaignRow> GetCampaign(const std::string& id) override {
    return db_->Session("get campaign", [&](soci::session& sql) -> StatusOr<CampaignRow> {
      auto rows = FetchAll<CampaignRow>(
          sql, absl::StrCat("SELECT ", kCampaignCols, " FROM campaigns WHERE id = :id"),
          [&](Prep& p) { p, use(id, "id"); });
      if (rows.empty()) return absl::NotFoundError(absl::StrCat("campaign ", id, " not found"));
      return rows.front();
    });
  }

  Status SetCampaignDeadline(const std::string& id, int64_t deadline_ms) override {
    return db_->Write("set campaign deadline", [&](soci::session& sql) -> Status {
      soci::statement st = (sql.prepare << "UPDATE campaigns SET deadline_ms = :d WHERE id = :id",
                            use(deadline_ms, "d"), use(id, "id"));
      st.execute(true);
      if (st.get_affected_rows() != 1) {
        return absl::NotFoundError(absl::StrCat("campaign ", id, " not found"));
      }
      return absl::OkStatus();
    });
  }

  StatusOr<std::vector<CampaignRow>> ListCampaigns() override {
    return db_->Session("list campaigns", [&](soci::session& sql) -> StatusOr<std::vector<CampaignRow>> {
      return FetchAll<CampaignRow>(
          sql, absl::StrCat("SELECT ", kCampaignCols, " FROM campaigns ORDER BY created_ms DESC, id"),
          [](Prep&) {});
    });
  }

  StatusOr<std::vector<CampaignMember>> CampaignMembers(const std::string& campaign_id,
                                                        int64_t now_ms) override {
    return db_->Session("campaign members",
                        [&](soci::session& sql) -> StatusOr<std::vector<CampaignMember>> {
      return FetchAll<CampaignMember>(
          sql,
          "SELECT i.id, i.org, i.state, i.status, "
          "(SELECT COUNT(*) FROM events e WHERE e.instance_id = i.id AND e.kind = 'acted'), "
          "(SELECT COUNT(*) FROM tasks t WHERE t.instance_id = i.id AND t.status IN ('open', "
          "'claimed', 'delegated') AND t.due_ms > 0 AND t.due_ms < :now) "
          "FROM instances i WHERE i.campaign_id = :cid ORDER BY i.row_id",
          [&](Prep& p) { p, use(now_ms, "now"), use(campaign_id, "cid"); });
    });
  }

  StatusOr<std::vector<CcRow>> ListCc(const std::string& user, int64_t after, int limit) override {
    return db_->Session("list cc", [&](soci::session& sql) -> StatusOr<std::vector<CcRow>> {
      long long lim = limit;
      return FetchAll<CcRow>(
          sql,
          absl::StrCat("SELECT ", kCcCols,
                       " FROM cc_entries WHERE user_id = :u AND row_id > :after ORDER BY row_id "
                       "LIMIT :lim"),
          [&](Prep& p) { p, use(user, "u"), use(after, "after"), use(lim, "lim"); });
    });
  }

  StatusOr<std::vector<NotificationRow>> ListNotifications(const Caller& caller, int64_t after,
                                                           int limit) override {
    return db_->Session("list notifications",
                        [&](soci::session& sql) -> StatusOr<std::vector<NotificationRow>> {
      std::string q = absl::StrCat("SELECT ", kNotificationCols,
                                   " FROM notifications WHERE row_id > :after AND (user_id = :u");
      if (!caller.roles.empty()) {
        absl::StrAppend(&q, " OR (user_id = '' AND role IN (", Placeholders("r", caller.roles.size()),
                        ") AND (org = '' OR org = :org))");
      }
      q += ") ORDER BY row_id LIMIT :lim";
      long long lim = limit;
      std::vector<std::string> names;
      return FetchAll<NotificationRow>(sql, q, [&](Prep& p) {
        p, use(after, "after"), use(caller.user, "u");
        if (!caller.roles.empty()) {
          BindList(p, "r", caller.roles, &names);
          p, use(caller.org, "org");
        }
        p, use(lim, "lim");
      });
    });
  }

  Status PutProxy(const ProxyRow& r) override {
    return db_->Write("put proxy", [&](soci::session& sql) -> Status {
      sql << "INSERT INTO proxies (id, principal, proxy_user, from_ms, to_ms, created_by, "
             "created_ms) VALUES (:id, :p, :x, :f, :t, :b, :c)",
          use(r.id, "id"), use(r.principal, "p"), use(r.proxy_user, "x"), use(r.from_ms, "f"),
          use(r.to_ms, "t"), use(r.created_by, "b"), use(r.created_ms, "c");
      return absl::OkStatus();
    });
  }

  Status DeleteProxy(const std::string& id) override {
    return db_->Write("delete proxy", [&](soci::session& sql) -> Status {
      soci::statement st = (sql.prepare << "DELETE FROM proxies WHERE id = :id", use(id, "id"));
      st.execute(true);
      if (st.get_affected_rows() != 1) {
        return absl::NotFoundError(absl::StrCat("proxy ", id, " not found"));
      }
      return absl::OkStatus();
    });
  }

  StatusOr<ProxyRow> GetProxy(const std::string& id) override {
    return db_->Session("get proxy", [&](soci::session& sql) -> StatusOr<ProxyRow> {
      auto rows = FetchAll<ProxyRow>(
          sql, absl::StrCat("SELECT ", kProxyCols, " FROM proxies WHERE id = :id"),
          [&](Prep& p) { p, use(id, "id"); });
      if (rows.empty()) return absl::NotFoundError(absl::StrCat("proxy ", id, " not found"));
      return rows.front();
    });
  }

  StatusOr<std::vector<ProxyRow>> ListProxies(const std::string& user) override {
    return db_->Session("list proxies", [&](soci::session& sql) -> StatusOr<std::vector<ProxyRow>> {
      return FetchAll<ProxyRow>(
          sql,
          absl::StrCat("SELECT ", kProxyCols,
                       " FROM proxies WHERE principal = :u OR proxy_user = :u2 ORDER BY "
                       "created_ms DESC, id"),
          [&](Prep& p) { p, use(user, "u"), use(user, "u2"); });
    });
  }

  StatusOr<std::vector<std::string>> ActivePrincipals(const std::string& user,
                                                      int64_t now_ms) override {
    return db_->Session("active principals",
                        [&](soci::session& sql) -> StatusOr<std::vector<std::string>> {
      auto rows = FetchAll<ProxyRow>(
          sql,
          absl::StrCat("SELECT ", kProxyCols,
                       " FROM proxies WHERE proxy_user = :u AND from_ms <= :n AND to_ms > :n2 "
                       "ORDER BY principal"),
          [&](Prep& p) { p, use(user, "u"), use(now_ms, "n"), use(now_ms, "n2"); });
      std::vector<std::string> out;
      for (const auto& r : rows) {
        if (out.empty() || out.back() != r.principal) out.push_back(r.principal);
      }
      return out;
    });
  }

  StatusOr<std::vector<TimerRow>> LeaseDueTimers(const std::string& owner, int64_t now_ms,
                                                 int64_t lease_ms, int limit) override {
    return db_->Write("lease timers", [&](soci::session& sql) -> StatusOr<std::vector<TimerRow>> {
      soci::transaction tr(sql);
      long long lim = limit;
      // SKIP LOCKED: replicas leasing at once each get different timers.
      std::string q = absl::StrCat("SELECT ", kTimerCols,
                                   " FROM timers WHERE fired_ms = 0 AND due_ms <= :now AND "
                                   "lease_until_ms < :now2 ORDER BY due_ms LIMIT :lim",
                                   db_->sqlite() ? "" : " FOR UPDATE SKIP LOCKED");
      auto rows = FetchAll<TimerRow>(sql, q, [&](Prep& p) {
        p, use(now_ms, "now"), use(now_ms, "now2"), use(lim, "lim");
      });
      const int64_t until = now_ms + lease_ms;
      for (auto& r : rows) {
        sql << "UPDATE timers SET lease_owner = :o, lease_until_ms = :u WHERE id = :id",
            use(owner, "o"), use(until, "u"), use(r.id, "id");
        r.lease_owner = owner;
        r.lease_until_ms = until;
      }
      tr.commit();
      return rows;
    });
  }

  StatusOr<std::vector<TimerRow>> ListTimers(const std::string& instance_id) override {
    return db_->Session("list timers", [&](soci::session& sql) -> StatusOr<std::vector<TimerRow>> {
      return FetchAll<TimerRow>(
          sql,
          absl::StrCat("SELECT ", kTimerCols,
                       " FROM timers WHERE instance_id = :iid ORDER BY due_ms, id"),
          [&](Prep& p) { p, use(instance_id, "iid"); });
    });
  }

  StatusOr<std::optional<SnapshotRow>> GetSnapshot(const std::string& instance_id) override {
    return db_->Session("get snapshot",
                        [&](soci::session& sql) -> StatusOr<std::optional<SnapshotRow>> {
      SnapshotRow row;
      sql << "SELECT instance_id, version_after, actor, body, created_ms FROM snapshots WHERE "
             "instance_id = :iid",
          into(row.instance_id), into(row.version_after), into(row.actor), into(row.body),
          into(row.created_ms), use(instance_id, "iid");
      if (!sql.got_data()) return std::optional<SnapshotRow>();
      return std::optional<SnapshotRow>(std::move(row));
    });
  }

  StatusOr<std::vector<EventRow>> ListEvents(const std::string& instance_id) override {
    return db_->Session("list events", [&](soci::session& sql) -> StatusOr<std::vector<EventRow>> {
      return FetchAll<EventRow>(
          sql,
          absl::StrCat("SELECT ", kEventCols, " FROM events WHERE instance_id = :iid ORDER BY seq"),
          [&](Prep& p) { p, use(instance_id, "iid"); });
    });
  }

  StatusOr<DocumentRow> GetDocument(const std::string& id) override {
    return db_->Session("get document", [&](soci::session& sql) -> StatusOr<DocumentRow> {
      auto rows = FetchAll<DocumentBinding>(
          sql, absl::StrCat("SELECT ", kDocumentCols, " FROM documents WHERE id = :id"),
          [&](Prep& p) { p, use(id, "id"); });
      if (rows.empty()) return absl::NotFoundError(absl::StrCat("document ", id, " not found"));
      BPM_RETURN_IF_ERROR(Finish(rows.front()));
      return rows.front().row;
    });
  }

  StatusOr<std::vector<DocumentRow>> ListDocuments(const std::string& instance_id) override {
    return db_->Session("list documents", [&](soci::session& sql) -> StatusOr<std::vector<DocumentRow>> {
      auto rows = FetchAll<DocumentBinding>(
          sql,
          absl::StrCat("SELECT ", kDocumentCols,
                       " FROM documents WHERE instance_id = :iid ORDER BY created_ms, id"),
          [&](Prep& p) { p, use(instance_id, "iid"); });
      std::vector<DocumentRow> out;
      for (auto& b : rows) {
        BPM_RETURN_IF_ERROR(Finish(b));
        out.push_back(std::move(b.row));
      }
      return out;
    });
  }

  StatusOr<std::optional<IdempotencyRow>> GetIdempotency(const std::string& scope,
                                                         const std::string& key) override {
    return db_->Session("get idempotency key",
                   [&](soci::session& sql) -> StatusOr<std::optional<IdempotencyRow>> {
                     IdempotencyRow row;
                     std::string b64;
                     soci::indicator ind = soci::i_null;
                     sql << "SELECT scope, idem_key, request_hash, response_b64, created_ms FROM "
                            "idempotency_keys WHERE scope = :s AND idem_key = :k",
                         into(row.scope), into(row.key), into(row.request_hash), into(b64, ind),
                         into(row.created_ms), use(scope, "s"), use(key, "k");
                     if (!sql.got_data()) return std::optional<IdempotencyRow>();
                     if (!absl::Base64Unescape(b64, &row.response)) {
                       return absl::InternalError("stored idempotent response is corrupt");
                     }
                     return std::optional<IdempotencyRow>(std::move(row));
                   });
  }

  Status Apply(const Commit& c) override {
    return db_->Write("commit", [&](soci::session& sql) -> Status {
      soci::transaction tr(sql);
      if (c.insert_instance) {
        const InstanceRow& r = *c.insert_instance;
        sql << "INSERT INTO instances (id, def_key, def_version, subject_ref, org, status, "
               "state, variables, version, event_seq, started_by, created_ms, updated_ms, "
               "campaign_id) VALUES (:id, :dk, :dv, :sr, :org, :st, :state, :vars, :ver, :seq, "
               ":by, :c, :u, :cid)",
            use(r.id, "id"), use(r.def_key, "dk"), use(r.def_version, "dv"),
            use(r.subject_ref, "sr"), use(r.org, "org"), use(r.status, "st"),
            use(r.state, "state"), use(r.variables_json, "vars"), use(r.version, "ver"),
            use(r.event_seq, "seq"), use(r.started_by, "by"), use(r.created_ms, "c"),
            use(r.updated_ms, "u"), use(r.campaign_id, "cid");
      }
      if (c.update_instance) {
        const InstanceRow& r = *c.update_instance;
        soci::statement st =
            (sql.prepare << "UPDATE instances SET status = :st, state = :state, variables = "
                            ":vars, version = :ver, event_seq = :seq, updated_ms = :u WHERE id = "
                            ":id AND version = :expected",
             use(r.status, "st"), use(r.state, "state"), use(r.variables_json, "vars"),
             use(r.version, "ver"), use(r.event_seq, "seq"), use(r.updated_ms, "u"),
             use(r.id, "id"), use(c.expected_version, "expected"));
        st.execute(true);
        if (st.get_affected_rows() != 1) {
          return absl::AbortedError(absl::StrCat(
              "instance ", r.id, " changed meanwhile (it is no longer at version ",
              c.expected_version, "): re-read and retry"));
        }
      }
      for (const TaskRow& r : c.insert_tasks) {
        sql << "INSERT INTO tasks (id, instance_id, state, name, title, status, assignee_user, "
               "assignee_role, assignee_org, actions, data, due_ms, created_ms, completed_ms, "
               "completed_by, action, claimed_by, delegated_to, owner_user, exclude_users) VALUES "
               "(:id, :iid, :state, :name, :title, :st, :au, :ar, :ao, :acts, :data, :due, :c, "
               ":cm, :cb, :a, :clb, :dt, :ow, :ex)",
            use(r.id, "id"), use(r.instance_id, "iid"), use(r.state, "state"),
            use(r.name, "name"), use(r.title, "title"), use(r.status, "st"),
            use(r.assignee_user, "au"), use(r.assignee_role, "ar"), use(r.assignee_org, "ao"),
            use(r.actions_json, "acts"), use(r.data_json, "data"), use(r.due_ms, "due"),
            use(r.created_ms, "c"), use(r.completed_ms, "cm"), use(r.completed_by, "cb"),
            use(r.action, "a"), use(r.claimed_by, "clb"), use(r.delegated_to, "dt"),
            use(r.owner_user, "ow"), use(r.exclude_users_json, "ex");
      }
      for (const TaskUpdate& u : c.update_tasks) {
        const TaskRow& r = u.row;
        soci::statement st =
            (sql.prepare << "UPDATE tasks SET status = :st, assignee_user = :au, assignee_role = "
                            ":ar, assignee_org = :ao, data = :data, due_ms = :due, completed_ms = "
                            ":cm, completed_by = :cb, action = :a, claimed_by = :clb, "
                            "delegated_to = :dt, owner_user = :ow, exclude_users = :ex WHERE id = "
                            ":id AND status = :expected",
             use(r.status, "st"), use(r.assignee_user, "au"), use(r.assignee_role, "ar"),
             use(r.assignee_org, "ao"), use(r.data_json, "data"), use(r.due_ms, "due"),
             use(r.completed_ms, "cm"), use(r.completed_by, "cb"), use(r.action, "a"),
             use(r.claimed_by, "clb"), use(r.delegated_to, "dt"), use(r.owner_user, "ow"),
             use(r.exclude_users_json, "ex"), use(r.id, "id"),
             use(u.expected_status, "expected"));
        st.execute(true);
        if (st.get_affected_rows() != 1) {
          return absl::AbortedError(absl::StrCat("task ", r.id, " is no longer ",
                                                 u.expected_status, ": re-read and retry"));
        }
      }
      // Fired before cancellations: a timer whose effect closes its own task
      // (escalation) is fired, not cancelled.
      for (const std::string& id : c.fire_timers) {
        const int64_t at = c.update_instance ? c.update_instance->updated_ms : 1;
        soci::statement st =
            (sql.prepare << "UPDATE timers SET fired_ms = :at WHERE id = :id AND fired_ms = 0",
             use(at, "at"), use(id, "id"));
        st.execute(true);
        if (st.get_affected_rows() != 1) {
          return absl::AbortedError(absl::StrCat("timer ", id, " already fired or was cancelled"));
        }
      }
      for (const std::string& task_id : c.cancel_timers_of_tasks) {
        sql << "UPDATE timers SET fired_ms = -1 WHERE task_id = :t AND fired_ms = 0",
            use(task_id, "t");
      }
      for (const TimerRow& t : c.insert_timers) {
        sql << "INSERT INTO timers (id, instance_id, task_id, name, due_ms, fired_ms, lease_owner, "
               "lease_until_ms) VALUES (:id, :iid, :tid, :n, :due, :f, :o, :lu)",
            use(t.id, "id"), use(t.instance_id, "iid"), use(t.task_id, "tid"), use(t.name, "n"),
            use(t.due_ms, "due"), use(t.fired_ms, "f"), use(t.lease_owner, "o"),
            use(t.lease_until_ms, "lu");
      }
      for (const NotificationRow& n : c.notifications) {
        sql << "INSERT INTO notifications (id, user_id, role, org, instance_id, task_id, kind, "
               "text, from_user, created_ms) VALUES (:id, :u, :r, :o, :iid, :tid, :k, :t, :f, :c)",
            use(n.id, "id"), use(n.user_id, "u"), use(n.role, "r"), use(n.org, "o"),
            use(n.instance_id, "iid"), use(n.task_id, "tid"), use(n.kind, "k"), use(n.text, "t"),
            use(n.from_user, "f"), use(n.created_ms, "c");
      }
      for (const CcRow& r : c.cc) {
        sql << "INSERT INTO cc_entries (id, instance_id, user_id, from_user, note, created_ms) "
               "VALUES (:id, :iid, :u, :f, :n, :c)",
            use(r.id, "id"), use(r.instance_id, "iid"), use(r.user_id, "u"),
            use(r.from_user, "f"), use(r.note, "n"), use(r.created_ms, "c");
      }
      if (c.delete_snapshot || c.snapshot) {
        const std::string& iid =
            c.snapshot ? c.snapshot->instance_id
                       : (c.update_instance ? c.update_instance->id : c.insert_instance->id);
        sql << "DELETE FROM snapshots WHERE instance_id = :iid", use(iid, "iid");
      }
      BPM_RETURN_IF_ERROR(internal::ApplyAgencyWrites(sql, c));
      if (c.snapshot) {
        const SnapshotRow& r = *c.snapshot;
        sql << "INSERT INTO snapshots (instance_id, version_after, actor, body, created_ms) "
               "VALUES (:iid, :v, :a, :b, :c)",
            use(r.instance_id, "iid"), use(r.version_after, "v"), use(r.actor, "a"),
            use(r.body, "b"), use(r.created_ms, "c");
      }
      for (const EventRow& e : c.events) {
        sql << "INSERT INTO events (instance_id, seq, at_ms, actor, kind, action, from_state, "
               "to_state, task_id, comment, payload_digest, note) VALUES (:iid, :seq, :at, "
               ":actor, :kind, :action, :from, :to, :task, :comment, :digest, :note)",
            use(e.instance_id, "iid"), use(e.seq, "seq"), use(e.at_ms, "at"),
            use(e.actor, "actor"), use(e.kind, "kind"), use(e.action, "action"),
            use(e.from_state, "from"), use(e.to_state, "to"), use(e.task_id, "task"),
            use(e.comment, "comment"), use(e.payload_digest, "digest"), use(e.note, "note");
      }
      for (const DocumentRow& d : c.documents) {
        std::string b64 = absl::Base64Escape(d.content);
        sql << "INSERT INTO documents (id, instance_id, state, kind, content_type, content_b64, "
               "sha256, created_ms) VALUES (:id, :iid, :state, :kind, :ct, :b64, :sha, :c)",
            use(d.id, "id"), use(d.instance_id, "iid"), use(d.state, "state"),
            use(d.kind, "kind"), use(d.content_type, "ct"), use(b64, "b64"),
            use(d.sha256, "sha"), use(d.created_ms, "c");
      }
      if (c.idempotency) {
        const IdempotencyRow& r = *c.idempotency;
        std::string b64 = absl::Base64Escape(r.response);
        sql << "INSERT INTO idempotency_keys (scope, idem_key, request_hash, response_b64, "
               "created_ms) VALUES (:s, :k, :h, :r, :c)",
            use(r.scope, "s"), use(r.key, "k"), use(r.request_hash, "h"), use(b64, "r"),
            use(r.created_ms, "c");
      }
      tr.commit();
      return absl::OkStatus();
    });
  }

 private:
  std::shared_ptr<internal::SociDb> db_;
  std::unique_ptr<OrgStore> orgs_;
  std::unique_ptr<AgencyStore> agencies_;
};

}  // namespace

StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& url, int pool_size) {
  BPM_ASSIGN_OR_RETURN(internal::Url parsed, internal::ParseUrl(url));
  if (pool_size < 1) pool_size = 1;
  auto db = std::make_shared<internal::SociDb>(std::move(parsed), pool_size);
  BPM_RETURN_IF_ERROR(db->Init());
  return std::unique_ptr<Store>(std::make_unique<SociStore>(std::move(db)));
}

}  // namespace bpm::store
