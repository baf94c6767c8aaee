#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "enforcer/compiler.h"
#include "enforcer/group_members.h"
#include "enforcer/ruleset.h"
#include "policy/policy.h"

// The two table builders of the compiler (inet_table.cc, bridge_table.cc) and what they share.
// Private to the enforcer; the public entry point is CompileRuleset (compiler.h).
namespace bulkhead::enforcer::internal {

// What both builders read: the checked policy, its resolved membership and the group ids.
struct CompileContext {
  const policy::Policy& policy;
  const CompileOptions& options;
  const Membership& membership;
  policy::Mode global;  // the policy's mode, or CompileOptions::mode
  // Membership::IdOf through a hash map: the compiler asks it for both ends of every edge.
  const std::unordered_map<std::string, std::uint32_t>& ids;

  std::optional<std::uint32_t> IdOf(const std::string& name) const {
    auto it = ids.find(name);
    return it == ids.end() ? std::nullopt : std::optional<std::uint32_t>(it->second);
  }
};

// table inet bulkhead: the policy's edges and the judgment of new connections (README.md).
// Appends to `warnings` what the table cannot do (no anti-spoofing without interfaces).
Table BuildInetTable(const CompileContext& context, std::vector<std::string>& warnings);

// table bridge bulkhead: tagged frames and port anti-spoofing before br_netfilter.
Table BuildBridgeTable(const CompileContext& context, std::vector<std::string>& warnings);

// Fills a table's membership sets (those ForEachMemberElement names and the table declares)
// from every member of every group. A shared interface is listed once.
void FillMemberSets(Table& table, const Membership& membership,
                    const std::set<std::string>& failsafe_groups);

}  // namespace bulkhead::enforcer::internal
