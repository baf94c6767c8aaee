#pragma once

// Hand-built packets for the capture tests: each function returns one header as bytes, so a test
// spells out exactly which layer is malformed and how.

#include <bit>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "capture/decoder.h"

namespace bulkhead::capture::testing {

using Bytes = std::vector<std::uint8_t>;

inline void Put8(Bytes& b, unsigned v) { b.push_back(static_cast<std::uint8_t>(v)); }
inline void Put16(Bytes& b, unsigned v) {
  Put8(b, (v >> 8) & 0xFF);
  Put8(b, v & 0xFF);
}
inline void Put32(Bytes& b, std::uint32_t v) {
  Put16(b, v >> 16);
  Put16(b, v & 0xFFFF);
}
inline Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

inline Bytes Ether(unsigned type) {
  Bytes b = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02};
  Put16(b, type);
  return b;
}

// A VLAN tag as it sits after the outer type: TCI then the inner type.
inline Bytes VlanTag(unsigned vid, unsigned inner_type) {
  Bytes b;
  Put16(b, vid & 0x0FFF);
  Put16(b, inner_type);
  return b;
}

struct Ipv4Spec {
  std::uint8_t proto = 6;
  std::size_t payload_len = 0;  // bytes after the header (sets Total Length unless overridden)
  unsigned option_words = 0;
  int ihl = -1;        // -1: 5 + option_words
  int total_len = -1;  // -1: header + payload_len
  unsigned frag = 0;   // flags + fragment offset field
  unsigned version = 4;
  std::uint32_t src = 0x0A000001;  // 10.0.0.1
  std::uint32_t dst = 0x0A000002;  // 10.0.0.2
};

inline Bytes Ipv4(const Ipv4Spec& s) {
  const unsigned ihl = s.ihl >= 0 ? static_cast<unsigned>(s.ihl) : 5 + s.option_words;
  const unsigned header = (5 + s.option_words) * 4;
  Bytes b;
  Put8(b, (s.version << 4) | (ihl & 0x0F));
  Put8(b, 0);
  Put16(b, s.total_len >= 0 ? static_cast<unsigned>(s.total_len)
                            : header + static_cast<unsigned>(s.payload_len));
  Put16(b, 0x1234);
  Put16(b, s.frag);
  Put8(b, 64);
  Put8(b, s.proto);
  Put16(b, 0);
  Put32(b, s.src);
  Put32(b, s.dst);
  for (unsigned i = 0; i < s.option_words; ++i) {
    Put32(b, 0x01010101);  // NOPs
  }
  return b;
}

inline Bytes V6Addr(std::uint8_t last) {
  Bytes b = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
  return b;
}

inline Bytes Ipv6(std::uint8_t next, std::size_t payload_len, unsigned version = 6) {
  Bytes b;
  Put32(b, version << 28);
  Put16(b, static_cast<unsigned>(payload_len));
  Put8(b, next);
  Put8(b, 64);
  const Bytes src = V6Addr(1);
  const Bytes dst = V6Addr(2);
  b.insert(b.end(), src.begin(), src.end());
  b.insert(b.end(), dst.begin(), dst.end());
  return b;
}

// A generic extension header (hop-by-hop, routing, destination options) of 8 * (len + 1) bytes.
inline Bytes Ext(std::uint8_t next, unsigned len = 0) {
  Bytes b;
  Put8(b, next);
  Put8(b, len);
  for (unsigned i = 0; i < 6 + len * 8; ++i) {
    Put8(b, 0);
  }
  return b;
}

inline Bytes Frag6(std::uint8_t next, unsigned offset_units, bool more) {
  Bytes b;
  Put8(b, next);
  Put8(b, 0);
  Put16(b, (offset_units << 3) | (more ? 1U : 0U));
  Put32(b, 0xabcdef01);
  return b;
}

// TCP header with `option_words` 32-bit words of options (MSS first, then NOPs).
inline Bytes Tcp(unsigned sport, unsigned dport, std::uint8_t flags, unsigned option_words = 0,
                 int data_offset = -1) {
  Bytes b;
  Put16(b, sport);
  Put16(b, dport);
  Put32(b, 1000);
  Put32(b, 0);
  const unsigned off = data_offset >= 0 ? static_cast<unsigned>(data_offset) : 5 + option_words;
  Put8(b, off << 4);
  Put8(b, flags);
  Put16(b, 65535);
  Put16(b, 0);
  Put16(b, 0);
  for (unsigned i = 0; i < option_words; ++i) {
    if (i == 0) {
      Put32(b, 0x020405B4);  // MSS 1460
    } else {
      Put32(b, 0x01010101);
    }
  }
  return b;
}

inline Bytes Udp(unsigned sport, unsigned dport, std::size_t payload_len, int length = -1) {
  Bytes b;
  Put16(b, sport);
  Put16(b, dport);
  Put16(b, length >= 0 ? static_cast<unsigned>(length) : 8 + static_cast<unsigned>(payload_len));
  Put16(b, 0);
  return b;
}

inline Bytes Icmp(std::uint8_t type, std::uint8_t code, unsigned id, unsigned seq = 1) {
  Bytes b;
  Put8(b, type);
  Put8(b, code);
  Put16(b, 0);
  Put16(b, id);
  Put16(b, seq);
  return b;
}

inline Bytes Sctp(unsigned sport, unsigned dport) {
  Bytes b;
  Put16(b, sport);
  Put16(b, dport);
  Put32(b, 0xdeadbeef);
  Put32(b, 0);
  return b;
}

// Ethernet + IPv4 + TCP (MSS option, IPv4 with one option word); no payload.
inline Bytes TcpV4Frame() {
  Ipv4Spec ip;
  ip.option_words = 1;
  ip.payload_len = 24;
  return Cat({Ether(0x0800), Ipv4(ip), Tcp(40000, 443, 0x02, 1)});
}

// Ethernet + IPv6 + TCP (MSS option); no payload.
inline Bytes TcpV6Frame() { return Cat({Ether(0x86DD), Ipv6(6, 24), Tcp(40001, 8443, 0x12, 1)}); }

// NFLOG TLV length and type are in host byte order (x86: little-endian), as the kernel writes
// them.
inline void PutHost16(Bytes& b, unsigned v) {
  const auto lo = static_cast<std::uint8_t>(v & 0xFF);
  const auto hi = static_cast<std::uint8_t>(v >> 8);
  if constexpr (std::endian::native == std::endian::little) {
    b.push_back(lo);
    b.push_back(hi);
  } else {
    b.push_back(hi);
    b.push_back(lo);
  }
}

// One NFLOG TLV, padded to 4 bytes; `length` overrides the length field (a lying TLV).
inline void PutTlv(Bytes& b, unsigned type, const Bytes& value, int length = -1) {
  PutHost16(b,
            length >= 0 ? static_cast<unsigned>(length) : static_cast<unsigned>(value.size() + 4));
  PutHost16(b, type);
  b.insert(b.end(), value.begin(), value.end());
  while (b.size() % 4 != 0) {
    b.push_back(0);
  }
}

inline DecodeOutcome DecodeBytes(LinkType link, const Bytes& data, PacketSummary& out,
                                 std::uint32_t wire_len = 0) {
  RawFrame frame;
  frame.ts_usec = 42;
  frame.data = std::span<const std::uint8_t>(data.data(), data.size());
  frame.wire_len = wire_len != 0 ? wire_len : static_cast<std::uint32_t>(data.size());
  return Decode(link, frame, out);
}

}  // namespace bulkhead::capture::testing
