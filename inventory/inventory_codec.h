#pragma once

#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "policy/file_error.h"
#include "policy/model.h"

// The Inventory file format. The model (policy::Inventory) stays in policy/model.h: the
// enforcer compiles from it and must not depend on inventory/.
namespace bulkhead::inventory {

// Reads `kind: Inventory`:
//   apiVersion: bulkhead/v1
//   kind: Inventory
//   host: {name: node-1, addresses: [10.0.0.1, fd00::1]}
//   workloads:
//     - {name: shop-api-1, labels: {app: api}, addresses: [10.0.0.2], interface: veth1, mac: ...}
// Addresses must parse as IPv4/IPv6; names must be unique and non-empty; unknown keys are errors.
boost::system::result<policy::Inventory, policy::FileErrors> ParseInventory(
    std::string_view text, std::string_view file_name);
std::string WriteInventoryYaml(const policy::Inventory& inventory);

}  // namespace bulkhead::inventory
