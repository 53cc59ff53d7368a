// Small shared utilities: ids, hashing, JSON <-> protobuf Struct.
// Thread safety: every function is safe to call concurrently.
#pragma once

#include <string>
#include <string_view>

#include "core/common/status.h"
#include "google/protobuf/struct.pb.h"

namespace bpm {

// A random 128-bit id as 32 lowercase hex characters.
std::string NewId();

// Lowercase hex sha256 of data.
std::string Sha256Hex(std::string_view data);

// Deterministic JSON (sorted keys, no spaces); used for digests and storage.
std::string CanonicalJson(const google::protobuf::Struct& s);

// Parses a JSON object with the strict parser of json.h; empty input gives an
// empty Struct. INVALID_ARGUMENT "<what>: not a JSON object: <reason at byte
// N>" when it is not one.
StatusOr<google::protobuf::Struct> ParseJsonObject(std::string_view json,
                                                   std::string_view what);

}  // namespace bpm
