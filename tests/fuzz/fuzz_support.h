// Shared helpers of the libFuzzer targets in tests/fuzz: where the build put
// the plugins and sources, a scratch directory, and a reader that splits the
// fuzzer's bytes into small fields and length-prefixed chunks.
// Thread safety: none needed (a fuzz target runs its inputs on one thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bpm::fuzz {

// The repository (BPM_SOURCE_DIR, else where it was at build time).
std::string SourceDir();
// The real stage plugins (BPM_PLUGIN_DIR, else the build's plugins/).
std::string PluginDir();
// The fixture plugins, fuzz_stage included (BPM_FIXTURE_PLUGIN_DIR, else the
// build's fixture-plugins/).
std::string FixturePluginDir();
// The whole file; aborts (a broken setup, not a finding) when unreadable.
std::string ReadFileOrDie(const std::string& path);
// Every regular file of dir, sorted by name.
std::vector<std::string> ListFiles(const std::string& dir, const std::string& extension);
// A fresh directory in memory (/dev/shm when there is one, else $TMPDIR), so
// that SQLite's fsyncs cost nothing. The caller removes it with RemoveTree.
std::string MakeScratchDir(const std::string& tag);
void RemoveTree(const std::string& path);
// Drops libprotobuf's log lines (invalid UTF-8 in a string field is logged on
// every parse; the fuzzers produce it all the time). Call once at start.
void QuietProtobufLogs();
// Prints a setup failure and aborts: the harness itself is broken.
[[noreturn]] void Die(const std::string& what);

// Consumes fuzzer bytes front to back; reads past the end yield zeros/empty.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t Byte();
  // A chunk of at most 0xffff bytes, prefixed by its 16-bit little-endian length.
  std::string Chunk();
  std::string Rest();

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Writes a chunk in Input::Chunk's format (for seed writers).
void AppendChunk(std::string* out, const std::string& chunk);

}  // namespace bpm::fuzz
