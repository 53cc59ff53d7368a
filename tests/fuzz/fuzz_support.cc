// Shared helpers of the libFuzzer targets (fuzz_support.h).
#include "tests/fuzz/fuzz_support.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "google/protobuf/stubs/logging.h"

namespace bpm::fuzz {
namespace {

std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

}  // namespace

std::string SourceDir() { return EnvOr("BPM_SOURCE_DIR", BPM_FUZZ_SOURCE_DIR); }
std::string PluginDir() { return EnvOr("BPM_PLUGIN_DIR", BPM_FUZZ_PLUGIN_DIR); }
std::string FixturePluginDir() {
  return EnvOr("BPM_FIXTURE_PLUGIN_DIR", BPM_FUZZ_FIXTURE_PLUGIN_DIR);
}

void QuietProtobufLogs() {
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel level, const char*, int,
                                     const std::string& message) {
    if (level >= google::protobuf::LOGLEVEL_FATAL) std::fprintf(stderr, "%s\n", message.c_str());
  });
}

void Die(const std::string& what) {
  std::fprintf(stderr, "fuzz harness setup failed: %s\n", what.c_str());
  std::abort();
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> ListFiles(const std::string& dir, const std::string& extension) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == extension) out.push_back(e.path());
  }
  if (ec) Die("cannot list " + dir + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

std::string MakeScratchDir(const std::string& tag) {
  std::string base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm"
                                                               : EnvOr("TMPDIR", "/tmp");
  std::string tmpl = base + "/bpm-" + tag + ".XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp " + tmpl);
  return tmpl;
}

void RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

uint8_t Input::Byte() { return pos_ < size_ ? data_[pos_++] : 0; }

std::string Input::Chunk() {
  size_t len = Byte();
  len |= static_cast<size_t>(Byte()) << 8;
  len = std::min(len, size_ - std::min(pos_, size_));
  std::string out(reinterpret_cast<const char*>(data_ + pos_), len);
  pos_ += len;
  return out;
}

std::string Input::Rest() {
  if (pos_ >= size_) return "";
  std::string out(reinterpret_cast<const char*>(data_ + pos_), size_ - pos_);
  pos_ = size_;
  return out;
}

void AppendChunk(std::string* out, const std::string& chunk) {
  size_t len = std::min<size_t>(chunk.size(), 0xffff);
  out->push_back(static_cast<char>(len & 0xff));
  out->push_back(static_cast<char>(len >> 8));
  out->append(chunk, 0, len);
}

}  // namespace bpm::fuzz
