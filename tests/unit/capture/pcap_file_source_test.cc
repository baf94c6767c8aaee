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

namespace bulkhead::capture {
namespace {

using namespace bulkhead::capture::testing;

// Little-endian writers for the file formats (pcap and pcapng are written in the writer's order;
// little-endian is what x86 tools produce).
void Le16(Bytes& b, unsigned v) {
  Put8(b, v & 0xFF);
  Put8(b, (v >> 8) & 0xFF);
}
void Le32(Bytes& b, std::uint32_t v) {
  Le16(b, v & 0xFFFF);
  Le16(b, v >> 16);
}

Bytes PcapHeader(unsigned link = 1, std::uint32_t magic = 0xa1b2c3d4, std::uint32_t snap = 65535) {
  Bytes b;
  Le32(b, magic);
  Le16(b, 2);
  Le16(b, 4);
  Le32(b, 0);
  Le32(b, 0);
  Le32(b, snap);
  Le32(b, link);
  return b;
}

Bytes PcapRecord(const Bytes& data, std::uint32_t sec = 1700000000, std::uint32_t frac = 250,
                 std::int64_t caplen = -1, std::int64_t wire = -1) {
  Bytes b;
  Le32(b, sec);
  Le32(b, frac);
  Le32(b, static_cast<std::uint32_t>(caplen >= 0 ? caplen : static_cast<std::int64_t>(data.size())));
  Le32(b, static_cast<std::uint32_t>(wire >= 0 ? wire : static_cast<std::int64_t>(data.size())));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void PadTo4(Bytes& b) {
  while (b.size() % 4 != 0) {
    b.push_back(0);
  }
}

// pcapng: Section Header Block, one Interface Description Block, Enhanced Packet Blocks.
Bytes PcapngFile(const std::vector<Bytes>& packets, unsigned link = 1) {
  Bytes b;
  Le32(b, 0x0A0D0D0A);
  Le32(b, 28);
  Le32(b, 0x1A2B3C4D);
  Le16(b, 1);
  Le16(b, 0);
  Le32(b, 0xFFFFFFFF);  // section length unknown
  Le32(b, 0xFFFFFFFF);
  Le32(b, 28);
  Le32(b, 1);  // IDB
  Le32(b, 20);
  Le16(b, link);
  Le16(b, 0);
  Le32(b, 65535);
  Le32(b, 20);
  for (const Bytes& p : packets) {
    Bytes body;
    Le32(body, 0);  // interface 0
    const std::uint64_t ts = 1700000000ULL * 1000000ULL + 500;  // default resolution: usec
    Le32(body, static_cast<std::uint32_t>(ts >> 32));
    Le32(body, static_cast<std::uint32_t>(ts & 0xFFFFFFFF));
    Le32(body, static_cast<std::uint32_t>(p.size()));
    Le32(body, static_cast<std::uint32_t>(p.size()));
    body.insert(body.end(), p.begin(), p.end());
    PadTo4(body);
    const auto total = static_cast<std::uint32_t>(body.size() + 12);
    Le32(b, 6);
    Le32(b, total);
    b.insert(b.end(), body.begin(), body.end());
    Le32(b, total);
  }
  return b;
}

class TempFile {
 public:
  explicit TempFile(const Bytes& content) {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("bulkhead_capture_test_" + std::to_string(::getpid()) + "_" +
              std::to_string(counter++) + ".pcap"))
                .string();
    std::ofstream out(path_, std::ios::binary);
    out.write(reinterpret_cast<const char*>(content.data()),
              static_cast<std::streamsize>(content.size()));
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

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
  content = Cat({content, PcapRecord(UdpFrame(1, 2), 1, 0, 0x40000000), PcapRecord(UdpFrame(1, 2))});
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
  TempFile file(Cat({PcapHeader(), PcapRecord(bad), PcapRecord(UdpFrame(1, 2)),
                     PcapRecord(Bytes(5, 0))}));
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
