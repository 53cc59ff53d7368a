// Definition parsing and validation: the bundled workflows are valid, and each
// file in tests/fixtures/workflows/invalid/ is refused with the diagnostic its
// first line announces ("# expect: LINE:COL: message prefix").
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "core/definition/definition.h"
#include "core/plugin/loader.h"
#include "tests/support/test_env.h"

namespace bpm::definition {
namespace {

using ::testing::HasSubstr;

class DefinitionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = new plugin::Registry();
    Status s = registry_->LoadDirectory(testing::PluginDir());
    ASSERT_TRUE(s.ok()) << s;
  }
  static void TearDownTestSuite() { delete registry_; }
  static plugin::Registry* registry_;
};
plugin::Registry* DefinitionTest::registry_ = nullptr;

TEST_F(DefinitionTest, BundledWorkflowsAreValid) {
  int count = 0;
  for (const auto& e : std::filesystem::directory_iterator(testing::SourceDir() + "/workflows")) {
    if (e.path().extension() != ".yaml") continue;
    ++count;
    std::vector<Diagnostic> diags;
    auto def = Compile(testing::ReadFile(e.path()), e.path().filename(), *registry_, &diags);
    ASSERT_TRUE(def.ok()) << def.status();
    EXPECT_TRUE(diags.empty());
  }
  EXPECT_GE(count, 1);
}

TEST_F(DefinitionTest, TargetFilingShape) {
  auto def = Compile(testing::ReadFile(testing::SourceDir() + "/workflows/target-filing.yaml"),
                     "target-filing.yaml", *registry_, nullptr);
  ASSERT_TRUE(def.ok()) << def.status();
  EXPECT_EQ((*def)->key, "target-filing");
  EXPECT_EQ((*def)->initial, "draft");
  EXPECT_EQ((*def)->content_hash.size(), 64u);
  const State* fr = (*def)->Find("finance_review");
  ASSERT_NE(fr, nullptr);
  google::protobuf::Struct vars;
  (*vars.mutable_fields())["grade"].set_string_value("中");
  EXPECT_EQ(*(*def)->Next(*fr, "approved", vars), "rectification");
  (*vars.mutable_fields())["grade"].set_string_value("优");
  EXPECT_EQ(*(*def)->Next(*fr, "approved", vars), "disclosure");
  EXPECT_EQ(*(*def)->Next(*fr, "returned", vars), "rectification");
  auto missing = (*def)->Next(*fr, "nonsense", vars);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(DefinitionTest, ContentFixesTheHash) {
  std::string yaml = testing::ReadFile(testing::SourceDir() + "/workflows/target-filing.yaml");
  auto a = Parse(yaml, "a.yaml");
  auto b = Parse(yaml + "\n# changed\n", "a.yaml");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_NE(a.definition->content_hash, b.definition->content_hash);
  EXPECT_EQ(a.definition->content_hash, Parse(yaml, "other-name.yaml").definition->content_hash);
}

TEST_F(DefinitionTest, InvalidFixturesGiveTheExpectedDiagnostic) {
  std::string dir = testing::SourceDir() + "/tests/fixtures/workflows/invalid";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 12u);
  for (const auto& path : files) {
    SCOPED_TRACE(path.filename().string());
    std::string yaml = testing::ReadFile(path);
    std::string first = yaml.substr(0, yaml.find('\n'));
    const std::string prefix = "# expect: ";
    ASSERT_EQ(first.rfind(prefix, 0), 0u) << "fixture lacks an expect line";
    std::string expect = first.substr(prefix.size());
    int line = std::stoi(expect);
    int col = std::stoi(expect.substr(expect.find(':') + 1));
    std::string message = expect.substr(expect.find(": ") + 2);

    std::vector<Diagnostic> diags;
    auto def = Compile(yaml, path.filename().string(), *registry_, &diags);
    ASSERT_FALSE(def.ok());
    EXPECT_EQ(def.status().code(), absl::StatusCode::kInvalidArgument);
    ASSERT_FALSE(diags.empty());
    bool found = false;
    for (const auto& d : diags) {
      if (d.pos.line == line && d.pos.column == col && d.message.rfind(message, 0) == 0) {
        found = true;
        EXPECT_EQ(d.file, path.filename().string());
      }
    }
    std::string all;
    for (const auto& d : diags) all += d.ToString() + "\n";
    EXPECT_TRUE(found) << "wanted " << expect << "\ngot:\n" << all;
    EXPECT_THAT(std::string(def.status().message()),
                HasSubstr(path.filename().string() + ":" + std::to_string(line) + ":" +
                          std::to_string(col) + ": "));
  }
}

TEST(ConditionTest, Operators) {
  auto parsed = Parse(R"(
key: c
initial: a
states:
  a:
    stage: review
    on:
      approved:
        - { to: big, when: { all: [ { var: form.amount, ge: 1000000 }, { not: { var: grade, in: [差] } } ] } }
        - { to: small, when: { any: [ { var: flag, eq: true }, { var: missing, exists: false } ] } }
        - { to: done }
  big: { final: true }
  small: { final: true }
  done: { final: true }
)", "c.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.diagnostics.size();
  const Definition& def = *parsed.definition;
  const State& a = *def.Find("a");
  google::protobuf::Struct vars;
  (*(*vars.mutable_fields())["form"].mutable_struct_value()->mutable_fields())["amount"]
      .set_number_value(2000000);
  (*vars.mutable_fields())["grade"].set_string_value("优");
  (*vars.mutable_fields())["missing"].set_string_value("present");
  EXPECT_EQ(*def.Next(a, "approved", vars), "big");
  (*vars.mutable_fields())["grade"].set_string_value("差");
  EXPECT_EQ(*def.Next(a, "approved", vars), "done");
  (*vars.mutable_fields())["flag"].set_bool_value(true);
  EXPECT_EQ(*def.Next(a, "approved", vars), "small");
  vars.mutable_fields()->erase("flag");
  vars.mutable_fields()->erase("missing");
  EXPECT_EQ(*def.Next(a, "approved", vars), "small");
}

}  // namespace
}  // namespace bpm::definition
