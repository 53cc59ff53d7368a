// TLS and mutual TLS end to end. Certificates are made with the openssl
// command for each run: a CA, a server certificate for 127.0.0.1, client
// certificates from that CA (one mapped to an identity, one unmapped, one
// mapped but revoked) and one from another CA. bpmd serves TLS with client
// certificates verified against the CA; the real bpmctl connects with
// --tls-ca and, for mutual TLS, --tls-cert/--tls-key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "bpm/v1/bpm.pb.h"
#include "tests/support/bpmctl_runner.h"
#include "tests/support/test_env.h"

namespace bpm {
namespace {

using ::testing::HasSubstr;
using testing::Dump;
using testing::EnvVars;
using testing::Result;
using testing::RunBpmctl;

const char* kMakeCerts = R"(set -e
ec() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null; }
sign() { openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" -days 2 $3 2>/dev/null; }
for ca in ca other-ca; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $ca.key -out $ca.pem -days 2 -subj "/CN=$ca" 2>/dev/null
done
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
ec server localhost; sign server ca "-extfile san.ext"
for c in unit-system stranger revoked; do ec $c $c; sign $c ca; done
ec outsider unit-system; sign outsider other-ca
fp=$(openssl x509 -in revoked.pem -noout -fingerprint -sha256 | cut -d= -f2)
cat > identities.yaml <<YAML
certificates:
  - {cn: unit-system, user: zhang, roles: [unit_filer], org: "906017"}
  - {cn: revoked, user: li, roles: [authority_reviewer], org: "906"}
revoked_sha256:
  - "$fp"
YAML
)";

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string script = dir_.path() + "/make-certs.sh";
    testing::WriteFile(script, kMakeCerts);
    ASSERT_EQ(std::system(("cd " + dir_.path() + " && bash make-certs.sh").c_str()), 0);
  }

  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

  // Starts bpmd with args and waits for its port; its address or "".
  std::string StartBpmd(std::vector<std::string> args, const std::string& name) {
    const std::string port_file = Path(name + ".port");
    std::vector<std::string> argv = {testing::BinaryDir() + "/bin/bpmd",
                                     "--plugins=" + testing::PluginDir(),
                                     "--workflows=" + testing::SourceDir() + "/workflows",
                                     "--store=" + testing::FreshStoreUrl(dir_.path(), name),
                                     "--port-file=" + port_file, "--dev-identity"};
    if (std::none_of(args.begin(), args.end(),
                     [](const std::string& a) { return a.rfind("--listen=", 0) == 0; })) {
      argv.push_back("--listen=127.0.0.1:0");
    }
    argv.insert(argv.end(), args.begin(), args.end());
    bpmd_ = std::make_unique<testing::Subprocess>(argv, Path(name + ".log"));
    if (!bpmd_->Start()) return "";
    const std::string port = testing::WaitForFile(port_file, 20000);
    return port.empty() ? "" : "127.0.0.1:" + port;
  }

  EnvVars Env(const std::string& address, const std::string& client = "") const {
    EnvVars env = {{"BPM_SERVER", address},
                   {"BPM_TLS_CA", Path("ca.pem")},
                   {"BPM_USER", "mallory"},
                   {"BPM_ROLES", "unit_filer"},
                   {"BPM_ORG", "906017"}};
    if (!client.empty()) {
      env["BPM_TLS_CERT"] = Path(client + ".pem");
      env["BPM_TLS_KEY"] = Path(client + ".key");
    }
    return env;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::Subprocess> bpmd_;
};

TEST_F(TlsTest, ServerTlsAndClientCertificatesAsIdentities) {
  const std::string address =
      StartBpmd({"--tls-cert=" + Path("server.pem"), "--tls-key=" + Path("server.key"),
                 "--tls-client-ca=" + Path("ca.pem"),
                 "--tls-identities=" + Path("identities.yaml")},
                "mtls");
  ASSERT_FALSE(address.empty()) << bpmd_->log();

  // Server TLS, identity from the (development) metadata.
  Result r = RunBpmctl({"defs"}, Env(address));
  EXPECT_EQ(r.exit, 0) << Dump(r);
  // Plaintext to a TLS server does not get through.
  EnvVars plain = Env(address);
  plain.erase("BPM_TLS_CA");
  r = RunBpmctl({"defs"}, plain);
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, HasSubstr("UNAVAILABLE"));

  // A mapped client certificate is the caller, whatever the metadata says.
  r = RunBpmctl({"start", "target-filing", "--subject", "P1", "--org", "906017", "--json"},
                Env(address, "unit-system"));
  ASSERT_EQ(r.exit, 0) << Dump(r);
  EXPECT_EQ(testing::ParseJson<v1::StartInstanceResponse>(r.out).instance().started_by(),
            "zhang");

  r = RunBpmctl({"defs"}, Env(address, "stranger"));
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, HasSubstr("UNAUTHENTICATED: client certificate CN=stranger is not mapped"));

  r = RunBpmctl({"defs"}, Env(address, "revoked"));
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, HasSubstr("UNAUTHENTICATED: client certificate CN=revoked is revoked"));

  // A certificate from another CA fails the handshake.
  r = RunBpmctl({"defs"}, Env(address, "outsider"));
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, HasSubstr("UNAVAILABLE"));
}

TEST_F(TlsTest, PlaintextOnlyOnLoopbackUnlessAllowed) {
  std::vector<std::string> argv = {testing::BinaryDir() + "/bin/bpmd",
                                   "--plugins=" + testing::PluginDir(),
                                   "--store=" + testing::FreshStoreUrl(dir_.path(), "open"),
                                   "--listen=0.0.0.0:0", "--dev-identity"};
  testing::Subprocess open(argv, Path("open.log"));
  ASSERT_TRUE(open.Start());
  EXPECT_NE(open.Wait(20000), 0);
  EXPECT_THAT(open.log(), HasSubstr("is not a loopback address"));

  const std::string address = StartBpmd({"--listen=0.0.0.0:0", "--allow-plaintext"}, "allowed");
  ASSERT_FALSE(address.empty()) << bpmd_->log();
  EnvVars plain = Env(address);
  plain.erase("BPM_TLS_CA");
  Result r = RunBpmctl({"defs"}, plain);
  EXPECT_EQ(r.exit, 0) << Dump(r);
}

}  // namespace
}  // namespace bpm
