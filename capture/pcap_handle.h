#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "capture/decoder.h"
#include "capture/packet_source.h"

namespace bulkhead::capture {

// Owns one pcap_t (STYLE.md rule 10): closes it exactly once, moves but never copies. Shared by
// the file and live sources; knows nothing of decoding.
class PcapHandle {
 public:
  PcapHandle() = default;
  explicit PcapHandle(pcap_t* handle) noexcept : handle_(handle) {}
  ~PcapHandle();

  PcapHandle(PcapHandle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  PcapHandle& operator=(PcapHandle&& other) noexcept;
  PcapHandle(const PcapHandle&) = delete;
  PcapHandle& operator=(const PcapHandle&) = delete;

  pcap_t* get() const { return handle_; }
  explicit operator bool() const { return handle_ != nullptr; }

  // libpcap's last error text for this handle ("" when there is no handle).
  std::string LastError() const;

  // pcap_dispatch with a C callback that forwards to `on_frame(const pcap_pkthdr&, const
  // u_char*)`. The callback must be noexcept: an exception must never unwind through libpcap's
  // C frames, so a handler that can fail catches, records, and calls BreakLoop().
  template <typename Handler>
  int Dispatch(int max_frames, Handler& on_frame) noexcept {
    static_assert(std::is_nothrow_invocable_v<Handler&, const pcap_pkthdr&, const u_char*>,
                  "a pcap callback must not throw");
    return pcap_dispatch(handle_, max_frames, &Thunk<Handler>,
                         reinterpret_cast<u_char*>(&on_frame));
  }

  // Makes the running (or the next) Dispatch return PCAP_ERROR_BREAK. Safe from a pcap callback
  // and, per libpcap, from a signal handler.
  void BreakLoop() noexcept;

 private:
  template <typename Handler>
  static void Thunk(u_char* user, const pcap_pkthdr* header, const u_char* bytes) noexcept {
    (*reinterpret_cast<Handler*>(user))(*header, bytes);
  }

  pcap_t* handle_ = nullptr;
};

// The per-frame work both sources share: decode, count the outcome, hand a good summary to the
// sink. Exceptions from the sink are caught and kept (the caller turns them into a SourceError),
// so this is safe to run inside a pcap callback.
class FrameDelivery {
 public:
  FrameDelivery(LinkType link, SourceStats& stats, PacketSink& sink) noexcept
      : link_(link), stats_(stats), sink_(sink) {}

  // Returns false if the sink threw; the frame is counted either way.
  bool Deliver(const pcap_pkthdr& header, const u_char* bytes) noexcept {
    RawFrame frame;
    frame.ts_usec = static_cast<std::uint64_t>(header.ts.tv_sec) * 1'000'000U +
                    static_cast<std::uint64_t>(header.ts.tv_usec);
    frame.data = std::span<const std::uint8_t>(bytes, header.caplen);
    frame.wire_len = header.len;
    ++stats_.frames;
    if (link_ == LinkType::kNflog) {
      return DeliverNflog(frame);
    }
    const DecodeOutcome outcome = Decode(link_, frame, summary_);
    stats_.decode.Count(outcome);
    if (outcome != DecodeOutcome::kOk) {
      return true;
    }
    try {
      sink_.OnPacket(summary_);
      ++stats_.delivered;
      return true;
    } catch (...) {
      failure_ = std::current_exception();
      return false;
    }
  }

  // An NFLOG frame: decoded with its message kept, so the sink also sees the log prefix.
  bool DeliverNflog(const RawFrame& frame) noexcept;

  // Why the sink failed, as one line ("" if it did not).
  std::string FailureMessage() const;
  bool failed() const { return failure_ != nullptr; }

 private:
  LinkType link_;
  SourceStats& stats_;
  PacketSink& sink_;
  PacketSummary summary_;
  std::exception_ptr failure_;
};

}  // namespace bulkhead::capture
