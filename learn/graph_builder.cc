#include "learn/graph_builder.h"

#include <algorithm>
#include <functional>
#include <utility>

namespace bulkhead::learn {

boost::system::result<GroupResolver, std::string> GroupResolver::Create(
    const policy::Inventory& inventory, const policy::GroupAssignment& groups) {
  GroupResolver resolver;
  resolver.host_name_ =
      inventory.host.name.empty() ? std::string(policy::kHostGroup) : inventory.host.name;

  // Who claimed each address first, to name both parties in a conflict.
  std::unordered_map<capture::IpAddr, std::string, capture::IpAddrHash> claimed_by;
  for (const policy::Workload& w : inventory.workloads) {
    const auto g = groups.group_of.find(w.name);
    // A workload the grouping did not place is a group of its own (DESIGN.md, "Affinity group").
    const std::string& group = g != groups.group_of.end() ? g->second : w.name;
    for (const std::string& text : w.addresses) {
      const auto address = capture::IpAddr::Parse(text);
      if (!address) {
        return "workload " + w.name + ": address '" + text + "' is not an IPv4 or IPv6 address";
      }
      auto [it, inserted] = claimed_by.try_emplace(*address, w.name);
      if (!inserted) {
        if (it->second == w.name) {
          continue;  // the same workload listing one address twice is harmless
        }
        return "address " + address->ToString() + " is claimed by both workload " + it->second +
               " and workload " + w.name;
      }
      resolver.by_address_.emplace(*address, Entry{group, w.name});
    }
  }
  for (const std::string& text : inventory.host.addresses) {
    const auto address = capture::IpAddr::Parse(text);
    if (!address) {
      return "host " + resolver.host_name_ + ": address '" + text +
             "' is not an IPv4 or IPv6 address";
    }
    // Traffic from an address both the host and a workload claim could not be attributed: a
    // policy built on a guess would allow or block the wrong party, so refuse.
    if (const auto it = claimed_by.find(*address); it != claimed_by.end()) {
      return "address " + address->ToString() + " is claimed by both the host and workload " +
             it->second;
    }
    resolver.by_address_.emplace(*address,
                                 Entry{std::string(policy::kHostGroup), resolver.host_name_});
  }
  return resolver;
}

bool GroupResolver::ResolveManaged(const capture::IpAddr& address, Endpoint& out) const {
  if (const auto it = by_address_.find(address); it != by_address_.end()) {
    out = Endpoint{it->second.group, it->second.workload, true};
    return true;
  }
  return false;
}

GroupResolver::Endpoint GroupResolver::Resolve(const capture::IpAddr& address,
                                               std::string& scratch) const {
  if (const auto it = by_address_.find(address); it != by_address_.end()) {
    return Endpoint{it->second.group, it->second.workload, true};
  }
  scratch = address.ToString();
  return Endpoint{policy::kWorldGroup, scratch, false};
}

GraphBuilder::GraphBuilder(const GroupResolver& resolver, std::size_t max_edges)
    : resolver_(&resolver), max_edges_(max_edges) {}

std::size_t GraphBuilder::EdgeRefHash::operator()(const EdgeRef& r) const noexcept {
  const std::hash<std::string_view> h;
  std::uint64_t x = h(r.from) * 0x9E3779B97F4A7C15ULL;
  x ^= h(r.to) + 0x632BE59BD9B4E019ULL + (x << 6) + (x >> 2);
  x ^=
      (std::uint64_t{static_cast<std::uint8_t>(r.protocol)} << 16 | r.port) * 0xBF58476D1CE4E5B9ULL;
  return static_cast<std::size_t>(x ^ (x >> 31));
}

void GraphBuilder::OnFlow(const FlowRecord& flow) {
  ++stats_.flows;
  const auto protocol = policy::ProtocolFromIana(flow.proto);
  if (!protocol) {
    return;  // the flow table only emits tcp/udp/sctp/icmp/icmpv6; nothing else is an edge
  }
  // World endpoints get their address text only when it is needed (a new edge's example or one
  // the edge keeps): formatting it for every flow was a tenth of the table's thread.
  GroupResolver::Endpoint client{policy::kWorldGroup, {}, false};
  GroupResolver::Endpoint server{policy::kWorldGroup, {}, false};
  resolver_->ResolveManaged(flow.client, client);
  resolver_->ResolveManaged(flow.server, server);
  if (!client.managed && !server.managed) {
    ++stats_.unmanaged_flows;
    return;
  }
  policy::EdgeStats* e = nullptr;
  bool inserted = false;
  if (const auto found =
          index_.find(EdgeRef{client.group, server.group, *protocol, flow.server_port});
      found != index_.end()) {
    e = found->second;
  } else {
    if (edges_.size() >= max_edges_) {
      ++stats_.edges_dropped;
      return;
    }
    policy::EdgeKey key{std::string(client.group), std::string(server.group), *protocol,
                        flow.server_port};
    auto [it, fresh] = edges_.try_emplace(std::move(key));
    inserted = fresh;
    e = &it->second;
    index_.emplace(EdgeRef{it->first.from, it->first.to, *protocol, flow.server_port}, e);
  }
  if (inserted || e->connections == 0) {
    e->first_seen_usec = flow.first_usec;
    e->last_seen_usec = flow.last_usec;
  } else {
    e->first_seen_usec = std::min(e->first_seen_usec, flow.first_usec);
    e->last_seen_usec = std::max(e->last_seen_usec, flow.last_usec);
  }
  ++e->connections;
  e->packets += flow.packets;
  e->bytes += flow.bytes;
  if (!client.managed) {
    scratch_from_ = flow.client.ToString();
    client.workload = scratch_from_;
  }
  if (!server.managed) {
    scratch_to_ = flow.server.ToString();
    server.workload = scratch_to_;
  }
  // AddExample keeps the smallest pairs: a full list keeps only a pair below its last one, so
  // the strings are not built for a pair it would drop.
  if (e->examples.size() >= policy::kMaxEdgeExamples) {
    const std::string_view last_from = e->examples.back().from;
    const std::string_view last_to = e->examples.back().to;
    if (!(client.workload < last_from ||
          (client.workload == last_from && server.workload < last_to))) {
      return;
    }
  }
  e->AddExample(policy::WorkloadPair{std::string(client.workload), std::string(server.workload)});
}

policy::FlowGraph GraphBuilder::Build(const std::vector<std::string>& group_by,
                                      const std::vector<policy::Group>& groups) const {
  policy::FlowGraph graph;
  graph.group_by = group_by;

  bool uses_host = false;
  bool uses_world = false;
  graph.edges.reserve(edges_.size());
  for (const auto& [key, stats] : edges_) {
    uses_host = uses_host || key.from == policy::kHostGroup || key.to == policy::kHostGroup;
    uses_world = uses_world || key.from == policy::kWorldGroup || key.to == policy::kWorldGroup;
    graph.edges.push_back(policy::Edge{key, stats});
  }

  // host and world appear only when an edge needs them, so an idle host does not clutter the
  // review; the given host group (from AssignGroups) is kept as is when it is used.
  bool have_host = false;
  for (const policy::Group& g : groups) {
    if (g.name == policy::kWorldGroup) {
      continue;
    }
    if (g.name == policy::kHostGroup) {
      if (uses_host) {
        graph.groups.push_back(g);
        have_host = true;
      }
      continue;
    }
    graph.groups.push_back(g);
  }
  if (uses_host && !have_host) {
    graph.groups.push_back(
        policy::Group{std::string(policy::kHostGroup), {}, {resolver_->host_name()}});
  }
  if (uses_world) {
    graph.groups.push_back(policy::Group{std::string(policy::kWorldGroup), {}, {}});
  }
  graph.Normalize();
  return graph;
}

std::vector<policy::ScanRecord> ScanRecords(const std::vector<ScanFinding>& findings,
                                            const GroupResolver& resolver) {
  std::vector<policy::ScanRecord> records;
  records.reserve(findings.size());
  std::string scratch;
  for (const ScanFinding& finding : findings) {
    const GroupResolver::Endpoint source = resolver.Resolve(finding.source, scratch);
    records.push_back(policy::ScanRecord{std::string(source.workload), std::string(source.group),
                                         finding.first_usec, finding.last_usec,
                                         finding.ports_touched, finding.peers_touched,
                                         finding.refused, finding.incomplete});
  }
  return records;
}

}  // namespace bulkhead::learn
