// libFuzzer target: the two ways bpmd calls an in-process stage (plugin ABI
// 1.1, core/plugin/loader.h). Differential: every bundled stage is loaded
// twice, once taking bpmd's request and decision objects and once through
// serialized bytes, and each input is one call made both ways; the answers
// must be the same decision, or the same error.
//
// Input: byte 0 picks the stage (by index among the bundled plugins, sorted by
// name, modulo their number); byte 1 the hook (low two bits: enter, act,
// on_timer) and, with bit 2 set, whether the request's context.config is sent
// apart as the engine sends it (Enter and Act only); the rest is the request
// (an EnterRequest, ActRequest or TimerRequest). Bytes that do not parse as
// one are skipped: bpmd never builds such a request. What bpmd itself
// guarantees is made so: a config the stage's ValidateConfig refuses is
// skipped (a definition with it is never deployed), and now_unix_ms is taken
// into 1970..2100. Everything else (variables, which a client may set at
// start; task data, as stored; payloads) is the fuzzer's.
//
// Seeds: corpus/stage_calls_fuzz (written by seed_writer.cc).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/plugin/loader.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

namespace pb = ::bpm::plugin::v1;
using bpm::plugin::PluginCalls;
using bpm::plugin::StageHandle;

struct Pair {
  std::unique_ptr<StageHandle> messages;
  std::unique_ptr<StageHandle> bytes;
};

std::vector<Pair>& Stages() {
  static auto* stages = new std::vector<Pair>();
  return *stages;
}

// Equal messages, a NaN equal to a NaN, unknown fields left out (as in
// sdk_request_fuzz: no accessor a stage uses sees them).
template <typename M>
bool Same(const M& a, const M& b) {
  M x = a, y = b;
  x.DiscardUnknownFields();
  y.DiscardUnknownFields();
  google::protobuf::util::DefaultFieldComparator numbers;
  numbers.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer d;
  d.set_field_comparator(&numbers);
  return d.Compare(x, y);
}

[[noreturn]] void Finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "stage_calls_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void Compare(const bpm::StatusOr<pb::Decision>& m, const bpm::StatusOr<pb::Decision>& b) {
  if (m.ok() != b.ok()) {
    Finding("one transport failed, the other did not",
            "messages: " + (m.ok() ? std::string("ok") : m.status().ToString()) +
                "\nbytes: " + (b.ok() ? std::string("ok") : b.status().ToString()));
  }
  if (!m.ok()) {
    if (m.status() != b.status()) {
      Finding("the errors differ", m.status().ToString() + "\n" + b.status().ToString());
    }
    return;
  }
  if (!Same(*m, *b)) Finding("the decisions differ", m->DebugString() + "\n" + b->DebugString());
}

template <typename Req>
using Plain = bpm::StatusOr<pb::Decision> (StageHandle::*)(const Req&) const;
template <typename Req>
using Apart = bpm::StatusOr<pb::Decision> (StageHandle::*)(Req&, const StageHandle::Config&)
    const;

// One hook, both ways: plain with the config in the request, or (apart given
// and asked for) with the config sent apart, the request keeping none. Either
// way the message call must hand the request back as it was.
template <typename Req>
void Call(const Pair& stage, const std::string& bytes, Plain<Req> plain, Apart<Req> apart) {
  Req req;
  if (!req.ParseFromString(bytes)) return;
  pb::StageContext& ctx = *req.mutable_context();
  constexpr int64_t kYear2100Ms = 4102444800000;
  ctx.set_now_unix_ms(static_cast<int64_t>(static_cast<uint64_t>(ctx.now_unix_ms()) %
                                           static_cast<uint64_t>(kYear2100Ms)));
  pb::ValidateConfigRequest validate;
  *validate.mutable_config() = ctx.config();
  auto checked = stage.bytes->ValidateConfig(validate);
  if (!checked.ok() || checked->errors_size() != 0) return;
  Req for_messages = req;
  if (apart == nullptr) {
    Compare(((*stage.messages).*plain)(for_messages), ((*stage.bytes).*plain)(req));
  } else {
    const google::protobuf::Struct config = req.context().config();
    const std::string wire = bpm::plugin::ConfigWire(config);
    req.mutable_context()->clear_config();
    for_messages = req;
    Req for_bytes = req;
    const StageHandle::Config given{config, wire};
    Compare(((*stage.messages).*apart)(for_messages, given),
            ((*stage.bytes).*apart)(for_bytes, given));
  }
  if (!Same(for_messages, req)) {
    Finding("the message call changed the request", for_messages.DebugString());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  bpm::fuzz::QuietProtobufLogs();
  for (const std::string& file : bpm::fuzz::ListFiles(bpm::fuzz::PluginDir(), ".so")) {
    auto messages = bpm::plugin::LoadPluginFile(file);
    auto bytes = bpm::plugin::LoadPluginFile(file, nullptr, PluginCalls::kBytes);
    if (!messages.ok() || !bytes.ok()) bpm::fuzz::Die("cannot load " + file);
    if ((*messages)->transport() != "in process, messages") {
      bpm::fuzz::Die(file + " does not take message calls");
    }
    Stages().push_back(Pair{*std::move(messages), *std::move(bytes)});
  }
  if (Stages().empty()) bpm::fuzz::Die("no plugins in " + bpm::fuzz::PluginDir());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bpm::fuzz::Input in(data, size);
  const Pair& stage = Stages()[in.Byte() % Stages().size()];
  const uint8_t how = in.Byte();
  const bool apart = (how & 4) != 0;
  const std::string bytes = in.Rest();
  switch (how & 3) {
    case 0:
      Call<pb::EnterRequest>(stage, bytes, &StageHandle::Enter,
                             apart ? &StageHandle::EnterWithConfig : nullptr);
      break;
    case 1:
      Call<pb::ActRequest>(stage, bytes, &StageHandle::Act,
                           apart ? &StageHandle::ActWithConfig : nullptr);
      break;
    default:
      Call<pb::TimerRequest>(stage, bytes, &StageHandle::OnTimer, nullptr);
      break;
  }
  return 0;
}
