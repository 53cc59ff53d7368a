// libFuzzer target: API request handling. Arbitrary bytes -> a sequence of
// gRPC requests to the real services of bpmd (core/server: Definition,
// Instance, Task, Campaign, Org and Agency services over the real Engine),
// served in process (grpc::Server::InProcessChannel: the real server-side
// decoding, metadata identity and handlers, no sockets) against a real SQLite
// store in a scratch directory, with the real stage plugins, the bundled
// workflows, the PRC calendars and examples/county-org.yaml.
//
// Input: repeated [method byte][identity byte][16-bit LE length][request
// bytes]. The method byte picks the RPC (kMethods below), the identity byte a
// development identity (x-bpm-* metadata) from kWho, or, with its high bit
// set, an identity read from the next chunk ("user\nroles\norg", printable
// ASCII only). String fields of the request spelled "@<letter>[digit]" are
// replaced by ids the server handed out earlier (i instance, t task, d
// document, c campaign, p proxy, a agency, e engagement, x external task, k
// its lock token, n incident, o outbox message), so that a few bytes reach
// real instances and tasks.
//
// Seeds: corpus/api_fuzz (written by seed_writer.cc). BPM_FUZZ_VERBOSE=1 prints
// each call's status (handy when replaying one input).
#include <cstddef>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "bpm/v1/agency.grpc.pb.h"
#include "bpm/v1/bpm.grpc.pb.h"
#include "bpm/v1/org.grpc.pb.h"
#include "core/calendar/calendar.h"
#include "core/common/clock.h"
#include "core/engine/engine.h"
#include "core/org/context.h"
#include "core/org/scope.h"
#include "core/server/agency_service.h"
#include "core/server/org_service.h"
#include "core/server/authz.h"
#include "core/server/services.h"
#include "core/store/store.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

namespace v1 = ::bpm::v1;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

constexpr int kExecsPerStore = 1000;  // then start over with a fresh database

struct Who {
  const char* user;
  const char* roles;
  const char* org;
};
// The README's identities (target-filing, the county chain, agencies, admin,
// the public), and one without x-bpm-user.
const Who kWho[] = {
    {"zhang", "unit_filer", "906017"},      {"li", "authority_reviewer", "906"},
    {"wang", "finance_reviewer", "czj"},    {"zhao", "performance_section", "czj"},
    {"chen", "unit_leader", "906017"},      {"li", "dept_reviewer", "906"},
    {"wang", "section_reviewer", "czj-jkw"}, {"qian", "perf_head", "czj"},
    {"zhao", "perf_reviewer", "czj"},       {"ag-huaxin", "agency", "ag-huaxin"},
    {"admin", "workflow_admin,org_admin", ""}, {"anon", "public", ""},
    {"", "", ""},
};

// Ids handed out by the server, by placeholder letter.
using Pools = std::map<char, std::vector<std::string>>;

char LetterOf(const std::string& type, const std::string& field) {
  if (field == "lock_token") return 'k';
  if (field != "id") return 0;
  static const std::map<std::string, char> kLetters = {
      {"Instance", 'i'}, {"Task", 't'},         {"Document", 'd'}, {"Campaign", 'c'},
      {"Proxy", 'p'},    {"Agency", 'a'},       {"Engagement", 'e'}, {"ExternalTask", 'x'},
      {"Incident", 'n'}, {"OutboxMessage", 'o'}};
  auto it = kLetters.find(type);
  return it == kLetters.end() ? 0 : it->second;
}

// Collects ids from a response (recursively).
void Learn(const Message& m, Pools* pools) {
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING && !f->is_repeated()) {
      char letter = LetterOf(d->name(), f->name());
      std::string v = r->GetString(m, f);
      if (letter != 0 && !v.empty()) {
        auto& pool = (*pools)[letter];
        if (pool.size() >= 16) pool.erase(pool.begin());
        pool.push_back(v);
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int j = 0; j < r->FieldSize(m, f) && j < 16; ++j) Learn(r->GetRepeatedMessage(m, f, j), pools);
      } else if (r->HasField(m, f)) {
        Learn(r->GetMessage(m, f), pools);
      }
    }
  }
}

std::string Resolve(const std::string& v, const Pools& pools) {
  if (v.size() < 2 || v.size() > 3 || v[0] != '@') return v;
  auto it = pools.find(v[1]);
  if (it == pools.end() || it->second.empty()) return v;
  size_t k = v.size() == 3 ? static_cast<unsigned char>(v[2]) : 0;
  // The newest first: "@t" is the task handed out last.
  return it->second[it->second.size() - 1 - k % it->second.size()];
}

// Replaces placeholders in every string field of a request (recursively).
void Substitute(Message* m, const Pools& pools, int depth = 0) {
  if (depth > 8) return;
  const auto* d = m->GetDescriptor();
  const auto* r = m->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      if (f->is_repeated()) {
        for (int j = 0; j < r->FieldSize(*m, f); ++j) {
          r->SetRepeatedString(m, f, j, Resolve(r->GetRepeatedString(*m, f, j), pools));
        }
      } else {
        std::string v = r->GetString(*m, f);
        if (!v.empty() && v[0] == '@') r->SetString(m, f, Resolve(v, pools));
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {  // maps too (Struct)
      if (f->is_repeated()) {
        for (int j = 0; j < r->FieldSize(*m, f); ++j) {
          Substitute(r->MutableRepeatedMessage(m, f, j), pools, depth + 1);
        }
      } else if (r->HasField(*m, f)) {
        Substitute(r->MutableMessage(m, f), pools, depth + 1);
      }
    }
  }
}

// Keeps one input from blocking the fuzzer (FetchAndLock long-polls up to 60 s).
void Clamp(Message* m) {
  if (auto* fetch = dynamic_cast<v1::FetchAndLockRequest*>(m)) fetch->set_long_poll_timeout_ms(0);
}

using Call = std::function<grpc::Status(grpc::ClientContext*, const std::string&, Pools*)>;

template <typename Stub, typename Req, typename Resp>
Call Rpc(Stub* stub, grpc::Status (Stub::*fn)(grpc::ClientContext*, const Req&, Resp*)) {
  return [stub, fn](grpc::ClientContext* ctx, const std::string& bytes, Pools* pools) {
    Req req;
    if (!req.ParseFromString(bytes)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "not a request");
    }
    Substitute(&req, *pools);
    Clamp(&req);
    Resp resp;
    grpc::Status s = (stub->*fn)(ctx, req, &resp);
    if (s.ok()) Learn(resp, pools);
    return s;
  };
}

struct Harness {
  std::unique_ptr<bpm::FakeClock> clock;
  bpm::plugin::Registry plugins;
  std::optional<bpm::calendar::WorkCalendar> calendar;
  std::string dir;
  std::unique_ptr<bpm::store::Store> store;
  std::unique_ptr<bpm::engine::Engine> engine;
  std::vector<std::unique_ptr<grpc::Service>> services;
  std::unique_ptr<grpc::Server> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::DefinitionService::Stub> defs;
  std::unique_ptr<v1::InstanceService::Stub> instances;
  std::unique_ptr<v1::TaskService::Stub> tasks;
  std::unique_ptr<v1::CampaignService::Stub> campaigns;
  std::unique_ptr<v1::OrgService::Stub> orgs;
  std::unique_ptr<v1::AgencyService::Stub> agencies;
  std::vector<Call> methods;
  Pools baseline;
  int execs = 0;
  bool verbose = std::getenv("BPM_FUZZ_VERBOSE") != nullptr;  // each call's status

  void Open() {
    methods.clear();
    defs.reset(); instances.reset(); tasks.reset(); campaigns.reset(); orgs.reset();
    agencies.reset();
    channel.reset();
    if (server) server->Shutdown();
    server.reset();
    services.clear();
    engine.reset();
    store.reset();
    if (!dir.empty()) bpm::fuzz::RemoveTree(dir);
    dir = bpm::fuzz::MakeScratchDir("api-fuzz");
    clock = std::make_unique<bpm::FakeClock>(1772323200000);  // 2026-03-01 08:00 China time
    auto opened = bpm::store::Store::Open("sqlite:" + dir + "/fuzz.db", 4);
    if (!opened.ok()) bpm::fuzz::Die(std::string(opened.status().message()));
    store = *std::move(opened);

    bpm::engine::EngineOptions options;
    options.due.add_days = [this](int64_t from, int n) { return calendar->AddCalendarDays(from, n); };
    options.due.add_working_days = [this](int64_t from, int n) {
      return calendar->AddWorkingDays(from, n);
    };
    bpm::store::OrgStore& org_store = store->orgs();
    options.org_resolver = [&org_store](const std::string& org, int64_t at) {
      return bpm::org::ResolveOrgContext(org_store, org, at);
    };
    // Authorization as bpmd has it: scopes from this store's org model.
    bpm::server::SetOrgScope(std::make_shared<bpm::org::Scope>(&org_store, *clock));
    options.in_scope = [](const bpm::store::Caller& caller, const std::string& org) {
      return bpm::server::InScope(caller, org);
    };
    engine = std::make_unique<bpm::engine::Engine>(*store, plugins, *clock, options);
    for (const std::string& file :
         bpm::fuzz::ListFiles(bpm::fuzz::SourceDir() + "/workflows", ".yaml")) {
      auto deployed = engine->Deploy(bpm::fuzz::ReadFileOrDie(file), file);
      if (!deployed.ok()) bpm::fuzz::Die(std::string(deployed.status().message()));
    }

    bpm::server::CommandOptions commands;
    commands.async = store->LocalReads();
    services = bpm::server::MakeServices(*engine, commands);
    bpm::engine::Engine* e = engine.get();
    services.push_back(bpm::server::MakeOrgService(
        org_store, *clock, [e](const std::vector<std::string>& codes) { (void)e->RerouteOrgs(codes); }));
    services.push_back(bpm::server::MakeAgencyService(*engine));
    grpc::ServerBuilder builder;
    builder.SetMaxReceiveMessageSize(4 * 1024 * 1024);
    for (auto& s : services) builder.RegisterService(s.get());
    server = builder.BuildAndStart();
    if (server == nullptr) bpm::fuzz::Die("cannot start the in-process server");
    channel = server->InProcessChannel(grpc::ChannelArguments());
    defs = v1::DefinitionService::NewStub(channel);
    instances = v1::InstanceService::NewStub(channel);
    tasks = v1::TaskService::NewStub(channel);
    campaigns = v1::CampaignService::NewStub(channel);
    orgs = v1::OrgService::NewStub(channel);
    agencies = v1::AgencyService::NewStub(channel);
    using DS = v1::DefinitionService::Stub;
    using IS = v1::InstanceService::Stub;
    using TS = v1::TaskService::Stub;
    using CS = v1::CampaignService::Stub;
    using OS = v1::OrgService::Stub;
    using AS = v1::AgencyService::Stub;
    methods = {
        // 0..3 definitions
        Rpc(defs.get(), &DS::Validate), Rpc(defs.get(), &DS::Deploy), Rpc(defs.get(), &DS::Get),
        Rpc(defs.get(), &DS::List),
        // 4..14 instances
        Rpc(instances.get(), &IS::Start), Rpc(instances.get(), &IS::Cancel),
        Rpc(instances.get(), &IS::Withdraw), Rpc(instances.get(), &IS::Comment),
        Rpc(instances.get(), &IS::Urge), Rpc(instances.get(), &IS::Cc),
        Rpc(instances.get(), &IS::Get), Rpc(instances.get(), &IS::List),
        Rpc(instances.get(), &IS::GetHistory), Rpc(instances.get(), &IS::ListDocuments),
        Rpc(instances.get(), &IS::GetDocument),
        // 15..25 tasks
        Rpc(tasks.get(), &TS::Inbox), Rpc(tasks.get(), &TS::Act), Rpc(tasks.get(), &TS::Claim),
        Rpc(tasks.get(), &TS::Unclaim), Rpc(tasks.get(), &TS::Transfer),
        Rpc(tasks.get(), &TS::Delegate), Rpc(tasks.get(), &TS::ResolveDelegation),
        Rpc(tasks.get(), &TS::SetProxy), Rpc(tasks.get(), &TS::ListProxies),
        Rpc(tasks.get(), &TS::RemoveProxy), Rpc(tasks.get(), &TS::ListNotifications),
        // 26..30 campaigns
        Rpc(campaigns.get(), &CS::Start), Rpc(campaigns.get(), &CS::Get),
        Rpc(campaigns.get(), &CS::List), Rpc(campaigns.get(), &CS::Urge),
        Rpc(campaigns.get(), &CS::ExtendDeadline),
        // 31..42 org model
        Rpc(orgs.get(), &OS::PutRegion), Rpc(orgs.get(), &OS::ListRegions),
        Rpc(orgs.get(), &OS::PutOrg), Rpc(orgs.get(), &OS::GetOrg), Rpc(orgs.get(), &OS::ListOrgs),
        Rpc(orgs.get(), &OS::OrgHistory), Rpc(orgs.get(), &OS::PutUser),
        Rpc(orgs.get(), &OS::GrantRole), Rpc(orgs.get(), &OS::RevokeRole),
        Rpc(orgs.get(), &OS::ListGrants), Rpc(orgs.get(), &OS::Import),
        Rpc(orgs.get(), &OS::ResolveContext),
        // 43..56 agencies
        Rpc(agencies.get(), &AS::RegisterAgency), Rpc(agencies.get(), &AS::GetAgency),
        Rpc(agencies.get(), &AS::ListAgencies), Rpc(agencies.get(), &AS::Engage),
        Rpc(agencies.get(), &AS::GetEngagement), Rpc(agencies.get(), &AS::ListEngagements),
        Rpc(agencies.get(), &AS::FetchAndLock), Rpc(agencies.get(), &AS::ExtendLock),
        Rpc(agencies.get(), &AS::Complete), Rpc(agencies.get(), &AS::ReportFailure),
        Rpc(agencies.get(), &AS::ListIncidents), Rpc(agencies.get(), &AS::ResolveIncident),
        Rpc(agencies.get(), &AS::ListOutbox), Rpc(agencies.get(), &AS::ReplayOutbox),
        // 57..65 definition aliases, diffs, graphs; administration (appended: seeds keep
        // their indices)
        Rpc(defs.get(), &DS::SetAlias), Rpc(defs.get(), &DS::Diff), Rpc(defs.get(), &DS::Graph),
        Rpc(instances.get(), &IS::Suspend), Rpc(instances.get(), &IS::Resume),
        Rpc(instances.get(), &IS::Terminate), Rpc(instances.get(), &IS::Jump),
        Rpc(defs.get(), &DS::Migrate), Rpc(instances.get(), &IS::Preview),
    };

    // The county's org model, and two instances with open tasks to act on.
    baseline.clear();
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-bpm-user", "admin");
    ctx.AddMetadata("x-bpm-roles", "org_admin");
    v1::ImportOrgsRequest import;
    import.set_text(bpm::fuzz::ReadFileOrDie(bpm::fuzz::SourceDir() + "/examples/county-org.yaml"));
    import.set_format("yaml");
    v1::ImportOrgsResponse imported;
    grpc::Status s = orgs->Import(&ctx, import, &imported);
    if (!s.ok()) bpm::fuzz::Die("org import: " + s.error_message());
    for (const char* key : {"target-filing", "project-target-county"}) {
      grpc::ClientContext start_ctx;
      Identify(&start_ctx, kWho[0]);
      v1::StartInstanceRequest start;
      start.set_definition_key(key);
      start.set_subject_ref("2026-906017-001");
      start.set_org("906017");
      v1::StartInstanceResponse started;
      s = instances->Start(&start_ctx, start, &started);
      if (!s.ok()) bpm::fuzz::Die(std::string("start ") + key + ": " + s.error_message());
      Learn(started, &baseline);
    }
  }

  static void Identify(grpc::ClientContext* ctx, const Who& who) {
    if (*who.user != '\0') ctx->AddMetadata("x-bpm-user", who.user);
    if (*who.roles != '\0') ctx->AddMetadata("x-bpm-roles", who.roles);
    if (*who.org != '\0') ctx->AddMetadata("x-bpm-org", who.org);
  }
};

Harness* g = nullptr;

// Printable ASCII only: gRPC refuses other bytes in text metadata.
std::string Printable(std::string s) {
  for (char& c : s) {
    if (c < 0x20 || c > 0x7e) c = '_';
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  bpm::fuzz::QuietProtobufLogs();
  g = new Harness();
  bpm::Status s = g->plugins.LoadDirectory(bpm::fuzz::PluginDir());
  if (!s.ok()) bpm::fuzz::Die(std::string(s.message()));
  auto calendar = bpm::calendar::WorkCalendar::LoadDirectory(bpm::fuzz::SourceDir() +
                                                             "/deploy/calendars");
  if (!calendar.ok()) bpm::fuzz::Die(std::string(calendar.status().message()));
  g->calendar = *std::move(calendar);
  g->Open();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (++g->execs % kExecsPerStore == 0) g->Open();
  bpm::fuzz::Input in(data, size);
  Pools pools = g->baseline;
  for (int calls = 0; calls < 16 && !in.empty(); ++calls) {
    uint8_t method = in.Byte();
    uint8_t who = in.Byte();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    if (who & 0x80) {
      std::string id = in.Chunk();
      size_t a = id.find('\n');
      size_t b = a == std::string::npos ? a : id.find('\n', a + 1);
      std::string user = Printable(id.substr(0, a));
      std::string roles = a == std::string::npos ? "" : Printable(id.substr(a + 1, b - a - 1));
      std::string org = b == std::string::npos ? "" : Printable(id.substr(b + 1));
      if (!user.empty()) ctx.AddMetadata("x-bpm-user", user);
      if (!roles.empty()) ctx.AddMetadata("x-bpm-roles", roles);
      if (!org.empty()) ctx.AddMetadata("x-bpm-org", org);
    } else {
      Harness::Identify(&ctx, kWho[who % (sizeof kWho / sizeof kWho[0])]);
    }
    std::string request = in.Chunk();
    auto begin = std::chrono::steady_clock::now();
    grpc::Status s = g->methods[method % g->methods.size()](&ctx, request, &pools);
    if (g->verbose) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - begin).count();
      std::fprintf(stderr, "api_fuzz: method %zu as %d (%lld us): %d %s\n",
                   method % g->methods.size(), who, static_cast<long long>(us),
                   static_cast<int>(s.error_code()), s.error_message().c_str());
    }
    // The handlers translate engine errors; a gRPC-internal code would mean a
    // handler threw or the server broke.
    if (s.error_code() == grpc::StatusCode::UNKNOWN) __builtin_trap();
    // Time passes between calls (due dates, proxies' date ranges).
    g->clock->Advance(600 * 1000);
  }
  return 0;
}
