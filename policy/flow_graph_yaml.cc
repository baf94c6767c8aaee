// FlowGraph <-> YAML. The reader goes through yaml-cpp (which reads JSON too); the writer is
// hand-written so the output is byte-for-byte stable and every untrusted string is quoted by
// one function (internal::YamlScalar).
#include <limits>
#include <map>

#include "policy/flow_graph_codec.h"
#include "policy/internal/text_escape.h"
#include "policy/internal/yaml_util.h"

namespace bulkhead::policy {
namespace {

using internal::ErrorList;
using internal::Fields;
using internal::Quote;
using internal::YamlScalar;

constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kMaxPort = 65535;
constexpr std::uint64_t kMaxIcmpType = 255;  // RFC 792 / RFC 4443: the type is one octet

// ---- writer -------------------------------------------------------------------------------

// ---- reader -------------------------------------------------------------------------------

// Where a group or an edge was first defined, for "given twice" messages.
int LineOf(const YAML::Node& node) { return node.Mark().line + 1; }

class GraphReader {
 public:
  explicit GraphReader(ErrorList& errors) : errors_(errors) {}

  void Read(const YAML::Node& root, FlowGraph& graph) {
    if (!internal::ExpectMap(root, "the FlowGraph document", errors_)) {
      return;
    }
    Fields top(root, {"apiVersion", "kind", "groupBy", "groups", "edges"}, "the FlowGraph",
               errors_);
    internal::CheckHeader(top, "FlowGraph", errors_);
    if (const YAML::Node* node = top.Find("groupBy")) {
      graph.group_by = internal::ReadGroupBy(*node, errors_);
    }
    if (const YAML::Node* node = top.Find("groups")) {
      if (internal::ExpectSequence(*node, "groups", errors_)) {
        for (const auto& item : *node) {
          ReadGroup(YAML::Node(item), graph);
        }
      }
    }
    if (const YAML::Node* node = top.Find("edges")) {
      if (internal::ExpectSequence(*node, "edges", errors_)) {
        for (const auto& item : *node) {
          ReadEdge(YAML::Node(item), graph);
        }
      }
    }
  }

 private:
  void ReadGroup(const YAML::Node& item, FlowGraph& graph) {
    if (!internal::ExpectMap(item, "a group", errors_)) {
      return;
    }
    Fields fields(item, {"name", "selector", "members"}, "a group", errors_);
    Group group;
    bool ok = true;
    const YAML::Node* name_node = fields.Require("name");
    if (name_node != nullptr) {
      if (auto name = internal::ReadString(*name_node, "a group name", errors_)) {
        group.name = std::move(*name);
        if (group.name.empty()) {
          errors_.Add(*name_node, "a group name is empty");
          ok = false;
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (const YAML::Node* node = fields.Find("selector")) {
      group.selector = internal::ReadStringMap(*node, "selector", errors_);
      if (group.name == kHostGroup || group.name == kWorldGroup) {
        errors_.Add(*node, "the special group " + Quote(group.name) + " has no selector");
      }
    }
    if (const YAML::Node* node = fields.Find("members")) {
      for (auto& [member, member_node] : internal::ReadStringList(*node, "members", errors_)) {
        if (member.empty()) {
          errors_.Add(member_node, "a member name is empty");
        } else {
          group.members.push_back(std::move(member));
        }
      }
      if (group.name == kWorldGroup && !group.members.empty()) {
        errors_.Add(*node, "the special group \"world\" has no members");
      }
    }
    if (!ok) {
      return;
    }
    const auto [it, inserted] = group_lines_.emplace(group.name, LineOf(*name_node));
    if (!inserted) {
      errors_.Add(*name_node, "group " + Quote(group.name) + " given twice (first at line " +
                                  std::to_string(it->second) + ")");
      return;
    }
    graph.groups.push_back(std::move(group));
  }

  std::optional<std::string> ReadGroupRef(const Fields& fields, std::string_view key,
                                          const YAML::Node& edge) {
    const YAML::Node* node = fields.Find(key);
    if (node == nullptr) {
      errors_.Add(edge, "missing " + Quote(key) + " in an edge");
      return std::nullopt;
    }
    auto name = internal::ReadString(*node, std::string("edge ") + std::string(key), errors_);
    if (!name) {
      return std::nullopt;
    }
    if (*name != kHostGroup && *name != kWorldGroup && group_lines_.count(*name) == 0) {
      errors_.Add(*node, "edge " + std::string(key) + " names group " + Quote(*name) +
                             ", which is not in groups");
      return std::nullopt;
    }
    return name;
  }

  std::optional<std::uint64_t> ReadTimestamp(const YAML::Node& node, std::string_view what) {
    auto text = internal::ReadString(node, what, errors_);
    if (!text) {
      return std::nullopt;
    }
    auto usec = ParseTimestamp(*text);
    if (!usec) {
      errors_.Add(node, std::string(what) + " " + Quote(*text) +
                            " is not an RFC 3339 UTC time like 2026-11-28T10:00:00.250Z");
    }
    return usec;
  }

  void ReadExamples(const YAML::Node& node, EdgeStats& stats) {
    if (!internal::ExpectSequence(node, "examples", errors_)) {
      return;
    }
    if (node.size() > kMaxEdgeExamples) {
      errors_.Add(node, "an edge has at most " + std::to_string(kMaxEdgeExamples) +
                            " examples, not " + std::to_string(node.size()));
    }
    for (const auto& entry : node) {
      const YAML::Node item(entry);
      if (!internal::ExpectMap(item, "an example", errors_)) {
        continue;
      }
      Fields fields(item, {"from", "to"}, "an example", errors_);
      const YAML::Node* from = fields.Require("from");
      const YAML::Node* to = fields.Require("to");
      auto from_name = from ? internal::ReadString(*from, "example from", errors_) : std::nullopt;
      auto to_name = to ? internal::ReadString(*to, "example to", errors_) : std::nullopt;
      if (from_name && to_name) {
        stats.examples.push_back(WorkloadPair{std::move(*from_name), std::move(*to_name)});
      }
    }
  }

  void ReadEdge(const YAML::Node& item, FlowGraph& graph) {
    if (!internal::ExpectMap(item, "an edge", errors_)) {
      return;
    }
    Fields fields(item,
                  {"from", "to", "protocol", "port", "connections", "packets", "bytes",
                   "firstSeen", "lastSeen", "examples"},
                  "an edge", errors_);
    Edge edge;
    bool ok = true;
    auto from = ReadGroupRef(fields, "from", item);
    auto to = ReadGroupRef(fields, "to", item);
    ok = ok && from && to;
    const YAML::Node* protocol_node = fields.Require("protocol");
    std::optional<Protocol> protocol;
    if (protocol_node != nullptr) {
      if (auto name = internal::ReadString(*protocol_node, "protocol", errors_)) {
        protocol = ParseProtocol(*name);
        if (!protocol) {
          errors_.Add(*protocol_node, "unknown protocol " + Quote(*name) +
                                          " (tcp, udp, icmp, icmpv6, sctp)");
        }
      }
    }
    ok = ok && protocol;
    const YAML::Node* port_node = fields.Require("port");
    std::optional<std::uint64_t> port;
    if (port_node != nullptr) {
      port = internal::ReadUnsigned(*port_node, "port", kMaxPort, errors_);
      if (port && protocol && (*protocol == Protocol::kIcmp || *protocol == Protocol::kIcmpv6) &&
          *port > kMaxIcmpType) {
        errors_.Add(*port_node, "port of an " + std::string(ProtocolName(*protocol)) +
                                    " edge is the message type (0..255), not " +
                                    std::to_string(*port));
        ok = false;
      }
    }
    ok = ok && port;

    auto counter = [&](std::string_view key, std::uint64_t& out) {
      if (const YAML::Node* node = fields.Find(key)) {
        if (auto value = internal::ReadUnsigned(*node, key, kMaxU64, errors_)) {
          out = *value;
        }
      }
    };
    counter("connections", edge.stats.connections);
    counter("packets", edge.stats.packets);
    counter("bytes", edge.stats.bytes);
    const YAML::Node* first_node = fields.Find("firstSeen");
    const YAML::Node* last_node = fields.Find("lastSeen");
    auto first = first_node ? ReadTimestamp(*first_node, "firstSeen") : std::nullopt;
    auto last = last_node ? ReadTimestamp(*last_node, "lastSeen") : std::nullopt;
    edge.stats.first_seen_usec = first.value_or(0);
    edge.stats.last_seen_usec = last.value_or(0);
    if (first && last && *last < *first) {
      errors_.Add(*last_node, "lastSeen is before firstSeen");
    }
    if (const YAML::Node* node = fields.Find("examples")) {
      ReadExamples(*node, edge.stats);
    }
    if (!ok) {
      return;
    }
    edge.key = EdgeKey{std::move(*from), std::move(*to), *protocol,
                       static_cast<std::uint16_t>(*port)};
    const auto [it, inserted] = edge_lines_.emplace(edge.key, LineOf(item));
    if (!inserted) {
      errors_.Add(item, "edge " + Quote(edge.key.from) + " -> " + Quote(edge.key.to) + " " +
                            std::string(ProtocolName(edge.key.protocol)) + "/" +
                            std::to_string(edge.key.port) + " given twice (first at line " +
                            std::to_string(it->second) + ")");
      return;
    }
    graph.edges.push_back(std::move(edge));
  }

  ErrorList& errors_;
  std::map<std::string, int> group_lines_;
  std::map<EdgeKey, int> edge_lines_;
};

}  // namespace

std::string WriteFlowGraphYaml(const FlowGraph& input) {
  FlowGraph graph = input;
  graph.Normalize();
  std::string out = "apiVersion: bulkhead/v1\nkind: FlowGraph\n";
  out += "groupBy: " + internal::YamlFlowList(graph.group_by) + "\n";
  out += graph.groups.empty() ? "groups: []\n" : "groups:\n";
  for (const auto& group : graph.groups) {
    out += "  - name: " + YamlScalar(group.name) + "\n";
    if (!group.selector.empty()) {
      out += "    selector: " + internal::YamlFlowMap(group.selector) + "\n";
    }
    if (!group.members.empty()) {
      out += "    members: " + internal::YamlFlowList(group.members) + "\n";
    }
  }
  out += graph.edges.empty() ? "edges: []\n" : "edges:\n";
  for (const auto& edge : graph.edges) {
    const auto& s = edge.stats;
    out += "  - from: " + YamlScalar(edge.key.from) + "\n";
    out += "    to: " + YamlScalar(edge.key.to) + "\n";
    out += "    protocol: " + std::string(ProtocolName(edge.key.protocol)) + "\n";
    out += "    port: " + std::to_string(edge.key.port) + "\n";
    out += "    connections: " + std::to_string(s.connections) + "\n";
    out += "    packets: " + std::to_string(s.packets) + "\n";
    out += "    bytes: " + std::to_string(s.bytes) + "\n";
    // Timestamps are our own digits, safe unquoted (as in the documented example).
    out += "    firstSeen: " + FormatTimestamp(s.first_seen_usec) + "\n";
    out += "    lastSeen: " + FormatTimestamp(s.last_seen_usec) + "\n";
    if (!s.examples.empty()) {
      out += "    examples:\n";
      for (const auto& pair : s.examples) {
        out += "      - {from: " + YamlScalar(pair.from) + ", to: " + YamlScalar(pair.to) + "}\n";
      }
    }
  }
  return out;
}

boost::system::result<FlowGraph, FileErrors> ParseFlowGraph(std::string_view text,
                                                            std::string_view file_name) {
  auto parsed = internal::ParseDocument<FlowGraph>(
      text, file_name, [](const YAML::Node& root, ErrorList& errors, FlowGraph& graph) {
        GraphReader(errors).Read(root, graph);
      });
  if (parsed) {
    parsed->Normalize();
  }
  return parsed;
}

boost::system::result<FlowGraph, FileErrors> LoadFlowGraphFile(const std::string& path) {
  return internal::LoadDocumentFile(path, ParseFlowGraph);
}

}  // namespace bulkhead::policy
