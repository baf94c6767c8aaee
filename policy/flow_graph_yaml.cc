// FlowGraph <-> YAML. The reader streams the file item by item through codec's reader (libyaml,
// which reads JSON too), so the agent continuing a large graph does not hold a document tree;
// the writer is hand-written so the output is byte-for-byte stable and every untrusted string is
// quoted by one function (codec::YamlScalar).
#include <algorithm>
#include <limits>
#include <map>

#include "codec/text_escape.h"
#include "codec/yaml_reader.h"
#include "policy/flow_graph_codec.h"

namespace bulkhead::policy {
namespace {

using codec::ErrorList;
using codec::Fields;
using codec::Mark;
using codec::Node;
using codec::Quote;
using codec::YamlScalar;

constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kMaxPort = 65535;
constexpr std::uint64_t kMaxIcmpType = 255;  // RFC 792 / RFC 4443: the type is one octet

// ---- reader -------------------------------------------------------------------------------

// Where a group or an edge was first defined, for "given twice" messages.
int LineOf(const Node& node) { return node.Where().line + 1; }

// An edge read before its groups were all known: checked once the document is read. An edge
// that had other errors is kept (incomplete) so its group names are checked too.
struct PendingEdge {
  Edge edge;
  bool complete = false;
  std::optional<std::string> from;  // as read, for the group check of incomplete edges
  std::optional<std::string> to;
  Mark item;
  Mark from_mark;
  Mark to_mark;
  // `byNode`: where it was, and where each share named its node (checked against `nodes`).
  std::optional<Mark> by_node;
  std::vector<std::pair<std::string, Mark>> share_nodes;
};

// A scan record read before the groups were all known: its group is checked once the document
// is read, as an edge's are.
struct PendingScan {
  ScanRecord scan;
  Mark item;
  Mark group_mark;
};

// The top-level `node:` or `nodes:` as read, checked against the edges' `byNode` at the end.
struct NodesRead {
  bool several = false;              // `nodes:` (per-node shares required) rather than `node:`
  std::map<std::string, int> lines;  // node -> line of its mention
};

class GraphReader {
 public:
  explicit GraphReader(ErrorList& errors) : errors_(errors) {}

  void Read(std::string_view text, FlowGraph& graph) {
    auto top_node = codec::StreamDocument(
        text, "the FlowGraph",
        {"apiVersion", "kind", "node", "nodes", "groupBy", "groups", "edges", "scans"},
        {{"groups", [&](const Node& item) { ReadGroup(item, graph); }},
         {"edges", [&](const Node& item) { ReadEdge(item); }},
         {"scans", [&](const Node& item) { ReadScan(item); }}},
        errors_);
    if (!top_node) {
      return;
    }
    Fields top(*top_node, {"apiVersion", "kind", "node", "nodes", "groupBy"}, "the FlowGraph",
               errors_);
    codec::CheckHeader(top, "FlowGraph", errors_);
    ReadNodes(top, graph);
    if (const Node* node = top.Find("groupBy")) {
      graph.group_by = codec::ReadGroupBy(*node, errors_);
    }
    ResolveEdges(graph);
    ResolveScans(graph);
  }

 private:
  // `node: NAME` (learned on one node) or `nodes: [A, B, ...]` (merged), not both.
  void ReadNodes(const Fields& top, FlowGraph& graph) {
    const Node* one = top.Find("node");
    const Node* several = top.Find("nodes");
    if (one != nullptr && several != nullptr) {
      // Reported once; `nodes` is still read, so the edges are checked against it alone.
      errors_.Add(*several, "give `node` (one node) or `nodes` (a merged graph), not both");
      one = nullptr;
    }
    if (one != nullptr) {
      if (auto name = codec::ReadString(*one, "node", errors_)) {
        if (name->empty()) {
          errors_.Add(*one, "node is empty");
        } else {
          nodes_.lines.emplace(*name, LineOf(*one));
          graph.nodes.push_back(std::move(*name));
        }
      }
      return;
    }
    if (several == nullptr) {
      return;
    }
    nodes_.several = true;
    auto names = codec::ReadStringList(*several, "nodes", errors_);
    if (names.empty() && several->IsSequence()) {
      errors_.Add(*several, "nodes is empty (leave it out for a graph of unknown origin)");
    }
    for (auto& [name, node] : names) {
      if (name.empty()) {
        errors_.Add(*node, "a node name is empty");
        continue;
      }
      if (!nodes_.lines.emplace(name, LineOf(*node)).second) {
        errors_.Add(*node, "node " + Quote(name) + " given twice");
        continue;
      }
      graph.nodes.push_back(std::move(name));
    }
  }

  void ReadGroup(const Node& item, FlowGraph& graph) {
    if (!codec::ExpectMap(item, "a group", errors_)) {
      return;
    }
    Fields fields(item, {"name", "selector", "members"}, "a group", errors_);
    Group group;
    bool ok = true;
    const Node* name_node = fields.Require("name");
    if (name_node != nullptr) {
      if (auto name = codec::ReadString(*name_node, "a group name", errors_)) {
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
    if (const Node* node = fields.Find("selector")) {
      group.selector = codec::ReadStringMap(*node, "selector", errors_);
      if (group.name == kHostGroup || group.name == kWorldGroup) {
        errors_.Add(*node, "the special group " + Quote(group.name) + " has no selector");
      }
    }
    if (const Node* node = fields.Find("members")) {
      for (auto& [member, member_node] : codec::ReadStringList(*node, "members", errors_)) {
        if (member.empty()) {
          errors_.Add(*member_node, "a member name is empty");
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

  // `from`/`to` of an edge. Whether the group exists is checked in ResolveEdges: edges may
  // come before the groups in the file.
  std::optional<std::string> ReadGroupRef(const Fields& fields, std::string_view key,
                                          const Node& edge, Mark& mark) {
    const Node* node = fields.Find(key);
    if (node == nullptr) {
      errors_.Add(edge, "missing " + Quote(key) + " in an edge");
      return std::nullopt;
    }
    mark = node->Where();
    return codec::ReadString(*node, std::string("edge ") + std::string(key), errors_);
  }

  bool CheckGroupRef(const std::string& name, std::string_view key, Mark mark) {
    if (name != kHostGroup && name != kWorldGroup && group_lines_.count(name) == 0) {
      errors_.Add(mark, "edge " + std::string(key) + " names group " + Quote(name) +
                            ", which is not in groups");
      return false;
    }
    return true;
  }

  std::optional<std::uint64_t> ReadTimestamp(const Node& node, std::string_view what) {
    auto text = codec::ReadString(node, what, errors_);
    if (!text) {
      return std::nullopt;
    }
    auto usec = ParseTimestamp(*text);
    if (!usec) {
      errors_.Add(node, std::string(what) + " " + Quote(*text) +
                            " is not an RFC 3339 UTC time like 2026-11-28T10:00:00.250Z");
    }
    return usec;  // to the millisecond (ParseTimestamp), as the writers print it
  }

  void ReadExamples(const Node& node, EdgeStats& stats) {
    if (!codec::ExpectSequence(node, "examples", errors_)) {
      return;
    }
    if (node.size() > kMaxEdgeExamples) {
      errors_.Add(node, "an edge has at most " + std::to_string(kMaxEdgeExamples) +
                            " examples, not " + std::to_string(node.size()));
    }
    for (const Node& item : node.Items()) {
      if (!codec::ExpectMap(item, "an example", errors_)) {
        continue;
      }
      Fields fields(item, {"from", "to"}, "an example", errors_);
      const Node* from = fields.Require("from");
      const Node* to = fields.Require("to");
      auto from_name = from ? codec::ReadString(*from, "example from", errors_) : std::nullopt;
      auto to_name = to ? codec::ReadString(*to, "example to", errors_) : std::nullopt;
      if (from_name && to_name) {
        stats.examples.push_back(WorkloadPair{std::move(*from_name), std::move(*to_name)});
      }
    }
  }

  // connections, packets, bytes, firstSeen, lastSeen: of an edge or of one node's share. Absent
  // counters and times are 0 ("never seen").
  void ReadCounters(const Fields& fields, NodeEdgeStats& out) {
    auto counter = [&](std::string_view key, std::uint64_t& value_out) {
      if (const Node* node = fields.Find(key)) {
        if (auto value = codec::ReadUnsigned(*node, key, kMaxU64, errors_)) {
          value_out = *value;
        }
      }
    };
    counter("connections", out.connections);
    counter("packets", out.packets);
    counter("bytes", out.bytes);
    const Node* first_node = fields.Find("firstSeen");
    const Node* last_node = fields.Find("lastSeen");
    auto first = first_node ? ReadTimestamp(*first_node, "firstSeen") : std::nullopt;
    auto last = last_node ? ReadTimestamp(*last_node, "lastSeen") : std::nullopt;
    out.first_seen_usec = first.value_or(0);
    out.last_seen_usec = last.value_or(0);
    if (first && last && *last < *first) {
      errors_.Add(*last_node, "lastSeen is before firstSeen");
    }
    // An absent lastSeen is 0, "never": before any firstSeen but the epoch's. Refused here as
    // the writer's explicit lastSeen would be when read back (a graph read writes back as itself).
    if (first && *first > 0 && last_node == nullptr) {
      errors_.Add(*first_node, "firstSeen without lastSeen (give both, or neither: never seen)");
    }
  }

  // `byNode`: a list of `{node, connections, packets, bytes, firstSeen, lastSeen}`, one per
  // node. True when every share was read (so the totals can be checked against them).
  bool ReadByNode(const Node& node, EdgeStats& stats, PendingEdge& pending) {
    if (!codec::ExpectSequence(node, "byNode", errors_)) {
      return false;
    }
    if (node.size() == 0) {
      errors_.Add(node, "byNode is empty (an edge was seen on at least one node)");
      return false;
    }
    bool ok = true;
    std::map<std::string, int> lines;
    for (const Node& item : node.Items()) {
      if (!codec::ExpectMap(item, "a byNode entry", errors_)) {
        ok = false;
        continue;
      }
      Fields fields(item, {"node", "connections", "packets", "bytes", "firstSeen", "lastSeen"},
                    "a byNode entry", errors_);
      NodeEdgeStats share;
      ReadCounters(fields, share);
      const Node* name_node = fields.Require("node");
      auto name = name_node ? codec::ReadString(*name_node, "node", errors_) : std::nullopt;
      if (!name) {
        ok = false;
        continue;
      }
      if (name->empty()) {
        errors_.Add(*name_node, "node is empty");
        ok = false;
        continue;
      }
      const auto [it, inserted] = lines.emplace(*name, LineOf(*name_node));
      if (!inserted) {
        errors_.Add(*name_node, "node " + Quote(*name) + " given twice in byNode (first at line " +
                                    std::to_string(it->second) + ")");
        ok = false;
        continue;
      }
      pending.share_nodes.emplace_back(*name, name_node->Where());
      share.node = std::move(*name);
      stats.by_node.push_back(std::move(share));
    }
    return ok;
  }

  // An edge's totals must be what its shares add up to: checked, not derived, so a hand edit of
  // one number without the other is caught rather than silently preferred.
  void CheckTotals(const Fields& fields, const Node& item, const EdgeStats& stats) {
    NodeEdgeStats sum;
    for (const auto& share : stats.by_node) {
      sum.connections = SaturatingAdd(sum.connections, share.connections);
      sum.packets = SaturatingAdd(sum.packets, share.packets);
      sum.bytes = SaturatingAdd(sum.bytes, share.bytes);
      sum.first_seen_usec = EarliestSeen(sum.first_seen_usec, share.first_seen_usec);
      sum.last_seen_usec = std::max(sum.last_seen_usec, share.last_seen_usec);
    }
    auto check = [&](std::string_view key, std::uint64_t total, std::uint64_t expected,
                     std::string_view how, bool is_time) {
      if (total == expected) {
        return;
      }
      const Node* node = fields.Find(key);
      auto show = [&](std::uint64_t value) {
        return is_time ? (value == 0 ? std::string("absent") : FormatTimestamp(value))
                       : std::to_string(value);
      };
      const std::string message = std::string(key) + " " + show(total) + " is not the " +
                                  std::string(how) + " of byNode's (" + show(expected) + ")";
      if (node != nullptr) {
        errors_.Add(*node, message);
      } else {
        errors_.Add(item, message);
      }
    };
    check("connections", stats.connections, sum.connections, "sum", false);
    check("packets", stats.packets, sum.packets, "sum", false);
    check("bytes", stats.bytes, sum.bytes, "sum", false);
    check("firstSeen", stats.first_seen_usec, sum.first_seen_usec, "earliest", true);
    check("lastSeen", stats.last_seen_usec, sum.last_seen_usec, "latest", true);
  }

  void ReadEdge(const Node& item) {
    if (!codec::ExpectMap(item, "an edge", errors_)) {
      return;
    }
    Fields fields(item,
                  {"from", "to", "protocol", "port", "connections", "packets", "bytes", "firstSeen",
                   "lastSeen", "byNode", "examples"},
                  "an edge", errors_);
    Edge edge;
    PendingEdge pending;
    bool ok = true;
    auto from = ReadGroupRef(fields, "from", item, pending.from_mark);
    auto to = ReadGroupRef(fields, "to", item, pending.to_mark);
    ok = ok && from && to;
    const Node* protocol_node = fields.Require("protocol");
    std::optional<Protocol> protocol;
    if (protocol_node != nullptr) {
      if (auto name = codec::ReadString(*protocol_node, "protocol", errors_)) {
        protocol = ParseProtocol(*name);
        if (!protocol) {
          errors_.Add(*protocol_node,
                      "unknown protocol " + Quote(*name) + " (tcp, udp, icmp, icmpv6, sctp)");
        }
      }
    }
    ok = ok && protocol;
    const Node* port_node = fields.Require("port");
    std::optional<std::uint64_t> port;
    if (port_node != nullptr) {
      port = codec::ReadUnsigned(*port_node, "port", kMaxPort, errors_);
      if (port && protocol && (*protocol == Protocol::kIcmp || *protocol == Protocol::kIcmpv6) &&
          *port > kMaxIcmpType) {
        errors_.Add(*port_node, "port of an " + std::string(ProtocolName(*protocol)) +
                                    " edge is the message type (0..255), not " +
                                    std::to_string(*port));
        ok = false;
      }
    }
    ok = ok && port;

    NodeEdgeStats totals;
    ReadCounters(fields, totals);
    edge.stats.connections = totals.connections;
    edge.stats.packets = totals.packets;
    edge.stats.bytes = totals.bytes;
    edge.stats.first_seen_usec = totals.first_seen_usec;
    edge.stats.last_seen_usec = totals.last_seen_usec;
    if (const Node* node = fields.Find("byNode")) {
      pending.by_node = node->Where();
      if (ReadByNode(*node, edge.stats, pending)) {
        CheckTotals(fields, item, edge.stats);
      }
    }
    if (const Node* node = fields.Find("examples")) {
      ReadExamples(*node, edge.stats);
    }
    pending.item = item.Where();
    if (ok) {
      edge.key =
          EdgeKey{std::move(*from), std::move(*to), *protocol, static_cast<std::uint16_t>(*port)};
      pending.edge = std::move(edge);
      pending.complete = true;
    } else {
      pending.from = std::move(from);
      pending.to = std::move(to);
    }
    pending_.push_back(std::move(pending));
  }

  // One `scans` entry: {source, group, firstSeen, lastSeen, ports, peers, refused, incomplete},
  // every key required (the writer gives them all; a record missing one was edited by hand).
  void ReadScan(const Node& item) {
    if (!codec::ExpectMap(item, "a scan", errors_)) {
      return;
    }
    Fields fields(
        item,
        {"source", "group", "firstSeen", "lastSeen", "ports", "peers", "refused", "incomplete"},
        "a scan", errors_);
    PendingScan pending;
    pending.item = item.Where();
    bool ok = true;
    auto name = [&](std::string_view key, std::string& out, Mark* mark) {
      const Node* node = fields.Require(key);
      if (node == nullptr) {
        ok = false;
        return;
      }
      auto text = codec::ReadString(*node, std::string("scan ") + std::string(key), errors_);
      if (!text) {
        ok = false;
        return;
      }
      if (text->empty()) {
        errors_.Add(*node, "scan " + std::string(key) + " is empty");
        ok = false;
        return;
      }
      if (mark != nullptr) {
        *mark = node->Where();
      }
      out = std::move(*text);
    };
    name("source", pending.scan.source, nullptr);
    name("group", pending.scan.group, &pending.group_mark);
    const Node* first_node = fields.Require("firstSeen");
    const Node* last_node = fields.Require("lastSeen");
    auto first = first_node ? ReadTimestamp(*first_node, "firstSeen") : std::nullopt;
    auto last = last_node ? ReadTimestamp(*last_node, "lastSeen") : std::nullopt;
    if (first && last && *last < *first) {
      errors_.Add(*last_node, "lastSeen is before firstSeen");
      ok = false;
    }
    ok = ok && first && last;
    pending.scan.first_seen_usec = first.value_or(0);
    pending.scan.last_seen_usec = last.value_or(0);
    // Distinct server ports: 0..65535, so at most 65,536 of them.
    auto count = [&](std::string_view key, std::uint64_t max, std::uint64_t& out) {
      const Node* node = fields.Require(key);
      auto value = node ? codec::ReadUnsigned(*node, key, max, errors_) : std::nullopt;
      ok = ok && value;
      out = value.value_or(0);
    };
    count("ports", kMaxPort + 1, pending.scan.ports);
    count("peers", kMaxU64, pending.scan.peers);
    count("refused", kMaxU64, pending.scan.refused);
    count("incomplete", kMaxU64, pending.scan.incomplete);
    if (ok) {
      scans_.push_back(std::move(pending));
    }
  }

  // Once every group is known: scans naming an unknown group, then a source and group given
  // twice, are errors.
  void ResolveScans(FlowGraph& graph) {
    // (source, group) -> line of its first occurrence; views into scans_, which is not resized.
    std::map<std::pair<std::string_view, std::string_view>, int> lines;
    std::vector<bool> keep(scans_.size(), false);
    for (std::size_t i = 0; i < scans_.size(); ++i) {
      const PendingScan& p = scans_[i];
      if (p.scan.group != kHostGroup && p.scan.group != kWorldGroup &&
          group_lines_.count(p.scan.group) == 0) {
        errors_.Add(p.group_mark,
                    "scan group names group " + Quote(p.scan.group) + ", which is not in groups");
        continue;
      }
      const auto [it, inserted] =
          lines.emplace(std::pair<std::string_view, std::string_view>{p.scan.source, p.scan.group},
                        p.item.line + 1);
      if (!inserted) {
        errors_.Add(p.item, "scan from " + Quote(p.scan.source) + " (group " + Quote(p.scan.group) +
                                ") given twice (first at line " + std::to_string(it->second) + ")");
        continue;
      }
      keep[i] = true;
    }
    lines.clear();
    for (std::size_t i = 0; i < scans_.size(); ++i) {
      if (keep[i]) {
        graph.scans.push_back(std::move(scans_[i].scan));
      }
    }
    scans_.clear();
  }

  // `byNode` belongs to graphs with `nodes:`, where every edge has it and names only their nodes.
  bool CheckNodeRefs(const PendingEdge& p) {
    if (!nodes_.several) {
      if (p.by_node) {
        errors_.Add(*p.by_node,
                    "byNode belongs to a graph that covers several nodes (`nodes:`, not `node:`)");
        return false;
      }
      return true;
    }
    if (!p.by_node) {
      errors_.Add(p.item, "an edge of a graph that covers several nodes (`nodes:`) needs byNode");
      return false;
    }
    bool ok = true;
    for (const auto& [name, mark] : p.share_nodes) {
      if (nodes_.lines.count(name) == 0) {
        errors_.Add(mark, "byNode names node " + Quote(name) + ", which is not in nodes");
        ok = false;
      }
    }
    return ok;
  }

  // Once every group is known: edges naming unknown groups, then duplicates, are errors.
  void ResolveEdges(FlowGraph& graph) {
    // Edge key -> line of its first occurrence; pointers into pending_, which is not resized.
    auto less = [](const EdgeKey* a, const EdgeKey* b) { return *a < *b; };
    std::map<const EdgeKey*, int, decltype(less)> lines(less);
    std::vector<bool> keep(pending_.size(), false);
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      const PendingEdge& p = pending_[i];
      if (!p.complete) {
        if (p.from) {
          CheckGroupRef(*p.from, "from", p.from_mark);
        }
        if (p.to) {
          CheckGroupRef(*p.to, "to", p.to_mark);
        }
        continue;
      }
      const bool from_ok = CheckGroupRef(p.edge.key.from, "from", p.from_mark);
      const bool to_ok = CheckGroupRef(p.edge.key.to, "to", p.to_mark);
      if (!CheckNodeRefs(p) || !from_ok || !to_ok) {
        continue;
      }
      const auto [it, inserted] = lines.emplace(&p.edge.key, p.item.line + 1);
      if (!inserted) {
        const EdgeKey& key = p.edge.key;
        errors_.Add(p.item, "edge " + Quote(key.from) + " -> " + Quote(key.to) + " " +
                                std::string(ProtocolName(key.protocol)) + "/" +
                                std::to_string(key.port) + " given twice (first at line " +
                                std::to_string(it->second) + ")");
        continue;
      }
      keep[i] = true;
    }
    lines.clear();
    graph.edges.reserve(pending_.size());
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      if (keep[i]) {
        graph.edges.push_back(std::move(pending_[i].edge));
      }
    }
    pending_.clear();
  }

  ErrorList& errors_;
  NodesRead nodes_;
  std::map<std::string, int> group_lines_;
  std::vector<PendingEdge> pending_;
  std::vector<PendingScan> scans_;
};

}  // namespace

std::string WriteFlowGraphYaml(const FlowGraph& input) {
  FlowGraph graph = input;
  graph.Normalize();
  std::string out = "apiVersion: bulkhead/v1\nkind: FlowGraph\n";
  if (graph.nodes.size() == 1) {
    out += "node: " + YamlScalar(graph.nodes.front()) + "\n";
  } else if (graph.nodes.size() > 1) {
    out += "nodes: " + codec::YamlFlowList(graph.nodes) + "\n";
  }
  out += "groupBy: " + codec::YamlFlowList(graph.group_by) + "\n";
  out += graph.groups.empty() ? "groups: []\n" : "groups:\n";
  for (const auto& group : graph.groups) {
    out += "  - name: " + YamlScalar(group.name) + "\n";
    if (!group.selector.empty()) {
      out += "    selector: " + codec::YamlFlowMap(group.selector) + "\n";
    }
    if (!group.members.empty()) {
      out += "    members: " + codec::YamlFlowList(group.members) + "\n";
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
    if (!s.by_node.empty()) {
      out += "    byNode:\n";
      for (const auto& share : s.by_node) {
        out += "      - node: " + YamlScalar(share.node) + "\n";
        out += "        connections: " + std::to_string(share.connections) + "\n";
        out += "        packets: " + std::to_string(share.packets) + "\n";
        out += "        bytes: " + std::to_string(share.bytes) + "\n";
        out += "        firstSeen: " + FormatTimestamp(share.first_seen_usec) + "\n";
        out += "        lastSeen: " + FormatTimestamp(share.last_seen_usec) + "\n";
      }
    }
    if (!s.examples.empty()) {
      out += "    examples:\n";
      for (const auto& pair : s.examples) {
        out += "      - {from: " + YamlScalar(pair.from) + ", to: " + YamlScalar(pair.to) + "}\n";
      }
    }
  }
  // Only when there are any, so graphs without scans keep the bytes they always had.
  if (!graph.scans.empty()) {
    out += "scans:\n";
  }
  for (const auto& scan : graph.scans) {
    out += "  - source: " + YamlScalar(scan.source) + "\n";
    out += "    group: " + YamlScalar(scan.group) + "\n";
    out += "    firstSeen: " + FormatTimestamp(scan.first_seen_usec) + "\n";
    out += "    lastSeen: " + FormatTimestamp(scan.last_seen_usec) + "\n";
    out += "    ports: " + std::to_string(scan.ports) + "\n";
    out += "    peers: " + std::to_string(scan.peers) + "\n";
    out += "    refused: " + std::to_string(scan.refused) + "\n";
    out += "    incomplete: " + std::to_string(scan.incomplete) + "\n";
  }
  return out;
}

boost::system::result<FlowGraph, FileErrors> ParseFlowGraph(std::string_view text,
                                                            std::string_view file_name) {
  auto parsed = codec::ParseDocument<FlowGraph>(
      text, file_name,
      [](std::string_view input, ErrorList& errors, FlowGraph& graph) {
        GraphReader(errors).Read(input, graph);
      },
      kMaxFlowGraphBytes);
  if (parsed) {
    parsed->Normalize();
  }
  return parsed;
}

boost::system::result<FlowGraph, FileErrors> LoadFlowGraphFile(const std::string& path) {
  return codec::LoadDocumentFile(path, ParseFlowGraph, kMaxFlowGraphBytes);
}

}  // namespace bulkhead::policy
