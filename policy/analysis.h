#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/model.h"
#include "policy/policy.h"

// Lateral-movement analysis (`bulkhead analyze`, and the report's analysis section): how far an
// attacker who owns one group can move through what a policy allows (or a learned graph shows),
// against a flat network where every group reaches every other. Pure functions over the model.
namespace bulkhead::policy {

// What the analysis reads: groups with their workload counts and directed connections. Both a
// Policy and a FlowGraph become one; `host` and `world` are always nodes.
struct ReachGraph {
  struct Node {
    std::string name;
    std::size_t workloads = 0;
    friend bool operator==(const Node&, const Node&) = default;
  };
  struct Link {
    std::string from;
    std::string to;
    Protocol protocol = Protocol::kTcp;
    PortRange ports;
    friend auto operator<=>(const Link&, const Link&) = default;
    friend bool operator==(const Link&, const Link&) = default;
  };
  std::vector<Node> groups;  // sorted by name, `host` and `world` excluded
  std::vector<Link> links;   // sorted, unique
  // A policy names groups, not workloads: workload shares are known for graphs only.
  bool workloads_known = false;
};

// Every edge of the graph (any protocol, any port) becomes a link; members give the counts.
ReachGraph ReachGraphFromFlowGraph(const FlowGraph& graph);
// Allow and failsafe rules become links; a failsafe `any` end stands for every group, `host`
// and `world`.
ReachGraph ReachGraphFromPolicy(const Policy& policy);

// Ports whose exposure a reviewer should look at twice, with what listens there. TCP unless
// `udp_too`. One table, read by the findings and by the report's edge marks.
struct SensitivePort {
  PortRange ports;
  std::string_view service;
};
const std::vector<SensitivePort>& SensitivePorts();
// The service name when `ports` of `protocol` overlaps a sensitive port, else empty.
std::string_view SensitiveService(Protocol protocol, PortRange ports);

// Port ranges wider than this are a finding (a rule that opens "everything above 1024").
inline constexpr std::uint32_t kWidePortRange = 100;

enum class FindingKind : std::uint8_t {
  kHostEdge,       // a group may open connections to the node itself
  kSensitivePort,  // to a port of SensitivePorts()
  kMetadata,       // to `world` on a port the cloud metadata service answers (80)
  kWideRange,      // a rule over more than kWidePortRange ports
  kReachesAll,     // a group from which every other group is reachable
};
std::string_view FindingKindName(FindingKind kind);  // "host-edge", "sensitive-port", ...

struct Finding {
  FindingKind kind = FindingKind::kHostEdge;
  ReachGraph::Link link;  // for kReachesAll: from = the group, the rest empty
  std::string detail;     // one sentence for a person
  friend bool operator==(const Finding&, const Finding&) = default;
};

struct GroupReach {
  std::string name;
  std::size_t workloads = 0;
  // hops[k]: the nodes (groups, `host`, `world`) first reachable in k+1 connections, sorted.
  std::vector<std::vector<std::string>> hops;
  std::size_t groups_reached = 0;     // other groups (host and world not counted)
  std::size_t workloads_reached = 0;  // their workloads
  bool reaches_host = false;
  bool reaches_world = false;
  double group_share = 0;     // groups_reached / (groups - 1); a flat network is 1
  double workload_share = 0;  // workloads_reached / (workloads - own); 0 when unknown
};

struct Analysis {
  std::vector<GroupReach> groups;  // by name
  std::vector<Finding> findings;   // sorted by kind, then link
  bool workloads_known = false;
  std::size_t group_count = 0;
  std::size_t workload_count = 0;
  std::size_t link_count = 0;
  // Reachable (source, target) group pairs against the flat network's groups * (groups - 1).
  std::size_t reachable_pairs = 0;
  std::size_t flat_pairs = 0;
  double mean_group_share = 0;
  double max_group_share = 0;
  std::size_t max_hops = 0;  // the longest shortest path of any group
};

// Breadth-first search from each group over the links. Paths go through `host` and `world`:
// owning the host gives its connections, and an attacker's own server outside (`world`) can
// use every rule from `world`. ICMP links count for findings but not for movement: an echo
// request carries no service to exploit.
Analysis Analyze(const ReachGraph& graph);

// Text for a terminal and deterministic JSON (keys in a fixed order, shares with 4 decimals).
std::string WriteAnalysisText(const Analysis& analysis);
std::string WriteAnalysisJson(const Analysis& analysis);

// "tcp/5432", "tcp/8000-8080".
std::string LinkPortText(const ReachGraph::Link& link);

}  // namespace bulkhead::policy
