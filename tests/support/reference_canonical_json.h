// plugin::CanonicalJson as first written (snprintf, one byte at a time),
// kept as the reference the optimized one must match byte for byte
// (tests/unit/common/json_test.cc) and the baseline bench/json_bench
// measures it against. Test and benchmark code only.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "google/protobuf/struct.pb.h"

namespace bpm::testing {

using ::google::protobuf::Struct;
using ::google::protobuf::Value;


inline void ReferenceAppend(const Value& v, std::string* out);
inline void ReferenceString(const std::string& s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          static const char* kHex = "0123456789abcdef";
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}
inline void ReferenceAppend(const Struct& s, std::string* out) {
  std::vector<const std::string*> keys;
  keys.reserve(s.fields().size());
  for (const auto& kv : s.fields()) keys.push_back(&kv.first);
  std::sort(keys.begin(), keys.end(),
            [](const std::string* a, const std::string* b) { return *a < *b; });
  out->push_back('{');
  bool first = true;
  for (const std::string* k : keys) {
    if (!first) out->push_back(',');
    first = false;
    ReferenceString(*k, out);
    out->push_back(':');
    ReferenceAppend(s.fields().at(*k), out);
  }
  out->push_back('}');
}
inline void ReferenceAppend(const Value& v, std::string* out) {
  switch (v.kind_case()) {
    case Value::kNullValue:
    case Value::KIND_NOT_SET: out->append("null"); break;
    case Value::kBoolValue: out->append(v.bool_value() ? "true" : "false"); break;
    case Value::kNumberValue: {
      double d = v.number_value();
      char buf[40];
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.007199254740992e15) {
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(d));
      } else if (std::isfinite(d)) {
        std::snprintf(buf, sizeof buf, "%.17g", d);
      } else {
        std::snprintf(buf, sizeof buf, "null");
      }
      out->append(buf);
      break;
    }
    case Value::kStringValue: ReferenceString(v.string_value(), out); break;
    case Value::kStructValue: ReferenceAppend(v.struct_value(), out); break;
    case Value::kListValue: {
      out->push_back('[');
      bool first = true;
      for (const Value& item : v.list_value().values()) {
        if (!first) out->push_back(',');
        first = false;
        ReferenceAppend(item, out);
      }
      out->push_back(']');
      break;
    }
  }
}
inline std::string ReferenceCanonicalJson(const Struct& s) {
  std::string out;
  ReferenceAppend(s, &out);
  return out;
}

}  // namespace bpm::testing
