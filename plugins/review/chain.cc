#include "plugins/review/chain.h"

#include <algorithm>
#include <utility>

namespace bpm::plugins::review {
namespace {

using namespace ::bpm::plugin;  // NOLINT(build/namespaces): SDK vocabulary

const std::vector<std::string> kLevels = {"unit_leader",         "department", "owning_section",
                                          "performance_section", "leadership", "role",
                                          "user"};
const std::vector<std::string> kModes = {"any", "all", "sequential", "vote"};
const std::vector<std::string> kLevelKeys = {"level", "depth", "role",       "org",     "user",
                                             "mode",  "veto",  "pass_ratio", "weights", "name",
                                             "title"};

std::string DefaultRole(const std::string& level) {
  if (level == "unit_leader") return "unit_leader";
  if (level == "department") return "dept_reviewer";
  if (level == "owning_section") return "section_reviewer";
  if (level == "performance_section") return "perf_reviewer";
  if (level == "leadership") return "leader";
  return "";
}

std::string DefaultTitle(const std::string& level) {
  if (level == "unit_leader") return "单位负责人审核";
  if (level == "department") return "主管部门审核";
  if (level == "owning_section") return "财政业务股审核";
  if (level == "performance_section") return "绩效股审核";
  if (level == "leadership") return "局领导审签";
  return "审核";
}

Value ListOf(const std::vector<std::string>& items) { return StringListValue(items); }

std::vector<std::string> Members(const pb::StageContext& ctx, const std::string& org,
                                 const std::string& role, bool* known) {
  *known = ctx.org_context().members_size() > 0 || !ctx.org_context().unit().code().empty();
  for (const auto& m : ctx.org_context().members()) {
    if (m.org() == org && m.role() == role) return {m.users().begin(), m.users().end()};
  }
  return {};
}

}  // namespace

Struct ToStruct(const ChainState& s) {
  Struct out;
  auto& f = *out.mutable_fields();
  Value steps;
  for (const Step& st : s.steps) {
    Struct o;
    auto& g = *o.mutable_fields();
    g["level"] = StringValue(st.level);
    g["name"] = StringValue(st.name);
    g["title"] = StringValue(st.title);
    g["mode"] = StringValue(st.mode);
    g["org"] = StringValue(st.org);
    g["role"] = StringValue(st.role);
    g["user"] = StringValue(st.user);
    g["members"] = ListOf(st.members);
    g["members_known"] = BoolValue(st.members_known);
    g["only_excluded"] = BoolValue(st.only_excluded);
    g["pass_ratio"] = NumberValue(st.pass_ratio);
    g["veto"] = BoolValue(st.veto);
    Struct w;
    for (const auto& [u, x] : st.weights) (*w.mutable_fields())[u] = NumberValue(x);
    g["weights"] = StructValue(std::move(w));
    *steps.mutable_list_value()->add_values() = StructValue(std::move(o));
  }
  if (!steps.has_list_value()) steps.mutable_list_value();
  f["steps"] = std::move(steps);
  f["current"] = NumberValue(s.current);
  Value slots;
  slots.mutable_list_value();
  for (const Slot& sl : s.slots) {
    Struct o;
    auto& g = *o.mutable_fields();
    g["users"] = ListOf(sl.users);
    g["pos"] = NumberValue(sl.pos);
    g["result"] = StringValue(sl.result);
    *slots.mutable_list_value()->add_values() = StructValue(std::move(o));
  }
  f["slots"] = std::move(slots);
  f["resume_at"] = NumberValue(s.resume_at);
  return out;
}

ChainState FromStruct(const Struct& s) {
  ChainState out;
  if (const Value* steps = Field(s, "steps"); steps != nullptr && steps->has_list_value()) {
    for (const Value& v : steps->list_value().values()) {
      if (!v.has_struct_value()) continue;
      const Struct& o = v.struct_value();
      Step st;
      st.level = StringOr(o, "level", "");
      st.name = StringOr(o, "name", "");
      st.title = StringOr(o, "title", "");
      st.mode = StringOr(o, "mode", "any");
      st.org = StringOr(o, "org", "");
      st.role = StringOr(o, "role", "");
      st.user = StringOr(o, "user", "");
      st.members = StringList(o, "members");
      st.members_known = BoolOr(o, "members_known", false);
      st.only_excluded = BoolOr(o, "only_excluded", false);
      st.pass_ratio = NumberOr(o, "pass_ratio", 0.5);
      st.veto = BoolOr(o, "veto", true);
      if (const Value* weights = Field(o, "weights"); weights != nullptr) {
        for (const auto& [u, x] : weights->struct_value().fields()) {
          if (x.kind_case() == Value::kNumberValue) st.weights[u] = x.number_value();
        }
      }
      out.steps.push_back(std::move(st));
    }
  }
  out.current = IntegerOr<int>(s, "current", 0);
  if (const Value* slots = Field(s, "slots"); slots != nullptr && slots->has_list_value()) {
    for (const Value& v : slots->list_value().values()) {
      if (!v.has_struct_value()) continue;
      const Struct& o = v.struct_value();
      Slot sl;
      sl.users = StringList(o, "users");
      sl.pos = IntegerOr<int>(o, "pos", 0);
      sl.result = StringOr(o, "result", "");
      out.slots.push_back(std::move(sl));
    }
  }
  out.resume_at = IntegerOr<int>(s, "resume_at", -1);
  return out;
}

void ValidateChainConfig(const Struct& config, std::vector<pb::ConfigError>* errors) {
  const Value* chain = TypedField(config, "chain", Value::kListValue, "", errors);
  if (chain == nullptr) return;
  if (Field(config, "assignee") != nullptr) {
    AddError(errors, "assignee", "cannot be combined with chain (a one-level shorthand)");
  }
  if (chain->list_value().values_size() == 0) {
    AddError(errors, "chain", "needs at least one level");
  }
  std::vector<std::string> names;
  for (int i = 0; i < chain->list_value().values_size(); ++i) {
    const std::string base = IndexPath("chain", i);
    const Value& v = chain->list_value().values(i);
    if (!v.has_struct_value()) {
      AddError(errors, base, "must be a mapping such as {level: department, mode: any}");
      continue;
    }
    const Struct& l = v.struct_value();
    CheckKnownKeys(l, base, kLevelKeys, errors);
    const Value* level = TypedField(l, "level", Value::kStringValue, base, errors);
    if (level == nullptr) {
      AddError(errors, JoinPath(base, "level"),
               "is required: one of " + JoinStrings(kLevels, ", "));
      continue;
    }
    const std::string lv = level->string_value();
    if (std::find(kLevels.begin(), kLevels.end(), lv) == kLevels.end()) {
      AddError(errors, JoinPath(base, "level"),
               "'" + lv + "' is not one of " + JoinStrings(kLevels, ", "));
    }
    if (const Value* m = TypedField(l, "mode", Value::kStringValue, base, errors); m != nullptr) {
      if (std::find(kModes.begin(), kModes.end(), m->string_value()) == kModes.end()) {
        AddError(errors, JoinPath(base, "mode"),
                 "'" + m->string_value() + "' is not one of " + JoinStrings(kModes, ", "));
      }
    }
    CheckIntegerInRange(l, "depth", base, 1, 10, errors);
    if (Field(l, "depth") != nullptr && lv != "department") {
      AddError(errors, JoinPath(base, "depth"), "applies to level department only");
    }
    CheckNonEmptyString(l, "role", base, errors);
    TypedField(l, "org", Value::kStringValue, base, errors);
    if (Field(l, "org") != nullptr && lv != "role") {
      AddError(errors, JoinPath(base, "org"), "applies to level role only");
    }
    if (lv == "role" && Field(l, "role") == nullptr) {
      AddError(errors, JoinPath(base, "role"), "is required for level role");
    }
    CheckNonEmptyString(l, "user", base, errors);
    if (lv == "user" && Field(l, "user") == nullptr) {
      AddError(errors, JoinPath(base, "user"), "is required for level user");
    }
    if (Field(l, "user") != nullptr && lv != "user") {
      AddError(errors, JoinPath(base, "user"), "applies to level user only");
    }
    TypedField(l, "veto", Value::kBoolValue, base, errors);
    if (const Value* r = TypedField(l, "pass_ratio", Value::kNumberValue, base, errors);
        r != nullptr && (r->number_value() <= 0 || r->number_value() > 1)) {
      AddError(errors, JoinPath(base, "pass_ratio"), "must be in (0, 1]");
    }
    if (const Value* w = TypedField(l, "weights", Value::kStructValue, base, errors); w != nullptr) {
      for (const auto& [u, x] : w->struct_value().fields()) {
        if (x.kind_case() != Value::kNumberValue || x.number_value() <= 0) {
          AddError(errors, JoinPath(JoinPath(base, "weights"), u), "must be a positive number");
        }
      }
    }
    if (const Value* n = TypedField(l, "name", Value::kStringValue, base, errors); n != nullptr) {
      if (std::find(names.begin(), names.end(), n->string_value()) != names.end()) {
        AddError(errors, JoinPath(base, "name"), "'" + n->string_value() + "' is used twice");
      }
      names.push_back(n->string_value());
    }
    TypedField(l, "title", Value::kStringValue, base, errors);
  }
}

std::vector<std::string> ExcludedUsers(const pb::StageContext& ctx) {
  std::vector<std::string> out;
  if (!ctx.started_by().empty()) out.push_back(ctx.started_by());
  std::string submitter = StringOr(Vars(ctx), "submitted_by", "");
  if (!submitter.empty() && submitter != ctx.started_by()) out.push_back(submitter);
  return out;
}

std::vector<Step> ResolveSteps(const pb::StageContext& ctx) {
  std::vector<Step> steps;
  const Struct& config = ctx.config();
  const pb::OrgContext& org = ctx.org_context();
  std::vector<Struct> levels;
  if (const Value* chain = Field(config, "chain"); chain != nullptr && chain->has_list_value()) {
    for (const Value& v : chain->list_value().values()) {
      if (v.has_struct_value()) levels.push_back(v.struct_value());
    }
  } else {
    // The one-level shorthand: {assignee: {role, org} | {user}}, mode any.
    Assignee who = ResolveAssignee(ctx, "assignee", {"authority_reviewer", "", ""});
    Struct l;
    auto& f = *l.mutable_fields();
    if (!who.user.empty()) {
      f["level"] = StringValue("user");
      f["user"] = StringValue(who.user);
    } else {
      f["level"] = StringValue("role");
      f["role"] = StringValue(who.role);
      f["org"] = StringValue(who.org);
    }
    f["title"] = StringValue(StringOr(config, "title", "审核"));
    levels.push_back(std::move(l));
  }
  const std::vector<std::string> excluded = ExcludedUsers(ctx);
  for (size_t i = 0; i < levels.size(); ++i) {
    const Struct& l = levels[i];
    const std::string level = StringOr(l, "level", "role");
    Step base;
    base.level = level;
    base.mode = StringOr(l, "mode", "any");
    base.role = StringOr(l, "role", DefaultRole(level));
    base.title = StringOr(l, "title", StringOr(config, "title", DefaultTitle(level)));
    base.name = StringOr(l, "name", level);
    base.veto = BoolOr(l, "veto", true);
    base.pass_ratio = NumberOr(l, "pass_ratio", 0.5);
    const Struct weights = StructOr(l, "weights");
    for (const auto& [u, x] : weights.fields()) {
      if (x.kind_case() == Value::kNumberValue) base.weights[u] = x.number_value();
    }
    std::vector<std::string> orgs;
    if (level == "unit_leader") {
      orgs.push_back(org.unit().code().empty() ? ctx.org() : org.unit().code());
    } else if (level == "department") {
      int depth = IntegerOr<int>(l, "depth", 1);
      for (int k = 0; k < depth && k < org.ancestors_size(); ++k) {
        orgs.push_back(org.ancestors(k).code());
      }
      if (orgs.empty()) orgs.push_back("");  // no org model: reported at activation
    } else if (level == "owning_section") {
      orgs.push_back(org.owning_section().code());
    } else if (level == "performance_section") {
      orgs.push_back(org.performance_section().code());
    } else if (level == "leadership") {
      orgs.push_back(org.leadership().code());
    } else if (level == "role") {
      orgs.push_back(Substitute(StringOr(l, "org", ""), ctx));
    } else {
      orgs.push_back("");
    }
    for (size_t k = 0; k < orgs.size(); ++k) {
      Step st = base;
      st.org = orgs[k];
      if (orgs.size() > 1) st.name = base.name + "_" + std::to_string(k + 1);
      if (level == "user") {
        st.user = Substitute(StringOr(l, "user", ""), ctx);
        st.members = {st.user};
        st.members_known = true;
      } else if (!st.org.empty() || level == "role") {
        st.members = Members(ctx, st.org, st.role, &st.members_known);
        if (st.org.empty()) st.members_known = false;  // any org: only a group task
      }
      const bool had_members = !st.members.empty();
      st.members.erase(std::remove_if(st.members.begin(), st.members.end(),
                                      [&](const std::string& u) {
                                        return std::find(excluded.begin(), excluded.end(), u) !=
                                               excluded.end();
                                      }),
                       st.members.end());
      st.only_excluded = had_members && st.members.empty();
      steps.push_back(std::move(st));
    }
  }
  return steps;
}

}  // namespace bpm::plugins::review
