// core/server/token.h: signed bearer tokens. Tokens are minted here with
// libjwt and keys made with OpenSSL; each refusal names its reason.
#include "core/server/token.h"

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

namespace bpm::server {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1'800'000'000;
const std::string kSecret = "0123456789abcdef0123456789abcdef-site-secret";

struct KeyPair {
  std::string private_pem, public_pem;
};

KeyPair MakeKey(bool rsa) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256"), EVP_PKEY_free);
  KeyPair out;
  for (bool priv : {true, false}) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    if (priv) {
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    } else {
      PEM_write_bio_PUBKEY(bio.get(), key.get());
    }
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    (priv ? out.private_pem : out.public_pem) = std::string(data, static_cast<size_t>(n));
  }
  return out;
}

// A token with claims_json, signed with alg and key.
std::string Mint(jwt_alg_t alg, const std::string& key, const std::string& claims_json) {
  jwt_t* raw = nullptr;
  EXPECT_EQ(jwt_new(&raw), 0);
  std::unique_ptr<jwt_t, decltype(&jwt_free)> jwt(raw, jwt_free);
  EXPECT_EQ(jwt_add_grants_json(jwt.get(), claims_json.c_str()), 0);
  EXPECT_EQ(jwt_set_alg(jwt.get(), alg,
                        key.empty() ? nullptr : reinterpret_cast<const unsigned char*>(key.data()),
                        static_cast<int>(key.size())),
            0);
  std::unique_ptr<char, decltype(&std::free)> text(jwt_encode_str(jwt.get()), std::free);
  return text ? std::string(text.get()) : "";
}

std::string Claims(int64_t exp, const std::string& extra = "") {
  return R"({"sub":"zhang","roles":["unit_filer","clerk"],"org":"906017","aud":"bpmd","exp":)" +
         std::to_string(exp) + extra + "}";
}

std::shared_ptr<const TokenVerifier> Verifier(const std::string& alg, const std::string& key,
                                              const std::string& issuer = "") {
  TokenConfig config;
  config.algorithm = alg;
  config.key = key;
  config.issuer = issuer;
  auto v = TokenVerifier::Create(config);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : nullptr;
}

void ExpectRefused(const StatusOr<store::Caller>& c, const std::string& why) {
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(why));
}

TEST(TokenTest, AValidHs256TokenNamesTheCaller) {
  auto v = Verifier("HS256", kSecret);
  auto c = v->Verify(Mint(JWT_ALG_HS256, kSecret, Claims(kNow + 600)), kNow);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->user, "zhang");
  EXPECT_EQ(c->roles, (std::vector<std::string>{"unit_filer", "clerk"}));
  EXPECT_EQ(c->org, "906017");
}

TEST(TokenTest, ExpiryAndNotBeforeAllowTheConfiguredSkewOnly) {
  auto v = Verifier("HS256", kSecret);
  const std::string expired = Mint(JWT_ALG_HS256, kSecret, Claims(kNow - 30));
  EXPECT_TRUE(v->Verify(expired, kNow).ok()) << "30 s late is within the 60 s of skew";
  ExpectRefused(v->Verify(expired, kNow + 31), "expired at");
  ExpectRefused(v->Verify(Mint(JWT_ALG_HS256, kSecret, Claims(kNow + 600, R"(,"nbf":)" +
                                                                 std::to_string(kNow + 120))),
                          kNow),
                "not valid before");
  ExpectRefused(v->Verify(Mint(JWT_ALG_HS256, kSecret,
                               R"({"sub":"zhang","aud":"bpmd"})"),
                          kNow),
                "no 'exp'");
}

TEST(TokenTest, AWrongKeyOrATamperedTokenIsRefused) {
  auto v = Verifier("HS256", kSecret);
  ExpectRefused(v->Verify(Mint(JWT_ALG_HS256, kSecret + "-other", Claims(kNow + 600)), kNow),
                "signature does not verify");
  // Change the payload (another user) and keep the signature.
  std::string token = Mint(JWT_ALG_HS256, kSecret, Claims(kNow + 600));
  std::string other = Mint(JWT_ALG_HS256, kSecret + "-x",
                           R"({"sub":"wang","roles":["finance_reviewer"],"aud":"bpmd","exp":)" +
                               std::to_string(kNow + 600) + "}");
  const size_t a = token.find('.');
  const size_t b = other.find('.');
  const std::string forged = token.substr(0, a) + other.substr(b, other.rfind('.') - b) +
                             token.substr(token.rfind('.'));
  ExpectRefused(v->Verify(forged, kNow), "signature does not verify");
  ExpectRefused(v->Verify("not.a.token", kNow), "malformed");
  ExpectRefused(v->Verify("", kNow), "missing");
}

TEST(TokenTest, TheAudienceAndIssuerMustMatch) {
  auto v = Verifier("HS256", kSecret, "https://czj.example/idp");
  const std::string wrong_aud = R"({"sub":"zhang","aud":"other-app","iss":"https://czj.example/idp","exp":)" +
                                std::to_string(kNow + 600) + "}";
  ExpectRefused(v->Verify(Mint(JWT_ALG_HS256, kSecret, wrong_aud), kNow),
                "audience ('aud') does not include 'bpmd'");
  const std::string listed = R"({"sub":"zhang","aud":["x","bpmd"],"iss":"https://czj.example/idp","exp":)" +
                             std::to_string(kNow + 600) + "}";
  EXPECT_TRUE(v->Verify(Mint(JWT_ALG_HS256, kSecret, listed), kNow).ok());
  ExpectRefused(v->Verify(Mint(JWT_ALG_HS256, kSecret, Claims(kNow + 600)), kNow),
                "issuer ('iss') is not");
}

TEST(TokenTest, Rs256AndEs256VerifyWithThePublicKey) {
  for (bool rsa : {true, false}) {
    const KeyPair key = MakeKey(rsa);
    const KeyPair other = MakeKey(rsa);
    const jwt_alg_t alg = rsa ? JWT_ALG_RS256 : JWT_ALG_ES256;
    auto v = Verifier(rsa ? "RS256" : "ES256", key.public_pem);
    auto c = v->Verify(Mint(alg, key.private_pem, Claims(kNow + 600)), kNow);
    EXPECT_TRUE(c.ok()) << c.status();
    ExpectRefused(v->Verify(Mint(alg, other.private_pem, Claims(kNow + 600)), kNow),
                  "signature does not verify");
  }
}

TEST(TokenTest, OnlyTheConfiguredAlgorithmIsAccepted) {
  const KeyPair key = MakeKey(true);
  auto v = Verifier("RS256", key.public_pem);
  // The public key (which anyone has) used as an HS256 secret.
  auto confused = v->Verify(Mint(JWT_ALG_HS256, key.public_pem, Claims(kNow + 600)), kNow);
  ASSERT_FALSE(confused.ok());
  EXPECT_EQ(confused.status().code(), absl::StatusCode::kUnauthenticated);
  // Unsigned.
  auto none = v->Verify(Mint(JWT_ALG_NONE, "", Claims(kNow + 600)), kNow);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(TokenTest, BadConfigurationIsRefusedAtStartUp) {
  TokenConfig c;
  c.algorithm = "HS256";
  c.key = "short";
  EXPECT_THAT(std::string(TokenVerifier::Create(c).status().message()),
              HasSubstr("at least 32 random bytes"));
  c.algorithm = "RS256";
  c.key = MakeKey(false).public_pem;
  EXPECT_THAT(std::string(TokenVerifier::Create(c).status().message()),
              HasSubstr("not an RSA"));
  c.key = "-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n";
  EXPECT_THAT(std::string(TokenVerifier::Create(c).status().message()),
              HasSubstr("not a PEM public key"));
  c.algorithm = "HS512";
  EXPECT_THAT(std::string(TokenVerifier::Create(c).status().message()),
              HasSubstr("use HS256, RS256 or ES256"));
}

}  // namespace
}  // namespace bpm::server
