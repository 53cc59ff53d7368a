// Signed tokens end to end: bpmd started with --jwt-hs256-secret-file, the
// real bpmctl with --token-file (BPM_TOKEN_FILE). A valid token acts as its
// subject; an expired one, one signed with another secret, none at all, or
// the development metadata alone are UNAUTHENTICATED with the reason.
#include <jwt.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

#include "tests/support/bpmctl_runner.h"
#include "tests/support/test_env.h"

namespace bpm {
namespace {

using ::testing::HasSubstr;
using testing::Dump;
using testing::Result;
using testing::RunBpmctl;

const std::string kSecret = "a-county-finance-bureau-secret-of-48-bytes-len!!";

std::string Mint(const std::string& secret, const std::string& user, int64_t exp) {
  jwt_t* raw = nullptr;
  jwt_new(&raw);
  std::unique_ptr<jwt_t, decltype(&jwt_free)> jwt(raw, jwt_free);
  const std::string claims = R"({"sub":")" + user +
                             R"(","roles":["unit_filer"],"org":"906017","aud":"bpmd","exp":)" +
                             std::to_string(exp) + "}";
  jwt_add_grants_json(jwt.get(), claims.c_str());
  jwt_set_alg(jwt.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret.data()),
              static_cast<int>(secret.size()));
  std::unique_ptr<char, decltype(&std::free)> text(jwt_encode_str(jwt.get()), std::free);
  return text ? text.get() : "";
}

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(AuthTest, BpmctlWithASignedTokenAgainstBpmd) {
  testing::TempDir dir;
  const std::string secret_file = dir.path() + "/jwt.secret";
  testing::WriteFile(secret_file, kSecret + "\n");
  const std::string access_log = dir.path() + "/access.log";
  testing::BpmdProcess bpmd(testing::FreshStoreUrl(dir.path(), "auth"),
                            {"--jwt-hs256-secret-file=" + secret_file, "--access-log=" + access_log});
  ASSERT_TRUE(bpmd.Start());
  auto with_token = [&](const std::string& token) {
    const std::string file = dir.path() + "/token";
    testing::WriteFile(file, token + "\n");
    return testing::EnvVars{{"BPM_SERVER", bpmd.address()}, {"BPM_TOKEN_FILE", file}};
  };

  // start names the owning org itself (the caller's org is in the token).
  Result r = RunBpmctl({"start", "target-filing", "--subject", "P1", "--org", "906017"},
                       with_token(Mint(kSecret, "zhang", Now() + 600)));
  EXPECT_EQ(r.exit, 0) << Dump(r);
  r = RunBpmctl({"inbox"}, with_token(Mint(kSecret, "zhang", Now() + 600)));
  EXPECT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, HasSubstr("P1"));

  r = RunBpmctl({"inbox"}, with_token(Mint(kSecret, "zhang", Now() - 3600)));
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, HasSubstr("UNAUTHENTICATED: token: expired at"));

  r = RunBpmctl({"inbox"}, with_token(Mint(kSecret + "x", "zhang", Now() + 600)));
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, HasSubstr("signature does not verify"));

  // The development metadata means nothing to a server that wants tokens.
  r = RunBpmctl({"inbox"}, {{"BPM_SERVER", bpmd.address()},
                            {"BPM_USER", "zhang"},
                            {"BPM_ROLES", "unit_filer"},
                            {"BPM_ORG", "906017"}});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, HasSubstr("UNAUTHENTICATED: no credentials"));

  // The access log: who (from the token), what, when, from where, result.
  const std::string log = testing::ReadFile(access_log);
  EXPECT_THAT(log, ::testing::ContainsRegex(
                       "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z peer=ipv4:127.0.0.1:[0-9]+ "
                       "user=zhang method=/bpm.v1.InstanceService/Start status=OK ms="));
  EXPECT_THAT(log, HasSubstr("user=zhang method=/bpm.v1.TaskService/Inbox status=OK"));
  EXPECT_THAT(log, HasSubstr("user=- method=/bpm.v1.TaskService/Inbox status=UNAUTHENTICATED"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("eyJ"))) << "no token in the log";
}

TEST(AuthTest, BpmdRefusesAWeakSecretAndAmbiguousModes) {
  testing::TempDir dir;
  const std::string secret_file = dir.path() + "/jwt.secret";
  testing::WriteFile(secret_file, "short\n");
  testing::Subprocess weak({testing::BinaryDir() + "/bin/bpmd", "--plugins", testing::PluginDir(), "--store",
                            testing::FreshStoreUrl(dir.path(), "weak"),
                            "--jwt-hs256-secret-file", secret_file},
                           dir.path() + "/weak.log");
  ASSERT_TRUE(weak.Start());
  EXPECT_NE(weak.Wait(10000), 0);
  EXPECT_THAT(weak.log(), HasSubstr("at least 32 random bytes"));
  testing::Subprocess both({testing::BinaryDir() + "/bin/bpmd", "--plugins", testing::PluginDir(), "--store",
                            testing::FreshStoreUrl(dir.path(), "both"), "--dev-identity",
                            "--jwt-hs256-secret-file", secret_file},
                           dir.path() + "/both.log");
  ASSERT_TRUE(both.Start());
  EXPECT_NE(both.Wait(10000), 0);
  EXPECT_THAT(both.log(), HasSubstr("exclude each other"));
}

}  // namespace
}  // namespace bpm
