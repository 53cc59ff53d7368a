// bpmctl's third-party agency (第三方机构) commands, one RPC of
// bpm.v1.AgencyService (proto/bpm/v1/agency.proto) each:
//   agency register ID --name N --credit-code C --type T [--endpoint HOST:PORT]
//                  [--related ORG]... [--violations] [--status active|suspended]
//   agency list / agency show ID
//   agency engage AGENCY --purpose P --mode independent|assist --commissioner ORG
//                 --subject REF --subject-org ORG [--amount N] [--start DATE]
//                 [--end DATE] [--lead NAME] [--sheet FILE.yaml]
//   agency engagements [--agency A] [--subject S] / agency engagement ID
//   agency fetch --topic T... [--lock-ms N] [--wait-ms N] [--max N] [--worker W]
//   agency complete TASK_ID --token T --deliverable FILE.json   (bpm.v1.Deliverable)
//   agency fail TASK_ID --token T --error TEXT [--backoff-ms N]
//   agency extend TASK_ID --token T [--lock-ms N]
//   incidents [--all]
//   incident resolve ID retry|reassign|cancel [--engagement E] [--comment C]
//   outbox [--status pending|delivered|dead] / outbox replay ID
// The fetch/complete/fail/extend commands speak for an agency: call them with
// --roles agency --org AGENCY_ID (or BPM_ROLES/BPM_ORG). The indicator sheet
// file is YAML (see AddAgencyCommands in the .cc and
// examples/key-evaluation-sheet.yaml):
//   indicators:
//     - {code: A1, level1: 决策, level2: 项目立项, name: 立项依据充分性, weight: 5}
// DATE is YYYY-MM-DD. Exit codes as bpmctl's: 0 ok, 1 server error, 2 usage.
//
// bpmctl registers these by appending them to its command list:
//   for (Command& c : AgencyCommands<Command>(app)) commands.push_back(std::move(c));
// Thread safety: none needed (bpmctl is single-threaded).
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "bpm/v1/agency.pb.h"

namespace bpm::cli {

// What the agency commands use of bpmctl's per-invocation client.
struct AgencyClient {
  std::shared_ptr<grpc::Channel> channel;
  bool json = false;
  // Runs an RPC with identity metadata and deadline; on failure prints
  // "bpmctl: COMMAND: CODE: message" and returns false.
  std::function<bool(const std::function<grpc::Status(grpc::ClientContext*)>&)> call;
};

// One top-level subcommand (agency, incidents, incident, outbox) declared on
// app, and what runs it when parsed, returning the exit code.
struct AgencyCommand {
  CLI::App* app;
  std::function<int(const AgencyClient&)> run;
};
std::vector<AgencyCommand> AddAgencyCommands(CLI::App& app);

// The indicator sheet of a YAML file's text (`indicators:` a list of
// {code, level1, level2, name, weight}); false with *error set to
// "FILE:LINE:COL: message" when malformed. The server checks the weights.
bool ParseSheetYaml(const std::string& text, const std::string& file, v1::IndicatorSheet* sheet,
                    std::string* error);

// AddAgencyCommands as bpmctl's commands: Command is bpmctl's {app, run}
// pair, whose run takes its Client (channel(), json(), Call(rpc)).
template <typename Command>
std::vector<Command> AgencyCommands(CLI::App& app) {
  std::vector<Command> commands;
  for (AgencyCommand& command : AddAgencyCommands(app)) {
    commands.push_back(Command{command.app, [run = std::move(command.run)](const auto& client) {
                                 AgencyClient c;
                                 c.channel = client.channel();
                                 c.json = client.json();
                                 c.call = [&client](const std::function<grpc::Status(
                                                        grpc::ClientContext*)>& rpc) {
                                   return client.Call(rpc);
                                 };
                                 return run(c);
                               }});
  }
  return commands;
}

}  // namespace bpm::cli
