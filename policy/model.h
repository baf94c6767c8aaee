#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// The data model shared by every module: workloads and their inventory, groups, edges and the
// learned flow graph. Plain values with no I/O; codecs live beside them (flow_graph_yaml.h, ...).
namespace bulkhead::policy {

enum class Protocol : std::uint8_t { kTcp, kUdp, kIcmp, kIcmpv6, kSctp };

// "tcp", "udp", "icmp", "icmpv6", "sctp".
std::string_view ProtocolName(Protocol p);
std::optional<Protocol> ParseProtocol(std::string_view name);
// Maps an IANA protocol number (6, 17, 1, 58, 132) to Protocol.
std::optional<Protocol> ProtocolFromIana(std::uint8_t number);

using Labels = std::map<std::string, std::string>;

// One container (or VM, or process group).
struct Workload {
  std::string name;
  std::string id;  // container id when discovered from Docker; may be empty
  Labels labels;
  std::vector<std::string> addresses;  // IPv4 and IPv6, textual, validated by the reader
  std::string interface;               // host-side interface, optional
  std::string mac;                     // optional
  // The Kubernetes node it runs on, when the agent knows the cluster (pods of other nodes come
  // from the API); not part of the Inventory file format.
  std::string node{};  // (braces: positional initializers elsewhere may leave it out)
};

// The node itself.
struct HostInfo {
  std::string name;
  std::vector<std::string> addresses;
};

// `kind: Inventory`: the workloads of a node and the node's own addresses.
struct Inventory {
  HostInfo host;
  std::vector<Workload> workloads;
};

// Reserved group names (DESIGN.md, "Affinity group").
inline constexpr std::string_view kHostGroup = "host";
inline constexpr std::string_view kWorldGroup = "world";
// The other nodes of a cluster (their addresses, from the Kubernetes API): apart from `host`,
// this node. An ordinary group by name, formed by workloads that carry kNodeLabel.
inline constexpr std::string_view kNodesGroup = "nodes";
inline constexpr std::string_view kNodeLabel = "bulkhead.io/node";

// The default groupBy: `app`, then `com.docker.compose.service`.
std::vector<std::string> DefaultGroupBy();

struct Group {
  std::string name;
  Labels selector;                   // empty for host, world and workloads grouped by own name
  std::vector<std::string> members;  // workload names, sorted (FlowGraph only)
  friend bool operator==(const Group&, const Group&) = default;
};

// The unit of policy: who talks to whom, on what.
struct EdgeKey {
  std::string from;
  std::string to;
  Protocol protocol = Protocol::kTcp;
  std::uint16_t port = 0;  // server port; ICMP/ICMPv6: the request's type
  friend auto operator<=>(const EdgeKey&, const EdgeKey&) = default;
  friend bool operator==(const EdgeKey&, const EdgeKey&) = default;
};

struct WorkloadPair {
  std::string from;
  std::string to;
  friend auto operator<=>(const WorkloadPair&, const WorkloadPair&) = default;
  friend bool operator==(const WorkloadPair&, const WorkloadPair&) = default;
};

// How many example workload pairs an edge keeps: the smallest ones in sort order, so the choice
// does not depend on the order in which flows were seen.
inline constexpr std::size_t kMaxEdgeExamples = 3;

struct EdgeStats {
  std::uint64_t connections = 0;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t first_seen_usec = 0;  // microseconds since the epoch
  std::uint64_t last_seen_usec = 0;
  std::vector<WorkloadPair> examples;  // sorted, unique, at most kMaxEdgeExamples

  // Adds `other` in: counters summed, first/last widened, examples united (and trimmed).
  // Commutative and associative, so merging graphs does not depend on order.
  void Merge(const EdgeStats& other);
  void AddExample(const WorkloadPair& pair);
  friend bool operator==(const EdgeStats&, const EdgeStats&) = default;
};

struct Edge {
  EdgeKey key;
  EdgeStats stats;
  friend bool operator==(const Edge&, const Edge&) = default;
};

// `kind: FlowGraph`: what learning saw.
struct FlowGraph {
  std::vector<std::string> group_by;
  std::vector<Group> groups;  // sorted by name
  std::vector<Edge> edges;    // sorted by key

  // Sorts groups, members and edges so that equal graphs serialize to equal bytes.
  void Normalize();
  friend bool operator==(const FlowGraph&, const FlowGraph&) = default;
};

// Adds `other` into `into`: groups united by name (members united; the selector of `into` kept
// when both have one), edges united by key with their statistics merged (EdgeStats::Merge), the
// result normalized. Commutative and idempotent on the edge set, so per-snapshot and per-node
// graphs can be combined in any order. `into.group_by` is kept unless it is empty.
void MergeFlowGraph(FlowGraph& into, const FlowGraph& other);

// Microseconds since the epoch <-> RFC 3339 UTC ("2026-11-28T10:00:00.250Z", milliseconds).
std::string FormatTimestamp(std::uint64_t usec);
std::optional<std::uint64_t> ParseTimestamp(std::string_view text);

}  // namespace bulkhead::policy
