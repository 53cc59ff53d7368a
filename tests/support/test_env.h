// Test support: where the build put things, temporary directories, the
// private MariaDB started by the ctest fixture, and a real bpmd subprocess.
// Thread safety: none needed (tests use these from one thread).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "bpm/v1/bpm.grpc.pb.h"
#include "bpm/v1/org.grpc.pb.h"
#include <grpcpp/grpcpp.h>

namespace bpm::testing {

std::string Env(const char* name);          // "" when unset
std::string SourceDir();                     // BPM_SOURCE_DIR
std::string PluginDir();                     // BPM_PLUGIN_DIR
std::string FixturePluginDir();              // BPM_FIXTURE_PLUGIN_DIR
std::string BinaryDir();                     // BPM_BINARY_DIR
std::string ReadFile(const std::string& path);

// In a child just forked by the test (before exec): the child gets SIGKILL
// when the test's thread that forked it ends, so a test that crashes or is
// aborted (a sanitizer report) leaves no bpmd running. parent: the test's pid
// before the fork, to catch a parent that died before the request took hold.
void DieWithParent(pid_t parent);

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// "sqlite" or "mysql", from BPM_TEST_BACKEND (default sqlite).
std::string Backend();

// A store URL for a fresh, empty database of the current backend. For mysql it
// creates a new database on the fixture's server (named after `tag` plus a
// random suffix); for sqlite a file in dir.
std::string FreshStoreUrl(const std::string& dir, const std::string& tag);

// A running bpmd on 127.0.0.1 and a random port, with the real plugins; in
// development identity mode unless extra_args configure tokens (--jwt-...).
class BpmdProcess {
 public:
  BpmdProcess(std::string store_url, std::vector<std::string> extra_args = {});
  ~BpmdProcess();  // SIGTERM, then wait
  // Starts and waits until the health service answers SERVING. Fails the
  // current test (ADD_FAILURE) and returns false on timeout.
  bool Start();
  void Kill();     // SIGKILL, then wait
  void Stop();     // SIGTERM, then wait
  std::string address() const;
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  const std::string& log_path() const { return log_; }
  pid_t pid() const { return pid_; }  // -1 when not running

 private:
  std::string store_url_;
  std::vector<std::string> extra_args_;
  TempDir dir_;
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
};

// A child process (fork/exec) with stdout and stderr appended to a log file,
// for tests that start servers other than bpmd, or bpmd expecting it to fail.
class Subprocess {
 public:
  Subprocess(std::vector<std::string> argv, std::string log_path);
  ~Subprocess();  // SIGKILL if still running, then wait
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Forks and execs argv[0] (a path). False (and ADD_FAILURE) when fork fails.
  bool Start();
  // Waits up to timeout_ms for the process to exit; its waitpid status, or -1
  // when it is still running (or was never started).
  int Wait(int timeout_ms);
  void Kill();  // SIGKILL, then wait
  int Stop();   // SIGTERM, then wait; the waitpid status (-1: not running)
  bool running() const { return pid_ > 0; }
  std::string log() const;  // the log file's contents so far

 private:
  std::vector<std::string> argv_;
  std::string log_path_;
  pid_t pid_ = -1;
};

// A TCP port on 127.0.0.1 that nothing listens on (bound, then released);
// a gtest failure and 0 when none can be bound.
int FreePort();

// Waits up to timeout_ms for path to exist and be non-empty; its contents or
// "" on timeout (e.g. a --port-file).
std::string WaitForFile(const std::string& path, int timeout_ms);

// A development-mode identity: user, comma-separated roles, org.
struct Who {
  std::string user, roles, org;
};

// A target form for the bundled target-filing workflow that passes its
// quality check (every output category, a benefit row, weights adding up to
// 100, nothing vague): JSON, the payload of the fill task's submit.
extern const char* const kSoundTargetForm;

// Client context with development identity metadata and a 10 s deadline.
// Imports examples/county-org.yaml (安远县) through the API as an org_admin;
// a gtest failure when that fails. The authorization scopes of finance
// sections and bureaus come from this model.
void ImportCountyOrgs(const std::shared_ptr<grpc::Channel>& channel);

std::unique_ptr<grpc::ClientContext> Context(const std::string& user,
                                             const std::string& roles,
                                             const std::string& org);

}  // namespace bpm::testing
