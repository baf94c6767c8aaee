#include "policy/model.h"

#include <gtest/gtest.h>

#include <limits>

namespace bulkhead::policy {
namespace {

TEST(ProtocolTest, NamesRoundTrip) {
  for (const auto p :
       {Protocol::kTcp, Protocol::kUdp, Protocol::kIcmp, Protocol::kIcmpv6, Protocol::kSctp}) {
    EXPECT_EQ(ParseProtocol(ProtocolName(p)), p);
  }
  EXPECT_EQ(ProtocolName(Protocol::kIcmpv6), "icmpv6");
  EXPECT_FALSE(ParseProtocol("TCP"));
  EXPECT_FALSE(ParseProtocol(""));
  EXPECT_FALSE(ParseProtocol("tcpp"));
}

TEST(ProtocolTest, IanaNumbers) {
  EXPECT_EQ(ProtocolFromIana(6), Protocol::kTcp);
  EXPECT_EQ(ProtocolFromIana(17), Protocol::kUdp);
  EXPECT_EQ(ProtocolFromIana(1), Protocol::kIcmp);
  EXPECT_EQ(ProtocolFromIana(58), Protocol::kIcmpv6);
  EXPECT_EQ(ProtocolFromIana(132), Protocol::kSctp);
  EXPECT_FALSE(ProtocolFromIana(0));
  EXPECT_FALSE(ProtocolFromIana(47));
  EXPECT_FALSE(ProtocolFromIana(255));
}

TEST(ModelTest, DefaultGroupBy) {
  EXPECT_EQ(DefaultGroupBy(), (std::vector<std::string>{"app", "com.docker.compose.service"}));
}

TEST(TimestampTest, FormatsMillisecondsUtc) {
  EXPECT_EQ(FormatTimestamp(0), "1970-01-01T00:00:00.000Z");
  // 2026-11-28T10:00:00Z = 1795860000 s since the epoch.
  EXPECT_EQ(FormatTimestamp(1795860000ULL * 1000000 + 250000), "2026-11-28T10:00:00.250Z");
  // Sub-millisecond digits are cut, not rounded.
  EXPECT_EQ(FormatTimestamp(1795860000ULL * 1000000 + 999999), "2026-11-28T10:00:00.999Z");
  // Leap day.
  EXPECT_EQ(FormatTimestamp(951782400ULL * 1000000), "2000-02-29T00:00:00.000Z");
}

TEST(TimestampTest, ParsesWhatItFormats) {
  for (const std::uint64_t usec :
       {0ULL, 1795860000250000ULL, 951782400000000ULL, 253402300799999000ULL}) {
    EXPECT_EQ(ParseTimestamp(FormatTimestamp(usec)), usec) << usec;
  }
  EXPECT_EQ(ParseTimestamp("2026-11-28T10:00:00Z"), 1795860000ULL * 1000000);
  // Kept to the millisecond, as written: finer digits are cut (a fuzzed graph's ".0008" once read
  // back as a different graph).
  EXPECT_EQ(ParseTimestamp("2026-11-28T10:00:00.123456Z"), 1795860000123000ULL);
  EXPECT_EQ(ParseTimestamp("2026-11-28T10:00:00.0008Z"), 1795860000000000ULL);
  EXPECT_EQ(ParseTimestamp("2026-11-28T11:00:00.250+01:00"), 1795860000250000ULL);
  EXPECT_EQ(ParseTimestamp("2026-11-28t10:00:00.250z"), 1795860000250000ULL);
}

TEST(TimestampTest, RejectsMalformed) {
  for (const char* bad :
       {"", "2026-11-28", "2026-11-28T10:00:00", "2026-11-28 10:00:00Z", "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z", "2026-11-31T00:00:00Z", "2026-11-28T24:00:00Z",
        "2026-11-28T10:60:00Z", "2026-11-28T10:00:60Z", "1969-12-31T23:59:59Z",
        "2026-11-28T10:00:00.Z", "2026-11-28T10:00:00.250ZZ", "2026-11-28T10:00:00+0100",
        "20261128T100000Z", "x026-11-28T10:00:00Z", "2026-11-28T10:00:00.25OZ",
        "1970-01-01T00:30:00+01:00"}) {
    EXPECT_FALSE(ParseTimestamp(bad)) << bad;
  }
}

TEST(EdgeStatsTest, AddExampleKeepsSmallestSortedUnique) {
  EdgeStats a;
  a.AddExample({"d", "x"});
  a.AddExample({"b", "x"});
  a.AddExample({"b", "x"});
  a.AddExample({"c", "x"});
  a.AddExample({"a", "x"});
  a.AddExample({"e", "x"});
  EXPECT_EQ(a.examples, (std::vector<WorkloadPair>{{"a", "x"}, {"b", "x"}, {"c", "x"}}));
}

TEST(EdgeStatsTest, MergeIsOrderIndependent) {
  EdgeStats a{1, 10, 100, 5000, 9000, {{"a1", "b1"}, {"a3", "b3"}}};
  EdgeStats b{2, 20, 200, 3000, 7000, {{"a2", "b2"}, {"a0", "b0"}}};
  EdgeStats c{0, 0, 0, 0, 0, {}};  // never seen: a zero first_seen must not win
  std::sort(b.examples.begin(), b.examples.end());
  EdgeStats ab = a;
  ab.Merge(b);
  ab.Merge(c);
  EdgeStats ba = c;
  ba.Merge(b);
  ba.Merge(a);
  EXPECT_EQ(ab, ba);
  EXPECT_EQ(ab.connections, 3U);
  EXPECT_EQ(ab.packets, 30U);
  EXPECT_EQ(ab.bytes, 300U);
  EXPECT_EQ(ab.first_seen_usec, 3000U);
  EXPECT_EQ(ab.last_seen_usec, 9000U);
  EXPECT_EQ(ab.examples, (std::vector<WorkloadPair>{{"a0", "b0"}, {"a1", "b1"}, {"a2", "b2"}}));
}

TEST(FlowGraphTest, NormalizeSortsDedupsAndFoldsDuplicateEdges) {
  FlowGraph g;
  g.groups = {{"web", {}, {"w2", "w1", "w1"}}, {"api", {{"app", "api"}}, {"a1"}}};
  EdgeKey k{"web", "api", Protocol::kTcp, 80};
  g.edges = {{{"web", "api", Protocol::kUdp, 53}, {1, 1, 1, 1, 1, {}}},
             {k, {1, 2, 3, 10, 20, {{"w2", "a1"}}}},
             {k, {1, 2, 3, 5, 15, {{"w1", "a1"}, {"w1", "a1"}}}}};
  g.Normalize();
  ASSERT_EQ(g.groups.size(), 2U);
  EXPECT_EQ(g.groups[0].name, "api");
  EXPECT_EQ(g.groups[1].members, (std::vector<std::string>{"w1", "w2"}));
  ASSERT_EQ(g.edges.size(), 2U);
  EXPECT_EQ(g.edges[0].key, k);  // tcp sorts before udp
  EXPECT_EQ(g.edges[0].stats.connections, 2U);
  EXPECT_EQ(g.edges[0].stats.first_seen_usec, 5U);
  EXPECT_EQ(g.edges[0].stats.last_seen_usec, 20U);
  EXPECT_EQ(g.edges[0].stats.examples, (std::vector<WorkloadPair>{{"w1", "a1"}, {"w2", "a1"}}));
}

// The agent merges each snapshot into the graph of earlier runs, and per-node graphs are merged
// the same way: the result must not depend on the order, and merging a graph into itself adds
// its counts but no edges or members.
TEST(FlowGraphTest, MergeUnitesGroupsAndEdgesInAnyOrder) {
  const EdgeKey web_api{"web", "api", Protocol::kTcp, 80};
  const EdgeKey api_db{"api", "db", Protocol::kTcp, 5432};
  FlowGraph a;
  a.group_by = {"app"};
  a.groups = {{"web", {{"app", "web"}}, {"w1"}}, {"api", {}, {"a1"}}};
  a.edges = {{web_api, {2, 4, 40, 10, 20, {{"w1", "a1"}}}}};
  FlowGraph b;
  b.groups = {{"api", {{"app", "api"}}, {"a2"}}, {"db", {}, {"d1"}}};
  b.edges = {{web_api, {1, 2, 20, 5, 15, {{"w2", "a2"}}}}, {api_db, {1, 1, 1, 30, 30, {}}}};

  FlowGraph ab = a;
  MergeFlowGraph(ab, b);
  FlowGraph ba = b;
  MergeFlowGraph(ba, a);
  EXPECT_EQ(ab.edges, ba.edges);
  EXPECT_EQ(ab.group_by, (std::vector<std::string>{"app"}));
  ASSERT_EQ(ab.groups.size(), 3U);
  EXPECT_EQ(ab.groups[0].name, "api");
  EXPECT_EQ(ab.groups[0].members, (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(ab.groups[0].selector, (Labels{{"app", "api"}}));  // taken where `into` had none
  ASSERT_EQ(ab.edges.size(), 2U);
  EXPECT_EQ(ab.edges[0].key, api_db);
  EXPECT_EQ(ab.edges[1].stats.connections, 3U);
  EXPECT_EQ(ab.edges[1].stats.first_seen_usec, 5U);
  EXPECT_EQ(ab.edges[1].stats.last_seen_usec, 20U);

  FlowGraph twice = ab;
  MergeFlowGraph(twice, ab);
  EXPECT_EQ(twice.groups, ab.groups);
  ASSERT_EQ(twice.edges.size(), ab.edges.size());
  EXPECT_EQ(twice.edges[1].stats.connections, 6U);
}

// The agent's continuation sums, per node too; a graph of one node keeps no per-node shares.
TEST(FlowGraphTest, ContinuationSumsSharesAndKeepsItsNode) {
  EdgeStats a{1, 1, 1, 10, 20, {}, {{"n1", 1, 1, 1, 10, 20}}};
  EdgeStats b{5, 5, 5, 5, 30, {}, {{"n1", 2, 2, 2, 15, 30}, {"n2", 3, 3, 3, 5, 25}}};
  a.Merge(b);
  EXPECT_EQ(a.by_node,
            (std::vector<NodeEdgeStats>{{"n1", 3, 3, 3, 10, 30}, {"n2", 3, 3, 3, 5, 25}}));
  EXPECT_EQ(SaturatingAdd(std::numeric_limits<std::uint64_t>::max(), 1),
            std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(EarliestSeen(0, 7), 7U);
  EXPECT_EQ(EarliestSeen(9, 7), 7U);

  FlowGraph earlier;
  earlier.nodes = {"node-1"};
  earlier.edges = {{{"host", "world", Protocol::kTcp, 443}, a}};
  earlier.Normalize();
  EXPECT_TRUE(earlier.edges[0].stats.by_node.empty());
  FlowGraph now;
  now.nodes = {"node-2"};
  MergeFlowGraph(earlier, now);
  EXPECT_EQ(earlier.nodes, (std::vector<std::string>{"node-1"}));
  FlowGraph unknown;
  MergeFlowGraph(unknown, now);
  EXPECT_EQ(unknown.nodes, (std::vector<std::string>{"node-2"}));
}

// The agent continuing its graph: scans united, one source's records combined (earliest first,
// latest last, the larger count), whatever the order; continuing with the same graph twice
// changes nothing (the counts are maxima, not sums).
TEST(FlowGraphTest, ContinuationCombinesScansOfOneSource) {
  FlowGraph earlier;
  earlier.scans = {{"web-1", "web", 5000, 9000, 1000, 1, 1000, 0},
                   {"10.0.0.9", "world", 100, 200, 30, 2, 0, 30}};
  FlowGraph now;
  now.scans = {{"web-1", "web", 7000, 12000, 40, 2, 40, 5},
               {"web-1", "api", 7000, 7000, 25, 1, 25, 0}};
  FlowGraph ab = earlier;
  MergeFlowGraph(ab, now);
  FlowGraph ba = now;
  MergeFlowGraph(ba, earlier);
  EXPECT_EQ(ab, ba);
  EXPECT_EQ(ab.scans, (std::vector<ScanRecord>{{"10.0.0.9", "world", 100, 200, 30, 2, 0, 30},
                                               {"web-1", "api", 7000, 7000, 25, 1, 25, 0},
                                               {"web-1", "web", 5000, 12000, 1000, 2, 1000, 5}}));
  FlowGraph again = ab;
  MergeFlowGraph(again, now);
  EXPECT_EQ(again, ab);
}

}  // namespace
}  // namespace bulkhead::policy
