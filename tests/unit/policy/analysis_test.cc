#include "policy/analysis.h"

#include <gtest/gtest.h>

#include "policy/review_input.h"

namespace bulkhead::policy {
namespace {

using Names = std::vector<std::string>;

Edge MakeEdge(std::string from, std::string to, Protocol protocol, std::uint16_t port) {
  Edge edge;
  edge.key = {std::move(from), std::move(to), protocol, port};
  edge.stats.connections = 1;
  return edge;
}

// world -> frontend -> api -> db; api -> host -> cache (the only way to cache is through the
// node); `lonely` talks to no one. Known reach from frontend: api, then db and host, then cache.
FlowGraph ShopGraph() {
  FlowGraph g;
  g.groups = {{"api", {}, {"api-1", "api-2"}},
              {"cache", {}, {"cache-1"}},
              {"db", {}, {"db-1"}},
              {"frontend", {}, {"fe-1", "fe-2"}},
              {"lonely", {}, {"lonely-1"}}};
  g.edges = {
      MakeEdge("world", "frontend", Protocol::kTcp, 443),
      MakeEdge("frontend", "api", Protocol::kTcp, 8080),
      MakeEdge("frontend", "api", Protocol::kIcmp, 8), MakeEdge("api", "db", Protocol::kTcp, 5432),
      MakeEdge("api", "host", Protocol::kUdp, 53), MakeEdge("host", "cache", Protocol::kTcp, 6379),
      // Ping alone moves no one: db is not reachable from lonely through it.
      MakeEdge("lonely", "db", Protocol::kIcmp, 8)};
  g.Normalize();
  return g;
}

const GroupReach& Find(const Analysis& a, const std::string& name) {
  for (const auto& g : a.groups) {
    if (g.name == name) {
      return g;
    }
  }
  ADD_FAILURE() << "no group " << name;
  return a.groups.front();
}

TEST(AnalysisTest, HopsGoThroughTheHost) {
  const auto a = Analyze(ReachGraphFromFlowGraph(ShopGraph()));
  ASSERT_EQ(a.group_count, 5U);
  EXPECT_EQ(a.workload_count, 7U);
  const auto& fe = Find(a, "frontend");
  EXPECT_EQ(fe.hops, (std::vector<Names>{{"api"}, {"db", "host"}, {"cache"}}));
  EXPECT_EQ(fe.groups_reached, 3U);
  EXPECT_DOUBLE_EQ(fe.group_share, 0.75);
  EXPECT_EQ(fe.workloads_reached, 4U);
  EXPECT_DOUBLE_EQ(fe.workload_share, 4.0 / 5.0);
  EXPECT_TRUE(fe.reaches_host);
  EXPECT_FALSE(fe.reaches_world);
  const auto& api = Find(a, "api");
  EXPECT_EQ(api.hops, (std::vector<Names>{{"db", "host"}, {"cache"}}));
  EXPECT_TRUE(Find(a, "db").hops.empty());
  EXPECT_TRUE(Find(a, "lonely").hops.empty());
  // frontend 3 + api 2 of a flat network's 5 * 4.
  EXPECT_EQ(a.reachable_pairs, 5U);
  EXPECT_EQ(a.flat_pairs, 20U);
  EXPECT_EQ(a.max_hops, 3U);
  EXPECT_DOUBLE_EQ(a.max_group_share, 0.75);
}

TEST(AnalysisTest, HopsGoThroughWorld) {
  auto g = ShopGraph();
  // The cache may call out; an attacker's server outside may call the frontend.
  g.edges.push_back(MakeEdge("cache", "world", Protocol::kTcp, 443));
  g.Normalize();
  const auto a = Analyze(ReachGraphFromFlowGraph(g));
  const auto& cache = Find(a, "cache");
  EXPECT_EQ(cache.hops, (std::vector<Names>{{"world"}, {"frontend"}, {"api"}, {"db", "host"}}));
  EXPECT_EQ(cache.groups_reached, 3U);
  EXPECT_TRUE(cache.reaches_world);
}

TEST(AnalysisTest, FindingsOfTheShop) {
  const auto a = Analyze(ReachGraphFromFlowGraph(ShopGraph()));
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& f : a.findings) {
    got.emplace_back(FindingKindName(f.kind),
                     f.link.from + ">" + f.link.to + " " + LinkPortText(f.link));
  }
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{
                     {"host-edge", "api>host udp/53"},
                     {"sensitive-port", "api>db tcp/5432"},
                     {"sensitive-port", "host>cache tcp/6379"}}));
}

TEST(AnalysisTest, PolicyRulesRangesAndFailsafe) {
  Policy p;
  p.groups = {{"a", {}, {}}, {"b", {}, {}}, {"c", {}, {}}};
  p.allow = {{"a", "b", Protocol::kTcp, {8000, 8999}},
             {"b", "world", Protocol::kTcp, {80, 80}},
             {"world", "c", Protocol::kTcp, {443, 443}}};
  // `any` to the host's SSH: every group reaches the host, and the port is sensitive.
  p.failsafe = {{"any", "host", Protocol::kTcp, {22, 22}}};
  const auto a = Analyze(ReachGraphFromPolicy(p));
  EXPECT_FALSE(a.workloads_known);
  EXPECT_EQ(Find(a, "a").hops, (std::vector<Names>{{"b", "host"}, {"world"}, {"c"}}));
  EXPECT_EQ(Find(a, "a").groups_reached, 2U);
  EXPECT_DOUBLE_EQ(Find(a, "a").workload_share, 0.0);
  std::vector<std::string> kinds;
  for (const auto& f : a.findings) {
    kinds.push_back(std::string(FindingKindName(f.kind)) + " " + f.link.from + ">" + f.link.to);
  }
  // Host edges from a, b, c, world (the failsafe's `any`); SSH the same four; the metadata
  // address through b -> world tcp/80; a's 1000-port range; a reaches every other group.
  EXPECT_EQ(kinds, (std::vector<std::string>{
                       "host-edge a>host", "host-edge b>host", "host-edge c>host",
                       "host-edge world>host", "sensitive-port a>host", "sensitive-port b>host",
                       "sensitive-port c>host", "sensitive-port world>host", "metadata b>world",
                       "wide-range a>b", "reaches-all a>"}));
}

TEST(AnalysisTest, SensitivePortsOverlap) {
  EXPECT_EQ(SensitiveService(Protocol::kTcp, {2370, 2377}), "the Docker Engine API");
  EXPECT_EQ(SensitiveService(Protocol::kTcp, {2380, 2380}), "etcd");
  EXPECT_EQ(SensitiveService(Protocol::kTcp, {10250, 10250}), "the kubelet API");
  EXPECT_EQ(SensitiveService(Protocol::kTcp, {8080, 8080}), "");
  EXPECT_EQ(SensitiveService(Protocol::kUdp, {22, 22}), "");
}

TEST(AnalysisTest, JsonIsDeterministicAndEscaped) {
  auto g = ShopGraph();
  g.groups.push_back({"<script>\"x", {}, {"evil-1"}});
  g.edges.push_back(MakeEdge("<script>\"x", "api", Protocol::kTcp, 8080));
  g.Normalize();
  const auto json = WriteAnalysisJson(Analyze(ReachGraphFromFlowGraph(g)));
  auto shuffled = g;
  std::reverse(shuffled.edges.begin(), shuffled.edges.end());
  EXPECT_EQ(WriteAnalysisJson(Analyze(ReachGraphFromFlowGraph(shuffled))), json);
  EXPECT_NE(json.find("\"name\": \"<script>\\\"x\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"summary\": {\"groups\": 6, \"workloads\": 8,"), std::string::npos);
}

TEST(AnalysisTest, TextNamesHopsAndFindings) {
  const auto text = WriteAnalysisText(Analyze(ReachGraphFromFlowGraph(ShopGraph())));
  EXPECT_NE(text.find("frontend: 3 groups (75%), 4 workloads (80%), host\n"
                      "  1 hop:  api\n  2 hops: db, host\n  3 hops: cache\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("[host-edge] api -> host udp/53"), std::string::npos);
}

TEST(ReviewInputTest, KindChoosesTheReader) {
  const auto graph = ParsePolicyOrGraph("apiVersion: bulkhead/v1\nkind: FlowGraph\n", "g.yaml");
  ASSERT_TRUE(graph);
  EXPECT_TRUE(graph->graph.has_value());
  const auto policy =
      ParsePolicyOrGraph("apiVersion: bulkhead/v1\nkind: Policy\ngroups: [{name: a}]\n", "p.yaml");
  ASSERT_TRUE(policy) << policy.error().ToString();
  ASSERT_TRUE(policy->policy.has_value());
  EXPECT_EQ(policy->policy->groups.size(), 1U);
  // A bad policy reports the policy reader's errors, with the position.
  const auto bad = ParsePolicyOrGraph("apiVersion: bulkhead/v1\nkind: Policy\nallw: []\n", "p");
  ASSERT_FALSE(bad);
  ASSERT_EQ(bad.error().errors.size(), 1U);
  EXPECT_EQ(bad.error().errors[0].line, 3);
  const auto neither = ParsePolicyOrGraph("apiVersion: bulkhead/v1\nkind: Inventory\n", "x");
  ASSERT_FALSE(neither);
  EXPECT_EQ(neither.error().errors[0].message, "kind must be FlowGraph, not \"Inventory\"");
}

}  // namespace
}  // namespace bulkhead::policy
