// Signed bearer tokens (JWT) as the caller's identity.
//
// A token is sent as metadata "authorization: Bearer <JWT>". Its claims:
//   sub   the user (required, at most 128 bytes)
//   roles the user's roles, an array of strings (at most 64)
//   org   the user's org code
//   exp   expiry, Unix seconds (required); nbf, if present, not before
//   aud   must name the configured audience (a string or an array)
//   iss   must equal the configured issuer, when one is configured
// Signatures: HS256 with a shared secret (one site), or RS256 / ES256 with a
// configured public key (PEM). The algorithm is fixed by the configuration: a
// token signed with any other (including "none", or HS256 keyed with the
// public key) is refused. Expiry and not-before allow `leeway_seconds` of
// clock skew. Parsing and signature checks are libjwt's (Debian libjwt-dev).
//
// Errors: every refusal is UNAUTHENTICATED "token: ..." saying why (expired,
// not yet valid, wrong audience or issuer, bad signature, malformed, missing
// claim); the token itself is never echoed or logged.
// Thread safety: a TokenVerifier is immutable; Verify may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/common/status.h"
#include "core/store/store.h"

namespace bpm::server {

struct TokenConfig {
  std::string algorithm;  // "HS256", "RS256" or "ES256"
  std::string key;        // HS256: the secret; RS256/ES256: the public key, PEM
  std::string audience = "bpmd";
  std::string issuer;     // "" accepts any
  int64_t leeway_seconds = 60;
};

class TokenVerifier {
 public:
  // INVALID_ARGUMENT for an unknown algorithm, an empty or too short secret
  // (under 32 bytes), or a public key that does not parse.
  static StatusOr<std::shared_ptr<const TokenVerifier>> Create(TokenConfig config);

  // The caller the token names, checked at now_seconds (Unix).
  StatusOr<store::Caller> Verify(std::string_view token, int64_t now_seconds) const;

 private:
  explicit TokenVerifier(TokenConfig config) : config_(std::move(config)) {}
  TokenConfig config_;
};

}  // namespace bpm::server
