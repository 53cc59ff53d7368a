// InstanceVars: an instance's variables parsed only as they are asked for,
// written back with every untouched member copied from the stored text.
#include "core/engine/internal/instance_vars.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/common/util.h"

namespace bpm::engine::internal {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> Keys(const google::protobuf::Struct& s) {
  std::vector<std::string> out;
  for (const auto& [key, value] : s.fields()) out.push_back(key);
  std::sort(out.begin(), out.end());
  return out;
}

google::protobuf::Value Text(const std::string& s) {
  google::protobuf::Value v;
  v.set_string_value(s);
  return v;
}

// Sets key to the string text.
void SetText(InstanceVars& vars, const std::string& key, const std::string& text) {
  google::protobuf::Value v = Text(text);
  vars.Set(key, &v);
}

// A filed form (large), a grade and the review chain's state, as stored.
const std::string kStored =
    R"({"_review":{"step":1},"form":{"amount":1250.5,"goal":"改善营养"},"grade":"优"})";

TEST(InstanceVarsTest, OnlyTheVariablesAskedForAreParsed) {
  InstanceVars vars;
  ASSERT_TRUE(vars.Load(kStored, "instance I").ok());
  auto some = vars.With({"grade", "missing"});
  ASSERT_TRUE(some.ok()) << some.status();
  EXPECT_THAT(Keys(**some), ::testing::ElementsAre("grade"));
  EXPECT_EQ((*some)->fields().at("grade").string_value(), "优");
  auto all = vars.All();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(Keys(**all), ::testing::ElementsAre("_review", "form", "grade"));
  EXPECT_EQ(CanonicalJson(**all), kStored);
}

TEST(InstanceVarsTest, EncodeCopiesWhatNobodyChanged) {
  InstanceVars vars;
  ASSERT_TRUE(vars.Load(kStored, "instance I").ok());
  SetText(vars, "grade", "良");
  SetText(vars, "approved_by", "li");
  EXPECT_EQ(vars.Encode(),
            R"({"_review":{"step":1},"approved_by":"li","form":{"amount":1250.5,"goal":"改善营养"},"grade":"良"})");
  // A variable set before it was ever parsed keeps the value set.
  auto all = vars.All();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)->fields().at("grade").string_value(), "良");
}

// A stored variable that does not parse fails whoever asks for it, naming
// it; the others read and write back as stored, byte for byte.
TEST(InstanceVarsTest, AStoredVariableThatDoesNotParseIsDataLossForItsReaders) {
  const std::string stored = R"({"bad":[1,,2],"good":"好"})";
  InstanceVars vars;
  ASSERT_TRUE(vars.Load(stored, "instance I").ok());
  auto good = vars.With({"good"});
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ((*good)->fields().at("good").string_value(), "好");
  EXPECT_EQ(vars.Encode(), stored);
  auto all = vars.All();
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(all.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(all.status().message()),
              HasSubstr("instance I: stored variable 'bad' does not parse ("));
  // Replacing it is not reading it.
  SetText(vars, "bad", "ok");
  ASSERT_TRUE(vars.All().ok());
  EXPECT_EQ(vars.Encode(), R"({"bad":"ok","good":"好"})");
}

// A text not in the canonical layout (spaces, keys out of order) is parsed
// whole at once, and written back whole.
TEST(InstanceVarsTest, ANonCanonicalTextIsParsedWhole) {
  InstanceVars vars;
  ASSERT_TRUE(vars.Load(R"({ "b": 2, "a": "x" })", "instance I").ok());
  auto some = vars.With({});
  ASSERT_TRUE(some.ok());
  EXPECT_THAT(Keys(**some), ::testing::ElementsAre("a", "b"));
  SetText(vars, "c", "y");
  EXPECT_EQ(vars.Encode(), R"({"a":"x","b":2,"c":"y"})");

  InstanceVars broken;
  Status s = broken.Load(R"({ "a": tru })", "instance J");
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("instance J: the stored variables do not parse ("));
}

TEST(InstanceVarsTest, ReplaceWritesTheNewVariablesWhole) {
  InstanceVars vars;
  ASSERT_TRUE(vars.Load(kStored, "instance I").ok());
  google::protobuf::Struct fresh;
  (*fresh.mutable_fields())["only"] = Text("one");
  vars.Replace(fresh);
  EXPECT_EQ(vars.Encode(), R"({"only":"one"})");
  auto all = vars.All();
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(Keys(**all), ::testing::ElementsAre("only"));
}

// Undo gives what takes the variables back from after the changes to
// before them: the changed ones' stored text, and the added ones.
TEST(InstanceVarsTest, UndoTakesTheChangesBack) {
  InstanceVars vars;
  ASSERT_TRUE(vars.Load(kStored, "instance I").ok());
  SetText(vars, "grade", "差");
  SetText(vars, "note", "新增");
  vars.Remove("_review");
  SetText(vars, "grade", "中");
  std::string before;
  std::vector<std::string> added;
  ASSERT_TRUE(vars.Undo(&before, &added));
  EXPECT_EQ(before, R"({"_review":{"step":1},"grade":"优"})");
  EXPECT_THAT(added, ::testing::ElementsAre("note"));
  const std::string after = vars.Encode();
  EXPECT_EQ(after, R"({"form":{"amount":1250.5,"goal":"改善营养"},"grade":"中","note":"新增"})");

  InstanceVars back;
  ASSERT_TRUE(back.Load(after, "instance I").ok());
  ASSERT_TRUE(back.ApplyUndo(before, added).ok());
  EXPECT_EQ(back.Encode(), kStored);
  EXPECT_EQ(back.ApplyUndo("[1]", {}).code(), absl::StatusCode::kInvalidArgument);

  // Replaced whole, the variables have no undo but the whole stored text.
  vars.Replace(google::protobuf::Struct());
  EXPECT_FALSE(vars.Undo(&before, &added));
}

TEST(InstanceVarsTest, NoStoredTextIsNoVariables) {
  InstanceVars vars;
  ASSERT_TRUE(vars.Load("", "instance I").ok());
  EXPECT_EQ(vars.Encode(), "{}");
  ASSERT_TRUE(vars.Load("{}", "instance I").ok());
  EXPECT_EQ(vars.Encode(), "{}");
}

}  // namespace
}  // namespace bpm::engine::internal
