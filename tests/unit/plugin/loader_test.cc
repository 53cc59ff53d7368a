// The loader accepts the real plugins and refuses each broken fixture plugin
// with its exact error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/common/util.h"
#include "core/plugin/loader.h"
#include "tests/support/test_env.h"

namespace bpm::plugin {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Fixture(const std::string& name) {
  return testing::FixturePluginDir() + "/bpm_stage_" + name + ".so";
}

std::string Bundled(const std::string& stage) {
  return testing::PluginDir() + "/bpm_stage_" + stage + ".so";
}

TEST(LoaderTest, LoadsTheBundledStages) {
  Registry r;
  Status s = r.LoadDirectory(testing::PluginDir());
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(r.Names(), ::testing::ElementsAre("agency_work", "department_submit", "disclosure",
                                                "evaluation", "ex_ante", "final_review", "monitoring",
                                                "rectification", "result_application", "review",
                                                "scorecard", "self_evaluation", "spot_check"));
  EXPECT_EQ(r.Find("review")->description().version(), "2.0.0");
  EXPECT_EQ(r.Find("nope"), nullptr);
}

TEST(LoaderTest, RefusesAbiMajorMismatch) {
  auto p = LoadPluginFile(Fixture("abi_major_mismatch"));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.status().message(),
            "plugin " + Fixture("abi_major_mismatch") +
                ": ABI 2.0 is incompatible with host ABI 1.1 (stage 'future_stage' 9.9.9)");
}

TEST(LoaderTest, RefusesNewerAbiMinor) {
  auto p = LoadPluginFile(Fixture("abi_minor_newer"));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.status().message(),
            "plugin " + Fixture("abi_minor_newer") +
                ": ABI 1.99 is incompatible with host ABI 1.1 (stage 'newer_stage' 9.9.9)");
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
  for (PluginCalls calls : {PluginCalls::kMessagesWhenShared, PluginCalls::kBytes}) {
    auto p = LoadPluginFile(Fixture("throwing_act"), nullptr, calls);
    ASSERT_TRUE(p.ok()) << p.status();
    SCOPED_TRACE((*p)->transport());
    pb::ActRequest req;
    auto d = (*p)->Act(req);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInternal);
    EXPECT_EQ(d.status().message(), "stage plugin 'throwing_act' 1.0.0 (" +
                                        Fixture("throwing_act") +
                                        ") act failed: act hook threw an exception: boom in act");
  }
}

google::protobuf::Struct Tagged(const std::string& key, const std::string& value) {
  google::protobuf::Struct s;
  (*s.mutable_fields())[key].set_string_value(value);
  return s;
}

// Enter and Act of an echo fixture (older_table.cc) with the config apart, as
// the engine calls them: the config arrives, and the request is as it was.
void ExpectEchoes(const StageHandle& stage) {
  const google::protobuf::Struct config = [] {
    google::protobuf::Struct c = Tagged("tag", "t-1");
    (*c.mutable_fields())["outcome"].set_string_value("done");
    return c;
  }();
  const std::string wire = ConfigWire(config);
  const StageHandle::Config apart{config, wire};
  for (int round = 0; round < 2; ++round) {  // the second from the plugin's config cache
    pb::EnterRequest enter;
    auto entered = stage.EnterWithConfig(enter, apart);
    ASSERT_TRUE(entered.ok()) << entered.status();
    EXPECT_EQ(entered->set_variables().fields().at("entered").string_value(), "t-1");
    EXPECT_FALSE(enter.context().has_config());

    pb::ActRequest act;
    act.set_action("go");
    *act.mutable_payload() = Tagged("value", "v-1");
    auto acted = stage.ActWithConfig(act, apart);
    ASSERT_TRUE(acted.ok()) << acted.status();
    EXPECT_EQ(acted->outcome(), "done");
    EXPECT_EQ(acted->set_variables().fields().at("acted").string_value(), "v-1");
    EXPECT_FALSE(act.context().has_config());
  }
}

TEST(LoaderTest, BundledStagesTakeTheHostsMessages) {
  for (const std::string stage : {"review", "department_submit", "disclosure"}) {
    auto shared = LoadPluginFile(Bundled(stage));
    ASSERT_TRUE(shared.ok()) << shared.status();
    EXPECT_EQ((*shared)->transport(), "in process, messages") << stage;
    auto bytes = LoadPluginFile(Bundled(stage), nullptr, PluginCalls::kBytes);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ((*bytes)->transport(), "in process, bytes") << stage;
  }
}

TEST(LoaderTest, OlderAndForeignPluginsAreCalledWithBytes) {
  for (const std::string name : {"minor_zero", "foreign_messages"}) {
    SCOPED_TRACE(name);
    auto p = LoadPluginFile(Fixture(name));
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ((*p)->description().name(), name);
    EXPECT_EQ((*p)->transport(), "in process, bytes");
    ExpectEchoes(**p);
  }
}

TEST(LoaderTest, MessageCallsLendTheConfigAndTakeItBack) {
  // A stage built with the SDK, called both ways with its config apart.
  for (PluginCalls calls : {PluginCalls::kMessagesWhenShared, PluginCalls::kBytes}) {
    auto p = LoadPluginFile(Bundled("review"), nullptr, calls);
    ASSERT_TRUE(p.ok()) << p.status();
    SCOPED_TRACE((*p)->transport());
    google::protobuf::Struct config = Tagged("title", "初审");
    const std::string wire = ConfigWire(config);
    pb::EnterRequest enter;
    enter.mutable_context()->set_state("review");
    auto entered = (*p)->EnterWithConfig(enter, StageHandle::Config{config, wire});
    ASSERT_TRUE(entered.ok()) << entered.status();
    ASSERT_EQ(entered->open_tasks_size(), 1);
    EXPECT_EQ(entered->open_tasks(0).title(), "初审");
    EXPECT_FALSE(enter.context().has_config());

    // A config in the request merges over the one apart, as a parse of the
    // two would; the request keeps its own afterwards.
    *enter.mutable_context()->mutable_config() = Tagged("title", "复审");
    entered = (*p)->EnterWithConfig(enter, StageHandle::Config{config, wire});
    ASSERT_TRUE(entered.ok()) << entered.status();
    EXPECT_EQ(entered->open_tasks(0).title(), "复审");
    EXPECT_EQ(enter.context().config().fields().at("title").string_value(), "复审");
    EXPECT_EQ(enter.context().config().fields_size(), 1);
  }
}

TEST(LoaderTest, AMessageCallWithAConfigThatIsNotOneFails) {
  auto p = LoadPluginFile(Bundled("review"));
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ((*p)->transport(), "in process, messages");
  const google::protobuf::Struct config;
  const std::string garbage = "\x0a\x05\x42\x09xx";
  pb::EnterRequest enter;
  auto entered = (*p)->EnterWithConfig(enter, StageHandle::Config{config, garbage});
  ASSERT_FALSE(entered.ok());
  EXPECT_EQ(entered.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(entered.status().message(),
            "stage plugin 'review' 2.0.0 (" + Bundled("review") +
                ") enter failed: enter: config_wire is not a config alone");
}

// A copy of a file in a fresh private directory, with the given mode.
std::string CopyTo(const testing::TempDir& dir, const std::string& from, const std::string& name,
                   std::filesystem::perms mode) {
  const std::string to = dir.path() + "/" + name;
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::permissions(to, mode);
  return to;
}

constexpr auto kPrivate = std::filesystem::perms::owner_all;
constexpr auto kReadable = std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                           std::filesystem::perms::group_exec |
                           std::filesystem::perms::others_read |
                           std::filesystem::perms::others_exec;

TEST(LoaderTest, RefusesAFileThatIsNotALibrary) {
  testing::TempDir dir;
  const std::string path =
      CopyTo(dir, testing::SourceDir() + "/README.md", "README.md", kReadable);
  auto p = LoadPluginFile(path);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(p.status().message()), StartsWith("plugin " + path + ": cannot dlopen: "));
}

TEST(LoaderTest, RefusesAPluginWritableByGroupOrOthers) {
  testing::TempDir dir;
  for (auto extra : {std::filesystem::perms::group_write, std::filesystem::perms::others_write}) {
    const std::string path = CopyTo(dir, Bundled("review"), "bpm_stage_review.so", kReadable | extra);
    auto p = LoadPluginFile(path);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(std::string(p.status().message()),
                StartsWith("plugin " + path + ": refused: writable by group or others (mode 07"));
  }
}

TEST(LoaderTest, RefusesAPluginInADirectoryOthersMayWrite) {
  testing::TempDir dir;
  const std::string path = CopyTo(dir, Bundled("review"), "bpm_stage_review.so", kReadable);
  std::filesystem::permissions(dir.path(), kReadable | std::filesystem::perms::others_write);
  auto p = LoadPluginFile(path);
  std::filesystem::permissions(dir.path(), kPrivate);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("its directory is writable"));
}

TEST(LoaderTest, RefusesAPluginOwnedBySomeoneElse) {
  if (geteuid() != 0) GTEST_SKIP() << "only root can give a file to another user";
  testing::TempDir dir;
  const std::string path = CopyTo(dir, Bundled("review"), "bpm_stage_review.so", kReadable);
  ASSERT_EQ(chown(path.c_str(), 65534, 65534), 0);
  auto p = LoadPluginFile(path);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("owned by uid 65534"));
}

TEST(LoaderTest, PinsFixTheContentOfEachPlugin) {
  testing::TempDir dir;
  const std::string path = CopyTo(dir, Bundled("review"), "bpm_stage_review.so", kReadable);
  const std::string actual = Sha256Hex(testing::ReadFile(path));
  const std::string pin_file = dir.path() + "/plugins.sha256";
  auto write_pins = [&](const std::string& text) {
    std::ofstream(pin_file) << text;
    return ReadPluginPins(pin_file);
  };
  auto pins = write_pins("# pinned\n" + actual + "  bpm_stage_review.so\n");
  ASSERT_TRUE(pins.ok()) << pins.status();
  auto p = LoadPluginFile(path, &*pins);
  EXPECT_TRUE(p.ok()) << p.status();

  pins = write_pins(std::string(64, 'a') + " *bpm_stage_review.so\n");
  ASSERT_TRUE(pins.ok()) << pins.status();
  p = LoadPluginFile(path, &*pins);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(p.status().message()),
              HasSubstr("refused: sha256 " + actual + " is not the pinned aaaa"));

  pins = write_pins(actual + "  bpm_stage_other.so\n");
  ASSERT_TRUE(pins.ok());
  p = LoadPluginFile(path, &*pins);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()),
              HasSubstr("'bpm_stage_review.so' is not in the pin file"));

  pins = write_pins("# ok\nnot-a-hash  bpm_stage_review.so\n");
  ASSERT_FALSE(pins.ok());
  EXPECT_EQ(pins.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(pins.status().message()), StartsWith(pin_file + ":2: expected"));
}

TEST(LoaderTest, MissingDirectoryIsNotFound) {
  Registry r;
  Status s = r.LoadDirectory("/nonexistent/plugins");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("/nonexistent/plugins does not exist"));
}

}  // namespace
}  // namespace bpm::plugin
