#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "capture/packet.h"

namespace bulkhead::capture {

// Link types bulkhead decodes (values are libpcap's DLT_* numbers).
enum class LinkType : int {
  kEthernet = 1,     // DLT_EN10MB
  kRaw = 12,         // DLT_RAW on Linux (101 = LINKTYPE_RAW in files; libpcap maps both)
  kLinuxSll = 113,   // DLT_LINUX_SLL, "any" device, cooked v1
  kLinuxSll2 = 276,  // DLT_LINUX_SLL2, "any" device, cooked v2
  kIpv4 = 228,       // DLT_IPV4
  kIpv6 = 229,       // DLT_IPV6
  kNflog = 239,      // DLT_NFLOG, libpcap's "nflog:N" device (netfilter log messages)
};

// Why a packet produced no summary. kOk and the "not for us" outcomes are not malformations;
// everything from kTruncatedLink on is a malformed packet counted by reason (STYLE.md rule 8).
enum class DecodeOutcome : std::uint8_t {
  kOk = 0,
  kNotIp,             // ARP, LLDP, ...: well-formed, just not IP
  kNonFirstFragment,  // IPv4/IPv6 fragment with offset > 0: no transport header to read
  kOtherTransport,    // IP protocol bulkhead does not track (GRE, ESP, ...)
  kUnsupportedLink,   // a link type the decoder was not built for
  // --- malformed from here on ---
  kTruncatedLink,
  kTruncatedVlan,
  kVlanTooDeep,
  kTruncatedNflog,    // an NFLOG message cut inside its header or a TLV header
  kBadNflogTlv,       // an NFLOG TLV length below its own header or past the message
  kNflogTooManyTlvs,  // more NFLOG TLVs than any kernel sends
  kTruncatedIpv4,
  kBadIpv4Header,  // version != 4 or IHL < 5 or options past the header/packet
  kBadIpv4Length,  // total length < header length or > the frame on the wire
  kTruncatedIpv6,
  kBadIpv6Length,    // payload length larger than the frame on the wire
  kBadIpv6ExtChain,  // extension chain longer than the limit or malformed
  kTruncatedIpv6Ext,
  kBadIpVersion,  // raw/cooked link announcing IP with a version nibble that is neither
  kTruncatedTcp,
  kBadTcpOffset,  // data offset < 5 or past the segment
  kTruncatedUdp,
  kBadUdpLength,
  kTruncatedIcmp,
  kTruncatedSctp,
  kCount,
};

inline constexpr std::size_t kDecodeOutcomeCount = static_cast<std::size_t>(DecodeOutcome::kCount);

// Stable snake_case name, used in summaries and metrics ("truncated_ipv4").
std::string_view DecodeOutcomeName(DecodeOutcome outcome);
inline bool IsMalformed(DecodeOutcome o) { return o >= DecodeOutcome::kTruncatedLink; }

// One counter per outcome. Plain array so the hot path is an increment.
struct DecodeCounters {
  std::array<std::uint64_t, kDecodeOutcomeCount> by_outcome{};
  void Count(DecodeOutcome o) { ++by_outcome[static_cast<std::size_t>(o)]; }
  std::uint64_t Get(DecodeOutcome o) const { return by_outcome[static_cast<std::size_t>(o)]; }
  std::uint64_t Malformed() const;
  void Add(const DecodeCounters& other);
};

// A captured frame as libpcap hands it over: `data` holds caplen bytes (possibly cut by the
// snaplen), `wire_len` is the frame's length on the wire.
struct RawFrame {
  std::uint64_t ts_usec = 0;
  std::span<const std::uint8_t> data;
  std::uint32_t wire_len = 0;
};

// Decodes link, VLAN, IP and transport headers of one frame into `out`. Pure function of its
// input: never reads past `frame.data`, never allocates, never throws. Lengths in the headers
// are checked against `wire_len` (what was sent) while reads are bounded by the captured bytes,
// so a headers-only snaplen is normal but a lying length field is a malformation.
DecodeOutcome Decode(LinkType link, const RawFrame& frame, PacketSummary& out) noexcept;

// Maps a libpcap datalink value (pcap_datalink) to LinkType; false for anything unsupported.
bool LinkTypeFromDlt(int dlt, LinkType& out);

}  // namespace bulkhead::capture
