// Fuzz target for capture::Decode. The first input byte picks the link type, the rest is the
// frame. Each frame is decoded twice: as a frame that was exactly this long on the wire, and as
// one cut by a snaplen (wire length larger than what was captured), since the decoder treats the
// two limits differently. Beyond "no crash, no out-of-bounds read" (the sanitizers' part), it
// checks the promises the learn module relies on.
#include <cstddef>
#include <cstdint>
#include <span>

#include "capture/decoder.h"
#include "tests/fuzz/promise.h"

namespace {

using bulkhead::capture::DecodeOutcome;
using bulkhead::capture::LinkType;

constexpr LinkType kLinks[] = {LinkType::kEthernet,  LinkType::kRaw,  LinkType::kLinuxSll,
                               LinkType::kLinuxSll2, LinkType::kIpv4, LinkType::kIpv6,
                               LinkType::kNflog};

constexpr auto Check = bulkhead::fuzz::Promise;

void DecodeOnce(LinkType link, std::span<const std::uint8_t> bytes, std::uint32_t wire) {
  bulkhead::capture::RawFrame frame;
  frame.data = bytes;
  frame.wire_len = wire;
  bulkhead::capture::PacketSummary s;
  const DecodeOutcome o = bulkhead::capture::Decode(link, frame, s);
  Check(o < DecodeOutcome::kCount, "o < DecodeOutcome::kCount");
  Check(!bulkhead::capture::DecodeOutcomeName(o).empty(), "!DecodeOutcomeName(o).empty()");
  if (s.has_ports) {
    Check(o == DecodeOutcome::kOk, "o == DecodeOutcome::kOk");
    // Ports come from TCP, UDP and SCTP, or from the UDP datagram an ICMP port-unreachable
    // quotes (RFC 792 type 3 code 3, RFC 4443 type 1 code 4).
    const bool unreachable = (s.proto == 1 && s.icmp_type == 3 && s.icmp_code == 3) ||
                             (s.proto == 58 && s.icmp_type == 1 && s.icmp_code == 4);
    Check(s.proto == 6 || s.proto == 17 || s.proto == 132 || unreachable,
          "ports only from tcp, udp, sctp or a quoted udp datagram");
  }
  if (o == DecodeOutcome::kOk) {
    Check(s.ip_len >= 20, "s.ip_len >= 20");
    Check(s.vlan_depth <= 2, "s.vlan_depth <= 2");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const LinkType link = kLinks[data[0] % (sizeof(kLinks) / sizeof(kLinks[0]))];
  const std::span<const std::uint8_t> frame(data + 1, size - 1);
  const auto len = static_cast<std::uint32_t>(frame.size());
  DecodeOnce(link, frame, len);
  DecodeOnce(link, frame, len + 1500);
  return 0;
}
