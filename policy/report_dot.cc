// The report's picture as Graphviz DOT (policy/report.h), and the model it shares with the page.
#include <algorithm>

#include "codec/text_escape.h"
#include "policy/analysis.h"
#include "policy/internal/report_model.h"
#include "policy/report.h"

namespace bulkhead::policy {
namespace internal {

std::string ReportModel::NodeClass(const std::string& name) const {
  auto it = index.find(name);
  return it == index.end() ? std::string() : "g" + std::to_string(it->second);
}

namespace {

PairEdge& PairFor(std::map<std::pair<std::string, std::string>, PairEdge>& pairs,
                  const std::string& from, const std::string& to) {
  auto& pair = pairs[{from, to}];
  pair.from = from;
  pair.to = to;
  pair.into_host = to == kHostGroup;
  return pair;
}

}  // namespace

ReportModel BuildReportModel(const ReportInput& input) {
  ReportModel model;
  std::set<std::string> nodes;
  for (const auto& group : input.graph.groups) {
    nodes.insert(group.name);
    model.members[group.name] = group.members.size();
  }
  if (input.policy) {
    model.comparison = ComparePolicyGraph(*input.policy, input.graph);
    for (const auto& edge : model.comparison->unapproved) {
      model.unapproved.insert(edge.key);
    }
  }
  std::map<std::pair<std::string, std::string>, PairEdge> pairs;
  for (const auto& edge : input.graph.edges) {
    auto& pair = PairFor(pairs, edge.key.from, edge.key.to);
    pair.edges.push_back(&edge);
    pair.connections += edge.stats.connections;
    pair.sensitive = pair.sensitive ||
                     !SensitiveService(edge.key.protocol, {edge.key.port, edge.key.port}).empty();
    pair.unapproved = pair.unapproved || model.unapproved.count(edge.key) > 0;
  }
  if (model.comparison) {
    for (const auto& rule : model.comparison->unseen) {
      PairFor(pairs, rule.from, rule.to).unseen.push_back(rule);
    }
  }
  for (auto& [key, pair] : pairs) {
    nodes.insert(pair.from);
    nodes.insert(pair.to);
    model.pairs.push_back(std::move(pair));
  }
  model.nodes.assign(nodes.begin(), nodes.end());
  for (std::size_t i = 0; i < model.nodes.size(); ++i) {
    model.index[model.nodes[i]] = i;
  }
  return model;
}

}  // namespace internal

namespace {

using internal::PairEdge;
using internal::ReportModel;

// Past this many protocol/port lines an edge label says "+N more" (the tables list them all).
constexpr std::size_t kMaxLabelLines = 4;

// Above this many group pairs the edge labels become tooltips: Graphviz places every label as a
// node of its own, and the bench's 50-group, 500-pair graph took 194 s to lay out with labels
// against 21 s without them (dot 2.42, loaded machine; bench/README.md, "Report"). The edges
// table lists every label anyway.
constexpr std::size_t kMaxLabelledPairs = 150;

std::string NodeLine(const ReportModel& model, const std::string& name) {
  std::string classes = model.NodeClass(name);
  for (const auto& pair : model.pairs) {
    if (pair.from == name && pair.to != name) {
      classes += " " + model.NodeClass(pair.to);
    } else if (pair.to == name && pair.from != name) {
      classes += " " + model.NodeClass(pair.from);
    }
  }
  std::string label = codec::DotEscape(name);
  std::string attrs;
  if (name == kHostGroup) {
    attrs = ", shape=house, style=filled, fillcolor=\"#e3e3e3\"";
  } else if (name == kWorldGroup) {
    attrs = ", shape=ellipse, style=dashed, color=\"#7a7a7a\"";
  } else {
    auto it = model.members.find(name);
    const std::size_t n = it == model.members.end() ? 0 : it->second;
    label += "\\n" + std::to_string(n) + (n == 1 ? " member" : " members");
  }
  return "  n" + std::to_string(model.index.at(name)) + " [id=\"node-" + model.NodeClass(name) +
         "\", class=\"f " + classes + "\", label=\"" + label + "\"" + attrs + "];\n";
}

std::string EdgeLabel(const PairEdge& pair, const std::set<EdgeKey>& unapproved) {
  std::vector<std::string> lines;
  for (const Edge* edge : pair.edges) {
    std::string line = std::string(ProtocolName(edge->key.protocol)) + "/" +
                       std::to_string(edge->key.port) + " x" +
                       std::to_string(edge->stats.connections);
    if (unapproved.count(edge->key) > 0) {
      line += " NEW";
    }
    lines.push_back(std::move(line));
  }
  for (const auto& rule : pair.unseen) {
    lines.push_back("unseen " + LinkPortText({rule.from, rule.to, rule.protocol, rule.ports}));
  }
  std::string label;
  for (std::size_t i = 0; i < lines.size() && i < kMaxLabelLines; ++i) {
    label += lines[i] + "\\l";
  }
  if (lines.size() > kMaxLabelLines) {
    label += "+" + std::to_string(lines.size() - kMaxLabelLines) + " more\\l";
  }
  return label;
}

std::string EdgeLine(const ReportModel& model, const PairEdge& pair,
                     const std::set<EdgeKey>& unapproved, bool labelled) {
  std::string marks;
  std::string attrs;
  if (pair.sensitive) {
    marks += " sensitive";
    attrs += ", color=\"#c0392b\", fontcolor=\"#c0392b\", penwidth=2";
  } else if (pair.into_host) {
    marks += " host";
    attrs += ", color=\"#d35400\", fontcolor=\"#d35400\", penwidth=2";
  }
  if (pair.unapproved) {
    marks += " unapproved";
    attrs += ", style=dashed";
  }
  if (pair.edges.empty()) {
    marks += " unseen";
    attrs += ", style=dotted, color=\"#8e44ad\", fontcolor=\"#8e44ad\"";
  }
  const std::string from = model.NodeClass(pair.from);
  const std::string to = model.NodeClass(pair.to);
  return "  n" + from.substr(1) + " -> n" + to.substr(1) + " [id=\"edge-" + from + "-" + to +
         "\", class=\"f " + from + " " + to + marks + "\", " + (labelled ? "label" : "tooltip") +
         "=\"" + EdgeLabel(pair, unapproved) + "\"" + attrs + "];\n";
}

}  // namespace

std::string WriteReportDot(const ReportInput& input) {
  const ReportModel model = internal::BuildReportModel(input);
  std::string out =
      "digraph bulkhead {\n  rankdir=LR;\n  ranksep=1.2;\n  nodesep=0.35;\n"
      "  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=11];\n"
      "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\", arrowsize=0.7];\n";
  for (const auto& name : model.nodes) {
    out += NodeLine(model, name);
  }
  // world is where traffic comes from and goes to: first rank; the host last.
  for (const auto& [name, rank] : {std::pair{kWorldGroup, "min"}, std::pair{kHostGroup, "max"}}) {
    if (auto it = model.index.find(std::string(name)); it != model.index.end()) {
      out += "  { rank=" + std::string(rank) + "; n" + std::to_string(it->second) + "; }\n";
    }
  }
  for (const auto& pair : model.pairs) {
    out += EdgeLine(model, pair, model.unapproved, model.pairs.size() <= kMaxLabelledPairs);
  }
  return out + "}\n";
}

std::string InlineSvg(std::string_view svg) {
  const auto start = svg.find("<svg");
  if (start == std::string_view::npos) {
    return {};
  }
  std::string out;
  std::size_t pos = start;
  while (pos < svg.size()) {
    const auto comment = svg.find("<!--", pos);
    if (comment == std::string_view::npos) {
      out.append(svg.substr(pos));
      break;
    }
    out.append(svg.substr(pos, comment - pos));
    const auto end = svg.find("-->", comment + 4);
    pos = end == std::string_view::npos ? svg.size() : end + 3;
  }
  return out;
}

}  // namespace bulkhead::policy
