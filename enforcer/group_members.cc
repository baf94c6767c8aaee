#include "enforcer/group_members.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "policy/grouping.h"

namespace bulkhead::enforcer {
namespace {

bool SelectorMatches(const policy::Labels& selector, const policy::Labels& labels) {
  return std::all_of(selector.begin(), selector.end(), [&](const auto& pair) {
    auto it = labels.find(pair.first);
    return it != labels.end() && it->second == pair.second;
  });
}

}  // namespace

GroupMatcher::GroupMatcher(const policy::Policy& policy) {
  // Groups named through groupBy are found by name; only selector groups are scanned, so a
  // large inventory costs O(workloads x selector groups), not x all groups.
  for (const auto& pg : policy.groups) {
    if (pg.name == policy::kHostGroup || pg.name == policy::kWorldGroup) {
      continue;
    }
    // A namespace-only selector (pods without a grouping label) names a namespace, not its
    // members: such a group is found by name like a group without a selector.
    if (pg.selector.empty() || policy::IsNamespaceOnlySelector(pg.selector)) {
      by_name_.insert(pg.name);
    } else {
      by_selector_.push_back(&pg);
    }
  }
}

std::vector<std::string> GroupMatcher::Match(const policy::Workload& w,
                                             const std::string& derived) const {
  std::vector<std::string> matched;
  if (by_name_.count(derived) != 0) {
    matched.push_back(derived);
  }
  for (const auto* pg : by_selector_) {
    if (SelectorMatches(pg->selector, w.labels)) {
      matched.push_back(pg->name);
    }
  }
  std::sort(matched.begin(), matched.end());
  return matched;
}

ResolvedGroup ImplicitGroup(std::string name, policy::Mode global_mode) {
  ResolvedGroup g;
  g.name = std::move(name);
  g.id = kImplicitGroupId;
  g.mode = global_mode;
  g.implicit = true;
  return g;
}

std::string MembershipErrorText(const MembershipError& error) {
  switch (error.kind) {
    case MembershipErrorKind::kGrouping:
      return error.subject;
    case MembershipErrorKind::kReservedSelector:
      return fmt::format("group {}: a reserved group takes no selector", error.subject);
    case MembershipErrorKind::kWorldMode:
      return "group world: world has no mode of its own; set it on the other end";
    case MembershipErrorKind::kTwoGroups:
      return fmt::format("workload {} matches groups {} and {}", error.subject, error.first,
                         error.second);
    case MembershipErrorKind::kBadAddress:
      return fmt::format("workload {}: '{}' is not an IP address", error.subject, error.first);
    case MembershipErrorKind::kBadMac:
      return fmt::format("workload {}: mac '{}' is not a MAC address (aa:bb:cc:dd:ee:ff)",
                         error.subject, error.first);
    case MembershipErrorKind::kSharedAddress:
      return fmt::format("address {} belongs to both {} and {}", error.subject, error.first,
                         error.second);
    case MembershipErrorKind::kBadHostAddress:
      return fmt::format("host: '{}' is not an IP address", error.subject);
  }
  return "unknown membership error";
}

MemberWorkload ToMember(const policy::Workload& w, std::vector<MembershipError>& errors) {
  MemberWorkload m;
  m.name = w.name;
  m.interface = w.interface;
  if (!w.mac.empty()) {
    m.mac = Value::Mac(w.mac);
    if (!m.mac) {
      errors.push_back({MembershipErrorKind::kBadMac, w.name, w.mac, {}});
    }
  }
  for (const auto& text : w.addresses) {
    auto v = Value::Address(text);
    if (!v) {
      errors.push_back({MembershipErrorKind::kBadAddress, w.name, text, {}});
      continue;
    }
    (v->type == DataType::kIpv4Addr ? m.v4 : m.v6).push_back(*v);
  }
  return m;
}

const ResolvedGroup* Membership::Find(const std::string& name) const {
  auto it =
      std::lower_bound(groups.begin(), groups.end(), name,
                       [](const ResolvedGroup& g, const std::string& n) { return g.name < n; });
  return (it != groups.end() && it->name == name) ? &*it : nullptr;
}

std::optional<std::uint32_t> Membership::IdOf(const std::string& name) const {
  if (name == policy::kWorldGroup) {
    return kWorldGroupId;
  }
  if (name == policy::kHostGroup) {
    return kHostGroupId;
  }
  const ResolvedGroup* g = Find(name);
  if (g == nullptr) {
    return std::nullopt;
  }
  return g->id;
}

namespace {

// The policy's own groups (host and world are checked, not resolved: they have no members),
// by name; the host group's mode goes to `host_mode`.
std::map<std::string, ResolvedGroup> DeclaredGroups(const policy::Policy& policy,
                                                    policy::Mode global_mode,
                                                    std::optional<policy::Mode>& host_mode,
                                                    std::vector<MembershipError>& errors) {
  std::map<std::string, ResolvedGroup> groups;
  for (const auto& pg : policy.groups) {
    if (pg.name == policy::kHostGroup || pg.name == policy::kWorldGroup) {
      if (!pg.selector.empty()) {
        errors.push_back({MembershipErrorKind::kReservedSelector, pg.name, {}, {}});
      }
      if (pg.name == policy::kWorldGroup && pg.mode) {
        errors.push_back({MembershipErrorKind::kWorldMode, pg.name, {}, {}});
      }
      if (pg.name == policy::kHostGroup) {
        host_mode = pg.mode;
      }
      continue;
    }
    ResolvedGroup g;
    g.name = pg.name;
    g.mode = pg.mode.value_or(global_mode);
    groups.emplace(pg.name, std::move(g));
  }
  return groups;
}

}  // namespace

boost::system::result<Membership, std::vector<MembershipError>> ResolveMembership(
    const policy::Policy& policy, const policy::Inventory& inventory, policy::Mode global_mode) {
  std::vector<MembershipError> errors;
  Membership out;
  const std::vector<std::string> group_by =
      policy.group_by.empty() ? policy::DefaultGroupBy() : policy.group_by;
  // The learner's grouping (policy/grouping.h), so that an inventory forms the same groups in
  // the flow graph and in the enforced policy.
  auto assigned = policy::AssignGroups(inventory, group_by);
  if (!assigned) {
    return std::vector<MembershipError>{{MembershipErrorKind::kGrouping, assigned.error(), {}, {}}};
  }

  std::map<std::string, ResolvedGroup> groups =
      DeclaredGroups(policy, global_mode, out.host_mode, errors);

  const GroupMatcher matcher(policy);
  std::unordered_map<std::string, std::string> owner_of_address;
  owner_of_address.reserve(inventory.workloads.size() * 2);
  for (const auto& w : inventory.workloads) {
    const std::string& derived = assigned->group_of.at(w.name);
    std::vector<std::string> matched = matcher.Match(w, derived);
    if (matched.size() > 1) {
      errors.push_back({MembershipErrorKind::kTwoGroups, w.name, matched[0], matched[1]});
      continue;
    }
    MemberWorkload m = ToMember(w, errors);
    for (const auto& text : w.addresses) {
      if (!Value::Address(text)) {
        continue;  // ToMember said so
      }
      auto [it, fresh] = owner_of_address.emplace(text, w.name);
      if (!fresh) {
        errors.push_back({MembershipErrorKind::kSharedAddress, text, it->second, w.name});
      }
    }
    std::string group_name = matched.empty() ? derived : matched[0];
    auto it = groups.find(group_name);
    if (it == groups.end()) {
      // Never host or world: AssignGroups refuses workloads that derive those names.
      it = groups.emplace(group_name, ImplicitGroup(group_name, global_mode)).first;
    }
    it->second.members.push_back(std::move(m));
  }
  for (const auto& text : inventory.host.addresses) {
    auto v = Value::Address(text);
    if (!v) {
      errors.push_back({MembershipErrorKind::kBadHostAddress, text, {}, {}});
      continue;
    }
    (v->type == DataType::kIpv4Addr ? out.host_v4 : out.host_v6).push_back(*v);
  }
  if (!errors.empty()) {
    return errors;
  }
  std::uint32_t next_id = kHostGroupId + 1;
  for (auto& [name, g] : groups) {
    g.id = g.implicit ? kImplicitGroupId : next_id++;
    std::sort(g.members.begin(), g.members.end(),
              [](const MemberWorkload& a, const MemberWorkload& b) { return a.name < b.name; });
    out.groups.push_back(std::move(g));
  }
  return out;
}

}  // namespace bulkhead::enforcer
