#include "inventory/inventory_codec.h"

#include <gtest/gtest.h>

namespace bulkhead::inventory {
namespace {

using policy::FileErrors;
using policy::Inventory;
using policy::Workload;

constexpr std::string_view kExample = R"(apiVersion: bulkhead/v1
kind: Inventory
host: {name: node-1, addresses: [10.0.0.1, "fd00::1"]}
workloads:
  - name: shop-api-1
    labels: {app: api, com.docker.compose.service: shop-api}
    addresses: [10.0.0.2, "fd00::2"]
    interface: veth-api1
    mac: "02:00:00:00:00:02"
    id: abc123
  - name: shop-db-1
    addresses: [10.0.0.3]
)";

std::vector<std::string> Lines(std::string_view text) {
  auto result = ParseInventory(text, "inv.yaml");
  EXPECT_FALSE(result) << "accepted:\n" << text;
  std::vector<std::string> out;
  if (!result) {
    for (const auto& e : result.error().errors) {
      out.push_back(e.ToString());
    }
  }
  return out;
}

constexpr std::string_view kHeader = "apiVersion: bulkhead/v1\nkind: Inventory\n";

TEST(InventoryCodecTest, ParsesTheDocumentedForm) {
  auto inv = ParseInventory(kExample, "inv.yaml");
  ASSERT_TRUE(inv) << inv.error().ToString();
  EXPECT_EQ(inv->host.name, "node-1");
  EXPECT_EQ(inv->host.addresses, (std::vector<std::string>{"10.0.0.1", "fd00::1"}));
  ASSERT_EQ(inv->workloads.size(), 2U);
  const Workload& api = inv->workloads[0];
  EXPECT_EQ(api.name, "shop-api-1");
  EXPECT_EQ(api.labels.at("app"), "api");
  EXPECT_EQ(api.addresses, (std::vector<std::string>{"10.0.0.2", "fd00::2"}));
  EXPECT_EQ(api.interface, "veth-api1");
  EXPECT_EQ(api.mac, "02:00:00:00:00:02");
  EXPECT_EQ(api.id, "abc123");
  EXPECT_TRUE(inv->workloads[1].labels.empty());
  // Our own writer reproduces it byte for byte.
  EXPECT_EQ(WriteInventoryYaml(*inv), kExample);
}

TEST(InventoryCodecTest, UnquotedIpv6InFlowListIsAccepted) {
  const std::string text =
      std::string(kHeader) +
      "host: {name: n, addresses: [fd00::1, 2001:db8::5, ::1, ::ffff:1.2.3.4]}\n";
  auto inv = ParseInventory(text, "inv.yaml");
  ASSERT_TRUE(inv) << inv.error().ToString();
  EXPECT_EQ(inv->host.addresses,
            (std::vector<std::string>{"fd00::1", "2001:db8::5", "::1", "::ffff:1.2.3.4"}));
}

TEST(InventoryCodecTest, OddNamesAndLabelsRoundTrip) {
  Inventory inv;
  inv.host = {"node \"1\"", {"127.0.0.1"}};
  inv.workloads.push_back({"api: #1",
                           "id\n2",
                           {{"app", " leading"}, {"key: x", "v#\u2028"}, {"null", ""}},
                           {"fd00::2"},
                           "veth0",
                           "02:AA:00:00:00:02"});
  inv.workloads.push_back({"123", "", {}, {}, "", ""});
  const std::string yaml = WriteInventoryYaml(inv);
  auto back = ParseInventory(yaml, "inv.yaml");
  ASSERT_TRUE(back) << back.error().ToString() << "\n" << yaml;
  EXPECT_EQ(back->host.name, inv.host.name);
  EXPECT_EQ(back->host.addresses, inv.host.addresses);
  ASSERT_EQ(back->workloads.size(), 2U);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back->workloads[i].name, inv.workloads[i].name);
    EXPECT_EQ(back->workloads[i].id, inv.workloads[i].id);
    EXPECT_EQ(back->workloads[i].labels, inv.workloads[i].labels);
    EXPECT_EQ(back->workloads[i].addresses, inv.workloads[i].addresses);
    EXPECT_EQ(back->workloads[i].interface, inv.workloads[i].interface);
    EXPECT_EQ(back->workloads[i].mac, inv.workloads[i].mac);
  }
}

TEST(InventoryCodecTest, EmptyWorkloadsAndNoHost) {
  auto inv = ParseInventory(std::string(kHeader) + "workloads: []\n", "inv.yaml");
  ASSERT_TRUE(inv) << inv.error().ToString();
  EXPECT_TRUE(inv->workloads.empty());
  EXPECT_TRUE(inv->host.name.empty());
  EXPECT_EQ(WriteInventoryYaml(*inv), std::string(kHeader) + "workloads: []\n");
}

TEST(InventoryCodecTest, UnknownKeyNamesLineAndColumn) {
  // The typo a user makes: it must not pass silently.
  EXPECT_EQ(Lines(std::string(kHeader) + "workloads:\n  - name: a\n    adresses: [10.0.0.1]\n"),
            (std::vector<std::string>{
                "inv.yaml:5:5: unknown key \"adresses\" in a workload (known: name, labels, "
                "addresses, interface, mac, id)"}));
  EXPECT_EQ(Lines(std::string(kHeader) + "host: {name: n, adresses: []}\n"),
            (std::vector<std::string>{
                "inv.yaml:3:17: unknown key \"adresses\" in host (known: name, addresses)"}));
  EXPECT_EQ(Lines(std::string(kHeader) + "worklods: []\n"),
            (std::vector<std::string>{"inv.yaml:3:1: unknown key \"worklods\" in the Inventory "
                                      "(known: apiVersion, kind, host, workloads)"}));
}

TEST(InventoryCodecTest, BadAddresses) {
  EXPECT_EQ(
      Lines(std::string(kHeader) +
            "workloads:\n  - name: a\n    addresses: [10.0.0.256, fe80::1%eth0, "
            "10.0.0.0/24, \"\", 10.0.0.1]\n"),
      (std::vector<std::string>{"inv.yaml:5:17: \"10.0.0.256\" is not an IPv4 or IPv6 address",
                                "inv.yaml:5:29: \"fe80::1%eth0\" is not an IPv4 or IPv6 address",
                                "inv.yaml:5:43: \"10.0.0.0/24\" is not an IPv4 or IPv6 address",
                                "inv.yaml:5:56: \"\" is not an IPv4 or IPv6 address"}));
}

TEST(InventoryCodecTest, DuplicatesAreErrors) {
  EXPECT_EQ(Lines(std::string(kHeader) + "host: {name: n, addresses: [10.0.0.1]}\n"    // 3
                                         "workloads:\n"                                // 4
                                         "  - name: a\n"                               // 5
                                         "    addresses: [\"FD00::0:2\"]\n"            // 6
                                         "  - name: a\n"                               // 7
                                         "  - name: b\n"                               // 8
                                         "    addresses: [10.0.0.1, \"fd00::2\"]\n"),  // 9
            (std::vector<std::string>{
                "inv.yaml:7:11: workload \"a\" given twice (first at line 5)",
                "inv.yaml:9:17: address \"10.0.0.1\" already belongs to the host",
                "inv.yaml:9:27: address \"fd00::2\" already belongs to workload \"a\""}));
}

TEST(InventoryCodecTest, EveryErrorIsReported) {
  const std::string text =
      "apiVersion: v1\n"               // 1
      "kind: Inventory\n"              // 2
      "host: [node-1]\n"               // 3
      "workloads:\n"                   // 4
      "  - name: \"\"\n"               // 5
      "    labels: [app]\n"            // 6
      "  - name: b\n"                  // 7
      "    labels: {app: {x: 1}}\n"    // 8
      "    interface: \"bad/name\"\n"  // 9
      "    mac: 02:00:00:00:00\n"      // 10
      "  - labels: {}\n";              // 11
  EXPECT_EQ(
      Lines(text),
      (std::vector<std::string>{
          "inv.yaml:1:13: apiVersion must be bulkhead/v1, not \"v1\"",
          "inv.yaml:3:7: host must be a map, not a list", "inv.yaml:5:11: a workload name is empty",
          "inv.yaml:6:13: labels must be a map, not a list",
          "inv.yaml:8:19: a value of labels must be a string, not a map",
          "inv.yaml:9:16: interface \"bad/name\" is not a valid interface name (1..15 "
          "bytes, no '/', ':' or space)",
          "inv.yaml:10:10: mac \"02:00:00:00:00\" is not a MAC address like "
          "02:00:00:00:00:02",
          "inv.yaml:11:5: missing \"name\" in a workload"}));
}

TEST(InventoryCodecTest, WrongKindAndSyntax) {
  EXPECT_EQ(Lines("apiVersion: bulkhead/v1\nkind: FlowGraph\n"),
            (std::vector<std::string>{"inv.yaml:2:7: kind must be Inventory, not \"FlowGraph\""}));
  auto lines = Lines(std::string(kHeader) + "workloads:\n  - name: a\n   labels: {}\n");
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0].rfind("inv.yaml:5:", 0), 0U) << lines[0];
}

}  // namespace
}  // namespace bulkhead::inventory
