#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "enforcer/compiler.h"
#include "enforcer/element_delta.h"
#include "policy/model.h"
#include "policy/policy.h"

// Container churn without a recompile. A compiled policy of 10,000 workloads takes a few hundred
// milliseconds to compile and tens to diff; one container start or stop changes a handful of
// set elements that depend on that container alone (compiler.h, ForEachMemberElement). The
// tracker keeps the compiled policy and the inventory it came from, and turns the next
// inventory into exactly the element changes a full compile and DiffElements would find, in
// time proportional to the inventory comparison (about a millisecond at 10,000 workloads).
namespace bulkhead::enforcer {

class MembershipTracker {
 public:
  // `compiled` is CompileRuleset(policy, inventory, options) (and is what the kernel has).
  MembershipTracker(policy::Policy policy, policy::Inventory inventory, CompileOptions options,
                    CompiledPolicy compiled);

  const CompiledPolicy& compiled() const { return compiled_; }
  const policy::Policy& policy() const { return *policy_; }
  const CompileOptions& options() const { return options_; }

  struct Member {
    std::string group;
    MemberWorkload workload;
  };
  struct Plan {
    ElementDelta delta;                  // empty when the change does not touch the ruleset
    std::vector<Member> removed;         // workloads leaving (with the group they were in)
    std::vector<Member> added;           // workloads arriving (with the group they join)
    std::vector<std::string> gone;       // inventory entries that went (or changed)
    std::vector<policy::Workload> came;  // inventory entries that came (or changed)
  };

  // The element changes that take the tracked state to `next`, or nullopt when only a full
  // compile can get there (and report what is wrong): the host's addresses changed, more than
  // `max_changes` workloads changed, an inventory error a full compile reports (duplicate name
  // or address, two matching groups, a clashing derived group, a reserved name), or the shape
  // of the ruleset depends on the change (the first workload with an interface, or the first
  // without one), or a set would outgrow its size (ruleset.h, Set::size).
  // Compares `next` with the tracked inventory (one hash lookup and comparison per workload).
  std::optional<Plan> PlanChange(const policy::Inventory& next,
                                 std::size_t max_changes = 256) const;

  // The same for a change the caller already knows (a container event): `came` are workloads
  // that start or change (one with the name of a tracked workload replaces it), `gone` names
  // workloads that stop. Costs O(change), not O(inventory).
  std::optional<Plan> PlanWorkloads(const std::vector<policy::Workload>& came,
                                    const std::vector<std::string>& gone) const;

  // Records that the kernel took `plan.delta`: the compiled policy and the tracked inventory
  // follow the plan.
  void Commit(const Plan& plan);

 private:
  struct PlanDraft;  // membership_update.cc
  std::optional<Plan> Build(const std::vector<const policy::Workload*>& gone,
                            const std::vector<const policy::Workload*>& came) const;
  // The parts of Build; false (nullopt): the incremental path cannot plan this change.
  bool Leave(PlanDraft& draft, const policy::Workload& w) const;
  bool Arrive(PlanDraft& draft, const policy::Workload& w, policy::Mode global) const;
  std::optional<std::string> GroupOfArrival(PlanDraft& draft, const policy::Workload& w) const;
  void Emit(PlanDraft& draft, const ResolvedGroup& g, const MemberWorkload& m, bool removed) const;
  void IndexAdd(const policy::Workload& w, const std::string& group);
  void IndexRemove(const std::string& name);
  const ResolvedGroup* GroupOf(const std::string& workload) const;

  std::shared_ptr<const policy::Policy> policy_;
  std::vector<std::string> host_addresses_;
  CompileOptions options_;
  CompiledPolicy compiled_;
  std::unique_ptr<GroupMatcher> matcher_;  // points into *policy_
  // (family, name) -> the compiled set (sets are never added or removed here).
  std::map<std::pair<Family, std::string>, Set*, std::less<>> sets_;
  std::vector<std::string> group_by_;
  std::set<std::string> failsafe_;  // failsafe group names (FailsafeGroups)
  std::unordered_map<std::string, policy::Workload> workloads_;  // by name
  std::unordered_map<std::string, std::string> group_of_;        // workload -> group
  std::unordered_map<std::string, std::string> owner_of_address_;
  std::unordered_map<std::string, std::size_t> iface_users_;
  // Derived (groupBy) group -> its selector and how many workloads derive it.
  std::map<std::string, std::pair<policy::Labels, std::size_t>> derived_;
  // Where each element of a set sits in it (its key's bytes -> index), made on the set's first
  // removal and kept by Commit: a removed element is found in O(1), not by scanning a set of
  // 150,000 pods (a cluster's) per removal.
  std::map<const Set*, std::unordered_map<std::string, std::size_t>> positions_;
  void CommitSet(Set& set, const SetDelta& delta);
  std::size_t with_iface_ = 0;
  std::size_t without_iface_ = 0;
};

}  // namespace bulkhead::enforcer
