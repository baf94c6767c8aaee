// FlowGraph -> Graphviz DOT for review (`dot -Tsvg`). Every identifier and label is a quoted
// DOT string built by codec::DotEscape, because group names come from workload labels.
#include <set>

#include "codec/text_escape.h"
#include "policy/flow_graph_codec.h"

namespace bulkhead::policy {
namespace {

std::string Id(std::string_view name) { return "\"" + codec::DotEscape(name) + "\""; }

std::string NodeLine(std::string_view name) {
  std::string attrs = "label=" + Id(name);
  if (name == kHostGroup) {
    attrs += ", shape=house, style=filled, fillcolor=\"#dddddd\"";
  } else if (name == kWorldGroup) {
    attrs += ", shape=ellipse, style=dashed, color=\"#cc0000\"";
  }
  return "  " + Id(name) + " [" + attrs + "];\n";
}

}  // namespace

std::string WriteFlowGraphDot(const FlowGraph& input) {
  FlowGraph graph = input;
  graph.Normalize();
  // Every group is a node, and so is any edge end not listed in groups (host and world are
  // usually only implied by edges).
  std::set<std::string> nodes;
  for (const auto& group : graph.groups) {
    nodes.insert(group.name);
  }
  for (const auto& edge : graph.edges) {
    nodes.insert(edge.key.from);
    nodes.insert(edge.key.to);
  }
  std::string out = "digraph bulkhead {\n";
  out += "  rankdir=LR;\n";
  out += "  node [shape=box, style=rounded];\n";
  for (const auto& name : nodes) {
    out += NodeLine(name);
  }
  for (const auto& edge : graph.edges) {
    out += "  " + Id(edge.key.from) + " -> " + Id(edge.key.to) + " [label=\"" +
           std::string(ProtocolName(edge.key.protocol)) + "/" + std::to_string(edge.key.port) +
           " (" + std::to_string(edge.stats.connections) + ")\"];\n";
  }
  out += "}\n";
  return out;
}

}  // namespace bulkhead::policy
