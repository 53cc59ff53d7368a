// libFuzzer target: an audit export file as a third party hands it to
// `bpmctl audit verify --file` (core/store/audit.h, VerifyAuditFile). The
// fuzzer's bytes are the file. Differential: it is verified both as bpmctl
// does (streamed when its lines are in export order, re-reading lines by
// offset for the global chain) and with every event in memory; the two must
// give the same answer: the same error, or the same head, event count and
// findings.
//
// Seeds: corpus/audit_fuzz: exports of a small store (two instances started
// through bpmd), one intact, one with an edited event, one with two lines
// swapped. Findings are crashes, sanitizer reports, leaks and disagreements;
// verification findings and read errors are expected answers.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/store/audit.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

std::string* g_path = nullptr;

std::vector<std::string> Lines(const std::vector<bpm::store::AuditFinding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) out.push_back(f.Text());
  std::sort(out.begin(), out.end());
  return out;
}

[[noreturn]] void Disagree(const std::string& what) {
  std::fprintf(stderr, "audit_fuzz: the streamed and in-memory reads disagree: %s\n",
               what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_path = new std::string(bpm::fuzz::MakeScratchDir("audit") + "/export.jsonl");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  {
    std::ofstream out(*g_path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) bpm::fuzz::Die("cannot write " + *g_path);
  }
  // An anchor at position 1 that no real chain has: findings either way.
  const std::map<int64_t, std::string> anchors = {{1, std::string(64, '0')}};
  auto streamed = bpm::store::VerifyAuditFile(*g_path, anchors);
  auto in_memory =
      bpm::store::VerifyAuditFile(*g_path, anchors, bpm::store::AuditFileRead::kInMemory);
  if (streamed.ok() != in_memory.ok()) {
    Disagree(streamed.ok() ? "in memory: " + in_memory.status().ToString()
                           : "streamed: " + streamed.status().ToString());
  }
  if (!streamed.ok()) {
    if (streamed.status() != in_memory.status()) {
      Disagree(streamed.status().ToString() + " against " + in_memory.status().ToString());
    }
    return 0;
  }
  if (streamed->head.seq != in_memory->head.seq || streamed->head.hash != in_memory->head.hash) {
    Disagree("the head");
  }
  if (streamed->events != in_memory->events) Disagree("the event count");
  const auto a = Lines(streamed->findings);
  const auto b = Lines(in_memory->findings);
  if (a != b) {
    Disagree("the findings (" + std::to_string(a.size()) + " against " +
             std::to_string(b.size()) + ")");
  }
  return 0;
}
