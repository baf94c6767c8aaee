#include "enforcer/compiler.h"

#include <unordered_map>

#include <fmt/format.h>

#include "enforcer/internal/rule_building.h"
#include "enforcer/internal/table_builders.h"
#include "policy/validation.h"

namespace bulkhead::enforcer {
namespace {

// The checks of the policy itself (unknown groups, port ranges, ICMP types, host to host, the
// number of groups) are policy::ValidatePolicy's, the same function the YAML reader calls: a
// Policy built in code is held to exactly what a policy file is.
std::vector<std::string> PolicyErrors(const policy::Policy& policy) {
  std::vector<std::string> errors;
  for (const auto& problem : policy::ValidatePolicy(policy)) {
    errors.push_back(policy::DescribePolicyProblem(policy, problem));
  }
  return errors;
}

}  // namespace

boost::system::result<CompiledPolicy, std::vector<std::string>> CompileRuleset(
    const policy::Policy& policy, const policy::Inventory& inventory,
    const CompileOptions& options) {
  if (auto errors = PolicyErrors(policy); !errors.empty()) {
    return errors;
  }
  const policy::Mode global = options.mode.value_or(policy.mode);
  auto membership = ResolveMembership(policy, inventory, global);
  if (!membership) {
    std::vector<std::string> errors;
    for (const MembershipError& error : membership.error()) {
      errors.push_back(MembershipErrorText(error));
    }
    return errors;
  }
  CompiledPolicy out;
  out.membership = std::move(*membership);
  std::unordered_map<std::string, std::uint32_t> ids;
  ids.emplace(std::string(policy::kWorldGroup), kWorldGroupId);
  ids.emplace(std::string(policy::kHostGroup), kHostGroupId);
  for (const auto& g : out.membership.groups) {
    ids.emplace(g.name, g.id);
  }
  const internal::CompileContext context{policy, options, out.membership, global, ids};
  out.ruleset.tables.push_back(internal::BuildInetTable(context, out.warnings));
  if (options.bridge_table) {
    out.ruleset.tables.push_back(internal::BuildBridgeTable(context, out.warnings));
  }
  return out;
}

std::set<std::string> FailsafeGroups(const policy::Policy& policy, const Membership& membership) {
  std::set<std::string> names;
  for (const auto& r : policy.failsafe) {
    for (const std::string* end : {&r.from, &r.to}) {
      if (membership.Find(*end) != nullptr) {
        names.insert(*end);
      }
    }
  }
  return names;
}

Set HitNames(const Table& inet_table) {
  Set out;
  out.name = std::string(kHitSet);
  out.key = {DataType::kMark, DataType::kInetProto, DataType::kInetService};
  for (const Set& s : inet_table.sets) {
    if (!s.single_port_edges_of) {
      continue;
    }
    for (const Element& e : s.elements) {
      out.elements.push_back(HitElement(*s.single_port_edges_of, e));
    }
  }
  return out;
}

Element HitElement(std::uint32_t source, const Element& edge) {
  Element n = edge;
  n.key[0].number |= source << 16;
  return n;
}

}  // namespace bulkhead::enforcer
