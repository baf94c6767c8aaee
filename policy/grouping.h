#pragma once

#include <map>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "policy/model.h"

namespace bulkhead::policy {

struct GroupAssignment {
  std::vector<Group> groups;                    // sorted by name, members sorted
  std::map<std::string, std::string> group_of;  // workload name -> group name
};

// The group one workload forms by itself: named by the value of the first `group_by` label it
// has (selector {label: value}), else after the workload (no selector). Members are not filled.
Group DeriveGroup(const Workload& workload, const std::vector<std::string>& group_by);

// Puts each workload into the group named by the value of the first `group_by` label it has
// (selector {label: value}); a workload with none of them is a group of its own, named after it.
// Adds the special `host` group (members: the host's name) when the host has a name or addresses.
// Errors: a group name that collides with `host` or `world`, or two workloads with one name.
boost::system::result<GroupAssignment, std::string> AssignGroups(
    const Inventory& inventory, const std::vector<std::string>& group_by);

}  // namespace bulkhead::policy
