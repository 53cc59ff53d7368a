// Clocks. The engine reads time only through a Clock so tests can fix it.
// Thread safety: SystemClock is stateless; FakeClock is safe to share (atomic).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>

namespace bpm {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMillis() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now_ms) : now_ms_(now_ms) {}
  int64_t NowMillis() const override { return now_ms_.load(); }
  void Advance(int64_t ms) { now_ms_ += ms; }

 private:
  std::atomic<int64_t> now_ms_;
};

// Reads "now" (Unix milliseconds, decimal) from a file on every call, or the
// system time while the file is missing or empty. For tests that must move
// time forward in a running bpmd (its --test-clock-file flag); never for
// production. Thread safety: stateless apart from the file.
class FileClock final : public Clock {
 public:
  explicit FileClock(std::string path) : path_(std::move(path)) {}
  int64_t NowMillis() const override {
    std::ifstream in(path_);
    long long ms = 0;
    if (in >> ms && ms > 0) return ms;
    return SystemClock().NowMillis();
  }

 private:
  std::string path_;
};

}  // namespace bpm
