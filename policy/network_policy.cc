// Policy -> Kubernetes NetworkPolicy. Each allow rule between two pod groups becomes an egress
// entry on the client's object and an ingress entry on the server's, so a connection passes both
// objects exactly when bulkhead allows it (NetworkPolicy needs egress at the source and ingress at
// the destination). Everything the objects cannot carry is collected as one line per item and
// written both into the header comment and to the caller, which logs it.
#include "policy/network_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "codec/text_escape.h"
#include "policy/validation.h"

namespace bulkhead::policy {
namespace {

using codec::YamlScalar;

// ---- addresses --------------------------------------------------------------------------------

struct Network {
  bool v6 = false;
  std::string cidr;  // canonical text, "10.244.0.0/16"
};

// "A.B.C.D/N" or "X::/N" with no host bits set; the text comes back canonical (inet_ntop).
std::optional<Network> ParseNetwork(std::string_view text, bool allow_zero_prefix) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string address(text.substr(0, slash));
  const std::string_view prefix_text = text.substr(slash + 1);
  std::array<unsigned char, 16> bytes{};
  Network net;
  if (inet_pton(AF_INET, address.c_str(), bytes.data()) == 1) {
    net.v6 = false;
  } else if (inet_pton(AF_INET6, address.c_str(), bytes.data()) == 1) {
    net.v6 = true;
  } else {
    return std::nullopt;
  }
  const int bits = net.v6 ? 128 : 32;
  if (prefix_text.empty() || prefix_text.size() > 3 ||
      (prefix_text.size() > 1 && prefix_text[0] == '0') ||
      !std::all_of(prefix_text.begin(), prefix_text.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const int prefix = std::stoi(std::string(prefix_text));
  if (prefix > bits || (prefix == 0 && !allow_zero_prefix)) {
    return std::nullopt;
  }
  for (int bit = prefix; bit < bits; ++bit) {
    const auto byte = static_cast<std::size_t>(bit / 8);
    if ((bytes.at(byte) & (0x80U >> static_cast<unsigned>(bit % 8))) != 0) {
      return std::nullopt;  // host bits set: the reader probably meant another network
    }
  }
  std::array<char, INET6_ADDRSTRLEN> buf{};
  inet_ntop(net.v6 ? AF_INET6 : AF_INET, bytes.data(), buf.data(),
            static_cast<socklen_t>(buf.size()));
  net.cidr = std::string(buf.data()) + "/" + std::to_string(prefix);
  return net;
}

std::optional<Network> HostNetwork(const std::string& address) {
  std::array<unsigned char, 16> bytes{};
  if (inet_pton(AF_INET, address.c_str(), bytes.data()) == 1) {
    return ParseNetwork(address + "/32", false);
  }
  if (inet_pton(AF_INET6, address.c_str(), bytes.data()) == 1) {
    return ParseNetwork(address + "/128", false);
  }
  return std::nullopt;
}

// ---- Kubernetes names -------------------------------------------------------------------------

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
// What DNS names (RFC 1123) are made of: lower-case letters and digits.
bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// RFC 1123 label: what a namespace name must be.
bool IsDnsLabel(std::string_view s) {
  return !s.empty() && s.size() <= 63 && IsLowerAlnum(s.front()) && IsLowerAlnum(s.back()) &&
         std::all_of(s.begin(), s.end(), [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

// A label value or a label key's name part: at most 63 of [A-Za-z0-9-_.], alphanumeric at both
// ends (empty allowed only for values).
bool IsLabelName(std::string_view s, bool allow_empty) {
  if (s.empty()) {
    return allow_empty;
  }
  return s.size() <= 63 && IsAlnum(s.front()) && IsAlnum(s.back()) &&
         std::all_of(s.begin(), s.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool IsLabelKey(std::string_view key) {
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) {
    return IsLabelName(key, false);
  }
  const std::string_view prefix = key.substr(0, slash);
  return !prefix.empty() && prefix.size() <= 253 && IsLabelName(key.substr(slash + 1), false) &&
         std::all_of(prefix.begin(), prefix.end(),
                     [](char c) { return IsLowerAlnum(c) || c == '-' || c == '.'; });
}

// "bulkhead-" and the group's name (less its namespace) made a DNS subdomain.
std::string ObjectName(const std::string& group) {
  const auto slash = group.rfind('/');
  const std::string base = slash == std::string::npos ? group : group.substr(slash + 1);
  std::string out = "bulkhead-";
  for (const char c : base) {
    const bool keep = IsAlnum(c) || c == '-' || c == '.';
    out += keep ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : '-';
  }
  while (!IsAlnum(out.back())) {
    out.pop_back();
  }
  // 253 is the limit; leave room for a "-N" that tells two clashing names apart.
  if (out.size() > 240) {
    out.resize(240);
  }
  return out;
}

// ---- the model of the output ------------------------------------------------------------------

struct Peer {
  // An ipBlock when `cidr` is set; else pods of `pod_selector`, in another namespace when
  // `namespace_name` is set.
  std::string cidr;
  std::vector<std::string> except;
  std::optional<std::string> namespace_name;
  Labels pod_selector;
};

struct PortKey {
  Protocol protocol = Protocol::kTcp;
  PortRange ports;
  friend auto operator<=>(const PortKey&, const PortKey&) = default;
};

// One ingress or egress entry: the peers of one group and every port the policy allows with it.
struct PeerRule {
  std::vector<Peer> peers;
  std::set<PortKey> ports;
};

struct Target {
  std::string group;
  std::string ns;
  Labels pod_selector;
  std::string name;
  std::map<std::string, PeerRule> ingress;  // by peer group
  std::map<std::string, PeerRule> egress;
  std::vector<std::string> warnings;  // written at the top of its document
};

std::string_view ProtocolUpper(Protocol p) {
  switch (p) {
    case Protocol::kUdp:
      return "UDP";
    case Protocol::kSctp:
      return "SCTP";
    default:
      return "TCP";
  }
}

// ---- writer -----------------------------------------------------------------------------------

void WriteMatchLabels(std::string& out, const Labels& labels, const std::string& indent) {
  if (labels.empty()) {
    out += " {}\n";
    return;
  }
  out += "\n" + indent + "matchLabels:\n";
  for (const auto& [key, value] : labels) {
    out += indent + "  " + YamlScalar(key) + ": " + YamlScalar(value) + "\n";
  }
}

// A list item at `indent` ("- " at indent, its keys at indent + 2).
void WritePeer(std::string& out, const Peer& peer, const std::string& indent) {
  const std::string inner = indent + "  ";
  if (!peer.cidr.empty()) {
    out += indent + "- ipBlock:\n" + inner + "  cidr: " + YamlScalar(peer.cidr) + "\n";
    if (!peer.except.empty()) {
      out += inner + "  except:\n";
      for (const std::string& cidr : peer.except) {
        out += inner + "  - " + YamlScalar(cidr) + "\n";
      }
    }
    return;
  }
  out += indent + "- ";
  if (peer.namespace_name) {
    out += "namespaceSelector:\n" + inner + "  matchLabels:\n" + inner + "    " +
           YamlScalar(kNamespaceNameLabel) + ": " + YamlScalar(*peer.namespace_name) + "\n" + inner;
  }
  out += "podSelector:";
  WriteMatchLabels(out, peer.pod_selector, inner + "  ");
}

void WriteRules(std::string& out, std::string_view key, std::string_view peer_key,
                const std::map<std::string, PeerRule>& rules) {
  if (rules.empty()) {
    out += "  " + std::string(key) + ": []\n";
    return;
  }
  out += "  " + std::string(key) + ":\n";
  for (const auto& [group, rule] : rules) {
    out += "  - " + std::string(peer_key) + ":  # " + codec::ReplaceInvalidUtf8(group) + "\n";
    for (const Peer& peer : rule.peers) {
      WritePeer(out, peer, "    ");
    }
    out += "    ports:\n";
    for (const PortKey& port : rule.ports) {
      out += "    - protocol: " + std::string(ProtocolUpper(port.protocol)) +
             "\n      port: " + std::to_string(port.ports.first) + "\n";
      if (port.ports.last != port.ports.first) {
        out += "      endPort: " + std::to_string(port.ports.last) + "\n";
      }
    }
  }
}

// A comment line: printable ASCII only, so nothing in a name can end the comment.
std::string CommentText(std::string_view text) {
  std::string out;
  for (const char c : text) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

void WriteTarget(std::string& out, const Target& t) {
  out += "---\n";
  for (const std::string& warning : t.warnings) {
    out += "# WARNING: " + CommentText(warning) + "\n";
  }
  out += "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: " +
         YamlScalar(t.name) + "\n  namespace: " + YamlScalar(t.ns) +
         "\n  labels:\n    app.kubernetes.io/managed-by: bulkhead\n"
         "  annotations:\n    bulkhead/group: " +
         YamlScalar(t.group) + "\nspec:\n  podSelector:";
  WriteMatchLabels(out, t.pod_selector, "    ");
  out += "  policyTypes:\n  - Ingress\n  - Egress\n";
  WriteRules(out, "ingress", "from", t.ingress);
  WriteRules(out, "egress", "to", t.egress);
}

// ---- the export -------------------------------------------------------------------------------

class Exporter {
 public:
  Exporter(const Policy& policy, const NetworkPolicyOptions& options)
      : policy_(policy), options_(options) {}

  boost::system::result<NetworkPolicyExport, NetworkPolicyError> Run() {
    if (auto error = ReadAddresses()) {
      return *error;
    }
    if (auto error = PlaceGroups()) {
      return *error;
    }
    NoteModesAndFailsafe();
    for (const AllowRule& rule : policy_.allow) {
      AddRule(rule);
    }
    CheckDns();
    return Write();
  }

 private:
  std::optional<NetworkPolicyError> ReadAddresses() {
    std::vector<std::string> except_v4;
    std::vector<std::string> except_v6;
    for (const std::string& text : options_.cluster_cidrs) {
      auto net = ParseNetwork(text, false);
      if (!net) {
        return NetworkPolicyError{NetworkPolicyErrorKind::kBadClusterCidr,
                                  "--cluster-cidr: " + codec::JsonString(text) +
                                      " is not an IPv4 or IPv6 network (ADDRESS/PREFIX, no host "
                                      "bits set, prefix above 0)"};
      }
      (net->v6 ? except_v6 : except_v4).push_back(net->cidr);
    }
    for (const std::string& address : options_.host_addresses) {
      auto net = HostNetwork(address);
      if (!net) {
        return NetworkPolicyError{
            NetworkPolicyErrorKind::kBadHostAddress,
            "host address " + codec::JsonString(address) + " is not an IPv4 or IPv6 address"};
      }
      host_peers_.push_back(Peer{net->cidr, {}, std::nullopt, {}});
      // `world` is neither a workload nor the node.
      (net->v6 ? except_v6 : except_v4).push_back(net->cidr);
    }
    for (const std::string& text : options_.node_cidrs) {
      auto net =
          text.find('/') == std::string::npos ? HostNetwork(text) : ParseNetwork(text, false);
      if (!net) {
        return NetworkPolicyError{NetworkPolicyErrorKind::kBadNodeCidr,
                                  "--node-cidr: " + codec::JsonString(text) +
                                      " is not an IPv4 or IPv6 address or network (ADDRESS or "
                                      "ADDRESS/PREFIX, no host bits set, prefix above 0)"};
      }
      node_peers_.push_back(Peer{net->cidr, {}, std::nullopt, {}});
      // `world` is not the cluster's nodes either (they are group `nodes`).
      (net->v6 ? except_v6 : except_v4).push_back(net->cidr);
    }
    for (auto* peers : {&host_peers_, &node_peers_}) {
      std::sort(peers->begin(), peers->end(),
                [](const Peer& a, const Peer& b) { return a.cidr < b.cidr; });
      peers->erase(std::unique(peers->begin(), peers->end(),
                               [](const Peer& a, const Peer& b) { return a.cidr == b.cidr; }),
                   peers->end());
    }
    for (auto* list : {&except_v4, &except_v6}) {
      std::sort(list->begin(), list->end());
      list->erase(std::unique(list->begin(), list->end()), list->end());
    }
    world_peers_.push_back(Peer{"0.0.0.0/0", except_v4, std::nullopt, {}});
    world_peers_.push_back(Peer{"::/0", except_v6, std::nullopt, {}});
    return std::nullopt;
  }

  // Finds each group's namespace and pod selector, or notes why labels cannot select it.
  std::optional<NetworkPolicyError> PlaceGroups() {
    if (!options_.group_namespace.empty() && !IsDnsLabel(options_.group_namespace)) {
      return NetworkPolicyError{NetworkPolicyErrorKind::kBadNamespace,
                                "--namespace: " + codec::JsonString(options_.group_namespace) +
                                    " is not a Kubernetes namespace name (RFC 1123 label)"};
    }
    for (const PolicyGroup& group : policy_.groups) {
      if (group.name == kHostGroup || group.name == kWorldGroup) {
        continue;
      }
      if (group.name == kNodesGroup) {
        Note(
            "group nodes: the cluster's other nodes are not pods, and no NetworkPolicy applies to "
            "them (as a peer of a pod they are --node-cidr's ipBlocks)");
        continue;
      }
      Labels selector = group.selector;
      std::string ns;
      if (auto it = selector.find(std::string(kPodNamespaceLabel)); it != selector.end()) {
        ns = it->second;
        selector.erase(it);
      } else if (!selector.empty() && options_.group_namespace.empty()) {
        return NetworkPolicyError{
            NetworkPolicyErrorKind::kUnplacedGroup,
            "group " + codec::JsonString(group.name) + " has no " +
                std::string(kPodNamespaceLabel) +
                " in its selector (a Docker host's group): give --namespace NS to place it"};
      } else {
        ns = options_.group_namespace;
      }
      if (auto reason = Unselectable(group, selector, ns)) {
        Note("group " + codec::JsonString(group.name) + ": " + *reason +
             "; no NetworkPolicy selects its pods");
        continue;
      }
      targets_.emplace(group.name, Target{group.name, ns, std::move(selector), "", {}, {}, {}});
    }
    NameTargets();
    return std::nullopt;
  }

  static std::optional<std::string> Unselectable(const PolicyGroup& group, const Labels& selector,
                                                 const std::string& ns) {
    if (group.selector.empty()) {
      return "it has no selector (its members come from groupBy)";
    }
    if (selector.empty()) {
      return "its selector names only the namespace, and labels cannot select a part of one";
    }
    if (!IsDnsLabel(ns)) {
      return "namespace " + codec::JsonString(ns) + " is not a Kubernetes namespace name";
    }
    for (const auto& [key, value] : selector) {
      if (!IsLabelKey(key) || !IsLabelName(value, true)) {
        return "selector " + codec::JsonString(key) + ": " + codec::JsonString(value) +
               " is not a valid Kubernetes label";
      }
    }
    return std::nullopt;
  }

  // Object names, unique within a namespace (a clash gets "-2", "-3", ... in group order).
  void NameTargets() {
    std::set<std::pair<std::string, std::string>> used;
    for (auto& [group, target] : targets_) {
      const std::string base = ObjectName(group);
      std::string name = base;
      for (int n = 2; used.count({target.ns, name}) != 0; ++n) {
        name = base + "-" + std::to_string(n);
      }
      used.insert({target.ns, name});
      target.name = name;
    }
  }

  void NoteModesAndFailsafe() {
    if (policy_.mode != Mode::kEnforce) {
      Note("mode " + std::string(ModeName(policy_.mode)) +
           ": NetworkPolicy always enforces (it has no learn or monitor mode)");
    }
    for (const PolicyGroup& group : policy_.groups) {
      if (group.mode) {
        Note("group " + codec::JsonString(group.name) + " mode " +
             std::string(ModeName(*group.mode)) + ": NetworkPolicy has no per-group mode");
      }
    }
    for (const FailsafeRule& rule : policy_.failsafe) {
      Note("failsafe " + RuleText(rule) +
           ": NetworkPolicy has no never-blocked entries (allow it explicitly)");
    }
  }

  // The peers that stand for `group` seen from a target in `ns`; nullopt (with the reason) when
  // there are none.
  std::optional<std::vector<Peer>> PeersOf(const std::string& group, const std::string& ns,
                                           std::string& reason) const {
    if (group == kWorldGroup) {
      return world_peers_;
    }
    if (group == kHostGroup) {
      if (host_peers_.empty()) {
        reason = "the node's addresses are unknown (give --inventory with a host)";
        return std::nullopt;
      }
      return host_peers_;
    }
    if (group == kNodesGroup) {
      if (node_peers_.empty()) {
        reason = "the cluster's node addresses are unknown (give --node-cidr)";
        return std::nullopt;
      }
      return node_peers_;
    }
    auto it = targets_.find(group);
    if (it == targets_.end()) {
      reason = "labels cannot select group " + codec::JsonString(group);
      return std::nullopt;
    }
    Peer peer;
    if (it->second.ns != ns) {
      peer.namespace_name = it->second.ns;
    }
    peer.pod_selector = it->second.pod_selector;
    return std::vector<Peer>{std::move(peer)};
  }

  void AddRule(const AllowRule& rule) {
    if (rule.protocol == Protocol::kIcmp || rule.protocol == Protocol::kIcmpv6) {
      Note("allow " + RuleText(rule) + ": NetworkPolicy has no ICMP (ports are TCP, UDP, SCTP)");
      return;
    }
    auto from = targets_.find(rule.from);
    auto to = targets_.find(rule.to);
    if (from == targets_.end() && to == targets_.end()) {
      Note("allow " + RuleText(rule) + ": neither end is a pod group NetworkPolicy can select");
      return;
    }
    const PortKey port{rule.protocol, rule.ports};
    std::string reason;
    if (from != targets_.end()) {
      if (auto peers = PeersOf(rule.to, from->second.ns, reason)) {
        PeerRule& entry = from->second.egress[rule.to];
        entry.peers = std::move(*peers);
        entry.ports.insert(port);
      }
    }
    if (to != targets_.end()) {
      if (auto peers = PeersOf(rule.from, to->second.ns, reason)) {
        PeerRule& entry = to->second.ingress[rule.from];
        entry.peers = std::move(*peers);
        entry.ports.insert(port);
      }
    }
    if (!reason.empty()) {
      Note("allow " + RuleText(rule) + ": " + reason);
    }
  }

  bool AllowsDns(const std::string& group, const std::set<std::string>& dns_groups) const {
    return std::any_of(policy_.allow.begin(), policy_.allow.end(), [&](const AllowRule& r) {
      return r.from == group && dns_groups.count(r.to) != 0 && r.protocol == Protocol::kUdp &&
             r.ports.Contains(53) && targets_.count(r.to) != 0;
    });
  }

  void CheckDns() {
    std::set<std::string> dns_groups;
    for (const PolicyGroup& group : policy_.groups) {
      if (IsClusterDnsGroup(group)) {
        dns_groups.insert(group.name);
      }
    }
    for (auto& [group, target] : targets_) {
      if (dns_groups.count(group) != 0 || AllowsDns(group, dns_groups)) {
        continue;
      }
      const std::string why =
          dns_groups.empty()
              ? "the policy has no cluster DNS group (kube-system, k8s-app/app.kubernetes.io/"
                "name/app = kube-dns or coredns)"
              : "the policy allows it no udp/53 to the cluster DNS group";
      std::string warning = "group " + codec::JsonString(group) +
                            ": DNS BLOCKED, its pods cannot resolve names: " + why;
      target.warnings.push_back(warning);
      dns_warnings_.push_back(std::move(warning));
    }
  }

  NetworkPolicyExport Write() const {
    NetworkPolicyExport result;
    result.not_expressible.assign(notes_.begin(), notes_.end());
    result.dns_warnings = dns_warnings_;
    std::string& out = result.yaml;
    out += "# NetworkPolicy export of " + CommentText(options_.source) +
           " by bulkhead: one object per group, ingress and egress as the policy allows.\n";
    for (const std::string& warning : dns_warnings_) {
      out += "# WARNING: " + CommentText(warning) + "\n";
    }
    out += result.not_expressible.empty() ? "# Everything in the policy is expressed.\n"
                                          : "# Not expressible in NetworkPolicy (not exported):\n";
    for (const std::string& note : result.not_expressible) {
      out += "#   - " + CommentText(note) + "\n";
    }
    std::vector<const Target*> order;
    for (const auto& [group, target] : targets_) {
      order.push_back(&target);
    }
    std::sort(order.begin(), order.end(), [](const Target* a, const Target* b) {
      return std::tie(a->ns, a->name) < std::tie(b->ns, b->name);
    });
    for (const Target* target : order) {
      WriteTarget(out, *target);
    }
    return result;
  }

  void Note(std::string line) { notes_.insert(std::move(line)); }

  const Policy& policy_;
  const NetworkPolicyOptions& options_;
  std::vector<Peer> world_peers_;
  std::vector<Peer> host_peers_;
  std::vector<Peer> node_peers_;
  std::map<std::string, Target> targets_;  // by group name
  std::set<std::string> notes_;
  std::vector<std::string> dns_warnings_;
};

}  // namespace

bool IsClusterDnsGroup(const PolicyGroup& group) {
  const auto ns = group.selector.find(std::string(kPodNamespaceLabel));
  if (ns == group.selector.end() || ns->second != "kube-system") {
    return false;
  }
  for (const char* key : {"k8s-app", "app.kubernetes.io/name", "app"}) {
    auto it = group.selector.find(key);
    if (it != group.selector.end() && (it->second == "kube-dns" || it->second == "coredns")) {
      return true;
    }
  }
  return false;
}

boost::system::result<NetworkPolicyExport, NetworkPolicyError> ExportNetworkPolicies(
    const Policy& policy, const NetworkPolicyOptions& options) {
  return Exporter(policy, options).Run();
}

}  // namespace bulkhead::policy
