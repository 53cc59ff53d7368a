// bpmctl: the command-line client of bpmd. Each subcommand maps to one RPC of
// the public API (proto/bpm/v1/bpm.proto) or of grpc.health.v1, sent with the
// caller's development-mode identity as metadata (x-bpm-user, x-bpm-roles,
// x-bpm-org) and a deadline. Results print as tables for people, or with
// --json as one JSON document for scripts.
//
// Exit codes: 0 success; 1 the server answered with an error (including
// UNAVAILABLE when it cannot be reached), a definition is invalid, or the
// server is not SERVING; 2 usage errors (bad flags, bad JSON, unreadable
// files). `validate` also exits 2 when it could not check a file at all.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "bpm/v1/bpm.grpc.pb.h"
#include "bpm/v1/perf.grpc.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "core/cli/agency_commands.h"
#include "core/cli/report_output.h"
#include "core/cli/audit_commands.h"
#include "core/cli/org_commands.h"
#include "core/cli/output.h"
#include "core/cli/task_commands.h"

namespace bpm::cli {
namespace {

namespace pb = google::protobuf;
namespace health = grpc::health::v1;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Debian's Abseil keeps its own string_view; output.h uses the std one.
constexpr size_t kNotFound = std::string_view::npos;

// ---- Plumbing -------------------------------------------------------------

struct GlobalOptions {
  std::string server = "127.0.0.1:7411";
  std::string user;
  std::string roles;
  std::string org;
  std::string token_file;  // a signed token (JWT), sent as "authorization: Bearer ..."
  std::string token;       // its contents, read by CheckGlobalOptions
  std::string tls_ca_file, tls_cert_file, tls_key_file;  // TLS: server CA; client cert, key
  std::string tls_ca, tls_cert, tls_key;                 // their contents
  double timeout_seconds = 10;
  bool json = false;
};

// Prints "bpmctl: COMMAND: MESSAGE" to stderr.
void PrintError(absl::string_view command, absl::string_view message) {
  std::cerr << "bpmctl: " << command << ": " << message << '\n';
}

absl::string_view StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN_CODE";
  }
}

// The channel and identity of one invocation. Every RPC goes through Call.
class Client {
 public:
  Client(const GlobalOptions& options, std::string command)
      : options_(options), command_(std::move(command)) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);  // documents may be large
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
    if (!options_.tls_ca.empty()) {
      grpc::SslCredentialsOptions tls;
      tls.pem_root_certs = options_.tls_ca;
      tls.pem_private_key = options_.tls_key;
      tls.pem_cert_chain = options_.tls_cert;
      credentials = grpc::SslCredentials(tls);
    }
    channel_ = grpc::CreateCustomChannel(options_.server, credentials, args);
  }

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  const std::string& command() const { return command_; }
  bool json() const { return options_.json; }

  // Runs `rpc` with the identity metadata and the deadline set on its
  // context. On failure prints "bpmctl: COMMAND: CODE: message" to stderr
  // and returns false.
  bool Call(const std::function<grpc::Status(grpc::ClientContext*)>& rpc) const {
    grpc::ClientContext context;
    if (!options_.token.empty()) context.AddMetadata("authorization", "Bearer " + options_.token);
    if (!options_.user.empty()) context.AddMetadata("x-bpm-user", options_.user);
    if (!options_.roles.empty()) context.AddMetadata("x-bpm-roles", options_.roles);
    if (!options_.org.empty()) context.AddMetadata("x-bpm-org", options_.org);
    const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::duration<double>(options_.timeout_seconds));
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    const grpc::Status status = rpc(&context);
    if (status.ok()) return true;
    std::string message(StatusCodeName(status.error_code()));
    if (!status.error_message().empty()) absl::StrAppend(&message, ": ", status.error_message());
    PrintError(command_, message);
    return false;
  }

 private:
  GlobalOptions options_;
  std::string command_;
  std::shared_ptr<grpc::Channel> channel_;
};


// Protobuf strings must be UTF-8, so a definition file in another encoding
// (GBK is common) is caught here. Returns false and fills *diagnostic with the
// position of the first bad byte if `text` is not UTF-8.
bool CheckUtf8(const std::string& text, const std::string& file, v1::Diagnostic* diagnostic) {
  const size_t bad = FindInvalidUtf8(text);
  if (bad == kNotFound) return true;
  const size_t line_end = bad == 0 ? kNotFound : text.rfind('\n', bad - 1);
  diagnostic->set_file(file);
  diagnostic->set_line(1 + static_cast<int>(std::count(text.begin(), text.begin() + bad, '\n')));
  diagnostic->set_column(static_cast<int>(line_end == kNotFound ? bad + 1 : bad - line_end));
  diagnostic->set_message("not valid UTF-8 (convert the file, e.g. iconv -f GBK -t UTF-8)");
  return false;
}

// "FILE:LINE:COL: message", like a compiler; `file` if the diagnostic has none.
std::string FormatDiagnostic(const v1::Diagnostic& diagnostic, const std::string& file) {
  std::string text = diagnostic.file().empty() ? file : diagnostic.file();
  if (diagnostic.line() > 0) absl::StrAppend(&text, ":", diagnostic.line());
  if (diagnostic.line() > 0 && diagnostic.column() > 0) {
    absl::StrAppend(&text, ":", diagnostic.column());
  }
  absl::StrAppend(&text, ": ", diagnostic.message());
  if (!diagnostic.hint().empty()) absl::StrAppend(&text, "\n  hint: ", diagnostic.hint());
  return text;
}

// The definitions a template's new current version rebuilt (or could not).
void PrintDerived(const google::protobuf::RepeatedPtrField<v1::DerivedDeploy>& derived) {
  for (const v1::DerivedDeploy& d : derived) {
    if (d.version() > 0) {
      std::cout << "  rebuilt " << d.key() << " on it: version " << d.version()
                << "; current: " << d.version() << " (was " << d.previous_version() << ")\n";
    } else {
      std::cout << "  " << d.key() << " stays on version " << d.previous_version() << ": "
                << absl::StrReplaceAll(d.error(), {{"\n", "\n    "}}) << '\n';
    }
  }
}

// ---- JSON -----------------------------------------------------------------


// Indents every line but the first by one level, to nest JSON text.
std::string Nest(absl::string_view json, int levels = 1) {
  return absl::StrReplaceAll(json, {{"\n", "\n" + std::string(2 * levels, ' ')}});
}

void AppendJsonString(absl::string_view text, std::string* out) {
  out->push_back('"');
  for (const char ch : text) {
    switch (ch) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          char escape[8];
          std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(ch));
          out->append(escape);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

// Pretty JSON for a Value with object keys sorted, so people see variables
// in a stable order (protobuf's printer keeps map order, which is not).
void AppendPrettyJson(const pb::Value& value, int indent, std::string* out) {
  const std::string pad(2 * (indent + 1), ' ');
  const std::string close_pad(2 * indent, ' ');
  switch (value.kind_case()) {
    case pb::Value::kNumberValue: {
      const double number = value.number_value();
      if (!std::isfinite(number)) {
        out->append("null");
        break;
      }
      char buffer[32];
      const auto result = std::to_chars(buffer, buffer + sizeof buffer, number);
      out->append(buffer, result.ptr);
      break;
    }
    case pb::Value::kStringValue:
      AppendJsonString(value.string_value(), out);
      break;
    case pb::Value::kBoolValue:
      out->append(value.bool_value() ? "true" : "false");
      break;
    case pb::Value::kStructValue: {
      const auto& fields = value.struct_value().fields();
      if (fields.empty()) {
        out->append("{}");
        break;
      }
      std::vector<const pb::Map<std::string, pb::Value>::value_type*> entries;
      for (const auto& entry : fields) entries.push_back(&entry);
      std::sort(entries.begin(), entries.end(),
                [](const auto* a, const auto* b) { return a->first < b->first; });
      out->append("{\n");
      for (size_t i = 0; i < entries.size(); ++i) {
        out->append(pad);
        AppendJsonString(entries[i]->first, out);
        out->append(": ");
        AppendPrettyJson(entries[i]->second, indent + 1, out);
        out->append(i + 1 < entries.size() ? ",\n" : "\n");
      }
      out->append(close_pad + "}");
      break;
    }
    case pb::Value::kListValue: {
      const auto& values = value.list_value().values();
      if (values.empty()) {
        out->append("[]");
        break;
      }
      out->append("[\n");
      for (int i = 0; i < values.size(); ++i) {
        out->append(pad);
        AppendPrettyJson(values[i], indent + 1, out);
        out->append(i + 1 < values.size() ? ",\n" : "\n");
      }
      out->append(close_pad + "]");
      break;
    }
    default:  // kNullValue, or unset
      out->append("null");
  }
}

std::string PrettyJson(const pb::Struct& object) {
  pb::Value value;
  *value.mutable_struct_value() = object;
  std::string out;
  AppendPrettyJson(value, 0, &out);
  return out;
}

// Parses the value of a JSON-object flag, given inline or as @FILE (@- for
// standard input). On failure prints "bpmctl: COMMAND: FLAG: …".
bool ParseStructFlag(const Client& client, absl::string_view flag, const std::string& value,
                     pb::Struct* out) {
  std::string json = value;
  if (!value.empty() && value[0] == '@') {
    std::string error;
    if (!ReadInput(value.substr(1), &json, &error)) {
      PrintError(client.command(), absl::StrCat(flag, ": ", error));
      return false;
    }
  }
  const auto status = pb::util::JsonStringToMessage(json, out);
  if (!status.ok()) {
    std::string message = status.message().ToString();
    if (absl::StrContains(message, "Root element must be a message")) {
      message = "expected a JSON object {...}";
    }
    PrintError(client.command(),
               absl::StrCat(flag, ": invalid JSON: ", absl::StripLeadingAsciiWhitespace(
                                                          absl::StripPrefix(message, ":"))));
    return false;
  }
  return true;
}

// Parses "--var KEY=VALUE": VALUE is JSON if it parses as JSON (numbers,
// true/false/null, "quoted strings", objects, arrays), else a plain string.
bool ParseVarFlag(const Client& client, const std::string& var, pb::Struct* out) {
  const size_t equals = var.find('=');
  if (equals == std::string::npos) {
    PrintError(client.command(), absl::StrCat("--var: expected KEY=VALUE, got \"", var, "\""));
    return false;
  }
  const std::string raw = var.substr(equals + 1);
  pb::Value value;
  if (raw.empty() || !pb::util::JsonStringToMessage(raw, &value).ok()) {
    value.set_string_value(raw);
  }
  const std::string key(absl::StripAsciiWhitespace(var.substr(0, equals)));
  if (key.empty()) {
    PrintError(client.command(), absl::StrCat("--var: expected KEY=VALUE, got \"", var, "\""));
    return false;
  }
  (*out->mutable_fields())[key] = std::move(value);
  return true;
}

// A JSON object from '"key": value' members (values already nested once).
std::string JsonObject(const std::vector<std::string>& members) {
  if (members.empty()) return "{}";
  return absl::StrCat("{\n  ", absl::StrJoin(members, ",\n  "), "\n}");
}

// Prints a JSON document on stdout.
int PrintJson(absl::string_view json) {
  std::cout << json << '\n';
  return kExitOk;
}
int PrintJson(const pb::Message& message) { return PrintJson(ToJson(message)); }

// ---- Human-readable output ------------------------------------------------

std::string Assignee(const v1::Task& task) {
  if (!task.delegated_to().empty()) {
    return absl::StrCat("delegated to ", task.delegated_to(),
                        task.owner_user().empty() ? "" : " by ", task.owner_user());
  }
  if (!task.claimed_by().empty()) return absl::StrCat("claimed by ", task.claimed_by());
  if (!task.assignee_user().empty()) return task.assignee_user();
  if (task.assignee_org().empty()) return task.assignee_role();
  return absl::StrCat(task.assignee_role(), "@", task.assignee_org());
}

std::string Actions(const v1::Task& task) { return absl::StrJoin(task.actions(), ","); }

// Prints "Label:  value" lines with the values aligned.
void PrintFields(const std::vector<std::pair<std::string, std::string>>& fields) {
  int width = 0;
  for (const auto& [label, value] : fields) width = std::max(width, DisplayWidth(label));
  for (const auto& [label, value] : fields) {
    std::cout << label << ':' << std::string(static_cast<size_t>(width - DisplayWidth(label)) + 2, ' ')
              << value << '\n';
  }
}

// The instance header, its variables and its open tasks.
void PrintInstance(const v1::Instance& instance) {
  PrintFields({
      {"Instance", instance.id()},
      {"Definition", absl::StrCat(instance.definition_key(), "@", instance.definition_version())},
      {"Subject", instance.subject_ref()},
      {"Org", instance.org()},
      {"Status", instance.status()},
      {"State", instance.state()},
      {"Version", absl::StrCat(instance.version())},
      {"Started by", instance.started_by()},
      {"Created", FormatLocalTime(instance.created_unix_ms())},
      {"Updated", FormatLocalTime(instance.updated_unix_ms())},
  });
  std::cout << "\nVariables:\n" << PrettyJson(instance.variables()) << "\n\nOpen tasks:";
  if (instance.open_tasks().empty()) {
    std::cout << " none\n";
    return;
  }
  std::cout << '\n';
  Table table({IdColumn("TASK ID"), {"NAME"}, {"TITLE"}, {"ASSIGNEE"}, {"ACTIONS"}, {"DUE"}});
  for (const auto& task : instance.open_tasks()) {
    table.AddRow({task.id(), task.name(), task.title(), Assignee(task), Actions(task),
                  FormatLocalTime(task.due_unix_ms())});
  }
  table.Print(std::cout);
}

void PrintHistory(const pb::RepeatedPtrField<v1::Event>& events) {
  Table table({IdColumn("SEQ"), IdColumn("TIME"), {"ACTOR"}, {"KIND"}, {"ACTION"}, {"FROM → TO"},
               {"COMMENT"}});
  for (const auto& event : events) {
    std::string transition;
    if (!event.from_state().empty() || !event.to_state().empty()) {
      transition = absl::StrCat(event.from_state(), event.from_state().empty() ? "" : " ", "→ ",
                                event.to_state());
    }
    table.AddRow({absl::StrCat(event.seq()), FormatLocalTime(event.at_unix_ms()), event.actor(),
                  event.kind(), event.action(), transition, event.comment()});
  }
  table.Print(std::cout);
}

// Tells how to get the next page, on stderr so stdout stays a clean table.
void PrintPageHint(const std::string& next_page_token) {
  if (next_page_token.empty()) return;
  std::cerr << "more results: repeat with --page-token " << next_page_token << " (or --all)\n";
}

// ---- Commands -------------------------------------------------------------
//
// Each command has an Add function (declares its flags on the app) and a Run
// function (does the work; returns the exit code).

struct Command {
  CLI::App* app;
  std::function<int(const Client&)> run;
};

// validate FILE...
int RunValidate(const Client& client, const std::vector<std::string>& files) {
  auto stub = v1::DefinitionService::NewStub(client.channel());
  int exit_code = kExitOk;
  std::vector<std::string> json_entries;
  for (const auto& path : files) {
    const std::string source_name = path == "-" ? "<stdin>" : path;
    v1::ValidateDefinitionRequest request;
    std::string error;
    if (!ReadInput(path, request.mutable_yaml(), &error)) {
      PrintError(client.command(), error);
      exit_code = kExitUsage;
      continue;
    }
    request.set_source_name(source_name);
    v1::ValidateDefinitionResponse response;
    if (v1::Diagnostic diagnostic; !CheckUtf8(request.yaml(), source_name, &diagnostic)) {
      *response.add_diagnostics() = std::move(diagnostic);
    } else if (!client.Call([&](grpc::ClientContext* context) {
                 return stub->Validate(context, request, &response);
               })) {
      return kExitUsage;
    }
    if (!response.valid()) exit_code = std::max(exit_code, kExitFailure);
    if (client.json()) {
      std::string entry;
      AppendJsonString(source_name, &entry);
      json_entries.push_back(absl::StrCat(entry, ": ", Nest(ToJson(response))));
      continue;
    }
    for (const auto& diagnostic : response.diagnostics()) {
      std::cout << FormatDiagnostic(diagnostic, source_name) << '\n';
    }
    if (response.valid()) {
      std::cout << source_name << ": ok (key " << response.key() << ")\n";
    } else if (response.diagnostics().empty()) {
      std::cout << source_name << ": invalid\n";
    }
  }
  if (client.json()) PrintJson(JsonObject(json_entries));
  return exit_code;
}

Command AddValidate(CLI::App& app) {
  auto files = std::make_shared<std::vector<std::string>>();
  CLI::App* sub = app.add_subcommand(
      "validate", "Check workflow definition files without deploying them (exit 1 if any is invalid)");
  sub->add_option("FILE", *files, "YAML definition files (- for standard input)")->required();
  return {sub, [files](const Client& client) { return RunValidate(client, *files); }};
}

// deploy [--inactive] FILE...
int RunDeploy(const Client& client, const std::vector<std::string>& files, bool inactive) {
  auto stub = v1::DefinitionService::NewStub(client.channel());
  int exit_code = kExitOk;
  std::vector<std::string> json_entries;
  for (const auto& path : files) {
    const std::string source_name = path == "-" ? "<stdin>" : path;
    v1::DeployDefinitionRequest request;
    std::string error;
    if (!ReadInput(path, request.mutable_yaml(), &error)) {
      PrintError(client.command(), error);
      exit_code = kExitUsage;
      break;
    }
    if (v1::Diagnostic diagnostic; !CheckUtf8(request.yaml(), source_name, &diagnostic)) {
      PrintError(client.command(), FormatDiagnostic(diagnostic, source_name));
      exit_code = kExitFailure;
      break;
    }
    request.set_source_name(source_name);
    request.set_inactive(inactive);
    v1::DeployDefinitionResponse response;
    if (!client.Call([&](grpc::ClientContext* context) {
          return stub->Deploy(context, request, &response);
        })) {
      exit_code = kExitFailure;
      break;
    }
    const auto& definition = response.definition();
    if (client.json()) {
      std::string entry;
      AppendJsonString(source_name, &entry);
      json_entries.push_back(absl::StrCat(entry, ": ", Nest(ToJson(response))));
    } else if (response.created()) {
      std::cout << "deployed " << definition.key() << " version " << definition.version()
                << " (sha256 " << definition.content_hash().substr(0, 12) << "…)";
      if (response.activated()) {
        std::cout << "; current: " << definition.version();
        if (response.previous_current() > 0) std::cout << " (was " << response.previous_current() << ")";
      } else if (!response.approval_instance_id().empty()) {
        std::cout << "; awaiting approval in change request " << response.approval_instance_id()
                  << " (a second workflow_admin approves it in their inbox), current stays "
                  << (response.previous_current() > 0 ? absl::StrCat(response.previous_current())
                                                      : std::string("unset"));
      } else {
        std::cout << "; inactive, current stays "
                  << (response.previous_current() > 0 ? absl::StrCat(response.previous_current())
                                                      : std::string("unset"));
      }
      std::cout << '\n';
      PrintDerived(response.derived());
    } else {
      std::cout << "unchanged: " << definition.key() << " version " << definition.version() << '\n';
    }
  }
  // Files deployed before a failure stay deployed, so scripts see them too.
  if (client.json()) PrintJson(JsonObject(json_entries));
  return exit_code;
}

Command AddDeploy(CLI::App& app) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto inactive = std::make_shared<bool>(false);
  CLI::App* sub = app.add_subcommand(
      "deploy",
      "Deploy workflow definition files: changed content becomes a new version, which new "
      "instances start on (alias \"current\") unless --inactive");
  sub->add_option("FILE", *files, "YAML definition files (- for standard input)")->required();
  sub->add_flag("--inactive", *inactive,
                "Keep \"current\" where it is (activate later with `bpmctl alias`)");
  return {sub, [files, inactive](const Client& client) {
            return RunDeploy(client, *files, *inactive);
          }};
}

// defs [KEY]
int RunDefs(const Client& client, const std::string& key) {
  auto stub = v1::DefinitionService::NewStub(client.channel());
  v1::ListDefinitionsRequest request;
  request.set_key(key);
  v1::ListDefinitionsResponse response;
  if (!client.Call([&](grpc::ClientContext* context) {
        return stub->List(context, request, &response);
      })) {
    return kExitFailure;
  }
  if (client.json()) return PrintJson(response);
  Table table({IdColumn("KEY"), {"VERSION"}, {"ALIASES"}, {"TITLE"}, {"STATES"}, IdColumn("HASH"),
               {"CREATED"}});
  for (const auto& definition : response.definitions()) {
    table.AddRow({definition.key(), absl::StrCat(definition.version()),
                  absl::StrJoin(definition.aliases(), ","), definition.title(),
                  absl::StrJoin(definition.states(), ","), definition.content_hash().substr(0, 12),
                  FormatLocalTime(definition.created_unix_ms())});
  }
  table.Print(std::cout);
  if (response.alias_moves_size() > 0) {
    std::cout << "\nAlias moves:\n";
    Table moves({{"WHEN"}, {"ALIAS"}, {"FROM"}, {"TO"}, {"BY"}, {"REASON"}});
    for (const auto& move : response.alias_moves()) {
      moves.AddRow({FormatLocalTime(move.moved_unix_ms()), move.alias(),
                    move.from_version() > 0 ? absl::StrCat(move.from_version()) : "-",
                    absl::StrCat(move.to_version()), move.moved_by(), move.reason()});
    }
    moves.Print(std::cout);
  }
  return kExitOk;
}

// alias KEY VERSION [--name ALIAS] [--reason T]
// rollback KEY [--to VERSION] [--reason T]
struct AliasArgs {
  std::string key;
  int version = 0;
  std::string alias = "current";
  std::string reason;
};

int RunSetAlias(const Client& client, const AliasArgs& args) {
  auto stub = v1::DefinitionService::NewStub(client.channel());
  v1::SetAliasRequest request;
  request.set_key(args.key);
  request.set_alias(args.alias);
  request.set_version(args.version);
  request.set_reason(args.reason);
  v1::SetAliasResponse response;
  if (!client.Call([&](grpc::ClientContext* context) {
        return stub->SetAlias(context, request, &response);
      })) {
    return kExitFailure;
  }
  if (client.json()) return PrintJson(response);
  const auto& alias = response.alias();
  if (!response.approval_instance_id().empty()) {
    std::cout << alias.alias() << " of " << alias.key() << " stays at version " << alias.version()
              << ": change request " << response.approval_instance_id()
              << " awaits a second workflow_admin's approval\n";
  } else if (!response.moved()) {
    std::cout << alias.alias() << " of " << alias.key() << " already points at version "
              << alias.version() << '\n';
  } else if (response.previous_version() > 0) {
    std::cout << alias.alias() << " of " << alias.key() << ": version "
              << response.previous_version() << " -> " << alias.version() << '\n';
  } else {
    std::cout << alias.alias() << " of " << alias.key() << ": version " << alias.version()
              << " (new alias)\n";
  }
  PrintDerived(response.derived());
  return kExitOk;
}

Command AddAlias(CLI::App& app) {
  auto args = std::make_shared<AliasArgs>();
  CLI::App* sub = app.add_subcommand(
      "alias",
      "Point an alias of a definition at a version (default alias \"current\": the version new "
      "instances start on); running instances stay on their version");
  sub->add_option("KEY", args->key, "Definition key")->required();
  sub->add_option("VERSION", args->version, "Version to point at")
      ->required()
      ->check(CLI::Range(1, std::numeric_limits<int32_t>::max()));
  sub->add_option("--name", args->alias, "Alias name")->capture_default_str();
  sub->add_option("--reason", args->reason, "Why (recorded with the move)");
  return {sub, [args](const Client& client) { return RunSetAlias(client, *args); }};
}

int RunRollback(const Client& client, AliasArgs args) {
  if (args.version == 0) {
    // Back to where "current" pointed before its last move.
    auto stub = v1::DefinitionService::NewStub(client.channel());
    v1::ListDefinitionsRequest request;
    request.set_key(args.key);
    v1::ListDefinitionsResponse response;
    if (!client.Call([&](grpc::ClientContext* context) {
          return stub->List(context, request, &response);
        })) {
      return kExitFailure;
    }
    int current = 0;
    for (const auto& alias : response.aliases()) {
      if (alias.alias() == args.alias) current = alias.version();
    }
    for (const auto& move : response.alias_moves()) {
      if (move.alias() == args.alias && move.to_version() == current) {
        args.version = move.from_version();
      }
    }
    if (current == 0 || args.version == 0) {
      PrintError(client.command(),
                 absl::StrCat("no earlier version of ", args.key, " to roll '", args.alias,
                              "' back to; name one with --to"));
      return kExitFailure;
    }
  }
  if (args.reason.empty()) args.reason = "rollback";
  return RunSetAlias(client, args);
}

Command AddRollback(CLI::App& app) {
  auto args = std::make_shared<AliasArgs>();
  CLI::App* sub = app.add_subcommand(
      "rollback",
      "Point \"current\" back at the version it pointed at before its last move (or --to)");
  sub->add_option("KEY", args->key, "Definition key")->required();
  sub->add_option("--to", args->version, "Version to roll back to")
      ->check(CLI::Range(1, std::numeric_limits<int32_t>::max()));
  sub->add_option("--name", args->alias, "Alias to move")->capture_default_str();
  sub->add_option("--reason", args->reason, "Why (recorded with the move)");
  return {sub, [args](const Client& client) { return RunRollback(client, *args); }};
}

// diff KEY FROM TO
struct DiffArgs {
  std::string key;
  int from = 0;
  int to = 0;
};

int RunDiff(const Client& client, const DiffArgs& args) {
  auto stub = v1::DefinitionService::NewStub(client.channel());
  v1::DiffDefinitionsRequest request;
  request.set_key(args.key);
  request.set_from_version(args.from);
  request.set_to_version(args.to);
  v1::DiffDefinitionsResponse response;
  if (!client.Call([&](grpc::ClientContext* context) {
        return stub->Diff(context, request, &response);
      })) {
    return kExitFailure;
  }
  if (client.json()) return PrintJson(response);
  if (response.changes().empty() && response.unified_diff().empty()) {
    std::cout << args.key << " versions " << args.from << " and " << args.to << " are identical\n";
    return kExitOk;
  }
  std::cout << "Changes from " << args.key << " version " << args.from << " to " << args.to
            << ":\n";
  for (const auto& change : response.changes()) std::cout << "  " << change << '\n';
  if (response.changes().empty()) std::cout << "  (layout and comments only)\n";
  std::cout << '\n' << response.unified_diff();
  return kExitOk;
}

Command AddDiff(CLI::App& app) {
  auto args = std::make_shared<DiffArgs>();
  CLI::App* sub = app.add_subcommand(
      "diff", "Show what changed between two versions of a definition (workflow terms, then "
              "the YAML line diff)");
  sub->add_option("KEY", args->key, "Definition key")->required();
  for (auto [name, field] : {std::pair{"FROM", &args->from}, std::pair{"TO", &args->to}}) {
    sub->add_option(name, *field, "Version")
        ->required()
        ->check(CLI::Range(1, std::numeric_limits<int32_t>::max()));
  }
  return {sub, [args](const Client& client) { return RunDiff(client, *args); }};
}

Command AddDefs(CLI::App& app) {
  auto key = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "defs", "List deployed definitions: the latest version of each, or every version of KEY");
  sub->add_option("KEY", *key, "Definition key");
  return {sub, [key](const Client& client) { return RunDefs(client, *key); }};
}

// graph [KEY] [--version N | --alias A] [--instance ID] [--format dot|svg] [-o FILE]
struct GraphArgs {
  std::string key;
  int version = 0;
  std::string alias;
  std::string instance;
  std::string format = "dot";
  std::string output;
};

// Runs Graphviz's dot on the DOT text; the SVG, or false with *error set.
bool RenderSvg(const std::string& dot, std::string* svg, std::string* error) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) {
    *error = absl::StrCat("pipe: ", std::strerror(errno));
    return false;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    *error = absl::StrCat("fork: ", std::strerror(errno));
    return false;
  }
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]), close(in[1]), close(out[0]), close(out[1]);
    execlp("dot", "dot", "-Tsvg", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  std::signal(SIGPIPE, SIG_IGN);  // dot may exit (or be missing) before reading
  // The DOT text is small (a few KB): written whole before reading.
  for (size_t done = 0; done < dot.size();) {
    const ssize_t n = write(in[1], dot.data() + done, dot.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(in[1]);
  char buf[65536];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) svg->append(buf, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *error = WIFEXITED(status) && WEXITSTATUS(status) == 127
                 ? "SVG needs Graphviz's dot (Debian: apt-get install graphviz); "
                   "--format dot prints the DOT text"
                 : "Graphviz's dot failed on the graph";
    return false;
  }
  return true;
}

int RunGraph(const Client& client, const GraphArgs& args) {
  if (args.key.empty() && args.instance.empty()) {
    PrintError(client.command(), "give a definition KEY or --instance ID");
    return kExitUsage;
  }
  auto stub = v1::DefinitionService::NewStub(client.channel());
  v1::GraphDefinitionRequest request;
  request.set_key(args.key);
  request.set_version(args.version);
  request.set_alias(args.alias);
  request.set_instance_id(args.instance);
  v1::GraphDefinitionResponse response;
  if (!client.Call([&](grpc::ClientContext* context) {
        return stub->Graph(context, request, &response);
      })) {
    return kExitFailure;
  }
  if (client.json()) return PrintJson(response);
  std::string text = response.dot();
  if (args.format == "svg") {
    std::string svg, error;
    if (!RenderSvg(response.dot(), &svg, &error)) {
      PrintError(client.command(), error);
      return kExitFailure;
    }
    text = std::move(svg);
  }
  if (args.output.empty() || args.output == "-") {
    std::cout << text;
    return kExitOk;
  }
  std::ofstream file(args.output, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) {
    PrintError(client.command(), absl::StrCat(args.output, ": cannot write: ", std::strerror(errno)));
    return kExitUsage;
  }
  std::cout << "wrote " << args.output << " (" << response.key() << " version "
            << response.version() << ", " << args.format << ")\n";
  return kExitOk;
}

Command AddGraph(CLI::App& app) {
  auto args = std::make_shared<GraphArgs>();
  CLI::App* sub = app.add_subcommand(
      "graph",
      "Draw a definition as Graphviz DOT or SVG; with --instance, that instance's path and "
      "current state on its version");
  sub->add_option("KEY", args->key, "Definition key (optional with --instance)");
  auto* version = sub->add_option("--version", args->version, "Definition version (default: latest)")
                      ->check(CLI::Range(0, std::numeric_limits<int32_t>::max()));
  sub->add_option("--alias", args->alias, "The version this alias points at")->excludes(version);
  sub->add_option("--instance", args->instance, "Highlight this instance's path");
  sub->add_option("--format", args->format, "dot, or svg (rendered by Graphviz's dot)")
      ->check(CLI::IsMember({"dot", "svg"}))
      ->capture_default_str();
  sub->add_option("-o,--output", args->output, "Write to this file instead of standard output");
  return {sub, [args](const Client& client) { return RunGraph(client, *args); }};
}

// migrate KEY FROM TO [--map OLD=NEW]... [--apply --reason T [--batch N]]
struct MigrateArgs {
  std::string key;
  int from = 0;
  int to = 0;
  std::vector<std::string> maps;
  bool apply = false;
  int batch = 0;
  std::string reason;
};

int RunMigrate(const Client& client, const MigrateArgs& args) {
  v1::MigrateInstancesRequest request;
  v1::MigrationPlan* plan = request.mutable_plan();
  plan->set_key(args.key);
  plan->set_from_version(args.from);
  plan->set_to_version(args.to);
  for (const auto& map : args.maps) {
    const size_t eq = map.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == map.size()) {
      PrintError(client.command(), absl::StrCat("--map ", map, ": expected OLD_STATE=NEW_STATE"));
      return kExitUsage;
    }
    (*plan->mutable_state_map())[map.substr(0, eq)] = map.substr(eq + 1);
  }
  request.set_dry_run(!args.apply);
  request.set_batch_size(args.batch);
  request.set_reason(args.reason);
  auto stub = v1::DefinitionService::NewStub(client.channel());
  v1::MigrateInstancesResponse response;
  if (!client.Call([&](grpc::ClientContext* context) {
        return stub->Migrate(context, request, &response);
      })) {
    return kExitFailure;
  }
  if (client.json()) return PrintJson(response);
  Table table({IdColumn("INSTANCE"), {"SUBJECT"}, {"ORG"}, {"FROM"}, {"TO"}, {"RESULT"}});
  for (const auto& item : response.items()) {
    std::string result = !item.refused().empty() ? "refused: " + item.refused()
                         : item.migrated()       ? "migrated"
                         : !item.error().empty() ? "failed: " + item.error()
                         : args.apply            ? "waits for the next run"
                                                 : "would move";
    table.AddRow({item.instance_id(), item.subject_ref(), item.org(), item.from_state(),
                  item.refused().empty() ? item.to_state() : "-", result});
  }
  table.Print(std::cout);
  if (args.apply) {
    std::cout << args.key << " v" << args.from << " -> v" << args.to << ": " << response.migrated()
              << " migrated, " << response.failed() << " failed, " << response.refused()
              << " refused, " << response.remaining() << " left (run again for them)\n";
    return response.failed() > 0 ? kExitFailure : kExitOk;
  }
  std::cout << "dry run: " << response.movable() << " would move, " << response.refused()
            << " refused; --apply --reason TEXT to migrate\n";
  return kExitOk;
}

Command AddMigrate(CLI::App& app) {
  auto args = std::make_shared<MigrateArgs>();
  CLI::App* sub = app.add_subcommand(
      "migrate",
      "Move running instances of KEY from version FROM to TO (workflow_admin); a dry run "
      "unless --apply");
  sub->add_option("KEY", args->key, "Definition key")->required();
  for (auto [name, field] : {std::pair{"FROM", &args->from}, std::pair{"TO", &args->to}}) {
    sub->add_option(name, *field, "Version")
        ->required()
        ->check(CLI::Range(1, std::numeric_limits<int32_t>::max()));
  }
  sub->add_option("--map", args->maps,
                  "OLD_STATE=NEW_STATE for a state renamed or removed (repeatable); other "
                  "states map by name");
  sub->add_flag("--apply", args->apply, "Migrate (each instance in its own transaction)");
  sub->add_option("--batch", args->batch, "At most this many per run (default 100)")
      ->check(CLI::Range(1, 1000));
  sub->add_option("--reason", args->reason, "Why (required with --apply; in each history)");
  return {sub, [args](const Client& client) { return RunMigrate(client, *args); }};
}

// def KEY [--version N]
struct DefArgs {
  std::string key;
  int version = 0;
  std::string alias;
};

int RunDef(const Client& client, const DefArgs& args) {
  auto stub = v1::DefinitionService::NewStub(client.channel());
  v1::GetDefinitionRequest request;
  request.set_key(args.key);
  request.set_version(args.version);
  request.set_alias(args.alias);
  v1::GetDefinitionResponse response;
  if (!client.Call([&](grpc::ClientContext* context) {
        return stub->Get(context, request, &response);
      })) {
    return kExitFailure;
  }
  if (client.json()) return PrintJson(response);
  std::cout << response.yaml();
  if (!response.yaml().empty() && response.yaml().back() != '\n') std::cout << '\n';
  return kExitOk;
}

Command AddDef(CLI::App& app) {
  auto args = std::make_shared<DefArgs>();
  CLI::App* sub = app.add_subcommand("def", "Print the YAML of a deployed definition");
  sub->add_option("KEY", args->key, "Definition key")->required();
  auto* version = sub->add_option("--version", args->version, "Definition version (default: latest)")
      ->check(CLI::Range(0, std::numeric_limits<int32_t>::max()));
  sub->add_option("--alias", args->alias, "The version this alias points at, e.g. current")
      ->excludes(version);
  return {sub, [args](const Client& client) { return RunDef(client, *args); }};
}

// start KEY --subject REF [--org ORG] [--var K=V]... [--vars-json JSON|@FILE]
//       [--version N] [--idempotency-key K]
struct StartArgs {
  std::string key;
  std::string subject;
  std::string org;
  std::string caller_org;  // the identity org, the default for --org
  std::vector<std::string> vars;
  std::string vars_json;
  int version = 0;
  std::string alias;
  std::string idempotency_key;
};

int RunStart(const Client& client, const StartArgs& args) {
  v1::StartInstanceRequest request;
  request.set_definition_key(args.key);
  request.set_definition_version(args.version);
  request.set_definition_alias(args.alias);
  request.set_subject_ref(args.subject);
  request.set_org(args.org.empty() ? args.caller_org : args.org);
  request.set_idempotency_key(args.idempotency_key);
  if (request.org().empty()) {
    PrintError(client.command(), "--org is required (or give the caller's org with BPM_ORG)");
    return kExitUsage;
  }
  if (!args.vars_json.empty() &&
      !ParseStructFlag(client, "--vars-json", args.vars_json, request.mutable_variables())) {
    return kExitUsage;
  }
  for (const auto& var : args.vars) {
    if (!ParseVarFlag(client, var, request.mutable_variables())) return kExitUsage;
  }
  auto stub = v1::InstanceService::NewStub(client.channel());
  v1::StartInstanceResponse response;
  if (!client.Call([&](grpc::ClientContext* context) {
        return stub->Start(context, request, &response);
      })) {
    return kExitFailure;
  }
  if (client.json()) return PrintJson(response);
  PrintInstance(response.instance());
  return kExitOk;
}

// preview (KEY | --file YAML) --org ORG [--var K=V]... [--act ACTION[=JSON]]...
struct PreviewArgs {
  std::string key;
  std::string file;
  int version = 0;
  std::string org;
  std::vector<std::string> vars;
  std::vector<std::string> acts;
};

int RunPreview(const Client& client, const PreviewArgs& args) {
  v1::PreviewRequest request;
  if (args.key.empty() == args.file.empty()) {
    PrintError(client.command(), "give a definition KEY or --file YAML (one of them)");
    return kExitUsage;
  }
  request.set_definition_key(args.key);
  request.set_definition_version(args.version);
  if (!args.file.empty()) {
    std::string error;
    if (!ReadInput(args.file, request.mutable_yaml(), &error)) {
      PrintError(client.command(), error);
      return kExitUsage;
    }
  }
  request.set_org(args.org);
  for (const auto& var : args.vars) {
    if (!ParseVarFlag(client, var, request.mutable_variables())) return kExitUsage;
  }
  for (const auto& act : args.acts) {
    v1::PreviewAction* action = request.add_actions();
    const size_t eq = act.find('=');
    action->set_action(act.substr(0, eq));
    if (eq != std::string::npos &&
        !ParseStructFlag(client, "--act", act.substr(eq + 1), action->mutable_payload())) {
      return kExitUsage;
    }
  }
  auto stub = v1::InstanceService::NewStub(client.channel());
  v1::PreviewResponse response;
  if (!client.Call([&](grpc::ClientContext* context) {
        return stub->Preview(context, request, &response);
      })) {
    return kExitFailure;
  }
  if (client.json()) return PrintJson(response);
  Table table({{"STEP"}, {"ACTION"}, {"BY"}, {"STATE"}, {"STATUS"}, {"NEXT: TASK -> ASSIGNEE"}});
  int n = 0;
  for (const auto& step : response.steps()) {
    std::vector<std::string> next;
    for (const auto& task : step.open_tasks()) {
      next.push_back(absl::StrCat(task.title().empty() ? task.name() : task.title(), " -> ",
                                  Assignee(task)));
    }
    table.AddRow({absl::StrCat(n++), step.action().empty() ? "(start)" : step.action(),
                  step.actor(), step.state(), step.status(),
                  next.empty() ? "-" : absl::StrJoin(next, "; ")});
  }
  table.Print(std::cout);
  if (!response.stopped().empty()) std::cout << "stopped: " << response.stopped() << '\n';
  std::cout << "preview only: nothing was created\n";
  return kExitOk;
}

Command AddPreview(CLI::App& app) {
  auto args = std::make_shared<PreviewArgs>();
  CLI::App* sub = app.add_subcommand(
      "preview",
      "Dry run: the path an instance would take and who each step's tasks would go to "
      "(the real engine and plugins on a scratch store; nothing is created)");
  sub->add_option("KEY", args->key, "Deployed definition key (current version)");
  sub->add_option("--file", args->file, "Preview an undeployed definition file instead");
  sub->add_option("--version", args->version, "Definition version (default: current)")
      ->check(CLI::Range(0, std::numeric_limits<int32_t>::max()));
  sub->add_option("--org", args->org, "Owning org (unit code)")->required();
  sub->add_option("--var", args->vars, "Variable KEY=VALUE (repeatable)")->allow_extra_args(false);
  sub->add_option("--act", args->acts,
                  "ACTION or ACTION=JSON_PAYLOAD, taken in order on the task that offers it "
                  "(repeatable)")
      ->allow_extra_args(false);
  return {sub, [args](const Client& client) { return RunPreview(client, *args); }};
}

Command AddStart(CLI::App& app, const GlobalOptions& global) {
  auto args = std::make_shared<StartArgs>();
  CLI::App* sub = app.add_subcommand("start", "Start a workflow instance for a subject");
  sub->add_option("KEY", args->key, "Definition key")->required();
  sub->add_option("--subject", args->subject, "Subject reference, e.g. the project code")
      ->required();
  sub->add_option("--org", args->org,
                  "Owning org (unit code); default: the caller's org. Written after the "
                  "subcommand, --org means this, not the identity org");
  sub->add_option("--var", args->vars,
                  "Variable KEY=VALUE (repeatable); VALUE is JSON if it parses, else a string")
      ->allow_extra_args(false);
  sub->add_option("--vars-json", args->vars_json, "Variables as a JSON object, or @FILE");
  auto* version =
      sub->add_option("--version", args->version,
                      "Definition version (default: the one alias \"current\" points at)")
          ->check(CLI::Range(0, std::numeric_limits<int32_t>::max()));
  sub->add_option("--alias", args->alias, "Start on the version this alias points at")
      ->excludes(version);
  sub->add_option("--idempotency-key", args->idempotency_key,
                  "Retry-safe key: repeating the call returns the same instance");
  return {sub, [args, &global](const Client& client) {
            args->caller_org = global.org;
            return RunStart(client, *args);
          }};
}

// show ID / history ID
int RunShow(const Client& client, const std::string& id, bool history_only) {
  auto stub = v1::InstanceService::NewStub(client.channel());
  v1::GetInstanceResponse instance;
  if (!history_only) {
    v1::GetInstanceRequest request;
    request.set_id(id);
    if (!client.Call([&](grpc::ClientContext* context) {
          return stub->Get(context, request, &instance);
        })) {
      return kExitFailure;
    }
  }
  v1::GetHistoryRequest request;
  request.set_instance_id(id);
  v1::GetHistoryResponse history;
  if (!client.Call([&](grpc::ClientContext* context) {
        return stub->GetHistory(context, request, &history);
      })) {
    return kExitFailure;
  }
  if (client.json()) {
    if (history_only) return PrintJson(history);
    std::vector<std::string> events;
    for (const auto& event : history.events()) events.push_back(Nest(ToJson(event), 2));
    const std::string events_json =
        events.empty() ? "[]" : absl::StrCat("[\n    ", absl::StrJoin(events, ",\n    "), "\n  ]");
    return PrintJson(absl::StrCat("{\n  \"instance\": ", Nest(ToJson(instance.instance())),
                                  ",\n  \"history\": ", events_json, "\n}"));
  }
  if (!history_only) {
    PrintInstance(instance.instance());
    std::cout << "\nHistory:\n";
  }
  PrintHistory(history.events());
  return kExitOk;
}

Command AddShow(CLI::App& app, bool history_only) {
  auto id = std::make_shared<std::string>();
  CLI::App* sub =
      history_only
          ? app.add_subcommand("history", "Show the event history of an instance")
          : app.add_subcommand("show", "Show an instance: state, variables, open tasks, history");
  sub->add_option("ID", *id, "Instance id")->required();
  return {sub, [id, history_only](const Client& client) {
            return RunShow(client, *id, history_only);
          }};
}

// list [--definition K] [--subject S] [--org O] [--status S] [--state S]
//      [--page-size N] [--page-token T] [--all]
struct ListArgs {
  v1::ListInstancesRequest request;
  bool all = false;
};

int RunList(const Client& client, const ListArgs& args) {
  auto stub = v1::InstanceService::NewStub(client.channel());
  v1::ListInstancesRequest request = args.request;
  v1::ListInstancesResponse merged;
  while (true) {
    v1::ListInstancesResponse page;
    if (!client.Call([&](grpc::ClientContext* context) {
          return stub->List(context, request, &page);
        })) {
      return kExitFailure;
    }
    merged.mutable_instances()->MergeFrom(page.instances());
    merged.set_next_page_token(page.next_page_token());
    if (!args.all || page.next_page_token().empty()) break;
    if (page.next_page_token() == request.page_token()) {
      PrintError(client.command(), "server returned the same page token twice; stopping");
      return kExitFailure;
    }
    request.set_page_token(page.next_page_token());
  }
  if (client.json()) return PrintJson(merged);
  Table table({IdColumn("ID"), {"SUBJECT"}, {"ORG"}, {"DEFINITION"}, {"STATE"}, {"STATUS"},
               {"VERSION"}, {"UPDATED"}});
  for (const auto& instance : merged.instances()) {
    table.AddRow({instance.id(), instance.subject_ref(), instance.org(),
                  absl::StrCat(instance.definition_key(), "@", instance.definition_version()),
                  instance.state(), instance.status(), absl::StrCat(instance.version()),
                  FormatLocalTime(instance.updated_unix_ms())});
  }
  table.Print(std::cout);
  PrintPageHint(merged.next_page_token());
  return kExitOk;
}

// Declares --page-size, --page-token and --all, shared by list and inbox.
void AddPagingFlags(CLI::App* sub, int* page_size, std::string* page_token, bool* all) {
  sub->add_option("--page-size", *page_size, "Results per page (server default 50, max 500)")
      ->check(CLI::Range(1, 500));
  sub->add_option("--page-token", *page_token, "Continue from this token of an earlier page");
  sub->add_flag("--all", *all, "Follow next-page tokens and print every result");
}

Command AddList(CLI::App& app) {
  // CLI11 binds plain variables; copy them into the request when run.
  struct Flags {
    std::string definition, subject, org, status, state, page_token;
    int page_size = 0;
    bool all = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* sub = app.add_subcommand("list", "List workflow instances");
  sub->add_option("--definition", flags->definition, "Only instances of this definition key");
  sub->add_option("--subject", flags->subject, "Only instances for this subject");
  sub->add_option("--org", flags->org,
                  "Only instances owned by this org. Written after the subcommand, --org "
                  "means this filter, not the identity org");
  sub->add_option("--status", flags->status, "Only this lifecycle status: running|completed|terminated");
  sub->add_option("--state", flags->state, "Only instances in this workflow state");
  AddPagingFlags(sub, &flags->page_size, &flags->page_token, &flags->all);
  return {sub, [flags](const Client& client) {
            ListArgs args;
            args.request.set_definition_key(flags->definition);
            args.request.set_subject_ref(flags->subject);
            args.request.set_org(flags->org);
            args.request.set_status(flags->status);
            args.request.set_state(flags->state);
            args.request.set_page_size(flags->page_size);
            args.request.set_page_token(flags->page_token);
            args.all = flags->all;
            return RunList(client, args);
          }};
}

// inbox [--view pending|done|cc|overdue] [--definition K] [--state S] [--org O]
//       [--year N] [--page-size N] [--page-token T] [--all]
struct InboxArgs {
  int page_size = 0;
  std::string page_token;
  bool all = false;
  std::string view, definition, state, org;
  int year = 0;
};

void PrintInboxTasks(const v1::InboxResponse& inbox, bool done) {
  Table table({IdColumn("TASK ID"), IdColumn("INSTANCE"), {"SUBJECT"}, {"STATE"}, {"NAME/TITLE"},
               {"ASSIGNEE"}, {done ? "ACTION" : "ACTIONS"}, {done ? "COMPLETED" : "DUE"},
               {"CREATED"}});
  for (const auto& task : inbox.tasks()) {
    std::string name = task.name();
    if (!task.title().empty()) absl::StrAppend(&name, " / ", task.title());
    table.AddRow({task.id(), task.instance_id(), task.subject_ref(), task.state(), name,
                  Assignee(task), done ? task.action() : Actions(task),
                  FormatLocalTime(done ? task.completed_unix_ms() : task.due_unix_ms()),
                  FormatLocalTime(task.created_unix_ms())});
  }
  table.Print(std::cout);
}

void PrintInboxCc(const v1::InboxResponse& inbox) {
  Table table({IdColumn("ID"), IdColumn("INSTANCE"), {"SUBJECT"}, {"STATE"}, {"FROM"}, {"NOTE"},
               {"TIME"}});
  for (const auto& cc : inbox.cc()) {
    table.AddRow({cc.id(), cc.instance_id(), cc.subject_ref(), cc.state(), cc.from_user(),
                  cc.note(), FormatLocalTime(cc.created_unix_ms())});
  }
  table.Print(std::cout);
}

int RunInbox(const Client& client, const InboxArgs& args) {
  auto stub = v1::TaskService::NewStub(client.channel());
  v1::InboxRequest request;
  request.set_page_size(args.page_size);
  request.set_page_token(args.page_token);
  request.set_view(args.view);
  request.set_definition_key(args.definition);
  request.set_state(args.state);
  request.set_org(args.org);
  request.set_year(args.year);
  v1::InboxResponse merged;
  while (true) {
    v1::InboxResponse page;
    if (!client.Call([&](grpc::ClientContext* context) {
          return stub->Inbox(context, request, &page);
        })) {
      return kExitFailure;
    }
    merged.mutable_tasks()->MergeFrom(page.tasks());
    merged.mutable_cc()->MergeFrom(page.cc());
    merged.set_next_page_token(page.next_page_token());
    if (!args.all || page.next_page_token().empty()) break;
    if (page.next_page_token() == request.page_token()) {
      PrintError(client.command(), "server returned the same page token twice; stopping");
      return kExitFailure;
    }
    request.set_page_token(page.next_page_token());
  }
  if (client.json()) return PrintJson(merged);
  if (args.view == "cc") {
    PrintInboxCc(merged);
  } else {
    PrintInboxTasks(merged, args.view == "done");
  }
  PrintPageHint(merged.next_page_token());
  return kExitOk;
}

Command AddInbox(CLI::App& app) {
  auto args = std::make_shared<InboxArgs>();
  CLI::App* sub = app.add_subcommand(
      "inbox", "List the open tasks the caller may act on (or done tasks, CC entries, overdue)");
  sub->add_option("--view", args->view,
                  "pending (待办, default), done (已办), cc (抄送) or overdue (逾期)")
      ->check(CLI::IsMember({"pending", "done", "cc", "overdue"}));
  sub->add_option("--definition", args->definition, "Only tasks of this definition key");
  sub->add_option("--state", args->state, "Only tasks of this workflow state");
  sub->add_option("--org", args->org,
                  "Only tasks of instances owned by this org. Written after the subcommand, "
                  "--org means this filter, not the identity org");
  sub->add_option("--year", args->year, "Only tasks created in this year (China time)")
      ->check(CLI::Range(2000, 2100));
  AddPagingFlags(sub, &args->page_size, &args->page_token, &args->all);
  return {sub, [args](const Client& client) { return RunInbox(client, *args); }};
}

// act TASK_ID ACTION [--payload JSON|@FILE] [--comment TEXT] [--expect-version N]
//     [--idempotency-key K]
struct ActArgs {
  std::string task_id;
  std::string action;
  std::string payload;
  std::string comment;
  int64_t expect_version = 0;
  std::string idempotency_key;
};

int RunAct(const Client& client, const ActArgs& args) {
  v1::ActRequest request;
  request.set_task_id(args.task_id);
  request.set_action(args.action);
  request.set_comment(args.comment);
  request.set_expected_version(args.expect_version);
  request.set_idempotency_key(args.idempotency_key);
  if (!args.payload.empty() &&
      !ParseStructFlag(client, "--payload", args.payload, request.mutable_payload())) {
    return kExitUsage;
  }
  auto stub = v1::TaskService::NewStub(client.channel());
  v1::ActResponse response;
  if (!client.Call([&](grpc::ClientContext* context) {
        return stub->Act(context, request, &response);
      })) {
    return kExitFailure;
  }
  if (client.json()) return PrintJson(response);
  const auto& instance = response.instance();
  std::cout << "ok: instance " << instance.id() << " now in state " << instance.state()
            << " (version " << instance.version() << ")\n\n";
  PrintInstance(instance);
  return kExitOk;
}

Command AddAct(CLI::App& app) {
  auto args = std::make_shared<ActArgs>();
  CLI::App* sub = app.add_subcommand("act", "Take an action on a task (approve, reject, submit, …)");
  sub->add_option("TASK_ID", args->task_id, "Task id")->required();
  sub->add_option("ACTION", args->action, "Action name, one of the task's actions")->required();
  sub->add_option("--payload", args->payload, "Action data as a JSON object, or @FILE");
  sub->add_option("--comment", args->comment, "Comment recorded in the history");
  sub->add_option("--expect-version", args->expect_version,
                  "Fail with ABORTED unless the instance is still at this version")
      ->check(CLI::Range(int64_t{0}, std::numeric_limits<int64_t>::max()));
  sub->add_option("--idempotency-key", args->idempotency_key,
                  "Retry-safe key: repeating the call does not act twice");
  return {sub, [args](const Client& client) { return RunAct(client, *args); }};
}

// report [--year N] [--region R] [--department D] [--format table|csv|xlsx|svg]
//        [--out FILE]
bool WriteFile(const std::string& path, const std::string& content, std::string* error);

// Prints text, or writes it to path when one is given and says so ("wrote
// PATH" and detail); the exit code.
int PrintOrWrite(const std::string& command, const std::string& text, const std::string& path,
                 const std::string& detail) {
  if (path.empty()) {
    std::cout << text;
    return kExitOk;
  }
  std::string error;
  if (!WriteFile(path, text, &error)) {
    std::cerr << "bpmctl: " << command << ": " << error << "\n";
    return kExitFailure;
  }
  std::cout << "wrote " << path << detail << "\n";
  return kExitOk;
}

struct ReportArgs {
  v1::GetReportRequest request;
  std::string format = "table";
  std::string out;
};

int RunReport(const Client& client, const ReportArgs& args) {
  if (args.format == "xlsx" && args.out.empty()) {
    std::cerr << "bpmctl: report: --format xlsx needs --out FILE.xlsx\n";
    return kExitUsage;
  }
  auto stub = v1::ReportService::NewStub(client.channel());
  v1::GetReportResponse response;
  if (!client.Call([&](grpc::ClientContext* context) {
        return stub->Get(context, args.request, &response);
      })) {
    return kExitFailure;
  }
  if (client.json()) return PrintJson(response);
  const Cells table = ReportTable(response);
  std::string text;
  if (args.format == "xlsx") {
    if (Status s = WriteXlsx(table, args.out, "绩效管理报表"); !s.ok()) {
      std::cerr << "bpmctl: report: " << s.message() << "\n";
      return kExitFailure;
    }
    std::cout << "wrote " << args.out << " (" << table.size() - 1 << " rows, "
              << response.instances() << " instances counted)\n";
    return kExitOk;
  }
  if (args.format == "csv") {
    text = ToCsv(table);
  } else if (args.format == "svg") {
    text = ReportSvg(response);
  } else {
    // A table of the key figures; every column is in csv and xlsx.
    Table out({{"YEAR"}, {"REGION"}, {"DEPARTMENT"}, {"TARGETS"}, {"REVIEWED"}, {"ROUNDS R/Y"},
               {"SELF-EVAL 优/良/中/差"}, {"KEY EVAL"}, {"RECTIFIED ON TIME"}});
    auto add = [&](const v1::ReportRow& r, bool total) {
      std::string rounds;
      for (const auto& m : r.rounds()) {
        absl::StrAppend(&rounds, rounds.empty() ? "" : " ", m.month(), "月:", m.red(), "/", m.yellow());
      }
      const auto& g = r.self_eval_grades();
      out.AddRow({std::to_string(r.year()), r.region(),
                  total ? "合计" : r.department() + " " + r.department_name(),
                  std::to_string(r.targets_filed()), std::to_string(r.targets_reviewed()), rounds,
                  absl::StrCat(r.self_evaluations(), " (", g.you(), "/", g.liang(), "/", g.zhong(),
                               "/", g.cha(), ")"),
                  absl::StrCat(r.key_evaluations_done(), "/", r.key_evaluations()),
                  absl::StrCat(r.rectified_on_time(), "/", r.rectifications())});
    };
    for (const auto& r : response.rows()) add(r, false);
    for (const auto& r : response.totals()) add(r, true);
    out.Print(std::cout);
    return kExitOk;
  }
  return PrintOrWrite("report", text, args.out, "");
}

Command AddReport(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* sub = app.add_subcommand(
      "report", "Annual figures per department: targets, monitoring, self-evaluation, key "
                "evaluation, rectification (绩效管理报表)");
  sub->add_option_function<int>("--year", [args](int y) { args->request.set_year(y); },
                                "Fiscal year (default: every year)");
  sub->add_option_function<std::string>(
      "--region", [args](const std::string& r) { args->request.set_region(r); }, "财政区划 code");
  sub->add_option_function<std::string>(
      "--department", [args](const std::string& d) { args->request.set_department(d); },
      "Top department code");
  sub->add_option("--format", args->format, "table (default), csv, xlsx or svg")
      ->check(CLI::IsMember({"table", "csv", "xlsx", "svg"}));
  sub->add_option("--out", args->out, "Write to FILE (required for xlsx)");
  return {sub, [args](const Client& client) { return RunReport(client, *args); }};
}

// disclosures [--year N] [--definition K] [--format table|json|csv|html] [--out FILE]
struct DisclosuresArgs {
  v1::ListDisclosuresRequest request;
  std::string format = "table";
  std::string out;
};

int RunDisclosures(const Client& client, const DisclosuresArgs& args) {
  auto stub = v1::ReportService::NewStub(client.channel());
  v1::ListDisclosuresResponse response;  // every page
  v1::ListDisclosuresRequest request = args.request;
  request.set_page_size(500);
  do {
    v1::ListDisclosuresResponse page;
    if (!client.Call([&](grpc::ClientContext* context) {
          return stub->ListDisclosures(context, request, &page);
        })) {
      return kExitFailure;
    }
    for (auto& d : *page.mutable_documents()) *response.add_documents() = std::move(d);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (client.json()) return PrintJson(response);
  std::string text;
  if (args.format == "json") {
    text = DisclosuresJson(response);
  } else if (args.format == "csv") {
    text = DisclosuresCsv(response);
  } else if (args.format == "html") {
    text = DisclosuresHtml(response, args.request.year() > 0
                                         ? absl::StrCat(args.request.year(), " 年度预算绩效信息公开")
                                         : std::string("预算绩效信息公开"));
  } else {
    Table table({IdColumn("DOCUMENT"), {"INSTANCE"}, {"PUBLISHED"}, IdColumn("SHA256")});
    for (const auto& d : response.documents()) {
      table.AddRow({d.id(), d.instance_id(), FormatLocalTime(d.created_unix_ms()),
                    d.sha256().substr(0, 12)});
    }
    table.Print(std::cout);
    return kExitOk;
  }
  return PrintOrWrite("disclosures", text, args.out,
                      absl::StrCat(" (", response.documents_size(), " disclosures)"));
}

Command AddDisclosures(CLI::App& app) {
  auto args = std::make_shared<DisclosuresArgs>();
  CLI::App* sub = app.add_subcommand(
      "disclosures", "Export the published disclosures (信息公开) as JSON, CSV or HTML");
  sub->add_option_function<int>("--year", [args](int y) { args->request.set_year(y); },
                                "Published in this year");
  sub->add_option_function<std::string>(
      "--definition", [args](const std::string& k) { args->request.set_definition_key(k); },
      "Only this workflow's disclosures");
  sub->add_option("--format", args->format, "table (default), json, csv or html")
      ->check(CLI::IsMember({"table", "json", "csv", "html"}));
  sub->add_option("--out", args->out, "Write to FILE");
  return {sub, [args](const Client& client) { return RunDisclosures(client, *args); }};
}

// scorecard --year N [--definition K] [--format table|csv] [--out FILE]
struct ScorecardArgs {
  v1::GetScorecardRequest request;
  std::string format = "table";
  std::string out;
};

int RunScorecard(const Client& client, const ScorecardArgs& args) {
  auto stub = v1::ReportService::NewStub(client.channel());
  v1::GetScorecardResponse response;
  if (!client.Call([&](grpc::ClientContext* context) {
        return stub->Scorecard(context, args.request, &response);
      })) {
    return kExitFailure;
  }
  if (client.json()) return PrintJson(response);
  // One column per item, as the sheet lists them.
  Cells cells = {{"名次", "部门编码", "部门", "总分", "等级"}};
  if (response.rows_size() > 0) {
    for (const auto& item : response.rows(0).items()) {
      cells[0].push_back(absl::StrCat(item.name(), "（", item.max_points(), "）"));
    }
  }
  for (const auto& row : response.rows()) {
    std::vector<std::string> c = {row.rank() > 0 ? std::to_string(row.rank()) : "未完成",
                                  row.department(), row.department_name(), row.total(), row.grade()};
    for (const auto& item : row.items()) c.push_back(item.points().empty() ? "-" : item.points());
    cells.push_back(std::move(c));
  }
  if (args.format == "csv") return PrintOrWrite("scorecard", ToCsv(cells), args.out, "");
  Table table({{"RANK"}, {"DEPARTMENT"}, {"NAME"}, {"TOTAL"}, {"GRADE"}});
  for (size_t i = 1; i < cells.size(); ++i) {
    table.AddRow({cells[i][0], cells[i][1], cells[i][2], cells[i][3], cells[i][4]});
  }
  table.Print(std::cout);
  return kExitOk;
}

Command AddScorecard(CLI::App& app) {
  auto args = std::make_shared<ScorecardArgs>();
  CLI::App* sub = app.add_subcommand(
      "scorecard", "The departments' assessment (考核) for a year: items, totals, ranking");
  sub->add_option_function<int>("--year", [args](int y) { args->request.set_year(y); },
                                "Fiscal year")
      ->required();
  sub->add_option_function<std::string>(
      "--definition", [args](const std::string& k) { args->request.set_definition_key(k); },
      "The assessment workflow (default performance-assessment)");
  sub->add_option("--format", args->format, "table (default) or csv (every item)")
      ->check(CLI::IsMember({"table", "csv"}));
  sub->add_option("--out", args->out, "Write to FILE");
  return {sub, [args](const Client& client) { return RunScorecard(client, *args); }};
}

// check-targets INSTANCE_ID [--form JSON|@FILE]
int RunCheckTargets(const Client& client, const std::string& id, const std::string& form) {
  v1::CheckTargetQualityRequest request;
  request.set_instance_id(id);
  if (!form.empty() && !ParseStructFlag(client, "--form", form, request.mutable_form())) {
    return kExitUsage;
  }
  auto stub = v1::TargetService::NewStub(client.channel());
  v1::CheckTargetQualityResponse response;
  if (!client.Call([&](grpc::ClientContext* context) {
        return stub->CheckQuality(context, request, &response);
      })) {
    return kExitFailure;
  }
  if (client.json()) return PrintJson(response);
  std::cout << (response.passed() ? "passed" : "NOT passed: fix the errors before submitting")
            << " (" << response.findings_size() << " findings; compared with "
            << response.compared() << " other filings)\n";
  if (response.findings_size() > 0) {
    Table table({{"SEVERITY"}, {"CODE"}, {"FIELD"}, {"MESSAGE"}});
    for (const auto& f : response.findings()) {
      table.AddRow({f.severity(), f.code(), f.field(), f.message()});
    }
    std::cout << "\n";
    table.Print(std::cout);
  }
  if (response.copies_size() > 0) {
    Table table({{"SIMILARITY"}, IdColumn("INSTANCE"), {"SUBJECT"}, {"ORG"}});
    for (const auto& c : response.copies()) {
      table.AddRow({c.similarity(), c.instance_id().empty() ? "(outside your scope)" : c.instance_id(),
                    c.subject_ref(), c.org()});
    }
    std::cout << "\nSimilar filings of other departments (同质化):\n";
    table.Print(std::cout);
  }
  return kExitOk;
}

Command AddCheckTargets(CLI::App& app) {
  auto id = std::make_shared<std::string>();
  auto form = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "check-targets",
      "Check a performance-target filing's quality (绩效目标质量检查) and find copies");
  sub->add_option("INSTANCE_ID", *id, "Instance id of the target filing")->required();
  sub->add_option("--form", *form,
                  "A draft to check instead of the filed form: a JSON object, or @FILE");
  return {sub, [id, form](const Client& client) { return RunCheckTargets(client, *id, *form); }};
}

// adjust-targets INSTANCE_ID --reason TEXT [--budget-changed] [--workflow KEY]
Command AddAdjustTargets(CLI::App& app) {
  auto request = std::make_shared<v1::AdjustTargetsRequest>();
  CLI::App* sub = app.add_subcommand(
      "adjust-targets", "Start an adjustment of approved performance targets (绩效目标调整)");
  sub->add_option_function<std::string>(
         "INSTANCE_ID", [request](const std::string& v) { request->set_instance_id(v); },
         "The approved filing (or an approved adjustment)")
      ->required();
  sub->add_option_function<std::string>(
         "--reason", [request](const std::string& v) { request->set_reason(v); },
         "Why the targets change (调整理由)")
      ->required();
  sub->add_flag_function(
      "--budget-changed", [request](std::int64_t n) { request->set_budget_changed(n > 0); },
      "The budget itself changed: the adjustment window and the yearly limit do not apply");
  sub->add_option_function<std::string>(
      "--workflow", [request](const std::string& v) { request->set_definition_key(v); },
      "The adjustment workflow (default target-adjustment)");
  return {sub, [request](const Client& client) {
            auto stub = v1::TargetService::NewStub(client.channel());
            v1::AdjustTargetsResponse response;
            if (!client.Call([&](grpc::ClientContext* context) {
                  return stub->Adjust(context, *request, &response);
                })) {
              return kExitFailure;
            }
            if (client.json()) return PrintJson(response);
            std::cout << "adjustment to version " << response.version() << " started\n";
            PrintInstance(response.adjustment());
            return kExitOk;
          }};
}

// target-versions INSTANCE_ID
Command AddTargetVersions(CLI::App& app) {
  auto id = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "target-versions", "Every version of a project's performance targets, and which is in force");
  sub->add_option("INSTANCE_ID", *id, "Any filing or adjustment of the project")->required();
  return {sub, [id](const Client& client) {
            auto stub = v1::TargetService::NewStub(client.channel());
            v1::TargetVersionsRequest request;
            request.set_instance_id(*id);
            v1::TargetVersionsResponse response;
            if (!client.Call([&](grpc::ClientContext* context) {
                  return stub->Versions(context, request, &response);
                })) {
              return kExitFailure;
            }
            if (client.json()) return PrintJson(response);
            std::cout << "targets of " << response.subject_ref() << "\n";
            Table table({{"VERSION"}, {"IN FORCE"}, {"STATUS"}, {"GRADE"}, IdColumn("INSTANCE"),
                         {"APPROVED"}, {"REASON"}});
            for (const auto& v : response.versions()) {
              table.AddRow({v.version() > 0 ? std::to_string(v.version()) : "-",
                            v.in_force() ? "*" : "", v.status(), v.grade(), v.instance_id(),
                            v.approved_ms() > 0 ? FormatLocalTime(v.approved_ms()) : "",
                            v.reason() + (v.budget_changed() ? " (预算调整)" : "")});
            }
            table.Print(std::cout);
            return kExitOk;
          }};
}

// docs INSTANCE_ID
int RunDocs(const Client& client, const std::string& instance_id) {
  auto stub = v1::InstanceService::NewStub(client.channel());
  v1::ListDocumentsRequest request;
  request.set_instance_id(instance_id);
  v1::ListDocumentsResponse response;
  if (!client.Call([&](grpc::ClientContext* context) {
        return stub->ListDocuments(context, request, &response);
      })) {
    return kExitFailure;
  }
  if (client.json()) return PrintJson(response);
  Table table({IdColumn("ID"), {"KIND"}, {"STATE"}, IdColumn("SHA256"), {"CREATED"}});
  for (const auto& document : response.documents()) {
    table.AddRow({document.id(), document.kind(), document.state(),
                  document.sha256().substr(0, 12), FormatLocalTime(document.created_unix_ms())});
  }
  table.Print(std::cout);
  return kExitOk;
}

Command AddDocs(CLI::App& app) {
  auto id = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("docs", "List the documents an instance produced");
  sub->add_option("INSTANCE_ID", *id, "Instance id")->required();
  return {sub, [id](const Client& client) { return RunDocs(client, *id); }};
}

// doc DOC_ID [--out FILE]
struct DocArgs {
  std::string id;
  std::string out;
};

bool WriteFile(const std::string& path, const std::string& content, std::string* error) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  bool ok = file != nullptr &&
            std::fwrite(content.data(), 1, content.size(), file) == content.size();
  int write_errno = errno;
  if (file != nullptr && std::fclose(file) != 0 && ok) {
    ok = false;
    write_errno = errno;
  }
  if (!ok) *error = absl::StrCat("cannot write ", path, ": ", std::strerror(write_errno));
  return ok;
}

int RunDoc(const Client& client, const DocArgs& args) {
  auto stub = v1::InstanceService::NewStub(client.channel());
  v1::GetDocumentRequest request;
  request.set_id(args.id);
  v1::GetDocumentResponse response;
  if (!client.Call([&](grpc::ClientContext* context) {
        return stub->GetDocument(context, request, &response);
      })) {
    return kExitFailure;
  }
  const auto& document = response.document();
  if (!args.out.empty()) {
    std::string error;
    if (!WriteFile(args.out, document.content(), &error)) {
      PrintError(client.command(), error);
      return kExitFailure;
    }
  }
  if (client.json()) return PrintJson(response);
  if (args.out.empty()) {
    std::cout.write(document.content().data(), static_cast<std::streamsize>(document.content().size()));
    std::cout.flush();
  }
  std::cerr << "sha256 " << document.sha256() << '\n';
  return kExitOk;
}

Command AddDoc(CLI::App& app) {
  auto args = std::make_shared<DocArgs>();
  CLI::App* sub = app.add_subcommand(
      "doc", "Write a document's content to stdout (or --out FILE); its sha256 goes to stderr");
  sub->add_option("DOC_ID", args->id, "Document id")->required();
  sub->add_option("--out", args->out, "Write the content to this file instead of stdout");
  return {sub, [args](const Client& client) { return RunDoc(client, *args); }};
}

// health
int RunHealth(const Client& client) {
  auto stub = health::Health::NewStub(client.channel());
  health::HealthCheckRequest request;  // service "": the server as a whole
  health::HealthCheckResponse response;
  if (!client.Call([&](grpc::ClientContext* context) {
        return stub->Check(context, request, &response);
      })) {
    return kExitFailure;
  }
  if (client.json()) {
    PrintJson(response);
  } else {
    std::cout << health::HealthCheckResponse::ServingStatus_Name(response.status()) << '\n';
  }
  return response.status() == health::HealthCheckResponse::SERVING ? kExitOk : kExitFailure;
}

Command AddHealth(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("health", "Ask the server whether it is serving (exit 0 if so)");
  return {sub, RunHealth};
}

// ---- Main -----------------------------------------------------------------

void AddGlobalFlags(CLI::App& app, GlobalOptions* global) {
  app.add_option("--server", global->server, "bpmd address HOST:PORT")
      ->envname("BPM_SERVER")
      ->capture_default_str();
  app.add_option("--user", global->user, "Caller user id")->envname("BPM_USER");
  app.add_option("--roles", global->roles, "Caller roles, comma separated")->envname("BPM_ROLES");
  app.add_option("--org", global->org, "Caller org (unit code)")->envname("BPM_ORG");
  app.add_option("--tls-ca", global->tls_ca_file, "Connect with TLS, trusting this CA (PEM)")
      ->envname("BPM_TLS_CA");
  app.add_option("--tls-cert", global->tls_cert_file, "Client certificate for mutual TLS (PEM)")
      ->envname("BPM_TLS_CERT");
  app.add_option("--tls-key", global->tls_key_file, "Its private key (PEM)")->envname("BPM_TLS_KEY");
  app.add_option("--token-file", global->token_file,
                 "File holding the caller's signed token (JWT); replaces --user/--roles/--org")
      ->envname("BPM_TOKEN_FILE");
  app.add_option("--timeout", global->timeout_seconds, "Deadline of each call, in seconds")
      ->check(CLI::Range(0.001, 31536000.0))
      ->capture_default_str();
  app.add_flag("--json", global->json, "Print the response as JSON instead of tables");
}

// Identity goes into gRPC metadata, which only carries printable ASCII.
bool CheckGlobalOptions(GlobalOptions* global) {
  std::vector<std::string> roles = absl::StrSplit(global->roles, ',', absl::SkipWhitespace());
  for (auto& role : roles) role = std::string(absl::StripAsciiWhitespace(role));
  global->roles = absl::StrJoin(roles, ",");
  const std::pair<absl::string_view, const std::string*> identity[] = {
      {"--user", &global->user}, {"--roles", &global->roles}, {"--org", &global->org}};
  for (const auto& [flag, value] : identity) {
    for (const char ch : *value) {
      if (ch < 0x20 || ch > 0x7E) {
        std::cerr << "bpmctl: " << flag << ": only printable ASCII is allowed (gRPC metadata)\n";
        return false;
      }
    }
  }
  if (global->server.empty()) {
    std::cerr << "bpmctl: --server: must not be empty\n";
    return false;
  }
  const std::pair<const char*, std::pair<const std::string*, std::string*>> pem_files[] = {
      {"--tls-ca", {&global->tls_ca_file, &global->tls_ca}},
      {"--tls-cert", {&global->tls_cert_file, &global->tls_cert}},
      {"--tls-key", {&global->tls_key_file, &global->tls_key}}};
  for (const auto& [flag, file] : pem_files) {
    if (file.first->empty()) continue;
    std::ifstream in(*file.first);
    std::stringstream text;
    text << in.rdbuf();
    *file.second = text.str();
    if (!in || file.second->empty()) {
      std::cerr << "bpmctl: " << flag << " " << *file.first << ": cannot read\n";
      return false;
    }
  }
  if (global->tls_cert.empty() != global->tls_key.empty() ||
      (!global->tls_cert.empty() && global->tls_ca.empty())) {
    std::cerr << "bpmctl: --tls-cert and --tls-key go together, and with --tls-ca\n";
    return false;
  }
  if (!global->token_file.empty()) {
    std::ifstream in(global->token_file);
    std::stringstream text;
    text << in.rdbuf();
    global->token = std::string(absl::StripAsciiWhitespace(text.str()));
    if (!in || global->token.empty()) {
      std::cerr << "bpmctl: --token-file " << global->token_file << ": cannot read a token\n";
      return false;
    }
    for (const char ch : global->token) {
      if (ch < 0x21 || ch > 0x7E) {
        std::cerr << "bpmctl: --token-file " << global->token_file
                  << ": not a token (only printable ASCII without spaces)\n";
        return false;
      }
    }
  }
  return true;
}

int Main(int argc, char** argv) {
  // Proto strings must be UTF-8; catch a non-UTF-8 terminal early and clearly.
  for (int i = 1; i < argc; ++i) {
    if (FindInvalidUtf8(argv[i]) != kNotFound) {
      std::cerr << "bpmctl: argument " << i << " is not valid UTF-8 (is the terminal UTF-8?)\n";
      return kExitUsage;
    }
  }

  CLI::App app("bpmctl: command-line client of bpmd, the budget-performance workflow engine",
               "bpmctl");
  app.footer(
      "Global flags may come before or after the subcommand.\n"
      "Exit codes: 0 ok; 1 error from the server (or unreachable), invalid definition,\n"
      "not serving; 2 usage error.");
  GlobalOptions global;
  AddGlobalFlags(app, &global);
  app.fallthrough();  // inherited by the subcommands added below
  app.require_subcommand(1);

  std::vector<Command> commands = {
      AddValidate(app),      AddDeploy(app), AddDefs(app),   AddDef(app),
      AddAlias(app),         AddRollback(app), AddDiff(app), AddGraph(app), AddMigrate(app),
      AddPreview(app),
      AddStart(app, global), AddShow(app, /*history_only=*/false),
      AddShow(app, /*history_only=*/true),   AddList(app),   AddInbox(app),
      AddAct(app),           AddCheckTargets(app), AddAdjustTargets(app), AddTargetVersions(app), AddReport(app), AddDisclosures(app), AddScorecard(app), AddDocs(app),   AddDoc(app),    AddHealth(app),
      OrgCommand<Command>(app),
  };
  for (Command& command : TaskCommands<Command, Client>(
           app, {PrintInstance, PrintFields, ToJson, AddPagingFlags, PrintPageHint, ReadInput,
                 ParseVarFlag})) {
    commands.push_back(std::move(command));
  }
  for (Command& command : AgencyCommands<Command>(app)) commands.push_back(std::move(command));
  AuditCommand audit = AddAuditCommand(app);
  commands.push_back(
      Command{audit.app, [run = audit.run](const Client& client) { return run(client.json()); }});

  app.failure_message([](const CLI::App*, const CLI::Error& error) {
    return absl::StrCat("bpmctl: ", error.what(), "\nRun with --help for more information.\n");
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? kExitOk : kExitUsage;
  }
  if (!CheckGlobalOptions(&global)) return kExitUsage;

  for (const auto& command : commands) {
    if (command.app->parsed()) return command.run(Client(global, command.app->get_name()));
  }
  return kExitUsage;  // unreachable: require_subcommand(1)
}

}  // namespace
}  // namespace bpm::cli

int main(int argc, char** argv) {
  try {
    return bpm::cli::Main(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "bpmctl: internal error: " << error.what() << '\n';
    return 1;
  }
}
