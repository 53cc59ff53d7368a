#include "core/cli/org_commands.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "bpm/v1/org.grpc.pb.h"
#include "core/cli/output.h"
#include "core/org/dates.h"
#include "google/protobuf/util/json_util.h"

namespace bpm::cli {
namespace {

namespace pb = google::protobuf;
namespace v1 = ::bpm::v1;
namespace pv1 = ::bpm::plugin::v1;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

void UsageError(const std::string& command, const std::string& message) {
  std::cerr << "bpmctl: " << command << ": " << message << '\n';
}

// "" -> 0 (the server's now); else YYYY-MM-DD. false (reported) when bad.
bool ParseDateFlag(const std::string& command, const std::string& flag, const std::string& value,
                   int64_t* out) {
  *out = 0;
  if (value.empty()) return true;
  std::optional<int64_t> ms = org::ParseChinaDate(value);
  if (!ms) {
    UsageError(command,
               absl::StrCat(flag, ": '", value, "' is not a date (YYYY-MM-DD, China time)"));
    return false;
  }
  *out = *ms;
  return true;
}


int PrintJson(const pb::Message& message) {
  std::cout << ToJson(message) << '\n';
  return kExitOk;
}


std::string KindText(const std::string& kind, const std::string& section_kind) {
  return section_kind.empty() ? kind : absl::StrCat(kind, "/", section_kind);
}

std::string Until(int64_t to_ms) { return to_ms == 0 ? "-" : org::FormatChinaTime(to_ms); }

// ---- import ------------------------------------------------------------------

struct ImportArgs {
  std::string file;
  std::string format;
  bool dry_run = false;
};

int RunImport(const OrgClient& client, const ImportArgs& args) {
  v1::ImportOrgsRequest request;
  std::string error;
  if (!ReadInput(args.file, request.mutable_text(), &error)) {
    UsageError("org import", error);
    return kExitUsage;
  }
  request.set_format(args.format);
  request.set_source_name(args.file == "-" ? "<stdin>" : args.file);
  request.set_dry_run(args.dry_run);
  auto stub = v1::OrgService::NewStub(client.channel);
  v1::ImportOrgsResponse response;
  if (!client.call([&](grpc::ClientContext* c) { return stub->Import(c, request, &response); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(response);
  Table table({{"KIND"}, {"WRITTEN"}, {"UNCHANGED"}});
  const std::pair<const char*, const v1::ImportCounts*> rows[] = {{"regions", &response.regions()},
                                                                  {"orgs", &response.orgs()},
                                                                  {"users", &response.users()},
                                                                  {"grants", &response.grants()}};
  for (const auto& [kind, counts] : rows) {
    table.AddRow({kind, absl::StrCat(counts->written()), absl::StrCat(counts->unchanged())});
  }
  table.Print(std::cout);
  if (response.dry_run()) std::cout << "dry run: nothing was written\n";
  return kExitOk;
}

// ---- show ------------------------------------------------------------------

struct ShowArgs {
  std::string code;
  std::string as_of;
};

int RunShow(const OrgClient& client, const ShowArgs& args) {
  v1::GetOrgRequest get;
  get.set_code(args.code);
  int64_t at = 0;
  if (!ParseDateFlag("org show", "--as-of", args.as_of, &at)) return kExitUsage;
  get.set_as_of_unix_ms(at);
  auto stub = v1::OrgService::NewStub(client.channel);
  v1::GetOrgResponse org;
  if (!client.call([&](grpc::ClientContext* c) { return stub->GetOrg(c, get, &org); })) {
    return kExitFailure;
  }
  v1::ResolveContextRequest resolve;
  resolve.set_org_code(args.code);
  resolve.set_as_of_unix_ms(at);
  v1::ResolveContextResponse context;
  if (!client.call(
          [&](grpc::ClientContext* c) { return stub->ResolveContext(c, resolve, &context); })) {
    return kExitFailure;
  }
  if (client.json) {
    auto nest = [](const std::string& json) {
      std::string out;
      for (absl::string_view line : absl::StrSplit(json, '\n')) {
        if (!out.empty()) absl::StrAppend(&out, "\n  ");
        absl::StrAppend(&out, line);
      }
      return out;
    };
    std::cout << "{\n  \"org\": " << nest(ToJson(org.org()))
              << ",\n  \"context\": " << nest(ToJson(context.context())) << "\n}\n";
    return kExitOk;
  }
  const v1::Org& o = org.org();
  const pv1::OrgContext& ctx = context.context();
  std::cout << o.code() << "  " << o.name() << "\n"
            << "kind " << KindText(o.kind(), o.section_kind()) << ", region " << o.region_code()
            << ", parent " << (o.parent_code().empty() ? "-" : o.parent_code())
            << (o.owner_section().empty() ? "" : ", owner section " + o.owner_section())
            << ", this version from " << org::FormatChinaTime(o.valid_from_unix_ms()) << "\n"
            << "as of " << org::FormatChinaTime(ctx.as_of_unix_ms()) << "\n\n";
  Table chain({{"RELATION"}, IdColumn("CODE"), {"NAME"}, {"KIND"}});
  auto add = [&](const std::string& relation, const pv1::OrgRef& ref) {
    if (ref.code().empty()) return;
    chain.AddRow({relation, ref.code(), ref.name(), KindText(ref.kind(), ref.section_kind())});
  };
  add("unit", ctx.unit());
  for (int i = 0; i < ctx.ancestors_size(); ++i) {
    add(absl::StrCat("competent level ", i + 1), ctx.ancestors(i));
  }
  add("owning section", ctx.owning_section());
  add("performance section", ctx.performance_section());
  add("leadership", ctx.leadership());
  chain.Print(std::cout);
  std::cout << "\n";
  Table members({IdColumn("ORG"), {"ROLE"}, {"USERS"}});
  for (const pv1::RoleMembers& m : ctx.members()) {
    members.AddRow({m.org(), m.role(), absl::StrJoin(m.users(), ",")});
  }
  if (members.empty()) {
    std::cout << "no role grants in force\n";
  } else {
    members.Print(std::cout);
  }
  return kExitOk;
}

// ---- list / tree / history ------------------------------------------------------

struct ListArgs {
  std::string parent;
  std::string kind;
  std::string region;
  std::string as_of;
};

bool FetchOrgs(const OrgClient& client, const std::string& command, const ListArgs& args,
               v1::ListOrgsResponse* response, int* exit_code) {
  v1::ListOrgsRequest request;
  request.set_parent_code(args.parent);
  request.set_kind(args.kind);
  request.set_region_code(args.region);
  int64_t at = 0;
  if (!ParseDateFlag(command, "--as-of", args.as_of, &at)) {
    *exit_code = kExitUsage;
    return false;
  }
  request.set_as_of_unix_ms(at);
  auto stub = v1::OrgService::NewStub(client.channel);
  if (!client.call([&](grpc::ClientContext* c) { return stub->ListOrgs(c, request, response); })) {
    *exit_code = kExitFailure;
    return false;
  }
  return true;
}

int RunList(const OrgClient& client, const ListArgs& args) {
  v1::ListOrgsResponse response;
  int exit_code = kExitOk;
  if (!FetchOrgs(client, "org list", args, &response, &exit_code)) return exit_code;
  if (client.json) return PrintJson(response);
  Table table({IdColumn("CODE"),
               {"NAME"},
               {"KIND"},
               IdColumn("PARENT"),
               IdColumn("REGION"),
               IdColumn("OWNER"),
               {"SINCE"}});
  for (const v1::Org& o : response.orgs()) {
    table.AddRow({o.code(), o.name(), KindText(o.kind(), o.section_kind()), o.parent_code(),
                  o.region_code(), o.owner_section(),
                  org::FormatChinaTime(o.valid_from_unix_ms())});
  }
  table.Print(std::cout);
  return kExitOk;
}

struct TreeArgs {
  std::string root;
  std::string as_of;
};

int RunTree(const OrgClient& client, const TreeArgs& args) {
  v1::ListOrgsResponse response;
  int exit_code = kExitOk;
  ListArgs list;
  list.as_of = args.as_of;
  if (!FetchOrgs(client, "org tree", list, &response, &exit_code)) return exit_code;
  std::map<std::string, const v1::Org*> by_code;
  for (const v1::Org& o : response.orgs()) by_code[o.code()] = &o;
  std::map<std::string, std::vector<const v1::Org*>> children;  // by code (list order)
  std::vector<const v1::Org*> roots;
  for (const v1::Org& o : response.orgs()) {
    if (!o.parent_code().empty() && by_code.count(o.parent_code()) > 0) {
      children[o.parent_code()].push_back(&o);
    } else {
      roots.push_back(&o);
    }
  }
  // Finance bureaus first, then the rest by code.
  std::stable_partition(roots.begin(), roots.end(),
                        [](const v1::Org* o) { return o->kind() == "finance_bureau"; });
  if (!args.root.empty()) {
    auto it = by_code.find(args.root);
    if (it == by_code.end()) {
      UsageError("org tree", absl::StrCat("NOT_FOUND: org ", args.root, " not found as of ",
                                          org::FormatChinaTime(response.as_of_unix_ms())));
      return kExitFailure;
    }
    roots = {it->second};
  }
  if (client.json) {
    // The subtree's orgs, flat, as ListOrgs returns them.
    v1::ListOrgsResponse subtree;
    subtree.set_as_of_unix_ms(response.as_of_unix_ms());
    std::vector<const v1::Org*> stack(roots.rbegin(), roots.rend());
    while (!stack.empty()) {
      const v1::Org* o = stack.back();
      stack.pop_back();
      *subtree.add_orgs() = *o;
      const auto& kids = children[o->code()];
      stack.insert(stack.end(), kids.rbegin(), kids.rend());
    }
    return PrintJson(subtree);
  }
  std::set<std::string> printed;  // a parent loop in the data must not loop here
  std::function<void(const v1::Org&, const std::string&, bool, bool)> print =
      [&](const v1::Org& o, const std::string& prefix, bool last, bool top) {
        if (!printed.insert(o.code()).second) return;
        std::string line = top ? "" : prefix + (last ? "└─ " : "├─ ");
        absl::StrAppend(&line, o.code(), "  ", o.name(), "  [",
                        KindText(o.kind(), o.section_kind()), "]");
        if (!o.owner_section().empty()) absl::StrAppend(&line, "  归口 ", o.owner_section());
        std::cout << line << '\n';
        const auto& kids = children[o.code()];
        const std::string next = top ? "" : prefix + (last ? "   " : "│  ");
        for (size_t i = 0; i < kids.size(); ++i) print(*kids[i], next, i + 1 == kids.size(), false);
      };
  for (const v1::Org* r : roots) print(*r, "", true, true);
  return kExitOk;
}

int RunHistory(const OrgClient& client, const std::string& code) {
  v1::OrgHistoryRequest request;
  request.set_code(code);
  auto stub = v1::OrgService::NewStub(client.channel);
  v1::OrgHistoryResponse response;
  if (!client.call(
          [&](grpc::ClientContext* c) { return stub->OrgHistory(c, request, &response); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(response);
  Table table({{"FROM"},
               {"NAME"},
               {"KIND"},
               IdColumn("PARENT"),
               IdColumn("REGION"),
               IdColumn("OWNER"),
               {"STATUS"}});
  for (const v1::Org& o : response.versions()) {
    table.AddRow({org::FormatChinaTime(o.valid_from_unix_ms()), o.name(),
                  KindText(o.kind(), o.section_kind()), o.parent_code(), o.region_code(),
                  o.owner_section(), o.dissolved() ? "dissolved" : "active"});
  }
  table.Print(std::cout);
  return kExitOk;
}

// ---- users and grants ----------------------------------------------------------

int RunUserAdd(const OrgClient& client, const std::string& id, const std::string& name) {
  v1::PutUserRequest request;
  request.mutable_user()->set_id(id);
  request.mutable_user()->set_name(name);
  auto stub = v1::OrgService::NewStub(client.channel);
  v1::PutUserResponse response;
  if (!client.call([&](grpc::ClientContext* c) { return stub->PutUser(c, request, &response); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(response);
  std::cout << "ok: user " << response.user().id() << " " << response.user().name() << '\n';
  return kExitOk;
}

struct GrantArgs {
  std::string user;
  std::string role;
  std::string org;
  std::string from;
  std::string to;
};

int RunGrant(const OrgClient& client, const GrantArgs& args) {
  v1::GrantRoleRequest request;
  v1::RoleGrant* g = request.mutable_grant();
  g->set_user_id(args.user);
  g->set_role(args.role);
  g->set_org_code(args.org);
  int64_t from = 0, to = 0;
  if (!ParseDateFlag("org grant", "--from", args.from, &from) ||
      !ParseDateFlag("org grant", "--to", args.to, &to)) {
    return kExitUsage;
  }
  g->set_from_unix_ms(from);
  g->set_to_unix_ms(to);
  auto stub = v1::OrgService::NewStub(client.channel);
  v1::GrantRoleResponse response;
  if (!client.call(
          [&](grpc::ClientContext* c) { return stub->GrantRole(c, request, &response); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(response);
  const v1::RoleGrant& r = response.grant();
  std::cout << "ok: " << r.user_id() << " holds " << r.role() << " in " << r.org_code() << " from "
            << org::FormatChinaTime(r.from_unix_ms())
            << (r.to_unix_ms() == 0 ? "" : " until " + org::FormatChinaTime(r.to_unix_ms()))
            << '\n';
  return kExitOk;
}

struct RevokeArgs {
  std::string user;
  std::string role;
  std::string org;
  std::string at;
};

int RunRevoke(const OrgClient& client, const RevokeArgs& args) {
  v1::RevokeRoleRequest request;
  request.set_user_id(args.user);
  request.set_role(args.role);
  request.set_org_code(args.org);
  int64_t at = 0;
  if (!ParseDateFlag("org revoke", "--at", args.at, &at)) return kExitUsage;
  request.set_at_unix_ms(at);
  auto stub = v1::OrgService::NewStub(client.channel);
  v1::RevokeRoleResponse response;
  if (!client.call(
          [&](grpc::ClientContext* c) { return stub->RevokeRole(c, request, &response); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(response);
  std::cout << "ok: " << args.user << " no longer holds " << args.role << " in " << args.org
            << (args.at.empty() ? "" : " from " + args.at) << '\n';
  return kExitOk;
}

struct GrantsArgs {
  std::string org;
  std::string user;
  std::string as_of;
  bool history = false;
};

int RunGrants(const OrgClient& client, const GrantsArgs& args) {
  if (args.org.empty() && args.user.empty()) {
    UsageError("org grants", "give --org, --user or both");
    return kExitUsage;
  }
  v1::ListGrantsRequest request;
  request.set_org_code(args.org);
  request.set_user_id(args.user);
  request.set_history(args.history);
  int64_t at = 0;
  if (!ParseDateFlag("org grants", "--as-of", args.as_of, &at)) return kExitUsage;
  request.set_as_of_unix_ms(at);
  auto stub = v1::OrgService::NewStub(client.channel);
  v1::ListGrantsResponse response;
  if (!client.call(
          [&](grpc::ClientContext* c) { return stub->ListGrants(c, request, &response); })) {
    return kExitFailure;
  }
  if (client.json) return PrintJson(response);
  Table table({IdColumn("USER"), {"ROLE"}, IdColumn("ORG"), {"FROM"}, {"UNTIL"}});
  for (const v1::RoleGrant& g : response.grants()) {
    table.AddRow({g.user_id(), g.role(), g.org_code(), org::FormatChinaTime(g.from_unix_ms()),
                  Until(g.to_unix_ms())});
  }
  table.Print(std::cout);
  return kExitOk;
}

}  // namespace

OrgCommands AddOrgCommands(CLI::App& app) {
  CLI::App* org = app.add_subcommand(
      "org",
      "The org model: regions, finance bureau and sections, departments, units, users, "
      "role grants (dates YYYY-MM-DD, China time)");
  org->require_subcommand(1);
  std::vector<std::pair<CLI::App*, std::function<int(const OrgClient&)>>> subs;

  auto import = std::make_shared<ImportArgs>();
  CLI::App* sub = org->add_subcommand(
      "import", "Import an org file (YAML or CSV; see docs/org-import.md): all or nothing");
  sub->add_option("FILE", import->file, "The file, or - for standard input")->required();
  sub->add_option("--format", import->format, "yaml or csv (default: by the file's extension)")
      ->check(CLI::IsMember({"yaml", "yml", "csv"}));
  sub->add_flag("--dry-run", import->dry_run, "Check and count only; write nothing");
  subs.emplace_back(sub, [import](const OrgClient& c) { return RunImport(c, *import); });

  auto show = std::make_shared<ShowArgs>();
  sub = org->add_subcommand(
      "show",
      "Show an org, its chain (competent departments, owning and performance section) "
      "and the role grants in force");
  sub->add_option("CODE", show->code, "Org code")->required();
  sub->add_option("--as-of", show->as_of, "Date to look at (default: now)");
  subs.emplace_back(sub, [show](const OrgClient& c) { return RunShow(c, *show); });

  auto list = std::make_shared<ListArgs>();
  sub = org->add_subcommand("list", "List orgs as of a date");
  sub->add_option("--parent", list->parent, "Only children of this org");
  sub->add_option("--kind", list->kind,
                  "Only this kind: finance_bureau, finance_section, department, unit");
  sub->add_option("--region", list->region, "Only orgs of this region code");
  sub->add_option("--as-of", list->as_of, "Date to look at (default: now)");
  subs.emplace_back(sub, [list](const OrgClient& c) { return RunList(c, *list); });

  auto tree = std::make_shared<TreeArgs>();
  sub = org->add_subcommand("tree", "Print the org tree (or the subtree under ROOT)");
  sub->add_option("ROOT", tree->root, "Org code to start at");
  sub->add_option("--as-of", tree->as_of, "Date to look at (default: now)");
  subs.emplace_back(sub, [tree](const OrgClient& c) { return RunTree(c, *tree); });

  auto history = std::make_shared<std::string>();
  sub = org->add_subcommand("history", "List every version of an org");
  sub->add_option("CODE", *history, "Org code")->required();
  subs.emplace_back(sub, [history](const OrgClient& c) { return RunHistory(c, *history); });

  auto user = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* users = org->add_subcommand("user", "Manage users");
  users->require_subcommand(1);
  sub = users->add_subcommand("add", "Add a user, or rename one");
  sub->add_option("ID", user->first, "User id (as in x-bpm-user)")->required();
  sub->add_option("NAME", user->second, "Name, e.g. 张三")->required();
  subs.emplace_back(
      sub, [user](const OrgClient& c) { return RunUserAdd(c, user->first, user->second); });

  auto grant = std::make_shared<GrantArgs>();
  sub = org->add_subcommand("grant", "Grant a user a role in an org");
  sub->add_option("USER", grant->user, "User id")->required();
  sub->add_option("ROLE", grant->role, "Role, e.g. unit_filer")->required();
  sub->add_option("ORG", grant->org, "Org code")->required();
  sub->add_option("--from", grant->from, "First day (default: now)");
  sub->add_option("--to", grant->to, "End day, exclusive (default: no end)");
  subs.emplace_back(sub, [grant](const OrgClient& c) { return RunGrant(c, *grant); });

  auto revoke = std::make_shared<RevokeArgs>();
  sub = org->add_subcommand("revoke", "End a user's role in an org");
  sub->add_option("USER", revoke->user, "User id")->required();
  sub->add_option("ROLE", revoke->role, "Role")->required();
  sub->add_option("ORG", revoke->org, "Org code")->required();
  sub->add_option("--at", revoke->at, "Day the grant ends (default: now)");
  subs.emplace_back(sub, [revoke](const OrgClient& c) { return RunRevoke(c, *revoke); });

  auto grants = std::make_shared<GrantsArgs>();
  sub = org->add_subcommand("grants", "List role grants of an org and/or a user");
  // Here --org and --user are filters; give the caller's identity with
  // BPM_USER/BPM_ORG or with the global flags before `org`.
  sub->add_option("--org", grants->org, "Grants in this org (a filter, not the caller's org)");
  sub->add_option("--user", grants->user, "Grants of this user (a filter, not the caller)");
  sub->add_option("--as-of", grants->as_of, "Grants in force on this day (default: now)");
  sub->add_flag("--history", grants->history, "Every grant, ended ones included");
  subs.emplace_back(sub, [grants](const OrgClient& c) { return RunGrants(c, *grants); });

  return {org, [subs](const OrgClient& client) {
            for (const auto& [app, run] : subs) {
              if (app->parsed()) return run(client);
            }
            return kExitUsage;  // unreachable: require_subcommand(1)
          }};
}

}  // namespace bpm::cli
