#include "inventory/cri_pods.h"

#include <gtest/gtest.h>

namespace bulkhead::inventory {
namespace {

namespace cri = runtime::v1;

// A verbose PodSandboxStatus answer shaped like containerd 1.6's.
cri::PodSandboxStatusResponse Status(const std::string& id, const std::string& ns,
                                     const std::string& name, std::vector<std::string> ips) {
  cri::PodSandboxStatusResponse r;
  cri::PodSandboxStatus& s = *r.mutable_status();
  s.set_id(id);
  s.mutable_metadata()->set_name(name);
  s.mutable_metadata()->set_namespace_(ns);
  s.mutable_metadata()->set_uid("uid-" + name);
  s.set_state(cri::SANDBOX_READY);
  s.set_created_at(1000);
  (*s.mutable_labels())["app"] = "db";
  (*s.mutable_labels())["io.kubernetes.pod.name"] = name;
  if (!ips.empty()) {
    s.mutable_network()->set_ip(ips[0]);
    for (std::size_t i = 1; i < ips.size(); ++i) {
      s.mutable_network()->add_additional_ips()->set_ip(ips[i]);
    }
  }
  (*r.mutable_info())["info"] =
      R"({"pid": 4242, "processStatus": "running", "runtimeSpec": {"linux": {"namespaces": [)"
      R"({"type": "pid"}, {"type": "network", "path": "/var/run/netns/cni-1234"}]}}})";
  return r;
}

TEST(CriPods, PodFromVerboseStatus) {
  auto pod = PodFromStatus(Status("abc", "shop", "db-0", {"10.242.0.5", "fd42::5"}));
  ASSERT_TRUE(pod) << pod.error().message;
  EXPECT_EQ(pod->sandbox_id, "abc");
  EXPECT_EQ(pod->name, "db-0");
  EXPECT_EQ(pod->pod_namespace, "shop");
  EXPECT_EQ(pod->addresses, (std::vector<std::string>{"10.242.0.5", "fd42::5"}));
  EXPECT_EQ(pod->pid, 4242);
  EXPECT_EQ(pod->netns_path, "/var/run/netns/cni-1234");
  EXPECT_TRUE(pod->ready);
  EXPECT_FALSE(pod->host_network);
  // The runtime's labels, with io.kubernetes.pod.* filled from the metadata where missing.
  EXPECT_EQ(pod->labels, (policy::Labels{{"app", "db"},
                                         {"io.kubernetes.pod.name", "db-0"},
                                         {"io.kubernetes.pod.namespace", "shop"},
                                         {"io.kubernetes.pod.uid", "uid-db-0"}}));
  EXPECT_TRUE(HasPodNetwork(*pod));
}

TEST(CriPods, BadAnswersNameTheSandboxAndField) {
  auto r = Status("abc", "shop", "db-0", {"10.242.0.500"});
  EXPECT_EQ(PodFromStatus(r).error().message,
            "pod sandbox \"abc\": network: \"10.242.0.500\" is not an IP address");
  r = Status("abc", "", "db-0", {});
  EXPECT_EQ(PodFromStatus(r).error().message,
            "pod sandbox \"abc\": metadata.name and metadata.namespace must not be empty");
  r = Status("", "shop", "db-0", {});
  EXPECT_EQ(PodFromStatus(r).error().message, "pod sandbox status: id is empty");
  r = Status("abc", "shop", "db-0", {});
  (*r.mutable_info())["info"] = "{not json";
  EXPECT_EQ(PodFromStatus(r).error().message, "pod sandbox \"abc\": info: not a JSON object");
  (*r.mutable_info())["info"] = R"({"pid": "12"})";
  EXPECT_EQ(PodFromStatus(r).error().message,
            "pod sandbox \"abc\": info.pid: expected a non-negative integer");
  // Without verbose info: no pid, no path, still a pod.
  r.mutable_info()->clear();
  ASSERT_TRUE(PodFromStatus(r));
  EXPECT_EQ(PodFromStatus(r)->pid, 0);
}

TEST(CriPods, SandboxInfoWithoutNetworkNamespace) {
  auto info = ParseSandboxInfo(R"({"pid": 7, "runtimeSpec": {"linux": {"namespaces": 3}}})");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->pid, 7);
  EXPECT_EQ(info->netns_path, "");
  EXPECT_FALSE(ParseSandboxInfo("[1]"));
}

TEST(CriPods, InventoryKeepsPodNetworksAndTheNewestOwner) {
  std::vector<CriPod> pods;
  auto add = [&](const std::string& id, const std::string& ns, const std::string& name,
                 std::vector<std::string> ips, std::int64_t created) -> CriPod& {
    auto pod = PodFromStatus(Status(id, ns, name, std::move(ips)));
    EXPECT_TRUE(pod);
    pod->created_at = created;
    pods.push_back(*pod);
    return pods.back();
  };
  add("s1", "shop", "db-0", {"10.0.0.5"}, 1);
  add("s2", "billing", "db-0", {"10.0.0.6", "fd00::6"}, 2).interface = "veth1";
  add("s3", "shop", "api-1", {"10.0.0.5"}, 3);  // reused address: the newer pod owns it
  add("s4", "kube-system", "proxy", {}, 4).host_network = true;
  add("s5", "shop", "old", {"10.0.0.9"}, 5).ready = false;
  add("s6", "shop", "db-0", {"10.0.0.7"}, 6);  // re-created pod: the newer sandbox wins
  const policy::Inventory inv = BuildCriInventory("node-1", {"10.0.0.1", "10.0.0.1"}, pods);
  EXPECT_EQ(inv.host.name, "node-1");
  EXPECT_EQ(inv.host.addresses, (std::vector<std::string>{"10.0.0.1"}));
  ASSERT_EQ(inv.workloads.size(), 3U);
  EXPECT_EQ(inv.workloads[0].name, "billing/db-0");
  EXPECT_EQ(inv.workloads[0].interface, "veth1");
  EXPECT_EQ(inv.workloads[0].addresses, (std::vector<std::string>{"10.0.0.6", "fd00::6"}));
  EXPECT_EQ(inv.workloads[1].name, "shop/api-1");
  EXPECT_EQ(inv.workloads[1].addresses, (std::vector<std::string>{"10.0.0.5"}));
  EXPECT_EQ(inv.workloads[2].name, "shop/db-0");
  EXPECT_EQ(inv.workloads[2].id, "s6");
  EXPECT_EQ(inv.workloads[2].addresses, (std::vector<std::string>{"10.0.0.7"}));
}

}  // namespace
}  // namespace bulkhead::inventory
