#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "policy/grouping.h"
#include "policy/policy.h"

// The Kubernetes NetworkPolicy export of an approved policy (`bulkhead export policy.yaml
// --format networkpolicy`): one `networking.k8s.io/v1` NetworkPolicy per group, in the group's
// namespace, allowing exactly the group's allow rules in both directions (egress on the client's
// object, ingress on the server's). What NetworkPolicy cannot say is listed, never dropped in
// silence: in the output's header comment and in NetworkPolicyExport::not_expressible.
//
// Groups follow the pod convention of the CRI source: a pod group is named `<namespace>/<value>`
// with the selector {io.kubernetes.pod.namespace: <namespace>, <key>: <value>}. A group without
// the namespace key (a Docker host's group) is placed in NetworkPolicyOptions::group_namespace.
namespace bulkhead::policy {

// The namespace label every Kubernetes namespace carries (since 1.21), used to select peers in
// other namespaces.
inline constexpr std::string_view kNamespaceNameLabel = "kubernetes.io/metadata.name";

struct NetworkPolicyOptions {
  // Pod and service ranges ("10.244.0.0/16", "fd00:10:96::/112"): cut out of `world`, so that
  // `world` never matches a pod or a service address.
  std::vector<std::string> cluster_cidrs;
  // The node's addresses (`host`); empty: rules with `host` are listed as not expressible.
  std::vector<std::string> host_addresses;
  // The cluster's nodes (`nodes`, the other nodes of a merged cluster graph): addresses or
  // networks ("192.168.1.0/24"). NetworkPolicy selects pods, not nodes, so `nodes` becomes these
  // ipBlocks; empty: rules with `nodes` are listed as not expressible. Cut out of `world` too.
  std::vector<std::string> node_cidrs;
  // The namespace of groups whose selector has no kPodNamespaceLabel; empty: such a group is an
  // error.
  std::string group_namespace;
  // The policy file's name, for the header comment.
  std::string source;
};

enum class NetworkPolicyErrorKind : std::uint8_t {
  kBadClusterCidr,  // --cluster-cidr is not an IPv4/IPv6 network (host bits set, prefix 0, ...)
  kBadHostAddress,  // a host address is not an IPv4/IPv6 address
  kBadNodeCidr,     // a node address or network is neither
  kUnplacedGroup,   // a group has no namespace and no group_namespace was given
  kBadNamespace,    // group_namespace is not a Kubernetes namespace name
};

struct NetworkPolicyError {
  NetworkPolicyErrorKind kind = NetworkPolicyErrorKind::kBadClusterCidr;
  std::string message;  // one line naming the value or group at fault
};

struct NetworkPolicyExport {
  std::string yaml;  // a multi-document YAML stream, deterministic for equal inputs
  // Parts of the policy the objects do not carry (ICMP rules, failsafe entries, modes, groups
  // that labels cannot select, `host` without addresses), one line each, sorted.
  std::vector<std::string> not_expressible;
  // Groups whose pods the objects leave without DNS, one line each (say it loudly).
  std::vector<std::string> dns_warnings;
};

// How the cluster DNS group is recognised: a group in namespace kube-system whose selector's
// k8s-app, app.kubernetes.io/name or app label is kube-dns or coredns. A pod group can resolve
// names when the policy allows it udp/53 to such a group.
bool IsClusterDnsGroup(const PolicyGroup& group);

// `policy` must be valid (ValidatePolicy). Output order follows namespaces and object names;
// rules follow peer group names; ports follow (protocol, range).
boost::system::result<NetworkPolicyExport, NetworkPolicyError> ExportNetworkPolicies(
    const Policy& policy, const NetworkPolicyOptions& options);

}  // namespace bulkhead::policy
