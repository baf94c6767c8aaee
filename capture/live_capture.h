#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/result.hpp>

#include "capture/packet_source.h"

namespace bulkhead::capture {

// Wall-clock microseconds since the epoch: what a tick handler gives FlowTable::ExpireIdle, whose
// time otherwise comes from packet timestamps.
inline std::uint64_t WallClockUsec() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

struct LiveCaptureOptions {
  // Frames per Dispatch call: large enough to amortise the call, small enough to keep the loop
  // responsive to signals and timers.
  int batch = 1024;
  // Batches per wake-up before yielding back to the event loop.
  int max_batches_per_wake = 64;
  // Dispatch once more in Stop, so what the kernel already buffered is not lost. A reader that
  // must read nothing after Stop (the violation reader) turns it off.
  bool drain_on_stop = true;
};

// Drives live packet sources from an Asio event loop (STYLE.md rule 13): each source's
// selectable descriptor is waited on, and a readable descriptor is drained with Dispatch in
// bounded batches so one busy interface cannot starve the others or the timers. A periodic tick
// (every second) dispatches too, because with TPACKET_V3 a partly filled block is only handed over
// when the kernel retires it, and the descriptor is not always woken for that.
// Runs on the thread that runs the io_context; knows nothing of what the sink does with packets
// (learning, violations).
class LiveCapture {
 public:
  // Called on every tick (about once a second), e.g. to expire idle flows and show progress.
  using TickHandler = std::function<void()>;
  // Called after each wake-up's drain of `source` (e.g. to publish its counters).
  using DrainHandler = std::function<void(PacketSource& source)>;

  // What a failed Dispatch (interface gone, socket error, a sink that threw) does.
  enum class FailureAction {
    kStopLoop,    // mark failed() and stop the io_context: the caller ends the capture
    kRetryLater,  // stop waiting on that source for a second, then wait on it again
  };
  // Called with the error on the loop's thread; decides what happens next. Without one, a
  // failure stops the loop.
  using FailureHandler = std::function<FailureAction(const SourceError& error)>;

  LiveCapture(boost::asio::io_context& io, std::vector<std::unique_ptr<PacketSource>> sources,
              PacketSink& sink, LiveCaptureOptions options = {});
  ~LiveCapture();
  LiveCapture(const LiveCapture&) = delete;
  LiveCapture& operator=(const LiveCapture&) = delete;

  void SetFailureHandler(FailureHandler handler) { on_failure_ = std::move(handler); }
  void SetDrainHandler(DrainHandler handler) { on_drained_ = std::move(handler); }

  // Starts waiting on every source. An error (a source without a selectable descriptor) names
  // the source; nothing is waited on then.
  boost::system::result<void, SourceError> Start(TickHandler on_tick);
  // Stops waiting; pending handlers complete with operation_aborted and do nothing. Dispatches
  // once more (unless options.drain_on_stop is off).
  void Stop();

  bool failed() const { return failed_; }
  std::vector<std::unique_ptr<PacketSource>>& sources() { return sources_; }

 private:
  struct Watch {
    PacketSource* source;
    std::unique_ptr<boost::asio::posix::stream_descriptor> descriptor;
    std::unique_ptr<boost::asio::steady_timer> retry;
    bool waiting = false;  // an async_wait is pending on `descriptor` (never two at once)
  };

  void Arm(Watch& watch);
  // False when the source failed and is no longer being drained.
  bool Drain(Watch& watch);
  void ArmTick();

  boost::asio::io_context& io_;
  std::vector<std::unique_ptr<PacketSource>> sources_;
  PacketSink& sink_;
  LiveCaptureOptions options_;
  FailureHandler on_failure_;
  DrainHandler on_drained_;
  std::vector<Watch> watches_;
  boost::asio::steady_timer tick_;
  TickHandler on_tick_;
  // Handlers hold a weak_ptr to this: one that completed (and was queued) just before this
  // capture was destroyed sees it expired and touches nothing.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  bool stopped_ = false;
  bool failed_ = false;
};

}  // namespace bulkhead::capture
