// Third-party agencies: the registry and 财预〔2021〕6号 rules (core/agency),
// external tasks (fetch-and-lock, extend, complete, fail), incidents, and the
// push outbox's list and replay. Completion and failure change an instance,
// so they run as engine commands (one transaction with the instance).
#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "bpm/plugin/sdk.h"
#include "core/agency/rules.h"
#include "core/common/util.h"
#include "core/engine/engine.h"
#include "core/engine/internal/working.h"
#include "google/protobuf/util/json_util.h"

namespace bpm::engine {
namespace {

namespace pb = ::bpm::plugin::v1;

constexpr int64_t kDefaultLockMs = 5 * 60 * 1000;
constexpr int64_t kMaxLockMs = 24 * 3600 * 1000LL;
constexpr int64_t kMaxLongPollMs = 60 * 1000;
constexpr int kDefaultRetries = 3;
constexpr int kMaxFetch = 100;

bool IsAgency(const Caller& c) {
  return std::find(c.roles.begin(), c.roles.end(), "agency") != c.roles.end();
}

// The agency a caller speaks for; PERMISSION_DENIED when it is not one.
StatusOr<std::string> AgencyOf(const Caller& c) {
  if (!IsAgency(c) || c.org.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "user ", c.user, " is not an agency (needs role agency and org = the agency id)"));
  }
  return c.org;
}

template <typename Message>
StatusOr<Message> ParseBody(const std::string& body, const std::string& what) {
  Message m;
  if (!m.ParseFromString(body)) return absl::InternalError(what + ": stored body is corrupt");
  return m;
}

v1::ExternalTask ToProto(const store::ExternalTaskRow& r, const std::string& subject_ref) {
  v1::ExternalTask t;
  t.set_id(r.id);
  t.set_instance_id(r.instance_id);
  t.set_topic(r.topic);
  t.set_engagement_id(r.engagement_id);
  t.set_agency_id(r.agency_id);
  t.set_subject_ref(subject_ref);
  auto payload = ParseJsonObject(r.payload_json, "payload");
  if (payload.ok()) *t.mutable_payload() = *payload;
  t.set_lock_token(r.lock_token);
  t.set_lock_expires_unix_ms(r.lock_expires_ms);
  t.set_retries_left(static_cast<int32_t>(r.retries_left));
  t.set_status(r.status);
  t.set_created_unix_ms(r.created_ms);
  t.set_last_error(r.last_error);
  return t;
}

v1::Incident ToProto(const store::IncidentRow& r) {
  v1::Incident i;
  i.set_id(r.id);
  i.set_instance_id(r.instance_id);
  i.set_external_task_id(r.external_task_id);
  i.set_kind(r.kind);
  i.set_message(r.message);
  i.set_created_unix_ms(r.created_ms);
  i.set_resolved_unix_ms(r.resolved_ms);
  i.set_resolution(r.resolution);
  i.set_resolved_by(r.resolved_by);
  return i;
}

v1::OutboxMessage ToProto(const store::OutboxRow& r) {
  v1::OutboxMessage m;
  m.set_id(r.id);
  m.set_endpoint(r.endpoint);
  m.set_agency_id(r.agency_id);
  m.set_external_task_id(r.external_task_id);
  m.set_status(r.status);
  m.set_attempts(static_cast<int32_t>(r.attempts));
  m.set_next_attempt_unix_ms(r.next_attempt_ms);
  m.set_last_error(r.last_error);
  m.set_created_unix_ms(r.created_ms);
  return m;
}

// The deliverable as a Struct, as the stage receives it.
google::protobuf::Struct DeliverableStruct(const v1::Deliverable& d) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(d, &json, options);
  auto s = ParseJsonObject(json, "deliverable");
  return s.ok() ? *s : google::protobuf::Struct();
}

}  // namespace

// ---- registry -----------------------------------------------------------------------

StatusOr<v1::Agency> Engine::RegisterAgency(const Caller& caller, const v1::Agency& in) {
  if (IsAgency(caller)) {
    return absl::PermissionDeniedError("agencies are registered by finance, not by an agency");
  }
  v1::Agency a = in;
  if (a.status().empty()) a.set_status("active");
  BPM_RETURN_IF_ERROR(agency::ValidateAgency(a));
  auto existing = store_.agencies().GetAgency(a.id());
  a.set_created_unix_ms(existing.ok() ? existing->created_ms : clock_.NowMillis());
  BPM_RETURN_IF_ERROR(store_.agencies().PutAgency({a.id(), a.SerializeAsString(),
                                                   a.created_unix_ms()}));
  return a;
}

StatusOr<v1::Agency> Engine::GetAgency(const Caller& caller, const std::string& id) {
  if (IsAgency(caller) && caller.org != id) {
    return absl::PermissionDeniedError(absl::StrCat("agency ", caller.org,
                                                    " may not read agency ", id));
  }
  BPM_ASSIGN_OR_RETURN(auto row, store_.agencies().GetAgency(id));
  return ParseBody<v1::Agency>(row.body, "agency " + id);
}

StatusOr<v1::ListAgenciesResponse> Engine::ListAgencies(const Caller& caller) {
  BPM_ASSIGN_OR_RETURN(auto rows, store_.agencies().ListAgencies());
  v1::ListAgenciesResponse resp;
  for (const auto& r : rows) {
    if (IsAgency(caller) && caller.org != r.id) continue;
    BPM_ASSIGN_OR_RETURN(*resp.add_agencies(), ParseBody<v1::Agency>(r.body, "agency " + r.id));
  }
  return resp;
}

StatusOr<v1::Engagement> Engine::Engage(const Caller& caller, const v1::Engagement& in) {
  if (IsAgency(caller)) {
    return absl::PermissionDeniedError("an agency cannot engage itself");
  }
  if (in.agency_id().empty()) return absl::InvalidArgumentError("engagement.agency_id: is required");
  auto agency_row = store_.agencies().GetAgency(in.agency_id());
  if (absl::IsNotFound(agency_row.status())) {
    return absl::NotFoundError(absl::StrCat("agency ", in.agency_id(), " is not registered"));
  }
  BPM_RETURN_IF_ERROR(agency_row.status());
  BPM_ASSIGN_OR_RETURN(v1::Agency agency,
                       ParseBody<v1::Agency>(agency_row->body, "agency " + in.agency_id()));
  BPM_ASSIGN_OR_RETURN(auto prior_rows, store_.agencies().ListEngagements("", in.subject_ref()));
  std::vector<v1::Engagement> prior;
  for (const auto& r : prior_rows) {
    BPM_ASSIGN_OR_RETURN(prior.emplace_back(), ParseBody<v1::Engagement>(r.body, "engagement"));
  }
  BPM_RETURN_IF_ERROR(agency::CheckEngagement(in, agency, prior));
  v1::Engagement e = in;
  e.set_id(NewId());
  e.set_status("active");
  e.set_created_by(caller.user);
  e.set_created_unix_ms(clock_.NowMillis());
  BPM_RETURN_IF_ERROR(store_.agencies().PutEngagement({e.id(), e.agency_id(), e.subject_ref(),
                                                       e.purpose(), e.status(),
                                                       e.SerializeAsString(),
                                                       e.created_unix_ms()}));
  return e;
}

StatusOr<v1::Engagement> Engine::GetEngagement(const Caller& caller, const std::string& id) {
  BPM_ASSIGN_OR_RETURN(auto row, store_.agencies().GetEngagement(id));
  if (IsAgency(caller) && caller.org != row.agency_id) {
    return absl::PermissionDeniedError(absl::StrCat("agency ", caller.org, " may not read engagement ",
                                                    id, " of another agency"));
  }
  return ParseBody<v1::Engagement>(row.body, "engagement " + id);
}

StatusOr<v1::ListEngagementsResponse> Engine::ListEngagements(
    const Caller& caller, const v1::ListEngagementsRequest& req) {
  std::string agency_id = req.agency_id();
  if (IsAgency(caller)) {
    if (!agency_id.empty() && agency_id != caller.org) {
      return absl::PermissionDeniedError(absl::StrCat(
          "agency ", caller.org, " may not list the engagements of agency ", agency_id));
    }
    agency_id = caller.org;
  }
  BPM_ASSIGN_OR_RETURN(auto rows, store_.agencies().ListEngagements(agency_id, req.subject_ref()));
  v1::ListEngagementsResponse resp;
  for (const auto& r : rows) {
    BPM_ASSIGN_OR_RETURN(*resp.add_engagements(), ParseBody<v1::Engagement>(r.body, "engagement"));
  }
  return resp;
}

// ---- external tasks ---------------------------------------------------------------------

Status Engine::OpenExternalTask(Working& w, const definition::State& state,
                                const pb::ExternalTaskSpec& spec) {
  if (spec.topic().empty()) {
    return absl::InternalError(absl::StrCat("stage plugin '", state.stage,
                                            "' opened an external task without a topic"));
  }
  auto row = store_.agencies().GetEngagement(spec.engagement_id());
  if (!row.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "state '", state.name, "': engagement '", spec.engagement_id(),
        "' is unknown: engage an agency before this step (", row.status().message(), ")"));
  }
  if (row->status != "active") {
    return absl::FailedPreconditionError(
        absl::StrCat("state '", state.name, "': engagement ", row->id, " is ", row->status));
  }
  BPM_ASSIGN_OR_RETURN(auto agency_row, store_.agencies().GetAgency(row->agency_id));
  BPM_ASSIGN_OR_RETURN(v1::Agency agency, ParseBody<v1::Agency>(agency_row.body, "agency"));
  store::ExternalTaskRow x;
  x.id = NewId();
  x.instance_id = w.inst.id;
  x.state = state.name;
  x.topic = spec.topic();
  x.engagement_id = row->id;
  x.agency_id = row->agency_id;
  x.payload_json = CanonicalJson(spec.payload());
  x.status = "open";
  x.available_ms = w.now;
  x.retries_left = spec.retries() > 0 ? spec.retries() : kDefaultRetries;
  x.created_ms = w.now;
  if (!agency.endpoint().empty()) {
    v1::Assignment a;
    store::OutboxRow out;
    out.id = NewId();
    a.set_delivery_id(out.id);
    *a.mutable_task() = ToProto(x, w.inst.subject_ref);
    out.endpoint = agency.endpoint();
    out.agency_id = agency.id();
    out.external_task_id = x.id;
    out.body = a.SerializeAsString();
    out.status = "pending";
    out.next_attempt_ms = w.now;
    out.created_ms = w.now;
    w.commit.insert_outbox.push_back(std::move(out));
  }
  w.commit.insert_external_tasks.push_back(x);
  w.external.push_back(std::move(x));
  w.AddEvent("external_task_opened", spec.topic(), state.name, state.name, "", "", "",
             absl::StrCat("agency ", agency.id(), ", engagement ", row->id));
  return absl::OkStatus();
}

StatusOr<v1::FetchAndLockResponse> Engine::FetchAndLock(const Caller& caller,
                                                        const v1::FetchAndLockRequest& req,
                                                        const std::function<bool()>& cancelled) {
  BPM_ASSIGN_OR_RETURN(std::string agency, AgencyOf(caller));
  if (req.topics().empty()) return absl::InvalidArgumentError("topics: at least one topic");
  const int max = req.max_tasks() == 0 ? 1 : req.max_tasks();
  if (max < 0 || max > kMaxFetch) {
    return absl::InvalidArgumentError(absl::StrCat("max_tasks: must be 1 to ", kMaxFetch));
  }
  const int64_t lock = req.lock_duration_ms() == 0 ? kDefaultLockMs : req.lock_duration_ms();
  if (lock < 1000 || lock > kMaxLockMs) {
    return absl::InvalidArgumentError("lock_duration_ms: must be 1 s to 24 h");
  }
  if (req.long_poll_timeout_ms() < 0 || req.long_poll_timeout_ms() > kMaxLongPollMs) {
    return absl::InvalidArgumentError("long_poll_timeout_ms: must be 0 to 60000");
  }
  const std::vector<std::string> topics(req.topics().begin(), req.topics().end());
  const std::string owner = req.worker_id().empty() ? caller.user : req.worker_id();
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(req.long_poll_timeout_ms());
  v1::FetchAndLockResponse resp;
  while (true) {
    const int64_t now = clock_.NowMillis();
    BPM_ASSIGN_OR_RETURN(auto rows,
                         store_.agencies().LockExternalTasks(agency, topics, now, now + lock,
                                                             owner, max, [] { return NewId(); }));
    for (const auto& r : rows) {
      BPM_ASSIGN_OR_RETURN(auto inst, store_.GetInstance(r.instance_id));
      *resp.add_tasks() = ToProto(r, inst.subject_ref);
    }
    if (resp.tasks_size() > 0 || std::chrono::steady_clock::now() >= deadline) break;
    if (cancelled && cancelled()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return resp;
}

StatusOr<v1::ExtendLockResponse> Engine::ExtendLock(const Caller& caller,
                                                    const v1::ExtendLockRequest& req) {
  BPM_ASSIGN_OR_RETURN(std::string agency, AgencyOf(caller));
  BPM_ASSIGN_OR_RETURN(auto row, store_.agencies().GetExternalTask(req.task_id()));
  if (row.agency_id != agency) {
    return absl::PermissionDeniedError(absl::StrCat("external task ", row.id,
                                                    " belongs to another agency"));
  }
  const int64_t lock = req.lock_duration_ms() == 0 ? kDefaultLockMs : req.lock_duration_ms();
  if (lock < 1000 || lock > kMaxLockMs) {
    return absl::InvalidArgumentError("lock_duration_ms: must be 1 s to 24 h");
  }
  const int64_t now = clock_.NowMillis();
  BPM_RETURN_IF_ERROR(store_.agencies().ExtendLock(row.id, req.lock_token(), now, now + lock));
  v1::ExtendLockResponse resp;
  resp.set_lock_expires_unix_ms(now + lock);
  return resp;
}

StatusOr<v1::CompleteExternalTaskResponse> Engine::CompleteExternalTask(
    const Caller& caller, const v1::CompleteExternalTaskRequest& req) {
  BPM_ASSIGN_OR_RETURN(std::string agency, AgencyOf(caller));
  if (req.task_id().empty()) return absl::InvalidArgumentError("task_id: is required");
  BPM_ASSIGN_OR_RETURN(auto row, store_.agencies().GetExternalTask(req.task_id()));
  if (row.agency_id != agency) {
    return absl::PermissionDeniedError(absl::StrCat("external task ", row.id,
                                                    " belongs to another agency"));
  }
  const std::string canonical = CanonicalJson(DeliverableStruct(req.deliverable()));
  const std::string digest = Sha256Hex(canonical);
  v1::CompleteExternalTaskResponse resp;
  resp.set_instance_id(row.instance_id);
  resp.set_deliverable_sha256(digest);
  if (row.status == "completed") {
    if (row.deliverable_sha256 != digest) {
      return absl::AlreadyExistsError(absl::StrCat(
          "external task ", row.id, " was already completed with another deliverable (sha256 ",
          row.deliverable_sha256, ")"));
    }
    BPM_ASSIGN_OR_RETURN(auto inst, store_.GetInstance(row.instance_id));
    resp.set_state(inst.state);
    resp.set_replayed(true);
    return resp;
  }
  const int64_t now = clock_.NowMillis();
  if (row.status != "locked" || row.lock_token != req.lock_token() || row.lock_expires_ms <= now) {
    return absl::FailedPreconditionError(absl::StrCat(
        "external task ", row.id, ": this lock is no longer held (",
        row.status != "locked" ? "the task is " + row.status
                               : (row.lock_token != req.lock_token()
                                      ? std::string("it was re-delivered to another fetch")
                                      : std::string("the lock expired")),
        "); a late completion is refused"));
  }
  BPM_ASSIGN_OR_RETURN(auto eng_row, store_.agencies().GetEngagement(row.engagement_id));
  BPM_ASSIGN_OR_RETURN(v1::Engagement engagement,
                       ParseBody<v1::Engagement>(eng_row.body, "engagement"));
  Caller as_agency = caller;
  auto result = RunCommand(as_agency, row.instance_id, 0, "", "", "", [&](Working& w) -> Status {
    const definition::State* state = w.def->Find(row.state);
    if (state == nullptr || w.inst.state != row.state) {
      return absl::FailedPreconditionError(absl::StrCat(
          "external task ", row.id, " belongs to state '", row.state,
          "' but the instance is in state '", w.inst.state, "'"));
    }
    BPM_RETURN_IF_ERROR(agency::ValidateDeliverable(
        req.deliverable(), engagement, plugin::BoolOr(state->config, "scored", false)));
    const plugin::StageHandle* stage = plugins_.Find(state->stage);
    if (stage == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("stage plugin '", state->stage,
                                                        "' is not loaded"));
    }
    store::Commit::ExternalTaskUpdate u{row, row.status, row.lock_token};
    u.row.status = "completed";
    u.row.completed_ms = w.now;
    u.row.deliverable_sha256 = digest;
    w.commit.update_external_tasks.push_back(u);
    for (auto& x : w.external) {
      if (x.id == row.id) x.status = "completed";
    }
    store::DocumentRow doc;
    doc.id = NewId();
    doc.instance_id = w.inst.id;
    doc.state = row.state;
    doc.kind = "deliverable:" + row.topic;
    doc.content_type = "application/json";
    doc.content = canonical;
    doc.sha256 = digest;
    doc.created_ms = w.now;
    w.commit.documents.push_back(std::move(doc));
    w.AddEvent("external_completed", row.topic, row.state, row.state, row.id, "", digest,
               absl::StrCat("agency ", agency, " (worker ", row.lock_owner, "), engagement ",
                            row.engagement_id, ", deliverable sha256 ", digest));
    BPM_RETURN_IF_ERROR(LoadOrgContext(w));
    pb::ActRequest act;
    BPM_ASSIGN_OR_RETURN(*act.mutable_context(), w.Context(*state));
    pb::TaskInfo* info = act.mutable_task();
    info->set_id(row.id);
    info->set_name("external:" + row.topic);
    auto& data = *info->mutable_data()->mutable_fields();
    data["engagement_id"].set_string_value(row.engagement_id);
    data["agency_id"].set_string_value(agency);
    data["deliverable_sha256"].set_string_value(digest);
    act.set_action("complete");
    *act.mutable_payload() = DeliverableStruct(req.deliverable());
    BPM_ASSIGN_OR_RETURN(pb::Decision d, stage->Act(act));
    if (!d.accepted()) {
      std::vector<std::string> reasons;
      for (const auto& r : d.rejections()) reasons.push_back(absl::StrCat(r.field(), ": ", r.message()));
      return absl::InvalidArgumentError(absl::StrCat("state '", state->name, "' (stage ",
                                                     state->stage, ") refused the deliverable: ",
                                                     absl::StrJoin(reasons, "; ")));
    }
    BPM_RETURN_IF_ERROR(ApplyDecision(w, *state, d, row.id));
    if (!d.outcome().empty()) return FollowOutcome(w, *state, d.outcome(), 0);
    return absl::OkStatus();
  });
  if (!result.ok()) return result.status();
  resp.set_state(result->state());
  return resp;
}

StatusOr<v1::ReportFailureResponse> Engine::ReportFailure(const Caller& caller,
                                                          const v1::ReportFailureRequest& req) {
  BPM_ASSIGN_OR_RETURN(std::string agency, AgencyOf(caller));
  BPM_ASSIGN_OR_RETURN(auto row, store_.agencies().GetExternalTask(req.task_id()));
  if (row.agency_id != agency) {
    return absl::PermissionDeniedError(absl::StrCat("external task ", row.id,
                                                    " belongs to another agency"));
  }
  const int64_t now = clock_.NowMillis();
  if (row.status != "locked" || row.lock_token != req.lock_token() || row.lock_expires_ms <= now) {
    return absl::FailedPreconditionError(absl::StrCat(
        "external task ", row.id, ": this lock is no longer held; the failure is not recorded"));
  }
  if (req.retry_backoff_ms() < 0 || req.retry_backoff_ms() > kMaxLockMs) {
    return absl::InvalidArgumentError("retry_backoff_ms: must be 0 to 24 h");
  }
  v1::ReportFailureResponse resp;
  auto result = RunCommand(caller, row.instance_id, 0, "", "", "", [&](Working& w) -> Status {
    store::Commit::ExternalTaskUpdate u{row, row.status, row.lock_token};
    u.row.retries_left = std::max<int64_t>(0, row.retries_left - 1);
    u.row.last_error = req.error_message();
    u.row.lock_token.clear();
    u.row.lock_owner.clear();
    u.row.lock_expires_ms = 0;
    resp.set_retries_left(static_cast<int32_t>(u.row.retries_left));
    if (u.row.retries_left > 0) {
      u.row.status = "open";
      u.row.available_ms = w.now + req.retry_backoff_ms();
      w.AddEvent("external_failed", row.topic, row.state, row.state, row.id, req.error_message(),
                 "", absl::StrCat(u.row.retries_left, " retries left"));
    } else {
      u.row.status = "failed";
      store::IncidentRow inc;
      inc.id = NewId();
      inc.instance_id = w.inst.id;
      inc.external_task_id = row.id;
      inc.kind = "retries_exhausted";
      inc.message = absl::StrCat("agency ", agency, " failed external task ", row.id, " (",
                                 row.topic, ") with no retries left: ", req.error_message());
      inc.created_ms = w.now;
      w.commit.insert_incidents.push_back(inc);
      resp.set_incident_id(inc.id);
      BPM_RETURN_IF_ERROR(w.lifecycle.Fire(InstanceEvent::kRaiseIncident,
                                           absl::StrCat("instance ", w.inst.id)));
      w.inst.status = w.lifecycle.status();
      w.AddEvent("incident", "retries_exhausted", row.state, row.state, row.id,
                 req.error_message(), "", inc.message);
    }
    w.commit.update_external_tasks.push_back(std::move(u));
    return absl::OkStatus();
  });
  if (!result.ok()) return result.status();
  return resp;
}

// ---- incidents --------------------------------------------------------------------------

Status Engine::RaiseIncident(const std::string& instance_id, const std::string& kind,
                             const std::string& external_task_id, const std::string& message) {
  auto result = RunCommand(Caller{"system", {}, ""}, instance_id, 0, "", "", "",
                           [&](Working& w) -> Status {
                             store::IncidentRow inc;
                             inc.id = NewId();
                             inc.instance_id = w.inst.id;
                             inc.external_task_id = external_task_id;
                             inc.kind = kind;
                             inc.message = message;
                             inc.created_ms = w.now;
                             w.commit.insert_incidents.push_back(inc);
                             BPM_RETURN_IF_ERROR(w.lifecycle.Fire(
                                 InstanceEvent::kRaiseIncident, absl::StrCat("instance ", w.inst.id)));
                             w.inst.status = w.lifecycle.status();
                             w.AddEvent("incident", kind, w.inst.state, w.inst.state,
                                        external_task_id, "", "", message);
                             return absl::OkStatus();
                           });
  return result.status();
}

StatusOr<v1::ListIncidentsResponse> Engine::ListIncidents(const v1::ListIncidentsRequest& req) {
  BPM_ASSIGN_OR_RETURN(auto rows, store_.agencies().ListIncidents(req.include_resolved()));
  v1::ListIncidentsResponse resp;
  for (const auto& r : rows) *resp.add_incidents() = ToProto(r);
  return resp;
}

StatusOr<v1::Incident> Engine::ResolveIncident(const Caller& caller,
                                               const v1::ResolveIncidentRequest& req) {
  if (IsAgency(caller)) return absl::PermissionDeniedError("incidents are resolved by finance");
  if (req.action() != "retry" && req.action() != "reassign" && req.action() != "cancel") {
    return absl::InvalidArgumentError("action: must be retry, reassign or cancel");
  }
  BPM_ASSIGN_OR_RETURN(auto inc, store_.agencies().GetIncident(req.id()));
  if (inc.resolved_ms != 0) {
    return absl::FailedPreconditionError(absl::StrCat("incident ", inc.id, " is already resolved (",
                                                      inc.resolution, ")"));
  }
  std::optional<v1::Engagement> new_engagement;
  if (req.action() == "reassign") {
    if (inc.external_task_id.empty()) {
      return absl::FailedPreconditionError("only an external task's incident can be reassigned");
    }
    BPM_ASSIGN_OR_RETURN(auto eng, GetEngagement(caller, req.engagement_id()));
    BPM_ASSIGN_OR_RETURN(auto task, store_.agencies().GetExternalTask(inc.external_task_id));
    BPM_ASSIGN_OR_RETURN(auto old_eng, GetEngagement(caller, task.engagement_id));
    if (eng.subject_ref() != old_eng.subject_ref() || eng.purpose() != old_eng.purpose()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "engagement ", eng.id(), " is for ", eng.purpose(), " of ", eng.subject_ref(),
          ", not ", old_eng.purpose(), " of ", old_eng.subject_ref()));
    }
    new_engagement = eng;
  }
  store::IncidentRow resolved = inc;
  resolved.resolution = req.action();
  resolved.resolved_by = caller.user;
  auto result = RunCommand(
      caller, inc.instance_id, 0, "", "", "",
      [&](Working& w) -> Status {
        resolved.resolved_ms = w.now;
        w.commit.resolve_incidents.push_back(resolved);
        if (req.action() == "cancel") {
          for (Working::Task* t : w.Active()) w.Close(*t, "cancelled", "");
          w.CancelExternal(w.inst.state);
          w.inst.status = w.lifecycle.status();
          w.AddEvent("cancelled", "resolve_incident", w.inst.state, w.inst.state, "",
                     req.comment(), "", absl::StrCat("incident ", inc.id, " resolved by cancel"));
          return absl::OkStatus();
        }
        if (!inc.external_task_id.empty()) {
          BPM_ASSIGN_OR_RETURN(auto task, store_.agencies().GetExternalTask(inc.external_task_id));
          store::Commit::ExternalTaskUpdate u{task, task.status, task.lock_token};
          u.row.status = "open";
          u.row.available_ms = w.now;
          u.row.retries_left = 3;
          u.row.lock_token.clear();
          u.row.lock_owner.clear();
          u.row.lock_expires_ms = 0;
          if (new_engagement) {
            u.row.engagement_id = new_engagement->id();
            u.row.agency_id = new_engagement->agency_id();
          }
          w.commit.update_external_tasks.push_back(std::move(u));
        }
        w.inst.status = w.lifecycle.status();
        w.AddEvent("incident_resolved", req.action(), w.inst.state, w.inst.state,
                   inc.external_task_id, req.comment(), "",
                   new_engagement ? absl::StrCat("reassigned to agency ", new_engagement->agency_id())
                                  : absl::StrCat("incident ", inc.id));
        return absl::OkStatus();
      },
      req.action() == "cancel" ? InstanceEvent::kTerminate : InstanceEvent::kResolveIncident);
  if (!result.ok()) return result.status();
  BPM_ASSIGN_OR_RETURN(auto after, store_.agencies().GetIncident(inc.id));
  return ToProto(after);
}

// ---- outbox -------------------------------------------------------------------------------

StatusOr<v1::ListOutboxResponse> Engine::ListOutbox(const v1::ListOutboxRequest& req) {
  BPM_ASSIGN_OR_RETURN(auto rows, store_.agencies().ListOutbox(req.status()));
  v1::ListOutboxResponse resp;
  for (const auto& r : rows) *resp.add_messages() = ToProto(r);
  return resp;
}

StatusOr<v1::OutboxMessage> Engine::ReplayOutbox(const Caller& caller, const std::string& id) {
  if (IsAgency(caller)) return absl::PermissionDeniedError("dead letters are replayed by finance");
  BPM_ASSIGN_OR_RETURN(auto row, store_.agencies().GetOutbox(id));
  if (row.status != "dead") {
    return absl::FailedPreconditionError(absl::StrCat("outbox message ", id, " is ", row.status,
                                                      ", not dead"));
  }
  row.status = "pending";
  row.attempts = 0;
  row.next_attempt_ms = clock_.NowMillis();
  row.lease_until_ms = 0;
  BPM_RETURN_IF_ERROR(store_.agencies().UpdateOutbox(row, "dead"));
  return ToProto(row);
}

}  // namespace bpm::engine
