#include "core/agency/rules.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/perf/evaluation.h"

namespace bpm::agency {
namespace {

const std::vector<std::string> kTypes = {"consulting", "accounting", "asset_appraisal",
                                         "law",        "research",   "university"};
const std::vector<std::string> kPurposes = {"ex_ante",        "target_review", "key_evaluation",
                                            "recheck",        "indicator_system", "research",
                                            "target_setting", "monitoring",    "self_evaluation"};
const std::vector<std::string> kLevel1 = {"决策", "过程", "产出", "效益"};

bool In(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

Status Invalid(const std::string& field, const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

}  // namespace

std::string GradeOf(double total) {
  if (total >= 90) return "优";
  if (total >= 80) return "良";
  if (total >= 60) return "中";
  return "差";
}

Status ValidateAgency(const v1::Agency& a) {
  static const std::regex kId("^[a-z0-9][a-z0-9_-]{1,63}$");
  static const std::regex kCredit("^[0-9A-HJ-NPQRTUWXY]{18}$");
  if (!std::regex_match(a.id(), kId)) {
    return Invalid("agency.id", "'" + a.id() + "' must be 2-64 lowercase letters, digits, - or _");
  }
  if (a.name().empty()) return Invalid("agency.name", "is required");
  if (!std::regex_match(a.credit_code(), kCredit)) {
    return Invalid("agency.credit_code",
                   "'" + a.credit_code() + "' is not an 18-character unified social credit code");
  }
  if (!In(kTypes, a.type())) {
    return Invalid("agency.type", "'" + a.type() + "' is not one of " + absl::StrJoin(kTypes, ", "));
  }
  if (a.status() != "active" && a.status() != "suspended") {
    return Invalid("agency.status", "must be active or suspended");
  }
  return absl::OkStatus();
}

Status ValidateSheet(const v1::IndicatorSheet& sheet, const std::string& field) {
  if (sheet.indicators_size() == 0) return Invalid(field, "a key evaluation needs its indicator sheet");
  std::vector<std::pair<std::string, perf::Decimal>> weights;
  std::set<std::string> codes;
  for (int i = 0; i < sheet.indicators_size(); ++i) {
    const v1::Indicator& ind = sheet.indicators(i);
    const std::string f = absl::StrCat(field, ".indicators[", i, "]");
    if (ind.code().empty() || !codes.insert(ind.code()).second) {
      return Invalid(f + ".code", "'" + ind.code() + "' is empty or used twice");
    }
    if (!In(kLevel1, ind.level1())) {
      return Invalid(f + ".level1", "'" + ind.level1() + "' is not one of 决策, 过程, 产出, 效益");
    }
    if (ind.name().empty()) return Invalid(f + ".name", "is required");
    auto weight = perf::Decimal::FromDouble(ind.weight(), "weight");
    if (!(ind.weight() > 0) || !weight.ok()) return Invalid(f + ".weight", "must be positive");
    weights.emplace_back(ind.level1(), *weight);
  }
  // The rules of core/perf/evaluation.h, shared with the evaluation stage.
  const std::string problem = perf::EvaluationWeightProblem(weights, perf::Decimal::FromInt(60));
  if (!problem.empty()) return Invalid(field, problem);
  return absl::OkStatus();
}

Status CheckEngagement(const v1::Engagement& e, const v1::Agency& agency,
                       const std::vector<v1::Engagement>& prior) {
  if (!In(kPurposes, e.purpose())) {
    return Invalid("engagement.purpose",
                   "'" + e.purpose() + "' is not one of " + absl::StrJoin(kPurposes, ", "));
  }
  if (e.mode() != "independent" && e.mode() != "assist") {
    return Invalid("engagement.mode", "must be independent or assist");
  }
  if (e.commissioner_org().empty()) return Invalid("engagement.commissioner_org", "is required");
  if (e.subject_ref().empty()) return Invalid("engagement.subject_ref", "is required");
  if (e.subject_org().empty()) return Invalid("engagement.subject_org", "is required");
  if (e.contract_amount() < 0) return Invalid("engagement.contract_amount", "must not be negative");
  if (agency.status() != "active") {
    return absl::FailedPreconditionError(
        absl::StrCat("agency ", agency.id(), " is ", agency.status(), ": it cannot be engaged"));
  }
  if (!agency.no_major_violations_3y()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "agency ", agency.id(),
        " has not declared 3 years without major violations: it is not eligible (财监〔2021〕4号)"));
  }
  const bool evaluation = e.purpose() == "key_evaluation" || e.purpose() == "recheck";
  if (evaluation && e.commissioner_org() == e.subject_org()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "财预〔2021〕6号: ", e.commissioner_org(),
        " may not commission an evaluation of its own performance management"));
  }
  if ((e.purpose() == "target_setting" || e.purpose() == "monitoring" ||
       e.purpose() == "self_evaluation") &&
      e.mode() != "assist") {
    return absl::FailedPreconditionError(absl::StrCat(
        "财预〔2021〕6号: ", e.purpose(),
        " stays with the budget unit; an agency may only assist (mode: assist), never author "
        "the conclusion"));
  }
  for (const std::string& party : agency.related_parties()) {
    if (party == e.subject_org() || party == e.commissioner_org()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "conflict of interest: agency ", agency.id(), " declared ", party,
          " a related party"));
    }
  }
  if (evaluation) {
    for (const v1::Engagement& p : prior) {
      if (p.agency_id() == agency.id() && p.subject_ref() == e.subject_ref() &&
          (p.purpose() == "ex_ante" || p.purpose() == "indicator_system" ||
           p.purpose() == "target_review" || p.purpose() == "research") &&
          p.status() != "cancelled") {
        return absl::FailedPreconditionError(absl::StrCat(
            "conflict of interest: agency ", agency.id(), " did the ", p.purpose(),
            " work for ", e.subject_ref(), " (engagement ", p.id(), ") and cannot evaluate it"));
      }
    }
    BPM_RETURN_IF_ERROR(ValidateSheet(e.sheet(), "engagement.sheet"));
  }
  return absl::OkStatus();
}

Status ValidateDeliverable(const v1::Deliverable& d, const v1::Engagement& e, bool scored) {
  static const std::regex kSha("^[0-9a-f]{64}$");
  for (int i = 0; i < d.files_size(); ++i) {
    const std::string f = absl::StrCat("deliverable.files[", i, "]");
    if (d.files(i).name().empty()) return Invalid(f + ".name", "is required");
    if (!std::regex_match(d.files(i).sha256(), kSha)) {
      return Invalid(f + ".sha256", "must be 64 lowercase hex characters");
    }
  }
  if (e.mode() == "assist") {
    if (!d.grade().empty() || d.total() != 0 || d.scores_size() > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "engagement ", e.id(),
          " is in assist mode: the agency may not author the conclusion (scores, total, grade)"));
    }
    return absl::OkStatus();
  }
  if (!scored || e.sheet().indicators_size() == 0) return absl::OkStatus();
  std::map<std::string, const v1::Indicator*> sheet;
  for (const auto& ind : e.sheet().indicators()) sheet[ind.code()] = &ind;
  std::set<std::string> seen;
  double sum = 0;
  for (int i = 0; i < d.scores_size(); ++i) {
    const std::string f = absl::StrCat("deliverable.scores[", i, "]");
    auto it = sheet.find(d.scores(i).code());
    if (it == sheet.end()) {
      return Invalid(f + ".code", "'" + d.scores(i).code() + "' is not an indicator of the sheet");
    }
    if (!seen.insert(d.scores(i).code()).second) {
      return Invalid(f + ".code", "'" + d.scores(i).code() + "' is scored twice");
    }
    if (d.scores(i).score() < 0 || d.scores(i).score() > it->second->weight() + 1e-9) {
      return Invalid(f + ".score", absl::StrCat("must be between 0 and the weight ",
                                                it->second->weight()));
    }
    sum += d.scores(i).score();
  }
  for (const auto& [code, ind] : sheet) {
    if (!seen.count(code)) return Invalid("deliverable.scores", "indicator '" + code + "' is not scored");
  }
  if (std::fabs(sum - d.total()) > 0.005) {
    return Invalid("deliverable.total", absl::StrCat(d.total(), " is not the sum of the scores (",
                                                     sum, ")"));
  }
  if (d.grade() != GradeOf(d.total())) {
    return Invalid("deliverable.grade", absl::StrCat("a total of ", d.total(), " is graded ",
                                                     GradeOf(d.total()), ", not '", d.grade(),
                                                     "' (bands 90/80/60)"));
  }
  if (d.findings_size() == 0) return Invalid("deliverable.findings", "at least one finding");
  if (d.recommendations_size() == 0) {
    return Invalid("deliverable.recommendations", "at least one recommendation");
  }
  return absl::OkStatus();
}

}  // namespace bpm::agency
