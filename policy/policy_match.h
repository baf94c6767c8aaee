#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "policy/model.h"
#include "policy/policy.h"

// Which learned edges a policy allows, and which of its rules learning never saw: the one
// comparison `diff`, `report` and `diff --format html` share.
namespace bulkhead::policy {

// True when `rule` allows `edge`; `wildcard_ok` lets `any` match either end (failsafe rules).
bool RuleCovers(const AllowRule& rule, const EdgeKey& edge, bool wildcard_ok);

// Edges no policy can express (ApproveGraph leaves them out too): host to host never passes the
// enforcer's hooks, and port 0 of a port protocol is not a service.
bool EdgeComparable(const EdgeKey& edge);

struct PolicyGraphComparison {
  std::vector<Edge> unapproved;    // comparable edges no allow or failsafe rule covers
  std::vector<AllowRule> unseen;   // allow rules no edge of the graph falls under
  std::size_t not_comparable = 0;  // edges left out (EdgeComparable false)
};

PolicyGraphComparison ComparePolicyGraph(const Policy& policy, const FlowGraph& graph);

// One line of `bulkhead diff`: '+' learned (or new) and not allowed (or not there before), '-'
// allowed (or there before) and not seen now.
struct DiffLine {
  char sign = '+';
  std::string text;  // "+ api -> db tcp/5432 (12 connections)"
  friend bool operator==(const DiffLine&, const DiffLine&) = default;
};

// Sorted by group pair, protocol, port, '-' before '+'; duplicates (duplicate rules) once.
std::vector<DiffLine> DiffPolicyGraph(const PolicyGraphComparison& comparison);
// Between two learned graphs: edges and groups that appeared (+) or went away (-).
std::vector<DiffLine> DiffGraphs(const FlowGraph& before, const FlowGraph& after);

}  // namespace bulkhead::policy
