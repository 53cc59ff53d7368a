// bpmd --watch-workflows: editing a file in a workflow directory of a running
// server deploys it (a new version that new instances start on); an invalid
// edit is reported on the log with file:line:col and changes nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "bpm/v1/bpm.grpc.pb.h"
#include "tests/support/bpmctl_runner.h"
#include "tests/support/test_env.h"

namespace bpm {
namespace {

using ::testing::HasSubstr;
namespace v1 = ::bpm::v1;

std::string Workflow(const std::string& return_to) {
  return "key: watched\n"
         "title: 监控流程\n"
         "initial: review\n"
         "states:\n"
         "  review:\n"
         "    stage: review\n"
         "    config: { assignee: { role: authority_reviewer } }\n"
         "    on: { approved: done, returned: " + return_to + " }\n"
         "  done: { final: true }\n";
}

class WatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<testing::TempDir>();
    testing::WriteFile(dir_->path() + "/watched.yaml", Workflow("review"));
    bpmd_ = std::make_unique<testing::BpmdProcess>(
        testing::FreshStoreUrl(store_dir_.path(), "watch"),
        std::vector<std::string>{"--workflows=" + dir_->path(), "--watch-workflows=1"});
    ASSERT_TRUE(bpmd_->Start());
    defs_ = v1::DefinitionService::NewStub(bpmd_->channel());
  }

  v1::ListDefinitionsResponse List() {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-bpm-user", "ops");
    v1::ListDefinitionsRequest req;
    req.set_key("watched");
    v1::ListDefinitionsResponse resp;
    grpc::Status s = defs_->List(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  // Polls up to 15 s for cond (the watcher scans every second).
  bool Eventually(const std::function<bool()>& cond) {
    for (int i = 0; i < 150; ++i) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return cond();
  }

  testing::TempDir store_dir_;
  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<testing::BpmdProcess> bpmd_;
  std::unique_ptr<v1::DefinitionService::Stub> defs_;
};

TEST_F(WatchTest, EditedFileBecomesTheCurrentVersion) {
  ASSERT_EQ(List().definitions_size(), 1);
  testing::WriteFile(dir_->path() + "/watched.yaml", Workflow("done"));
  ASSERT_TRUE(Eventually([&] { return List().definitions_size() == 2; }))
      << testing::ReadFile(bpmd_->log_path());
  auto listed = List();
  EXPECT_THAT(listed.definitions(1).aliases(), ::testing::ElementsAre("current"));
  ASSERT_EQ(listed.alias_moves_size(), 2);
  EXPECT_EQ(listed.alias_moves(1).moved_by(), "watch");
  EXPECT_THAT(testing::ReadFile(bpmd_->log_path()),
              HasSubstr("bpmd: watch: workflow watched version 2 deployed from " + dir_->path() +
                        "/watched.yaml; current: 2 (was 1)\n"));

  // An invalid edit: logged with its position, nothing deployed, still serving.
  testing::WriteFile(dir_->path() + "/watched.yaml", Workflow("nowhere"));
  ASSERT_TRUE(Eventually([&] {
    return testing::ReadFile(bpmd_->log_path()).find("not deployed") != std::string::npos;
  })) << testing::ReadFile(bpmd_->log_path());
  EXPECT_THAT(testing::ReadFile(bpmd_->log_path()),
              HasSubstr(dir_->path() + "/watched.yaml:8:"));
  EXPECT_THAT(testing::ReadFile(bpmd_->log_path()), HasSubstr("'nowhere'"));
  EXPECT_EQ(List().definitions_size(), 2);

  // A new file in the directory is picked up too.
  std::string other = Workflow("review");
  other.replace(0, std::string("key: watched").size(), "key: watched-too");
  testing::WriteFile(dir_->path() + "/other.yml", other);
  ASSERT_TRUE(Eventually([&] {
    return testing::ReadFile(bpmd_->log_path()).find("workflow watched-too version 1") !=
           std::string::npos;
  })) << testing::ReadFile(bpmd_->log_path());
}

// A definition and the template it extends, in either order: at start the
// directory is deployed in rounds; a watched child that arrives before its
// template is deployed once the template is.
TEST_F(WatchTest, TemplatesAndWhatExtendsThemInAnyOrder) {
  const std::string examples = testing::SourceDir() + "/examples/templates/";
  std::string child = testing::ReadFile(examples + "county-project-target.yaml");
  testing::WriteFile(dir_->path() + "/a-county.yaml", child);
  ASSERT_TRUE(Eventually([&] {
    return testing::ReadFile(bpmd_->log_path()).find("a-county.yaml not deployed") !=
           std::string::npos;
  })) << testing::ReadFile(bpmd_->log_path());
  testing::WriteFile(dir_->path() + "/z-province.yaml",
                     testing::ReadFile(examples + "province-project-target.yaml"));
  ASSERT_TRUE(Eventually([&] {
    return testing::ReadFile(bpmd_->log_path()).find("workflow county-project-target version 1") !=
           std::string::npos;
  })) << testing::ReadFile(bpmd_->log_path());

  // A restart deploys the directory in rounds: the county file sorts first.
  bpmd_.reset();
  testing::BpmdProcess again(testing::FreshStoreUrl(store_dir_.path(), "rounds"),
                             {"--workflows=" + dir_->path()});
  ASSERT_TRUE(again.Start()) << testing::ReadFile(again.log_path());
  EXPECT_THAT(testing::ReadFile(again.log_path()),
              HasSubstr("bpmd: workflow county-project-target version 1 deployed from " +
                        dir_->path() + "/a-county.yaml"));
}

}  // namespace
}  // namespace bpm
