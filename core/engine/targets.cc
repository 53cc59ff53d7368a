// Engine::CheckTargetQuality: the performance-target quality check of one
// filing against its own rules and against the other filings of its workflow
// (core/perf/target_quality.h; bpm.v1.TargetService in proto/bpm/v1/perf.proto).
#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/common/json.h"
#include "core/engine/engine.h"
#include "core/engine/internal/convert.h"
#include "core/engine/internal/scan.h"
#include "core/engine/internal/vars.h"
#include "core/perf/target_form.h"

namespace bpm::engine {
namespace {

constexpr int kMaxCopies = 20;

// The department_submit state carrying the quality block, if any.
const definition::State* QualityState(const definition::Definition& def) {
  for (const definition::State& state : def.states) {
    if (state.stage == "department_submit" && state.config.fields().count("quality") > 0) {
      return &state;
    }
  }
  return nullptr;
}

std::string IntoVariable(const definition::State& state) {
  auto it = state.config.fields().find("into");
  return it != state.config.fields().end() && it->second.has_string_value()
             ? it->second.string_value()
             : "form";
}

// The adjustment rules of a workflow (its department_submit state's
// `adjustment` block); nullopt when it is not an adjustment workflow.
std::optional<perf::AdjustmentRules> AdjustmentOf(const definition::Definition& def) {
  return internal::SubmitBlock(def, &perf::ReadAdjustmentRules);
}

// Approved targets: finance graded them 优 or 良 (DOMAIN.md §5.2: 中 revises,
// 差 is blocked).
bool Approved(const google::protobuf::Struct& vars) {
  const std::string grade = internal::Str(vars, "grade");
  return grade == "优" || grade == "良";
}

constexpr char kDefaultAdjustmentKey[] = "target-adjustment";
constexpr char kAdjustmentScope[] = "adjust";  // idempotency scope of the ordinal claims
constexpr char kApprovedTargetsVar[] = "approved_targets";
constexpr size_t kMaxReasonBytes = 4000;

}  // namespace

plugin::v1::OrgRef Engine::TopDepartment(const std::string& org) {
  plugin::v1::OrgRef top;
  top.set_code(org);  // not in the model: its own department
  if (options_.org_resolver) {
    auto ctx = options_.org_resolver(org, clock_.NowMillis());
    if (ctx.ok()) {
      top = ctx->ancestors_size() > 0 ? ctx->ancestors(ctx->ancestors_size() - 1) : ctx->unit();
      if (top.region().empty()) top.set_region(ctx->unit().region());
    }
  }
  return top;
}

StatusOr<v1::CheckTargetQualityResponse> Engine::CheckTargetQuality(
    const Caller& caller, const v1::CheckTargetQualityRequest& req) {
  if (req.instance_id().empty()) return absl::InvalidArgumentError("instance_id: is required");
  BPM_ASSIGN_OR_RETURN(store::InstanceRow inst, store_.GetInstance(req.instance_id()));
  BPM_ASSIGN_OR_RETURN(auto def, Compiled(inst.def_key, inst.def_version));
  const definition::State* state = QualityState(*def);
  if (state == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "workflow ", inst.def_key, " v", inst.def_version,
        " has no department_submit state with a quality block: nothing to check against"));
  }
  perf::ConfigProblems ignored;  // reported when the definition was deployed
  const perf::QualityConfig qc = perf::ReadQualityConfig(state->config, &ignored);
  const std::string into = IntoVariable(*state);

  auto form_of = [&](const std::string& variables_json) -> std::optional<google::protobuf::Struct> {
    auto vars = ParseJsonStruct(variables_json);
    if (!vars.ok()) return std::nullopt;
    auto it = vars->fields().find(into);
    if (it == vars->fields().end() || !it->second.has_struct_value()) return std::nullopt;
    return it->second.struct_value();
  };
  google::protobuf::Struct form;
  if (req.has_form()) {
    form = req.form();
  } else if (auto filed = form_of(inst.variables_json)) {
    form = *std::move(filed);
  } else {
    return absl::FailedPreconditionError(absl::StrCat(
        "instance ", inst.id, " has no filed form yet (variables.", into,
        "); pass the draft in form"));
  }

  v1::CheckTargetQualityResponse out;
  const perf::TargetForm target = perf::ReadTargetForm(form, qc);
  std::vector<perf::Finding> findings = perf::CheckTargetForm(target, qc.rules);
  out.set_passed(!perf::HasErrors(findings));

  // Other filings of the workflow (any version) in other top departments.
  const std::set<std::string> mine = perf::Fingerprint(target);
  const std::string my_department = TopDepartment(inst.org).code();
  std::map<std::string, std::string> departments;  // org → top department
  struct Match {
    perf::Decimal similarity;
    store::InstanceRow row;
  };
  std::vector<Match> matches;
  if (qc.rules.SeverityOf("copied") != perf::Severity::kOff) {
    store::InstanceFilter f;
    f.def_key = inst.def_key;
    BPM_RETURN_IF_ERROR(internal::ForEachInstance(store_, f, [&](store::InstanceRow& row) {
      if (row.id == inst.id) return true;
      auto other = form_of(row.variables_json);
      if (!other) return true;
      out.set_compared(out.compared() + 1);
      const std::set<std::string> theirs = perf::Fingerprint(perf::ReadTargetForm(*other, qc));
      if (!perf::IsCopy(mine, theirs, qc.rules)) return true;
      auto [it, fresh] = departments.emplace(row.org, "");
      if (fresh) it->second = TopDepartment(row.org).code();
      if (it->second == my_department) return true;  // a department's own template
      matches.push_back(Match{perf::Similarity(mine, theirs), std::move(row)});
      return true;
    }));
  }
  std::stable_sort(matches.begin(), matches.end(),
                   [](const Match& a, const Match& b) { return a.similarity > b.similarity; });
  for (const Match& m : matches) {
    if (out.copies_size() == kMaxCopies) break;
    v1::TargetCopy* c = out.add_copies();
    c->set_similarity(m.similarity.ToString());
    bool visible = true;
    if (options_.in_scope) {
      auto v = options_.in_scope(caller, m.row.org);
      visible = v.ok() && *v;
    }
    if (visible) {
      c->set_instance_id(m.row.id);
      c->set_subject_ref(m.row.subject_ref);
      c->set_org(m.row.org);
    }
  }
  if (!matches.empty()) {
    findings.push_back(perf::Finding{
        "copied", qc.rules.SeverityOf("copied"), "indicators",
        absl::StrCat("指标与其他部门的 ", matches.size(), " 个项目雷同（相似度 ",
                     matches.front().similarity.ToString(), "），存在同质化")});
    if (findings.back().severity == perf::Severity::kError) out.set_passed(false);
  }
  for (const perf::Finding& f : findings) {
    v1::QualityFinding* q = out.add_findings();
    q->set_code(f.code);
    q->set_severity(perf::SeverityName(f.severity));
    q->set_field(perf::FormPath(qc, f.field));
    q->set_message(f.message);
  }
  return out;
}

StatusOr<v1::TargetVersionsResponse> Engine::TargetVersions(
    const Caller& caller, const v1::TargetVersionsRequest& req) {
  (void)caller;  // the service checked the scope of the instance; versions share its org
  if (req.instance_id().empty()) return absl::InvalidArgumentError("instance_id: is required");
  BPM_ASSIGN_OR_RETURN(store::InstanceRow inst, store_.GetInstance(req.instance_id()));
  const google::protobuf::Struct vars = internal::StructFromJson(inst.variables_json);
  const std::string original = internal::Str(vars, "original_instance_id").empty()
                                   ? inst.id
                                   : internal::Str(vars, "original_instance_id");
  struct Found {
    store::InstanceRow row;
    google::protobuf::Struct vars;
    std::string form_var;
    bool adjustment = false;
    bool replaces = false;
  };
  std::vector<Found> found;
  store::InstanceFilter f;
  f.subject_ref = inst.subject_ref;
  f.org = inst.org;
  BPM_RETURN_IF_ERROR(internal::ForEachInstance(store_, f, [&](store::InstanceRow& row) {
    auto def = Compiled(row.def_key, row.def_version);
    if (!def.ok()) return true;
    const definition::State* form_state = QualityState(**def);
    if (form_state == nullptr) return true;  // not a target filing
    google::protobuf::Struct v = internal::StructFromJson(row.variables_json);
    const auto rules = AdjustmentOf(**def);
    if (rules ? internal::Str(v, "original_instance_id") != original : row.id != original) {
      return true;
    }
    found.push_back(Found{std::move(row), std::move(v), IntoVariable(*form_state),
                          rules.has_value(), rules && rules->replace_original});
    return true;
  }));
  // Approved versions: the filing, then adjustments in order of approval
  // (their last change); the others after them, by start.
  std::stable_sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    const bool ap = Approved(a.vars), bp = Approved(b.vars);
    if (ap != bp) return ap;
    if (ap && a.adjustment != b.adjustment) return !a.adjustment;
    return ap ? a.row.updated_ms < b.row.updated_ms : a.row.created_ms < b.row.created_ms;
  });
  v1::TargetVersionsResponse out;
  out.set_subject_ref(inst.subject_ref);
  int version = 0;
  int in_force = -1;
  for (const Found& x : found) {
    v1::TargetVersion* tv = out.add_versions();
    tv->set_instance_id(x.row.id);
    tv->set_definition_key(x.row.def_key);
    tv->set_grade(internal::Str(x.vars, "grade"));
    tv->set_reason(internal::Str(x.vars, "reason"));
    tv->set_budget_changed(internal::Bool(x.vars, "budget_changed"));
    if (const auto* form = internal::Obj(x.vars, x.form_var)) *tv->mutable_form() = *form;
    if (Approved(x.vars)) {
      tv->set_status("approved");
      tv->set_version(++version);
      tv->set_approved_ms(x.row.updated_ms);
      if (!x.adjustment || x.replaces) in_force = out.versions_size() - 1;
    } else {
      tv->set_status(x.row.status == "running" ? "in_review" : "refused");
    }
  }
  if (in_force >= 0) out.mutable_versions(in_force)->set_in_force(true);
  return out;
}

StatusOr<v1::AdjustTargetsResponse> Engine::AdjustTargets(const Caller& caller,
                                                          const v1::AdjustTargetsRequest& req) {
  if (req.instance_id().empty()) return absl::InvalidArgumentError("instance_id: is required");
  if (absl::StripAsciiWhitespace(req.reason()).empty()) {
    return absl::InvalidArgumentError("reason: is required: say why the targets change (调整理由)");
  }
  BPM_RETURN_IF_ERROR(internal::CheckLength(req.reason(), kMaxReasonBytes, "reason"));
  BPM_ASSIGN_OR_RETURN(store::InstanceRow inst, store_.GetInstance(req.instance_id()));
  BPM_ASSIGN_OR_RETURN(auto def, Compiled(inst.def_key, inst.def_version));
  const definition::State* form_state = QualityState(*def);
  if (form_state == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "instance ", inst.id, " (", inst.def_key, ") files no performance targets: nothing to adjust"));
  }
  const google::protobuf::Struct vars = internal::StructFromJson(inst.variables_json);
  if (!Approved(vars)) {
    const std::string grade = internal::Str(vars, "grade");
    return absl::FailedPreconditionError(absl::StrCat(
        "instance ", inst.id, ": its targets are not approved (",
        grade.empty() ? "not graded yet" : "graded " + grade,
        "); only approved targets (优 or 良) are adjusted"));
  }
  const std::string original = internal::Str(vars, "original_instance_id").empty()
                                   ? inst.id
                                   : internal::Str(vars, "original_instance_id");
  const std::string key = req.definition_key().empty() ? kDefaultAdjustmentKey : req.definition_key();
  BPM_ASSIGN_OR_RETURN(int64_t adj_version, store_.ResolveDefinitionVersion(key, ""));
  BPM_ASSIGN_OR_RETURN(auto adef, Compiled(key, adj_version));
  const std::optional<perf::AdjustmentRules> rules = AdjustmentOf(*adef);
  if (!rules) {
    return absl::FailedPreconditionError(absl::StrCat(
        "definition_key: workflow ", key,
        " has no department_submit state with an adjustment block: it does not adjust targets"));
  }
  const int year = internal::IntIn(vars, "fiscal_year", 1900, 2200, internal::YearOf(inst.created_ms));

  BPM_ASSIGN_OR_RETURN(v1::TargetVersionsResponse versions,
                       TargetVersions(caller, [&] {
                         v1::TargetVersionsRequest r;
                         r.set_instance_id(original);
                         return r;
                       }()));
  int approved = 0;
  const google::protobuf::Struct* base_form = nullptr;
  for (const v1::TargetVersion& v : versions.versions()) {
    if (v.status() == "approved") ++approved;
    if (v.in_force()) base_form = &v.form();
  }
  if (!req.budget_changed()) {
    if (!rules->window_until.empty()) {
      const std::string closes = absl::StrCat(year, "-", rules->window_until);
      const std::string today = internal::ChinaDate(clock_.NowMillis());
      if (today > closes) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the target adjustment window of fiscal year ", year, " closed on ", closes,
            " (today is ", today, "); after it only a budget change (budget_changed) allows one"));
      }
    }
    if (rules->per_year > 0) {
      int used = 0;
      std::string last;
      for (const v1::TargetVersion& v : versions.versions()) {
        if (v.instance_id() == original || v.budget_changed() || v.status() == "refused") continue;
        auto row = store_.GetInstance(v.instance_id());
        if (!row.ok()) continue;
        const google::protobuf::Struct av = internal::StructFromJson(row->variables_json);
        if (internal::IntIn(av, "fiscal_year", 1900, 2200, year) != year) continue;
        ++used;
        last = v.instance_id();
      }
      if (used >= rules->per_year) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the targets of ", inst.subject_ref, " were already adjusted in ", year, " (instance ",
            last, "); workflow ", key, " allows ", rules->per_year,
            " a year unless the budget itself changed (budget_changed)"));
      }
    }
  }

  v1::StartInstanceRequest start;
  start.set_definition_key(key);
  start.set_definition_version(static_cast<int32_t>(adj_version));
  start.set_subject_ref(inst.subject_ref);
  start.set_org(inst.org);
  auto& sv = *start.mutable_variables()->mutable_fields();
  sv["original_instance_id"].set_string_value(original);
  sv["adjusts_instance_id"].set_string_value(inst.id);
  sv["reason"].set_string_value(req.reason());
  sv["budget_changed"].set_bool_value(req.budget_changed());
  sv["fiscal_year"].set_number_value(year);
  sv["target_version"].set_number_value(approved + 1);
  if (base_form != nullptr) *sv["base_form"].mutable_struct_value() = *base_form;
  // Two adjustments of one filing at the same moment would both pass the
  // checks above (and take the same version). The start claims the filing's
  // next adjustment ordinal (every adjustment started so far, refused ones
  // included) as an idempotency key in a scope of its own: one commits, the
  // other is refused, on one bpmd or several.
  start.set_idempotency_key(absl::StrCat(original, ":", versions.versions_size()));
  auto claimed = StartInstance(caller, start, "", 0, kAdjustmentScope);
  if (absl::IsAlreadyExists(claimed.status())) {
    return absl::AbortedError(absl::StrCat(
        "another adjustment of the targets of ", inst.subject_ref,
        " was started at the same moment; ask again (the yearly limit then applies)"));
  }
  BPM_ASSIGN_OR_RETURN(v1::Instance started, std::move(claimed));
  v1::AdjustTargetsResponse out;
  *out.mutable_adjustment() = std::move(started);
  out.set_version(approved + 1);
  return out;
}

StatusOr<std::string> Engine::ApprovedFiling(const std::string& subject_ref,
                                             const std::string& org) {
  store::InstanceFilter f;
  f.subject_ref = subject_ref;
  f.org = org;
  std::string filing;
  BPM_RETURN_IF_ERROR(internal::ForEachInstance(store_, f, [&](const store::InstanceRow& row) {
    if (ApprovedFilingRow(row, internal::StructFromJson(row.variables_json))) filing = row.id;
    return filing.empty();
  }));
  return filing;
}

bool Engine::IsTargetFiling(const store::InstanceRow& row) {
  auto d = Compiled(row.def_key, row.def_version);
  return d.ok() && QualityState(**d) != nullptr && !AdjustmentOf(**d);
}

bool Engine::ApprovedFilingRow(const store::InstanceRow& row,
                               const google::protobuf::Struct& vars) {
  return IsTargetFiling(row) && Approved(vars);
}

StatusOr<google::protobuf::Struct> Engine::InForceTargets(const std::string& filing_id) {
  v1::TargetVersionsRequest req;
  req.set_instance_id(filing_id);
  BPM_ASSIGN_OR_RETURN(v1::TargetVersionsResponse versions, TargetVersions(Caller{}, req));
  for (v1::TargetVersion& v : *versions.mutable_versions()) {
    if (!v.in_force()) continue;
    google::protobuf::Struct attached;
    auto& a = *attached.mutable_fields();
    a["version"].set_number_value(v.version());
    a["instance_id"].set_string_value(v.instance_id());
    a["definition_key"].set_string_value(v.definition_key());
    a["form"].mutable_struct_value()->Swap(v.mutable_form());
    return attached;
  }
  return absl::NotFoundError(absl::StrCat("instance_id: ", filing_id, " has no targets in force"));
}

Status Engine::AttachApprovedTargets(const definition::Definition& def,
                                     const std::string& subject_ref, const std::string& org,
                                     google::protobuf::Struct* vars) {
  const bool declared = std::any_of(def.variables.begin(), def.variables.end(),
                                    [](const definition::Variable& v) {
                                      return v.name == kApprovedTargetsVar;
                                    });
  if (!declared) return absl::OkStatus();
  if (vars->fields().count(kApprovedTargetsVar) > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "variables.", kApprovedTargetsVar,
        ": bpmd fills it from the subject's approved targets; do not pass it"));
  }
  BPM_ASSIGN_OR_RETURN(std::string filing, ApprovedFiling(subject_ref, org));
  if (filing.empty()) return absl::OkStatus();  // none approved: the round reports its own
  auto in_force = InForceTargets(filing);
  if (absl::IsNotFound(in_force.status())) return absl::OkStatus();
  BPM_RETURN_IF_ERROR(in_force.status());
  auto& a = *in_force->mutable_fields();
  google::protobuf::Value form;
  form.Swap(&a["form"]);
  a.erase("form");
  // The indicator rows under the name the filing's quality block gives them.
  std::string rows_field = "indicators";
  if (auto inst = store_.GetInstance(a["instance_id"].string_value()); inst.ok()) {
    if (auto d = Compiled(inst->def_key, inst->def_version); d.ok()) {
      perf::ConfigProblems ignored;
      rows_field = perf::ReadQualityConfig(QualityState(**d)->config, &ignored).indicators_field;
    }
  }
  if (const auto* rows = internal::Get(form.struct_value(), rows_field)) a["indicators"] = *rows;
  (*vars->mutable_fields())[kApprovedTargetsVar].mutable_struct_value()->Swap(&*in_force);
  return absl::OkStatus();
}

}  // namespace bpm::engine
