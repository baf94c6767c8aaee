#include "policy/flow_graph_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/codec/file_errors_util.h"

namespace bulkhead::policy {
namespace {

using namespace std::string_literals;

// The documented example (docs/common brief), with the `db` group its edge needs: written by us,
// it must come out byte for byte.
constexpr std::string_view kExample = R"(apiVersion: bulkhead/v1
kind: FlowGraph
groupBy: [app, com.docker.compose.service]
groups:
  - name: api
    selector: {app: api}
    members: [shop-api-1, shop-api-2]
  - name: db
    selector: {app: db}
    members: [shop-db-1]
  - name: host
    members: [node-1]
  - name: world
edges:
  - from: api
    to: db
    protocol: tcp
    port: 5432
    connections: 12
    packets: 140
    bytes: 18230
    firstSeen: 2026-11-28T10:00:00.000Z
    lastSeen: 2026-11-28T10:05:00.250Z
    examples:
      - {from: shop-api-1, to: shop-db-1}
)";

using codec::test::Locations;

FileErrors ExpectErrors(std::string_view text) {
  return codec::test::ExpectFailed(ParseFlowGraph(text, "g.yaml"), text);
}

// The one error of `text`, as "line:col: message".
std::string OneError(std::string_view text) {
  return codec::test::OnlyError(ExpectErrors(text), "g.yaml");
}

constexpr std::string_view kHeader = "apiVersion: bulkhead/v1\nkind: FlowGraph\n";

// Strings a hostile workload name or label value could hold.
const std::vector<std::string>& OddStrings() {
  static const std::vector<std::string> kOdd = {"plain-name",
                                                "with space",
                                                " leading space",
                                                "trailing space ",
                                                "colon: inside",
                                                "a:b",
                                                "hash # inside",
                                                "#leading-hash",
                                                "quote \" inside",
                                                "single ' quote",
                                                "back\\slash",
                                                "new\nline",
                                                "tab\there",
                                                "carriage\rreturn",
                                                "nul\0byte"s.substr(0, 8),
                                                "bell\x07",
                                                "del\x7f",
                                                "unicode é ü 漢字",
                                                "emoji 🙂",
                                                "line\u2028sep",
                                                "nel\u0085",
                                                "bom\ufeff",
                                                "null",
                                                "Null",
                                                "~",
                                                "true",
                                                "no",
                                                "yes",
                                                "on",
                                                "123",
                                                "0x1F",
                                                "1.5",
                                                "1e3",
                                                "-1",
                                                ".inf",
                                                "10.0.0.1",
                                                "fd00::1",
                                                "2026-11-28",
                                                "",
                                                "-",
                                                "- item",
                                                "? key",
                                                "[list]",
                                                "{map}",
                                                "&anchor",
                                                "*alias",
                                                "!tag",
                                                "%directive",
                                                "@at",
                                                "`tick",
                                                "|",
                                                ">",
                                                "a,b",
                                                "x]",
                                                "'",
                                                "\"",
                                                "...",
                                                "---",
                                                "a\\nb",
                                                "\\u0041"};
  return kOdd;
}

FlowGraph SampleGraph() {
  FlowGraph g;
  g.group_by = {"app", "com.docker.compose.service"};
  g.groups = {{"api", {{"app", "api"}}, {"shop-api-1", "shop-api-2"}},
              {"db", {{"app", "db"}}, {"shop-db-1"}},
              {"host", {}, {"node-1"}},
              {"world", {}, {}}};
  g.edges = {
      {{"api", "db", Protocol::kTcp, 5432},
       {12, 140, 18230, 1795860000000000ULL, 1795860300250000ULL, {{"shop-api-1", "shop-db-1"}}}},
      {{"api", "world", Protocol::kUdp, 53},
       {3, 6, 600, 1795860000001000ULL, 1795860000002000ULL, {{"shop-api-1", "8.8.8.8"}}}},
      {{"host", "api", Protocol::kIcmp, 8}, {1, 2, 168, 0, 0, {}}},
      {{"db", "host", Protocol::kIcmpv6, 128}, {1, 1, 1, 1000, 2000, {}}},
      {{"world", "api", Protocol::kSctp, 65535}, {18446744073709551615ULL, 0, 0, 0, 0, {}}}};
  g.Normalize();
  return g;
}

TEST(FlowGraphYamlTest, DocumentedExampleIsReproducedExactly) {
  auto graph = ParseFlowGraph(kExample, "example.yaml");
  ASSERT_TRUE(graph) << graph.error().ToString();
  EXPECT_EQ(graph->groups.size(), 4U);
  ASSERT_EQ(graph->edges.size(), 1U);
  EXPECT_EQ(graph->edges[0].stats.last_seen_usec, 1795860300250000ULL);
  EXPECT_EQ(WriteFlowGraphYaml(*graph), kExample);
}

TEST(FlowGraphYamlTest, RoundTrip) {
  const FlowGraph g = SampleGraph();
  const std::string yaml = WriteFlowGraphYaml(g);
  auto back = ParseFlowGraph(yaml, "g.yaml");
  ASSERT_TRUE(back) << back.error().ToString() << "\n" << yaml;
  EXPECT_EQ(*back, g);
  EXPECT_EQ(WriteFlowGraphYaml(*back), yaml);
}

TEST(FlowGraphJsonTest, RoundTripThroughTheYamlReader) {
  const FlowGraph g = SampleGraph();
  const std::string json = WriteFlowGraphJson(g);
  auto back = ParseFlowGraph(json, "g.json");
  ASSERT_TRUE(back) << back.error().ToString() << "\n" << json;
  EXPECT_EQ(*back, g);
}

TEST(FlowGraphJsonTest, MirrorsYamlKeyOrder) {
  const std::string json = WriteFlowGraphJson(SampleGraph());
  std::vector<std::size_t> at;
  for (const char* key :
       {"\"apiVersion\"", "\"kind\"", "\"groupBy\"", "\"groups\"", "\"edges\"", "\"from\"",
        "\"to\"", "\"protocol\"", "\"port\": 5432", "\"connections\": 12", "\"packets\": 140",
        "\"bytes\": 18230", "\"firstSeen\": \"2026-11-28T10:00:00.000Z\"", "\"lastSeen\"",
        "\"examples\""}) {
    const std::size_t pos = json.find(key, at.empty() ? 0 : at.back());
    ASSERT_NE(pos, std::string::npos) << key << "\n" << json;
    at.push_back(pos);
  }
  EXPECT_EQ(json.find("\"selector\""), json.find("{\"name\": \"api\", ") + 16);
  // The empty-members `world` group has no members key.
  EXPECT_NE(json.find("{\"name\": \"world\"}"), std::string::npos) << json;
}

TEST(FlowGraphCodecTest, OddStringsRoundTripExactly) {
  FlowGraph g;
  g.group_by = {"app", "weird key: #1"};
  for (std::size_t i = 0; i < OddStrings().size(); ++i) {
    const std::string& s = OddStrings()[i];
    // Group names must be non-empty and unique; members/selectors carry the raw string.
    Group group{"g" + std::to_string(i) + s, {}, {}};
    if (!s.empty()) {
      group.members = {s};
      group.selector = {{s, s}};
    }
    g.groups.push_back(group);
    g.edges.push_back({{group.name, "world", Protocol::kTcp, static_cast<std::uint16_t>(i)},
                       {1, 1, 1, 0, 0, {{s, s + "x"}}}});
  }
  g.Normalize();
  const std::string yaml = WriteFlowGraphYaml(g);
  auto from_yaml = ParseFlowGraph(yaml, "g.yaml");
  ASSERT_TRUE(from_yaml) << from_yaml.error().ToString() << "\n" << yaml;
  EXPECT_EQ(*from_yaml, g);
  const std::string json = WriteFlowGraphJson(g);
  auto from_json = ParseFlowGraph(json, "g.json");
  ASSERT_TRUE(from_json) << from_json.error().ToString() << "\n" << json;
  EXPECT_EQ(*from_json, g);
  // One line per key: no raw line breaks of any kind leak into the output.
  EXPECT_EQ(yaml.find('\r'), std::string::npos);
  EXPECT_EQ(yaml.find("\u2028"), std::string::npos);
  EXPECT_EQ(json.find("\u2028"), std::string::npos);
}

TEST(FlowGraphCodecTest, QuotesOnlyWhatNeedsIt) {
  FlowGraph g;
  g.group_by = {"nolabel"};
  g.groups = {{"10.0.0.1", {}, {}}, {"a:b", {}, {"null", "123", "shop-api-1"}}};
  const std::string yaml = WriteFlowGraphYaml(g);
  EXPECT_NE(yaml.find("groupBy: [nolabel]\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  - name: 10.0.0.1\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  - name: \"a:b\"\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("members: [\"123\", \"null\", shop-api-1]"), std::string::npos) << yaml;
}

TEST(FlowGraphCodecTest, InvalidUtf8IsReplacedNotPassedThrough) {
  FlowGraph g;
  g.groups = {{std::string("bad\xff\xfe", 5), {}, {}}};
  const std::string yaml = WriteFlowGraphYaml(g);
  EXPECT_NE(yaml.find("\"bad\uFFFD\uFFFD\""), std::string::npos) << yaml;
  const std::string json = WriteFlowGraphJson(g);
  EXPECT_NE(json.find("\"bad\uFFFD\uFFFD\""), std::string::npos) << json;
  // And invalid UTF-8 in an input file is an error, so parsed graphs always write back exactly.
  const std::string text = std::string(kHeader) + "groups:\n  - name: \"x\xff\"\n";
  EXPECT_EQ(OneError(text), "4:11: a group name is not valid UTF-8");
}

TEST(FlowGraphCodecTest, OutputDoesNotDependOnInsertionOrder) {
  const FlowGraph base = SampleGraph();
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    FlowGraph shuffled = base;
    std::shuffle(shuffled.groups.begin(), shuffled.groups.end(), rng);
    std::shuffle(shuffled.edges.begin(), shuffled.edges.end(), rng);
    for (auto& group : shuffled.groups) {
      std::shuffle(group.members.begin(), group.members.end(), rng);
    }
    EXPECT_EQ(WriteFlowGraphYaml(shuffled), WriteFlowGraphYaml(base));
    EXPECT_EQ(WriteFlowGraphJson(shuffled), WriteFlowGraphJson(base));
    EXPECT_EQ(WriteFlowGraphDot(shuffled), WriteFlowGraphDot(base));
  }
  // An edge seen as two halves writes like the edge seen whole.
  FlowGraph split = base;
  Edge half = split.edges[0];
  half.stats = {
      5, 70, 9000, split.edges[0].stats.first_seen_usec, split.edges[0].stats.first_seen_usec, {}};
  split.edges[0].stats.connections -= 5;
  split.edges[0].stats.packets -= 70;
  split.edges[0].stats.bytes -= 9000;
  split.edges.push_back(half);
  EXPECT_EQ(WriteFlowGraphYaml(split), WriteFlowGraphYaml(base));
}

TEST(FlowGraphCodecTest, EmptyGraph) {
  const FlowGraph empty;
  const std::string yaml = WriteFlowGraphYaml(empty);
  EXPECT_EQ(yaml, "apiVersion: bulkhead/v1\nkind: FlowGraph\ngroupBy: []\ngroups: []\nedges: []\n");
  auto back = ParseFlowGraph(yaml, "g.yaml");
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, empty);
  auto from_json = ParseFlowGraph(WriteFlowGraphJson(empty), "g.json");
  ASSERT_TRUE(from_json) << from_json.error().ToString();
  EXPECT_EQ(*from_json, empty);
}

TEST(FlowGraphReaderTest, AcceptsHandWrittenJson) {
  const std::string_view json =
      R"({"apiVersion":"bulkhead/v1","kind":"FlowGraph","groupBy":["app"],)"
      R"("groups":[{"name":"api","selector":{"app":"api"},"members":["a1"]}],)"
      R"("edges":[{"from":"world","to":"api","protocol":"tcp","port":443,"connections":2,)"
      R"("firstSeen":"2026-11-28T10:00:00.000Z","lastSeen":"2026-11-28T10:00:01.000Z",)"
      R"("examples":[{"from":"203.0.113.9","to":"a1"}]}]})";
  auto graph = ParseFlowGraph(json, "g.json");
  ASSERT_TRUE(graph) << graph.error().ToString();
  ASSERT_EQ(graph->edges.size(), 1U);
  EXPECT_EQ(graph->edges[0].key, (EdgeKey{"world", "api", Protocol::kTcp, 443}));
  EXPECT_EQ(graph->edges[0].stats.connections, 2U);
  EXPECT_EQ(graph->edges[0].stats.packets, 0U);
  EXPECT_EQ(graph->edges[0].stats.examples[0].from, "203.0.113.9");
}

TEST(FlowGraphReaderTest, HostAndWorldAreAlwaysKnown) {
  const std::string text = std::string(kHeader) +
                           "edges:\n"
                           "  - {from: host, to: world, protocol: udp, port: 123}\n";
  auto graph = ParseFlowGraph(text, "g.yaml");
  ASSERT_TRUE(graph) << graph.error().ToString();
  EXPECT_EQ(graph->edges.size(), 1U);
}

TEST(FlowGraphReaderTest, UnknownKeysAtEveryLevel) {
  EXPECT_EQ(OneError(std::string(kHeader) + "grups: []\n"),
            "3:1: unknown key \"grups\" in the FlowGraph (known: apiVersion, kind, node, "
            "nodes, groupBy, groups, edges, scans)");
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  - name: a\n    member: [x]\n"),
            "5:5: unknown key \"member\" in a group (known: name, selector, members)");
  EXPECT_EQ(
      OneError(std::string(kHeader) +
               "edges:\n  - {from: host, to: world, protocol: tcp, port: 1, conections: 3}\n"),
      "4:53: unknown key \"conections\" in an edge (known: from, to, protocol, port, "
      "connections, packets, bytes, firstSeen, lastSeen, byNode, examples)");
  EXPECT_EQ(OneError(std::string(kHeader) +
                     "edges:\n  - from: host\n    to: world\n    protocol: tcp\n    port: 1\n"
                     "    examples:\n      - {from: a, to: b, too: c}\n"),
            "9:26: unknown key \"too\" in an example (known: from, to)");
}

TEST(FlowGraphReaderTest, HeaderErrors) {
  EXPECT_EQ(OneError("apiVersion: bulkhead/v2\nkind: FlowGraph\n"),
            "1:13: apiVersion must be bulkhead/v1, not \"bulkhead/v2\"");
  EXPECT_EQ(OneError("apiVersion: bulkhead/v1\nkind: Inventory\n"),
            "2:7: kind must be FlowGraph, not \"Inventory\"");
  EXPECT_EQ(OneError("kind: FlowGraph\ngroups: []\n"),
            "1:1: missing \"apiVersion\" in the FlowGraph");
  EXPECT_EQ(OneError("- a\n- b\n"), "1:1: the FlowGraph document must be a map, not a list");
  EXPECT_EQ(OneError(""), "1:1: the file is empty; expected a YAML or JSON mapping");
  EXPECT_EQ(OneError(std::string(kHeader) + "kind: FlowGraph\n"),
            "3:1: key \"kind\" given twice in the FlowGraph");
}

TEST(FlowGraphReaderTest, ValueErrors) {
  const std::string edge = std::string(kHeader) + "edges:\n  - {from: host, to: world, ";
  EXPECT_EQ(OneError(edge + "protocol: tcpp, port: 1}\n"),
            "4:39: unknown protocol \"tcpp\" (tcp, udp, icmp, icmpv6, sctp)");
  EXPECT_EQ(OneError(edge + "protocol: tcp, port: 65536}\n"),
            "4:50: port \"65536\" is out of range (0..65535)");
  EXPECT_EQ(OneError(edge + "protocol: tcp, port: -1}\n"), "4:50: port must not be negative: -1");
  EXPECT_EQ(OneError(edge + "protocol: tcp, port: 80.5}\n"),
            "4:50: port must be an integer (0..65535), not \"80.5\"");
  EXPECT_EQ(OneError(edge + "protocol: tcp, port: \"80\"}\n"),
            "4:50: port must be an integer (0..65535), not the string \"80\"");
  EXPECT_EQ(OneError(edge + "protocol: tcp, port: 080}\n"),
            "4:50: port has a leading zero: \"080\"");
  EXPECT_EQ(OneError(edge + "protocol: icmp, port: 256}\n"),
            "4:51: port of an icmp edge is the message type (0..255), not 256");
  EXPECT_EQ(OneError(edge + "protocol: tcp, port: 1, connections: -3}\n"),
            "4:66: connections must not be negative: -3");
  EXPECT_EQ(OneError(edge + "protocol: tcp, port: 1, bytes: 18446744073709551616}\n"),
            "4:60: bytes \"18446744073709551616\" is out of range (0..18446744073709551615)");
  EXPECT_EQ(OneError(edge + "protocol: tcp, port: 1, firstSeen: yesterday}\n"),
            "4:64: firstSeen \"yesterday\" is not an RFC 3339 UTC time like "
            "2026-11-28T10:00:00.250Z");
  EXPECT_EQ(OneError(edge + "protocol: tcp, port: 1, firstSeen: 2026-11-28T10:00:01.000Z, "
                            "lastSeen: 2026-11-28T10:00:00.000Z}\n"),
            "4:100: lastSeen is before firstSeen");
  EXPECT_EQ(OneError(edge + "protocol: tcp, port: 1, firstSeen: 2026-11-28T10:00:01.000Z}\n"),
            "4:64: firstSeen without lastSeen (give both, or neither: never seen)");
  EXPECT_EQ(OneError(edge + "protocol: tcp}\n"), "4:5: missing \"port\" in an edge");
}

TEST(FlowGraphReaderTest, ReferenceAndDuplicateErrors) {
  EXPECT_EQ(OneError(std::string(kHeader) +
                     "groups: [{name: api}]\nedges:\n  - {from: api, to: dbb, protocol: tcp, "
                     "port: 1}\n"),
            "5:21: edge to names group \"dbb\", which is not in groups");
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  - name: api\n  - name: api\n"),
            "5:11: group \"api\" given twice (first at line 4)");
  EXPECT_EQ(OneError(std::string(kHeader) +
                     "edges:\n  - {from: host, to: world, protocol: tcp, port: 1}\n"
                     "  - {from: host, to: world, protocol: tcp, port: 1, connections: 2}\n"),
            "5:5: edge \"host\" -> \"world\" tcp/1 given twice (first at line 4)");
  EXPECT_EQ(OneError(std::string(kHeader) + "groupBy: [app, app]\n"),
            "3:16: groupBy label \"app\" given twice");
  EXPECT_EQ(OneError(std::string(kHeader) + "groups: [{name: world, members: [x]}]\n"),
            "3:33: the special group \"world\" has no members");
}

TEST(FlowGraphReaderTest, WrongNodeTypes) {
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  api: {}\n"),
            "4:3: groups must be a list, not a map");
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  - name: [api]\n"),
            "4:11: a group name must be a string, not a list");
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  - name: api\n    members: x\n"),
            "5:14: members must be a list, not a scalar");
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  - name: api\n    selector: [app]\n"),
            "5:15: selector must be a map, not a list");
  EXPECT_EQ(OneError(std::string(kHeader) + "edges:\n  - [host, world]\n"),
            "4:5: an edge must be a map, not a list");
  EXPECT_EQ(OneError(std::string(kHeader) + "groupBy: app\n"),
            "3:10: groupBy must be a list, not a scalar");
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  - name:\n"),
            "4:5: a group name must be a string, not an empty value");
}

TEST(FlowGraphReaderTest, ReportsEveryErrorInFileOrder) {
  const std::string text = std::string(kHeader) +                       // lines 1-2
                           "groupBy: [app]\n"                           // 3
                           "groups:\n"                                  // 4
                           "  - name: api\n"                            // 5
                           "    selectr: {app: api}\n"                  // 6
                           "  - name: db\n"                             // 7
                           "edges:\n"                                   // 8
                           "  - from: api\n"                            // 9
                           "    to: cache\n"                            // 10
                           "    protocol: tcp\n"                        // 11
                           "    port: 99999\n"                          // 12
                           "  - from: db\n"                             // 13
                           "    to: api\n"                              // 14
                           "    protocol: ftp\n"                        // 15
                           "    port: 21\n"                             // 16
                           "    packets: lots\n"                        // 17
                           "    lastSeen: 2026-11-28T25:00:00.000Z\n";  // 18
  const FileErrors errors = ExpectErrors(text);
  EXPECT_EQ(Locations(errors),
            (std::vector<std::string>{"6:5", "10:9", "12:11", "15:15", "17:14", "18:15"}))
      << errors.ToString();
  EXPECT_NE(errors.ToString().find("g.yaml:6:5: unknown key \"selectr\""), std::string::npos)
      << errors.ToString();
}

TEST(FlowGraphReaderTest, SyntaxErrorHasItsLocation) {
  const FileErrors errors =
      ExpectErrors(std::string(kHeader) + "groups:\n  - name: api\n    members: [a, b\n");
  ASSERT_EQ(errors.errors.size(), 1U) << errors.ToString();
  EXPECT_EQ(errors.errors[0].file, "g.yaml");
  EXPECT_GE(errors.errors[0].line, 5);
  EXPECT_GT(errors.errors[0].column, 0);
  const FileErrors extra =
      ExpectErrors(std::string(kHeader) + "groups:\n  - name: a\n    members: [a, b]]\n");
  EXPECT_EQ(Locations(extra), (std::vector<std::string>{"5:20"})) << extra.ToString();
  EXPECT_EQ(extra.errors[0].message, "illegal flow end");
  const FileErrors indent = ExpectErrors("apiVersion: bulkhead/v1\n kind: FlowGraph\n");
  ASSERT_EQ(indent.errors.size(), 1U);
  EXPECT_EQ(Locations(indent), (std::vector<std::string>{"2:6"})) << indent.ToString();
}

// A merged graph: `nodes:` and each node's share of every edge, the totals their sums.
constexpr std::string_view kMerged = R"(apiVersion: bulkhead/v1
kind: FlowGraph
nodes: [node-a, node-b]
groupBy: [app]
groups:
  - name: api
    selector: {app: api}
    members: [api-1, api-2]
edges:
  - from: api
    to: world
    protocol: tcp
    port: 443
    connections: 15
    packets: 170
    bytes: 18530
    firstSeen: 2026-11-28T10:00:00.000Z
    lastSeen: 2026-11-28T10:05:00.250Z
    byNode:
      - node: node-a
        connections: 12
        packets: 140
        bytes: 18230
        firstSeen: 2026-11-28T10:01:00.000Z
        lastSeen: 2026-11-28T10:05:00.250Z
      - node: node-b
        connections: 3
        packets: 30
        bytes: 300
        firstSeen: 2026-11-28T10:00:00.000Z
        lastSeen: 2026-11-28T10:02:00.000Z
    examples:
      - {from: api-1, to: world}
)";

TEST(FlowGraphNodesTest, SingleNodeGraphRecordsItsNode) {
  const std::string text =
      std::string(kHeader) + "node: node-1\ngroupBy: []\ngroups: []\nedges: []\n";
  auto graph = ParseFlowGraph(text, "g.yaml");
  ASSERT_TRUE(graph) << graph.error().ToString();
  EXPECT_EQ(graph->nodes, (std::vector<std::string>{"node-1"}));
  EXPECT_EQ(WriteFlowGraphYaml(*graph), text);
  auto json = ParseFlowGraph(WriteFlowGraphJson(*graph), "g.json");
  ASSERT_TRUE(json);
  EXPECT_EQ(*json, *graph);
  EXPECT_NE(WriteFlowGraphJson(*graph).find("\"node\": \"node-1\",\n"), std::string::npos);
}

TEST(FlowGraphNodesTest, MergedGraphRoundTripsExactly) {
  auto graph = ParseFlowGraph(kMerged, "g.yaml");
  ASSERT_TRUE(graph) << graph.error().ToString();
  EXPECT_EQ(graph->nodes, (std::vector<std::string>{"node-a", "node-b"}));
  ASSERT_EQ(graph->edges.size(), 1U);
  ASSERT_EQ(graph->edges[0].stats.by_node.size(), 2U);
  EXPECT_EQ(graph->edges[0].stats.by_node[1].node, "node-b");
  EXPECT_EQ(graph->edges[0].stats.by_node[1].bytes, 300U);
  EXPECT_EQ(WriteFlowGraphYaml(*graph), kMerged);
  const std::string json = WriteFlowGraphJson(*graph);
  auto from_json = ParseFlowGraph(json, "g.json");
  ASSERT_TRUE(from_json) << from_json.error().ToString() << json;
  EXPECT_EQ(*from_json, *graph);
  EXPECT_NE(json.find("\"nodes\": [\"node-a\", \"node-b\"]"), std::string::npos);
  EXPECT_NE(json.find("\"byNode\": [\n        {\"node\": \"node-a\", \"connections\": 12"),
            std::string::npos)
      << json;
}

TEST(FlowGraphNodesTest, OneNodeListedAsNodesReadsAsASingleNodeGraph) {
  std::string text(kMerged);
  text.replace(text.find("nodes: [node-a, node-b]"), 23, "nodes: [node-a]");
  // node-b's share is gone, so the totals must be node-a's alone.
  const auto cut = text.find("      - node: node-b");
  text.erase(cut, text.find("    examples:") - cut);
  for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"connections: 15", "connections: 12"},
           {"packets: 170", "packets: 140"},
           {"bytes: 18530", "bytes: 18230"},
           {"firstSeen: 2026-11-28T10:00:00.000Z\n    lastSeen",
            "firstSeen: 2026-11-28T10:01:00.000Z\n    lastSeen"}}) {
    text.replace(text.find(from), from.size(), to);
  }
  auto graph = ParseFlowGraph(text, "g.yaml");
  ASSERT_TRUE(graph) << graph.error().ToString() << text;
  EXPECT_EQ(graph->nodes, (std::vector<std::string>{"node-a"}));
  EXPECT_TRUE(graph->edges[0].stats.by_node.empty());
  EXPECT_EQ(graph->edges[0].stats.connections, 12U);
  EXPECT_NE(WriteFlowGraphYaml(*graph).find("\nnode: node-a\n"), std::string::npos);
}

// `text` with the first `from` replaced by `to`.
std::string Edit(std::string_view text, std::string_view from, std::string_view to) {
  std::string out(text);
  const auto at = out.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) {
    out.replace(at, from.size(), to);
  }
  return out;
}

TEST(FlowGraphNodesTest, InconsistentTotalsAreRefusedWithTheirPosition) {
  EXPECT_EQ(OneError(Edit(kMerged, "connections: 15", "connections: 16")),
            "14:18: connections 16 is not the sum of byNode's (15)");
  EXPECT_EQ(OneError(Edit(kMerged, "    bytes: 18530\n", "")),
            "10:5: bytes 0 is not the sum of byNode's (18530)");
  EXPECT_EQ(OneError(Edit(kMerged, "firstSeen: 2026-11-28T10:00:00.000Z\n    lastSeen",
                          "firstSeen: 2026-11-28T10:01:00.000Z\n    lastSeen")),
            "17:16: firstSeen 2026-11-28T10:01:00.000Z is not the earliest of byNode's "
            "(2026-11-28T10:00:00.000Z)");
  EXPECT_EQ(OneError(Edit(kMerged, "lastSeen: 2026-11-28T10:05:00.250Z\n    byNode",
                          "lastSeen: 2026-11-28T10:06:00.250Z\n    byNode")),
            "18:15: lastSeen 2026-11-28T10:06:00.250Z is not the latest of byNode's "
            "(2026-11-28T10:05:00.250Z)");
}

TEST(FlowGraphNodesTest, NodeErrors) {
  EXPECT_EQ(OneError(Edit(kMerged, "nodes: [node-a, node-b]", "nodes: [node-a, node-c]")),
            "26:15: byNode names node \"node-b\", which is not in nodes");
  EXPECT_EQ(OneError(Edit(kMerged, "nodes: [node-a, node-b]", "node: node-a")),
            "20:7: byNode belongs to a graph that covers several nodes (`nodes:`, not `node:`)");
  EXPECT_EQ(OneError(Edit(kMerged, "nodes: [node-a, node-b]", "nodes: [node-a, node-b, node-a]")),
            "3:25: node \"node-a\" given twice");
  EXPECT_EQ(OneError(Edit(kMerged, "      - node: node-b", "      - node: node-a")),
            "26:15: node \"node-a\" given twice in byNode (first at line 20)");
  // One error: the edges are then checked against `nodes`, which lists every node they name.
  EXPECT_EQ(OneError(Edit(kMerged, "nodes: [node-a, node-b]", "node: x\nnodes: [node-a, node-b]")),
            "4:8: give `node` (one node) or `nodes` (a merged graph), not both");
  EXPECT_EQ(OneError(std::string(kHeader) + "nodes: []\n"),
            "3:8: nodes is empty (leave it out for a graph of unknown origin)");
  EXPECT_EQ(OneError(std::string(kHeader) + "node: \"\"\n"), "3:7: node is empty");
  EXPECT_EQ(
      OneError(std::string(kHeader) +
               "nodes: [a, b]\nedges:\n  - {from: host, to: world, protocol: tcp, port: 1}\n"),
      "5:5: an edge of a graph that covers several nodes (`nodes:`) needs byNode");
  EXPECT_EQ(OneError(std::string(kHeader) + "nodes: [a, b]\nedges:\n  - {from: host, to: world, "
                                            "protocol: tcp, port: 1, byNode: []}\n"),
            "5:61: byNode is empty (an edge was seen on at least one node)");
  EXPECT_EQ(
      OneError(Edit(kMerged, "        packets: 30\n", "        packets: 30\n        pakets: 1\n")),
      "29:9: unknown key \"pakets\" in a byNode entry (known: node, connections, packets, "
      "bytes, firstSeen, lastSeen)");
}

TEST(FlowGraphReaderTest, HostileInputNeverThrowsOrCrashes) {
  std::vector<std::string> inputs = {
      std::string(100000, '['),
      std::string(5000, '{') + std::string(5000, '}'),
      "a: &x [*x, *x]\n",
      "&a [*a]",
      std::string(kHeader) + "groups: &g [{name: a}]\nedges: *g\n",
      std::string(kHeader) + "groups: [{name: a}, *nosuch]\n",
      std::string("\0\xff\xfe\x01", 4),
      "\xef\xbb\xbf" + std::string(kHeader),
      "%YAML 9.9\n---\na: 1\n",
      std::string(kHeader) + "---\n" + std::string(kHeader),
      "!!binary 'AAAA'",
      std::string(kHeader) + "groups: [{? [a, b]: c}]\n",
      // Found by fuzzing: yaml-cpp's LoadAll reports documents forever for this one.
      ", apedg\xbasp]\ngroups:a2d/v2\nkind: FlowGraqh\ngroupBy: [app, apedg\xbasp]\n"
      "groups:\n  - name: ap_\n    selectr:",
  };
  for (const auto& input : inputs) {
    EXPECT_NO_THROW({
      auto r = ParseFlowGraph(input, "h.yaml");
      (void)r;
    });
  }
  // Many errors are capped rather than unbounded.
  std::string many = std::string(kHeader) + "groups:\n";
  for (int i = 0; i < 3000; ++i) {
    many += "  - nme: x\n";
  }
  const FileErrors errors = ExpectErrors(many);
  EXPECT_LE(errors.errors.size(), 1001U);
  EXPECT_NE(errors.errors.back().message.find("more errors"), std::string::npos);
}

TEST(FlowGraphDotTest, NodesEdgesAndStyling) {
  const std::string dot = WriteFlowGraphDot(SampleGraph());
  EXPECT_EQ(dot.rfind("digraph bulkhead {\n", 0), 0U) << dot;
  EXPECT_NE(dot.find("  \"api\" -> \"db\" [label=\"tcp/5432 (12)\"];\n"), std::string::npos) << dot;
  EXPECT_NE(dot.find("  \"host\" -> \"api\" [label=\"icmp/8 (1)\"];\n"), std::string::npos);
  EXPECT_NE(dot.find("\"host\" [label=\"host\", shape=house"), std::string::npos) << dot;
  EXPECT_NE(dot.find("\"world\" [label=\"world\", shape=ellipse, style=dashed"), std::string::npos);
  EXPECT_NE(dot.find("  \"api\" [label=\"api\"];\n"), std::string::npos);
  EXPECT_EQ(dot.back(), '\n');
  EXPECT_EQ(dot.substr(dot.size() - 2), "}\n");
}

TEST(FlowGraphDotTest, EscapesIdentifiers) {
  FlowGraph g;
  g.groups = {{"a\"b\\c\nd", {}, {}}};
  g.edges = {{{"a\"b\\c\nd", "world", Protocol::kTcp, 1}, {1, 0, 0, 0, 0, {}}}};
  const std::string dot = WriteFlowGraphDot(g);
  EXPECT_NE(dot.find("\"a\\\"b\\\\c\\\\x0Ad\" -> \"world\""), std::string::npos) << dot;
  // Every line is one statement: no raw newline came through from the name.
  EXPECT_EQ(std::count(dot.begin(), dot.end(), '\n'), 7);
}

// ---- scans ---------------------------------------------------------------------------------

// The sample graph plus two scans: a workload of a listed group and an outside address.
FlowGraph SampleGraphWithScans() {
  FlowGraph g = SampleGraph();
  g.scans = {{"shop-api-1", "api", 1795860000000000ULL, 1795860060500000ULL, 1000, 1, 1000, 0},
             {"203.0.113.7", "world", 1795860001000000ULL, 1795860001000000ULL, 3, 40, 0, 120}};
  g.Normalize();
  return g;
}

constexpr std::string_view kScansYaml = R"(scans:
  - source: 203.0.113.7
    group: world
    firstSeen: 2026-11-28T10:00:01.000Z
    lastSeen: 2026-11-28T10:00:01.000Z
    ports: 3
    peers: 40
    refused: 0
    incomplete: 120
  - source: shop-api-1
    group: api
    firstSeen: 2026-11-28T10:00:00.000Z
    lastSeen: 2026-11-28T10:01:00.500Z
    ports: 1000
    peers: 1
    refused: 1000
    incomplete: 0
)";

TEST(FlowGraphScansTest, WrittenAfterTheEdgesAndReadBack) {
  const FlowGraph g = SampleGraphWithScans();
  const std::string yaml = WriteFlowGraphYaml(g);
  ASSERT_GE(yaml.size(), kScansYaml.size());
  EXPECT_EQ(yaml.substr(yaml.size() - kScansYaml.size()), kScansYaml) << yaml;
  EXPECT_LT(yaml.find("\nedges:\n"), yaml.find("\nscans:\n"));
  auto back = ParseFlowGraph(yaml, "g.yaml");
  ASSERT_TRUE(back) << back.error().ToString() << "\n" << yaml;
  EXPECT_EQ(*back, g);
  EXPECT_EQ(WriteFlowGraphYaml(*back), yaml);
}

TEST(FlowGraphScansTest, JsonRoundTripsThroughTheYamlReader) {
  const FlowGraph g = SampleGraphWithScans();
  const std::string json = WriteFlowGraphJson(g);
  EXPECT_NE(json.find("  \"scans\": [\n    {\"source\": \"203.0.113.7\", \"group\": \"world\", "
                      "\"firstSeen\": \"2026-11-28T10:00:01.000Z\", \"lastSeen\": "
                      "\"2026-11-28T10:00:01.000Z\", \"ports\": 3, \"peers\": 40, \"refused\": 0, "
                      "\"incomplete\": 120},\n"),
            std::string::npos)
      << json;
  auto back = ParseFlowGraph(json, "g.json");
  ASSERT_TRUE(back) << back.error().ToString() << "\n" << json;
  EXPECT_EQ(*back, g);
}

TEST(FlowGraphScansTest, AbsentWhenThereAreNone) {
  const FlowGraph g = SampleGraph();
  EXPECT_EQ(WriteFlowGraphYaml(g).find("scans"), std::string::npos);
  EXPECT_EQ(WriteFlowGraphJson(g).find("scans"), std::string::npos);
  // An empty list reads as no scans (and is not written back).
  auto empty = ParseFlowGraph(std::string(kHeader) + "scans: []\n", "g.yaml");
  ASSERT_TRUE(empty) << empty.error().ToString();
  EXPECT_TRUE(empty->scans.empty());
}

TEST(FlowGraphScansTest, FlowStyleAndHostAreRead) {
  auto graph = ParseFlowGraph(
      std::string(kHeader) +
          "scans:\n  - {source: node-1, group: host, firstSeen: 2026-11-28T10:00:00.000Z, "
          "lastSeen: 2026-11-28T10:00:00.000Z, ports: 65536, peers: 0, refused: 7, "
          "incomplete: 18446744073709551615}\n",
      "g.yaml");
  ASSERT_TRUE(graph) << graph.error().ToString();
  ASSERT_EQ(graph->scans.size(), 1U);
  EXPECT_EQ(graph->scans[0], (ScanRecord{"node-1", "host", 1795860000000000ULL, 1795860000000000ULL,
                                         65536, 0, 7, 18446744073709551615ULL}));
}

TEST(FlowGraphScansTest, OddNamesRoundTripExactly) {
  FlowGraph g;
  for (const std::string& s : OddStrings()) {
    if (!s.empty()) {
      g.scans.push_back(ScanRecord{s, "world", 1000, 2000, 1, 1, 1, 0});
    }
  }
  g.Normalize();
  auto back = ParseFlowGraph(WriteFlowGraphYaml(g), "g.yaml");
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, g);
  auto from_json = ParseFlowGraph(WriteFlowGraphJson(g), "g.json");
  ASSERT_TRUE(from_json) << from_json.error().ToString();
  EXPECT_EQ(*from_json, g);
}

// Every error of a scan entry, with its position.
TEST(FlowGraphScansTest, ReaderErrors) {
  const std::string scan = std::string(kHeader) + "scans:\n  - {";
  const std::string times =
      "firstSeen: 2026-11-28T10:00:00.000Z, lastSeen: 2026-11-28T10:00:01.000Z";
  const std::string counts = "ports: 1, peers: 1, refused: 1, incomplete: 0";
  const std::string good = "source: a, group: world, " + times + ", " + counts;
  ASSERT_TRUE(ParseFlowGraph(scan + good + "}\n", "g.yaml"));

  EXPECT_EQ(OneError(scan + good + ", port: 1}\n"),
            "4:151: unknown key \"port\" in a scan (known: source, group, firstSeen, lastSeen, "
            "ports, peers, refused, incomplete)");
  EXPECT_EQ(OneError(scan + "group: world, " + times + ", " + counts + "}\n"),
            "4:5: missing \"source\" in a scan");
  EXPECT_EQ(OneError(scan + "source: a, " + times + ", " + counts + "}\n"),
            "4:5: missing \"group\" in a scan");
  EXPECT_EQ(OneError(scan + "source: a, group: world, lastSeen: 2026-11-28T10:00:01.000Z, " +
                     counts + "}\n"),
            "4:5: missing \"firstSeen\" in a scan");
  EXPECT_EQ(
      OneError(scan + "source: a, group: world, " + times + ", ports: 1, peers: 1, refused: 1}\n"),
      "4:5: missing \"incomplete\" in a scan");
  EXPECT_EQ(OneError(scan + "source: \"\", group: world, " + times + ", " + counts + "}\n"),
            "4:14: scan source is empty");
  EXPECT_EQ(OneError(scan + "source: [a], group: world, " + times + ", " + counts + "}\n"),
            "4:14: scan source must be a string, not a list");
  EXPECT_EQ(OneError(scan + "source: a, group: \"\", " + times + ", " + counts + "}\n"),
            "4:24: scan group is empty");
  EXPECT_EQ(OneError(scan +
                     "source: a, group: world, firstSeen: soon, "
                     "lastSeen: 2026-11-28T10:00:01.000Z, " +
                     counts + "}\n"),
            "4:42: firstSeen \"soon\" is not an RFC 3339 UTC time like 2026-11-28T10:00:00.250Z");
  EXPECT_EQ(OneError(scan +
                     "source: a, group: world, firstSeen: 2026-11-28T10:00:01.000Z, "
                     "lastSeen: 2026-11-28T10:00:00.000Z, " +
                     counts + "}\n"),
            "4:78: lastSeen is before firstSeen");
  const std::string named = scan + "source: a, group: world, " + times + ", ";
  EXPECT_EQ(OneError(named + "ports: -1, peers: 1, refused: 1, incomplete: 0}\n"),
            "4:111: ports must not be negative: -1");
  EXPECT_EQ(OneError(named + "ports: 65537, peers: 1, refused: 1, incomplete: 0}\n"),
            "4:111: ports \"65537\" is out of range (0..65536)");
  EXPECT_EQ(OneError(named + "ports: 1, peers: 1.5, refused: 1, incomplete: 0}\n"),
            "4:121: peers must be an integer (0..18446744073709551615), not \"1.5\"");
  EXPECT_EQ(OneError(named + "ports: 1, peers: 1, refused: \"1\", incomplete: 0}\n"),
            "4:133: refused must be an integer (0..18446744073709551615), not the string \"1\"");
  EXPECT_EQ(OneError(named + "ports: 1, peers: 1, refused: 1, incomplete: many}\n"),
            "4:148: incomplete must be an integer (0..18446744073709551615), not \"many\"");
  EXPECT_EQ(OneError(std::string(kHeader) + "scans:\n  - [a, world]\n"),
            "4:5: a scan must be a map, not a list");
  EXPECT_EQ(OneError(std::string(kHeader) + "scans: {a: 1}\n"),
            "3:8: scans must be a list, not a map");
}

TEST(FlowGraphScansTest, ReferenceAndDuplicateErrors) {
  const std::string rest =
      "firstSeen: 2026-11-28T10:00:00.000Z, lastSeen: 2026-11-28T10:00:01.000Z, ports: 1, "
      "peers: 1, refused: 1, incomplete: 0}\n";
  // The group must be listed (or host/world), wherever the groups come in the file.
  EXPECT_EQ(OneError(std::string(kHeader) + "scans:\n  - {source: a, group: web, " + rest +
                     "groups: [{name: api}]\n"),
            "4:24: scan group names group \"web\", which is not in groups");
  EXPECT_TRUE(ParseFlowGraph(std::string(kHeader) + "scans:\n  - {source: a, group: api, " + rest +
                                 "groups: [{name: api}]\n",
                             "g.yaml"));
  EXPECT_EQ(OneError(std::string(kHeader) + "scans:\n  - {source: a, group: world, " + rest +
                     "  - {source: a, group: world, " + rest),
            "5:5: scan from \"a\" (group \"world\") given twice (first at line 4)");
  // The same source in two groups (an address that changed hands) is two records.
  auto two = ParseFlowGraph(std::string(kHeader) + "groups: [{name: api}]\nscans:\n" +
                                "  - {source: a, group: world, " + rest +
                                "  - {source: a, group: api, " + rest,
                            "g.yaml");
  ASSERT_TRUE(two) << two.error().ToString();
  EXPECT_EQ(two->scans.size(), 2U);
}

// Times finer than the file's millisecond are cut to it, so every graph read writes back as
// itself (found by the fuzz target's round trip: ".0005Z" read as 500 us, written as ".000Z").
TEST(FlowGraphReaderTest, TimesAreKeptToTheMillisecond) {
  const std::string text = std::string(kHeader) +
                           "edges:\n  - {from: host, to: world, protocol: tcp, port: 1, "
                           "firstSeen: 2026-11-28T10:00:00.0005Z, lastSeen: "
                           "2026-11-28T10:00:00.250999Z}\n"
                           "scans:\n  - {source: a, group: world, firstSeen: "
                           "2026-11-28T10:00:00.0009Z, lastSeen: 2026-11-28T10:00:01.9999Z, "
                           "ports: 1, peers: 1, refused: 1, incomplete: 0}\n";
  auto graph = ParseFlowGraph(text, "g.yaml");
  ASSERT_TRUE(graph) << graph.error().ToString();
  EXPECT_EQ(graph->edges[0].stats.first_seen_usec, 1795860000000000ULL);
  EXPECT_EQ(graph->edges[0].stats.last_seen_usec, 1795860000250000ULL);
  EXPECT_EQ(graph->scans[0].first_seen_usec, 1795860000000000ULL);
  EXPECT_EQ(graph->scans[0].last_seen_usec, 1795860001999000ULL);
  auto back = ParseFlowGraph(WriteFlowGraphYaml(*graph), "again.yaml");
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, *graph);
}

TEST(FlowGraphScansTest, NormalizeSortsAndCombinesOneSource) {
  FlowGraph g;
  g.scans = {{"b", "world", 5000, 6000, 2, 1, 2, 0},
             {"a", "world", 3000, 9000, 1, 4, 0, 1},
             {"b", "world", 1000, 2000, 7, 1, 0, 3}};
  g.Normalize();
  EXPECT_EQ(g.scans, (std::vector<ScanRecord>{{"a", "world", 3000, 9000, 1, 4, 0, 1},
                                              {"b", "world", 1000, 6000, 7, 1, 2, 3}}));
}

}  // namespace
}  // namespace bulkhead::policy
