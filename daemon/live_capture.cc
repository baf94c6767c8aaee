#include "daemon/live_capture.h"

#include <unistd.h>

#include <utility>

namespace bulkhead::daemon {

namespace asio = boost::asio;

LiveCapture::LiveCapture(asio::io_context& io,
                         std::vector<std::unique_ptr<capture::PacketSource>> sources,
                         capture::PacketSink& sink, std::shared_ptr<spdlog::logger> log)
    : io_(io), sources_(std::move(sources)), sink_(sink), log_(std::move(log)), tick_(io) {}

bool LiveCapture::Start(TickHandler on_tick) {
  on_tick_ = std::move(on_tick);
  for (auto& source : sources_) {
    const int fd = source->SelectableFd();
    if (fd < 0) {
      log_->error("{}: no selectable descriptor; cannot capture live", source->Name());
      return false;
    }
    // The descriptor belongs to libpcap; Asio gets its own duplicate to close.
    const int own = ::dup(fd);
    if (own < 0) {
      log_->error("{}: dup of capture descriptor failed", source->Name());
      return false;
    }
    watches_.push_back(
        Watch{source.get(), std::make_unique<asio::posix::stream_descriptor>(io_, own)});
  }
  for (auto& watch : watches_) {
    Arm(watch);
  }
  ArmTick();
  return true;
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
  }
  for (auto& source : sources_) {
    Drain(*source);
  }
}

void LiveCapture::Arm(Watch& watch) {
  watch.descriptor->async_wait(asio::posix::stream_descriptor::wait_read,
                               [this, &watch](const boost::system::error_code& ec) {
                                 if (ec || stopped_) {
                                   return;
                                 }
                                 Drain(*watch.source);
                                 Arm(watch);
                               });
}

void LiveCapture::Drain(capture::PacketSource& source) {
  // Counts what one batch delivered without asking the source (Stats() is a syscall for live
  // sources). Frames that were not IP are not counted, so a batch of them ends the drain early;
  // the next wake-up or tick picks up the rest.
  struct CountingSink : capture::PacketSink {
    explicit CountingSink(capture::PacketSink& inner_sink) : inner(inner_sink) {}
    void OnPacket(const capture::PacketSummary& packet) override {
      ++count;
      inner.OnPacket(packet);
    }
    capture::PacketSink& inner;
    int count = 0;
  };
  CountingSink counting(sink_);
  for (int i = 0; i < kMaxBatchesPerWake; ++i) {
    counting.count = 0;
    auto state = source.Dispatch(kBatch, counting);
    if (!state) {
      // A live source failing (interface gone) ends the capture: the caller writes what was
      // learned so far and reports the error.
      log_->error("{}", state.error().message);
      failed_ = true;
      io_.stop();
      return;
    }
    if (*state == capture::DispatchState::kEndOfInput || counting.count < kBatch) {
      return;
    }
  }
}

void LiveCapture::ArmTick() {
  tick_.expires_after(std::chrono::seconds(1));
  tick_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) {
      return;
    }
    for (auto& source : sources_) {
      Drain(*source);
    }
    if (on_tick_) {
      on_tick_();
    }
    ArmTick();
  });
}

}  // namespace bulkhead::daemon
