// The loader accepts the real plugins and refuses each broken fixture plugin
// with its exact error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/plugin/loader.h"
#include "tests/support/test_env.h"

namespace bpm::plugin {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Fixture(const std::string& name) {
  return testing::FixturePluginDir() + "/bpm_stage_" + name + ".so";
}

TEST(LoaderTest, LoadsTheBundledStages) {
  Registry r;
  Status s = r.LoadDirectory(testing::PluginDir());
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(r.Names(), ::testing::ElementsAre("agency_work", "department_submit", "disclosure",
                                                "final_review", "rectification", "review"));
  EXPECT_EQ(r.Find("review")->description().version(), "2.0.0");
  EXPECT_EQ(r.Find("nope"), nullptr);
}

TEST(LoaderTest, RefusesAbiMajorMismatch) {
  auto p = LoadPluginFile(Fixture("abi_major_mismatch"));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.status().message(),
            "plugin " + Fixture("abi_major_mismatch") +
                ": ABI 2.0 is incompatible with host ABI 1.0 (stage 'future_stage' 9.9.9)");
}

TEST(LoaderTest, RefusesNewerAbiMinor) {
  auto p = LoadPluginFile(Fixture("abi_minor_newer"));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.status().message(),
            "plugin " + Fixture("abi_minor_newer") +
                ": ABI 1.99 is incompatible with host ABI 1.0 (stage 'newer_stage' 9.9.9)");
}

TEST(LoaderTest, RefusesMissingEntrySymbol) {
  auto p = LoadPluginFile(Fixture("missing_entry"));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.status().message(),
            "plugin " + Fixture("missing_entry") + ": missing entry symbol bpm_plugin_entry_v1");
}

TEST(LoaderTest, RefusesDuplicateStageName) {
  Registry r;
  ASSERT_TRUE(r.LoadDirectory(testing::PluginDir()).ok());
  auto dup = LoadPluginFile(Fixture("duplicate_review"));
  ASSERT_TRUE(dup.ok()) << dup.status();
  Status s = r.Add(*std::move(dup));
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "plugin " + Fixture("duplicate_review") +
                             ": stage 'review' is already provided by " + testing::PluginDir() +
                             "/bpm_stage_review.so");
}

TEST(LoaderTest, RefusesAThrowingDescribeHook) {
  auto p = LoadPluginFile(Fixture("throwing_describe"));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.status().message(),
            "plugin " + Fixture("throwing_describe") +
                ": describe failed: stage plugin 'throwing_describe' 1.0.0 (" +
                Fixture("throwing_describe") +
                ") describe failed: describe hook threw an exception: boom in describe");
}

TEST(LoaderTest, AThrowingActHookBecomesInternal) {
  auto p = LoadPluginFile(Fixture("throwing_act"));
  ASSERT_TRUE(p.ok()) << p.status();
  pb::ActRequest req;
  auto d = (*p)->Act(req);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(d.status().message(), "stage plugin 'throwing_act' 1.0.0 (" + Fixture("throwing_act") +
                                      ") act failed: act hook threw an exception: boom in act");
}

TEST(LoaderTest, RefusesAFileThatIsNotALibrary) {
  auto p = LoadPluginFile(testing::SourceDir() + "/README.md");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(p.status().message()),
              StartsWith("plugin " + testing::SourceDir() + "/README.md: cannot dlopen: "));
}

TEST(LoaderTest, MissingDirectoryIsNotFound) {
  Registry r;
  Status s = r.LoadDirectory("/nonexistent/plugins");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("/nonexistent/plugins does not exist"));
}

}  // namespace
}  // namespace bpm::plugin
