// Fuzz target for ParseInventory (STYLE.md rule 15): no crash on any input, and what the reader
// accepts, WriteInventoryYaml writes back so that it reads the same.
#include <cstdint>
#include <string_view>

#include "inventory/inventory_codec.h"
#include "tests/fuzz/promise.h"

namespace {

bool Same(const bulkhead::policy::Inventory& a, const bulkhead::policy::Inventory& b) {
  if (a.host.name != b.host.name || a.host.addresses != b.host.addresses ||
      a.workloads.size() != b.workloads.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.workloads.size(); ++i) {
    const auto& x = a.workloads[i];
    const auto& y = b.workloads[i];
    if (x.name != y.name || x.id != y.id || x.labels != y.labels || x.addresses != y.addresses ||
        x.interface != y.interface || x.mac != y.mac) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using bulkhead::fuzz::Promise;
  using bulkhead::inventory::ParseInventory;
  using bulkhead::inventory::WriteInventoryYaml;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto inventory = ParseInventory(text, "fuzz.yaml");
  if (!inventory) {
    Promise(!inventory.error().errors.empty(), "a rejection has at least one located message");
    return 0;
  }
  auto again = ParseInventory(WriteInventoryYaml(*inventory), "again.yaml");
  Promise(again && Same(*again, *inventory), "the YAML written reads back as the same inventory");
  return 0;
}
