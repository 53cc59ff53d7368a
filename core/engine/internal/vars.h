// Internal to core/engine: reading instance variables (google.protobuf.Struct)
// for the services that read across instances (reports.cc, targets.cc), and
// China-time dates. A missing or mistyped variable reads as the fallback:
// variables come from plugins and starters, and a report must not fail on one
// odd instance. Also the one rule on the names a starter may give
// (CheckStarterVariables, for Start and campaigns).
// Thread safety: stateless.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "google/protobuf/struct.pb.h"

namespace bpm::engine::internal {

// The variable, or nullptr.
const google::protobuf::Value* Get(const google::protobuf::Struct& s, const std::string& key);
// A string variable; "" otherwise.
std::string Str(const google::protobuf::Struct& s, const std::string& key);
// A number variable; fallback otherwise.
double Num(const google::protobuf::Struct& s, const std::string& key, double fallback = 0);
// A whole number of a variable within [lo, hi]; fallback when it is absent,
// not a number or out of range (variables set at start are the starter's: a
// 1e300 must not reach an int cast).
int IntIn(const google::protobuf::Struct& s, const std::string& key, int lo, int hi, int fallback);
// True only for a boolean true.
bool Bool(const google::protobuf::Struct& s, const std::string& key);
// An object variable, or nullptr.
const google::protobuf::Struct* Obj(const google::protobuf::Struct& s, const std::string& key);

// Variables a starter gives (StartInstance, a campaign and its targets) may
// not begin with "_": those names hold a stage's own state (the review
// chain's "_review", which says where a chain resumes), which only the stage
// sets. INVALID_ARGUMENT naming field.NAME otherwise.
absl::Status CheckStarterVariables(const google::protobuf::Struct& s, const std::string& field);

// The calendar year, and "YYYY-MM-DD", of an instant in China time (UTC+8).
int YearOf(int64_t unix_ms);
std::string ChinaDate(int64_t unix_ms);

}  // namespace bpm::engine::internal
