#include "learn/flow_table.h"

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/learn/learn_test_util.h"

namespace bulkhead::learn {
namespace {

using capture::kTcpAck;
using capture::kTcpFin;
using capture::kTcpRst;
using capture::kTcpSyn;
using testing::Icmp;
using testing::Ip;
using testing::RecordingSink;
using testing::Tcp;
using testing::Udp;

constexpr std::uint64_t kT0 = 1'700'000'000'000'000;  // some time in 2023, microseconds
constexpr std::uint64_t kSec = 1'000'000;
constexpr std::uint8_t kIcmpProto = 1;
constexpr std::uint8_t kIcmpv6Proto = 58;
constexpr std::uint8_t kData = kTcpAck | 0x08;  // ACK+PSH

class FlowTableTest : public ::testing::Test {
 protected:
  // Flushes and returns what the sink got.
  const std::vector<FlowRecord>& Finish() {
    table_.Flush();
    EXPECT_EQ(table_.size(), 0u);
    return sink_.records;
  }

  FlowTableConfig config_;
  RecordingSink sink_;
  FlowTable table_{config_, sink_};
};

// A whole connection seen: one record, oriented client -> server, with both directions counted.
// Run once with the client as the lower address and once as the higher, so both orientations of
// the canonical key are covered.
TEST_F(FlowTableTest, HandshakeSeenGivesOneClientToServerRecord) {
  struct Case {
    const char* client;
    const char* server;
  };
  for (const Case c : {Case{"10.0.0.2", "10.0.0.9"}, Case{"10.0.0.9", "10.0.0.2"}}) {
    SCOPED_TRACE(c.client);
    RecordingSink sink;
    FlowTable table(FlowTableConfig{}, sink);
    table.OnPacket(Tcp(c.client, 40000, c.server, 5432, kTcpSyn, kT0, 60));
    table.OnPacket(Tcp(c.server, 5432, c.client, 40000, kTcpSyn | kTcpAck, kT0 + 100, 60));
    table.OnPacket(Tcp(c.client, 40000, c.server, 5432, kTcpAck, kT0 + 200, 52));
    table.OnPacket(Tcp(c.client, 40000, c.server, 5432, kData, kT0 + 300, 152));
    table.OnPacket(Tcp(c.server, 5432, c.client, 40000, kData, kT0 + 400, 1052));
    table.OnPacket(Tcp(c.client, 40000, c.server, 5432, kTcpFin | kTcpAck, kT0 + 500, 52));
    table.OnPacket(Tcp(c.server, 5432, c.client, 40000, kTcpFin | kTcpAck, kT0 + 600, 52));
    EXPECT_EQ(table.size(), 1u);
    table.Flush();
    ASSERT_EQ(sink.records.size(), 1u);
    const FlowRecord& r = sink.records[0];
    EXPECT_EQ(r.client, Ip(c.client));
    EXPECT_EQ(r.server, Ip(c.server));
    EXPECT_EQ(r.proto, 6);
    EXPECT_EQ(r.server_port, 5432);
    EXPECT_EQ(r.packets, 7u);
    EXPECT_EQ(r.bytes, 60u + 60 + 52 + 152 + 1052 + 52 + 52);
    EXPECT_EQ(r.first_usec, kT0);
    EXPECT_EQ(r.last_usec, kT0 + 600);
    EXPECT_EQ(r.basis, DirectionBasis::kHandshake);
    EXPECT_EQ(table.stats().flows_created, 1u);
    EXPECT_EQ(table.stats().flows_emitted, 1u);
    EXPECT_EQ(table.stats().packets, 7u);
  }
}

TEST_F(FlowTableTest, CaptureStartingAtSynAckMarksTheServer) {
  // The server (higher address) answers on a high port; only the SYN-ACK tells us who it is.
  table_.OnPacket(Tcp("10.0.0.9", 40000, "10.0.0.2", 50000, kTcpSyn | kTcpAck, kT0));
  table_.OnPacket(Tcp("10.0.0.2", 50000, "10.0.0.9", 40000, kTcpAck, kT0 + 1));
  table_.OnPacket(Tcp("10.0.0.2", 50000, "10.0.0.9", 40000, kData, kT0 + 2));
  const auto& records = Finish();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].client, Ip("10.0.0.2"));
  EXPECT_EQ(records[0].server, Ip("10.0.0.9"));
  EXPECT_EQ(records[0].server_port, 40000);
  EXPECT_EQ(records[0].basis, DirectionBasis::kHandshake);
}

TEST_F(FlowTableTest, MidStreamTcpUsesPortClasses) {
  // Well-known vs ephemeral; the server speaks first, which must not matter.
  table_.OnPacket(Tcp("10.0.0.3", 443, "10.0.0.2", 45000, kData, kT0));
  table_.OnPacket(Tcp("10.0.0.2", 45000, "10.0.0.3", 443, kTcpAck, kT0 + 1));
  // Registered vs ephemeral.
  table_.OnPacket(Tcp("10.0.0.4", 50000, "10.0.0.5", 8080, kData, kT0 + 2));
  // Both registered: the lower port.
  table_.OnPacket(Tcp("10.0.0.6", 3000, "10.0.0.7", 5000, kData, kT0 + 3));
  // Both ephemeral, never seen listening: no edge.
  table_.OnPacket(Tcp("10.0.0.8", 40000, "10.0.0.9", 50000, kData, kT0 + 4));
  const auto& records = Finish();
  ASSERT_EQ(records.size(), 3u);
  std::map<std::uint16_t, FlowRecord> by_port;
  for (const auto& r : records) {
    EXPECT_EQ(r.basis, DirectionBasis::kPortClass);
    by_port[r.server_port] = r;
  }
  ASSERT_EQ(by_port.count(443), 1u);
  EXPECT_EQ(by_port[443].server, Ip("10.0.0.3"));
  EXPECT_EQ(by_port[443].client, Ip("10.0.0.2"));
  EXPECT_EQ(by_port[443].packets, 2u);
  ASSERT_EQ(by_port.count(8080), 1u);
  EXPECT_EQ(by_port[8080].server, Ip("10.0.0.5"));
  ASSERT_EQ(by_port.count(3000), 1u);
  EXPECT_EQ(by_port[3000].server, Ip("10.0.0.6"));
  EXPECT_EQ(table_.stats().no_edge_ephemeral, 1u);
  EXPECT_EQ(table_.stats().flows_created, 4u);
}

TEST_F(FlowTableTest, MidStreamTcpToKnownListenerOnHighPort) {
  // A handshake teaches that 10.0.0.3 listens on 40000 ...
  table_.OnPacket(Tcp("10.0.0.2", 50001, "10.0.0.3", 40000, kTcpSyn, kT0));
  table_.OnPacket(Tcp("10.0.0.3", 40000, "10.0.0.2", 50001, kTcpSyn | kTcpAck, kT0 + 1));
  // ... so a connection already running from another client is to that listener, even though
  // both ports are ephemeral and the server's packet comes first.
  table_.OnPacket(Tcp("10.0.0.3", 40000, "10.0.0.4", 45000, kData, kT0 + 2));
  table_.OnPacket(Tcp("10.0.0.4", 45000, "10.0.0.3", 40000, kTcpAck, kT0 + 3));
  const auto& records = Finish();
  ASSERT_EQ(records.size(), 2u);
  int listener_records = 0;
  for (const auto& r : records) {
    EXPECT_EQ(r.server, Ip("10.0.0.3"));
    EXPECT_EQ(r.server_port, 40000);
    if (r.basis == DirectionBasis::kListener) {
      ++listener_records;
      EXPECT_EQ(r.client, Ip("10.0.0.4"));
    } else {
      EXPECT_EQ(r.basis, DirectionBasis::kHandshake);
      EXPECT_EQ(r.client, Ip("10.0.0.2"));
    }
  }
  EXPECT_EQ(listener_records, 1);
  EXPECT_EQ(table_.stats().no_edge_ephemeral, 0u);
}

TEST_F(FlowTableTest, UdpRequestResponse) {
  // DNS: the well-known port wins even when the capture starts at the reply.
  table_.OnPacket(Udp("10.0.0.53", 53, "10.0.0.2", 45000, kT0));
  table_.OnPacket(Udp("10.0.0.2", 45001, "10.0.0.53", 53, kT0 + 1));
  table_.OnPacket(Udp("10.0.0.53", 53, "10.0.0.2", 45001, kT0 + 2));
  // A high-port service where both ports are in the registered range: the receiver of the
  // first packet is the server. Once from the lower address, once from the higher.
  table_.OnPacket(Udp("10.0.0.2", 20000, "10.0.0.3", 9999, kT0 + 3));
  table_.OnPacket(Udp("10.0.0.3", 9999, "10.0.0.2", 20000, kT0 + 4));
  table_.OnPacket(Udp("10.0.0.7", 21000, "10.0.0.4", 9998, kT0 + 5));
  table_.OnPacket(Udp("10.0.0.4", 9998, "10.0.0.7", 21000, kT0 + 6));
  const auto& records = Finish();
  ASSERT_EQ(records.size(), 4u);
  int dns = 0;
  for (const auto& r : records) {
    EXPECT_EQ(r.proto, 17);
    if (r.server_port == 53) {
      ++dns;
      EXPECT_EQ(r.server, Ip("10.0.0.53"));
      EXPECT_EQ(r.client, Ip("10.0.0.2"));
      EXPECT_EQ(r.basis, DirectionBasis::kPortClass);
    } else if (r.server_port == 9999) {
      EXPECT_EQ(r.server, Ip("10.0.0.3"));
      EXPECT_EQ(r.client, Ip("10.0.0.2"));
      EXPECT_EQ(r.basis, DirectionBasis::kFirstPacket);
      EXPECT_EQ(r.packets, 2u);
    } else {
      EXPECT_EQ(r.server_port, 9998);
      EXPECT_EQ(r.server, Ip("10.0.0.4"));
      EXPECT_EQ(r.client, Ip("10.0.0.7"));
      EXPECT_EQ(r.basis, DirectionBasis::kFirstPacket);
    }
  }
  EXPECT_EQ(dns, 2);
}

TEST_F(FlowTableTest, UdpBetweenEphemeralPortsMakesNoEdge) {
  table_.OnPacket(Udp("10.0.0.2", 40000, "10.0.0.3", 50000, kT0));
  table_.OnPacket(Udp("10.0.0.3", 50000, "10.0.0.2", 40000, kT0 + 1));
  EXPECT_TRUE(Finish().empty());
  EXPECT_EQ(table_.stats().no_edge_ephemeral, 1u);
}

TEST_F(FlowTableTest, TwoServersTalkingOnHighPorts) {
  // Services on 8080 and 9090, learned from handshakes.
  table_.OnPacket(Tcp("10.0.0.20", 41000, "10.0.0.8", 8080, kTcpSyn, kT0));
  table_.OnPacket(Tcp("10.0.0.8", 8080, "10.0.0.20", 41000, kTcpSyn | kTcpAck, kT0 + 1));
  table_.OnPacket(Tcp("10.0.0.21", 42000, "10.0.0.9", 9090, kTcpSyn, kT0 + 2));
  table_.OnPacket(Tcp("10.0.0.9", 9090, "10.0.0.21", 42000, kTcpSyn | kTcpAck, kT0 + 3));
  // 9090's owner calls 8080 from an ephemeral port; we only see the middle of it.
  table_.OnPacket(Tcp("10.0.0.8", 8080, "10.0.0.9", 41500, kData, kT0 + 4));
  table_.OnPacket(Tcp("10.0.0.9", 41500, "10.0.0.8", 8080, kTcpAck, kT0 + 5));
  // Between the two machines on ephemeral ports only: no edge.
  table_.OnPacket(Tcp("10.0.0.8", 45000, "10.0.0.9", 46000, kData, kT0 + 6));
  table_.OnPacket(Tcp("10.0.0.9", 46000, "10.0.0.8", 45000, kTcpAck, kT0 + 7));
  const auto& records = Finish();
  ASSERT_EQ(records.size(), 3u);
  int mid_stream = 0;
  for (const auto& r : records) {
    if (r.basis == DirectionBasis::kListener) {
      ++mid_stream;
      EXPECT_EQ(r.client, Ip("10.0.0.9"));
      EXPECT_EQ(r.server, Ip("10.0.0.8"));
      EXPECT_EQ(r.server_port, 8080);
    } else {
      EXPECT_EQ(r.basis, DirectionBasis::kHandshake);
    }
    EXPECT_NE(r.server_port, 45000);
    EXPECT_NE(r.server_port, 46000);
  }
  EXPECT_EQ(mid_stream, 1);
  EXPECT_EQ(table_.stats().no_edge_ephemeral, 1u);
}

TEST_F(FlowTableTest, IcmpEchoRequestMakesAnEdgeRepliesDoNot) {
  table_.OnPacket(Icmp(kIcmpProto, "10.0.0.9", "10.0.0.2", 8, 77, kT0));      // request
  table_.OnPacket(Icmp(kIcmpProto, "10.0.0.2", "10.0.0.9", 0, 77, kT0 + 1));  // its reply
  table_.OnPacket(Icmp(kIcmpProto, "10.0.0.9", "10.0.0.2", 8, 77, kT0 + 2));
  table_.OnPacket(Icmp(kIcmpProto, "10.0.0.2", "10.0.0.9", 0, 77, kT0 + 3));
  // Replies whose requests the capture missed.
  table_.OnPacket(Icmp(kIcmpProto, "10.0.0.5", "10.0.0.6", 0, 99, kT0 + 4));
  // Errors are not edges and take no table entry.
  table_.OnPacket(Icmp(kIcmpProto, "10.0.0.5", "10.0.0.6", 3, 0, kT0 + 5));
  EXPECT_EQ(table_.size(), 2u);
  const auto& records = Finish();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].client, Ip("10.0.0.9"));
  EXPECT_EQ(records[0].server, Ip("10.0.0.2"));
  EXPECT_EQ(records[0].proto, 1);
  EXPECT_EQ(records[0].server_port, 8);
  EXPECT_EQ(records[0].packets, 4u);
  EXPECT_EQ(records[0].basis, DirectionBasis::kIcmpType);
  EXPECT_EQ(table_.stats().no_edge_icmp, 2u);  // the reply-only flow and the error
}

TEST_F(FlowTableTest, IcmpTimestampRequestMapsToItsType) {
  table_.OnPacket(Icmp(kIcmpProto, "10.0.0.2", "10.0.0.3", 14, 5, kT0));  // reply first
  table_.OnPacket(Icmp(kIcmpProto, "10.0.0.3", "10.0.0.2", 13, 5, kT0 + 1));
  const auto& records = Finish();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].server_port, 13);
  EXPECT_EQ(records[0].client, Ip("10.0.0.3"));
}

TEST_F(FlowTableTest, Icmpv6EchoAndNeighbourDiscovery) {
  table_.OnPacket(Icmp(kIcmpv6Proto, "fd00::2", "fd00::3", 128, 1, kT0));
  table_.OnPacket(Icmp(kIcmpv6Proto, "fd00::3", "fd00::2", 129, 1, kT0 + 1));
  // Neighbour solicitation/advertisement, router solicitation/advertisement, MLD report.
  for (int type : {135, 136, 133, 134, 143, 131}) {
    table_.OnPacket(Icmp(kIcmpv6Proto, "fe80::2", "ff02::1:ff00:3", static_cast<std::uint8_t>(type),
                         0, kT0 + 2));
  }
  EXPECT_EQ(table_.size(), 1u);
  const auto& records = Finish();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].proto, 58);
  EXPECT_EQ(records[0].server_port, 128);
  EXPECT_EQ(records[0].client, Ip("fd00::2"));
  EXPECT_EQ(records[0].server, Ip("fd00::3"));
  EXPECT_EQ(table_.stats().no_edge_icmp, 6u);
}

TEST_F(FlowTableTest, Ipv6HandshakeAndFamiliesStayApart) {
  table_.OnPacket(Tcp("fd00::2", 40000, "fd00::3", 443, kTcpSyn, kT0));
  table_.OnPacket(Tcp("fd00::3", 443, "fd00::2", 40000, kTcpSyn | kTcpAck, kT0 + 1));
  // 10.0.0.2 shares its first four bytes with no IPv6 address here, but the family is in the
  // key regardless: a v4 flow is its own entry.
  table_.OnPacket(Tcp("10.0.0.2", 40000, "10.0.0.3", 443, kTcpSyn, kT0 + 2));
  // Answered, or the SYN alone would be an incomplete attempt (failed_attempt_test.cc).
  table_.OnPacket(Tcp("10.0.0.3", 443, "10.0.0.2", 40000, kTcpSyn | kTcpAck, kT0 + 3));
  EXPECT_EQ(table_.size(), 2u);
  const auto& records = Finish();
  ASSERT_EQ(records.size(), 2u);
  for (const auto& r : records) {
    EXPECT_EQ(r.server_port, 443);
    EXPECT_EQ(r.server.v6, r.client.v6);
  }
}

TEST_F(FlowTableTest, PacketsWithoutPortsAreCountedNotTracked) {
  auto p = Tcp("10.0.0.2", 0, "10.0.0.3", 0, 0, kT0);
  p.has_ports = false;
  table_.OnPacket(p);
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(table_.stats().no_ports, 1u);
  EXPECT_TRUE(Finish().empty());
}

TEST_F(FlowTableTest, IdleExpiryEmitsAndANewPacketRecreatesTheFlow) {
  table_.OnPacket(Udp("10.0.0.2", 45000, "10.0.0.3", 53, kT0));
  table_.OnPacket(Udp("10.0.0.3", 53, "10.0.0.2", 45000, kT0 + 1));
  // Within the UDP timeout (60 s): the same flow.
  table_.OnPacket(Udp("10.0.0.2", 45000, "10.0.0.3", 53, kT0 + 59 * kSec));
  EXPECT_TRUE(sink_.records.empty());
  // 60 s of silence: packet time alone expires it, and the next packet starts a new flow.
  table_.OnPacket(Udp("10.0.0.2", 45000, "10.0.0.3", 53, kT0 + 120 * kSec));
  ASSERT_EQ(sink_.records.size(), 1u);
  EXPECT_EQ(sink_.records[0].packets, 3u);
  EXPECT_EQ(sink_.records[0].last_usec, kT0 + 59 * kSec);
  EXPECT_EQ(table_.size(), 1u);
  EXPECT_EQ(table_.stats().flows_expired, 1u);
  EXPECT_EQ(table_.stats().flows_created, 2u);

  // An explicit timer-driven expiry.
  table_.ExpireIdle(kT0 + 181 * kSec);
  ASSERT_EQ(sink_.records.size(), 2u);
  EXPECT_EQ(sink_.records[1].first_usec, kT0 + 120 * kSec);
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(table_.stats().flows_expired, 2u);
}

TEST_F(FlowTableTest, AutomaticScanExpiresQuietFlows) {
  // A flow that never sees another packet is reclaimed by the periodic scan driven by other
  // traffic's timestamps.
  table_.OnPacket(Udp("10.0.0.2", 45000, "10.0.0.3", 53, kT0));
  for (std::uint64_t ms = 100; ms <= 70'000; ms += 100) {
    table_.OnPacket(Tcp("10.0.0.4", 45000, "10.0.0.5", 443, kData, kT0 + ms * 1000));
  }
  EXPECT_EQ(table_.size(), 1u);
  ASSERT_EQ(sink_.records.size(), 1u);
  EXPECT_EQ(sink_.records[0].server_port, 53);
}

TEST_F(FlowTableTest, ClosedTcpUsesTheShortTimeoutAndPortReuseStartsANewFlow) {
  table_.OnPacket(Tcp("10.0.0.2", 40000, "10.0.0.3", 80, kTcpSyn, kT0));
  table_.OnPacket(Tcp("10.0.0.3", 80, "10.0.0.2", 40000, kTcpSyn | kTcpAck, kT0 + 1));
  table_.OnPacket(Tcp("10.0.0.2", 40000, "10.0.0.3", 80, kTcpFin | kTcpAck, kT0 + 2));
  table_.OnPacket(Tcp("10.0.0.3", 80, "10.0.0.2", 40000, kTcpFin | kTcpAck, kT0 + 3));
  table_.ExpireIdle(kT0 + 3 + 9 * kSec);
  EXPECT_EQ(table_.size(), 1u);
  table_.ExpireIdle(kT0 + 3 + 10 * kSec);
  EXPECT_EQ(table_.size(), 0u);
  ASSERT_EQ(sink_.records.size(), 1u);

  // Same 5-tuple reused right after a reset: the new SYN starts a second connection. The
  // refused first attempt is counted, not emitted (failed_attempt_test.cc).
  table_.OnPacket(Tcp("10.0.0.2", 40001, "10.0.0.3", 80, kTcpSyn, kT0 + 20 * kSec));
  table_.OnPacket(Tcp("10.0.0.3", 80, "10.0.0.2", 40001, kTcpRst | kTcpAck, kT0 + 20 * kSec + 1));
  table_.OnPacket(Tcp("10.0.0.2", 40001, "10.0.0.3", 80, kTcpSyn, kT0 + 21 * kSec));
  table_.OnPacket(Tcp("10.0.0.3", 80, "10.0.0.2", 40001, kTcpSyn | kTcpAck, kT0 + 21 * kSec + 1));
  const auto& records = Finish();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].packets, 2u);
  EXPECT_EQ(records[1].first_usec, kT0 + 21 * kSec);
  EXPECT_EQ(table_.stats().refused, 1u);
  EXPECT_EQ(table_.stats().flows_created, 3u);
}

TEST(FlowTableCapTest, MaxFlowsEvictsOldestAndEmitsThem) {
  FlowTableConfig config;
  config.max_flows = 8;
  RecordingSink sink;
  FlowTable table(config, sink);
  constexpr int kFlows = 100;
  for (int i = 0; i < kFlows; ++i) {
    table.OnPacket(Udp("10.0.0.2", static_cast<std::uint16_t>(40000 + i), "10.0.0.53", 53,
                       kT0 + static_cast<std::uint64_t>(i)));
    ASSERT_LE(table.size(), config.max_flows);
  }
  EXPECT_GE(table.stats().flows_evicted, static_cast<std::uint64_t>(kFlows) - config.max_flows);
  // The newest flows survive the eviction.
  const std::size_t evicted_before_flush = sink.records.size();
  for (const auto& r : sink.records) {
    EXPECT_LT(r.first_usec, kT0 + kFlows - 1);
  }
  table.Flush();
  // No edge is lost: every flow was emitted exactly once.
  EXPECT_EQ(sink.records.size(), static_cast<std::size_t>(kFlows));
  EXPECT_EQ(table.stats().flows_emitted, static_cast<std::uint64_t>(kFlows));
  EXPECT_EQ(evicted_before_flush, table.stats().flows_evicted);
  std::set<std::uint64_t> firsts;
  for (const auto& r : sink.records) {
    firsts.insert(r.first_usec);
    EXPECT_EQ(r.server_port, 53);
  }
  EXPECT_EQ(firsts.size(), static_cast<std::size_t>(kFlows));
}

TEST(FlowTableCapTest, ListenerCapForgetsTheOldest) {
  FlowTableConfig config;
  config.max_listeners = 2;
  RecordingSink sink;
  FlowTable table(config, sink);
  for (std::uint16_t i = 0; i < 5; ++i) {
    const std::uint16_t port = static_cast<std::uint16_t>(40001 + i);
    const std::uint64_t t = kT0 + i * 10;
    table.OnPacket(Tcp("10.0.0.2", 50000, "10.0.0.3", port, kTcpSyn, t));
    table.OnPacket(Tcp("10.0.0.3", port, "10.0.0.2", 50000, kTcpSyn | kTcpAck, t + 1));
  }
  EXPECT_EQ(table.stats().listeners_evicted, 3u);
  table.Flush();
  ASSERT_EQ(sink.records.size(), 5u);
  sink.records.clear();

  // Mid-stream flows to the newest listener (still known) and the oldest (forgotten).
  table.OnPacket(Tcp("10.0.0.3", 40005, "10.0.0.4", 45000, kData, kT0 + 100));
  table.OnPacket(Tcp("10.0.0.3", 40001, "10.0.0.4", 45001, kData, kT0 + 101));
  table.Flush();
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].server_port, 40005);
  EXPECT_EQ(sink.records[0].basis, DirectionBasis::kListener);
  EXPECT_EQ(table.stats().no_edge_ephemeral, 1u);
}

TEST(FlowTableCapTest, ZeroCapsTrackNothingAndDoNotCrash) {
  FlowTableConfig config;
  config.max_flows = 0;
  config.max_listeners = 0;
  RecordingSink sink;
  FlowTable table(config, sink);
  table.OnPacket(Tcp("10.0.0.3", 80, "10.0.0.2", 40000, kTcpSyn | kTcpAck, kT0));
  EXPECT_EQ(table.size(), 0u);
  table.Flush();
  EXPECT_TRUE(sink.records.empty());
}

// A running agent snapshots its graph without ending the live flows: Peek shows each as if it
// ended now, and the table, its sink and its statistics carry on as if nothing happened.
TEST_F(FlowTableTest, PeekShowsLiveFlowsWithoutEndingThem) {
  table_.OnPacket(Tcp("10.0.0.2", 40000, "10.0.0.9", 5432, kTcpSyn, kT0));
  table_.OnPacket(Tcp("10.0.0.9", 5432, "10.0.0.2", 40000, kTcpSyn | kTcpAck, kT0 + 1));
  table_.OnPacket(Udp("10.0.0.2", 40001, "10.0.0.9", 53, kT0 + 2));
  const auto before = table_.stats();
  RecordingSink peeked;
  table_.Peek(peeked);
  ASSERT_EQ(peeked.records.size(), 2U);
  EXPECT_TRUE(sink_.records.empty());
  EXPECT_EQ(table_.size(), 2U);
  EXPECT_EQ(table_.stats().flows_emitted, before.flows_emitted);

  table_.OnPacket(Tcp("10.0.0.2", 40000, "10.0.0.9", 5432, kTcpAck, kT0 + 3));
  const auto& records = Finish();
  ASSERT_EQ(records.size(), 2U);
  for (const auto& r : records) {
    if (r.proto == 6) {
      EXPECT_EQ(r.packets, 3U);  // the flow went on after the peek
      EXPECT_EQ(r.server_port, 5432);
    }
  }
}

}  // namespace
}  // namespace bulkhead::learn
