// bpm::store — the one place that talks SQL.
//
// A Store is opened from a URL:
//   sqlite:PATH                                   (embedded default; WAL, synchronous=FULL)
//   mysql://USER:PASSWORD@HOST:PORT/DATABASE      (MariaDB >= 10.6 / MySQL >= 8.0)
// Open() applies the dialect's versioned migrations (core/store/migrations/).
//
// Reads return rows; all writes of one engine command go through Apply(), which
// runs them in ONE transaction: the instance row (inserted, or updated with an
// optimistic version check), task inserts and completions, history events,
// documents and the idempotency record. Either all of it is stored or none.
// Concurrent Apply() calls share one transaction and one fsync (group commit,
// internal/group_commit.h); each keeps its own all-or-nothing outcome.
//
// Errors: NOT_FOUND for a missing row where a function says so; ABORTED when
// Apply() loses a race (instance version moved, task no longer open,
// idempotency key taken meanwhile); UNAVAILABLE when the database cannot be
// reached; INTERNAL for anything else (with the SQL error text).
// Only bound parameters are used; no SQL is built from user data.
//
// Thread safety: a Store is safe to use from many threads; it keeps a pool
// of sessions. On SQLite, writers are serialized by one mutex (one writer at a
// time is SQLite's model anyway); readers run concurrently (WAL).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/common/status.h"
#include "core/store/agency_store.h"
#include "core/store/org_store.h"

namespace bpm::store {

struct DefinitionRow {
  std::string key;
  int64_t version = 0;
  std::string content_hash;
  std::string title;
  std::string source_name;
  std::string yaml;
  int64_t created_ms = 0;
  // The template this version extends and the template version it was built
  // on; empty and 0 when it extends none.
  std::string base_key;
  int64_t base_version = 0;
};

// A named pointer at one version of a definition key ("current", or one an
// operator names, such as "pilot"). Alias names: [a-z][a-z0-9_-]{0,31}.
struct DefinitionAliasRow {
  std::string key;
  std::string alias;
  int64_t version = 0;
  int64_t updated_ms = 0;
  std::string updated_by;
};

// One move of an alias (kept for audit: who moved it, when, why).
struct AliasMoveRow {
  int64_t seq = 0;  // order of moves
  std::string key;
  std::string alias;
  int64_t from_version = 0;  // 0: the alias was created by this move
  int64_t to_version = 0;
  int64_t moved_ms = 0;
  std::string moved_by;
  std::string reason;
};

// A request to point an alias at a version.
struct AliasChange {
  std::string alias;
  std::string by;
  std::string reason;
  int64_t at_ms = 0;
};

// The alias new instances start on when the caller names neither a version
// nor an alias.
inline constexpr const char* kCurrentAlias = "current";

struct InstanceRow {
  std::string id;
  std::string def_key;
  int64_t def_version = 0;
  std::string subject_ref;
  std::string org;
  std::string status;          // lifecycle: running | completed | terminated
  std::string state;           // workflow state
  std::string variables_json;  // canonical JSON object
  int64_t version = 0;         // optimistic-concurrency version, 1 after insert
  int64_t event_seq = 0;       // seq of the last history event
  std::string started_by;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  std::string campaign_id;     // "" unless issued by a campaign
  int64_t row_id = 0;          // assigned by the database; paging cursor
  // Hash of the last history event (core/store/audit.h): the store chains a
  // commit's events from the value read with the instance and writes the new
  // one; the version check keeps the chain linear.
  std::string last_event_hash;
};

struct CampaignRow {
  std::string id;
  std::string title;
  std::string def_key;
  int64_t def_version = 0;
  int64_t deadline_ms = 0;
  int64_t target_count = 0;
  std::string created_by;
  int64_t created_ms = 0;
};

// One instance of a campaign with what its progress view needs.
struct CampaignMember {
  std::string instance_id;
  std::string org;
  std::string state;
  std::string status;
  int64_t acted = 0;          // "acted" history events
  int64_t overdue_tasks = 0;  // active tasks past due at the given time
};

struct TaskRow {
  std::string id;
  std::string instance_id;
  std::string state;
  std::string name;
  std::string title;
  std::string status;  // open | completed | cancelled
  std::string assignee_user;
  std::string assignee_role;
  std::string assignee_org;
  std::string actions_json;  // JSON array of strings
  std::string data_json;     // JSON object
  int64_t due_ms = 0;
  int64_t created_ms = 0;
  int64_t completed_ms = 0;
  std::string completed_by;
  std::string action;
  std::string claimed_by;          // status claimed
  std::string delegated_to;        // status delegated
  std::string owner_user;          // status delegated: who delegated it
  std::string exclude_users_json = "[]";  // JSON array: may never act (separation of duties)
  int64_t row_id = 0;
};

// Task statuses in which a task still waits for someone.
inline bool IsActiveTaskStatus(const std::string& s) {
  return s == "open" || s == "claimed" || s == "delegated";
}

struct EventRow {
  std::string instance_id;
  int64_t seq = 0;
  int64_t at_ms = 0;
  std::string actor;
  std::string kind;
  std::string action;
  std::string from_state;
  std::string to_state;
  std::string task_id;
  std::string comment;
  std::string payload_digest;
  std::string note;
  // Where the command came from (the client's address; 等保 "from where").
  std::string source;
  // The audit trail (core/store/audit.h), set by the store when it writes
  // the event: the instance's chain (prev_hash: the hash of the instance's
  // previous event, "" for its first; hash: of this event's fields and
  // prev_hash) and the global chain over every event (chain_seq from 1 in
  // write order; chain_hash: of chain_prev, hash and chain_seq).
  std::string prev_hash;
  std::string hash;
  int64_t chain_seq = 0;
  std::string chain_prev;
  std::string chain_hash;
};

// The audit trail's global chain: its last position ({0, ""} before the
// first event). See core/store/audit.h.
struct AuditHead {
  int64_t seq = 0;
  std::string hash;
};

// What an instance row says about its chain of events.
struct AuditInstance {
  std::string id;
  int64_t event_seq = 0;
  std::string last_event_hash;
};

struct DocumentRow {
  std::string id;
  std::string instance_id;
  std::string state;
  std::string kind;
  std::string content_type;
  std::string content;  // raw bytes
  std::string sha256;
  int64_t created_ms = 0;
};

struct IdempotencyRow {
  std::string scope;
  std::string key;
  std::string request_hash;
  std::string response;  // raw bytes (a serialized response message)
  int64_t created_ms = 0;
};

// A change of one task: every mutable column takes row's value, but only
// when the stored status is still expected_status (else Apply is ABORTED).
struct TaskUpdate {
  TaskRow row;
  std::string expected_status;
};

struct TimerRow {
  std::string id;
  std::string instance_id;
  std::string task_id;
  std::string name;        // remind | overdue | a plugin's own
  int64_t due_ms = 0;
  int64_t fired_ms = 0;    // 0 pending; >0 fired at; -1 cancelled
  std::string lease_owner;
  int64_t lease_until_ms = 0;
};

struct NotificationRow {
  std::string id;
  std::string user_id;     // or role (+ org) for a group
  std::string role;
  std::string org;
  std::string instance_id;
  std::string task_id;
  std::string kind;
  std::string text;
  std::string from_user;
  int64_t created_ms = 0;
  int64_t row_id = 0;
};

struct CcRow {
  std::string id;
  std::string instance_id;
  std::string user_id;
  std::string from_user;
  std::string note;
  int64_t created_ms = 0;
  int64_t row_id = 0;
};

struct ProxyRow {
  std::string id;
  std::string principal;
  std::string proxy_user;
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  std::string created_by;
  int64_t created_ms = 0;
};

// The state of an instance before an action, kept so its actor can withdraw
// it (撤回) while nothing happened after it.
struct SnapshotRow {
  std::string instance_id;
  int64_t version_after = 0;  // the instance version the action produced
  std::string actor;
  std::string body;           // serialized by the engine
  int64_t created_ms = 0;
};

// Everything one command writes.
struct Commit {
  std::optional<InstanceRow> insert_instance;
  // Update of an existing instance: applied only when its stored version is
  // expected_version (the new row carries expected_version + 1).
  std::optional<InstanceRow> update_instance;
  int64_t expected_version = 0;
  // The status the stored row has (when the writer knows it): an unchanged
  // status is left out of the UPDATE, so SQLite does not rewrite the row's
  // (def_key, status) index entry, a page of the WAL on every command.
  std::optional<std::string> stored_status;
  std::vector<TaskRow> insert_tasks;  // written before task updates
  std::vector<TaskUpdate> update_tasks;
  std::vector<EventRow> events;
  std::vector<DocumentRow> documents;
  std::optional<IdempotencyRow> idempotency;
  std::vector<TimerRow> insert_timers;
  // Timers this command fires: each must still be pending (else ABORTED), so a
  // timer takes effect exactly once even with several bpmd processes.
  std::vector<std::string> fire_timers;
  // Pending timers of these tasks are cancelled (fired_ms = -1).
  std::vector<std::string> cancel_timers_of_tasks;
  std::vector<NotificationRow> notifications;
  std::vector<CcRow> cc;
  std::optional<SnapshotRow> snapshot;   // replaces the instance's snapshot
  bool delete_snapshot = false;          // the instance's snapshot is consumed
  std::vector<ExternalTaskRow> insert_external_tasks;
  // Each applies only while the stored row still has expected_status and
  // expected_token (else ABORTED): a late completion by an old lock holder
  // never overwrites a re-delivered task.
  struct ExternalTaskUpdate {
    ExternalTaskRow row;
    std::string expected_status;
    std::string expected_token;
  };
  std::vector<ExternalTaskUpdate> update_external_tasks;
  std::vector<IncidentRow> insert_incidents;
  std::vector<IncidentRow> resolve_incidents;  // must still be open
  std::vector<OutboxRow> insert_outbox;
  // An alias move that takes effect with this commit (an approved
  // definition change, see EngineOptions::definition_approval).
  struct AliasMove {
    std::string key;
    int64_t version = 0;
    AliasChange change;
  };
  std::optional<AliasMove> move_alias;
};

struct InboxQuery {
  std::string view = "pending";    // pending | done | overdue
  std::vector<std::string> users;  // the caller, then principals it is proxy for
  std::vector<std::string> roles;
  std::string org;
  std::string def_key;             // filters on the task's instance
  std::string state;
  std::string instance_org;
  int64_t created_from_ms = 0;     // [from, to) on task creation; 0 = open
  int64_t created_to_ms = 0;
  int64_t now_ms = 0;              // overdue: due_ms in (0, now)
};

// The orgs a list may show (an org scope, core/org/scope.h): all of them, or
// those whose code is one of codes or starts with prefix.
struct OrgSet {
  bool all = true;
  std::vector<std::string> codes;
  std::string prefix;  // "" matches nothing
};

// At most this many codes in an OrgSet (a bound parameter each).
inline constexpr size_t kMaxOrgSetCodes = 20000;

struct InstanceFilter {
  std::string campaign_id;
  std::string def_key;
  std::string subject_ref;
  std::string org;
  std::string status;
  std::string state;
  OrgSet orgs;  // and within these (INVALID_ARGUMENT over kMaxOrgSetCodes)
};

struct Caller {
  // Not an aggregate: Caller{user, roles, org} leaves source empty.
  Caller(std::string user_in = "", std::vector<std::string> roles_in = {},
         std::string org_in = "", std::string source_in = "")
      : user(std::move(user_in)),
        roles(std::move(roles_in)),
        org(std::move(org_in)),
        source(std::move(source_in)) {}
  std::string user;
  std::vector<std::string> roles;
  std::string org;
  std::string source;  // where the call came from (gRPC peer), recorded in history
};

// What a command on an instance reads before it decides (Store::LoadInstance).
struct InstanceState {
  // Answered from the instance cache (see Store::Open): it is what this
  // process's last commit of the instance left, which another bpmd sharing
  // the database may since have changed. A command that fails on such a
  // state, or whose commit is refused, is run again from the database
  // (Store::ForgetInstance first). Rows that entered the cache from a
  // MariaDB commit have row_id 0 (assigned after the batch was queued);
  // nothing pages on these.
  bool from_cache = false;
  InstanceRow instance;
  TaskRow task;  // LoadTaskInstance only: the task asked for, in any status
  std::vector<TaskRow> active_tasks;          // as ListTasks(id, true)
  std::vector<ExternalTaskRow> external_tasks;  // as AgencyStore::ListExternalTasks(id)
  std::vector<TimerRow> timers;               // as ListTimers(id)
};

// Instances a store keeps in memory by default (a few KB each).
inline constexpr size_t kDefaultInstanceCache = 4096;

class Store {
 public:
  virtual ~Store() = default;
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Opens the database named by url, creating it (SQLite) and applying the
  // migrations. INVALID_ARGUMENT for a malformed url; UNAVAILABLE when the
  // database cannot be reached. instance_cache: how many recently used
  // instances LoadInstance/LoadTaskInstance answer from memory (0: none; see
  // InstanceState::from_cache and internal/instance_cache.h).
  //
  // require_durable (bpmd's serving store): first, before any migration
  // writes, whether the server keeps what bpmd acknowledges. bpmd answers a
  // command once its COMMIT returned; on MariaDB/MySQL that commit survives a
  // crash of the server or the machine only with innodb_flush_log_at_trx_commit
  // 1 (or 3) and, when the binary log is on, sync_binlog 1. A commit also
  // needs max_allowed_packet of at least 16 MiB (MariaDB's default): the
  // server refuses a larger batch by closing the connection, which bpmd would take
  // for an outage and retry. FAILED_PRECONDITION naming the setting, its
  // value and the one needed. SQLite always passes (synchronous=FULL is set
  // on every connection).
  static StatusOr<std::unique_ptr<Store>> Open(const std::string& url, int pool_size = 8,
                                               size_t instance_cache = kDefaultInstanceCache,
                                               bool require_durable = false);

  virtual std::string dialect() const = 0;  // "sqlite3" or "mysql"
  // Highest applied migration number.
  virtual StatusOr<int64_t> SchemaVersion() = 0;

  // Inserts the definition unless the same key already has the same content,
  // in which case the existing row is returned and *created is false. The new
  // version is the key's highest version + 1. With move, a new version gets
  // the alias it names in the same transaction (and the move is recorded);
  // known content moves nothing.
  virtual StatusOr<DefinitionRow> PutDefinition(const DefinitionRow& row,
                                                const std::optional<AliasChange>& move,
                                                bool* created) = 0;
  // version 0: the latest. NOT_FOUND when absent.
  virtual StatusOr<DefinitionRow> GetDefinition(const std::string& key, int64_t version) = 0;
  // The version a new instance starts on. alias empty: "current" if the key
  // has it, else its highest version; alias named: that alias (NOT_FOUND when
  // the key has no such alias). NOT_FOUND when the key has no version. Cheap
  // (one indexed read, no YAML).
  virtual StatusOr<int64_t> ResolveDefinitionVersion(const std::string& key,
                                                     const std::string& alias) = 0;
  // Empty key: the latest version of every key; else every version of key.
  virtual StatusOr<std::vector<DefinitionRow>> ListDefinitions(const std::string& key) = 0;
  // Points change.alias of key at version (NOT_FOUND when that version does
  // not exist) and records the move; returns the version it pointed at before
  // (0: new alias). Moving an alias to where it already points records nothing.
  virtual StatusOr<int64_t> MoveDefinitionAlias(const std::string& key, int64_t version,
                                                const AliasChange& change) = 0;
  // Aliases of key (empty key: of every key), by key and alias name.
  virtual StatusOr<std::vector<DefinitionAliasRow>> ListDefinitionAliases(
      const std::string& key) = 0;
  // Every recorded move of key's aliases, oldest first.
  virtual StatusOr<std::vector<AliasMoveRow>> ListAliasMoves(const std::string& key) = 0;

  virtual StatusOr<InstanceRow> GetInstance(const std::string& id) = 0;  // NOT_FOUND
  // The instance (NOT_FOUND when absent) with its active tasks, external
  // tasks and timers: what every command reads first, as of one moment
  // (SQLite: one read transaction; MariaDB: one round trip).
  virtual StatusOr<InstanceState> LoadInstance(const std::string& id) = 0;
  // LoadInstance of a task's instance, with the task (any status) in
  // InstanceState::task, read together: what acting on a task reads first.
  // NOT_FOUND names the task when it does not exist.
  virtual StatusOr<InstanceState> LoadTaskInstance(const std::string& task_id) = 0;
  // The next load of the instance reads the database (after a command on a
  // cached state failed). Cheap; a no-op for an instance not in memory.
  virtual void ForgetInstance(const std::string& instance_id) = 0;
  // Instances with row_id > after_row_id matching filter, by row_id, at most limit.
  virtual StatusOr<std::vector<InstanceRow>> ListInstances(const InstanceFilter& filter,
                                                           int64_t after_row_id,
                                                           int limit) = 0;
  virtual StatusOr<TaskRow> GetTask(const std::string& id) = 0;  // NOT_FOUND
  // active_only: statuses open, claimed, delegated.
  virtual StatusOr<std::vector<TaskRow>> ListTasks(const std::string& instance_id,
                                                   bool active_only) = 0;
  // pending/overdue: active tasks for one of q.users (assigned, claimed by,
  // delegated to), or open group tasks of one of q.roles with no org or q.org.
  // done: tasks completed by q.users[0]. Filters by the task's instance.
  // By row_id after after_row_id. Separation-of-duties exclusions are the
  // engine's to apply.
  virtual StatusOr<std::vector<TaskRow>> Inbox(const InboxQuery& q, int64_t after_row_id,
                                               int limit) = 0;
  virtual StatusOr<std::vector<CcRow>> ListCc(const std::string& user, int64_t after_row_id,
                                              int limit) = 0;
  virtual StatusOr<std::vector<NotificationRow>> ListNotifications(const Caller& caller,
                                                                   int64_t after_row_id,
                                                                   int limit) = 0;

  virtual Status PutProxy(const ProxyRow& row) = 0;
  virtual Status DeleteProxy(const std::string& id) = 0;  // NOT_FOUND
  virtual StatusOr<ProxyRow> GetProxy(const std::string& id) = 0;  // NOT_FOUND
  // Proxies where user is principal or proxy, newest first.
  virtual StatusOr<std::vector<ProxyRow>> ListProxies(const std::string& user) = 0;
  // Principals for whom user is an active proxy at now_ms.
  virtual StatusOr<std::vector<std::string>> ActivePrincipals(const std::string& user,
                                                              int64_t now_ms) = 0;

  // Leases up to limit pending timers due at now_ms whose lease expired to
  // owner until now_ms + lease_ms (FOR UPDATE SKIP LOCKED on MySQL), so
  // several bpmd processes share the work.
  virtual StatusOr<std::vector<TimerRow>> LeaseDueTimers(const std::string& owner, int64_t now_ms,
                                                         int64_t lease_ms, int limit) = 0;
  virtual StatusOr<std::vector<TimerRow>> ListTimers(const std::string& instance_id) = 0;
  virtual StatusOr<std::optional<SnapshotRow>> GetSnapshot(const std::string& instance_id) = 0;
  virtual StatusOr<std::vector<EventRow>> ListEvents(const std::string& instance_id) = 0;
  // The whole audit trail, streamed (bpmctl audit verify and export): every
  // instance's chain tail, then every event in (instance_id, seq) order,
  // then every event in global chain order (skipped when chain is empty);
  // the head. Read in one transaction where the database allows, so the
  // passes see one state.
  virtual StatusOr<AuditHead> ScanAudit(
      const std::function<void(const AuditInstance&)>& instance,
      const std::function<void(const EventRow&)>& by_instance,
      const std::function<void(const EventRow&)>& by_chain) = 0;
  virtual StatusOr<DocumentRow> GetDocument(const std::string& id) = 0;  // NOT_FOUND
  virtual StatusOr<std::vector<DocumentRow>> ListDocuments(const std::string& instance_id) = 0;
  // nullopt when the key was never used in scope.
  virtual StatusOr<std::optional<IdempotencyRow>> GetIdempotency(const std::string& scope,
                                                                 const std::string& key) = 0;

  // Writes one command's changes atomically (see the file comment).
  // Concurrent calls share transactions (group commit): one fsync covers
  // every commit written together, yet each commit succeeds or fails alone (see SociStore::WriteBatch).
  // Returns only after the commit is durable.
  virtual Status Apply(const Commit& commit) = 0;
  // Apply without waiting: done(result) runs once the commit is durable (or
  // refused), on another thread. Cheap-to-read stores (SQLite) let the gRPC
  // threads prepare commands without ever blocking on an fsync. This default
  // applies synchronously.
  virtual void ApplyAsync(Commit commit, std::function<void(Status)> done) {
    done(Apply(commit));
  }
  // Returns once every ApplyAsync commit is written and its callback has
  // returned (before destroying what the callbacks use).
  virtual void Quiesce() {}
  // Whether reads are in-process and fast (SQLite): callers may read on
  // threads that must not block on the network.
  virtual bool LocalReads() const { return false; }
  // Writes all commits in ONE transaction, all or none: bulk imports and
  // the benchmark's seeding. ABORTED when any optimistic check fails.
  virtual Status ApplyAll(const std::vector<Commit>& commits) = 0;

  virtual Status PutCampaign(const CampaignRow& row) = 0;
  virtual StatusOr<CampaignRow> GetCampaign(const std::string& id) = 0;  // NOT_FOUND
  virtual Status SetCampaignDeadline(const std::string& id, int64_t deadline_ms) = 0;
  virtual StatusOr<std::vector<CampaignRow>> ListCampaigns() = 0;         // newest first
  virtual StatusOr<std::vector<CampaignMember>> CampaignMembers(const std::string& campaign_id,
                                                                int64_t now_ms) = 0;

  // The org model, sharing this store's database and pool.
  virtual OrgStore& orgs() = 0;
  // Agencies, engagements, external tasks, incidents, outbox.
  virtual AgencyStore& agencies() = 0;
};

}  // namespace bpm::store
