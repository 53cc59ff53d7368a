// bpm::engine — command → decision → commit.
//
// Every command (start an instance, act on a task, a task or instance
// operation, a timer firing) runs the same way:
//   1. load the instance and its active tasks (store);
//   2. check the lifecycles (Boost.Statechart, lifecycle.h): is the instance
//      running, is the task in a status that allows this;
//   3. ask the current state's stage plugin to decide (a pure function), with
//      the org context of the instance's owning org;
//   4. interpret the decision: its outcome event picks the definition's
//      transition (structured conditions), the old state's tasks are
//      cancelled, the new state's plugin is entered (which may decide again);
//   5. write everything — instance row with an optimistic version check, task
//      changes, history events, documents, timers, notifications, CC entries,
//      the withdraw snapshot, the idempotency record — in ONE
//      Store::Apply transaction.
// Nothing is written unless the whole command succeeds. Every command that
// changes an instance bumps its version, so "nobody acted after me" is a
// version comparison (withdraw relies on it).
//
// Idempotency: a command with an idempotency key whose (scope, key) was seen
// returns the first result and changes nothing; the same key with a different
// request gets ALREADY_EXISTS.
//
// Errors: INVALID_ARGUMENT (field named), NOT_FOUND, FAILED_PRECONDITION
// (lifecycle or workflow refuses), ABORTED (a concurrent command won: re-read
// and retry), ALREADY_EXISTS, PERMISSION_DENIED, UNAVAILABLE (database),
// INTERNAL (a plugin failed; message names plugin and hook).
//
// Thread safety: an Engine is safe to use from many threads. It borrows the
// store, registry, clock and calendar, which must outlive it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "bpm/plugin/v1/plugin.pb.h"
#include "bpm/v1/agency.pb.h"
#include "bpm/v1/bpm.pb.h"
#include "bpm/v1/perf.pb.h"
#include "core/common/clock.h"
#include "core/common/status.h"
#include "core/definition/definition.h"
#include "core/engine/lifecycle.h"
#include "core/plugin/loader.h"
#include "core/store/store.h"

namespace bpm::engine {

namespace v1 = ::bpm::v1;
using Caller = store::Caller;

// The role that may suspend, resume, terminate and jump instances.
inline constexpr const char* kAdminRole = "workflow_admin";

// Resolves the org model around an org at a time (core/org). NOT_FOUND when
// the org is not in the model: stages then get an empty org context.
using OrgResolver =
    std::function<StatusOr<plugin::v1::OrgContext>(const std::string& org, int64_t at_ms)>;

// Adds calendar or PRC working days to an instant (core/calendar).
// FAILED_PRECONDITION when no calendar covers the dates.
struct DueCalculator {
  std::function<StatusOr<int64_t>(int64_t from_ms, int days)> add_days;
  std::function<StatusOr<int64_t>(int64_t from_ms, int working_days)> add_working_days;
};

struct EngineOptions {
  size_t max_payload_bytes = 64 * 1024;   // canonical JSON of payload / variables
  size_t max_yaml_bytes = 1024 * 1024;
  size_t max_comment_chars = 4000;
  int max_automatic_transitions = 50;     // guards against outcome cycles
  size_t max_cc_users = 100;
  OrgResolver org_resolver;               // empty: no org model
  // Whether target_org is in the caller's org scope (core/org/scope.h;
  // bpmd: every org for workflow_admin). A task assigned to a role with no
  // org is then acted on, and shown in an inbox, only by holders of the role
  // whose scope covers the instance's owning org. Empty: any holder.
  std::function<StatusOr<bool>(const Caller& caller, const std::string& target_org)> in_scope;
  DueCalculator due;                      // empty functions: only absolute due times
  bool start_templates = false;           // Start refuses templates unless set (Preview)
  // Governance: a person's deploy, or move of "current", waits for a second
  // workflow_admin's approval in an instance of kChangeWorkflowKey (call
  // StartGovernance once). Startup deploys of the workflow directories and
  // template rebuilds are not held.
  bool definition_approval = false;
  // Where an async command's follow-up read runs: the stored answer of an
  // idempotent retry whose first try committed first (StartAsync/ActAsync).
  // On MariaDB that read is a network round trip, which must not hold up the
  // store's commit or reply thread. Empty: on the thread that reports the
  // commit (fine for local reads).
  std::function<void(std::function<void()>)> run_blocking;
};

// The built-in workflow that approves definition changes under governance.
inline constexpr const char* kChangeWorkflowKey = "bpm-definition-change";

class Engine {
 public:
  Engine(store::Store& store, const plugin::Registry& plugins, const Clock& clock,
         EngineOptions options = {});
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // ---- definitions
  // Never fails: problems are diagnostics in the response.
  v1::ValidateDefinitionResponse Validate(const std::string& yaml, const std::string& source);
  // INVALID_ARGUMENT listing every diagnostic "file:line:col: message".
  // Changed content becomes a new version, which "current" then points at
  // unless inactive; content identical to an existing version changes
  // nothing (so redeploying a directory never undoes a rollback). `by` is
  // recorded with the alias move. `governed`: a person's deploy (gRPC, watch
  // mode), which under definition_approval stores the version without moving
  // "current" and files a change request (approval_instance_id).
  StatusOr<v1::DeployDefinitionResponse> Deploy(const std::string& yaml,
                                                const std::string& source,
                                                const std::string& by = "system",
                                                bool inactive = false, bool governed = false);
  // Deploys the change workflow when definition_approval is on; no-op else.
  Status StartGovernance();
  // version 0 and alias empty: the latest version. NOT_FOUND.
  StatusOr<v1::GetDefinitionResponse> GetDefinition(const std::string& key, int64_t version,
                                                    const std::string& alias = "");
  StatusOr<v1::ListDefinitionsResponse> ListDefinitions(const std::string& key);
  // Points an alias (default "current") at an existing version; INVALID_ARGUMENT
  // for a malformed alias name or reason over 1,000 characters, NOT_FOUND for
  // an unknown key or version. A fiscal year's alias (fy2026) is what starts
  // carrying variables.fiscal_year 2026 run on (Start); under
  // definition_approval it and "current" move only by a change request.
  StatusOr<v1::SetAliasResponse> SetAlias(const Caller& caller, const v1::SetAliasRequest& req);
  // NOT_FOUND for an unknown key or version; FAILED_PRECONDITION when a version
  // no longer compiles with the loaded plugins.
  StatusOr<v1::DiffDefinitionsResponse> Diff(const v1::DiffDefinitionsRequest& req);
  // DOT text (core/definition/graph.h). NOT_FOUND for an unknown key, version,
  // alias or instance; INVALID_ARGUMENT when instance_id names an instance of
  // another key than key.
  StatusOr<v1::GraphDefinitionResponse> Graph(const v1::GraphDefinitionRequest& req);
  // Migrates running instances between versions of a key (see
  // MigrationPlan in bpm.proto). PERMISSION_DENIED without kAdminRole;
  // INVALID_ARGUMENT for a plan naming unknown states or equal versions, or
  // an apply without a reason; NOT_FOUND for an unknown key or version.
  StatusOr<v1::MigrateInstancesResponse> Migrate(const Caller& caller,
                                                 const v1::MigrateInstancesRequest& req);

  // ---- instances
  // The path and approvers of a would-be instance (PreviewRequest), on a
  // scratch SQLite store in a temporary directory that is removed after;
  // this engine's store is only read (the definition). INVALID_ARGUMENT for
  // missing org or an invalid yaml; NOT_FOUND for an unknown definition.
  // Refusals while stepping end the preview early (PreviewResponse.stopped).
  StatusOr<v1::PreviewResponse> Preview(const Caller& caller, const v1::PreviewRequest& req);
  // Starts an instance on the version the request names, else on its alias,
  // else (variables.fiscal_year Y) on the alias fyY when the key has one, else
  // on "current": the rules of a fiscal year stay with its instances after
  // "current" moves to the next year's.
  StatusOr<v1::Instance> Start(const Caller& caller, const v1::StartInstanceRequest& request);
  // Start and Act without waiting for the commit: the command runs on this
  // thread up to its commit, which is queued (Store::ApplyAsync); done gets
  // the result exactly once — on this thread when the command fails before
  // its commit, else on the store's commit thread once the commit is durable.
  // For the gRPC callback API (bpmd on SQLite): no thread waits for an fsync.
  // The request must stay valid until done is called (as gRPC's callback API
  // keeps it): an Act refused at its commit after it ran on a cached state
  // runs again (see RunCommand); the caller is copied.
  using InstanceCallback = std::function<void(StatusOr<v1::Instance>)>;
  void StartAsync(const Caller& caller, const v1::StartInstanceRequest& request,
                  InstanceCallback done);
  void ActAsync(const Caller& caller, const v1::ActRequest& request, InstanceCallback done);
  StatusOr<v1::Instance> GetInstance(const std::string& id);
  // Only instances owned by an org in orgs (the caller's org scope).
  StatusOr<v1::ListInstancesResponse> ListInstances(const v1::ListInstancesRequest& request,
                                                    const store::OrgSet& orgs = {});
  // The owning org of an instance (for authorization); NOT_FOUND.
  StatusOr<std::string> InstanceOrg(const std::string& id);
  StatusOr<v1::GetHistoryResponse> History(const std::string& instance_id);
  StatusOr<v1::ListDocumentsResponse> Documents(const std::string& instance_id);
  StatusOr<v1::Document> GetDocument(const std::string& id);
  // 撤销: only the initiator, only while running.
  StatusOr<v1::Instance> Cancel(const Caller& caller, const v1::InstanceOperationRequest& req);
  // 撤回: only the actor of the instance's latest action, only while nothing
  // happened after it (FAILED_PRECONDITION otherwise, saying why).
  StatusOr<v1::Instance> Withdraw(const Caller& caller, const v1::InstanceOperationRequest& req);
  StatusOr<v1::Instance> Comment(const Caller& caller, const v1::InstanceOperationRequest& req);
  StatusOr<v1::Instance> Urge(const Caller& caller, const v1::InstanceOperationRequest& req);
  StatusOr<v1::Instance> Cc(const Caller& caller, const v1::InstanceOperationRequest& req);
  // Administration: the caller needs role kAdminRole (PERMISSION_DENIED) and a
  // reason in comment (INVALID_ARGUMENT); a lifecycle that does not allow the
  // operation (e.g. resuming a running instance, jumping in a suspended one)
  // is FAILED_PRECONDITION naming the instance's status.
  StatusOr<v1::Instance> Suspend(const Caller& caller, const v1::InstanceOperationRequest& req);
  StatusOr<v1::Instance> Resume(const Caller& caller, const v1::InstanceOperationRequest& req);
  StatusOr<v1::Instance> Terminate(const Caller& caller, const v1::InstanceOperationRequest& req);
  // INVALID_ARGUMENT for a target_state the instance's version does not have;
  // FAILED_PRECONDITION when the instance is already there or has open agency
  // work.
  StatusOr<v1::Instance> Jump(const Caller& caller, const v1::InstanceOperationRequest& req);

  // ---- tasks
  StatusOr<v1::InboxResponse> Inbox(const Caller& caller, const v1::InboxRequest& request);
  StatusOr<v1::Instance> Act(const Caller& caller, const v1::ActRequest& request);
  StatusOr<v1::Instance> Claim(const Caller& caller, const v1::TaskOperationRequest& req);
  StatusOr<v1::Instance> Unclaim(const Caller& caller, const v1::TaskOperationRequest& req);
  StatusOr<v1::Instance> Transfer(const Caller& caller, const v1::TaskOperationRequest& req);
  StatusOr<v1::Instance> Delegate(const Caller& caller, const v1::TaskOperationRequest& req);
  StatusOr<v1::Instance> ResolveDelegation(const Caller& caller,
                                           const v1::TaskOperationRequest& req);
  StatusOr<v1::Proxy> SetProxy(const Caller& caller, const v1::SetProxyRequest& req);
  StatusOr<v1::ListProxiesResponse> ListProxies(const Caller& caller,
                                                const v1::ListProxiesRequest& req);
  Status RemoveProxy(const Caller& caller, const std::string& id);
  StatusOr<v1::ListNotificationsResponse> ListNotifications(
      const Caller& caller, const v1::ListNotificationsRequest& req);

  // ---- campaigns (一对多下发): one instance per target, then a progress view
  StatusOr<v1::Campaign> StartCampaign(const Caller& caller, const v1::StartCampaignRequest& req);
  StatusOr<v1::GetCampaignResponse> GetCampaign(const std::string& id);
  StatusOr<v1::ListCampaignsResponse> ListCampaigns();
  StatusOr<int> UrgeCampaign(const Caller& caller, const v1::CampaignOperationRequest& req);
  StatusOr<int> ExtendCampaignDeadline(const Caller& caller,
                                       const v1::CampaignOperationRequest& req);

  // ---- budget performance across instances (perf.proto; targets.cc)
  // The target quality check of one filing (TargetService.CheckQuality):
  // copies in orgs outside the caller's scope (EngineOptions::in_scope) are
  // reported without id, subject and org.
  StatusOr<v1::CheckTargetQualityResponse> CheckTargetQuality(
      const Caller& caller, const v1::CheckTargetQualityRequest& req);
  // 绩效目标调整 (targets.cc): starts the adjustment workflow for an approved
  // filing under that workflow's `adjustment` rules (window, yearly number;
  // waived when the budget changed). INVALID_ARGUMENT without a reason;
  // FAILED_PRECONDITION when the targets are not approved, the window closed
  // or the year's adjustments are used up (naming the date or instance).
  StatusOr<v1::AdjustTargetsResponse> AdjustTargets(const Caller& caller,
                                                    const v1::AdjustTargetsRequest& req);
  // Every version of the subject's targets (targets.cc).
  StatusOr<v1::TargetVersionsResponse> TargetVersions(const Caller& caller,
                                                      const v1::TargetVersionsRequest& req);
  // The annual figures (ReportService.Get) over the instances owned by an
  // org in orgs (the caller's scope); reports.cc.
  StatusOr<v1::GetReportResponse> Report(const v1::GetReportRequest& req,
                                         const store::OrgSet& orgs);
  // 考核 of the departments in orgs (ReportService.Scorecard); reports.cc.
  StatusOr<v1::GetScorecardResponse> Scorecard(const v1::GetScorecardRequest& req,
                                               const store::OrgSet& orgs);
  // The disclosure snapshots of the instances owned by an org in orgs.
  StatusOr<v1::ListDisclosuresResponse> ListDisclosures(const v1::ListDisclosuresRequest& req,
                                                        const store::OrgSet& orgs);

  // ---- third-party agencies (agency.proto; agencies.cc)
  // An agency caller has role "agency" and org = its agency id.
  StatusOr<v1::Agency> RegisterAgency(const Caller& caller, const v1::Agency& agency);
  StatusOr<v1::Agency> GetAgency(const Caller& caller, const std::string& id);
  StatusOr<v1::ListAgenciesResponse> ListAgencies(const Caller& caller);
  StatusOr<v1::Engagement> Engage(const Caller& caller, const v1::Engagement& engagement);
  StatusOr<v1::Engagement> GetEngagement(const Caller& caller, const std::string& id);
  StatusOr<v1::ListEngagementsResponse> ListEngagements(const Caller& caller,
                                                        const v1::ListEngagementsRequest& req);
  // Long-polls up to req.long_poll_timeout_ms for work of the caller's agency;
  // stops early (with what it has) once cancelled() says the caller is gone
  // or the server is stopping.
  StatusOr<v1::FetchAndLockResponse> FetchAndLock(const Caller& caller,
                                                  const v1::FetchAndLockRequest& req,
                                                  const std::function<bool()>& cancelled = {});
  StatusOr<v1::ExtendLockResponse> ExtendLock(const Caller& caller,
                                              const v1::ExtendLockRequest& req);
  // Idempotent: the same deliverable again answers replayed=true; another
  // deliverable for a completed task is ALREADY_EXISTS; a late completion by
  // a holder whose lock expired (and was re-delivered) is FAILED_PRECONDITION.
  StatusOr<v1::CompleteExternalTaskResponse> CompleteExternalTask(
      const Caller& caller, const v1::CompleteExternalTaskRequest& req);
  StatusOr<v1::ReportFailureResponse> ReportFailure(const Caller& caller,
                                                    const v1::ReportFailureRequest& req);
  StatusOr<v1::ListIncidentsResponse> ListIncidents(const v1::ListIncidentsRequest& req);
  StatusOr<v1::Incident> ResolveIncident(const Caller& caller,
                                         const v1::ResolveIncidentRequest& req);
  StatusOr<v1::ListOutboxResponse> ListOutbox(const v1::ListOutboxRequest& req);
  StatusOr<v1::OutboxMessage> ReplayOutbox(const Caller& caller, const std::string& id);

  // ---- time and org changes (called by the scheduler)
  // Fires due timers leased to `owner`; returns how many took effect.
  // A timer fires exactly once: its "pending" row is checked in the commit.
  StatusOr<int> RunDueTimers(const std::string& owner, int limit);
  // Re-enters the current state of running instances owned by orgs whose org
  // model changed in (after_ms, until_ms], so open tasks follow the new org.
  StatusOr<int> RerouteOrgChanges(int64_t after_ms, int64_t until_ms);
  // Re-enters the current state of running instances owned by these orgs or
  // any org below them (as of now). Returns how many were re-routed.
  StatusOr<int> RerouteOrgs(const std::vector<std::string>& org_codes);
  // Re-enters one instance's current state (its tasks are re-resolved).
  StatusOr<v1::Instance> Reroute(const std::string& instance_id, const std::string& reason);

 private:
  // A workflow that declares the variable approved_targets starts with the
  // subject's targets in force (their version, instance and indicator rows),
  // when the subject has approved targets in org (targets.cc).
  // INVALID_ARGUMENT when the starter passes the variable itself.
  Status AttachApprovedTargets(const definition::Definition& def, const std::string& subject_ref,
                               const std::string& org, google::protobuf::Struct* vars);
  // A workflow whose department_submit state has a `history` block
  // (core/perf/target_form.h HistoryRules) starts with the project's history
  // in variables.project_history: its ex-ante conclusion and, for a
  // continuing project, the previous year's amount, budget action and
  // rectifications (history.cc). FAILED_PRECONDITION while the subject's
  // ex-ante assessment is unfinished, when it concluded 不予支持, or when the
  // previous year's action cancels the budget (取消) without an accepted
  // rectification since; INVALID_ARGUMENT for a bad previous subject (none of
  // its instances in the caller's org scope) or a project_history passed by
  // the starter.
  Status AttachProjectHistory(const Caller& caller, const definition::Definition& def,
                              const std::string& subject_ref, google::protobuf::Struct* vars);
  // The subject's approved target filing (not an adjustment) in org (any org
  // when empty); "" when there is none (targets.cc).
  StatusOr<std::string> ApprovedFiling(const std::string& subject_ref, const std::string& org);
  // Whether row is a target filing (a department_submit state with a
  // quality block), not an adjustment; and an approved one (vars: its
  // variables) (targets.cc).
  bool IsTargetFiling(const store::InstanceRow& row);
  bool ApprovedFilingRow(const store::InstanceRow& row, const google::protobuf::Struct& vars);
  // An ex-ante assessment (a workflow with an ex_ante stage) comes before the
  // project's budget request: FAILED_PRECONDITION when the subject has a
  // target filing in review or approved (history.cc).
  Status CheckExAnteComesFirst(const definition::Definition& def, const std::string& subject_ref);
  // The targets in force of a filing: {version, instance_id, definition_key,
  // form}; NOT_FOUND when none is (targets.cc).
  StatusOr<google::protobuf::Struct> InForceTargets(const std::string& filing_id);
  struct Working;
  using CommandBody = std::function<Status(Working&)>;

  // Loads instance + active tasks, checks the lifecycle and expected
  // version, runs body, commits. scope/key/hash: idempotency (key may be "").
  // loaded: the instance's state when the caller has read it already
  // (Store::LoadTaskInstance); RunCommand then reads nothing more of it.
  // A command that fails on a state from the store's instance cache, in a
  // way a stale state could explain (CacheMayBeStale), runs once more from
  // the database; with loaded given, that second run is the caller's.
  StatusOr<v1::Instance> RunCommand(const Caller& caller, const std::string& instance_id,
                                    int64_t expected_version, const std::string& scope,
                                    const std::string& idempotency_key,
                                    const std::string& request_hash, const CommandBody& body,
                                    InstanceEvent lifecycle_event = InstanceEvent::kAct,
                                    store::InstanceState* loaded = nullptr);
  // RunCommand without the idempotency replay and the second run around it.
  // *from_cache: whether the state it ran on came from the instance cache.
  StatusOr<v1::Instance> RunCommandOnce(const Caller& caller, const std::string& instance_id,
                                        int64_t expected_version, const std::string& scope,
                                        const std::string& idempotency_key,
                                        const std::string& request_hash,
                                        const CommandBody& body, InstanceEvent lifecycle_event,
                                        store::InstanceState* loaded, bool* from_cache);
  bool Suspended(const std::string& instance_id);
  // PERMISSION_DENIED "<op> needs role workflow_admin; <user> does not have it".
  static Status RequireAdmin(const Caller& caller, const char* op);
  // Finds the templates definitions extend, from the store; a stored
  // version passes the template version it was built on (0: follow extends).
  definition::TemplateResolver Templates(int64_t pinned_version);
  // Deploy's body; `visited` holds the keys already deployed in this call
  // (a template's rebuilt dependants, against cycles).
  StatusOr<v1::DeployDefinitionResponse> DeployOnce(const std::string& yaml,
                                                    const std::string& source,
                                                    const std::string& by, bool inactive,
                                                    bool governed, std::set<std::string>* visited);
  // Governance (governance.cc): files a change request, returns its instance id.
  StatusOr<std::string> RequestChange(const std::string& by, const std::string& key,
                                      int64_t version, const std::string& alias,
                                      const std::string& action, const std::string& reason);
  // A command completing a change request as approved: its alias move joins
  // the commit. Fails only when its variables do not parse.
  Status ApproveChange(Working& w);
  // After such a commit: rebuilds what follows a template whose current moved.
  Status AfterApproval(const store::Commit& commit);
  // Rebuilds the definitions whose "current" extends template `key` (by its
  // alias, not a pinned version) on its `version`; reports each in `out`.
  Status FlowDown(const std::string& key, int64_t version, std::set<std::string>* visited,
                  google::protobuf::RepeatedPtrField<v1::DerivedDeploy>* out);
  // Where alias ("current" by default) points; 0 when it points nowhere.
  StatusOr<int64_t> CurrentVersion(const std::string& key,
                                   const std::string& alias = store::kCurrentAlias);
  StatusOr<std::shared_ptr<const definition::Definition>> Compiled(const std::string& key,
                                                                   int64_t version);
  Status LoadOrgContext(Working& w);
  // The top department above org in the org model (code, name, region; the
  // region is the org's own when the department has none); {code: org} when
  // the org is not in the model.
  plugin::v1::OrgRef TopDepartment(const std::string& org);
  Status EnterState(Working& w, const std::string& state, int depth, bool reentry = false);
  Status FollowOutcome(Working& w, const definition::State& from, const std::string& outcome,
                       int depth);
  // Applies a stage's decision; its set_variables are moved into w.vars
  // (decision keeps its other fields).
  Status ApplyDecision(Working& w, const definition::State& state,
                       plugin::v1::Decision& decision, const std::string& task_id);
  Status OpenTask(Working& w, const definition::State& state, const plugin::v1::TaskSpec& spec);
  StatusOr<v1::Instance> Finish(Working& w);
  // Runs a command with its outermost commit deferred, then queues it.
  // may_rerun: a commit refused ABORTED after the command ran on a cached
  // state runs the command again, once, from the database.
  void CommandAsync(std::function<StatusOr<v1::Instance>()> run, InstanceCallback done,
                    bool may_rerun = true);
  // Looks up an idempotency key; returns the stored Instance when replayed.
  StatusOr<std::optional<v1::Instance>> Replay(const std::string& scope, const std::string& key,
                                               const std::string& request_hash);
  // Whom the caller acts as on task t of an instance owned by instance_org
  // (itself, or a principal it is proxy for); PERMISSION_DENIED with the
  // reason otherwise.
  StatusOr<std::string> ActingAs(const Caller& caller, const store::TaskRow& t,
                                 const std::string& instance_org, int64_t now);
  // A role-wide group task (no org): whether the caller's scope covers the
  // instance (options_.in_scope; true without one).
  StatusOr<bool> RoleTaskInScope(const Caller& caller, const std::string& instance_org);
  // Runs op on the active task req.task_id inside a command (op finds it
  // with Working::Find).
  // An administrator's instance operation: instance_id, role and reason
  // checked, then RunCommand (request_hash empty: from the request and name).
  StatusOr<v1::Instance> AdminOperation(const Caller& caller, const v1::InstanceOperationRequest& req,
                                        const char* name, const char* why,
                                        const std::string& request_hash, const CommandBody& body,
                                        InstanceEvent event = InstanceEvent::kAct);
  StatusOr<v1::Instance> TaskOperation(const Caller& caller, const v1::TaskOperationRequest& req,
                                       const char* name, const CommandBody& op);
  Status FireTimer(const store::TimerRow& timer);
  Status OpenExternalTask(Working& w, const definition::State& state,
                          const plugin::v1::ExternalTaskSpec& spec);
  // Raises an incident on the instance (a separate command): its lifecycle
  // goes to incident until resolved.
  Status RaiseIncident(const std::string& instance_id, const std::string& kind,
                       const std::string& external_task_id, const std::string& message);
  // Start's body, with the campaign's id and deadline when issued by one.
  // req.idempotency_key is scoped to the caller ("start:<user>") unless
  // key_scope names another scope (AdjustTargets claims an ordinal there).
  StatusOr<v1::Instance> StartInstance(const Caller& caller, const v1::StartInstanceRequest& req,
                                       const std::string& campaign_id, int64_t deadline_ms,
                                       const std::string& key_scope = "");

  store::Store& store_;
  const plugin::Registry& plugins_;
  const Clock& clock_;
  EngineOptions options_;

  std::mutex cache_mu_;
  std::map<std::pair<std::string, int64_t>, std::shared_ptr<const definition::Definition>>
      cache_;  // guarded by cache_mu_
};

}  // namespace bpm::engine
