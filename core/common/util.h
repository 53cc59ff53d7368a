// Small shared utilities: ids, hashing, JSON <-> protobuf Struct.
// Thread safety: every function is safe to call concurrently.
#pragma once

#include <string>
#include <string_view>

#include "core/common/status.h"
#include "google/protobuf/struct.pb.h"

namespace bpm {

// A new unique id as 32 lowercase hex characters: 12 of the Unix time in
// milliseconds, then 20 random (80 bits). Ids made later sort later (to the
// millisecond), so the B-tree indexes on ids and on instance ids take new
// rows at their right edge: a batch of commits touches a few shared pages
// instead of one random page per row, and the pages in use stay the recent
// ones however many rows are stored.
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

// The whole contents of a file. INTERNAL "cannot open PATH" / "cannot read
// PATH".
StatusOr<std::string> ReadWholeFile(const std::string& path);

// Names the calling thread (at most 15 characters are kept) so that top, perf
// and gdb show what it is; "bpm-commit", "bpm-reply" and so on.
void SetThreadName(const char* name);

}  // namespace bpm
