#include "core/server/services.h"

#include <atomic>
#include <memory>
#include <string_view>

#include "core/server/identity.h"

#include "bpm/v1/bpm.grpc.pb.h"
#include "bpm/v1/perf.grpc.pb.h"

namespace bpm::server {
namespace {

namespace v1 = ::bpm::v1;

// Documents of this kind are what the disclosure stage publishes (信息公开).
constexpr const char* kDisclosureKind = "disclosure";

// A request's `view` (InstanceView): INVALID_ARGUMENT naming the field when
// this bpmd does not know the value.
Status CheckView(v1::InstanceView view) {
  if (v1::InstanceView_IsValid(view)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("view: ", static_cast<int>(view), " is not an InstanceView (",
                   v1::InstanceView_Name(v1::INSTANCE_VIEW_FULL), " or ",
                   v1::InstanceView_Name(v1::INSTANCE_VIEW_BASIC), ")"));
}
// The instance as the view asks: BASIC without the variables.
void ApplyView(v1::InstanceView view, v1::Instance* inst) {
  if (view == v1::INSTANCE_VIEW_BASIC) inst->clear_variables();
}
// Runs fn, a call answering an Instance for a request with a view, once the
// view is known good, and answers as the view asks.
template <typename Fn>
StatusOr<v1::Instance> Viewed(v1::InstanceView view, Fn&& fn) {
  BPM_RETURN_IF_ERROR(CheckView(view));
  BPM_ASSIGN_OR_RETURN(v1::Instance inst, fn());
  ApplyView(view, &inst);
  return inst;
}

class DefinitionServiceImpl final : public v1::DefinitionService::Service {
 public:
  explicit DefinitionServiceImpl(engine::Engine& e) : engine_(e) {}

  grpc::Status Validate(grpc::ServerContext* ctx, const v1::ValidateDefinitionRequest* req,
                        v1::ValidateDefinitionResponse* resp) override {
    return Handle(ctx, "/bpm.v1.DefinitionService/Validate", resp, [&](const engine::Caller&) -> StatusOr<v1::ValidateDefinitionResponse> {
      return engine_.Validate(req->yaml(), req->source_name());
    });
  }
  grpc::Status Deploy(grpc::ServerContext* ctx, const v1::DeployDefinitionRequest* req,
                      v1::DeployDefinitionResponse* resp) override {
    return Handle(ctx, "/bpm.v1.DefinitionService/Deploy", resp, [&](const engine::Caller& c) {
      return engine_.Deploy(req->yaml(), req->source_name(), c.user, req->inactive(),
                            /*governed=*/true);
    });
  }
  grpc::Status Get(grpc::ServerContext* ctx, const v1::GetDefinitionRequest* req,
                   v1::GetDefinitionResponse* resp) override {
    return Handle(ctx, "/bpm.v1.DefinitionService/Get", resp, [&](const engine::Caller&) {
      return engine_.GetDefinition(req->key(), req->version(), req->alias());
    });
  }
  grpc::Status SetAlias(grpc::ServerContext* ctx, const v1::SetAliasRequest* req,
                        v1::SetAliasResponse* resp) override {
    return Handle(ctx, "/bpm.v1.DefinitionService/SetAlias", resp,
                  [&](const engine::Caller& c) { return engine_.SetAlias(c, *req); });
  }
  grpc::Status Diff(grpc::ServerContext* ctx, const v1::DiffDefinitionsRequest* req,
                    v1::DiffDefinitionsResponse* resp) override {
    return Handle(ctx, "/bpm.v1.DefinitionService/Diff", resp, [&](const engine::Caller&) { return engine_.Diff(*req); });
  }
  grpc::Status Graph(grpc::ServerContext* ctx, const v1::GraphDefinitionRequest* req,
                     v1::GraphDefinitionResponse* resp) override {
    return Handle(ctx, "/bpm.v1.DefinitionService/Graph", resp,
                  [&](const engine::Caller& c) -> StatusOr<v1::GraphDefinitionResponse> {
                    if (!req->instance_id().empty()) {  // shows where the instance is
                      BPM_ASSIGN_OR_RETURN(std::string org, engine_.InstanceOrg(req->instance_id()));
                      BPM_RETURN_IF_ERROR(CheckOrg(c, org, "instance " + req->instance_id()));
                    }
                    return engine_.Graph(*req);
                  });
  }
  grpc::Status Migrate(grpc::ServerContext* ctx, const v1::MigrateInstancesRequest* req,
                       v1::MigrateInstancesResponse* resp) override {
    return Handle(ctx, "/bpm.v1.DefinitionService/Migrate", resp,
                  [&](const engine::Caller& c) { return engine_.Migrate(c, *req); });
  }
  grpc::Status List(grpc::ServerContext* ctx, const v1::ListDefinitionsRequest* req,
                    v1::ListDefinitionsResponse* resp) override {
    return Handle(ctx, "/bpm.v1.DefinitionService/List", resp,
                  [&](const engine::Caller&) { return engine_.ListDefinitions(req->key()); });
  }

 private:
  engine::Engine& engine_;
};

class InstanceServiceImpl : public v1::InstanceService::Service {
 public:
  InstanceServiceImpl() = default;  // the async variant below binds engine_ itself
  explicit InstanceServiceImpl(engine::Engine& e) : engine_(&e) {}

  grpc::Status Start(grpc::ServerContext* ctx, const v1::StartInstanceRequest* req,
                     v1::StartInstanceResponse* resp) override {
    return Handle(ctx, "/bpm.v1.InstanceService/Start", resp->mutable_instance(),
                  [&](const engine::Caller& c) -> StatusOr<v1::Instance> {
                    return Viewed(req->view(), [&]() -> StatusOr<v1::Instance> {
                      BPM_RETURN_IF_ERROR(CheckOrg(c, req->org(), "start"));
                      return engine_->Start(c, *req);
                    });
                  });
  }
  grpc::Status Get(grpc::ServerContext* ctx, const v1::GetInstanceRequest* req,
                   v1::GetInstanceResponse* resp) override {
    return Handle(ctx, "/bpm.v1.InstanceService/Get", resp->mutable_instance(),
                  [&](const engine::Caller& c) -> StatusOr<v1::Instance> {
                    return Viewed(req->view(), [&]() -> StatusOr<v1::Instance> {
                      BPM_ASSIGN_OR_RETURN(v1::Instance inst, engine_->GetInstance(req->id()));
                      BPM_RETURN_IF_ERROR(CheckOrg(c, inst.org(), "instance " + req->id()));
                      return inst;
                    });
                  });
  }
  grpc::Status List(grpc::ServerContext* ctx, const v1::ListInstancesRequest* req,
                    v1::ListInstancesResponse* resp) override {
    return Handle(ctx, "/bpm.v1.InstanceService/List", resp,
                  [&](const engine::Caller& c) -> StatusOr<v1::ListInstancesResponse> {
                    BPM_ASSIGN_OR_RETURN(store::OrgSet orgs, ScopeOf(c));
                    return engine_->ListInstances(*req, orgs);
                  });
  }
  grpc::Status GetHistory(grpc::ServerContext* ctx, const v1::GetHistoryRequest* req,
                          v1::GetHistoryResponse* resp) override {
    return Handle(ctx, "/bpm.v1.InstanceService/GetHistory", resp,
                  [&](const engine::Caller& c) -> StatusOr<v1::GetHistoryResponse> {
                    BPM_RETURN_IF_ERROR(InScope(c, req->instance_id()));
                    return engine_->History(req->instance_id());
                  });
  }
  grpc::Status ListDocuments(grpc::ServerContext* ctx, const v1::ListDocumentsRequest* req,
                             v1::ListDocumentsResponse* resp) override {
    return Handle(ctx, "/bpm.v1.InstanceService/ListDocuments", resp,
                  [&](const engine::Caller& c) -> StatusOr<v1::ListDocumentsResponse> {
                    if (HasRole(c, kPublicRole)) {  // the published disclosures only
                      BPM_ASSIGN_OR_RETURN(auto all, engine_->Documents(req->instance_id()));
                      v1::ListDocumentsResponse out;
                      for (auto& d : *all.mutable_documents()) {
                        if (d.kind() == kDisclosureKind) *out.add_documents() = std::move(d);
                      }
                      return out;
                    }
                    BPM_RETURN_IF_ERROR(InScope(c, req->instance_id()));
                    return engine_->Documents(req->instance_id());
                  });
  }
  grpc::Status GetDocument(grpc::ServerContext* ctx, const v1::GetDocumentRequest* req,
                           v1::GetDocumentResponse* resp) override {
    return Handle(ctx, "/bpm.v1.InstanceService/GetDocument", resp->mutable_document(),
                  [&](const engine::Caller& c) -> StatusOr<v1::Document> {
                    BPM_ASSIGN_OR_RETURN(v1::Document doc, engine_->GetDocument(req->id()));
                    if (HasRole(c, kPublicRole)) {
                      if (doc.kind() == kDisclosureKind) return doc;
                      return absl::PermissionDeniedError(absl::StrCat(
                          "document ", req->id(), " is not a published disclosure; ", c.user,
                          " (role public) may read only those"));
                    }
                    BPM_RETURN_IF_ERROR(InScope(c, doc.instance_id()));
                    return doc;
                  });
  }
  grpc::Status Cancel(grpc::ServerContext* ctx, const v1::InstanceOperationRequest* req,
                      v1::ActResponse* resp) override {
    return Operation(ctx, "/bpm.v1.InstanceService/Cancel", req, resp, &engine::Engine::Cancel);
  }
  grpc::Status Withdraw(grpc::ServerContext* ctx, const v1::InstanceOperationRequest* req,
                        v1::ActResponse* resp) override {
    return Operation(ctx, "/bpm.v1.InstanceService/Withdraw", req, resp, &engine::Engine::Withdraw);
  }
  grpc::Status Comment(grpc::ServerContext* ctx, const v1::InstanceOperationRequest* req,
                       v1::ActResponse* resp) override {
    return Operation(ctx, "/bpm.v1.InstanceService/Comment", req, resp, &engine::Engine::Comment);
  }
  grpc::Status Urge(grpc::ServerContext* ctx, const v1::InstanceOperationRequest* req,
                    v1::ActResponse* resp) override {
    return Operation(ctx, "/bpm.v1.InstanceService/Urge", req, resp, &engine::Engine::Urge);
  }
  grpc::Status Cc(grpc::ServerContext* ctx, const v1::InstanceOperationRequest* req,
                  v1::ActResponse* resp) override {
    return Operation(ctx, "/bpm.v1.InstanceService/Cc", req, resp, &engine::Engine::Cc);
  }
  grpc::Status Preview(grpc::ServerContext* ctx, const v1::PreviewRequest* req,
                       v1::PreviewResponse* resp) override {
    return Handle(ctx, "/bpm.v1.InstanceService/Preview", resp,
                  [&](const engine::Caller& c) -> StatusOr<v1::PreviewResponse> {
                    BPM_RETURN_IF_ERROR(CheckOrg(c, req->org(), "preview"));
                    return engine_->Preview(c, *req);
                  });
  }
  grpc::Status Suspend(grpc::ServerContext* ctx, const v1::InstanceOperationRequest* req,
                       v1::ActResponse* resp) override {
    return Operation(ctx, "/bpm.v1.InstanceService/Suspend", req, resp, &engine::Engine::Suspend);
  }
  grpc::Status Resume(grpc::ServerContext* ctx, const v1::InstanceOperationRequest* req,
                      v1::ActResponse* resp) override {
    return Operation(ctx, "/bpm.v1.InstanceService/Resume", req, resp, &engine::Engine::Resume);
  }
  grpc::Status Terminate(grpc::ServerContext* ctx, const v1::InstanceOperationRequest* req,
                         v1::ActResponse* resp) override {
    return Operation(ctx, "/bpm.v1.InstanceService/Terminate", req, resp,
                     &engine::Engine::Terminate);
  }
  grpc::Status Jump(grpc::ServerContext* ctx, const v1::InstanceOperationRequest* req,
                    v1::ActResponse* resp) override {
    return Operation(ctx, "/bpm.v1.InstanceService/Jump", req, resp, &engine::Engine::Jump);
  }

 protected:
  // PERMISSION_DENIED unless the instance's owning org is in c's scope.
  Status InScope(const engine::Caller& c, const std::string& instance_id) {
    BPM_ASSIGN_OR_RETURN(std::string org, engine_->InstanceOrg(instance_id));
    return CheckOrg(c, org, "instance " + instance_id);
  }

  // An operation on a whole instance in the caller's scope.
  using InstanceOp = StatusOr<v1::Instance> (engine::Engine::*)(
      const engine::Caller&, const v1::InstanceOperationRequest&);
  grpc::Status Operation(grpc::ServerContext* ctx, std::string_view method,
                         const v1::InstanceOperationRequest* req, v1::ActResponse* resp,
                         InstanceOp op) {
    return Handle(ctx, method, resp->mutable_instance(),
                  [&](const engine::Caller& c) -> StatusOr<v1::Instance> {
                    return Viewed(req->view(), [&]() -> StatusOr<v1::Instance> {
                      BPM_RETURN_IF_ERROR(InScope(c, req->instance_id()));
                      return (engine_->*op)(c, *req);
                    });
                  });
  }

  engine::Engine* engine_ = nullptr;
};

class TaskServiceImpl : public v1::TaskService::Service {
 public:
  TaskServiceImpl() = default;  // the async variant below binds engine_ itself
  explicit TaskServiceImpl(engine::Engine& e) : engine_(&e) {}

  grpc::Status Inbox(grpc::ServerContext* ctx, const v1::InboxRequest* req,
                     v1::InboxResponse* resp) override {
    return Handle(ctx, "/bpm.v1.TaskService/Inbox", resp, [&](const engine::Caller& c) { return engine_->Inbox(c, *req); });
  }
  grpc::Status Act(grpc::ServerContext* ctx, const v1::ActRequest* req,
                   v1::ActResponse* resp) override {
    return Handle(ctx, "/bpm.v1.TaskService/Act", resp->mutable_instance(),
                  [&](const engine::Caller& c) {
                    return Viewed(req->view(), [&] { return engine_->Act(c, *req); });
                  });
  }
  grpc::Status Claim(grpc::ServerContext* ctx, const v1::TaskOperationRequest* req,
                     v1::ActResponse* resp) override {
    return Handle(ctx, "/bpm.v1.TaskService/Claim", resp->mutable_instance(),
                  [&](const engine::Caller& c) {
                    return Viewed(req->view(), [&] { return engine_->Claim(c, *req); });
                  });
  }
  grpc::Status Unclaim(grpc::ServerContext* ctx, const v1::TaskOperationRequest* req,
                       v1::ActResponse* resp) override {
    return Handle(ctx, "/bpm.v1.TaskService/Unclaim", resp->mutable_instance(),
                  [&](const engine::Caller& c) {
                    return Viewed(req->view(), [&] { return engine_->Unclaim(c, *req); });
                  });
  }
  grpc::Status Transfer(grpc::ServerContext* ctx, const v1::TaskOperationRequest* req,
                        v1::ActResponse* resp) override {
    return Handle(ctx, "/bpm.v1.TaskService/Transfer", resp->mutable_instance(),
                  [&](const engine::Caller& c) {
                    return Viewed(req->view(), [&] { return engine_->Transfer(c, *req); });
                  });
  }
  grpc::Status Delegate(grpc::ServerContext* ctx, const v1::TaskOperationRequest* req,
                        v1::ActResponse* resp) override {
    return Handle(ctx, "/bpm.v1.TaskService/Delegate", resp->mutable_instance(),
                  [&](const engine::Caller& c) {
                    return Viewed(req->view(), [&] { return engine_->Delegate(c, *req); });
                  });
  }
  grpc::Status ResolveDelegation(grpc::ServerContext* ctx, const v1::TaskOperationRequest* req,
                                 v1::ActResponse* resp) override {
    return Handle(ctx, "/bpm.v1.TaskService/ResolveDelegation", resp->mutable_instance(),
                  [&](const engine::Caller& c) {
                    return Viewed(req->view(), [&] { return engine_->ResolveDelegation(c, *req); });
                  });
  }
  grpc::Status SetProxy(grpc::ServerContext* ctx, const v1::SetProxyRequest* req,
                        v1::Proxy* resp) override {
    return Handle(ctx, "/bpm.v1.TaskService/SetProxy", resp, [&](const engine::Caller& c) { return engine_->SetProxy(c, *req); });
  }
  grpc::Status ListProxies(grpc::ServerContext* ctx, const v1::ListProxiesRequest* req,
                           v1::ListProxiesResponse* resp) override {
    return Handle(ctx, "/bpm.v1.TaskService/ListProxies", resp,
                  [&](const engine::Caller& c) { return engine_->ListProxies(c, *req); });
  }
  grpc::Status RemoveProxy(grpc::ServerContext* ctx, const v1::RemoveProxyRequest* req,
                           v1::RemoveProxyResponse* resp) override {
    return Handle(ctx, "/bpm.v1.TaskService/RemoveProxy", resp, [&](const engine::Caller& c) -> StatusOr<v1::RemoveProxyResponse> {
      BPM_RETURN_IF_ERROR(engine_->RemoveProxy(c, req->id()));
      return v1::RemoveProxyResponse();
    });
  }
  grpc::Status ListNotifications(grpc::ServerContext* ctx,
                                 const v1::ListNotificationsRequest* req,
                                 v1::ListNotificationsResponse* resp) override {
    return Handle(ctx, "/bpm.v1.TaskService/ListNotifications", resp,
                  [&](const engine::Caller& c) { return engine_->ListNotifications(c, *req); });
  }

 protected:
  engine::Engine* engine_ = nullptr;
};

class CampaignServiceImpl final : public v1::CampaignService::Service {
 public:
  explicit CampaignServiceImpl(engine::Engine& e) : engine_(e) {}

  grpc::Status Start(grpc::ServerContext* ctx, const v1::StartCampaignRequest* req,
                     v1::Campaign* resp) override {
    return Handle(ctx, "/bpm.v1.CampaignService/Start", resp,
                  [&](const engine::Caller& c) { return engine_.StartCampaign(c, *req); });
  }
  grpc::Status Get(grpc::ServerContext* ctx, const v1::GetCampaignRequest* req,
                   v1::GetCampaignResponse* resp) override {
    return Handle(ctx, "/bpm.v1.CampaignService/Get", resp, [&](const engine::Caller&) { return engine_.GetCampaign(req->id()); });
  }
  grpc::Status List(grpc::ServerContext* ctx, const v1::ListCampaignsRequest*,
                    v1::ListCampaignsResponse* resp) override {
    return Handle(ctx, "/bpm.v1.CampaignService/List", resp, [&](const engine::Caller&) { return engine_.ListCampaigns(); });
  }
  grpc::Status Urge(grpc::ServerContext* ctx, const v1::CampaignOperationRequest* req,
                    v1::CampaignOperationResponse* resp) override {
    return Handle(ctx, "/bpm.v1.CampaignService/Urge", resp, [&](const engine::Caller& c) -> StatusOr<v1::CampaignOperationResponse> {
      BPM_ASSIGN_OR_RETURN(int n, engine_.UrgeCampaign(c, *req));
      v1::CampaignOperationResponse out;
      out.set_affected(n);
      return out;
    });
  }
  grpc::Status ExtendDeadline(grpc::ServerContext* ctx, const v1::CampaignOperationRequest* req,
                              v1::CampaignOperationResponse* resp) override {
    return Handle(ctx, "/bpm.v1.CampaignService/ExtendDeadline", resp, [&](const engine::Caller& c) -> StatusOr<v1::CampaignOperationResponse> {
      BPM_ASSIGN_OR_RETURN(int n, engine_.ExtendCampaignDeadline(c, *req));
      v1::CampaignOperationResponse out;
      out.set_affected(n);
      return out;
    });
  }

 private:
  engine::Engine& engine_;
};

class TargetServiceImpl final : public v1::TargetService::Service {
 public:
  explicit TargetServiceImpl(engine::Engine& e) : engine_(e) {}

  grpc::Status CheckQuality(grpc::ServerContext* ctx, const v1::CheckTargetQualityRequest* req,
                            v1::CheckTargetQualityResponse* resp) override {
    return Handle(ctx, "/bpm.v1.TargetService/CheckQuality", resp,
                  [&](const engine::Caller& c) -> StatusOr<v1::CheckTargetQualityResponse> {
                    BPM_RETURN_IF_ERROR(CheckInstanceScope(c, req->instance_id()));
                    return engine_.CheckTargetQuality(c, *req);
                  });
  }

  grpc::Status Adjust(grpc::ServerContext* ctx, const v1::AdjustTargetsRequest* req,
                      v1::AdjustTargetsResponse* resp) override {
    return Handle(ctx, "/bpm.v1.TargetService/Adjust", resp,
                  [&](const engine::Caller& c) -> StatusOr<v1::AdjustTargetsResponse> {
                    BPM_RETURN_IF_ERROR(CheckInstanceScope(c, req->instance_id()));
                    return engine_.AdjustTargets(c, *req);
                  });
  }

  grpc::Status Versions(grpc::ServerContext* ctx, const v1::TargetVersionsRequest* req,
                        v1::TargetVersionsResponse* resp) override {
    return Handle(ctx, "/bpm.v1.TargetService/Versions", resp,
                  [&](const engine::Caller& c) -> StatusOr<v1::TargetVersionsResponse> {
                    BPM_RETURN_IF_ERROR(CheckInstanceScope(c, req->instance_id()));
                    return engine_.TargetVersions(c, *req);
                  });
  }

 private:
  // The caller's org scope must cover the instance.
  Status CheckInstanceScope(const engine::Caller& c, const std::string& instance_id) {
    if (instance_id.empty()) return absl::InvalidArgumentError("instance_id: is required");
    BPM_ASSIGN_OR_RETURN(std::string org, engine_.InstanceOrg(instance_id));
    return CheckOrg(c, org, "instance " + instance_id);
  }

  engine::Engine& engine_;
};

class ReportServiceImpl final : public v1::ReportService::Service {
 public:
  explicit ReportServiceImpl(engine::Engine& e) : engine_(e) {}

  grpc::Status Get(grpc::ServerContext* ctx, const v1::GetReportRequest* req,
                   v1::GetReportResponse* resp) override {
    return Handle(ctx, "/bpm.v1.ReportService/Get", resp,
                  [&](const engine::Caller& c) -> StatusOr<v1::GetReportResponse> {
                    BPM_ASSIGN_OR_RETURN(store::OrgSet orgs, ScopeOf(c));
                    return engine_.Report(*req, orgs);
                  });
  }
  grpc::Status Scorecard(grpc::ServerContext* ctx, const v1::GetScorecardRequest* req,
                         v1::GetScorecardResponse* resp) override {
    return Handle(ctx, "/bpm.v1.ReportService/Scorecard", resp,
                  [&](const engine::Caller& c) -> StatusOr<v1::GetScorecardResponse> {
                    BPM_ASSIGN_OR_RETURN(store::OrgSet orgs, ScopeOf(c));
                    return engine_.Scorecard(*req, orgs);
                  });
  }
  grpc::Status ListDisclosures(grpc::ServerContext* ctx, const v1::ListDisclosuresRequest* req,
                               v1::ListDisclosuresResponse* resp) override {
    return Handle(ctx, "/bpm.v1.ReportService/ListDisclosures", resp,
                  [&](const engine::Caller& c) -> StatusOr<v1::ListDisclosuresResponse> {
                    store::OrgSet orgs;  // the public: everything published
                    if (!HasRole(c, kPublicRole)) {
                      BPM_ASSIGN_OR_RETURN(orgs, ScopeOf(c));
                    }
                    return engine_.ListDisclosures(*req, orgs);
                  });
  }

 private:
  engine::Engine& engine_;
};

// Back-pressure for the async commands (CommandOptions::max_inflight): a
// command holds a slot from when it is admitted until its answer is handed to
// gRPC. Shared by Start and Act; thread-safe.
class InflightLimit {
 public:
  explicit InflightLimit(int limit) : limit_(limit) {}

  // OK: the command holds a slot until Release(). Otherwise
  // RESOURCE_EXHAUSTED naming the limit; nothing was run.
  Status Acquire(std::string_view method) {
    if (limit_ <= 0) return absl::OkStatus();
    if (inflight_.fetch_add(1, std::memory_order_relaxed) < limit_) return absl::OkStatus();
    inflight_.fetch_sub(1, std::memory_order_relaxed);
    return absl::ResourceExhaustedError(absl::StrCat(
        "bpmd has ", limit_, " commands in flight, its limit (--max-inflight-commands); ",
        std::string(method), " was not run: retry after a short pause"));
  }
  void Release() {
    if (limit_ > 0) inflight_.fetch_sub(1, std::memory_order_relaxed);
  }

 private:
  const int limit_;
  std::atomic<int> inflight_{0};
};

// The two commands of the approval workload on gRPC's callback API: the
// handler prepares the command and returns; the response is sent when the
// commit is durable, from the store's commit thread (Engine::StartAsync/
// ActAsync). No thread waits for an fsync, where the sync server parks one
// thread per command in flight. With local reads (SQLite) the command is
// prepared on the gRPC thread that read the request; otherwise on queue,
// because its reads block and gRPC's callback threads must not.
template <typename Response, typename Call>
grpc::ServerUnaryReactor* Deferred(grpc::CallbackServerContext* ctx, std::string_view method,
                                   v1::InstanceView view, Response* resp, WorkQueue* queue,
                                   InflightLimit& limit, Call call) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto caller = Authorize(*ctx, method);
  if (!caller.ok()) {
    reactor->Finish(ToGrpc(caller.status()));
    return reactor;
  }
  if (Status s = CheckView(view); !s.ok()) {
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  if (Status admitted = limit.Acquire(method); !admitted.ok()) {
    reactor->Finish(ToGrpc(admitted));
    return reactor;
  }
  engine::Engine::InstanceCallback done = [reactor, resp, &limit,
                                           view](StatusOr<v1::Instance> result) {
    // The slot is free before the answer goes out: a client that sends its
    // next command on receiving this answer finds it free.
    limit.Release();
    if (!result.ok()) {
      reactor->Finish(ToGrpc(result.status()));
      return;
    }
    *resp->mutable_instance() = *std::move(result);
    ApplyView(view, resp->mutable_instance());
    reactor->Finish(grpc::Status::OK);
  };
  if (queue == nullptr) {
    call(*caller, std::move(done));
  } else {
    // The request and response stay valid until Finish.
    queue->Post([call = std::move(call), caller = *std::move(caller),
                 done = std::move(done)]() mutable { call(caller, std::move(done)); });
  }
  return reactor;
}

class AsyncInstanceService final
    : public v1::InstanceService::WithCallbackMethod_Start<InstanceServiceImpl> {
 public:
  AsyncInstanceService(engine::Engine& e, WorkQueue* queue, std::shared_ptr<InflightLimit> limit)
      : queue_(queue), limit_(std::move(limit)) {
    engine_ = &e;
  }
  grpc::ServerUnaryReactor* Start(grpc::CallbackServerContext* ctx,
                                  const v1::StartInstanceRequest* req,
                                  v1::StartInstanceResponse* resp) override {
    return Deferred(ctx, "/bpm.v1.InstanceService/Start", req->view(), resp, queue_, *limit_,
                    [this, req](const engine::Caller& c, engine::Engine::InstanceCallback done) {
                      if (Status s = CheckOrg(c, req->org(), "start"); !s.ok()) return done(s);
                      engine_->StartAsync(c, *req, std::move(done));
                    });
  }

 private:
  WorkQueue* const queue_;
  const std::shared_ptr<InflightLimit> limit_;
};

class AsyncTaskService final : public v1::TaskService::WithCallbackMethod_Act<TaskServiceImpl> {
 public:
  AsyncTaskService(engine::Engine& e, WorkQueue* queue, std::shared_ptr<InflightLimit> limit)
      : queue_(queue), limit_(std::move(limit)) {
    engine_ = &e;
  }
  grpc::ServerUnaryReactor* Act(grpc::CallbackServerContext* ctx, const v1::ActRequest* req,
                                v1::ActResponse* resp) override {
    return Deferred(ctx, "/bpm.v1.TaskService/Act", req->view(), resp, queue_, *limit_,
                    [this, req](const engine::Caller& c, engine::Engine::InstanceCallback done) {
                      engine_->ActAsync(c, *req, std::move(done));
                    });
  }

 private:
  WorkQueue* const queue_;
  const std::shared_ptr<InflightLimit> limit_;
};

}  // namespace

std::vector<std::unique_ptr<grpc::Service>> MakeServices(engine::Engine& engine,
                                                         const CommandOptions& commands) {
  std::vector<std::unique_ptr<grpc::Service>> out;
  out.push_back(std::make_unique<DefinitionServiceImpl>(engine));
  if (commands.async) {
    auto limit = std::make_shared<InflightLimit>(commands.max_inflight);
    out.push_back(std::make_unique<AsyncInstanceService>(engine, commands.queue, limit));
    out.push_back(std::make_unique<AsyncTaskService>(engine, commands.queue, limit));
  } else {
    out.push_back(std::make_unique<InstanceServiceImpl>(engine));
    out.push_back(std::make_unique<TaskServiceImpl>(engine));
  }
  out.push_back(std::make_unique<CampaignServiceImpl>(engine));
  out.push_back(std::make_unique<TargetServiceImpl>(engine));
  out.push_back(std::make_unique<ReportServiceImpl>(engine));
  return out;
}

}  // namespace bpm::server
