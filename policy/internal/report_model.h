#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "policy/report.h"

// What the picture and the tables of the report share: the nodes in a fixed order (their index
// names them in the page's filter classes) and the edges grouped by ordered pair of groups.
namespace bulkhead::policy::internal {

struct PairEdge {
  std::string from;
  std::string to;
  std::vector<const Edge*> edges;  // into ReportInput::graph, sorted by key
  std::vector<AllowRule> unseen;   // policy rules for this pair that learning never saw
  std::uint64_t connections = 0;
  bool into_host = false;
  bool sensitive = false;   // some edge to a port of SensitivePorts()
  bool unapproved = false;  // some edge no rule covers (with a policy)
};

struct ReportModel {
  std::vector<std::string> nodes;  // graph groups, then host and world where present, sorted
  std::map<std::string, std::size_t> index;
  std::vector<PairEdge> pairs;  // sorted by (from, to)
  std::optional<PolicyGraphComparison> comparison;
  std::set<EdgeKey> unapproved;
  std::map<std::string, std::size_t> members;  // group -> member count

  // "g3": the filter class of a node.
  std::string NodeClass(const std::string& name) const;
};

// `input` must outlive the model (pairs point into its graph).
ReportModel BuildReportModel(const ReportInput& input);

}  // namespace bulkhead::policy::internal
