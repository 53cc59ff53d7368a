#include "core/common/util.h"

#include <openssl/evp.h>
#include <pthread.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "bpm/plugin/sdk.h"
#include "core/common/json.h"

namespace bpm {

std::string NewId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  const uint64_t a = rng(), b = rng();
  char buf[33];
  std::snprintf(buf, sizeof buf, "%012llx%04llx%016llx",
                static_cast<unsigned long long>(ms) & 0xffffffffffffULL,
                static_cast<unsigned long long>(a & 0xffff), static_cast<unsigned long long>(b));
  return std::string(buf, 32);
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // Fetched once: with OpenSSL 3, EVP_sha256() looks the algorithm up in the
  // provider store (under a lock) on every digest.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_Digest(data.data(), data.size(), md, &len, kSha256, nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

std::string CanonicalJson(const google::protobuf::Struct& s) {
  return ::bpm::plugin::CanonicalJson(s);
}

StatusOr<google::protobuf::Struct> ParseJsonObject(std::string_view json,
                                                   std::string_view what) {
  if (json.empty()) return google::protobuf::Struct();
  auto s = ParseJsonStruct(json);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": not a JSON object: ", s.status().message()));
  }
  return s;
}

StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat("cannot open ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat("cannot read ", path));
  return ss.str();
}

void SetThreadName(const char* name) {
  char shortened[16];
  std::snprintf(shortened, sizeof shortened, "%s", name);
  pthread_setname_np(pthread_self(), shortened);
}

}  // namespace bpm
