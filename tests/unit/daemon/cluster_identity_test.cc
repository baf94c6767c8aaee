#include "daemon/cluster_identity.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/grouping.h"

namespace bulkhead::daemon {
namespace {

using inventory::KubeBatch;
using inventory::KubeNode;
using inventory::KubePod;
using inventory::KubeResource;

KubePod Pod(std::string uid, std::string name, std::string node, std::vector<std::string> ips,
            policy::Labels labels = {{"app", "api"}, {"pod-template-hash", "5d8f7c"}}) {
  KubePod pod;
  pod.uid = std::move(uid);
  pod.namespace_name = "shop";
  pod.name = std::move(name);
  pod.node_name = std::move(node);
  pod.addresses = std::move(ips);
  pod.labels = std::move(labels);
  return pod;
}

KubeBatch Pods(std::vector<KubePod> pods, bool relist = false,
               std::vector<std::string> deleted = {}) {
  KubeBatch batch;
  batch.resource = KubeResource::kPods;
  batch.relist = relist;
  batch.pods = std::move(pods);
  batch.deleted = std::move(deleted);
  return batch;
}

std::vector<std::string> Names(const std::vector<policy::Workload>& workloads) {
  std::vector<std::string> out;
  for (const auto& w : workloads) {
    out.push_back(w.name);
  }
  return out;
}

TEST(ClusterIdentityTest, RemotePodIsAWorkloadWithKubeletsLabelsAndItsNode) {
  ClusterIdentity identity("node-a");
  const auto change =
      identity.Apply(Pods({Pod("u1", "api-5d8f7c-x7k2p", "node-b", {"10.1.0.5", "fd00:1::5"})}));
  ASSERT_EQ(change.came.size(), 1U);
  EXPECT_TRUE(change.gone.empty());
  const policy::Workload& w = change.came[0];
  EXPECT_EQ(w.name, "shop/api-5d8f7c-x7k2p");
  EXPECT_EQ(w.id, "u1");
  EXPECT_EQ(w.node, "node-b");
  EXPECT_EQ(w.addresses, (std::vector<std::string>{"10.1.0.5", "fd00:1::5"}));
  EXPECT_TRUE(w.interface.empty());
  EXPECT_EQ(w.labels.at("io.kubernetes.pod.namespace"), "shop");
  EXPECT_EQ(w.labels.at("io.kubernetes.pod.name"), "api-5d8f7c-x7k2p");
  EXPECT_EQ(w.labels.at("io.kubernetes.pod.uid"), "u1");
  EXPECT_EQ(w.labels.at("app"), "api");
  // The same group as the runtime's view of that pod on its own node gives.
  const auto group = policy::DeriveGroup(w, policy::DefaultGroupBy());
  EXPECT_EQ(group.name, "shop/api");
  EXPECT_EQ(identity.remote_workloads(), 1U);
}

TEST(ClusterIdentityTest, OwnNodesHostNetworkTerminatedAndAddresslessPodsAreNotWorkloads) {
  ClusterIdentity identity("node-a");
  KubePod host_net = Pod("u2", "proxy", "node-b", {"192.168.0.2"});
  host_net.host_network = true;
  KubePod done = Pod("u3", "job-abc", "node-b", {"10.1.0.7"});
  done.terminated = true;
  const auto change =
      identity.Apply(Pods({Pod("u1", "api-1", "node-a", {"10.0.0.5"}), host_net, done,
                           Pod("u4", "pending", "", {}), Pod("u5", "starting", "node-b", {})}));
  EXPECT_TRUE(change.Empty());
  EXPECT_EQ(identity.pods(), 5U);
  EXPECT_EQ(identity.remote_workloads(), 0U);
  // The pending pod is scheduled and gets its address: now it is one.
  const auto later = identity.Apply(Pods({Pod("u5", "starting", "node-b", {"10.1.0.9"})}));
  EXPECT_EQ(Names(later.came), (std::vector<std::string>{"shop/starting"}));
  EXPECT_TRUE(later.gone.empty());
}

TEST(ClusterIdentityTest, ModificationsBulkheadDoesNotUseChangeNothing) {
  ClusterIdentity identity("node-a");
  (void)identity.Apply(Pods({Pod("u1", "api-1", "node-b", {"10.1.0.5"})}));
  EXPECT_TRUE(identity.Apply(Pods({Pod("u1", "api-1", "node-b", {"10.1.0.5"})})).Empty());
  // A new address: the workload changes (came alone: the tracker replaces it by name).
  const auto moved = identity.Apply(Pods({Pod("u1", "api-1", "node-b", {"10.1.0.6"})}));
  ASSERT_EQ(moved.came.size(), 1U);
  EXPECT_EQ(moved.came[0].addresses, (std::vector<std::string>{"10.1.0.6"}));
  EXPECT_TRUE(moved.gone.empty());
  // The pod ends (phase Succeeded): it leaves.
  KubePod ended = Pod("u1", "api-1", "node-b", {"10.1.0.6"});
  ended.terminated = true;
  const auto left = identity.Apply(Pods({ended}));
  EXPECT_TRUE(left.came.empty());
  EXPECT_EQ(left.gone, (std::vector<std::string>{"shop/api-1"}));
}

TEST(ClusterIdentityTest, DeletionByUidAndAStatefulSetReplicaRecreatedUnderItsName) {
  ClusterIdentity identity("node-a");
  (void)identity.Apply(Pods(
      {Pod("u1", "db-0", "node-b", {"10.1.0.5"}), Pod("u2", "api-1", "node-b", {"10.1.0.6"})}));
  const auto deleted = identity.Apply(Pods({}, false, {"u2", "u-unknown"}));
  EXPECT_EQ(deleted.gone, (std::vector<std::string>{"shop/api-1"}));
  // db-0 deleted on node-b and recreated on node-c within one batch: one change, no gap.
  const auto recreated =
      identity.Apply(Pods({Pod("u9", "db-0", "node-c", {"10.2.0.5"})}, false, {"u1"}));
  ASSERT_EQ(recreated.came.size(), 1U);
  EXPECT_EQ(recreated.came[0].node, "node-c");
  EXPECT_TRUE(recreated.gone.empty());
  EXPECT_EQ(identity.remote_workloads(), 1U);
}

TEST(ClusterIdentityTest, RelistDropsWhatIsNoLongerListedAndKeepsTheRest) {
  ClusterIdentity identity("node-a");
  (void)identity.Apply(
      Pods({Pod("u1", "a", "node-b", {"10.1.0.1"}), Pod("u2", "b", "node-b", {"10.1.0.2"}),
            Pod("u3", "c", "node-b", {"10.1.0.3"})},
           true));
  const auto relist = identity.Apply(
      Pods({Pod("u1", "a", "node-b", {"10.1.0.1"}), Pod("u3", "c", "node-b", {"10.1.0.33"}),
            Pod("u4", "d", "node-b", {"10.1.0.4"})},
           true));
  EXPECT_EQ(relist.gone, (std::vector<std::string>{"shop/b"}));
  auto came = Names(relist.came);
  std::sort(came.begin(), came.end());
  EXPECT_EQ(came, (std::vector<std::string>{"shop/c", "shop/d"}));
  std::vector<policy::Workload> all;
  identity.AppendWorkloads(all);
  EXPECT_EQ(all.size(), 3U);
}

TEST(ClusterIdentityTest, OtherNodesFormTheNodesGroupAndThisNodeIsLeftToHost) {
  ClusterIdentity identity("node-a");
  KubeBatch batch;
  batch.resource = KubeResource::kNodes;
  batch.relist = true;
  batch.nodes = {KubeNode{"node-a", {"192.168.0.1"}}, KubeNode{"node-b", {"192.168.0.2"}}};
  const auto change = identity.Apply(batch);
  ASSERT_EQ(change.came.size(), 1U);
  const policy::Workload& w = change.came[0];
  EXPECT_EQ(w.name, "node/node-b");
  EXPECT_EQ(w.node, "node-b");
  EXPECT_EQ(policy::DeriveGroup(w, policy::DefaultGroupBy()).name, "nodes");
  EXPECT_EQ(identity.nodes(), 1U);
  KubeBatch gone;
  gone.resource = KubeResource::kNodes;
  gone.deleted = {"node-b"};
  EXPECT_EQ(identity.Apply(gone).gone, (std::vector<std::string>{"node/node-b"}));
}

TEST(ClusterIdentityTest, PodsOfOneControllerShareOneLabelSet) {
  ClusterIdentity identity("node-a");
  std::vector<KubePod> pods;
  std::vector<std::string> uids;
  for (int i = 0; i < 1000; ++i) {
    uids.push_back("u" + std::to_string(i));
    pods.push_back(Pod(uids.back(), "api-" + std::to_string(i), "node-b",
                       {"10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256)}));
  }
  (void)identity.Apply(Pods(pods, true));
  EXPECT_EQ(identity.remote_workloads(), 1000U);
  EXPECT_EQ(identity.label_sets(), 1U);
  (void)identity.Apply(Pods({}, false, uids));
  EXPECT_EQ(identity.remote_workloads(), 0U);
  EXPECT_EQ(identity.label_sets(), 0U);
}

}  // namespace
}  // namespace bulkhead::daemon
