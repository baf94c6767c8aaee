#include "policy/validation.h"

#include <map>
#include <set>
#include <string_view>

#include "codec/yaml_reader.h"

namespace bulkhead::policy {
namespace {

using codec::Quote;

constexpr std::uint16_t kMaxIcmpType = 255;  // RFC 792 / RFC 4443: the type is one octet

bool IsIcmp(Protocol p) { return p == Protocol::kIcmp || p == Protocol::kIcmpv6; }

bool IsReserved(std::string_view name) { return name == kHostGroup || name == kWorldGroup; }

// `defined`: whether a group of that name is listed.
template <typename Defined>
std::optional<std::string> RefProblem(PolicyPart part, PolicyField field, const std::string& name,
                                      Defined&& defined) {
  const bool failsafe = part == PolicyPart::kFailsafe;
  if ((failsafe && name == kAnyGroup) || IsReserved(name) || defined(name)) {
    return std::nullopt;
  }
  if (name == kAnyGroup) {
    return "\"any\" is only allowed in failsafe entries";
  }
  return std::string(failsafe ? "failsafe" : "allow") +
         (field == PolicyField::kFrom ? " from" : " to") + " names group " + Quote(name) +
         ", which is not in groups";
}

class Validator {
 public:
  explicit Validator(const Policy& policy) : policy_(policy) {}

  std::vector<PolicyProblem> Run() {
    CheckGroupBy();
    CheckGroups();
    CheckRules(PolicyPart::kAllow, policy_.allow);
    CheckRules(PolicyPart::kFailsafe, policy_.failsafe);
    CheckAlertOnExec();
    return std::move(problems_);
  }

 private:
  void Add(PolicyPart part, std::size_t index, PolicyField field, std::string message,
           std::optional<std::size_t> first = std::nullopt) {
    problems_.push_back(PolicyProblem{part, index, field, std::move(message), first});
  }

  void CheckGroupBy() {
    std::set<std::string_view> seen;
    for (std::size_t i = 0; i < policy_.group_by.size(); ++i) {
      const std::string& label = policy_.group_by[i];
      if (label.empty()) {
        Add(PolicyPart::kGroupBy, i, PolicyField::kWhole, "a groupBy label is empty");
      } else if (!seen.insert(label).second) {
        Add(PolicyPart::kGroupBy, i, PolicyField::kWhole,
            "groupBy label " + Quote(label) + " given twice");
      }
    }
  }

  void CheckGroups() {
    const auto& groups = policy_.groups;
    if (groups.size() > kMaxPolicyGroups) {
      // At the first group over the limit.
      Add(PolicyPart::kGroup, kMaxPolicyGroups, PolicyField::kWhole,
          std::to_string(groups.size()) + " groups: at most " + std::to_string(kMaxPolicyGroups) +
              " (a connection carries two group ids in 32 bits)");
    }
    for (std::size_t i = 0; i < groups.size(); ++i) {
      const PolicyGroup& group = groups[i];
      bool named = true;
      if (group.name.empty()) {
        Add(PolicyPart::kGroup, i, PolicyField::kName, "a group name is empty");
        named = false;
      } else if (group.name == kAnyGroup) {
        Add(PolicyPart::kGroup, i, PolicyField::kName,
            "\"any\" is reserved for failsafe entries; it cannot be a group");
        named = false;
      }
      if (IsReserved(group.name) && !group.selector.empty()) {
        Add(PolicyPart::kGroup, i, PolicyField::kSelector,
            "the special group " + Quote(group.name) + " has no selector");
      }
      if (group.name == kWorldGroup && group.mode) {
        // The enforcer judges connections at the workload end; world has no such end.
        Add(PolicyPart::kGroup, i, PolicyField::kMode,
            "the special group \"world\" has no mode; set it on the other end");
      }
      if (!named) {
        continue;
      }
      const auto [it, inserted] = defined_.emplace(group.name, i);
      if (!inserted) {
        Add(PolicyPart::kGroup, i, PolicyField::kName,
            "group " + Quote(group.name) + " given twice", it->second);
      }
    }
  }

  bool CheckRef(PolicyPart part, std::size_t index, PolicyField field, const std::string& name) {
    auto problem = RefProblem(part, field, name,
                              [this](const std::string& n) { return defined_.count(n) != 0; });
    if (problem) {
      Add(part, index, field, std::move(*problem));
    }
    return !problem;
  }

  // The bounds depend on the protocol: an ICMP type is one octet, and port 0 is not a port.
  bool CheckPorts(PolicyPart part, std::size_t index, const AllowRule& rule) {
    const bool icmp = IsIcmp(rule.protocol);
    const std::string unit =
        icmp ? "an " + std::string(ProtocolName(rule.protocol)) + " type" : std::string("a port");
    for (const std::uint16_t value : {rule.ports.first, rule.ports.last}) {
      if (icmp && value > kMaxIcmpType) {
        Add(part, index, PolicyField::kPorts,
            std::to_string(value) + " is not " + unit + " (0.." + std::to_string(kMaxIcmpType) +
                ")");
        return false;
      }
      if (!icmp && value == 0) {
        Add(part, index, PolicyField::kPorts, "port 0 is not a port (1..65535)");
        return false;
      }
    }
    if (rule.ports.first > rule.ports.last) {
      const std::string text =
          std::to_string(rule.ports.first) + "-" + std::to_string(rule.ports.last);
      Add(part, index, PolicyField::kPorts,
          "port range " + Quote(text) + " is empty: " + std::to_string(rule.ports.first) +
              " is above " + std::to_string(rule.ports.last));
      return false;
    }
    return true;
  }

  void CheckRules(PolicyPart part, const std::vector<AllowRule>& rules) {
    const std::string key = part == PolicyPart::kFailsafe ? "failsafe" : "allow";
    // Rule -> index of its first occurrence; pointers into `rules`, which outlives the map.
    auto less = [](const AllowRule* a, const AllowRule* b) { return *a < *b; };
    std::map<const AllowRule*, std::size_t, decltype(less)> seen(less);
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const AllowRule& rule = rules[i];
      const bool from_ok = CheckRef(part, i, PolicyField::kFrom, rule.from);
      const bool to_ok = CheckRef(part, i, PolicyField::kTo, rule.to);
      if (!from_ok || !to_ok || !CheckPorts(part, i, rule)) {
        continue;
      }
      if (rule.from == kHostGroup && rule.to == kHostGroup) {
        // The node's own loopback traffic never passes the enforcer's hooks.
        Add(part, i, PolicyField::kWhole,
            "host to host traffic is never judged; remove this " + key + " entry");
        continue;
      }
      const auto [it, inserted] = seen.emplace(&rule, i);
      if (!inserted) {
        Add(part, i, PolicyField::kWhole, key + " rule " + RuleText(rule) + " given twice",
            it->second);
      }
    }
  }

  void CheckAlertOnExec() {
    std::map<std::string_view, std::size_t> seen;
    for (std::size_t i = 0; i < policy_.alert_on_exec.size(); ++i) {
      const std::string& name = policy_.alert_on_exec[i];
      if (defined_.count(name) == 0 || IsReserved(name)) {
        Add(PolicyPart::kAlertOnExec, i, PolicyField::kWhole,
            "alertOnExec names " + Quote(name) +
                ", which is not a group of workloads in groups (exec runs in containers)");
        continue;
      }
      const auto [it, inserted] = seen.emplace(name, i);
      if (!inserted) {
        Add(PolicyPart::kAlertOnExec, i, PolicyField::kWhole,
            "alertOnExec group " + Quote(name) + " given twice", it->second);
      }
    }
  }

  const Policy& policy_;
  std::map<std::string_view, std::size_t> defined_;  // group name -> first index
  std::vector<PolicyProblem> problems_;
};

}  // namespace

std::string RuleText(const AllowRule& r) {
  std::string out = Quote(r.from) + " -> " + Quote(r.to) + " " +
                    std::string(ProtocolName(r.protocol)) + "/" + std::to_string(r.ports.first);
  if (r.ports.last != r.ports.first) {
    out += "-" + std::to_string(r.ports.last);
  }
  return out;
}

std::optional<std::string> GroupRefProblem(const std::function<bool(const std::string&)>& listed,
                                           PolicyPart part, PolicyField field,
                                           const std::string& name) {
  return RefProblem(part, field, name, listed);
}

std::vector<PolicyProblem> ValidatePolicy(const Policy& policy) { return Validator(policy).Run(); }

std::string DescribePolicyProblem(const Policy& policy, const PolicyProblem& problem) {
  switch (problem.part) {
    case PolicyPart::kGroupBy:
      return "groupBy: " + problem.message;
    case PolicyPart::kGroup:
      if (problem.index < policy.groups.size()) {
        return "group " + Quote(policy.groups[problem.index].name) + ": " + problem.message;
      }
      break;
    case PolicyPart::kAllow:
      if (problem.index < policy.allow.size()) {
        return "allow rule " + RuleText(policy.allow[problem.index]) + ": " + problem.message;
      }
      break;
    case PolicyPart::kFailsafe:
      if (problem.index < policy.failsafe.size()) {
        return "failsafe rule " + RuleText(policy.failsafe[problem.index]) + ": " + problem.message;
      }
      break;
    case PolicyPart::kAlertOnExec:
      return problem.message;
  }
  return problem.message;
}

}  // namespace bulkhead::policy
