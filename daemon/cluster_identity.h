#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "capture/ip_addr.h"
#include "inventory/kube_objects.h"
#include "policy/model.h"

// The cluster as this node's agent knows it from the Kubernetes API (inventory::KubeSource):
// the pods of the other nodes and the other nodes themselves, as workloads with identity only
// (labels and addresses; no interface, no MAC: those are the runtime's, for this node's own
// pods). Pods of this node are left to the runtime (inventory::CriSource), which knows their
// interfaces; the API would only repeat them later.
//
// A remote pod is the workload `<namespace>/<pod>` with the pod's labels and the three that
// kubelet adds on every node (io.kubernetes.pod.{name,namespace,uid}), so it derives the same
// group on every node (policy::DeriveGroup). Another node is the workload `node/<name>` with the
// label policy::kNodeLabel: the group `nodes`. Host-network pods, terminated pods and pods without
// an address are not workloads (a host-network pod's traffic is its node's).
//
// Memory: one record per pod, the label sets interned (the pods of one ReplicaSet share one), so
// a pod costs its uid, its name, its addresses and two small ids: 282-288 bytes of heap per
// dual-stack pod at 150,000 pods (bench/identity_bench.cc; bench/README.md, "Cluster identity").
// Not thread-safe: the agent's event loop owns it.
namespace bulkhead::daemon {

// What a batch changed in the remote workloads: `gone` names workloads that left or changed,
// `came` the new version of those that arrived or changed (a changed workload is in both).
struct IdentityChange {
  std::vector<policy::Workload> came;
  std::vector<std::string> gone;
  bool Empty() const { return came.empty() && gone.empty(); }
};

class ClusterIdentity {
 public:
  explicit ClusterIdentity(std::string own_node);

  // Applies one step of the API's lists and watches; a relist replaces that resource's objects
  // (what is not in it left). Returns what changed in the remote workloads.
  IdentityChange Apply(const inventory::KubeBatch& batch);

  // Every remote workload (other nodes' pods, then the other nodes), for a full inventory.
  void AppendWorkloads(std::vector<policy::Workload>& out) const;

  const std::string& own_node() const { return own_node_; }
  std::size_t pods() const { return pods_.size(); }  // every pod the API listed
  std::size_t remote_workloads() const { return remote_pods_; }
  std::size_t nodes() const { return nodes_.size(); }
  std::size_t namespaces() const { return namespaces_.size(); }
  std::size_t label_sets() const { return label_sets_.size() - free_label_sets_.size(); }

 private:
  struct PodRecord {
    std::string name;  // "<namespace>/<pod>"
    std::vector<capture::IpAddr> addresses;
    std::uint32_t node = 0;    // index into node_names_
    std::uint32_t labels = 0;  // index into label_sets_: the pod's own labels
    bool workload = false;     // a remote workload (not this node's, not host-network, ...)
  };
  struct LabelSet {
    policy::Labels labels;
    std::size_t users = 0;
  };

  void ApplyPods(const inventory::KubeBatch& batch, IdentityChange& change);
  void ApplyNodes(const inventory::KubeBatch& batch, IdentityChange& change);
  void ApplyNamespaces(const inventory::KubeBatch& batch);
  void UpsertPod(const inventory::KubePod& pod, IdentityChange& change);
  void ErasePod(const std::string& uid, IdentityChange& change);
  void UpsertNode(const inventory::KubeNode& node, IdentityChange& change);
  void EraseNode(const std::string& name, IdentityChange& change);
  policy::Workload PodWorkload(const std::string& uid, const PodRecord& record) const;
  static policy::Workload NodeWorkload(const inventory::KubeNode& node);
  std::uint32_t InternNode(const std::string& name);
  std::uint32_t InternLabels(const policy::Labels& labels);
  void ReleaseLabels(std::uint32_t id);

  std::string own_node_;
  std::unordered_map<std::string, PodRecord> pods_;  // by uid
  std::size_t remote_pods_ = 0;
  std::unordered_map<std::string, inventory::KubeNode> nodes_;  // other nodes, by name
  std::unordered_map<std::string, policy::Labels> namespaces_;
  std::vector<std::string> node_names_;  // interned, never shrinks (nodes are few)
  std::unordered_map<std::string, std::uint32_t> node_ids_;
  std::vector<LabelSet> label_sets_;
  std::vector<std::uint32_t> free_label_sets_;
  std::unordered_map<std::string, std::uint32_t> label_ids_;  // serialized labels -> id
};

}  // namespace bulkhead::daemon
