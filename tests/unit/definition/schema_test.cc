// workflows/workflow.schema.json (for editors) stays in step with the parser:
// the same keys, required keys and name patterns as FormatVocabulary(), and
// every bundled workflow conforms to it while shape errors the parser refuses
// are refused by the schema too (a small JSON Schema checker below, for the
// keywords the schema uses).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <regex>
#include <set>

#include "core/common/json.h"
#include "core/definition/definition.h"
#include "tests/support/test_env.h"

namespace bpm::definition {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

Struct Schema() {
  auto s = ParseJsonStruct(testing::ReadFile(testing::SourceDir() + "/workflows/workflow.schema.json"));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : Struct();
}

const Value& At(const Struct& s, std::initializer_list<const char*> path) {
  static const Value kNull;
  const Struct* cur = &s;
  const Value* v = &kNull;
  for (const char* p : path) {
    auto it = cur->fields().find(p);
    if (it == cur->fields().end()) return kNull;
    v = &it->second;
    cur = &v->struct_value();
  }
  return *v;
}

std::set<std::string> Keys(const Value& v) {
  std::set<std::string> out;
  for (const auto& [k, unused] : v.struct_value().fields()) out.insert(k);
  return out;
}

std::set<std::string> Strings(const Value& v) {
  std::set<std::string> out;
  for (const auto& e : v.list_value().values()) out.insert(e.string_value());
  return out;
}

std::set<std::string> Set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

TEST(SchemaTest, SameVocabularyAsTheParser) {
  const Struct schema = Schema();
  const Vocabulary& v = FormatVocabulary();
  EXPECT_EQ(Keys(At(schema, {"properties"})), Set(v.definition_keys));
  EXPECT_EQ(Strings(At(schema, {"required"})), Set(v.required_keys));
  const Value& any_of = At(schema, {"anyOf"});
  ASSERT_EQ(any_of.list_value().values_size(), 2);
  EXPECT_EQ(Strings(any_of.list_value().values(0).struct_value().fields().at("required")),
            std::set<std::string>{"extends"});
  EXPECT_EQ(Strings(any_of.list_value().values(1).struct_value().fields().at("required")),
            Set(v.standalone_keys));
  const Value& variable = At(schema, {"definitions", "variable", "oneOf"});
  ASSERT_EQ(variable.list_value().values_size(), 2);
  EXPECT_EQ(Strings(variable.list_value().values(0).struct_value().fields().at("enum")),
            Set(v.variable_types));
  const Struct& spec = variable.list_value().values(1).struct_value();
  EXPECT_EQ(Keys(spec.fields().at("properties")), Set(v.variable_keys));
  EXPECT_EQ(Strings(spec.fields().at("properties").struct_value().fields().at("type").struct_value().fields().at("enum")),
            Set(v.variable_types));
  EXPECT_EQ(At(schema, {"properties", "variables", "propertyNames", "pattern"}).string_value(),
            v.var_pattern);
  const Value& extends = At(schema, {"properties", "extends", "oneOf"});
  ASSERT_EQ(extends.list_value().values_size(), 2);
  EXPECT_EQ(Keys(extends.list_value().values(1).struct_value().fields().at("properties")),
            Set(v.extends_keys));
  EXPECT_EQ(At(schema, {"properties", "key", "pattern"}).string_value(), v.key_pattern);
  EXPECT_EQ(At(schema, {"properties", "states", "propertyNames", "pattern"}).string_value(),
            v.state_name_pattern);
  EXPECT_EQ(Keys(At(schema, {"definitions", "state", "properties"})), Set(v.state_keys));
  const Value& transition = At(schema, {"definitions", "transition", "oneOf"});
  ASSERT_EQ(transition.list_value().values_size(), 2);
  EXPECT_EQ(Keys(transition.list_value().values(1).struct_value().fields().at("properties")),
            Set(v.transition_keys));
  EXPECT_EQ(Keys(At(schema, {"definitions", "condition", "properties"})), Set(v.condition_keys));
  EXPECT_EQ(At(schema, {"definitions", "condition", "properties", "var", "pattern"}).string_value(),
            v.var_pattern);
}

// YAML as JSON values: true/false are booleans, numbers are numbers.
Value FromYaml(const YAML::Node& n) {
  Value v;
  if (n.IsMap()) {
    auto* fields = v.mutable_struct_value()->mutable_fields();
    for (const auto& kv : n) (*fields)[kv.first.Scalar()] = FromYaml(kv.second);
  } else if (n.IsSequence()) {
    for (const auto& e : n) *v.mutable_list_value()->add_values() = FromYaml(e);
  } else if (n.IsNull()) {
    v.set_null_value({});
  } else {
    static const std::regex kNumber(R"(^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$)");
    const std::string& s = n.Scalar();
    if (n.Tag() != "!" && (s == "true" || s == "false")) {
      v.set_bool_value(s == "true");
    } else if (n.Tag() != "!" && std::regex_match(s, kNumber)) {
      v.set_number_value(std::stod(s));
    } else {
      v.set_string_value(s);
    }
  }
  return v;
}

// The JSON Schema keywords the schema uses; false at the first violation.
class Checker {
 public:
  explicit Checker(const Struct& root) : root_(root) {}

  bool Check(const Value& doc, const Value& schema, const std::string& where) {
    const auto& s = schema.struct_value().fields();
    if (auto ref = s.find("$ref"); ref != s.end()) {
      const std::string name = ref->second.string_value().substr(strlen("#/definitions/"));
      return Check(doc, At(root_, {"definitions", name.c_str()}), where);
    }
    if (auto t = s.find("type"); t != s.end() && !TypeOk(doc, t->second)) return Fail(where, "type");
    if (auto p = s.find("pattern"); p != s.end() &&
        !std::regex_search(doc.string_value(), std::regex(p->second.string_value()))) {
      return Fail(where, "pattern");
    }
    if (auto e = s.find("enum"); e != s.end()) {
      bool listed = false;
      for (const auto& allowed : e->second.list_value().values()) {
        listed = listed || allowed.string_value() == doc.string_value();
      }
      if (!listed) return Fail(where, "enum");
    }
    if (auto a = s.find("anyOf"); a != s.end()) {
      int matched = 0;
      for (const auto& alt : a->second.list_value().values()) {
        Checker sub(root_);
        matched += sub.Check(doc, alt, where);
      }
      if (matched == 0) return Fail(where, "anyOf");
    }
    if (auto o = s.find("oneOf"); o != s.end()) {
      int matched = 0;
      for (const auto& alt : o->second.list_value().values()) {
        Checker sub(root_);
        matched += sub.Check(doc, alt, where);
      }
      if (matched != 1) return Fail(where, "oneOf");
    }
    if (doc.has_struct_value()) {
      const auto& fields = doc.struct_value().fields();
      if (auto m = s.find("minProperties"); m != s.end() &&
          fields.size() < static_cast<size_t>(m->second.number_value())) {
        return Fail(where, "minProperties");
      }
      if (auto r = s.find("required"); r != s.end()) {
        for (const auto& k : r->second.list_value().values()) {
          if (!fields.count(k.string_value())) return Fail(where, "required " + k.string_value());
        }
      }
      const auto props = s.find("properties");
      const auto extra = s.find("additionalProperties");
      const auto names = s.find("propertyNames");
      for (const auto& [k, value] : fields) {
        if (names != s.end()) {
          Value key;
          key.set_string_value(k);
          if (!Check(key, names->second, where + "." + k + " (name)")) return false;
        }
        if (props != s.end() && props->second.struct_value().fields().count(k)) {
          if (!Check(value, props->second.struct_value().fields().at(k), where + "." + k)) {
            return false;
          }
        } else if (extra != s.end()) {
          if (extra->second.has_bool_value()) {
            if (!extra->second.bool_value()) return Fail(where, "unknown key " + k);
          } else if (!Check(value, extra->second, where + "." + k)) {
            return false;
          }
        }
      }
    }
    if (doc.has_list_value()) {
      if (auto m = s.find("minItems"); m != s.end() &&
          doc.list_value().values_size() < m->second.number_value()) {
        return Fail(where, "minItems");
      }
      if (auto items = s.find("items"); items != s.end()) {
        for (const auto& e : doc.list_value().values()) {
          if (!Check(e, items->second, where + "[]")) return false;
        }
      }
    }
    return true;
  }

  std::string error;

 private:
  static bool Is(const Value& doc, const std::string& type) {
    if (type == "object") return doc.has_struct_value();
    if (type == "array") return doc.has_list_value();
    if (type == "string") return doc.kind_case() == Value::kStringValue;
    if (type == "number") return doc.kind_case() == Value::kNumberValue;
    if (type == "boolean") return doc.kind_case() == Value::kBoolValue;
    if (type == "null") return doc.kind_case() == Value::kNullValue;
    return false;
  }
  static bool TypeOk(const Value& doc, const Value& type) {
    if (type.has_list_value()) {
      for (const auto& t : type.list_value().values()) {
        if (Is(doc, t.string_value())) return true;
      }
      return false;
    }
    return Is(doc, type.string_value());
  }
  bool Fail(const std::string& where, const std::string& what) {
    error = where + ": " + what;
    return false;
  }

  const Struct& root_;
};

TEST(SchemaTest, BundledWorkflowsConform) {
  const Struct schema = Schema();
  Value root;
  *root.mutable_struct_value() = schema;
  int files = 0;
  for (const char* dir : {"/workflows", "/examples/templates"}) {
    for (const auto& e : std::filesystem::directory_iterator(testing::SourceDir() + dir)) {
      if (e.path().extension() != ".yaml") continue;
      ++files;
      Checker checker(schema);
      EXPECT_TRUE(checker.Check(FromYaml(YAML::LoadFile(e.path().string())), root, "$"))
          << e.path() << ": " << checker.error;
    }
  }
  EXPECT_GE(files, 5);
}

TEST(SchemaTest, ShapeErrorsAreRefusedByTheSchemaToo) {
  const Struct schema = Schema();
  Value root;
  *root.mutable_struct_value() = schema;
  const std::string dir = testing::SourceDir() + "/tests/fixtures/workflows/invalid/";
  for (const char* file : {"unknown_key_top.yaml", "unknown_key_state.yaml", "bad_condition.yaml",
                           "not_a_mapping.yaml", "unknown_variable_type.yaml"}) {
    Checker checker(schema);
    EXPECT_FALSE(checker.Check(FromYaml(YAML::LoadFile(dir + file)), root, "$")) << file;
    // ...and by the parser.
    EXPECT_FALSE(Parse(testing::ReadFile(dir + file), file).ok()) << file;
  }
}

}  // namespace
}  // namespace bpm::definition
