#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "policy/model.h"

// The cluster merge: per-node flow graphs (and graphs already merged) become one graph that
// keeps each node's share of every edge. Built so that any collector may merge in any order and
// any number of times (README.md, "Merging the graphs of a cluster"): the merge is commutative,
// associative and idempotent, and a node's older snapshot merged with its newer one changes
// nothing. Per (edge, node) it keeps the larger counters, the earlier first-seen and the later
// last-seen time (a node's counters only grow, so the newer snapshot wins), and an edge's totals
// are the sums over its nodes. Scans of one source (and group) are combined the same way
// (ScanRecord::Combine), whichever nodes reported them.
namespace bulkhead::policy {

// The merge one input at a time, so a caller can read, add and drop each file in turn (memory:
// the merged graph plus one input, not every input at once). Add returns the conflict as one
// line; after an error, or after Finish, the object must not be used again (that aborts).
class ClusterGraphMerge {
 public:
  ClusterGraphMerge();
  ~ClusterGraphMerge();
  ClusterGraphMerge(const ClusterGraphMerge&) = delete;
  ClusterGraphMerge& operator=(const ClusterGraphMerge&) = delete;

  // `name` (the file) is what error lines say.
  boost::system::result<void, std::string> Add(const FlowGraph& graph, std::string_view name);
  // The merged graph of every input added, normalized.
  FlowGraph Finish();

 private:
  class State;
  void CheckUsable() const;
  std::unique_ptr<State> state_;
};

// One input: the graph and the name its errors carry (the file it was read from).
struct NamedGraph {
  const FlowGraph* graph = nullptr;
  std::string name;
};

// Merges `inputs` (at least one). The result is normalized, so its YAML does not depend on the
// order of the inputs. Errors (one line, naming the file or files and what is at fault):
// an input that records no node, two inputs that give a group different selectors, two inputs
// with different `groupBy`.
boost::system::result<FlowGraph, std::string> MergeClusterGraphs(
    const std::vector<NamedGraph>& inputs);

// The node a graph learned with `inventory` is recorded as: the inventory's host name when it
// has one (the Docker and CRI sources fill it in, a static inventory may), else this machine's
// host name (gethostname), else "localhost".
std::string NodeNameOf(const Inventory& inventory);

}  // namespace bulkhead::policy
