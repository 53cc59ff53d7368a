// Governance of definition changes (EngineOptions::definition_approval): a
// deploy or a move of "current" by a person does not take effect until a
// second person approves it, in an instance of the built-in workflow
// kChangeWorkflowKey — a review task for role workflow_admin that the
// requester (the instance's initiator) may not take. Approval moves the alias
// in the same transaction that completes the instance (Commit::move_alias).
#include "absl/strings/str_cat.h"
#include "core/engine/engine.h"
#include "core/engine/internal/working.h"

namespace bpm::engine {
namespace {

// The change-request workflow. The review stage excludes the instance's
// initiator from its tasks: the requester never approves their own change.
constexpr char kChangeWorkflow[] = R"(key: bpm-definition-change
title: 流程定义变更审批 (approval of a definition change)
subject: definition
initial: approval
variables:
  definition_key: { type: string, description: the definition to change }
  version: { type: number, description: the version the alias is to point at }
  alias: { type: string }
  action: { type: string, values: [deploy, alias] }
  requested_by: { type: string }
  reason: { type: string }
states:
  approval:
    title: 变更审批
    stage: review
    config:
      title: 审批流程定义变更
      assignee: { role: workflow_admin }
    on:
      approved: approved
      returned: rejected
  approved: { title: 已批准并生效, final: true }
  rejected: { title: 已退回, final: true }
)";

// The org a change request is filed under (it belongs to no unit).
constexpr char kChangeOrg[] = "governance";

std::string StringVar(const google::protobuf::Struct& vars, const char* name) {
  auto it = vars.fields().find(name);
  return it == vars.fields().end() ? "" : it->second.string_value();
}

}  // namespace

Status Engine::StartGovernance() {
  if (!options_.definition_approval) return absl::OkStatus();
  return Deploy(kChangeWorkflow, "<built-in>", "system").status();
}

StatusOr<std::string> Engine::RequestChange(const std::string& by, const std::string& key,
                                            int64_t version, const std::string& alias,
                                            const std::string& action,
                                            const std::string& reason) {
  v1::StartInstanceRequest start;
  start.set_definition_key(kChangeWorkflowKey);
  start.set_subject_ref(absl::StrCat(key, " v", version));
  start.set_org(kChangeOrg);
  auto& vars = *start.mutable_variables()->mutable_fields();
  vars["definition_key"].set_string_value(key);
  vars["version"].set_number_value(static_cast<double>(version));
  vars["alias"].set_string_value(alias);
  vars["action"].set_string_value(action);
  vars["requested_by"].set_string_value(by);
  vars["reason"].set_string_value(reason);
  auto inst = Start(Caller{by, {}, ""}, start);
  if (absl::IsNotFound(inst.status())) {
    return absl::FailedPreconditionError(
        "definition changes need approval, but the change workflow is not deployed "
        "(Engine::StartGovernance)");
  }
  BPM_RETURN_IF_ERROR(inst.status());
  return inst->id();
}

Status Engine::ApproveChange(Working& w) {
  if (w.inst.def_key != kChangeWorkflowKey || w.inst.state != "approved" ||
      w.entry_state == "approved") {
    return absl::OkStatus();
  }
  BPM_ASSIGN_OR_RETURN(const google::protobuf::Struct* all, w.vars.All());
  const auto& vars = *all;
  auto version = vars.fields().find("version");
  store::Commit::AliasMove move;
  move.key = StringVar(vars, "definition_key");
  move.version = version == vars.fields().end()
                     ? 0
                     : static_cast<int64_t>(version->second.number_value());
  move.change = store::AliasChange{
      StringVar(vars, "alias"), w.Actor(),
      absl::StrCat("approved in ", w.inst.id, " (", StringVar(vars, "action"), " requested by ",
                   StringVar(vars, "requested_by"),
                   StringVar(vars, "reason").empty() ? "" : ": " + StringVar(vars, "reason"), ")"),
      w.now};
  w.commit.move_alias = std::move(move);
  return absl::OkStatus();
}

Status Engine::AfterApproval(const store::Commit& commit) {
  if (!commit.move_alias || commit.move_alias->change.alias != store::kCurrentAlias) {
    return absl::OkStatus();
  }
  BPM_ASSIGN_OR_RETURN(auto def, Compiled(commit.move_alias->key, commit.move_alias->version));
  if (!def->is_template) return absl::OkStatus();
  std::set<std::string> visited{def->key};
  google::protobuf::RepeatedPtrField<v1::DerivedDeploy> derived;
  return FlowDown(def->key, commit.move_alias->version, &visited, &derived);
}

}  // namespace bpm::engine
