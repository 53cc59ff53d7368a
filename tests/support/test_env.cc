#include "tests/support/test_env.h"

#include <algorithm>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"

namespace bpm::testing {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

namespace {
std::string Required(const char* name) {
  std::string v = Env(name);
  if (v.empty()) {
    ADD_FAILURE() << name << " is not set; run the tests through ctest";
  }
  return v;
}
std::string RandomSuffix() {
  static std::mt19937_64 rng{std::random_device{}()};
  std::ostringstream out;
  out << std::hex << rng();
  return out.str();
}
}  // namespace

std::string SourceDir() { return Required("BPM_SOURCE_DIR"); }
std::string PluginDir() { return Required("BPM_PLUGIN_DIR"); }
std::string FixturePluginDir() { return Required("BPM_FIXTURE_PLUGIN_DIR"); }
std::string BinaryDir() { return Required("BPM_BINARY_DIR"); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void DieWithParent(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
}

TempDir::TempDir() {
  path_ = (std::filesystem::temp_directory_path() / ("bpm-test-" + RandomSuffix())).string();
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string Backend() {
  std::string b = Env("BPM_TEST_BACKEND");
  return b.empty() ? "sqlite" : b;
}

std::string FreshStoreUrl(const std::string& dir, const std::string& tag) {
  if (Backend() != "mysql") return "sqlite:" + dir + "/" + tag + ".db";
  // The ctest fixture (tests/mysql/mariadb.sh) writes host, port, user,
  // password and the admin client command line to this file.
  std::string info_file = Required("BPM_TEST_MYSQL_INFO");
  std::ifstream in(info_file);
  std::string base_url, client;
  std::getline(in, base_url);
  std::getline(in, client);
  if (base_url.empty() || client.empty()) {
    ADD_FAILURE() << "MariaDB fixture info " << info_file
                  << " is missing: is the mariadb_start fixture running?";
    return "";
  }
  std::string db = "t_" + tag + "_" + RandomSuffix();
  std::string cmd = client + " -e 'CREATE DATABASE " + db +
                    " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'";
  if (std::system(cmd.c_str()) != 0) ADD_FAILURE() << "cannot create database: " << cmd;
  return base_url + db;
}

BpmdProcess::BpmdProcess(std::string store_url, std::vector<std::string> extra_args)
    : store_url_(std::move(store_url)), extra_args_(std::move(extra_args)) {
  log_ = dir_.path() + "/bpmd.log";
}

BpmdProcess::~BpmdProcess() { Stop(); }

bool BpmdProcess::Start() {
  std::string port_file = dir_.path() + "/port";
  std::filesystem::remove(port_file);
  std::vector<std::string> args = {BinaryDir() + "/bin/bpmd",
                                   "--listen=127.0.0.1:0",
                                   "--store=" + store_url_,
                                   "--plugins=" + PluginDir(),
                                   "--workflows=" + SourceDir() + "/workflows",
                                   "--port-file=" + port_file};
  // Development identity unless the test configures signed tokens.
  const bool tokens = std::any_of(extra_args_.begin(), extra_args_.end(), [](const std::string& a) {
    return a.rfind("--jwt-", 0) == 0;
  });
  if (!tokens) args.push_back("--dev-identity");
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    DieWithParent(parent);
    FILE* f = std::freopen(log_.c_str(), "a", stdout);
    if (f == nullptr) _exit(127);
    dup2(fileno(stdout), fileno(stderr));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      ADD_FAILURE() << "bpmd exited at start; log:\n" << ReadFile(log_);
      return false;
    }
    std::string port = ReadFile(port_file);
    if (!port.empty()) {
      port_ = std::stoi(port);
      channel_ = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
      auto stub = grpc::health::v1::Health::NewStub(channel_);
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      grpc::health::v1::HealthCheckRequest req;
      grpc::health::v1::HealthCheckResponse resp;
      if (stub->Check(&ctx, req, &resp).ok() &&
          resp.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "bpmd did not become healthy; log:\n" << ReadFile(log_);
  return false;
}

void BpmdProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void BpmdProcess::Stop() {
  if (pid_ <= 0) return;
  channel_.reset();
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  // A clean stop exits 0; anything else (a sanitizer report, a crash) fails
  // the test that owned this bpmd.
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    ADD_FAILURE() << "bpmd did not stop cleanly (status " << status << "); log:\n"
                  << ReadFile(log_);
  }
}

std::string BpmdProcess::address() const { return "127.0.0.1:" + std::to_string(port_); }

Subprocess::Subprocess(std::vector<std::string> argv, std::string log_path)
    : argv_(std::move(argv)), log_path_(std::move(log_path)) {}

Subprocess::~Subprocess() { Kill(); }

bool Subprocess::Start() {
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) {
    ADD_FAILURE() << "fork failed for " << argv_[0];
    return false;
  }
  if (pid_ == 0) {
    DieWithParent(parent);
    FILE* f = std::freopen(log_path_.c_str(), "a", stdout);
    if (f == nullptr) _exit(127);
    dup2(fileno(stdout), fileno(stderr));
    std::vector<char*> argv;
    for (auto& a : argv_) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return true;
}

int Subprocess::Wait(int timeout_ms) {
  if (pid_ <= 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Subprocess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int Subprocess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::string Subprocess::log() const { return ReadFile(log_path_); }

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "cannot bind a loopback port";
    if (fd >= 0) close(fd);
    return 0;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

std::string WaitForFile(const std::string& path, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    std::string text = ReadFile(path);
    if (!text.empty()) return text;
    if (std::chrono::steady_clock::now() >= deadline) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& user, const std::string& roles,
                                             const std::string& org) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!user.empty()) ctx->AddMetadata("x-bpm-user", user);
  if (!roles.empty()) ctx->AddMetadata("x-bpm-roles", roles);
  if (!org.empty()) ctx->AddMetadata("x-bpm-org", org);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}


const char* const kSoundTargetForm = R"({
  "project_name": "乡村道路养护", "amount": 1200000,
  "annual_goal": "完成农村公路养护120公里，优良路率达到85%",
  "indicators": [
    {"level1": "产出指标", "level2": "数量指标", "name": "养护里程", "operator": "≥",
     "target": "120", "unit": "公里", "weight": 20},
    {"level1": "产出指标", "level2": "质量指标", "name": "优良路率", "operator": "≥",
     "target": "85", "unit": "%", "weight": 20},
    {"level1": "产出指标", "level2": "时效指标", "name": "养护完成时间", "operator": "≤",
     "target": "11", "unit": "月", "weight": 10},
    {"level1": "产出指标", "level2": "成本指标", "name": "每公里养护成本", "operator": "≤",
     "target": "1", "unit": "万元", "weight": 10},
    {"level1": "效益指标", "level2": "社会效益指标", "name": "群众出行时间缩短", "operator": "≥",
     "target": "10", "unit": "%", "weight": 20},
    {"level1": "满意度指标", "level2": "服务对象满意度指标", "name": "沿线群众满意度",
     "operator": "≥", "target": "90", "unit": "%", "weight": 20}]})";

void ImportCountyOrgs(const std::shared_ptr<grpc::Channel>& channel) {
  auto orgs = ::bpm::v1::OrgService::NewStub(channel);
  ::bpm::v1::ImportOrgsRequest req;
  req.set_text(ReadFile(SourceDir() + "/examples/county-org.yaml"));
  req.set_source_name("county-org.yaml");
  ::bpm::v1::ImportOrgsResponse resp;
  auto ctx = Context("org-admin", "org_admin", "");
  grpc::Status s = orgs->Import(ctx.get(), req, &resp);
  EXPECT_TRUE(s.ok()) << "org import: " << s.error_message();
}

}  // namespace bpm::testing
