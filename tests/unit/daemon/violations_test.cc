#include "daemon/violations.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/src.hpp>  // Boost.JSON header-only: compiled into this one test

namespace bulkhead::daemon {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Builds a DLT_NFLOG record the way the kernel and libpcap hand it over: family, version 0,
// resource id (big-endian), then TLVs whose length and type are in host byte order, each padded
// to 4 bytes.
class NflogBuilder {
 public:
  explicit NflogBuilder(std::uint8_t family = 2, std::uint16_t group = 7) {
    bytes_ = {family, 0, static_cast<std::uint8_t>(group >> 8),
              static_cast<std::uint8_t>(group & 0xFF)};
  }
  NflogBuilder& Tlv(std::uint16_t type, const Bytes& value, bool pad = true) {
    return RawTlv(static_cast<std::uint16_t>(value.size() + 4), type, value, pad);
  }
  // A TLV whose length field says `length` whatever the value holds.
  NflogBuilder& RawTlv(std::uint16_t length, std::uint16_t type, const Bytes& value,
                       bool pad = true) {
    std::uint8_t header[4];
    std::memcpy(header, &length, 2);
    std::memcpy(header + 2, &type, 2);
    bytes_.insert(bytes_.end(), header, header + 4);
    bytes_.insert(bytes_.end(), value.begin(), value.end());
    while (pad && bytes_.size() % 4 != 0) {
      bytes_.push_back(0);
    }
    return *this;
  }
  NflogBuilder& Prefix(const std::string& text) {
    Bytes value(text.begin(), text.end());
    value.push_back(0);
    return Tlv(10, value);
  }
  NflogBuilder& Payload(const Bytes& packet) { return Tlv(9, packet, false); }
  const Bytes& bytes() const { return bytes_; }

 private:
  Bytes bytes_;
};

Bytes Ipv4(std::uint8_t proto, const Bytes& transport) {
  const auto total = static_cast<std::uint16_t>(20 + transport.size());
  const std::array<std::uint8_t, 20> header = {0x45,
                                               0,
                                               static_cast<std::uint8_t>(total >> 8),
                                               static_cast<std::uint8_t>(total),
                                               0,
                                               0,
                                               0x40,
                                               0,  // DF, offset 0
                                               64,
                                               proto,
                                               0,
                                               0,  // TTL, protocol, checksum
                                               10,
                                               0,
                                               0,
                                               2,  // 10.0.0.2
                                               10,
                                               0,
                                               0,
                                               3};  // 10.0.0.3
  // Sized once and filled, not grown by insert: GCC 12 at -O3 reports a false array-bounds
  // error for an insert after an initializer list.
  Bytes p(header.size() + transport.size());
  std::copy(header.begin(), header.end(), p.begin());
  std::copy(transport.begin(), transport.end(),
            p.begin() + static_cast<std::ptrdiff_t>(header.size()));
  return p;
}

Bytes TcpSyn(std::uint16_t dport) {
  return {0x9c,
          0x40,
          static_cast<std::uint8_t>(dport >> 8),
          static_cast<std::uint8_t>(dport),
          0,
          0,
          0,
          1,
          0,
          0,
          0,
          0,  // seq, ack
          0x50,
          0x02,
          0xff,
          0xff,  // offset 5, SYN, window
          0,
          0,
          0,
          0};  // checksum, urgent
}

Bytes Ipv6Udp(std::uint16_t dport) {
  Bytes p = {0x60, 0, 0, 0, 0, 8, 17, 64};  // payload 8, next header UDP, hop limit
  const Bytes src = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  const Bytes dst = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3};
  p.insert(p.end(), src.begin(), src.end());
  p.insert(p.end(), dst.begin(), dst.end());
  const Bytes udp = {
      0x04, 0xd2, static_cast<std::uint8_t>(dport >> 8), static_cast<std::uint8_t>(dport), 0, 8,
      0,    0};
  p.insert(p.end(), udp.begin(), udp.end());
  return p;
}

bool Parse(const Bytes& frame, NflogRecord& out) {
  return ParseNflogFrame(frame.data(), frame.size(), 1'000'000, out);
}

TEST(ParseNflogFrameTest, Ipv4Tcp) {
  const Bytes frame = NflogBuilder()
                          .Tlv(1, {0x08, 0x00, 1, 0})  // NFULA_PACKET_HDR
                          .Prefix("bulkhead deny ")
                          .Tlv(5, {0, 0, 0, 1})  // NFULA_IFINDEX_OUTDEV
                          .Payload(Ipv4(6, TcpSyn(5432)))
                          .bytes();
  NflogRecord r;
  ASSERT_TRUE(Parse(frame, r));
  EXPECT_EQ(r.prefix, "bulkhead deny");
  EXPECT_EQ(r.ts_usec, 1'000'000U);
  EXPECT_EQ(r.src.ToString(), "10.0.0.2");
  EXPECT_EQ(r.dst.ToString(), "10.0.0.3");
  EXPECT_EQ(r.proto, 6);
  EXPECT_EQ(r.dst_port, 5432);
}

TEST(ParseNflogFrameTest, Ipv6Udp) {
  const Bytes frame = NflogBuilder(10).Prefix("bulkhead warn ").Payload(Ipv6Udp(53)).bytes();
  NflogRecord r;
  ASSERT_TRUE(Parse(frame, r));
  EXPECT_EQ(r.prefix, "bulkhead warn");
  EXPECT_EQ(r.src.ToString(), "fd00::2");
  EXPECT_EQ(r.dst.ToString(), "fd00::3");
  EXPECT_EQ(r.proto, 17);
  EXPECT_EQ(r.dst_port, 53);
}

TEST(ParseNflogFrameTest, IcmpPortIsTheType) {
  const Bytes echo = {8, 0, 0, 0, 0, 1, 0, 1};  // echo request, id 1, seq 1
  const Bytes frame = NflogBuilder().Prefix("bulkhead spoofed ").Payload(Ipv4(1, echo)).bytes();
  NflogRecord r;
  ASSERT_TRUE(Parse(frame, r));
  EXPECT_EQ(r.prefix, "bulkhead spoofed");
  EXPECT_EQ(r.proto, 1);
  EXPECT_EQ(r.dst_port, 8);
}

TEST(ParseNflogFrameTest, OtherTransportHasNoPort) {
  const Bytes gre = {0, 0, 0x08, 0x00};
  const Bytes frame = NflogBuilder().Prefix("bulkhead deny ").Payload(Ipv4(47, gre)).bytes();
  NflogRecord r;
  ASSERT_TRUE(Parse(frame, r));
  EXPECT_EQ(r.proto, 47);
  EXPECT_EQ(r.dst_port, 0);
}

TEST(ParseNflogFrameTest, PayloadCutByTheSnaplenStillDecodes) {
  // The TLV says 1000 bytes of packet, the capture holds the headers only.
  Bytes packet = Ipv4(6, TcpSyn(80));
  const Bytes frame = NflogBuilder().Prefix("bulkhead deny ").RawTlv(1004, 9, packet).bytes();
  NflogRecord r;
  ASSERT_TRUE(Parse(frame, r));
  EXPECT_EQ(r.dst_port, 80);
}

TEST(ParseNflogFrameTest, MissingPrefixIsRejected) {
  const Bytes frame = NflogBuilder().Payload(Ipv4(6, TcpSyn(80))).bytes();
  NflogRecord r;
  EXPECT_FALSE(Parse(frame, r));
}

TEST(ParseNflogFrameTest, ForeignPrefixIsRejected) {
  NflogRecord r;
  EXPECT_FALSE(Parse(NflogBuilder().Prefix("ulogd drop ").Payload(Ipv4(6, TcpSyn(80))).bytes(), r));
  EXPECT_FALSE(Parse(NflogBuilder().Prefix("bulkhead").Payload(Ipv4(6, TcpSyn(80))).bytes(), r));
  EXPECT_FALSE(Parse(NflogBuilder().Prefix("").Payload(Ipv4(6, TcpSyn(80))).bytes(), r));
}

TEST(ParseNflogFrameTest, MissingOrBrokenPacketIsRejected) {
  NflogRecord r;
  EXPECT_FALSE(Parse(NflogBuilder().Prefix("bulkhead deny ").bytes(), r));
  const Bytes tcp = TcpSyn(80);
  const Bytes cut_tcp(tcp.begin(), tcp.begin() + 10);
  EXPECT_FALSE(Parse(NflogBuilder().Prefix("bulkhead deny ").Payload(Ipv4(6, cut_tcp)).bytes(), r));
  EXPECT_FALSE(Parse(NflogBuilder().Prefix("bulkhead deny ").Payload({0x45, 0, 0}).bytes(), r));
  EXPECT_FALSE(Parse(NflogBuilder().Prefix("bulkhead deny ").Payload({0x00, 1, 2, 3}).bytes(), r));
}

TEST(ParseNflogFrameTest, TruncatedFramesAreRejected) {
  const Bytes frame = NflogBuilder().Prefix("bulkhead deny ").Payload(Ipv4(6, TcpSyn(80))).bytes();
  NflogRecord r;
  // Every cut before the transport header is complete must fail, and none may read past the
  // end (the sanitizer build checks that).
  const std::size_t whole_headers = 4 + 20 + 4 + 20 + 20;
  for (std::size_t n = 0; n < whole_headers; ++n) {
    const Bytes cut(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(ParseNflogFrame(cut.data(), cut.size(), 0, r)) << "cut at " << n;
  }
  EXPECT_FALSE(ParseNflogFrame(nullptr, 0, 0, r));
}

TEST(ParseNflogFrameTest, HugeAndTinyLengthsAreRejected) {
  NflogRecord r;
  // A prefix TLV claiming 64 KiB in a 40-byte frame.
  EXPECT_FALSE(Parse(NflogBuilder().RawTlv(0xFFFF, 10, {'b', 'u', 'l', 'k', 0}).bytes(), r));
  // Another TLV before the prefix claiming more than is there.
  EXPECT_FALSE(Parse(NflogBuilder()
                         .RawTlv(0xFFF0, 1, {0, 0, 0, 0})
                         .Prefix("bulkhead deny ")
                         .Payload(Ipv4(6, TcpSyn(80)))
                         .bytes(),
                     r));
  // Lengths shorter than the TLV header itself (0 would loop forever if walked naively).
  for (const std::uint16_t len : {std::uint16_t{0}, std::uint16_t{1}, std::uint16_t{3}}) {
    EXPECT_FALSE(Parse(NflogBuilder()
                           .RawTlv(len, 1, {})
                           .Prefix("bulkhead deny ")
                           .Payload(Ipv4(6, TcpSyn(80)))
                           .bytes(),
                       r))
        << len;
  }
  // An IPv4 header length (IHL 15: 60 bytes) beyond the datagram's total length (40).
  Bytes bad_ihl = Ipv4(6, TcpSyn(80));
  bad_ihl[0] = 0x4F;
  EXPECT_FALSE(Parse(NflogBuilder().Prefix("bulkhead deny ").Payload(bad_ihl).bytes(), r));
}

TEST(ParseNflogFrameTest, TooManyTlvsAreRejected) {
  NflogBuilder b;
  for (int i = 0; i < 40; ++i) {
    b.Tlv(5, {0, 0, 0, 1});
  }
  b.Prefix("bulkhead deny ").Payload(Ipv4(6, TcpSyn(80)));
  NflogRecord r;
  EXPECT_FALSE(Parse(b.bytes(), r));
}

TEST(ParseNflogFrameTest, WrongVersionIsRejected) {
  Bytes frame = NflogBuilder().Prefix("bulkhead deny ").Payload(Ipv4(6, TcpSyn(80))).bytes();
  frame[1] = 1;
  NflogRecord r;
  EXPECT_FALSE(Parse(frame, r));
}

Violation Sample() {
  Violation v;
  v.ts_usec = 1795946400'123456;  // 2026-11-29T10:00:00.123456Z
  v.verdict = "blocked";
  v.from = {"shop-api-1", "api", "10.0.0.2", ""};
  v.to = {"", "world", "203.0.113.9", ""};
  v.protocol = "tcp";
  v.port = 5432;
  return v;
}

TEST(ViolationJsonTest, Shape) {
  EXPECT_EQ(ViolationJson(Sample()),
            "{\"time\":\"2026-11-29T10:00:00.123Z\",\"verdict\":\"blocked\","
            "\"from\":{\"workload\":\"shop-api-1\",\"group\":\"api\",\"address\":\"10.0.0.2\"},"
            "\"to\":{\"workload\":\"\",\"group\":\"world\",\"address\":\"203.0.113.9\"},"
            "\"protocol\":\"tcp\",\"port\":5432}");
}

TEST(ViolationJsonTest, ClusterEndpointsNameTheirNodes) {
  Violation v = Sample();
  v.from = {"shop/frontend-1", "shop/frontend", "10.1.0.5", "node-a"};
  v.to = {"shop/db-0", "shop/db", "10.2.0.7", "node-b"};
  EXPECT_EQ(ViolationJson(v),
            "{\"time\":\"2026-11-29T10:00:00.123Z\",\"verdict\":\"blocked\","
            "\"from\":{\"workload\":\"shop/frontend-1\",\"group\":\"shop/frontend\","
            "\"address\":\"10.1.0.5\",\"node\":\"node-a\"},"
            "\"to\":{\"workload\":\"shop/db-0\",\"group\":\"shop/db\",\"address\":\"10.2.0.7\","
            "\"node\":\"node-b\"},\"protocol\":\"tcp\",\"port\":5432}");
}

TEST(ViolationJsonTest, EpochAndMillisecondRounding) {
  Violation v = Sample();
  v.ts_usec = 999;
  EXPECT_EQ(ViolationJson(v).substr(0, 34), "{\"time\":\"1970-01-01T00:00:00.000Z\"");
  v.ts_usec = 1'999'999;
  EXPECT_EQ(ViolationJson(v).substr(0, 34), "{\"time\":\"1970-01-01T00:00:01.999Z\"");
}

TEST(ViolationJsonTest, EscapesAttackerControlledNames) {
  Violation v = Sample();
  v.from.workload = "evil\"},\"verdict\":\"ok";
  v.from.group = "back\\slash";
  v.to.workload = "line\nbreak\ttab\x01\x1f";
  v.to.group = "del\x7f";
  const std::string json = ViolationJson(v);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_NE(json.find("\"evil\\\"},\\\"verdict\\\":\\\"ok\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"back\\\\slash\""), std::string::npos) << json;
  EXPECT_NE(json.find("line\\nbreak\\ttab\\u0001\\u001F"), std::string::npos) << json;
  // It still parses, and the names come back exactly.
  const boost::json::value parsed = boost::json::parse(json);
  EXPECT_EQ(parsed.at("verdict").as_string(), "blocked");
  EXPECT_EQ(parsed.at("from").at("workload").as_string(), v.from.workload);
  EXPECT_EQ(parsed.at("from").at("group").as_string(), v.from.group);
  EXPECT_EQ(parsed.at("to").at("workload").as_string(), v.to.workload);
  EXPECT_EQ(parsed.at("to").at("group").as_string(), v.to.group);
  EXPECT_EQ(parsed.at("port").as_int64(), 5432);
}

TEST(ViolationJsonTest, InvalidUtf8BecomesReplacementCharacter) {
  Violation v = Sample();
  v.from.workload = std::string("bad\xff\xfe name\xc3", 11);
  v.to.workload = "caf\xc3\xa9";  // valid UTF-8 passes through
  const std::string json = ViolationJson(v);
  boost::json::error_code ec;
  const boost::json::value parsed = boost::json::parse(json, ec);  // rejects invalid UTF-8
  ASSERT_FALSE(ec) << ec.message() << ": " << json;
  const std::string from(parsed.at("from").at("workload").as_string());
  EXPECT_EQ(from.find('\xff'), std::string::npos);
  EXPECT_NE(from.find("\xef\xbf\xbd"), std::string::npos) << from;
  EXPECT_EQ(parsed.at("to").at("workload").as_string(), "caf\xc3\xa9");
}

}  // namespace
}  // namespace bulkhead::daemon
