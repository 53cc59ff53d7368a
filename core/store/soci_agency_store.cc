// The SOCI AgencyStore (agency_store.h) for SQLite and MySQL/MariaDB.
#include "core/store/internal/soci_agency_store.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace bpm::store::internal {
namespace {

using soci::into;
using soci::use;

// Bodies are raw protobuf bytes, kept as base64 text.
struct AgencyBinding {
  AgencyRow row;
  std::string b64;
};
void Into(Prep& p, AgencyBinding& r) { p, into(r.row.id), into(r.b64), into(r.row.created_ms); }

struct EngagementBinding {
  EngagementRow row;
  std::string b64;
};
void Into(Prep& p, EngagementBinding& r) {
  p, into(r.row.id), into(r.row.agency_id), into(r.row.subject_ref), into(r.row.purpose),
      into(r.row.status), into(r.b64), into(r.row.created_ms);
}

const char* kTaskCols =
    "row_id, id, instance_id, state, topic, engagement_id, agency_id, payload, status, "
    "lock_token, lock_owner, lock_expires_ms, available_ms, retries_left, last_error, "
    "deliverable_sha256, created_ms, completed_ms";
template <typename P>  // a SOCI statement or a RowReader
void Into(P& p, ExternalTaskRow& r) {
  p, into(r.row_id), into(r.id), into(r.instance_id), into(r.state), into(r.topic),
      into(r.engagement_id), into(r.agency_id), into(r.payload_json), into(r.status),
      into(r.lock_token), into(r.lock_owner), into(r.lock_expires_ms), into(r.available_ms),
      into(r.retries_left), into(r.last_error), into(r.deliverable_sha256), into(r.created_ms),
      into(r.completed_ms);
}

const char* kIncidentCols =
    "id, instance_id, external_task_id, kind, message, created_ms, resolved_ms, resolution, "
    "resolved_by";
void Into(Prep& p, IncidentRow& r) {
  p, into(r.id), into(r.instance_id), into(r.external_task_id), into(r.kind), into(r.message),
      into(r.created_ms), into(r.resolved_ms), into(r.resolution), into(r.resolved_by);
}

struct OutboxBinding {
  OutboxRow row;
  std::string b64;
};
const char* kOutboxCols =
    "id, endpoint, agency_id, external_task_id, body, status, attempts, next_attempt_ms, "
    "lease_until_ms, last_error, created_ms";
void Into(Prep& p, OutboxBinding& r) {
  p, into(r.row.id), into(r.row.endpoint), into(r.row.agency_id), into(r.row.external_task_id),
      into(r.b64), into(r.row.status), into(r.row.attempts), into(r.row.next_attempt_ms),
      into(r.row.lease_until_ms), into(r.row.last_error), into(r.row.created_ms);
}

template <typename Row, typename Bind>
std::vector<Row> FetchAll(soci::session& sql, const std::string& query, Bind&& bind) {
  return FetchRows<Row>(sql, query, [](Prep& p, Row& r) { Into(p, r); },
                        std::forward<Bind>(bind));
}

// Decodes the base64 bodies of bound rows.
template <typename Binding, typename Row>
StatusOr<std::vector<Row>> Decode(std::vector<Binding> rows) {
  std::vector<Row> out;
  for (auto& b : rows) {
    if (!absl::Base64Unescape(b.b64, &b.row.body)) {
      return absl::InternalError(absl::StrCat("stored body of ", b.row.id, " is corrupt"));
    }
    out.push_back(std::move(b.row));
  }
  return out;
}

std::string Placeholders(const std::string& prefix, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) absl::StrAppend(&out, i ? ", " : "", ":", prefix, i);
  return out;
}

class SociAgencyStore final : public AgencyStore {
 public:
  explicit SociAgencyStore(std::shared_ptr<SociDb> db) : db_(std::move(db)) {}

  Status PutAgency(const AgencyRow& r) override {
    return db_->Write("put agency", [&](soci::session& sql) -> Status {
      std::string b64 = absl::Base64Escape(r.body);
      soci::transaction tr(sql);
      sql << "DELETE FROM agencies WHERE id = :id", use(r.id, "id");
      sql << "INSERT INTO agencies (id, body, created_ms) VALUES (:id, :b, :c)", use(r.id, "id"),
          use(b64, "b"), use(r.created_ms, "c");
      tr.commit();
      return absl::OkStatus();
    });
  }

  StatusOr<AgencyRow> GetAgency(const std::string& id) override {
    return db_->Session("get agency", [&](soci::session& sql) -> StatusOr<AgencyRow> {
      BPM_ASSIGN_OR_RETURN(auto rows, (Decode<AgencyBinding, AgencyRow>(FetchAll<AgencyBinding>(
                                          sql, "SELECT id, body, created_ms FROM agencies WHERE id = :id",
                                          [&](Prep& p) { p, use(id, "id"); }))));
      if (rows.empty()) return absl::NotFoundError(absl::StrCat("agency ", id, " not found"));
      return rows.front();
    });
  }

  StatusOr<std::vector<AgencyRow>> ListAgencies() override {
    return db_->Session("list agencies", [&](soci::session& sql) -> StatusOr<std::vector<AgencyRow>> {
      return Decode<AgencyBinding, AgencyRow>(FetchAll<AgencyBinding>(
          sql, "SELECT id, body, created_ms FROM agencies ORDER BY id", [](Prep&) {}));
    });
  }

  Status PutEngagement(const EngagementRow& r) override {
    return db_->Write("put engagement", [&](soci::session& sql) -> Status {
      std::string b64 = absl::Base64Escape(r.body);
      soci::transaction tr(sql);
      sql << "DELETE FROM engagements WHERE id = :id", use(r.id, "id");
      sql << "INSERT INTO engagements (id, agency_id, subject_ref, purpose, status, body, "
             "created_ms) VALUES (:id, :a, :s, :p, :st, :b, :c)",
          use(r.id, "id"), use(r.agency_id, "a"), use(r.subject_ref, "s"), use(r.purpose, "p"),
          use(r.status, "st"), use(b64, "b"), use(r.created_ms, "c");
      tr.commit();
      return absl::OkStatus();
    });
  }

  StatusOr<EngagementRow> GetEngagement(const std::string& id) override {
    return db_->Session("get engagement", [&](soci::session& sql) -> StatusOr<EngagementRow> {
      BPM_ASSIGN_OR_RETURN(
          auto rows, (Decode<EngagementBinding, EngagementRow>(FetchAll<EngagementBinding>(
                         sql,
                         "SELECT id, agency_id, subject_ref, purpose, status, body, created_ms "
                         "FROM engagements WHERE id = :id",
                         [&](Prep& p) { p, use(id, "id"); }))));
      if (rows.empty()) return absl::NotFoundError(absl::StrCat("engagement ", id, " not found"));
      return rows.front();
    });
  }

  StatusOr<std::vector<EngagementRow>> ListEngagements(const std::string& agency_id,
                                                       const std::string& subject_ref) override {
    return db_->Session("list engagements",
                        [&](soci::session& sql) -> StatusOr<std::vector<EngagementRow>> {
      std::string q =
          "SELECT id, agency_id, subject_ref, purpose, status, body, created_ms FROM engagements "
          "WHERE 1 = 1";
      if (!agency_id.empty()) q += " AND agency_id = :a";
      if (!subject_ref.empty()) q += " AND subject_ref = :s";
      q += " ORDER BY created_ms, id";
      return Decode<EngagementBinding, EngagementRow>(FetchAll<EngagementBinding>(sql, q, [&](Prep& p) {
        if (!agency_id.empty()) p, use(agency_id, "a");
        if (!subject_ref.empty()) p, use(subject_ref, "s");
      }));
    });
  }

  StatusOr<ExternalTaskRow> GetExternalTask(const std::string& id) override {
    return db_->Session("get external task", [&](soci::session& sql) -> StatusOr<ExternalTaskRow> {
      auto rows = FetchAll<ExternalTaskRow>(
          sql, absl::StrCat("SELECT ", kTaskCols, " FROM external_tasks WHERE id = :id"),
          [&](Prep& p) { p, use(id, "id"); });
      if (rows.empty()) return absl::NotFoundError(absl::StrCat("external task ", id, " not found"));
      return rows.front();
    });
  }

  StatusOr<std::vector<ExternalTaskRow>> ListExternalTasks(const std::string& instance_id) override {
    return db_->Session("list external tasks",
                        [&](soci::session& sql) -> StatusOr<std::vector<ExternalTaskRow>> {
      return ExternalTasksOf(*db_, sql, instance_id);
    });
  }

  StatusOr<std::vector<ExternalTaskRow>> LockExternalTasks(
      const std::string& agency_id, const std::vector<std::string>& topics, int64_t now_ms,
      int64_t lock_until_ms, const std::string& owner, int limit,
      const std::function<std::string()>& new_token) override {
    if (topics.empty()) return std::vector<ExternalTaskRow>();
    // Tracked (not counted against the instance cache): it holds no instance
    // that has external tasks, and only a commit can give one some.
    return db_->WriteTracked("lock external tasks",
                             [&](soci::session& sql) -> StatusOr<std::vector<ExternalTaskRow>> {
      soci::transaction tr(sql);
      long long lim = limit;
      std::string q = absl::StrCat(
          "SELECT ", kTaskCols, " FROM external_tasks WHERE agency_id = :a AND topic IN (",
          Placeholders("t", topics.size()),
          ") AND ((status = 'open' AND available_ms <= :n1) OR (status = 'locked' AND "
          "lock_expires_ms <= :n2)) ORDER BY row_id LIMIT :lim",
          db_->sqlite() ? "" : " FOR UPDATE SKIP LOCKED");
      std::vector<std::string> names;
      for (size_t i = 0; i < topics.size(); ++i) names.push_back(absl::StrCat("t", i));
      auto rows = FetchAll<ExternalTaskRow>(sql, q, [&](Prep& p) {
        p, use(agency_id, "a");
        for (size_t i = 0; i < topics.size(); ++i) p, use(topics[i], names[i]);
        p, use(now_ms, "n1"), use(now_ms, "n2"), use(lim, "lim");
      });
      for (auto& r : rows) {
        r.status = "locked";
        r.lock_token = new_token();
        r.lock_owner = owner;
        r.lock_expires_ms = lock_until_ms;
        sql << "UPDATE external_tasks SET status = :s, lock_token = :t, lock_owner = :o, "
               "lock_expires_ms = :e WHERE id = :id",
            use(r.status, "s"), use(r.lock_token, "t"), use(r.lock_owner, "o"),
            use(r.lock_expires_ms, "e"), use(r.id, "id");
      }
      tr.commit();
      return rows;
    });
  }

  Status ExtendLock(const std::string& id, const std::string& token, int64_t now_ms,
                    int64_t lock_until_ms) override {
    // Tracked: see LockExternalTasks.
    return db_->WriteTracked("extend lock", [&](soci::session& sql) -> Status {
      soci::statement st =
          (sql.prepare << "UPDATE external_tasks SET lock_expires_ms = :e WHERE id = :id AND "
                          "status = 'locked' AND lock_token = :t AND lock_expires_ms > :n",
           use(lock_until_ms, "e"), use(id, "id"), use(token, "t"), use(now_ms, "n"));
      st.execute(true);
      if (st.get_affected_rows() != 1) {
        return absl::FailedPreconditionError(absl::StrCat(
            "external task ", id, ": the lock is not held with this token (expired, re-delivered "
            "or completed)"));
      }
      return absl::OkStatus();
    });
  }

  StatusOr<IncidentRow> GetIncident(const std::string& id) override {
    return db_->Session("get incident", [&](soci::session& sql) -> StatusOr<IncidentRow> {
      auto rows = FetchAll<IncidentRow>(
          sql, absl::StrCat("SELECT ", kIncidentCols, " FROM incidents WHERE id = :id"),
          [&](Prep& p) { p, use(id, "id"); });
      if (rows.empty()) return absl::NotFoundError(absl::StrCat("incident ", id, " not found"));
      return rows.front();
    });
  }

  StatusOr<std::vector<IncidentRow>> ListIncidents(bool include_resolved) override {
    return db_->Session("list incidents", [&](soci::session& sql) -> StatusOr<std::vector<IncidentRow>> {
      return FetchAll<IncidentRow>(
          sql,
          absl::StrCat("SELECT ", kIncidentCols, " FROM incidents",
                       include_resolved ? "" : " WHERE resolved_ms = 0",
                       " ORDER BY created_ms, id"),
          [](Prep&) {});
    });
  }

  StatusOr<std::vector<OutboxRow>> LeaseOutbox(int64_t now_ms, int64_t lease_ms,
                                               int limit) override {
    // Tracked: the outbox is not part of what the instance cache holds.
    using Rows = std::vector<OutboxRow>;
    return db_->WriteTracked("lease outbox", [&](soci::session& sql) -> StatusOr<Rows> {
      soci::transaction tr(sql);
      long long lim = limit;
      auto bound = FetchAll<OutboxBinding>(
          sql,
          absl::StrCat("SELECT ", kOutboxCols,
                       " FROM outbox WHERE status = 'pending' AND next_attempt_ms <= :n1 AND "
                       "lease_until_ms <= :n2 ORDER BY next_attempt_ms LIMIT :lim",
                       db_->sqlite() ? "" : " FOR UPDATE SKIP LOCKED"),
          [&](Prep& p) { p, use(now_ms, "n1"), use(now_ms, "n2"), use(lim, "lim"); });
      const int64_t until = now_ms + lease_ms;
      for (auto& b : bound) {
        sql << "UPDATE outbox SET lease_until_ms = :u WHERE id = :id", use(until, "u"),
            use(b.row.id, "id");
        b.row.lease_until_ms = until;
      }
      tr.commit();
      return Decode<OutboxBinding, OutboxRow>(std::move(bound));
    });
  }

  Status UpdateOutbox(const OutboxRow& r, const std::string& expected_status) override {
    // Tracked: see LeaseOutbox.
    return db_->WriteTracked("update outbox", [&](soci::session& sql) -> Status {
      soci::statement st =
          (sql.prepare << "UPDATE outbox SET status = :s, attempts = :a, next_attempt_ms = :n, "
                          "lease_until_ms = :l, last_error = :e WHERE id = :id AND status = :x",
           use(r.status, "s"), use(r.attempts, "a"), use(r.next_attempt_ms, "n"),
           use(r.lease_until_ms, "l"), use(r.last_error, "e"), use(r.id, "id"),
           use(expected_status, "x"));
      st.execute(true);
      if (st.get_affected_rows() != 1) {
        // E.g. another deliverer whose lease followed ours settled it first.
        return absl::AbortedError(
            absl::StrCat("outbox message ", r.id, " is no longer ", expected_status));
      }
      return absl::OkStatus();
    });
  }

  StatusOr<OutboxRow> GetOutbox(const std::string& id) override {
    return db_->Session("get outbox", [&](soci::session& sql) -> StatusOr<OutboxRow> {
      BPM_ASSIGN_OR_RETURN(auto rows, (Decode<OutboxBinding, OutboxRow>(FetchAll<OutboxBinding>(
                                          sql,
                                          absl::StrCat("SELECT ", kOutboxCols,
                                                       " FROM outbox WHERE id = :id"),
                                          [&](Prep& p) { p, use(id, "id"); }))));
      if (rows.empty()) return absl::NotFoundError(absl::StrCat("outbox message ", id, " not found"));
      return rows.front();
    });
  }

  StatusOr<std::vector<OutboxRow>> ListOutbox(const std::string& status) override {
    return db_->Session("list outbox", [&](soci::session& sql) -> StatusOr<std::vector<OutboxRow>> {
      std::string q = absl::StrCat("SELECT ", kOutboxCols, " FROM outbox");
      if (!status.empty()) q += " WHERE status = :s";
      q += " ORDER BY created_ms, id";
      return Decode<OutboxBinding, OutboxRow>(FetchAll<OutboxBinding>(
          sql, q, [&](Prep& p) {
            if (!status.empty()) p, use(status, "s");
          }));
    });
  }

 private:
  std::shared_ptr<SociDb> db_;
};

}  // namespace

std::unique_ptr<AgencyStore> NewSociAgencyStore(std::shared_ptr<SociDb> db) {
  return std::make_unique<SociAgencyStore>(std::move(db));
}

// The Commit parts of external tasks, incidents and outbox (called inside
// SociStore::Apply's transaction).
const std::string& ExternalTasksOfInstanceQuery() {
  static const std::string q = absl::StrCat(
      "SELECT ", kTaskCols, " FROM external_tasks WHERE instance_id = :k ORDER BY row_id");
  return q;
}

void ReadExternalTask(RowReader& r, ExternalTaskRow& row) { Into(r, row); }

std::vector<ExternalTaskRow> ExternalTasksOf(SociDb& db, soci::session& sql,
                                             const std::string& instance_id) {
  return db.FetchByKey<ExternalTaskRow>(sql, ExternalTasksOfInstanceQuery(), instance_id,
                                        [](auto& p, ExternalTaskRow& r) { Into(p, r); });
}

Status ApplyAgencyWrites(CommitWriter& w, const Commit& c) {
  for (const ExternalTaskRow& r : c.insert_external_tasks) {
    BPM_RETURN_IF_ERROR(w.Exec(
        "INSERT INTO external_tasks (id, instance_id, state, topic, engagement_id, agency_id, "
        "payload, status, lock_token, lock_owner, lock_expires_ms, available_ms, retries_left, "
        "last_error, deliverable_sha256, created_ms, completed_ms) VALUES (:id, :i, :s, :t, "
        ":e, :a, :p, :st, :lt, :lo, :le, :av, :r, :err, :d, :c, :cm)",
        [](auto& p, ExternalTaskRow& r) {
          p, use(r.id, "id"), use(r.instance_id, "i"), use(r.state, "s"), use(r.topic, "t"),
              use(r.engagement_id, "e"), use(r.agency_id, "a"), use(r.payload_json, "p"),
              use(r.status, "st"), use(r.lock_token, "lt"), use(r.lock_owner, "lo"),
              use(r.lock_expires_ms, "le"), use(r.available_ms, "av"), use(r.retries_left, "r"),
              use(r.last_error, "err"), use(r.deliverable_sha256, "d"), use(r.created_ms, "c"),
              use(r.completed_ms, "cm");
        },
        r));
  }
  for (const auto& u : c.update_external_tasks) {
    BPM_RETURN_IF_ERROR(w.Exec(
        "UPDATE external_tasks SET engagement_id = :e, agency_id = :a, status = :st, lock_token "
        "= :lt, lock_owner = :lo, lock_expires_ms = :le, available_ms = :av, retries_left = :r, "
        "last_error = :err, deliverable_sha256 = :d, completed_ms = :cm WHERE id = :id AND "
        "status = :xs AND lock_token = :xt",
        [](auto& p, Commit::ExternalTaskUpdate& u) {
          ExternalTaskRow& r = u.row;
          p, use(r.engagement_id, "e"), use(r.agency_id, "a"), use(r.status, "st"),
              use(r.lock_token, "lt"), use(r.lock_owner, "lo"), use(r.lock_expires_ms, "le"),
              use(r.available_ms, "av"), use(r.retries_left, "r"), use(r.last_error, "err"),
              use(r.deliverable_sha256, "d"), use(r.completed_ms, "cm"), use(r.id, "id"),
              use(u.expected_status, "xs"), use(u.expected_token, "xt");
        },
        u, 1, [&] {
          return absl::StrCat("external task ", u.row.id, " changed meanwhile (its lock moved on)");
        }));
  }
  for (const IncidentRow& r : c.insert_incidents) {
    BPM_RETURN_IF_ERROR(w.Exec(
        "INSERT INTO incidents (id, instance_id, external_task_id, kind, message, created_ms, "
        "resolved_ms, resolution, resolved_by) VALUES (:id, :i, :t, :k, :m, :c, :r, :res, :by)",
        [](auto& p, IncidentRow& r) {
          p, use(r.id, "id"), use(r.instance_id, "i"), use(r.external_task_id, "t"),
              use(r.kind, "k"), use(r.message, "m"), use(r.created_ms, "c"),
              use(r.resolved_ms, "r"), use(r.resolution, "res"), use(r.resolved_by, "by");
        },
        r));
  }
  for (const IncidentRow& r : c.resolve_incidents) {
    BPM_RETURN_IF_ERROR(w.Exec(
        "UPDATE incidents SET resolved_ms = :r, resolution = :res, resolved_by = :by WHERE id = "
        ":id AND resolved_ms = 0",
        [](auto& p, IncidentRow& r) {
          p, use(r.resolved_ms, "r"), use(r.resolution, "res"), use(r.resolved_by, "by"),
              use(r.id, "id");
        },
        r, 1, [&] { return absl::StrCat("incident ", r.id, " was resolved meanwhile"); }));
  }
  for (const OutboxRow& r : c.insert_outbox) {
    struct B {
      OutboxRow r;
      std::string b64;
    };
    BPM_RETURN_IF_ERROR(w.Exec(
        "INSERT INTO outbox (id, endpoint, agency_id, external_task_id, body, status, attempts, "
        "next_attempt_ms, lease_until_ms, last_error, created_ms) VALUES (:id, :e, :a, :t, :b, "
        ":s, :n, :na, :l, :err, :c)",
        [](auto& p, B& b) {
          const OutboxRow& r = b.r;
          p, use(r.id, "id"), use(r.endpoint, "e"), use(r.agency_id, "a"),
              use(r.external_task_id, "t"), use(b.b64, "b"), use(r.status, "s"),
              use(r.attempts, "n"), use(r.next_attempt_ms, "na"), use(r.lease_until_ms, "l"),
              use(r.last_error, "err"), use(r.created_ms, "c");
        },
        B{r, absl::Base64Escape(r.body)}));
  }
  return absl::OkStatus();
}

}  // namespace bpm::store::internal
