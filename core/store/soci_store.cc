// The SOCI implementation of Store for SQLite and MySQL/MariaDB. This is the
// only file that includes SOCI; every SOCI exception is caught here and
// converted to a Status.
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/store/internal/soci_db.h"
#include "core/store/internal/soci_org_store.h"
#include "core/store/store.h"

namespace bpm::store {
namespace {

using internal::Prep;
using soci::into;
using soci::use;

const char* kInstanceCols =
    "row_id, id, def_key, def_version, subject_ref, org, status, state, variables, version, "
    "event_seq, started_by, created_ms, updated_ms";
void Into(Prep& p, InstanceRow& r) {
  p, into(r.row_id), into(r.id), into(r.def_key), into(r.def_version), into(r.subject_ref),
      into(r.org), into(r.status), into(r.state), into(r.variables_json), into(r.version),
      into(r.event_seq), into(r.started_by), into(r.created_ms), into(r.updated_ms);
}

const char* kTaskCols =
    "row_id, id, instance_id, state, name, title, status, assignee_user, assignee_role, "
    "assignee_org, actions, data, due_ms, created_ms, completed_ms, completed_by, action";
void Into(Prep& p, TaskRow& r) {
  p, into(r.row_id), into(r.id), into(r.instance_id), into(r.state), into(r.name),
      into(r.title), into(r.status), into(r.assignee_user), into(r.assignee_role),
      into(r.assignee_org), into(r.actions_json), into(r.data_json), into(r.due_ms),
      into(r.created_ms), into(r.completed_ms), into(r.completed_by), into(r.action);
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
      : db_(db), orgs_(internal::NewSociOrgStore(db)) {}

  OrgStore& orgs() override { return *orgs_; }

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
      if (!f.def_key.empty()) q += " AND def_key = :dk";
      if (!f.subject_ref.empty()) q += " AND subject_ref = :sr";
      if (!f.org.empty()) q += " AND org = :org";
      if (!f.status.empty()) q += " AND status = :st";
      if (!f.state.empty()) q += " AND state = :state";
      q += " ORDER BY row_id LIMIT :lim";
      long long lim = limit;
      return FetchAll<InstanceRow>(sql, q, [&](Prep& p) {
        p, use(after, "after");
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
                                           bool open_only) override {
    return db_->Session("list tasks", [&](soci::session& sql) -> StatusOr<std::vector<TaskRow>> {
      std::string q = absl::StrCat("SELECT ", kTaskCols, " FROM tasks WHERE instance_id = :iid");
      if (open_only) q += " AND status = 'open'";
      q += " ORDER BY row_id";
      return FetchAll<TaskRow>(sql, q, [&](Prep& p) { p, use(instance_id, "iid"); });
    });
  }

  StatusOr<std::vector<TaskRow>> Inbox(const Caller& caller, int64_t after, int limit) override {
    return db_->Session("inbox", [&](soci::session& sql) -> StatusOr<std::vector<TaskRow>> {
      std::string q = absl::StrCat("SELECT ", kTaskCols,
                                   " FROM tasks WHERE status = 'open' AND row_id > :after AND "
                                   "(assignee_user = :u");
      if (!caller.roles.empty()) {
        q += " OR (assignee_user = '' AND assignee_role IN (";
        for (size_t i = 0; i < caller.roles.size(); ++i) {
          absl::StrAppend(&q, i ? ", " : "", ":r", i);
        }
        q += ") AND (assignee_org = '' OR assignee_org = :org))";
      }
      q += ") ORDER BY row_id LIMIT :lim";
      long long lim = limit;
      std::vector<std::string> names;
      for (size_t i = 0; i < caller.roles.size(); ++i) names.push_back(absl::StrCat("r", i));
      return FetchAll<TaskRow>(sql, q, [&](Prep& p) {
        p, use(after, "after"), use(caller.user, "u");
        if (!caller.roles.empty()) {
          for (size_t i = 0; i < caller.roles.size(); ++i) p, use(caller.roles[i], names[i]);
          p, use(caller.org, "org");
        }
        p, use(lim, "lim");
      });
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
               "state, variables, version, event_seq, started_by, created_ms, updated_ms) VALUES "
               "(:id, :dk, :dv, :sr, :org, :st, :state, :vars, :ver, :seq, :by, :c, :u)",
            use(r.id, "id"), use(r.def_key, "dk"), use(r.def_version, "dv"),
            use(r.subject_ref, "sr"), use(r.org, "org"), use(r.status, "st"),
            use(r.state, "state"), use(r.variables_json, "vars"), use(r.version, "ver"),
            use(r.event_seq, "seq"), use(r.started_by, "by"), use(r.created_ms, "c"),
            use(r.updated_ms, "u");
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
      for (const TaskClose& t : c.close_tasks) {
        soci::statement st =
            (sql.prepare << "UPDATE tasks SET status = :st, completed_ms = :ms, completed_by = "
                            ":by, action = :a WHERE id = :id AND status = 'open'",
             use(t.status, "st"), use(t.completed_ms, "ms"), use(t.completed_by, "by"),
             use(t.action, "a"), use(t.id, "id"));
        st.execute(true);
        if (st.get_affected_rows() != 1) {
          return absl::AbortedError(
              absl::StrCat("task ", t.id, " is no longer open: re-read and retry"));
        }
      }
      for (const TaskRow& r : c.insert_tasks) {
        sql << "INSERT INTO tasks (id, instance_id, state, name, title, status, assignee_user, "
               "assignee_role, assignee_org, actions, data, due_ms, created_ms, completed_ms, "
               "completed_by, action) VALUES (:id, :iid, :state, :name, :title, :st, :au, :ar, "
               ":ao, :acts, :data, :due, :c, :cm, :cb, :a)",
            use(r.id, "id"), use(r.instance_id, "iid"), use(r.state, "state"),
            use(r.name, "name"), use(r.title, "title"), use(r.status, "st"),
            use(r.assignee_user, "au"), use(r.assignee_role, "ar"), use(r.assignee_org, "ao"),
            use(r.actions_json, "acts"), use(r.data_json, "data"), use(r.due_ms, "due"),
            use(r.created_ms, "c"), use(r.completed_ms, "cm"), use(r.completed_by, "cb"),
            use(r.action, "a");
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
