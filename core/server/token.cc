#include "core/server/token.h"

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cmath>
#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "core/common/util.h"

namespace bpm::server {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

Status Refuse(const std::string& why) {
  return absl::UnauthenticatedError(absl::StrCat("token: ", why));
}

// The key type a PEM public key holds (EVP_PKEY_RSA, EVP_PKEY_EC), or -1.
int PublicKeyType(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return -1;
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  return key ? EVP_PKEY_get_base_id(key.get()) : -1;
}

const Value* Claim(const Struct& claims, const char* name) {
  auto it = claims.fields().find(name);
  return it == claims.fields().end() ? nullptr : &it->second;
}

}  // namespace

StatusOr<std::shared_ptr<const TokenVerifier>> TokenVerifier::Create(TokenConfig config) {
  if (config.algorithm == "HS256") {
    if (config.key.size() < 32) {
      return absl::InvalidArgumentError(absl::StrCat(
          "HS256 secret: ", config.key.size(),
          " bytes; use at least 32 random bytes (e.g. openssl rand -base64 48)"));
    }
  } else if (config.algorithm == "RS256" || config.algorithm == "ES256") {
    const int want = config.algorithm == "RS256" ? EVP_PKEY_RSA : EVP_PKEY_EC;
    const int got = PublicKeyType(config.key);
    if (got == -1) {
      return absl::InvalidArgumentError(absl::StrCat(
          config.algorithm, " public key: not a PEM public key (-----BEGIN PUBLIC KEY-----)"));
    }
    if (got != want) {
      return absl::InvalidArgumentError(absl::StrCat(
          config.algorithm, " public key: the key is not ",
          config.algorithm == "RS256" ? "an RSA" : "an EC (P-256)", " key"));
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "token algorithm '", config.algorithm, "': use HS256, RS256 or ES256"));
  }
  if (config.audience.empty()) {
    return absl::InvalidArgumentError("token audience: must not be empty");
  }
  return std::shared_ptr<const TokenVerifier>(new TokenVerifier(std::move(config)));
}

StatusOr<store::Caller> TokenVerifier::Verify(std::string_view token,
                                              int64_t now_seconds) const {
  if (token.empty()) return Refuse("missing");
  if (token.size() > 8192) return Refuse("longer than 8192 bytes");
  const std::string text(token);
  jwt_t* raw = nullptr;
  const int rc = jwt_decode(&raw, text.c_str(),
                            reinterpret_cast<const unsigned char*>(config_.key.data()),
                            static_cast<int>(config_.key.size()));
  std::unique_ptr<jwt_t, decltype(&jwt_free)> jwt(raw, jwt_free);
  if (rc != 0 || !jwt) {
    return Refuse("malformed, or its signature does not verify (wrong key, or tampered)");
  }
  // The configured algorithm, not the one the token names: an RS256 public
  // key used as an HS256 secret, or "none", must not pass.
  const char* alg = jwt_alg_str(jwt_get_alg(jwt.get()));
  if (alg == nullptr || config_.algorithm != alg) {
    return Refuse(absl::StrCat("signed with ", alg == nullptr ? "an unknown algorithm" : alg,
                               ", not the configured ", config_.algorithm));
  }
  std::unique_ptr<char, decltype(&std::free)> json(jwt_get_grants_json(jwt.get(), nullptr),
                                                   std::free);
  if (!json) return Refuse("no claims");
  auto claims = ParseJsonObject(json.get(), "token claims");
  if (!claims.ok()) return Refuse("claims are not a JSON object");

  const Value* exp = Claim(*claims, "exp");
  if (exp == nullptr || exp->kind_case() != Value::kNumberValue) {
    return Refuse("no 'exp' (expiry) claim; bpmd accepts only tokens that expire");
  }
  const int64_t expires = static_cast<int64_t>(std::floor(exp->number_value()));
  if (now_seconds >= expires + config_.leeway_seconds) {
    return Refuse(absl::StrCat("expired at ", expires, " (now ", now_seconds, ", ",
                               config_.leeway_seconds, " s of clock skew allowed)"));
  }
  if (const Value* nbf = Claim(*claims, "nbf"); nbf != nullptr) {
    if (nbf->kind_case() != Value::kNumberValue) return Refuse("'nbf' is not a number");
    const int64_t not_before = static_cast<int64_t>(std::floor(nbf->number_value()));
    if (now_seconds + config_.leeway_seconds < not_before) {
      return Refuse(absl::StrCat("not valid before ", not_before, " (now ", now_seconds, ")"));
    }
  }
  bool audience_ok = false;
  if (const Value* aud = Claim(*claims, "aud"); aud != nullptr) {
    if (aud->kind_case() == Value::kStringValue) {
      audience_ok = aud->string_value() == config_.audience;
    } else if (aud->kind_case() == Value::kListValue) {
      for (const Value& v : aud->list_value().values()) {
        if (v.kind_case() == Value::kStringValue && v.string_value() == config_.audience) {
          audience_ok = true;
        }
      }
    }
  }
  if (!audience_ok) {
    return Refuse(absl::StrCat("its audience ('aud') does not include '", config_.audience, "'"));
  }
  if (!config_.issuer.empty()) {
    const Value* iss = Claim(*claims, "iss");
    if (iss == nullptr || iss->kind_case() != Value::kStringValue ||
        iss->string_value() != config_.issuer) {
      return Refuse(absl::StrCat("its issuer ('iss') is not '", config_.issuer, "'"));
    }
  }
  store::Caller caller;
  const Value* sub = Claim(*claims, "sub");
  if (sub == nullptr || sub->kind_case() != Value::kStringValue || sub->string_value().empty()) {
    return Refuse("no 'sub' (user) claim");
  }
  if (sub->string_value().size() > 128) return Refuse("'sub' is longer than 128 bytes");
  caller.user = sub->string_value();
  if (const Value* roles = Claim(*claims, "roles"); roles != nullptr) {
    if (roles->kind_case() != Value::kListValue) return Refuse("'roles' is not an array");
    if (roles->list_value().values_size() > 64) return Refuse("more than 64 'roles'");
    for (const Value& r : roles->list_value().values()) {
      if (r.kind_case() != Value::kStringValue) return Refuse("'roles' holds a non-string");
      caller.roles.push_back(r.string_value());
    }
  }
  if (const Value* org = Claim(*claims, "org"); org != nullptr) {
    if (org->kind_case() != Value::kStringValue) return Refuse("'org' is not a string");
    caller.org = org->string_value();
  }
  return caller;
}

}  // namespace bpm::server
