// The strict JSON parser of json.h: a recursive descent over the bytes that
// writes straight into Struct/Value (no intermediate tree, no transcoding).
// Strings are scanned eight bytes at a time while they hold plain ASCII;
// numbers go through std::from_chars (correctly rounded, locale-free).
#include "core/common/json.h"

#include <locale.h>
#include <stdlib.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>
#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "bpm/plugin/sdk.h"

namespace bpm {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;

// True when one of the eight bytes of w needs a closer look inside a string:
// '"', '\\', a control character (< 0x20) or a non-ASCII byte (>= 0x80).
inline bool HasSpecialByte(uint64_t w) {
  const uint64_t quote = w ^ (kOnes * '"');
  const uint64_t backslash = w ^ (kOnes * '\\');
  const uint64_t zero_in_quote = (quote - kOnes) & ~quote;
  const uint64_t zero_in_backslash = (backslash - kOnes) & ~backslash;
  const uint64_t below_space = (w - kOnes * 0x20) & ~w;
  return ((zero_in_quote | zero_in_backslash | below_space) & kHighs) != 0 || (w & kHighs) != 0;
}

inline bool IsPlain(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsCont(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of the well-formed UTF-8 sequence (Unicode table 3-7) starting at p
// with a byte >= 0x80, or 0 when it is not one.
inline size_t Utf8SequenceLength(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = p[0];
  const size_t left = static_cast<size_t>(end - p);
  if (c >= 0xC2 && c <= 0xDF) return left >= 2 && IsCont(p[1]) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || !IsCont(p[2])) return 0;
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;  // no overlong forms
    const unsigned char hi = c == 0xED ? 0x9F : 0xBF;  // no encoded surrogates
    return p[1] >= lo && p[1] <= hi ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || !IsCont(p[2]) || !IsCont(p[3])) return 0;
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;  // no overlong forms
    const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
    return p[1] >= lo && p[1] <= hi ? 4 : 0;
  }
  return 0;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  char buf[4];
  size_t n;
  if (cp < 0x80) {
    buf[0] = static_cast<char>(cp);
    n = 1;
  } else if (cp < 0x800) {
    buf[0] = static_cast<char>(0xC0 | (cp >> 6));
    buf[1] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    buf[0] = static_cast<char>(0xE0 | (cp >> 12));
    buf[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    buf[2] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    buf[0] = static_cast<char>(0xF0 | (cp >> 18));
    buf[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    buf[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    buf[3] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 4;
  }
  out->append(buf, n);
}

// strtod in the C locale, for the rare numbers std::from_chars reports as out
// of range (it does so for underflow to zero as well as for overflow).
double StrtodC(const char* begin, const char* end) {
  static const locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", static_cast<locale_t>(0));
  const std::string copy(begin, end);
  return strtod_l(copy.c_str(), nullptr, c_locale);
}

class Parser {
 public:
  explicit Parser(std::string_view json)
      : begin_(json.data()), p_(json.data()), end_(json.data() + json.size()) {}

  Status ParseTopStruct(Struct* s) {
    SkipSpace();
    if (p_ == end_ || *p_ != '{') {
      return Error("expected '{' (the top level must be a JSON object)");
    }
    if (!ParseObject(s, 0)) return std::move(error_);
    return Finish();
  }

  // A top-level array whose elements are all strings, without building a
  // Value per element.
  Status ParseTopStringArray(std::vector<std::string>* out) {
    SkipSpace();
    if (p_ == end_ || *p_ != '[') return Error("expected '[' (a JSON array of strings)");
    const bool ok = ParseElements([&] {
      if (p_ == end_ || *p_ != '"') return Fail("expected a string in the array");
      return ParseString(&out->emplace_back());
    });
    if (!ok) return std::move(error_);
    return Finish();
  }

  Status ParseTopValue(Value* v) {
    SkipSpace();
    if (!ParseValue(v, 0)) return std::move(error_);
    return Finish();
  }

 private:
  Status Finish() {
    SkipSpace();
    if (p_ != end_) return Error("expected the end of the input after the top-level value");
    return absl::OkStatus();
  }

  // What sits at p_, for messages: 'x', byte 0xC3, end of input.
  std::string Found() const {
    if (p_ >= end_) return "end of input";
    const unsigned char c = static_cast<unsigned char>(*p_);
    if (c > 0x20 && c < 0x7F) return absl::StrCat("'", std::string(1, static_cast<char>(c)), "'");
    return absl::StrCat("byte 0x", absl::BytesToHexString(absl::string_view(p_, 1)));
  }

  Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), " at byte ", p_ - begin_, ", found ", Found()));
  }

  // Records the first error (at p_) and returns false for the callers to pass up.
  bool Fail(std::string_view what) {
    error_ = Error(what);
    return false;
  }
  bool FailAt(const char* at, std::string_view what) {
    p_ = at;
    return Fail(what);
  }

  void SkipSpace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool CheckDepth(int depth) {
    if (depth <= kJsonMaxMessageDepth) return true;
    return Fail(absl::StrCat("nesting too deep for a protobuf Struct (at most ",
                             kJsonMaxMessageDepth,
                             " nested messages; an object costs 3, an array 2, so about 33 "
                             "nested objects or 50 nested arrays)"));
  }

  // p_ at '{'; s is a message at `depth` levels below the root.
  bool ParseObject(Struct* s, int depth) {
    ++p_;
    SkipSpace();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    auto* fields = s->mutable_fields();
    for (;;) {
      if (p_ == end_ || *p_ != '"') return Fail("expected a string (an object key)");
      const char* key_at = p_;
      if (!ParseString(&key_)) return false;
      auto inserted = fields->try_emplace(key_);
      if (!inserted.second) {
        return FailAt(key_at, absl::StrCat("duplicate object key \"", absl::CHexEscape(key_),
                                           "\" (every key may appear once)"));
      }
      SkipSpace();
      if (p_ == end_ || *p_ != ':') return Fail("expected ':' after an object key");
      ++p_;
      SkipSpace();
      // The map entry and its Value are two more messages.
      if (!CheckDepth(depth + 2) || !ParseValue(&inserted.first->second, depth + 2)) {
        return false;
      }
      SkipSpace();
      if (p_ != end_ && *p_ == ',') {
        ++p_;
        SkipSpace();
        continue;
      }
      if (p_ != end_ && *p_ == '}') {
        ++p_;
        return true;
      }
      return Fail("expected ',' or '}' after an object member");
    }
  }

  // p_ at '['.
  bool ParseArray(ListValue* list, int depth) {
    return ParseElements([&] {
      return CheckDepth(depth + 1) && ParseValue(list->add_values(), depth + 1);
    });
  }

  // p_ at '['; element() parses one element at p_ (false on error). Through
  // the closing ']'.
  template <typename ElementFn>
  bool ParseElements(ElementFn&& element) {
    ++p_;
    SkipSpace();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    for (;;) {
      if (!element()) return false;
      SkipSpace();
      if (p_ != end_ && *p_ == ',') {
        ++p_;
        SkipSpace();
        continue;
      }
      if (p_ != end_ && *p_ == ']') {
        ++p_;
        return true;
      }
      return Fail("expected ',' or ']' after an array element");
    }
  }

  // p_ at the first byte of the value (whitespace skipped).
  bool ParseValue(Value* v, int depth) {
    if (p_ == end_) return Fail("expected a value");
    switch (*p_) {
      case '"':
        return ParseString(v->mutable_string_value());
      case '{':
        return CheckDepth(depth + 1) && ParseObject(v->mutable_struct_value(), depth + 1);
      case '[':
        return CheckDepth(depth + 1) && ParseArray(v->mutable_list_value(), depth + 1);
      case 't':
        if (!Literal("true")) return false;
        v->set_bool_value(true);
        return true;
      case 'f':
        if (!Literal("false")) return false;
        v->set_bool_value(false);
        return true;
      case 'n':
        if (!Literal("null")) return false;
        v->set_null_value(google::protobuf::NULL_VALUE);
        return true;
      default:
        if (*p_ == '-' || IsDigit(*p_)) {
          double d;
          if (!ParseNumber(&d)) return false;
          v->set_number_value(d);
          return true;
        }
        return Fail("expected a value (object, array, string, number, true, false or null)");
    }
  }

  bool Literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0) {
      return Fail("expected a value (object, array, string, number, true, false or null)");
    }
    p_ += word.size();
    return true;
  }

  // RFC 8259 number grammar, then the double nearest to it. Integer literals
  // (no fraction, no exponent) of up to 19 digits are converted exactly from
  // uint64, which is also correctly rounded, and -0 becomes +0 as in
  // protobuf's parser.
  bool ParseNumber(double* out) {
    const char* start = p_;
    const char* p = p_;
    const bool negative = *p == '-';
    if (negative) ++p;
    if (p == end_ || !IsDigit(*p)) return FailAt(p, "expected a digit in a number");
    const char* digits = p;
    if (*p == '0') {
      ++p;
      if (p != end_ && IsDigit(*p)) return FailAt(p, "leading zeros are not allowed in a number");
    } else {
      while (p != end_ && IsDigit(*p)) ++p;
    }
    bool integer = true;
    if (p != end_ && *p == '.') {
      ++p;
      if (p == end_ || !IsDigit(*p)) return FailAt(p, "expected a digit after the decimal point");
      while (p != end_ && IsDigit(*p)) ++p;
      integer = false;
    }
    if (p != end_ && (*p == 'e' || *p == 'E')) {
      ++p;
      if (p != end_ && (*p == '+' || *p == '-')) ++p;
      if (p == end_ || !IsDigit(*p)) return FailAt(p, "expected a digit in the exponent");
      while (p != end_ && IsDigit(*p)) ++p;
      integer = false;
    }
    if (integer && p - digits <= 19) {
      uint64_t u = 0;
      for (const char* q = digits; q != p; ++q) u = u * 10 + static_cast<uint64_t>(*q - '0');
      const double d = static_cast<double>(u);
      *out = negative && u != 0 ? -d : d;
      p_ = p;
      return true;
    }
    double d = 0;
    const auto result = std::from_chars(start, p, d);
    if (result.ec == std::errc::result_out_of_range) {
      d = StrtodC(start, p);  // underflow gives +-0, overflow +-inf
      if (std::isinf(d)) return FailAt(start, "number out of the range of a double");
    } else if (result.ec != std::errc() || result.ptr != p) {
      return FailAt(start, "malformed number");  // not reached: the grammar was checked
    }
    *out = d;
    p_ = p;
    return true;
  }

  // p_ at the opening quote; replaces *out with the unescaped text.
  bool ParseString(std::string* out) {
    out->clear();
    const char* p = p_ + 1;
    for (;;) {
      // The longest run that is copied verbatim: plain ASCII and valid UTF-8.
      const char* run = p;
      for (;;) {
        while (end_ - p >= 8) {
          uint64_t w;
          std::memcpy(&w, p, 8);
          if (HasSpecialByte(w)) break;
          p += 8;
        }
        while (p != end_ && IsPlain(static_cast<unsigned char>(*p))) ++p;
        if (p == end_ || static_cast<unsigned char>(*p) < 0x80) break;
        const size_t n = Utf8SequenceLength(reinterpret_cast<const unsigned char*>(p),
                                            reinterpret_cast<const unsigned char*>(end_));
        if (n == 0) return FailAt(p, "invalid UTF-8 in a string");
        p += n;
      }
      out->append(run, static_cast<size_t>(p - run));
      if (p == end_) return FailAt(p, "expected '\"' to close the string");
      const char c = *p;
      if (c == '"') {
        p_ = p + 1;
        return true;
      }
      if (c != '\\') return FailAt(p, "control characters must be escaped in a string");
      if (end_ - p < 2) return FailAt(p + 1, "expected an escape character after '\\'");
      switch (p[1]) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(p + 2, &cp)) return false;
          p += 6;
          if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return FailAt(p - 6, "lone low surrogate \\u escape (U+DC00..U+DFFF)");
          }
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low;
            if (end_ - p < 2 || p[0] != '\\' || p[1] != 'u') {
              return FailAt(p, "expected a \\u escape of a low surrogate after a high surrogate");
            }
            if (!Hex4(p + 2, &low)) return false;
            if (low < 0xDC00 || low > 0xDFFF) {
              return FailAt(p, "expected a low surrogate (\\uDC00..\\uDFFF) after a high surrogate");
            }
            p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(cp, out);
          continue;
        }
        default:
          return FailAt(p + 1, "expected one of \" \\ / b f n r t u after '\\'");
      }
      p += 2;
    }
  }

  // Four hex digits at p.
  bool Hex4(const char* p, uint32_t* out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i, ++p) {
      if (p == end_) return FailAt(p, "expected four hex digits after \\u");
      const char c = *p;
      uint32_t digit;
      if (c >= '0' && c <= '9') {
        digit = static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        digit = static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        digit = static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return FailAt(p, "expected four hex digits after \\u");
      }
      v = v * 16 + digit;
    }
    *out = v;
    return true;
  }

  const char* const begin_;
  const char* p_;
  const char* const end_;
  std::string key_;  // scratch for object keys
  Status error_;
};

}  // namespace

StatusOr<Struct> ParseJsonStruct(std::string_view json) {
  Struct s;
  Parser parser(json);
  BPM_RETURN_IF_ERROR(parser.ParseTopStruct(&s));
  return s;
}

StatusOr<Value> ParseJsonValue(std::string_view json) {
  Value v;
  Parser parser(json);
  BPM_RETURN_IF_ERROR(parser.ParseTopValue(&v));
  return v;
}

StatusOr<std::vector<std::string>> ParseJsonStringArray(std::string_view json) {
  std::vector<std::string> out;
  Parser parser(json);
  BPM_RETURN_IF_ERROR(parser.ParseTopStringArray(&out));
  return out;
}

namespace {

// The end of the string whose opening quote is at p, just past its closing
// quote; nullptr when it does not end.
// A quote ends the string unless an odd number of backslashes precede it.
const char* SkipString(const char* p, const char* end) {
  const char* const body = p + 1;
  for (const char* q = body; q < end;) {
    const char* quote = static_cast<const char*>(std::memchr(q, '"', static_cast<size_t>(end - q)));
    if (quote == nullptr) return nullptr;
    size_t backslashes = 0;
    for (const char* b = quote; b > body && b[-1] == '\\'; --b) ++backslashes;
    if (backslashes % 2 == 0) return quote + 1;
    q = quote + 1;
  }
  return nullptr;
}

}  // namespace

bool CanonicalJsonMembers(std::string_view text, std::vector<JsonMember>* out) {
  const char* p = text.data();
  const char* const end = p + text.size();
  if (p == end || *p != '{') return false;
  ++p;
  if (p != end && *p == '}') return p + 1 == end;
  while (p < end) {
    if (*p != '"') return false;
    const char* key_begin = p + 1;
    const char* key_end = key_begin;
    while (key_end < end && *key_end != '"') {
      if (*key_end == '\\') return false;  // an escaped key: written anew
      ++key_end;
    }
    if (key_end + 1 >= end || key_end[1] != ':') return false;
    const std::string_view key(key_begin, static_cast<size_t>(key_end - key_begin));
    if (!out->empty() && !(out->back().key < key)) return false;  // not strictly ascending
    const char* v = key_end + 2;
    const char* q = v;
    int depth = 0;
    while (q < end) {
      const char c = *q;
      if (c == '"') {
        q = SkipString(q, end);
        if (q == nullptr) return false;
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) break;
        --depth;
      } else if (c == ',' && depth == 0) {
        break;
      } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
        if (depth == 0) return false;
      }
      ++q;
    }
    if (q == end || q == v) return false;
    out->push_back(JsonMember{key, std::string_view(v, static_cast<size_t>(q - v))});
    if (*q == '}') return q + 1 == end;
    if (*q != ',') return false;
    p = q + 1;
  }
  return false;
}

std::string CanonicalJsonUpdate(const std::vector<JsonMember>& kept, const Struct& now,
                                std::vector<std::string> changed) {
  size_t before_size = 2;
  for (const JsonMember& m : kept) before_size += m.key.size() + m.value.size() + 4;
  std::string out;
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  out.reserve(before_size + 64);
  out.push_back('{');
  bool first = true;
  auto comma = [&] {
    if (!first) out.push_back(',');
    first = false;
  };
  auto write_now = [&](const std::string& key) {
    auto it = now.fields().find(key);
    if (it == now.fields().end()) return;  // removed
    comma();
    ::bpm::plugin::AppendJsonString(key, &out);
    out.push_back(':');
    ::bpm::plugin::AppendCanonicalJson(it->second, &out);
  };
  size_t i = 0, j = 0;
  while (i < kept.size() || j < changed.size()) {
    if (j == changed.size() || (i < kept.size() && kept[i].key < changed[j])) {
      comma();
      out.push_back('"');
      out.append(kept[i].key);
      out.append("\":", 2);
      out.append(kept[i].value);
      ++i;
    } else {
      if (i < kept.size() && kept[i].key == changed[j]) ++i;  // replaced
      write_now(changed[j]);
      ++j;
    }
  }
  out.push_back('}');
  return out;
}

size_t FirstInvalidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  for (const auto* q = p; q < end;) {
    if (*q < 0x80) {
      ++q;
      continue;
    }
    const size_t n = Utf8SequenceLength(q, end);
    if (n == 0) return static_cast<size_t>(q - p);
    q += n;
  }
  return std::string_view::npos;
}

}  // namespace bpm
