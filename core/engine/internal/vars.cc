#include "core/engine/internal/vars.h"

#include <cmath>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace bpm::engine::internal {
namespace {

constexpr int64_t kChinaOffsetMs = 8LL * 3600 * 1000;

std::tm ChinaTm(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>((unix_ms + kChinaOffsetMs) / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

}  // namespace

const google::protobuf::Value* Get(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? nullptr : &it->second;
}

std::string Str(const google::protobuf::Struct& s, const std::string& key) {
  const auto* v = Get(s, key);
  return v != nullptr && v->has_string_value() ? v->string_value() : "";
}

double Num(const google::protobuf::Struct& s, const std::string& key, double fallback) {
  const auto* v = Get(s, key);
  return v != nullptr && v->kind_case() == google::protobuf::Value::kNumberValue ? v->number_value()
                                                                                  : fallback;
}

int IntIn(const google::protobuf::Struct& s, const std::string& key, int lo, int hi, int fallback) {
  const double v = Num(s, key, fallback);
  return v >= lo && v <= hi && v == std::floor(v) ? static_cast<int>(v) : fallback;
}

absl::Status CheckStarterVariables(const google::protobuf::Struct& s, const std::string& field) {
  for (const auto& [name, value] : s.fields()) {
    if (!name.empty() && name[0] == '_') {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".", name,
          ": names beginning with '_' are reserved for the stages' own state and cannot be "
          "given at start"));
    }
  }
  return absl::OkStatus();
}

bool Bool(const google::protobuf::Struct& s, const std::string& key) {
  const auto* v = Get(s, key);
  return v != nullptr && v->kind_case() == google::protobuf::Value::kBoolValue && v->bool_value();
}

const google::protobuf::Struct* Obj(const google::protobuf::Struct& s, const std::string& key) {
  const auto* v = Get(s, key);
  return v != nullptr && v->has_struct_value() ? &v->struct_value() : nullptr;
}

int YearOf(int64_t unix_ms) { return ChinaTm(unix_ms).tm_year + 1900; }

std::string ChinaDate(int64_t unix_ms) {
  const std::tm tm = ChinaTm(unix_ms);
  return absl::StrFormat("%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

}  // namespace bpm::engine::internal
