#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "policy/model.h"

// The cluster's identities as the Kubernetes API gives them: pods (all namespaces), namespaces
// (their labels) and nodes (their addresses). Identity only: a pod here has no interface or MAC
// (those come from the node's own runtime, cri_source.h). Parsed from untrusted JSON by
// kube_api.h; fed to the agent by KubeSource (kube_source.h) as KubeBatch values.
namespace bulkhead::inventory {

struct KubePod {
  std::string uid;
  std::string namespace_name;
  std::string name;
  std::string node_name;               // spec.nodeName; empty while unscheduled
  policy::Labels labels;               // metadata.labels as the API gives them
  std::vector<std::string> addresses;  // status.podIPs (validated, textual), IPv4 and IPv6
  bool host_network = false;           // spec.hostNetwork: the pod's traffic is its node's
  bool terminated = false;             // status.phase Succeeded or Failed: holds no address
  friend bool operator==(const KubePod&, const KubePod&) = default;
};

struct KubeNamespace {
  std::string name;
  policy::Labels labels;
  friend bool operator==(const KubeNamespace&, const KubeNamespace&) = default;
};

struct KubeNode {
  std::string name;
  std::vector<std::string> addresses;  // status.addresses of type InternalIP and ExternalIP
  friend bool operator==(const KubeNode&, const KubeNode&) = default;
};

enum class KubeResource : std::uint8_t { kPods, kNamespaces, kNodes };

// One step of what the API said about one resource. `relist`: the objects are the whole list
// (after the first list, a 410 Gone or a reconnect): anything of that resource not in it is gone.
// Otherwise the objects were added or modified and `deleted` names the ones deleted (pods by
// uid, namespaces and nodes by name). A watch BOOKMARK produces no batch.
struct KubeBatch {
  KubeResource resource = KubeResource::kPods;
  bool relist = false;
  std::vector<KubePod> pods;
  std::vector<KubeNamespace> namespaces;
  std::vector<KubeNode> nodes;
  std::vector<std::string> deleted;
  std::string resource_version;  // of the list, or of the last event in the batch
};

}  // namespace bulkhead::inventory
