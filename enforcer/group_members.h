#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "enforcer/ruleset.h"
#include "policy/model.h"
#include "policy/policy.h"

// Resolves a policy's groups to workloads and addresses: the step between the reviewed policy
// (group names) and the kernel's sets (addresses). Group ids are what the ruleset stores in
// `ct mark` while a new connection is judged.
namespace bulkhead::enforcer {

inline constexpr std::uint32_t kWorldGroupId = 0;  // also the ct mark of an unjudged connection
inline constexpr std::uint32_t kHostGroupId = 1;
// Every implicit group (below) shares this id: they have no edges, so the id only has to differ
// from every policy group's, and a container forming a new implicit group shifts no other id.
inline constexpr std::uint32_t kImplicitGroupId = 0xffffffff;

struct MemberWorkload {
  std::string name;
  std::vector<Value> v4;
  std::vector<Value> v6;
  std::string interface;  // empty when the inventory does not say
  // kEtherAddr; unset when the inventory gives none (the port is then not MAC-bound).
  std::optional<Value> mac;
};

struct ResolvedGroup {
  std::string name;
  std::uint32_t id = 0;
  policy::Mode mode = policy::Mode::kMonitor;  // effective: the group's override or the global
  bool implicit = false;  // not in the policy: workloads no policy group selects (see below)
  std::vector<MemberWorkload> members;  // sorted by name
};

struct Membership {
  // Sorted by name. Policy groups have ids from 2 in name order (they depend on the policy
  // alone); implicit ones kImplicitGroupId. World (0) and host (1) are not listed here.
  std::vector<ResolvedGroup> groups;
  std::optional<policy::Mode> host_mode;  // only when the policy gives `host` a mode
  std::vector<Value> host_v4;
  std::vector<Value> host_v6;

  const ResolvedGroup* Find(const std::string& name) const;
  // Group id of a policy group name, host or world; nullopt for unknown names.
  std::optional<std::uint32_t> IdOf(const std::string& name) const;
};

// The policy groups a workload matches, sorted (ResolveMembership's rule below): the group named
// like its derived (groupBy) group, and every selector group whose selector its labels contain
// (a namespace-only pod selector, policy::IsNamespaceOnlySelector, counts as no selector).
// Keeps pointers into `policy`.
class GroupMatcher {
 public:
  explicit GroupMatcher(const policy::Policy& policy);
  std::vector<std::string> Match(const policy::Workload& w, const std::string& derived) const;

 private:
  std::set<std::string, std::less<>> by_name_;
  std::vector<const policy::PolicyGroup*> by_selector_;
};

// The implicit group `name` (no policy group selects its workloads): no edges, the shared
// implicit id, the global mode.
ResolvedGroup ImplicitGroup(std::string name, policy::Mode global_mode);

// What is wrong with a policy's groups against an inventory (STYLE.md rule 7): the kind, and the
// names it is about. MembershipErrorText says it in one line.
enum class MembershipErrorKind : std::uint8_t {
  kGrouping,          // policy::AssignGroups refused the inventory; `subject` is its message
  kReservedSelector,  // a selector on host or world; `subject` is the group
  kWorldMode,         // a mode on world
  kTwoGroups,         // `subject`, a workload, matches the groups `first` and `second`
  kBadAddress,        // `subject`, a workload, has `first`, which is not an IP address
  kBadMac,            // `subject`, a workload, has `first` as its MAC, which is not one
  kSharedAddress,     // `subject`, an address, belongs to both `first` and `second`
  kBadHostAddress,    // `subject`, an address of the host, is not an IP address
};

struct MembershipError {
  MembershipErrorKind kind;
  std::string subject;
  std::string first;
  std::string second;
};

std::string MembershipErrorText(const MembershipError& error);

// A workload's name, interface and parsed addresses; an address that does not parse is an error
// (kBadAddress, appended to `errors`) and left out.
MemberWorkload ToMember(const policy::Workload& w, std::vector<MembershipError>& errors);

// Policy groups with a selector take the workloads whose labels contain every selector pair;
// groups without one take the workloads that `policy.group_by` names after them (first label of
// group_by the workload has with a non-empty value; a workload with none of them is named after
// itself: policy::AssignGroups, the learner's rule, with policy::DefaultGroupBy() when the
// policy has no group_by; its errors are membership errors too). A workload
// that no policy group takes is still managed: it goes to an implicit group of that derived name
// with no allowed edges, so it is judged rather than left open.
// `global_mode` replaces policy.mode for groups without their own mode (the CLI's --mode).
// Errors (all of them): a workload in two groups, an address that is not an address, an address
// of two workloads, a selector on host/world, a mode on world.
boost::system::result<Membership, std::vector<MembershipError>> ResolveMembership(
    const policy::Policy& policy, const policy::Inventory& inventory, policy::Mode global_mode);

}  // namespace bulkhead::enforcer
