#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "capture/ip_addr.h"
#include "learn/flow_table.h"
#include "learn/scan_detector.h"
#include "policy/grouping.h"
#include "policy/model.h"

namespace bulkhead::learn {

// Maps an address to its workload and group: a workload's address -> its group, the host's
// addresses -> `host`, anything else -> `world`. Built once from an inventory; lookups are one
// hash probe.
class GroupResolver {
 public:
  struct Endpoint {
    std::string_view group;     // group name ("host", "world" included)
    std::string_view workload;  // workload name; the host's name; for world the address text
    bool managed = false;       // a workload or the host (not world)
  };

  // Fails on an address that does not parse or that two workloads claim.
  static boost::system::result<GroupResolver, std::string> Create(
      const policy::Inventory& inventory, const policy::GroupAssignment& groups);

  // `scratch` holds the address text for world endpoints; the result points into it or into
  // the resolver, so it is valid until the next call with the same scratch.
  Endpoint Resolve(const capture::IpAddr& address, std::string& scratch) const;

  // Resolve without the world case's text: false (and `out` untouched) for a world address.
  bool ResolveManaged(const capture::IpAddr& address, Endpoint& out) const;

  // The name the host's addresses resolve to (the inventory's host name, or "host" when it has
  // none); GraphBuilder::Build names the `host` group's member with it.
  const std::string& host_name() const { return host_name_; }

 private:
  struct Entry {
    std::string group;
    std::string workload;
  };
  std::unordered_map<capture::IpAddr, Entry, capture::IpAddrHash> by_address_;
  std::string host_name_;
};

struct GraphBuilderStats {
  std::uint64_t flows = 0;            // flow records received
  std::uint64_t unmanaged_flows = 0;  // world -> world: not about any workload, no edge
  std::uint64_t edges_dropped = 0;    // flows whose new edge would have passed max_edges
};

// Enough for a real cluster's graph (a few hundred groups talking on a few ports each), small
// enough that a graph flooded by something the flow table did not catch stays reviewable and
// loadable (65,535 edges made a 277 MB graph file).
inline constexpr std::size_t kDefaultMaxEdges = 10'000;

// Folds flow records into edges keyed by (from group, to group, protocol, server port).
class GraphBuilder : public FlowRecordSink {
 public:
  // At most `max_edges` edges: a flow that would add one more is counted (edges_dropped) and
  // dropped; flows of edges already known still count.
  explicit GraphBuilder(const GroupResolver& resolver, std::size_t max_edges = kDefaultMaxEdges);

  // Flows from now on resolve through `resolver` (the inventory changed: a long-running agent).
  // Edges already folded keep the groups they were resolved to.
  void SetResolver(const GroupResolver& resolver) { resolver_ = &resolver; }

  void OnFlow(const FlowRecord& flow) override;

  // The graph so far: `group_by`, the groups given (plus host/world when an edge uses them) and
  // the edges, normalized.
  policy::FlowGraph Build(const std::vector<std::string>& group_by,
                          const std::vector<policy::Group>& groups) const;

  std::size_t edge_count() const { return edges_.size(); }
  const GraphBuilderStats& stats() const { return stats_; }

 private:
  // An edge key whose names point into the key of an edges_ node (std::map nodes never move).
  struct EdgeRef {
    std::string_view from;
    std::string_view to;
    policy::Protocol protocol = policy::Protocol::kTcp;
    std::uint16_t port = 0;
    friend bool operator==(const EdgeRef&, const EdgeRef&) = default;
  };
  struct EdgeRefHash {
    std::size_t operator()(const EdgeRef& r) const noexcept;
  };

  const GroupResolver* resolver_;
  std::size_t max_edges_;
  std::map<policy::EdgeKey, policy::EdgeStats> edges_;
  // Every flow finds its edge here with one hash probe (instead of a walk down edges_ comparing
  // strings) and builds no strings unless the edge is new or keeps the flow as an example.
  std::unordered_map<EdgeRef, policy::EdgeStats*, EdgeRefHash> index_;
  GraphBuilderStats stats_;
  std::string scratch_from_;
  std::string scratch_to_;
};

// The scans as a graph records them (policy::ScanRecord): each finding's source resolved the way
// an edge's client is (a workload's name and group, the host's name and `host`, else `world` and
// the address text), so a reviewer reads a scan in the names the edges use. Resolved through
// the resolver of the moment: an address a departed workload's successor now holds is named
// after the successor.
std::vector<policy::ScanRecord> ScanRecords(const std::vector<ScanFinding>& findings,
                                            const GroupResolver& resolver);

}  // namespace bulkhead::learn
