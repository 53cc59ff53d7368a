// bpmctl org ...: the org-model subcommands of bpmctl, one per OrgService
// RPC (proto/bpm/v1/org.proto):
//   org import FILE [--format yaml|csv] [--dry-run]
//   org show CODE [--as-of DATE]      the org, its resolved context, its grants
//   org list [--parent X] [--kind K] [--region R] [--as-of DATE]
//   org tree [ROOT] [--as-of DATE]    the org tree, indented
//   org history CODE                  every version of an org
//   org user add ID NAME
//   org grant USER ROLE ORG [--from DATE] [--to DATE]
//   org revoke USER ROLE ORG [--at DATE]
//   org grants [--org O] [--user U] [--as-of DATE] [--history]
// DATE is YYYY-MM-DD in China time (UTC+8); times print the same way.
// Exit codes as bpmctl's: 0 ok, 1 server error, 2 usage error.
//
// bpmctl registers the group with one expression in its command list:
//   OrgCommand<Command>(app)
// Thread safety: none needed (bpmctl is single-threaded).
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"

namespace bpm::cli {

// What the org commands use of bpmctl's per-invocation client.
struct OrgClient {
  std::shared_ptr<grpc::Channel> channel;
  bool json = false;
  // Runs an RPC with identity metadata and deadline; on failure prints
  // "bpmctl: COMMAND: CODE: message" and returns false.
  std::function<bool(const std::function<grpc::Status(grpc::ClientContext*)>&)> call;
};

// The `org` subcommand (with its own subcommands) declared on app, and the
// function that runs whichever of them was parsed, returning the exit code.
struct OrgCommands {
  CLI::App* app;
  std::function<int(const OrgClient&)> run;
};
OrgCommands AddOrgCommands(CLI::App& app);

// AddOrgCommands as one of bpmctl's commands: Command is bpmctl's {app, run}
// pair, whose run takes its Client (anything with channel(), json() and
// Call(rpc)).
template <typename Command>
Command OrgCommand(CLI::App& app) {
  OrgCommands org = AddOrgCommands(app);
  return Command{
      org.app, [run = org.run](const auto& client) {
        OrgClient c;
        c.channel = client.channel();
        c.json = client.json();
        c.call = [&client](const std::function<grpc::Status(grpc::ClientContext*)>& rpc) {
          return client.Call(rpc);
        };
        return run(c);
      }};
}

}  // namespace bpm::cli
