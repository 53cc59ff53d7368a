// bpmctl's task, instance, proxy, notification and campaign operations, one
// RPC each (proto/bpm/v1/bpm.proto):
//   claim TASK_ID / unclaim TASK_ID                        认领 / 退回组
//   transfer TASK_ID USER / delegate TASK_ID USER          转办 / 委派
//   resolve TASK_ID                                        委派办结 or take back
//     (task operations: [--comment T] [--expect-version N] [--idempotency-key K])
//   cancel INSTANCE_ID --reason T                          撤销 (the initiator)
//   withdraw INSTANCE_ID [--comment T]                     撤回 (the last actor)
//   comment INSTANCE_ID TEXT
//   urge INSTANCE_ID [--comment T]                         催办
//   cc INSTANCE_ID USER... [--comment T]                   抄送
//   suspend / resume / terminate INSTANCE_ID --reason T    暂停 / 恢复 / 终止 (workflow_admin)
//   jump INSTANCE_ID STATE --reason T                      跳转 (workflow_admin)
//     (instance operations also take --expect-version and --idempotency-key)
//   proxy set PROXY_USER --to DATE [--from DATE] / proxy list [--user U] / proxy rm ID
//   notifications [--page-size N] [--page-token T] [--all]
//   campaign start KEY --title T (--org ORG)... [--orgs-file FILE] [--deadline DATE]
//            [--var K=V]... [--idempotency-key K]
//   campaign show ID / campaign list / campaign urge ID [--comment T]
//   campaign extend ID --deadline DATE
// DATE is YYYY-MM-DD or YYYY-MM-DDTHH:MM in China time (UTC+8); a bare date
// is 00:00 of that day, except for --deadline, where it is the end of the day
// (23:59:59). Operations that change an instance print it as `act` does.
// Exit codes as bpmctl's: 0 ok, 1 server error, 2 usage error.
//
// bpmctl registers these with one call that hands over its own helpers (so
// the output looks the same everywhere), and appends the result to its
// command list:
//   TaskCommands<Command, Client>(app, {PrintInstance, PrintFields, ToJson, AddPagingFlags,
//                                       PrintPageHint, ReadInput, ParseVarFlag})
// Thread safety: none needed (bpmctl is single-threaded).
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "bpm/v1/bpm.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/struct.pb.h"

namespace bpm::cli {

using FieldList = std::vector<std::pair<std::string, std::string>>;

// bpmctl's helpers, shared rather than copied. Client is bpmctl's
// per-invocation client type.
template <typename Client>
struct BpmctlHelpers {
  void (*print_instance)(const v1::Instance&);   // header, variables, open tasks
  void (*print_fields)(const FieldList&);        // "Label:  value" lines, aligned
  std::string (*to_json)(const google::protobuf::Message&);  // as --json prints it
  void (*add_paging_flags)(CLI::App*, int* page_size, std::string* page_token, bool* all);
  void (*print_page_hint)(const std::string& next_page_token);
  // Reads a file ("-": standard input); false with *error set when it cannot.
  bool (*read_file)(const std::string& path, std::string* content, std::string* error);
  // Parses "--var KEY=VALUE" into *out; reports and returns false when bad.
  bool (*parse_var)(const Client&, const std::string& var, google::protobuf::Struct* out);
};

// What the commands use of one invocation of bpmctl.
struct TaskClient {
  std::shared_ptr<grpc::Channel> channel;
  bool json = false;
  // Runs an RPC with identity metadata and deadline; on failure prints
  // "bpmctl: COMMAND: CODE: message" and returns false.
  std::function<bool(const std::function<grpc::Status(grpc::ClientContext*)>&)> call;
  std::function<bool(const std::string& var, google::protobuf::Struct* out)> parse_var;
};

// The helpers that do not depend on the client type.
struct TaskOutput {
  void (*print_instance)(const v1::Instance&);
  void (*print_fields)(const FieldList&);
  std::string (*to_json)(const google::protobuf::Message&);
  void (*add_paging_flags)(CLI::App*, int*, std::string*, bool*);
  void (*print_page_hint)(const std::string&);
  bool (*read_file)(const std::string&, std::string*, std::string*);
};

// One top-level subcommand declared on app, and what runs it when parsed.
struct TaskCommand {
  CLI::App* app;
  std::function<int(const TaskClient&)> run;
};
std::vector<TaskCommand> AddTaskCommands(CLI::App& app, const TaskOutput& output);

// AddTaskCommands as bpmctl's commands: Command is bpmctl's {app, run} pair,
// whose run takes its Client (channel(), json(), Call(rpc)).
template <typename Command, typename Client>
std::vector<Command> TaskCommands(CLI::App& app, const BpmctlHelpers<Client>& helpers) {
  const TaskOutput output{helpers.print_instance, helpers.print_fields, helpers.to_json,
                          helpers.add_paging_flags, helpers.print_page_hint, helpers.read_file};
  std::vector<Command> commands;
  for (TaskCommand& command : AddTaskCommands(app, output)) {
    commands.push_back(Command{
        command.app, [run = std::move(command.run), parse_var = helpers.parse_var](
                         const Client& client) {
          TaskClient c;
          c.channel = client.channel();
          c.json = client.json();
          c.call = [&client](const std::function<grpc::Status(grpc::ClientContext*)>& rpc) {
            return client.Call(rpc);
          };
          c.parse_var = [&client, parse_var](const std::string& var,
                                             google::protobuf::Struct* out) {
            return parse_var(client, var, out);
          };
          return run(c);
        }});
  }
  return commands;
}

}  // namespace bpm::cli
