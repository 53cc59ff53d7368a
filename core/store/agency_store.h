// bpm::store::AgencyStore — third-party agencies, engagements, external
// tasks (the agencies' pull protocol), incidents, and the push outbox.
//
// Agencies and engagements are kept as serialized bpm.v1 messages (raw bytes
// in `body`) with their key fields copied into columns for queries; the store
// does not interpret the bodies. Writes that change an instance together with
// an external task, incident or outbox message go through Store::Apply
// (store.h) so they commit atomically; this interface holds the reads and
// the writes that stand alone (registry, fetch-and-lock, lock extension,
// outbox delivery bookkeeping).
//
// Errors: NOT_FOUND, ALREADY_EXISTS (duplicate id), ABORTED (a concurrent
// change won: re-read), UNAVAILABLE (database).
// Thread safety: safe from many threads (shares Store's pool).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/common/status.h"

namespace bpm::store {

struct AgencyRow {
  std::string id;
  std::string body;  // serialized bpm.v1.Agency
  int64_t created_ms = 0;
};

struct EngagementRow {
  std::string id;
  std::string agency_id;
  std::string subject_ref;
  std::string purpose;
  std::string status;  // active | completed | cancelled
  std::string body;    // serialized bpm.v1.Engagement
  int64_t created_ms = 0;
};

struct ExternalTaskRow {
  std::string id;
  std::string instance_id;
  std::string state;
  std::string topic;
  std::string engagement_id;
  std::string agency_id;
  std::string payload_json;
  std::string status;          // open | locked | completed | failed | cancelled
  std::string lock_token;
  std::string lock_owner;
  int64_t lock_expires_ms = 0;
  int64_t available_ms = 0;    // not fetched before this (retry back-off)
  int64_t retries_left = 0;
  std::string last_error;
  std::string deliverable_sha256;
  int64_t created_ms = 0;
  int64_t completed_ms = 0;
  int64_t row_id = 0;
};

struct IncidentRow {
  std::string id;
  std::string instance_id;
  std::string external_task_id;
  std::string kind;            // retries_exhausted | plugin_unavailable
  std::string message;
  int64_t created_ms = 0;
  int64_t resolved_ms = 0;
  std::string resolution;
  std::string resolved_by;
};

struct OutboxRow {
  std::string id;
  std::string endpoint;
  std::string agency_id;
  std::string external_task_id;
  std::string body;            // serialized bpm.v1.Assignment
  std::string status;          // pending | delivered | dead
  int64_t attempts = 0;
  int64_t next_attempt_ms = 0;
  int64_t lease_until_ms = 0;
  std::string last_error;
  int64_t created_ms = 0;
};

class AgencyStore {
 public:
  virtual ~AgencyStore() = default;

  virtual Status PutAgency(const AgencyRow& row) = 0;  // insert or replace
  virtual StatusOr<AgencyRow> GetAgency(const std::string& id) = 0;
  virtual StatusOr<std::vector<AgencyRow>> ListAgencies() = 0;

  virtual Status PutEngagement(const EngagementRow& row) = 0;  // insert or replace
  virtual StatusOr<EngagementRow> GetEngagement(const std::string& id) = 0;
  // Empty arguments match everything.
  virtual StatusOr<std::vector<EngagementRow>> ListEngagements(const std::string& agency_id,
                                                               const std::string& subject_ref) = 0;

  virtual StatusOr<ExternalTaskRow> GetExternalTask(const std::string& id) = 0;
  virtual StatusOr<std::vector<ExternalTaskRow>> ListExternalTasks(
      const std::string& instance_id) = 0;
  // Locks up to limit tasks of the agency on the topics that are open and
  // available, or locked with an expired lock (re-delivery), to owner until
  // lock_until_ms, each with a fresh token from new_token(). FOR UPDATE SKIP
  // LOCKED on MySQL.
  virtual StatusOr<std::vector<ExternalTaskRow>> LockExternalTasks(
      const std::string& agency_id, const std::vector<std::string>& topics, int64_t now_ms,
      int64_t lock_until_ms, const std::string& owner, int limit,
      const std::function<std::string()>& new_token) = 0;
  // FAILED_PRECONDITION when the token is not the current one or the lock
  // expired at now_ms.
  virtual Status ExtendLock(const std::string& id, const std::string& token, int64_t now_ms,
                            int64_t lock_until_ms) = 0;

  virtual StatusOr<IncidentRow> GetIncident(const std::string& id) = 0;
  virtual StatusOr<std::vector<IncidentRow>> ListIncidents(bool include_resolved) = 0;

  // Leases due pending messages (next_attempt_ms <= now, lease expired).
  virtual StatusOr<std::vector<OutboxRow>> LeaseOutbox(int64_t now_ms, int64_t lease_ms,
                                                       int limit) = 0;
  // Records a delivery attempt's result (status, attempts, next attempt,
  // error), or a replay of a dead message. ABORTED unless the stored status is
  // still expected_status: a deliverer whose lease ran out during a slow
  // attempt never overwrites another one's result.
  virtual Status UpdateOutbox(const OutboxRow& row, const std::string& expected_status) = 0;
  virtual StatusOr<OutboxRow> GetOutbox(const std::string& id) = 0;
  virtual StatusOr<std::vector<OutboxRow>> ListOutbox(const std::string& status) = 0;
};

}  // namespace bpm::store
