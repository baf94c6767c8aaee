// The Kubernetes API parsers against answers in the shapes a kube-apiserver gives (core/v1
// PodList, NamespaceList, NodeList and watch event lines; field names from the API reference),
// and against bad ones: each is refused with one line naming the field.
#include "inventory/kube_api.h"

#include <string>

#include <gtest/gtest.h>

namespace bulkhead::inventory {
namespace {

// A dual-stack pod as kubelet reports it: podIP mirrors podIPs[0].
constexpr std::string_view kPodList = R"({
  "kind": "PodList", "apiVersion": "v1",
  "metadata": {"resourceVersion": "48213", "continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NDgyMTN9"},
  "items": [
    {"metadata": {"name": "api-7d9f-x2", "namespace": "shop", "uid": "6f1c2a4e-0b1d-4f3a-9c1e-2b7d8e9f0a11",
                  "resourceVersion": "48100", "labels": {"app": "api", "pod-template-hash": "7d9f"},
                  "ownerReferences": [{"kind": "ReplicaSet", "name": "api-7d9f"}]},
     "spec": {"nodeName": "node-b", "containers": [{"name": "api", "image": "shop/api:1.4"}]},
     "status": {"phase": "Running", "hostIP": "192.0.2.12", "podIP": "10.244.1.7",
                "podIPs": [{"ip": "10.244.1.7"}, {"ip": "fd00:10:244:1:0::7"}]}},
    {"metadata": {"name": "kube-proxy-abcde", "namespace": "kube-system", "uid": "aa-bb"},
     "spec": {"nodeName": "node-a", "hostNetwork": true},
     "status": {"phase": "Running", "podIP": "192.0.2.11"}},
    {"metadata": {"name": "job-1", "namespace": "batch", "uid": "cc-dd"},
     "spec": {"nodeName": "node-a"},
     "status": {"phase": "Succeeded", "podIPs": [{"ip": "10.244.0.9"}]}},
    {"metadata": {"name": "pending", "namespace": "shop", "uid": "ee-ff"},
     "spec": {}, "status": {"phase": "Pending"}}
  ]})";

TEST(KubeApi, PodListReadsIdentity) {
  auto page = ParseKubeList(KubeResource::kPods, kPodList);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->resource_version, "48213");
  EXPECT_EQ(page->continue_token, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NDgyMTN9");
  ASSERT_EQ(page->pods.size(), 4U);
  EXPECT_TRUE(page->skipped.empty());

  const KubePod& api = page->pods[0];
  EXPECT_EQ(api.uid, "6f1c2a4e-0b1d-4f3a-9c1e-2b7d8e9f0a11");
  EXPECT_EQ(api.namespace_name, "shop");
  EXPECT_EQ(api.name, "api-7d9f-x2");
  EXPECT_EQ(api.node_name, "node-b");
  EXPECT_EQ(api.labels, (policy::Labels{{"app", "api"}, {"pod-template-hash", "7d9f"}}));
  // Canonical text: the IPv6 address's zero group is folded.
  EXPECT_EQ(api.addresses, (std::vector<std::string>{"10.244.1.7", "fd00:10:244:1::7"}));
  EXPECT_FALSE(api.host_network);
  EXPECT_FALSE(api.terminated);

  const KubePod& proxy = page->pods[1];
  EXPECT_TRUE(proxy.host_network);
  EXPECT_EQ(proxy.addresses, std::vector<std::string>{"192.0.2.11"});  // podIP fallback

  const KubePod& job = page->pods[2];
  EXPECT_TRUE(job.terminated);
  EXPECT_TRUE(job.addresses.empty());  // a finished pod's address is free for the next one

  const KubePod& pending = page->pods[3];
  EXPECT_TRUE(pending.node_name.empty());
  EXPECT_TRUE(pending.addresses.empty());
}

TEST(KubeApi, NamespaceAndNodeLists) {
  auto namespaces = ParseKubeList(KubeResource::kNamespaces, R"({
    "kind": "NamespaceList", "apiVersion": "v1", "metadata": {"resourceVersion": "77"},
    "items": [{"metadata": {"name": "shop", "uid": "n1",
                            "labels": {"kubernetes.io/metadata.name": "shop", "team": "web"}},
               "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}]})");
  ASSERT_TRUE(namespaces) << namespaces.error().message;
  ASSERT_EQ(namespaces->namespaces.size(), 1U);
  EXPECT_EQ(namespaces->namespaces[0].name, "shop");
  EXPECT_EQ(namespaces->namespaces[0].labels.at("team"), "web");
  EXPECT_TRUE(namespaces->continue_token.empty());

  auto nodes = ParseKubeList(KubeResource::kNodes, R"({
    "kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "78"},
    "items": [{"metadata": {"name": "node-a", "labels": {"kubernetes.io/hostname": "node-a"}},
               "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24", "fd00:10:244::/64"]},
               "status": {"addresses": [{"type": "InternalIP", "address": "192.0.2.11"},
                                        {"type": "InternalIP", "address": "2001:db8::11"},
                                        {"type": "ExternalIP", "address": "198.51.100.11"},
                                        {"type": "Hostname", "address": "node-a"},
                                        {"type": "InternalDNS", "address": "node-a.internal"}]}}]})");
  ASSERT_TRUE(nodes) << nodes.error().message;
  ASSERT_EQ(nodes->nodes.size(), 1U);
  EXPECT_EQ(nodes->nodes[0].addresses,
            (std::vector<std::string>{"192.0.2.11", "2001:db8::11", "198.51.100.11"}));
}

TEST(KubeApi, EmptyItemsAsGoWritesThem) {
  auto page = ParseKubeList(
      KubeResource::kPods, R"({"kind":"PodList","metadata":{"resourceVersion":"5"},"items":null})");
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_TRUE(page->pods.empty());
}

TEST(KubeApi, BadPageIsOneLineNamingTheField) {
  struct Case {
    std::string_view body;
    std::string_view message;
  };
  for (const Case& c : {
           Case{"not json", "PodList: bad JSON"},
           Case{"[]", "PodList: expected an object"},
           Case{R"({"items": []})", "PodList: metadata: missing"},
           Case{R"({"metadata": {}, "items": []})", "PodList: metadata.resourceVersion: missing"},
           Case{R"({"metadata": {"resourceVersion": 5}, "items": []})",
                "PodList: metadata.resourceVersion: expected a string"},
           Case{R"({"metadata": {"resourceVersion": "5&x=1"}, "items": []})",
                "PodList: metadata.resourceVersion: not a resource version"},
           Case{R"({"metadata": {"resourceVersion": "5", "continue": "a b"}, "items": []})",
                "PodList: metadata.continue: not a continue token"},
           Case{R"({"metadata": {"resourceVersion": "5"}, "items": {}})",
                "PodList: items: expected an array"},
       }) {
    auto page = ParseKubeList(KubeResource::kPods, c.body);
    ASSERT_FALSE(page) << c.body;
    EXPECT_EQ(page.error().message.substr(0, c.message.size()), c.message) << c.body;
    EXPECT_EQ(page.error().message.find('\n'), std::string::npos);
  }
}

TEST(KubeApi, BadItemIsLeftOutWithItsField) {
  auto page = ParseKubeList(KubeResource::kPods, R"({
    "metadata": {"resourceVersion": "9"},
    "items": [
      {"metadata": {"name": "a", "namespace": "s", "uid": "1"}, "status": {"podIPs": [{"ip": "10.0.0.300"}]}},
      {"metadata": {"name": "b", "namespace": "s", "uid": "2", "labels": {"app": 7}}},
      {"metadata": {"name": "c", "namespace": "s"}},
      {"metadata": {"name": "d", "namespace": "s", "uid": "4"}, "spec": {"hostNetwork": "yes"}},
      {"metadata": {"name": "e", "namespace": "s", "uid": "5"}, "status": {"podIPs": ["10.0.0.5"]}},
      {"metadata": {"name": "f", "namespace": "s", "uid": "6"}, "status": {"podIP": "pod-f"}},
      7,
      {"metadata": {"name": "ok", "namespace": "s", "uid": "8"}, "status": {"podIP": "10.0.0.8"}}
    ]})");
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->pods.size(), 1U);
  EXPECT_EQ(page->pods[0].name, "ok");
  EXPECT_EQ(page->skipped, (std::vector<std::string>{
                               "PodList: items[0].status.podIPs[0].ip: not an IP address",
                               "PodList: items[1].metadata.labels.app: expected a string",
                               "PodList: items[2].metadata.uid: missing",
                               "PodList: items[3].spec.hostNetwork: expected true or false",
                               "PodList: items[4].status.podIPs[0]: expected an object",
                               "PodList: items[5].status.podIP: not an IP address",
                               "PodList: items[6]: expected an object",
                           }));

  auto nodes = ParseKubeList(KubeResource::kNodes, R"({
    "metadata": {"resourceVersion": "9"},
    "items": [{"metadata": {"name": "n"}, "status": {"addresses": [{"type": "InternalIP", "address": "node-n"}]}},
              {"metadata": {"name": "m"}, "status": {"addresses": [{"type": "InternalIP"}]}}]})");
  ASSERT_TRUE(nodes) << nodes.error().message;
  EXPECT_TRUE(nodes->nodes.empty());
  EXPECT_EQ(nodes->skipped, (std::vector<std::string>{
                                "NodeList: items[0].status.addresses[0].address: not an IP address",
                                "NodeList: items[1].status.addresses[0].address: missing"}));
}

TEST(KubeApi, WatchEvents) {
  auto added = ParseKubeEvent(KubeResource::kPods, R"({"type":"ADDED","object":{"kind":"Pod",
      "apiVersion":"v1","metadata":{"name":"web-1","namespace":"shop","uid":"u-1",
      "resourceVersion":"501","labels":{"app":"web"}},"spec":{"nodeName":"node-a"},
      "status":{"phase":"Running","podIPs":[{"ip":"10.244.0.5"}]}}})");
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_EQ(added->type, KubeEventType::kAdded);
  EXPECT_EQ(added->resource_version, "501");
  EXPECT_EQ(added->pod.uid, "u-1");
  EXPECT_EQ(added->pod.addresses, std::vector<std::string>{"10.244.0.5"});

  auto deleted = ParseKubeEvent(KubeResource::kNodes, R"({"type":"DELETED","object":{
      "kind":"Node","metadata":{"name":"node-c","resourceVersion":"502"},"status":{}}})");
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(deleted->type, KubeEventType::kDeleted);
  EXPECT_EQ(deleted->node.name, "node-c");

  auto modified = ParseKubeEvent(KubeResource::kNamespaces, R"({"type":"MODIFIED","object":{
      "kind":"Namespace","metadata":{"name":"shop","resourceVersion":"503","labels":{"env":"prod"}}}})");
  ASSERT_TRUE(modified) << modified.error().message;
  EXPECT_EQ(modified->type, KubeEventType::kModified);
  EXPECT_EQ(modified->namespace_object.labels.at("env"), "prod");

  // A bookmark carries only the version to resume from.
  auto bookmark = ParseKubeEvent(KubeResource::kPods,
                                 R"({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1",
      "metadata":{"resourceVersion":"777","annotations":{"k8s.io/initial-events-end":"true"}}}})");
  ASSERT_TRUE(bookmark) << bookmark.error().message;
  EXPECT_EQ(bookmark->type, KubeEventType::kBookmark);
  EXPECT_EQ(bookmark->resource_version, "777");

  auto gone = ParseKubeEvent(KubeResource::kPods, R"json({"type":"ERROR","object":{"kind":"Status",
      "apiVersion":"v1","metadata":{},"status":"Failure",
      "message":"too old resource version: 100 (4000)","reason":"Expired","code":410}})json");
  ASSERT_TRUE(gone) << gone.error().message;
  EXPECT_TRUE(gone->Gone());
  EXPECT_EQ(gone->error_message, "too old resource version: 100 (4000)");

  auto other = ParseKubeEvent(KubeResource::kPods,
                              R"({"type":"ERROR","object":{"kind":"Status","code":500}})");
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_FALSE(other->Gone());
  EXPECT_EQ(other->error_code, 500);
}

TEST(KubeApi, BadEventIsOneLineNamingTheField) {
  struct Case {
    std::string_view line;
    std::string_view message;
  };
  for (const Case& c : {
           Case{"{", "watch pods: bad JSON"},
           Case{R"({"object":{}})", "watch pods: type: missing"},
           Case{R"({"type":"ADDED"})", "watch pods: object: missing"},
           Case{R"({"type":"RESYNC","object":{}})",
                "watch pods: type: unknown event type \"RESYNC\""},
           Case{R"({"type":"ADDED","object":{"metadata":{"name":"a","namespace":"s","uid":"1"}}})",
                "watch pods: object.metadata.resourceVersion: missing"},
           Case{R"({"type":"ADDED","object":{"metadata":{"name":"a","namespace":"s","uid":"1",
                "resourceVersion":"3"},"status":{"podIPs":[{"ip":"::g"}]}}})",
                "watch pods: object.status.podIPs[0].ip: not an IP address"},
           Case{R"({"type":"ERROR","object":{"code":"410"}})",
                "watch pods: object.code: expected an integer"},
           Case{R"({"type":"BOOKMARK","object":{"metadata":{}}})",
                "watch pods: object.metadata.resourceVersion: missing"},
       }) {
    auto event = ParseKubeEvent(KubeResource::kPods, c.line);
    ASSERT_FALSE(event) << c.line;
    EXPECT_EQ(event.error().message.substr(0, c.message.size()), c.message) << c.line;
  }
}

TEST(KubeApi, StatusMessage) {
  EXPECT_EQ(KubeStatusMessage(R"({"kind":"Status","message":"pods is forbidden:\nno","code":403})"),
            "pods is forbidden: no");
  EXPECT_EQ(KubeStatusMessage("<html>"), "");
  EXPECT_EQ(KubeStatusMessage(R"({"message":")" + std::string(500, 'x') + "\"}").size(), 200U);
}

}  // namespace
}  // namespace bulkhead::inventory
