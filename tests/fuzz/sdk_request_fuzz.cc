// libFuzzer target: the plugin SDK's reading of a request with its variables
// left encoded (plugins/sdk/include/bpm/plugin/sdk.h, "Instance variables":
// internal::ParseRequest with LazyVariables, then Vars()). Differential: the
// fuzzer's bytes are parsed as an ActRequest both ways.
//
// - Bytes a whole parse accepts must be accepted by name too, giving the same
//   request apart from context.variables, and the same variables, read one by
//   one and all at once.
// - Bytes refused by name must be refused by a whole parse too.
// - By name may accept more (a variable that is not a valid Value fails only
//   when read): those inputs must still read without crashing.
// - A request that marks a selection (context.variables_selected, sent to a
//   stage that declared what it reads) refuses a read outside it with
//   std::logic_error, whatever the bytes hold.
//
// Seeds: corpus/sdk_request_fuzz (written by seed_writer.cc): requests like
// the engine's, one in the two-part form with the config in front.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include "bpm/plugin/sdk.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

namespace pb = ::bpm::plugin::v1;
using google::protobuf::Struct;
using google::protobuf::util::MessageDifferencer;

// m without unknown fields, at any depth. A whole parse keeps some unknown
// fields inside map values and drops others (by the path its map parsing
// takes); no accessor a stage uses sees them, so the comparisons leave them out.
template <typename M>
M Known(const M& m) {
  M copy = m;
  copy.DiscardUnknownFields();
  return copy;
}

// Equal messages, a NaN equal to a NaN (bytes decide, not arithmetic).
bool Same(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  google::protobuf::util::DefaultFieldComparator numbers;
  numbers.set_treat_nan_as_equal(true);
  MessageDifferencer d;
  d.set_field_comparator(&numbers);
  return d.Compare(a, b);
}

[[noreturn]] void Finding(const char* what) {
  std::fprintf(stderr, "sdk_request_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  bpm::fuzz::QuietProtobufLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pb::ActRequest whole;
  const bool whole_ok = whole.ParseFromArray(data, static_cast<int>(size));

  google::protobuf::Arena arena;
  auto* req = google::protobuf::Arena::CreateMessage<pb::ActRequest>(&arena);
  bpm::plugin::internal::LazyVariables vars(&arena);
  std::shared_ptr<const bpm::plugin::internal::ConfigEntry> config;
  if (!bpm::plugin::internal::ParseRequest(data, size, req, &config, &vars)) {
    if (whole_ok) Finding("refused by name, accepted by a whole parse");
    return 0;
  }
  bpm::plugin::internal::ConfigLease<pb::ActRequest> lease(*req, config);
  bpm::plugin::internal::VariablesScope scope(&vars);
  const bpm::plugin::Variables by_name = bpm::plugin::Vars(req->context());
  if (!whole_ok) {
    // Lenient on values it never read: reading them may fail, cleanly.
    try {
      (void)by_name.All();
    } catch (const std::runtime_error&) {
    }
    return 0;
  }
  if (req->context().variables().fields_size() != 0) Finding("variables decoded whole");
  pb::ActRequest rest = whole;
  if (rest.has_context()) rest.mutable_context()->clear_variables();
  if (!Same(*req, rest)) Finding("the request differs");
  const auto& selected = whole.context().variables_selected().names();
  for (const auto& [name, value] : whole.context().variables().fields()) {
    if (whole.context().has_variables_selected() &&
        std::find(selected.begin(), selected.end(), name) == selected.end()) {
      bool refused = false;
      try {
        (void)by_name.Find(name);
      } catch (const std::logic_error&) {
        refused = true;
      }
      if (!refused) Finding("a variable outside the selection was read");
      continue;
    }
    const google::protobuf::Value* got = by_name.Find(name);
    if (got == nullptr) Finding("a variable is missing");
    if (!Same(Known(*got), Known(value))) {
      std::fprintf(stderr, "variable \"%s\" by name:\n%s\nwhole:\n%s\n", name.c_str(),
                   got->DebugString().c_str(), value.DebugString().c_str());
      Finding("a variable differs");
    }
  }
  const Struct all = Known(by_name.All());
  const Struct expected = Known(whole.context().variables());
  if (!Same(all, expected)) {
    std::fprintf(stderr, "by name:\n%s\nwhole:\n%s\n", all.DebugString().c_str(),
                 expected.DebugString().c_str());
    Finding("All() differs");
  }
  return 0;
}
