#include "policy/network_policy.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <string>
#include <string_view>
#include <vector>

namespace bulkhead::policy {
namespace {

PolicyGroup PodGroup(const std::string& ns, const std::string& key, const std::string& app) {
  return {ns + "/" + app, {{std::string(kPodNamespaceLabel), ns}, {key, app}}, std::nullopt};
}

Policy Shop() {
  Policy p;
  p.mode = Mode::kEnforce;
  p.groups = {PodGroup("shop", "app", "frontend"), PodGroup("shop", "app", "api"),
              PodGroup("billing", "app", "db"), PodGroup("kube-system", "k8s-app", "kube-dns")};
  p.allow = {{"shop/frontend", "shop/api", Protocol::kTcp, {8000, 8080}},
             {"shop/api", "billing/db", Protocol::kTcp, {5432, 5432}},
             {"world", "shop/frontend", Protocol::kTcp, {443, 443}},
             {"shop/frontend", "kube-system/kube-dns", Protocol::kUdp, {53, 53}},
             {"shop/api", "kube-system/kube-dns", Protocol::kUdp, {53, 53}},
             {"billing/db", "kube-system/kube-dns", Protocol::kUdp, {53, 53}}};
  return p;
}

std::string Export(const Policy& p, const NetworkPolicyOptions& o = {}) {
  auto out = ExportNetworkPolicies(p, o);
  EXPECT_TRUE(out.has_value());
  return out ? out->yaml : std::string();
}

TEST(NetworkPolicyTest, OneObjectPerGroupInItsNamespace) {
  const std::string yaml = Export(Shop());
  for (const char* needle :
       {"  name: bulkhead-frontend\n  namespace: shop\n",
        "  name: bulkhead-api\n  namespace: shop\n", "  name: bulkhead-db\n  namespace: billing\n",
        "  name: bulkhead-kube-dns\n  namespace: kube-system\n",
        "  policyTypes:\n  - Ingress\n  - Egress\n"}) {
    EXPECT_NE(yaml.find(needle), std::string::npos) << needle << "\n" << yaml;
  }
  EXPECT_NE(yaml.find("Everything in the policy is expressed"), std::string::npos);
}

TEST(NetworkPolicyTest, PortRangesAndCrossNamespacePeers) {
  const std::string yaml = Export(Shop());
  // frontend -> api: a range in one namespace (no namespaceSelector).
  EXPECT_NE(yaml.find("  - to:  # shop/api\n    - podSelector:\n        matchLabels:\n"
                      "          app: api\n    ports:\n    - protocol: TCP\n      port: 8000\n"
                      "      endPort: 8080\n"),
            std::string::npos)
      << yaml;
  // api -> billing/db: the peer's namespace selected by its name label.
  EXPECT_NE(yaml.find("  - to:  # billing/db\n    - namespaceSelector:\n        matchLabels:\n"
                      "          kubernetes.io/metadata.name: billing\n      podSelector:\n"
                      "        matchLabels:\n          app: db\n"),
            std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("  - from:  # shop/api\n    - namespaceSelector:\n        matchLabels:\n"
                      "          kubernetes.io/metadata.name: shop\n"),
            std::string::npos)
      << yaml;
}

TEST(NetworkPolicyTest, WorldIsEverythingButTheClusterAndTheNode) {
  NetworkPolicyOptions o;
  o.cluster_cidrs = {"10.96.0.0/12", "fd00:10:244:0:0::/56", "10.244.0.0/16"};
  o.host_addresses = {"192.168.1.5"};
  const std::string yaml = Export(Shop(), o);
  EXPECT_NE(yaml.find("    - ipBlock:\n        cidr: 0.0.0.0/0\n        except:\n"
                      "        - 10.244.0.0/16\n        - 10.96.0.0/12\n        - 192.168.1.5/32\n"
                      "    - ipBlock:\n        cidr: \"::/0\"\n        except:\n"
                      "        - \"fd00:10:244::/56\"\n"),
            std::string::npos)
      << yaml;
}

TEST(NetworkPolicyTest, HostIsTheNodeAddressesOrNotExpressible) {
  Policy p = Shop();
  p.allow.push_back({"shop/api", "host", Protocol::kTcp, {10250, 10250}});
  auto unknown = ExportNetworkPolicies(p, {});
  ASSERT_TRUE(unknown);
  ASSERT_EQ(unknown->not_expressible.size(), 1U);
  EXPECT_NE(unknown->not_expressible[0].find("node's addresses are unknown"), std::string::npos);
  NetworkPolicyOptions o;
  o.host_addresses = {"fd00::5", "192.168.1.5"};
  const std::string yaml = Export(p, o);
  EXPECT_NE(yaml.find("  - to:  # host\n    - ipBlock:\n        cidr: 192.168.1.5/32\n"
                      "    - ipBlock:\n        cidr: \"fd00::5/128\"\n"),
            std::string::npos)
      << yaml;
}

// A merged cluster graph's `nodes` (kubelets, node agents): pods' peers as --node-cidr's
// ipBlocks, never a target (NetworkPolicy selects pods), and out of `world`.
TEST(NetworkPolicyTest, NodesAreTheNodeCidrsOrNotExpressible) {
  Policy p = Shop();
  p.groups.push_back({std::string(kNodesGroup), {}, std::nullopt});
  p.allow.push_back({"nodes", "shop/api", Protocol::kTcp, {9100, 9100}});
  p.allow.push_back({"shop/api", "nodes", Protocol::kTcp, {10250, 10250}});
  auto unknown = ExportNetworkPolicies(p, {});
  ASSERT_TRUE(unknown);
  const auto count = [](const std::vector<std::string>& lines, std::string_view needle) {
    return std::count_if(lines.begin(), lines.end(), [&](const std::string& line) {
      return line.find(needle) != std::string::npos;
    });
  };
  EXPECT_EQ(count(unknown->not_expressible, "node addresses are unknown (give --node-cidr)"), 2);
  NetworkPolicyOptions o;
  o.node_cidrs = {"192.168.1.0/24", "fd00:1::7", "192.168.1.0/24"};
  auto known = ExportNetworkPolicies(p, o);
  ASSERT_TRUE(known);
  const std::string& yaml = known->yaml;
  EXPECT_NE(yaml.find("  - from:  # nodes\n    - ipBlock:\n        cidr: 192.168.1.0/24\n"
                      "    - ipBlock:\n        cidr: \"fd00:1::7/128\"\n"),
            std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("  - to:  # nodes\n    - ipBlock:\n        cidr: 192.168.1.0/24\n"),
            std::string::npos)
      << yaml;
  EXPECT_EQ(yaml.find("name: bulkhead-nodes"), std::string::npos) << yaml;  // not a target
  EXPECT_NE(yaml.find("cidr: 0.0.0.0/0\n        except:\n        - 192.168.1.0/24\n"),
            std::string::npos)
      << yaml;
  EXPECT_EQ(count(known->not_expressible, "node addresses are unknown"), 0);
  EXPECT_EQ(count(known->not_expressible, "group nodes: the cluster's other nodes are not pods"),
            1);
  o.node_cidrs = {"192.168.1.1/24"};  // host bits set
  auto bad = ExportNetworkPolicies(p, o);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, NetworkPolicyErrorKind::kBadNodeCidr);
  EXPECT_NE(bad.error().message.find("--node-cidr: \"192.168.1.1/24\""), std::string::npos);
}

TEST(NetworkPolicyTest, DnsIsRecognisedAndItsAbsenceSaidLoudly) {
  EXPECT_TRUE(IsClusterDnsGroup(Shop().groups[3]));
  EXPECT_FALSE(IsClusterDnsGroup(Shop().groups[0]));
  auto ok = ExportNetworkPolicies(Shop(), {});
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->dns_warnings.empty());
  Policy p = Shop();
  p.allow.erase(p.allow.begin() + 3);  // frontend's DNS
  auto out = ExportNetworkPolicies(p, {});
  ASSERT_TRUE(out);
  ASSERT_EQ(out->dns_warnings.size(), 1U);
  EXPECT_NE(out->dns_warnings[0].find("\"shop/frontend\": DNS BLOCKED"), std::string::npos);
  EXPECT_NE(out->yaml.find("---\n# WARNING: group \"shop/frontend\": DNS BLOCKED"),
            std::string::npos);
}

TEST(NetworkPolicyTest, ListsWhatItCannotExpress) {
  Policy p = Shop();
  p.mode = Mode::kMonitor;
  p.groups[0].mode = Mode::kEnforce;
  p.groups.push_back({"shop/all", {{std::string(kPodNamespaceLabel), "shop"}}, std::nullopt});
  p.groups.push_back(
      {"odd/x", {{std::string(kPodNamespaceLabel), "odd"}, {"app", "has space"}}, std::nullopt});
  p.allow.push_back({"shop/api", "shop/all", Protocol::kTcp, {80, 80}});
  p.allow.push_back({"world", "shop/api", Protocol::kIcmpv6, {128, 128}});
  p.allow.push_back({"world", "host", Protocol::kTcp, {22, 22}});
  p.failsafe.push_back({"any", "host", Protocol::kTcp, {22, 22}});
  auto out = ExportNetworkPolicies(p, {});
  ASSERT_TRUE(out);
  const std::vector<std::string> want = {
      "allow \"shop/api\" -> \"shop/all\" tcp/80: labels cannot select group \"shop/all\"",
      "allow \"world\" -> \"host\" tcp/22: neither end is a pod group NetworkPolicy can select",
      "allow \"world\" -> \"shop/api\" icmpv6/128: NetworkPolicy has no ICMP (ports are TCP, UDP, "
      "SCTP)",
      "failsafe \"any\" -> \"host\" tcp/22: NetworkPolicy has no never-blocked entries (allow it "
      "explicitly)",
      "group \"odd/x\": selector \"app\": \"has space\" is not a valid Kubernetes label; no "
      "NetworkPolicy selects its pods",
      "group \"shop/all\": its selector names only the namespace, and labels cannot select a part "
      "of one; no NetworkPolicy selects its pods",
      "group \"shop/frontend\" mode enforce: NetworkPolicy has no per-group mode",
      "mode monitor: NetworkPolicy always enforces (it has no learn or monitor mode)"};
  EXPECT_EQ(out->not_expressible, want);
  for (const std::string& line : want) {
    EXPECT_NE(out->yaml.find("#   - " + line + "\n"), std::string::npos) << line;
  }
}

TEST(NetworkPolicyTest, DockerGroupsNeedANamespace) {
  Policy p;
  p.groups = {{"api", {{"app", "api"}}, std::nullopt}, {"Web_1", {{"app", "web"}}, std::nullopt}};
  p.allow = {{"api", "Web_1", Protocol::kSctp, {9000, 9000}}};
  auto out = ExportNetworkPolicies(p, {});
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().kind, NetworkPolicyErrorKind::kUnplacedGroup);
  EXPECT_NE(out.error().message.find("group \"api\" has no io.kubernetes.pod.namespace"),
            std::string::npos);
  NetworkPolicyOptions o;
  o.group_namespace = "shop";
  const std::string yaml = Export(p, o);
  EXPECT_NE(yaml.find("  name: bulkhead-web-1\n  namespace: shop\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("    - protocol: SCTP\n      port: 9000\n"), std::string::npos);
  o.group_namespace = "Shop";
  ASSERT_FALSE(ExportNetworkPolicies(p, o));
}

TEST(NetworkPolicyTest, ClashingNamesAreToldApart) {
  Policy p;
  p.groups = {PodGroup("shop", "app", "a_b"),
              PodGroup("shop", "k8s-app", "a.b"),
              {"shop/a-b", {{std::string(kPodNamespaceLabel), "shop"}, {"x", "y"}}, std::nullopt}};
  const std::string yaml = Export(p);
  EXPECT_NE(yaml.find("name: bulkhead-a-b\n"), std::string::npos);
  EXPECT_NE(yaml.find("name: bulkhead-a-b-2\n"), std::string::npos);
  EXPECT_NE(yaml.find("name: bulkhead-a.b\n"), std::string::npos);
}

TEST(NetworkPolicyTest, RefusesBadClusterCidrs) {
  for (const char* bad : {"10.0.0.1/8", "10.0.0.0", "10.0.0.0/33", "0.0.0.0/0", "::/0",
                          "10.0.0.0/08", "fd00::1/64", "x/8", "10.0.0.0/-1"}) {
    NetworkPolicyOptions o;
    o.cluster_cidrs = {bad};
    auto out = ExportNetworkPolicies(Shop(), o);
    ASSERT_FALSE(out) << bad;
    EXPECT_EQ(out.error().kind, NetworkPolicyErrorKind::kBadClusterCidr);
  }
  NetworkPolicyOptions o;
  o.host_addresses = {"not-an-address"};
  auto out = ExportNetworkPolicies(Shop(), o);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().kind, NetworkPolicyErrorKind::kBadHostAddress);
}

TEST(NetworkPolicyTest, Deterministic) {
  Policy a = Shop();
  Policy b = Shop();
  std::reverse(b.groups.begin(), b.groups.end());
  std::reverse(b.allow.begin(), b.allow.end());
  EXPECT_EQ(Export(a), Export(b));
}

}  // namespace
}  // namespace bulkhead::policy
