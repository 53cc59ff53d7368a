// The SOCI implementation of Store for SQLite and MySQL/MariaDB. This is the
// only file that includes SOCI; every SOCI exception is caught here and
// converted to a Status.
#include <algorithm>
#include <array>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/store/audit.h"
#include "core/store/internal/commit_writer.h"
#include "core/store/internal/group_commit.h"
#include "core/store/internal/instance_cache.h"
#include "core/store/internal/soci_db.h"
#include "core/store/internal/soci_agency_store.h"
#include "core/store/internal/soci_org_store.h"
#include "core/store/store.h"

namespace bpm::store {
namespace {

using internal::Prep;

// Commits written in one transaction at most; bounds a batch's latency.
constexpr size_t kMaxBatch = 256;
using soci::into;
using soci::use;

const char* kInstanceCols =
    "row_id, id, def_key, def_version, subject_ref, org, status, state, variables, version, "
    "event_seq, started_by, created_ms, updated_ms, campaign_id, last_event_hash";
// Column mappings take a SOCI statement or a RowReader (MariaDB multi-selects).
template <typename P>
void Into(P& p, InstanceRow& r) {
  p, into(r.row_id), into(r.id), into(r.def_key), into(r.def_version), into(r.subject_ref),
      into(r.org), into(r.status), into(r.state), into(r.variables_json), into(r.version),
      into(r.event_seq), into(r.started_by), into(r.created_ms), into(r.updated_ms),
      into(r.campaign_id), into(r.last_event_hash);
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
template <typename P>
void Into(P& p, TaskRow& r) {
  p, into(r.row_id), into(r.id), into(r.instance_id), into(r.state), into(r.name),
      into(r.title), into(r.status), into(r.assignee_user), into(r.assignee_role),
      into(r.assignee_org), into(r.actions_json), into(r.data_json), into(r.due_ms),
      into(r.created_ms), into(r.completed_ms), into(r.completed_by), into(r.action),
      into(r.claimed_by), into(r.delegated_to), into(r.owner_user), into(r.exclude_users_json);
}

const char* kTimerCols = "id, instance_id, task_id, name, due_ms, fired_ms, lease_owner, lease_until_ms";
template <typename P>
void Into(P& p, TimerRow& r) {
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

// The reads of an instance by id (placeholder :k), shared by the single
// methods and LoadInstance. Tasks come in row order straight off
// tasks_by_instance (instance_id): the index holds the row id after the key
// on both dialects, so no sort.
const std::string& InstanceByIdQuery() {
  static const std::string q =
      absl::StrCat("SELECT ", kInstanceCols, " FROM instances WHERE id = :k");
  return q;
}
const std::string& TasksOfInstanceQuery() {
  static const std::string q = absl::StrCat("SELECT ", kTaskCols,
                                            " FROM tasks WHERE instance_id = :k ORDER BY row_id");
  return q;
}
// The active ones (IsActiveTaskStatus), filtered row by row while the
// index is walked: inactive rows are never decoded, and an OR of equalities
// on an unindexed column needs none of the temporary table that SQLite
// builds for an IN list on every run.
const std::string& ActiveTasksOfInstanceQuery() {
  static const std::string q = absl::StrCat(
      "SELECT ", kTaskCols,
      " FROM tasks WHERE instance_id = :k AND (status = 'open' OR status = 'claimed' OR "
      "status = 'delegated') ORDER BY row_id");
  return q;
}
const std::string& TaskByIdQuery() {
  static const std::string q = absl::StrCat("SELECT ", kTaskCols, " FROM tasks WHERE id = :k");
  return q;
}
// Stands for the instance id in the queries above when LoadTaskInstance reads
// them on MariaDB in one round trip.
const char* const kInstanceOfTask = "(SELECT instance_id FROM tasks WHERE id = :k)";
const std::string& TimersOfInstanceQuery() {
  static const std::string q = absl::StrCat(
      "SELECT ", kTimerCols, " FROM timers WHERE instance_id = :k ORDER BY due_ms, id");
  return q;
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
    "def_key, version, content_hash, title, source_name, yaml, created_ms, base_key, "
    "base_version";
void Into(Prep& p, DefinitionRow& r) {
  p, into(r.key), into(r.version), into(r.content_hash), into(r.title), into(r.source_name),
      into(r.yaml), into(r.created_ms), into(r.base_key), into(r.base_version);
}

const char* kEventCols =
    "instance_id, seq, at_ms, actor, kind, action, from_state, to_state, task_id, comment, "
    "payload_digest, note, source, prev_hash, hash, chain_seq, chain_prev, chain_hash";
void Into(Prep& p, EventRow& r) {
  p, into(r.instance_id), into(r.seq), into(r.at_ms), into(r.actor), into(r.kind),
      into(r.action), into(r.from_state), into(r.to_state), into(r.task_id), into(r.comment),
      into(r.payload_digest), into(r.note), into(r.source), into(r.prev_hash), into(r.hash),
      into(r.chain_seq), into(r.chain_prev), into(r.chain_hash);
}

void Into(Prep& p, AuditInstance& r) {
  p, into(r.id), into(r.event_seq), into(r.last_event_hash);
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

// Runs query and calls fn(row) for each row as it is read (no vector).
template <typename Row, typename Fn>
void ForEachRow(soci::session& sql, const std::string& query, Fn&& fn) {
  Row row;
  Prep p = (sql.prepare << query);
  Into(p, row);
  soci::statement st(p);
  st.execute();
  while (st.fetch()) fn(row);
}

class SociStore final : public Store {
 public:
  SociStore(std::shared_ptr<internal::SociDb> db, size_t instance_cache)
      : db_(db),
        cache_(instance_cache),
        orgs_(internal::NewSociOrgStore(db)),
        agencies_(internal::NewSociAgencyStore(db)),
        // One batch at a time on either database. Every batch locks the audit
        // head (ReadHead) until its commit, so on MariaDB further leaders
        // only split the queue into smaller batches that wait in turn for
        // that row lock: with half the pool as leaders, batches were about
        // 3 commits and 0.3 lock waits per transition; with one, about 13
        // commits and none, at 25 % less server CPU per transition.
        group_(1, kMaxBatch, [this](const Batch& batch) { WriteBatch(batch); }) {}

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

  StatusOr<DefinitionRow> PutDefinition(const DefinitionRow& in,
                                        const std::optional<AliasChange>& move,
                                        bool* created) override {
    return db_->Write("put definition", [&](soci::session& sql) -> StatusOr<DefinitionRow> {
      soci::transaction tr(sql);
      auto existing = FetchAll<DefinitionRow>(
          sql,
          absl::StrCat("SELECT ", kDefinitionCols,
                       " FROM definitions WHERE def_key = :k AND content_hash = :h"),
          [&](Prep& p) { p, use(in.key, "k"), use(in.content_hash, "h"); });
      DefinitionRow row = in;
      if (!existing.empty()) {
        *created = false;
        row = existing.front();
      } else {
        long long max_version = 0;
        soci::indicator ind;
        sql << "SELECT MAX(version) FROM definitions WHERE def_key = :k", into(max_version, ind),
            use(in.key, "k");
        row.version = (ind == soci::i_ok ? max_version : 0) + 1;
        sql << "INSERT INTO definitions (def_key, version, content_hash, title, source_name, "
               "yaml, created_ms, base_key, base_version) VALUES (:k, :v, :h, :t, :s, :y, :c, "
               ":bk, :bv)",
            use(row.key, "k"), use(row.version, "v"), use(row.content_hash, "h"),
            use(row.title, "t"), use(row.source_name, "s"), use(row.yaml, "y"),
            use(row.created_ms, "c"), use(row.base_key, "bk"), use(row.base_version, "bv");
        *created = true;
      }
      if (move && *created) {
        int64_t previous = 0;
        MoveAliasIn(sql, row.key, row.version, *move, &previous);
      }
      tr.commit();
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

  StatusOr<int64_t> ResolveDefinitionVersion(const std::string& key,
                                             const std::string& alias) override {
    return db_->Session("resolve definition version", [&](soci::session& sql) -> StatusOr<int64_t> {
      struct B {
        std::string key;
        std::string alias;
        long long version = 0;
        soci::indicator ind = soci::i_null;
      };
      // Without a named alias, "current" wins over the highest version (a key
      // deployed before aliases existed, or never activated, has none).
      const char* query =
          alias.empty()
              ? "SELECT COALESCE((SELECT version FROM definition_aliases WHERE def_key = :k "
                "AND alias = :a), (SELECT MAX(version) FROM definitions WHERE def_key = :k))"
              : "SELECT version FROM definition_aliases WHERE def_key = :k AND alias = :a";
      auto& p = db_->Prepare<B>(sql, query, [](Prep& p, B& b) {
        p, into(b.version, b.ind), use(b.key, "k"), use(b.alias, "a");
      });
      p.b.key = key;
      p.b.alias = alias.empty() ? kCurrentAlias : alias;
      auto rows = internal::SociDb::Fetch<std::optional<int64_t>>(p, [](const B& b) {
        return b.ind == soci::i_ok ? std::optional<int64_t>(b.version) : std::nullopt;
      });
      if (rows.empty() || !rows.front()) {
        return absl::NotFoundError(
            alias.empty() ? absl::StrCat("workflow definition ", key, " not found")
                          : absl::StrCat("workflow definition ", key, " has no alias '", alias,
                                         "'"));
      }
      return *rows.front();
    });
  }

  StatusOr<int64_t> MoveDefinitionAlias(const std::string& key, int64_t version,
                                        const AliasChange& change) override {
    return db_->Write("move definition alias", [&](soci::session& sql) -> StatusOr<int64_t> {
      soci::transaction tr(sql);
      long long found = 0;
      soci::indicator ind = soci::i_null;
      sql << "SELECT version FROM definitions WHERE def_key = :k AND version = :v",
          into(found, ind), use(key, "k"), use(version, "v");
      if (!sql.got_data() || ind != soci::i_ok) {
        return absl::NotFoundError(
            absl::StrCat("workflow definition ", key, " version ", version, " not found"));
      }
      int64_t previous = 0;
      MoveAliasIn(sql, key, version, change, &previous);
      tr.commit();
      return previous;
    });
  }

  StatusOr<std::vector<DefinitionAliasRow>> ListDefinitionAliases(const std::string& key) override {
    return db_->Session(
        "list definition aliases", [&](soci::session& sql) -> StatusOr<std::vector<DefinitionAliasRow>> {
          auto into_row = [](Prep& p, DefinitionAliasRow& r) {
            p, into(r.key), into(r.alias), into(r.version), into(r.updated_ms), into(r.updated_by);
          };
          const std::string cols =
              "SELECT def_key, alias, version, updated_ms, updated_by FROM definition_aliases";
          if (key.empty()) {
            return internal::FetchRows<DefinitionAliasRow>(
                sql, cols + " ORDER BY def_key, alias", into_row, [](Prep&) {});
          }
          return internal::FetchRows<DefinitionAliasRow>(
              sql, cols + " WHERE def_key = :k ORDER BY alias", into_row,
              [&](Prep& p) { p, use(key, "k"); });
        });
  }

  StatusOr<std::vector<AliasMoveRow>> ListAliasMoves(const std::string& key) override {
    return db_->Session("list alias moves",
                        [&](soci::session& sql) -> StatusOr<std::vector<AliasMoveRow>> {
                          return internal::FetchRows<AliasMoveRow>(
                              sql,
                              "SELECT seq, def_key, alias, from_version, to_version, moved_ms, "
                              "moved_by, reason FROM definition_alias_moves WHERE def_key = :k "
                              "ORDER BY seq",
                              [](Prep& p, AliasMoveRow& r) {
                                p, into(r.seq), into(r.key), into(r.alias), into(r.from_version),
                                    into(r.to_version), into(r.moved_ms), into(r.moved_by),
                                    into(r.reason);
                              },
                              [&](Prep& p) { p, use(key, "k"); });
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
      auto rows = db_->FetchByKey<InstanceRow>(sql, InstanceByIdQuery(), id,
                                               [](auto& p, InstanceRow& r) { Into(p, r); });
      if (rows.empty()) return absl::NotFoundError(absl::StrCat("instance ", id, " not found"));
      return rows.front();
    });
  }

  StatusOr<InstanceState> LoadInstance(const std::string& id) override {
    return Load(id, false);
  }

  StatusOr<InstanceState> LoadTaskInstance(const std::string& task_id) override {
    return Load(task_id, true);
  }

  void ForgetInstance(const std::string& instance_id) override { cache_.Erase(instance_id); }

  // LoadInstance (key: an instance id) or LoadTaskInstance (key: a task id).
  // A hit is what this process's last commit of the instance left (see
  // internal/instance_cache.h); a miss reads, and keeps what it read.
  StatusOr<InstanceState> Load(const std::string& key, bool by_task) {
    const uint64_t epoch = cache_.Begin(db_->untracked_writes());
    std::optional<InstanceState> hit = by_task ? cache_.FindByTask(key) : cache_.Find(key);
    if (hit) {
      hit->from_cache = true;
      return *std::move(hit);
    }
    StatusOr<InstanceState> read = Read(key, by_task);
    if (read.ok()) cache_.Put(epoch, *read);
    return read;
  }

  // Load from the database. SQLite: the reads in one read transaction. Each
  // statement outside a transaction is a read transaction of its own, and
  // each of those looks for newer commits in the WAL and, under a steady
  // stream of commits, drops the connection's page cache. MariaDB: one
  // multi-statement round trip, in which the task's instance is a subquery.
  StatusOr<InstanceState> Read(const std::string& key, bool by_task) {
    auto not_found = [&] {
      return absl::NotFoundError(
          absl::StrCat(by_task ? "task " : "instance ", key, " not found"));
    };
    if (db_->sqlite()) {
      return db_->Session("load instance", [&](soci::session& sql) -> StatusOr<InstanceState> {
        soci::transaction read(sql);
        InstanceState out;
        std::string id = key;
        if (by_task) {
          auto tasks = db_->FetchByKey<TaskRow>(sql, TaskByIdQuery(), key,
                                                [](auto& p, TaskRow& r) { Into(p, r); });
          if (tasks.empty()) return not_found();
          out.task = std::move(tasks.front());
          id = out.task.instance_id;
        }
        auto rows = db_->FetchByKey<InstanceRow>(sql, InstanceByIdQuery(), id,
                                                 [](auto& p, InstanceRow& r) { Into(p, r); });
        if (rows.empty()) {
          return absl::NotFoundError(absl::StrCat("instance ", id, " not found"));
        }
        out.instance = std::move(rows.front());
        out.active_tasks = db_->FetchByKey<TaskRow>(sql, ActiveTasksOfInstanceQuery(), id,
                                                    [](auto& p, TaskRow& r) { Into(p, r); });
        out.external_tasks = internal::ExternalTasksOf(*db_, sql, id);
        out.timers = db_->FetchByKey<TimerRow>(sql, TimersOfInstanceQuery(), id,
                                               [](auto& p, TimerRow& r) { Into(p, r); });
        read.commit();
        return out;
      });
    }
    return db_->Session("load instance", [&](soci::session& sql) -> StatusOr<InstanceState> {
      MYSQL* conn = static_cast<soci::mysql_session_backend*>(sql.get_backend())->conn_;
      internal::SqlLiterals k(conn);
      k, use(key, "k");
      // By task, each query's ":k" (the instance id) becomes the subquery.
      auto of_instance = [&](const std::string& q) {
        return k.Render(by_task ? absl::StrReplaceAll(q, {{":k", kInstanceOfTask}}) : q);
      };
      const std::string text = absl::StrCat(
          by_task ? k.Render(TaskByIdQuery()) + ";\n" : "", of_instance(InstanceByIdQuery()),
          ";\n", of_instance(ActiveTasksOfInstanceQuery()), ";\n",
          of_instance(internal::ExternalTasksOfInstanceQuery()), ";\n",
          of_instance(TimersOfInstanceQuery()));
      InstanceState out;
      bool task_found = !by_task;
      bool found = false;
      internal::MultiSelect(conn, text, by_task ? 5 : 4, [&](size_t i, internal::RowReader& r) {
        switch (i + (by_task ? 0 : 1)) {
          case 0:
            Into(r, out.task);
            task_found = true;
            break;
          case 1:
            Into(r, out.instance);
            found = true;
            break;
          case 2:
            Into(r, out.active_tasks.emplace_back());
            break;
          case 3:
            internal::ReadExternalTask(r, out.external_tasks.emplace_back());
            break;
          default:
            Into(r, out.timers.emplace_back());
            break;
        }
      });
      if (!task_found) return not_found();
      if (!found) {
        return absl::NotFoundError(absl::StrCat(
            "instance ", by_task ? out.task.instance_id : key, " not found"));
      }
      return out;
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
      // Scope: "org starts with the prefix, or is one of the codes".
      if (f.orgs.codes.size() > kMaxOrgSetCodes) {
        return absl::InvalidArgumentError(absl::StrCat(
            "org scope: ", f.orgs.codes.size(), " orgs, more than ", kMaxOrgSetCodes));
      }
      const long long prefix_len = static_cast<long long>(f.orgs.prefix.size());
      if (!f.orgs.all) {
        q += " AND (";
        q += f.orgs.prefix.empty() ? "1 = 0" : "SUBSTR(org, 1, :plen) = :pfx";
        if (!f.orgs.codes.empty()) {
          q += " OR org IN (";
          for (size_t i = 0; i < f.orgs.codes.size(); ++i) {
            absl::StrAppend(&q, i == 0 ? "" : ", ", ":o", i);
          }
          q += ")";
        }
        q += ")";
      }
      q += " ORDER BY row_id LIMIT :lim";
      // The filter's values, bound by reference (the org list's below).
      struct B {
        long long after = 0, lim = 0;
        std::string cid, dk, sr, org, st, state;
        InstanceRow row;
      };
      auto bind = [&](Prep& prep, B& b) {
        prep, use(b.after, "after");
        if (!f.campaign_id.empty()) prep, use(b.cid, "cid");
        if (!f.def_key.empty()) prep, use(b.dk, "dk");
        if (!f.subject_ref.empty()) prep, use(b.sr, "sr");
        if (!f.org.empty()) prep, use(b.org, "org");
        if (!f.status.empty()) prep, use(b.st, "st");
        if (!f.state.empty()) prep, use(b.state, "state");
        prep, use(b.lim, "lim");
      };
      auto fill = [&](B& b) {
        b.after = after;
        b.lim = limit;
        b.cid = f.campaign_id;
        b.dk = f.def_key;
        b.sr = f.subject_ref;
        b.org = f.org;
        b.st = f.status;
        b.state = f.state;
      };
      if (f.orgs.all) {
        // The engine's own scans (a subject's instances, a campaign's): a
        // few fixed texts, so prepared once per session and run again.
        auto& p = db_->Prepare<B>(sql, q, [&](Prep& prep, B& b) {
          Into(prep, b.row);
          bind(prep, b);
        });
        fill(p.b);
        return internal::SociDb::Fetch<InstanceRow>(p, [](const B& b) { return b.row; });
      }
      // An org list: as many texts as list lengths, prepared each time.
      B values;
      fill(values);
      std::vector<std::string> names;
      for (size_t i = 0; i < f.orgs.codes.size(); ++i) names.push_back(absl::StrCat("o", i));
      return FetchAll<InstanceRow>(sql, q, [&](Prep& p) {
        bind(p, values);
        if (!f.orgs.prefix.empty()) p, use(prefix_len, "plen"), use(f.orgs.prefix, "pfx");
        for (size_t i = 0; i < f.orgs.codes.size(); ++i) p, use(f.orgs.codes[i], names[i]);
      });
    });
  }

  StatusOr<TaskRow> GetTask(const std::string& id) override {
    return db_->Session("get task", [&](soci::session& sql) -> StatusOr<TaskRow> {
      auto rows = db_->FetchByKey<TaskRow>(sql, TaskByIdQuery(), id,
                                           [](auto& p, TaskRow& r) { Into(p, r); });
      if (rows.empty()) return absl::NotFoundError(absl::StrCat("task ", id, " not found"));
      return rows.front();
    });
  }

  StatusOr<std::vector<TaskRow>> ListTasks(const std::string& instance_id,
                                           bool active_only) override {
    return db_->Session("list tasks", [&](soci::session& sql) -> StatusOr<std::vector<TaskRow>> {
      return db_->FetchByKey<TaskRow>(
          sql, active_only ? ActiveTasksOfInstanceQuery() : TasksOfInstanceQuery(), instance_id,
          [](auto& p, TaskRow& r) { Into(p, r); });
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
        // One branch per way a task reaches a user, each with the terms of
        // the WHERE of its index (partial on SQLite, which uses such an index
        // only for a query that states them). On MariaDB "+" keeps the role
        // branch off the (status, assignee_user) index.
        where = absl::StrCat(
            "t.row_id IN (SELECT row_id FROM tasks WHERE status = 'open' AND assignee_user IN (",
            users, ") AND assignee_user <> ''");
        if (!q.roles.empty()) {
          absl::StrAppend(&where, " UNION ALL SELECT row_id FROM tasks WHERE status = 'open' AND ",
                          db_->sqlite() ? "" : "+", "assignee_user = '' AND assignee_role IN (",
                          Placeholders("r", q.roles.size()),
                          ") AND (assignee_org = '' OR assignee_org = :org)");
        }
        absl::StrAppend(&where,
                        " UNION ALL SELECT row_id FROM tasks WHERE status = 'claimed' AND "
                        "claimed_by IN (",
                        users,
                        ") UNION ALL SELECT row_id FROM tasks WHERE status = 'delegated' AND "
                        "delegated_to IN (",
                        users, "))");
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
    // Tracked: the leased timers' instances are dropped from the cache below.
    using Rows = std::vector<TimerRow>;
    auto leased = db_->WriteTracked("lease timers", [&](soci::session& sql) -> StatusOr<Rows> {
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
    if (leased.ok()) {
      for (const TimerRow& r : *leased) cache_.Erase(r.instance_id);
    }
    return leased;
  }

  StatusOr<std::vector<TimerRow>> ListTimers(const std::string& instance_id) override {
    return db_->Session("list timers", [&](soci::session& sql) -> StatusOr<std::vector<TimerRow>> {
      return db_->FetchByKey<TimerRow>(sql, TimersOfInstanceQuery(), instance_id,
                                       [](auto& p, TimerRow& r) { Into(p, r); });
    });
  }

  StatusOr<std::optional<SnapshotRow>> GetSnapshot(const std::string& instance_id) override {
    return db_->Session("get snapshot",
                        [&](soci::session& sql) -> StatusOr<std::optional<SnapshotRow>> {
      auto rows = db_->FetchByKey<SnapshotRow>(
          sql,
          "SELECT instance_id, version_after, actor, body, created_ms FROM snapshots WHERE "
          "instance_id = :k",
          instance_id, [](Prep& p, SnapshotRow& r) {
            p, into(r.instance_id), into(r.version_after), into(r.actor), into(r.body),
                into(r.created_ms);
          });
      if (rows.empty()) return std::optional<SnapshotRow>();
      return std::optional<SnapshotRow>(std::move(rows.front()));
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

  // Events written before the audit trail existed (migration 0010 counted
  // them in audit_head.legacy) are chained once, when the store opens: in
  // (instance, seq) order, a few thousand per transaction, each instance's
  // chain continued from its row. Only that many: an unchained event found
  // later was inserted behind bpmd's back, and verification names it.
  Status ChainLegacyEvents() {
    constexpr int kChunk = 5000;
    std::string after_instance;  // keyset: the last (instance, seq) read
    int64_t after_seq = 0;
    for (;;) {
      bool more = false;
      Status s = db_->Write("chain history", [&](soci::session& sql) -> Status {
        long long legacy = 0;
        sql << "SELECT legacy FROM audit_head WHERE id = 1", into(legacy);
        if (!sql.got_data() || legacy <= 0) return absl::OkStatus();
        soci::transaction tr(sql);
        AuditHead head = ReadHead(sql);
        std::vector<EventRow> rows;
        int read = 0;
        {
          EventRow row;
          Prep p = (sql.prepare << absl::StrCat(
                        "SELECT ", kEventCols,
                        " FROM events WHERE instance_id > :i OR (instance_id = :i2 AND seq > :s) "
                        "ORDER BY instance_id, seq LIMIT ",
                        kChunk));
          Into(p, row);
          p, use(after_instance, "i"), use(after_instance, "i2"), use(after_seq, "s");
          soci::statement st(p);
          st.execute();
          while (st.fetch()) {
            ++read;
            after_instance = row.instance_id;
            after_seq = row.seq;
            if (row.chain_seq == 0 && static_cast<long long>(rows.size()) < legacy) {
              rows.push_back(row);
            }
          }
        }
        more = read == kChunk && static_cast<long long>(rows.size()) < legacy;
        legacy = more ? legacy - static_cast<long long>(rows.size()) : 0;
        size_t i = 0;
        while (i < rows.size()) {
          size_t j = i;
          while (j < rows.size() && rows[j].instance_id == rows[i].instance_id) ++j;
          std::vector<EventRow> events(rows.begin() + static_cast<std::ptrdiff_t>(i),
                                       rows.begin() + static_cast<std::ptrdiff_t>(j));
          std::string last;
          soci::indicator ind = soci::i_null;
          sql << "SELECT last_event_hash FROM instances WHERE id = :id", into(last, ind),
              use(events.front().instance_id, "id");
          if (!sql.got_data() || ind != soci::i_ok) last.clear();
          ChainEvents(&last, &head, &events);
          for (EventRow& e : events) {
            sql << "UPDATE events SET prev_hash = :p, hash = :h, chain_seq = :cs, chain_prev = "
                   ":cp, chain_hash = :ch WHERE instance_id = :i AND seq = :s",
                use(e.prev_hash, "p"), use(e.hash, "h"), use(e.chain_seq, "cs"),
                use(e.chain_prev, "cp"), use(e.chain_hash, "ch"), use(e.instance_id, "i"),
                use(e.seq, "s");
          }
          sql << "UPDATE instances SET last_event_hash = :h WHERE id = :id", use(last, "h"),
              use(events.front().instance_id, "id");
          i = j;
        }
        internal::CommitWriter w(*db_, sql);
        BPM_RETURN_IF_ERROR(WriteHead(w, head));
        BPM_RETURN_IF_ERROR(w.Flush());
        sql << "UPDATE audit_head SET legacy = :l WHERE id = 1", use(legacy, "l");
        tr.commit();
        return absl::OkStatus();
      });
      if (!s.ok()) return s;
      if (!more) return absl::OkStatus();
    }
  }

  StatusOr<AuditHead> ScanAudit(const std::function<void(const AuditInstance&)>& instance,
                                const std::function<void(const EventRow&)>& by_instance,
                                const std::function<void(const EventRow&)>& by_chain) override {
    return db_->Session("scan audit trail", [&](soci::session& sql) -> StatusOr<AuditHead> {
      // One snapshot for the three passes (MariaDB sessions otherwise read
      // committed, statement by statement).
      if (!db_->sqlite()) sql << "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ";
      soci::transaction tr(sql);
      AuditHead head;
      sql << "SELECT seq, hash FROM audit_head WHERE id = 1", into(head.seq), into(head.hash);
      if (!sql.got_data()) {
        return absl::DataLossError("audit_head has no row: the audit trail was tampered with");
      }
      ForEachRow<AuditInstance>(
          sql, "SELECT id, event_seq, last_event_hash FROM instances", instance);
      ForEachRow<EventRow>(
          sql, absl::StrCat("SELECT ", kEventCols, " FROM events ORDER BY instance_id, seq"),
          by_instance);
      if (by_chain) {
        ForEachRow<EventRow>(
            sql, absl::StrCat("SELECT ", kEventCols, " FROM events ORDER BY chain_seq"),
            by_chain);
      }
      tr.commit();
      return head;
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
                     struct B {
                       std::string scope, key, b64;
                       soci::indicator ind = soci::i_null;
                       IdempotencyRow row;
                     };
                     auto& p = db_->Prepare<B>(
                         sql,
                         "SELECT scope, idem_key, request_hash, response_b64, created_ms FROM "
                         "idempotency_keys WHERE scope = :s AND idem_key = :k",
                         [](Prep& p, B& b) {
                           p, into(b.row.scope), into(b.row.key), into(b.row.request_hash),
                               into(b.b64, b.ind), into(b.row.created_ms), use(b.scope, "s"),
                               use(b.key, "k");
                         });
                     p.b.scope = scope;
                     p.b.key = key;
                     auto rows = internal::SociDb::Fetch<std::pair<IdempotencyRow, std::string>>(
                         p, [](const B& b) { return std::make_pair(b.row, b.b64); });
                     if (rows.empty()) return std::optional<IdempotencyRow>();
                     IdempotencyRow row = std::move(rows.front().first);
                     if (!absl::Base64Unescape(rows.front().second, &row.response)) {
                       return absl::InternalError("stored idempotent response is corrupt");
                     }
                     return std::optional<IdempotencyRow>(std::move(row));
                   });
  }

  Status Apply(const Commit& c) override { return group_.Run(c); }
  void ApplyAsync(Commit c, std::function<void(Status)> done) override {
    group_.Submit(std::move(c), std::move(done));
  }
  bool LocalReads() const override { return db_->sqlite(); }
  void Quiesce() override { group_.Quiesce(); }

  Status ApplyAll(const std::vector<Commit>& commits) override {
    return db_->Write("bulk commit", [&](soci::session& sql) -> Status {
      soci::transaction tr(sql);
      AuditHead head = ReadHead(sql);
      internal::CommitWriter w(*db_, sql);
      for (const Commit& c : commits) BPM_RETURN_IF_ERROR(WriteCommit(w, c, &head));
      BPM_RETURN_IF_ERROR(WriteHead(w, head));
      BPM_RETURN_IF_ERROR(w.Flush());
      tr.commit();
      return absl::OkStatus();
    });
  }

 private:
  using Batch = std::vector<internal::GroupCommit<Commit>::Entry*>;

  // Writes a batch of commits in one transaction (one fsync). Commits rarely
  // conflict, so the batch runs without savepoints; when one of them fails
  // (lost an optimistic check, or anything else) the whole transaction is
  // rolled back and the commits are written again one per transaction, so
  // each commit still succeeds or fails alone.
  // Inside a write transaction: points change.alias of key at version and
  // records the move, unless it already points there. *previous: where it
  // pointed (0: nowhere). Throws soci errors (the caller's Write maps them).
  void MoveAliasIn(soci::session& sql, const std::string& key, int64_t version,
                   const AliasChange& change, int64_t* previous) {
    long long before = 0;
    soci::indicator ind = soci::i_null;
    // MariaDB: lock the alias row (or its gap) so two moves serialize; SQLite
    // writers are serialized already.
    sql << (db_->sqlite()
                ? "SELECT version FROM definition_aliases WHERE def_key = :k AND alias = :a"
                : "SELECT version FROM definition_aliases WHERE def_key = :k AND alias = :a "
                  "FOR UPDATE"),
        into(before, ind), use(key, "k"), use(change.alias, "a");
    *previous = sql.got_data() && ind == soci::i_ok ? before : 0;
    if (*previous == version) return;
    if (*previous == 0) {
      sql << "INSERT INTO definition_aliases (def_key, alias, version, updated_ms, updated_by) "
             "VALUES (:k, :a, :v, :t, :b)",
          use(key, "k"), use(change.alias, "a"), use(version, "v"), use(change.at_ms, "t"),
          use(change.by, "b");
    } else {
      sql << "UPDATE definition_aliases SET version = :v, updated_ms = :t, updated_by = :b "
             "WHERE def_key = :k AND alias = :a",
          use(version, "v"), use(change.at_ms, "t"), use(change.by, "b"), use(key, "k"),
          use(change.alias, "a");
    }
    sql << "INSERT INTO definition_alias_moves (def_key, alias, from_version, to_version, "
           "moved_ms, moved_by, reason) VALUES (:k, :a, :f, :v, :t, :b, :r)",
        use(key, "k"), use(change.alias, "a"), use(*previous, "f"), use(version, "v"),
        use(change.at_ms, "t"), use(change.by, "b"), use(change.reason, "r");
  }

  void WriteBatch(const Batch& batch) {
    if (batch.size() == 1) {
      batch[0]->result = WriteAlone(*batch[0]->item);
      return;
    }
    bool fallback = false;
    std::vector<internal::Written> written(batch.size());
    Status s = db_->WriteTracked("commit", [&](soci::session& sql) -> Status {
      soci::transaction tr(sql);
      AuditHead head = ReadHead(sql);
      internal::CommitWriter w(*db_, sql);
      for (size_t i = 0; i < batch.size(); ++i) {
        Status one = db_->Guard(
            "commit", [&]() { return WriteCommit(w, *batch[i]->item, &head, &written[i]); });
        if (!one.ok()) {
          tr.rollback();
          fallback = true;
          return absl::OkStatus();
        }
      }
      Status written = db_->Guard("commit", [&]() -> Status {
        BPM_RETURN_IF_ERROR(WriteHead(w, head));
        return w.Flush();
      });
      if (!written.ok()) {
        tr.rollback();
        fallback = true;
        return absl::OkStatus();
      }
      tr.commit();
      return absl::OkStatus();
    });
    if (!s.ok() || fallback) {
      for (auto* e : batch) e->result = WriteAlone(*e->item);
      return;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      cache_.Applied(*batch[i]->item, written[i], db_->untracked_writes());
      batch[i]->result = absl::OkStatus();
    }
  }

  // The audit trail's global head, read first in a write transaction. On
  // MariaDB the row lock orders the transactions of every bpmd process that
  // write events: one lock per batch, held until its commit.
  AuditHead ReadHead(soci::session& sql) {
    struct B {
      AuditHead h;
    };
    if (db_->sqlite()) {
      // A write first: it takes SQLite's write lock, waiting (busy timeout)
      // for another process's writer. A read first would pin a snapshot that
      // another process's commit makes stale, and the upgrade to writing
      // would then fail at once with "database is locked".
      auto& lock = db_->Prepare<B>(sql, "UPDATE audit_head SET seq = seq WHERE id = 1",
                                   [](Prep&, B&) {});
      internal::SociDb::Exec(lock);
    }
    auto& p = db_->Prepare<B>(sql,
                              db_->sqlite() ? "SELECT seq, hash FROM audit_head WHERE id = 1"
                                            : "SELECT seq, hash FROM audit_head WHERE id = 1 "
                                              "FOR UPDATE",
                              [](Prep& p, B& b) { p, into(b.h.seq), into(b.h.hash); });
    auto rows = internal::SociDb::Fetch<AuditHead>(p, [](const B& b) { return b.h; });
    if (rows.empty()) throw soci::soci_error("audit_head has no row: the audit trail was tampered with");
    return rows.front();
  }

  // Writes the head back, last in the transaction; nothing when unchanged.
  Status WriteHead(internal::CommitWriter& w, const AuditHead& head) {
    return w.Exec(
        "UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1 AND seq <> :s2",
        [](auto& p, AuditHead& h) { p, use(h.seq, "s"), use(h.hash, "h"), use(h.seq, "s2"); },
        head);
  }

  // One commit in its own transaction. The instance cache follows it, or
  // forgets its instance when it is refused (a retry must read afresh).
  Status WriteAlone(const Commit& c) {
    internal::Written written;
    Status s = db_->WriteTracked("commit", [&](soci::session& sql) -> Status {
      soci::transaction tr(sql);
      AuditHead head = ReadHead(sql);
      internal::CommitWriter w(*db_, sql);
      BPM_RETURN_IF_ERROR(WriteCommit(w, c, &head, &written));
      BPM_RETURN_IF_ERROR(WriteHead(w, head));
      BPM_RETURN_IF_ERROR(w.Flush());
      tr.commit();
      return absl::OkStatus();
    });
    if (s.ok()) {
      cache_.Applied(c, written, db_->untracked_writes());
    } else if (c.update_instance) {
      cache_.Erase(c.update_instance->id);
    } else if (!c.insert_instance) {
      cache_.Clear();  // nothing names what the refused commit read
    }
    return s;
  }

  // Every write of one commit inside the caller's transaction; ABORTED when
  // an optimistic check fails (the caller rolls back).
  static constexpr size_t kEventsPerInsert = 4;

  // INSERT of n events (n <= kEventsPerInsert), named :iid0, :seq0, ...
  static const std::string& EventInsert(size_t n) {
    static const std::array<std::string, kEventsPerInsert> kQueries = [] {
      std::array<std::string, kEventsPerInsert> out;
      for (size_t rows = 1; rows <= kEventsPerInsert; ++rows) {
        std::string q =
            "INSERT INTO events (instance_id, seq, at_ms, actor, kind, action, from_state, "
            "to_state, task_id, comment, payload_digest, note, source, prev_hash, hash, "
            "chain_seq, chain_prev, chain_hash) VALUES ";
        for (size_t j = 0; j < rows; ++j) {
          const std::string k = std::to_string(j);
          absl::StrAppend(&q, j == 0 ? "" : ", ", "(:iid", k, ", :seq", k, ", :at", k,
                          ", :actor", k, ", :kind", k, ", :action", k, ", :from", k, ", :to", k,
                          ", :task", k, ", :comment", k, ", :digest", k, ", :note", k);
          absl::StrAppend(&q, ", :src", k, ", :prev", k, ", :hash", k, ", :cseq", k, ", :cprev",
                          k, ", :chash", k, ")");
        }
        out[rows - 1] = std::move(q);
      }
      return out;
    }();
    return kQueries[n - 1];
  }

  // *head: the global chain's end in this transaction, advanced past the
  // commit's events (the caller reads it first and writes it back last).
  // Statements go through w: run at once on SQLite, queued on MariaDB (the
  // caller flushes before it commits).
  // *written (when not null): what the store assigned, for the instance cache.
  Status WriteCommit(internal::CommitWriter& w, const Commit& c, AuditHead* head,
                     internal::Written* written = nullptr) {
    // The audit trail: the events continue the instance's chain from the
    // hash read with the instance (the version check below guarantees it is
    // still the last one) and the global chain from *head.
    std::vector<EventRow> events = c.events;
    const InstanceRow* inst = c.update_instance ? &*c.update_instance
                              : c.insert_instance ? &*c.insert_instance
                                                  : nullptr;
    std::string last_hash = inst != nullptr ? inst->last_event_hash : "";
    if (!events.empty() && inst == nullptr) {
      return absl::InternalError("a commit with history events but no instance row");
    }
    ChainEvents(&last_hash, head, &events);
    if (written != nullptr) written->last_event_hash = last_hash;
    if (c.insert_instance) {
      InstanceRow row = *c.insert_instance;
      row.last_event_hash = last_hash;
      BPM_RETURN_IF_ERROR(w.Insert(
          "INSERT INTO instances (id, def_key, def_version, subject_ref, org, status, state, "
          "variables, version, event_seq, started_by, created_ms, updated_ms, campaign_id, "
          "last_event_hash) VALUES "
          "(:id, :dk, :dv, :sr, :org, :st, :state, :vars, :ver, :seq, :by, :c, :u, :cid, :leh)",
          [](auto& p, InstanceRow& r) {
            p, use(r.id, "id"), use(r.def_key, "dk"), use(r.def_version, "dv"),
                use(r.subject_ref, "sr"), use(r.org, "org"), use(r.status, "st"),
                use(r.state, "state"), use(r.variables_json, "vars"), use(r.version, "ver"),
                use(r.event_seq, "seq"), use(r.started_by, "by"), use(r.created_ms, "c"),
                use(r.updated_ms, "u"), use(r.campaign_id, "cid"), use(r.last_event_hash, "leh");
          },
          std::move(row)));
      if (written != nullptr) written->instance_row_id = w.LastInsertRowId();
    }
    if (c.update_instance) {
      struct B {
        InstanceRow r;
        int64_t expected = 0;
      };
      B b{*c.update_instance, c.expected_version};
      b.r.last_event_hash = last_hash;
      static const std::string kColumns =
          "state = :state, variables = :vars, version = :ver, event_seq = :seq, updated_ms = :u, "
          "def_version = :dv, last_event_hash = :leh WHERE id = :id AND version = :expected";
      static const std::string kWithStatus =
          absl::StrCat("UPDATE instances SET status = :st, ", kColumns);
      static const std::string kSameStatus = absl::StrCat("UPDATE instances SET ", kColumns);
      auto columns = [](auto& p, B& b) {
        p, use(b.r.state, "state"), use(b.r.variables_json, "vars"), use(b.r.version, "ver"),
            use(b.r.event_seq, "seq"), use(b.r.updated_ms, "u"), use(b.r.def_version, "dv"),
            use(b.r.last_event_hash, "leh"), use(b.r.id, "id"), use(b.expected, "expected");
      };
      auto mismatch = [&] {
        return absl::StrCat("instance ", c.update_instance->id,
                            " changed meanwhile (it is no longer at version ", c.expected_version,
                            "): re-read and retry");
      };
      if (c.stored_status && *c.stored_status == b.r.status) {
        BPM_RETURN_IF_ERROR(w.Exec(kSameStatus, columns, std::move(b), 1, mismatch));
      } else {
        BPM_RETURN_IF_ERROR(w.Exec(
            kWithStatus,
            [&columns](auto& p, B& b) {
              p, use(b.r.status, "st");
              columns(p, b);
            },
            std::move(b), 1, mismatch));
      }
    }
    for (const TaskRow& r : c.insert_tasks) {
      BPM_RETURN_IF_ERROR(w.Insert(
          "INSERT INTO tasks (id, instance_id, state, name, title, status, assignee_user, "
          "assignee_role, assignee_org, actions, data, due_ms, created_ms, completed_ms, "
          "completed_by, action, claimed_by, delegated_to, owner_user, exclude_users) VALUES "
          "(:id, :iid, :state, :name, :title, :st, :au, :ar, :ao, :acts, :data, :due, :c, :cm, "
          ":cb, :a, :clb, :dt, :ow, :ex)",
          [](auto& p, TaskRow& r) {
            p, use(r.id, "id"), use(r.instance_id, "iid"), use(r.state, "state"),
                use(r.name, "name"), use(r.title, "title"), use(r.status, "st"),
                use(r.assignee_user, "au"), use(r.assignee_role, "ar"),
                use(r.assignee_org, "ao"), use(r.actions_json, "acts"), use(r.data_json, "data"),
                use(r.due_ms, "due"), use(r.created_ms, "c"), use(r.completed_ms, "cm"),
                use(r.completed_by, "cb"), use(r.action, "a"), use(r.claimed_by, "clb"),
                use(r.delegated_to, "dt"), use(r.owner_user, "ow"),
                use(r.exclude_users_json, "ex");
          },
          r));
      if (written != nullptr) written->task_row_ids.push_back(w.LastInsertRowId());
    }
    for (const TaskUpdate& u : c.update_tasks) {
      BPM_RETURN_IF_ERROR(w.Exec(
          "UPDATE tasks SET status = :st, assignee_user = :au, assignee_role = :ar, assignee_org "
          "= :ao, data = :data, due_ms = :due, completed_ms = :cm, completed_by = :cb, action = "
          ":a, claimed_by = :clb, delegated_to = :dt, owner_user = :ow, exclude_users = :ex "
          "WHERE id = :id AND status = :expected",
          [](auto& p, TaskUpdate& b) {
            const TaskRow& r = b.row;
            p, use(r.status, "st"), use(r.assignee_user, "au"), use(r.assignee_role, "ar"),
                use(r.assignee_org, "ao"), use(r.data_json, "data"), use(r.due_ms, "due"),
                use(r.completed_ms, "cm"), use(r.completed_by, "cb"), use(r.action, "a"),
                use(r.claimed_by, "clb"), use(r.delegated_to, "dt"), use(r.owner_user, "ow"),
                use(r.exclude_users_json, "ex"), use(r.id, "id"),
                use(b.expected_status, "expected");
          },
          u, 1,
          [&] { return absl::StrCat("task ", u.row.id, " is no longer ", u.expected_status,
                       ": re-read and retry"); }));
    }
    // Fired before cancellations: a timer whose effect closes its own task
    // (escalation) is fired, not cancelled.
    for (const std::string& id : c.fire_timers) {
      struct B {
        int64_t at = 0;
        std::string id;
      };
      B b{c.update_instance ? c.update_instance->updated_ms : 1, id};
      BPM_RETURN_IF_ERROR(w.Exec(
          "UPDATE timers SET fired_ms = :at WHERE id = :id AND fired_ms = 0",
          [](auto& p, B& b) { p, use(b.at, "at"), use(b.id, "id"); }, b, 1,
          [&] { return absl::StrCat("timer ", id, " already fired or was cancelled"); }));
    }
    for (const std::string& task_id : c.cancel_timers_of_tasks) {
      BPM_RETURN_IF_ERROR(
          w.Exec("UPDATE timers SET fired_ms = -1 WHERE task_id = :t AND fired_ms = 0",
                 [](auto& p, std::string& t) { p, use(t, "t"); }, task_id));
    }
    for (const TimerRow& t : c.insert_timers) {
      BPM_RETURN_IF_ERROR(w.Insert(
          "INSERT INTO timers (id, instance_id, task_id, name, due_ms, fired_ms, lease_owner, "
          "lease_until_ms) VALUES (:id, :iid, :tid, :n, :due, :f, :o, :lu)",
          [](auto& p, TimerRow& t) {
            p, use(t.id, "id"), use(t.instance_id, "iid"), use(t.task_id, "tid"),
                use(t.name, "n"), use(t.due_ms, "due"), use(t.fired_ms, "f"),
                use(t.lease_owner, "o"), use(t.lease_until_ms, "lu");
          },
          t));
    }
    for (const NotificationRow& n : c.notifications) {
      BPM_RETURN_IF_ERROR(w.Insert(
          "INSERT INTO notifications (id, user_id, role, org, instance_id, task_id, kind, text, "
          "from_user, created_ms) VALUES (:id, :u, :r, :o, :iid, :tid, :k, :t, :f, :c)",
          [](auto& p, NotificationRow& n) {
            p, use(n.id, "id"), use(n.user_id, "u"), use(n.role, "r"), use(n.org, "o"),
                use(n.instance_id, "iid"), use(n.task_id, "tid"), use(n.kind, "k"),
                use(n.text, "t"), use(n.from_user, "f"), use(n.created_ms, "c");
          },
          n));
    }
    for (const CcRow& r : c.cc) {
      BPM_RETURN_IF_ERROR(w.Insert(
          "INSERT INTO cc_entries (id, instance_id, user_id, from_user, note, created_ms) VALUES "
          "(:id, :iid, :u, :f, :n, :c)",
          [](auto& p, CcRow& r) {
            p, use(r.id, "id"), use(r.instance_id, "iid"), use(r.user_id, "u"),
                use(r.from_user, "f"), use(r.note, "n"), use(r.created_ms, "c");
          },
          r));
    }
    if (c.delete_snapshot && !c.snapshot) {
      BPM_RETURN_IF_ERROR(w.Exec(
          "DELETE FROM snapshots WHERE instance_id = :iid",
          [](auto& p, std::string& iid) { p, use(iid, "iid"); },
          c.update_instance ? c.update_instance->id : c.insert_instance->id));
    }
    BPM_RETURN_IF_ERROR(internal::ApplyAgencyWrites(w, c));
    if (c.snapshot) {
      // One statement replaces the instance's previous snapshot, if any.
      static const std::string upsert_sqlite =
          "INSERT INTO snapshots (instance_id, version_after, actor, body, created_ms) VALUES "
          "(:iid, :v, :a, :b, :c) ON CONFLICT (instance_id) DO UPDATE SET version_after = "
          "excluded.version_after, actor = excluded.actor, body = excluded.body, created_ms = "
          "excluded.created_ms";
      static const std::string upsert_mysql =
          "INSERT INTO snapshots (instance_id, version_after, actor, body, created_ms) VALUES "
          "(:iid, :v, :a, :b, :c) ON DUPLICATE KEY UPDATE version_after = VALUES(version_after), "
          "actor = VALUES(actor), body = VALUES(body), created_ms = VALUES(created_ms)";
      BPM_RETURN_IF_ERROR(w.Insert(
          db_->sqlite() ? upsert_sqlite : upsert_mysql,
          [](auto& p, SnapshotRow& r) {
            p, use(r.instance_id, "iid"), use(r.version_after, "v"), use(r.actor, "a"),
                use(r.body, "b"), use(r.created_ms, "c");
          },
          *c.snapshot));
    }
    // Events go in groups of up to kEventsPerInsert rows per statement (an
    // action writes two or three).
    for (size_t i = 0; i < events.size(); i += kEventsPerInsert) {
      const size_t n = std::min(kEventsPerInsert, events.size() - i);
      std::array<EventRow, kEventsPerInsert> rows;
      std::copy(events.begin() + static_cast<std::ptrdiff_t>(i),
                events.begin() + static_cast<std::ptrdiff_t>(i + n), rows.begin());
      BPM_RETURN_IF_ERROR(w.Insert(
          EventInsert(n),
          [n](auto& p, std::array<EventRow, kEventsPerInsert>& rows) {
            for (size_t j = 0; j < n; ++j) {
              EventRow& e = rows[j];
              const std::string k = std::to_string(j);
              p, use(e.instance_id, "iid" + k), use(e.seq, "seq" + k), use(e.at_ms, "at" + k),
                  use(e.actor, "actor" + k), use(e.kind, "kind" + k),
                  use(e.action, "action" + k), use(e.from_state, "from" + k),
                  use(e.to_state, "to" + k), use(e.task_id, "task" + k),
                  use(e.comment, "comment" + k), use(e.payload_digest, "digest" + k),
                  use(e.note, "note" + k), use(e.source, "src" + k),
                  use(e.prev_hash, "prev" + k), use(e.hash, "hash" + k),
                  use(e.chain_seq, "cseq" + k), use(e.chain_prev, "cprev" + k),
                  use(e.chain_hash, "chash" + k);
            }
          },
          rows));
    }
    for (const DocumentRow& d : c.documents) {
      struct B {
        DocumentRow d;
        std::string b64;
      };
      BPM_RETURN_IF_ERROR(w.Insert(
          "INSERT INTO documents (id, instance_id, state, kind, content_type, content_b64, "
          "sha256, created_ms) VALUES (:id, :iid, :state, :kind, :ct, :b64, :sha, :c)",
          [](auto& p, B& b) {
            p, use(b.d.id, "id"), use(b.d.instance_id, "iid"), use(b.d.state, "state"),
                use(b.d.kind, "kind"), use(b.d.content_type, "ct"), use(b.b64, "b64"),
                use(b.d.sha256, "sha"), use(b.d.created_ms, "c");
          },
          B{d, absl::Base64Escape(d.content)}));
    }
    if (c.idempotency) {
      struct B {
        IdempotencyRow r;
        std::string b64;
      };
      BPM_RETURN_IF_ERROR(w.Exec(
          "INSERT INTO idempotency_keys (scope, idem_key, request_hash, response_b64, "
          "created_ms) VALUES (:s, :k, :h, :r, :c)",
          [](auto& p, B& b) {
            p, use(b.r.scope, "s"), use(b.r.key, "k"), use(b.r.request_hash, "h"),
                use(b.b64, "r"), use(b.r.created_ms, "c");
          },
          B{*c.idempotency, absl::Base64Escape(c.idempotency->response)}));
    }
    if (c.move_alias) {
      // Reads (and locks) the alias row: what is queued goes first.
      BPM_RETURN_IF_ERROR(w.Flush());
      int64_t previous = 0;
      MoveAliasIn(w.session(), c.move_alias->key, c.move_alias->version, c.move_alias->change,
                  &previous);
    }
    return absl::OkStatus();
  }

  std::shared_ptr<internal::SociDb> db_;
  internal::InstanceCache cache_;
  std::unique_ptr<OrgStore> orgs_;
  std::unique_ptr<AgencyStore> agencies_;
  // Declared last: its batch function uses the members above.
  internal::GroupCommit<Commit> group_;
};

// The check of Store::Open with require_durable (see store.h).
Status CheckDurability(internal::SociDb& db) {
  if (db.sqlite()) return absl::OkStatus();
  return db.Session("check durability", [&](soci::session& sql) -> Status {
    long long flush = 0, log_bin = 0, sync_binlog = 0, packet = 0;
    sql << "SELECT @@GLOBAL.innodb_flush_log_at_trx_commit, @@GLOBAL.log_bin, "
           "@@GLOBAL.sync_binlog, @@SESSION.max_allowed_packet",
        into(flush), into(log_bin), into(sync_binlog), into(packet);
    const char* kWhy = ": bpmd acknowledges a command once its COMMIT returns, and the "
                       "server would lose the last acknowledged commits in a crash of the "
                       "server or the machine.";
    if (flush != 1 && flush != 3) {
      return absl::FailedPreconditionError(absl::StrCat(
          "mysql store: the server has innodb_flush_log_at_trx_commit = ", flush,
          ", not 1", kWhy, " Set innodb_flush_log_at_trx_commit = 1 (SET GLOBAL, and in "
          "the server's configuration)."));
    }
    if (log_bin != 0 && sync_binlog != 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          "mysql store: the server writes a binary log with sync_binlog = ", sync_binlog,
          ", not 1", kWhy, " Set sync_binlog = 1 (SET GLOBAL, and in the server's "
          "configuration), or turn the binary log off."));
    }
    constexpr int64_t kMinPacket = internal::CommitWriter::kMinServerPacketBytes;
    if (packet < kMinPacket) {
      return absl::FailedPreconditionError(absl::StrCat(
          "mysql store: the server has max_allowed_packet = ", packet, " bytes; a batch of "
          "commits can send up to ", kMinPacket, " bytes at once, and the server refuses a "
          "larger packet by closing the connection. Set max_allowed_packet to at least ",
          kMinPacket, " (16M; SET GLOBAL, and in the server's configuration)."));
    }
    return absl::OkStatus();
  });
}

}  // namespace

StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& url, int pool_size,
                                             size_t instance_cache, bool require_durable) {
  BPM_ASSIGN_OR_RETURN(internal::Url parsed, internal::ParseUrl(url));
  if (pool_size < 1) pool_size = 1;
  auto db = std::make_shared<internal::SociDb>(std::move(parsed), pool_size);
  BPM_RETURN_IF_ERROR(db->Connect());
  if (require_durable) BPM_RETURN_IF_ERROR(CheckDurability(*db));  // before anything is written
  BPM_RETURN_IF_ERROR(db->Migrate());
  auto store = std::make_unique<SociStore>(std::move(db), instance_cache);
  BPM_RETURN_IF_ERROR(store->ChainLegacyEvents());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace bpm::store
