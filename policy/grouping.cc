#include "policy/grouping.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string_view>

#include "codec/text_escape.h"

namespace bulkhead::policy {
namespace {

// Workload names and label values are untrusted: quote and escape them in messages.
std::string Q(std::string_view text) { return codec::JsonString(text); }

std::string DescribeSelector(const Labels& selector) {
  if (selector.empty()) {
    return "its own name";
  }
  std::string out;
  for (const auto& [key, value] : selector) {
    out += (out.empty() ? "" : ", ") + Q(key) + ": " + Q(value);
  }
  return "selector {" + out + "}";
}

}  // namespace

std::vector<std::string> DefaultPodGroupBy() {
  return {"app.kubernetes.io/name", "app", "k8s-app"};
}

bool IsRolloutLabel(std::string_view key) {
  return key == "pod-template-hash" || key == "controller-revision-hash" ||
         key == "statefulset.kubernetes.io/pod-name";
}

std::string PodBaseName(std::string_view pod_name, const Labels& labels) {
  const auto label = [&](std::string_view key) -> const std::string* {
    auto it = labels.find(std::string(key));
    return it == labels.end() || it->second.empty() ? nullptr : &it->second;
  };
  // Kubernetes' random suffixes (apimachinery's rand.String) use this alphabet, which has no
  // vowels and no 0, 1, 3: a real word is unlikely to pass for one.
  const auto is_random_suffix = [](std::string_view text) {
    constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
    constexpr std::size_t kLength = 5;
    return text.size() == kLength && text.find_first_not_of(kAlphabet) == std::string_view::npos;
  };
  const auto strip = [&](std::string_view suffix) -> std::optional<std::string> {
    // "-<suffix>" at the end, with a non-empty base before it.
    if (pod_name.size() > suffix.size() + 1 && pod_name.ends_with(suffix) &&
        pod_name[pod_name.size() - suffix.size() - 1] == '-') {
      return std::string(pod_name.substr(0, pod_name.size() - suffix.size() - 1));
    }
    return std::nullopt;
  };
  const auto random_tail = [&]() -> std::string_view {
    const auto dash = pod_name.rfind('-');
    return dash == std::string_view::npos ? std::string_view() : pod_name.substr(dash + 1);
  };
  if (const std::string* hash = label("pod-template-hash")) {
    const std::string_view tail = random_tail();
    if (is_random_suffix(tail)) {
      if (auto base = strip(*hash + "-" + std::string(tail))) {
        return *base;
      }
    }
  }
  if (label("statefulset.kubernetes.io/pod-name") != nullptr) {
    const std::string_view tail = random_tail();
    if (!tail.empty() && tail.find_first_not_of("0123456789") == std::string_view::npos) {
      if (auto base = strip(tail)) {
        return *base;
      }
    }
  }
  const bool daemon_set =
      label("controller-revision-hash") != nullptr && label("pod-template-generation") != nullptr;
  const bool job = label("job-name") != nullptr || label("batch.kubernetes.io/job-name") != nullptr;
  if (daemon_set || job) {
    const std::string_view tail = random_tail();
    if (is_random_suffix(tail)) {
      if (auto base = strip(tail)) {
        return *base;
      }
    }
  }
  return std::string(pod_name);
}

bool IsNamespaceOnlySelector(const Labels& selector) {
  return selector.size() == 1 && selector.begin()->first == kPodNamespaceLabel;
}

namespace {

Group DerivePodGroup(const Workload& workload, const std::string& pod_namespace,
                     const std::vector<std::string>& group_by) {
  const std::vector<std::string> keys =
      group_by == DefaultGroupBy() ? DefaultPodGroupBy() : group_by;
  Group wanted;
  for (const auto& key : keys) {
    const auto it = workload.labels.find(key);
    if (IsRolloutLabel(key) || key == kPodNamespaceLabel || it == workload.labels.end() ||
        it->second.empty()) {
      continue;
    }
    wanted.name = pod_namespace + "/" + it->second;
    wanted.selector = {{std::string(kPodNamespaceLabel), pod_namespace}, {key, it->second}};
    return wanted;
  }
  std::string pod_name = workload.name;
  if (auto it = workload.labels.find(std::string(kPodNameLabel));
      it != workload.labels.end() && !it->second.empty()) {
    pod_name = it->second;
  }
  wanted.name = pod_namespace + "/" + PodBaseName(pod_name, workload.labels);
  wanted.selector = {{std::string(kPodNamespaceLabel), pod_namespace}};
  return wanted;
}

}  // namespace

Group DeriveGroup(const Workload& workload, const std::vector<std::string>& group_by) {
  if (auto ns = workload.labels.find(std::string(kPodNamespaceLabel));
      ns != workload.labels.end() && !ns->second.empty()) {
    return DerivePodGroup(workload, ns->second, group_by);
  }
  Group wanted;
  if (workload.labels.count(std::string(kNodeLabel)) != 0) {
    wanted.name = std::string(kNodesGroup);  // another node of the cluster (cluster identity)
    return wanted;
  }
  for (const auto& label : group_by) {
    const auto it = workload.labels.find(label);
    // An empty label value names nothing; fall through to the next label.
    if (it != workload.labels.end() && !it->second.empty()) {
      wanted.name = it->second;
      wanted.selector = {{label, it->second}};
      break;
    }
  }
  if (wanted.name.empty()) {
    wanted.name = workload.name;
  }
  return wanted;
}

boost::system::result<GroupAssignment, std::string> AssignGroups(
    const Inventory& inventory, const std::vector<std::string>& group_by) {
  GroupAssignment out;
  std::map<std::string, Group> groups;
  // Which workload first gave each group its selector, for the collision message.
  std::map<std::string, std::string> founder;
  for (const auto& workload : inventory.workloads) {
    if (workload.name.empty()) {
      return std::string("a workload has an empty name");
    }
    Group wanted = DeriveGroup(workload, group_by);
    if (wanted.name == kHostGroup || wanted.name == kWorldGroup) {
      return "workload " + Q(workload.name) + " would form group " + Q(wanted.name) +
             ", a name reserved for the special group; rename it or change its labels";
    }
    if (!out.group_of.emplace(workload.name, wanted.name).second) {
      return "two workloads are named " + Q(workload.name);
    }
    auto [it, inserted] = groups.emplace(wanted.name, wanted);
    if (inserted) {
      founder.emplace(wanted.name, workload.name);
    } else if (it->second.selector != wanted.selector) {
      // One group has one selector: `api` from {app: api} and a workload called `api` without
      // labels (or `api` from {com.docker.compose.service: api}) are different things.
      return "group " + Q(wanted.name) + " is formed both by " +
             DescribeSelector(it->second.selector) + " (workload " + Q(founder[wanted.name]) +
             ") and by " + DescribeSelector(wanted.selector) + " (workload " + Q(workload.name) +
             "); give one of them a different label value or name";
    }
    it->second.members.push_back(workload.name);
  }
  const auto& host = inventory.host;
  if (!host.name.empty() || !host.addresses.empty()) {
    Group host_group;
    host_group.name = std::string(kHostGroup);
    if (!host.name.empty()) {
      host_group.members.push_back(host.name);
    }
    groups.emplace(host_group.name, std::move(host_group));
  }
  for (auto& [name, group] : groups) {
    std::sort(group.members.begin(), group.members.end());
    out.groups.push_back(std::move(group));
  }
  return out;
}

}  // namespace bulkhead::policy
