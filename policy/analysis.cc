#include "policy/analysis.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <set>

#include "codec/text_escape.h"

namespace bulkhead::policy {
namespace {

using Link = ReachGraph::Link;

bool IsSpecial(std::string_view name) { return name == kHostGroup || name == kWorldGroup; }

bool IsIcmp(Protocol p) { return p == Protocol::kIcmp || p == Protocol::kIcmpv6; }

void SortUnique(std::vector<Link>& links) {
  std::sort(links.begin(), links.end());
  links.erase(std::unique(links.begin(), links.end()), links.end());
}

// The cloud instance metadata service (169.254.169.254) answers plain HTTP on port 80 (AWS,
// GCP, Azure, OpenStack). `world` is every address that is not a workload or the host, so a
// rule to `world` on port 80 reaches it: the model has no addresses to exclude it with.
constexpr std::uint16_t kMetadataPort = 80;

std::string Share(double share) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", share);
  return buf;
}

std::string Percent(double share) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f%%", share * 100);
  return buf;
}

// Text for a terminal line: controls, quotes and backslashes escaped as in JSON (a label cannot
// move the cursor or fake a second line), without the quotes around it.
std::string Visible(std::string_view text) {
  const std::string quoted = codec::JsonString(text);
  return quoted.substr(1, quoted.size() - 2);
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) {
    out += out.empty() ? "" : ", ";
    out += Visible(name);
  }
  return out;
}

// Adjacency for movement: from -> targets, ICMP left out, self-loops left out.
std::map<std::string, std::set<std::string>> Adjacency(const ReachGraph& graph) {
  std::map<std::string, std::set<std::string>> next;
  for (const auto& link : graph.links) {
    if (!IsIcmp(link.protocol) && link.from != link.to) {
      next[link.from].insert(link.to);
    }
  }
  return next;
}

GroupReach ReachFrom(const ReachGraph::Node& source,
                     const std::map<std::string, std::set<std::string>>& next,
                     const std::map<std::string, std::size_t>& workloads) {
  GroupReach reach;
  reach.name = source.name;
  reach.workloads = source.workloads;
  std::set<std::string> seen = {source.name};
  std::vector<std::string> frontier = {source.name};
  while (!frontier.empty()) {
    std::set<std::string> level;
    for (const auto& node : frontier) {
      auto it = next.find(node);
      if (it == next.end()) {
        continue;
      }
      for (const auto& target : it->second) {
        if (seen.insert(target).second) {
          level.insert(target);
        }
      }
    }
    if (level.empty()) {
      break;
    }
    frontier.assign(level.begin(), level.end());
    reach.hops.push_back(frontier);
  }
  for (const auto& name : seen) {
    if (name == source.name) {
      continue;
    }
    reach.reaches_host = reach.reaches_host || name == kHostGroup;
    reach.reaches_world = reach.reaches_world || name == kWorldGroup;
    if (auto it = workloads.find(name); it != workloads.end()) {
      ++reach.groups_reached;
      reach.workloads_reached += it->second;
    }
  }
  return reach;
}

void AddLinkFindings(const Link& link, std::vector<Finding>& findings) {
  const std::string what = link.from + " -> " + link.to + " " + LinkPortText(link);
  if (link.to == kHostGroup) {
    findings.push_back(
        {FindingKind::kHostEdge, link, what + ": a container may connect to the node itself"});
  }
  if (auto service = SensitiveService(link.protocol, link.ports); !service.empty()) {
    findings.push_back(
        {FindingKind::kSensitivePort, link, what + ": reaches " + std::string(service)});
  }
  if (link.to == kWorldGroup && link.protocol == Protocol::kTcp &&
      link.ports.Contains(kMetadataPort)) {
    findings.push_back({FindingKind::kMetadata, link,
                        what + ": world includes the cloud metadata address 169.254.169.254"});
  }
  if (!IsIcmp(link.protocol) &&
      std::uint32_t{link.ports.last} - link.ports.first + 1 > kWidePortRange) {
    findings.push_back({FindingKind::kWideRange, link,
                        what + ": " + std::to_string(link.ports.last - link.ports.first + 1) +
                            " ports in one rule"});
  }
}

void Summarize(Analysis& analysis) {
  const std::size_t n = analysis.group_count;
  analysis.flat_pairs = n > 1 ? n * (n - 1) : 0;
  double total = 0;
  for (const auto& reach : analysis.groups) {
    analysis.reachable_pairs += reach.groups_reached;
    total += reach.group_share;
    analysis.max_group_share = std::max(analysis.max_group_share, reach.group_share);
    analysis.max_hops = std::max(analysis.max_hops, reach.hops.size());
    if (n > 1 && reach.groups_reached == n - 1) {
      analysis.findings.push_back(
          {FindingKind::kReachesAll,
           {reach.name, "", Protocol::kTcp, {}},
           reach.name + " reaches every other group (" + std::to_string(n - 1) + ") in " +
               std::to_string(reach.hops.size()) + " hop" + (reach.hops.size() == 1 ? "" : "s")});
    }
  }
  analysis.mean_group_share = n > 0 ? total / static_cast<double>(n) : 0;
  std::sort(analysis.findings.begin(), analysis.findings.end(),
            [](const Finding& a, const Finding& b) {
              return std::tie(a.kind, a.link, a.detail) < std::tie(b.kind, b.link, b.detail);
            });
}

}  // namespace

std::string LinkPortText(const Link& link) {
  std::string text =
      std::string(ProtocolName(link.protocol)) + "/" + std::to_string(link.ports.first);
  if (link.ports.last != link.ports.first) {
    text += "-" + std::to_string(link.ports.last);
  }
  return text;
}

ReachGraph ReachGraphFromFlowGraph(const FlowGraph& graph) {
  ReachGraph out;
  out.workloads_known = true;
  for (const auto& group : graph.groups) {
    if (!IsSpecial(group.name)) {
      out.groups.push_back({group.name, group.members.size()});
    }
  }
  for (const auto& edge : graph.edges) {
    out.links.push_back(
        {edge.key.from, edge.key.to, edge.key.protocol, {edge.key.port, edge.key.port}});
  }
  std::sort(out.groups.begin(), out.groups.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  SortUnique(out.links);
  return out;
}

ReachGraph ReachGraphFromPolicy(const Policy& policy) {
  ReachGraph out;
  std::vector<std::string> every = {std::string(kHostGroup), std::string(kWorldGroup)};
  for (const auto& group : policy.groups) {
    if (!IsSpecial(group.name)) {
      out.groups.push_back({group.name, 0});
      every.push_back(group.name);
    }
  }
  const auto ends = [&](const std::string& name) {
    return name == kAnyGroup ? every : std::vector<std::string>{name};
  };
  for (const auto* rules : {&policy.allow, &policy.failsafe}) {
    for (const auto& rule : *rules) {
      for (const auto& from : ends(rule.from)) {
        for (const auto& to : ends(rule.to)) {
          if (from == kHostGroup && to == kHostGroup) {
            continue;  // never judged (validation refuses it outside `any`)
          }
          out.links.push_back({from, to, rule.protocol, rule.ports});
        }
      }
    }
  }
  std::sort(out.groups.begin(), out.groups.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  SortUnique(out.links);
  return out;
}

const std::vector<SensitivePort>& SensitivePorts() {
  // Remote shells, container and cluster control planes, and databases: owning one of these
  // is owning the node, the cluster or its data. Kept short so a finding means something.
  static const std::vector<SensitivePort> kPorts = {
      {{22, 22}, "SSH"},
      {{23, 23}, "Telnet"},
      {{1433, 1433}, "Microsoft SQL Server"},
      {{1521, 1521}, "Oracle Database"},
      {{2375, 2376}, "the Docker Engine API"},
      {{2379, 2380}, "etcd"},
      {{3306, 3306}, "MySQL"},
      {{3389, 3389}, "RDP"},
      {{5432, 5432}, "PostgreSQL"},
      {{5984, 5984}, "CouchDB"},
      {{6379, 6379}, "Redis"},
      {{6443, 6443}, "the Kubernetes API server"},
      {{9042, 9042}, "Cassandra"},
      {{9200, 9200}, "Elasticsearch"},
      {{10250, 10250}, "the kubelet API"},
      {{10255, 10255}, "the kubelet read-only API"},
      {{11211, 11211}, "memcached"},
      {{27017, 27017}, "MongoDB"},
  };
  return kPorts;
}

std::string_view SensitiveService(Protocol protocol, PortRange ports) {
  if (protocol != Protocol::kTcp) {
    return {};
  }
  for (const auto& sensitive : SensitivePorts()) {
    if (ports.first <= sensitive.ports.last && sensitive.ports.first <= ports.last) {
      return sensitive.service;
    }
  }
  return {};
}

std::string_view FindingKindName(FindingKind kind) {
  switch (kind) {
    case FindingKind::kHostEdge:
      return "host-edge";
    case FindingKind::kSensitivePort:
      return "sensitive-port";
    case FindingKind::kMetadata:
      return "metadata";
    case FindingKind::kWideRange:
      return "wide-range";
    case FindingKind::kReachesAll:
      return "reaches-all";
  }
  return "unknown";
}

Analysis Analyze(const ReachGraph& graph) {
  Analysis analysis;
  analysis.workloads_known = graph.workloads_known;
  analysis.group_count = graph.groups.size();
  analysis.link_count = graph.links.size();
  std::map<std::string, std::size_t> workloads;
  for (const auto& group : graph.groups) {
    workloads[group.name] = group.workloads;
    analysis.workload_count += group.workloads;
  }
  const auto next = Adjacency(graph);
  for (const auto& group : graph.groups) {
    GroupReach reach = ReachFrom(group, next, workloads);
    const std::size_t others = analysis.group_count - 1;
    reach.group_share =
        others > 0 ? static_cast<double>(reach.groups_reached) / static_cast<double>(others) : 0;
    const std::size_t other_workloads = analysis.workload_count - group.workloads;
    if (graph.workloads_known && other_workloads > 0) {
      reach.workload_share =
          static_cast<double>(reach.workloads_reached) / static_cast<double>(other_workloads);
    }
    analysis.groups.push_back(std::move(reach));
  }
  for (const auto& link : graph.links) {
    AddLinkFindings(link, analysis.findings);
  }
  Summarize(analysis);
  return analysis;
}

std::string WriteAnalysisText(const Analysis& a) {
  std::string out =
      "groups: " + std::to_string(a.group_count) + ", links: " + std::to_string(a.link_count) +
      ", reachable group pairs: " + std::to_string(a.reachable_pairs) + " of " +
      std::to_string(a.flat_pairs) + " on a flat network (" +
      Percent(a.flat_pairs > 0
                  ? static_cast<double>(a.reachable_pairs) / static_cast<double>(a.flat_pairs)
                  : 0) +
      "), mean blast radius " + Percent(a.mean_group_share) + ", max " +
      Percent(a.max_group_share) + ", longest path " + std::to_string(a.max_hops) + " hops\n";
  for (const auto& g : a.groups) {
    out += "\n" + Visible(g.name) + ": " + std::to_string(g.groups_reached) + " groups (" +
           Percent(g.group_share) + ")";
    if (a.workloads_known) {
      out += ", " + std::to_string(g.workloads_reached) + " workloads (" +
             Percent(g.workload_share) + ")";
    }
    out += std::string(g.reaches_host ? ", host" : "") + (g.reaches_world ? ", world" : "") + "\n";
    for (std::size_t k = 0; k < g.hops.size(); ++k) {
      out += "  " + std::to_string(k + 1) + " hop" + (k == 0 ? ":  " : "s: ") +
             JoinNames(g.hops[k]) + "\n";
    }
  }
  out += "\nfindings: " + std::to_string(a.findings.size()) + "\n";
  for (const auto& f : a.findings) {
    out += "  [" + std::string(FindingKindName(f.kind)) + "] " + Visible(f.detail) + "\n";
  }
  return out;
}

std::string WriteAnalysisJson(const Analysis& a) {
  std::string out =
      "{\n  \"summary\": {\"groups\": " + std::to_string(a.group_count) +
      ", \"workloads\": " + (a.workloads_known ? std::to_string(a.workload_count) : "null") +
      ", \"links\": " + std::to_string(a.link_count) +
      ", \"reachablePairs\": " + std::to_string(a.reachable_pairs) +
      ", \"flatPairs\": " + std::to_string(a.flat_pairs) +
      ", \"meanGroupShare\": " + Share(a.mean_group_share) +
      ", \"maxGroupShare\": " + Share(a.max_group_share) +
      ", \"maxHops\": " + std::to_string(a.max_hops) + "},\n  \"groups\": [";
  for (std::size_t i = 0; i < a.groups.size(); ++i) {
    const auto& g = a.groups[i];
    out += std::string(i == 0 ? "\n" : ",\n") + "    {\"name\": " + codec::JsonString(g.name) +
           ", \"workloads\": " + std::to_string(g.workloads) +
           ", \"groupsReached\": " + std::to_string(g.groups_reached) +
           ", \"groupShare\": " + Share(g.group_share) +
           ", \"workloadsReached\": " + std::to_string(g.workloads_reached) +
           ", \"workloadShare\": " + Share(g.workload_share) +
           ", \"reachesHost\": " + (g.reaches_host ? "true" : "false") +
           ", \"reachesWorld\": " + (g.reaches_world ? "true" : "false") + ", \"hops\": [";
    for (std::size_t k = 0; k < g.hops.size(); ++k) {
      out += k == 0 ? "[" : ", [";
      for (std::size_t j = 0; j < g.hops[k].size(); ++j) {
        out += (j == 0 ? "" : ", ") + codec::JsonString(g.hops[k][j]);
      }
      out += "]";
    }
    out += "]}";
  }
  out += std::string(a.groups.empty() ? "" : "\n  ") + "],\n  \"findings\": [";
  for (std::size_t i = 0; i < a.findings.size(); ++i) {
    const auto& f = a.findings[i];
    out += std::string(i == 0 ? "\n" : ",\n") +
           "    {\"kind\": " + codec::JsonString(FindingKindName(f.kind)) +
           ", \"from\": " + codec::JsonString(f.link.from) +
           ", \"to\": " + codec::JsonString(f.link.to);
    if (f.kind != FindingKind::kReachesAll) {
      out +=
          ", \"protocol\": " + codec::JsonString(ProtocolName(f.link.protocol)) + ", \"ports\": " +
          codec::JsonString(LinkPortText(f.link).substr(ProtocolName(f.link.protocol).size() + 1));
    }
    out += ", \"detail\": " + codec::JsonString(f.detail) + "}";
  }
  out += std::string(a.findings.empty() ? "" : "\n  ") + "]\n}\n";
  return out;
}

}  // namespace bulkhead::policy
