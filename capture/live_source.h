#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "capture/decoder.h"
#include "capture/packet_source.h"
#include "capture/pcap_handle.h"

namespace bulkhead::capture {

struct LiveConfig {
  // Kernel ring buffer. libpcap's 2 MiB default overflows within milliseconds of a burst on a
  // busy bridge; 64 MiB rides out a stall of the event loop (STYLE.md rule 13).
  std::size_t buffer_bytes = std::size_t{64} * 1024 * 1024;
  // Headers only. 256 bytes holds the deepest header stack the decoder reads: SLL2 (20) or
  // Ethernet (14) + two VLAN tags (8) + IPv6 (40) + a typical extension chain (hop-by-hop,
  // routing, fragment: ~64) + TCP with full options (60) = 206, with room to spare; payload is
  // never looked at, and copying less keeps more frames in the ring.
  int snaplen = 256;
  // How long the kernel may hold a partly filled TPACKET_V3 block before waking us.
  int timeout_ms = 100;
  bool promiscuous = false;
  // Hand each frame over at once instead of in TPACKET_V3 blocks. Off for interfaces (it turns
  // the block batching off); an NFLOG reader, whose records are few and each news, turns it on.
  bool immediate_mode = false;
  // Optional BPF filter expression (pcap-filter(7)); empty means every frame.
  std::string filter;
};

// Captures from a live interface ("eth0", "any", "veth1234") or an NFLOG group ("nflog:5"),
// non-blocking: the caller waits on SelectableFd() (with Boost.Asio) and then calls Dispatch,
// which reads at most one bounded batch and never blocks. Immediate mode stays off so the
// kernel batches frames into TPACKET_V3 blocks. Not thread-safe, except BreakLoop().
class LiveSource final : public PacketSource {
 public:
  // Errors are one line naming the interface: "eth9: no such device", "eth0: permission denied
  // (capturing needs CAP_NET_RAW: run as root or grant the capability)", ...
  static boost::system::result<std::unique_ptr<LiveSource>, SourceError> Open(
      const std::string& iface, const LiveConfig& config);

  boost::system::result<DispatchState, SourceError> Dispatch(int max_frames,
                                                             PacketSink& sink) override;
  int SelectableFd() const override { return fd_; }
  SourceStats Stats() override;
  // An activation warning (promiscuous mode not supported, ...), or "".
  std::string Warning() const override { return warning_; }
  std::string_view Name() const override { return iface_; }

  LinkType link_type() const { return link_; }

  // Stops capturing: the Dispatch running now (if any) returns early and every later one
  // returns kEndOfInput. Safe to call from a signal handler or another thread.
  void BreakLoop() noexcept;

 private:
  LiveSource(std::string iface, PcapHandle handle, LinkType link, int fd, std::string warning)
      : iface_(std::move(iface)),
        handle_(std::move(handle)),
        link_(link),
        fd_(fd),
        warning_(std::move(warning)) {}

  std::string iface_;
  PcapHandle handle_;
  LinkType link_;
  int fd_;
  std::string warning_;
  SourceStats stats_;
  // Set by BreakLoop, possibly from a signal handler or another thread (lock-free, so safe there).
  std::atomic<bool> broken_{false};
};

}  // namespace bulkhead::capture
