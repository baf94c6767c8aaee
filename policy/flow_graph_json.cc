// FlowGraph -> JSON, mirroring the YAML key for key (same names, same order, numbers as
// numbers), so ParseFlowGraph reads it back (YAML readers read JSON) to the same graph.
#include "codec/text_escape.h"
#include "policy/flow_graph_codec.h"

namespace bulkhead::policy {
namespace {

using codec::JsonString;

std::string JsonArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += i == 0 ? "" : ", ";
    out += JsonString(items[i]);
  }
  return out + "]";
}

std::string JsonObject(const Labels& labels) {
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : labels) {
    out += first ? "" : ", ";
    first = false;
    out += JsonString(key) + ": " + JsonString(value);
  }
  return out + "}";
}

// One edge, as an object on its own lines (no separator before or after).
void AppendEdge(std::string& out, const Edge& edge) {
  const auto& s = edge.stats;
  out += "    {\n";
  out += "      \"from\": " + JsonString(edge.key.from) + ",\n";
  out += "      \"to\": " + JsonString(edge.key.to) + ",\n";
  out += "      \"protocol\": \"" + std::string(ProtocolName(edge.key.protocol)) + "\",\n";
  out += "      \"port\": " + std::to_string(edge.key.port) + ",\n";
  out += "      \"connections\": " + std::to_string(s.connections) + ",\n";
  out += "      \"packets\": " + std::to_string(s.packets) + ",\n";
  out += "      \"bytes\": " + std::to_string(s.bytes) + ",\n";
  out += "      \"firstSeen\": \"" + FormatTimestamp(s.first_seen_usec) + "\",\n";
  out += "      \"lastSeen\": \"" + FormatTimestamp(s.last_seen_usec) + "\"";
  if (!s.by_node.empty()) {
    out += ",\n      \"byNode\": [";
    for (std::size_t j = 0; j < s.by_node.size(); ++j) {
      const auto& share = s.by_node[j];
      out += j == 0 ? "\n" : ",\n";
      out += "        {\"node\": " + JsonString(share.node) +
             ", \"connections\": " + std::to_string(share.connections) +
             ", \"packets\": " + std::to_string(share.packets) +
             ", \"bytes\": " + std::to_string(share.bytes) + ", \"firstSeen\": \"" +
             FormatTimestamp(share.first_seen_usec) + "\", \"lastSeen\": \"" +
             FormatTimestamp(share.last_seen_usec) + "\"}";
    }
    out += "\n      ]";
  }
  if (!s.examples.empty()) {
    out += ",\n      \"examples\": [";
    for (std::size_t j = 0; j < s.examples.size(); ++j) {
      out += j == 0 ? "" : ", ";
      out += "{\"from\": " + JsonString(s.examples[j].from) +
             ", \"to\": " + JsonString(s.examples[j].to) + "}";
    }
    out += "]";
  }
  out += "\n    }";
}

// The `scans` member, with its leading separator; nothing when there are none (as in the YAML).
void AppendScans(std::string& out, const std::vector<ScanRecord>& scans) {
  if (scans.empty()) {
    return;
  }
  out += ",\n  \"scans\": [";
  for (std::size_t i = 0; i < scans.size(); ++i) {
    const auto& scan = scans[i];
    out += i == 0 ? "\n" : ",\n";
    out += "    {\"source\": " + JsonString(scan.source) +
           ", \"group\": " + JsonString(scan.group) + ", \"firstSeen\": \"" +
           FormatTimestamp(scan.first_seen_usec) + "\", \"lastSeen\": \"" +
           FormatTimestamp(scan.last_seen_usec) + "\", \"ports\": " + std::to_string(scan.ports) +
           ", \"peers\": " + std::to_string(scan.peers) +
           ", \"refused\": " + std::to_string(scan.refused) +
           ", \"incomplete\": " + std::to_string(scan.incomplete) + "}";
  }
  out += "\n  ]";
}

}  // namespace

std::string WriteFlowGraphJson(const FlowGraph& input) {
  FlowGraph graph = input;
  graph.Normalize();
  std::string out = "{\n  \"apiVersion\": \"bulkhead/v1\",\n  \"kind\": \"FlowGraph\",\n";
  if (graph.nodes.size() == 1) {
    out += "  \"node\": " + JsonString(graph.nodes.front()) + ",\n";
  } else if (graph.nodes.size() > 1) {
    out += "  \"nodes\": " + JsonArray(graph.nodes) + ",\n";
  }
  out += "  \"groupBy\": " + JsonArray(graph.group_by) + ",\n";
  out += "  \"groups\": [";
  for (std::size_t i = 0; i < graph.groups.size(); ++i) {
    const auto& group = graph.groups[i];
    out += i == 0 ? "\n" : ",\n";
    out += "    {\"name\": " + JsonString(group.name);
    if (!group.selector.empty()) {
      out += ", \"selector\": " + JsonObject(group.selector);
    }
    if (!group.members.empty()) {
      out += ", \"members\": " + JsonArray(group.members);
    }
    out += "}";
  }
  out += graph.groups.empty() ? "],\n" : "\n  ],\n";
  out += "  \"edges\": [";
  for (std::size_t i = 0; i < graph.edges.size(); ++i) {
    out += i == 0 ? "\n" : ",\n";
    AppendEdge(out, graph.edges[i]);
  }
  out += graph.edges.empty() ? "]" : "\n  ]";
  AppendScans(out, graph.scans);
  out += "\n}\n";
  return out;
}

}  // namespace bulkhead::policy
