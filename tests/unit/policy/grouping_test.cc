#include "policy/grouping.h"

#include <gtest/gtest.h>

namespace bulkhead::policy {
namespace {

Workload W(std::string name, Labels labels = {}) {
  Workload w;
  w.name = std::move(name);
  w.labels = std::move(labels);
  return w;
}

TEST(AssignGroupsTest, FirstGroupByLabelWinsElseOwnName) {
  Inventory inv;
  inv.host = {"node-1", {"10.0.0.1"}};
  inv.workloads = {
      W("shop-api-2", {{"app", "api"}}),
      W("shop-api-1", {{"app", "api"}, {"com.docker.compose.service", "ignored"}}),
      W("shop-db-1", {{"com.docker.compose.service", "db"}}),
      W("loner", {{"other", "x"}}),
      W("empty-app", {{"app", ""}, {"com.docker.compose.service", "cache"}}),
  };
  auto result = AssignGroups(inv, DefaultGroupBy());
  ASSERT_TRUE(result) << result.error();
  const std::vector<Group> want = {
      {"api", {{"app", "api"}}, {"shop-api-1", "shop-api-2"}},
      {"cache", {{"com.docker.compose.service", "cache"}}, {"empty-app"}},
      {"db", {{"com.docker.compose.service", "db"}}, {"shop-db-1"}},
      {"host", {}, {"node-1"}},
      {"loner", {}, {"loner"}},
  };
  EXPECT_EQ(result->groups, want);
  EXPECT_EQ(result->group_of.at("shop-api-1"), "api");
  EXPECT_EQ(result->group_of.at("shop-db-1"), "db");
  EXPECT_EQ(result->group_of.at("loner"), "loner");
  EXPECT_EQ(result->group_of.at("empty-app"), "cache");
  EXPECT_EQ(result->group_of.size(), 5U);
}

TEST(AssignGroupsTest, CustomGroupByOrderMatters) {
  Inventory inv;
  inv.workloads = {W("a", {{"app", "x"}, {"tier", "front"}})};
  auto by_tier = AssignGroups(inv, {"tier", "app"});
  ASSERT_TRUE(by_tier) << by_tier.error();
  ASSERT_EQ(by_tier->groups.size(), 1U);
  EXPECT_EQ(by_tier->groups[0].name, "front");
  EXPECT_EQ(by_tier->groups[0].selector, (Labels{{"tier", "front"}}));
  auto none = AssignGroups(inv, {});
  ASSERT_TRUE(none) << none.error();
  EXPECT_EQ(none->groups[0].name, "a");
  EXPECT_TRUE(none->groups[0].selector.empty());
}

TEST(AssignGroupsTest, NoHostGroupWithoutHostInfo) {
  Inventory inv;
  inv.workloads = {W("a")};
  auto result = AssignGroups(inv, DefaultGroupBy());
  ASSERT_TRUE(result) << result.error();
  ASSERT_EQ(result->groups.size(), 1U);
  EXPECT_EQ(result->groups[0].name, "a");
  // A host with addresses but no name still gets its group, without members.
  inv.host.addresses = {"10.0.0.1"};
  result = AssignGroups(inv, DefaultGroupBy());
  ASSERT_TRUE(result) << result.error();
  ASSERT_EQ(result->groups.size(), 2U);
  EXPECT_EQ(result->groups[1], (Group{"host", {}, {}}));
}

TEST(AssignGroupsTest, ReservedNamesAreErrors) {
  for (const auto& workload : {W("host"), W("world"), W("x", {{"app", "world"}}),
                               W("y", {{"com.docker.compose.service", "host"}})}) {
    Inventory inv;
    inv.workloads = {workload};
    auto result = AssignGroups(inv, DefaultGroupBy());
    ASSERT_FALSE(result) << workload.name;
    EXPECT_NE(result.error().find("reserved"), std::string::npos) << result.error();
    EXPECT_NE(result.error().find(workload.name), std::string::npos) << result.error();
  }
}

TEST(AssignGroupsTest, DuplicateWorkloadNamesAreErrors) {
  Inventory inv;
  inv.workloads = {W("a", {{"app", "x"}}), W("a", {{"app", "y"}})};
  auto result = AssignGroups(inv, DefaultGroupBy());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), "two workloads are named \"a\"");
}

TEST(AssignGroupsTest, OneNameFromTwoSelectorsIsAnError) {
  Inventory inv;
  inv.workloads = {W("api-1", {{"app", "api"}}), W("api")};
  auto result = AssignGroups(inv, DefaultGroupBy());
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().find("group \"api\" is formed both by selector {\"app\": \"api\"}"),
            std::string::npos)
      << result.error();
  inv.workloads = {W("a", {{"app", "db"}}), W("b", {{"com.docker.compose.service", "db"}})};
  EXPECT_FALSE(AssignGroups(inv, DefaultGroupBy()));
}

TEST(AssignGroupsTest, UntrustedNamesAreEscapedInErrors) {
  Inventory inv;
  inv.workloads = {W("evil\nname"), W("evil\nname")};
  auto result = AssignGroups(inv, {});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().find('\n'), std::string::npos) << result.error();
}

}  // namespace
}  // namespace bulkhead::policy
