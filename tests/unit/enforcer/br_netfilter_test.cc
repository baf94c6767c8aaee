#include "enforcer/br_netfilter.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace bulkhead::enforcer {
namespace {

std::string Read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::string v;
  in >> v;
  return v;
}

TEST(BridgeNetfilter, TurnsSwitchesOnOrRefuses) {
  auto dir = std::filesystem::temp_directory_path() /
             ("bh_brnf_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "bridge-nf-call-iptables") << "0\n";
  std::ofstream(dir / "bridge-nf-call-ip6tables") << "1\n";
  auto refused = EnsureBridgeNetfilter(dir.string(), false);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("bridge-nf-call-iptables is 0"), std::string::npos);
  auto fixed = EnsureBridgeNetfilter(dir.string(), true);
  ASSERT_TRUE(fixed);
  EXPECT_TRUE(fixed->changed);
  EXPECT_EQ(Read(dir / "bridge-nf-call-iptables"), "1");
  auto again = EnsureBridgeNetfilter(dir.string(), false);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed);
  std::filesystem::remove_all(dir);
  auto missing = EnsureBridgeNetfilter(dir.string(), true);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("br_netfilter is not loaded"), std::string::npos);
}

}  // namespace
}  // namespace bulkhead::enforcer
