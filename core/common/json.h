// A strict JSON (RFC 8259) parser that builds google::protobuf::Struct and
// Value directly. It replaces protobuf's JsonStringToMessage, whose
// JSON -> binary -> message transcoding took a large share of bpmd's CPU:
// every stored variable, payload and task data column is parsed here.
//
// For every text that both accept, the result equals JsonStringToMessage's
// bit for bit: numbers are correctly rounded to the nearest double (so
// 9007199254740993 becomes 9007199254740992 and 0.1 is the double nearest to
// it), and the integer literal -0 becomes +0 like protobuf's (which parses
// integer literals as int64); -0.0 and -0e0 stay -0.
//
// Strictness: only RFC 8259 is accepted. Rejected, among others: trailing
// commas, leading zeros, "1." and ".5", NaN/Infinity, single quotes,
// unquoted keys, unknown escapes, control characters (< 0x20) inside strings,
// lone or unpaired \uD800-\uDFFF surrogates, invalid UTF-8 (protobuf strings
// must be valid UTF-8; overlong forms, encoded surrogates and code points
// above U+10FFFF count as invalid), a byte order mark, whitespace other than
// space, tab, CR and LF, and any text after the top-level value. Duplicate
// object keys (compared after unescaping) are an error, as in protobuf's
// parser ("Repeated map key").
//
// Nesting limit: a Struct must stay parseable after a round trip through the
// protobuf wire format, whose parser stops at 100 nested messages. Each JSON
// object costs 3 levels (Value, Struct, map entry) and each array 2 (Value,
// ListValue), so a Struct allows about 33 nested objects or 50 nested arrays.
// The limit is exactly the one JsonStringToMessage enforces; deeper input is
// an error, never a crash (the recursion is bounded by the limit).
//
// Errors: INVALID_ARGUMENT whose message names the zero-based byte offset,
// what was expected there and what was found, e.g.
//   "expected ',' or '}' after an object member at byte 12, found 'x'".
//
// Thread safety: the functions keep no state; safe to call concurrently.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/common/status.h"
#include "google/protobuf/struct.pb.h"

namespace bpm {

// The most nested protobuf messages below the root that a parsed value may
// have (protobuf's default recursion limit).
inline constexpr int kJsonMaxMessageDepth = 100;

// Parses a JSON text whose top level is an object. Leading and trailing
// whitespace is allowed; empty input is an error (see ParseJsonObject in
// util.h for the lenient wrapper).
StatusOr<google::protobuf::Struct> ParseJsonStruct(std::string_view json);

// Parses any JSON value (object, array, string, number, true, false, null).
StatusOr<google::protobuf::Value> ParseJsonValue(std::string_view json);

// Parses a JSON array whose elements are all strings (how the store keeps
// string lists), without a Value per element. Same rules and errors.
StatusOr<std::vector<std::string>> ParseJsonStringArray(std::string_view json);

// One top-level member of a JSON object text in the canonical layout (no
// whitespace between members, keys without escapes in strictly ascending
// order): its key as written and the text of its value. Both view the text
// they were split from.
struct JsonMember {
  std::string_view key;
  std::string_view value;
};

// Splits `text` into its members, in order, when it is an object in the
// canonical layout; false otherwise, `out` then holding any prefix. Values
// are delimited, not checked: one may still fail ParseJsonValue. One pass
// without allocations (a vector of views), far cheaper than parsing: for
// reading a few members of a large object.
bool CanonicalJsonMembers(std::string_view text, std::vector<JsonMember>* out);

// The canonical JSON (CanonicalJson, util.h) of `now`, an object whose
// members are those split from a stored text (`before`, CanonicalJsonMembers)
// except the top-level keys named in `changed` (each set, added, removed or
// left as it was in `now`; in any order, repeats allowed). The text of every
// other member is copied from `before` instead of written anew from `now`: a
// command that sets two variables of an instance does not re-encode its
// whole filed form. `before` must be what `now` was parsed from before the
// changes (the caller's guarantee; nothing checks that the unchanged members
// agree). A member copied from a text whose values were not canonical keeps
// its own layout.
// Thread safety: stateless.
std::string CanonicalJsonUpdate(const std::vector<JsonMember>& before,
                                const google::protobuf::Struct& now,
                                std::vector<std::string> changed);

// Byte offset of the first byte of text that does not start a well-formed
// UTF-8 sequence (same rules as the parser's strings), or npos when all of
// it is valid. For other text formats that feed protobuf strings (YAML).
size_t FirstInvalidUtf8(std::string_view text);

}  // namespace bpm
