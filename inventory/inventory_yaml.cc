// Inventory <-> YAML. The reader streams the workloads one at a time through codec's reader (an
// inventory cost 80x its size as a yaml-cpp tree). Addresses are checked with inet_pton so this
// stays independent of the capture module; names and labels are untrusted (they come from
// Docker) and are quoted on output by codec::YamlScalar.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <map>
#include <optional>

#include "codec/text_escape.h"
#include "codec/yaml_reader.h"
#include "inventory/inventory_codec.h"

namespace bulkhead::inventory {
namespace {

using codec::ErrorList;
using codec::Fields;
using codec::Node;
using codec::Quote;
using codec::YamlScalar;
using policy::FileErrors;
using policy::HostInfo;
using policy::Inventory;
using policy::Workload;

// Linux dev_valid_name(): 1..15 bytes (IFNAMSIZ - 1), not "." or "..", no '/', ':' or spaces.
bool IsValidInterfaceName(std::string_view name) {
  constexpr std::size_t kMaxInterfaceName = 15;
  if (name.empty() || name.size() > kMaxInterfaceName || name == "." || name == "..") {
    return false;
  }
  for (const char c : name) {
    if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
        c == '\f' || c == '\0') {
      return false;
    }
  }
  return true;
}

// Six colon-separated pairs of hex digits, as `ip link` prints them.
bool IsValidMac(std::string_view mac) {
  constexpr std::size_t kMacTextLength = 17;
  if (mac.size() != kMacTextLength) {
    return false;
  }
  for (std::size_t i = 0; i < mac.size(); ++i) {
    const char c = mac[i];
    if (i % 3 == 2) {
      if (c != ':') {
        return false;
      }
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

// The binary form of a textual address (family byte + address bytes), so "fd00::1" and
// "FD00:0::1" are recognised as one address.
std::optional<std::string> AddressKey(const std::string& text) {
  std::array<unsigned char, sizeof(in6_addr)> buf{};
  if (inet_pton(AF_INET, text.c_str(), buf.data()) == 1) {
    return std::string("4") + std::string(reinterpret_cast<const char*>(buf.data()), 4);
  }
  if (inet_pton(AF_INET6, text.c_str(), buf.data()) == 1) {
    return std::string("6") + std::string(reinterpret_cast<const char*>(buf.data()), buf.size());
  }
  return std::nullopt;
}

class InventoryReader {
 public:
  explicit InventoryReader(ErrorList& errors) : errors_(errors) {}

  void Read(std::string_view text, Inventory& inventory) {
    // The host is read where it stands in the file, so an address claimed twice is reported
    // at its second claim, whether that is the host's or a workload's.
    auto top_node = codec::StreamDocument(
        text, "the Inventory", {"apiVersion", "kind", "host", "workloads"},
        {{"host", [&](const Node& value) { ReadHost(value, inventory.host); }, true},
         {"workloads", [&](const Node& item) { ReadWorkload(item, inventory); }}},
        errors_);
    if (!top_node) {
      return;
    }
    Fields top(*top_node, {"apiVersion", "kind"}, "the Inventory", errors_);
    codec::CheckHeader(top, "Inventory", errors_);
  }

 private:
  void ReadHost(const Node& node, HostInfo& host) {
    if (!codec::ExpectMap(node, "host", errors_)) {
      return;
    }
    Fields fields(node, {"name", "addresses"}, "host", errors_);
    if (const Node* name = fields.Find("name")) {
      if (auto text = codec::ReadString(*name, "host name", errors_)) {
        host.name = std::move(*text);
      }
    }
    if (const Node* addresses = fields.Find("addresses")) {
      host.addresses = ReadAddresses(*addresses, "the host");
    }
  }

  std::vector<std::string> ReadAddresses(const Node& node, const std::string& owner) {
    std::vector<std::string> out;
    for (auto& [text, item] : codec::ReadStringList(node, "addresses", errors_)) {
      const auto key = AddressKey(text);
      if (!key) {
        errors_.Add(*item, Quote(text) + " is not an IPv4 or IPv6 address");
        continue;
      }
      const auto [it, inserted] = address_owner_.emplace(*key, owner);
      if (!inserted) {
        errors_.Add(*item, "address " + Quote(text) + " already belongs to " + it->second);
        continue;
      }
      out.push_back(std::move(text));
    }
    return out;
  }

  void ReadOptional(const Fields& fields, std::string_view key, std::string& out) {
    if (const Node* node = fields.Find(key)) {
      if (auto text = codec::ReadString(*node, key, errors_)) {
        out = std::move(*text);
      }
    }
  }

  void ReadWorkload(const Node& item, Inventory& inventory) {
    if (!codec::ExpectMap(item, "a workload", errors_)) {
      return;
    }
    Fields fields(item, {"name", "labels", "addresses", "interface", "mac", "id"}, "a workload",
                  errors_);
    Workload workload;
    bool ok = false;
    const Node* name_node = fields.Require("name");
    if (name_node != nullptr) {
      if (auto name = codec::ReadString(*name_node, "a workload name", errors_)) {
        workload.name = std::move(*name);
        if (workload.name.empty()) {
          errors_.Add(*name_node, "a workload name is empty");
        } else {
          const auto [it, inserted] =
              name_lines_.emplace(workload.name, name_node->Where().line + 1);
          if (inserted) {
            ok = true;
          } else {
            errors_.Add(*name_node, "workload " + Quote(workload.name) +
                                        " given twice (first at line " +
                                        std::to_string(it->second) + ")");
          }
        }
      }
    }
    if (const Node* node = fields.Find("labels")) {
      workload.labels = codec::ReadStringMap(*node, "labels", errors_);
    }
    if (const Node* node = fields.Find("addresses")) {
      workload.addresses = ReadAddresses(*node, "workload " + Quote(workload.name));
    }
    ReadOptional(fields, "interface", workload.interface);
    if (const Node* node = fields.Find("interface");
        node != nullptr && node->IsScalar() && !IsValidInterfaceName(workload.interface)) {
      errors_.Add(*node, "interface " + Quote(workload.interface) +
                             " is not a valid interface name (1..15 bytes, no '/', ':' or space)");
    }
    ReadOptional(fields, "mac", workload.mac);
    if (const Node* node = fields.Find("mac");
        node != nullptr && node->IsScalar() && !IsValidMac(workload.mac)) {
      errors_.Add(*node, "mac " + Quote(workload.mac) + " is not a MAC address like " +
                             "02:00:00:00:00:02");
    }
    ReadOptional(fields, "id", workload.id);
    if (ok) {
      inventory.workloads.push_back(std::move(workload));
    }
  }

  ErrorList& errors_;
  std::map<std::string, int> name_lines_;
  std::map<std::string, std::string> address_owner_;  // binary address -> "workload \"x\""
};

}  // namespace

boost::system::result<Inventory, FileErrors> ParseInventory(std::string_view text,
                                                            std::string_view file_name) {
  auto parsed = codec::ParseDocument<Inventory>(
      text, file_name, [](std::string_view input, ErrorList& errors, Inventory& inventory) {
        InventoryReader(errors).Read(input, inventory);
      });
  return parsed;
}

std::string WriteInventoryYaml(const Inventory& inventory) {
  std::string out = "apiVersion: bulkhead/v1\nkind: Inventory\n";
  const auto& host = inventory.host;
  if (!host.name.empty() || !host.addresses.empty()) {
    out += "host: {";
    if (!host.name.empty()) {
      out += "name: " + YamlScalar(host.name);
    }
    if (!host.addresses.empty()) {
      out += host.name.empty() ? "" : ", ";
      out += "addresses: " + codec::YamlFlowList(host.addresses);
    }
    out += "}\n";
  }
  out += inventory.workloads.empty() ? "workloads: []\n" : "workloads:\n";
  for (const auto& w : inventory.workloads) {
    out += "  - name: " + YamlScalar(w.name) + "\n";
    if (!w.labels.empty()) {
      out += "    labels: {";
      bool first = true;
      for (const auto& [key, value] : w.labels) {
        out += first ? "" : ", ";
        first = false;
        out += YamlScalar(key) + ": " + YamlScalar(value);
      }
      out += "}\n";
    }
    if (!w.addresses.empty()) {
      out += "    addresses: " + codec::YamlFlowList(w.addresses) + "\n";
    }
    if (!w.interface.empty()) {
      out += "    interface: " + YamlScalar(w.interface) + "\n";
    }
    if (!w.mac.empty()) {
      out += "    mac: " + YamlScalar(w.mac) + "\n";
    }
    if (!w.id.empty()) {
      out += "    id: " + YamlScalar(w.id) + "\n";
    }
  }
  return out;
}

}  // namespace bulkhead::inventory
