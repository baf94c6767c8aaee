// Refused and incomplete connection attempts, scans and floods: none of them is evidence of an
// edge (issue 18, section 3: a 65,535-port scan had become 65,535 edges).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "capture/decoder.h"
#include "learn/flow_table.h"
#include "learn/graph_builder.h"
#include "learn/scan_detector.h"
#include "tests/unit/capture/packet_builder.h"
#include "tests/unit/learn/learn_test_util.h"

namespace bulkhead::learn {
namespace {

using capture::kTcpAck;
using capture::kTcpFin;
using capture::kTcpRst;
using capture::kTcpSyn;
using testing::Ip;
using testing::RecordingSink;
using testing::Tcp;
using testing::Udp;

constexpr std::uint64_t kT0 = 1'700'000'000'000'000;
constexpr std::uint64_t kMs = 1'000;
constexpr std::uint8_t kData = kTcpAck | 0x08;  // ACK+PSH

// A whole TCP connection: handshake, one request and answer, close.
void Connection(FlowTable& table, std::string_view client, std::uint16_t cport,
                std::string_view server, std::uint16_t sport, std::uint64_t t) {
  table.OnPacket(Tcp(client, cport, server, sport, kTcpSyn, t));
  table.OnPacket(Tcp(server, sport, client, cport, kTcpSyn | kTcpAck, t + 1));
  table.OnPacket(Tcp(client, cport, server, sport, kTcpAck, t + 2));
  table.OnPacket(Tcp(client, cport, server, sport, kData, t + 3, 200));
  table.OnPacket(Tcp(server, sport, client, cport, kData, t + 4, 900));
  table.OnPacket(Tcp(client, cport, server, sport, kTcpFin | kTcpAck, t + 5));
  table.OnPacket(Tcp(server, sport, client, cport, kTcpFin | kTcpAck, t + 6));
}

// Frontend 10.0.1.2 (api-1 in the graph test's terms) -> db 10.0.1.4:5432 and -> 10.0.1.3:80,
// the two edges the captures below must keep.
void RealTraffic(FlowTable& table, std::uint64_t t) {
  Connection(table, "10.0.1.2", 41000, "10.0.1.4", 5432, t);
  Connection(table, "10.0.1.2", 41001, "10.0.1.3", 80, t + 10);
}

std::vector<std::pair<std::string, std::uint16_t>> Edges(const std::vector<FlowRecord>& records) {
  std::vector<std::pair<std::string, std::uint16_t>> out;
  for (const auto& r : records) {
    out.emplace_back(r.client.ToString() + ">" + r.server.ToString(), r.server_port);
  }
  std::sort(out.begin(), out.end());
  return out;
}

policy::Workload MakeWorkload(std::string name, std::string address) {
  policy::Workload w;
  w.name = std::move(name);
  w.addresses = {std::move(address)};
  return w;
}

const std::vector<std::pair<std::string, std::uint16_t>> kRealEdges = {{"10.0.1.2>10.0.1.3", 80},
                                                                       {"10.0.1.2>10.0.1.4", 5432}};

TEST(FailedAttemptTest, PortScanAnsweredByRstsIsOneFindingAndNoEdge) {
  FlowTableConfig config;
  RecordingSink sink;
  FlowTable table(config, sink);
  RealTraffic(table, kT0);
  // 10.0.9.9 scans ports 1..1000 of the db, 1 ms apart; every port answers RST/ACK.
  for (std::uint16_t port = 1; port <= 1000; ++port) {
    const std::uint64_t t = kT0 + port * kMs;
    const auto sport = static_cast<std::uint16_t>(50000 + port % 7);
    table.OnPacket(Tcp("10.0.9.9", sport, "10.0.1.4", port, kTcpSyn, t));
    table.OnPacket(Tcp("10.0.1.4", port, "10.0.9.9", sport, kTcpRst | kTcpAck, t + 10));
  }
  table.Flush();
  EXPECT_EQ(Edges(sink.records), kRealEdges);
  EXPECT_EQ(table.stats().refused, 1000u);
  EXPECT_EQ(table.stats().incomplete, 0u);
  // The sink still hears of each attempt, oriented scanner -> db (what `check` judges).
  ASSERT_EQ(sink.failed.size(), 1000u);
  for (const auto& [attempt, refused] : sink.failed) {
    EXPECT_EQ(attempt.client, Ip("10.0.9.9"));
    EXPECT_EQ(attempt.server, Ip("10.0.1.4"));
    EXPECT_TRUE(refused);
  }

  const auto findings = table.scans().Findings();
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].source, Ip("10.0.9.9"));
  EXPECT_EQ(findings[0].ports_touched, 1000u);
  EXPECT_EQ(findings[0].peers_touched, 1u);
  EXPECT_EQ(findings[0].refused, 1000u);
  EXPECT_EQ(findings[0].incomplete, 0u);
  EXPECT_EQ(findings[0].first_usec, kT0 + kMs);
  EXPECT_EQ(findings[0].last_usec, kT0 + 1000 * kMs + 10);
}

// The same scan through the graph builder: the groups' graph gains no edge.
TEST(FailedAttemptTest, PortScanAddsNoEdgeToTheGraph) {
  policy::Inventory inventory;
  inventory.workloads = {MakeWorkload("frontend-1", "10.0.1.2"), MakeWorkload("db-1", "10.0.1.4")};
  policy::GroupAssignment groups;
  groups.groups = {policy::Group{"frontend", {}, {"frontend-1"}},
                   policy::Group{"db", {}, {"db-1"}}};
  groups.group_of = {{"frontend-1", "frontend"}, {"db-1", "db"}};
  auto resolver = GroupResolver::Create(inventory, groups);
  ASSERT_TRUE(resolver.has_value());
  GraphBuilder builder(*resolver);
  FlowTable table(FlowTableConfig{}, builder);
  Connection(table, "10.0.1.2", 41000, "10.0.1.4", 5432, kT0);
  // The frontend itself scans the db (the "frontend -> db tcp/22" of the issue among them).
  for (std::uint16_t port = 1; port <= 1000; ++port) {
    table.OnPacket(Tcp("10.0.1.2", 50000, "10.0.1.4", port, kTcpSyn, kT0 + port * kMs));
    table.OnPacket(Tcp("10.0.1.4", port, "10.0.1.2", 50000, kTcpRst | kTcpAck, kT0 + port * kMs));
  }
  table.Flush();
  const auto graph = builder.Build({}, groups.groups);
  ASSERT_EQ(graph.edges.size(), 1u);
  EXPECT_EQ(graph.edges[0].key.port, 5432);
  EXPECT_EQ(table.scans().finding_count(), 1u);
}

// A flood of SYNs from a million spoofed sources, none answered: no edge, every attempt
// counted, the detector's memory bounded (it forgets sources rather than growing), and a scanner
// hiding in the flood (one attempt per 1,000 flood SYNs) still reported with every port: the
// flood's one-attempt sources are forgotten before it.
TEST(FailedAttemptTest, SynFloodWithoutAnswersGivesNoEdge) {
  FlowTableConfig config;
  RecordingSink sink;
  FlowTable table(config, sink);
  RealTraffic(table, kT0);
  constexpr std::uint32_t kFlood = 1'000'000;
  std::uint16_t scanned = 0;
  for (std::uint32_t i = 0; i < kFlood; ++i) {
    const auto source = capture::IpAddr::V4(0x0B000000U + i);  // 11.0.0.0/8, one each
    const std::uint64_t t = kT0 + 100 + i;
    auto syn = Tcp("10.0.1.4", 1, "10.0.1.4", 80, kTcpSyn, t);
    syn.src = source;
    syn.src_port = static_cast<std::uint16_t>(1024 + i % 60000);
    table.OnPacket(syn);
    if (i % 1000 == 0) {
      ++scanned;
      table.OnPacket(Tcp("10.0.9.9", 50000, "10.0.1.3", scanned, kTcpSyn, t));
    }
  }
  table.Flush();
  EXPECT_EQ(Edges(sink.records), kRealEdges);
  EXPECT_EQ(table.stats().incomplete, kFlood + scanned);
  EXPECT_EQ(table.stats().refused, 0u);
  EXPECT_GT(table.scans().stats().sources_evicted, 0u);
  const auto findings = table.scans().Findings();
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].source, Ip("10.0.9.9"));
  EXPECT_EQ(findings[0].ports_touched, scanned);
  EXPECT_EQ(findings[0].incomplete, scanned);
}

// A SYN scan of an open port: SYN, SYN-ACK, RST from the scanner. The server listens, but the
// client never completed the connection.
TEST(FailedAttemptTest, HalfOpenSynScanIsIncomplete) {
  RecordingSink sink;
  FlowTable table(FlowTableConfig{}, sink);
  table.OnPacket(Tcp("10.0.9.9", 50000, "10.0.1.4", 22, kTcpSyn, kT0));
  table.OnPacket(Tcp("10.0.1.4", 22, "10.0.9.9", 50000, kTcpSyn | kTcpAck, kT0 + 1));
  table.OnPacket(Tcp("10.0.9.9", 50000, "10.0.1.4", 22, kTcpRst, kT0 + 2));
  table.Flush();
  EXPECT_TRUE(sink.records.empty());
  EXPECT_EQ(table.stats().incomplete, 1u);
}

// Without a handshake (an ACK scan, or backscatter of someone else's flood), a side that only
// sent RSTs refused the other, whatever the port classes say.
TEST(FailedAttemptTest, AckProbeAnsweredByRstIsRefused) {
  RecordingSink sink;
  FlowTable table(FlowTableConfig{}, sink);
  table.OnPacket(Tcp("10.0.9.9", 80, "10.0.1.4", 40000, kTcpAck, kT0));
  table.OnPacket(Tcp("10.0.1.4", 40000, "10.0.9.9", 80, kTcpRst, kT0 + 1));
  table.OnPacket(Tcp("10.0.1.4", 443, "10.0.9.8", 45000, kTcpRst | kTcpAck, kT0 + 2));
  table.Flush();
  EXPECT_TRUE(sink.records.empty());
  EXPECT_EQ(table.stats().refused, 2u);
}

// Connections already running when capture started keep today's handling.
TEST(FailedAttemptTest, MidStreamConnectionStaysAnEdge) {
  RecordingSink sink;
  FlowTable table(FlowTableConfig{}, sink);
  table.OnPacket(Tcp("10.0.1.2", 41000, "10.0.1.4", 5432, kData, kT0));
  table.OnPacket(Tcp("10.0.1.4", 5432, "10.0.1.2", 41000, kData, kT0 + 1));
  table.OnPacket(Tcp("10.0.1.2", 41000, "10.0.1.4", 5432, kTcpRst | kTcpAck, kT0 + 2));
  table.Flush();
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].server_port, 5432);
  EXPECT_EQ(table.stats().refused, 0u);
}

// Decoded from generated frames: UDP to a closed port, answered by an ICMP port unreachable
// that quotes the datagram (RFC 792 type 3 code 3; RFC 4443 type 1 code 4).
class PortUnreachableTest : public ::testing::Test {
 protected:
  void Feed(const capture::testing::Bytes& frame, std::uint64_t ts) {
    capture::PacketSummary p;
    ASSERT_EQ(capture::testing::DecodeBytes(capture::LinkType::kEthernet, frame, p),
              capture::DecodeOutcome::kOk);
    p.ts_usec = ts;
    table_.OnPacket(p);
  }

  static capture::testing::Bytes UdpV4(std::uint32_t src, std::uint32_t dst, unsigned sport,
                                       unsigned dport) {
    using namespace capture::testing;
    Ipv4Spec ip;
    ip.proto = 17;
    ip.payload_len = 8 + 4;
    ip.src = src;
    ip.dst = dst;
    return Cat({Ipv4(ip), capture::testing::Udp(sport, dport, 4), Bytes{1, 2, 3, 4}});
  }

  // `quoted` is the datagram as sent by the error's receiver.
  static capture::testing::Bytes UnreachableV4(std::uint32_t from, std::uint32_t to,
                                               const capture::testing::Bytes& quoted) {
    using namespace capture::testing;
    Ipv4Spec ip;
    ip.proto = 1;
    ip.payload_len = 8 + quoted.size();
    ip.src = from;
    ip.dst = to;
    return Cat({Ether(0x0800), Ipv4(ip), Icmp(3, 3, 0, 0), quoted});
  }

  RecordingSink sink_;
  FlowTable table_{FlowTableConfig{}, sink_};
};

constexpr std::uint32_t kClient = 0x0A000102;  // 10.0.1.2
constexpr std::uint32_t kServer = 0x0A000104;  // 10.0.1.4
constexpr std::uint32_t kDns = 0x0A000105;     // 10.0.1.5

TEST_F(PortUnreachableTest, UdpToAClosedPortGivesNoEdge) {
  using namespace capture::testing;
  const Bytes datagram = UdpV4(kClient, kServer, 41000, 161);
  Feed(Cat({Ether(0x0800), datagram}), kT0);
  Feed(UnreachableV4(kServer, kClient, datagram), kT0 + 5);
  // A real UDP exchange beside it stays an edge.
  const Bytes query = UdpV4(kClient, kDns, 41001, 53);
  Feed(Cat({Ether(0x0800), query}), kT0 + 10);
  Feed(Cat({Ether(0x0800), UdpV4(kDns, kClient, 53, 41001)}), kT0 + 11);
  table_.Flush();
  ASSERT_EQ(sink_.records.size(), 1u);
  EXPECT_EQ(sink_.records[0].server, Ip("10.0.1.5"));
  EXPECT_EQ(sink_.records[0].server_port, 53);
  EXPECT_EQ(table_.stats().refused, 1u);
}

// An unreachable whose quote does not match its addresses (forged, or about another datagram)
// refuses nothing.
TEST_F(PortUnreachableTest, MismatchedQuoteRefusesNothing) {
  using namespace capture::testing;
  const Bytes datagram = UdpV4(kClient, kServer, 41000, 161);
  Feed(Cat({Ether(0x0800), datagram}), kT0);
  Feed(UnreachableV4(kDns, kClient, datagram), kT0 + 5);
  table_.Flush();
  ASSERT_EQ(sink_.records.size(), 1u);
  EXPECT_EQ(sink_.records[0].server_port, 161);
  EXPECT_EQ(table_.stats().refused, 0u);
}

TEST_F(PortUnreachableTest, Icmpv6PortUnreachableGivesNoEdge) {
  using namespace capture::testing;
  // Ipv6() writes fd00::1 -> fd00::2; the quote is the reverse, so swap its addresses.
  const Bytes datagram =
      Cat({Ipv6(17, 12), capture::testing::Udp(41000, 161, 4), Bytes{1, 2, 3, 4}});
  Bytes quoted = datagram;
  std::swap_ranges(quoted.begin() + 8, quoted.begin() + 24, quoted.begin() + 24);
  Feed(Cat({Ether(0x86DD), quoted}), kT0);
  Feed(Cat({Ether(0x86DD), Ipv6(58, 8 + quoted.size()), Icmp(1, 4, 0, 0), quoted}), kT0 + 5);
  table_.Flush();
  EXPECT_TRUE(sink_.records.empty());
  EXPECT_EQ(table_.stats().refused, 1u);
}

TEST(ScanDetectorTest, FollowedSourcesAndFindingsAreCapped) {
  ScanDetectorConfig config;
  config.max_sources = 8;
  config.max_findings = 2;
  config.port_threshold = 3;
  ScanDetector detector(config);
  // 100 sources with one failed attempt each: at most 8 followed, the rest forgotten.
  for (std::uint32_t i = 0; i < 100; ++i) {
    detector.OnFailedAttempt(capture::IpAddr::V4(0x0B000000U + i), Ip("10.0.1.4"), 80, false,
                             kT0 + i, kT0 + i);
  }
  EXPECT_GE(detector.stats().sources_evicted, 92u);
  EXPECT_EQ(detector.finding_count(), 0u);
  // Five scanners of three ports: two findings, three dropped.
  for (std::uint32_t s = 0; s < 5; ++s) {
    for (std::uint16_t port = 1; port <= 3; ++port) {
      detector.OnFailedAttempt(capture::IpAddr::V4(0x0C000000U + s), Ip("10.0.1.4"), port, true,
                               kT0 + 1000 + port, kT0 + 1000 + port);
    }
  }
  EXPECT_EQ(detector.finding_count(), 2u);
  EXPECT_EQ(detector.stats().findings_dropped, 3u);
}

// Attempts further apart than the window are not one scan.
TEST(ScanDetectorTest, SlowAttemptsOutsideTheWindowAreNoScan) {
  ScanDetectorConfig config;
  config.port_threshold = 3;
  config.window_usec = 1'000'000;
  ScanDetector detector(config);
  for (std::uint16_t port = 1; port <= 10; ++port) {
    const std::uint64_t t = kT0 + port * 2'000'000ULL;
    detector.OnFailedAttempt(Ip("10.0.9.9"), Ip("10.0.1.4"), port, true, t, t);
  }
  EXPECT_EQ(detector.finding_count(), 0u);
  // Three within one window are.
  for (std::uint16_t port = 1; port <= 3; ++port) {
    detector.OnFailedAttempt(Ip("10.0.9.9"), Ip("10.0.1.4"), port, true, kT0 + port, kT0 + port);
  }
  EXPECT_EQ(detector.finding_count(), 1u);
}

// Many peers, one port each: an address sweep is a scan too.
TEST(ScanDetectorTest, AddressSweepIsAScan) {
  ScanDetector detector(ScanDetectorConfig{});
  for (std::uint32_t i = 0; i < 300; ++i) {
    detector.OnFailedAttempt(Ip("10.0.9.9"), capture::IpAddr::V4(0x0A010000U + i), 22, false,
                             kT0 + i, kT0 + i);
  }
  const auto findings = detector.Findings();
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].ports_touched, 1u);
  EXPECT_NEAR(static_cast<double>(findings[0].peers_touched), 300.0, 3.0);
  EXPECT_EQ(findings[0].incomplete, 300u);
}

TEST(GraphBuilderCapTest, EdgesBeyondTheCapAreCountedAndDropped) {
  policy::Inventory inventory;
  inventory.workloads = {MakeWorkload("db-1", "10.0.1.4")};
  policy::GroupAssignment groups;
  groups.groups = {policy::Group{"db", {}, {"db-1"}}};
  groups.group_of = {{"db-1", "db"}};
  auto resolver = GroupResolver::Create(inventory, groups);
  ASSERT_TRUE(resolver.has_value());
  GraphBuilder builder(*resolver, 3);
  FlowRecord r;
  r.client = Ip("192.0.2.1");
  r.server = Ip("10.0.1.4");
  r.proto = 6;
  for (std::uint16_t port = 1; port <= 5; ++port) {
    r.server_port = port;
    builder.OnFlow(r);
  }
  builder.OnFlow(r);  // port 5 again: still beyond the cap
  r.server_port = 2;
  builder.OnFlow(r);  // a known edge still counts
  EXPECT_EQ(builder.edge_count(), 3u);
  EXPECT_EQ(builder.stats().edges_dropped, 3u);
  const auto graph = builder.Build({}, groups.groups);
  ASSERT_EQ(graph.edges.size(), 3u);
  EXPECT_EQ(graph.edges[1].stats.connections, 2u);
}

}  // namespace
}  // namespace bulkhead::learn
