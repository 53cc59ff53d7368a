// Engine::CheckTargetQuality: the performance-target quality check of one
// filing against its own rules and against the other filings of its workflow
// (core/perf/target_quality.h; bpm.v1.TargetService in proto/bpm/v1/perf.proto).
#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/common/json.h"
#include "core/engine/engine.h"
#include "core/perf/target_form.h"

namespace bpm::engine {
namespace {

constexpr int kPage = 500;
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
    int64_t after = 0;
    while (true) {
      BPM_ASSIGN_OR_RETURN(auto rows, store_.ListInstances(f, after, kPage));
      for (auto& row : rows) {
        if (row.id == inst.id) continue;
        auto other = form_of(row.variables_json);
        if (!other) continue;
        out.set_compared(out.compared() + 1);
        const std::set<std::string> theirs = perf::Fingerprint(perf::ReadTargetForm(*other, qc));
        if (!perf::IsCopy(mine, theirs, qc.rules)) continue;
        auto [it, fresh] = departments.emplace(row.org, "");
        if (fresh) it->second = TopDepartment(row.org).code();
        if (it->second == my_department) continue;  // a department's own template
        matches.push_back(Match{perf::Similarity(mine, theirs), std::move(row)});
      }
      if (rows.size() < static_cast<size_t>(kPage)) break;
      after = rows.back().row_id;
    }
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

}  // namespace bpm::engine
