#include "capture/pcap_file_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/unit/capture/packet_builder.h"
#include "tests/unit/capture/pcap_file_builder.h"

namespace bulkhead::capture {
namespace {

using namespace bulkhead::capture::testing;

struct RecordingSink : PacketSink {
  void OnPacket(const PacketSummary& p) override { packets.push_back(p); }
  std::vector<PacketSummary> packets;
};

Bytes UdpFrame(unsigned sport, unsigned dport) {
  Ipv4Spec ip;
  ip.proto = 17;
  ip.payload_len = 8;
  return Cat({Ether(0x0800), Ipv4(ip), Udp(sport, dport, 0)});
}

// Reads a source to its end in batches of `batch`; returns the error message or "".
std::string ReadAll(PacketSource& source, PacketSink& sink, int batch = 3) {
  for (int guard = 0; guard < 10000; ++guard) {
    auto state = source.Dispatch(batch, sink);
    if (!state) {
      return state.error().message;
    }
    if (*state == DispatchState::kEndOfInput) {
      return "";
    }
  }
  return "never ended";
}

TEST(PcapFileSourceTest, ReadsAGoodPcap) {
  Bytes content = PcapHeader();
  for (unsigned i = 0; i < 7; ++i) {
    content = Cat({content, PcapRecord(UdpFrame(1000 + i, 53))});
  }
  content = Cat({content, PcapRecord(Cat({Ether(0x0806), Bytes(28, 0)}))});  // ARP
  TempFile file(content);
  auto source = PcapFileSource::Open(file.path());
  ASSERT_TRUE(source) << source.error().message;
  EXPECT_EQ((*source)->Name(), file.path());
  EXPECT_EQ((*source)->SelectableFd(), -1);
  EXPECT_EQ((*source)->link_type(), LinkType::kEthernet);
  RecordingSink sink;
  // Batches are bounded: the first Dispatch hands over at most 3 frames.
  auto first = (*source)->Dispatch(3, sink);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, DispatchState::kMore);
  EXPECT_EQ(sink.packets.size(), 3U);
  EXPECT_EQ(ReadAll(**source, sink), "");
  ASSERT_EQ(sink.packets.size(), 7U);
  EXPECT_EQ(sink.packets[6].src_port, 1006);
  EXPECT_EQ(sink.packets[0].dst_port, 53);
  EXPECT_EQ(sink.packets[0].ts_usec, 1700000000ULL * 1000000ULL + 250);
  const SourceStats stats = (*source)->Stats();
  EXPECT_EQ(stats.frames, 8U);
  EXPECT_EQ(stats.delivered, 7U);
  EXPECT_EQ(stats.decode.Get(DecodeOutcome::kNotIp), 1U);
  EXPECT_EQ((*source)->Warning(), "");
  // Reading past the end stays at the end.
  auto again = (*source)->Dispatch(3, sink);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, DispatchState::kEndOfInput);
}

TEST(PcapFileSourceTest, NanosecondPcapTimestampsAreMicroseconds) {
  TempFile file(Cat({PcapHeader(1, 0xa1b23c4d), PcapRecord(UdpFrame(1, 2), 10, 123456789)}));
  auto source = PcapFileSource::Open(file.path());
  ASSERT_TRUE(source) << source.error().message;
  RecordingSink sink;
  EXPECT_EQ(ReadAll(**source, sink), "");
  ASSERT_EQ(sink.packets.size(), 1U);
  EXPECT_EQ(sink.packets[0].ts_usec, 10'123'456U);
}

TEST(PcapFileSourceTest, ReadsPcapng) {
  TempFile file(PcapngFile({UdpFrame(10, 20), UdpFrame(11, 21), UdpFrame(12, 22)}));
  auto source = PcapFileSource::Open(file.path());
  ASSERT_TRUE(source) << source.error().message;
  RecordingSink sink;
  EXPECT_EQ(ReadAll(**source, sink, 2), "");
  ASSERT_EQ(sink.packets.size(), 3U);
  EXPECT_EQ(sink.packets[2].dst_port, 22);
  EXPECT_EQ(sink.packets[0].ts_usec, 1700000000ULL * 1000000ULL + 500);
}

TEST(PcapFileSourceTest, RawIpLinkTypeIsDecoded) {
  Ipv4Spec ip;
  ip.payload_len = 20;
  TempFile file(Cat({PcapHeader(101), PcapRecord(Cat({Ipv4(ip), Tcp(5, 6, kTcpSyn)}))}));
  auto source = PcapFileSource::Open(file.path());
  ASSERT_TRUE(source) << source.error().message;
  EXPECT_EQ((*source)->link_type(), LinkType::kRaw);
  RecordingSink sink;
  EXPECT_EQ(ReadAll(**source, sink), "");
  ASSERT_EQ(sink.packets.size(), 1U);
  EXPECT_EQ(sink.packets[0].dst_port, 6);
}

TEST(PcapFileSourceTest, MissingFile) {
  auto source = PcapFileSource::Open("/nonexistent/bulkhead/none.pcap");
  ASSERT_FALSE(source);
  EXPECT_EQ(source.error().message, "/nonexistent/bulkhead/none.pcap: no such file");
}

TEST(PcapFileSourceTest, NotACapture) {
  const std::string text = "apiVersion: bulkhead/v1\nkind: FlowGraph\n";
  TempFile file(Bytes(text.begin(), text.end()));
  auto source = PcapFileSource::Open(file.path());
  ASSERT_FALSE(source);
  EXPECT_EQ(source.error().message,
            file.path() + ": not a pcap or pcapng capture (unknown magic number)");
}

TEST(PcapFileSourceTest, EmptyFile) {
  TempFile file(Bytes{});
  auto source = PcapFileSource::Open(file.path());
  ASSERT_FALSE(source);
  EXPECT_EQ(source.error().message, file.path() + ": empty file, not a pcap or pcapng capture");
}

TEST(PcapFileSourceTest, TruncatedFileHeader) {
  const Bytes header = PcapHeader();
  TempFile file(Bytes(header.begin(), header.begin() + 10));
  auto source = PcapFileSource::Open(file.path());
  ASSERT_FALSE(source);
  EXPECT_EQ(source.error().message.rfind(file.path() + ": truncated file header", 0), 0U)
      << source.error().message;
}

TEST(PcapFileSourceTest, HeaderOnlyFileIsEmptyInput) {
  TempFile file(PcapHeader());
  auto source = PcapFileSource::Open(file.path());
  ASSERT_TRUE(source) << source.error().message;
  RecordingSink sink;
  EXPECT_EQ(ReadAll(**source, sink), "");
  EXPECT_EQ((*source)->Stats().frames, 0U);
  EXPECT_EQ((*source)->Warning(), "");
}

TEST(PcapFileSourceTest, HugeFirstRecordFailsAtOpen) {
  TempFile file(Cat({PcapHeader(), PcapRecord(UdpFrame(1, 2), 1, 0, 0x40000000)}));
  auto source = PcapFileSource::Open(file.path());
  ASSERT_FALSE(source);
  EXPECT_EQ(source.error().message.rfind(file.path() + ": corrupt first record: ", 0), 0U)
      << source.error().message;
  EXPECT_NE(source.error().message.find("1073741824"), std::string::npos);
}

TEST(PcapFileSourceTest, HugeRecordInTheMiddleIsAnErrorNamingTheFile) {
  Bytes content = PcapHeader();
  for (int i = 0; i < 4; ++i) {
    content = Cat({content, PcapRecord(UdpFrame(1, 2))});
  }
  content =
      Cat({content, PcapRecord(UdpFrame(1, 2), 1, 0, 0x40000000), PcapRecord(UdpFrame(1, 2))});
  TempFile file(content);
  auto source = PcapFileSource::Open(file.path());
  ASSERT_TRUE(source) << source.error().message;
  RecordingSink sink;
  const std::string error = ReadAll(**source, sink);
  EXPECT_EQ(error.rfind(file.path() + ": corrupt record after 4 packets: ", 0), 0U) << error;
  EXPECT_EQ(sink.packets.size(), 4U);
  // The error sticks.
  EXPECT_FALSE((*source)->Dispatch(1, sink));
}

TEST(PcapFileSourceTest, LastRecordCutShortIsAWarning) {
  Bytes content = PcapHeader();
  for (int i = 0; i < 3; ++i) {
    content = Cat({content, PcapRecord(UdpFrame(1, 2))});
  }
  for (const std::size_t keep : {std::size_t{8}, std::size_t{16 + 10}}) {  // header, data cut
    const Bytes last = PcapRecord(UdpFrame(1, 2));
    TempFile file(Cat({content, Bytes(last.begin(), last.begin() + static_cast<long>(keep))}));
    auto source = PcapFileSource::Open(file.path());
    ASSERT_TRUE(source) << source.error().message;
    RecordingSink sink;
    EXPECT_EQ(ReadAll(**source, sink), "");
    EXPECT_EQ(sink.packets.size(), 3U);
    EXPECT_EQ((*source)->Warning(),
              file.path() + ": last record truncated after 3 packets; kept what came before");
  }
}

TEST(PcapFileSourceTest, PcapngLastBlockCutShortIsAWarning) {
  const Bytes full = PcapngFile({UdpFrame(1, 2), UdpFrame(3, 4), UdpFrame(5, 6)});
  TempFile file(Bytes(full.begin(), full.end() - 20));
  auto source = PcapFileSource::Open(file.path());
  ASSERT_TRUE(source) << source.error().message;
  RecordingSink sink;
  EXPECT_EQ(ReadAll(**source, sink), "");
  EXPECT_EQ(sink.packets.size(), 2U);
  EXPECT_EQ((*source)->Warning(),
            file.path() + ": last record truncated after 2 packets; kept what came before");
}

TEST(PcapFileSourceTest, UnsupportedLinkType) {
  TempFile file(Cat({PcapHeader(105), PcapRecord(Bytes(30, 0))}));  // IEEE 802.11
  auto source = PcapFileSource::Open(file.path());
  ASSERT_FALSE(source);
  EXPECT_EQ(source.error().message, file.path() + ": unsupported link type 105 (IEEE802_11)");
}

TEST(PcapFileSourceTest, MalformedPacketsAreCountedNotFatal) {
  Bytes bad = UdpFrame(1, 2);
  bad[14] = 0x43;  // IHL 3
  TempFile file(
      Cat({PcapHeader(), PcapRecord(bad), PcapRecord(UdpFrame(1, 2)), PcapRecord(Bytes(5, 0))}));
  auto source = PcapFileSource::Open(file.path());
  ASSERT_TRUE(source) << source.error().message;
  RecordingSink sink;
  EXPECT_EQ(ReadAll(**source, sink), "");
  const SourceStats stats = (*source)->Stats();
  EXPECT_EQ(stats.frames, 3U);
  EXPECT_EQ(stats.delivered, 1U);
  EXPECT_EQ(stats.decode.Get(DecodeOutcome::kBadIpv4Header), 1U);
  EXPECT_EQ(stats.decode.Get(DecodeOutcome::kTruncatedLink), 1U);
  EXPECT_EQ(stats.decode.Malformed(), 2U);
}

TEST(PcapFileSourceTest, SinkExceptionBecomesAnError) {
  struct ThrowingSink : PacketSink {
    void OnPacket(const PacketSummary&) override { throw std::runtime_error("table full"); }
  };
  TempFile file(Cat({PcapHeader(), PcapRecord(UdpFrame(1, 2))}));
  auto source = PcapFileSource::Open(file.path());
  ASSERT_TRUE(source) << source.error().message;
  ThrowingSink sink;
  auto state = (*source)->Dispatch(10, sink);
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().message, file.path() + ": packet handler failed: table full");
}

}  // namespace
}  // namespace bulkhead::capture
