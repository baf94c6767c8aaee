#include "inventory/static_file_source.h"

#include "inventory/inventory_codec.h"
#include "policy/atomic_file.h"

namespace bulkhead::inventory {

boost::system::result<policy::Inventory, std::string> LoadInventoryFile(const std::string& path) {
  auto text = policy::ReadWholeFile(path);
  if (!text) {
    return text.error();
  }
  auto inventory = inventory::ParseInventory(*text, path);
  if (!inventory) {
    return inventory.error().ToString();
  }
  return std::move(*inventory);
}

}  // namespace bulkhead::inventory
