// Engine::AttachProjectHistory: links a project's filing to its ex-ante
// assessment and to the previous fiscal year's results (项目关联, DOMAIN.md
// §5.1 and §5.6), as the workflow's department_submit `history` block asks
// (core/perf/target_form.h HistoryRules).
#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/engine/engine.h"
#include "core/engine/internal/convert.h"
#include "core/engine/internal/scan.h"
#include "core/engine/internal/vars.h"
#include "core/perf/decimal_value.h"
#include "core/perf/target_form.h"

namespace bpm::engine {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr char kAccepted[] = "整改到位";  // the rectification stage's accepted result

int64_t AtMs(const Struct& record, const std::string& key) {
  return static_cast<int64_t>(internal::Num(record, key));
}

// An amount of the form (a number or a decimal string), or nullopt.
std::optional<perf::Decimal> Amount(const Value* v) {
  if (v == nullptr) return std::nullopt;
  StatusOr<perf::Decimal> d = perf::DecimalOf(*v, "amount");
  if (!d.ok() || *d < perf::Decimal()) return std::nullopt;
  return *d;
}

// amount × (100 + adjustment) %, rounded down to the fen (0.01 yuan).
perf::Decimal Cap(perf::Decimal amount, int adjustment) {
  const int64_t fen = amount.units() / 100;  // Decimal has 4 places
  const int64_t pct = 100 + adjustment;
  const int64_t cap_fen = fen / 100 * pct + fen % 100 * pct / 100;
  return perf::Decimal::FromUnits(cap_fen * 100);
}

// What one subject's instances say: the latest concluded ex-ante record, an
// unfinished ex-ante assessment, the approved target filing, the latest
// result application and every rectification.
struct SubjectFacts {
  int instances = 0;
  std::optional<Struct> ex_ante;
  std::string ex_ante_unfinished;  // its instance id
  std::string approved_filing;     // its instance id
  std::optional<Struct> result_application;
  std::vector<Struct> rectifications;
};

bool Finished(const std::string& status) {
  return status == "completed" || status == "terminated";
}

bool HasStage(const definition::Definition& def, const std::string& stage) {
  return std::any_of(def.states.begin(), def.states.end(),
                     [&](const definition::State& s) { return s.stage == stage; });
}

}  // namespace

Status Engine::AttachProjectHistory(const Caller& caller, const definition::Definition& def,
                                    const std::string& subject_ref,
                                    google::protobuf::Struct* vars) {
  const std::optional<perf::HistoryRules> rules =
      internal::SubmitBlock(def, &perf::ReadHistoryRules);
  if (!rules) return absl::OkStatus();
  const std::string var = perf::kProjectHistoryVariable;
  if (vars->fields().count(var) > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "variables.", var, ": bpmd fills it from the project's earlier instances; do not pass it"));
  }
  const std::string prev_field = absl::StrCat("variables.", rules->previous_variable);
  std::string previous;
  if (const Value* p = internal::Get(*vars, rules->previous_variable)) {
    if (p->kind_case() != Value::kStringValue || p->string_value().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          prev_field, ": must name the project's subject in the previous fiscal year"));
    }
    previous = p->string_value();
    if (previous == subject_ref) {
      return absl::InvalidArgumentError(
          absl::StrCat(prev_field, ": names this instance's own subject ", subject_ref));
    }
  }

  // The previous subject counts only through the instances the starter may
  // see (EngineOptions::in_scope); the subject's own ex-ante binds whoever
  // starts.
  auto facts_of = [&](const std::string& subject, bool scoped) -> StatusOr<SubjectFacts> {
    SubjectFacts facts;
    store::InstanceFilter f;
    f.subject_ref = subject;
    Status failed;
    BPM_RETURN_IF_ERROR(internal::ForEachInstance(store_, f, [&](const store::InstanceRow& row) {
      if (scoped) {
        StatusOr<bool> visible = RoleTaskInScope(caller, row.org);
        if (!visible.ok()) {
          failed = visible.status();
          return false;
        }
        if (!*visible) return true;
      }
      ++facts.instances;
      const Struct v = internal::StructFromJson(row.variables_json);
      auto tagged = [&](const Struct& record) {
        Struct out = record;
        (*out.mutable_fields())["instance_id"].set_string_value(row.id);
        (*out.mutable_fields())["definition_key"].set_string_value(row.def_key);
        return out;
      };
      const bool done = row.status == "completed";
      if (const Struct* e = internal::Obj(v, "ex_ante"); e != nullptr && done) {
        if (!facts.ex_ante || AtMs(*e, "at_unix_ms") >= AtMs(*facts.ex_ante, "at_unix_ms")) {
          facts.ex_ante = tagged(*e);
        }
      }
      if (!Finished(row.status) && facts.ex_ante_unfinished.empty()) {
        auto d = Compiled(row.def_key, row.def_version);
        if (d.ok() && HasStage(**d, "ex_ante")) facts.ex_ante_unfinished = row.id;
      }
      if (facts.approved_filing.empty() && ApprovedFilingRow(row, v)) {
        facts.approved_filing = row.id;
      }
      if (const Struct* r = internal::Obj(v, "result_application")) {
        if (!facts.result_application ||
            AtMs(*r, "at_unix_ms") >= AtMs(*facts.result_application, "at_unix_ms")) {
          facts.result_application = tagged(*r);
        }
      }
      if (const Struct* r = internal::Obj(v, "rectification")) {
        facts.rectifications.push_back(tagged(*r));
      }
      return true;
    }));
    BPM_RETURN_IF_ERROR(failed);
    return facts;
  };

  Struct history;
  auto& h = *history.mutable_fields();
  BPM_ASSIGN_OR_RETURN(SubjectFacts own, facts_of(subject_ref, false));
  if (rules->block_on_ex_ante && !own.ex_ante_unfinished.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "subject_ref: the ex-ante assessment ", own.ex_ante_unfinished, " of ", subject_ref,
        " is not finished: a unit completes the assessment before it requests a budget "
        "(DOMAIN.md §5.1)"));
  }
  if (own.ex_ante) {
    const Struct& e = *own.ex_ante;
    Struct brief;
    auto& b = *brief.mutable_fields();
    for (const char* key : {"instance_id", "conclusion", "total", "at_unix_ms"}) {
      if (const Value* x = internal::Get(e, key)) b[key] = *x;
    }
    if (rules->block_on_ex_ante && internal::Str(e, "conclusion") == "不予支持") {
      return absl::FailedPreconditionError(absl::StrCat(
          "subject_ref: the ex-ante assessment ", internal::Str(e, "instance_id"), " of ",
          subject_ref, " concluded 不予支持 (", internal::Str(e, "total"), " points on ",
          internal::ChinaDate(AtMs(e, "at_unix_ms")),
          "): no budget may be requested for the project (DOMAIN.md §5.1)"));
    }
    h["ex_ante"].mutable_struct_value()->Swap(&brief);
  }

  if (!previous.empty()) {
    BPM_ASSIGN_OR_RETURN(SubjectFacts prev, facts_of(previous, true));
    if (prev.instances == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          prev_field, ": no instance in your org scope has the subject ", previous));
    }
    Struct link;
    auto& l = *link.mutable_fields();
    l["subject_ref"].set_string_value(previous);
    // Last year's amount: the approved filing's targets in force.
    std::optional<perf::Decimal> amount;
    if (!prev.approved_filing.empty()) {
      auto in_force = InForceTargets(prev.approved_filing);
      if (in_force.ok()) {
        const Struct* form = internal::Obj(*in_force, "form");
        amount = form != nullptr ? Amount(internal::Get(*form, rules->amount_field))
                                 : std::nullopt;
        l["filing_instance_id"].set_string_value(internal::Str(*in_force, "instance_id"));
      } else if (!absl::IsNotFound(in_force.status())) {
        return in_force.status();
      }
    }
    if (amount) l["amount"].set_string_value(amount->ToString());
    auto& rects = *l["rectifications"].mutable_list_value();
    for (Struct& r : prev.rectifications) {
      Struct brief;
      auto& b = *brief.mutable_fields();
      for (const char* key : {"instance_id", "definition_key", "result", "overdue",
                              "due_unix_ms", "checked_at_unix_ms"}) {
        if (const Value* x = internal::Get(r, key)) b[key] = *x;
      }
      if (b.count("result") == 0) b["result"].set_string_value("未完成");
      rects.add_values()->mutable_struct_value()->Swap(&brief);
    }
    if (prev.result_application) {
      const Struct& ra = *prev.result_application;
      const int adjustment = internal::IntIn(ra, "adjustment", -100, 100, 0);
      int effective = adjustment;
      std::string rectified_by;
      if (adjustment == -100) {
        // 差 → 取消 unless rectified (DOMAIN.md §5.6): an accepted
        // rectification after the action lifts it to the configured cut.
        for (const Struct& r : prev.rectifications) {
          if (internal::Str(r, "result") == kAccepted &&
              AtMs(r, "checked_at_unix_ms") >= AtMs(ra, "at_unix_ms")) {
            effective = rules->rectified_adjustment;
            rectified_by = internal::Str(r, "instance_id");
          }
        }
        if (rectified_by.empty()) {
          return absl::FailedPreconditionError(absl::StrCat(
              prev_field, ": the previous year's result application (instance ",
              internal::Str(ra, "instance_id"), ", grade ", internal::Str(ra, "grade"), ") is ",
              internal::Str(ra, "action"), " (", adjustment,
              "%): no budget may be requested for the project until a rectification is "
              "accepted (DOMAIN.md §5.6)"));
        }
        l["rectified_by"].set_string_value(rectified_by);
      }
      Struct brief;
      auto& b = *brief.mutable_fields();
      for (const char* key : {"instance_id", "definition_key", "grade", "action", "adjustment",
                              "at_unix_ms"}) {
        if (const Value* x = internal::Get(ra, key)) b[key] = *x;
      }
      l["result_application"].mutable_struct_value()->Swap(&brief);
      l["effective_adjustment"].set_number_value(effective);
      if (amount) l["amount_cap"].set_string_value(Cap(*amount, effective).ToString());
    }
    h["previous"].mutable_struct_value()->Swap(&link);
  }
  if (h.empty()) return absl::OkStatus();  // a new project without an ex-ante assessment
  (*vars->mutable_fields())[var].mutable_struct_value()->Swap(&history);
  return absl::OkStatus();
}

Status Engine::CheckExAnteComesFirst(const definition::Definition& def,
                                     const std::string& subject_ref) {
  if (!HasStage(def, "ex_ante") || subject_ref.empty()) return absl::OkStatus();
  store::InstanceFilter f;
  f.subject_ref = subject_ref;
  std::string filing, status;
  BPM_RETURN_IF_ERROR(internal::ForEachInstance(store_, f, [&](const store::InstanceRow& row) {
    if (row.status == "terminated" || !IsTargetFiling(row)) return true;
    if (!Finished(row.status)) {
      status = "in review";
    } else if (ApprovedFilingRow(row, internal::StructFromJson(row.variables_json))) {
      status = "approved";
    } else {
      return true;  // refused: the project may be assessed and filed again
    }
    filing = row.id;
    return false;
  }));
  if (filing.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "subject_ref: ", subject_ref, " already requested its budget (target filing ", filing, ", ",
      status, "): the ex-ante assessment comes before the request (DOMAIN.md §5.1)"));
}

}  // namespace bpm::engine
