#include "inventory/cri_pods.h"

#include <arpa/inet.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include <boost/json.hpp>

#include "codec/text_escape.h"
#include "policy/grouping.h"

namespace bulkhead::inventory {
namespace {

namespace json = boost::json;
namespace cri = runtime::v1;

// Names and values from the runtime are untrusted: quoted and escaped in messages.
std::string Q(std::string_view text) { return codec::JsonString(text); }

bool IsAddress(const std::string& text) {
  in_addr v4{};
  in6_addr v6{};
  return ::inet_pton(AF_INET, text.c_str(), &v4) == 1 ||
         ::inet_pton(AF_INET6, text.c_str(), &v6) == 1;
}

// The path of the "network" namespace in an OCI spec's linux.namespaces; empty when absent.
std::string NetnsPathOf(const json::object& spec) {
  const json::value* linux_spec = spec.if_contains("linux");
  if (linux_spec == nullptr || !linux_spec->is_object()) {
    return {};
  }
  const json::value* namespaces = linux_spec->get_object().if_contains("namespaces");
  if (namespaces == nullptr || !namespaces->is_array()) {
    return {};
  }
  for (const json::value& ns : namespaces->get_array()) {
    if (!ns.is_object()) {
      continue;
    }
    const json::value* type = ns.get_object().if_contains("type");
    const json::value* path = ns.get_object().if_contains("path");
    if (type != nullptr && type->is_string() && type->get_string() == "network" &&
        path != nullptr && path->is_string()) {
      return std::string(path->get_string());
    }
  }
  return {};
}

}  // namespace

boost::system::result<SandboxProcess, CriError> ParseSandboxInfo(std::string_view info_json) {
  boost::system::error_code ec;
  const json::value v = json::parse(info_json, ec);
  if (ec || !v.is_object()) {
    return CriFail("info: not a JSON object");
  }
  SandboxProcess out;
  const json::object& info = v.get_object();
  if (const json::value* pid = info.if_contains("pid"); pid != nullptr) {
    if (!pid->is_int64() || pid->get_int64() < 0) {
      return CriFail("info.pid: expected a non-negative integer");
    }
    out.pid = pid->get_int64();
  }
  if (const json::value* spec = info.if_contains("runtimeSpec");
      spec != nullptr && spec->is_object()) {
    out.netns_path = NetnsPathOf(spec->get_object());
  }
  return out;
}

boost::system::result<CriPod, CriError> PodFromStatus(
    const cri::PodSandboxStatusResponse& response) {
  const cri::PodSandboxStatus& status = response.status();
  const std::string where = "pod sandbox " + Q(status.id());
  if (status.id().empty()) {
    return CriFail("pod sandbox status: id is empty");
  }
  if (status.metadata().name().empty() || status.metadata().namespace_().empty()) {
    return CriFail(where + ": metadata.name and metadata.namespace must not be empty");
  }
  CriPod pod;
  pod.sandbox_id = status.id();
  pod.name = status.metadata().name();
  pod.pod_namespace = status.metadata().namespace_();
  pod.uid = status.metadata().uid();
  pod.labels.insert(status.labels().begin(), status.labels().end());
  // kubelet sets these; a pod made by another client is still identified the same way.
  pod.labels.emplace(policy::kPodNameLabel, pod.name);
  pod.labels.emplace(policy::kPodNamespaceLabel, pod.pod_namespace);
  if (!pod.uid.empty()) {
    pod.labels.emplace(policy::kPodUidLabel, pod.uid);
  }
  pod.ready = status.state() == cri::SANDBOX_READY;
  pod.host_network = status.linux().namespaces().options().network() == cri::NODE;
  pod.created_at = status.created_at();
  std::vector<std::string> ips;
  if (!status.network().ip().empty()) {
    ips.push_back(status.network().ip());
  }
  for (const cri::PodIP& extra : status.network().additional_ips()) {
    ips.push_back(extra.ip());
  }
  for (std::string& ip : ips) {
    if (!IsAddress(ip)) {
      return CriFail(where + ": network: " + Q(ip) + " is not an IP address");
    }
    if (std::find(pod.addresses.begin(), pod.addresses.end(), ip) == pod.addresses.end()) {
      pod.addresses.push_back(std::move(ip));
    }
  }
  if (auto it = response.info().find("info"); it != response.info().end()) {
    auto process = ParseSandboxInfo(it->second);
    if (!process) {
      return CriFail(where + ": " + process.error().message);
    }
    pod.pid = process->pid;
    pod.netns_path = std::move(process->netns_path);
  }
  return pod;
}

bool HasPodNetwork(const CriPod& pod) {
  return pod.ready && !pod.host_network && !pod.addresses.empty();
}

policy::Inventory BuildCriInventory(std::string host_name, std::vector<std::string> host_addresses,
                                    const std::vector<CriPod>& pods) {
  // The newest sandbox (created_at, then id so the choice never depends on input order) keeps
  // a contested pod name or address.
  const auto newer = [](const CriPod* a, const CriPod* b) {
    return std::tie(a->created_at, a->sandbox_id) > std::tie(b->created_at, b->sandbox_id);
  };
  std::map<std::string, const CriPod*> by_name;
  for (const CriPod& pod : pods) {
    if (!HasPodNetwork(pod)) {
      continue;
    }
    auto [it, inserted] = by_name.emplace(pod.pod_namespace + "/" + pod.name, &pod);
    if (!inserted && newer(&pod, it->second)) {
      it->second = &pod;
    }
  }
  std::map<std::string, const CriPod*> owner;
  for (const auto& [name, pod] : by_name) {
    for (const std::string& address : pod->addresses) {
      auto [it, inserted] = owner.emplace(address, pod);
      if (!inserted && newer(pod, it->second)) {
        it->second = pod;
      }
    }
  }
  policy::Inventory inv;
  inv.host.name = std::move(host_name);
  std::sort(host_addresses.begin(), host_addresses.end());
  host_addresses.erase(std::unique(host_addresses.begin(), host_addresses.end()),
                       host_addresses.end());
  inv.host.addresses = std::move(host_addresses);
  for (const auto& [name, pod] : by_name) {  // map order: sorted by name
    policy::Workload w;
    w.name = name;
    w.id = pod->sandbox_id;
    w.labels = pod->labels;
    for (const std::string& address : pod->addresses) {
      if (owner.at(address) == pod) {
        w.addresses.push_back(address);
      }
    }
    w.interface = pod->interface;
    w.mac = pod->mac;
    inv.workloads.push_back(std::move(w));
  }
  return inv;
}

}  // namespace bulkhead::inventory
