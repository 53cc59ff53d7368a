// Stage "department_submit" (填报): a unit fills in a form and submits it.
//
// Config:
//   assignee   who fills in; default {role: unit_filer, org: "${org}"}
//   title      task title; default "填报"
//   into       variable that receives the submitted form; default "form"
//   due_working_days  due date of the filing in PRC working days (optional;
//              an overdue notification goes to the filer)
//   form       required: {fields: [field, ...]}, where a field is
//     name        required, unique
//     label       display label
//     type        required: string | number | integer | boolean | enum | date | table
//     required    bool, default false ("required" means present and, for strings
//                 and tables, not empty)
//     min, max    number and integer fields
//     max_length  string fields, in characters; default 2000
//     values      enum fields: required non-empty list of strings
//     columns     table fields: required non-empty list of scalar fields (any
//                 type but table)
//     min_rows, max_rows   table fields
//   quality    optional: the performance-target quality check
//              (core/perf/target_form.h lists its settings). With it the fill
//              task also offers "check" (自检): the filer sees the findings
//              without submitting, recorded in variables.quality; submit
//              refuses a form with an error finding, naming each field, and
//              records the warnings in variables.quality for the reviewers.
//   adjustment optional: this form adjusts approved targets (绩效目标调整);
//              the rules TargetService.Adjust applies before it starts the
//              workflow (window_until, per_year, replace_original;
//              core/perf/target_form.h). The stage only checks them.
//   history    optional: link the project to its ex-ante assessment and the
//              previous fiscal year's results (previous_variable,
//              amount_field, block_on_ex_ante, rectified_adjustment,
//              ex_ante_required_from, ex_ante_continuing;
//              core/perf/target_form.h). bpmd attaches them at start as
//              variables.project_history; submit refuses an amount above
//              project_history.previous.amount_cap (last year's amount under
//              last year's budget action, DOMAIN.md §5.6), and an amount from
//              ex_ante_required_from without a concluded ex-ante assessment
//              (project_history.ex_ante, DOMAIN.md §5.1).
//
// Enter opens one task "fill" with the action submit. Act submit checks the
// payload against the form, reporting every problem at once with paths such as
// "payload.indicators[1].weight"; when it is valid the form is stored in
// variables[into], the filer in variables.submitted_by, and the stage emits
// outcome "submitted".
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bpm/plugin/sdk.h"
#include "core/perf/decimal.h"
#include "core/perf/target_form.h"

namespace bpm::plugins::department_submit {
namespace {

using namespace ::bpm::plugin;  // NOLINT(build/namespaces): SDK vocabulary

constexpr double kDefaultMaxLength = 2000;
const std::vector<std::string> kTypes = {"string", "number", "integer", "boolean",
                                         "enum",   "date",   "table"};
const std::vector<std::string> kFieldKeys = {"name",   "label",   "type",       "required",
                                             "min",    "max",     "max_length", "values",
                                             "columns", "min_rows", "max_rows"};

constexpr char kSchema[] = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "required": ["form"],
  "properties": {
    "assignee": {"$ref": "#/$defs/assignee"},
    "title": {"type": "string", "default": "填报"},
    "into": {"type": "string", "minLength": 1, "default": "form"},
    "due_working_days": {"type": "integer", "minimum": 1, "maximum": 365},
    "quality": {"type": "object", "description": "target quality check: core/perf/target_form.h"},
    "adjustment": {"type": "object", "description": "绩效目标调整 rules read by TargetService.Adjust: core/perf/target_form.h"},
    "history": {"type": "object", "description": "项目关联 rules read by bpmd at start: core/perf/target_form.h"},
    "form": {
      "type": "object",
      "additionalProperties": false,
      "required": ["fields"],
      "properties": {
        "fields": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/field"}}
      }
    }
  },
  "$defs": {
    "assignee": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "role": {"type": "string", "minLength": 1, "default": "unit_filer"},
        "org": {"type": "string", "default": "${org}"},
        "user": {"type": "string", "minLength": 1}
      }
    },
    "scalar": {
      "type": "object",
      "additionalProperties": false,
      "required": ["name", "type"],
      "properties": {
        "name": {"type": "string", "minLength": 1},
        "label": {"type": "string"},
        "type": {"enum": ["string", "number", "integer", "boolean", "enum", "date"]},
        "required": {"type": "boolean", "default": false},
        "min": {"type": "number"},
        "max": {"type": "number"},
        "max_length": {"type": "integer", "minimum": 1, "default": 2000},
        "values": {"type": "array", "minItems": 1, "uniqueItems": true, "items": {"type": "string"}}
      }
    },
    "field": {
      "type": "object",
      "additionalProperties": false,
      "required": ["name", "type"],
      "properties": {
        "name": {"type": "string", "minLength": 1},
        "label": {"type": "string"},
        "type": {"enum": ["string", "number", "integer", "boolean", "enum", "date", "table"]},
        "required": {"type": "boolean", "default": false},
        "min": {"type": "number"},
        "max": {"type": "number"},
        "max_length": {"type": "integer", "minimum": 1, "default": 2000},
        "values": {"type": "array", "minItems": 1, "uniqueItems": true, "items": {"type": "string"}},
        "columns": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/scalar"}},
        "min_rows": {"type": "integer", "minimum": 0},
        "max_rows": {"type": "integer", "minimum": 0}
      }
    }
  }
})json";

// ---- Config --------------------------------------------------------------------

// Reports a key that only some types accept.
void CheckOnlyFor(const Struct& spec, const std::string& key, const std::string& type,
                  const std::vector<std::string>& types, const std::string& path,
                  std::vector<pb::ConfigError>* errors) {
  if (Field(spec, key) == nullptr ||
      std::find(types.begin(), types.end(), type) != types.end()) {
    return;
  }
  AddError(errors, JoinPath(path, key),
           "is only allowed for fields of type " + JoinStrings(types, " or ") +
               ", not " + type + ".");
}

// Validates one field spec at path; tables recurse into their columns with
// allow_table false.
void ValidateFieldSpec(const Value& value, const std::string& path, bool allow_table,
                       std::vector<pb::ConfigError>* errors) {
  if (value.kind_case() != Value::kStructValue) {
    AddError(errors, path, "must be a mapping with at least name and type.");
    return;
  }
  const Struct& spec = value.struct_value();
  CheckKnownKeys(spec, path, kFieldKeys, errors);

  if (Field(spec, "name") == nullptr) AddError(errors, JoinPath(path, "name"), "is required.");
  CheckNonEmptyString(spec, "name", path, errors);
  TypedField(spec, "label", Value::kStringValue, path, errors);
  TypedField(spec, "required", Value::kBoolValue, path, errors);

  std::string type;
  if (Field(spec, "type") == nullptr) {
    AddError(errors, JoinPath(path, "type"),
             "is required; use one of: " + JoinStrings(kTypes, ", ") + ".");
  } else if (const Value* t = TypedField(spec, "type", Value::kStringValue, path, errors)) {
    type = t->string_value();
    if (std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end()) {
      AddError(errors, JoinPath(path, "type"),
               "unknown type \"" + type + "\"; use one of: " + JoinStrings(kTypes, ", ") + ".");
      type.clear();
    } else if (type == "table" && !allow_table) {
      AddError(errors, JoinPath(path, "type"), "a table column cannot itself be a table.");
      type.clear();
    }
  }

  // min/max
  const Value* min = TypedField(spec, "min", Value::kNumberValue, path, errors);
  const Value* max = TypedField(spec, "max", Value::kNumberValue, path, errors);
  if (min != nullptr && max != nullptr && min->number_value() > max->number_value()) {
    AddError(errors, JoinPath(path, "min"), "must not be greater than max.");
  }
  CheckIntegerInRange(spec, "max_length", path, 1, 1e9, errors);

  // values
  if (type == "enum" && Field(spec, "values") == nullptr) {
    AddError(errors, JoinPath(path, "values"),
             "is required for an enum field: list the allowed values.");
  }
  CheckStringList(spec, "values", path, /*non_empty=*/true, errors);

  // columns and rows
  if (type == "table" && Field(spec, "columns") == nullptr) {
    AddError(errors, JoinPath(path, "columns"),
             "is required for a table field: list the column fields.");
  }
  if (const Value* cols = TypedField(spec, "columns", Value::kListValue, path, errors);
      cols != nullptr && allow_table) {
    const std::string cols_path = JoinPath(path, "columns");
    if (cols->list_value().values_size() == 0) {
      AddError(errors, cols_path, "must list at least one column.");
    }
    std::vector<std::string> names;
    for (int i = 0; i < cols->list_value().values_size(); ++i) {
      const Value& col = cols->list_value().values(i);
      ValidateFieldSpec(col, IndexPath(cols_path, i), /*allow_table=*/false, errors);
      std::string name = col.kind_case() == Value::kStructValue
                             ? StringOr(col.struct_value(), "name", "")
                             : "";
      if (name.empty()) continue;
      if (std::find(names.begin(), names.end(), name) != names.end()) {
        AddError(errors, JoinPath(IndexPath(cols_path, i), "name"),
                 "repeats column name \"" + name + "\"; names must be unique.");
      }
      names.push_back(name);
    }
  }
  CheckIntegerInRange(spec, "min_rows", path, 0, 1e9, errors);
  CheckIntegerInRange(spec, "max_rows", path, 0, 1e9, errors);
  if (NumberOr(spec, "min_rows", 0) > NumberOr(spec, "max_rows", 1e18)) {
    AddError(errors, JoinPath(path, "min_rows"), "must not be greater than max_rows.");
  }

  if (type.empty()) return;  // the type error says enough
  CheckOnlyFor(spec, "min", type, {"number", "integer"}, path, errors);
  CheckOnlyFor(spec, "max", type, {"number", "integer"}, path, errors);
  CheckOnlyFor(spec, "max_length", type, {"string"}, path, errors);
  CheckOnlyFor(spec, "values", type, {"enum"}, path, errors);
  if (allow_table) {
    CheckOnlyFor(spec, "columns", type, {"table"}, path, errors);
  } else if (Field(spec, "columns") != nullptr) {
    AddError(errors, JoinPath(path, "columns"), "is not allowed in a table column.");
  }
  CheckOnlyFor(spec, "min_rows", type, {"table"}, path, errors);
  CheckOnlyFor(spec, "max_rows", type, {"table"}, path, errors);
}

// ---- Payload -------------------------------------------------------------------

bool IsDate(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (int i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  int year = std::stoi(s.substr(0, 4));
  int month = std::stoi(s.substr(5, 2));
  int day = std::stoi(s.substr(8, 2));
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int days = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  return day <= days;
}

// A form field's rules, read once per config (CompiledConfig) from a field
// spec ValidateFieldSpec accepted.
struct FieldRule {
  // In kTypes' order; kOther for a name outside it.
  enum class Type { kString, kNumber, kInteger, kBoolean, kEnum, kDate, kTable, kOther };
  std::string name;
  Type type = Type::kOther;
  bool required = false;
  std::optional<double> min, max;  // number, integer
  double max_length = kDefaultMaxLength;
  std::vector<std::string> values;  // enum
  std::string values_text;          // enum: "a, b, c" for messages
  std::vector<FieldRule> columns;   // table
  std::optional<double> min_rows, max_rows;

  static FieldRule From(const Struct& spec) {
    FieldRule r;
    r.name = StringOr(spec, "name", "");
    const auto type = std::find(kTypes.begin(), kTypes.end(), StringOr(spec, "type", ""));
    r.type = static_cast<Type>(type - kTypes.begin());  // kOther when not found
    r.required = BoolOr(spec, "required", false);
    auto number = [&](const char* key) -> std::optional<double> {
      const Value* v = Field(spec, key);
      if (v == nullptr) return std::nullopt;
      return v->number_value();
    };
    r.min = number("min");
    r.max = number("max");
    r.max_length = NumberOr(spec, "max_length", kDefaultMaxLength);
    r.values = StringList(spec, "values");
    r.values_text = JoinStrings(r.values, ", ");
    if (const Value* columns = Field(spec, "columns"); columns != nullptr) {
      for (const Value& c : columns->list_value().values()) {
        r.columns.push_back(From(c.struct_value()));
      }
    }
    r.min_rows = number("min_rows");
    r.max_rows = number("max_rows");
    return r;
  }
};

// Where a value sits in the payload, spelled out only for a rejection: a
// submit checks every cell of the form, and most submits have nothing to
// report.
struct Path {
  const Path* parent = nullptr;
  const std::string* key = nullptr;  // or, when null, index
  int index = 0;

  std::string Text() const {
    if (parent == nullptr) return *key;
    return key != nullptr ? JoinPath(parent->Text(), *key) : IndexPath(parent->Text(), index);
  }
};

void ValidateValue(const FieldRule& rule, const Value* value, const Path& path,
                   pb::Decision* bad);

// Checks every field of a form (or of one table row) in object, plus unknown
// keys.
void ValidateObject(const std::vector<FieldRule>& fields, const Struct& object, const Path& path,
                    pb::Decision* bad) {
  std::vector<std::string> unknown;
  for (const auto& kv : object.fields()) {
    if (std::none_of(fields.begin(), fields.end(),
                     [&](const FieldRule& f) { return f.name == kv.first; })) {
      unknown.push_back(kv.first);
    }
  }
  if (!unknown.empty()) {
    std::sort(unknown.begin(), unknown.end());
    const std::string base = path.Text();
    for (const std::string& key : unknown) {
      AddRejection(bad, JoinPath(base, key), "unknown field (未知字段)");
    }
  }
  for (const FieldRule& f : fields) {
    ValidateValue(f, Field(object, f.name), Path{&path, &f.name}, bad);
  }
}

void ValidateValue(const FieldRule& rule, const Value* value, const Path& path,
                   pb::Decision* bad) {
  using Type = FieldRule::Type;
  auto reject = [&](const std::string& message) { AddRejection(bad, path.Text(), message); };
  if (value == nullptr || value->kind_case() == Value::kNullValue ||
      value->kind_case() == Value::KIND_NOT_SET) {
    if (rule.required) reject("is required (必填)");
    return;
  }
  const Value::KindCase kind = value->kind_case();
  switch (rule.type) {
    case Type::kString:
      if (kind != Value::kStringValue) return reject("must be a string");
      if (rule.required && Trim(value->string_value()).empty()) {
        return reject("is required (必填)");
      }
      if (static_cast<double>(Utf8Length(value->string_value())) > rule.max_length) {
        reject("must be at most " + FormatNumber(rule.max_length) + " characters");
      }
      break;
    case Type::kNumber:
    case Type::kInteger: {
      if (kind != Value::kNumberValue) return reject("must be a number");
      const double d = value->number_value();
      if (rule.type == Type::kInteger && !IsInteger(d)) {
        return reject("must be a whole number (integer)");
      }
      if (rule.min && d < *rule.min) reject("must be at least " + FormatNumber(*rule.min));
      if (rule.max && d > *rule.max) reject("must be at most " + FormatNumber(*rule.max));
      break;
    }
    case Type::kBoolean:
      if (kind != Value::kBoolValue) reject("must be true or false");
      break;
    case Type::kEnum:
      if (kind != Value::kStringValue ||
          std::find(rule.values.begin(), rule.values.end(), value->string_value()) ==
              rule.values.end()) {
        reject("must be one of " + rule.values_text);
      }
      break;
    case Type::kDate:
      if (kind != Value::kStringValue || !IsDate(value->string_value())) {
        reject("must be a real date written YYYY-MM-DD");
      }
      break;
    case Type::kTable: {
      if (kind != Value::kListValue) return reject("must be a list of rows");
      const ListValue& rows = value->list_value();
      if (rule.required && rows.values_size() == 0) return reject("is required (必填)");
      if (rule.min_rows && rows.values_size() < *rule.min_rows) {
        reject("must have at least " + FormatNumber(*rule.min_rows) + " rows");
      }
      if (rule.max_rows && rows.values_size() > *rule.max_rows) {
        reject("must have at most " + FormatNumber(*rule.max_rows) + " rows");
      }
      for (int i = 0; i < rows.values_size(); ++i) {
        const Value& row = rows.values(i);
        const Path row_path{&path, nullptr, i};
        if (row.kind_case() != Value::kStructValue) {
          AddRejection(bad, row_path.Text(), "must be an object (one table row)");
          continue;
        }
        ValidateObject(rule.columns, row.struct_value(), row_path, bad);
      }
      break;
    }
    case Type::kOther:
      break;
  }
}

// What submit reads from its config, read once per config (CompiledConfig)
// from one ValidateConfig accepted.
struct SubmitConfig {
  bool has_form = false;  // form.fields is a list
  std::vector<FieldRule> fields;
  std::optional<perf::QualityConfig> quality;
  std::optional<perf::HistoryRules> history;
  std::string into;

  static SubmitConfig From(const Struct& config) {
    SubmitConfig c;
    const Value* form = Field(config, "form");
    const Value* fields = form != nullptr && form->kind_case() == Value::kStructValue
                              ? Field(form->struct_value(), "fields")
                              : nullptr;
    if (fields != nullptr && fields->kind_case() == Value::kListValue) {
      c.has_form = true;
      for (const Value& f : fields->list_value().values()) {
        c.fields.push_back(FieldRule::From(f.struct_value()));
      }
    }
    perf::ConfigProblems ignored;  // ValidateConfig reported them at deploy
    if (Field(config, "quality") != nullptr) c.quality = perf::ReadQualityConfig(config, &ignored);
    c.history = perf::ReadHistoryRules(config, &ignored);
    c.into = StringOr(config, "into", "form");
    return c;
  }
};

// "自检: 0 errors, 2 warnings (vague_goal, input_as_output)".
std::string Summary(const std::string& what, const std::vector<perf::Finding>& findings) {
  size_t errors = 0;
  std::string codes;
  for (const perf::Finding& f : findings) {
    errors += f.severity == perf::Severity::kError;
    if (codes.find(f.code) == std::string::npos) codes += (codes.empty() ? "" : ", ") + f.code;
  }
  std::string out = what + ": " + std::to_string(errors) + " errors, " +
                    std::to_string(findings.size() - errors) + " warnings";
  return codes.empty() ? out : out + " (" + codes + ")";
}

class DepartmentSubmitStage : public Stage {
 public:
  static constexpr bool kVariablesByName = true;  // reads them through Vars()
  // With history rules, the project's history and the variable that marks a
  // continuing project (CheckAmountAgainstHistory); otherwise none.
  std::optional<std::vector<std::string>> VariablesRead(const Struct& config) const override {
    perf::ConfigProblems ignored;  // ValidateConfig reports them
    const std::optional<perf::HistoryRules> rules = perf::ReadHistoryRules(config, &ignored);
    if (!rules) return std::vector<std::string>{};
    return std::vector<std::string>{perf::kProjectHistoryVariable, rules->previous_variable};
  }

  pb::DescribeResponse Describe() const override {
    pb::DescribeResponse d;
    d.set_name("department_submit");
    d.set_version("1.0.0");
    d.set_description(
        "填报：单位按表单填写并提交（如绩效目标申报表）。"
        " A unit fills in the configured form and submits it; the payload is "
        "checked field by field and stored in an instance variable.");
    AddAction(&d, "submit", "提交填报内容 / submit the filled-in form");
    AddAction(&d, "check", "自检：检查绩效目标质量而不提交 / run the quality check only");
    d.add_outcomes("submitted");
    d.set_config_schema_json(kSchema);
    return d;
  }

  void ValidateConfig(const Struct& config,
                      std::vector<pb::ConfigError>* errors) const override {
    CheckKnownKeys(config, "",
                   {"assignee", "title", "into", "form", "due_working_days", "quality",
                    "adjustment", "history"},
                   errors);
    perf::ConfigProblems problems;
    perf::ReadAdjustmentRules(config, &problems);
    const std::optional<perf::HistoryRules> history = perf::ReadHistoryRules(config, &problems);
    for (const auto& [path, message] : problems) AddError(errors, path, message);
    ValidateAssignee(config, "assignee", errors);
    CheckIntegerInRange(config, "due_working_days", "", 1, 365, errors);
    TypedField(config, "title", Value::kStringValue, "", errors);
    CheckNonEmptyString(config, "into", "", errors);
    if (StringOr(config, "into", "") == "submitted_by") {
      AddError(errors, "into", "cannot be \"submitted_by\": that variable records the filer.");
    }
    if (Field(config, "form") == nullptr) {
      AddError(errors, "form", "is required: describe the form as {fields: [...]}.");
      return;
    }
    const Value* form = TypedField(config, "form", Value::kStructValue, "", errors);
    if (form == nullptr) return;
    CheckKnownKeys(form->struct_value(), "form", {"fields"}, errors);
    if (Field(form->struct_value(), "fields") == nullptr) {
      AddError(errors, "form.fields", "is required: list the form's fields.");
      return;
    }
    const Value* fields =
        TypedField(form->struct_value(), "fields", Value::kListValue, "form", errors);
    if (fields == nullptr) return;
    if (fields->list_value().values_size() == 0) {
      AddError(errors, "form.fields", "must list at least one field.");
    }
    std::vector<std::string> names;
    for (int i = 0; i < fields->list_value().values_size(); ++i) {
      const Value& f = fields->list_value().values(i);
      const std::string path = IndexPath("form.fields", i);
      ValidateFieldSpec(f, path, /*allow_table=*/true, errors);
      std::string name =
          f.kind_case() == Value::kStructValue ? StringOr(f.struct_value(), "name", "") : "";
      if (name.empty()) continue;
      if (std::find(names.begin(), names.end(), name) != names.end()) {
        AddError(errors, JoinPath(path, "name"),
                 "repeats field name \"" + name + "\"; names must be unique.");
      }
      names.push_back(name);
      if (history && name == history->amount_field &&
          StringOr(f.struct_value(), "type", "") != "number" &&
          StringOr(f.struct_value(), "type", "") != "integer") {
        AddError(errors, "history.amount_field",
                 "names \"" + name + "\", which is not a number field of the form.");
      }
    }
    if (history && std::find(names.begin(), names.end(), history->amount_field) == names.end()) {
      AddError(errors, "history.amount_field",
               "names \"" + history->amount_field + "\", which is not a field of the form.");
    }
    if (Field(config, "quality") == nullptr) return;
    problems.clear();
    perf::QualityConfig quality = perf::ReadQualityConfig(config, &problems);
    for (const auto& [path, message] : problems) AddError(errors, path, message);
    for (const auto& [key, name] : {std::pair<std::string, std::string>{"goal_field", quality.goal_field},
                                    {"indicators_field", quality.indicators_field},
                                    {"term_field", quality.term_field},
                                    {"mid_term_goal_field", quality.mid_term_goal_field}}) {
      if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) {
        AddError(errors, "quality." + key,
                 "names \"" + name + "\", which is not a field of the form.");
      }
    }
    if (StringOr(config, "into", "form") == "quality") {
      AddError(errors, "into", "cannot be \"quality\": that variable records the quality check.");
    }
  }

  // The requested amount against the project's history bpmd attached at
  // start (variables.project_history): the ex-ante threshold and last year's
  // budget action (the cap).
  static void CheckAmountAgainstHistory(const pb::StageContext& ctx, const SubmitConfig& config,
                                        const Struct& payload, pb::Decision* bad) {
    const std::optional<perf::HistoryRules>& rules = config.history;
    if (!rules) return;
    const Struct history = StructOr(Vars(ctx), perf::kProjectHistoryVariable);
    const Value* amount = Field(payload, rules->amount_field);
    if (amount == nullptr || amount->kind_case() != Value::kNumberValue) {
      return;  // the form's own check reports the amount
    }
    auto asked = perf::Decimal::FromDouble(amount->number_value(), rules->amount_field);
    if (!asked.ok()) return;
    const std::string path = JoinPath("payload", rules->amount_field);
    // A major project needs its ex-ante assessment first (DOMAIN.md §5.1):
    // bpmd attached the concluded one, if any, at start.
    const bool continuing = !StringOr(Vars(ctx), rules->previous_variable, "").empty();
    if (rules->ex_ante_required_from && *asked >= *rules->ex_ante_required_from &&
        (!continuing || rules->ex_ante_continuing) &&
        Field(history, "ex_ante") == nullptr) {
      AddRejection(bad, path,
                   asked->ToString() + " is at or above " +
                       rules->ex_ante_required_from->ToString() + ": " +
                       (continuing ? "a continuing" : "a new") +
                       " project of this size needs a concluded ex-ante assessment "
                       "(事前绩效评估) of its subject, and none had concluded when this filing "
                       "started; start the filing again once it has (DOMAIN.md §5.1)");
      return;
    }
    const Struct previous = StructOr(history, "previous");
    const std::string cap_text = StringOr(previous, "amount_cap", "");
    if (cap_text.empty()) return;  // no cap
    auto cap = perf::Decimal::Parse(cap_text, "amount_cap");
    if (!cap.ok() || *asked <= *cap) return;
    const Struct applied = StructOr(previous, "result_application");
    AddRejection(bad, path,
                 asked->ToString() + " is over " + cap->ToString() + ", last year's " +
                     StringOr(previous, "amount", "?") + " under last year's budget action " +
                     StringOr(applied, "action", "?") + " (" +
                     std::to_string(IntegerOr<int>(previous, "effective_adjustment", 0)) +
                     "%, grade " + StringOr(applied, "grade", "?") + " in instance " +
                     StringOr(applied, "instance_id", "?") + "; DOMAIN.md §5.6)");
  }

  pb::Decision Enter(const pb::EnterRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    pb::Decision d = Accept();
    Assignee who = ResolveAssignee(ctx, "assignee", {"unit_filer", "${org}", ""});
    pb::TaskSpec* task = d.add_open_tasks();
    std::vector<std::string> actions = {"submit"};
    if (Field(ctx.config(), "quality") != nullptr) actions.push_back("check");
    *task = MakeTask("fill", StringOr(ctx.config(), "title", "填报"), who, actions);
    const int days = IntegerOr<int>(ctx.config(), "due_working_days", 0);
    if (days > 0) {
      task->mutable_due()->set_working_days(days);
      task->set_overdue_timer(true);
    }
    return d;
  }

  pb::Decision Act(const pb::ActRequest& request) const override {
    const pb::StageContext& ctx = request.context();
    const std::shared_ptr<const SubmitConfig> config =
        CompiledConfig<SubmitConfig>(ctx.config(), &SubmitConfig::From);
    const std::optional<perf::QualityConfig>& quality = config->quality;
    if (request.task().name() != "fill" ||
        (request.action() != "submit" && !(quality && request.action() == "check"))) {
      return RejectUnknownAction(request);
    }
    std::vector<perf::Finding> findings;
    if (quality) {
      findings = perf::CheckTargetForm(perf::ReadTargetForm(request.payload(), *quality),
                                       quality->rules);
    }
    if (request.action() == "check") {
      pb::Decision d = Accept();
      d.set_keep_task(true);
      (*d.mutable_set_variables()->mutable_fields())["quality"] =
          StructValue(perf::FindingsToStruct(findings, *quality));
      d.set_note(Summary("自检", findings));
      return d;
    }
    if (!config->has_form) return Reject("config.form", "the stage has no form configured");
    pb::Decision bad;
    const std::string payload_path = "payload";
    ValidateObject(config->fields, request.payload(), Path{nullptr, &payload_path}, &bad);
    for (const perf::Finding& f : findings) {
      if (f.severity != perf::Severity::kError) continue;
      AddRejection(&bad, "payload." + perf::FormPath(*quality, f.field),
                   "[" + f.code + "] " + f.message);
    }
    CheckAmountAgainstHistory(ctx, *config, request.payload(), &bad);
    if (bad.rejections_size() > 0) return bad;

    const std::string& user = ctx.actor().user();
    pb::Decision d = Accept("submitted");
    auto& vars = *d.mutable_set_variables()->mutable_fields();
    vars[config->into] = StructValue(request.payload());
    vars["submitted_by"] = StringValue(user);
    if (quality) {
      vars["quality"] = StructValue(perf::FindingsToStruct(findings, *quality));
      d.set_note("submitted by " + user + "; " + Summary("quality", findings));
    } else {
      d.set_note("submitted by " + user);
    }
    return d;
  }
};

}  // namespace
}  // namespace bpm::plugins::department_submit

BPM_PLUGIN_EXPORT(bpm::plugins::department_submit::DepartmentSubmitStage, "department_submit",
                  "1.0.0")
