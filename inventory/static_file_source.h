#pragma once

#include <string>

#include <boost/system/result.hpp>

#include "policy/model.h"

namespace bulkhead::inventory {

// The workload source for hosts without Docker, and for tests: one `kind: Inventory` YAML file
// (format in inventory/inventory_codec.h). Returns the inventory, or every problem found, one per
// line as "file:line:col: message" (a file that cannot be read: one line naming it).
boost::system::result<policy::Inventory, std::string> LoadInventoryFile(const std::string& path);

}  // namespace bulkhead::inventory
