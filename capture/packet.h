#pragma once

#include <cstdint>

#include "capture/ip_addr.h"

namespace bulkhead::capture {

// IANA protocol numbers of the transports bulkhead understands.
enum class L4Proto : std::uint8_t {
  kIcmp = 1,
  kTcp = 6,
  kUdp = 17,
  kIcmpv6 = 58,
  kSctp = 132,
};

// TCP flag bits as they sit in the TCP header's flags byte (RFC 9293, section 3.1).
inline constexpr std::uint8_t kTcpFin = 0x01;
inline constexpr std::uint8_t kTcpSyn = 0x02;
inline constexpr std::uint8_t kTcpRst = 0x04;
inline constexpr std::uint8_t kTcpAck = 0x10;

// What the decoder keeps of one packet: headers only, never payload. A plain value so that the
// learn module can copy it freely; it knows nothing of workloads or groups.
struct PacketSummary {
  std::uint64_t ts_usec = 0;  // capture timestamp, microseconds since the epoch
  IpAddr src;
  IpAddr dst;
  std::uint32_t ip_len =
      0;                   // bytes of the IP datagram as sent (IPv4 total length, IPv6 40+payload)
  std::uint8_t proto = 0;  // IANA protocol number of the transport (L4Proto when known)
  // TCP/UDP/SCTP: the ports. ICMP/ICMPv6: src_port = identifier for echo, dst_port = 0; a port
  // unreachable that quotes a UDP datagram the receiver sent to the sender: has_ports, and the
  // ports as that datagram's reply would carry them (src_port = the closed port).
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint8_t tcp_flags = 0;   // TCP only
  std::uint8_t icmp_type = 0;   // ICMP/ICMPv6 only
  std::uint8_t icmp_code = 0;   // ICMP/ICMPv6 only
  std::uint8_t vlan_depth = 0;  // number of 802.1Q/802.1ad tags that were stripped
  bool has_ports = false;       // false for non-first fragments and transports without ports
};

}  // namespace bulkhead::capture
