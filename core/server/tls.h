// Transport security: the server's TLS credentials, and client certificates
// (mutual TLS, for agencies and remote plugins) as identities.
//
// bpmd serves TLS with --tls-cert/--tls-key (PEM files). With --tls-client-ca
// it also asks for a client certificate and verifies any it is given against
// that CA (a certificate from another CA fails the handshake); callers without
// one authenticate by token (or dev metadata) as before. A verified client
// certificate is an identity only through the --tls-identities file:
//   certificates:
//     - {cn: agency-hz-001, user: agency-hz-001, roles: [agency], org: AG-HZ-001}
//   revoked_sha256:
//     - 9F:86:D0:81:...   # `openssl x509 -fingerprint -sha256`, colons optional
// A certificate whose SHA-256 fingerprint is listed as revoked, or whose CN is
// not listed, is UNAUTHENTICATED with the reason.
//
// Plaintext is allowed only on a loopback address (127.0.0.0/8, ::1,
// localhost) unless --allow-plaintext says otherwise.
//
// Errors: INVALID_ARGUMENT naming the file (and line) for unreadable or
// malformed configuration; FAILED_PRECONDITION for plaintext off loopback.
// Thread safety: CertIdentities is immutable after Load.
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "core/common/status.h"
#include "core/store/store.h"

namespace bpm::server {

struct TlsConfig {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  bool allow_plaintext = false;
};

// Credentials to listen on `listen` with.
StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(const std::string& listen,
                                                                        const TlsConfig& config);

class CertIdentities {
 public:
  static StatusOr<std::shared_ptr<const CertIdentities>> Load(const std::string& path);

  // The caller a verified client certificate (PEM) maps to; nullopt when
  // the peer presented none. UNAUTHENTICATED when revoked or unmapped.
  StatusOr<std::optional<store::Caller>> CallerFor(const grpc::AuthContext& auth) const;

 private:
  std::map<std::string, store::Caller> by_cn_;
  std::set<std::string> revoked_;  // lowercase hex, no colons
};

// Lowercase hex SHA-256 of a PEM certificate's DER form ("" if it does not parse).
std::string CertificateFingerprint(const std::string& pem);

}  // namespace bpm::server
