#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "inventory/cri_runtime.pb.h"
#include "policy/model.h"

// The pods a Kubernetes node's container runtime reports over the CRI (`runtime.v1`), as plain
// values, and their mapping to the inventory. Every answer is untrusted input: a converter
// returns the value or one line naming the sandbox and field at fault, never throws. No I/O here:
// cri_client.h makes the calls, cri_source.h decides when.
namespace bulkhead::inventory {

// An error from the CRI path: one line naming the socket, call, sandbox or field at fault.
// Made with CriFail only (a string is never silently an error; see DockerError).
struct CriError {
  CriError() = default;
  std::string message;
};

inline CriError CriFail(std::string message) {
  CriError e;
  e.message = std::move(message);
  return e;
}

// One pod sandbox, from PodSandboxStatus (verbose).
struct CriPod {
  std::string sandbox_id;
  std::string name;
  std::string pod_namespace;
  std::string uid;
  // The pod's labels as the runtime gives them (kubelet adds io.kubernetes.pod.{name,namespace,
  // uid}; when a runtime's client did not, they are filled from the sandbox metadata).
  policy::Labels labels;
  bool ready = false;
  bool host_network = false;           // NamespaceMode NODE: the node's own addresses, group `host`
  std::vector<std::string> addresses;  // network.ip, then additional_ips; validated
  std::int64_t created_at = 0;         // nanoseconds
  std::int64_t pid = 0;                // the sandbox's (pause) process; 0 when not reported
  std::string netns_path;              // from the OCI spec in the verbose info; may be empty
  // Filled by the source from the network namespace (cri_source.cc), empty when unknown.
  std::string interface;  // host side of the pod's veth
  std::string mac;        // the pod's eth0
  std::string bridge;     // the Linux bridge `interface` is attached to, if any
  friend bool operator==(const CriPod&, const CriPod&) = default;
};

// What the verbose `info` of PodSandboxStatus says about the sandbox's process: containerd and
// CRI-O both put one JSON object under "info" with "pid" and the OCI "runtimeSpec", whose
// linux.namespaces entry of type "network" has the namespace's path.
struct SandboxProcess {
  std::int64_t pid = 0;
  std::string netns_path;
};
boost::system::result<SandboxProcess, CriError> ParseSandboxInfo(std::string_view info_json);

// One PodSandboxStatus answer (verbose) as a CriPod; errors name the sandbox and field.
boost::system::result<CriPod, CriError> PodFromStatus(
    const runtime::v1::PodSandboxStatusResponse& response);

// Whether a pod is a workload of its own: a ready sandbox with a pod network and an address.
bool HasPodNetwork(const CriPod& pod);

// The inventory: each pod with a pod network is a workload named "<namespace>/<name>" with id
// the sandbox id, sorted by name. When two ready sandboxes claim one pod name or one address
// (a pod re-created while the old sandbox is not cleaned up yet), the newest sandbox keeps it.
// Host-network pods are not workloads: their traffic is the node's (`host`).
policy::Inventory BuildCriInventory(std::string host_name, std::vector<std::string> host_addresses,
                                    const std::vector<CriPod>& pods);

}  // namespace bulkhead::inventory
