#include "policy/graph_merge.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "policy/flow_graph_codec.h"

namespace bulkhead::policy {
namespace {

constexpr std::array<const char*, 4> kNodeNames = {"node-a", "node-b", "node-c", "node-d"};
constexpr std::array<const char*, 5> kGroupNames = {"api", "cache", "db", "web", "shop/api"};
constexpr std::array<std::uint16_t, 4> kPorts = {53, 80, 443, 5432};
constexpr std::uint64_t kBaseUsec = 1'795'000'000'000'000;  // late 2026
constexpr int kIterations = 400;

std::uint64_t Uniform(std::mt19937_64& rng, std::uint64_t low, std::uint64_t high) {
  return std::uniform_int_distribution<std::uint64_t>(low, high)(rng);
}

bool Coin(std::mt19937_64& rng, double p = 0.5) { return std::bernoulli_distribution(p)(rng); }

// Whole milliseconds, the file format's resolution, so the YAML round trip is exact.
std::uint64_t RandomTime(std::mt19937_64& rng) {
  return kBaseUsec + Uniform(rng, 0, 86'400'000) * 1000;
}

std::string Member(const std::string& group, std::uint64_t index) {
  return group + "-" + std::to_string(index);
}

// A counter, now and then close to the top so that sums saturate.
std::uint64_t RandomCounter(std::mt19937_64& rng) {
  if (Coin(rng, 0.05)) {
    return std::numeric_limits<std::uint64_t>::max() - Uniform(rng, 0, 1000);
  }
  return Uniform(rng, 0, 1'000'000);
}

// One node's graph as `bulkhead learn` would write it: groups select `app: <name>` whatever the
// node (as they do in a cluster that shares its labels), edges between them, `host` and `world`.
FlowGraph RandomNodeGraph(std::mt19937_64& rng, const std::string& node) {
  FlowGraph graph;
  graph.nodes = {node};
  graph.group_by = {"app"};
  std::vector<std::string> ends = {std::string(kHostGroup), std::string(kWorldGroup)};
  for (const char* name : kGroupNames) {
    if (!Coin(rng, 0.7)) {
      continue;
    }
    Group group{name, {{"app", name}}, {}};
    for (std::uint64_t i = 0; i < 4; ++i) {
      if (Coin(rng)) {
        group.members.push_back(Member(name, i));
      }
    }
    graph.groups.push_back(group);
    ends.emplace_back(name);
  }
  const std::uint64_t edge_count = Uniform(rng, 0, 10);
  for (std::uint64_t i = 0; i < edge_count; ++i) {
    Edge edge;
    edge.key.from = ends[Uniform(rng, 0, ends.size() - 1)];
    edge.key.to = ends[Uniform(rng, 0, ends.size() - 1)];
    edge.key.protocol = Coin(rng) ? Protocol::kTcp : Protocol::kUdp;
    edge.key.port = kPorts[Uniform(rng, 0, kPorts.size() - 1)];
    edge.stats.connections = RandomCounter(rng);
    edge.stats.packets = RandomCounter(rng);
    edge.stats.bytes = RandomCounter(rng);
    edge.stats.first_seen_usec = RandomTime(rng);
    edge.stats.last_seen_usec = edge.stats.first_seen_usec + Uniform(rng, 0, 3'600'000) * 1000;
    const std::uint64_t examples = Uniform(rng, 0, 5);
    for (std::uint64_t j = 0; j < examples; ++j) {
      edge.stats.AddExample(
          {Member(edge.key.from, Uniform(rng, 0, 5)), Member(edge.key.to, Uniform(rng, 0, 5))});
    }
    graph.edges.push_back(std::move(edge));
  }
  // Scans from a few sources, so that inputs often share one: a workload of a listed group, the
  // node itself, or an outside address.
  const std::uint64_t scan_count = Uniform(rng, 0, 3);
  for (std::uint64_t i = 0; i < scan_count; ++i) {
    ScanRecord scan;
    scan.group = ends[Uniform(rng, 0, ends.size() - 1)];
    if (scan.group == kWorldGroup) {
      scan.source = "203.0.113." + std::to_string(Uniform(rng, 1, 3));
    } else if (scan.group == kHostGroup) {
      scan.source = node;
    } else {
      scan.source = Member(scan.group, Uniform(rng, 0, 3));
    }
    scan.first_seen_usec = RandomTime(rng);
    scan.last_seen_usec = scan.first_seen_usec + Uniform(rng, 0, 600'000) * 1000;
    scan.ports = Uniform(rng, 0, 65536);
    scan.peers = RandomCounter(rng);
    scan.refused = RandomCounter(rng);
    scan.incomplete = RandomCounter(rng);
    graph.scans.push_back(std::move(scan));
  }
  graph.Normalize();
  return graph;
}

FlowGraph Merge(const std::vector<const FlowGraph*>& graphs) {
  std::vector<NamedGraph> named;
  for (const FlowGraph* graph : graphs) {
    named.push_back({graph, "input"});
  }
  auto merged = MergeClusterGraphs(named);
  EXPECT_TRUE(merged) << (merged ? "" : merged.error());
  return merged ? *merged : FlowGraph{};
}

FlowGraph Merge(const FlowGraph& a, const FlowGraph& b) { return Merge({&a, &b}); }

// A merge input: one node's graph, or (a third of the time) a graph already merged from two or
// three of them, possibly of the same node.
FlowGraph RandomInput(std::mt19937_64& rng) {
  const auto node = [&] { return std::string(kNodeNames[Uniform(rng, 0, kNodeNames.size() - 1)]); };
  if (!Coin(rng, 1.0 / 3)) {
    return RandomNodeGraph(rng, node());
  }
  FlowGraph merged = RandomNodeGraph(rng, node());
  const std::uint64_t more = Uniform(rng, 1, 2);
  for (std::uint64_t i = 0; i < more; ++i) {
    merged = Merge(merged, RandomNodeGraph(rng, node()));
  }
  return merged;
}

// The same node earlier: fewer edges, groups and members, smaller counters, an earlier
// last-seen time (first-seen times only move earlier as a node's graph grows, so an older
// snapshot's are the same or later), examples a subset.
FlowGraph OlderSnapshot(std::mt19937_64& rng, const FlowGraph& newer) {
  FlowGraph older = newer;
  for (auto& group : older.groups) {
    std::vector<std::string> kept;
    std::copy_if(group.members.begin(), group.members.end(), std::back_inserter(kept),
                 [&](const std::string&) { return Coin(rng, 0.7); });
    group.members = std::move(kept);
  }
  std::vector<Edge> edges;
  for (const auto& edge : newer.edges) {
    if (!Coin(rng, 0.8)) {
      continue;
    }
    Edge old = edge;
    auto& s = old.stats;
    s.connections = Uniform(rng, 0, s.connections);
    s.packets = Uniform(rng, 0, s.packets);
    s.bytes = Uniform(rng, 0, s.bytes);
    s.last_seen_usec = s.first_seen_usec + (s.last_seen_usec - s.first_seen_usec) / 2000 * 1000;
    s.first_seen_usec = std::min(s.last_seen_usec, s.first_seen_usec + (Coin(rng) ? 1000 : 0));
    std::vector<WorkloadPair> examples;
    std::copy_if(s.examples.begin(), s.examples.end(), std::back_inserter(examples),
                 [&](const WorkloadPair&) { return Coin(rng, 0.6); });
    s.examples = std::move(examples);
    edges.push_back(std::move(old));
  }
  older.edges = std::move(edges);
  // Its scans: some not found yet, the others with fewer ports, peers and attempts so far.
  std::vector<ScanRecord> scans;
  for (const auto& scan : newer.scans) {
    if (!Coin(rng, 0.8)) {
      continue;
    }
    ScanRecord old = scan;
    old.ports = Uniform(rng, 0, old.ports);
    old.peers = Uniform(rng, 0, old.peers);
    old.refused = Uniform(rng, 0, old.refused);
    old.incomplete = Uniform(rng, 0, old.incomplete);
    old.last_seen_usec =
        old.first_seen_usec + (old.last_seen_usec - old.first_seen_usec) / 2000 * 1000;
    scans.push_back(std::move(old));
  }
  older.scans = std::move(scans);
  older.Normalize();
  return older;
}

void ExpectSame(const FlowGraph& a, const FlowGraph& b, int iteration) {
  EXPECT_EQ(a, b) << "iteration " << iteration << "\n"
                  << WriteFlowGraphYaml(a) << "---\n"
                  << WriteFlowGraphYaml(b);
}

TEST(GraphMergeLawsTest, Commutative) {
  std::mt19937_64 rng(16001);
  for (int i = 0; i < kIterations; ++i) {
    const FlowGraph a = RandomInput(rng);
    const FlowGraph b = RandomInput(rng);
    const FlowGraph ab = Merge(a, b);
    ExpectSame(ab, Merge(b, a), i);
    EXPECT_EQ(WriteFlowGraphYaml(ab), WriteFlowGraphYaml(Merge(b, a)));
  }
}

TEST(GraphMergeLawsTest, Associative) {
  std::mt19937_64 rng(16002);
  for (int i = 0; i < kIterations; ++i) {
    const FlowGraph a = RandomInput(rng);
    const FlowGraph b = RandomInput(rng);
    const FlowGraph c = RandomInput(rng);
    const FlowGraph left = Merge(Merge(a, b), c);
    ExpectSame(left, Merge(a, Merge(b, c)), i);
    ExpectSame(left, Merge({&a, &b, &c}), i);
    ClusterGraphMerge one_at_a_time;  // what `bulkhead merge` does, file by file
    for (const FlowGraph* input : {&c, &a, &b}) {
      ASSERT_TRUE(one_at_a_time.Add(*input, "input"));
    }
    ExpectSame(left, one_at_a_time.Finish(), i);
  }
}

TEST(GraphMergeLawsTest, Idempotent) {
  std::mt19937_64 rng(16003);
  for (int i = 0; i < kIterations; ++i) {
    const FlowGraph a = RandomInput(rng);
    ExpectSame(Merge(a, a), a, i);
    ExpectSame(Merge({&a}), a, i);
    const FlowGraph b = RandomInput(rng);
    const FlowGraph ab = Merge(a, b);
    ExpectSame(Merge(ab, a), ab, i);  // merging an input in again changes nothing
    ExpectSame(Merge(ab, ab), ab, i);
  }
}

TEST(GraphMergeLawsTest, OlderSnapshotOfANodeChangesNothing) {
  std::mt19937_64 rng(16004);
  for (int i = 0; i < kIterations; ++i) {
    const std::string node = kNodeNames[static_cast<std::size_t>(i) % kNodeNames.size()];
    const FlowGraph newer = RandomNodeGraph(rng, node);
    const FlowGraph older = OlderSnapshot(rng, newer);
    ExpectSame(Merge(newer, older), newer, i);
    ExpectSame(Merge(older, newer), newer, i);
    // Also inside a cluster graph that already holds the newer snapshot.
    const FlowGraph other = RandomInput(rng);
    const FlowGraph cluster = Merge(newer, other);
    ExpectSame(Merge(cluster, older), cluster, i);
    // And the older one replaced by the newer: the cluster moves to the newer counters.
    ExpectSame(Merge(Merge(older, other), newer), cluster, i);
  }
}

TEST(GraphMergeLawsTest, SameBytesInEveryOrderAndTheFileReadsBack) {
  std::mt19937_64 rng(16005);
  for (int i = 0; i < kIterations / 4; ++i) {
    std::vector<FlowGraph> inputs;
    for (int j = 0; j < 4; ++j) {
      inputs.push_back(RandomInput(rng));
    }
    std::vector<const FlowGraph*> order;
    for (const auto& input : inputs) {
      order.push_back(&input);
    }
    std::sort(order.begin(), order.end());
    const std::string first = WriteFlowGraphYaml(Merge(order));
    while (std::next_permutation(order.begin(), order.end())) {
      ASSERT_EQ(WriteFlowGraphYaml(Merge(order)), first) << "iteration " << i;
    }
    auto parsed = ParseFlowGraph(first, "merged.yaml");
    ASSERT_TRUE(parsed) << parsed.error().ToString() << "\n" << first;
    EXPECT_EQ(WriteFlowGraphYaml(*parsed), first);
    EXPECT_EQ(*parsed, Merge(order));
    auto from_json = ParseFlowGraph(WriteFlowGraphJson(*parsed), "merged.json");
    ASSERT_TRUE(from_json) << from_json.error().ToString();
    EXPECT_EQ(*from_json, *parsed);
  }
}

TEST(GraphMergeTest, KeepsEachNodesShareAndSumsThem) {
  const EdgeKey api_db{"api", "db", Protocol::kTcp, 5432};
  FlowGraph a;
  a.nodes = {"node-a"};
  a.group_by = {"app"};
  a.groups = {{"api", {{"app", "api"}}, {"api-1"}}, {"db", {{"app", "db"}}, {"db-1"}}};
  a.edges = {{api_db, {12, 140, 18230, 5000, 9000, {{"api-1", "db-1"}}, {}}}};
  FlowGraph b = a;
  b.nodes = {"node-b"};
  b.groups = {{"api", {{"app", "api"}}, {"api-2"}}};
  b.edges = {{api_db, {3, 30, 300, 4000, 6000, {{"api-2", "db-1"}}, {}}}};
  const FlowGraph merged = Merge(a, b);
  EXPECT_EQ(merged.nodes, (std::vector<std::string>{"node-a", "node-b"}));
  ASSERT_EQ(merged.groups.size(), 2U);
  EXPECT_EQ(merged.groups[0].members, (std::vector<std::string>{"api-1", "api-2"}));
  ASSERT_EQ(merged.edges.size(), 1U);
  const EdgeStats& s = merged.edges[0].stats;
  EXPECT_EQ(s.connections, 15U);
  EXPECT_EQ(s.packets, 170U);
  EXPECT_EQ(s.bytes, 18530U);
  EXPECT_EQ(s.first_seen_usec, 4000U);
  EXPECT_EQ(s.last_seen_usec, 9000U);
  EXPECT_EQ(s.by_node, (std::vector<NodeEdgeStats>{{"node-a", 12, 140, 18230, 5000, 9000},
                                                   {"node-b", 3, 30, 300, 4000, 6000}}));

  // node-a again, later: its share moves up, node-b's stays; nothing is counted twice.
  FlowGraph a2 = a;
  a2.edges[0].stats = {20, 200, 20000, 5000, 12000, {{"api-1", "db-1"}}, {}};
  const FlowGraph again = Merge(merged, a2);
  EXPECT_EQ(again.edges[0].stats.connections, 23U);
  EXPECT_EQ(again.edges[0].stats.last_seen_usec, 12000U);
}

TEST(GraphMergeTest, CombinesTheScansOfOneSource) {
  FlowGraph a;
  a.nodes = {"node-a"};
  a.groups = {{"web", {}, {"web-1"}}};
  a.scans = {{"web-1", "web", 5000, 9000, 1000, 1, 1000, 0},
             {"203.0.113.7", "world", 1000, 2000, 3, 40, 0, 120}};
  FlowGraph b;
  b.nodes = {"node-b"};
  b.groups = {{"web", {}, {"web-1"}}};
  b.scans = {{"web-1", "web", 4000, 8000, 20, 3, 25, 2}};
  const FlowGraph merged = Merge(a, b);
  // Earliest first, latest last, the larger of each count (not the sum: the same finding merged
  // twice must not double).
  EXPECT_EQ(merged.scans,
            (std::vector<ScanRecord>{{"203.0.113.7", "world", 1000, 2000, 3, 40, 0, 120},
                                     {"web-1", "web", 4000, 9000, 1000, 3, 1000, 2}}));
  EXPECT_EQ(Merge(merged, b), merged);
  EXPECT_EQ(Merge(b, merged), merged);
}

TEST(GraphMergeTest, SumsSaturateInsteadOfWrapping) {
  const std::uint64_t big = std::numeric_limits<std::uint64_t>::max() - 1;
  FlowGraph a;
  a.nodes = {"node-a"};
  a.edges = {{{"host", "world", Protocol::kTcp, 443}, {big, big, 1, 10'000, 10'000, {}, {}}}};
  FlowGraph b = a;
  b.nodes = {"node-b"};
  const FlowGraph merged = Merge(a, b);
  EXPECT_EQ(merged.edges[0].stats.connections, std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(merged.edges[0].stats.bytes, 2U);
  auto parsed = ParseFlowGraph(WriteFlowGraphYaml(merged), "m.yaml");
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(*parsed, merged);
}

TEST(GraphMergeTest, RefusesWhatCannotBeMerged) {
  FlowGraph a;
  a.nodes = {"node-a"};
  a.group_by = {"app"};
  a.groups = {{"api", {{"app", "api"}}, {}}};
  FlowGraph b = a;
  b.nodes = {"node-b"};
  b.groups = {{"api", {{"app", "api"}, {"tier", "x"}}, {}}};
  std::vector<NamedGraph> inputs = {{&a, "a.yaml"}, {&b, "b.yaml"}};
  auto conflict = MergeClusterGraphs(inputs);
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error(),
            "b.yaml: group \"api\" has selector {app: api, tier: x}, but {app: api} in a.yaml; "
            "one group must select the same workloads on every node");

  FlowGraph c = a;
  c.nodes = {"node-c"};
  c.group_by = {"app", "tier"};
  inputs = {{&a, "a.yaml"}, {&c, "c.yaml"}};
  auto group_by = MergeClusterGraphs(inputs);
  ASSERT_FALSE(group_by);
  EXPECT_EQ(group_by.error(),
            "c.yaml: groupBy [app, tier] differs from [app] in a.yaml; graphs grouped by "
            "different labels cannot be merged");

  FlowGraph unknown = a;
  unknown.nodes.clear();
  inputs = {{&a, "a.yaml"}, {&unknown, "old.yaml"}};
  auto no_node = MergeClusterGraphs(inputs);
  ASSERT_FALSE(no_node);
  EXPECT_EQ(
      no_node.error().rfind("old.yaml: the graph does not say which node it was learned on", 0), 0U)
      << no_node.error();
  EXPECT_FALSE(MergeClusterGraphs({}));

  // After a conflict the incremental merge is spent: using it again is a programming error.
  ClusterGraphMerge spent;
  ASSERT_TRUE(spent.Add(a, "a.yaml"));
  ASSERT_FALSE(spent.Add(b, "b.yaml"));
  EXPECT_DEATH(spent.Finish(), "used after an error or Finish");
}

TEST(GraphMergeTest, NodeNameOfPrefersTheInventorysHost) {
  Inventory inventory;
  inventory.host.name = "node-7";
  EXPECT_EQ(NodeNameOf(inventory), "node-7");
  EXPECT_FALSE(NodeNameOf(Inventory{}).empty());  // this machine's host name
}

}  // namespace
}  // namespace bulkhead::policy
