#include "core/engine/engine.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bpm/plugin/sdk.h"
#include "core/common/util.h"
#include "core/engine/lifecycle.h"

namespace bpm::engine {
namespace {

namespace pb = ::bpm::plugin::v1;
using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;
constexpr size_t kMaxIdLength = 128;

std::string StringsToJson(const google::protobuf::RepeatedPtrField<std::string>& items) {
  Value v;
  for (const std::string& s : items) v.mutable_list_value()->add_values()->set_string_value(s);
  std::string out;
  plugin::AppendCanonicalJson(v, &out);
  return out;
}

std::vector<std::string> StringsFromJson(const std::string& json) {
  std::vector<std::string> out;
  auto parsed = ParseJsonObject(absl::StrCat("{\"v\":", json, "}"), "stored list");
  if (!parsed.ok()) return out;
  return plugin::StringList(*parsed, "v");
}

Struct StructFromJson(const std::string& json) {
  auto parsed = ParseJsonObject(json, "stored object");
  return parsed.ok() ? *std::move(parsed) : Struct();
}

pb::TaskInfo ToTaskInfo(const store::TaskRow& t) {
  pb::TaskInfo info;
  info.set_id(t.id);
  info.set_name(t.name);
  info.set_assignee_user(t.assignee_user);
  info.set_assignee_role(t.assignee_role);
  info.set_assignee_org(t.assignee_org);
  for (auto& a : StringsFromJson(t.actions_json)) info.add_actions(a);
  info.set_due_unix_ms(t.due_ms);
  *info.mutable_data() = StructFromJson(t.data_json);
  return info;
}

v1::Task ToTask(const store::TaskRow& t, const store::InstanceRow* inst) {
  v1::Task out;
  out.set_id(t.id);
  out.set_instance_id(t.instance_id);
  out.set_state(t.state);
  out.set_name(t.name);
  out.set_title(t.title);
  out.set_status(t.status);
  out.set_assignee_user(t.assignee_user);
  out.set_assignee_role(t.assignee_role);
  out.set_assignee_org(t.assignee_org);
  for (auto& a : StringsFromJson(t.actions_json)) out.add_actions(a);
  out.set_due_unix_ms(t.due_ms);
  out.set_created_unix_ms(t.created_ms);
  out.set_completed_unix_ms(t.completed_ms);
  out.set_completed_by(t.completed_by);
  out.set_action(t.action);
  *out.mutable_data() = StructFromJson(t.data_json);
  if (inst != nullptr) {
    out.set_definition_key(inst->def_key);
    out.set_subject_ref(inst->subject_ref);
  }
  return out;
}

v1::Instance ToInstance(const store::InstanceRow& r, const std::vector<store::TaskRow>& open) {
  v1::Instance out;
  out.set_id(r.id);
  out.set_definition_key(r.def_key);
  out.set_definition_version(static_cast<int32_t>(r.def_version));
  out.set_subject_ref(r.subject_ref);
  out.set_org(r.org);
  out.set_status(r.status);
  out.set_state(r.state);
  *out.mutable_variables() = StructFromJson(r.variables_json);
  out.set_version(r.version);
  out.set_created_unix_ms(r.created_ms);
  out.set_updated_unix_ms(r.updated_ms);
  out.set_started_by(r.started_by);
  for (const auto& t : open) {
    if (t.status == "open") *out.add_open_tasks() = ToTask(t, &r);
  }
  return out;
}

bool MayAct(const Caller& c, const store::TaskRow& t) {
  if (!t.assignee_user.empty()) return c.user == t.assignee_user;
  if (t.assignee_role.empty()) return false;
  if (std::find(c.roles.begin(), c.roles.end(), t.assignee_role) == c.roles.end()) return false;
  return t.assignee_org.empty() || t.assignee_org == c.org;
}

std::string DescribeAssignee(const store::TaskRow& t) {
  if (!t.assignee_user.empty()) return absl::StrCat("user ", t.assignee_user);
  if (t.assignee_org.empty()) return absl::StrCat("role ", t.assignee_role);
  return absl::StrCat("role ", t.assignee_role, " in org ", t.assignee_org);
}

Status CheckLength(const std::string& value, size_t max, const char* field) {
  if (value.size() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", value.size(), " bytes exceeds the limit of ", max));
  }
  return absl::OkStatus();
}

StatusOr<int64_t> ParsePageToken(const std::string& token) {
  if (token.empty()) return 0;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
  if (ec != std::errc() || ptr != token.data() + token.size() || v < 0) {
    return absl::InvalidArgumentError("page_token: not a token this server issued");
  }
  return v;
}

StatusOr<int> PageSize(int requested) {
  if (requested < 0 || requested > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be between 0 and ", kMaxPageSize));
  }
  return requested == 0 ? kDefaultPageSize : requested;
}

v1::DefinitionSummary Summary(const store::DefinitionRow& row,
                              const definition::Definition* def) {
  v1::DefinitionSummary s;
  s.set_key(row.key);
  s.set_version(static_cast<int32_t>(row.version));
  s.set_content_hash(row.content_hash);
  s.set_title(row.title);
  s.set_source_name(row.source_name);
  s.set_created_unix_ms(row.created_ms);
  if (def != nullptr) {
    for (const auto& st : def->states) s.add_states(st.name);
  }
  return s;
}

}  // namespace

// Everything one command reads and writes.
struct Engine::Working {
  std::shared_ptr<const definition::Definition> def;
  store::InstanceRow inst;
  Struct vars;
  std::vector<store::TaskRow> open;  // open tasks of the current state
  std::vector<bool> persisted;       // parallel to open: already in the database
  store::Commit commit;
  Caller caller;
  int64_t now = 0;
  InstanceLifecycle lifecycle = InstanceLifecycle::New();

  void AddEvent(std::string kind, std::string action, std::string from, std::string to,
                std::string task_id = "", std::string comment = "", std::string digest = "",
                std::string note = "") {
    store::EventRow e;
    e.instance_id = inst.id;
    e.seq = ++inst.event_seq;
    e.at_ms = now;
    e.actor = caller.user;
    e.kind = std::move(kind);
    e.action = std::move(action);
    e.from_state = std::move(from);
    e.to_state = std::move(to);
    e.task_id = std::move(task_id);
    e.comment = std::move(comment);
    e.payload_digest = std::move(digest);
    e.note = std::move(note);
    commit.events.push_back(std::move(e));
  }

  // Closes an open task (completed or cancelled) in this command.
  void CloseTask(size_t i, const std::string& status, const std::string& action) {
    if (persisted[i]) {
      commit.close_tasks.push_back({open[i].id, status, now, caller.user, action});
    } else {
      for (auto& t : commit.insert_tasks) {
        if (t.id == open[i].id) {
          t.status = status;
          t.completed_ms = now;
          t.completed_by = caller.user;
          t.action = action;
        }
      }
    }
    open.erase(open.begin() + static_cast<long>(i));
    persisted.erase(persisted.begin() + static_cast<long>(i));
  }

  pb::StageContext Context(const definition::State& state) const {
    pb::StageContext ctx;
    ctx.set_instance_id(inst.id);
    ctx.set_definition_key(inst.def_key);
    ctx.set_definition_version(static_cast<int32_t>(inst.def_version));
    ctx.set_state(state.name);
    ctx.set_subject_ref(inst.subject_ref);
    ctx.set_org(inst.org);
    *ctx.mutable_variables() = vars;
    *ctx.mutable_config() = state.config;
    ctx.mutable_actor()->set_user(caller.user);
    for (const auto& r : caller.roles) ctx.mutable_actor()->add_roles(r);
    ctx.mutable_actor()->set_org(caller.org);
    ctx.set_now_unix_ms(now);
    for (const auto& t : open) *ctx.add_open_tasks() = ToTaskInfo(t);
    return ctx;
  }
};

Engine::Engine(store::Store& store, const plugin::Registry& plugins, const Clock& clock,
               EngineOptions options)
    : store_(store), plugins_(plugins), clock_(clock), options_(options) {}

// ---- definitions -------------------------------------------------------------------

v1::ValidateDefinitionResponse Engine::Validate(const std::string& yaml,
                                                const std::string& source) {
  v1::ValidateDefinitionResponse resp;
  std::string name = source.empty() ? "<request>" : source;
  std::vector<definition::Diagnostic> diags;
  if (yaml.size() > options_.max_yaml_bytes) {
    diags.push_back({name, {1, 1},
                     absl::StrCat("the definition is ", yaml.size(),
                                  " bytes; the limit is ", options_.max_yaml_bytes)});
  } else {
    auto compiled = definition::Compile(yaml, name, plugins_, &diags);
    if (compiled.ok()) resp.set_key((*compiled)->key);
  }
  resp.set_valid(diags.empty());
  for (const auto& d : diags) {
    v1::Diagnostic* out = resp.add_diagnostics();
    out->set_file(d.file);
    out->set_line(d.pos.line);
    out->set_column(d.pos.column);
    out->set_message(d.message);
  }
  return resp;
}

StatusOr<v1::DeployDefinitionResponse> Engine::Deploy(const std::string& yaml,
                                                      const std::string& source) {
  std::string name = source.empty() ? "<request>" : source;
  if (yaml.size() > options_.max_yaml_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("yaml: ", name, " is ", yaml.size(),
                                                   " bytes; the limit is ",
                                                   options_.max_yaml_bytes));
  }
  BPM_ASSIGN_OR_RETURN(auto def, definition::Compile(yaml, name, plugins_, nullptr));
  store::DefinitionRow row;
  row.key = def->key;
  row.content_hash = def->content_hash;
  row.title = def->title;
  row.source_name = name;
  row.yaml = yaml;
  row.created_ms = clock_.NowMillis();
  bool created = false;
  BPM_ASSIGN_OR_RETURN(store::DefinitionRow stored, store_.PutDefinition(row, &created));
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    cache_.emplace(std::make_pair(stored.key, stored.version), def);
  }
  v1::DeployDefinitionResponse resp;
  *resp.mutable_definition() = Summary(stored, def.get());
  resp.set_created(created);
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
  auto compiled = definition::Compile(row.yaml, row.source_name, plugins_, nullptr);
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

StatusOr<v1::GetDefinitionResponse> Engine::GetDefinition(const std::string& key,
                                                          int64_t version) {
  if (key.empty()) return absl::InvalidArgumentError("key: is required");
  BPM_ASSIGN_OR_RETURN(store::DefinitionRow row, store_.GetDefinition(key, version));
  auto def = Compiled(row.key, row.version);
  v1::GetDefinitionResponse resp;
  *resp.mutable_definition() = Summary(row, def.ok() ? def->get() : nullptr);
  resp.set_yaml(row.yaml);
  return resp;
}

StatusOr<v1::ListDefinitionsResponse> Engine::ListDefinitions(const std::string& key) {
  BPM_ASSIGN_OR_RETURN(auto rows, store_.ListDefinitions(key));
  v1::ListDefinitionsResponse resp;
  for (const auto& row : rows) {
    auto def = Compiled(row.key, row.version);
    *resp.add_definitions() = Summary(row, def.ok() ? def->get() : nullptr);
  }
  return resp;
}

// ---- the interpreter ---------------------------------------------------------------

Status Engine::ApplyDecision(Working& w, const definition::State& state,
                             const pb::Decision& d) {
  const std::string& stage = state.stage;
  if (!d.outcome().empty() && d.open_tasks_size() > 0) {
    return absl::InternalError(absl::StrCat("stage plugin '", stage, "' in state '", state.name,
                                            "' returned an outcome and new tasks at once"));
  }
  for (const auto& [k, v] : d.set_variables().fields()) (*w.vars.mutable_fields())[k] = v;
  for (const std::string& id : d.cancel_tasks()) {
    auto it = std::find_if(w.open.begin(), w.open.end(),
                           [&](const store::TaskRow& t) { return t.id == id; });
    if (it == w.open.end()) {
      return absl::InternalError(absl::StrCat("stage plugin '", stage,
                                              "' cancelled task ", id,
                                              ", which is not an open task of state '",
                                              state.name, "'"));
    }
    w.CloseTask(static_cast<size_t>(it - w.open.begin()), "cancelled", "");
  }
  for (const pb::TaskSpec& spec : d.open_tasks()) {
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
    t.due_ms = spec.due_unix_ms();
    t.created_ms = w.now;
    w.commit.insert_tasks.push_back(t);
    w.open.push_back(std::move(t));
    w.persisted.push_back(false);
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
  return absl::OkStatus();
}

Status Engine::FollowOutcome(Working& w, const definition::State& from,
                             const std::string& outcome, int depth) {
  if (depth > options_.max_automatic_transitions) {
    return absl::FailedPreconditionError(absl::StrCat(
        "workflow ", w.def->key, ": more than ", options_.max_automatic_transitions,
        " automatic transitions in one command (an outcome cycle?) at state '", from.name, "'"));
  }
  BPM_ASSIGN_OR_RETURN(std::string target, w.def->Next(from, outcome, w.vars));
  // Leaving a state cancels whatever is still open there.
  while (!w.open.empty()) w.CloseTask(0, "cancelled", "");
  w.AddEvent("transitioned", outcome, from.name, target);
  return EnterState(w, target, depth + 1);
}

Status Engine::EnterState(Working& w, const std::string& name, int depth) {
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
    w.AddEvent("completed", "", name, name);
    return absl::OkStatus();
  }
  const plugin::StageHandle* stage = plugins_.Find(state->stage);
  if (stage == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("stage plugin '", state->stage,
                                                      "' of state '", name, "' is not loaded"));
  }
  pb::EnterRequest req;
  *req.mutable_context() = w.Context(*state);
  BPM_ASSIGN_OR_RETURN(pb::Decision d, stage->Enter(req));
  if (!d.accepted()) {
    std::vector<std::string> reasons;
    for (const auto& r : d.rejections()) reasons.push_back(absl::StrCat(r.field(), ": ", r.message()));
    return absl::FailedPreconditionError(absl::StrCat("state '", name, "' (stage ", state->stage,
                                                      ") refused entry: ",
                                                      absl::StrJoin(reasons, "; ")));
  }
  BPM_RETURN_IF_ERROR(ApplyDecision(w, *state, d));
  if (!d.outcome().empty()) return FollowOutcome(w, *state, d.outcome(), depth);
  return absl::OkStatus();
}

StatusOr<v1::Instance> Engine::Finish(Working& w) {
  std::string vars_json = CanonicalJson(w.vars);
  if (vars_json.size() > 4 * options_.max_payload_bytes) {
    return absl::FailedPreconditionError(absl::StrCat(
        "instance ", w.inst.id, ": variables would grow to ", vars_json.size(),
        " bytes; the limit is ", 4 * options_.max_payload_bytes));
  }
  w.inst.variables_json = std::move(vars_json);
  w.inst.updated_ms = w.now;
  w.inst.version += 1;
  if (w.commit.insert_instance) {
    w.commit.insert_instance = w.inst;
  } else {
    w.commit.expected_version = w.inst.version - 1;
    w.commit.update_instance = w.inst;
  }
  v1::Instance result = ToInstance(w.inst, w.open);
  if (w.commit.idempotency) w.commit.idempotency->response = result.SerializeAsString();
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

// ---- commands ---------------------------------------------------------------------

StatusOr<v1::Instance> Engine::Start(const Caller& caller, const v1::StartInstanceRequest& req) {
  if (req.definition_key().empty()) return absl::InvalidArgumentError("definition_key: is required");
  if (req.subject_ref().empty()) {
    return absl::InvalidArgumentError("subject_ref: is required (e.g. the project code)");
  }
  if (req.org().empty()) return absl::InvalidArgumentError("org: is required (the owning unit)");
  BPM_RETURN_IF_ERROR(CheckLength(req.subject_ref(), kMaxIdLength, "subject_ref"));
  BPM_RETURN_IF_ERROR(CheckLength(req.org(), 64, "org"));
  BPM_RETURN_IF_ERROR(CheckLength(req.idempotency_key(), kMaxIdLength, "idempotency_key"));
  std::string vars_json = CanonicalJson(req.variables());
  BPM_RETURN_IF_ERROR(CheckLength(vars_json, options_.max_payload_bytes, "variables"));

  std::string scope = absl::StrCat("start:", caller.user);
  std::string hash = Sha256Hex(absl::StrCat(req.definition_key(), "\n", req.definition_version(),
                                            "\n", req.subject_ref(), "\n", req.org(), "\n",
                                            vars_json));
  if (!req.idempotency_key().empty()) {
    BPM_ASSIGN_OR_RETURN(auto replay, Replay(scope, req.idempotency_key(), hash));
    if (replay) return *std::move(replay);
  }

  Working w;
  // Resolve "latest" to a fixed version first; the instance stays on it.
  BPM_ASSIGN_OR_RETURN(store::DefinitionRow defrow,
                       store_.GetDefinition(req.definition_key(), req.definition_version()));
  BPM_ASSIGN_OR_RETURN(w.def, Compiled(defrow.key, defrow.version));
  w.caller = caller;
  w.now = clock_.NowMillis();
  w.vars = req.variables();
  w.inst.id = NewId();
  w.inst.def_key = defrow.key;
  w.inst.def_version = defrow.version;
  w.inst.subject_ref = req.subject_ref();
  w.inst.org = req.org();
  w.inst.started_by = caller.user;
  w.inst.created_ms = w.now;
  w.inst.version = 0;
  w.commit.insert_instance = w.inst;
  BPM_RETURN_IF_ERROR(w.lifecycle.Fire(InstanceEvent::kStart, "new instance"));
  w.inst.status = w.lifecycle.status();
  if (!req.idempotency_key().empty()) {
    w.commit.idempotency = store::IdempotencyRow{scope, req.idempotency_key(), hash, "", w.now};
  }
  w.AddEvent("started", "", "", w.def->initial, "", "",
             vars_json == "{}" ? "" : Sha256Hex(vars_json));
  BPM_RETURN_IF_ERROR(EnterState(w, w.def->initial, 0));
  auto result = Finish(w);
  if (absl::IsAborted(result.status()) && !req.idempotency_key().empty()) {
    // A concurrent retry with the same key committed first: answer with its result.
    BPM_ASSIGN_OR_RETURN(auto replay, Replay(scope, req.idempotency_key(), hash));
    if (replay) return *std::move(replay);
  }
  return result;
}

StatusOr<v1::Instance> Engine::Act(const Caller& caller, const v1::ActRequest& req) {
  if (req.task_id().empty()) return absl::InvalidArgumentError("task_id: is required");
  if (req.action().empty()) return absl::InvalidArgumentError("action: is required");
  BPM_RETURN_IF_ERROR(CheckLength(req.task_id(), kMaxIdLength, "task_id"));
  BPM_RETURN_IF_ERROR(CheckLength(req.idempotency_key(), kMaxIdLength, "idempotency_key"));
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
  if (!req.idempotency_key().empty()) {
    BPM_ASSIGN_OR_RETURN(auto replay, Replay(scope, req.idempotency_key(), hash));
    if (replay) return *std::move(replay);
  }

  BPM_ASSIGN_OR_RETURN(store::TaskRow task, store_.GetTask(req.task_id()));
  Working w;
  BPM_ASSIGN_OR_RETURN(w.inst, store_.GetInstance(task.instance_id));
  BPM_ASSIGN_OR_RETURN(w.lifecycle, InstanceLifecycle::Restore(w.inst.status));
  const std::string subject = absl::StrCat("instance ", w.inst.id, " (", w.inst.def_key, " v",
                                           w.inst.def_version, ")");
  BPM_RETURN_IF_ERROR(w.lifecycle.Fire(InstanceEvent::kAct, subject));
  if (req.expected_version() != 0 && req.expected_version() != w.inst.version) {
    return absl::AbortedError(absl::StrCat(subject, " is at version ", w.inst.version,
                                           ", not ", req.expected_version(),
                                           ": re-read and retry"));
  }
  BPM_ASSIGN_OR_RETURN(TaskLifecycle task_lc, TaskLifecycle::Restore(task.status));
  BPM_RETURN_IF_ERROR(task_lc.Fire(TaskEvent::kComplete, absl::StrCat("task ", task.id)));
  if (!MayAct(caller, task)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "user ", caller.user, " (roles ", absl::StrJoin(caller.roles, ","), "; org ",
        caller.org, ") may not act on task ", task.id, ", which is assigned to ",
        DescribeAssignee(task)));
  }
  std::vector<std::string> offered = StringsFromJson(task.actions_json);
  if (std::find(offered.begin(), offered.end(), req.action()) == offered.end()) {
    return absl::InvalidArgumentError(absl::StrCat("action: '", req.action(),
                                                   "' is not offered by task ", task.id,
                                                   " in state '", task.state,
                                                   "'; offered: ", absl::StrJoin(offered, ", ")));
  }
  BPM_ASSIGN_OR_RETURN(w.def, Compiled(w.inst.def_key, w.inst.def_version));
  const definition::State* state = w.def->Find(w.inst.state);
  if (state == nullptr || state->final || task.state != w.inst.state) {
    return absl::FailedPreconditionError(absl::StrCat("task ", task.id, " belongs to state '",
                                                      task.state, "' but ", subject,
                                                      " is in state '", w.inst.state, "'"));
  }
  const plugin::StageHandle* stage = plugins_.Find(state->stage);
  if (stage == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("stage plugin '", state->stage,
                                                      "' of state '", state->name,
                                                      "' is not loaded"));
  }
  w.caller = caller;
  w.now = clock_.NowMillis();
  w.vars = StructFromJson(w.inst.variables_json);
  BPM_ASSIGN_OR_RETURN(auto open, store_.ListTasks(w.inst.id, true));
  for (auto& t : open) {
    if (t.state != w.inst.state) continue;
    w.open.push_back(std::move(t));
    w.persisted.push_back(true);
  }
  if (!req.idempotency_key().empty()) {
    w.commit.idempotency = store::IdempotencyRow{scope, req.idempotency_key(), hash, "", w.now};
  }

  pb::ActRequest act;
  *act.mutable_context() = w.Context(*state);
  *act.mutable_task() = ToTaskInfo(task);
  act.set_action(req.action());
  *act.mutable_payload() = req.payload();
  act.set_comment(req.comment());
  BPM_ASSIGN_OR_RETURN(pb::Decision d, stage->Act(act));
  if (!d.accepted()) {
    std::vector<std::string> reasons;
    for (const auto& r : d.rejections()) reasons.push_back(absl::StrCat(r.field(), ": ", r.message()));
    return absl::InvalidArgumentError(absl::StrCat(
        "state '", state->name, "' (stage ", state->stage, ") refused action '", req.action(),
        "' on task ", task.id, ": ", absl::StrJoin(reasons, "; ")));
  }
  auto it = std::find_if(w.open.begin(), w.open.end(),
                         [&](const store::TaskRow& t) { return t.id == task.id; });
  if (it == w.open.end()) {
    return absl::AbortedError(absl::StrCat("task ", task.id, " is no longer open: re-read and retry"));
  }
  w.CloseTask(static_cast<size_t>(it - w.open.begin()), "completed", req.action());
  w.AddEvent("acted", req.action(), state->name, state->name, task.id, req.comment(),
             payload_json == "{}" ? "" : Sha256Hex(payload_json), d.note());
  BPM_RETURN_IF_ERROR(ApplyDecision(w, *state, d));
  if (!d.outcome().empty()) BPM_RETURN_IF_ERROR(FollowOutcome(w, *state, d.outcome(), 0));
  auto result = Finish(w);
  if (absl::IsAborted(result.status()) && !req.idempotency_key().empty()) {
    BPM_ASSIGN_OR_RETURN(auto replay, Replay(scope, req.idempotency_key(), hash));
    if (replay) return *std::move(replay);
  }
  return result;
}

// ---- queries -------------------------------------------------------------------------

StatusOr<v1::Instance> Engine::GetInstance(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("id: is required");
  BPM_ASSIGN_OR_RETURN(store::InstanceRow row, store_.GetInstance(id));
  BPM_ASSIGN_OR_RETURN(auto open, store_.ListTasks(id, true));
  return ToInstance(row, open);
}

StatusOr<v1::ListInstancesResponse> Engine::ListInstances(const v1::ListInstancesRequest& req) {
  BPM_ASSIGN_OR_RETURN(int size, PageSize(req.page_size()));
  BPM_ASSIGN_OR_RETURN(int64_t after, ParsePageToken(req.page_token()));
  store::InstanceFilter f{req.definition_key(), req.subject_ref(), req.org(), req.status(),
                          req.state()};
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
  for (const auto& e : events) {
    v1::Event* out = resp.add_events();
    out->set_seq(e.seq);
    out->set_at_unix_ms(e.at_ms);
    out->set_actor(e.actor);
    out->set_kind(e.kind);
    out->set_action(e.action);
    out->set_from_state(e.from_state);
    out->set_to_state(e.to_state);
    out->set_task_id(e.task_id);
    out->set_comment(e.comment);
    out->set_payload_digest(e.payload_digest);
    out->set_note(e.note);
  }
  return resp;
}

namespace {
v1::Document ToDocument(const store::DocumentRow& d) {
  v1::Document out;
  out.set_id(d.id);
  out.set_instance_id(d.instance_id);
  out.set_state(d.state);
  out.set_kind(d.kind);
  out.set_content_type(d.content_type);
  out.set_content(d.content);
  out.set_sha256(d.sha256);
  out.set_created_unix_ms(d.created_ms);
  return out;
}
}  // namespace

StatusOr<v1::ListDocumentsResponse> Engine::Documents(const std::string& instance_id) {
  if (instance_id.empty()) return absl::InvalidArgumentError("instance_id: is required");
  BPM_RETURN_IF_ERROR(store_.GetInstance(instance_id).status());
  BPM_ASSIGN_OR_RETURN(auto docs, store_.ListDocuments(instance_id));
  v1::ListDocumentsResponse resp;
  for (const auto& d : docs) *resp.add_documents() = ToDocument(d);
  return resp;
}

StatusOr<v1::Document> Engine::GetDocument(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("id: is required");
  BPM_ASSIGN_OR_RETURN(auto d, store_.GetDocument(id));
  return ToDocument(d);
}

StatusOr<v1::InboxResponse> Engine::Inbox(const Caller& caller, const v1::InboxRequest& req) {
  BPM_ASSIGN_OR_RETURN(int size, PageSize(req.page_size()));
  BPM_ASSIGN_OR_RETURN(int64_t after, ParsePageToken(req.page_token()));
  BPM_ASSIGN_OR_RETURN(auto rows, store_.Inbox(caller, after, size + 1));
  v1::InboxResponse resp;
  std::map<std::string, store::InstanceRow> instances;
  for (int i = 0; i < static_cast<int>(rows.size()) && i < size; ++i) {
    auto it = instances.find(rows[i].instance_id);
    if (it == instances.end()) {
      BPM_ASSIGN_OR_RETURN(auto inst, store_.GetInstance(rows[i].instance_id));
      it = instances.emplace(rows[i].instance_id, std::move(inst)).first;
    }
    *resp.add_tasks() = ToTask(rows[i], &it->second);
  }
  if (static_cast<int>(rows.size()) > size) {
    resp.set_next_page_token(std::to_string(rows[size - 1].row_id));
  }
  return resp;
}

}  // namespace bpm::engine
