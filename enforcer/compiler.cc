#include "enforcer/compiler.h"

#include <unordered_map>

#include <fmt/format.h>

#include "enforcer/internal/rule_building.h"
#include "enforcer/internal/table_builders.h"

namespace bulkhead::enforcer {
namespace {

using internal::AllowRuleText;

// Checks every allow/failsafe entry against the resolved groups; each problem is one message.
// (These are checks of the policy itself, not of what nftables can express.)
std::vector<std::string> CheckRules(const policy::Policy& policy,
                                    const internal::CompileContext& context) {
  std::vector<std::string> errors;
  auto check = [&](const policy::AllowRule& r, bool failsafe) {
    const char* what = failsafe ? "failsafe" : "allow";
    for (const std::string* end : {&r.from, &r.to}) {
      const bool any = failsafe && *end == policy::kAnyGroup;
      if (!any && (!context.IdOf(*end) || context.IdOf(*end) == kImplicitGroupId)) {
        errors.push_back(fmt::format("{}: unknown group '{}'", AllowRuleText(what, r), *end));
      }
    }
    if (r.ports.first > r.ports.last) {
      errors.push_back(fmt::format("{}: empty port range", AllowRuleText(what, r)));
    }
    if (internal::IsIcmp(r.protocol) && r.ports.last > 255) {
      errors.push_back(fmt::format("{}: ICMP type above 255", AllowRuleText(what, r)));
    }
    if (r.from == policy::kHostGroup && r.to == policy::kHostGroup) {
      errors.push_back(fmt::format("{}: host to host is never judged", AllowRuleText(what, r)));
    }
  };
  for (const auto& r : policy.allow) {
    check(r, false);
  }
  for (const auto& r : policy.failsafe) {
    check(r, true);
  }
  return errors;
}

}  // namespace

boost::system::result<CompiledPolicy, std::vector<std::string>> CompileRuleset(
    const policy::Policy& policy, const policy::Inventory& inventory,
    const CompileOptions& options) {
  const policy::Mode global = options.mode.value_or(policy.mode);
  auto membership = ResolveMembership(policy, inventory, global);
  if (!membership) {
    return membership.error();
  }
  CompiledPolicy out;
  out.membership = std::move(*membership);
  if (policy.groups.size() > kMaxPolicyGroups) {
    return std::vector<std::string>{
        fmt::format("{} groups: at most {} (a connection carries two group ids in 32 bits)",
                    policy.groups.size(), kMaxPolicyGroups)};
  }
  std::unordered_map<std::string, std::uint32_t> ids;
  ids.emplace(std::string(policy::kWorldGroup), kWorldGroupId);
  ids.emplace(std::string(policy::kHostGroup), kHostGroupId);
  for (const auto& g : out.membership.groups) {
    ids.emplace(g.name, g.id);
  }
  const internal::CompileContext context{policy, options, out.membership, global, ids};
  if (auto errors = CheckRules(policy, context); !errors.empty()) {
    return errors;
  }
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
