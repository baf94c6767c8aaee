#include "learn/graph_builder.h"

#include <algorithm>
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

GroupResolver::Endpoint GroupResolver::Resolve(const capture::IpAddr& address,
                                               std::string& scratch) const {
  if (const auto it = by_address_.find(address); it != by_address_.end()) {
    return Endpoint{it->second.group, it->second.workload, true};
  }
  scratch = address.ToString();
  return Endpoint{policy::kWorldGroup, scratch, false};
}

GraphBuilder::GraphBuilder(const GroupResolver& resolver) : resolver_(resolver) {}

void GraphBuilder::OnFlow(const FlowRecord& flow) {
  ++stats_.flows;
  const auto protocol = policy::ProtocolFromIana(flow.proto);
  if (!protocol) {
    return;  // the flow table only emits tcp/udp/sctp/icmp/icmpv6; nothing else is an edge
  }
  const GroupResolver::Endpoint client = resolver_.Resolve(flow.client, scratch_from_);
  const GroupResolver::Endpoint server = resolver_.Resolve(flow.server, scratch_to_);
  if (!client.managed && !server.managed) {
    ++stats_.unmanaged_flows;
    return;
  }
  policy::EdgeKey key{std::string(client.group), std::string(server.group), *protocol,
                      flow.server_port};
  auto [it, inserted] = edges_.try_emplace(std::move(key));
  policy::EdgeStats& e = it->second;
  if (inserted || e.connections == 0) {
    e.first_seen_usec = flow.first_usec;
    e.last_seen_usec = flow.last_usec;
  } else {
    e.first_seen_usec = std::min(e.first_seen_usec, flow.first_usec);
    e.last_seen_usec = std::max(e.last_seen_usec, flow.last_usec);
  }
  ++e.connections;
  e.packets += flow.packets;
  e.bytes += flow.bytes;
  e.AddExample(policy::WorkloadPair{std::string(client.workload), std::string(server.workload)});
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
        policy::Group{std::string(policy::kHostGroup), {}, {resolver_.host_name()}});
  }
  if (uses_world) {
    graph.groups.push_back(policy::Group{std::string(policy::kWorldGroup), {}, {}});
  }
  graph.Normalize();
  return graph;
}

}  // namespace bulkhead::learn
