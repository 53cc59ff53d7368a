// core/common: ids, sha256, canonical JSON (the bytes behind every digest),
// JSON parsing errors, the status macros.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>

#include "core/common/status.h"
#include "core/common/util.h"

namespace bpm {
namespace {

TEST(UtilTest, NewIdIs32HexAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewId();
    ASSERT_EQ(id.size(), 32u);
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

// Later ids sort later (to the millisecond), which keeps index inserts at the
// right edge of their B-trees.
TEST(UtilTest, NewIdsAreTimeOrdered) {
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::string first = NewId();
  EXPECT_LE(std::abs(std::stoll(first.substr(0, 12), nullptr, 16) - now_ms), 1000);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::string later = NewId();
  EXPECT_LT(first, later);
}

TEST(UtilTest, Sha256KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(UtilTest, CanonicalJsonSortsKeysAndKeepsUtf8) {
  auto a = ParseJsonObject(R"({"b": 1, "a": {"z": [1.5, true, null, "绩效"], "y": "x\"y"}, "c": 1e3})", "t");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(CanonicalJson(*a), R"({"a":{"y":"x\"y","z":[1.5,true,null,"绩效"]},"b":1,"c":1000})");
  auto b = ParseJsonObject(R"({"c": 1000, "a": {"y": "x\"y", "z": [1.5, true, null, "绩效"]}, "b": 1.0})", "t");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(CanonicalJson(*a), CanonicalJson(*b));  // same data, same bytes
  EXPECT_EQ(CanonicalJson({}), "{}");
}

TEST(UtilTest, ParseJsonObjectNamesWhatFailed) {
  auto bad = ParseJsonObject("{oops", "--payload");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(bad.status().message()).rfind("--payload: not a JSON object: ", 0), 0u);
  EXPECT_FALSE(ParseJsonObject("[1,2]", "x").ok());
  EXPECT_TRUE(ParseJsonObject("", "x").ok());
}

StatusOr<int> Half(int x) {
  if (x % 2) return absl::InvalidArgumentError("odd");
  return x / 2;
}
StatusOr<int> Quarter(int x) {
  BPM_ASSIGN_OR_RETURN(int h, Half(x));
  BPM_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}
Status CheckQuarter(int x) {
  BPM_RETURN_IF_ERROR(Quarter(x).status());
  return absl::OkStatus();
}

TEST(StatusMacrosTest, PropagateTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().message(), "odd");
  EXPECT_TRUE(CheckQuarter(4).ok());
  EXPECT_EQ(CheckQuarter(3).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bpm
