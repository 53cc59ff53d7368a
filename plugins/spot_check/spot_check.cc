// Stage "spot_check" (财政抽查复核, DOMAIN.md §5.4): finance re-checks a sample
// of self-evaluations. Whether a project is drawn is reproducible by anyone
// from the recorded seed and the project code:
//
//   draw = (first 16 hex digits of sha256(seed + "\n" + subject_ref)) mod 10000
//   sampled when draw < rate × 100
//
// e.g. printf '%s\n%s' "$SEED" "$PROJECT" | sha256sum — so the same seed draws
// the same projects on every replica and in every audit.
//
// Config:
//   seed              required: the draw's seed, published with the round
//   rate              percent of projects drawn, 0–100, at most 2 decimal
//                     places; default 15 (10–20% is usual)
//   deviation_points  a re-check more than this many points from the unit's
//                     score is flagged (it counts against the 考核); default 10
//   score_variable    the variable with the unit's score; default self_eval_score
//   assignee          who re-checks; default {role: finance_reviewer}
//   title             task title; default "财政抽查复核"
//
// Enter records variables.spot_check = {seed, rate, draw, sampled}. Not
// drawn: outcome "not_sampled" at once. Drawn: task "spot_check" with action
// recheck, payload {score (0–100), opinion (required text)}, which adds
// recheck_score, deviation, deviation_flagged, opinion, by, at_unix_ms and
// emits "rechecked".
#include <openssl/sha.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "bpm/plugin/sdk.h"

namespace bpm::plugins::spot_check {
namespace {

using namespace ::bpm::plugin;  // NOLINT(build/namespaces): SDK vocabulary

constexpr char kSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "required": ["seed"],
  "properties": {
    "seed": {"type": "string", "minLength": 1},
    "rate": {"type": "number", "minimum": 0, "maximum": 100, "default": 15},
    "deviation_points": {"type": "number", "minimum": 0, "default": 10},
    "score_variable": {"type": "string", "minLength": 1, "default": "self_eval_score"},
    "assignee": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "role": {"type": "string", "minLength": 1, "default": "finance_reviewer"},
        "org": {"type": "string", "default": ""},
        "user": {"type": "string", "minLength": 1}
      }
    },
    "title": {"type": "string", "default": "财政抽查复核"}
  }
})json";

// The draw of subject under seed, 0..9999 (see the header comment).
int Draw(const std::string& seed, const std::string& subject) {
  const std::string input = seed + "\n" + subject;
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), md);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | md[i];
  return static_cast<int>(v % 10000);
}

// rate in hundredths of a percent (15 -> 1500); -1 when not a valid rate.
int RateBasisPoints(double rate) {
  const double bp = rate * 100;
  if (!std::isfinite(rate) || rate < 0 || rate > 100 || std::fabs(bp - std::round(bp)) > 1e-6) {
    return -1;
  }
  return static_cast<int>(std::round(bp));
}

class SpotCheckStage : public Stage {
 public:
  static constexpr bool kVariablesByName = true;  // reads them through Vars()

  pb::DescribeResponse Describe() const override {
    pb::DescribeResponse d;
    d.set_name("spot_check");
    d.set_version("1.0.0");
    d.set_description(
        "财政抽查复核：按公布的种子和比例抽取项目，复核自评分并标记偏差。"
        " Finance re-checks a reproducible sample of self-evaluations.");
    AddAction(&d, "recheck", "复核评分（须填写意见） / re-score, with an opinion");
    d.add_outcomes("not_sampled");
    d.add_outcomes("rechecked");
    d.set_config_schema_json(kSchema);
    return d;
  }

  void ValidateConfig(const Struct& config,
                      std::vector<pb::ConfigError>* errors) const override {
    CheckKnownKeys(config, "",
                   {"seed", "rate", "deviation_points", "score_variable", "assignee", "title"},
                   errors);
    if (Field(config, "seed") == nullptr) {
      AddError(errors, "seed", "is required: the published seed of the draw.");
    } else {
      CheckNonEmptyString(config, "seed", "", errors);
    }
    if (const Value* r = TypedField(config, "rate", Value::kNumberValue, "", errors)) {
      if (RateBasisPoints(r->number_value()) < 0) {
        AddError(errors, "rate", "must be a percentage between 0 and 100 with at most 2 decimals.");
      }
    }
    if (const Value* p = TypedField(config, "deviation_points", Value::kNumberValue, "", errors)) {
      if (!(p->number_value() >= 0)) AddError(errors, "deviation_points", "must be 0 or more.");
    }
    CheckNonEmptyString(config, "score_variable", "", errors);
    ValidateAssignee(config, "assignee", errors);
    TypedField(config, "title", Value::kStringValue, "", errors);
  }

  pb::Decision Enter(const pb::EnterRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    const std::string seed = StringOr(ctx.config(), "seed", "");
    const double rate = NumberOr(ctx.config(), "rate", 15);
    const int draw = Draw(seed, ctx.subject_ref());
    const bool sampled = draw < RateBasisPoints(rate);

    Struct record;
    auto& f = *record.mutable_fields();
    f["seed"] = StringValue(seed);
    f["rate"] = NumberValue(rate);
    f["draw"] = NumberValue(draw);
    f["sampled"] = BoolValue(sampled);
    pb::Decision d = Accept(sampled ? "" : "not_sampled");
    (*d.mutable_set_variables()->mutable_fields())["spot_check"] = StructValue(std::move(record));
    d.set_note("spot check draw " + std::to_string(draw) + " of 10000 against rate " +
               FormatNumber(rate) + "%: " + (sampled ? "sampled" : "not sampled"));
    if (sampled) {
      Assignee who = ResolveAssignee(ctx, "assignee", {"finance_reviewer", "", ""});
      *d.add_open_tasks() = MakeTask("spot_check", StringOr(ctx.config(), "title", "财政抽查复核"),
                                     who, {"recheck"});
    }
    return d;
  }

  pb::Decision Act(const pb::ActRequest& request) const override {
    if (request.task().name() != "spot_check" || request.action() != "recheck") {
      return RejectUnknownAction(request);
    }
    const pb::StageContext& ctx = request.context();
    const Struct& payload = request.payload();
    pb::Decision bad;
    RejectUnknownFields(payload, "payload", {"score", "opinion"}, &bad);
    const Value* score = Field(payload, "score");
    if (score == nullptr || score->kind_case() != Value::kNumberValue ||
        !(score->number_value() >= 0 && score->number_value() <= 100)) {
      AddRejection(&bad, "payload.score", "must be a number from 0 to 100");
    }
    const std::string opinion = Trim(StringOr(payload, "opinion", ""));
    if (opinion.empty()) AddRejection(&bad, "payload.opinion", "is required (复核意见)");
    const std::string score_var = StringOr(ctx.config(), "score_variable", "self_eval_score");
    const Value* unit_score = Field(Vars(ctx), score_var);
    if (unit_score == nullptr || unit_score->kind_case() != Value::kNumberValue) {
      AddRejection(&bad, "variables." + score_var,
                   "the unit's score is missing: the self-evaluation comes first");
    }
    if (bad.rejections_size() > 0) return bad;

    Struct record = StructOr(Vars(ctx), "spot_check");
    auto& f = *record.mutable_fields();
    // Scores carry at most 2 decimals: compare in hundredths, exactly.
    const long long recheck = std::llround(score->number_value() * 100);
    const long long own = std::llround(unit_score->number_value() * 100);
    const long long deviation = recheck > own ? recheck - own : own - recheck;
    const long long limit = std::llround(NumberOr(ctx.config(), "deviation_points", 10) * 100);
    f["recheck_score"] = NumberValue(static_cast<double>(recheck) / 100);
    f["deviation"] = NumberValue(static_cast<double>(deviation) / 100);
    f["deviation_flagged"] = BoolValue(deviation > limit);
    f["opinion"] = StringValue(opinion);
    f["by"] = StringValue(ctx.actor().user());
    f["at_unix_ms"] = NumberValue(static_cast<double>(ctx.now_unix_ms()));
    pb::Decision d = Accept("rechecked");
    (*d.mutable_set_variables()->mutable_fields())["spot_check"] = StructValue(std::move(record));
    d.set_note("re-checked at " + FormatNumber(static_cast<double>(recheck) / 100) + " by " +
               ctx.actor().user() + (deviation > limit ? " (deviation flagged)" : ""));
    return d;
  }
};

}  // namespace
}  // namespace bpm::plugins::spot_check

BPM_PLUGIN_EXPORT(bpm::plugins::spot_check::SpotCheckStage, "spot_check", "1.0.0")
