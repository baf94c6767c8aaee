#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "capture/decoder.h"
#include "capture/nflog.h"
#include "capture/packet.h"

namespace bulkhead::capture {

// Receives decoded packets. Called on the thread that calls PacketSource::Dispatch.
class PacketSink {
 public:
  virtual ~PacketSink() = default;
  virtual void OnPacket(const PacketSummary& packet) = 0;

  // An NFLOG message (DLT_NFLOG source) whose packet decoded as far as its addresses: `outcome`
  // is kOk, or kNonFirstFragment / kOtherTransport (no ports, but the packet still met the rule
  // that logged it). `message` carries the log prefix; its views live until this returns. The
  // default hands the packets with ports to OnPacket, like any other link type; a reader of the
  // ruleset's log records overrides it.
  virtual void OnLoggedPacket(const PacketSummary& packet, const NflogMessage& message,
                              DecodeOutcome outcome) {
    (void)message;
    if (outcome == DecodeOutcome::kOk) {
      OnPacket(packet);
    }
  }
};

struct SourceError {
  std::string message;  // one line, names the file or interface at fault
};

struct SourceStats {
  std::uint64_t frames = 0;        // frames handed over by libpcap
  std::uint64_t delivered = 0;     // decoded into a summary and given to the sink
  std::uint64_t kernel_drops = 0;  // pcap_stats ps_drop (live only)
  std::uint64_t iface_drops = 0;   // pcap_stats ps_ifdrop (live only)
  DecodeCounters decode;

  // Sums another source's counters in (totals over several sources, or over re-opened ones).
  void Add(const SourceStats& other) {
    frames += other.frames;
    delivered += other.delivered;
    kernel_drops += other.kernel_drops;
    iface_drops += other.iface_drops;
    decode.Add(other.decode);
  }
};

// What Dispatch did.
enum class DispatchState { kMore, kEndOfInput };

// A source of decoded packets: a pcap/pcapng file, a live interface, or an NFLOG group. File
// replay and live capture share this interface so the learn pipeline does not care which it has.
// Not thread-safe; one thread calls Dispatch.
class PacketSource {
 public:
  virtual ~PacketSource() = default;

  // Reads at most `max_frames` frames, decodes them and hands the good ones to `sink`. Returns
  // kEndOfInput when a file is exhausted (live sources never end). Never blocks on a live source
  // (it is opened non-blocking); returns kMore with nothing read when nothing is waiting.
  virtual boost::system::result<DispatchState, SourceError> Dispatch(int max_frames,
                                                                     PacketSink& sink) = 0;

  // A descriptor that becomes readable when Dispatch has work, or -1 (files).
  virtual int SelectableFd() const = 0;

  // Current counters. For live sources this queries pcap_stats.
  virtual SourceStats Stats() = 0;

  // A non-fatal condition noticed while reading (a file whose last record is cut short). Empty
  // when there is none.
  virtual std::string Warning() const = 0;

  virtual std::string_view Name() const = 0;
};

}  // namespace bulkhead::capture
