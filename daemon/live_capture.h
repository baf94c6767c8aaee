#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include "capture/packet_source.h"

namespace bulkhead::daemon {

// Wall-clock microseconds since the epoch: what a tick handler gives FlowTable::ExpireIdle, whose
// time otherwise comes from packet timestamps.
inline std::uint64_t WallClockUsec() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// Drives live packet sources from an Asio event loop (STYLE.md rule 13): each source's
// selectable descriptor is waited on, and a readable descriptor is drained with Dispatch in
// bounded batches so one busy interface cannot starve the others or the timers. A periodic tick
// dispatches too, because with TPACKET_V3 a partly filled block is only handed over when the
// kernel retires it, and the descriptor is not always woken for that.
// Runs on the thread that runs the io_context.
class LiveCapture {
 public:
  // Called on every tick (about once a second), e.g. to expire idle flows and show progress.
  using TickHandler = std::function<void()>;

  LiveCapture(boost::asio::io_context& io, std::vector<std::unique_ptr<capture::PacketSource>> sources,
              capture::PacketSink& sink, std::shared_ptr<spdlog::logger> log);

  // Starts waiting on every source. Returns false (logged) if a source cannot be waited on.
  bool Start(TickHandler on_tick);
  // Stops waiting; pending handlers complete with operation_aborted. Dispatches once more so
  // what the kernel already buffered is not lost.
  void Stop();

  bool failed() const { return failed_; }
  std::vector<std::unique_ptr<capture::PacketSource>>& sources() { return sources_; }

 private:
  struct Watch {
    capture::PacketSource* source;
    std::unique_ptr<boost::asio::posix::stream_descriptor> descriptor;
  };

  void Arm(Watch& watch);
  void Drain(capture::PacketSource& source);
  void ArmTick();

  // Frames per Dispatch call: large enough to amortise the call, small enough to keep the loop
  // responsive to signals and timers.
  static constexpr int kBatch = 1024;
  // Batches per wake-up before yielding back to the event loop.
  static constexpr int kMaxBatchesPerWake = 64;

  boost::asio::io_context& io_;
  std::vector<std::unique_ptr<capture::PacketSource>> sources_;
  capture::PacketSink& sink_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<Watch> watches_;
  boost::asio::steady_timer tick_;
  TickHandler on_tick_;
  bool stopped_ = false;
  bool failed_ = false;
};

}  // namespace bulkhead::daemon
