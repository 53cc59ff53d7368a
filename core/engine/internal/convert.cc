#include "core/engine/internal/convert.h"

#include <charconv>

#include "absl/strings/str_cat.h"
#include "bpm/plugin/sdk.h"
#include "core/common/json.h"
#include "core/common/util.h"

namespace bpm::engine::internal {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;

template <typename Items>
std::string ListToJson(const Items& items) {
  google::protobuf::Value v;
  auto* list = v.mutable_list_value();
  for (const std::string& s : items) list->add_values()->set_string_value(s);
  std::string out;
  plugin::AppendCanonicalJson(v, &out);
  return out;
}

}  // namespace

std::string StringsToJson(const std::vector<std::string>& items) { return ListToJson(items); }
std::string StringsToJson(const google::protobuf::RepeatedPtrField<std::string>& items) {
  return ListToJson(items);
}

std::vector<std::string> StringsFromJson(const std::string& json) {
  if (json.empty()) return {};
  auto parsed = ParseJsonStringArray(json);
  return parsed.ok() ? *std::move(parsed) : std::vector<std::string>{};
}

google::protobuf::Struct StructFromJson(const std::string& json) {
  auto parsed = ParseJsonObject(json, "stored object");
  return parsed.ok() ? *std::move(parsed) : google::protobuf::Struct();
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
  out.set_claimed_by(t.claimed_by);
  out.set_delegated_to(t.delegated_to);
  out.set_owner_user(t.owner_user);
  for (auto& u : StringsFromJson(t.exclude_users_json)) out.add_exclude_users(u);
  if (inst != nullptr) {
    out.set_definition_key(inst->def_key);
    out.set_subject_ref(inst->subject_ref);
    out.set_org(inst->org);
  }
  return out;
}

v1::Instance ToInstance(const store::InstanceRow& r, const std::vector<store::TaskRow>& tasks,
                        const google::protobuf::Struct* vars) {
  v1::Instance out;
  out.set_id(r.id);
  out.set_definition_key(r.def_key);
  out.set_definition_version(static_cast<int32_t>(r.def_version));
  out.set_subject_ref(r.subject_ref);
  out.set_org(r.org);
  out.set_status(r.status);
  out.set_state(r.state);
  *out.mutable_variables() = vars != nullptr ? *vars : StructFromJson(r.variables_json);
  out.set_version(r.version);
  out.set_created_unix_ms(r.created_ms);
  out.set_updated_unix_ms(r.updated_ms);
  out.set_started_by(r.started_by);
  for (const auto& t : tasks) {
    if (store::IsActiveTaskStatus(t.status)) *out.add_open_tasks() = ToTask(t, &r);
  }
  return out;
}

v1::DefinitionSummary Summary(const store::DefinitionRow& row,
                              const std::vector<std::string>& states) {
  v1::DefinitionSummary s;
  s.set_key(row.key);
  s.set_version(static_cast<int32_t>(row.version));
  s.set_content_hash(row.content_hash);
  s.set_title(row.title);
  s.set_source_name(row.source_name);
  s.set_created_unix_ms(row.created_ms);
  for (const auto& st : states) s.add_states(st);
  s.set_extends(row.base_key);
  s.set_extends_version(static_cast<int32_t>(row.base_version));
  return s;
}

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

v1::Event ToEvent(const store::EventRow& e) {
  v1::Event out;
  out.set_seq(e.seq);
  out.set_at_unix_ms(e.at_ms);
  out.set_actor(e.actor);
  out.set_kind(e.kind);
  out.set_action(e.action);
  out.set_from_state(e.from_state);
  out.set_to_state(e.to_state);
  out.set_task_id(e.task_id);
  out.set_comment(e.comment);
  out.set_payload_digest(e.payload_digest);
  out.set_note(e.note);
  return out;
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

}  // namespace bpm::engine::internal
