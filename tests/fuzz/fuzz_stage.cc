// Fixture stage plugin "fuzz_stage" for decision_fuzz: a real dlopen plugin
// (the raw C table of abi.h, so the host's loader, ABI check and decoding are
// the production ones) whose enter/act/on_timer answers are whatever bytes
// and return code the harness queued last, usually not a valid Decision.
// Describe and validate_config answer normally (outcomes done, again, back;
// actions go, push; any config accepted).
//
// The harness reaches the queue through two extra exported symbols,
// bpm_fuzz_stage_clear, bpm_fuzz_stage_push and bpm_fuzz_stage_pending (dlopen RTLD_NOLOAD + dlsym).
// An empty queue answers an empty Decision (accepted=false).
// Thread safety: none; the fuzz harness is single-threaded.
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <utility>

#include "bpm/plugin/abi.h"
#include "bpm/plugin/v1/plugin.pb.h"

namespace {

namespace pb = ::bpm::plugin::v1;

std::deque<std::pair<int, std::string>>& Queue() {
  static auto* q = new std::deque<std::pair<int, std::string>>();
  return *q;
}

int Answer(const std::string& bytes, int rc, uint8_t** out, size_t* out_len) {
  *out = nullptr;
  *out_len = 0;
  if (!bytes.empty()) {
    *out = static_cast<uint8_t*>(std::malloc(bytes.size()));
    std::memcpy(*out, bytes.data(), bytes.size());
    *out_len = bytes.size();
  }
  return rc;
}

int Describe(const uint8_t*, size_t, uint8_t** out, size_t* out_len) {
  pb::DescribeResponse d;
  d.set_name("fuzz_stage");
  d.set_version("1.0.0");
  d.set_description("answers with the fuzzer's bytes");
  for (const char* a : {"go", "push"}) d.add_actions()->set_name(a);
  for (const char* o : {"done", "again", "back"}) d.add_outcomes(o);
  d.set_abi_major(BPM_PLUGIN_ABI_MAJOR);
  d.set_abi_minor(BPM_PLUGIN_ABI_MINOR);
  return Answer(d.SerializeAsString(), BPM_PLUGIN_OK, out, out_len);
}

int ValidateConfig(const uint8_t*, size_t, uint8_t** out, size_t* out_len) {
  return Answer(pb::ValidateConfigResponse().SerializeAsString(), BPM_PLUGIN_OK, out, out_len);
}

int Next(const uint8_t*, size_t, uint8_t** out, size_t* out_len) {
  if (Queue().empty()) return Answer("", BPM_PLUGIN_OK, out, out_len);
  auto [rc, bytes] = std::move(Queue().front());
  Queue().pop_front();
  return Answer(bytes, rc, out, out_len);
}

void FreeBuffer(uint8_t* owned, size_t) { std::free(owned); }

// No message hooks (ABI 1.1): the host's decoding of the bytes is what is fuzzed.
const bpm_plugin_v1 kTable = {BPM_PLUGIN_ABI_MAJOR, BPM_PLUGIN_ABI_MINOR, "fuzz_stage", "1.0.0",
                              &Describe, &ValidateConfig, &Next, &Next, &Next, &FreeBuffer,
                              nullptr, nullptr, nullptr, nullptr};

}  // namespace

extern "C" {
__attribute__((visibility("default"))) const bpm_plugin_v1* bpm_plugin_entry_v1(void) {
  return &kTable;
}
__attribute__((visibility("default"))) void bpm_fuzz_stage_clear(void) { Queue().clear(); }
__attribute__((visibility("default"))) size_t bpm_fuzz_stage_pending(void) { return Queue().size(); }
// rc: the hook's return code (BPM_PLUGIN_OK or an error); bytes: its answer.
__attribute__((visibility("default"))) void bpm_fuzz_stage_push(int rc, const uint8_t* bytes,
                                                                size_t len) {
  Queue().emplace_back(rc, std::string(reinterpret_cast<const char*>(bytes), len));
}
}
