// The cluster merge (graph_merge.h). Why the laws hold, in short (README.md has the long form):
// per (edge, node) the combination is an elementwise max/min, per edge the examples are the
// smallest few of a union, per group the members are a union; each of those is commutative,
// associative and idempotent, and everything else (the totals) is computed from them afterwards.
#include "policy/graph_merge.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <utility>

#include "codec/text_escape.h"
#include "codec/yaml_reader.h"

namespace bulkhead::policy {
namespace {

// A group as first seen, with the input that gave it (for the conflict message).
struct GroupOrigin {
  Group group;
  std::size_t input = 0;  // index into State::inputs_
};

struct EdgeProvenance {
  std::map<std::string, NodeEdgeStats> shares;  // by node
  EdgeStats stats;                              // examples only, until Finish
};

// Two snapshots of one node's share of an edge: the newer one has the larger counters and the
// later last-seen time, and first-seen never moves later, so max/min keep the newer one whole.
void CombineShare(NodeEdgeStats& into, const NodeEdgeStats& other) {
  into.connections = std::max(into.connections, other.connections);
  into.packets = std::max(into.packets, other.packets);
  into.bytes = std::max(into.bytes, other.bytes);
  into.first_seen_usec = EarliestSeen(into.first_seen_usec, other.first_seen_usec);
  into.last_seen_usec = std::max(into.last_seen_usec, other.last_seen_usec);
}

NodeEdgeStats TotalsAsShare(const std::string& node, const EdgeStats& stats) {
  return NodeEdgeStats{node,        stats.connections,     stats.packets,
                       stats.bytes, stats.first_seen_usec, stats.last_seen_usec};
}

}  // namespace

class ClusterGraphMerge::State {
 public:
  // False, with error_ set, on a conflict.
  bool Add(const FlowGraph& graph, std::string_view name) {
    const std::string input(name);
    if (graph.nodes.empty()) {
      error_ = input +
               ": the graph does not say which node it was learned on (no `node:`); learn it "
               "again with this bulkhead, or add `node: NAME` under `kind:`";
      return false;
    }
    if (inputs_.empty()) {
      group_by_ = graph.group_by;
    } else if (graph.group_by != group_by_) {
      error_ = input + ": groupBy " + codec::YamlFlowList(graph.group_by) + " differs from " +
               codec::YamlFlowList(group_by_) + " in " + inputs_.front() +
               "; graphs grouped by different labels cannot be merged";
      return false;
    }
    inputs_.push_back(input);
    nodes_.insert(nodes_.end(), graph.nodes.begin(), graph.nodes.end());
    for (const auto& group : graph.groups) {
      if (!AddGroup(group, input)) {
        return false;
      }
    }
    for (const auto& edge : graph.edges) {
      AddEdge(graph, edge);
    }
    // United here; Finish's Normalize combines the records of one source (ScanRecord::Combine,
    // an elementwise max/min), so the laws hold for scans as for edge shares.
    scans_.insert(scans_.end(), graph.scans.begin(), graph.scans.end());
    return true;
  }

  FlowGraph Finish() {
    FlowGraph out;
    out.nodes = std::move(nodes_);
    out.group_by = std::move(group_by_);
    for (auto& [name, origin] : groups_) {
      out.groups.push_back(std::move(origin.group));
    }
    for (auto& [key, provenance] : edges_) {
      Edge edge{key, std::move(provenance.stats)};
      for (auto& [node, share] : provenance.shares) {
        edge.stats.connections = SaturatingAdd(edge.stats.connections, share.connections);
        edge.stats.packets = SaturatingAdd(edge.stats.packets, share.packets);
        edge.stats.bytes = SaturatingAdd(edge.stats.bytes, share.bytes);
        edge.stats.first_seen_usec =
            EarliestSeen(edge.stats.first_seen_usec, share.first_seen_usec);
        edge.stats.last_seen_usec = std::max(edge.stats.last_seen_usec, share.last_seen_usec);
        edge.stats.by_node.push_back(std::move(share));
      }
      out.edges.push_back(std::move(edge));
    }
    out.scans = std::move(scans_);
    out.Normalize();  // one node: its shares are its totals, and are dropped
    return out;
  }

  const std::string& error() const { return error_; }

 private:
  bool AddGroup(const Group& group, const std::string& input) {
    auto [it, inserted] = groups_.try_emplace(group.name, GroupOrigin{group, inputs_.size() - 1});
    if (inserted) {
      return true;
    }
    if (it->second.group.selector != group.selector) {
      error_ = input + ": group " + codec::Quote(group.name) + " has selector " +
               codec::YamlFlowMap(group.selector) + ", but " +
               codec::YamlFlowMap(it->second.group.selector) + " in " + inputs_[it->second.input] +
               "; one group must select the same workloads on every node";
      return false;
    }
    // United as they come, so many inputs naming the same members do not pile up copies.
    auto& members = it->second.group.members;
    members.insert(members.end(), group.members.begin(), group.members.end());
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    return true;
  }

  void AddEdge(const FlowGraph& graph, const Edge& edge) {
    auto& provenance = edges_[edge.key];
    for (const auto& pair : edge.stats.examples) {
      provenance.stats.AddExample(pair);
    }
    if (graph.nodes.size() == 1) {
      AddShare(provenance, TotalsAsShare(graph.nodes.front(), edge.stats));
      return;
    }
    for (const auto& share : edge.stats.by_node) {
      AddShare(provenance, share);
    }
  }

  static void AddShare(EdgeProvenance& provenance, const NodeEdgeStats& share) {
    auto [it, inserted] = provenance.shares.try_emplace(share.node, share);
    if (!inserted) {
      CombineShare(it->second, share);
    }
  }

  std::vector<std::string> inputs_;  // names of the inputs added, in order
  std::vector<std::string> nodes_;
  std::vector<std::string> group_by_;  // the first input's
  std::map<std::string, GroupOrigin> groups_;
  std::map<EdgeKey, EdgeProvenance> edges_;
  std::vector<ScanRecord> scans_;  // every input's, combined by Finish's Normalize
  std::string error_;
};

ClusterGraphMerge::ClusterGraphMerge() : state_(std::make_unique<State>()) {}
ClusterGraphMerge::~ClusterGraphMerge() = default;

boost::system::result<void, std::string> ClusterGraphMerge::Add(const FlowGraph& graph,
                                                                std::string_view name) {
  CheckUsable();
  if (!state_->Add(graph, name)) {
    std::string error = state_->error();
    state_.reset();
    return error;
  }
  return {};
}

FlowGraph ClusterGraphMerge::Finish() {
  CheckUsable();
  FlowGraph out = state_->Finish();
  state_.reset();
  return out;
}

void ClusterGraphMerge::CheckUsable() const {
  if (!state_) {
    std::fprintf(stderr, "ClusterGraphMerge used after an error or Finish\n");
    std::abort();  // a programming error (STYLE.md rule 7c)
  }
}

boost::system::result<FlowGraph, std::string> MergeClusterGraphs(
    const std::vector<NamedGraph>& inputs) {
  if (inputs.empty()) {
    return std::string("no graphs to merge");
  }
  ClusterGraphMerge merge;
  for (const auto& input : inputs) {
    if (auto added = merge.Add(*input.graph, input.name); !added) {
      return added.error();
    }
  }
  return merge.Finish();
}

std::string NodeNameOf(const Inventory& inventory) {
  if (!inventory.host.name.empty()) {
    return inventory.host.name;
  }
  std::array<char, HOST_NAME_MAX + 1> name{};
  // POSIX leaves a truncated name unterminated: the last byte stays 0.
  if (::gethostname(name.data(), name.size() - 1) == 0 && name[0] != '\0') {
    return name.data();
  }
  return "localhost";
}

}  // namespace bulkhead::policy
