#include "policy/policy_match.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace bulkhead::policy {
namespace {

bool EndMatches(const std::string& rule_end, const std::string& edge_end, bool wildcard_ok) {
  return rule_end == edge_end || (wildcard_ok && rule_end == kAnyGroup);
}

struct SortedLine {
  // The pair of groups, protocol, first port, then '-' before '+'.
  std::tuple<std::string, std::string, std::string, std::uint16_t, char> key;
  DiffLine line;
};

std::string PortText(const PortRange& ports) {
  return ports.first == ports.last ? std::to_string(ports.first)
                                   : std::to_string(ports.first) + "-" + std::to_string(ports.last);
}

SortedLine EdgeLine(char sign, const Edge& edge) {
  const std::string proto(ProtocolName(edge.key.protocol));
  const auto n = edge.stats.connections;
  return {{edge.key.from, edge.key.to, proto, edge.key.port, sign},
          {sign, std::string(1, sign) + " " + edge.key.from + " -> " + edge.key.to + " " + proto +
                     "/" + std::to_string(edge.key.port) + " (" + std::to_string(n) +
                     " connection" + (n == 1 ? "" : "s") + ")"}};
}

std::vector<DiffLine> SortLines(std::vector<SortedLine> lines) {
  std::sort(lines.begin(), lines.end(), [](const SortedLine& a, const SortedLine& b) {
    return std::tie(a.key, a.line.text) < std::tie(b.key, b.line.text);
  });
  std::vector<DiffLine> out;
  for (auto& line : lines) {
    if (out.empty() || !(out.back() == line.line)) {
      out.push_back(std::move(line.line));
    }
  }
  return out;
}

}  // namespace

std::vector<DiffLine> DiffPolicyGraph(const PolicyGraphComparison& comparison) {
  std::vector<SortedLine> lines;
  for (const auto& edge : comparison.unapproved) {
    lines.push_back(EdgeLine('+', edge));
  }
  for (const auto& rule : comparison.unseen) {
    const std::string proto(ProtocolName(rule.protocol));
    lines.push_back(
        {{rule.from, rule.to, proto, rule.ports.first, '-'},
         {'-', "- " + rule.from + " -> " + rule.to + " " + proto + "/" + PortText(rule.ports)}});
  }
  return SortLines(std::move(lines));
}

std::vector<DiffLine> DiffGraphs(const FlowGraph& before, const FlowGraph& after) {
  std::vector<SortedLine> lines;
  const auto add_missing = [&lines](const FlowGraph& from, const FlowGraph& other, char sign) {
    std::set<std::string> other_groups;
    for (const auto& group : other.groups) {
      other_groups.insert(group.name);
    }
    for (const auto& group : from.groups) {
      if (other_groups.count(group.name) == 0) {
        lines.push_back({{group.name, "", "", 0, sign},
                         {sign, std::string(1, sign) + " group " + group.name + " (" +
                                    std::to_string(group.members.size()) + " members)"}});
      }
    }
    std::set<EdgeKey> other_edges;
    for (const auto& edge : other.edges) {
      other_edges.insert(edge.key);
    }
    for (const auto& edge : from.edges) {
      if (other_edges.count(edge.key) == 0) {
        lines.push_back(EdgeLine(sign, edge));
      }
    }
  };
  add_missing(before, after, '-');
  add_missing(after, before, '+');
  return SortLines(std::move(lines));
}

bool RuleCovers(const AllowRule& rule, const EdgeKey& edge, bool wildcard_ok) {
  return EndMatches(rule.from, edge.from, wildcard_ok) &&
         EndMatches(rule.to, edge.to, wildcard_ok) && rule.protocol == edge.protocol &&
         rule.ports.Contains(edge.port);
}

bool EdgeComparable(const EdgeKey& edge) {
  const bool icmp = edge.protocol == Protocol::kIcmp || edge.protocol == Protocol::kIcmpv6;
  if (edge.from == kHostGroup && edge.to == kHostGroup) {
    return false;
  }
  return icmp || edge.port != 0;
}

PolicyGraphComparison ComparePolicyGraph(const Policy& policy, const FlowGraph& graph) {
  PolicyGraphComparison out;
  for (const auto& edge : graph.edges) {
    if (!EdgeComparable(edge.key)) {
      ++out.not_comparable;
      continue;
    }
    const auto covered = [&](bool wildcard_ok) {
      return
          [&edge, wildcard_ok](const AllowRule& r) { return RuleCovers(r, edge.key, wildcard_ok); };
    };
    if (std::none_of(policy.allow.begin(), policy.allow.end(), covered(false)) &&
        std::none_of(policy.failsafe.begin(), policy.failsafe.end(), covered(true))) {
      out.unapproved.push_back(edge);
    }
  }
  for (const auto& rule : policy.allow) {
    if (std::none_of(graph.edges.begin(), graph.edges.end(),
                     [&](const Edge& e) { return RuleCovers(rule, e.key, false); })) {
      out.unseen.push_back(rule);
    }
  }
  return out;
}

}  // namespace bulkhead::policy
