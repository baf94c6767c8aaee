#include "learn/graph_builder.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/learn/learn_test_util.h"

namespace bulkhead::learn {
namespace {

using testing::Ip;

constexpr std::uint64_t kT0 = 1'700'000'000'000'000;

policy::Workload MakeWorkload(std::string name, std::string app,
                              std::vector<std::string> addresses) {
  policy::Workload w;
  w.name = std::move(name);
  if (!app.empty()) {
    w.labels["app"] = std::move(app);
  }
  w.addresses = std::move(addresses);
  return w;
}

// Host node-1 (10.0.0.1, fd00::1); api-1/api-2 in group api, db-1 in db, lone (no label) a
// group of its own. The assignment is written out by hand so this test depends on nothing but
// the resolver and the builder.
struct Fixture {
  policy::Inventory inventory;
  policy::GroupAssignment groups;

  Fixture() {
    inventory.host = policy::HostInfo{"node-1", {"10.0.0.1", "fd00::1"}};
    inventory.workloads = {
        MakeWorkload("api-1", "api", {"10.0.0.2", "fd00::2"}),
        MakeWorkload("api-2", "api", {"10.0.0.3"}),
        MakeWorkload("db-1", "db", {"10.0.0.4"}),
        MakeWorkload("lone", "", {"10.0.0.5"}),
    };
    groups.groups = {
        policy::Group{"api", {{"app", "api"}}, {"api-1", "api-2"}},
        policy::Group{"db", {{"app", "db"}}, {"db-1"}},
        policy::Group{"host", {}, {"node-1"}},
        policy::Group{"lone", {}, {"lone"}},
    };
    groups.group_of = {{"api-1", "api"}, {"api-2", "api"}, {"db-1", "db"}, {"lone", "lone"}};
  }

  GroupResolver Resolver() const {
    auto r = GroupResolver::Create(inventory, groups);
    EXPECT_TRUE(r.has_value()) << (r.has_error() ? r.error() : "");
    return std::move(*r);
  }
};

FlowRecord Flow(std::string_view client, std::string_view server, std::uint8_t proto,
                std::uint16_t port, std::uint64_t first, std::uint64_t last,
                std::uint64_t packets = 10, std::uint64_t bytes = 1000) {
  FlowRecord r;
  r.client = Ip(client);
  r.server = Ip(server);
  r.proto = proto;
  r.server_port = port;
  r.first_usec = first;
  r.last_usec = last;
  r.packets = packets;
  r.bytes = bytes;
  return r;
}

const policy::Edge* FindEdge(const policy::FlowGraph& g, std::string_view from, std::string_view to,
                             policy::Protocol protocol, std::uint16_t port) {
  for (const auto& e : g.edges) {
    if (e.key.from == from && e.key.to == to && e.key.protocol == protocol && e.key.port == port) {
      return &e;
    }
  }
  return nullptr;
}

std::vector<std::string> GroupNames(const policy::FlowGraph& g) {
  std::vector<std::string> names;
  for (const auto& group : g.groups) {
    names.push_back(group.name);
  }
  return names;
}

TEST(GroupResolverTest, ResolvesWorkloadsHostAndWorld) {
  Fixture f;
  const GroupResolver resolver = f.Resolver();
  std::string scratch;
  auto e = resolver.Resolve(Ip("fd00::2"), scratch);
  EXPECT_EQ(e.group, "api");
  EXPECT_EQ(e.workload, "api-1");
  EXPECT_TRUE(e.managed);
  e = resolver.Resolve(Ip("10.0.0.1"), scratch);
  EXPECT_EQ(e.group, "host");
  EXPECT_EQ(e.workload, "node-1");
  EXPECT_TRUE(e.managed);
  e = resolver.Resolve(Ip("203.0.113.9"), scratch);
  EXPECT_EQ(e.group, "world");
  EXPECT_EQ(e.workload, "203.0.113.9");
  EXPECT_FALSE(e.managed);
  e = resolver.Resolve(Ip("ff02::1"), scratch);
  EXPECT_EQ(e.group, "world");
  EXPECT_FALSE(e.managed);
  EXPECT_EQ(resolver.host_name(), "node-1");
}

TEST(GroupResolverTest, RejectsBadAndConflictingAddresses) {
  {
    Fixture f;
    f.inventory.workloads[0].addresses.push_back("10.0.0.300");
    const auto r = GroupResolver::Create(f.inventory, f.groups);
    ASSERT_TRUE(r.has_error());
    EXPECT_NE(r.error().find("10.0.0.300"), std::string::npos);
    EXPECT_NE(r.error().find("api-1"), std::string::npos);
  }
  {
    Fixture f;
    f.inventory.workloads[2].addresses.push_back("10.0.0.2");  // db-1 claims api-1's address
    const auto r = GroupResolver::Create(f.inventory, f.groups);
    ASSERT_TRUE(r.has_error());
    EXPECT_NE(r.error().find("api-1"), std::string::npos);
    EXPECT_NE(r.error().find("db-1"), std::string::npos);
  }
  {
    Fixture f;
    f.inventory.host.addresses.push_back("10.0.0.4");  // the host claims db-1's address
    const auto r = GroupResolver::Create(f.inventory, f.groups);
    ASSERT_TRUE(r.has_error());
    EXPECT_NE(r.error().find("db-1"), std::string::npos);
  }
  {
    Fixture f;
    f.inventory.host.addresses.push_back("not-an-address");
    EXPECT_TRUE(GroupResolver::Create(f.inventory, f.groups).has_error());
  }
  {
    // The same workload listing an address twice is not a conflict.
    Fixture f;
    f.inventory.workloads[0].addresses.push_back("10.0.0.2");
    EXPECT_TRUE(GroupResolver::Create(f.inventory, f.groups).has_value());
  }
}

TEST(GraphBuilderTest, FoldsFlowsIntoGroupEdges) {
  Fixture f;
  const GroupResolver resolver = f.Resolver();
  GraphBuilder builder(resolver);
  builder.OnFlow(Flow("10.0.0.2", "10.0.0.4", 6, 5432, kT0 + 50, kT0 + 90, 10, 1000));
  builder.OnFlow(Flow("10.0.0.3", "10.0.0.4", 6, 5432, kT0 + 10, kT0 + 60, 4, 300));
  builder.OnFlow(Flow("10.0.0.2", "10.0.0.4", 6, 5432, kT0 + 70, kT0 + 80, 1, 60));
  // Same groups, other port and protocol: separate edges.
  builder.OnFlow(Flow("10.0.0.2", "10.0.0.4", 6, 9187, kT0, kT0));
  builder.OnFlow(Flow("10.0.0.2", "10.0.0.4", 17, 5432, kT0, kT0));
  builder.OnFlow(Flow("fd00::2", "10.0.0.5", 1, 8, kT0, kT0));  // icmp echo (mixed, by design)
  EXPECT_EQ(builder.edge_count(), 4u);
  EXPECT_EQ(builder.stats().flows, 6u);

  const policy::FlowGraph g = builder.Build({"app"}, f.groups.groups);
  EXPECT_EQ(g.group_by, std::vector<std::string>{"app"});
  // Neither host nor world is used by an edge: both are left out, the given host group too.
  EXPECT_EQ(GroupNames(g), (std::vector<std::string>{"api", "db", "lone"}));
  const policy::Edge* e = FindEdge(g, "api", "db", policy::Protocol::kTcp, 5432);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->stats.connections, 3u);
  EXPECT_EQ(e->stats.packets, 15u);
  EXPECT_EQ(e->stats.bytes, 1360u);
  EXPECT_EQ(e->stats.first_seen_usec, kT0 + 10);
  EXPECT_EQ(e->stats.last_seen_usec, kT0 + 90);
  EXPECT_EQ(e->stats.examples,
            (std::vector<policy::WorkloadPair>{{"api-1", "db-1"}, {"api-2", "db-1"}}));
  EXPECT_NE(FindEdge(g, "api", "db", policy::Protocol::kTcp, 9187), nullptr);
  EXPECT_NE(FindEdge(g, "api", "db", policy::Protocol::kUdp, 5432), nullptr);
  EXPECT_NE(FindEdge(g, "api", "lone", policy::Protocol::kIcmp, 8), nullptr);
  // Edges come sorted by key.
  EXPECT_TRUE(std::is_sorted(g.edges.begin(), g.edges.end(),
                             [](const auto& a, const auto& b) { return a.key < b.key; }));
}

TEST(GraphBuilderTest, HostAndWorldGroupsAppearWhenUsed) {
  Fixture f;
  const GroupResolver resolver = f.Resolver();
  GraphBuilder builder(resolver);
  builder.OnFlow(Flow("10.0.0.1", "10.0.0.2", 6, 8080, kT0, kT0));       // host -> api
  builder.OnFlow(Flow("203.0.113.9", "10.0.0.2", 6, 443, kT0, kT0));     // world -> api
  builder.OnFlow(Flow("10.0.0.3", "8.8.8.8", 17, 53, kT0, kT0));         // api -> world
  builder.OnFlow(Flow("203.0.113.9", "198.51.100.1", 6, 22, kT0, kT0));  // world -> world
  builder.OnFlow(Flow("10.0.0.4", "224.0.0.251", 17, 5353, kT0, kT0));   // db -> multicast
  EXPECT_EQ(builder.stats().unmanaged_flows, 1u);
  EXPECT_EQ(builder.edge_count(), 4u);

  // Groups given without host: Build makes it from the resolver's host name.
  std::vector<policy::Group> given;
  for (const auto& g : f.groups.groups) {
    if (g.name != "host") {
      given.push_back(g);
    }
  }
  for (const auto& groups : {f.groups.groups, given}) {
    const policy::FlowGraph g = builder.Build({"app"}, groups);
    EXPECT_EQ(GroupNames(g), (std::vector<std::string>{"api", "db", "host", "lone", "world"}));
    const auto host = std::find_if(g.groups.begin(), g.groups.end(),
                                   [](const auto& x) { return x.name == "host"; });
    ASSERT_NE(host, g.groups.end());
    EXPECT_EQ(host->members, std::vector<std::string>{"node-1"});
    EXPECT_TRUE(host->selector.empty());
    const auto world = std::find_if(g.groups.begin(), g.groups.end(),
                                    [](const auto& x) { return x.name == "world"; });
    ASSERT_NE(world, g.groups.end());
    EXPECT_TRUE(world->members.empty());

    const policy::Edge* from_host = FindEdge(g, "host", "api", policy::Protocol::kTcp, 8080);
    ASSERT_NE(from_host, nullptr);
    EXPECT_EQ(from_host->stats.examples, (std::vector<policy::WorkloadPair>{{"node-1", "api-1"}}));
    const policy::Edge* from_world = FindEdge(g, "world", "api", policy::Protocol::kTcp, 443);
    ASSERT_NE(from_world, nullptr);
    EXPECT_EQ(from_world->stats.examples,
              (std::vector<policy::WorkloadPair>{{"203.0.113.9", "api-1"}}));
    const policy::Edge* to_world = FindEdge(g, "api", "world", policy::Protocol::kUdp, 53);
    ASSERT_NE(to_world, nullptr);
    EXPECT_EQ(to_world->stats.examples, (std::vector<policy::WorkloadPair>{{"api-2", "8.8.8.8"}}));
    EXPECT_NE(FindEdge(g, "db", "world", policy::Protocol::kUdp, 5353), nullptr);
    EXPECT_EQ(FindEdge(g, "world", "world", policy::Protocol::kTcp, 22), nullptr);
  }
}

TEST(GraphBuilderTest, ExamplesAreTheSmallestPairsAndOrderDoesNotMatter) {
  Fixture f;
  // Many clients from the world and several servers: more pairs than kMaxEdgeExamples.
  std::vector<FlowRecord> records;
  for (int i = 20; i >= 10; --i) {
    for (const char* server : {"10.0.0.2", "10.0.0.3", "fd00::2"}) {
      records.push_back(Flow("198.51.100." + std::to_string(i), server, 6, 443,
                             kT0 + static_cast<std::uint64_t>(i),
                             kT0 + 1000 + static_cast<std::uint64_t>(i), 3, 200));
    }
  }
  records.push_back(Flow("10.0.0.1", "10.0.0.4", 6, 5432, kT0, kT0 + 5));
  records.push_back(Flow("10.0.0.2", "10.0.0.4", 6, 5432, kT0 + 1, kT0 + 2));

  const GroupResolver resolver = f.Resolver();
  GraphBuilder in_order(resolver);
  for (const auto& r : records) {
    in_order.OnFlow(r);
  }
  const policy::FlowGraph expected = in_order.Build({"app"}, f.groups.groups);
  const policy::Edge* e = FindEdge(expected, "world", "api", policy::Protocol::kTcp, 443);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->stats.connections, 33u);
  ASSERT_EQ(e->stats.examples.size(), policy::kMaxEdgeExamples);
  EXPECT_EQ(e->stats.examples, (std::vector<policy::WorkloadPair>{{"198.51.100.10", "api-1"},
                                                                  {"198.51.100.10", "api-2"},
                                                                  {"198.51.100.11", "api-1"}}));
  EXPECT_EQ(e->stats.first_seen_usec, kT0 + 10);
  EXPECT_EQ(e->stats.last_seen_usec, kT0 + 1020);

  std::mt19937 rng(12345);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(records.begin(), records.end(), rng);
    GraphBuilder shuffled(resolver);
    for (const auto& r : records) {
      shuffled.OnFlow(r);
    }
    EXPECT_EQ(shuffled.Build({"app"}, f.groups.groups), expected) << "round " << round;
  }
}

// The flow table and the builder together, as `bulkhead learn` wires them.
TEST(GraphBuilderTest, FlowTableFeedsTheBuilder) {
  Fixture f;
  const GroupResolver resolver = f.Resolver();
  GraphBuilder builder(resolver);
  FlowTable table(FlowTableConfig{}, builder);
  table.OnPacket(testing::Tcp("10.0.0.2", 40000, "10.0.0.4", 5432, capture::kTcpSyn, kT0));
  table.OnPacket(testing::Tcp("10.0.0.4", 5432, "10.0.0.2", 40000,
                              capture::kTcpSyn | capture::kTcpAck, kT0 + 1));
  table.OnPacket(testing::Udp("10.0.0.3", 45000, "203.0.113.53", 53, kT0 + 2));
  table.OnPacket(testing::Icmp(58, "fd00::2", "fd00::1", 128, 9, kT0 + 3));
  table.Flush();
  const policy::FlowGraph g = builder.Build({"app"}, f.groups.groups);
  ASSERT_EQ(g.edges.size(), 3u);
  EXPECT_NE(FindEdge(g, "api", "db", policy::Protocol::kTcp, 5432), nullptr);
  EXPECT_NE(FindEdge(g, "api", "world", policy::Protocol::kUdp, 53), nullptr);
  EXPECT_NE(FindEdge(g, "api", "host", policy::Protocol::kIcmpv6, 128), nullptr);
}

// Scans are named as edges name their endpoints: a workload and its group, the host, or world
// with the address text; two addresses of one workload become one record once normalized.
TEST(ScanRecordsTest, ResolvesEachSourceAsAnEdgeClient) {
  Fixture f;
  const GroupResolver resolver = f.Resolver();
  const std::vector<ScanFinding> findings = {
      {Ip("10.0.0.2"), kT0, kT0 + 5, 1000, 1, 1000, 0},
      {Ip("fd00::2"), kT0 + 1, kT0 + 9, 30, 2, 0, 30},
      {Ip("10.0.0.1"), kT0, kT0, 26, 1, 26, 0},
      {Ip("203.0.113.9"), kT0 + 2, kT0 + 3, 3, 40, 0, 120},
  };
  std::vector<policy::ScanRecord> records = ScanRecords(findings, resolver);
  EXPECT_EQ(records, (std::vector<policy::ScanRecord>{
                         {"api-1", "api", kT0, kT0 + 5, 1000, 1, 1000, 0},
                         {"api-1", "api", kT0 + 1, kT0 + 9, 30, 2, 0, 30},
                         {"node-1", "host", kT0, kT0, 26, 1, 26, 0},
                         {"203.0.113.9", "world", kT0 + 2, kT0 + 3, 3, 40, 0, 120},
                     }));
  policy::FlowGraph g;
  g.scans = std::move(records);
  g.Normalize();
  EXPECT_EQ(g.scans, (std::vector<policy::ScanRecord>{
                         {"203.0.113.9", "world", kT0 + 2, kT0 + 3, 3, 40, 0, 120},
                         {"api-1", "api", kT0, kT0 + 9, 1000, 2, 1000, 30},
                         {"node-1", "host", kT0, kT0, 26, 1, 26, 0},
                     }));
}

}  // namespace
}  // namespace bulkhead::learn
