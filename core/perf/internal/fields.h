// Internal to core/perf: reading the config and form Structs the rules take.
// Thread safety: stateless.
#pragma once

#include <string>

#include "google/protobuf/struct.pb.h"

namespace bpm::perf::internal {

// s[key], or nullptr when absent.
inline const google::protobuf::Value* Get(const google::protobuf::Struct& s,
                                          const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? nullptr : &it->second;
}

}  // namespace bpm::perf::internal
