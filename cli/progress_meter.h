#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace bulkhead::cli {

// Shows "N packets, R pkt/s, F flows" on one self-overwriting stderr line, at most once a
// second. Only used when stderr is a terminal, so logs and pipes never see carriage returns.
class ProgressMeter {
 public:
  explicit ProgressMeter(bool enabled) : enabled_(enabled), start_(Clock::now()), last_(start_) {}

  // Cheap enough to call every batch: it looks at the clock, and prints at most once a second.
  void Update(std::uint64_t packets, std::uint64_t flows) {
    if (!enabled_) {
      return;
    }
    const auto now = Clock::now();
    if (now - last_ < std::chrono::seconds(1)) {
      return;
    }
    const double dt = std::chrono::duration<double>(now - last_).count();
    const double rate = static_cast<double>(packets - last_packets_) / dt;
    std::fprintf(stderr, "\r%12llu packets  %10.0f pkt/s  %10llu flows ",
                 static_cast<unsigned long long>(packets), rate,
                 static_cast<unsigned long long>(flows));
    std::fflush(stderr);
    last_ = now;
    last_packets_ = packets;
    shown_ = true;
  }

  // Clears the line so the summary that follows starts clean.
  void Finish() {
    if (shown_) {
      std::fprintf(stderr, "\r%60s\r", "");
      std::fflush(stderr);
    }
  }

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  bool shown_ = false;
  Clock::time_point start_;
  Clock::time_point last_;
  std::uint64_t last_packets_ = 0;
};

}  // namespace bulkhead::cli
