#include "daemon/cluster_identity.h"

#include <algorithm>
#include <set>
#include <utility>

#include "policy/grouping.h"

namespace bulkhead::daemon {
namespace {

constexpr std::string_view kNodeWorkloadPrefix = "node/";

// A label set as one string (key and value lengths first), the interning key.
std::string SerializeLabels(const policy::Labels& labels) {
  std::string out;
  for (const auto& [key, value] : labels) {
    out += std::to_string(key.size());
    out += ':';
    out += key;
    out += std::to_string(value.size());
    out += ':';
    out += value;
  }
  return out;
}

std::vector<capture::IpAddr> ParseAddresses(const std::vector<std::string>& addresses) {
  std::vector<capture::IpAddr> out;
  out.reserve(addresses.size());
  for (const auto& text : addresses) {
    if (auto ip = capture::IpAddr::Parse(text)) {
      out.push_back(*ip);  // the source validated them; an odd one is left out, not fatal
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The keys of `held` that `listed` (a relist's objects) does not name: what left meanwhile.
template <typename Map, typename Objects, typename KeyOf>
std::vector<std::string> Unlisted(const Map& held, const Objects& listed, KeyOf key_of) {
  std::set<std::string_view> names;
  for (const auto& object : listed) {
    names.insert(key_of(object));
  }
  std::vector<std::string> out;
  for (const auto& [key, value] : held) {
    if (names.count(key) == 0) {
      out.push_back(key);
    }
  }
  return out;
}

}  // namespace

ClusterIdentity::ClusterIdentity(std::string own_node) : own_node_(std::move(own_node)) {}

IdentityChange ClusterIdentity::Apply(const inventory::KubeBatch& batch) {
  IdentityChange change;
  switch (batch.resource) {
    case inventory::KubeResource::kPods:
      ApplyPods(batch, change);
      break;
    case inventory::KubeResource::kNodes:
      ApplyNodes(batch, change);
      break;
    case inventory::KubeResource::kNamespaces:
      ApplyNamespaces(batch);
      break;
  }
  // A workload that changed (or left and came back under the same name) is in `came` alone: the
  // membership tracker replaces a workload it already tracks.
  if (!change.gone.empty()) {
    std::set<std::string> came_names;
    for (const auto& w : change.came) {
      came_names.insert(w.name);
    }
    std::sort(change.gone.begin(), change.gone.end());
    change.gone.erase(std::unique(change.gone.begin(), change.gone.end()), change.gone.end());
    std::erase_if(change.gone, [&](const std::string& name) { return came_names.count(name); });
  }
  return change;
}

void ClusterIdentity::ApplyPods(const inventory::KubeBatch& batch, IdentityChange& change) {
  if (batch.relist) {
    for (const auto& uid :
         Unlisted(pods_, batch.pods,
                  [](const inventory::KubePod& p) -> std::string_view { return p.uid; })) {
      ErasePod(uid, change);
    }
  }
  for (const auto& pod : batch.pods) {
    UpsertPod(pod, change);
  }
  for (const auto& uid : batch.deleted) {
    ErasePod(uid, change);
  }
}

void ClusterIdentity::UpsertPod(const inventory::KubePod& pod, IdentityChange& change) {
  if (pod.uid.empty() || pod.name.empty() || pod.namespace_name.empty()) {
    return;  // kube_api.h refuses these; nothing could name such a pod
  }
  PodRecord next;
  next.name = pod.namespace_name + "/" + pod.name;
  next.addresses = ParseAddresses(pod.addresses);
  next.node = InternNode(pod.node_name);
  next.workload = !pod.node_name.empty() && pod.node_name != own_node_ && !pod.host_network &&
                  !pod.terminated && !next.addresses.empty();
  const policy::Labels& labels = pod.labels;  // the ones kubelet adds come in PodWorkload
  const auto it = pods_.find(pod.uid);
  if (it != pods_.end()) {
    PodRecord& old = it->second;
    if (old.name == next.name && old.addresses == next.addresses && old.node == next.node &&
        old.workload == next.workload && label_sets_[old.labels].labels == labels) {
      return;  // a MODIFIED event about something bulkhead does not use (status, annotations)
    }
    if (old.workload) {
      change.gone.push_back(old.name);
      --remote_pods_;
    }
    ReleaseLabels(old.labels);
    next.labels = InternLabels(labels);
    old = std::move(next);
    if (old.workload) {
      change.came.push_back(PodWorkload(pod.uid, old));
      ++remote_pods_;
    }
    return;
  }
  next.labels = InternLabels(labels);
  auto [inserted, ok] = pods_.emplace(pod.uid, std::move(next));
  (void)ok;
  if (inserted->second.workload) {
    change.came.push_back(PodWorkload(pod.uid, inserted->second));
    ++remote_pods_;
  }
}

void ClusterIdentity::ErasePod(const std::string& uid, IdentityChange& change) {
  const auto it = pods_.find(uid);
  if (it == pods_.end()) {
    return;
  }
  if (it->second.workload) {
    change.gone.push_back(it->second.name);
    --remote_pods_;
  }
  ReleaseLabels(it->second.labels);
  pods_.erase(it);
}

void ClusterIdentity::ApplyNodes(const inventory::KubeBatch& batch, IdentityChange& change) {
  if (batch.relist) {
    for (const auto& name :
         Unlisted(nodes_, batch.nodes,
                  [](const inventory::KubeNode& n) -> std::string_view { return n.name; })) {
      EraseNode(name, change);
    }
  }
  for (const auto& node : batch.nodes) {
    UpsertNode(node, change);
  }
  for (const auto& name : batch.deleted) {
    EraseNode(name, change);
  }
}

void ClusterIdentity::UpsertNode(const inventory::KubeNode& node, IdentityChange& change) {
  if (node.name.empty() || node.name == own_node_) {
    return;  // this node's addresses are `host`, from the runtime's side
  }
  const auto it = nodes_.find(node.name);
  if (it != nodes_.end()) {
    if (it->second == node) {
      return;
    }
    if (!it->second.addresses.empty()) {
      change.gone.push_back(std::string(kNodeWorkloadPrefix) + node.name);
    }
    it->second = node;
  } else {
    nodes_.emplace(node.name, node);
  }
  if (!node.addresses.empty()) {
    change.came.push_back(NodeWorkload(node));
  }
}

void ClusterIdentity::EraseNode(const std::string& name, IdentityChange& change) {
  const auto it = nodes_.find(name);
  if (it == nodes_.end()) {
    return;
  }
  if (!it->second.addresses.empty()) {
    change.gone.push_back(std::string(kNodeWorkloadPrefix) + name);
  }
  nodes_.erase(it);
}

void ClusterIdentity::ApplyNamespaces(const inventory::KubeBatch& batch) {
  if (batch.relist) {
    namespaces_.clear();
  }
  for (const auto& ns : batch.namespaces) {
    namespaces_[ns.name] = ns.labels;
  }
  for (const auto& name : batch.deleted) {
    namespaces_.erase(name);
  }
}

void ClusterIdentity::AppendWorkloads(std::vector<policy::Workload>& out) const {
  out.reserve(out.size() + remote_pods_ + nodes_.size());
  for (const auto& [uid, record] : pods_) {
    if (record.workload) {
      out.push_back(PodWorkload(uid, record));
    }
  }
  for (const auto& [name, node] : nodes_) {
    if (!node.addresses.empty()) {
      out.push_back(NodeWorkload(node));
    }
  }
}

policy::Workload ClusterIdentity::PodWorkload(const std::string& uid,
                                              const PodRecord& record) const {
  policy::Workload w;
  w.name = record.name;
  w.id = uid;
  w.labels = label_sets_[record.labels].labels;
  const auto slash = record.name.find('/');
  w.labels[std::string(policy::kPodNamespaceLabel)] = record.name.substr(0, slash);
  w.labels[std::string(policy::kPodNameLabel)] = record.name.substr(slash + 1);
  w.labels[std::string(policy::kPodUidLabel)] = uid;
  w.addresses.reserve(record.addresses.size());
  for (const auto& a : record.addresses) {
    w.addresses.push_back(a.ToString());
  }
  w.node = node_names_[record.node];
  return w;
}

policy::Workload ClusterIdentity::NodeWorkload(const inventory::KubeNode& node) {
  policy::Workload w;
  w.name = std::string(kNodeWorkloadPrefix) + node.name;
  w.labels[std::string(policy::kNodeLabel)] = node.name;
  for (const auto& a : ParseAddresses(node.addresses)) {
    w.addresses.push_back(a.ToString());
  }
  w.node = node.name;
  return w;
}

std::uint32_t ClusterIdentity::InternNode(const std::string& name) {
  const auto [it, inserted] =
      node_ids_.emplace(name, static_cast<std::uint32_t>(node_names_.size()));
  if (inserted) {
    node_names_.push_back(name);
  }
  return it->second;
}

std::uint32_t ClusterIdentity::InternLabels(const policy::Labels& labels) {
  std::string key = SerializeLabels(labels);
  if (const auto it = label_ids_.find(key); it != label_ids_.end()) {
    ++label_sets_[it->second].users;
    return it->second;
  }
  std::uint32_t id = 0;
  if (!free_label_sets_.empty()) {
    id = free_label_sets_.back();
    free_label_sets_.pop_back();
    label_sets_[id] = {labels, 1};
  } else {
    id = static_cast<std::uint32_t>(label_sets_.size());
    label_sets_.push_back({labels, 1});
  }
  label_ids_.emplace(std::move(key), id);
  return id;
}

void ClusterIdentity::ReleaseLabels(std::uint32_t id) {
  LabelSet& set = label_sets_[id];
  if (--set.users != 0) {
    return;
  }
  label_ids_.erase(SerializeLabels(set.labels));
  set.labels.clear();
  free_label_sets_.push_back(id);
}

}  // namespace bulkhead::daemon
