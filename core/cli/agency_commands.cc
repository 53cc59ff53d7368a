#include "core/cli/agency_commands.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bpm/v1/agency.grpc.pb.h"
#include "core/cli/output.h"
#include "core/org/dates.h"
#include "google/protobuf/util/json_util.h"

namespace bpm::cli {
namespace {

namespace v1 = ::bpm::v1;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int64_t kMaxMs = int64_t{24} * 3600 * 1000;

void UsageError(const std::string& command, const std::string& message) {
  std::cerr << "bpmctl: " << command << ": " << message << '\n';
}

int PrintJson(const google::protobuf::Message& message) {
  std::cout << ToJson(message) << '\n';
  return kExitOk;
}


// Prints "Label:  value" lines with the values aligned.
void PrintFields(const std::vector<std::pair<std::string, std::string>>& fields) {
  int width = 0;
  for (const auto& [label, value] : fields) width = std::max(width, DisplayWidth(label));
  for (const auto& [label, value] : fields) {
    std::cout << label << ':'
              << std::string(static_cast<size_t>(width - DisplayWidth(label)) + 2, ' ') << value
              << '\n';
  }
}

std::string Yuan(double amount) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.2f", amount);
  return buffer;
}

std::string Points(double x) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%g", x);
  return buffer;
}

// ---- agencies -------------------------------------------------------------------

void PrintAgency(const v1::Agency& a) {
  PrintFields({
      {"Agency", a.id()},
      {"Name", a.name()},
      {"Credit code", a.credit_code()},
      {"Type", a.type()},
      {"Status", a.status()},
      {"No major violations (3y)", a.no_major_violations_3y() ? "declared" : "NOT declared"},
      {"Related parties", a.related_parties().empty() ? "-" : absl::StrJoin(a.related_parties(), ",")},
      {"Endpoint", a.endpoint().empty() ? "- (pull only)" : a.endpoint()},
      {"Registered", FormatLocalTime(a.created_unix_ms())},
  });
}

struct RegisterArgs {
  std::string id, name, credit_code, type, endpoint, status = "active";
  std::vector<std::string> related;
  bool violations = false;
};

int RunRegister(const AgencyClient& client, const RegisterArgs& args) {
  v1::RegisterAgencyRequest req;
  v1::Agency* a = req.mutable_agency();
  a->set_id(args.id);
  a->set_name(args.name);
  a->set_credit_code(args.credit_code);
  a->set_type(args.type);
  a->set_status(args.status);
  a->set_endpoint(args.endpoint);
  a->set_no_major_violations_3y(!args.violations);
  for (const auto& r : args.related) a->add_related_parties(r);
  auto stub = v1::AgencyService::NewStub(client.channel);
  v1::Agency resp;
  if (!client.call([&](grpc::ClientContext* c) { return stub->RegisterAgency(c, req, &resp); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(resp);
  std::cout << "ok: agency " << resp.id() << " registered\n\n";
  PrintAgency(resp);
  return kExitOk;
}

int RunAgencyList(const AgencyClient& client) {
  auto stub = v1::AgencyService::NewStub(client.channel);
  v1::ListAgenciesRequest req;
  v1::ListAgenciesResponse resp;
  if (!client.call([&](grpc::ClientContext* c) { return stub->ListAgencies(c, req, &resp); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(resp);
  Table table({IdColumn("ID"), {"NAME"}, {"TYPE"}, {"STATUS"}, IdColumn("CREDIT CODE"),
               {"ELIGIBLE"}, {"RELATED"}, IdColumn("ENDPOINT")});
  for (const v1::Agency& a : resp.agencies()) {
    table.AddRow({a.id(), a.name(), a.type(), a.status(), a.credit_code(),
                  a.no_major_violations_3y() ? "yes" : "no (violations)",
                  absl::StrJoin(a.related_parties(), ","), a.endpoint().empty() ? "-" : a.endpoint()});
  }
  if (table.empty()) {
    std::cout << "no agencies\n";
  } else {
    table.Print(std::cout);
  }
  return kExitOk;
}

int RunAgencyShow(const AgencyClient& client, const std::string& id) {
  auto stub = v1::AgencyService::NewStub(client.channel);
  v1::GetAgencyRequest req;
  req.set_id(id);
  v1::Agency resp;
  if (!client.call([&](grpc::ClientContext* c) { return stub->GetAgency(c, req, &resp); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(resp);
  PrintAgency(resp);
  return kExitOk;
}

// ---- engagements ----------------------------------------------------------------

void PrintEngagement(const v1::Engagement& e) {
  PrintFields({
      {"Engagement", e.id()},
      {"Agency", e.agency_id()},
      {"Purpose", e.purpose()},
      {"Mode", e.mode()},
      {"Commissioner", e.commissioner_org()},
      {"Subject", e.subject_ref()},
      {"Subject org", e.subject_org()},
      {"Contract amount", Yuan(e.contract_amount())},
      {"Period", absl::StrCat(e.start_date().empty() ? "-" : e.start_date(), " to ",
                              e.end_date().empty() ? "-" : e.end_date())},
      {"Team lead", e.team_lead().empty() ? "-" : e.team_lead()},
      {"Status", e.status()},
      {"Created by", e.created_by()},
      {"Created", FormatLocalTime(e.created_unix_ms())},
  });
  if (e.sheet().indicators().empty()) {
    std::cout << "\nIndicator sheet: none\n";
    return;
  }
  std::cout << "\nIndicator sheet:\n";
  Table table({IdColumn("CODE"), {"LEVEL 1"}, {"LEVEL 2"}, {"INDICATOR"}, {"WEIGHT"}});
  double total = 0;
  for (const v1::Indicator& i : e.sheet().indicators()) {
    table.AddRow({i.code(), i.level1(), i.level2(), i.name(), Points(i.weight())});
    total += i.weight();
  }
  table.AddRow({"", "", "", "合计", Points(total)});
  table.Print(std::cout);
}

struct EngageArgs {
  std::string agency, purpose, mode, commissioner, subject, subject_org, start, end, lead, sheet;
  double amount = 0;
};

bool CheckDate(const std::string& flag, const std::string& value) {
  if (value.empty() || org::ParseChinaDate(value)) return true;
  UsageError("agency engage", absl::StrCat(flag, ": '", value, "' is not a date (YYYY-MM-DD)"));
  return false;
}

int RunEngage(const AgencyClient& client, const EngageArgs& args) {
  v1::EngageRequest req;
  v1::Engagement* e = req.mutable_engagement();
  e->set_agency_id(args.agency);
  e->set_purpose(args.purpose);
  e->set_mode(args.mode);
  e->set_commissioner_org(args.commissioner);
  e->set_subject_ref(args.subject);
  e->set_subject_org(args.subject_org);
  e->set_contract_amount(args.amount);
  if (!CheckDate("--start", args.start) || !CheckDate("--end", args.end)) return kExitUsage;
  e->set_start_date(args.start);
  e->set_end_date(args.end);
  e->set_team_lead(args.lead);
  if (!args.sheet.empty()) {
    std::string text, error;
    if (!ReadInput(args.sheet, &text, &error)) {
      UsageError("agency engage", absl::StrCat("--sheet: ", error));
      return kExitUsage;
    }
    if (!ParseSheetYaml(text, args.sheet == "-" ? "<stdin>" : args.sheet, e->mutable_sheet(),
                        &error)) {
      UsageError("agency engage", absl::StrCat("--sheet: ", error));
      return kExitUsage;
    }
  }
  auto stub = v1::AgencyService::NewStub(client.channel);
  v1::Engagement resp;
  if (!client.call([&](grpc::ClientContext* c) { return stub->Engage(c, req, &resp); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(resp);
  std::cout << "ok: engagement " << resp.id() << " of agency " << resp.agency_id() << "\n\n";
  PrintEngagement(resp);
  return kExitOk;
}

int RunEngagements(const AgencyClient& client, const std::string& agency,
                   const std::string& subject) {
  v1::ListEngagementsRequest req;
  req.set_agency_id(agency);
  req.set_subject_ref(subject);
  auto stub = v1::AgencyService::NewStub(client.channel);
  v1::ListEngagementsResponse resp;
  if (!client.call([&](grpc::ClientContext* c) { return stub->ListEngagements(c, req, &resp); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(resp);
  Table table({IdColumn("ID"), IdColumn("AGENCY"), {"PURPOSE"}, {"MODE"}, IdColumn("SUBJECT"),
               IdColumn("SUBJECT ORG"), IdColumn("COMMISSIONER"), {"STATUS"}, {"CREATED"}});
  for (const v1::Engagement& e : resp.engagements()) {
    table.AddRow({e.id(), e.agency_id(), e.purpose(), e.mode(), e.subject_ref(), e.subject_org(),
                  e.commissioner_org(), e.status(), FormatLocalTime(e.created_unix_ms())});
  }
  if (table.empty()) {
    std::cout << "no engagements\n";
  } else {
    table.Print(std::cout);
  }
  return kExitOk;
}

int RunEngagement(const AgencyClient& client, const std::string& id) {
  v1::GetEngagementRequest req;
  req.set_id(id);
  auto stub = v1::AgencyService::NewStub(client.channel);
  v1::Engagement resp;
  if (!client.call([&](grpc::ClientContext* c) { return stub->GetEngagement(c, req, &resp); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(resp);
  PrintEngagement(resp);
  return kExitOk;
}

// ---- the pull protocol ----------------------------------------------------------

struct FetchArgs {
  std::vector<std::string> topics;
  int64_t lock_ms = 5 * 60 * 1000;
  int64_t wait_ms = 0;
  int max = 1;
  std::string worker;
};

int RunFetch(const AgencyClient& client, const FetchArgs& args) {
  v1::FetchAndLockRequest req;
  for (const auto& t : args.topics) req.add_topics(t);
  req.set_max_tasks(args.max);
  req.set_lock_duration_ms(args.lock_ms);
  req.set_long_poll_timeout_ms(args.wait_ms);
  req.set_worker_id(args.worker);
  auto stub = v1::AgencyService::NewStub(client.channel);
  v1::FetchAndLockResponse resp;
  if (!client.call([&](grpc::ClientContext* c) {
        // A long poll outlives the default deadline: allow the wait plus 10 s.
        const auto wait_deadline = std::chrono::system_clock::now() +
                                   std::chrono::milliseconds(args.wait_ms + 10'000);
        if (c->deadline() < wait_deadline) c->set_deadline(wait_deadline);
        return stub->FetchAndLock(c, req, &resp);
      })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(resp);
  if (resp.tasks().empty()) {
    std::cout << "no tasks\n";
    return kExitOk;
  }
  Table table({IdColumn("TASK"), {"TOPIC"}, IdColumn("INSTANCE"), IdColumn("SUBJECT"),
               IdColumn("ENGAGEMENT"), IdColumn("LOCK TOKEN"), {"LOCKED UNTIL"}, {"RETRIES LEFT"}});
  for (const v1::ExternalTask& t : resp.tasks()) {
    table.AddRow({t.id(), t.topic(), t.instance_id(), t.subject_ref(), t.engagement_id(),
                  t.lock_token(), FormatLocalTime(t.lock_expires_unix_ms()),
                  absl::StrCat(t.retries_left())});
  }
  table.Print(std::cout);
  return kExitOk;
}

struct CompleteArgs {
  std::string task_id, token, deliverable;
};

int RunComplete(const AgencyClient& client, const CompleteArgs& args) {
  v1::CompleteExternalTaskRequest req;
  req.set_task_id(args.task_id);
  req.set_lock_token(args.token);
  std::string json, error;
  if (!ReadInput(args.deliverable, &json, &error)) {
    UsageError("agency complete", absl::StrCat("--deliverable: ", error));
    return kExitUsage;
  }
  const auto parsed = google::protobuf::util::JsonStringToMessage(json, req.mutable_deliverable());
  if (!parsed.ok()) {
    UsageError("agency complete",
               absl::StrCat("--deliverable: not a bpm.v1.Deliverable in JSON: ",
                            parsed.message().ToString()));
    return kExitUsage;
  }
  auto stub = v1::AgencyService::NewStub(client.channel);
  v1::CompleteExternalTaskResponse resp;
  if (!client.call([&](grpc::ClientContext* c) { return stub->Complete(c, req, &resp); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(resp);
  std::cout << "ok: task " << args.task_id << " completed"
            << (resp.replayed() ? " (replayed: it was already completed with this deliverable)"
                                : "")
            << "; instance " << resp.instance_id() << " now in state " << resp.state()
            << "\ndeliverable sha256 " << resp.deliverable_sha256() << '\n';
  return kExitOk;
}

struct FailArgs {
  std::string task_id, token, error;
  int64_t backoff_ms = 0;
};

int RunFail(const AgencyClient& client, const FailArgs& args) {
  v1::ReportFailureRequest req;
  req.set_task_id(args.task_id);
  req.set_lock_token(args.token);
  req.set_error_message(args.error);
  req.set_retry_backoff_ms(args.backoff_ms);
  auto stub = v1::AgencyService::NewStub(client.channel);
  v1::ReportFailureResponse resp;
  if (!client.call([&](grpc::ClientContext* c) { return stub->ReportFailure(c, req, &resp); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(resp);
  if (resp.incident_id().empty()) {
    std::cout << "ok: failure of task " << args.task_id << " recorded; " << resp.retries_left()
              << " retries left\n";
  } else {
    std::cout << "ok: failure of task " << args.task_id
              << " recorded; no retries left: incident " << resp.incident_id() << " opened\n";
  }
  return kExitOk;
}

struct ExtendArgs {
  std::string task_id, token;
  int64_t lock_ms = 5 * 60 * 1000;
};

int RunExtend(const AgencyClient& client, const ExtendArgs& args) {
  v1::ExtendLockRequest req;
  req.set_task_id(args.task_id);
  req.set_lock_token(args.token);
  req.set_lock_duration_ms(args.lock_ms);
  auto stub = v1::AgencyService::NewStub(client.channel);
  v1::ExtendLockResponse resp;
  if (!client.call([&](grpc::ClientContext* c) { return stub->ExtendLock(c, req, &resp); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(resp);
  std::cout << "ok: lock on task " << args.task_id << " extended until "
            << FormatLocalTime(resp.lock_expires_unix_ms()) << '\n';
  return kExitOk;
}

// ---- incidents and the outbox -----------------------------------------------------

int RunIncidents(const AgencyClient& client, bool all) {
  v1::ListIncidentsRequest req;
  req.set_include_resolved(all);
  auto stub = v1::AgencyService::NewStub(client.channel);
  v1::ListIncidentsResponse resp;
  if (!client.call([&](grpc::ClientContext* c) { return stub->ListIncidents(c, req, &resp); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(resp);
  Table table({IdColumn("ID"), IdColumn("INSTANCE"), IdColumn("EXTERNAL TASK"), {"KIND"},
               {"CREATED"}, {"RESOLUTION"}, {"MESSAGE"}},
              60);
  for (const v1::Incident& i : resp.incidents()) {
    table.AddRow({i.id(), i.instance_id(), i.external_task_id().empty() ? "-" : i.external_task_id(),
                  i.kind(), FormatLocalTime(i.created_unix_ms()),
                  i.resolved_unix_ms() == 0
                      ? "open"
                      : absl::StrCat(i.resolution(), " by ", i.resolved_by(), " ",
                                     FormatLocalTime(i.resolved_unix_ms())),
                  i.message()});
  }
  if (table.empty()) {
    std::cout << (all ? "no incidents\n" : "no open incidents\n");
  } else {
    table.Print(std::cout);
  }
  return kExitOk;
}

struct ResolveArgs {
  std::string id, action, engagement, comment;
};

int RunResolve(const AgencyClient& client, const ResolveArgs& args) {
  if (args.action == "reassign" && args.engagement.empty()) {
    UsageError("incident resolve", "reassign needs --engagement (the other agency's engagement)");
    return kExitUsage;
  }
  if (args.action != "reassign" && !args.engagement.empty()) {
    UsageError("incident resolve", "--engagement goes only with reassign");
    return kExitUsage;
  }
  v1::ResolveIncidentRequest req;
  req.set_id(args.id);
  req.set_action(args.action);
  req.set_engagement_id(args.engagement);
  req.set_comment(args.comment);
  auto stub = v1::AgencyService::NewStub(client.channel);
  v1::ResolveIncidentResponse resp;
  if (!client.call([&](grpc::ClientContext* c) { return stub->ResolveIncident(c, req, &resp); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(resp);
  const v1::Incident& i = resp.incident();
  std::cout << "ok: incident " << i.id() << " resolved by " << i.resolution() << "\n\n";
  PrintFields({
      {"Incident", i.id()},
      {"Instance", i.instance_id()},
      {"External task", i.external_task_id().empty() ? "-" : i.external_task_id()},
      {"Kind", i.kind()},
      {"Message", i.message()},
      {"Created", FormatLocalTime(i.created_unix_ms())},
      {"Resolved", FormatLocalTime(i.resolved_unix_ms())},
      {"Resolution", i.resolution()},
      {"Resolved by", i.resolved_by()},
  });
  return kExitOk;
}

void PrintOutboxTable(const std::vector<const v1::OutboxMessage*>& messages) {
  Table table({IdColumn("ID"), IdColumn("AGENCY"), IdColumn("ENDPOINT"), IdColumn("EXTERNAL TASK"),
               {"STATUS"}, {"ATTEMPTS"}, {"NEXT ATTEMPT"}, {"LAST ERROR"}},
              60);
  for (const v1::OutboxMessage* m : messages) {
    table.AddRow({m->id(), m->agency_id(), m->endpoint(), m->external_task_id(), m->status(),
                  absl::StrCat(m->attempts()),
                  m->status() == "pending" ? FormatLocalTime(m->next_attempt_unix_ms()) : "-",
                  m->last_error().empty() ? "-" : m->last_error()});
  }
  table.Print(std::cout);
}

int RunOutbox(const AgencyClient& client, const std::string& status) {
  v1::ListOutboxRequest req;
  req.set_status(status);
  auto stub = v1::AgencyService::NewStub(client.channel);
  v1::ListOutboxResponse resp;
  if (!client.call([&](grpc::ClientContext* c) { return stub->ListOutbox(c, req, &resp); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(resp);
  if (resp.messages().empty()) {
    std::cout << (status.empty() ? "no outbox messages\n"
                                 : absl::StrCat("no ", status, " outbox messages\n"));
    return kExitOk;
  }
  std::vector<const v1::OutboxMessage*> rows;
  for (const auto& m : resp.messages()) rows.push_back(&m);
  PrintOutboxTable(rows);
  return kExitOk;
}

int RunReplay(const AgencyClient& client, const std::string& id) {
  v1::ReplayOutboxRequest req;
  req.set_id(id);
  auto stub = v1::AgencyService::NewStub(client.channel);
  v1::ReplayOutboxResponse resp;
  if (!client.call([&](grpc::ClientContext* c) { return stub->ReplayOutbox(c, req, &resp); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(resp);
  std::cout << "ok: outbox message " << id << " is pending again\n\n";
  PrintOutboxTable({&resp.message()});
  return kExitOk;
}

// ---- the sheet file ------------------------------------------------------------------

// "FILE:LINE:COL" of a yaml-cpp mark in text, the column in characters
// (yaml-cpp counts bytes; people and editors count characters).
std::string Where(const std::string& text, const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return file;
  size_t start = 0;
  for (int line = 0; line < mark.line && start != std::string::npos; ++line) {
    start = text.find('\n', start);
    if (start != std::string::npos) ++start;
  }
  int column = mark.column + 1;
  if (start != std::string::npos) {
    const size_t end = std::min(text.size(), start + static_cast<size_t>(std::max(0, mark.column)));
    column = 1;
    for (size_t i = start; i < end; ++i) {
      if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++column;
    }
  }
  return absl::StrCat(file, ":", mark.line + 1, ":", column);
}

using Subs = std::vector<std::pair<CLI::App*, std::function<int(const AgencyClient&)>>>;

// A parent command whose subcommands each run one function.
std::function<int(const AgencyClient&)> Dispatch(Subs subs) {
  return [subs = std::move(subs)](const AgencyClient& client) {
    for (const auto& [app, run] : subs) {
      if (app->parsed()) return run(client);
    }
    return kExitUsage;  // unreachable: require_subcommand(1)
  };
}

void AddAgencyGroup(CLI::App& app, std::vector<AgencyCommand>* out) {
  CLI::App* agency = app.add_subcommand(
      "agency",
      "Third-party agencies (第三方机构): registry, engagements (财预〔2021〕6号), and the "
      "pull protocol an agency system uses (call those with --roles agency --org AGENCY)");
  agency->require_subcommand(1);
  Subs subs;

  auto reg = std::make_shared<RegisterArgs>();
  CLI::App* sub = agency->add_subcommand("register", "Register an agency, or update it");
  sub->add_option("ID", reg->id, "Agency id, e.g. ag-huaxin")->required();
  sub->add_option("--name", reg->name, "Name, e.g. 华信会计师事务所")->required();
  sub->add_option("--credit-code", reg->credit_code, "统一社会信用代码 (18 characters)")
      ->required();
  sub->add_option("--type", reg->type,
                  "consulting, accounting, asset_appraisal, law, research or university")
      ->required();
  sub->add_option("--endpoint", reg->endpoint,
                  "HOST:PORT of its AgencyEndpoint, for pushed assignments (default: pull only)");
  sub->add_option("--related", reg->related,
                  "A declared related org (conflict of interest; repeatable)");
  sub->add_flag("--violations", reg->violations,
                "It does NOT declare 3 years without major violations (not eligible)");
  sub->add_option("--status", reg->status, "active or suspended")
      ->check(CLI::IsMember({"active", "suspended"}))
      ->capture_default_str();
  subs.emplace_back(sub, [reg](const AgencyClient& c) { return RunRegister(c, *reg); });

  sub = agency->add_subcommand("list", "List the registered agencies");
  subs.emplace_back(sub, [](const AgencyClient& c) { return RunAgencyList(c); });

  auto show = std::make_shared<std::string>();
  sub = agency->add_subcommand("show", "Show an agency");
  sub->add_option("ID", *show, "Agency id")->required();
  subs.emplace_back(sub, [show](const AgencyClient& c) { return RunAgencyShow(c, *show); });

  auto engage = std::make_shared<EngageArgs>();
  sub = agency->add_subcommand(
      "engage",
      "Engage an agency (委托): refused with FAILED_PRECONDITION naming the rule of "
      "财预〔2021〕6号 it would break");
  sub->add_option("AGENCY", engage->agency, "Agency id")->required();
  sub->add_option("--purpose", engage->purpose,
                  "ex_ante, target_review, key_evaluation, recheck, indicator_system, research, "
                  "target_setting, monitoring or self_evaluation")
      ->required();
  sub->add_option("--mode", engage->mode, "independent, or assist (协助: no conclusions)")
      ->required()
      ->check(CLI::IsMember({"independent", "assist"}));
  sub->add_option("--commissioner", engage->commissioner, "Commissioning org, e.g. czj")
      ->required();
  sub->add_option("--subject", engage->subject, "The project or policy, e.g. P-2026-01")
      ->required();
  sub->add_option("--subject-org", engage->subject_org, "The evaluated department or unit")
      ->required();
  sub->add_option("--amount", engage->amount, "Contract amount in yuan")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--start", engage->start, "First day, YYYY-MM-DD");
  sub->add_option("--end", engage->end, "Last day, YYYY-MM-DD");
  sub->add_option("--lead", engage->lead, "Team lead (项目负责人)");
  sub->add_option("--sheet", engage->sheet,
                  "Indicator sheet, YAML: indicators: [{code, level1, level2, name, weight}] "
                  "(see examples/key-evaluation-sheet.yaml)");
  subs.emplace_back(sub, [engage](const AgencyClient& c) { return RunEngage(c, *engage); });

  auto engagements = std::make_shared<std::pair<std::string, std::string>>();
  sub = agency->add_subcommand("engagements", "List engagements");
  sub->add_option("--agency", engagements->first, "Only this agency's");
  sub->add_option("--subject", engagements->second, "Only this subject's");
  subs.emplace_back(sub, [engagements](const AgencyClient& c) {
    return RunEngagements(c, engagements->first, engagements->second);
  });

  auto engagement = std::make_shared<std::string>();
  sub = agency->add_subcommand("engagement", "Show an engagement and its indicator sheet");
  sub->add_option("ID", *engagement, "Engagement id")->required();
  subs.emplace_back(sub,
                    [engagement](const AgencyClient& c) { return RunEngagement(c, *engagement); });

  auto fetch = std::make_shared<FetchArgs>();
  sub = agency->add_subcommand("fetch", "Fetch and lock external tasks (as the agency)");
  sub->add_option("--topic", fetch->topics, "Topic (repeatable), e.g. key_evaluation_plan")
      ->required();
  sub->add_option("--lock-ms", fetch->lock_ms, "How long the lock lasts")
      ->check(CLI::Range(int64_t{1000}, kMaxMs))
      ->capture_default_str();
  sub->add_option("--wait-ms", fetch->wait_ms, "Long poll: wait up to this for work")
      ->check(CLI::Range(int64_t{0}, int64_t{60'000}))
      ->capture_default_str();
  sub->add_option("--max", fetch->max, "At most this many tasks")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  sub->add_option("--worker", fetch->worker, "Worker id for the audit trail (default: --user)");
  subs.emplace_back(sub, [fetch](const AgencyClient& c) { return RunFetch(c, *fetch); });

  auto complete = std::make_shared<CompleteArgs>();
  sub = agency->add_subcommand("complete", "Complete a locked task with a deliverable");
  sub->add_option("TASK_ID", complete->task_id, "External task id")->required();
  sub->add_option("--token", complete->token, "The lock token from fetch")->required();
  sub->add_option("--deliverable", complete->deliverable,
                  "JSON of bpm.v1.Deliverable (scores, total, grade, findings, "
                  "recommendations, files, summary), or - for standard input")
      ->required();
  subs.emplace_back(sub, [complete](const AgencyClient& c) { return RunComplete(c, *complete); });

  auto fail = std::make_shared<FailArgs>();
  sub = agency->add_subcommand("fail", "Report that a locked task failed (retried, then incident)");
  sub->add_option("TASK_ID", fail->task_id, "External task id")->required();
  sub->add_option("--token", fail->token, "The lock token from fetch")->required();
  sub->add_option("--error", fail->error, "What went wrong")->required();
  sub->add_option("--backoff-ms", fail->backoff_ms, "Not fetched again before this")
      ->check(CLI::Range(int64_t{0}, kMaxMs))
      ->capture_default_str();
  subs.emplace_back(sub, [fail](const AgencyClient& c) { return RunFail(c, *fail); });

  auto extend = std::make_shared<ExtendArgs>();
  sub = agency->add_subcommand("extend", "Extend the lock on a task (a heartbeat)");
  sub->add_option("TASK_ID", extend->task_id, "External task id")->required();
  sub->add_option("--token", extend->token, "The lock token from fetch")->required();
  sub->add_option("--lock-ms", extend->lock_ms, "New lock duration from now")
      ->check(CLI::Range(int64_t{1000}, kMaxMs))
      ->capture_default_str();
  subs.emplace_back(sub, [extend](const AgencyClient& c) { return RunExtend(c, *extend); });

  out->push_back({agency, Dispatch(std::move(subs))});
}

}  // namespace

bool ParseSheetYaml(const std::string& text, const std::string& file, v1::IndicatorSheet* sheet,
                    std::string* error) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    *error = absl::StrCat(Where(text, file, e.mark), ": ", e.msg);
    return false;
  }
  if (!root.IsMap()) {
    *error = absl::StrCat(Where(text, file, root.Mark()),
                          ": expected a mapping with the key indicators");
    return false;
  }
  YAML::Node list;
  bool found = false;
  for (const auto& kv : root) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    if (key != "indicators" || found) {
      *error = absl::StrCat(Where(text, file, kv.first.Mark()), ": ",
                            key == "indicators" ? "duplicate key 'indicators'"
                                                : "unknown key (expected indicators)");
      return false;
    }
    list = kv.second;
    found = true;
  }
  if (!found || !list.IsSequence() || list.size() == 0) {
    *error = absl::StrCat(Where(text, file, found ? list.Mark() : root.Mark()),
                          ": indicators must be a non-empty list");
    return false;
  }
  const std::vector<std::string> keys = {"code", "level1", "level2", "name", "weight"};
  for (const auto& item : list) {
    if (!item.IsMap()) {
      *error = absl::StrCat(Where(text, file, item.Mark()),
                            ": an indicator is a mapping {code, level1, level2, name, weight}");
      return false;
    }
    v1::Indicator* ind = sheet->add_indicators();
    std::set<std::string> seen;
    for (const auto& kv : item) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        *error = absl::StrCat(Where(text, file, kv.first.Mark()), ": unknown key '", key,
                              "' (expected ", absl::StrJoin(keys, ", "), ")");
        return false;
      }
      if (!seen.insert(key).second) {
        *error = absl::StrCat(Where(text, file, kv.first.Mark()), ": duplicate key '", key, "'");
        return false;
      }
      if (!kv.second.IsScalar()) {
        *error = absl::StrCat(Where(text, file, kv.second.Mark()), ": ", key, " must be a scalar");
        return false;
      }
      const std::string value = kv.second.Scalar();
      if (key == "weight") {
        double weight = 0;
        if (!YAML::convert<double>::decode(kv.second, weight)) {
          *error = absl::StrCat(Where(text, file, kv.second.Mark()), ": weight '", value,
                                "' is not a number");
          return false;
        }
        ind->set_weight(weight);
      } else if (key == "code") {
        ind->set_code(value);
      } else if (key == "level1") {
        ind->set_level1(value);
      } else if (key == "level2") {
        ind->set_level2(value);
      } else {
        ind->set_name(value);
      }
    }
    for (const char* key : {"code", "level1", "name", "weight"}) {
      if (!seen.count(key)) {
        *error = absl::StrCat(Where(text, file, item.Mark()), ": indicator without ", key);
        return false;
      }
    }
  }
  return true;
}

std::vector<AgencyCommand> AddAgencyCommands(CLI::App& app) {
  std::vector<AgencyCommand> out;
  AddAgencyGroup(app, &out);

  auto all = std::make_shared<bool>(false);
  CLI::App* incidents = app.add_subcommand(
      "incidents", "List open incidents (an agency's task out of retries, a plugin down)");
  incidents->add_flag("--all", *all, "Resolved ones too");
  out.push_back({incidents, [all](const AgencyClient& c) { return RunIncidents(c, *all); }});

  CLI::App* incident = app.add_subcommand("incident", "Resolve an incident");
  incident->require_subcommand(1);
  auto resolve = std::make_shared<ResolveArgs>();
  CLI::App* sub = incident->add_subcommand(
      "resolve",
      "retry: the same agency again (3 retries); reassign: another agency's engagement for "
      "the same purpose and subject; cancel: terminate the instance");
  sub->add_option("ID", resolve->id, "Incident id")->required();
  sub->add_option("ACTION", resolve->action, "retry, reassign or cancel")
      ->required()
      ->check(CLI::IsMember({"retry", "reassign", "cancel"}));
  sub->add_option("--engagement", resolve->engagement, "reassign: the new engagement");
  sub->add_option("--comment", resolve->comment, "Comment recorded in the history");
  out.push_back({incident, Dispatch({{sub, [resolve](const AgencyClient& c) {
                                        return RunResolve(c, *resolve);
                                      }}})});

  auto status = std::make_shared<std::string>();
  auto replay_id = std::make_shared<std::string>();
  CLI::App* outbox = app.add_subcommand(
      "outbox", "List pushed assignments (pending, delivered, dead), or replay a dead one");
  outbox->add_option("--status", *status, "Only pending, delivered or dead")
      ->check(CLI::IsMember({"pending", "delivered", "dead"}));
  CLI::App* replay = outbox->add_subcommand("replay", "Deliver a dead message again");
  replay->add_option("ID", *replay_id, "Outbox message id")->required();
  out.push_back({outbox, [status, replay_id, replay](const AgencyClient& c) {
                   if (replay->parsed()) return RunReplay(c, *replay_id);
                   return RunOutbox(c, *status);
                 }});
  return out;
}

}  // namespace bpm::cli
