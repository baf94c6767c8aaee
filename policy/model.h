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

// Counter arithmetic shared by every merge and by the reader's check of per-node totals: sums
// stop at the largest value instead of wrapping (saturating addition of unsigned values is still
// commutative and associative), and a zero first-seen time means "never seen", so it never wins.
std::uint64_t SaturatingAdd(std::uint64_t a, std::uint64_t b);
std::uint64_t EarliestSeen(std::uint64_t a, std::uint64_t b);

// One node's share of an edge in a graph that covers several nodes (a merged cluster graph):
// what that node's agent counted. A node's counters only grow, so of two snapshots of the same
// node the newer one has the larger counters (graph_merge.h relies on it).
struct NodeEdgeStats {
  std::string node;
  std::uint64_t connections = 0;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t first_seen_usec = 0;  // 0 = never seen, as in EdgeStats
  std::uint64_t last_seen_usec = 0;
  friend bool operator==(const NodeEdgeStats&, const NodeEdgeStats&) = default;
};

struct EdgeStats {
  std::uint64_t connections = 0;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t first_seen_usec = 0;  // microseconds since the epoch
  std::uint64_t last_seen_usec = 0;
  std::vector<WorkloadPair> examples;  // sorted, unique, at most kMaxEdgeExamples
  // Per-node provenance, sorted by node, one entry per node: only in a graph that covers two or
  // more nodes (FlowGraph::nodes), where the totals above are the sums (first/last: the min/max)
  // of these. Empty in a single-node graph, whose totals are its node's. (The `{}` keeps
  // positional initializers of the fields above, `EdgeStats{1, 2, 3, 4, 5, {}}`, free of GCC's
  // -Wmissing-field-initializers.)
  std::vector<NodeEdgeStats> by_node{};

  // Adds `other` in: counters summed, first/last widened, examples united (and trimmed), the
  // per-node shares summed node by node. Commutative and associative; the continuation of one
  // node's graph across agent runs (MergeFlowGraph). Merging the graphs of different nodes,
  // where the same snapshot may arrive twice, is graph_merge.h's, not this.
  void Merge(const EdgeStats& other);
  void AddExample(const WorkloadPair& pair);
  friend bool operator==(const EdgeStats&, const EdgeStats&) = default;
};

struct Edge {
  EdgeKey key;
  EdgeStats stats;
  friend bool operator==(const Edge&, const Edge&) = default;
};

// A source whose failed connection attempts made it a scan (learn/scan_detector.h): not an edge
// (its attempts failed, so there is nothing to allow), kept in the graph so the reviewer who
// approves it sees it. Sorted by (source, group), one record per pair.
struct ScanRecord {
  std::string source;  // the workload (or the host's name) that sent it, else the address text
  std::string group;   // the source's group: a workload's group, `host` or `world`
  std::uint64_t first_seen_usec = 0;  // first packet of its first failed attempt
  std::uint64_t last_seen_usec = 0;   // last packet of its last failed attempt
  std::uint64_t ports = 0;            // distinct server ports of its failed attempts
  std::uint64_t peers = 0;            // distinct servers
  std::uint64_t refused = 0;          // attempts the server refused
  std::uint64_t incomplete = 0;       // attempts whose handshake never completed
  friend bool operator==(const ScanRecord&, const ScanRecord&) = default;

  // Another finding of the same source (a later run of the agent, another node, the same
  // snapshot twice): the earliest first-seen and latest last-seen time, and the larger of each
  // count. Counts of distinct ports and peers cannot be summed without counting twice the ones
  // both saw, and a source's attempt counts only grow between snapshots of one node, so the
  // maximum is a lower bound that never double counts. Commutative, associative and idempotent.
  void Combine(const ScanRecord& other);
};

// Sorts `scans` by (source, group) and combines the records of one pair (ScanRecord::Combine):
// FlowGraph::Normalize's part for the scans, for a graph whose other parts are normalized already.
void NormalizeScans(std::vector<ScanRecord>& scans);

// `kind: FlowGraph`: what learning saw.
struct FlowGraph {
  // The nodes whose traffic this graph holds, sorted and unique: one for a graph learned on one
  // node (`node:` in the file), two or more for a merged cluster graph (`nodes:`, with per-node
  // edge statistics), none for a graph of unknown origin (files from before nodes were recorded).
  std::vector<std::string> nodes;
  std::vector<std::string> group_by;
  std::vector<Group> groups;  // sorted by name
  std::vector<Edge> edges;    // sorted by key
  // Sources seen scanning, sorted by (source, group), one record per pair. `{}`: positional
  // initializers of the fields above stay free of -Wmissing-field-initializers.
  std::vector<ScanRecord> scans{};

  // Sorts nodes, groups, members, edges, per-node shares and scans (records of one source and
  // group combined, ScanRecord::Combine) so that equal graphs serialize to equal bytes. A graph of
  // at most one node keeps no per-node shares (its totals are its node's).
  void Normalize();
  friend bool operator==(const FlowGraph&, const FlowGraph&) = default;
};

// Adds `other` into `into`: groups united by name (members united; the selector of `into` kept
// when both have one), edges united by key with their statistics merged (EdgeStats::Merge),
// scans united by source with records of one source combined (ScanRecord::Combine: min first,
// max last, max of each count, not sums), the result normalized. `into.group_by` and `into.nodes`
// are kept unless they are empty. Counters are summed (commutative and associative, not
// idempotent): this continues one node's graph with a later run's, the agent's baseline. Merging
// the graphs of several nodes, where the same snapshot may come twice, is MergeClusterGraphs
// (graph_merge.h), which is idempotent.
void MergeFlowGraph(FlowGraph& into, const FlowGraph& other);

// Microseconds since the epoch <-> RFC 3339 UTC ("2026-11-28T10:00:00.250Z", milliseconds).
std::string FormatTimestamp(std::uint64_t usec);
std::optional<std::uint64_t> ParseTimestamp(std::string_view text);

}  // namespace bulkhead::policy
