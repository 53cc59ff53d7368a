// Engine::Preview: a would-be instance run by the real engine and plugins on
// a scratch store (engine.h).
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "core/common/util.h"
#include "core/engine/engine.h"

namespace bpm::engine {
namespace {

// A temporary directory, removed with everything in it on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "bpm-preview-XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Acting as whoever the task is for.
Caller Assignee(const v1::Task& t) {
  if (!t.assignee_user().empty()) return Caller{t.assignee_user(), {t.assignee_role()}, t.assignee_org()};
  // A role-wide task (no org): a holder of the role at the owning org, whose
  // scope always covers it.
  const std::string& org = t.assignee_org().empty() ? t.org() : t.assignee_org();
  return Caller{absl::StrCat(t.assignee_role(), "@", org), {t.assignee_role()}, org};
}

void AddStep(const v1::Instance& inst, const std::string& action, const std::string& actor,
             v1::PreviewResponse* resp) {
  v1::PreviewStep* step = resp->add_steps();
  step->set_action(action);
  step->set_actor(actor);
  step->set_state(inst.state());
  step->set_status(inst.status());
  *step->mutable_open_tasks() = inst.open_tasks();
}

}  // namespace

StatusOr<v1::PreviewResponse> Engine::Preview(const Caller& caller,
                                              const v1::PreviewRequest& req) {
  if (req.org().empty()) return absl::InvalidArgumentError("org: is required (the owning unit)");
  if (req.actions_size() > options_.max_automatic_transitions) {
    return absl::InvalidArgumentError(absl::StrCat("actions: at most ",
                                                   options_.max_automatic_transitions));
  }
  std::string yaml = req.yaml();
  v1::PreviewResponse resp;
  if (yaml.empty()) {
    if (req.definition_key().empty()) {
      return absl::InvalidArgumentError("definition_key: is required (or yaml)");
    }
    int64_t version = req.definition_version();
    if (version == 0) {
      BPM_ASSIGN_OR_RETURN(version, store_.ResolveDefinitionVersion(req.definition_key(),
                                                                    req.definition_alias()));
    }
    BPM_ASSIGN_OR_RETURN(auto def, Compiled(req.definition_key(), version));
    yaml = def->effective_yaml;  // with its template applied: the scratch store has none
    resp.set_definition_version(static_cast<int32_t>(version));
  } else {
    // A definition that extends a template is previewed as the template
    // deployed here makes it.
    const definition::TemplateResolver resolver = Templates(0);
    BPM_ASSIGN_OR_RETURN(auto def, definition::Compile(yaml, "<preview>", plugins_, nullptr,
                                                       &resolver));
    yaml = def->effective_yaml;
  }
  ScratchDir dir;
  if (dir.path().empty()) return absl::UnavailableError("preview: cannot make a temporary directory");
  BPM_ASSIGN_OR_RETURN(auto scratch, store::Store::Open("sqlite:" + dir.path() + "/preview.db", 1));
  EngineOptions scratch_options = options_;
  scratch_options.start_templates = true;  // a province previews its template
  scratch_options.definition_approval = false;
  Engine engine(*scratch, plugins_, clock_, scratch_options);
  BPM_ASSIGN_OR_RETURN(auto deployed, engine.Deploy(yaml, "<preview>"));

  v1::StartInstanceRequest start;
  start.set_definition_key(deployed.definition().key());
  start.set_subject_ref(req.subject_ref().empty() ? "preview" : req.subject_ref());
  start.set_org(req.org());
  *start.mutable_variables() = req.variables();
  BPM_ASSIGN_OR_RETURN(v1::Instance inst, engine.Start(caller, start));
  AddStep(inst, "", caller.user, &resp);
  for (const v1::PreviewAction& a : req.actions()) {
    const v1::Task* task = nullptr;
    for (const v1::Task& t : inst.open_tasks()) {
      if (std::find(t.actions().begin(), t.actions().end(), a.action()) != t.actions().end()) {
        task = &t;
        break;
      }
    }
    if (task == nullptr) {
      resp.set_stopped(absl::StrCat("no open task offers '", a.action(), "' in state '",
                                    inst.state(), "'"));
      break;
    }
    v1::ActRequest act;
    act.set_task_id(task->id());
    act.set_action(a.action());
    *act.mutable_payload() = a.payload();
    act.set_comment(a.comment());
    const Caller who = Assignee(*task);
    auto acted = engine.Act(who, act);
    if (!acted.ok()) {
      resp.set_stopped(absl::StrCat(a.action(), ": ", acted.status().message()));
      break;
    }
    inst = *std::move(acted);
    AddStep(inst, a.action(), who.user, &resp);
  }
  return resp;
}

}  // namespace bpm::engine
