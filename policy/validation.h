#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "policy/policy.h"

// Every semantic check of a Policy, in one place: what a policy must satisfy beyond its file's
// syntax, whoever built it. The YAML reader calls it and locates each problem in the file; the
// enforcer's compiler can call it on any Policy before compiling.
namespace bulkhead::policy {

// Policy groups get ids from 2, and while a connection is matched its ct mark holds the source
// and destination group ids in 16 bits each, 0xffff never an id: 65,532 groups at most. (The
// nftables compiler enforces the same number as enforcer::kMaxPolicyGroups.)
inline constexpr std::size_t kMaxPolicyGroups = 65532;

// What a problem is about, and which of its fields is at fault.
enum class PolicyPart : std::uint8_t { kGroupBy, kGroup, kAllow, kFailsafe, kAlertOnExec };
enum class PolicyField : std::uint8_t { kWhole, kName, kSelector, kMode, kFrom, kTo, kPorts };

struct PolicyProblem {
  PolicyPart part = PolicyPart::kGroup;
  std::size_t index = 0;  // into group_by, groups, allow, failsafe or alert_on_exec
  PolicyField field = PolicyField::kWhole;
  std::string message;
  // For "given twice": the index of the first one, in the same part.
  std::optional<std::size_t> first;
};

// Checks `policy` and returns every problem (empty when it is valid):
// - groupBy labels: none empty, none twice;
// - groups: at most kMaxPolicyGroups; names not empty, not `any`, unique; `host` and `world`
//   take no selector, `world` no mode;
// - allow and failsafe rules: `from`/`to` name a listed group, `host` or `world` (`any` only in
//   failsafe); ports 1..65535 (tcp/udp/sctp) or an ICMP type 0..255, first <= last; not host
//   to host; no rule twice in the same list (among rules without other problems);
// - alertOnExec: each name a listed group (not host, world or any: no exec runs there), none
//   twice.
std::vector<PolicyProblem> ValidatePolicy(const Policy& policy);

// The problem with `name` as the `from` (or `to`) of a rule in `part` (kAllow or kFailsafe), or
// nullopt when the name is fine: for a reader that checks the group names of rules it could not
// read whole. `listed(name)` says whether the policy lists a group of that name.
std::optional<std::string> GroupRefProblem(const std::function<bool(const std::string&)>& listed,
                                           PolicyPart part, PolicyField field,
                                           const std::string& name);

// One line for a problem without a file to point into: "allow rule "a" -> "b" tcp/80: <message>".
std::string DescribePolicyProblem(const Policy& policy, const PolicyProblem& problem);

// `"a" -> "b" tcp/80` or `... tcp/80-90`, as messages name a rule.
std::string RuleText(const AllowRule& rule);

}  // namespace bulkhead::policy
