// Tests the five bundled stage plugins through the host loader: each test
// loads the REAL bpm_stage_<name>.so from $BPM_PLUGIN_DIR and talks to it only
// through StageHandle, exactly as the engine does.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_join.h"

#include "bpm/plugin/sdk.h"
#include "core/plugin/loader.h"

namespace bpm::plugin {
namespace {

using ::google::protobuf::Struct;
using ::google::protobuf::Value;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr int64_t kNow = 1700000000000;  // 2023-11-14T22:13:20Z
constexpr int64_t kDayMs = 86400000;

// ---- Helpers -------------------------------------------------------------------

Struct Json(const std::string& json) {
  Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(json, &s);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << json;
  return s;
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &out, opts).ok());
  return out;
}

// Compares a Struct with JSON text through the SDK's canonical JSON (sorted
// keys), so the comparison is exact and failures print readably.
MATCHER_P(EqualsJson, json, "") {
  std::string want = CanonicalJson(Json(json));
  std::string got = CanonicalJson(arg);
  *result_listener << "is " << got;
  return got == want;
}

// ctest runs this program twice: as bpmd calls the stages (the host's
// messages), and with BPM_TEST_PLUGIN_CALLS=bytes (serialized), so every test
// holds for both transports.
std::unique_ptr<StageHandle> Load(const std::string& name) {
  const char* dir = std::getenv("BPM_PLUGIN_DIR");
  EXPECT_NE(dir, nullptr) << "BPM_PLUGIN_DIR is not set";
  if (dir == nullptr) return nullptr;
  const char* calls = std::getenv("BPM_TEST_PLUGIN_CALLS");
  const bool bytes = calls != nullptr && std::string(calls) == "bytes";
  auto stage = LoadPluginFile(std::string(dir) + "/bpm_stage_" + name + ".so", nullptr,
                              bytes ? PluginCalls::kBytes : PluginCalls::kMessagesWhenShared);
  EXPECT_TRUE(stage.ok()) << stage.status();
  if (!stage.ok()) return nullptr;
  EXPECT_EQ((*stage)->transport(), bytes ? "in process, bytes" : "in process, messages");
  return std::move(stage).value();
}

pb::StageContext Context(const std::string& state, const std::string& config_json,
                         const std::string& variables_json = "{}",
                         const std::string& user = "li.si") {
  pb::StageContext ctx;
  ctx.set_instance_id("inst-1");
  ctx.set_definition_key("perf_target");
  ctx.set_definition_version(3);
  ctx.set_state(state);
  ctx.set_subject_ref("P2024-001");
  ctx.set_org("edu_bureau");
  *ctx.mutable_variables() = Json(variables_json);
  *ctx.mutable_config() = Json(config_json);
  ctx.mutable_actor()->set_user(user);
  ctx.mutable_actor()->set_org("edu_bureau");
  ctx.set_now_unix_ms(kNow);
  return ctx;
}

// "path: message" of every config error.
std::vector<std::string> ConfigErrors(const StageHandle& stage, const std::string& config) {
  pb::ValidateConfigRequest req;
  *req.mutable_config() = Json(config);
  auto resp = stage.ValidateConfig(req);
  EXPECT_TRUE(resp.ok()) << resp.status();
  std::vector<std::string> out;
  if (!resp.ok()) return out;
  for (const auto& e : resp->errors()) out.push_back(e.path() + ": " + e.message());
  return out;
}

// Paths only, for tests that care where rather than what.
std::vector<std::string> ConfigErrorPaths(const StageHandle& stage, const std::string& config) {
  std::vector<std::string> out;
  for (const std::string& e : ConfigErrors(stage, config)) out.push_back(e.substr(0, e.find(": ")));
  return out;
}

std::vector<std::string> Rejections(const pb::Decision& d) {
  std::vector<std::string> out;
  for (const auto& r : d.rejections()) out.push_back(r.field() + ": " + r.message());
  return out;
}

pb::Decision Enter(const StageHandle& stage, const pb::StageContext& ctx) {
  pb::EnterRequest req;
  *req.mutable_context() = ctx;
  auto d = stage.Enter(req);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : pb::Decision();
}

pb::TaskInfo TaskFrom(const pb::TaskSpec& spec, const std::string& id) {
  pb::TaskInfo t;
  t.set_id(id);
  t.set_name(spec.name());
  t.set_assignee_user(spec.assignee_user());
  t.set_assignee_role(spec.assignee_role());
  t.set_assignee_org(spec.assignee_org());
  *t.mutable_actions() = spec.actions();
  t.set_due_unix_ms(spec.due_unix_ms());
  *t.mutable_data() = spec.data();
  return t;
}

pb::Decision Act(const StageHandle& stage, const pb::StageContext& ctx, const pb::TaskInfo& task,
                 const std::string& action, const std::string& payload_json = "{}",
                 const std::string& comment = "") {
  pb::ActRequest req;
  *req.mutable_context() = ctx;
  *req.mutable_task() = task;
  req.set_action(action);
  *req.mutable_payload() = Json(payload_json);
  req.set_comment(comment);
  auto d = stage.Act(req);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : pb::Decision();
}

// What the engine does with an accepted decision's variables.
void ApplyVariables(const pb::Decision& d, pb::StageContext* ctx) {
  for (const auto& kv : d.set_variables().fields()) {
    (*ctx->mutable_variables()->mutable_fields())[kv.first] = kv.second;
  }
}

std::vector<std::string> Strings(const google::protobuf::RepeatedPtrField<std::string>& r) {
  return {r.begin(), r.end()};
}

std::vector<std::string> ActionNames(const pb::DescribeResponse& d) {
  std::vector<std::string> out;
  for (const auto& a : d.actions()) out.push_back(a.name());
  return out;
}

// Sorted keys of the config schema's top-level properties.
std::vector<std::string> SchemaProperties(const pb::DescribeResponse& d) {
  Struct schema = Json(d.config_schema_json());
  EXPECT_EQ(schema.fields().at("type").string_value(), "object");
  EXPECT_FALSE(schema.fields().at("additionalProperties").bool_value());
  std::vector<std::string> out;
  for (const auto& kv : schema.fields().at("properties").struct_value().fields()) {
    out.push_back(kv.first);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The performance-target form (绩效目标申报表) with a three-level indicator table.
const char kTargetForm[] = R"({
  "title": "绩效目标申报",
  "into": "target",
  "form": {"fields": [
    {"name": "project_name", "label": "项目名称", "type": "string", "required": true, "max_length": 20},
    {"name": "budget", "label": "预算金额（万元）", "type": "number", "required": true, "min": 0},
    {"name": "year", "label": "年度", "type": "integer", "required": true, "min": 2000, "max": 2100},
    {"name": "start_date", "label": "开始日期", "type": "date"},
    {"name": "continuing", "label": "是否延续项目", "type": "boolean"},
    {"name": "fund_type", "label": "资金类型", "type": "enum", "values": ["一般公共预算", "政府性基金预算"]},
    {"name": "indicators", "label": "绩效指标", "type": "table", "required": true,
     "min_rows": 1, "max_rows": 50, "columns": [
      {"name": "level1", "label": "一级指标", "type": "enum", "required": true,
       "values": ["产出指标", "效益指标", "满意度指标"]},
      {"name": "level2", "label": "二级指标", "type": "string", "required": true},
      {"name": "level3", "label": "三级指标", "type": "string", "required": true},
      {"name": "operator", "label": "运算符", "type": "enum", "required": true,
       "values": ["≥", "＞", "＝", "＜", "≤", "定性"]},
      {"name": "target", "label": "指标值", "type": "string", "required": true},
      {"name": "unit", "label": "计量单位", "type": "string"},
      {"name": "weight", "label": "权重", "type": "number", "required": true, "min": 0, "max": 100}
    ]}
  ]}
})";

const char kValidTarget[] = R"({
  "project_name": "义务教育学生营养改善计划",
  "budget": 1250.5,
  "year": 2024,
  "start_date": "2024-02-29",
  "continuing": true,
  "fund_type": "一般公共预算",
  "indicators": [
    {"level1": "产出指标", "level2": "数量指标", "level3": "受益学生人数", "operator": "≥",
     "target": "12000", "unit": "人", "weight": 20},
    {"level1": "产出指标", "level2": "质量指标", "level3": "食品安全事故", "operator": "＝",
     "target": "0", "unit": "起", "weight": 20},
    {"level1": "产出指标", "level2": "时效指标", "level3": "资金拨付及时率", "operator": "＞",
     "target": "95", "unit": "%", "weight": 10},
    {"level1": "产出指标", "level2": "成本指标", "level3": "生均补助超标", "operator": "＜",
     "target": "1", "unit": "%", "weight": 10},
    {"level1": "效益指标", "level2": "社会效益指标", "level3": "学生营养状况", "operator": "定性",
     "target": "明显改善", "weight": 20},
    {"level1": "满意度指标", "level2": "服务对象满意度指标", "level3": "家长投诉率", "operator": "≤",
     "target": "2", "unit": "%", "weight": 20}
  ]
})";

// ---- Describe ------------------------------------------------------------------

TEST(StagePluginsTest, DescribeNamesActionsOutcomesAndSchema) {
  struct Want {
    std::string name;
    std::vector<std::string> actions;
    std::vector<std::string> outcomes;
    std::vector<std::string> config_keys;
  };
  const std::vector<Want> wants = {
      {"department_submit", {"submit", "check"}, {"submitted"},
       {"adjustment", "assignee", "due_working_days", "form", "history", "into", "quality", "title"}},
      {"review",
       {"approve", "return", "add_signer", "remove_signer"},
       {"approved", "returned"},
       {"assignee", "chain", "comment_required_on_return", "due", "escalate_role",
        "fallback_role", "on_empty", "on_overdue", "on_self", "reassign_to",
        "remind_before_hours", "resume", "return_to", "superior_role", "title"}},
      {"final_review",
       {"approve", "return", "reject"},
       {"approved", "returned", "rejected"},
       {"assignee", "grades", "title"}},
      {"rectification",
       {"submit", "accept", "return"},
       {"accepted"},
       {"check_title", "checker", "due_days", "requirements", "title", "unit"}},
      {"disclosure",
       {"publish", "approve", "return"},
       {"published"},
       {"assignee", "channel", "due_days", "mode", "publish", "review", "title"}},
  };
  for (const Want& want : wants) {
    SCOPED_TRACE(want.name);
    auto stage = Load(want.name);
    ASSERT_NE(stage, nullptr);
    const pb::DescribeResponse& d = stage->description();
    EXPECT_EQ(d.name(), want.name);
    EXPECT_EQ(d.version(), want.name == "review" ? "2.0.0" : "1.0.0");
    EXPECT_NE(d.description(), "");
    EXPECT_EQ(ActionNames(d), want.actions);
    for (const auto& a : d.actions()) EXPECT_NE(a.description(), "") << a.name();
    EXPECT_EQ(Strings(d.outcomes()), want.outcomes);
    EXPECT_EQ(SchemaProperties(d), want.config_keys);
    // Every key the schema documents is accepted by ValidateConfig.
    if (want.name != "department_submit") {
      EXPECT_THAT(ConfigErrors(*stage, "{}"), IsEmpty());
    }
  }
}

TEST(StagePluginsTest, OnTimerStays) {
  auto stage = Load("review");
  ASSERT_NE(stage, nullptr);
  pb::TimerRequest req;
  *req.mutable_context() = Context("authority_review", "{}");
  req.set_timer("reminder");
  auto d = stage->OnTimer(req);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->accepted());
  EXPECT_EQ(d->outcome(), "");
  EXPECT_EQ(d->open_tasks_size(), 0);
}

// ---- Config validation -----------------------------------------------------------

TEST(StagePluginsTest, DepartmentSubmitAcceptsTheTargetForm) {
  auto stage = Load("department_submit");
  ASSERT_NE(stage, nullptr);
  EXPECT_THAT(ConfigErrors(*stage, kTargetForm), IsEmpty());
}

TEST(StagePluginsTest, DepartmentSubmitQualityConfigIsChecked) {
  auto stage = Load("department_submit");
  ASSERT_NE(stage, nullptr);
  // The quality block's fields must be the form's, and its settings valid.
  EXPECT_THAT(ConfigErrors(*stage, R"({"form": {"fields": [{"name": "goal", "type": "string"}]},
                                      "quality": {"weight_total": 120,
                                                  "severity": {"copied": "loud"}}})"),
              ElementsAre("quality.weight_total: must be a number in (0, 100].",
                          "quality.severity.copied: must be error, warning or off.",
                          "quality.goal_field: names \"annual_goal\", which is not a field of the "
                          "form.",
                          "quality.indicators_field: names \"indicators\", which is not a field "
                          "of the form."));
  EXPECT_THAT(ConfigErrors(*stage, R"({"form": {"fields": [{"name": "g", "type": "string"},
                                                            {"name": "rows", "type": "table",
                                                             "columns": [{"name": "name", "type": "string"}]}]},
                                      "into": "quality",
                                      "quality": {"goal_field": "g", "indicators_field": "rows"}})"),
              ElementsAre("into: cannot be \"quality\": that variable records the quality check."));
}

// The adjustment block (绩效目标调整) is checked at deploy, by path.
TEST(StagePluginsTest, DepartmentSubmitAdjustmentConfigIsChecked) {
  auto stage = Load("department_submit");
  ASSERT_NE(stage, nullptr);
  const std::string form = R"("form": {"fields": [{"name": "goal", "type": "string"}]})";
  EXPECT_THAT(ConfigErrors(*stage, "{" + form +
                                       R"(, "adjustment": {"window_until": "09-30", "per_year": 0,
                                                           "replace_original": false}})"),
              IsEmpty());
  EXPECT_THAT(ConfigErrors(*stage, "{" + form +
                                       R"(, "adjustment": {"window_until": "02-30", "per_year": 1.5,
                                                           "replace_original": "yes", "limit": 2}})"),
              UnorderedElementsAre(
                  "adjustment.limit: is not a setting; use window_until, per_year, replace_original.",
                  "adjustment.window_until: must be a month and day \"MM-DD\", e.g. \"09-30\".",
                  "adjustment.per_year: must be a whole number from 0 (no limit) to 12.",
                  "adjustment.replace_original: must be true or false."));
  EXPECT_THAT(ConfigErrors(*stage, "{" + form + R"(, "adjustment": {"window_until": "9-30"}})"),
              ElementsAre("adjustment.window_until: must be a month and day \"MM-DD\", e.g. "
                          "\"09-30\"."));
}

TEST(StagePluginsTest, DepartmentSubmitHistoryConfigIsChecked) {
  auto stage = Load("department_submit");
  ASSERT_NE(stage, nullptr);
  const std::string form =
      R"("form": {"fields": [{"name": "amount", "type": "number"}, {"name": "goal", "type": "string"}]})";
  EXPECT_THAT(ConfigErrors(*stage, "{" + form +
                                       R"(, "history": {"previous_variable": "last_year",
                                                        "block_on_ex_ante": false,
                                                        "rectified_adjustment": -99,
                                                        "ex_ante_required_from": "5,000,000",
                                                        "ex_ante_continuing": true}})"),
              IsEmpty());
  EXPECT_THAT(ConfigErrors(*stage, "{" + form +
                                       R"(, "history": {"amount_field": "goal", "previous_variable": "",
                                                        "block_on_ex_ante": 1,
                                                        "rectified_adjustment": -100, "cap": 1,
                                                        "ex_ante_required_from": -1,
                                                        "ex_ante_continuing": "yes"}})"),
              UnorderedElementsAre(
                  "history.cap: is not a setting; use previous_variable, amount_field, "
                  "block_on_ex_ante, rectified_adjustment, ex_ante_required_from, "
                  "ex_ante_continuing.",
                  "history.ex_ante_required_from: must be an amount in yuan, 0 or more (e.g. "
                  "5000000).",
                  "history.ex_ante_continuing: must be true or false.",
                  "history.previous_variable: must be a non-empty name.",
                  "history.block_on_ex_ante: must be true or false.",
                  "history.rectified_adjustment: must be a whole percentage from -99 to 0.",
                  "history.amount_field: names \"goal\", which is not a number field of the form."));
  EXPECT_THAT(ConfigErrors(*stage, "{" + form + R"(, "history": {"amount_field": "budget"}})"),
              ElementsAre("history.amount_field: names \"budget\", which is not a field of the form."));
  EXPECT_THAT(ConfigErrors(*stage, "{" + form + R"(, "history": true})"),
              ElementsAre("history: must be an object {previous_variable, amount_field, "
                          "block_on_ex_ante, rectified_adjustment, ex_ante_required_from, "
                          "ex_ante_continuing}."));
}

TEST(StagePluginsTest, DepartmentSubmitConfigErrorsHaveExactPaths) {
  auto stage = Load("department_submit");
  ASSERT_NE(stage, nullptr);
  EXPECT_THAT(ConfigErrors(*stage, "{}"),
              ElementsAre("form: is required: describe the form as {fields: [...]}."));
  EXPECT_THAT(ConfigErrors(*stage, R"({"form": {"fields": []}, "colour": "red"})"),
              ElementsAre("colour: unknown key; allowed keys are: assignee, title, into, form, "
                          "due_working_days, quality, adjustment, history.",
                          "form.fields: must list at least one field."));
  EXPECT_THAT(ConfigErrors(*stage, R"({"form": "yes"})"), ElementsAre("form: must be a mapping."));
  EXPECT_THAT(ConfigErrors(*stage, R"({"form": {"fields": [
                  {"name": "a", "type": "string"},
                  {"name": "b", "type": "enum"},
                  {"name": "c", "type": "string", "typo": 1}]}})"),
              ElementsAre("form.fields[1].values: is required for an enum field: list the "
                          "allowed values.",
                          "form.fields[2].typo: unknown key; allowed keys are: name, label, type, "
                          "required, min, max, max_length, values, columns, min_rows, max_rows."));
  EXPECT_THAT(ConfigErrors(*stage, R"({"form": {"fields": [{"name": "t", "type": "table"}]}})"),
              ElementsAre("form.fields[0].columns: is required for a table field: list the "
                          "column fields."));
  EXPECT_THAT(
      ConfigErrorPaths(*stage, R"({
        "into": "",
        "assignee": {"role": "unit_filer", "team": "x"},
        "form": {"fields": [
          {"name": "a", "type": "text", "required": "yes"},
          {"type": "number", "min": 10, "max": 1, "max_length": 5},
          {"name": "a", "type": "enum", "values": []},
          {"name": "t", "type": "table", "min_rows": 3, "max_rows": 2, "columns": [
            {"name": "x", "type": "table"},
            {"name": "x", "type": "string", "values": ["a"]},
            {"name": "y", "type": "number", "colour": "red"}]},
          "oops"]}})"),
      ElementsAre("assignee.team", "into",
                  // fields[0]
                  "form.fields[0].required", "form.fields[0].type",
                  // fields[1]
                  "form.fields[1].name", "form.fields[1].min", "form.fields[1].max_length",
                  // fields[2]
                  "form.fields[2].values", "form.fields[2].name",
                  // fields[3] and its columns
                  "form.fields[3].columns[0].type", "form.fields[3].columns[1].values",
                  "form.fields[3].columns[1].name", "form.fields[3].columns[2].colour",
                  "form.fields[3].min_rows",
                  // fields[4]
                  "form.fields[4]"));
  EXPECT_THAT(ConfigErrors(*stage, R"({"form": {"fields": [
                  {"name": "a", "type": "text", "required": "yes"}]}})"),
              ElementsAre("form.fields[0].required: must be a boolean (true or false).",
                          "form.fields[0].type: unknown type \"text\"; use one of: string, "
                          "number, integer, boolean, enum, date, table."));
  EXPECT_THAT(ConfigErrors(*stage, R"({"form": {"fields": [
                  {"name": "n", "type": "number", "max_length": 5}]}})"),
              ElementsAre("form.fields[0].max_length: is only allowed for fields of type "
                          "string, not number."));
}

TEST(StagePluginsTest, AssigneeConfigIsChecked) {
  auto stage = Load("review");
  ASSERT_NE(stage, nullptr);
  EXPECT_THAT(ConfigErrors(*stage, R"({"assignee": "boss"})"),
              ElementsAre("assignee: must be a mapping."));
  EXPECT_THAT(ConfigErrors(*stage, R"({"assignee": {"role": "", "org": 5, "group": "g"}})"),
              ElementsAre("assignee.group: unknown key; allowed keys are: role, org, user.",
                          "assignee.role: must not be empty.", "assignee.org: must be a string."));
  EXPECT_THAT(ConfigErrors(*stage, R"({"assignee": {"user": "wang.wu", "role": "r"}})"),
              ElementsAre("assignee.user: names one person and cannot be combined with role "
                          "or org."));
  EXPECT_THAT(ConfigErrors(*stage, R"({"assignee": {"user": "wang.wu"}, "title": "复核"})"),
              IsEmpty());
}

TEST(StagePluginsTest, ReviewConfigErrors) {
  auto stage = Load("review");
  ASSERT_NE(stage, nullptr);
  EXPECT_THAT(ConfigErrors(*stage, R"({"comment_required_on_return": "yes", "titel": "x"})"),
              ElementsAre("titel: unknown key; allowed keys are: assignee, title, "
                          "comment_required_on_return, chain, on_self, superior_role, on_empty, "
                          "fallback_role, return_to, resume, due, remind_before_hours, "
                          "on_overdue, escalate_role, reassign_to.",
                          "comment_required_on_return: must be a boolean (true or false)."));
}

TEST(StagePluginsTest, FinalReviewConfigErrors) {
  auto stage = Load("final_review");
  ASSERT_NE(stage, nullptr);
  EXPECT_THAT(ConfigErrors(*stage, R"({"grades": []})"),
              ElementsAre("grades: must list at least one item."));
  EXPECT_THAT(ConfigErrors(*stage, R"({"grades": ["A", "A", 3]})"),
              ElementsAre("grades[1]: repeats \"A\"; items must be distinct.",
                          "grades[2]: must be a non-empty string."));
  EXPECT_THAT(ConfigErrors(*stage, R"({"grades": "优良"})"), ElementsAre("grades: must be a list."));
}

TEST(StagePluginsTest, RectificationConfigErrors) {
  auto stage = Load("rectification");
  ASSERT_NE(stage, nullptr);
  const std::string range = "due_days: must be a whole number from 1 to 3650.";
  EXPECT_THAT(ConfigErrors(*stage, R"({"due_days": 0})"), ElementsAre(range));
  EXPECT_THAT(ConfigErrors(*stage, R"({"due_days": 3651})"), ElementsAre(range));
  EXPECT_THAT(ConfigErrors(*stage, R"({"due_days": 2.5})"), ElementsAre(range));
  EXPECT_THAT(ConfigErrors(*stage, R"({"due_days": "30"})"),
              ElementsAre("due_days: must be a number."));
  EXPECT_THAT(ConfigErrors(*stage, R"({"due_days": 3650, "requirements": "整改", "unit": {"org": ""},
                                       "checker": {"user": "zhao.liu"}})"),
              IsEmpty());
  EXPECT_THAT(ConfigErrorPaths(*stage, R"({"checker": {"rolle": "x"}, "requirements": 1,
                                           "deadline": 3})"),
              ElementsAre("deadline", "checker.rolle", "requirements"));
}

TEST(StagePluginsTest, DisclosureConfigErrors) {
  auto stage = Load("disclosure");
  ASSERT_NE(stage, nullptr);
  EXPECT_THAT(ConfigErrors(*stage, R"({"mode": "sometimes", "publish": ["grade", 1], "channel": ""})"),
              ElementsAre("mode: must be \"manual\" or \"auto\", not \"sometimes\".",
                          "publish[1]: must be a non-empty string.", "channel: must not be empty."));
  EXPECT_THAT(ConfigErrors(*stage, R"({"mode": "auto", "publish": [], "channel": "gov"})"),
              IsEmpty());
}

// ---- Enter -----------------------------------------------------------------------

TEST(StagePluginsTest, EnterOpensTheRightTasks) {
  struct Want {
    std::string stage;
    std::string config;
    std::string task_json;  // the one TaskSpec, as JSON
  };
  const std::vector<Want> wants = {
      {"department_submit", kTargetForm,
       R"({"name": "fill", "title": "绩效目标申报", "assigneeRole": "unit_filer",
           "assigneeOrg": "edu_bureau", "actions": ["submit"]})"},
      {"review", "{}",
       R"({"name": "review", "title": "审核", "assigneeRole": "authority_reviewer",
           "actions": ["approve", "return", "add_signer", "remove_signer"],
           "data": {"step": 0, "slot": 0}})"},
      {"review", R"({"assignee": {"role": "dept_head", "org": "${org}-audit"}, "title": "复核"})",
       R"({"name": "review", "title": "复核", "assigneeRole": "dept_head",
           "assigneeOrg": "edu_bureau-audit",
           "actions": ["approve", "return", "add_signer", "remove_signer"],
           "data": {"step": 0, "slot": 0}})"},
      {"final_review", R"({"assignee": {"user": "${var.owner}"}})",
       R"({"name": "final_review", "title": "财政终审", "assigneeUser": "zhang.san",
           "actions": ["approve", "return", "reject"]})"},
      {"final_review", "{}",
       R"({"name": "final_review", "title": "财政终审", "assigneeRole": "finance_reviewer",
           "actions": ["approve", "return", "reject"]})"},
      {"disclosure", "{}",
       R"({"name": "publish", "title": "信息公开", "assigneeRole": "performance_section",
           "actions": ["publish"]})"},
  };
  for (const Want& want : wants) {
    SCOPED_TRACE(want.stage + " " + want.config);
    auto stage = Load(want.stage);
    ASSERT_NE(stage, nullptr);
    pb::Decision d = Enter(*stage, Context("s", want.config, R"({"owner": "zhang.san"})"));
    EXPECT_TRUE(d.accepted());
    EXPECT_EQ(d.outcome(), "");
    EXPECT_EQ(d.documents_size(), 0);
    ASSERT_EQ(d.open_tasks_size(), 1);
    pb::TaskSpec want_task;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(want.task_json, &want_task).ok());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(d.open_tasks(0), want_task))
        << ToJson(d.open_tasks(0)) << "\n" << ToJson(want_task);
  }
}

// ---- department_submit -------------------------------------------------------------

TEST(StagePluginsTest, DepartmentSubmitAcceptsAValidPerformanceTarget) {
  auto stage = Load("department_submit");
  ASSERT_NE(stage, nullptr);
  pb::StageContext ctx = Context("fill_targets", kTargetForm);
  pb::Decision entered = Enter(*stage, ctx);
  ASSERT_EQ(entered.open_tasks_size(), 1);
  pb::Decision d = Act(*stage, ctx, TaskFrom(entered.open_tasks(0), "t1"), "submit", kValidTarget);
  EXPECT_THAT(Rejections(d), IsEmpty());
  EXPECT_TRUE(d.accepted());
  EXPECT_EQ(d.outcome(), "submitted");
  EXPECT_EQ(d.note(), "submitted by li.si");
  EXPECT_EQ(d.open_tasks_size(), 0);
  const auto& vars = d.set_variables().fields();
  ASSERT_EQ(vars.size(), 2u);
  EXPECT_THAT(vars.at("target").struct_value(), EqualsJson(kValidTarget));
  EXPECT_EQ(vars.at("submitted_by").string_value(), "li.si");
}

// The engine sends a state's config apart (ConfigWire ahead of the request),
// and the SDK reuses the Struct it parsed for those bytes: the decisions must
// be exactly those of a request carrying its config, for every config, on
// every repeat (cache hits), and a request with a config of its own after the
// prefix must merge as protobuf does.
TEST(StagePluginsTest, ConfigSentApartDecidesExactlyTheSame) {
  auto stage = Load("department_submit");
  ASSERT_NE(stage, nullptr);
  const std::string wide_name = "\"max_length\": 20";
  const std::string narrow = std::string(kTargetForm).replace(
      std::string(kTargetForm).find(wide_name), wide_name.size(), "\"max_length\": 4");
  const std::string with_title = R"({"title": "另一个标题"})";
  for (int round = 0; round < 3; ++round) {
    for (const std::string& config : {std::string(kTargetForm), narrow}) {
      SCOPED_TRACE(round);
      pb::StageContext ctx = Context("fill_targets", config);
      const Struct config_struct = ctx.config();
      const std::string wire = ConfigWire(config_struct);
      const StageHandle::Config apart{config_struct, wire};
      pb::StageContext bare = ctx;
      bare.clear_config();

      pb::EnterRequest enter;
      *enter.mutable_context() = bare;
      auto entered = stage->EnterWithConfig(enter, apart);
      ASSERT_TRUE(entered.ok()) << entered.status();
      pb::Decision whole = Enter(*stage, ctx);
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*entered, whole))
          << ToJson(*entered) << "\n" << ToJson(whole);

      pb::ActRequest act;
      *act.mutable_context() = bare;
      *act.mutable_task() = TaskFrom(whole.open_tasks(0), "t1");
      act.set_action("submit");
      *act.mutable_payload() = Json(kValidTarget);
      auto acted = stage->ActWithConfig(act, apart);
      ASSERT_TRUE(acted.ok()) << acted.status();
      pb::Decision direct = Act(*stage, ctx, act.task(), "submit", kValidTarget);
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*acted, direct))
          << ToJson(*acted) << "\n" << ToJson(direct);
      // The narrow form refuses the long project name; the wide one accepts.
      EXPECT_EQ(direct.accepted(), config != narrow);

      // A config after the prefix merges into it (its keys win).
      pb::EnterRequest both;
      *both.mutable_context() = bare;
      *both.mutable_context()->mutable_config() = Json(with_title);
      auto merged = stage->EnterWithConfig(both, apart);
      ASSERT_TRUE(merged.ok()) << merged.status();
      pb::StageContext merged_ctx = ctx;
      merged_ctx.mutable_config()->MergeFrom(Json(with_title));
      pb::Decision expected = Enter(*stage, merged_ctx);
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*merged, expected))
          << ToJson(*merged) << "\n" << ToJson(expected);
      EXPECT_EQ(merged->open_tasks(0).title(), "另一个标题");
    }
  }
}

TEST(StagePluginsTest, DepartmentSubmitReportsEveryProblemWithItsPath) {
  auto stage = Load("department_submit");
  ASSERT_NE(stage, nullptr);
  pb::StageContext ctx = Context("fill_targets", kTargetForm);
  pb::TaskInfo task = TaskFrom(Enter(*stage, ctx).open_tasks(0), "t1");
  pb::Decision d = Act(*stage, ctx, task, "submit", R"({
    "project_name": "义务教育阶段学生营养改善计划二〇二四年度项目",
    "budget": "1250",
    "year": 2024.5,
    "start_date": "2023-02-29",
    "continuing": "yes",
    "fund_type": "专项资金",
    "remark": "x",
    "indicators": [
      {"level1": "产出指标", "level2": "数量指标", "level3": "受益学生人数", "operator": "≥",
       "target": "12000", "unit": "人", "weight": 120},
      {"level1": "投入指标", "level2": "质量指标", "level3": "   ", "operator": ">",
       "target": "0", "weight": -1, "note": "?"},
      "not a row",
      {"level1": "满意度指标", "level2": "服务对象满意度指标", "level3": "满意度",
       "operator": "定性", "target": 90, "weight": 10}
    ]
  })");
  EXPECT_FALSE(d.accepted());
  EXPECT_EQ(d.outcome(), "");
  EXPECT_EQ(d.set_variables().fields_size(), 0);
  EXPECT_THAT(
      Rejections(d),
      ElementsAre("payload.remark: unknown field (未知字段)",
                  "payload.project_name: must be at most 20 characters",
                  "payload.budget: must be a number",
                  "payload.year: must be a whole number (integer)",
                  "payload.start_date: must be a real date written YYYY-MM-DD",
                  "payload.continuing: must be true or false",
                  "payload.fund_type: must be one of 一般公共预算, 政府性基金预算",
                  "payload.indicators[0].weight: must be at most 100",
                  "payload.indicators[1].note: unknown field (未知字段)",
                  "payload.indicators[1].level1: must be one of 产出指标, 效益指标, 满意度指标",
                  "payload.indicators[1].level3: is required (必填)",
                  "payload.indicators[1].operator: must be one of ≥, ＞, ＝, ＜, ≤, 定性",
                  "payload.indicators[1].weight: must be at least 0",
                  "payload.indicators[2]: must be an object (one table row)",
                  "payload.indicators[3].target: must be a string"));
}

TEST(StagePluginsTest, DepartmentSubmitRequiredFieldsAndRows) {
  auto stage = Load("department_submit");
  ASSERT_NE(stage, nullptr);
  pb::StageContext ctx = Context("fill_targets", kTargetForm);
  pb::TaskInfo task = TaskFrom(Enter(*stage, ctx).open_tasks(0), "t1");
  EXPECT_THAT(Rejections(Act(*stage, ctx, task, "submit", R"({"budget": null})")),
              ElementsAre("payload.project_name: is required (必填)",
                          "payload.budget: is required (必填)", "payload.year: is required (必填)",
                          "payload.indicators: is required (必填)"));
  EXPECT_THAT(Rejections(Act(*stage, ctx, task, "submit",
                             R"({"project_name": "p", "budget": 1, "year": 2024,
                                 "start_date": "2024/01/01", "indicators": {}})")),
              ElementsAre("payload.start_date: must be a real date written YYYY-MM-DD",
                          "payload.indicators: must be a list of rows"));
}

TEST(StagePluginsTest, DepartmentSubmitDefaultsIntoFormAndMaxLength) {
  auto stage = Load("department_submit");
  ASSERT_NE(stage, nullptr);
  pb::StageContext ctx =
      Context("fill", R"({"form": {"fields": [{"name": "summary", "type": "string"}]}})");
  pb::Decision entered = Enter(*stage, ctx);
  ASSERT_EQ(entered.open_tasks_size(), 1);
  EXPECT_EQ(entered.open_tasks(0).title(), "填报");
  pb::TaskInfo task = TaskFrom(entered.open_tasks(0), "t1");
  std::string ok(2000, 'a');
  pb::Decision d = Act(*stage, ctx, task, "submit", R"({"summary": ")" + ok + R"("})");
  EXPECT_EQ(d.outcome(), "submitted");
  EXPECT_EQ(d.set_variables().fields().at("form").struct_value().fields().at("summary")
                .string_value(),
            ok);
  EXPECT_THAT(Rejections(Act(*stage, ctx, task, "submit", R"({"summary": ")" + ok + R"(b"})")),
              ElementsAre("payload.summary: must be at most 2000 characters"));
}

// ---- review --------------------------------------------------------------------

// The chain resumes where variables._review says (a returned filing goes
// back to the step that returned it): the stage trusts that variable, which is
// why the engine refuses names beginning with "_" from a starter
// (EngineTest.AStarterCannotGiveAStagesOwnState).
TEST(StagePluginsTest, ReviewResumesWhereItsOwnStateSays) {
  auto stage = Load("review");
  ASSERT_NE(stage, nullptr);
  const std::string config = R"({"chain": [
      {"level": "role", "role": "first_reviewer", "name": "first"},
      {"level": "role", "role": "second_reviewer", "name": "second"}]})";
  pb::Decision fresh = Enter(*stage, Context("authority_review", config));
  ASSERT_EQ(fresh.open_tasks_size(), 1);
  EXPECT_EQ(fresh.open_tasks(0).assignee_role(), "first_reviewer");
  pb::Decision resumed = Enter(
      *stage, Context("authority_review", config,
                      R"({"_review": {"authority_review": {"resume_at": 1}}})"));
  ASSERT_EQ(resumed.open_tasks_size(), 1);
  EXPECT_EQ(resumed.open_tasks(0).assignee_role(), "second_reviewer");
}

TEST(StagePluginsTest, ReviewApproveAndReturn) {
  auto stage = Load("review");
  ASSERT_NE(stage, nullptr);
  pb::StageContext entry = Context("authority_review", "{}", "{}", "wang.wu");
  pb::Decision entered = Enter(*stage, entry);
  ASSERT_EQ(entered.open_tasks_size(), 1);
  // The chain's progress travels in variables._review: the engine merges it.
  pb::StageContext ctx = entry;
  *ctx.mutable_variables() = entered.set_variables();
  pb::TaskInfo task = TaskFrom(entered.open_tasks(0), "t1");
  auto last_review = [](const pb::Decision& d) {
    return d.set_variables().fields().at("last_review").struct_value();
  };

  pb::Decision approved = Act(*stage, ctx, task, "approve", "{}", "同意");
  EXPECT_TRUE(approved.accepted());
  EXPECT_EQ(approved.outcome(), "approved");
  EXPECT_THAT(last_review(approved),
              EqualsJson(R"({"state": "authority_review", "step": "role", "action": "approve",
                             "by": "wang.wu", "comment": "同意", "at_unix_ms": 1700000000000})"));
  // The chain is done: its progress is removed.
  EXPECT_THAT(approved.set_variables().fields().at("_review").struct_value(), EqualsJson("{}"));

  pb::Decision no_comment = Act(*stage, ctx, task, "return", "{}", " \t　 ");
  EXPECT_FALSE(no_comment.accepted());
  EXPECT_EQ(no_comment.outcome(), "");
  EXPECT_THAT(Rejections(no_comment),
              ElementsAre("comment: a return needs a comment (退回须填写意见)"));

  pb::Decision returned = Act(*stage, ctx, task, "return", "{}", "指标值不明确");
  EXPECT_TRUE(returned.accepted());
  EXPECT_EQ(returned.outcome(), "returned");
  EXPECT_THAT(last_review(returned),
              EqualsJson(R"({"state": "authority_review", "step": "role", "action": "return",
                             "by": "wang.wu", "comment": "指标值不明确",
                             "at_unix_ms": 1700000000000})"));

  pb::StageContext lenient = ctx;
  *lenient.mutable_config() = Json(R"({"comment_required_on_return": false})");
  EXPECT_EQ(Act(*stage, lenient, task, "return").outcome(), "returned");
  // A task of a step that is no longer current is refused.
  pb::TaskInfo stale = task;
  (*stale.mutable_data()->mutable_fields())["step"].set_number_value(3);
  EXPECT_THAT(Rejections(Act(*stage, ctx, stale, "approve")),
              ElementsAre("task_id: task t1 belongs to a review step that is no longer current"));
}

// ---- final_review --------------------------------------------------------------

TEST(StagePluginsTest, FinalReviewGrades) {
  auto stage = Load("final_review");
  ASSERT_NE(stage, nullptr);
  pb::StageContext ctx = Context("final_review", "{}", "{}", "zhao.liu");
  pb::TaskInfo task = TaskFrom(Enter(*stage, ctx).open_tasks(0), "t1");
  const std::string bad_grade = "payload.grade: must be one of 优, 良, 中, 差";

  EXPECT_THAT(Rejections(Act(*stage, ctx, task, "approve")), ElementsAre(bad_grade));
  EXPECT_THAT(Rejections(Act(*stage, ctx, task, "approve", R"({"grade": "甲"})")),
              ElementsAre(bad_grade));
  EXPECT_THAT(Rejections(Act(*stage, ctx, task, "approve", R"({"grade": 1, "score": 90})")),
              ElementsAre("payload.score: unknown field (未知字段)", bad_grade));

  pb::Decision approved = Act(*stage, ctx, task, "approve", R"({"grade": "良"})");
  EXPECT_TRUE(approved.accepted());
  EXPECT_EQ(approved.outcome(), "approved");
  EXPECT_THAT(approved.set_variables(),
              EqualsJson(R"({"grade": "良", "final_review": {"action": "approve", "by": "zhao.liu",
                              "comment": "", "grade": "良", "at_unix_ms": 1700000000000}})"));

  EXPECT_THAT(Rejections(Act(*stage, ctx, task, "return")),
              ElementsAre("comment: a return needs a comment (退回须填写意见)"));
  EXPECT_THAT(Rejections(Act(*stage, ctx, task, "return", R"({"grade": "优"})", "补充材料")),
              ElementsAre("payload.grade: a return takes no grade (退回不评级)"));
  pb::Decision returned = Act(*stage, ctx, task, "return", "{}", "补充材料");
  EXPECT_EQ(returned.outcome(), "returned");
  EXPECT_THAT(returned.set_variables(),
              EqualsJson(R"({"final_review": {"action": "return", "by": "zhao.liu",
                              "comment": "补充材料", "at_unix_ms": 1700000000000}})"));

  EXPECT_THAT(Rejections(Act(*stage, ctx, task, "reject", R"({"grade": "劣"})")),
              ElementsAre(bad_grade, "comment: a reject needs a comment (不予通过须填写意见)"));
  pb::Decision rejected = Act(*stage, ctx, task, "reject", R"({"grade": "差"})", "目标严重偏离");
  EXPECT_EQ(rejected.outcome(), "rejected");
  EXPECT_EQ(rejected.set_variables().fields().at("grade").string_value(), "差");
  EXPECT_EQ(Act(*stage, ctx, task, "reject", "{}", "不符合立项条件").outcome(), "rejected");

  pb::StageContext custom = Context("final_review", R"({"grades": ["A", "B"]})");
  EXPECT_THAT(Rejections(Act(*stage, custom, task, "approve", R"({"grade": "优"})")),
              ElementsAre("payload.grade: must be one of A, B"));
  EXPECT_EQ(Act(*stage, custom, task, "approve", R"({"grade": "B"})").outcome(), "approved");
}

// ---- rectification ---------------------------------------------------------------

// variables.rectification is the instance's, which a client may set at start:
// numbers out of any range (or NaN) read as absent, never as a cast's
// undefined result (the sanitizer build stops on one).
TEST(StagePluginsTest, RectificationReadsAbsurdStoredNumbersAsAbsent) {
  auto stage = Load("rectification");
  ASSERT_NE(stage, nullptr);
  for (double absurd : {1e300, -1e300, std::nan(""), 2147483648.0}) {
    SCOPED_TRACE(absurd);
    pb::StageContext ctx = Context("rectify", R"({"due_days": 10})");
    Struct& rect = *(*ctx.mutable_variables()->mutable_fields())["rectification"]
                        .mutable_struct_value();
    (*rect.mutable_fields())["round"].set_number_value(absurd);
    (*rect.mutable_fields())["due_unix_ms"].set_number_value(absurd);
    pb::TaskInfo check;
    check.set_id("t2");
    check.set_name("check");
    pb::Decision returned = Act(*stage, ctx, check, "return", "{}", "凭证不全");
    ASSERT_TRUE(returned.accepted());
    const Struct& after = returned.set_variables().fields().at("rectification").struct_value();
    EXPECT_EQ(after.fields().at("round").number_value(), 2);  // round 1, returned
    // A deadline out of range is none: a fresh one (2^31 ms is a valid instant).
    EXPECT_EQ(after.fields().at("due_unix_ms").number_value(),
              absurd == 2147483648.0 ? absurd : static_cast<double>(kNow + 10 * kDayMs));
  }
}

TEST(StagePluginsTest, RectificationLoopKeepsTheOriginalDeadline) {
  auto stage = Load("rectification");
  ASSERT_NE(stage, nullptr);
  pb::StageContext ctx =
      Context("rectify", R"({"due_days": 10, "requirements": "补充资金使用佐证材料"})");
  const int64_t due = kNow + 10 * kDayMs;

  // Enter: deadline, round 1, one task for the unit.
  pb::Decision entered = Enter(*stage, ctx);
  EXPECT_TRUE(entered.accepted());
  EXPECT_EQ(entered.outcome(), "");
  EXPECT_THAT(entered.set_variables(),
              EqualsJson(R"({"rectification": {"due_unix_ms": 1700864000000,
                              "requirements": "补充资金使用佐证材料", "round": 1}})"));
  ASSERT_EQ(entered.open_tasks_size(), 1);
  const pb::TaskSpec& submit1 = entered.open_tasks(0);
  EXPECT_EQ(submit1.name(), "submit_evidence");
  EXPECT_EQ(Strings(submit1.actions()), std::vector<std::string>{"submit"});
  EXPECT_EQ(submit1.due_unix_ms(), due);
  EXPECT_EQ(submit1.assignee_role(), "unit_filer");
  EXPECT_EQ(submit1.assignee_org(), "edu_bureau");
  ApplyVariables(entered, &ctx);

  // A bad submission is refused with every problem.
  EXPECT_THAT(Rejections(Act(*stage, ctx, TaskFrom(submit1, "t1"), "submit",
                             R"({"evidence": " ", "files": 1,
                                 "attachments": [{"name": "", "sha256": "ABC", "size": 3}, 7]})")),
              ElementsAre("payload.files: unknown field (未知字段)",
                          "payload.evidence: is required: describe the rectification (须说明整改情况)",
                          "payload.attachments[0].size: unknown field (未知字段)",
                          "payload.attachments[0].name: must be a non-empty file name",
                          "payload.attachments[0].sha256: must be a SHA-256 digest: 64 lowercase "
                          "hex digits",
                          "payload.attachments[1]: must be an object {name, sha256}"));

  // Round 1 submission, on time: stays, opens the check.
  const std::string sha(64, 'a');
  ctx.set_now_unix_ms(kNow + kDayMs);
  pb::Decision submitted = Act(*stage, ctx, TaskFrom(submit1, "t1"), "submit",
                               R"({"evidence": "已补充拨付凭证", "attachments": [
                                     {"name": "凭证.pdf", "sha256": ")" + sha + R"("}]})");
  EXPECT_TRUE(submitted.accepted());
  EXPECT_EQ(submitted.outcome(), "");
  EXPECT_THAT(submitted.set_variables(),
              EqualsJson(R"({"rectification": {"due_unix_ms": 1700864000000,
                  "requirements": "补充资金使用佐证材料", "round": 1, "evidence": "已补充拨付凭证",
                  "attachments": [{"name": "凭证.pdf", "sha256": ")" + sha + R"("}],
                  "submitted_by": "li.si", "submitted_at_unix_ms": 1700086400000,
                  "overdue": false}})"));
  ASSERT_EQ(submitted.open_tasks_size(), 1);
  const pb::TaskSpec& check1 = submitted.open_tasks(0);
  EXPECT_EQ(check1.name(), "check");
  EXPECT_EQ(Strings(check1.actions()), (std::vector<std::string>{"accept", "return"}));
  EXPECT_EQ(check1.assignee_role(), "finance_reviewer");
  EXPECT_EQ(check1.assignee_org(), "");
  EXPECT_EQ(check1.due_unix_ms(), 0);
  ApplyVariables(submitted, &ctx);

  // Return: needs a comment; then a new submit task with the ORIGINAL deadline.
  ctx.mutable_actor()->set_user("zhao.liu");
  ctx.set_now_unix_ms(kNow + 5 * kDayMs);
  EXPECT_THAT(Rejections(Act(*stage, ctx, TaskFrom(check1, "t2"), "return")),
              ElementsAre("comment: a return needs a comment (退回须填写意见)"));
  pb::Decision returned = Act(*stage, ctx, TaskFrom(check1, "t2"), "return", "{}", "凭证不全");
  EXPECT_TRUE(returned.accepted());
  EXPECT_EQ(returned.outcome(), "");
  ASSERT_EQ(returned.open_tasks_size(), 1);
  const pb::TaskSpec& submit2 = returned.open_tasks(0);
  EXPECT_EQ(submit2.name(), "submit_evidence");
  EXPECT_EQ(submit2.due_unix_ms(), due);
  EXPECT_EQ(submit2.data().fields().at("round").number_value(), 2);
  const Struct& rect2 = returned.set_variables().fields().at("rectification").struct_value();
  EXPECT_EQ(rect2.fields().at("round").number_value(), 2);
  EXPECT_EQ(rect2.fields().at("due_unix_ms").number_value(), static_cast<double>(due));
  EXPECT_EQ(rect2.fields().at("return_comment").string_value(), "凭证不全");
  ApplyVariables(returned, &ctx);

  // Round 2 submission after the deadline: accepted, marked overdue.
  ctx.mutable_actor()->set_user("li.si");
  ctx.set_now_unix_ms(due + 1);
  pb::Decision late = Act(*stage, ctx, TaskFrom(submit2, "t3"), "submit",
                          R"({"evidence": "已补齐全部凭证"})");
  EXPECT_TRUE(late.accepted());
  EXPECT_EQ(late.outcome(), "");
  const Struct& rect3 = late.set_variables().fields().at("rectification").struct_value();
  EXPECT_TRUE(rect3.fields().at("overdue").bool_value());
  EXPECT_EQ(rect3.fields().at("round").number_value(), 2);
  EXPECT_EQ(rect3.fields().at("evidence").string_value(), "已补齐全部凭证");
  EXPECT_EQ(rect3.fields().at("attachments").list_value().values_size(), 0);
  ASSERT_EQ(late.open_tasks_size(), 1);
  EXPECT_EQ(late.open_tasks(0).name(), "check");
  ApplyVariables(late, &ctx);

  // Accept: leaves the state.
  ctx.mutable_actor()->set_user("zhao.liu");
  pb::Decision accepted =
      Act(*stage, ctx, TaskFrom(late.open_tasks(0), "t4"), "accept", "{}", "");
  EXPECT_TRUE(accepted.accepted());
  EXPECT_EQ(accepted.outcome(), "accepted");
  EXPECT_EQ(accepted.open_tasks_size(), 0);
  const Struct& done = accepted.set_variables().fields().at("rectification").struct_value();
  EXPECT_EQ(done.fields().at("result").string_value(), "整改到位");
  EXPECT_EQ(done.fields().at("checked_by").string_value(), "zhao.liu");
  EXPECT_EQ(done.fields().at("round").number_value(), 2);
  EXPECT_EQ(done.fields().at("due_unix_ms").number_value(), static_cast<double>(due));
}

TEST(StagePluginsTest, RectificationDefaultsToThirtyDays) {
  auto stage = Load("rectification");
  ASSERT_NE(stage, nullptr);
  pb::Decision d = Enter(*stage, Context("rectify", R"({"unit": {"user": "${var.owner}"}})",
                                         R"({"owner": "zhang.san"})"));
  ASSERT_EQ(d.open_tasks_size(), 1);
  EXPECT_EQ(d.open_tasks(0).due_unix_ms(), kNow + 30 * kDayMs);
  EXPECT_EQ(d.open_tasks(0).assignee_user(), "zhang.san");
  EXPECT_EQ(d.open_tasks(0).assignee_role(), "");
  EXPECT_THAT(d.set_variables(),
              EqualsJson(R"({"rectification": {"due_unix_ms": 1702592000000,
                              "requirements": "", "round": 1}})"));
}

// ---- disclosure ----------------------------------------------------------------

const char kDisclosureVars[] = R"({
  "target": {"project_name": "营养改善计划", "budget": 1250.5},
  "grade": "优",
  "reviewer_phone": "13800000000"
})";

// The variables each stage on the approval chain says it reads under a
// config (ValidateConfigResponse.variables): the engine sends it only these.
// "-" when it did not say (it gets every variable).
std::string Declared(const std::string& name, const std::string& config) {
  auto stage = Load(name);
  if (stage == nullptr) return "no plugin";
  pb::ValidateConfigRequest req;
  *req.mutable_config() = Json(config);
  auto resp = stage->ValidateConfig(req);
  EXPECT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->errors_size(), 0) << name << " " << config;
  if (!resp->has_variables()) return "-";
  return absl::StrJoin(resp->variables().names(), ",");
}

TEST(StagePluginsTest, ChainStagesDeclareTheVariablesTheyRead) {
  EXPECT_EQ(Declared("review", "{}"), "_review,submitted_by");
  EXPECT_EQ(Declared("review", R"({"assignee": {"user": "${var.head}"}})"),
            "_review,head,submitted_by");
  EXPECT_EQ(Declared("final_review", "{}"), "");
  EXPECT_EQ(Declared("rectification", "{}"), "rectification");
  EXPECT_EQ(Declared("disclosure", R"({"mode": "auto", "publish": ["grade", "target"]})"),
            "disclosure,grade,target");
  EXPECT_EQ(Declared("disclosure", R"({"mode": "auto"})"), "-");  // publishes them all
  const std::string form = R"("form": {"fields": [{"name": "amount", "type": "number"}]})";
  EXPECT_EQ(Declared("department_submit", "{" + form + "}"), "");
  EXPECT_EQ(Declared("department_submit",
                     "{" + form + R"(, "history": {"amount_field": "amount"}})"),
            "previous_subject_ref,project_history");
}

TEST(StagePluginsTest, DisclosureAutoPublishesSelectedVariables) {
  auto stage = Load("disclosure");
  ASSERT_NE(stage, nullptr);
  pb::StageContext ctx = Context(
      "disclose", R"({"mode": "auto", "publish": ["grade", "target", "absent"], "channel": "gov"})",
      kDisclosureVars, "");
  pb::Decision d = Enter(*stage, ctx);
  EXPECT_TRUE(d.accepted());
  EXPECT_EQ(d.outcome(), "published");
  EXPECT_EQ(d.open_tasks_size(), 0);
  ASSERT_EQ(d.documents_size(), 1);
  EXPECT_EQ(d.documents(0).kind(), "disclosure");
  EXPECT_EQ(d.documents(0).content_type(), "application/json");
  EXPECT_EQ(d.documents(0).content(),
            R"({"channel":"gov","data":{"grade":"优","target":{"budget":1250.5,)"
            R"("project_name":"营养改善计划"}},"definition_key":"perf_target",)"
            R"("instance_id":"inst-1","on_time":true,"org":"edu_bureau","published_at_unix_ms":1700000000000,)"
            R"("published_by":"system","state":"disclose","subject_ref":"P2024-001"})");
  EXPECT_THAT(d.set_variables(),
              EqualsJson(R"({"disclosure": {"channel": "gov", "on_time": true,
                                            "published_at_unix_ms": 1700000000000}})"));
}

TEST(StagePluginsTest, DisclosureManualPublishesWithRedactionNote) {
  auto stage = Load("disclosure");
  ASSERT_NE(stage, nullptr);
  pb::StageContext ctx = Context("disclose", "{}", R"({"grade": "良", "n": 2})", "qian.qi");
  pb::Decision entered = Enter(*stage, ctx);
  EXPECT_EQ(entered.outcome(), "");
  EXPECT_EQ(entered.documents_size(), 0);
  ASSERT_EQ(entered.open_tasks_size(), 1);
  pb::TaskInfo task = TaskFrom(entered.open_tasks(0), "t1");

  EXPECT_THAT(Rejections(Act(*stage, ctx, task, "publish",
                             R"({"channel": 3, "redaction_note": false, "when": "now"})")),
              ElementsAre("payload.when: unknown field (未知字段)",
                          "payload.channel: must be a non-empty string",
                          "payload.redaction_note: must be a string"));

  pb::Decision d = Act(*stage, ctx, task, "publish", R"({"redaction_note": "已隐去联系人信息"})");
  EXPECT_TRUE(d.accepted());
  EXPECT_EQ(d.outcome(), "published");
  ASSERT_EQ(d.documents_size(), 1);
  // Default publish list: every variable; default channel: portal.
  EXPECT_EQ(d.documents(0).content(),
            R"({"channel":"portal","data":{"grade":"良","n":2},"definition_key":"perf_target",)"
            R"("instance_id":"inst-1","on_time":true,"org":"edu_bureau","published_at_unix_ms":1700000000000,)"
            R"("published_by":"qian.qi","redaction_note":"已隐去联系人信息","state":"disclose",)"
            R"("subject_ref":"P2024-001"})");
  EXPECT_THAT(d.set_variables(),
              EqualsJson(R"({"disclosure": {"channel": "portal", "on_time": true,
                                            "published_at_unix_ms": 1700000000000}})"));

  pb::Decision other = Act(*stage, ctx, task, "publish", R"({"channel": "newspaper"})");
  ASSERT_EQ(other.documents_size(), 1);
  EXPECT_NE(other.documents(0).content().find(R"("channel":"newspaper")"), std::string::npos);
  EXPECT_EQ(other.documents(0).content().find("redaction_note"), std::string::npos);
}

TEST(StagePluginsTest, DisclosureRedactsAfterAReviewAndTracksTheDeadline) {
  auto stage = Load("disclosure");
  ASSERT_NE(stage, nullptr);
  const char* config = R"({"publish": ["grade", "target", "reviewer_phone"], "due_days": 20,
                           "review": {"assignee": {"role": "perf_head"}}})";
  pb::StageContext ctx = Context("disclose", config, kDisclosureVars, "qian.qi");
  pb::Decision entered = Enter(*stage, ctx);
  ASSERT_EQ(entered.open_tasks_size(), 1);
  EXPECT_EQ(entered.open_tasks(0).due().days(), 20);
  EXPECT_TRUE(entered.open_tasks(0).overdue_timer());
  pb::TaskInfo task = TaskFrom(entered.open_tasks(0), "t1");
  const int64_t due = kNow + 20LL * 24 * 3600 * 1000;
  task.set_due_unix_ms(due);  // as the engine computes it
  *ctx.add_open_tasks() = task;

  // A redaction names a path of the published data, and gives a reason.
  EXPECT_THAT(Rejections(Act(*stage, ctx, task, "publish",
                             R"({"redactions": ["reviewer_phone", "target.nope", ""]})")),
              ElementsAre("payload.redactions[2]: must be a non-empty string",
                          "payload.redaction_note: is required with redactions: say why (保密理由)"));
  EXPECT_THAT(Rejections(Act(*stage, ctx, task, "publish",
                             R"({"redactions": ["target.nope"], "redaction_note": "x"})")),
              ElementsAre("payload.redactions[0]: 'target.nope' is not in the published data"));

  // Publish only proposes: the reviewer (never the preparer) gets a review task.
  pb::Decision proposed = Act(*stage, ctx, task, "publish",
                              R"({"redactions": ["reviewer_phone", "target.budget"],
                                  "redaction_note": "隐去个人联系方式和未公开预算数"})");
  ASSERT_TRUE(proposed.accepted());
  EXPECT_EQ(proposed.outcome(), "");
  EXPECT_EQ(proposed.documents_size(), 0);
  ASSERT_EQ(proposed.open_tasks_size(), 1);
  const pb::TaskSpec& review = proposed.open_tasks(0);
  EXPECT_EQ(review.name(), "review");
  EXPECT_EQ(review.assignee_role(), "perf_head");
  EXPECT_THAT(review.exclude_users(), ElementsAre("qian.qi"));
  pb::TaskInfo review_task = TaskFrom(review, "t2");

  // A return needs a comment and reopens publish with the same deadline.
  pb::StageContext reviewer = Context("disclose", config, kDisclosureVars, "zhou.min");
  EXPECT_THAT(Rejections(Act(*stage, reviewer, review_task, "return")),
              ElementsAre("comment: a return needs a comment (退回须填写意见)"));
  pb::Decision returned =
      Act(*stage, reviewer, review_task, "return", "{}", "预算数已公开，无需隐去");
  ASSERT_EQ(returned.open_tasks_size(), 1);
  EXPECT_EQ(returned.open_tasks(0).name(), "publish");
  EXPECT_EQ(returned.open_tasks(0).due_unix_ms(), due);

  // Approved after the deadline: published, redacted, recorded as late.
  reviewer.set_now_unix_ms(due + 1);
  pb::Decision d = Act(*stage, reviewer, review_task, "approve");
  ASSERT_TRUE(d.accepted());
  EXPECT_EQ(d.outcome(), "published");
  ASSERT_EQ(d.documents_size(), 1);
  const std::string& content = d.documents(0).content();
  EXPECT_EQ(content.find("13800000000"), std::string::npos);
  EXPECT_EQ(content.find("1250.5"), std::string::npos);
  EXPECT_NE(content.find(R"("target":{"project_name":"营养改善计划"})"), std::string::npos);
  EXPECT_NE(content.find(R"("redacted":["reviewer_phone","target.budget"])"), std::string::npos);
  EXPECT_NE(content.find(R"("reviewed_by":"zhou.min")"), std::string::npos);
  EXPECT_NE(content.find(R"("published_by":"qian.qi")"), std::string::npos);
  EXPECT_NE(content.find(R"("on_time":false)"), std::string::npos);
  EXPECT_EQ(d.set_variables().fields().at("disclosure").struct_value().fields().at("on_time").bool_value(),
            false);

  // The overdue timer marks the instance.
  pb::TimerRequest timer;
  *timer.mutable_context() = ctx;
  timer.set_timer("overdue");
  auto late = stage->OnTimer(timer);
  ASSERT_TRUE(late.ok());
  EXPECT_THAT(late->set_variables(), EqualsJson(R"({"disclosure": {"overdue": true}})"));
}

TEST(StagePluginsTest, DisclosureReviewConfigErrors) {
  auto stage = Load("disclosure");
  ASSERT_NE(stage, nullptr);
  EXPECT_THAT(ConfigErrors(*stage, R"({"mode": "auto", "due_days": 0,
                                      "review": {"assignee": {"rolle": "x"}, "when": 1}})"),
              ElementsAre("due_days: must be a whole number from 1 to 366.",
                          "review.when: unknown key; allowed keys are: assignee, title.",
                          "review.assignee.rolle: unknown key; allowed keys are: role, org, user.",
                          "review: needs mode manual: an automatic publication has nobody to review."));
}

TEST(StagePluginsTest, UnknownTaskOrActionIsRejected) {
  auto stage = Load("rectification");
  ASSERT_NE(stage, nullptr);
  pb::TaskInfo task;
  task.set_name("check");
  EXPECT_THAT(Rejections(Act(*stage, Context("rectify", "{}"), task, "submit")),
              ElementsAre("action: task 'check' of this stage has no action 'submit'"));
}

// ---- result_application (评价结果应用) -----------------------------------------------

TEST(ResultApplicationTest, AutoModeAppliesTheDefaultMapOnEntering) {
  auto stage = Load("result_application");
  ASSERT_NE(stage, nullptr);
  struct Case {
    const char* grade;
    const char* action;
    int adjustment;
  };
  for (const Case& c : {Case{"优", "优先保障", 0}, Case{"良", "保障", 0}, Case{"中", "压减", -20},
                        Case{"差", "取消", -100}}) {
    pb::Decision d =
        Enter(*stage, Context("apply", "{}", std::string(R"({"grade": ")") + c.grade + R"("})"));
    ASSERT_TRUE(d.accepted()) << c.grade;
    EXPECT_EQ(d.outcome(), "applied");
    const auto& f = d.set_variables().fields().at("result_application").struct_value().fields();
    EXPECT_EQ(f.at("action").string_value(), c.action);
    EXPECT_EQ(f.at("adjustment").number_value(), c.adjustment);
    EXPECT_EQ(f.at("by").string_value(), "li.si");
  }
  // No grade, or one without an action: entering is refused, never skipped.
  pb::Decision none = Enter(*stage, Context("apply", "{}"));
  EXPECT_FALSE(none.accepted());
  EXPECT_THAT(Rejections(none),
              ElementsAre("variables.grade: no grade to apply: the evaluation comes first"));
  pb::Decision odd = Enter(*stage, Context("apply", R"({"grade_variable": "g"})", R"({"g": "A"})"));
  EXPECT_THAT(Rejections(odd), ElementsAre("variables.g: grade 'A' has no budget action"));
}

TEST(ResultApplicationTest, ManualModeLetsFinanceChangeTheAdjustmentWithAReason) {
  auto stage = Load("result_application");
  ASSERT_NE(stage, nullptr);
  const std::string config =
      R"({"mode": "manual", "grade_variable": "self_eval_grade",
          "actions": {"中": {"action": "压减", "adjustment": -30}, "优": {"action": "优先保障", "adjustment": 10}}})";
  pb::StageContext ctx = Context("apply", config, R"({"self_eval_grade": "中"})", "wang");
  pb::Decision entered = Enter(*stage, ctx);
  ASSERT_TRUE(entered.accepted());
  EXPECT_EQ(entered.outcome(), "");
  ASSERT_EQ(entered.open_tasks_size(), 1);
  EXPECT_EQ(entered.open_tasks(0).assignee_role(), "finance_reviewer");
  const pb::TaskInfo task = TaskFrom(entered.open_tasks(0), "t-1");
  EXPECT_THAT(Rejections(Act(*stage, ctx, task, "apply", R"({"adjustment": -10})")),
              ElementsAre("payload.reason: is required to change the adjustment from -30% (调整理由)"));
  EXPECT_THAT(Rejections(Act(*stage, ctx, task, "apply", R"({"adjustment": 2.5, "reason": "x"})")),
              ElementsAre("payload.adjustment: must be a whole percent from -100 to 100"));
  pb::Decision d = Act(*stage, ctx, task, "apply", R"({"adjustment": -10, "reason": "已完成整改"})");
  ASSERT_TRUE(d.accepted()) << ::testing::PrintToString(Rejections(d));
  EXPECT_EQ(d.outcome(), "applied");
  EXPECT_THAT(d.set_variables().fields().at("result_application").struct_value(),
              EqualsJson(R"({"grade": "中", "action": "压减", "adjustment": -10,
                             "default_adjustment": -30, "reason": "已完成整改", "by": "wang",
                             "at_unix_ms": 1700000000000})"));
  // The configured default, confirmed as it is, needs no reason.
  EXPECT_TRUE(Act(*stage, ctx, task, "apply", "{}").accepted());
}

TEST(ResultApplicationTest, ConfigIsChecked) {
  auto stage = Load("result_application");
  ASSERT_NE(stage, nullptr);
  EXPECT_THAT(ConfigErrors(*stage, "{}"), IsEmpty());
  EXPECT_THAT(ConfigErrors(*stage, R"({"actions": {"优": {"action": "保障"}, "差": {"action": "",
              "adjustment": -200}}, "mode": "later", "colour": 1})"),
              ElementsAre("colour: unknown key; allowed keys are: grade_variable, actions, mode, "
                          "assignee, title.",
                          "actions.优.adjustment: is required (percent, -100..100).",  // 优 < 差 in UTF-8
                          "actions.差.action: must not be empty.",
                          "actions.差.adjustment: must be a whole number from -100 to 100.",
                          "mode: must be auto or manual."));
}

}  // namespace
}  // namespace bpm::plugin

// ---- evaluation (重点绩效评价 by an evaluation team) ---------------------------------

namespace bpm::plugin {
namespace {

// 决策 20, 过程 20, 产出 30, 效益 30.
const char* const kEvaluationSheet = R"({"sheet": [
  {"code": "D1", "level1": "决策", "level2": "项目立项", "name": "立项依据充分性", "weight": 10},
  {"code": "D2", "level1": "决策", "level2": "绩效目标", "name": "绩效目标合理性", "weight": 10},
  {"code": "P1", "level1": "过程", "level2": "资金管理", "name": "预算执行率", "weight": 20},
  {"code": "O1", "level1": "产出", "level2": "数量", "name": "实际完成率", "weight": 30},
  {"code": "E1", "level1": "效益", "level2": "社会效益", "name": "实施效益", "weight": 20},
  {"code": "E2", "level1": "效益", "level2": "满意度", "name": "服务对象满意度", "weight": 10}]})";

std::string EvaluationPayload(const std::string& scores) {
  return R"({"scores": )" + scores +
         R"(, "findings": ["执行偏慢"], "recommendations": ["加快支付"], "method": "比较法"})";
}

TEST(EvaluationStageTest, TheSheetIsCheckedAtDeploy) {
  auto stage = Load("evaluation");
  ASSERT_NE(stage, nullptr);
  EXPECT_THAT(ConfigErrors(*stage, kEvaluationSheet), IsEmpty());
  EXPECT_THAT(ConfigErrors(*stage, "{}"),
              ElementsAre("sheet: is required: a list of {code, level1, level2, name, weight}."));
  // 产出 + 效益 at 50 of 100: under the 60 of 财预〔2020〕10号.
  EXPECT_THAT(ConfigErrors(*stage, R"({"sheet": [
      {"code": "D", "level1": "决策", "name": "立项", "weight": 30},
      {"code": "P", "level1": "过程", "name": "管理", "weight": 20},
      {"code": "O", "level1": "产出", "name": "完成", "weight": 25},
      {"code": "E", "level1": "效益", "name": "效果", "weight": 25}]})"),
              ElementsAre("sheet: 产出 + 效益 weigh 50; they must be at least 60 (财预〔2020〕10号)."));
  // A region may ask for more: 70.
  EXPECT_THAT(ConfigErrors(*stage, std::string(kEvaluationSheet).replace(1, 0, R"("min_output_benefit": 70, )")),
              ElementsAre("sheet: 产出 + 效益 weigh 60; they must be at least 70 (财预〔2020〕10号)."));
  EXPECT_THAT(ConfigErrors(*stage, R"({"sheet": [
      {"code": "D", "level1": "决定", "name": "立项", "weight": 30},
      {"code": "D", "level1": "产出", "name": "", "weight": 0},
      {"code": "E", "level1": "效益", "name": "效果", "weight": 70.005, "extra": 1}]})"),
              UnorderedElementsAre(
                  "sheet[0].level1: '决定' is not one of 决策, 过程, 产出, 效益.",
                  "sheet[1].code: 'D' is empty or used twice.", "sheet[1].name: is required.",
                  "sheet[1].weight: must be a number greater than 0 with at most 2 decimals.",
                  "sheet[2].extra: is not a column; use code, level1, level2, name, weight.",
                  "sheet[2].weight: must be a number greater than 0 with at most 2 decimals."));
}

TEST(EvaluationStageTest, ScoresTheTreeToTheGradeBandEdges) {
  auto stage = Load("evaluation");
  ASSERT_NE(stage, nullptr);
  const pb::StageContext ctx = Context("scoring", kEvaluationSheet);
  pb::Decision entered = Enter(*stage, ctx);
  ASSERT_EQ(entered.open_tasks_size(), 1);
  EXPECT_EQ(entered.open_tasks(0).assignee_role(), "perf_reviewer");
  const pb::TaskInfo task = TaskFrom(entered.open_tasks(0), "t1");
  struct Case {
    const char* scores;
    const char* total;
    const char* grade;
  };
  for (const Case& c : {
           Case{R"({"D1": 10, "D2": 10, "P1": 20, "O1": 30, "E1": 20, "E2": 10})", "100", "优"},
           Case{R"({"D1": 10, "D2": 10, "P1": 20, "O1": 30, "E1": 10, "E2": 10})", "90", "优"},
           Case{R"({"D1": 10, "D2": 10, "P1": 20, "O1": 30, "E1": 9.99, "E2": 10})", "89.99", "良"},
           Case{R"({"D1": 10, "D2": 10, "P1": 10, "O1": 30, "E1": 10, "E2": 10})", "80", "良"},
           Case{R"({"D1": 10, "D2": 10, "P1": 10, "O1": 29.99, "E1": 10, "E2": 10})", "79.99", "中"},
           Case{R"({"D1": 0, "D2": 10, "P1": 10, "O1": 20, "E1": 10, "E2": 10})", "60", "中"},
           Case{R"({"D1": 0, "D2": 10, "P1": 10, "O1": 19.99, "E1": 10, "E2": 10})", "59.99", "差"},
           Case{R"({"D1": 0, "D2": 0, "P1": 0, "O1": 0, "E1": 0, "E2": "0"})", "0", "差"}}) {
    SCOPED_TRACE(c.total);
    pb::Decision d = Act(*stage, ctx, task, "score", EvaluationPayload(c.scores));
    ASSERT_TRUE(d.accepted()) << ::testing::PrintToString(Rejections(d));
    EXPECT_EQ(d.outcome(), "scored");
    const auto& vars = d.set_variables().fields();
    const auto& e = vars.at("evaluation").struct_value().fields();
    EXPECT_EQ(e.at("total").string_value(), c.total);
    EXPECT_EQ(e.at("grade").string_value(), c.grade);
    EXPECT_EQ(vars.at("evaluation_grade").string_value(), c.grade);
  }
  // The subtotals per level 1 (决策 过程 产出 效益).
  pb::Decision d = Act(*stage, ctx, task, "score",
                       EvaluationPayload(R"({"D1": 9.5, "D2": 8, "P1": 15, "O1": 27, "E1": 18, "E2": 9})"));
  ASSERT_TRUE(d.accepted());
  const auto& by = d.set_variables().fields().at("evaluation").struct_value().fields().at("by_level1").struct_value().fields();
  EXPECT_EQ(by.at("决策").string_value(), "17.5");
  EXPECT_EQ(by.at("过程").string_value(), "15");
  EXPECT_EQ(by.at("产出").string_value(), "27");
  EXPECT_EQ(by.at("效益").string_value(), "27");
  EXPECT_EQ(d.set_variables().fields().at("evaluation_score").number_value(), 86.5);
}

TEST(EvaluationStageTest, BadScoresAreNamedByPath) {
  auto stage = Load("evaluation");
  ASSERT_NE(stage, nullptr);
  const pb::StageContext ctx = Context("scoring", kEvaluationSheet);
  const pb::TaskInfo task = TaskFrom(Enter(*stage, ctx).open_tasks(0), "t1");
  pb::Decision d = Act(*stage, ctx, task, "score",
                       R"({"scores": {"D1": 10.5, "D2": -1, "P1": 19.999, "O1": "三十", "E1": 20,
                                      "X9": 1}, "findings": [], "recommendations": [" "]})");
  EXPECT_FALSE(d.accepted());
  EXPECT_THAT(Rejections(d),
              UnorderedElementsAre(
                  "payload.scores.D1: must be from 0 to the weight 10",
                  "payload.scores.D2: must be from 0 to the weight 10",
                  "payload.scores.P1: must be a number with at most 2 decimals",
                  "payload.scores.O1: must be a number with at most 2 decimals",
                  "payload.scores.E2: is required (服务对象满意度)",
                  "payload.scores.X9: is not an indicator of the sheet",
                  "payload.findings: is required: at least one finding (主要问题)",
                  "payload.recommendations[0]: must be non-empty text"));
}

}  // namespace
}  // namespace bpm::plugin
