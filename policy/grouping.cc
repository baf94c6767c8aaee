#include "policy/grouping.h"

#include <algorithm>
#include <set>

#include "codec/text_escape.h"

namespace bulkhead::policy {
namespace {

// Workload names and label values are untrusted: quote and escape them in messages.
std::string Q(std::string_view text) { return codec::JsonString(text); }

std::string DescribeSelector(const Labels& selector) {
  if (selector.empty()) {
    return "its own name";
  }
  const auto& [key, value] = *selector.begin();
  return "selector {" + Q(key) + ": " + Q(value) + "}";
}

}  // namespace

Group DeriveGroup(const Workload& workload, const std::vector<std::string>& group_by) {
  Group wanted;
  for (const auto& label : group_by) {
    const auto it = workload.labels.find(label);
    // An empty label value names nothing; fall through to the next label.
    if (it != workload.labels.end() && !it->second.empty()) {
      wanted.name = it->second;
      wanted.selector = {{label, it->second}};
      break;
    }
  }
  if (wanted.name.empty()) {
    wanted.name = workload.name;
  }
  return wanted;
}

boost::system::result<GroupAssignment, std::string> AssignGroups(
    const Inventory& inventory, const std::vector<std::string>& group_by) {
  GroupAssignment out;
  std::map<std::string, Group> groups;
  // Which workload first gave each group its selector, for the collision message.
  std::map<std::string, std::string> founder;
  for (const auto& workload : inventory.workloads) {
    if (workload.name.empty()) {
      return std::string("a workload has an empty name");
    }
    Group wanted = DeriveGroup(workload, group_by);
    if (wanted.name == kHostGroup || wanted.name == kWorldGroup) {
      return "workload " + Q(workload.name) + " would form group " + Q(wanted.name) +
             ", a name reserved for the special group; rename it or change its labels";
    }
    if (!out.group_of.emplace(workload.name, wanted.name).second) {
      return "two workloads are named " + Q(workload.name);
    }
    auto [it, inserted] = groups.emplace(wanted.name, wanted);
    if (inserted) {
      founder.emplace(wanted.name, workload.name);
    } else if (it->second.selector != wanted.selector) {
      // One group has one selector: `api` from {app: api} and a workload called `api` without
      // labels (or `api` from {com.docker.compose.service: api}) are different things.
      return "group " + Q(wanted.name) + " is formed both by " +
             DescribeSelector(it->second.selector) + " (workload " + Q(founder[wanted.name]) +
             ") and by " + DescribeSelector(wanted.selector) + " (workload " + Q(workload.name) +
             "); give one of them a different label value or name";
    }
    it->second.members.push_back(workload.name);
  }
  const auto& host = inventory.host;
  if (!host.name.empty() || !host.addresses.empty()) {
    Group host_group;
    host_group.name = std::string(kHostGroup);
    if (!host.name.empty()) {
      host_group.members.push_back(host.name);
    }
    groups.emplace(host_group.name, std::move(host_group));
  }
  for (auto& [name, group] : groups) {
    std::sort(group.members.begin(), group.members.end());
    out.groups.push_back(std::move(group));
  }
  return out;
}

}  // namespace bulkhead::policy
