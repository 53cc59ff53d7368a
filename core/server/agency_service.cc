#include "core/server/agency_service.h"

#include "bpm/v1/agency.grpc.pb.h"
#include "core/server/identity.h"

namespace bpm::server {
namespace {

namespace v1 = ::bpm::v1;
using engine::Caller;

class AgencyServiceImpl final : public v1::AgencyService::Service {
 public:
  explicit AgencyServiceImpl(engine::Engine& e) : engine_(e) {}

  grpc::Status RegisterAgency(grpc::ServerContext* ctx, const v1::RegisterAgencyRequest* req,
                              v1::Agency* resp) override {
    return Handle(ctx, "/bpm.v1.AgencyService/RegisterAgency", resp, [&](const Caller& c) { return engine_.RegisterAgency(c, req->agency()); });
  }
  grpc::Status GetAgency(grpc::ServerContext* ctx, const v1::GetAgencyRequest* req,
                         v1::Agency* resp) override {
    return Handle(ctx, "/bpm.v1.AgencyService/GetAgency", resp, [&](const Caller& c) { return engine_.GetAgency(c, req->id()); });
  }
  grpc::Status ListAgencies(grpc::ServerContext* ctx, const v1::ListAgenciesRequest*,
                            v1::ListAgenciesResponse* resp) override {
    return Handle(ctx, "/bpm.v1.AgencyService/ListAgencies", resp, [&](const Caller& c) { return engine_.ListAgencies(c); });
  }
  grpc::Status Engage(grpc::ServerContext* ctx, const v1::EngageRequest* req,
                      v1::Engagement* resp) override {
    return Handle(ctx, "/bpm.v1.AgencyService/Engage", resp, [&](const Caller& c) { return engine_.Engage(c, req->engagement()); });
  }
  grpc::Status GetEngagement(grpc::ServerContext* ctx, const v1::GetEngagementRequest* req,
                             v1::Engagement* resp) override {
    return Handle(ctx, "/bpm.v1.AgencyService/GetEngagement", resp, [&](const Caller& c) { return engine_.GetEngagement(c, req->id()); });
  }
  grpc::Status ListEngagements(grpc::ServerContext* ctx, const v1::ListEngagementsRequest* req,
                               v1::ListEngagementsResponse* resp) override {
    return Handle(ctx, "/bpm.v1.AgencyService/ListEngagements", resp, [&](const Caller& c) { return engine_.ListEngagements(c, *req); });
  }
  grpc::Status FetchAndLock(grpc::ServerContext* ctx, const v1::FetchAndLockRequest* req,
                            v1::FetchAndLockResponse* resp) override {
    return Handle(ctx, "/bpm.v1.AgencyService/FetchAndLock", resp, [&](const Caller& c) {
      return engine_.FetchAndLock(c, *req, [ctx]() { return ctx->IsCancelled(); });
    });
  }
  grpc::Status ExtendLock(grpc::ServerContext* ctx, const v1::ExtendLockRequest* req,
                          v1::ExtendLockResponse* resp) override {
    return Handle(ctx, "/bpm.v1.AgencyService/ExtendLock", resp, [&](const Caller& c) { return engine_.ExtendLock(c, *req); });
  }
  grpc::Status Complete(grpc::ServerContext* ctx, const v1::CompleteExternalTaskRequest* req,
                        v1::CompleteExternalTaskResponse* resp) override {
    return Handle(ctx, "/bpm.v1.AgencyService/Complete", resp,
                  [&](const Caller& c) { return engine_.CompleteExternalTask(c, *req); });
  }
  grpc::Status ReportFailure(grpc::ServerContext* ctx, const v1::ReportFailureRequest* req,
                             v1::ReportFailureResponse* resp) override {
    return Handle(ctx, "/bpm.v1.AgencyService/ReportFailure", resp, [&](const Caller& c) { return engine_.ReportFailure(c, *req); });
  }
  grpc::Status ListIncidents(grpc::ServerContext* ctx, const v1::ListIncidentsRequest* req,
                             v1::ListIncidentsResponse* resp) override {
    return Handle(ctx, "/bpm.v1.AgencyService/ListIncidents", resp, [&](const Caller&) { return engine_.ListIncidents(*req); });
  }
  grpc::Status ResolveIncident(grpc::ServerContext* ctx, const v1::ResolveIncidentRequest* req,
                               v1::ResolveIncidentResponse* resp) override {
    return Handle(ctx, "/bpm.v1.AgencyService/ResolveIncident", resp->mutable_incident(),
                  [&](const Caller& c) { return engine_.ResolveIncident(c, *req); });
  }
  grpc::Status ListOutbox(grpc::ServerContext* ctx, const v1::ListOutboxRequest* req,
                          v1::ListOutboxResponse* resp) override {
    return Handle(ctx, "/bpm.v1.AgencyService/ListOutbox", resp, [&](const Caller&) { return engine_.ListOutbox(*req); });
  }
  grpc::Status ReplayOutbox(grpc::ServerContext* ctx, const v1::ReplayOutboxRequest* req,
                            v1::ReplayOutboxResponse* resp) override {
    return Handle(ctx, "/bpm.v1.AgencyService/ReplayOutbox", resp->mutable_message(),
                  [&](const Caller& c) { return engine_.ReplayOutbox(c, req->id()); });
  }

 private:
  engine::Engine& engine_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeAgencyService(engine::Engine& engine) {
  return std::make_unique<AgencyServiceImpl>(engine);
}

}  // namespace bpm::server
