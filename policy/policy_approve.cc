// Learned graph -> policy draft. The result is meant to be written (WritePolicyYaml), reviewed
// and edited by a person, then enforced, so it must always read back: edges a policy cannot
// express are left out and counted rather than written as a file the reader would refuse.
#include <map>

#include "codec/text_escape.h"
#include "policy/policy_codec.h"

namespace bulkhead::policy {
namespace {

bool IsReserved(std::string_view name) { return name == kHostGroup || name == kWorldGroup; }

// A name an allow rule may carry: a listed group or host/world. `any` is failsafe's wildcard and
// an empty name is refused by the reader.
bool IsNameable(std::string_view name) { return !name.empty() && name != kAnyGroup; }

bool IsExpressible(const EdgeKey& key) {
  const bool icmp = key.protocol == Protocol::kIcmp || key.protocol == Protocol::kIcmpv6;
  if (!IsNameable(key.from) || !IsNameable(key.to)) {
    return false;
  }
  // Port 0 is not a port (a scan, or a malformed packet the decoder still counted); host to
  // host never passes the enforcer's hooks.
  if (!icmp && key.port == 0) {
    return false;
  }
  if (icmp && key.port > 255) {
    return false;
  }
  return !(key.from == kHostGroup && key.to == kHostGroup);
}

}  // namespace

std::string ScanNote(const ScanRecord& scan) {
  return "scan from " + codec::YamlScalar(scan.source) + " (group " +
         codec::YamlScalar(scan.group) + "): " + std::to_string(scan.ports) + " ports on " +
         std::to_string(scan.peers) + " peers, " + FormatTimestamp(scan.first_seen_usec) + " to " +
         FormatTimestamp(scan.last_seen_usec) + ", " + std::to_string(scan.refused) + " refused, " +
         std::to_string(scan.incomplete) +
         " incomplete; its failed attempts are not edges and are not approved";
}

ApprovedPolicy ApproveGraph(const FlowGraph& graph, std::uint64_t min_connections) {
  ApprovedPolicy out;
  Policy& policy = out.policy;
  policy.mode = Mode::kMonitor;
  policy.group_by = graph.group_by;

  // host and world always exist and take neither a selector nor (world) a mode, so listing them
  // would add nothing; every other group is listed, even one whose edges were all skipped: its
  // members then stay managed, and a group that talks to nobody is allowed nothing.
  std::map<std::string, Labels> groups;
  for (const auto& group : graph.groups) {
    if (!IsReserved(group.name) && IsNameable(group.name)) {
      groups.emplace(group.name, group.selector);
    }
  }

  // Merged per rule, in case the graph is not normalized and holds one key twice.
  std::map<AllowRule, EdgeStats> rules;
  for (const auto& edge : graph.edges) {
    if (!IsExpressible(edge.key)) {
      ++out.skipped_edges;
      continue;
    }
    AllowRule rule{edge.key.from, edge.key.to, edge.key.protocol,
                   PortRange{edge.key.port, edge.key.port}};
    rules[std::move(rule)].Merge(edge.stats);
  }
  for (auto& [rule, stats] : rules) {
    if (stats.connections < min_connections) {
      ++out.skipped_edges;
      continue;
    }
    // A graph built in memory may name a group it does not list; the policy must list it.
    for (const std::string* end : {&rule.from, &rule.to}) {
      if (!IsReserved(*end)) {
        groups.emplace(*end, Labels{});
      }
    }
    policy.allow.push_back(rule);
    out.comments.push_back(AllowComment{stats.connections, stats.packets, stats.bytes,
                                        FormatTimestamp(stats.first_seen_usec),
                                        FormatTimestamp(stats.last_seen_usec)});
  }
  for (auto& [name, selector] : groups) {
    policy.groups.push_back(PolicyGroup{name, std::move(selector), std::nullopt});
  }
  for (const auto& scan : graph.scans) {
    out.scan_notes.push_back(ScanNote(scan));
  }
  return out;
}

}  // namespace bulkhead::policy
