// Test support: running the real bpmctl binary as a subprocess, the way a
// newcomer runs it from a shell, and small helpers for checking its output.
// Thread safety: none needed.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "google/protobuf/util/json_util.h"

namespace bpm::testing {

struct Result {
  int exit = -1;  // exit status; -1 if killed (timeout) or not run
  std::string out, err;
};

using EnvVars = std::map<std::string, std::string>;

// Runs BPM_BINARY_DIR/bin/bpmctl with `args`, the test's environment minus
// any BPM_SERVER/BPM_USER/BPM_ROLES/BPM_ORG plus `env`, stdin from /dev/null,
// in directory `cwd` (if set). Kills it after 30 s.
Result RunBpmctl(const std::vector<std::string>& args, const EnvVars& env,
                 const std::string& cwd = "");

// The same for any program of BPM_BINARY_DIR/bin, killed after timeout_s.
Result RunProgram(const std::string& program, const std::vector<std::string>& args,
                  const EnvVars& env, const std::string& cwd = "", int timeout_s = 30);

// For failure messages: what a command printed.
std::string Dump(const Result& r);

std::vector<std::string> Lines(const std::string& text);

void WriteFile(const std::string& path, const std::string& content);

template <typename Message>
Message ParseJson(const std::string& json) {
  Message message;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(status.ok()) << status.message() << "\n" << json;
  return message;
}

}  // namespace bpm::testing
