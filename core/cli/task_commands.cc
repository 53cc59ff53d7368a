#include "core/cli/task_commands.h"

#include <chrono>
#include <cstdint>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "bpm/v1/bpm.grpc.pb.h"
#include "core/cli/output.h"
#include "core/org/dates.h"

namespace bpm::cli {
namespace {

namespace v1 = ::bpm::v1;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Prints "bpmctl: COMMAND: MESSAGE" to stderr.
void UsageError(absl::string_view command, absl::string_view message) {
  std::cerr << "bpmctl: " << command << ": " << message << '\n';
}

int PrintJson(const TaskOutput& out, const google::protobuf::Message& message) {
  std::cout << out.to_json(message) << '\n';
  return kExitOk;
}

// ---- Dates ------------------------------------------------------------------

// "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM" (or with a blank for the T), China
// time, as Unix ms. A bare date is 00:00 of that day, or with end_of_day its
// last second (23:59:59). nullopt when malformed.
std::optional<int64_t> ParseChinaDateTime(std::string_view text, bool end_of_day) {
  if (text.size() == 10) {
    std::optional<int64_t> day = org::ParseChinaDate(text);
    if (day && end_of_day) *day += org::kDayMs - 1000;
    return day;
  }
  if (text.size() != 16 || (text[10] != 'T' && text[10] != ' ') || text[13] != ':') {
    return std::nullopt;
  }
  const std::optional<int64_t> day = org::ParseChinaDate(text.substr(0, 10));
  auto two_digits = [&](size_t at) {
    const char a = text[at], b = text[at + 1];
    if (a < '0' || a > '9' || b < '0' || b > '9') return -1;
    return (a - '0') * 10 + (b - '0');
  };
  const int hours = two_digits(11), minutes = two_digits(14);
  if (!day || hours < 0 || hours > 23 || minutes < 0 || minutes > 59) return std::nullopt;
  return *day + (int64_t{hours} * 60 + minutes) * 60 * 1000;
}

// Parses a DATE flag into *out; "" leaves *out alone. Reports and returns
// false when malformed.
bool ParseDateFlag(absl::string_view command, absl::string_view flag, const std::string& value,
                   bool end_of_day, int64_t* out) {
  if (value.empty()) return true;
  const std::optional<int64_t> ms = ParseChinaDateTime(value, end_of_day);
  if (!ms) {
    UsageError(command, absl::StrCat(flag, ": '", value,
                                     "' is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM, China time)"));
    return false;
  }
  *out = *ms;
  return true;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- Shared flags -------------------------------------------------------------

void AddExpectVersionFlag(CLI::App* sub, int64_t* expect_version) {
  sub->add_option("--expect-version", *expect_version,
                  "Fail with ABORTED unless the instance is still at this version")
      ->check(CLI::Range(int64_t{0}, std::numeric_limits<int64_t>::max()));
}

void AddIdempotencyFlag(CLI::App* sub, std::string* key) {
  sub->add_option("--idempotency-key", *key,
                  "Retry-safe key: repeating the call does not do it twice");
}

// ---- Operations that change an instance -----------------------------------------

// "ok: instance ID now in state S (version N)", then the instance, as `act`.
int PrintChanged(const TaskClient& client, const TaskOutput& out,
                 const v1::ActResponse& response) {
  if (client.json) return PrintJson(out, response);
  const v1::Instance& instance = response.instance();
  std::cout << "ok: instance " << instance.id() << " now in state " << instance.state()
            << " (version " << instance.version() << ")\n\n";
  out.print_instance(instance);
  return kExitOk;
}

// Sends one operation RPC of Service (TaskService or InstanceService).
template <typename Stub, typename Request>
int RunOperation(const TaskClient& client, const TaskOutput& out,
                 grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&, v1::ActResponse*),
                 const Request& request) {
  Stub stub(client.channel);
  v1::ActResponse response;
  if (!client.call([&](grpc::ClientContext* c) { return (stub.*rpc)(c, request, &response); })) {
    return kExitFailure;
  }
  return PrintChanged(client, out, response);
}

using TaskRpc = grpc::Status (v1::TaskService::Stub::*)(grpc::ClientContext*,
                                                        const v1::TaskOperationRequest&,
                                                        v1::ActResponse*);
using InstanceRpc = grpc::Status (v1::InstanceService::Stub::*)(
    grpc::ClientContext*, const v1::InstanceOperationRequest&, v1::ActResponse*);

// claim / unclaim / transfer / delegate / resolve: TASK_ID [USER]
struct TaskOpArgs {
  std::string task_id, target_user, comment, idempotency_key;
  int64_t expect_version = 0;
};

TaskCommand AddTaskOperation(CLI::App& app, const TaskOutput& out, const char* name,
                             const char* description, TaskRpc rpc, bool with_target) {
  auto args = std::make_shared<TaskOpArgs>();
  CLI::App* sub = app.add_subcommand(name, description);
  sub->add_option("TASK_ID", args->task_id, "Task id")->required();
  if (with_target) sub->add_option("USER", args->target_user, "The receiving user")->required();
  sub->add_option("--comment", args->comment, "Comment recorded in the history");
  AddExpectVersionFlag(sub, &args->expect_version);
  AddIdempotencyFlag(sub, &args->idempotency_key);
  return {sub, [args, out, rpc](const TaskClient& client) {
            v1::TaskOperationRequest request;
            request.set_task_id(args->task_id);
            request.set_target_user(args->target_user);
            request.set_comment(args->comment);
            request.set_idempotency_key(args->idempotency_key);
            request.set_expected_version(args->expect_version);
            return RunOperation(client, out, rpc, request);
          }};
}

// cancel / withdraw / comment / urge / cc: INSTANCE_ID ...
struct InstanceOpArgs {
  std::string instance_id, comment, idempotency_key, target_state;
  std::vector<std::string> users;
  int64_t expect_version = 0;
};

// Declares INSTANCE_ID and the version and idempotency flags; the caller adds
// how the command takes its text (and recipients).
std::pair<CLI::App*, std::shared_ptr<InstanceOpArgs>> AddInstanceOperationApp(
    CLI::App& app, const char* name, const char* description) {
  auto args = std::make_shared<InstanceOpArgs>();
  CLI::App* sub = app.add_subcommand(name, description);
  sub->add_option("INSTANCE_ID", args->instance_id, "Instance id")->required();
  return {sub, args};
}

TaskCommand FinishInstanceOperation(CLI::App* sub, std::shared_ptr<InstanceOpArgs> args,
                                    const TaskOutput& out, InstanceRpc rpc) {
  AddExpectVersionFlag(sub, &args->expect_version);
  AddIdempotencyFlag(sub, &args->idempotency_key);
  return {sub, [args, out, rpc](const TaskClient& client) {
            v1::InstanceOperationRequest request;
            request.set_instance_id(args->instance_id);
            request.set_comment(args->comment);
            request.set_target_state(args->target_state);
            for (const std::string& user : args->users) request.add_users(user);
            request.set_idempotency_key(args->idempotency_key);
            request.set_expected_version(args->expect_version);
            return RunOperation(client, out, rpc, request);
          }};
}

// An instance operation whose text is --FLAG (required or not).
TaskCommand AddInstanceOperation(CLI::App& app, const TaskOutput& out, const char* name,
                                 const char* description, InstanceRpc rpc, const char* flag,
                                 const char* flag_help, bool required) {
  auto [sub, args] = AddInstanceOperationApp(app, name, description);
  CLI::Option* option = sub->add_option(flag, args->comment, flag_help);
  if (required) option->required();
  return FinishInstanceOperation(sub, args, out, rpc);
}

TaskCommand AddComment(CLI::App& app, const TaskOutput& out) {
  auto [sub, args] = AddInstanceOperationApp(app, "comment", "Comment on an instance");
  sub->add_option("TEXT", args->comment, "The comment")->required();
  return FinishInstanceOperation(sub, args, out, &v1::InstanceService::Stub::Comment);
}

TaskCommand AddJump(CLI::App& app, const TaskOutput& out) {
  auto [sub, args] = AddInstanceOperationApp(
      app, "jump",
      "跳转 (workflow_admin): move an instance to another state of its version; the current "
      "state's tasks are cancelled");
  sub->add_option("STATE", args->target_state, "The state to move to")->required();
  sub->add_option("--reason", args->comment, "Why (required)")->required();
  return FinishInstanceOperation(sub, args, out, &v1::InstanceService::Stub::Jump);
}

TaskCommand AddCc(CLI::App& app, const TaskOutput& out) {
  auto [sub, args] = AddInstanceOperationApp(
      app, "cc", "抄送: copy an instance to users (read-only entries in their `inbox --view cc`)");
  sub->add_option("USER", args->users, "Recipients")->required();
  sub->add_option("--comment", args->comment, "A note for the recipients");
  return FinishInstanceOperation(sub, args, out, &v1::InstanceService::Stub::Cc);
}

// ---- Proxies ---------------------------------------------------------------------

struct ProxySetArgs {
  std::string proxy_user, from, to;
};

int RunProxySet(const TaskClient& client, const TaskOutput& out, const ProxySetArgs& args) {
  v1::SetProxyRequest request;
  request.set_proxy_user(args.proxy_user);
  int64_t from = NowMs(), to = 0;
  if (!ParseDateFlag("proxy set", "--from", args.from, false, &from) ||
      !ParseDateFlag("proxy set", "--to", args.to, false, &to)) {
    return kExitUsage;
  }
  if (to <= from) {
    UsageError("proxy set", args.from.empty() ? "--to: must be in the future"
                                              : "--to: must be after --from");
    return kExitUsage;
  }
  request.set_from_unix_ms(from);
  request.set_to_unix_ms(to);
  v1::TaskService::Stub stub(client.channel);
  v1::Proxy proxy;
  if (!client.call([&](grpc::ClientContext* c) { return stub.SetProxy(c, request, &proxy); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(out, proxy);
  std::cout << "ok: proxy " << proxy.id() << ": " << proxy.proxy_user() << " acts for "
            << proxy.principal() << " from " << org::FormatChinaTime(proxy.from_unix_ms())
            << " until " << org::FormatChinaTime(proxy.to_unix_ms()) << '\n';
  return kExitOk;
}

int RunProxyList(const TaskClient& client, const TaskOutput& out, const std::string& user) {
  v1::ListProxiesRequest request;
  request.set_user(user);
  v1::TaskService::Stub stub(client.channel);
  v1::ListProxiesResponse response;
  if (!client.call(
          [&](grpc::ClientContext* c) { return stub.ListProxies(c, request, &response); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(out, response);
  Table table({IdColumn("ID"), {"PRINCIPAL"}, {"PROXY"}, {"FROM"}, {"TO"}});
  for (const v1::Proxy& p : response.proxies()) {
    table.AddRow({p.id(), p.principal(), p.proxy_user(), org::FormatChinaTime(p.from_unix_ms()),
                  org::FormatChinaTime(p.to_unix_ms())});
  }
  table.Print(std::cout);
  return kExitOk;
}

int RunProxyRemove(const TaskClient& client, const TaskOutput& out, const std::string& id) {
  v1::RemoveProxyRequest request;
  request.set_id(id);
  v1::TaskService::Stub stub(client.channel);
  v1::RemoveProxyResponse response;
  if (!client.call(
          [&](grpc::ClientContext* c) { return stub.RemoveProxy(c, request, &response); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(out, response);
  std::cout << "ok: proxy " << id << " removed\n";
  return kExitOk;
}

// The parsed one of a group's subcommands.
using SubRuns = std::vector<std::pair<CLI::App*, std::function<int(const TaskClient&)>>>;

TaskCommand Group(CLI::App* group, SubRuns subs) {
  group->require_subcommand(1);
  return {group, [subs = std::move(subs)](const TaskClient& client) {
            for (const auto& [app, run] : subs) {
              if (app->parsed()) return run(client);
            }
            return kExitUsage;  // unreachable: require_subcommand(1)
          }};
}

TaskCommand AddProxy(CLI::App& app, const TaskOutput& out) {
  CLI::App* proxy = app.add_subcommand(
      "proxy", "代理: let another user act on your tasks for a time (dates China time)");
  SubRuns subs;

  auto set = std::make_shared<ProxySetArgs>();
  CLI::App* sub = proxy->add_subcommand("set", "Let PROXY_USER act on your tasks from --from until --to");
  sub->add_option("PROXY_USER", set->proxy_user, "The user who acts for you")->required();
  sub->add_option("--from", set->from, "Start, YYYY-MM-DD[THH:MM] (default: now)");
  sub->add_option("--to", set->to, "End, exclusive, YYYY-MM-DD[THH:MM] (a date: 00:00)")
      ->required();
  subs.emplace_back(sub, [set, out](const TaskClient& c) { return RunProxySet(c, out, *set); });

  auto user = std::make_shared<std::string>();
  sub = proxy->add_subcommand("list", "List proxies where a user is the principal or the proxy");
  // Here --user is a filter; give the caller's identity with BPM_USER or
  // with the global flags before `proxy`.
  sub->add_option("--user", *user, "Whose proxies (a filter, not the caller; default: the caller)");
  subs.emplace_back(sub, [user, out](const TaskClient& c) { return RunProxyList(c, out, *user); });

  auto id = std::make_shared<std::string>();
  sub = proxy->add_subcommand("rm", "Remove one of your proxies");
  sub->add_option("ID", *id, "Proxy id (from proxy list)")->required();
  subs.emplace_back(sub, [id, out](const TaskClient& c) { return RunProxyRemove(c, out, *id); });

  return Group(proxy, std::move(subs));
}

// ---- Notifications -------------------------------------------------------------------

struct PageArgs {
  int page_size = 0;
  std::string page_token;
  bool all = false;
};

int RunNotifications(const TaskClient& client, const TaskOutput& out, const PageArgs& args) {
  v1::TaskService::Stub stub(client.channel);
  v1::ListNotificationsRequest request;
  request.set_page_size(args.page_size);
  request.set_page_token(args.page_token);
  v1::ListNotificationsResponse merged;
  while (true) {
    v1::ListNotificationsResponse page;
    if (!client.call(
            [&](grpc::ClientContext* c) { return stub.ListNotifications(c, request, &page); })) {
      return kExitFailure;
    }
    merged.mutable_notifications()->MergeFrom(page.notifications());
    merged.set_next_page_token(page.next_page_token());
    if (!args.all || page.next_page_token().empty()) break;
    if (page.next_page_token() == request.page_token()) {
      UsageError("notifications", "server returned the same page token twice; stopping");
      return kExitFailure;
    }
    request.set_page_token(page.next_page_token());
  }
  if (client.json) return PrintJson(out, merged);
  Table table({{"TIME"}, {"KIND"}, {"FROM"}, IdColumn("INSTANCE"), IdColumn("TASK"), {"TEXT"}});
  for (const v1::Notification& n : merged.notifications()) {
    table.AddRow({FormatLocalTime(n.created_unix_ms()), n.kind(), n.from_user(), n.instance_id(),
                  n.task_id(), n.text()});
  }
  table.Print(std::cout);
  out.print_page_hint(merged.next_page_token());
  return kExitOk;
}

TaskCommand AddNotifications(CLI::App& app, const TaskOutput& out) {
  auto args = std::make_shared<PageArgs>();
  CLI::App* sub = app.add_subcommand(
      "notifications", "List the caller's notifications (urge, cc, remind, overdue, …), oldest first");
  out.add_paging_flags(sub, &args->page_size, &args->page_token, &args->all);
  return {sub, [args, out](const TaskClient& c) { return RunNotifications(c, out, *args); }};
}

// ---- Campaigns ---------------------------------------------------------------------

struct CampaignStartArgs {
  std::string key, title, orgs_file, deadline, idempotency_key;
  std::vector<std::string> orgs, vars;
};

// Targets from an orgs file: one org per line, optionally followed by a tab
// or a comma and the subject. Blank lines and lines starting with # are
// skipped. On failure sets *error (without the flag).
bool ReadTargets(const TaskOutput& out, const std::string& path,
                 google::protobuf::RepeatedPtrField<v1::CampaignTarget>* targets,
                 std::string* error) {
  std::string text;
  if (!out.read_file(path, &text, error)) return false;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);  // a UTF-8 BOM
  const std::string name = path == "-" ? "<stdin>" : path;
  if (const size_t bad = FindInvalidUtf8(text); bad != std::string_view::npos) {
    *error = absl::StrCat(name, ": not valid UTF-8 at byte ", bad,
                          " (convert the file, e.g. iconv -f GBK -t UTF-8)");
    return false;
  }
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const size_t cut = line.find_first_of("\t,");
    const absl::string_view org = absl::StripAsciiWhitespace(line.substr(0, cut));
    if (org.empty()) {
      *error = absl::StrCat(name, ":", line_number, ": no org before the subject");
      return false;
    }
    v1::CampaignTarget* target = targets->Add();
    target->set_org(std::string(org));
    if (cut != absl::string_view::npos) {
      target->set_subject_ref(std::string(absl::StripAsciiWhitespace(line.substr(cut + 1))));
    }
  }
  return true;
}

int RunCampaignStart(const TaskClient& client, const TaskOutput& out,
                     const CampaignStartArgs& args) {
  const char* command = "campaign start";
  v1::StartCampaignRequest request;
  request.set_definition_key(args.key);
  request.set_title(args.title);
  request.set_idempotency_key(args.idempotency_key);
  for (const std::string& org : args.orgs) request.add_targets()->set_org(org);
  std::string error;
  if (!args.orgs_file.empty() &&
      !ReadTargets(out, args.orgs_file, request.mutable_targets(), &error)) {
    UsageError(command, absl::StrCat("--orgs-file: ", error));
    return kExitUsage;
  }
  if (request.targets().empty()) {
    UsageError(command, "--org or --orgs-file: give at least one target org");
    return kExitUsage;
  }
  int64_t deadline = 0;
  if (!ParseDateFlag(command, "--deadline", args.deadline, true, &deadline)) return kExitUsage;
  request.set_deadline_unix_ms(deadline);
  for (const std::string& var : args.vars) {
    if (!client.parse_var(var, request.mutable_variables())) return kExitUsage;
  }
  v1::CampaignService::Stub stub(client.channel);
  v1::Campaign campaign;
  if (!client.call([&](grpc::ClientContext* c) { return stub.Start(c, request, &campaign); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(out, campaign);
  std::cout << "campaign " << campaign.id() << ": " << campaign.target_count() << " instances\n";
  return kExitOk;
}

void AddCountsRow(Table* table, const std::string& label, const v1::CampaignCounts& c) {
  table->AddRow({label, absl::StrCat(c.total()), absl::StrCat(c.not_started()),
                 absl::StrCat(c.submitted()), absl::StrCat(c.in_review()),
                 absl::StrCat(c.returned()), absl::StrCat(c.approved()),
                 absl::StrCat(c.cancelled()), absl::StrCat(c.overdue())});
}

int RunCampaignShow(const TaskClient& client, const TaskOutput& out, const std::string& id) {
  v1::GetCampaignRequest request;
  request.set_id(id);
  v1::CampaignService::Stub stub(client.channel);
  v1::GetCampaignResponse response;
  if (!client.call([&](grpc::ClientContext* c) { return stub.Get(c, request, &response); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(out, response);
  const v1::Campaign& campaign = response.campaign();
  out.print_fields({
      {"Campaign", campaign.id()},
      {"Title", campaign.title()},
      {"Definition", absl::StrCat(campaign.definition_key(), "@", campaign.definition_version())},
      {"Deadline", org::FormatChinaTime(campaign.deadline_unix_ms())},
      {"Targets", absl::StrCat(campaign.target_count())},
      {"Created by", campaign.created_by()},
      {"Created", FormatLocalTime(campaign.created_unix_ms())},
  });
  std::cout << '\n';
  Table table({IdColumn("DEPARTMENT"), {"TOTAL"}, {"NOT_STARTED"}, {"SUBMITTED"}, {"IN_REVIEW"},
               {"RETURNED"}, {"APPROVED"}, {"CANCELLED"}, {"OVERDUE"}});
  for (const v1::CampaignCounts& department : response.departments()) {
    AddCountsRow(&table, department.department(), department);
  }
  AddCountsRow(&table, "TOTAL", response.total());
  table.Print(std::cout);
  return kExitOk;
}

int RunCampaignList(const TaskClient& client, const TaskOutput& out) {
  v1::CampaignService::Stub stub(client.channel);
  v1::ListCampaignsRequest request;
  v1::ListCampaignsResponse response;
  if (!client.call([&](grpc::ClientContext* c) { return stub.List(c, request, &response); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(out, response);
  Table table({IdColumn("ID"), {"TITLE"}, {"DEFINITION"}, {"TARGETS"}, {"DEADLINE"},
               {"CREATED BY"}, {"CREATED"}});
  for (const v1::Campaign& c : response.campaigns()) {
    table.AddRow({c.id(), c.title(), absl::StrCat(c.definition_key(), "@", c.definition_version()),
                  absl::StrCat(c.target_count()), org::FormatChinaTime(c.deadline_unix_ms()),
                  c.created_by(), FormatLocalTime(c.created_unix_ms())});
  }
  table.Print(std::cout);
  return kExitOk;
}

struct CampaignOpArgs {
  std::string id, comment, deadline;
};

// campaign urge / campaign extend: "urged N instances" / "extended N instances".
int RunCampaignOperation(const TaskClient& client, const TaskOutput& out,
                         const CampaignOpArgs& args, bool extend) {
  v1::CampaignOperationRequest request;
  request.set_id(args.id);
  request.set_comment(args.comment);
  int64_t deadline = 0;
  if (!ParseDateFlag(extend ? "campaign extend" : "campaign urge", "--deadline", args.deadline,
                     true, &deadline)) {
    return kExitUsage;
  }
  request.set_deadline_unix_ms(deadline);
  v1::CampaignService::Stub stub(client.channel);
  v1::CampaignOperationResponse response;
  if (!client.call([&](grpc::ClientContext* c) {
        return extend ? stub.ExtendDeadline(c, request, &response)
                      : stub.Urge(c, request, &response);
      })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(out, response);
  std::cout << (extend ? "extended " : "urged ") << response.affected() << " instances\n";
  return kExitOk;
}

TaskCommand AddCampaign(CLI::App& app, const TaskOutput& out) {
  CLI::App* campaign = app.add_subcommand(
      "campaign", "一对多下发: one workflow issued to many orgs, followed up together");
  SubRuns subs;

  auto start = std::make_shared<CampaignStartArgs>();
  CLI::App* sub = campaign->add_subcommand("start", "Start one instance of KEY per target org");
  sub->add_option("KEY", start->key, "Definition key")->required();
  sub->add_option("--title", start->title, "Campaign title")->required();
  sub->add_option("--org", start->orgs,
                  "Target org (repeatable). Written after the subcommand, --org means this, "
                  "not the identity org")
      ->allow_extra_args(false);
  sub->add_option("--orgs-file", start->orgs_file,
                  "Target orgs, one per line, optionally a tab or comma and the subject "
                  "(- for standard input)");
  sub->add_option("--deadline", start->deadline,
                  "Due time of each first task, YYYY-MM-DD[THH:MM] (a date: its end, 23:59:59)");
  sub->add_option("--var", start->vars,
                  "Variable KEY=VALUE for every instance (repeatable); VALUE is JSON if it "
                  "parses, else a string")
      ->allow_extra_args(false);
  AddIdempotencyFlag(sub, &start->idempotency_key);
  subs.emplace_back(sub,
                    [start, out](const TaskClient& c) { return RunCampaignStart(c, out, *start); });

  auto show = std::make_shared<std::string>();
  sub = campaign->add_subcommand("show", "Show a campaign and its counts per department");
  sub->add_option("ID", *show, "Campaign id")->required();
  subs.emplace_back(sub, [show, out](const TaskClient& c) { return RunCampaignShow(c, out, *show); });

  sub = campaign->add_subcommand("list", "List campaigns");
  subs.emplace_back(sub, [out](const TaskClient& c) { return RunCampaignList(c, out); });

  auto urge = std::make_shared<CampaignOpArgs>();
  sub = campaign->add_subcommand("urge", "催办 every open task of the campaign's running instances");
  sub->add_option("ID", urge->id, "Campaign id")->required();
  sub->add_option("--comment", urge->comment, "The reminder's text");
  subs.emplace_back(sub, [urge, out](const TaskClient& c) {
    return RunCampaignOperation(c, out, *urge, /*extend=*/false);
  });

  auto extend = std::make_shared<CampaignOpArgs>();
  sub = campaign->add_subcommand("extend", "Move the deadline of the running instances later");
  sub->add_option("ID", extend->id, "Campaign id")->required();
  sub->add_option("--deadline", extend->deadline,
                  "The new deadline, YYYY-MM-DD[THH:MM] (a date: its end, 23:59:59)")
      ->required();
  subs.emplace_back(sub, [extend, out](const TaskClient& c) {
    return RunCampaignOperation(c, out, *extend, /*extend=*/true);
  });

  return Group(campaign, std::move(subs));
}

// Review-chain actions with their payload spelled as flags: add-signer,
// remove-signer, return (the same as `act TASK ACTION --payload {...}`).
struct ReviewActionArgs {
  std::string task_id, user, to, step, resume, comment, idempotency_key;
  bool before = false;
  int64_t expect_version = 0;
};

TaskCommand AddReviewAction(CLI::App& app, const TaskOutput& out, const char* name,
                            const char* description, const char* action) {
  auto args = std::make_shared<ReviewActionArgs>();
  CLI::App* sub = app.add_subcommand(name, description);
  sub->add_option("TASK_ID", args->task_id, "Your review task")->required();
  const std::string which = action;
  if (which == "add_signer" || which == "remove_signer") {
    sub->add_option("USER", args->user, "The signer")->required();
  }
  if (which == "add_signer") {
    sub->add_flag("--before", args->before,
                  "The signer decides before you (default: after you)");
  }
  if (which == "return") {
    sub->add_option("--to", args->to, "previous (default) | initiator | step")
        ->check(CLI::IsMember({"previous", "initiator", "step"}));
    sub->add_option("--step", args->step, "With --to step: the step's name");
    sub->add_option("--resume", args->resume,
                    "After a return to the initiator: rerun | returning_step")
        ->check(CLI::IsMember({"rerun", "returning_step"}));
    sub->add_option("--comment", args->comment, "Why (required for a return)")->required();
  } else {
    sub->add_option("--comment", args->comment, "Comment recorded in the history");
  }
  AddExpectVersionFlag(sub, &args->expect_version);
  AddIdempotencyFlag(sub, &args->idempotency_key);
  return {sub, [args, out, which](const TaskClient& client) {
            v1::ActRequest request;
            request.set_task_id(args->task_id);
            request.set_action(which);
            auto& payload = *request.mutable_payload()->mutable_fields();
            if (!args->user.empty()) payload["user"].set_string_value(args->user);
            if (which == "add_signer") {
              payload["position"].set_string_value(args->before ? "before" : "after");
            }
            if (!args->to.empty()) payload["to"].set_string_value(args->to);
            if (!args->step.empty()) payload["step"].set_string_value(args->step);
            if (!args->resume.empty()) payload["resume"].set_string_value(args->resume);
            request.set_comment(args->comment);
            request.set_idempotency_key(args->idempotency_key);
            request.set_expected_version(args->expect_version);
            v1::TaskService::Stub stub(client.channel);
            v1::ActResponse response;
            if (!client.call([&](grpc::ClientContext* c) { return stub.Act(c, request, &response); })) {
              return kExitFailure;
            }
            return PrintChanged(client, out, response);
          }};
}

}  // namespace

std::vector<TaskCommand> AddTaskCommands(CLI::App& app, const TaskOutput& out) {
  using TS = v1::TaskService::Stub;
  using IS = v1::InstanceService::Stub;
  return {
      AddTaskOperation(app, out, "claim", "认领: take a group task for yourself", &TS::Claim, false),
      AddTaskOperation(app, out, "unclaim", "Give a claimed task back to its group", &TS::Unclaim,
                       false),
      AddTaskOperation(app, out, "transfer", "转办: hand a task over to USER for good",
                       &TS::Transfer, true),
      AddTaskOperation(app, out, "delegate",
                       "委派: let USER work on your task; it comes back to you (resolve)",
                       &TS::Delegate, true),
      AddTaskOperation(app, out, "resolve",
                       "End a delegation: the delegate hands the task back, or its owner takes "
                       "it back",
                       &TS::ResolveDelegation, false),
      AddReviewAction(app, out, "add-signer", "加签: add USER to your review step", "add_signer"),
      AddReviewAction(app, out, "remove-signer", "减签: remove a pending signer of your step",
                      "remove_signer"),
      AddReviewAction(app, out, "return",
                      "驳回: return a review to the previous level, an earlier step or the "
                      "initiator",
                      "return"),
      AddInstanceOperation(app, out, "cancel", "撤销: the initiator cancels a running instance",
                           &IS::Cancel, "--reason", "Why (required)", true),
      AddInstanceOperation(app, out, "withdraw",
                           "撤回: take back your last action while nobody acted after it",
                           &IS::Withdraw, "--comment", "Comment recorded in the history", false),
      AddComment(app, out),
      AddInstanceOperation(app, out, "urge", "催办: remind the assignees of every open task",
                           &IS::Urge, "--comment", "The reminder's text", false),
      AddCc(app, out),
      AddInstanceOperation(app, out, "suspend",
                           "暂停 (workflow_admin): nobody can act on the instance and its "
                           "deadlines stop until it is resumed",
                           &IS::Suspend, "--reason", "Why (required)", true),
      AddInstanceOperation(app, out, "resume",
                           "恢复 (workflow_admin): resume a suspended instance; due dates move "
                           "on by the time it was suspended",
                           &IS::Resume, "--reason", "Why (required)", true),
      AddInstanceOperation(app, out, "terminate",
                           "终止 (workflow_admin): end a running or suspended instance",
                           &IS::Terminate, "--reason", "Why (required)", true),
      AddJump(app, out),
      AddProxy(app, out),
      AddNotifications(app, out),
      AddCampaign(app, out),
  };
}

}  // namespace bpm::cli
