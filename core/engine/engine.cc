// The interpreter and the two central commands (start, act), definitions and
// queries. Task and instance operations, timers and re-routing are in
// operations.cc.
#include "core/engine/engine.h"

#include <google/protobuf/arena.h>

#include <algorithm>
#include <regex>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"
#include "bpm/v1/snapshot.pb.h"
#include "core/common/json.h"
#include "core/common/util.h"
#include "core/definition/diff.h"
#include "core/definition/graph.h"
#include "core/engine/internal/vars.h"
#include "core/engine/internal/working.h"

namespace bpm::engine {

using internal::CheckLength;
using internal::PageSize;
using internal::ParsePageToken;
using internal::StringsFromJson;
using internal::StringsToJson;
using internal::StructFromJson;
using internal::ToInstance;
namespace pb = ::bpm::plugin::v1;

namespace {

constexpr size_t kMaxIdLength = 128;
constexpr int64_t kHourMs = 3600 * 1000;

// The alias of a fiscal year's rules: "fy2026".
std::string FiscalYearAlias(int year) { return absl::StrCat("fy", year); }
bool IsFiscalYearAlias(const std::string& alias) {
  return alias.size() == 6 && absl::StartsWith(alias, "fy") &&
         std::all_of(alias.begin() + 2, alias.end(), absl::ascii_isdigit);
}

std::vector<std::string> StateNames(const definition::Definition* def) {
  std::vector<std::string> out;
  if (def != nullptr) {
    for (const auto& st : def->states) out.push_back(st.name);
  }
  return out;
}

std::string Rejections(const pb::Decision& d) {
  std::vector<std::string> reasons;
  for (const auto& r : d.rejections()) reasons.push_back(absl::StrCat(r.field(), ": ", r.message()));
  return absl::StrJoin(reasons, "; ");
}

std::string DescribeAssignee(const store::TaskRow& t) {
  if (t.status == "claimed") return absl::StrCat("claimed by ", t.claimed_by);
  if (t.status == "delegated") return absl::StrCat("delegated to ", t.delegated_to);
  if (!t.assignee_user.empty()) return absl::StrCat("assigned to user ", t.assignee_user);
  if (t.assignee_org.empty()) return absl::StrCat("assigned to role ", t.assignee_role);
  return absl::StrCat("assigned to role ", t.assignee_role, " in org ", t.assignee_org);
}

bool HasRole(const Caller& c, const std::string& role) {
  return std::find(c.roles.begin(), c.roles.end(), role) != c.roles.end();
}

}  // namespace

Engine::Engine(store::Store& store, const plugin::Registry& plugins, const Clock& clock,
               EngineOptions options)
    : store_(store), plugins_(plugins), clock_(clock), options_(std::move(options)) {}

// ---- definitions -------------------------------------------------------------------

v1::ValidateDefinitionResponse Engine::Validate(const std::string& yaml,
                                                const std::string& source) {
  v1::ValidateDefinitionResponse resp;
  std::string name = source.empty() ? "<request>" : source;
  std::vector<definition::Diagnostic> diags;
  if (yaml.size() > options_.max_yaml_bytes) {
    diags.push_back({name, {1, 1},
                     absl::StrCat("the definition is ", yaml.size(),
                                  " bytes; the limit is ", options_.max_yaml_bytes),
                     "split it into smaller workflows, or move long texts out of it"});
  } else {
    const definition::TemplateResolver resolver = Templates(0);
    auto compiled = definition::Compile(yaml, name, plugins_, &diags, &resolver);
    if (compiled.ok()) resp.set_key((*compiled)->key);
  }
  resp.set_valid(diags.empty());
  for (const auto& d : diags) {
    v1::Diagnostic* out = resp.add_diagnostics();
    out->set_file(d.file);
    out->set_line(d.pos.line);
    out->set_column(d.pos.column);
    out->set_message(d.message);
    out->set_hint(d.hint);
  }
  return resp;
}

definition::TemplateResolver Engine::Templates(int64_t pinned_version) {
  return [this, pinned_version](const std::string& key, int64_t version,
                                const std::string& alias) -> StatusOr<definition::BaseTemplate> {
    // A stored version was built on one template version: keep to it.
    if (pinned_version > 0) version = pinned_version;
    if (version <= 0) {
      BPM_ASSIGN_OR_RETURN(version, store_.ResolveDefinitionVersion(
                                        key, alias.empty() ? store::kCurrentAlias : alias));
    }
    BPM_ASSIGN_OR_RETURN(auto def, Compiled(key, version));
    return definition::BaseTemplate{key, version, def->effective_yaml, def->content_hash};
  };
}

StatusOr<v1::DeployDefinitionResponse> Engine::Deploy(const std::string& yaml,
                                                      const std::string& source,
                                                      const std::string& by, bool inactive,
                                                      bool governed) {
  std::set<std::string> visited;
  return DeployOnce(yaml, source, by, inactive, governed, &visited);
}

StatusOr<v1::DeployDefinitionResponse> Engine::DeployOnce(const std::string& yaml,
                                                          const std::string& source,
                                                          const std::string& by, bool inactive,
                                                          bool governed,
                                                          std::set<std::string>* visited) {
  std::string name = source.empty() ? "<request>" : source;
  if (yaml.size() > options_.max_yaml_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("yaml: ", name, " is ", yaml.size(),
                                                   " bytes; the limit is ",
                                                   options_.max_yaml_bytes));
  }
  const definition::TemplateResolver resolver = Templates(0);
  BPM_ASSIGN_OR_RETURN(auto def, definition::Compile(yaml, name, plugins_, nullptr, &resolver));
  store::DefinitionRow row;
  row.key = def->key;
  row.base_key = def->extends_key;
  row.base_version = def->extends_version;
  row.content_hash = def->content_hash;
  row.title = def->title;
  row.source_name = name;
  row.yaml = yaml;
  row.created_ms = clock_.NowMillis();
  // "current" moves only to a new version: deploying known content (a
  // restart deploying its directory again) must not undo a rollback.
  BPM_ASSIGN_OR_RETURN(int64_t before, CurrentVersion(def->key));
  std::optional<store::AliasChange> move;
  const bool held = governed && options_.definition_approval && !inactive;
  if (!inactive && !held) {
    move = store::AliasChange{store::kCurrentAlias, by, absl::StrCat("deployed from ", name),
                              row.created_ms};
  }
  bool created = false;
  BPM_ASSIGN_OR_RETURN(store::DefinitionRow stored, store_.PutDefinition(row, move, &created));
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    cache_.emplace(std::make_pair(stored.key, stored.version), def);
  }
  v1::DeployDefinitionResponse resp;
  BPM_ASSIGN_OR_RETURN(auto aliases, store_.ListDefinitionAliases(def->key));
  *resp.mutable_definition() = internal::Summary(stored, StateNames(def.get()));
  for (const auto& a : aliases) {
    if (a.version == stored.version) resp.mutable_definition()->add_aliases(a.alias);
  }
  resp.set_created(created);
  resp.set_activated(created && move.has_value());
  resp.set_previous_current(static_cast<int32_t>(before));
  if (held && stored.version != before) {
    BPM_ASSIGN_OR_RETURN(std::string request,
                         RequestChange(by, def->key, stored.version, store::kCurrentAlias,
                                       "deploy", absl::StrCat("deployed from ", name)));
    resp.set_approval_instance_id(request);
  }
  if (resp.activated() && def->is_template) {
    visited->insert(def->key);
    BPM_RETURN_IF_ERROR(FlowDown(def->key, stored.version, visited, resp.mutable_derived()));
  }
  return resp;
}

Status Engine::FlowDown(const std::string& key, int64_t version, std::set<std::string>* visited,
                        google::protobuf::RepeatedPtrField<v1::DerivedDeploy>* out) {
  BPM_ASSIGN_OR_RETURN(auto latest, store_.ListDefinitions(""));
  for (const store::DefinitionRow& any : latest) {
    if (visited->count(any.key) != 0) continue;
    BPM_ASSIGN_OR_RETURN(int64_t current, CurrentVersion(any.key));
    if (current == 0) continue;
    BPM_ASSIGN_OR_RETURN(store::DefinitionRow row, store_.GetDefinition(any.key, current));
    if (row.base_key != key || row.base_version == version) continue;
    auto compiled = Compiled(row.key, row.version);
    if (compiled.ok() && (*compiled)->extends_pinned) continue;  // keeps its template version
    visited->insert(row.key);
    v1::DerivedDeploy* d = out->Add();
    d->set_key(row.key);
    d->set_previous_version(static_cast<int32_t>(current));
    auto rebuilt = DeployOnce(row.yaml, row.source_name,
                              absl::StrCat("template ", key, " v", version), false,
                              /*governed=*/false, visited);
    if (!rebuilt.ok()) {
      d->set_error(std::string(rebuilt.status().message()));
      continue;
    }
    const int64_t built = rebuilt->definition().version();
    if (!rebuilt->created() && built != current) {
      // The template went back to a version this one was built on before
      // (a rollback): point "current" at that build again.
      store::AliasChange change{store::kCurrentAlias,
                                absl::StrCat("template ", key, " v", version),
                                absl::StrCat("template ", key, " moved to version ", version),
                                clock_.NowMillis()};
      BPM_RETURN_IF_ERROR(store_.MoveDefinitionAlias(row.key, built, change).status());
    }
    d->set_version(static_cast<int32_t>(built));
    for (auto& further : *rebuilt->mutable_derived()) *out->Add() = std::move(further);
  }
  return absl::OkStatus();
}

StatusOr<int64_t> Engine::CurrentVersion(const std::string& key, const std::string& alias) {
  auto v = store_.ResolveDefinitionVersion(key, alias);
  if (absl::IsNotFound(v.status())) return 0;
  return v;
}

StatusOr<v1::SetAliasResponse> Engine::SetAlias(const Caller& caller,
                                                const v1::SetAliasRequest& req) {
  if (req.key().empty()) return absl::InvalidArgumentError("key: is required");
  const std::string alias = req.alias().empty() ? store::kCurrentAlias : req.alias();
  static const std::regex kAliasName("[a-z][a-z0-9_-]{0,31}");
  if (!std::regex_match(alias, kAliasName)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "alias: '", alias, "' is not a valid alias name ([a-z][a-z0-9_-]{0,31})"));
  }
  if (req.version() <= 0) {
    return absl::InvalidArgumentError("version: is required (the version to point at)");
  }
  if (req.reason().size() > 4 * options_.max_comment_chars) {
    return absl::InvalidArgumentError(absl::StrCat("reason: ", req.reason().size(),
                                                   " bytes exceeds the limit of ",
                                                   4 * options_.max_comment_chars));
  }
  v1::SetAliasResponse resp;
  // Under governance the aliases new instances start on by default need a
  // second person: current, and the fiscal years' (fy2026).
  if (options_.definition_approval && (alias == store::kCurrentAlias || IsFiscalYearAlias(alias))) {
    BPM_RETURN_IF_ERROR(store_.GetDefinition(req.key(), req.version()).status());
    BPM_ASSIGN_OR_RETURN(int64_t now_current, CurrentVersion(req.key(), alias));
    resp.mutable_alias()->set_key(req.key());
    resp.mutable_alias()->set_alias(alias);
    resp.mutable_alias()->set_version(static_cast<int32_t>(now_current));
    resp.set_previous_version(static_cast<int32_t>(now_current));
    if (now_current != req.version()) {
      BPM_ASSIGN_OR_RETURN(std::string request,
                           RequestChange(caller.user, req.key(), req.version(), alias, "alias",
                                         req.reason()));
      resp.set_approval_instance_id(request);
    }
    return resp;
  }
  store::AliasChange change{alias, caller.user, req.reason(), clock_.NowMillis()};
  BPM_ASSIGN_OR_RETURN(int64_t previous, store_.MoveDefinitionAlias(req.key(), req.version(), change));
  resp.mutable_alias()->set_key(req.key());
  resp.mutable_alias()->set_alias(alias);
  resp.mutable_alias()->set_version(req.version());
  resp.mutable_alias()->set_updated_unix_ms(change.at_ms);
  resp.mutable_alias()->set_updated_by(caller.user);
  resp.set_previous_version(static_cast<int32_t>(previous));
  resp.set_moved(previous != req.version());
  if (resp.moved() && alias == store::kCurrentAlias) {
    BPM_ASSIGN_OR_RETURN(auto def, Compiled(req.key(), req.version()));
    if (def->is_template) {
      std::set<std::string> visited{req.key()};
      BPM_RETURN_IF_ERROR(FlowDown(req.key(), req.version(), &visited, resp.mutable_derived()));
    }
  }
  return resp;
}

StatusOr<v1::DiffDefinitionsResponse> Engine::Diff(const v1::DiffDefinitionsRequest& req) {
  if (req.key().empty()) return absl::InvalidArgumentError("key: is required");
  if (req.from_version() <= 0) return absl::InvalidArgumentError("from_version: is required");
  if (req.to_version() <= 0) return absl::InvalidArgumentError("to_version: is required");
  // A compiled definition keeps its YAML text: no second read of the rows.
  BPM_ASSIGN_OR_RETURN(auto from, Compiled(req.key(), req.from_version()));
  BPM_ASSIGN_OR_RETURN(auto to, Compiled(req.key(), req.to_version()));
  v1::DiffDefinitionsResponse resp;
  for (auto& line : definition::StructuralDiff(*from, *to)) resp.add_changes(std::move(line));
  resp.set_unified_diff(definition::UnifiedDiff(
      from->yaml, to->yaml, absl::StrCat(req.key(), " v", req.from_version()),
      absl::StrCat(req.key(), " v", req.to_version())));
  return resp;
}

StatusOr<std::shared_ptr<const definition::Definition>> Engine::Compiled(const std::string& key,
                                                                         int64_t version) {
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find({key, version});
    if (it != cache_.end()) return it->second;
  }
  BPM_ASSIGN_OR_RETURN(store::DefinitionRow row, store_.GetDefinition(key, version));
  const definition::TemplateResolver resolver = Templates(row.base_version);
  auto compiled = definition::Compile(row.yaml, row.source_name, plugins_, nullptr, &resolver);
  if (!compiled.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("workflow ", key, " version ", row.version,
                     " no longer validates with the loaded plugins: ",
                     compiled.status().message()));
  }
  std::lock_guard<std::mutex> lock(cache_mu_);
  cache_.emplace(std::make_pair(key, row.version), *compiled);
  return *compiled;
}

StatusOr<v1::GraphDefinitionResponse> Engine::Graph(const v1::GraphDefinitionRequest& req) {
  std::string key = req.key();
  int64_t version = req.version();
  std::optional<definition::Path> path;
  if (!req.instance_id().empty()) {
    BPM_RETURN_IF_ERROR(CheckLength(req.instance_id(), kMaxIdLength, "instance_id"));
    BPM_ASSIGN_OR_RETURN(store::InstanceRow inst, store_.GetInstance(req.instance_id()));
    if (!key.empty() && key != inst.def_key) {
      return absl::InvalidArgumentError(absl::StrCat("instance_id: instance ", inst.id,
                                                     " runs ", inst.def_key, ", not ", key));
    }
    if ((version != 0 && version != inst.def_version) || !req.alias().empty()) {
      return absl::InvalidArgumentError(
          "instance_id: the graph of an instance is of its own version; give no version or "
          "alias");
    }
    key = inst.def_key;
    version = inst.def_version;
    BPM_ASSIGN_OR_RETURN(auto events, store_.ListEvents(inst.id));
    path.emplace();
    for (const auto& e : events) {
      if (!e.to_state.empty()) path->visited.insert(e.to_state);
      if (e.kind == "transitioned" && !e.from_state.empty() && e.from_state != e.to_state) {
        path->taken.insert({e.from_state, e.to_state});
      }
    }
    path->current = inst.state;
  } else {
    if (key.empty()) return absl::InvalidArgumentError("key: is required (or instance_id)");
    if (!req.alias().empty()) {
      if (version != 0) {
        return absl::InvalidArgumentError("alias: give a version or an alias, not both");
      }
      BPM_ASSIGN_OR_RETURN(version, store_.ResolveDefinitionVersion(key, req.alias()));
    } else if (version == 0) {
      BPM_ASSIGN_OR_RETURN(store::DefinitionRow latest, store_.GetDefinition(key, 0));
      version = latest.version;
    }
  }
  BPM_ASSIGN_OR_RETURN(auto def, Compiled(key, version));
  v1::GraphDefinitionResponse resp;
  resp.set_key(key);
  resp.set_version(static_cast<int32_t>(version));
  resp.set_dot(definition::ToDot(*def, absl::StrCat(key, " v", version),
                                 path ? &*path : nullptr));
  return resp;
}

StatusOr<v1::GetDefinitionResponse> Engine::GetDefinition(const std::string& key,
                                                          int64_t version,
                                                          const std::string& alias) {
  if (key.empty()) return absl::InvalidArgumentError("key: is required");
  if (!alias.empty()) {
    if (version != 0) {
      return absl::InvalidArgumentError("alias: give a version or an alias, not both");
    }
    BPM_ASSIGN_OR_RETURN(version, store_.ResolveDefinitionVersion(key, alias));
  }
  BPM_ASSIGN_OR_RETURN(store::DefinitionRow row, store_.GetDefinition(key, version));
  BPM_ASSIGN_OR_RETURN(auto aliases, store_.ListDefinitionAliases(key));
  auto def = Compiled(row.key, row.version);
  v1::GetDefinitionResponse resp;
  *resp.mutable_definition() = internal::Summary(row, StateNames(def.ok() ? def->get() : nullptr));
  for (const auto& a : aliases) {
    if (a.version == row.version) resp.mutable_definition()->add_aliases(a.alias);
  }
  resp.set_yaml(row.yaml);
  return resp;
}

StatusOr<v1::ListDefinitionsResponse> Engine::ListDefinitions(const std::string& key) {
  BPM_ASSIGN_OR_RETURN(auto rows, store_.ListDefinitions(key));
  BPM_ASSIGN_OR_RETURN(auto aliases, store_.ListDefinitionAliases(key));
  std::map<std::pair<std::string, int64_t>, std::vector<std::string>> by_version;
  for (const auto& a : aliases) by_version[{a.key, a.version}].push_back(a.alias);
  v1::ListDefinitionsResponse resp;
  for (const auto& row : rows) {
    auto def = Compiled(row.key, row.version);
    v1::DefinitionSummary* s = resp.add_definitions();
    *s = internal::Summary(row, StateNames(def.ok() ? def->get() : nullptr));
    for (const auto& a : by_version[{row.key, row.version}]) s->add_aliases(a);
  }
  if (!key.empty()) {
    for (const auto& a : aliases) {
      v1::DefinitionAlias* out = resp.add_aliases();
      out->set_key(a.key);
      out->set_alias(a.alias);
      out->set_version(static_cast<int32_t>(a.version));
      out->set_updated_unix_ms(a.updated_ms);
      out->set_updated_by(a.updated_by);
    }
    BPM_ASSIGN_OR_RETURN(auto moves, store_.ListAliasMoves(key));
    for (const auto& m : moves) {
      v1::AliasMove* out = resp.add_alias_moves();
      out->set_key(m.key);
      out->set_alias(m.alias);
      out->set_from_version(static_cast<int32_t>(m.from_version));
      out->set_to_version(static_cast<int32_t>(m.to_version));
      out->set_moved_unix_ms(m.moved_ms);
      out->set_moved_by(m.moved_by);
      out->set_reason(m.reason);
    }
  }
  return resp;
}

// ---- the interpreter ---------------------------------------------------------------

Status Engine::LoadOrgContext(Working& w) {
  if (w.org_context_loaded || !options_.org_resolver) return absl::OkStatus();
  auto ctx = options_.org_resolver(w.inst.org, w.now);
  if (ctx.ok()) {
    w.org_context = *std::move(ctx);
  } else if (!absl::IsNotFound(ctx.status())) {
    return ctx.status();
  }
  w.org_context_loaded = true;
  return absl::OkStatus();
}

Status Engine::OpenTask(Working& w, const definition::State& state, const pb::TaskSpec& spec) {
  const std::string& stage = state.stage;
  if (spec.name().empty() || spec.actions_size() == 0 ||
      (spec.assignee_user().empty() && spec.assignee_role().empty())) {
    return absl::InternalError(absl::StrCat(
        "stage plugin '", stage, "' opened a task without a name, actions or assignee"));
  }
  store::TaskRow t;
  t.id = NewId();
  t.instance_id = w.inst.id;
  t.state = state.name;
  t.name = spec.name();
  t.title = spec.title().empty() ? (state.title.empty() ? state.name : state.title)
                                 : spec.title();
  t.status = "open";
  t.assignee_user = spec.assignee_user();
  t.assignee_role = spec.assignee_role();
  t.assignee_org = spec.assignee_org();
  t.actions_json = StringsToJson(spec.actions());
  t.data_json = CanonicalJson(spec.data());
  t.exclude_users_json = StringsToJson(spec.exclude_users());
  t.created_ms = w.now;
  t.due_ms = spec.due_unix_ms();
  if (t.due_ms == 0 && spec.due().working_days() > 0) {
    if (!options_.due.add_working_days) {
      return absl::FailedPreconditionError(absl::StrCat(
          "state '", state.name, "' (stage ", stage,
          ") asks for a due date in working days, but bpmd has no working-day calendar loaded "
          "(start it with --calendars DIR)"));
    }
    BPM_ASSIGN_OR_RETURN(t.due_ms, options_.due.add_working_days(w.now, spec.due().working_days()));
  } else if (t.due_ms == 0 && spec.due().days() > 0) {
    if (options_.due.add_days) {
      BPM_ASSIGN_OR_RETURN(t.due_ms, options_.due.add_days(w.now, spec.due().days()));
    } else {
      t.due_ms = w.now + int64_t{spec.due().days()} * 24 * kHourMs;
    }
  }
  auto add_timer = [&](const std::string& name, int64_t due) {
    store::TimerRow timer;
    timer.id = NewId();
    timer.instance_id = w.inst.id;
    timer.task_id = t.id;
    timer.name = name;
    timer.due_ms = due;
    w.commit.insert_timers.push_back(std::move(timer));
  };
  if (t.due_ms > 0 && spec.remind_before_hours() > 0) {
    int64_t at = t.due_ms - int64_t{spec.remind_before_hours()} * kHourMs;
    if (at > w.now) add_timer("remind", at);
  }
  if (t.due_ms > 0 && spec.overdue_timer()) add_timer("overdue", t.due_ms);
  w.tasks.push_back({std::move(t), "", false, true});
  return absl::OkStatus();
}

Status Engine::ApplyDecision(Working& w, const definition::State& state, pb::Decision& d,
                             const std::string& task_id) {
  const std::string& stage = state.stage;
  if (!d.outcome().empty() && d.open_tasks_size() > 0) {
    return absl::InternalError(absl::StrCat("stage plugin '", stage, "' in state '", state.name,
                                            "' returned an outcome and new tasks at once"));
  }
  // A declared variable keeps its declared type and values whoever sets it:
  // conditions test it, and a plugin (perhaps remote) that sets it wrongly
  // would otherwise send the instance down the wrong transition unnoticed.
  if (Status typed = w.def->CheckVariables(d.set_variables(), "variables"); !typed.ok()) {
    return absl::InternalError(absl::StrCat("stage plugin '", stage, "' in state '", state.name,
                                            "' set ", typed.message()));
  }
  // Moved, not copied: a Value copy is a deep copy of the whole subtree.
  for (auto& [k, v] : *d.mutable_set_variables()->mutable_fields()) w.vars.Set(k, &v);
  for (const std::string& id : d.cancel_tasks()) {
    Working::Task* t = w.Find(id);
    if (t == nullptr || !store::IsActiveTaskStatus(t->row.status) || t->row.state != state.name) {
      return absl::InternalError(absl::StrCat("stage plugin '", stage, "' cancelled task ", id,
                                              ", which is not an open task of state '",
                                              state.name, "'"));
    }
    w.Close(*t, "cancelled", "");
  }
  for (const pb::TaskSpec& spec : d.open_tasks()) BPM_RETURN_IF_ERROR(OpenTask(w, state, spec));
  for (const pb::ExternalTaskSpec& spec : d.external_tasks()) {
    BPM_RETURN_IF_ERROR(OpenExternalTask(w, state, spec));
  }
  for (const pb::DocumentSpec& doc : d.documents()) {
    store::DocumentRow row;
    row.id = NewId();
    row.instance_id = w.inst.id;
    row.state = state.name;
    row.kind = doc.kind();
    row.content_type = doc.content_type();
    row.content = doc.content();
    row.sha256 = Sha256Hex(doc.content());
    row.created_ms = w.now;
    w.commit.documents.push_back(std::move(row));
  }
  for (const pb::Notification& n : d.notifications()) {
    store::NotificationRow row;
    row.id = NewId();
    row.user_id = n.user();
    row.role = n.role();
    row.org = n.org();
    row.instance_id = w.inst.id;
    row.task_id = task_id;
    row.kind = n.kind();
    row.text = n.text();
    row.from_user = w.caller.user;
    row.created_ms = w.now;
    w.commit.notifications.push_back(std::move(row));
  }
  return absl::OkStatus();
}

Status Engine::FollowOutcome(Working& w, const definition::State& from,
                             const std::string& outcome, int depth) {
  if (depth > options_.max_automatic_transitions) {
    return absl::FailedPreconditionError(absl::StrCat(
        "workflow ", w.def->key, ": more than ", options_.max_automatic_transitions,
        " automatic transitions in one command (an outcome cycle?) at state '", from.name, "'"));
  }
  BPM_ASSIGN_OR_RETURN(const google::protobuf::Struct* vars,
                       w.vars.With(from.ConditionVariables(outcome)));
  BPM_ASSIGN_OR_RETURN(std::string target, w.def->Next(from, outcome, *vars));
  // Leaving a state cancels whatever is still open there.
  for (Working::Task* t : w.Active(from.name)) w.Close(*t, "cancelled", "");
  w.CancelExternal(from.name);
  w.AddEvent("transitioned", outcome, from.name, target);
  return EnterState(w, target, depth + 1);
}

Status Engine::EnterState(Working& w, const std::string& name, int depth, bool reentry) {
  const definition::State* state = w.def->Find(name);
  if (state == nullptr) {
    return absl::InternalError(absl::StrCat("workflow ", w.def->key, ": state '", name,
                                            "' is not defined"));
  }
  w.inst.state = name;
  if (state->final) {
    BPM_RETURN_IF_ERROR(w.lifecycle.Fire(InstanceEvent::kComplete,
                                         absl::StrCat("instance ", w.inst.id)));
    w.inst.status = w.lifecycle.status();
    w.commit.delete_snapshot = true;  // nothing to withdraw into once completed
    w.AddEvent("completed", "", name, name);
    return absl::OkStatus();
  }
  const plugin::StageHandle* stage = plugins_.Find(state->stage);
  if (stage == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("stage plugin '", state->stage,
                                                      "' of state '", name, "' is not loaded"));
  }
  BPM_RETURN_IF_ERROR(LoadOrgContext(w));
  google::protobuf::Arena arena;  // the request's copies die with it, in one free
  auto* req = google::protobuf::Arena::CreateMessage<pb::EnterRequest>(&arena);
  StatusOr<pb::Decision> entered;
  {
    Working::LentContext lent(w, *state, req->mutable_context());
    BPM_RETURN_IF_ERROR(lent.status());
    req->set_reentry(reentry);
    entered = stage->EnterWithConfig(*req, Working::ConfigOf(*state));
  }
  BPM_ASSIGN_OR_RETURN(pb::Decision d, std::move(entered));
  if (!d.accepted()) {
    return absl::FailedPreconditionError(absl::StrCat("state '", name, "' (stage ", state->stage,
                                                      ") refused entry: ", Rejections(d)));
  }
  BPM_RETURN_IF_ERROR(ApplyDecision(w, *state, d, ""));
  if (!d.outcome().empty()) return FollowOutcome(w, *state, d.outcome(), depth);
  return absl::OkStatus();
}

namespace {

// Async commands (Engine::CommandAsync): the outermost command's commit is
// handed here instead of being applied, with what a replay after a conflict
// needs. Commands nested in it (an incident raised while it runs) commit as
// usual, before it, as they would synchronously.
struct Deferred {
  std::optional<store::Commit> commit;
  std::string scope;
  std::string idempotency_key;
  std::string request_hash;
  bool noted = false;  // the outermost command noted its replay key first
  // The outermost command ran on the instance cache's state of this instance.
  std::string cached_instance;
};
thread_local Deferred* t_deferred = nullptr;
thread_local int t_command_depth = 0;

// Marks a command's extent on this thread (RunCommandOnce, StartInstance).
struct CommandScope {
  CommandScope() { ++t_command_depth; }
  ~CommandScope() { --t_command_depth; }
  CommandScope(const CommandScope&) = delete;
  CommandScope& operator=(const CommandScope&) = delete;
};

// Whether a command that failed with s on a state from the instance cache
// (InstanceState::from_cache) may have failed only because that state was
// stale: another bpmd sharing the database changed the instance meanwhile.
// Refusals that depend on the instance's state; not an unreachable plugin or
// database, which a second run would not change.
bool CacheMayBeStale(const Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAlreadyExists:
      return true;
    default:
      return false;
  }
}

// Whether a command that ended with s, on a state from the instance cache
// or not, should run once more from the database. When it should, the
// instance is dropped from the cache and nothing of the first run stays
// queued (t_deferred).
bool RunAgainFromDatabase(store::Store& store, const Status& s, bool from_cache,
                          const std::string& instance_id) {
  if (s.ok() || !from_cache || !CacheMayBeStale(s)) return false;
  store.ForgetInstance(instance_id);
  if (t_deferred != nullptr && t_command_depth == 0) t_deferred->commit.reset();
  return true;
}

void NoteReplay(const std::string& scope, const std::string& key, const std::string& hash) {
  if (t_deferred != nullptr && !t_deferred->noted) {
    t_deferred->noted = true;
    t_deferred->scope = scope;
    t_deferred->idempotency_key = key;
    t_deferred->request_hash = hash;
  }
}

}  // namespace

void Engine::CommandAsync(std::function<StatusOr<v1::Instance>()> run, InstanceCallback done,
                          bool may_rerun) {
  Deferred deferred;
  t_deferred = &deferred;
  StatusOr<v1::Instance> result = run();
  t_deferred = nullptr;
  // Nothing to queue: refused, or answered by a replay. A command that fails
  // after its commit was prepared writes nothing of it (nested commands were
  // not deferred and are written already).
  if (!deferred.commit || !result.ok()) {
    done(std::move(result));
    return;
  }
  store::Commit commit = *std::move(deferred.commit);  // before `deferred` moves below
  store_.ApplyAsync(
      std::move(commit),
      [this, done = std::move(done), instance = *std::move(result),
       deferred = std::move(deferred), run = std::move(run), may_rerun](Status s) mutable {
        if (s.ok()) {
          done(std::move(instance));
          return;
        }
        // Refused after deciding on a cached state: another bpmd may have
        // moved the instance on; the command runs again from the database.
        const bool rerun = may_rerun && !deferred.cached_instance.empty() && absl::IsAborted(s);
        if (rerun || (!deferred.idempotency_key.empty() &&
                      (absl::IsAborted(s) || absl::IsFailedPrecondition(s)))) {
          // A retry with the same key may have committed first: answer with
          // its result, read where reads may block (EngineOptions::run_blocking).
          auto answer = [this, done = std::move(done), deferred = std::move(deferred),
                         s = std::move(s), run = std::move(run), rerun]() mutable {
            if (!deferred.idempotency_key.empty()) {
              auto replay =
                  Replay(deferred.scope, deferred.idempotency_key, deferred.request_hash);
              if (replay.ok() && *replay) {
                done(**std::move(replay));
                return;
              }
            }
            if (rerun) {
              store_.ForgetInstance(deferred.cached_instance);
              CommandAsync(std::move(run), std::move(done), /*may_rerun=*/false);
              return;
            }
            done(std::move(s));
          };
          if (options_.run_blocking) {
            options_.run_blocking(std::move(answer));
          } else {
            answer();
          }
          return;
        }
        done(std::move(s));
      });
}

void Engine::StartAsync(const Caller& caller, const v1::StartInstanceRequest& request,
                        InstanceCallback done) {
  CommandAsync([&] { return Start(caller, request); }, std::move(done));
}

void Engine::ActAsync(const Caller& caller, const v1::ActRequest& request,
                      InstanceCallback done) {
  // The caller is copied: a second run (CommandAsync) may come after this
  // returns. The request lives until done is called.
  CommandAsync([this, caller, &request] { return Act(caller, request); }, std::move(done));
}

StatusOr<v1::Instance> Engine::Finish(Working& w) {
  // Only the variables the command changed are encoded; the others are
  // copied from the stored text (a filed form is most of it).
  std::string vars_json = w.vars.Encode();
#ifdef BPM_CHECK_INVARIANTS
  {
    BPM_ASSIGN_OR_RETURN(const google::protobuf::Struct* all, w.vars.All());
    auto written = ParseJsonStruct(vars_json);
    if (!written.ok() || CanonicalJson(*written) != CanonicalJson(*all)) {
      return absl::InternalError(absl::StrCat(
          "instance ", w.inst.id, ": the variables' JSON differs from the variables: ",
          vars_json, " (a change not made through InstanceVars::Set?)"));
    }
  }
#endif
  if (vars_json.size() > 4 * options_.max_payload_bytes) {
    return absl::FailedPreconditionError(absl::StrCat(
        "instance ", w.inst.id, ": variables would grow to ", vars_json.size(),
        " bytes; the limit is ", 4 * options_.max_payload_bytes));
  }
  BPM_RETURN_IF_ERROR(ApproveChange(w));
  if (w.snapshot && w.commit.snapshot) {
    // Undoing the action's changes takes far less than the whole variables
    // (a filed form is most of them).
    std::string before;
    std::vector<std::string> added;
    if (w.vars.Undo(&before, &added)) {
      v1::VariablesUndo* undo = w.snapshot->mutable_variables_undo();
      undo->set_before_json(std::move(before));
      for (std::string& key : added) undo->add_added(std::move(key));
    } else {
      w.snapshot->set_variables_json(w.inst.variables_json);  // still as stored
    }
    w.commit.snapshot->body = absl::Base64Escape(w.snapshot->SerializeAsString());
  }
  // The answer's variables: parsed now if nobody read them yet (the stored
  // text is about to be replaced).
  google::protobuf::Struct* answer_vars = nullptr;
  if (w.answer_with_vars || w.commit.idempotency) {
    BPM_ASSIGN_OR_RETURN(answer_vars, w.vars.All());
  }
  w.inst.variables_json = std::move(vars_json);
  w.inst.updated_ms = w.now;
  w.inst.version += 1;
  if (w.commit.insert_instance) {
    w.commit.insert_instance = w.inst;
  } else {
    w.commit.expected_version = w.inst.version - 1;
    w.commit.stored_status = w.entry_status;
    w.commit.update_instance = w.inst;
  }
  std::vector<store::TaskRow> rows;
  for (const auto& t : w.tasks) {
    rows.push_back(t.row);
    if (!t.persisted) {
      w.commit.insert_tasks.push_back(t.row);
    } else if (t.changed) {
      w.commit.update_tasks.push_back({t.row, t.stored_status});
    }
  }
  const google::protobuf::Struct no_vars;
  v1::Instance result = ToInstance(w.inst, rows, &no_vars);
  // The command ends here: the response takes the variables without a copy
  // (copying a Struct costs about as much as parsing its JSON). The stored
  // answer has all of them, for a replay asking for either view; the server
  // answers as the view asks (services.cc).
  if (answer_vars != nullptr) result.mutable_variables()->Swap(answer_vars);
  if (w.commit.idempotency) w.commit.idempotency->response = result.SerializeAsString();
  if (t_deferred != nullptr && t_command_depth == 1 && !t_deferred->commit &&
      !w.commit.move_alias) {
    t_deferred->commit = std::move(w.commit);  // CommandAsync queues it
    w.commit = store::Commit();
    return result;
  }
  BPM_RETURN_IF_ERROR(store_.Apply(w.commit));
  return result;
}

StatusOr<std::optional<v1::Instance>> Engine::Replay(const std::string& scope,
                                                     const std::string& key,
                                                     const std::string& request_hash) {
  BPM_ASSIGN_OR_RETURN(auto row, store_.GetIdempotency(scope, key));
  if (!row) return std::optional<v1::Instance>();
  if (row->request_hash != request_hash) {
    return absl::AlreadyExistsError(absl::StrCat(
        "idempotency_key '", key, "' was already used for a different request"));
  }
  v1::Instance inst;
  if (!inst.ParseFromString(row->response)) {
    return absl::InternalError(absl::StrCat("stored response of idempotency key '", key,
                                            "' is corrupt"));
  }
  return std::optional<v1::Instance>(std::move(inst));
}

StatusOr<v1::Instance> Engine::RunCommand(const Caller& caller, const std::string& instance_id,
                                          int64_t expected_version, const std::string& scope,
                                          const std::string& idempotency_key,
                                          const std::string& request_hash,
                                          const CommandBody& body, InstanceEvent lifecycle_event,
                                          store::InstanceState* loaded) {
  BPM_RETURN_IF_ERROR(CheckLength(idempotency_key, kMaxIdLength, "idempotency_key"));
  if (!idempotency_key.empty()) {
    BPM_ASSIGN_OR_RETURN(auto replay, Replay(scope, idempotency_key, request_hash));
    if (replay) return *std::move(replay);
  }
  NoteReplay(scope, idempotency_key, request_hash);
  bool from_cache = false;
  auto result = RunCommandOnce(caller, instance_id, expected_version, scope, idempotency_key,
                               request_hash, body, lifecycle_event, loaded, &from_cache);
  if (loaded == nullptr &&
      RunAgainFromDatabase(store_, result.status(), from_cache, instance_id)) {
    result = RunCommandOnce(caller, instance_id, expected_version, scope, idempotency_key,
                            request_hash, body, lifecycle_event, nullptr, &from_cache);
  }
  if (!idempotency_key.empty() &&
      (absl::IsAborted(result.status()) || absl::IsFailedPrecondition(result.status()))) {
    // The first try with this key may have committed while this retry ran
    // (the task then looks taken, the instance moved on): answer with its
    // result rather than with the conflict it caused.
    BPM_ASSIGN_OR_RETURN(auto replay, Replay(scope, idempotency_key, request_hash));
    if (replay) return *std::move(replay);
  }
  return result;
}

StatusOr<v1::Instance> Engine::RunCommandOnce(const Caller& caller,
                                              const std::string& instance_id,
                                              int64_t expected_version, const std::string& scope,
                                              const std::string& idempotency_key,
                                              const std::string& request_hash,
                                              const CommandBody& body,
                                              InstanceEvent lifecycle_event,
                                              store::InstanceState* preloaded,
                                              bool* from_cache) {
  CommandScope command;
  Working w;
  store::InstanceState loaded;
  if (preloaded != nullptr) {
    loaded = std::move(*preloaded);
  } else {
    BPM_ASSIGN_OR_RETURN(loaded, store_.LoadInstance(instance_id));
  }
  *from_cache = loaded.from_cache;
  if (t_deferred != nullptr && t_command_depth == 1) {
    t_deferred->cached_instance = loaded.from_cache ? loaded.instance.id : "";
  }
  w.inst = std::move(loaded.instance);
  w.timers = std::move(loaded.timers);
  w.entry_state = w.inst.state;
  w.entry_status = w.inst.status;
  BPM_ASSIGN_OR_RETURN(w.lifecycle, InstanceLifecycle::Restore(w.inst.status));
  const std::string subject = absl::StrCat("instance ", w.inst.id, " (", w.inst.def_key, " v",
                                           w.inst.def_version, ")");
  BPM_RETURN_IF_ERROR(w.lifecycle.Fire(lifecycle_event, subject));
  // A stale expected_version is answered ABORTED, but only to a caller the
  // command would admit: the body runs first (in memory; nothing is written)
  // so that anyone else gets its PERMISSION_DENIED and learns nothing of the
  // instance's version.
  const bool stale = expected_version != 0 && expected_version != w.inst.version;
  BPM_ASSIGN_OR_RETURN(w.def, Compiled(w.inst.def_key, w.inst.def_version));
  for (auto& t : loaded.active_tasks) {
    std::string status = t.status;
    w.tasks.push_back({std::move(t), std::move(status), true, false});
  }
  for (auto& x : loaded.external_tasks) {
    if (x.status == "open" || x.status == "locked") w.external.push_back(std::move(x));
  }
  w.caller = caller;
  w.acting_as = caller.user;
  w.now = clock_.NowMillis();
  BPM_RETURN_IF_ERROR(w.vars.Load(w.inst.variables_json, subject));
  if (!idempotency_key.empty()) {
    w.commit.idempotency =
        store::IdempotencyRow{scope, idempotency_key, request_hash, "", w.now};
  }
  Status s = body(w);
  if (stale) {
    if (absl::IsPermissionDenied(s)) return s;
    return absl::AbortedError(absl::StrCat(subject, " is at version ", w.inst.version, ", not ",
                                           expected_version, ": re-read and retry"));
  }
  if (absl::IsUnavailable(s) && absl::StartsWith(s.message(), "stage plugin '")) {
    // An unreachable plugin never approves anything: the command is refused
    // and the instance waits with an incident until finance resolves it.
    Status raised = RaiseIncident(w.inst.id, "plugin_unavailable", "", std::string(s.message()));
    if (!raised.ok() && !absl::IsFailedPrecondition(raised)) return raised;
  }
  BPM_RETURN_IF_ERROR(s);
  BPM_ASSIGN_OR_RETURN(v1::Instance done, Finish(w));
  if (w.commit.move_alias) BPM_RETURN_IF_ERROR(AfterApproval(w.commit));
  return done;
}

StatusOr<bool> Engine::RoleTaskInScope(const Caller& caller, const std::string& instance_org) {
  if (!options_.in_scope) return true;
  return options_.in_scope(caller, instance_org);
}

StatusOr<std::string> Engine::ActingAs(const Caller& caller, const store::TaskRow& t,
                                       const std::string& instance_org, int64_t now) {
  std::vector<std::string> excluded = StringsFromJson(t.exclude_users_json);
  auto is_excluded = [&](const std::string& u) {
    return std::find(excluded.begin(), excluded.end(), u) != excluded.end();
  };
  auto refuse_sod = [&](const std::string& u) {
    return absl::PermissionDeniedError(absl::StrCat(
        "separation of duties: ", u, " may not act on task ", t.id,
        " (the filing's submitter or initiator never reviews it)"));
  };
  if (is_excluded(caller.user)) return refuse_sod(caller.user);
  std::string holder;  // the single user who holds the task, if any
  if (t.status == "claimed") {
    holder = t.claimed_by;
  } else if (t.status == "delegated") {
    holder = t.delegated_to;
  } else if (!t.assignee_user.empty()) {
    holder = t.assignee_user;
  }
  if (holder.empty()) {
    // An open group task: anyone holding the role in the org.
    if (HasRole(caller, t.assignee_role)) {
      if (t.assignee_org == caller.org && !t.assignee_org.empty()) return caller.user;
      if (t.assignee_org.empty()) {
        BPM_ASSIGN_OR_RETURN(bool in_scope, RoleTaskInScope(caller, instance_org));
        if (in_scope) return caller.user;
        return absl::PermissionDeniedError(absl::StrCat(
            "user ", caller.user, " (roles ", absl::StrJoin(caller.roles, ","), "; org ",
            caller.org.empty() ? "none" : caller.org, ") may not act on task ", t.id,
            ": it is for role ", t.assignee_role, " over org ", instance_org,
            ", which is outside the user's org scope"));
      }
    }
  } else if (holder == caller.user) {
    return caller.user;
  } else {
    BPM_ASSIGN_OR_RETURN(auto principals, store_.ActivePrincipals(caller.user, now));
    if (std::find(principals.begin(), principals.end(), holder) != principals.end()) {
      if (is_excluded(holder)) return refuse_sod(holder);
      return holder;
    }
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "user ", caller.user, " (roles ", absl::StrJoin(caller.roles, ","), "; org ", caller.org,
      ") may not act on task ", t.id, ", which is ", DescribeAssignee(t)));
}

// ---- commands ---------------------------------------------------------------------

StatusOr<v1::Instance> Engine::Start(const Caller& caller, const v1::StartInstanceRequest& req) {
  return StartInstance(caller, req, "", 0);
}

StatusOr<v1::Instance> Engine::StartInstance(const Caller& caller,
                                             const v1::StartInstanceRequest& req,
                                             const std::string& campaign_id,
                                             int64_t deadline_ms,
                                             const std::string& key_scope) {
  if (req.definition_key().empty()) return absl::InvalidArgumentError("definition_key: is required");
  if (req.subject_ref().empty()) {
    return absl::InvalidArgumentError("subject_ref: is required (e.g. the project code)");
  }
  if (req.org().empty()) return absl::InvalidArgumentError("org: is required (the owning unit)");
  BPM_RETURN_IF_ERROR(CheckLength(req.subject_ref(), kMaxIdLength, "subject_ref"));
  BPM_RETURN_IF_ERROR(CheckLength(req.org(), 64, "org"));
  BPM_RETURN_IF_ERROR(CheckLength(req.idempotency_key(), kMaxIdLength, "idempotency_key"));
  BPM_RETURN_IF_ERROR(internal::CheckStarterVariables(req.variables(), "variables"));
  std::string vars_json = CanonicalJson(req.variables());
  BPM_RETURN_IF_ERROR(CheckLength(vars_json, options_.max_payload_bytes, "variables"));

  std::string scope = key_scope.empty() ? absl::StrCat("start:", caller.user) : key_scope;
  if (req.definition_version() != 0 && !req.definition_alias().empty()) {
    return absl::InvalidArgumentError(
        "definition_alias: give definition_version or definition_alias, not both");
  }
  std::string hash = Sha256Hex(absl::StrCat(req.definition_key(), "\n", req.definition_version(),
                                            "\n", req.subject_ref(), "\n", req.org(), "\n",
                                            vars_json,
                                            req.definition_alias().empty()
                                                ? ""
                                                : "\n" + req.definition_alias()));
  if (!req.idempotency_key().empty()) {
    BPM_ASSIGN_OR_RETURN(auto replay, Replay(scope, req.idempotency_key(), hash));
    if (replay) return *std::move(replay);
  }

  CommandScope command;
  NoteReplay(scope, req.idempotency_key(), hash);
  Working w;
  // Resolve the alias ("current" by default) to a fixed version first; the
  // instance stays on it. Versions are immutable, so the compiled definition
  // comes from the cache.
  int64_t def_version = req.definition_version();
  if (def_version <= 0 && req.definition_alias().empty()) {
    // A fiscal year's rules: variables.fiscal_year Y runs on the version the
    // alias fyY points at, when the key has one.
    if (const int year = internal::IntIn(req.variables(), "fiscal_year", 1900, 2200, 0); year != 0) {
      auto yearly = store_.ResolveDefinitionVersion(req.definition_key(), FiscalYearAlias(year));
      if (yearly.ok()) {
        def_version = *yearly;
      } else if (!absl::IsNotFound(yearly.status())) {
        return yearly.status();
      }
    }
  }
  if (def_version <= 0) {
    // Under governance a version nobody approved is never "current" by
    // default (the store falls back to the highest version of a key that has
    // no current).
    const std::string alias = !req.definition_alias().empty() ? req.definition_alias()
                              : options_.definition_approval ? store::kCurrentAlias
                                                             : "";
    auto resolved = store_.ResolveDefinitionVersion(req.definition_key(), alias);
    if (absl::IsNotFound(resolved.status()) && req.definition_alias().empty() && !alias.empty() &&
        store_.GetDefinition(req.definition_key(), 0).ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "definition_key: ", req.definition_key(),
          " has no approved current version yet (its change request awaits approval)"));
    }
    BPM_ASSIGN_OR_RETURN(def_version, std::move(resolved));
  }
  BPM_ASSIGN_OR_RETURN(w.def, Compiled(req.definition_key(), def_version));
  if (w.def->is_template && !options_.start_templates) {
    return absl::FailedPreconditionError(absl::StrCat(
        "definition_key: ", req.definition_key(), " v", def_version,
        " is a template; start a definition that extends it"));
  }
  BPM_RETURN_IF_ERROR(w.def->CheckVariables(req.variables(), "variables"));
  w.caller = caller;
  w.acting_as = caller.user;
  w.now = clock_.NowMillis();
  google::protobuf::Struct vars = req.variables();
  BPM_RETURN_IF_ERROR(AttachApprovedTargets(*w.def, req.subject_ref(), req.org(), &vars));
  BPM_RETURN_IF_ERROR(AttachProjectHistory(caller, *w.def, req.subject_ref(), &vars));
  w.vars.Replace(std::move(vars));
  w.answer_with_vars = req.view() != v1::INSTANCE_VIEW_BASIC;
  BPM_RETURN_IF_ERROR(CheckExAnteComesFirst(*w.def, req.subject_ref()));
  w.inst.id = NewId();
  w.inst.def_key = req.definition_key();
  w.inst.def_version = def_version;
  w.inst.subject_ref = req.subject_ref();
  w.inst.org = req.org();
  w.inst.started_by = caller.user;
  w.inst.created_ms = w.now;
  w.inst.version = 0;
  w.inst.campaign_id = campaign_id;
  w.commit.insert_instance = w.inst;
  BPM_RETURN_IF_ERROR(w.lifecycle.Fire(InstanceEvent::kStart, "new instance"));
  w.inst.status = w.lifecycle.status();
  if (!req.idempotency_key().empty()) {
    w.commit.idempotency = store::IdempotencyRow{scope, req.idempotency_key(), hash, "", w.now};
  }
  w.AddEvent("started", "", "", w.def->initial, "", "",
             vars_json == "{}" ? "" : Sha256Hex(vars_json));
  BPM_RETURN_IF_ERROR(EnterState(w, w.def->initial, 0));
  if (deadline_ms > 0) {
    // A campaign's deadline binds the first tasks (the filing), with an
    // overdue timer each.
    for (Working::Task* t : w.Active()) {
      if (t->row.due_ms != 0) continue;
      t->row.due_ms = deadline_ms;
      store::TimerRow timer;
      timer.id = NewId();
      timer.instance_id = w.inst.id;
      timer.task_id = t->row.id;
      timer.name = "overdue";
      timer.due_ms = deadline_ms;
      w.commit.insert_timers.push_back(std::move(timer));
    }
  }
  auto result = Finish(w);
  if (absl::IsAborted(result.status()) && !req.idempotency_key().empty()) {
    // A concurrent retry with the same key committed first: answer with its result.
    BPM_ASSIGN_OR_RETURN(auto replay, Replay(scope, req.idempotency_key(), hash));
    if (replay) return *std::move(replay);
  }
  return result;
}

namespace {

// What the instance looked like before an action, for withdraw; Finish adds
// what undoes the action's changes to the variables.
v1::InstanceSnapshot SnapshotBefore(const store::InstanceRow& inst,
                                    const std::vector<store::TaskRow>& active,
                                    const std::vector<store::TimerRow>& timers) {
  // Only what Withdraw puts back: the state, the variables, and each open
  // task's id, status and holders. Every action rewrites this row, so it is
  // kept small: a full Instance with its tasks added about 300 bytes, and the
  // whole variables made the rows about 1,960 bytes on the benchmark's
  // workload, where what undoes an action makes them about 210.
  v1::InstanceSnapshot snap;
  v1::Instance* before = snap.mutable_instance();
  before->set_state(inst.state);
  for (const auto& t : active) {
    if (!store::IsActiveTaskStatus(t.status)) continue;
    v1::Task* task = before->add_open_tasks();
    task->set_id(t.id);
    task->set_status(t.status);
    task->set_assignee_user(t.assignee_user);
    task->set_assignee_role(t.assignee_role);
    task->set_assignee_org(t.assignee_org);
    task->set_claimed_by(t.claimed_by);
    task->set_delegated_to(t.delegated_to);
    task->set_owner_user(t.owner_user);
    task->set_due_unix_ms(t.due_ms);
  }
  for (const auto& t : timers) {
    if (t.fired_ms != 0) continue;
    v1::PendingTimer* p = snap.add_timers();
    p->set_task_id(t.task_id);
    p->set_name(t.name);
    p->set_due_unix_ms(t.due_ms);
  }
  return snap;
}

}  // namespace

StatusOr<v1::Instance> Engine::Act(const Caller& caller, const v1::ActRequest& req) {
  if (req.task_id().empty()) return absl::InvalidArgumentError("task_id: is required");
  if (req.action().empty()) return absl::InvalidArgumentError("action: is required");
  BPM_RETURN_IF_ERROR(CheckLength(req.task_id(), kMaxIdLength, "task_id"));
  if (req.comment().size() > options_.max_comment_chars * 4) {
    return absl::InvalidArgumentError(absl::StrCat("comment: ", req.comment().size(),
                                                   " bytes exceeds the limit of ",
                                                   options_.max_comment_chars * 4));
  }
  std::string payload_json = CanonicalJson(req.payload());
  if (payload_json.size() > options_.max_payload_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("payload: ", payload_json.size(),
                                                   " bytes exceeds the limit of ",
                                                   options_.max_payload_bytes));
  }
  std::string scope = absl::StrCat("act:", caller.user);
  std::string hash = Sha256Hex(absl::StrCat(req.task_id(), "\n", req.action(), "\n",
                                            payload_json, "\n", req.comment(), "\n",
                                            req.expected_version()));
  // A retry is answered by RunCommand's replay check: the task row outlives
  // its completion, so it is still found here. A failure on a cached state
  // is tried once more from the database (see RunCommand).
  for (int run = 0;; ++run) {
    BPM_ASSIGN_OR_RETURN(store::InstanceState loaded, store_.LoadTaskInstance(req.task_id()));
    const bool from_cache = loaded.from_cache;
    const store::TaskRow task = std::move(loaded.task);
    StatusOr<v1::Instance> result = RunCommand(
        caller, task.instance_id, req.expected_version(), scope, req.idempotency_key(), hash,
        [&](Working& w) -> Status {
          w.answer_with_vars = req.view() != v1::INSTANCE_VIEW_BASIC;
          BPM_ASSIGN_OR_RETURN(TaskLifecycle task_lc, TaskLifecycle::Restore(task.status));
          BPM_RETURN_IF_ERROR(task_lc.Fire(TaskEvent::kComplete, absl::StrCat("task ", task.id)));
          Working::Task* t = w.Find(task.id);
          if (t == nullptr) {
            return absl::AbortedError(
                absl::StrCat("task ", task.id, " is no longer open: re-read and retry"));
          }
          BPM_ASSIGN_OR_RETURN(w.acting_as, ActingAs(caller, t->row, w.inst.org, w.now));
          std::vector<std::string> offered = StringsFromJson(t->row.actions_json);
          if (std::find(offered.begin(), offered.end(), req.action()) == offered.end()) {
            return absl::InvalidArgumentError(absl::StrCat(
                "action: '", req.action(), "' is not offered by task ", task.id, " in state '",
                task.state, "'; offered: ", absl::StrJoin(offered, ", ")));
          }
          const definition::State* state = w.def->Find(w.inst.state);
          if (state == nullptr || state->final || t->row.state != w.inst.state) {
            return absl::FailedPreconditionError(
                absl::StrCat("task ", task.id, " belongs to state '", t->row.state,
                             "' but the instance is in state '", w.inst.state, "'"));
          }
          const plugin::StageHandle* stage = plugins_.Find(state->stage);
          if (stage == nullptr) {
            return absl::FailedPreconditionError(absl::StrCat("stage plugin '", state->stage,
                                                              "' of state '", state->name,
                                                              "' is not loaded"));
          }
          // The state before the action, so its actor can withdraw it.
          std::vector<store::TaskRow> before;
          for (Working::Task* a : w.Active()) before.push_back(a->row);
          w.commit.snapshot =
              store::SnapshotRow{w.inst.id, w.inst.version + 1, caller.user, "", w.now};
          w.snapshot = SnapshotBefore(w.inst, before, w.timers);

          BPM_RETURN_IF_ERROR(LoadOrgContext(w));
          google::protobuf::Arena arena;  // see EnterState
          auto* act = google::protobuf::Arena::CreateMessage<pb::ActRequest>(&arena);
          StatusOr<pb::Decision> acted;
          {
            Working::LentContext lent(w, *state, act->mutable_context());
            BPM_RETURN_IF_ERROR(lent.status());
            *act->mutable_task() = internal::ToTaskInfo(t->row);
            act->set_action(req.action());
            // The payload is lent as well (this call owns the request).
            act->unsafe_arena_set_allocated_payload(
                const_cast<google::protobuf::Struct*>(&req.payload()));
            act->set_comment(req.comment());
            acted = stage->ActWithConfig(*act, Working::ConfigOf(*state));
            act->unsafe_arena_release_payload();
          }
          BPM_ASSIGN_OR_RETURN(pb::Decision d, std::move(acted));
          if (!d.accepted()) {
            return absl::InvalidArgumentError(absl::StrCat(
                "state '", state->name, "' (stage ", state->stage, ") refused action '",
                req.action(), "' on task ", task.id, ": ", Rejections(d)));
          }
          if (!d.keep_task()) w.Close(*t, "completed", req.action());
          w.AddEvent("acted", req.action(), state->name, state->name, task.id, req.comment(),
                     payload_json == "{}" ? "" : Sha256Hex(payload_json), d.note());
          BPM_RETURN_IF_ERROR(ApplyDecision(w, *state, d, task.id));
          if (!d.outcome().empty()) BPM_RETURN_IF_ERROR(FollowOutcome(w, *state, d.outcome(), 0));
          return absl::OkStatus();
        },
        InstanceEvent::kAct, &loaded);
    if (run > 0 ||
        !RunAgainFromDatabase(store_, result.status(), from_cache, task.instance_id)) {
      return result;
    }
  }
}

// ---- queries -------------------------------------------------------------------------

StatusOr<v1::Instance> Engine::GetInstance(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("id: is required");
  BPM_ASSIGN_OR_RETURN(store::InstanceRow row, store_.GetInstance(id));
  BPM_ASSIGN_OR_RETURN(auto open, store_.ListTasks(id, true));
  return ToInstance(row, open);
}

StatusOr<std::string> Engine::InstanceOrg(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("instance_id: is required");
  BPM_ASSIGN_OR_RETURN(store::InstanceRow row, store_.GetInstance(id));
  return row.org;
}

StatusOr<v1::ListInstancesResponse> Engine::ListInstances(const v1::ListInstancesRequest& req,
                                                          const store::OrgSet& orgs) {
  BPM_ASSIGN_OR_RETURN(int size, PageSize(req.page_size()));
  BPM_ASSIGN_OR_RETURN(int64_t after, ParsePageToken(req.page_token()));
  store::InstanceFilter f{"", req.definition_key(), req.subject_ref(), req.org(), req.status(),
                          req.state(), orgs};
  BPM_ASSIGN_OR_RETURN(auto rows, store_.ListInstances(f, after, size + 1));
  v1::ListInstancesResponse resp;
  for (int i = 0; i < static_cast<int>(rows.size()) && i < size; ++i) {
    *resp.add_instances() = ToInstance(rows[i], {});
  }
  if (static_cast<int>(rows.size()) > size) {
    resp.set_next_page_token(std::to_string(rows[size - 1].row_id));
  }
  return resp;
}

StatusOr<v1::GetHistoryResponse> Engine::History(const std::string& instance_id) {
  if (instance_id.empty()) return absl::InvalidArgumentError("instance_id: is required");
  BPM_RETURN_IF_ERROR(store_.GetInstance(instance_id).status());
  BPM_ASSIGN_OR_RETURN(auto events, store_.ListEvents(instance_id));
  v1::GetHistoryResponse resp;
  for (const auto& e : events) *resp.add_events() = internal::ToEvent(e);
  return resp;
}

StatusOr<v1::ListDocumentsResponse> Engine::Documents(const std::string& instance_id) {
  if (instance_id.empty()) return absl::InvalidArgumentError("instance_id: is required");
  BPM_RETURN_IF_ERROR(store_.GetInstance(instance_id).status());
  BPM_ASSIGN_OR_RETURN(auto docs, store_.ListDocuments(instance_id));
  v1::ListDocumentsResponse resp;
  for (const auto& d : docs) *resp.add_documents() = internal::ToDocument(d);
  return resp;
}

StatusOr<v1::Document> Engine::GetDocument(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("id: is required");
  BPM_ASSIGN_OR_RETURN(auto d, store_.GetDocument(id));
  return internal::ToDocument(d);
}

StatusOr<v1::InboxResponse> Engine::Inbox(const Caller& caller, const v1::InboxRequest& req) {
  BPM_ASSIGN_OR_RETURN(int size, PageSize(req.page_size()));
  BPM_ASSIGN_OR_RETURN(int64_t after, ParsePageToken(req.page_token()));
  const std::string view = req.view().empty() ? "pending" : req.view();
  const int64_t now = clock_.NowMillis();
  v1::InboxResponse resp;
  std::map<std::string, store::InstanceRow> instances;
  auto instance = [&](const std::string& id) -> StatusOr<const store::InstanceRow*> {
    auto it = instances.find(id);
    if (it == instances.end()) {
      BPM_ASSIGN_OR_RETURN(auto inst, store_.GetInstance(id));
      it = instances.emplace(id, std::move(inst)).first;
    }
    return &it->second;
  };
  if (view == "cc") {
    BPM_ASSIGN_OR_RETURN(auto rows, store_.ListCc(caller.user, after, size + 1));
    for (int i = 0; i < static_cast<int>(rows.size()) && i < size; ++i) {
      BPM_ASSIGN_OR_RETURN(const store::InstanceRow* inst, instance(rows[i].instance_id));
      v1::CcEntry* e = resp.add_cc();
      e->set_id(rows[i].id);
      e->set_instance_id(rows[i].instance_id);
      e->set_from_user(rows[i].from_user);
      e->set_note(rows[i].note);
      e->set_created_unix_ms(rows[i].created_ms);
      e->set_definition_key(inst->def_key);
      e->set_subject_ref(inst->subject_ref);
      e->set_state(inst->state);
    }
    if (static_cast<int>(rows.size()) > size) {
      resp.set_next_page_token(std::to_string(rows[size - 1].row_id));
    }
    return resp;
  }
  if (view != "pending" && view != "done" && view != "overdue") {
    return absl::InvalidArgumentError(absl::StrCat(
        "view: '", view, "' is not one of pending, done, cc, overdue"));
  }
  store::InboxQuery q;
  q.view = view;
  q.users = {caller.user};
  if (view != "done") {
    BPM_ASSIGN_OR_RETURN(auto principals, store_.ActivePrincipals(caller.user, now));
    q.users.insert(q.users.end(), principals.begin(), principals.end());
  }
  q.roles = caller.roles;
  q.org = caller.org;
  q.def_key = req.definition_key();
  q.state = req.state();
  q.instance_org = req.org();
  q.now_ms = now;
  if (req.year() != 0) {
    if (req.year() < 2000 || req.year() > 2100) {
      return absl::InvalidArgumentError("year: must be between 2000 and 2100");
    }
    // Years in China time (UTC+8).
    auto start_of = [](int year) {
      int64_t days = 0;
      for (int y = 1970; y < year; ++y) days += (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365;
      return days * 86400000 - 8 * kHourMs;
    };
    q.created_from_ms = start_of(req.year());
    q.created_to_ms = start_of(req.year() + 1);
  }
  // Tasks the caller is excluded from (separation of duties) are not shown;
  // fetch in rounds so a page is still full.
  int64_t cursor = after;
  bool more = true;
  while (resp.tasks_size() < size && more) {
    BPM_ASSIGN_OR_RETURN(auto rows, store_.Inbox(q, cursor, size + 1));
    more = static_cast<int>(rows.size()) > size;
    for (const auto& row : rows) {
      if (resp.tasks_size() == size) {
        more = true;
        break;
      }
      cursor = row.row_id;
      std::vector<std::string> excluded = StringsFromJson(row.exclude_users_json);
      if (view != "done" &&
          std::find(excluded.begin(), excluded.end(), caller.user) != excluded.end()) {
        continue;
      }
      BPM_ASSIGN_OR_RETURN(const store::InstanceRow* inst, instance(row.instance_id));
      if (view != "done" && row.assignee_org.empty() && row.status == "open" &&
          row.assignee_user.empty()) {
        // A role-wide group task: only for holders whose scope covers it.
        BPM_ASSIGN_OR_RETURN(bool in_scope, RoleTaskInScope(caller, inst->org));
        if (!in_scope) continue;
      }
      *resp.add_tasks() = internal::ToTask(row, inst);
    }
  }
  if (more) resp.set_next_page_token(std::to_string(cursor));
  return resp;
}

}  // namespace bpm::engine
