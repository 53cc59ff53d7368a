#include "core/server/tls.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <yaml-cpp/yaml.h>

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/common/util.h"

namespace bpm::server {
namespace {

StatusOr<std::string> ReadText(const std::string& path, const char* what) {
  StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok() || text->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, ": cannot read"));
  }
  return text;
}

bool Loopback(const std::string& listen) {
  for (const char* prefix : {"127.", "localhost:", "[::1]:", "ipv4:127.", "unix:"}) {
    if (listen.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

}  // namespace

StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(const std::string& listen,
                                                                        const TlsConfig& config) {
  if (config.cert_file.empty() != config.key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (config.cert_file.empty()) {
    if (!config.client_ca_file.empty()) {
      return absl::InvalidArgumentError("--tls-client-ca needs --tls-cert and --tls-key");
    }
    if (!Loopback(listen) && !config.allow_plaintext) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--listen ", listen, " is not a loopback address: serve TLS (--tls-cert, --tls-key) "
                               "or say --allow-plaintext (tokens would cross the network in "
                               "clear)"));
    }
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions options;
  BPM_ASSIGN_OR_RETURN(std::string cert, ReadText(config.cert_file, "--tls-cert"));
  BPM_ASSIGN_OR_RETURN(std::string key, ReadText(config.key_file, "--tls-key"));
  options.pem_key_cert_pairs.push_back({key, cert});
  if (!config.client_ca_file.empty()) {
    BPM_ASSIGN_OR_RETURN(options.pem_root_certs, ReadText(config.client_ca_file, "--tls-client-ca"));
    options.client_certificate_request =
        GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;  // verified when given
  }
  return grpc::SslServerCredentials(options);
}

std::string CertificateFingerprint(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return "";
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) return "";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &n) != 1) return "";
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) absl::StrAppend(&hex, absl::Hex(md[i], absl::kZeroPad2));
  return hex;
}

StatusOr<std::shared_ptr<const CertIdentities>> CertIdentities::Load(const std::string& path) {
  auto ids = std::shared_ptr<CertIdentities>(new CertIdentities());
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
  auto bad = [&](const YAML::Node& n, const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", n.Mark().line + 1, ":", n.Mark().column + 1, ": ", why));
  };
  if (!root.IsMap()) return bad(root, "expected a mapping with 'certificates:'");
  try {
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      if (key == "certificates") {
        if (!kv.second.IsSequence()) return bad(kv.second, "'certificates' must be a list");
        for (const YAML::Node& c : kv.second) {
          if (!c.IsMap() || !c["cn"] || !c["user"]) {
            return bad(c, "each certificate needs 'cn' and 'user' (and 'roles', 'org')");
          }
          store::Caller caller(c["user"].as<std::string>());
          if (c["roles"]) {
            if (!c["roles"].IsSequence()) return bad(c["roles"], "'roles' must be a list");
            for (const YAML::Node& r : c["roles"]) caller.roles.push_back(r.as<std::string>());
          }
          if (c["org"]) caller.org = c["org"].as<std::string>();
          const std::string cn = c["cn"].as<std::string>();
          if (!ids->by_cn_.emplace(cn, caller).second) return bad(c, "cn '" + cn + "' listed twice");
        }
      } else if (key == "revoked_sha256") {
        if (!kv.second.IsSequence()) return bad(kv.second, "'revoked_sha256' must be a list");
        for (const YAML::Node& f : kv.second) {
          std::string hex = absl::AsciiStrToLower(absl::StrReplaceAll(f.as<std::string>(), {{":", ""}}));
          if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
            return bad(f, "not a SHA-256 fingerprint (64 hex digits, colons allowed)");
          }
          ids->revoked_.insert(hex);
        }
      } else {
        return bad(kv.first, "unknown key '" + key + "' (certificates, revoked_sha256)");
      }
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
  return std::shared_ptr<const CertIdentities>(std::move(ids));
}

StatusOr<std::optional<store::Caller>> CertIdentities::CallerFor(
    const grpc::AuthContext& auth) const {
  if (!auth.IsPeerAuthenticated()) return std::optional<store::Caller>();
  const auto pems = auth.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  const auto cns = auth.FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
  if (pems.empty()) return std::optional<store::Caller>();
  const std::string pem(pems.front().data(), pems.front().size());
  const std::string cn = cns.empty() ? "" : std::string(cns.front().data(), cns.front().size());
  if (revoked_.count(CertificateFingerprint(pem)) > 0) {
    return absl::UnauthenticatedError(
        absl::StrCat("client certificate CN=", cn, " is revoked (--tls-identities)"));
  }
  auto it = by_cn_.find(cn);
  if (it == by_cn_.end()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "client certificate CN=", cn, " is not mapped to an identity (--tls-identities)"));
  }
  return std::optional<store::Caller>(it->second);
}

}  // namespace bpm::server
