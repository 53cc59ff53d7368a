// core/common/json: the strict JSON parser behind ParseJsonObject. Checks
// RFC 8259 conformance case by case, and that every text it accepts gives
// exactly (bit for bit) the Struct protobuf's JsonStringToMessage gives,
// on fixed boundary cases and on thousands of seeded random documents. Also
// pins the output of plugin::CanonicalJson against its original
// implementation (the bytes behind every content digest).
#include "core/common/json.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "bpm/plugin/sdk.h"
#include "core/common/util.h"
#include "google/protobuf/util/json_util.h"
#include "tests/support/reference_canonical_json.h"

namespace bpm {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

// ---- Helpers -------------------------------------------------------------------

uint64_t Bits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

std::string Diff(const Value& a, const Value& b, const std::string& path);

// "" when a and b are identical (numbers compared by bit pattern, so -0 and
// +0 differ), else the path of the first difference.
std::string Diff(const Struct& a, const Struct& b, const std::string& path) {
  if (a.fields().size() != b.fields().size()) return path + ": different key counts";
  for (const auto& kv : a.fields()) {
    auto it = b.fields().find(kv.first);
    if (it == b.fields().end()) return path + ": key missing: " + kv.first;
    std::string d = Diff(kv.second, it->second, path + "." + kv.first);
    if (!d.empty()) return d;
  }
  return "";
}

std::string Diff(const Value& a, const Value& b, const std::string& path) {
  if (a.kind_case() != b.kind_case()) return path + ": different kinds";
  switch (a.kind_case()) {
    case Value::kNumberValue:
      if (Bits(a.number_value()) != Bits(b.number_value())) {
        char buf[100];
        std::snprintf(buf, sizeof buf, ": %.17g vs %.17g", a.number_value(), b.number_value());
        return path + buf;
      }
      return "";
    case Value::kStringValue:
      return a.string_value() == b.string_value() ? "" : path + ": different strings";
    case Value::kBoolValue:
      return a.bool_value() == b.bool_value() ? "" : path + ": different bools";
    case Value::kStructValue:
      return Diff(a.struct_value(), b.struct_value(), path);
    case Value::kListValue: {
      const ListValue& x = a.list_value();
      const ListValue& y = b.list_value();
      if (x.values_size() != y.values_size()) return path + ": different list sizes";
      for (int i = 0; i < x.values_size(); ++i) {
        std::string d = Diff(x.values(i), y.values(i), path + "[" + std::to_string(i) + "]");
        if (!d.empty()) return d;
      }
      return "";
    }
    default:
      return "";
  }
}

StatusOr<Struct> Protobuf(std::string_view json) {
  Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &s);
  if (!status.ok()) return absl::InvalidArgumentError(std::string(status.message()));
  return s;
}

// Both parsers accept json and agree bit for bit.
void ExpectSameAsProtobuf(const std::string& json) {
  auto mine = ParseJsonStruct(json);
  auto theirs = Protobuf(json);
  ASSERT_TRUE(mine.ok()) << json << "\n" << mine.status();
  ASSERT_TRUE(theirs.ok()) << json << "\n" << theirs.status();
  EXPECT_EQ(Diff(*mine, *theirs, "$"), "") << json;
}

double Number(const std::string& literal) {
  auto s = ParseJsonStruct("{\"n\":" + literal + "}");
  EXPECT_TRUE(s.ok()) << literal << ": " << s.status();
  if (!s.ok()) return std::nan("");
  return s->fields().at("n").number_value();
}

std::string ErrorOf(const std::string& json) {
  auto s = ParseJsonStruct(json);
  if (s.ok()) return "<ok>";
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(s.status().message());
}

// ---- Valid input -----------------------------------------------------------------

TEST(JsonTest, ParsesEveryKindOfValue) {
  auto s = ParseJsonStruct(
      R"( {"s":"text","n":-12.5e1,"t":true,"f":false,"z":null,"o":{"k":[]},"l":[1,"a",[{}]]} )");
  ASSERT_TRUE(s.ok()) << s.status();
  const auto& f = s->fields();
  EXPECT_EQ(f.at("s").string_value(), "text");
  EXPECT_EQ(f.at("n").number_value(), -125);
  EXPECT_TRUE(f.at("t").bool_value());
  EXPECT_EQ(f.at("f").kind_case(), Value::kBoolValue);
  EXPECT_FALSE(f.at("f").bool_value());
  EXPECT_EQ(f.at("z").kind_case(), Value::kNullValue);
  EXPECT_EQ(f.at("o").struct_value().fields().at("k").list_value().values_size(), 0);
  const ListValue& l = f.at("l").list_value();
  ASSERT_EQ(l.values_size(), 3);
  EXPECT_EQ(l.values(0).number_value(), 1);
  EXPECT_EQ(l.values(1).string_value(), "a");
  EXPECT_EQ(l.values(2).list_value().values(0).kind_case(), Value::kStructValue);
  EXPECT_EQ(plugin::CanonicalJson(*s),
            R"({"f":false,"l":[1,"a",[{}]],"n":-125,"o":{"k":[]},"s":"text","t":true,"z":null})");
}

TEST(JsonTest, ValidDocumentsMatchProtobuf) {
  const char* cases[] = {
      "{}",
      " \t\r\n{ \t\r\n} \t\r\n",
      R"({"":""})",
      R"({"a":1,"b":[1,2,3],"c":{"d":{"e":null}}})",
      R"({"esc":"\" \\ \/ \b \f \n \r \t \u0000 \u001f \u007f \u00e9 \u4E2D \uffff"})",
      R"({"\u0061\u0062":"key with escapes","a\"b":1})",
      R"({"cjk":"绩效目标申报表：一级指标、二级指标、三级指标","full":"　全角　"})",
      R"({"emoji":"\ud83d\ude00\uD83C\uDF89","raw":"😀🎉","max":"\udbff\udfff","min":"\ud800\udc00"})",
      R"({"mix":"a😀b\n绩效\u00a0c"})",
      R"({"nums":[0,-0,0.0,-0.0,-0e0,1,-1,10,123456789,1.5,-1.5e-3,1E2,1e+2,1e-2,2.5E-5]})",
      R"({"nums":[1e308,-1e308,1.7976931348623157e308,1.7976931348623158e308,5e-324,2.4703282292062328e-324]})",
      R"({"nums":[1e-400,-1e-400,2.4703282292062327e-324,0e99999999,1e-99999999999]})",
      R"({"nums":[9007199254740992,9007199254740993,9007199254740995,-9007199254740993]})",
      R"({"nums":[9223372036854775807,9223372036854775808,-9223372036854775808,-9223372036854775809]})",
      R"({"nums":[18446744073709551615,18446744073709551616,99999999999999999999,1000000000000000000000]})",
      R"({"nums":[123456789012345678901234567890,0.1,0.2,0.30000000000000004,1e23,8.98846567431158e307]})",
      R"({"nums":[2.2250738585072011e-308,2.2250738585072014e-308,4.9406564584124654e-324]})",
      R"({"nums":[0.000000000000000000000000000000000000000000001e45,100000000000000000000000]})",
      R"({"deep":[[[[[[[[[[{"a":[{"b":{"c":[true]}}]}]]]]]]]]]]})",
  };
  for (const char* json : cases) ExpectSameAsProtobuf(json);
}

TEST(JsonTest, StringsAreDecoded) {
  auto s = ParseJsonStruct(R"({"a":"\ud83d\ude00","b":"绩效","c":"\u4e2d\u6587","d":"x\u0000y"})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->fields().at("a").string_value(), "\xF0\x9F\x98\x80");  // U+1F600
  EXPECT_EQ(s->fields().at("b").string_value(), "绩效");
  EXPECT_EQ(s->fields().at("c").string_value(), "中文");
  EXPECT_EQ(s->fields().at("d").string_value(), std::string("x\0y", 3));
}

TEST(JsonTest, BoundaryNumbers) {
  EXPECT_EQ(Number("1e308"), 1e308);
  EXPECT_EQ(Number("1.7976931348623157e308"), 1.7976931348623157e308);
  EXPECT_EQ(Number("1.7976931348623158e308"), 1.7976931348623157e308);  // rounds down
  EXPECT_EQ(Number("5e-324"), 4.9406564584124654e-324);                  // smallest subnormal
  EXPECT_EQ(Number("2.4703282292062328e-324"), 4.9406564584124654e-324);
  EXPECT_EQ(Bits(Number("2.4703282292062327e-324")), Bits(0.0));         // underflow to +0
  EXPECT_EQ(Bits(Number("-1e-400")), Bits(-0.0));                         // underflow to -0
  EXPECT_EQ(Number("0.1"), 0.1);
  EXPECT_EQ(Number("9007199254740993"), 9007199254740992.0);  // nearest, ties to even
  EXPECT_EQ(Number("9007199254740995"), 9007199254740996.0);
  EXPECT_EQ(Number("18446744073709551615"), 18446744073709551616.0);
  EXPECT_EQ(Number("123456789012345678901234567890"), 1.2345678901234568e+29);
  // Like protobuf: the integer literal -0 is +0, other spellings keep the sign.
  EXPECT_EQ(Bits(Number("-0")), Bits(0.0));
  EXPECT_EQ(Bits(Number("0")), Bits(0.0));
  EXPECT_EQ(Bits(Number("-0.0")), Bits(-0.0));
  EXPECT_EQ(Bits(Number("-0e0")), Bits(-0.0));
  EXPECT_EQ(Bits(Number("-0E+5")), Bits(-0.0));
}

TEST(JsonTest, ParseJsonValueAcceptsAnyTopLevel) {
  EXPECT_EQ(ParseJsonValue(" 1.5 ")->number_value(), 1.5);
  EXPECT_EQ(ParseJsonValue("\"x\"")->string_value(), "x");
  EXPECT_EQ(ParseJsonValue("null")->kind_case(), Value::kNullValue);
  EXPECT_EQ(ParseJsonValue("[true,false]")->list_value().values_size(), 2);
  EXPECT_EQ(ParseJsonValue("{\"a\":{}}")->struct_value().fields().size(), 1u);
  EXPECT_FALSE(ParseJsonValue("").ok());
  EXPECT_FALSE(ParseJsonValue("1 2").ok());
  EXPECT_FALSE(ParseJsonValue("tru").ok());
}

// ---- Invalid input -----------------------------------------------------------------

TEST(JsonTest, StringArrays) {
  auto a = ParseJsonStringArray(R"( ["approve", "return", "\u7ee9\u6548", ""] )");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, (std::vector<std::string>{"approve", "return", "绩效", ""}));
  auto empty = ParseJsonStringArray("[ ]");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  // Each element as ParseJsonValue decodes it.
  auto same = ParseJsonValue(R"(["x\ty", "é"])");
  auto fast = ParseJsonStringArray(R"(["x\ty", "é"])");
  ASSERT_TRUE(same.ok() && fast.ok());
  EXPECT_EQ((*fast)[0], same->list_value().values(0).string_value());
  EXPECT_EQ((*fast)[1], same->list_value().values(1).string_value());
  for (const char* bad : {"", "{}", "[1]", "[\"a\",]", "[\"a\" \"b\"]", "[\"a\"] x",
                          "[\"\xff\"]", "[null]", "[\"a\""}) {
    EXPECT_FALSE(ParseJsonStringArray(bad).ok()) << bad;
  }
  EXPECT_EQ(ParseJsonStringArray("[1]").status().message(),
            "expected a string in the array at byte 1, found '1'");
}

TEST(JsonTest, RejectsInvalidJson) {
  const std::string cases[] = {
      "", " ", "null", "[]", "\"s\"", "1", "true",           // top level must be an object
      "{", "}", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\" 1}", "{\"a\":1 \"b\":2}",
      "{,}", "{\"a\":1,}", "{\"a\":[1,]}", "{\"a\":[,1]}", "{\"a\":[1 2]}", "{\"a\":[}",
      "{} x", "{}{}", std::string("{}\0", 3), "{\"a\":1}}", "{\"a\":[]]}",
      "\xEF\xBB\xBF{}",                                        // byte order mark
      "\f{}", "{}\f", "{\"a\":\v1}", "\xE3\x80\x80{}",         // not JSON whitespace
      "{'a':1}", "{a:1}", "{\"a\":'x'}",                      // quotes
      "{\"a\":01}", "{\"a\":00}", "{\"a\":-01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":0.}",
      "{\"a\":-}", "{\"a\":+1}", "{\"a\":1e}", "{\"a\":1e+}", "{\"a\":1E-}", "{\"a\":0x10}",
      "{\"a\":1e5.5}", "{\"a\":- 1}", "{\"a\":--1}", "{\"a\":1.2.3}",
      "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":-Infinity}", "{\"a\":nan}", "{\"a\":inf}",
      "{\"a\":1e309}", "{\"a\":-1e309}", "{\"a\":1.7976931348623159e308}", "{\"a\":1e99999999999}",
      "{\"a\":tru}", "{\"a\":True}", "{\"a\":nul}", "{\"a\":NULL}", "{\"a\":falsey}",
      "{\"a\":\"x}", "{\"a\":\"x\\\"}", "{\"a\":\"\\", "{\"a\":\"\\x\"}", "{\"a\":\"\\U0041\"}",
      "{\"a\":\"\\'\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u12G4\"}", "{\"a\":\"\\u\"}",
      "{\"a\":\"a\x01z\"}", "{\"a\":\"a\tz\"}", "{\"a\":\"a\nz\"}", std::string("{\"a\":\"\0\"}", 9),
      "{\"a\":\"\\ud83d\"}", "{\"a\":\"\\ude00\"}", "{\"a\":\"\\ud83dx\"}",
      "{\"a\":\"\\ud83d\\u0041\"}", "{\"a\":\"\\ud83d\\ud83d\"}", "{\"a\":\"\\ude00\\ud83d\"}",
      "{\"a\":\"\\ud83d\\n\"}",
      "{\"a\":\"\xFF\"}", "{\"a\":\"\xC3\x28\"}", "{\"a\":\"\xC0\xAF\"}", "{\"a\":\"\xC1\xBF\"}",
      "{\"a\":\"\xE0\x80\xAF\"}", "{\"a\":\"\xED\xA0\x80\"}", "{\"a\":\"\xF0\x80\x80\xAF\"}",
      "{\"a\":\"\xF4\x90\x80\x80\"}", "{\"a\":\"\xF5\x80\x80\x80\"}", "{\"a\":\"\xE4\xB8\"}",
      "{\"a\":\"\x80\"}", "{\"\xFF\":1}", "{\"a\":\"\xE4\xB8\xAD", "{\"a\":\"\xF0\x9F\x98\"}",
      "{\"a\":1,\"a\":2}", "{\"a\":1,\"\\u0061\":2}", "{\"a\":{},\"b\":1,\"a\":[]}",
      "{\"a\":绩效}", "{绩效:1}",
  };
  for (const std::string& json : cases) {
    auto s = ParseJsonStruct(json);
    EXPECT_FALSE(s.ok()) << absl::CHexEscape(json);
    if (!s.ok()) {
      EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_NE(std::string(s.status().message()).find(" at byte "), std::string::npos)
          << s.status();
    }
  }
}

TEST(JsonTest, ErrorsNameOffsetAndExpectation) {
  EXPECT_EQ(ErrorOf(""), "expected '{' (the top level must be a JSON object) at byte 0, found end of input");
  EXPECT_EQ(ErrorOf("[1]"), "expected '{' (the top level must be a JSON object) at byte 0, found '['");
  EXPECT_EQ(ErrorOf("{oops"), "expected a string (an object key) at byte 1, found 'o'");
  EXPECT_EQ(ErrorOf("{\"a\":1,}"), "expected a string (an object key) at byte 7, found '}'");
  EXPECT_EQ(ErrorOf("{\"a\":1 x"), "expected ',' or '}' after an object member at byte 7, found 'x'");
  EXPECT_EQ(ErrorOf("{\"a\" 1}"), "expected ':' after an object key at byte 5, found '1'");
  EXPECT_EQ(ErrorOf("{\"a\":[1,]}"),
            "expected a value (object, array, string, number, true, false or null) at byte 8, "
            "found ']'");
  EXPECT_EQ(ErrorOf("{\"a\":[1 2]}"), "expected ',' or ']' after an array element at byte 8, found '2'");
  EXPECT_EQ(ErrorOf("{\"a\":01}"), "leading zeros are not allowed in a number at byte 6, found '1'");
  EXPECT_EQ(ErrorOf("{\"a\":1.}"), "expected a digit after the decimal point at byte 7, found '}'");
  EXPECT_EQ(ErrorOf("{\"a\":1e400}"), "number out of the range of a double at byte 5, found '1'");
  EXPECT_EQ(ErrorOf("{\"a\":NaN}"),
            "expected a value (object, array, string, number, true, false or null) at byte 5, "
            "found 'N'");
  EXPECT_EQ(ErrorOf("{\"a\":\"x\ty\"}"),
            "control characters must be escaped in a string at byte 7, found byte 0x09");
  EXPECT_EQ(ErrorOf("{\"a\":\"\\x\"}"),
            "expected one of \" \\ / b f n r t u after '\\' at byte 7, found 'x'");
  EXPECT_EQ(ErrorOf("{\"a\":\"\\ude00\"}"),
            "lone low surrogate \\u escape (U+DC00..U+DFFF) at byte 6, found '\\'");
  EXPECT_EQ(ErrorOf("{\"a\":\"\\ud83d\"}"),
            "expected a \\u escape of a low surrogate after a high surrogate at byte 12, found '\"'");
  EXPECT_EQ(ErrorOf("{\"a\":\"\xE4\xB8\"}"), "invalid UTF-8 in a string at byte 6, found byte 0xe4");
  EXPECT_EQ(ErrorOf("{\"a\":\"x"), "expected '\"' to close the string at byte 7, found end of input");
  EXPECT_EQ(ErrorOf("{\"a\":1,\"a\":2}"),
            "duplicate object key \"a\" (every key may appear once) at byte 7, found '\"'");
  EXPECT_EQ(ErrorOf("{} {}"),
            "expected the end of the input after the top-level value at byte 3, found '{'");
}

TEST(JsonTest, ParseJsonObjectKeepsItsContract) {
  auto empty = ParseJsonObject("", "x");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->fields().empty());
  auto bad = ParseJsonObject("{\"a\":1,}", "--payload");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "--payload: not a JSON object: expected a string (an object key) at byte 7, found '}'");
  auto good = ParseJsonObject(R"({"a":[1,"绩效"]})", "x");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(CanonicalJson(*good), R"({"a":[1,"绩效"]})");
}

// ---- Nesting -----------------------------------------------------------------------

// `levels` objects nested in each other (the top one included); the innermost
// holds {"a": leaf}, or nothing when leaf is empty.
std::string NestedObjects(int levels, const std::string& leaf) {
  std::string out;
  for (int i = 1; i < levels; ++i) out += "{\"a\":";
  out += leaf.empty() ? "{}" : "{\"a\":" + leaf + "}";
  out.append(static_cast<size_t>(levels - 1), '}');
  return out;
}

std::string Arrays(int arrays, const std::string& leaf) {
  return std::string(static_cast<size_t>(arrays), '[') + leaf +
         std::string(static_cast<size_t>(arrays), ']');
}

// {"a": [[...leaf...]]} with `arrays` arrays.
std::string NestedArrays(int arrays, const std::string& leaf) {
  return "{\"a\":" + Arrays(arrays, leaf) + "}";
}

TEST(JsonTest, NestingLimitIsProtobufs) {
  // 33 nested objects (the top included) fit, 34 do not; 49 arrays in the top
  // object fit, 50 do not.
  EXPECT_TRUE(ParseJsonStruct(NestedObjects(33, "1")).ok());
  EXPECT_FALSE(ParseJsonStruct(NestedObjects(34, "1")).ok());
  EXPECT_TRUE(ParseJsonStruct(NestedArrays(49, "1")).ok());
  EXPECT_TRUE(ParseJsonStruct(NestedArrays(49, "")).ok());
  EXPECT_FALSE(ParseJsonStruct(NestedArrays(50, "1")).ok());
  const std::string msg = ErrorOf(NestedArrays(60, "1"));
  EXPECT_EQ(msg.rfind("nesting too deep for a protobuf Struct (at most 100 nested messages", 0), 0u)
      << msg;
  // Far beyond the limit: an error, not a stack overflow.
  EXPECT_FALSE(ParseJsonStruct(NestedArrays(100000, "1")).ok());
  EXPECT_FALSE(ParseJsonStruct(NestedObjects(100000, "1")).ok());
  // At, just below and just above the limit, in every shape: the same verdict
  // (and the same Struct) as protobuf.
  std::vector<std::string> docs;
  for (int n = 28; n <= 36; ++n) {
    for (const char* leaf : {"", "1", "[]", "{}", "[1]", "[[]]", "{\"b\":2}"}) {
      docs.push_back(NestedObjects(n, leaf));
    }
  }
  for (int n = 44; n <= 54; ++n) {
    for (const char* leaf : {"", "1", "{}", "{\"b\":[]}", "{\"b\":1}", "[]"}) {
      docs.push_back(NestedArrays(n, leaf));
    }
  }
  for (int objects = 0; objects <= 34; ++objects) {  // objects, then arrays
    const int arrays = (100 - 3 * objects) / 2;
    for (int extra = -1; extra <= 1; ++extra) {
      if (arrays + extra < 0) continue;
      docs.push_back(objects == 0 ? NestedArrays(arrays + extra, "1")
                                  : NestedObjects(objects, Arrays(arrays + extra, "1")));
    }
  }
  for (const std::string& doc : docs) {
    auto mine = ParseJsonStruct(doc);
    auto theirs = Protobuf(doc);
    ASSERT_EQ(mine.ok(), theirs.ok()) << doc << "\nmine: " << mine.status()
                                      << "\nprotobuf: " << theirs.status();
    if (mine.ok()) {
      EXPECT_EQ(Diff(*mine, *theirs, "$"), "") << doc;
    }
  }
}

// ---- Differential tests against protobuf ----------------------------------------------

class RandomJson {
 public:
  explicit RandomJson(uint32_t seed) : rng_(seed) {}

  std::string Document() {
    std::string out;
    Space(&out);
    Object(&out, 0);
    Space(&out);
    return out;
  }

  std::mt19937& rng() { return rng_; }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool OneIn(int n) { return Uniform(1, n) == 1; }

  void Space(std::string* out) {
    if (!OneIn(4)) return;
    static const char kSpace[] = {' ', '\t', '\n', '\r'};
    for (int i = Uniform(1, 3); i > 0; --i) out->push_back(kSpace[Uniform(0, 3)]);
  }

  void Object(std::string* out, int depth) {
    out->push_back('{');
    Space(out);
    const int n = depth > 5 ? Uniform(0, 1) : Uniform(0, 6);
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i) {
      std::string key = "k" + std::to_string(i) + (OneIn(3) ? "_指标" : "");
      if (i > 0) out->push_back(',');
      Space(out);
      String(out, key);
      Space(out);
      out->push_back(':');
      Space(out);
      AnyValue(out, depth + 1);
      Space(out);
    }
    out->push_back('}');
  }

  void Array(std::string* out, int depth) {
    out->push_back('[');
    Space(out);
    const int n = depth > 5 ? Uniform(0, 1) : Uniform(0, 5);
    for (int i = 0; i < n; ++i) {
      if (i > 0) out->push_back(',');
      Space(out);
      AnyValue(out, depth + 1);
      Space(out);
    }
    out->push_back(']');
  }

  void AnyValue(std::string* out, int depth) {
    switch (Uniform(0, depth > 6 ? 3 : 5)) {
      case 0: Number(out); break;
      case 1: String(out, RandomText()); break;
      case 2: out->append(OneIn(3) ? "null" : OneIn(2) ? "true" : "false"); break;
      case 3: Number(out); break;
      case 4: Object(out, depth + 1); break;
      default: Array(out, depth + 1); break;
    }
  }

  std::string Digits(int n, bool leading_nonzero) {
    std::string s;
    for (int i = 0; i < n; ++i) {
      s.push_back(static_cast<char>('0' + (i == 0 && leading_nonzero ? Uniform(1, 9) : Uniform(0, 9))));
    }
    return s;
  }

  void Number(std::string* out) {
    if (OneIn(2)) out->push_back('-');
    switch (Uniform(0, 5)) {
      case 0: out->append(OneIn(4) ? "0" : Digits(Uniform(1, 6), true)); return;    // small int
      case 1: out->append(Digits(Uniform(15, 25), true)); return;                  // big int
      case 2: {                                                                     // exact limits
        static const char* kSpecial[] = {
            "0", "9007199254740992", "9007199254740993", "9223372036854775807",
            "9223372036854775808", "18446744073709551615", "18446744073709551616",
            "1.7976931348623157e308", "5e-324", "2.2250738585072014e-308", "0.1", "1e23",
            "0.0", "0e0", "2.4703282292062328e-324", "2.4703282292062327e-324", "1e-400"};
        out->append(kSpecial[Uniform(0, static_cast<int>(sizeof kSpecial / sizeof *kSpecial) - 1)]);
        return;
      }
      default: {  // decimal with fraction and/or exponent
        out->append(OneIn(3) ? "0" : Digits(Uniform(1, 20), true));
        const bool fraction = OneIn(2);
        if (fraction) out->append("." + Digits(Uniform(1, 20), false));
        if (!fraction || OneIn(2)) {
          out->push_back(OneIn(2) ? 'e' : 'E');
          if (OneIn(2)) out->push_back(OneIn(2) ? '+' : '-');
          out->append(std::to_string(Uniform(0, OneIn(8) ? 330 : 30)));
        }
      }
    }
  }

  std::string RandomText() {
    static const char* kPieces[] = {
        "a", "Z", " ", "0", "绩效", "目标", "申报", "、", "（", "）", "é", "ß", "😀", "𝄞",
        "\"", "\\", "/", "\n", "\r", "\t", "\b", "\f", "\x01", "\x1f",
        "\x7f", "\xEF\xBF\xBF", "\xF4\x8F\xBF\xBF", "\xE3\x80\x80"};
    std::string s;
    const int pieces = static_cast<int>(sizeof kPieces / sizeof *kPieces);
    for (int i = Uniform(0, 12); i > 0; --i) s += kPieces[Uniform(0, pieces - 1)];
    return s;
  }

  // text as a JSON string, escaping at random (\uXXXX with surrogate pairs too).
  void String(std::string* out, const std::string& text) {
    out->push_back('"');
    for (size_t i = 0; i < text.size();) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
      const bool must = c < 0x20 || c == '"' || c == '\\';
      if (must || OneIn(6)) {
        if (!must && c < 0x80 && OneIn(2)) {
          out->push_back(static_cast<char>(c));
        } else if (c < 0x80 && OneIn(2) && std::strchr("\"\\/\b\f\n\r\t", static_cast<int>(c)) && c != 0) {
          static const char* kFrom = "\"\\/\b\f\n\r\t";
          static const char* kTo = "\"\\/bfnrt";
          out->push_back('\\');
          out->push_back(kTo[std::strchr(kFrom, static_cast<int>(c)) - kFrom]);
        } else {
          char buf[16];
          const char* fmt = OneIn(2) ? "\\u%04x" : "\\u%04X";
          if (cp >= 0x10000) {
            std::snprintf(buf, sizeof buf, fmt, 0xD800 + ((cp - 0x10000) >> 10));
            out->append(buf);
            std::snprintf(buf, sizeof buf, fmt, 0xDC00 + ((cp - 0x10000) & 0x3FF));
            out->append(buf);
          } else {
            std::snprintf(buf, sizeof buf, fmt, cp);
            out->append(buf);
          }
        }
      } else {
        out->append(text, i, len);
      }
      i += len;
    }
    out->push_back('"');
  }

  std::mt19937 rng_;
};

TEST(JsonTest, RandomDocumentsMatchProtobuf) {
  RandomJson gen(20240611);
  int accepted = 0;
  for (int i = 0; i < 4000; ++i) {
    const std::string doc = gen.Document();
    auto mine = ParseJsonStruct(doc);
    auto theirs = Protobuf(doc);
    // Only out-of-range numbers (1e309...) are rejected, by both.
    ASSERT_EQ(mine.ok(), theirs.ok()) << doc << "\nmine: " << mine.status()
                                      << "\nprotobuf: " << theirs.status();
    if (!mine.ok()) continue;
    ++accepted;
    ASSERT_EQ(Diff(*mine, *theirs, "$"), "") << doc;
  }
  EXPECT_GT(accepted, 3000);
}

TEST(JsonTest, MutatedDocumentsNeverAcceptMoreThanProtobuf) {
  // Broken variants of valid documents: whatever this parser accepts,
  // protobuf accepts too, with the same result (protobuf is more lenient:
  // trailing commas, single quotes, bare keys, "1.", raw control characters).
  RandomJson gen(7);
  std::mt19937& rng = gen.rng();
  static const char kBytes[] = "{}[]\",:\\ 0123456789.eE+-tfnulrsa\x01\x7f\xC3\xE4\xED\xF0\xFF";
  int both = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string doc = gen.Document();
    for (int m = std::uniform_int_distribution<int>(1, 3)(rng); m > 0 && !doc.empty(); --m) {
      const size_t at = std::uniform_int_distribution<size_t>(0, doc.size() - 1)(rng);
      const char b = kBytes[std::uniform_int_distribution<size_t>(0, sizeof kBytes - 2)(rng)];
      switch (std::uniform_int_distribution<int>(0, 2)(rng)) {
        case 0: doc.erase(at, 1); break;
        case 1: doc.insert(at, 1, b); break;
        default: doc[at] = b; break;
      }
    }
    auto mine = ParseJsonStruct(doc);
    if (!mine.ok()) continue;
    auto theirs = Protobuf(doc);
    ASSERT_TRUE(theirs.ok()) << absl::CHexEscape(doc) << "\nprotobuf: " << theirs.status();
    ASSERT_EQ(Diff(*mine, *theirs, "$"), "") << absl::CHexEscape(doc);
    ++both;
  }
  EXPECT_GT(both, 100);
}

// ---- CanonicalJson ----------------------------------------------------------------

TEST(CanonicalJsonTest, ExactFormat) {
  Struct s;
  auto& f = *s.mutable_fields();
  f["b"].set_number_value(-0.0);
  f["a"].set_number_value(0.1);
  f["c"].set_number_value(1e300);
  f["d"].set_number_value(9007199254740991.0);
  f["e"].set_number_value(9007199254740992.0);
  f["f"].set_number_value(std::nan(""));
  f["g"].set_number_value(-HUGE_VAL);
  f["h"].set_string_value(std::string("q\"b\\n\nr\rt\tb\bf\f\x01\x1f\x7f") + "绩😀" +
                         std::string(1, '\0'));
  f["i"];  // KIND_NOT_SET
  f["j"].set_number_value(-2.5e-7);
  f["k"].set_number_value(123456.0);
  f["\t"].set_bool_value(false);
  EXPECT_EQ(plugin::CanonicalJson(s),
            std::string("{\"\\t\":false,\"a\":0.10000000000000001,\"b\":0,\"c\":1.0000000000000001e+300,"
                        "\"d\":9007199254740991,\"e\":9007199254740992,\"f\":null,\"g\":null,"
                        "\"h\":\"q\\\"b\\\\n\\nr\\rt\\tb\\u0008f\\u000c\\u0001\\u001f\x7f绩😀\\u0000\","
                        "\"i\":null,\"j\":-2.4999999999999999e-07,\"k\":123456}"));
}

TEST(CanonicalJsonTest, SameBytesAsTheOriginalImplementation) {
  std::mt19937_64 rng(99);
  auto random_double = [&rng]() {
    switch (rng() % 6) {
      case 0: {  // any bit pattern (NaN and infinities included)
        uint64_t u = rng();
        double d;
        std::memcpy(&d, &u, sizeof d);
        return d;
      }
      case 1: return static_cast<double>(static_cast<int64_t>(rng() >> (rng() % 64)));
      case 2: return std::ldexp(static_cast<double>(rng() >> 11), static_cast<int>(rng() % 200) - 100);
      case 3: return static_cast<double>(rng() % 100000) / 100.0;
      case 4: return -static_cast<double>(rng() % 1000) * 1e-3;
      default: return std::ldexp(1.0, static_cast<int>(rng() % 2100) - 1075);
    }
  };
  for (int i = 0; i < 20000; ++i) {
    Struct s;
    auto& f = *s.mutable_fields();
    for (int k = 0; k < 8; ++k) f["n" + std::to_string(k)].set_number_value(random_double());
    std::string text;
    for (int k = static_cast<int>(rng() % 20); k > 0; --k) text.push_back(static_cast<char>(rng() % 0x80));
    text += "绩效";
    f[text].set_string_value(text);
    auto* list = f["l"].mutable_list_value();
    list->add_values()->set_number_value(random_double());
    auto& sub = *list->add_values()->mutable_struct_value()->mutable_fields();
    sub[text + "x"].set_number_value(random_double());
    sub["y"].mutable_list_value()->add_values()->set_number_value(random_double());
    ASSERT_EQ(plugin::CanonicalJson(s), testing::ReferenceCanonicalJson(s));
  }
}

TEST(CanonicalJsonTest, RoundTripsThroughTheParser) {
  RandomJson gen(5);
  for (int i = 0; i < 1000; ++i) {
    auto s = ParseJsonStruct(gen.Document());
    if (!s.ok()) continue;
    const std::string once = plugin::CanonicalJson(*s);
    auto again = ParseJsonStruct(once);
    ASSERT_TRUE(again.ok()) << once << "\n" << again.status();
    EXPECT_EQ(plugin::CanonicalJson(*again), once);
  }
}

// ---- CanonicalJsonMembers, CanonicalJsonUpdate ------------------------------

// CanonicalJsonUpdate from a stored text, which must split.
std::string Update(const std::string& text, const Struct& now, std::vector<std::string> changed) {
  std::vector<JsonMember> members;
  if (!CanonicalJsonMembers(text, &members)) {
    ADD_FAILURE() << "not in the canonical layout: " << text;
    return "";
  }
  return CanonicalJsonUpdate(members, now, std::move(changed));
}

// A random value for the update tests: strings with quotes, backslashes,
// control characters and Chinese; numbers integral and not; nesting.
Value RandomValue(std::mt19937& rng, int depth) {
  static const char* kStrings[] = {"", "优", "a\"b", "back\\slash", "tab\there", "\x01",
                                   "预算绩效管理", "x,y}z", "[1]", "trail\\", "\\\"",
                                   "\\\\\"}"};
  Value v;
  switch (std::uniform_int_distribution<int>(0, depth > 2 ? 3 : 5)(rng)) {
    case 0: v.set_null_value(google::protobuf::NULL_VALUE); break;
    case 1: v.set_bool_value(rng() % 2 == 0); break;
    case 2: v.set_number_value(static_cast<double>(static_cast<int>(rng() % 2001) - 1000) /
                               (rng() % 3 == 0 ? 7.0 : 1.0)); break;
    case 3: v.set_string_value(kStrings[rng() % (sizeof kStrings / sizeof *kStrings)]); break;
    case 4: {
      const int n = static_cast<int>(rng() % 4);
      for (int i = 0; i < n; ++i) *v.mutable_list_value()->add_values() = RandomValue(rng, depth + 1);
      break;
    }
    default: {
      Struct* s = v.mutable_struct_value();
      const int n = static_cast<int>(rng() % 4);
      for (int i = 0; i < n; ++i) {
        (*s->mutable_fields())["k" + std::to_string(rng() % 5)] = RandomValue(rng, depth + 1);
      }
    }
  }
  return v;
}

// Whatever the stored text and the changes, the update is the canonical JSON
// of the variables now: kept members copied, changed ones written anew,
// removed ones left out. A text with a key that needs escapes does not split
// (its reader parses it whole).
TEST(JsonTest, CanonicalJsonUpdateEqualsTheWholeCanonicalJson) {
  std::mt19937 rng(20261207);
  const std::vector<std::string> keys = {"form", "grade", "_review", "submitted_by", "a",
                                         "b", "审核", "z", "disclosure", "quo\"te", "nl\n"};
  for (int round = 0; round < 3000; ++round) {
    Struct before;
    for (const std::string& k : keys) {
      if (rng() % 2 == 0) (*before.mutable_fields())[k] = RandomValue(rng, 0);
    }
    const std::string text = plugin::CanonicalJson(before);
    Struct now = before;
    std::vector<std::string> changed;
    for (const std::string& k : keys) {
      switch (rng() % 5) {
        case 0:  // set (or added)
          (*now.mutable_fields())[k] = RandomValue(rng, 0);
          changed.push_back(k);
          break;
        case 1:  // named as changed, removed
          now.mutable_fields()->erase(k);
          changed.push_back(k);
          break;
        case 2:  // named twice, set to what it was
          changed.push_back(k);
          changed.push_back(k);
          break;
        default:
          break;
      }
    }
    std::shuffle(changed.begin(), changed.end(), rng);
    const bool escaped_key = before.fields().count("quo\"te") + before.fields().count("nl\n") > 0;
    std::vector<JsonMember> members;
    ASSERT_EQ(CanonicalJsonMembers(text, &members), !escaped_key) << text;
    if (escaped_key) continue;
    EXPECT_EQ(CanonicalJsonUpdate(members, now, changed), plugin::CanonicalJson(now))
        << "round " << round << " from " << text;
  }
}

// Members that did not change are copied from the stored text, not written
// from `now` (which the caller guarantees agrees): seen here by giving a
// `now` that does not agree. Strings with escaped quotes and runs of
// backslashes, nested values and Chinese text are delimited exactly.
TEST(JsonTest, CanonicalJsonUpdateCopiesWhatDidNotChange) {
  Struct now;
  (*now.mutable_fields())["a"].set_string_value("not copied");
  (*now.mutable_fields())["m"].set_number_value(2);
  (*now.mutable_fields())["z"].set_string_value("not copied");
  for (const std::string kept : {R"("x\"y")", R"("trail\\")", R"("\\\"}],")",
                                 R"({"k":["]",{"q":"\"{"}],"n":null})", R"([1,[2,[3]],"审核"])",
                                 "-1.5e+300", "true", "null", R"("预算绩效管理")"}) {
    const std::string before = R"({"a":)" + kept + R"(,"m":1,"z":)" + kept + "}";
    EXPECT_EQ(Update(before, now, {"m"}),
              R"({"a":)" + kept + R"(,"m":2,"z":)" + kept + "}")
        << before;
  }
}

TEST(JsonTest, CanonicalJsonUpdateOfAnotherLayout) {
  Struct now;
  (*now.mutable_fields())["a"].set_number_value(1);
  (*now.mutable_fields())["b"].set_number_value(3);
  // A member that is not in the canonical layout but has none between the
  // members is copied as it is; the result is still JSON of the same meaning.
  EXPECT_EQ(Update(R"({"a":1.0,"b":2})", now, {"b"}), R"({"a":1.0,"b":3})");
  // Whitespace between members, keys out of order, repeated keys, escaped
  // keys, or text that is no object: no split.
  for (const char* before : {R"({ "a":1,"b":2})", R"({"a":1, "b":2})", R"({"b":2,"a":1})",
                             R"({"a":1,"a":1,"b":2})", R"({"\u0061":1,"b":2})", "", "[]",
                             R"({"a":1,"b":2} )", R"({"a":1,"b":2)", R"({"a":1,"b":[2})",
                             R"({"a":"1,"b":2})", "{}x"}) {
    std::vector<JsonMember> members;
    EXPECT_FALSE(CanonicalJsonMembers(before, &members)) << before;
  }
  EXPECT_EQ(Update("{}", now, {"a", "b"}), R"({"a":1,"b":3})");
  EXPECT_EQ(Update(R"({"a":1,"b":3})", Struct(), {"a", "b"}), "{}");
}

}  // namespace
}  // namespace bpm
