#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "policy/model.h"

namespace bulkhead::policy {

struct GroupAssignment {
  std::vector<Group> groups;                    // sorted by name, members sorted
  std::map<std::string, std::string> group_of;  // workload name -> group name
};

// Kubernetes pods (from the CRI) carry these labels, set by kubelet; a workload with a non-empty
// namespace label is a pod and is grouped by the pod rule below.
inline constexpr std::string_view kPodNameLabel = "io.kubernetes.pod.name";
inline constexpr std::string_view kPodNamespaceLabel = "io.kubernetes.pod.namespace";
inline constexpr std::string_view kPodUidLabel = "io.kubernetes.pod.uid";

// The labels a pod is grouped by when the grouping is the default one: the recommended
// `app.kubernetes.io/name`, then `app`, then `k8s-app` (kube-system's add-ons).
std::vector<std::string> DefaultPodGroupBy();

// True for the labels Kubernetes controllers change on every rollout (`pod-template-hash`,
// `controller-revision-hash`, `statefulset.kubernetes.io/pod-name`): never a selector.
bool IsRolloutLabel(std::string_view key);

// A pod's name less what its controller generated, judged from the labels the controller set:
//   ReplicaSet (`pod-template-hash: H`): "web-H-x7k2p" -> "web";
//   StatefulSet (`statefulset.kubernetes.io/pod-name`): "db-2" -> "db" (every replica is one
//     group: they run one program and take the same traffic);
//   DaemonSet (`controller-revision-hash` and `pod-template-generation`) and Job (`job-name`):
//     "agent-x7k2p" -> "agent".
// The random suffix is 5 characters of Kubernetes' alphabet [bcdfghjklmnpqrstvwxz2456789]; a
// name that does not end the way its labels say is returned unchanged (a bare pod keeps its name).
std::string PodBaseName(std::string_view pod_name, const Labels& labels);

// The group one workload forms by itself. Members are not filled.
//  - Another node of a cluster (a workload with the label kNodeLabel): `nodes`, no selector.
//  - A container (no pod namespace label): named by the value of the first `group_by` label it
//    has (selector {label: value}), else after the workload (no selector).
//  - A pod: "<namespace>/<value>" for the first label it has of DefaultPodGroupBy() (or of
//    `group_by` when that is not DefaultGroupBy()), selector {io.kubernetes.pod.namespace: ns,
//    label: value}; rollout labels are skipped. A pod with none of them:
//    "<namespace>/<PodBaseName>", selector {io.kubernetes.pod.namespace: ns} alone, which
//    selects by name (IsNamespaceOnlySelector), not by labels.
// So `app: db` in namespaces shop and billing is two groups, shop/db and billing/db.
Group DeriveGroup(const Workload& workload, const std::vector<std::string>& group_by);

// A selector that is exactly {io.kubernetes.pod.namespace: ns}: the group of pods without a
// grouping label. Its members are found by their derived group name, like a group without a
// selector; the selector only records the namespace (for the NetworkPolicy export).
bool IsNamespaceOnlySelector(const Labels& selector);

// Puts each workload into the group named by the value of the first `group_by` label it has
// (selector {label: value}); a workload with none of them is a group of its own, named after it.
// Adds the special `host` group (members: the host's name) when the host has a name or addresses.
// Errors: a group name that collides with `host` or `world`, or two workloads with one name.
boost::system::result<GroupAssignment, std::string> AssignGroups(
    const Inventory& inventory, const std::vector<std::string>& group_by);

}  // namespace bulkhead::policy
