#include "capture/file_replay.h"

#include <array>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace bulkhead::capture {
namespace {

// Frames per Dispatch on one thread: big enough to amortise the call, small enough to keep
// progress lively.
constexpr int kInlineBatch = 4096;

// Frames per batch of the two-thread replay: 4 batches of 1024 summaries are 230 KiB, a fixed
// cost that stays small next to the flow table (4096 made the pool 0.9 MiB, a fifth of the
// table's peak on the benchmark), and a hand-over per 1024 packets costs nothing measurable.
constexpr int kReplayBatch = 1024;

// Decoded packets of one Dispatch call, handed from the reader thread to the sink's thread.
// The capacity is reserved once, so the reader never allocates per packet.
struct SummaryBatch final : PacketSink {
  SummaryBatch() { packets.reserve(kReplayBatch); }
  void OnPacket(const PacketSummary& packet) override { packets.push_back(packet); }

  std::vector<PacketSummary> packets;
  std::size_t source = 0;         // index of the file the packets came from
  std::uint64_t frames_done = 0;  // frames read from all files so far (for progress)
  bool end_of_source = false;     // the last batch of `source` (its warning, if any, follows)
  bool failed = false;            // a read error ended the replay; `message` says which
  std::string message;            // the source's warning (end_of_source) or error (failed)
};

// A batch carries summaries only: an NFLOG file's log prefixes do not survive the hand-over, so
// a sink that reads them (OnLoggedPacket) must replay on one thread. No caller does today.
class TwoThreadReplay {
 public:
  TwoThreadReplay(std::vector<std::unique_ptr<PacketSource>>& sources, PacketSink& sink,
                  const FileReplayOptions& options)
      : sources_(sources), sink_(sink), options_(options) {
    for (auto& batch : pool_) {
      free_.push_back(&batch);
    }
  }

  // Throws std::system_error only when no thread can be started, before anything was read.
  boost::system::result<void, SourceError> Run() {
    std::thread reader([this] { ReadAll(); });
    auto result = Consume();
    {
      const std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    reader.join();  // the sources' counters are read only after this
    return result;
  }

 private:
  static constexpr std::size_t kPoolSize = 4;

  // Reader thread: every source in turn, one batch per Dispatch.
  void ReadAll() noexcept {
    std::uint64_t done = 0;
    for (std::size_t i = 0; i < sources_.size(); ++i) {
      PacketSource& source = *sources_[i];
      for (;;) {
        SummaryBatch* batch = TakeFree();
        if (batch == nullptr) {
          return;  // the consumer stopped
        }
        batch->packets.clear();
        batch->source = i;
        batch->end_of_source = false;
        batch->failed = false;
        batch->message.clear();
        auto state = source.Dispatch(kReplayBatch, *batch);
        batch->frames_done = done + source.Stats().frames;
        if (!state) {
          batch->failed = true;
          batch->message = state.error().message;
          PushFull(batch);
          return;
        }
        if (*state == DispatchState::kEndOfInput) {
          batch->end_of_source = true;
          batch->message = source.Warning();
          PushFull(batch);
          break;
        }
        PushFull(batch);
      }
      done += source.Stats().frames;
    }
  }

  // The caller's thread: batches in order until the last source ends or a read fails.
  boost::system::result<void, SourceError> Consume() {
    std::size_t ended = 0;
    while (ended < sources_.size()) {
      SummaryBatch* batch = TakeFull();
      try {
        for (const PacketSummary& packet : batch->packets) {
          sink_.OnPacket(packet);
        }
      } catch (const std::exception& e) {
        // What FrameDelivery reports when the sink throws in the single-threaded loop.
        return SourceError{std::string(sources_[batch->source]->Name()) +
                           ": packet handler failed: " + e.what()};
      } catch (...) {
        return SourceError{std::string(sources_[batch->source]->Name()) +
                           ": packet handler failed: unknown exception"};
      }
      if (options_.on_progress) {
        options_.on_progress(batch->frames_done);
      }
      if (batch->failed) {
        return SourceError{batch->message};
      }
      if (batch->end_of_source) {
        if (!batch->message.empty() && options_.on_warning) {
          options_.on_warning(batch->message);
        }
        ++ended;
      }
      PushFree(batch);
    }
    return {};
  }

  SummaryBatch* TakeFree() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return stop_ || !free_.empty(); });
    if (stop_) {
      return nullptr;
    }
    SummaryBatch* batch = free_.front();
    free_.pop_front();
    return batch;
  }

  SummaryBatch* TakeFull() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !full_.empty(); });
    SummaryBatch* batch = full_.front();
    full_.pop_front();
    return batch;
  }

  void PushFree(SummaryBatch* batch) {
    {
      const std::lock_guard lock(mutex_);
      free_.push_back(batch);
    }
    changed_.notify_all();
  }

  void PushFull(SummaryBatch* batch) {
    {
      const std::lock_guard lock(mutex_);
      full_.push_back(batch);
    }
    changed_.notify_all();
  }

  std::vector<std::unique_ptr<PacketSource>>& sources_;
  PacketSink& sink_;
  const FileReplayOptions& options_;
  std::array<SummaryBatch, kPoolSize> pool_;
  std::mutex mutex_;  // guards free_, full_, stop_
  std::condition_variable changed_;
  std::deque<SummaryBatch*> free_;
  std::deque<SummaryBatch*> full_;
  bool stop_ = false;
};

boost::system::result<void, SourceError> ReplayInline(
    std::vector<std::unique_ptr<PacketSource>>& sources, PacketSink& sink,
    const FileReplayOptions& options) {
  std::uint64_t done = 0;
  for (auto& source : sources) {
    for (;;) {
      auto state = source->Dispatch(kInlineBatch, sink);
      if (!state) {
        return state.error();
      }
      if (options.on_progress) {
        options.on_progress(done + source->Stats().frames);
      }
      if (*state == DispatchState::kEndOfInput) {
        break;
      }
    }
    if (const auto warning = source->Warning(); !warning.empty() && options.on_warning) {
      options.on_warning(warning);
    }
    done += source->Stats().frames;
  }
  return {};
}

}  // namespace

boost::system::result<void, SourceError> ReplayFiles(
    std::vector<std::unique_ptr<PacketSource>>& sources, PacketSink& sink,
    const FileReplayOptions& options) {
  if (options.reader_thread) {
    try {
      TwoThreadReplay replay(sources, sink, options);
      return replay.Run();
    } catch (const std::system_error&) {
      // No second thread (a tight RLIMIT_NPROC, a container's pids limit): the same replay on
      // this thread alone, which gives the same result, only slower.
    }
  }
  return ReplayInline(sources, sink, options);
}

}  // namespace bulkhead::capture
