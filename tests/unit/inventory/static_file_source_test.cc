#include "inventory/static_file_source.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace bulkhead::inventory {
namespace {

namespace fs = std::filesystem;

class StaticFileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "bulkhead-inv-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  fs::path dir_;
};

TEST_F(StaticFileSourceTest, LoadsIpv4AndIpv6) {
  const std::string path = Write("inv.yaml",
                                 "apiVersion: bulkhead/v1\n"
                                 "kind: Inventory\n"
                                 "host: {name: node-1, addresses: [10.0.0.1, \"fd00::1\"]}\n"
                                 "workloads:\n"
                                 "  - name: shop-api-1\n"
                                 "    labels: {app: api}\n"
                                 "    addresses: [10.0.0.2, \"fd00::2\"]\n"
                                 "    interface: veth-api1\n");
  auto inv = LoadInventoryFile(path);
  ASSERT_TRUE(inv) << inv.error();
  EXPECT_EQ(inv->host.name, "node-1");
  ASSERT_EQ(inv->workloads.size(), 1U);
  EXPECT_EQ(inv->workloads[0].addresses, (std::vector<std::string>{"10.0.0.2", "fd00::2"}));
  EXPECT_EQ(inv->workloads[0].interface, "veth-api1");
}

TEST_F(StaticFileSourceTest, AllErrorsOneLineEach) {
  const std::string path = Write("bad.yaml",
                                 "apiVersion: bulkhead/v1\n"
                                 "kind: Inventory\n"
                                 "workloads:\n"
                                 "  - name: a\n"
                                 "    adresses: [10.0.0.1]\n"
                                 "  - name: b\n"
                                 "    addresses: [999.1.1.1]\n");
  auto inv = LoadInventoryFile(path);
  ASSERT_FALSE(inv);
  EXPECT_EQ(inv.error(), path +
                             ":5:5: unknown key \"adresses\" in a workload (known: name, labels, "
                             "addresses, interface, mac, id)\n" +
                             path + ":7:17: \"999.1.1.1\" is not an IPv4 or IPv6 address");
}

TEST_F(StaticFileSourceTest, MissingFileNamesIt) {
  auto inv = LoadInventoryFile((dir_ / "none.yaml").string());
  ASSERT_FALSE(inv);
  EXPECT_NE(inv.error().find("none.yaml"), std::string::npos);
  EXPECT_EQ(inv.error().find('\n'), std::string::npos);
}

}  // namespace
}  // namespace bulkhead::inventory
