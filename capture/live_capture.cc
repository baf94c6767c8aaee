#include "capture/live_capture.h"

#include <unistd.h>

#include <utility>

namespace bulkhead::capture {

namespace asio = boost::asio;

LiveCapture::LiveCapture(asio::io_context& io, std::vector<std::unique_ptr<PacketSource>> sources,
                         PacketSink& sink, LiveCaptureOptions options)
    : io_(io), sources_(std::move(sources)), sink_(sink), options_(options), tick_(io) {}

LiveCapture::~LiveCapture() {
  stopped_ = true;
  boost::system::error_code ignored;
  // A timer's cancel() throws only when the reactor fails; a destructor must not throw, and
  // there is nothing left to cancel for.
  try {
    tick_.cancel();
    for (auto& watch : watches_) {
      watch.descriptor->cancel(ignored);
      watch.retry->cancel();
    }
  } catch (...) {
  }
}

boost::system::result<void, SourceError> LiveCapture::Start(TickHandler on_tick) {
  on_tick_ = std::move(on_tick);
  std::vector<Watch> watches;
  for (auto& source : sources_) {
    const int fd = source->SelectableFd();
    if (fd < 0) {
      return SourceError{std::string(source->Name()) +
                         ": no selectable descriptor; cannot capture live"};
    }
    // The descriptor belongs to libpcap; Asio gets its own duplicate to close.
    const int own = ::dup(fd);
    if (own < 0) {
      return SourceError{std::string(source->Name()) + ": dup of capture descriptor failed"};
    }
    watches.push_back(Watch{source.get(),
                            std::make_unique<asio::posix::stream_descriptor>(io_, own),
                            std::make_unique<asio::steady_timer>(io_)});
  }
  watches_ = std::move(watches);
  for (auto& watch : watches_) {
    Arm(watch);
  }
  ArmTick();
  return {};
}

void LiveCapture::Stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  tick_.cancel();
  for (auto& watch : watches_) {
    boost::system::error_code ignored;
    watch.descriptor->cancel(ignored);
    watch.retry->cancel();
  }
  if (options_.drain_on_stop) {
    for (auto& watch : watches_) {
      Drain(watch);
    }
  }
}

void LiveCapture::Arm(Watch& watch) {
  if (watch.waiting) {
    return;
  }
  watch.waiting = true;
  watch.descriptor->async_wait(
      asio::posix::stream_descriptor::wait_read,
      [this, &watch, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
        if (alive.expired()) {
          return;
        }
        watch.waiting = false;
        if (ec || stopped_) {
          return;
        }
        if (Drain(watch)) {
          Arm(watch);
        }
      });
}

bool LiveCapture::Drain(Watch& watch) {
  // Counts what one batch delivered without asking the source (Stats() is a syscall for live
  // sources). Frames that were not IP are not counted, so a batch of them ends the drain early;
  // the next wake-up or tick picks up the rest.
  struct CountingSink : PacketSink {
    explicit CountingSink(PacketSink& inner_sink) : inner(inner_sink) {}
    void OnPacket(const PacketSummary& packet) override {
      ++count;
      inner.OnPacket(packet);
    }
    void OnLoggedPacket(const PacketSummary& packet, const NflogMessage& message,
                        DecodeOutcome outcome) override {
      ++count;
      inner.OnLoggedPacket(packet, message, outcome);
    }
    PacketSink& inner;
    int count = 0;
  };
  CountingSink counting(sink_);
  PacketSource& source = *watch.source;
  bool healthy = true;
  for (int i = 0; i < options_.max_batches_per_wake; ++i) {
    counting.count = 0;
    auto state = source.Dispatch(options_.batch, counting);
    if (!state) {
      const FailureAction action =
          on_failure_ ? on_failure_(state.error()) : FailureAction::kStopLoop;
      if (action == FailureAction::kStopLoop) {
        // A live source failing (interface gone) ends the capture: the caller writes what was
        // learned so far and reports the error.
        failed_ = true;
        io_.stop();
        return false;
      }
      // Retrying at once could spin on a descriptor that stays readable with the same error.
      healthy = false;
      watch.retry->expires_after(std::chrono::seconds(1));
      watch.retry->async_wait(
          [this, &watch, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
            if (!alive.expired() && !ec && !stopped_) {
              Arm(watch);
            }
          });
      break;
    }
    if (*state == DispatchState::kEndOfInput || counting.count < options_.batch) {
      break;
    }
  }
  if (on_drained_) {
    on_drained_(source);
  }
  return healthy;
}

void LiveCapture::ArmTick() {
  tick_.expires_after(std::chrono::seconds(1));
  tick_.async_wait([this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
    if (alive.expired() || ec || stopped_) {
      return;
    }
    for (auto& watch : watches_) {
      Drain(watch);
    }
    if (on_tick_) {
      on_tick_();
    }
    ArmTick();
  });
}

}  // namespace bulkhead::capture
