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

// A pod as kubelet describes it to the runtime: its labels plus io.kubernetes.pod.*.
Workload Pod(const std::string& ns, const std::string& name, Labels labels = {}) {
  labels["io.kubernetes.pod.namespace"] = ns;
  labels["io.kubernetes.pod.name"] = name;
  labels["io.kubernetes.pod.uid"] = "uid-" + name;
  return W(ns + "/" + name, std::move(labels));
}

TEST(PodGroupingTest, SameAppInTwoNamespacesIsTwoGroups) {
  Inventory inv;
  inv.workloads = {
      Pod("shop", "db-0", {{"app", "db"}}),
      Pod("billing", "db-7d9f8c6b5-x7k2p", {{"app", "db"}, {"pod-template-hash", "7d9f8c6b5"}}),
      Pod("shop", "api-1", {{"app", "api"}, {"app.kubernetes.io/name", "shop-api"}}),
      Pod("kube-system", "coredns-1", {{"k8s-app", "kube-dns"}}),
  };
  auto result = AssignGroups(inv, DefaultGroupBy());
  ASSERT_TRUE(result) << result.error();
  const std::string ns = "io.kubernetes.pod.namespace";
  const std::vector<Group> want = {
      {"billing/db", {{ns, "billing"}, {"app", "db"}}, {"billing/db-7d9f8c6b5-x7k2p"}},
      {"kube-system/kube-dns",
       {{ns, "kube-system"}, {"k8s-app", "kube-dns"}},
       {"kube-system/coredns-1"}},
      {"shop/db", {{ns, "shop"}, {"app", "db"}}, {"shop/db-0"}},
      // app.kubernetes.io/name comes before app.
      {"shop/shop-api", {{ns, "shop"}, {"app.kubernetes.io/name", "shop-api"}}, {"shop/api-1"}},
  };
  EXPECT_EQ(result->groups, want);
}

TEST(PodGroupingTest, WithoutAppLabelsThePodNameLessControllerSuffixes) {
  const std::string ns = "io.kubernetes.pod.namespace";
  struct Case {
    std::string pod;
    Labels labels;
    std::string group;
  };
  const std::vector<Case> cases = {
      {"web-7d9f8c6b5-x7k2p", {{"pod-template-hash", "7d9f8c6b5"}}, "shop/web"},
      {"web-7d9f8c6b5-x7k2p", {}, "shop/web-7d9f8c6b5-x7k2p"},  // no label: a bare pod's name
      {"cache-2", {{"statefulset.kubernetes.io/pod-name", "cache-2"}}, "shop/cache"},
      {"node-agent-q5w8z",
       {{"controller-revision-hash", "6b5d"}, {"pod-template-generation", "1"}},
       "shop/node-agent"},
      {"migrate-r2d4b", {{"job-name", "migrate"}}, "shop/migrate"},
      // Not the generator's alphabet (vowels): a real word, kept.
      {"node-agent-queue",
       {{"controller-revision-hash", "6b5d"}, {"pod-template-generation", "1"}},
       "shop/node-agent-queue"},
      // The hash label disagrees with the name: unchanged.
      {"web-abc-x7k2p", {{"pod-template-hash", "7d9f8c6b5"}}, "shop/web-abc-x7k2p"},
  };
  for (const auto& c : cases) {
    Group g = DeriveGroup(Pod("shop", c.pod, c.labels), DefaultGroupBy());
    EXPECT_EQ(g.name, c.group) << c.pod;
    // Rollout labels never become selectors; the namespace alone selects by name.
    EXPECT_EQ(g.selector, (Labels{{ns, "shop"}})) << c.pod;
    EXPECT_TRUE(IsNamespaceOnlySelector(g.selector));
  }
}

TEST(PodGroupingTest, RolloutLabelsAreNeverSelectors) {
  EXPECT_TRUE(IsRolloutLabel("pod-template-hash"));
  EXPECT_TRUE(IsRolloutLabel("controller-revision-hash"));
  EXPECT_TRUE(IsRolloutLabel("statefulset.kubernetes.io/pod-name"));
  EXPECT_FALSE(IsRolloutLabel("app"));
  // Even when asked to group by one.
  Group g = DeriveGroup(Pod("shop", "web-1", {{"pod-template-hash", "h1"}, {"tier", "front"}}),
                        {"pod-template-hash", "tier"});
  EXPECT_EQ(g.name, "shop/front");
  EXPECT_EQ(g.selector, (Labels{{"io.kubernetes.pod.namespace", "shop"}, {"tier", "front"}}));
}

TEST(PodGroupingTest, ContainersKeepTodaysGrouping) {
  // A Docker container (no pod namespace label) is grouped as before, next to pods.
  Inventory inv;
  inv.workloads = {W("shop-db-1", {{"app", "db"}}), Pod("shop", "db-0", {{"app", "db"}})};
  auto result = AssignGroups(inv, DefaultGroupBy());
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->group_of.at("shop-db-1"), "db");
  EXPECT_EQ(result->group_of.at("shop/db-0"), "shop/db");
  EXPECT_FALSE(IsNamespaceOnlySelector({{"app", "db"}}));
  EXPECT_FALSE(IsNamespaceOnlySelector({}));
}

TEST(PodGroupingTest, ALabelledAndAnUnlabelledPodCannotShareAName) {
  Inventory inv;
  inv.workloads = {Pod("shop", "api-1", {{"app", "api"}}), Pod("shop", "api")};
  auto result = AssignGroups(inv, DefaultGroupBy());
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().find("group \"shop/api\" is formed both by selector"), std::string::npos)
      << result.error();
}

}  // namespace
}  // namespace bulkhead::policy
