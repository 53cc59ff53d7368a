// bpmd — the bpm workflow server.
//
// Start-up is all or nothing ("startup errors are fatal"): it opens the store
// and applies migrations, loads every stage plugin from the plugin
// directories, deploys every workflow YAML of the workflow directories
// (identical content keeps its version), and only then listens. Any error is
// printed with its file/line and bpmd exits non-zero.
//
// Stops cleanly on SIGINT/SIGTERM: in-flight calls finish, then it exits 0.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <optional>
#include <thread>

#include <unistd.h>

#include "absl/synchronization/mutex.h"
#include "core/calendar/calendar.h"
#include "core/common/clock.h"
#include "core/engine/engine.h"
#include "core/org/context.h"
#include "core/plugin/loader.h"
#include "core/plugin/remote.h"
#include "core/scheduler/outbox.h"
#include "core/scheduler/scheduler.h"
#include "core/common/util.h"
#include "core/server/access_log.h"
#include "core/server/agency_service.h"
#include "core/server/identity.h"
#include "core/server/tls.h"
#include "core/server/org_service.h"
#include "core/server/services.h"
#include "core/server/workflow_dirs.h"
#include "core/store/store.h"

namespace {

int Fail(const std::string& message) {
  std::cerr << "bpmd: " << message << std::endl;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // gRPC's mutexes are absl::Mutex; Debian's absl keeps deadlock detection
  // on, which maintained a lock graph on every lock (a few % of a command).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"bpmd — budget performance management workflow server"};
  std::string listen = "127.0.0.1:7411";
  std::string store_url = "sqlite:data/bpm.db";
  std::vector<std::string> workflow_dirs;
  std::vector<std::string> plugin_dirs;
  std::string port_file;
  bool dev_identity = false;
  bool definition_approval = false;
  bool sync_commands = false;
  int pool = 8;
  size_t max_payload = 64 * 1024;
  std::string calendar_dir;
  std::string test_clock_file;
  int tick_ms = 500;
  int watch_seconds = 0;
  app.add_option("--listen", listen, "address:port to listen on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--store", store_url, "sqlite:PATH or mysql://USER:PASSWORD@HOST:PORT/DB")
      ->capture_default_str()
      ->envname("BPM_STORE");
  app.add_option("--workflows", workflow_dirs, "directory of workflow YAML files to deploy at start");
  app.add_option("--watch-workflows", watch_seconds,
                 "every SECONDS, deploy --workflows files whose content changed (0: off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));
  app.add_option("--plugins", plugin_dirs, "directory of stage plugin .so files (repeatable)")
      ->required();
  std::vector<std::string> remote_plugins;
  std::string jwt_secret_file;
  std::string jwt_public_key_file;
  bpm::server::TokenConfig jwt;
  app.add_option("--jwt-hs256-secret-file", jwt_secret_file,
                 "authenticate callers by HS256 tokens signed with the secret in this file");
  app.add_option("--jwt-public-key-file", jwt_public_key_file,
                 "authenticate callers by RS256/ES256 tokens (PEM public key; --jwt-algorithm)");
  app.add_option("--jwt-algorithm", jwt.algorithm, "RS256 or ES256, with --jwt-public-key-file");
  app.add_option("--jwt-audience", jwt.audience, "the audience tokens must name")
      ->capture_default_str();
  app.add_option("--jwt-issuer", jwt.issuer, "the issuer tokens must name (default: any)");
  app.add_option("--jwt-leeway-seconds", jwt.leeway_seconds, "clock skew allowed on exp/nbf")
      ->capture_default_str();
  bpm::server::TlsConfig tls;
  std::string tls_identities;
  app.add_option("--tls-cert", tls.cert_file, "serve TLS with this certificate (PEM)");
  app.add_option("--tls-key", tls.key_file, "... and this private key (PEM)");
  app.add_option("--tls-client-ca", tls.client_ca_file,
                 "verify client certificates against this CA (mutual TLS)");
  app.add_option("--tls-identities", tls_identities,
                 "YAML mapping client certificate CNs to identities, and revoked fingerprints");
  app.add_flag("--allow-plaintext", tls.allow_plaintext,
               "serve without TLS on a non-loopback address (not recommended)");
  std::string access_log;
  app.add_option("--access-log", access_log,
                 "append one line per call (time, peer, user, method, status) to FILE ('-': stdout)");
  double rate_limit = 0;
  app.add_option("--rate-limit", rate_limit,
                 "calls per second allowed to each identity, bursts of twice that (0: off)");
  std::string plugin_pins_file;
  app.add_option("--plugin-sha256", plugin_pins_file,
                 "pin file (`sha256sum *.so` output): load only plugins listed with that hash");
  app.add_option("--remote-plugin", remote_plugins,
                 "out-of-process stage plugin at ADDRESS (host:port), or NAME=ADDRESS to insist "
                 "on its stage name (repeatable)");
  app.add_option("--port-file", port_file, "write the port actually bound to this file");
  app.add_flag("--dev-identity", dev_identity,
               "DEVELOPMENT ONLY: trust the identity callers send in x-bpm-* metadata");
  app.add_flag("--definition-approval", definition_approval,
               "governance: a deploy or a move of a definition's \"current\" waits for a "
               "second workflow_admin's approval (workflow bpm-definition-change)");
  app.add_flag("--sync-commands", sync_commands,
               "serve Start and Act on the sync API (for comparisons)");
  app.add_option("--db-pool", pool, "database sessions")->capture_default_str();
  size_t instance_cache = bpm::store::kDefaultInstanceCache;
  app.add_option("--instance-cache", instance_cache,
                 "recently used instances kept in memory for the next command on them "
                 "(0: none)")
      ->capture_default_str();
  int max_inflight = 1000;
  app.add_option("--max-inflight-commands", max_inflight,
                 "Start and Act calls accepted and not yet answered, at most; more are "
                 "answered RESOURCE_EXHAUSTED at once (0: no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  int max_rpc_threads = 128;
  app.add_option("--max-rpc-threads", max_rpc_threads,
                 "threads serving the calls other than Start and Act (all calls with "
                 "--sync-commands), at most; a call that finds them all busy is answered "
                 "RESOURCE_EXHAUSTED (\"Server Threadpool Exhausted\") at once")
      ->capture_default_str()
      ->check(CLI::Range(4, 100000));
  int max_rpc_memory_mb = 256;
  app.add_option("--max-rpc-memory", max_rpc_memory_mb,
                 "MiB that gRPC may hold for connections and calls being received; past it, "
                 "calls are refused (RESOURCE_EXHAUSTED) instead of buffered")
      ->capture_default_str()
      ->check(CLI::Range(16, 1 << 20));
  app.add_option("--max-payload-bytes", max_payload, "largest action payload accepted")
      ->capture_default_str();
  app.add_option("--calendars", calendar_dir,
                 "directory of PRC working-day calendars cn-YYYY.yaml (deploy/calendars)");
  app.add_option("--tick-ms", tick_ms, "how often due timers are looked for")
      ->capture_default_str();
  app.add_option("--test-clock-file", test_clock_file,
                 "TESTS ONLY: read the current time (Unix ms) from this file");
  CLI11_PARSE(app, argc, argv);

  const bool tokens = !jwt_secret_file.empty() || !jwt_public_key_file.empty();
  if (tokens == dev_identity) {
    return Fail(
        tokens ? "--dev-identity and --jwt-* exclude each other: choose one"
               : "no authentication is configured. Give --jwt-hs256-secret-file or "
                 "--jwt-public-key-file (signed tokens), or --dev-identity to trust the "
                 "x-bpm-user/x-bpm-roles/x-bpm-org metadata callers send (development only)");
  }
  if (tokens) {
    if (!jwt_secret_file.empty() && !jwt_public_key_file.empty()) {
      return Fail("give one of --jwt-hs256-secret-file and --jwt-public-key-file");
    }
    const std::string& key_file = jwt_secret_file.empty() ? jwt_public_key_file : jwt_secret_file;
    auto key = bpm::ReadWholeFile(key_file);
    if (!key.ok()) return Fail(std::string(key.status().message()));
    jwt.key = *std::move(key);
    if (!jwt_secret_file.empty()) {
      if (!jwt.algorithm.empty() && jwt.algorithm != "HS256") {
        return Fail("--jwt-algorithm " + jwt.algorithm + " does not go with a secret file");
      }
      jwt.algorithm = "HS256";
      while (!jwt.key.empty() && (jwt.key.back() == '\n' || jwt.key.back() == '\r')) {
        jwt.key.pop_back();
      }
    } else if (jwt.algorithm.empty()) {
      return Fail("--jwt-public-key-file needs --jwt-algorithm RS256 or ES256");
    }
    auto verifier = bpm::server::TokenVerifier::Create(jwt);
    if (!verifier.ok()) return Fail(key_file + ": " + std::string(verifier.status().message()));
    bpm::server::SetTokenVerifier(*std::move(verifier));
  }

  // Block the stop signals in every thread; one thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  bpm::server::SetRateLimit(rate_limit);
  if (!tls_identities.empty()) {
    if (tls.client_ca_file.empty()) return Fail("--tls-identities needs --tls-client-ca");
    auto ids = bpm::server::CertIdentities::Load(tls_identities);
    if (!ids.ok()) return Fail(std::string(ids.status().message()));
    bpm::server::SetCertIdentities(*std::move(ids));
  }
  auto store = bpm::store::Store::Open(store_url, pool, instance_cache, /*require_durable=*/true);
  if (!store.ok()) return Fail(std::string(store.status().message()));

  bpm::plugin::Registry plugins;
  std::optional<bpm::plugin::PluginPins> pins;
  if (!plugin_pins_file.empty()) {
    auto read = bpm::plugin::ReadPluginPins(plugin_pins_file);
    if (!read.ok()) return Fail(std::string(read.status().message()));
    pins = *std::move(read);
  }
  for (const auto& dir : plugin_dirs) {
    auto s = plugins.LoadDirectory(dir, pins ? &*pins : nullptr);
    if (!s.ok()) return Fail(std::string(s.message()));
  }
  for (const auto& name : plugins.Names()) {
    const auto* stage = plugins.Find(name);
    std::cout << "bpmd: stage plugin " << name << " " << stage->description().version() << " from "
              << stage->origin() << " (" << stage->transport() << ")" << std::endl;
  }
  // Remote plugins join the same registry, so a stage name taken by a loaded
  // plugin is refused the same way. Each must answer at start.
  for (const auto& spec : remote_plugins) {
    bpm::plugin::RemoteStageOptions remote;
    size_t eq = spec.find('=');
    if (eq != std::string::npos) {
      remote.expected_name = spec.substr(0, eq);
      remote.address = spec.substr(eq + 1);
      if (remote.expected_name.empty()) {
        return Fail("--remote-plugin " + spec + ": expected NAME=ADDRESS");
      }
    } else {
      remote.address = spec;
    }
    if (remote.address.empty()) return Fail("--remote-plugin " + spec + ": missing ADDRESS");
    remote.on_health_change = [address = remote.address](bool healthy, const std::string& detail) {
      std::cout << "bpmd: remote stage plugin at " << address
                << (healthy ? " is healthy again: " : " is UNHEALTHY: ") << detail << std::endl;
    };
    auto stage = bpm::plugin::ConnectRemoteStage(remote);
    if (!stage.ok()) return Fail(std::string(stage.status().message()));
    std::string name = (*stage)->description().name();
    std::string version = (*stage)->description().version();
    auto added = plugins.Add(*std::move(stage));
    if (!added.ok()) return Fail(std::string(added.message()));
    std::cout << "bpmd: remote stage plugin " << name << " " << version << " at " << remote.address
              << std::endl;
  }

  std::unique_ptr<bpm::Clock> clock = std::make_unique<bpm::SystemClock>();
  if (!test_clock_file.empty()) {
    clock = std::make_unique<bpm::FileClock>(test_clock_file);
    std::cout << "bpmd: TEST CLOCK: the time is read from " << test_clock_file << std::endl;
  }
  // Start and Act answer from the commit thread (see services.h). On MariaDB,
  // whose reads are round trips, the commands are prepared on a queue with as
  // many threads as database sessions; the engine's follow-up reads of async
  // commands run there too.
  bpm::server::CommandOptions commands;
  commands.async = !sync_commands;
  commands.max_inflight = max_inflight;
  std::unique_ptr<bpm::WorkQueue> command_queue;
  if (commands.async && !(*store)->LocalReads()) {
    command_queue = std::make_unique<bpm::WorkQueue>(pool, "bpm-command");
    commands.queue = command_queue.get();
  }
  bpm::engine::EngineOptions options;
  options.max_payload_bytes = max_payload;
  if (command_queue) {
    options.run_blocking = [queue = command_queue.get()](std::function<void()> work) {
      queue->Post(std::move(work));
    };
  }
  options.definition_approval = definition_approval;
  std::optional<bpm::calendar::WorkCalendar> calendar;
  if (!calendar_dir.empty()) {
    auto loaded = bpm::calendar::WorkCalendar::LoadDirectory(calendar_dir);
    if (!loaded.ok()) return Fail(std::string(loaded.status().message()));
    calendar = *std::move(loaded);
    for (const auto& y : calendar->Years()) {
      std::cout << "bpmd: working-day calendar " << y.year << " ("
                << bpm::calendar::YearStatusName(y.status) << ") from " << y.file << std::endl;
      if (y.status == bpm::calendar::YearStatus::kProvisional) {
        std::cout << "bpmd: WARNING: calendar " << y.year
                  << " is provisional: replace it when the State Council publishes the year's "
                     "holiday notice"
                  << std::endl;
      }
    }
    options.due.add_days = [&calendar](int64_t from, int n) {
      return calendar->AddCalendarDays(from, n);
    };
    options.due.add_working_days = [&calendar](int64_t from, int n) {
      return calendar->AddWorkingDays(from, n);
    };
  }
  bpm::store::OrgStore& orgs = (*store)->orgs();
  bpm::org::OrgContextCache org_contexts(orgs);
  auto org_scope = std::make_shared<bpm::org::Scope>(&orgs, *clock);
  bpm::server::SetOrgScope(org_scope);
  options.in_scope = [](const bpm::store::Caller& caller, const std::string& org) {
    return bpm::server::InScope(caller, org);
  };
  options.org_resolver = [&org_contexts](const std::string& org, int64_t at) {
    return org_contexts.Resolve(org, at);
  };
  bpm::engine::Engine engine(**store, plugins, *clock, options);
  if (auto s = engine.StartGovernance(); !s.ok()) {
    return Fail("--definition-approval: " + std::string(s.message()));
  }
  if (definition_approval) {
    std::cout << "bpmd: definition changes need a second workflow_admin's approval "
                 "(workflow bpm-definition-change)"
              << std::endl;
  }
  bpm::server::WorkflowDirs workflows(engine, workflow_dirs, std::cout);
  if (auto s = workflows.DeployAll(); !s.ok()) return Fail(std::string(s.message()));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  auto credentials = bpm::server::ServerCredentialsFor(listen, tls);
  if (!credentials.ok()) return Fail(std::string(credentials.status().message()));
  builder.AddListeningPort(listen, *credentials, &port);
  if (!access_log.empty()) {
    auto log = bpm::server::NewAccessLog(access_log);
    if (!log.ok()) return Fail(std::string(log.status().message()));
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(*std::move(log));
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  builder.SetMaxReceiveMessageSize(4 * 1024 * 1024);
  // The sync server keeps at most MAX_POLLERS idle threads; with gRPC's
  // default (2) every burst of concurrent calls created and destroyed
  // threads, which cost more than the calls. Idle threads only sleep.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              std::min(64, max_rpc_threads / 2));
  // Without a quota gRPC starts a thread for every sync call in progress:
  // calls that wait (on a database lock, on the session pool) would pile up
  // threads, and their memory, without bound. With it, a call finding every
  // thread busy is refused at once, as --max-inflight-commands does for
  // Start and Act. Its memory bound covers what gRPC buffers before any
  // handler sees a call: without it a burst of calls near the 4 MiB message
  // cap, each refused by its handler, was first received whole, all at once
  // (LimitsTest: 256 of them took bpmd from 32 to 545 MiB).
  grpc::ResourceQuota quota("bpmd-rpc");
  quota.SetMaxThreads(max_rpc_threads);
  quota.Resize(static_cast<size_t>(max_rpc_memory_mb) << 20);
  builder.SetResourceQuota(quota);
  auto services = bpm::server::MakeServices(engine, commands);
  services.push_back(bpm::server::MakeOrgService(
      orgs, *clock, [&engine](const std::vector<std::string>& codes) {
        auto n = engine.RerouteOrgs(codes);
        if (!n.ok()) {
          std::cerr << "bpmd: re-route after an org change: " << n.status() << std::endl;
        } else if (*n > 0) {
          std::cout << "bpmd: re-routed " << *n << " instances after an org change" << std::endl;
        }
      }));
  services.push_back(bpm::server::MakeAgencyService(engine));
  for (auto& s : services) builder.RegisterService(s.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) return Fail("cannot listen on " + listen);

  std::string host = listen.substr(0, listen.rfind(':'));
  std::string address = host + ":" + std::to_string(port);
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << port << "\n";
    std::filesystem::rename(tmp, port_file);
  }
  std::cout << "bpmd " << BPM_VERSION << ": listening on " << address << " (store "
            << (*store)->dialect() << ", " << plugins.Names().size() << " stage plugins)\n";
  if (tokens) {
    std::cout << "bpmd: callers authenticate with " << jwt.algorithm << " tokens (audience "
              << jwt.audience << (jwt.issuer.empty() ? "" : ", issuer " + jwt.issuer) << ")"
              << std::endl;
  } else {
    std::cout << "bpmd: DEVELOPMENT IDENTITY MODE: callers name themselves with x-bpm-user/"
                 "x-bpm-roles/x-bpm-org; do not expose this server\n"
              << "bpmd: try: BPM_SERVER=" << address
              << " BPM_USER=zhang build/bin/bpmctl defs   (README: the walkthrough)" << std::endl;
  }

  bpm::scheduler::SchedulerOptions sched_options;
  sched_options.tick_ms = tick_ms;
  char hostname[256] = {0};
  gethostname(hostname, sizeof hostname - 1);
  sched_options.owner = std::string(hostname) + ":" + std::to_string(getpid());
  bpm::scheduler::OutboxDeliverer outbox((*store)->agencies(), *clock);
  sched_options.jobs.push_back([&outbox]() {
    auto n = outbox.Deliver(50);
    if (!n.ok()) std::cerr << "bpmd: outbox: " << n.status() << std::endl;
  });
  bpm::scheduler::Scheduler scheduler(engine, *clock, sched_options);
  scheduler.Start();
  if (watch_seconds > 0 && !workflow_dirs.empty()) {
    workflows.Watch(std::chrono::seconds(watch_seconds));
    std::cout << "bpmd: watching the workflow directories every " << watch_seconds << " s"
              << std::endl;
  }

  std::thread waiter([&]() {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::cout << "bpmd: signal " << sig << ", shutting down" << std::endl;
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  });
  server->Wait();
  waiter.join();
  workflows.Stop();
  scheduler.Stop();
  // Commits still queued answer their calls from the commit thread: let them
  // finish before the server (destroyed on return) goes away.
  (*store)->Quiesce();
  // Likewise the command threads: joined here, their last calls into the
  // server are over before it is destroyed.
  command_queue.reset();
  return 0;
}
