#include "capture/decoder.h"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "capture/byte_reader.h"
#include "capture/nflog.h"

// The per-packet hot path. Every header field is read through ByteReader (STYLE.md rule 9) and
// checked against two limits that mean different things:
//   - the captured bytes bound every read: a headers-only snaplen cuts the payload, and a read
//     past the capture is a "truncated_*" outcome;
//   - the wire length (what the frame had when it was sent) bounds every length field: a header
//     that claims more than the frame carried lies, which is a "bad_*" outcome.
// Nothing here allocates, throws or calls through a virtual.

namespace bulkhead::capture {
namespace {

using Outcome = DecodeOutcome;

// EtherTypes (IEEE 802.3 / IANA).
constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
constexpr std::uint16_t kEtherTypeIpv6 = 0x86DD;
constexpr std::uint16_t kEtherTypeVlan = 0x8100;     // IEEE 802.1Q C-tag
constexpr std::uint16_t kEtherTypeQinQ = 0x88A8;     // IEEE 802.1ad S-tag
constexpr std::uint16_t kEtherTypeQinQOld = 0x9100;  // pre-802.1ad vendor S-tag, still seen
// Below this the Ethernet type field is an IEEE 802.3 length (LLC frames), never IP.
constexpr std::uint16_t kEtherTypeMin = 0x0600;

// At most an S-tag and a C-tag (IEEE 802.1ad QinQ), which is what real networks stack. A deeper
// stack is either a misconfiguration or a frame built to slip past filters that look at a fixed
// offset (bridged VLAN frames already skip br_netfilter); rejecting it keeps the walk bounded
// and makes such frames visible as "vlan_too_deep".
constexpr std::uint8_t kMaxVlanTags = 2;

// RFC 8200 section 4.1 recommends at most one of each extension header, in a fixed order
// (hop-by-hop, destination options, routing, fragment, AH, ESP, destination options): seven in
// the longest legitimate chain. Eight leaves one of slack; anything longer is a crafted packet
// meant to exhaust decoders or hide the transport header, and the bound keeps this loop short.
constexpr int kMaxIpv6ExtHeaders = 8;

// NFLOG's copy range (`log group N snaplen S`) cuts the packet in the kernel and the TLV length
// then describes the cut copy, so the packet's length on the wire is unknown: only the captured
// bytes bound an NFLOG payload.
constexpr std::uint64_t kUnknownWire = UINT64_MAX;

// IANA protocol numbers of the IPv6 extension headers (RFC 8200 section 4, RFC 4302).
constexpr std::uint8_t kIpv6HopByHop = 0;
constexpr std::uint8_t kIpv6Routing = 43;
constexpr std::uint8_t kIpv6Fragment = 44;
constexpr std::uint8_t kIpv6Ah = 51;
constexpr std::uint8_t kIpv6NoNextHeader = 59;
constexpr std::uint8_t kIpv6DestOpts = 60;

// The datagram an ICMP port-unreachable quotes (RFC 792: the IPv4 header and 8 bytes; RFC 4443
// 3.1: as much of the IPv6 packet as fits). When it is a UDP datagram that the error's receiver
// sent to its sender, `out` gets its ports as the reply would carry them (src_port = the closed
// port) and has_ports; anything else (another transport, IPv6 extension headers, addresses that
// do not match, a truncated quote) leaves `out` as it was: the message is then only ICMP.
void ReadQuotedUdp(ByteReader& r, bool v6, PacketSummary& out) {
  std::uint8_t src[16] = {};
  std::uint8_t dst[16] = {};
  std::uint8_t proto = 0;
  const std::size_t addr_len = v6 ? 16 : 4;
  if (!r.Skip(4)) {  // unused (ICMPv4) / unused (ICMPv6)
    return;
  }
  if (v6) {
    std::uint8_t version = 0;
    if (!r.ReadU8(version) || (version >> 4) != 6 || !r.Skip(5) || !r.ReadU8(proto) || !r.Skip(1) ||
        !r.ReadBytes(src, 16) || !r.ReadBytes(dst, 16)) {
      return;
    }
  } else {
    std::uint8_t version_ihl = 0;
    if (!r.ReadU8(version_ihl) || (version_ihl >> 4) != 4 || (version_ihl & 0x0F) < 5 ||
        !r.Skip(8) || !r.ReadU8(proto) || !r.Skip(2) || !r.ReadBytes(src, 4) ||
        !r.ReadBytes(dst, 4) ||
        !r.Skip(std::size_t{static_cast<std::uint8_t>(version_ihl & 0x0F)} * 4 - 20)) {
      return;
    }
  }
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  if (proto != static_cast<std::uint8_t>(L4Proto::kUdp) || !r.ReadBe16(sport) ||
      !r.ReadBe16(dport) || std::memcmp(src, out.dst.bytes.data(), addr_len) != 0 ||
      std::memcmp(dst, out.src.bytes.data(), addr_len) != 0) {
    return;
  }
  out.src_port = dport;
  out.dst_port = sport;
  out.has_ports = true;
}

// A transport header with ports (TCP, UDP, SCTP) decoded.
Outcome WithPorts(std::uint16_t sport, std::uint16_t dport, PacketSummary& out) {
  out.src_port = sport;
  out.dst_port = dport;
  out.has_ports = true;
  return Outcome::kOk;
}

// RFC 9293 3.1: the fixed header is 20 bytes; the segment must hold it on the wire.
Outcome DecodeTcp(ByteReader& r, std::uint64_t wire, PacketSummary& out) {
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint8_t offset_byte = 0;
  std::uint8_t flags = 0;
  if (wire < 20 || !r.ReadBe16(sport) || !r.ReadBe16(dport) || !r.Skip(8) ||
      !r.ReadU8(offset_byte) || !r.ReadU8(flags)) {
    return Outcome::kTruncatedTcp;
  }
  // RFC 9293 3.1: Data Offset counts 32-bit words, at least 5, and the header (options
  // included) lies within the segment that was sent.
  const std::size_t header_len = std::size_t{static_cast<std::uint8_t>(offset_byte >> 4)} * 4;
  if (header_len < 20 || header_len > wire) {
    return Outcome::kBadTcpOffset;
  }
  // Window, checksum, urgent pointer and options must have been captured: a header cut by
  // the snaplen is truncated, not trusted.
  if (!r.Skip(header_len - 14)) {
    return Outcome::kTruncatedTcp;
  }
  out.tcp_flags = flags;
  return WithPorts(sport, dport, out);
}

// RFC 768: 8-byte header; Length covers header and data, so 8 <= Length <= what the IP layer
// carried. A shorter Length than the IP payload is legal (trailing bytes ignored).
Outcome DecodeUdp(ByteReader& r, std::uint64_t wire, PacketSummary& out) {
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint16_t length = 0;
  if (wire < 8 || !r.ReadBe16(sport) || !r.ReadBe16(dport) || !r.ReadBe16(length) || !r.Skip(2)) {
    return Outcome::kTruncatedUdp;
  }
  if (length < 8 || length > wire) {
    return Outcome::kBadUdpLength;
  }
  return WithPorts(sport, dport, out);
}

// RFC 792 / RFC 4443 2.1: type, code, checksum.
Outcome DecodeIcmp(std::uint8_t proto, ByteReader& r, std::uint64_t wire, PacketSummary& out) {
  std::uint8_t type = 0;
  std::uint8_t code = 0;
  if (wire < 4 || !r.ReadU8(type) || !r.ReadU8(code) || !r.Skip(2)) {
    return Outcome::kTruncatedIcmp;
  }
  // Echo request/reply (RFC 792: 8/0; RFC 4443 4.1-4.2: 128/129) carry an identifier that
  // pairs requests with replies; it stands in for a port.
  const bool v6 = proto == static_cast<std::uint8_t>(L4Proto::kIcmpv6);
  const bool echo = v6 ? (type == 128 || type == 129) : (type == 8 || type == 0);
  std::uint16_t id = 0;
  if (echo && (wire < 8 || !r.ReadBe16(id))) {
    return Outcome::kTruncatedIcmp;
  }
  out.icmp_type = type;
  out.icmp_code = code;
  out.src_port = id;
  // RFC 792 (type 3 code 3) / RFC 4443 3.1 (type 1 code 4): port unreachable, the answer a
  // host gives a UDP datagram to a closed port. learn needs the refused datagram's ports to
  // keep that flow out of the graph.
  if (v6 ? (type == 1 && code == 4) : (type == 3 && code == 3)) {
    ReadQuotedUdp(r, v6, out);
  }
  return Outcome::kOk;
}

// RFC 9260 3.1: the common header is 12 bytes (ports, verification tag, checksum).
Outcome DecodeSctp(ByteReader& r, std::uint64_t wire, PacketSummary& out) {
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  if (wire < 12 || !r.ReadBe16(sport) || !r.ReadBe16(dport) || !r.Skip(8)) {
    return Outcome::kTruncatedSctp;
  }
  return WithPorts(sport, dport, out);
}

Outcome DecodeTransport(std::uint8_t proto, ByteReader& r, std::uint64_t wire, PacketSummary& out) {
  out.proto = proto;
  switch (proto) {
    case static_cast<std::uint8_t>(L4Proto::kTcp):
      return DecodeTcp(r, wire, out);
    case static_cast<std::uint8_t>(L4Proto::kUdp):
      return DecodeUdp(r, wire, out);
    case static_cast<std::uint8_t>(L4Proto::kIcmp):
    case static_cast<std::uint8_t>(L4Proto::kIcmpv6):
      return DecodeIcmp(proto, r, wire, out);
    case static_cast<std::uint8_t>(L4Proto::kSctp):
      return DecodeSctp(r, wire, out);
    default:
      return Outcome::kOtherTransport;
  }
}

Outcome DecodeIpv4(ByteReader r, std::uint64_t wire, PacketSummary& out) {
  // RFC 791 3.1: the fixed header is 20 bytes.
  std::uint8_t version_ihl = 0;
  std::uint16_t total_len = 0;
  std::uint16_t frag = 0;
  std::uint8_t proto = 0;
  std::uint8_t src[4];
  std::uint8_t dst[4];
  if (!r.ReadU8(version_ihl) || !r.Skip(1) || !r.ReadBe16(total_len) || !r.Skip(2) ||
      !r.ReadBe16(frag) || !r.Skip(1) || !r.ReadU8(proto) || !r.Skip(2) || !r.ReadBytes(src, 4) ||
      !r.ReadBytes(dst, 4)) {
    return Outcome::kTruncatedIpv4;
  }
  // RFC 791 3.1: Version is 4; IHL counts 32-bit words and is at least 5.
  const std::size_t header_len = std::size_t{static_cast<std::uint8_t>(version_ihl & 0x0F)} * 4;
  if ((version_ihl >> 4) != 4 || header_len < 20) {
    return Outcome::kBadIpv4Header;
  }
  // Options that run past the frame as it was sent.
  if (header_len > wire) {
    return Outcome::kBadIpv4Header;
  }
  // RFC 791 3.1: Total Length covers header and data, so it holds the header and no more than
  // the frame carried (Ethernet padding may make the frame longer, never shorter).
  if (total_len < header_len || total_len > wire) {
    return Outcome::kBadIpv4Length;
  }
  // Straight into the summary, which Decode zeroed (IpAddr::FromV4Bytes would build a temporary
  // and copy it: a measurable share of the decoder on the per-packet path).
  std::memcpy(out.src.bytes.data(), src, 4);
  std::memcpy(out.dst.bytes.data(), dst, 4);
  out.ip_len = total_len;
  out.proto = proto;
  if (!r.Skip(header_len - 20)) {
    return Outcome::kTruncatedIpv4;  // options cut by the snaplen
  }
  // The datagram ends at Total Length; bytes after it are link padding.
  const std::size_t payload_len = total_len - header_len;
  r.Limit(payload_len);
  // RFC 791 3.1: Fragment Offset (low 13 bits, in 8-byte units). Only the first fragment holds
  // the transport header; a first fragment with More Fragments set is read normally.
  if ((frag & 0x1FFF) != 0) {
    return Outcome::kNonFirstFragment;
  }
  return DecodeTransport(proto, r, payload_len, out);
}

// The IPv6 extension header chain (RFC 8200 4) up to the transport header. `next` is the fixed
// header's Next Header; `left` the wire bytes of the payload not yet walked.
Outcome WalkIpv6Extensions(std::uint8_t next, ByteReader& r, std::uint64_t left,
                           PacketSummary& out) {
  for (int walked = 0;; ++walked) {
    switch (next) {
      case kIpv6HopByHop:
        // RFC 8200 4.3: hop-by-hop options only ever come first.
        if (walked != 0) {
          return Outcome::kBadIpv6ExtChain;
        }
        break;
      case kIpv6Routing:
      case kIpv6Fragment:
      case kIpv6DestOpts:
      case kIpv6Ah:
        break;
      case kIpv6NoNextHeader:
        out.proto = next;  // RFC 8200 4.7: nothing follows
        return Outcome::kOtherTransport;
      default:
        return DecodeTransport(next, r, left, out);
    }
    if (walked == kMaxIpv6ExtHeaders) {
      return Outcome::kBadIpv6ExtChain;
    }
    // Every extension header is at least 8 bytes and starts with Next Header and a length.
    if (left < 8) {
      return Outcome::kBadIpv6ExtChain;
    }
    std::uint8_t header_next = 0;
    std::uint8_t len_field = 0;
    if (!r.ReadU8(header_next) || !r.ReadU8(len_field)) {
      return Outcome::kTruncatedIpv6Ext;
    }
    std::size_t header_len = 0;
    if (next == kIpv6Fragment) {
      header_len = 8;  // RFC 8200 4.5: fixed 8 bytes
    } else if (next == kIpv6Ah) {
      header_len = (std::size_t{len_field} + 2) * 4;  // RFC 4302 2.2: 32-bit words minus 2
    } else {
      header_len = (std::size_t{len_field} + 1) * 8;  // RFC 8200 4.3-4.6: 8-octet units minus 1
    }
    if (header_len > left) {
      return Outcome::kBadIpv6ExtChain;  // claims more than the payload that was sent
    }
    if (next == kIpv6Fragment) {
      // RFC 8200 4.5: Fragment Offset is the top 13 bits of the next 16.
      std::uint16_t offset_flags = 0;
      if (!r.ReadBe16(offset_flags) || !r.Skip(4)) {
        return Outcome::kTruncatedIpv6Ext;
      }
      if ((offset_flags >> 3) != 0) {
        out.proto = header_next;
        return Outcome::kNonFirstFragment;
      }
    } else if (!r.Skip(header_len - 2)) {
      return Outcome::kTruncatedIpv6Ext;
    }
    left -= header_len;
    next = header_next;
  }
}

Outcome DecodeIpv6(ByteReader r, std::uint64_t wire, PacketSummary& out) {
  // RFC 8200 3: the fixed header is 40 bytes.
  std::uint8_t version_class = 0;
  std::uint16_t payload_len = 0;
  std::uint8_t next = 0;
  std::uint8_t src[16];
  std::uint8_t dst[16];
  if (!r.ReadU8(version_class) || !r.Skip(3) || !r.ReadBe16(payload_len) || !r.ReadU8(next) ||
      !r.Skip(1) || !r.ReadBytes(src, 16) || !r.ReadBytes(dst, 16)) {
    return Outcome::kTruncatedIpv6;
  }
  // RFC 8200 3: Version is 6.
  if ((version_class >> 4) != 6) {
    return Outcome::kBadIpVersion;
  }
  // RFC 8200 3: Payload Length is what follows the fixed header (extension headers included).
  // Jumbograms (RFC 2675, Payload Length 0 with a Jumbo option) need links with a 64 KiB MTU and
  // are not supported: their transport then reads as truncated.
  if (std::uint64_t{40} + payload_len > wire) {
    return Outcome::kBadIpv6Length;
  }
  std::memcpy(out.src.bytes.data(), src, 16);  // as for IPv4: the summary was zeroed
  std::memcpy(out.dst.bytes.data(), dst, 16);
  out.src.v6 = true;
  out.dst.v6 = true;
  out.ip_len = 40U + payload_len;
  r.Limit(payload_len);
  return WalkIpv6Extensions(next, r, payload_len, out);
}

// A packet that starts at its IP header with nothing outside to say which version it is.
Outcome DecodeRawIp(ByteReader r, std::uint64_t wire, PacketSummary& out) {
  ByteReader peek = r;
  std::uint8_t first = 0;
  if (!peek.ReadU8(first)) {
    return Outcome::kTruncatedLink;
  }
  switch (first >> 4) {
    case 4:
      return DecodeIpv4(r, wire, out);
    case 6:
      return DecodeIpv6(r, wire, out);
    default:
      return Outcome::kBadIpVersion;
  }
}

// Dispatches on an EtherType, first stripping VLAN tags. `frame_wire` is the frame's wire length
// and `r` reads the whole frame, so the wire left for the IP layer is frame_wire - r.offset().
Outcome DecodeEtherType(std::uint16_t type, ByteReader& r, std::uint64_t frame_wire,
                        PacketSummary& out) {
  while (type == kEtherTypeVlan || type == kEtherTypeQinQ || type == kEtherTypeQinQOld) {
    if (out.vlan_depth == kMaxVlanTags) {
      return Outcome::kVlanTooDeep;
    }
    // IEEE 802.1Q 9.6: a 16-bit TCI (priority, DEI, VLAN id), then the inner EtherType.
    if (!r.Skip(2) || !r.ReadBe16(type)) {
      return Outcome::kTruncatedVlan;
    }
    ++out.vlan_depth;
  }
  const std::uint64_t wire = frame_wire - r.offset();
  switch (type) {
    case kEtherTypeIpv4:
      return DecodeIpv4(r, wire, out);
    case kEtherTypeIpv6:
      return DecodeIpv6(r, wire, out);
    default:
      return Outcome::kNotIp;
  }
}

Outcome DecodeEthernet(ByteReader& r, std::uint64_t frame_wire, PacketSummary& out) {
  // IEEE 802.3 3.1.1: destination, source, type/length.
  std::uint16_t type = 0;
  if (!r.Skip(12) || !r.ReadBe16(type)) {
    return Outcome::kTruncatedLink;
  }
  if (type < kEtherTypeMin) {
    return Outcome::kNotIp;  // an 802.3 length: LLC/SNAP, STP, ...
  }
  return DecodeEtherType(type, r, frame_wire, out);
}

Outcome DecodeSll(ByteReader& r, std::uint64_t frame_wire, PacketSummary& out) {
  // LINKTYPE_LINUX_SLL: packet type, ARPHRD type, address length, 8 address bytes, protocol
  // (an EtherType for the link types that carry IP). libpcap re-inserts VLAN tags after it.
  std::uint16_t protocol = 0;
  if (!r.Skip(14) || !r.ReadBe16(protocol)) {
    return Outcome::kTruncatedLink;
  }
  return DecodeEtherType(protocol, r, frame_wire, out);
}

Outcome DecodeSll2(ByteReader& r, std::uint64_t frame_wire, PacketSummary& out) {
  // LINKTYPE_LINUX_SLL2: protocol, reserved, interface index, ARPHRD type, packet type,
  // address length, 8 address bytes: 20 bytes.
  std::uint16_t protocol = 0;
  if (!r.ReadBe16(protocol) || !r.Skip(18)) {
    return Outcome::kTruncatedLink;
  }
  return DecodeEtherType(protocol, r, frame_wire, out);
}

}  // namespace

std::string_view DecodeOutcomeName(DecodeOutcome outcome) {
  switch (outcome) {
    case DecodeOutcome::kOk:
      return "ok";
    case DecodeOutcome::kNotIp:
      return "not_ip";
    case DecodeOutcome::kNonFirstFragment:
      return "non_first_fragment";
    case DecodeOutcome::kOtherTransport:
      return "other_transport";
    case DecodeOutcome::kUnsupportedLink:
      return "unsupported_link";
    case DecodeOutcome::kTruncatedLink:
      return "truncated_link";
    case DecodeOutcome::kTruncatedVlan:
      return "truncated_vlan";
    case DecodeOutcome::kVlanTooDeep:
      return "vlan_too_deep";
    case DecodeOutcome::kTruncatedNflog:
      return "truncated_nflog";
    case DecodeOutcome::kBadNflogTlv:
      return "bad_nflog_tlv";
    case DecodeOutcome::kNflogTooManyTlvs:
      return "nflog_too_many_tlvs";
    case DecodeOutcome::kTruncatedIpv4:
      return "truncated_ipv4";
    case DecodeOutcome::kBadIpv4Header:
      return "bad_ipv4_header";
    case DecodeOutcome::kBadIpv4Length:
      return "bad_ipv4_length";
    case DecodeOutcome::kTruncatedIpv6:
      return "truncated_ipv6";
    case DecodeOutcome::kBadIpv6Length:
      return "bad_ipv6_length";
    case DecodeOutcome::kBadIpv6ExtChain:
      return "bad_ipv6_ext_chain";
    case DecodeOutcome::kTruncatedIpv6Ext:
      return "truncated_ipv6_ext";
    case DecodeOutcome::kBadIpVersion:
      return "bad_ip_version";
    case DecodeOutcome::kTruncatedTcp:
      return "truncated_tcp";
    case DecodeOutcome::kBadTcpOffset:
      return "bad_tcp_offset";
    case DecodeOutcome::kTruncatedUdp:
      return "truncated_udp";
    case DecodeOutcome::kBadUdpLength:
      return "bad_udp_length";
    case DecodeOutcome::kTruncatedIcmp:
      return "truncated_icmp";
    case DecodeOutcome::kTruncatedSctp:
      return "truncated_sctp";
    case DecodeOutcome::kCount:
      break;
  }
  return "unknown";
}

std::uint64_t DecodeCounters::Malformed() const {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < kDecodeOutcomeCount; ++i) {
    if (IsMalformed(static_cast<DecodeOutcome>(i))) {
      total += by_outcome[i];
    }
  }
  return total;
}

void DecodeCounters::Add(const DecodeCounters& other) {
  for (std::size_t i = 0; i < kDecodeOutcomeCount; ++i) {
    by_outcome[i] += other.by_outcome[i];
  }
}

bool LinkTypeFromDlt(int dlt, LinkType& out) {
  switch (dlt) {
    case 1:
      out = LinkType::kEthernet;
      return true;
    case 12:   // DLT_RAW on Linux and most systems
    case 14:   // DLT_RAW on OpenBSD
    case 101:  // LINKTYPE_RAW as written in files
      out = LinkType::kRaw;
      return true;
    case 113:
      out = LinkType::kLinuxSll;
      return true;
    case 276:
      out = LinkType::kLinuxSll2;
      return true;
    case 228:
      out = LinkType::kIpv4;
      return true;
    case 229:
      out = LinkType::kIpv6;
      return true;
    case 239:
      out = LinkType::kNflog;
      return true;
    default:
      return false;
  }
}

DecodeOutcome Decode(LinkType link, const RawFrame& frame, PacketSummary& out) noexcept {
  out = PacketSummary{};
  out.ts_usec = frame.ts_usec;
  ByteReader r(frame.data);
  // libpcap guarantees caplen <= len for live captures; a crafted file may not, and a frame
  // cannot have been shorter on the wire than what was captured of it.
  const std::uint64_t wire = std::max<std::uint64_t>(frame.wire_len, frame.data.size());
  switch (link) {
    case LinkType::kEthernet:
      return DecodeEthernet(r, wire, out);
    case LinkType::kLinuxSll:
      return DecodeSll(r, wire, out);
    case LinkType::kLinuxSll2:
      return DecodeSll2(r, wire, out);
    case LinkType::kRaw:
      return DecodeRawIp(r, wire, out);
    case LinkType::kIpv4: {
      // DLT_IPV4 promises IPv4; a different version nibble is a bad IPv4 header.
      return DecodeIpv4(r, wire, out);
    }
    case LinkType::kIpv6:
      return DecodeIpv6(r, wire, out);
    case LinkType::kNflog: {
      NflogMessage message;
      return DecodeNflog(frame, out, message);
    }
  }
  return DecodeOutcome::kUnsupportedLink;
}

DecodeOutcome DecodeNflog(const RawFrame& frame, PacketSummary& out,
                          NflogMessage& message) noexcept {
  out = PacketSummary{};
  out.ts_usec = frame.ts_usec;
  const DecodeOutcome walked = WalkNflog(frame.data, message);
  if (walked != DecodeOutcome::kOk) {
    return walked;
  }
  return DecodeRawIp(ByteReader(message.payload), kUnknownWire, out);
}

}  // namespace bulkhead::capture
