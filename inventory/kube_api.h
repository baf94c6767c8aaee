#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/system/result.hpp>

#include "inventory/kube_objects.h"

// Parsers of the Kubernetes API answers the cluster identity source reads (core/v1 PodList,
// NamespaceList, NodeList and watch event lines), as the types of kube_objects.h. Every answer is
// untrusted input: a parser returns the value or one line naming the field at fault
// ("PodList: items[3].status.podIPs[0].ip: not an IP address"), never throws, never crashes. No
// I/O here: kube_client.h moves the bytes, kube_source.h decides when to ask.
namespace bulkhead::inventory {

// An error from the Kubernetes API path: one line naming the server, request or field at fault.
// Made with KubeFail (not constructible from a string, like DockerError).
struct KubeError {
  KubeError() = default;
  std::string message;
};

inline KubeError KubeFail(std::string message) {
  KubeError e;
  e.message = std::move(message);
  return e;
}

// "pods", "namespaces", "nodes": the resource's path segment under /api/v1.
std::string_view KubeResourceName(KubeResource resource);

// One page of a list. An item whose own fields are bad (an address that is no address, a label
// value that is no string) is left out and its one-line reason kept in `skipped`: one odd pod
// must not blind the agent to the whole cluster. A bad page (not JSON, no `items`, no
// `metadata.resourceVersion`) is an error.
struct KubeListPage {
  KubeResource resource = KubeResource::kPods;
  std::vector<KubePod> pods;
  std::vector<KubeNamespace> namespaces;
  std::vector<KubeNode> nodes;
  std::string resource_version;  // metadata.resourceVersion: where a watch starts
  std::string continue_token;    // metadata.continue: empty on the last page
  std::vector<std::string> skipped;
};

boost::system::result<KubeListPage, KubeError> ParseKubeList(KubeResource resource,
                                                             std::string_view body);

enum class KubeEventType : std::uint8_t { kAdded, kModified, kDeleted, kBookmark, kError };

// One line of a watch stream: {"type": ..., "object": {...}}.
struct KubeEvent {
  KubeEventType type = KubeEventType::kAdded;
  // kAdded, kModified, kDeleted: the object (only the one of the watched resource is set).
  KubePod pod;
  KubeNamespace namespace_object;
  KubeNode node;
  // The object's metadata.resourceVersion (kBookmark: the version to resume from).
  std::string resource_version;
  // kError: the Status object's code and message. 410 means the version asked for is older
  // than the server's history: list again.
  std::int64_t error_code = 0;
  std::string error_message;
  bool Gone() const { return type == KubeEventType::kError && error_code == 410; }
};

boost::system::result<KubeEvent, KubeError> ParseKubeEvent(KubeResource resource,
                                                           std::string_view line);

// The `message` of a Status object (the body of an API error answer), cut at 200 characters
// with control characters replaced; empty when the body is not one.
std::string KubeStatusMessage(std::string_view body);

// A resourceVersion or continue token goes into a request target: accepted when it is 1..4096
// characters of URL-safe text (Kubernetes' are decimal or base64url).
bool IsKubeToken(std::string_view token);

}  // namespace bulkhead::inventory
