// Definition parsing and validation: the bundled workflows are valid, and each
// file in tests/fixtures/workflows/invalid/ is refused with the diagnostic its
// first line announces ("# expect: LINE:COL: message prefix"), with the hint
// its second line announces when it has one ("# hint: text"); every
// diagnostic has a hint. Templates: merging, locked parts, narrowing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "core/common/util.h"
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

// Every state's stage, config and transitions, as comparable text.
std::string CanonicalConfig(const Definition& d) {
  std::string out;
  for (const State& s : d.states) {
    out += s.name + " " + s.stage + " " + CanonicalJson(s.config) + "\n";
    for (const auto& [event, alts] : s.on) {
      for (const Transition& t : alts) out += "  " + event + " -> " + t.target + "\n";
    }
  }
  return out;
}

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

TEST_F(DefinitionTest, OversizedAndDeeplyNestedFilesAreRefused) {
  auto big = Parse("key: big\n# " + std::string(kMaxDefinitionBytes, 'x') + "\n", "big.yaml");
  ASSERT_EQ(big.diagnostics.size(), 1u) << big.diagnostics.front().ToString();
  EXPECT_EQ(big.diagnostics[0].pos.line, 1);
  EXPECT_THAT(big.diagnostics[0].message, HasSubstr("a definition may have at most 1048576"));

  std::string nested = "key: deep\nvariables:\n  x: ";
  for (int i = 0; i < 40; ++i) nested += "[";
  for (int i = 0; i < 40; ++i) nested += "]";
  auto deep = Parse(nested + "\n", "deep.yaml");
  ASSERT_EQ(deep.diagnostics.size(), 1u);
  EXPECT_EQ(deep.diagnostics[0].pos.line, 3);
  EXPECT_THAT(deep.diagnostics[0].message, HasSubstr("nested more than 32 levels deep"));
  EXPECT_FALSE(deep.diagnostics[0].hint.empty());

  // Far deeper than yaml-cpp's own recursion guard: a diagnostic, no crash.
  std::string abyss = "key: abyss\nx: " + std::string(100000, '[');
  auto fell = Parse(abyss, "abyss.yaml");
  EXPECT_FALSE(fell.diagnostics.empty());
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
    std::string hint;
    const std::string hint_prefix = "# hint: ";
    if (size_t second = yaml.find('\n') + 1; yaml.compare(second, hint_prefix.size(), hint_prefix) == 0) {
      hint = yaml.substr(second + hint_prefix.size(),
                         yaml.find('\n', second) - second - hint_prefix.size());
    }

    std::vector<Diagnostic> diags;
    auto def = Compile(yaml, path.filename().string(), *registry_, &diags);
    ASSERT_FALSE(def.ok());
    EXPECT_EQ(def.status().code(), absl::StatusCode::kInvalidArgument);
    ASSERT_FALSE(diags.empty());
    bool found = false;
    for (const auto& d : diags) {
      EXPECT_FALSE(d.hint.empty()) << "no hint: " << d.ToString();
      if (d.pos.line == line && d.pos.column == col && d.message.rfind(message, 0) == 0) {
        found = true;
        EXPECT_EQ(d.file, path.filename().string());
        if (!hint.empty()) {
          EXPECT_EQ(d.hint, hint);
        }
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

// ---- templates -------------------------------------------------------------------

// Templates "deployed" in memory: key -> versions (1-based).
class TemplateTest : public DefinitionTest {
 protected:
  void Put(const std::string& yaml) {
    auto def = Compile(yaml, "t.yaml", *registry_, nullptr, &resolver_);
    ASSERT_TRUE(def.ok()) << def.status();
    versions_[(*def)->key].push_back(*def);
  }
  StatusOr<std::shared_ptr<const Definition>> Build(const std::string& yaml,
                                                    std::vector<Diagnostic>* diags = nullptr) {
    return Compile(yaml, "child.yaml", *registry_, diags, &resolver_);
  }
  std::map<std::string, std::vector<std::shared_ptr<const Definition>>> versions_;
  TemplateResolver resolver_ = [this](const std::string& key, int64_t version,
                                      const std::string& alias) -> StatusOr<BaseTemplate> {
    auto it = versions_.find(key);
    if (it == versions_.end()) return absl::NotFoundError("no such definition");
    if (!alias.empty() && alias != "current") return absl::NotFoundError("no such alias");
    int64_t v = version > 0 ? version : static_cast<int64_t>(it->second.size());
    if (v > static_cast<int64_t>(it->second.size())) return absl::NotFoundError("no such version");
    const auto& def = it->second[v - 1];
    return BaseTemplate{key, v, def->effective_yaml, def->content_hash};
  };
  static std::string Province() {
    return testing::ReadFile(testing::SourceDir() +
                             "/examples/templates/province-project-target.yaml");
  }
  static std::string County() {
    return testing::ReadFile(testing::SourceDir() +
                             "/examples/templates/county-project-target.yaml");
  }
};

TEST_F(TemplateTest, AnExtendingDefinitionGetsTheTemplateWithItsOverrides) {
  Put(Province());
  auto county = Build(County());
  ASSERT_TRUE(county.ok()) << county.status();
  const Definition& d = **county;
  EXPECT_EQ(d.key, "county-project-target");
  EXPECT_EQ(d.title, "项目绩效目标填报与审核（县级）");
  EXPECT_FALSE(d.is_template);
  EXPECT_EQ(d.extends_key, "province-project-target");
  EXPECT_EQ(d.extends_version, 1);
  EXPECT_FALSE(d.extends_pinned);
  ASSERT_EQ(d.states.size(), 7u);  // every state from the template
  const State* review = d.Find("review");
  ASSERT_NE(review, nullptr);
  EXPECT_EQ(review->config.fields().at("chain").list_value().values_size(), 4);
  EXPECT_EQ(review->config.fields().at("due").struct_value().fields().at("working_days").number_value(), 3);
  // Not overridden: kept from the template.
  EXPECT_EQ(review->config.fields().at("remind_before_hours").number_value(), 24);
  EXPECT_EQ(review->config.fields().at("on_empty").string_value(), "skip");
  EXPECT_EQ(d.Find("rectification")->config.fields().at("due_days").number_value(), 30);
  // The threshold: 良 now goes to rectification, 优 does not.
  google::protobuf::Struct vars;
  (*vars.mutable_fields())["grade"].set_string_value("良");
  EXPECT_EQ(*d.Next(*d.Find("finance_review"), "approved", vars), "rectification");
  (*vars.mutable_fields())["grade"].set_string_value("优");
  EXPECT_EQ(*d.Next(*d.Find("finance_review"), "approved", vars), "disclosure");
  // The effective text is a definition on its own (what a further level builds on).
  auto again = Compile(d.effective_yaml, "effective.yaml", *registry_, nullptr);
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << d.effective_yaml;
  EXPECT_EQ(CanonicalConfig(**again), CanonicalConfig(d));
}

TEST_F(TemplateTest, ALockedOverrideIsRefusedWhereItIsWritten) {
  Put(Province());
  std::vector<Diagnostic> diags;
  auto county = Build(R"(key: county-x
extends: province-project-target
states:
  finance_review:
    config:
      grades: [合格, 不合格]
  draft:
    on: { submitted: disclosure }
)", &diags);
  ASSERT_FALSE(county.ok());
  ASSERT_EQ(diags.size(), 2u) << county.status();
  EXPECT_EQ(diags[0].pos.line, 6);
  EXPECT_EQ(diags[0].pos.column, 15);
  EXPECT_EQ(diags[0].message,
            "'states.finance_review.config.grades' is locked by template "
            "province-project-target v1");
  EXPECT_THAT(diags[0].hint, HasSubstr("states.review.config.chain"));
  EXPECT_EQ(diags[1].pos.line, 8);
  EXPECT_THAT(diags[1].message, HasSubstr("'states.draft.on.submitted' is locked"));
  // A new state is a part the template does not have.
  auto added = Build(R"(key: county-y
extends: province-project-target
states:
  extra: { final: true }
)", &diags);
  ASSERT_FALSE(added.ok());
  EXPECT_THAT(diags.at(0).message,
              HasSubstr("'states.extra' is locked by template province-project-target v1 "
                        "(the template has no such part)"));
  // initial is not overridable either.
  auto initial = Build("key: county-z\nextends: province-project-target\ninitial: review\n",
                       &diags);
  ASSERT_FALSE(initial.ok());
  EXPECT_EQ(diags.at(0).pos.line, 3);
  EXPECT_THAT(diags.at(0).message, HasSubstr("'initial' is locked"));
}

TEST_F(TemplateTest, OverridesAreValidatedLikeAnyDefinition) {
  Put(Province());
  std::vector<Diagnostic> diags;
  auto county = Build(R"(key: county-x
extends: province-project-target
states:
  review:
    config:
      due: { weeks: 2 }
)", &diags);
  ASSERT_FALSE(county.ok());
  ASSERT_FALSE(diags.empty());
  EXPECT_EQ(diags[0].pos.line, 6);
  EXPECT_THAT(diags[0].message, HasSubstr("config 'due.weeks' rejected: unknown key"));
  auto typo = Build(R"(key: county-x
extends: province-project-target
states:
  finance_review:
    on:
      approved:
        - { to: rectification, when: { var: grade, in: [中等] } }
        - { to: disclosure }
)", &diags);
  ASSERT_FALSE(typo.ok());
  EXPECT_THAT(diags.at(0).message, HasSubstr("'中等' is not one of the values of 'grade'"));
  EXPECT_EQ(diags.at(0).pos.line, 7);
}

TEST_F(TemplateTest, TemplatesAcrossThreeLevelsOnlyNarrow) {
  Put(Province());
  // A city publishes its own template on the province's, keeping the chain open.
  Put(R"(key: city-project-target
template: true
extends: province-project-target
overridable: [states.review.config.chain]
states:
  review:
    config:
      due: { working_days: 4 }
)");
  auto county = Build(R"(key: county-x
extends: city-project-target
states:
  review:
    config:
      chain: [{ level: unit_leader }]
)");
  ASSERT_TRUE(county.ok()) << county.status();
  const State* review = (*county)->Find("review");
  EXPECT_EQ(review->config.fields().at("chain").list_value().values_size(), 1);
  EXPECT_EQ(review->config.fields().at("due").struct_value().fields().at("working_days").number_value(), 4);
  // The city locked the due the province left open.
  std::vector<Diagnostic> diags;
  auto late = Build(R"(key: county-y
extends: city-project-target
states: { review: { config: { due: { working_days: 9 } } } }
)", &diags);
  ASSERT_FALSE(late.ok());
  EXPECT_THAT(diags.at(0).message, HasSubstr("locked by template city-project-target v1"));
  // A template cannot reopen what its own template locked.
  auto reopen = Build(R"(key: city-z
template: true
extends: province-project-target
overridable: [states.draft.config.form]
)", &diags);
  ASSERT_FALSE(reopen.ok());
  EXPECT_THAT(diags.at(0).message,
              HasSubstr("'states.draft.config.form' is locked by template "
                        "province-project-target v1; a template may only narrow"));
}

TEST_F(TemplateTest, AnOverridableThatIsNotAListIsADiagnostic) {
  // Found by definition_fuzz: a mapping here threw out of the parser (a
  // deploy of it would have ended bpmd).
  Put(Province());
  std::vector<Diagnostic> diags;
  auto bad = Build(R"(key: city-m
template: true
extends: province-project-target
overridable: { states.review.config.chain: yes }
)", &diags);
  ASSERT_FALSE(bad.ok());
  ASSERT_FALSE(diags.empty());
  EXPECT_THAT(diags.at(0).message, HasSubstr("overridable must be a list of paths, not a mapping"));
  EXPECT_EQ(diags.at(0).pos.line, 4);
}

TEST_F(TemplateTest, VersionsPinsAndErrors) {
  Put(Province());
  std::string v2 = Province();
  v2.replace(v2.find("due_days: 30"), 12, "due_days: 20");
  Put(v2);
  auto follows = Build(County());
  ASSERT_TRUE(follows.ok()) << follows.status();
  EXPECT_EQ((*follows)->extends_version, 2);
  EXPECT_EQ((*follows)->Find("rectification")->config.fields().at("due_days").number_value(), 20);
  auto pinned = Build(R"(key: county-pinned
extends: { key: province-project-target, version: 1 }
)");
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_TRUE((*pinned)->extends_pinned);
  EXPECT_EQ((*pinned)->Find("rectification")->config.fields().at("due_days").number_value(), 30);
  // Same text, other template version: another definition version.
  const TemplateResolver first = [this](const std::string& k, int64_t, const std::string& a) {
    return resolver_(k, 1, a);
  };
  auto on_v1 = Compile(County(), "c.yaml", *registry_, nullptr, &first);
  ASSERT_TRUE(on_v1.ok());
  EXPECT_NE((*on_v1)->content_hash, (*follows)->content_hash);

  std::vector<Diagnostic> diags;
  auto missing = Compile("key: x\nextends: nowhere\n", "x.yaml", *registry_, &diags, &resolver_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(diags.at(0).pos.line, 2);
  EXPECT_EQ(diags.at(0).message, "extends: template 'nowhere': no such definition");
  EXPECT_FALSE(diags.at(0).hint.empty());
}

TEST_F(TemplateTest, TheEffectiveTextKeepsQuotedScalarsStrings) {
  Put(R"(key: quoted
template: true
overridable: [states.a.title]
initial: a
states:
  a:
    title: "2026"
    stage: disclosure
    config: { mode: auto, publish: ["1", "true", "null", "${org}"] }
    on: { published: b }
  b: { final: true }
)");
  auto child = Build("key: child\nextends: quoted\nstates: { a: { title: \"2027\" } }\n");
  ASSERT_TRUE(child.ok()) << child.status();
  const State* a = (*child)->Find("a");
  EXPECT_EQ(a->title, "2027");
  const auto& publish = a->config.fields().at("publish").list_value();
  ASSERT_EQ(publish.values_size(), 4);
  for (const auto& v : publish.values()) EXPECT_TRUE(v.has_string_value()) << (*child)->effective_yaml;
  // ...and so does a definition built on the child's effective text.
  auto again = Parse((*child)->effective_yaml, "effective.yaml");
  ASSERT_TRUE(again.ok());
  for (const auto& v : again.definition->Find("a")->config.fields().at("publish").list_value().values()) {
    EXPECT_TRUE(v.has_string_value()) << (*child)->effective_yaml;
  }
}

TEST_F(TemplateTest, OnlyATemplateCanBeExtended) {
  versions_.clear();
  Put(testing::ReadFile(testing::SourceDir() + "/workflows/target-filing.yaml"));
  std::vector<Diagnostic> diags;
  auto child = Build("key: x\nextends: target-filing\n", &diags);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(diags.at(0).message, "extends: target-filing v1 is not a template");
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
