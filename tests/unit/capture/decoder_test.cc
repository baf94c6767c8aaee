#include "capture/decoder.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "tests/unit/capture/packet_builder.h"

namespace bulkhead::capture {
namespace {

using namespace bulkhead::capture::testing;

IpAddr V4(const char* text) { return *IpAddr::Parse(text); }

std::string Name(DecodeOutcome o) { return std::string(DecodeOutcomeName(o)); }

// --- full packets -----------------------------------------------------------------------------

TEST(DecoderTest, TcpIpv4FullPacketHasExactFields) {
  const Bytes frame = TcpV4Frame();
  PacketSummary s;
  ASSERT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.ts_usec, 42U);
  EXPECT_EQ(s.src, V4("10.0.0.1"));
  EXPECT_EQ(s.dst, V4("10.0.0.2"));
  EXPECT_EQ(s.proto, 6);
  EXPECT_EQ(s.src_port, 40000);
  EXPECT_EQ(s.dst_port, 443);
  EXPECT_EQ(s.tcp_flags, kTcpSyn);
  EXPECT_EQ(s.ip_len, 48U);
  EXPECT_TRUE(s.has_ports);
  EXPECT_EQ(s.vlan_depth, 0);
}

TEST(DecoderTest, TcpIpv6FullPacketHasExactFields) {
  const Bytes frame = TcpV6Frame();
  PacketSummary s;
  ASSERT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.src, V4("fd00::1"));
  EXPECT_EQ(s.dst, V4("fd00::2"));
  EXPECT_TRUE(s.src.v6);
  EXPECT_EQ(s.proto, 6);
  EXPECT_EQ(s.src_port, 40001);
  EXPECT_EQ(s.dst_port, 8443);
  EXPECT_EQ(s.tcp_flags, kTcpSyn | kTcpAck);
  EXPECT_EQ(s.ip_len, 64U);
  EXPECT_TRUE(s.has_ports);
}

// Every prefix of a packet whose headers fill the whole frame must be malformed, both as a
// frame that was that short on the wire and as a longer frame cut by the snaplen.
void ExpectEveryTruncationMalformed(const Bytes& full) {
  std::set<std::string> seen;
  for (std::size_t cut = 0; cut < full.size(); ++cut) {
    const Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut));
    for (const bool snaplen_cut : {false, true}) {
      PacketSummary s;
      const std::uint32_t wire =
          snaplen_cut ? static_cast<std::uint32_t>(full.size()) : static_cast<std::uint32_t>(cut);
      RawFrame frame;
      frame.data = std::span<const std::uint8_t>(prefix.data(), prefix.size());
      frame.wire_len = wire;
      const DecodeOutcome o = Decode(LinkType::kEthernet, frame, s);
      EXPECT_TRUE(IsMalformed(o)) << "cut at " << cut << (snaplen_cut ? " (snaplen)" : " (wire)")
                                  << ": " << Name(o);
      EXPECT_FALSE(s.has_ports) << "cut at " << cut;
      seen.insert(Name(o));
    }
  }
  EXPECT_GE(seen.size(), 3U);  // link, IP and transport truncations all show up
}

TEST(DecoderTest, TcpIpv4TruncatedAtEveryOffsetIsMalformed) {
  ExpectEveryTruncationMalformed(TcpV4Frame());
}

TEST(DecoderTest, TcpIpv6TruncatedAtEveryOffsetIsMalformed) {
  ExpectEveryTruncationMalformed(TcpV6Frame());
}

TEST(DecoderTest, EthernetPaddingAfterTotalLengthIsIgnored) {
  Ipv4Spec ip;
  ip.proto = 17;
  ip.payload_len = 8;
  Bytes frame = Cat({Ether(0x0800), Ipv4(ip), Udp(53, 5353, 0)});
  frame.resize(60, 0);  // minimum Ethernet frame
  PacketSummary s;
  ASSERT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.ip_len, 28U);
  EXPECT_EQ(s.src_port, 53);
  EXPECT_EQ(s.dst_port, 5353);
}

// --- IPv4 -------------------------------------------------------------------------------------

TEST(DecoderTest, Ipv4IhlBelowFiveIsBadHeader) {
  for (int ihl = 0; ihl < 5; ++ihl) {
    Ipv4Spec ip;
    ip.ihl = ihl;
    ip.payload_len = 20;
    const Bytes frame = Cat({Ether(0x0800), Ipv4(ip), Tcp(1, 2, 0)});
    PacketSummary s;
    EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kBadIpv4Header) << ihl;
  }
}

TEST(DecoderTest, Ipv4WrongVersionIsBadHeader) {
  Ipv4Spec ip;
  ip.version = 6;
  ip.payload_len = 20;
  const Bytes frame = Cat({Ether(0x0800), Ipv4(ip), Tcp(1, 2, 0)});
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kBadIpv4Header);
}

TEST(DecoderTest, Ipv4OptionsRunningPastThePacketAreBadHeader) {
  // IHL 15 (60 bytes of header) in a frame that carried only 20 bytes of IP.
  Ipv4Spec ip;
  ip.ihl = 15;
  ip.total_len = 60;
  const Bytes frame = Cat({Ether(0x0800), Ipv4(ip)});
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kBadIpv4Header);
}

TEST(DecoderTest, Ipv4TotalLengthBelowHeaderIsBadLength) {
  Ipv4Spec ip;
  ip.option_words = 2;
  ip.total_len = 24;  // header is 28
  ip.payload_len = 20;
  const Bytes frame = Cat({Ether(0x0800), Ipv4(ip), Tcp(1, 2, 0)});
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kBadIpv4Length);
}

TEST(DecoderTest, Ipv4TotalLengthLargerThanWireIsBadLength) {
  Ipv4Spec ip;
  ip.total_len = 1500;
  const Bytes frame = Cat({Ether(0x0800), Ipv4(ip), Tcp(1, 2, 0)});
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kBadIpv4Length);
  // The same header is honest when the frame really was that long and only the capture was cut.
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s, 14 + 1500), DecodeOutcome::kOk);
  EXPECT_EQ(s.ip_len, 1500U);
}

TEST(DecoderTest, SnaplenCutWithHonestLengthsIsOk) {
  Ipv4Spec ip;
  ip.payload_len = 20 + 1400;
  Bytes frame = Cat({Ether(0x0800), Ipv4(ip), Tcp(5000, 80, kTcpAck)});
  const auto wire = static_cast<std::uint32_t>(frame.size() + 1400);
  PacketSummary s;
  ASSERT_EQ(DecodeBytes(LinkType::kEthernet, frame, s, wire), DecodeOutcome::kOk);
  EXPECT_EQ(s.ip_len, 1440U);
  EXPECT_EQ(s.dst_port, 80);

  const Bytes v6 = Cat({Ether(0x86DD), Ipv6(17, 8 + 1000), Udp(1234, 53, 1000)});
  ASSERT_EQ(DecodeBytes(LinkType::kEthernet, v6, s, static_cast<std::uint32_t>(v6.size() + 1000)),
            DecodeOutcome::kOk);
  EXPECT_EQ(s.ip_len, 40U + 1008U);
  EXPECT_EQ(s.dst_port, 53);
}

TEST(DecoderTest, Ipv4NonFirstFragmentNeverReadsPorts) {
  Ipv4Spec ip;
  ip.frag = 0x2000 | 185;  // MF, offset 1480
  ip.payload_len = 20;
  const Bytes frame = Cat({Ether(0x0800), Ipv4(ip), Tcp(1, 2, 0)});
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kNonFirstFragment);
  EXPECT_FALSE(s.has_ports);
  EXPECT_EQ(s.src_port, 0);
  EXPECT_EQ(s.proto, 6);
  EXPECT_EQ(s.src, V4("10.0.0.1"));
}

TEST(DecoderTest, Ipv4FirstFragmentWithMoreFragmentsIsReadNormally) {
  Ipv4Spec ip;
  ip.frag = 0x2000;  // MF, offset 0
  ip.proto = 17;
  ip.payload_len = 8 + 100;
  const Bytes frame = Cat({Ether(0x0800), Ipv4(ip), Udp(1000, 2000, 3000), Bytes(100, 0)});
  PacketSummary s;
  // The UDP length covers the whole reassembled datagram, more than this fragment carried.
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kBadUdpLength);
  const Bytes honest = Cat({Ether(0x0800), Ipv4(ip), Udp(1000, 2000, 100), Bytes(100, 0)});
  ASSERT_EQ(DecodeBytes(LinkType::kEthernet, honest, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.src_port, 1000);
}

TEST(DecoderTest, UnknownTransportIsOtherWithAddresses) {
  Ipv4Spec ip;
  ip.proto = 47;  // GRE
  ip.payload_len = 4;
  const Bytes frame = Cat({Ether(0x0800), Ipv4(ip), Bytes(4, 0)});
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kOtherTransport);
  EXPECT_EQ(s.proto, 47);
  EXPECT_EQ(s.dst, V4("10.0.0.2"));
  EXPECT_FALSE(s.has_ports);
}

// --- IPv6 -------------------------------------------------------------------------------------

TEST(DecoderTest, Ipv6PayloadLengthLargerThanWireIsBadLength) {
  const Bytes frame = Cat({Ether(0x86DD), Ipv6(6, 500), Tcp(1, 2, 0)});
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kBadIpv6Length);
}

TEST(DecoderTest, Ipv6WrongVersionUnderIpv6EtherTypeIsBadVersion) {
  const Bytes frame = Cat({Ether(0x86DD), Ipv6(6, 20, 4), Tcp(1, 2, 0)});
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kBadIpVersion);
}

// A chain of `n` extension headers (hop-by-hop first, then destination options) before TCP.
Bytes Ipv6WithChain(int n) {
  Bytes chain;
  for (int i = 0; i < n; ++i) {
    const std::uint8_t next = i + 1 < n ? 60 : 6;
    chain = Cat({chain, Ext(next, i % 2 == 0 ? 0 : 1)});
  }
  const Bytes tcp = Tcp(7, 22, kTcpSyn);
  return Cat({Ether(0x86DD), Ipv6(n > 0 ? 0 : 6, chain.size() + tcp.size()), chain, tcp});
}

TEST(DecoderTest, Ipv6ExtensionChainAtTheLimitIsOk) {
  const Bytes frame = Ipv6WithChain(8);
  PacketSummary s;
  ASSERT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.dst_port, 22);
  EXPECT_EQ(s.proto, 6);
}

TEST(DecoderTest, Ipv6ExtensionChainPastTheLimitIsBad) {
  for (int n : {9, 20}) {
    const Bytes frame = Ipv6WithChain(n);
    PacketSummary s;
    EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kBadIpv6ExtChain) << n;
  }
}

TEST(DecoderTest, Ipv6HopByHopAfterTheFirstHeaderIsBad) {
  const Bytes tcp = Tcp(1, 2, 0);
  const Bytes frame = Cat({Ether(0x86DD), Ipv6(60, 16 + tcp.size()), Ext(0), Ext(6), tcp});
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kBadIpv6ExtChain);
}

TEST(DecoderTest, Ipv6ExtensionLongerThanPayloadIsBad) {
  // A routing header claiming 8 * (1 + 10) bytes in a 16-byte payload.
  const Bytes frame = Cat({Ether(0x86DD), Ipv6(43, 16), Ext(6, 0), Bytes(8, 0)});
  Bytes lying = frame;
  lying[14 + 40 + 1] = 10;
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, lying, s), DecodeOutcome::kBadIpv6ExtChain);
}

TEST(DecoderTest, Ipv6ExtensionCutBySnaplenIsTruncated) {
  const Bytes tcp = Tcp(1, 2, 0);
  const Bytes full = Cat({Ether(0x86DD), Ipv6(43, 24 + tcp.size()), Ext(6, 2), tcp});
  const Bytes cut(full.begin(), full.begin() + 14 + 40 + 10);
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, cut, s, static_cast<std::uint32_t>(full.size())),
            DecodeOutcome::kTruncatedIpv6Ext);
}

TEST(DecoderTest, Ipv6FragmentHeaderWithOffsetIsNonFirst) {
  const Bytes frame = Cat({Ether(0x86DD), Ipv6(44, 8 + 8), Frag6(17, 100, false), Bytes(8, 0)});
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kNonFirstFragment);
  EXPECT_EQ(s.proto, 17);
  EXPECT_FALSE(s.has_ports);
  EXPECT_EQ(s.src_port, 0);
}

TEST(DecoderTest, Ipv6FirstFragmentIsReadNormally) {
  const Bytes frame =
      Cat({Ether(0x86DD), Ipv6(44, 8 + 8 + 4), Frag6(17, 0, true), Udp(9, 10, 4), Bytes(4, 0)});
  PacketSummary s;
  ASSERT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.src_port, 9);
  EXPECT_EQ(s.dst_port, 10);
}

TEST(DecoderTest, Ipv6AuthenticationHeaderIsWalked) {
  // AH with Payload Len 4: (4 + 2) * 4 = 24 bytes.
  Bytes ah = {6, 4};
  ah.resize(24, 0);
  const Bytes tcp = Tcp(100, 200, kTcpAck);
  const Bytes frame = Cat({Ether(0x86DD), Ipv6(51, ah.size() + tcp.size()), ah, tcp});
  PacketSummary s;
  ASSERT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.dst_port, 200);
}

TEST(DecoderTest, Ipv6NoNextHeaderIsOtherTransport) {
  const Bytes frame = Cat({Ether(0x86DD), Ipv6(59, 0)});
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kOtherTransport);
  EXPECT_EQ(s.proto, 59);
  EXPECT_EQ(s.ip_len, 40U);
}

// --- VLAN and link types ----------------------------------------------------------------------

TEST(DecoderTest, SingleAndQinQTagsAreStripped) {
  Ipv4Spec ip;
  ip.payload_len = 20;
  const Bytes inner = Cat({Ipv4(ip), Tcp(1111, 2222, kTcpSyn)});
  PacketSummary s;
  const Bytes one = Cat({Ether(0x8100), VlanTag(10, 0x0800), inner});
  ASSERT_EQ(DecodeBytes(LinkType::kEthernet, one, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.vlan_depth, 1);
  for (unsigned outer : {0x88A8U, 0x9100U, 0x8100U}) {
    const Bytes qinq = Cat({Ether(outer), VlanTag(100, 0x8100), VlanTag(10, 0x0800), inner});
    ASSERT_EQ(DecodeBytes(LinkType::kEthernet, qinq, s), DecodeOutcome::kOk) << outer;
    EXPECT_EQ(s.vlan_depth, 2);
    EXPECT_EQ(s.dst_port, 2222);
  }
}

TEST(DecoderTest, TooManyVlanTagsAreRejected) {
  const Bytes frame = Cat({Ether(0x88A8), VlanTag(1, 0x8100), VlanTag(2, 0x8100),
                           VlanTag(3, 0x0800), Ipv4(Ipv4Spec{}), Tcp(1, 2, 0)});
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kVlanTooDeep);
}

TEST(DecoderTest, TruncatedVlanTag) {
  const Bytes frame = Cat({Ether(0x8100), Bytes{0x00}});
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kTruncatedVlan);
}

TEST(DecoderTest, NonIpEtherTypesAreNotIp) {
  PacketSummary s;
  const Bytes arp = Cat({Ether(0x0806), Bytes(28, 0)});
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, arp, s), DecodeOutcome::kNotIp);
  const Bytes llc = Cat({Ether(38), Bytes(38, 0)});  // 802.3 length field (STP)
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, llc, s), DecodeOutcome::kNotIp);
  EXPECT_FALSE(IsMalformed(DecodeOutcome::kNotIp));
}

Bytes SllHeader(unsigned protocol) {
  Bytes b;
  Put16(b, 0);  // packet type: to us
  Put16(b, 1);  // ARPHRD_ETHER
  Put16(b, 6);
  for (int i = 0; i < 8; ++i) {
    Put8(b, i < 6 ? 0x02 : 0);
  }
  Put16(b, protocol);
  return b;
}

Bytes Sll2Header(unsigned protocol) {
  Bytes b;
  Put16(b, protocol);
  Put16(b, 0);
  Put32(b, 3);  // interface index
  Put16(b, 1);  // ARPHRD_ETHER
  Put8(b, 0);
  Put8(b, 6);
  for (int i = 0; i < 8; ++i) {
    Put8(b, i < 6 ? 0x02 : 0);
  }
  return b;
}

TEST(DecoderTest, LinuxCookedV1) {
  Ipv4Spec ip;
  ip.proto = 17;
  ip.payload_len = 8;
  PacketSummary s;
  const Bytes frame = Cat({SllHeader(0x0800), Ipv4(ip), Udp(68, 67, 0)});
  ASSERT_EQ(DecodeBytes(LinkType::kLinuxSll, frame, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.dst_port, 67);
  const Bytes tagged = Cat({SllHeader(0x8100), VlanTag(5, 0x0800), Ipv4(ip), Udp(68, 67, 0)});
  ASSERT_EQ(DecodeBytes(LinkType::kLinuxSll, tagged, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.vlan_depth, 1);
  const Bytes short_header(frame.begin(), frame.begin() + 15);
  EXPECT_EQ(DecodeBytes(LinkType::kLinuxSll, short_header, s), DecodeOutcome::kTruncatedLink);
}

TEST(DecoderTest, LinuxCookedV2) {
  PacketSummary s;
  const Bytes frame = Cat({Sll2Header(0x86DD), Ipv6(6, 20), Tcp(3, 4, kTcpRst)});
  ASSERT_EQ(DecodeBytes(LinkType::kLinuxSll2, frame, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.tcp_flags, kTcpRst);
  EXPECT_EQ(s.dst_port, 4);
  const Bytes short_header(frame.begin(), frame.begin() + 19);
  EXPECT_EQ(DecodeBytes(LinkType::kLinuxSll2, short_header, s), DecodeOutcome::kTruncatedLink);
  const Bytes arp = Cat({Sll2Header(0x0806), Bytes(28, 0)});
  EXPECT_EQ(DecodeBytes(LinkType::kLinuxSll2, arp, s), DecodeOutcome::kNotIp);
}

TEST(DecoderTest, RawIpChecksTheVersionNibble) {
  Ipv4Spec ip;
  ip.payload_len = 20;
  PacketSummary s;
  const Bytes v4 = Cat({Ipv4(ip), Tcp(1, 80, 0)});
  EXPECT_EQ(DecodeBytes(LinkType::kRaw, v4, s), DecodeOutcome::kOk);
  EXPECT_EQ(DecodeBytes(LinkType::kIpv4, v4, s), DecodeOutcome::kOk);
  const Bytes v6 = Cat({Ipv6(6, 20), Tcp(1, 80, 0)});
  EXPECT_EQ(DecodeBytes(LinkType::kRaw, v6, s), DecodeOutcome::kOk);
  EXPECT_EQ(DecodeBytes(LinkType::kIpv6, v6, s), DecodeOutcome::kOk);
  EXPECT_TRUE(s.src.v6);
  Bytes v5 = v4;
  v5[0] = 0x55;
  EXPECT_EQ(DecodeBytes(LinkType::kRaw, v5, s), DecodeOutcome::kBadIpVersion);
  EXPECT_EQ(DecodeBytes(LinkType::kIpv4, v6, s), DecodeOutcome::kBadIpv4Header);
  EXPECT_EQ(DecodeBytes(LinkType::kIpv6, v4, s), DecodeOutcome::kBadIpVersion);
  EXPECT_EQ(DecodeBytes(LinkType::kRaw, Bytes{}, s), DecodeOutcome::kTruncatedLink);
}

TEST(DecoderTest, LinkTypeFromDltMapsEverySupportedValue) {
  LinkType link{};
  const std::pair<int, LinkType> expected[] = {
      {1, LinkType::kEthernet}, {12, LinkType::kRaw},       {14, LinkType::kRaw},
      {101, LinkType::kRaw},    {113, LinkType::kLinuxSll}, {276, LinkType::kLinuxSll2},
      {228, LinkType::kIpv4},   {229, LinkType::kIpv6},     {239, LinkType::kNflog}};
  for (const auto& [dlt, want] : expected) {
    ASSERT_TRUE(LinkTypeFromDlt(dlt, link)) << dlt;
    EXPECT_EQ(link, want) << dlt;
  }
  EXPECT_FALSE(LinkTypeFromDlt(105, link));  // 802.11
  EXPECT_FALSE(LinkTypeFromDlt(-1, link));
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(static_cast<LinkType>(105), TcpV4Frame(), s),
            DecodeOutcome::kUnsupportedLink);
}

// --- NFLOG ------------------------------------------------------------------------------------

Bytes NflogHeader(std::uint8_t family, unsigned group) {
  Bytes b = {family, 0};
  Put16(b, group);
  return b;
}

TEST(DecoderTest, NflogPayloadIsDecoded) {
  Ipv4Spec ip;
  ip.payload_len = 20;
  const Bytes packet = Cat({Ipv4(ip), Tcp(33000, 5432, kTcpSyn)});
  Bytes msg = NflogHeader(2, 5);
  PutTlv(msg, 1, Bytes{0x08, 0x00, 0x01, 0x00});                 // NFULA_PACKET_HDR
  PutTlv(msg, 10, Bytes{'v', 'i', 'o', 'l', 'a', 't', 'e', 0});  // NFULA_PREFIX, odd length
  PutTlv(msg, 4, Bytes{0, 0, 0, 3});                             // NFULA_IFINDEX_OUTDEV
  PutTlv(msg, 9, packet);                                        // NFULA_PAYLOAD
  PacketSummary s;
  ASSERT_EQ(DecodeBytes(LinkType::kNflog, msg, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.dst_port, 5432);
  EXPECT_EQ(s.src, V4("10.0.0.1"));
}

TEST(DecoderTest, NflogPayloadCutByKernelCopyRangeIsStillRead) {
  // `log group 5 snaplen 60`: the kernel copies the first 60 bytes and the TLV says 60, while
  // IPv4 Total Length says 1040. The headers are all there, so this is a good packet.
  Ipv4Spec ip;
  ip.payload_len = 20 + 1000;
  Bytes packet = Cat({Ipv4(ip), Tcp(1, 443, kTcpAck), Bytes(20, 0)});
  Bytes msg = NflogHeader(2, 5);
  PutTlv(msg, 9, packet);
  PacketSummary s;
  ASSERT_EQ(DecodeBytes(LinkType::kNflog, msg, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.ip_len, 1040U);
}

TEST(DecoderTest, NflogMalformations) {
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(LinkType::kNflog, Bytes{2, 0, 0}, s), DecodeOutcome::kTruncatedNflog);
  EXPECT_EQ(DecodeBytes(LinkType::kNflog, Bytes{2, 1, 0, 5}, s), DecodeOutcome::kUnsupportedLink);
  // A TLV shorter than its own header.
  Bytes zero = NflogHeader(2, 5);
  PutHost16(zero, 2);
  PutHost16(zero, 1);
  EXPECT_EQ(DecodeBytes(LinkType::kNflog, zero, s), DecodeOutcome::kBadNflogTlv);
  // A TLV longer than the message.
  Bytes longer = NflogHeader(2, 5);
  PutHost16(longer, 400);
  PutHost16(longer, 10);
  longer.resize(longer.size() + 8, 'x');
  EXPECT_EQ(DecodeBytes(LinkType::kNflog, longer, s), DecodeOutcome::kBadNflogTlv);
  // No payload TLV: a log message without the packet.
  Bytes no_payload = NflogHeader(2, 5);
  PutTlv(no_payload, 10, Bytes{'x', 0});
  EXPECT_EQ(DecodeBytes(LinkType::kNflog, no_payload, s), DecodeOutcome::kNotIp);
  // A payload that is not IP.
  Bytes junk = NflogHeader(2, 5);
  PutTlv(junk, 9, Bytes{0x11, 0x22, 0x33, 0x44});
  EXPECT_EQ(DecodeBytes(LinkType::kNflog, junk, s), DecodeOutcome::kBadIpVersion);
  // Many small TLVs: the walk stops at its bound instead of reading forever.
  Bytes many = NflogHeader(2, 5);
  for (int i = 0; i < 100; ++i) {
    PutTlv(many, 10, Bytes{});
  }
  PutTlv(many, 9, Cat({Ipv4(Ipv4Spec{}), Tcp(1, 2, 0)}));
  EXPECT_EQ(DecodeBytes(LinkType::kNflog, many, s), DecodeOutcome::kNflogTooManyTlvs);
}

// --- transports -------------------------------------------------------------------------------

TEST(DecoderTest, TcpDataOffsetBelowFiveIsBad) {
  for (int offset = 0; offset < 5; ++offset) {
    Ipv4Spec ip;
    ip.payload_len = 20;
    const Bytes frame = Cat({Ether(0x0800), Ipv4(ip), Tcp(1, 2, 0, 0, offset)});
    PacketSummary s;
    EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kBadTcpOffset) << offset;
    EXPECT_FALSE(s.has_ports);
  }
}

TEST(DecoderTest, TcpDataOffsetPastTheSegmentIsBad) {
  Ipv4Spec ip;
  ip.payload_len = 20;
  const Bytes frame = Cat({Ether(0x0800), Ipv4(ip), Tcp(1, 2, 0, 0, 15)});
  PacketSummary s;
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kBadTcpOffset);
}

TEST(DecoderTest, UdpLengthSanity) {
  Ipv4Spec ip;
  ip.proto = 17;
  ip.payload_len = 8 + 4;
  PacketSummary s;
  const Bytes good = Cat({Ether(0x0800), Ipv4(ip), Udp(5000, 6000, 4), Bytes(4, 0)});
  ASSERT_EQ(DecodeBytes(LinkType::kEthernet, good, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.src_port, 5000);
  EXPECT_EQ(s.dst_port, 6000);
  EXPECT_EQ(s.proto, 17);
  EXPECT_TRUE(s.has_ports);
  const Bytes too_short = Cat({Ether(0x0800), Ipv4(ip), Udp(1, 2, 0, 7), Bytes(4, 0)});
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, too_short, s), DecodeOutcome::kBadUdpLength);
  const Bytes too_long = Cat({Ether(0x0800), Ipv4(ip), Udp(1, 2, 0, 13), Bytes(4, 0)});
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, too_long, s), DecodeOutcome::kBadUdpLength);
  ip.payload_len = 6;
  const Bytes no_header = Cat({Ether(0x0800), Ipv4(ip), Bytes(6, 0)});
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, no_header, s), DecodeOutcome::kTruncatedUdp);
}

TEST(DecoderTest, IcmpEchoIdentifierGoesInSourcePort) {
  Ipv4Spec ip;
  ip.proto = 1;
  ip.payload_len = 8;
  PacketSummary s;
  const Bytes echo = Cat({Ether(0x0800), Ipv4(ip), Icmp(8, 0, 0x4242)});
  ASSERT_EQ(DecodeBytes(LinkType::kEthernet, echo, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.proto, 1);
  EXPECT_EQ(s.icmp_type, 8);
  EXPECT_EQ(s.icmp_code, 0);
  EXPECT_EQ(s.src_port, 0x4242);
  EXPECT_EQ(s.dst_port, 0);
  EXPECT_FALSE(s.has_ports);
  const Bytes unreachable = Cat({Ether(0x0800), Ipv4(ip), Icmp(3, 3, 0x4242)});
  ASSERT_EQ(DecodeBytes(LinkType::kEthernet, unreachable, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.icmp_type, 3);
  EXPECT_EQ(s.icmp_code, 3);
  EXPECT_EQ(s.src_port, 0);  // not an echo: the bytes are not an identifier
  ip.payload_len = 6;
  const Bytes cut_echo = Cat({Ether(0x0800), Ipv4(ip), Bytes{8, 0, 0, 0, 0x42, 0x42}});
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, cut_echo, s), DecodeOutcome::kTruncatedIcmp);
}

TEST(DecoderTest, Icmpv6EchoAndNeighbourDiscovery) {
  PacketSummary s;
  const Bytes reply = Cat({Ether(0x86DD), Ipv6(58, 8), Icmp(129, 0, 77)});
  ASSERT_EQ(DecodeBytes(LinkType::kEthernet, reply, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.proto, 58);
  EXPECT_EQ(s.icmp_type, 129);
  EXPECT_EQ(s.src_port, 77);
  const Bytes ns = Cat({Ether(0x86DD), Ipv6(58, 8), Icmp(135, 0, 0x1111)});
  ASSERT_EQ(DecodeBytes(LinkType::kEthernet, ns, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.icmp_type, 135);
  EXPECT_EQ(s.src_port, 0);
  const Bytes cut = Cat({Ether(0x86DD), Ipv6(58, 3), Bytes{128, 0, 0}});
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, cut, s), DecodeOutcome::kTruncatedIcmp);
}

TEST(DecoderTest, SctpPortsFromTheCommonHeader) {
  Ipv4Spec ip;
  ip.proto = 132;
  ip.payload_len = 12;
  PacketSummary s;
  const Bytes frame = Cat({Ether(0x0800), Ipv4(ip), Sctp(2905, 3868)});
  ASSERT_EQ(DecodeBytes(LinkType::kEthernet, frame, s), DecodeOutcome::kOk);
  EXPECT_EQ(s.proto, 132);
  EXPECT_EQ(s.src_port, 2905);
  EXPECT_EQ(s.dst_port, 3868);
  EXPECT_TRUE(s.has_ports);
  ip.payload_len = 10;
  const Bytes cut = Cat({Ether(0x0800), Ipv4(ip), Bytes(10, 1)});
  EXPECT_EQ(DecodeBytes(LinkType::kEthernet, cut, s), DecodeOutcome::kTruncatedSctp);
}

// --- names and counters -----------------------------------------------------------------------

TEST(DecoderTest, OutcomeNamesAreUniqueSnakeCase) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < kDecodeOutcomeCount; ++i) {
    const std::string name = Name(static_cast<DecodeOutcome>(i));
    EXPECT_NE(name, "unknown") << i;
    for (char c : name) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') << name;
    }
    names.insert(name);
  }
  EXPECT_EQ(names.size(), kDecodeOutcomeCount);
  EXPECT_EQ(Name(DecodeOutcome::kTruncatedIpv4), "truncated_ipv4");
  EXPECT_EQ(Name(DecodeOutcome::kBadIpv6ExtChain), "bad_ipv6_ext_chain");
}

TEST(DecoderTest, CountersSumMalformedOnly) {
  DecodeCounters a;
  a.Count(DecodeOutcome::kOk);
  a.Count(DecodeOutcome::kNotIp);
  a.Count(DecodeOutcome::kTruncatedIpv4);
  a.Count(DecodeOutcome::kBadTcpOffset);
  DecodeCounters b;
  b.Count(DecodeOutcome::kTruncatedIpv4);
  a.Add(b);
  EXPECT_EQ(a.Malformed(), 3U);
  EXPECT_EQ(a.Get(DecodeOutcome::kTruncatedIpv4), 2U);
  EXPECT_EQ(a.Get(DecodeOutcome::kOk), 1U);
}

}  // namespace
}  // namespace bulkhead::capture
