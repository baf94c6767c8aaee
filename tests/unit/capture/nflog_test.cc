#include "capture/nflog.h"

#include <gtest/gtest.h>

#include <bit>
#include <string>

#include "tests/unit/capture/packet_builder.h"

namespace bulkhead::capture {
namespace {

using namespace bulkhead::capture::testing;

Bytes Header(std::uint8_t family = 2, unsigned group = 7) {
  Bytes b = {family, 0};
  Put16(b, group);
  return b;
}

Bytes Text(const std::string& s) {
  Bytes b(s.begin(), s.end());
  b.push_back(0);
  return b;
}

Bytes TcpPacket() {
  Ipv4Spec ip;
  ip.payload_len = 20;
  return Cat({Ipv4(ip), Tcp(33000, 5432, kTcpSyn)});
}

TEST(NflogTest, ReturnsGroupFamilyPrefixAndPayload) {
  Bytes msg = Header(10, 0x1234);
  PutTlv(msg, 1, Bytes{0x86, 0xdd, 1, 0});  // NFULA_PACKET_HDR
  PutTlv(msg, 10, Text("bulkhead deny "));  // NFULA_PREFIX
  PutTlv(msg, 5, Bytes{0, 0, 0, 3});        // NFULA_IFINDEX_OUTDEV
  const Bytes packet = TcpPacket();
  PutTlv(msg, 9, packet);
  NflogMessage m;
  ASSERT_EQ(WalkNflog(msg, m), DecodeOutcome::kOk);
  EXPECT_EQ(m.family, 10);
  EXPECT_EQ(m.group, 0x1234);
  EXPECT_EQ(m.prefix, "bulkhead deny ");
  ASSERT_TRUE(m.has_payload);
  EXPECT_EQ(Bytes(m.payload.begin(), m.payload.end()), packet);
}

TEST(NflogTest, DecodeKeepsThePrefixBesideTheSummary) {
  Bytes msg = Header();
  PutTlv(msg, 10, Text("bulkhead warn "));
  PutTlv(msg, 9, TcpPacket());
  RawFrame frame;
  frame.ts_usec = 42;
  frame.data = msg;
  frame.wire_len = static_cast<std::uint32_t>(msg.size());
  PacketSummary s;
  NflogMessage m;
  ASSERT_EQ(DecodeNflog(frame, s, m), DecodeOutcome::kOk);
  EXPECT_EQ(m.prefix, "bulkhead warn ");
  EXPECT_EQ(s.dst_port, 5432);
  EXPECT_EQ(s.ts_usec, 42U);
}

TEST(NflogTest, PrefixWithoutNulIsTakenWholeAndAfterThePayloadIsNotRead) {
  Bytes msg = Header();
  PutTlv(msg, 10, Bytes{'a', 'b', 'c'});
  PutTlv(msg, 9, TcpPacket());
  NflogMessage m;
  ASSERT_EQ(WalkNflog(msg, m), DecodeOutcome::kOk);
  EXPECT_EQ(m.prefix, "abc");

  Bytes late = Header();
  PutTlv(late, 9, TcpPacket());
  PutTlv(late, 10, Text("bulkhead deny "));
  ASSERT_EQ(WalkNflog(late, m), DecodeOutcome::kOk);
  EXPECT_EQ(m.prefix, "");  // the kernel writes the payload last: nothing after it is trusted
}

TEST(NflogTest, NoPayloadIsNotIpWithThePrefixKept) {
  Bytes msg = Header();
  PutTlv(msg, 10, Text("bulkhead tagged "));
  NflogMessage m;
  EXPECT_EQ(WalkNflog(msg, m), DecodeOutcome::kNotIp);
  EXPECT_EQ(m.prefix, "bulkhead tagged ");
  EXPECT_FALSE(m.has_payload);
}

TEST(NflogTest, EachMalformationHasItsOwnReason) {
  NflogMessage m;
  EXPECT_EQ(WalkNflog(Bytes{2, 0, 0}, m), DecodeOutcome::kTruncatedNflog);
  EXPECT_EQ(WalkNflog(Bytes{2, 1, 0, 7}, m), DecodeOutcome::kUnsupportedLink);
  Bytes short_tlv_header = Header();
  PutHost16(short_tlv_header, 8);
  EXPECT_EQ(WalkNflog(short_tlv_header, m), DecodeOutcome::kTruncatedNflog);
  for (const int length : {0, 1, 3}) {
    Bytes tiny = Header();
    PutTlv(tiny, 1, Bytes{}, length);
    PutTlv(tiny, 9, TcpPacket());
    EXPECT_EQ(WalkNflog(tiny, m), DecodeOutcome::kBadNflogTlv) << length;
  }
  Bytes past_end = Header();
  PutTlv(past_end, 10, Text("bulk"), 0xFFFF);
  EXPECT_EQ(WalkNflog(past_end, m), DecodeOutcome::kBadNflogTlv);
  Bytes many = Header();
  for (int i = 0; i < 40; ++i) {
    PutTlv(many, 5, Bytes{0, 0, 0, 1});
  }
  PutTlv(many, 9, TcpPacket());
  EXPECT_EQ(WalkNflog(many, m), DecodeOutcome::kNflogTooManyTlvs);
  EXPECT_EQ(DecodeOutcomeName(DecodeOutcome::kTruncatedNflog), "truncated_nflog");
  EXPECT_EQ(DecodeOutcomeName(DecodeOutcome::kBadNflogTlv), "bad_nflog_tlv");
  EXPECT_EQ(DecodeOutcomeName(DecodeOutcome::kNflogTooManyTlvs), "nflog_too_many_tlvs");
  EXPECT_TRUE(IsMalformed(DecodeOutcome::kBadNflogTlv));
}

TEST(NflogTest, PayloadCutByTheCaptureIsTakenAsCaptured) {
  Bytes msg = Header();
  const Bytes packet = TcpPacket();
  PutTlv(msg, 9, packet, static_cast<int>(packet.size() + 4 + 1000));
  NflogMessage m;
  ASSERT_EQ(WalkNflog(msg, m), DecodeOutcome::kOk);
  EXPECT_EQ(m.payload.size(), packet.size());
}

}  // namespace
}  // namespace bulkhead::capture
