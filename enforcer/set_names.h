#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "enforcer/ruleset.h"

// The names of the sets, maps and chains the compiler builds, one function per name, so the
// compiler, the membership updates and the tests spell each the same way. Names go one way only:
// what a set is about (a group id, an address family) is carried beside it (Set::
// single_port_edges_of), never parsed back out of its name. The fixed names are constants without
// formatting: the per-element path (ForEachMemberElement) names a set for every element.
namespace bulkhead::enforcer {

enum class IpFamily : std::uint8_t { kIpv4, kIpv6 };

// Sets and maps of the inet table.
// address -> group id of every managed workload (`ip saddr @grp4`: is the address managed?).
std::string_view GroupMapName(IpFamily family);
std::string_view EnforceSetName(IpFamily family);  // addresses of workloads in enforce mode
std::string_view MonitorSetName(IpFamily family);  // addresses of workloads in monitor mode
// The members' addresses of a group that a failsafe entry names (fs_g<id>_4 / fs_g<id>_6).
std::string FailsafeMemberSetName(std::uint32_t group, IpFamily family);
// A source group's edges: single ports (e_g<id>), port ranges (r_g<id>), ICMP types (i_g<id>).
std::string SinglePortEdgeSetName(std::uint32_t source);
std::string PortRangeEdgeSetName(std::uint32_t source);
std::string IcmpEdgeSetName(std::uint32_t source);
inline constexpr std::string_view kEdgesForwardMap = "edges_fwd";  // source group -> its chain
inline constexpr std::string_view kEdgesToHostMap = "edges_in";    // idem, edges to the host
inline constexpr std::string_view kHitSet = "hits";  // single-port edges in use (HitNames)
inline constexpr std::string_view kNeighbourDiscoverySet = "nd6";  // ICMPv6 types always allowed

// Sets of both tables.
inline constexpr std::string_view kInterfaceSet = "wl_ifaces";  // managed workloads' interfaces
std::string_view InterfaceAddressSetName(IpFamily family);      // interface . address
// Violation logging per source (rule_building.h, VerdictChain): each source address's log budget
// (a meter: log_budget4/6), and how many of its violations went unlogged (suppressed4/6).
std::string_view LogBudgetSetName(IpFamily family);
std::string_view SuppressedSetName(IpFamily family);

// Sets of the bridge table.
std::string_view OwnedAddressSetName(IpFamily family);  // addresses of workloads with a port
inline constexpr std::string_view kTaggedTypesSet = "tagged_types";  // 802.1Q, 802.1ad, PPPoE
inline constexpr std::string_view kRouterMessageSet = "router6";     // RA and redirect types
// MAC binding: the ports of workloads with a MAC, each port's MAC (interface . MAC), and the
// (port, MAC, address) triples of their ordinary frames (interface . MAC . address).
inline constexpr std::string_view kMacPortSet = "mac_ports";
inline constexpr std::string_view kPortMacSet = "port_mac";
std::string_view InterfaceMacAddressSetName(IpFamily family);  // ifmac4 / ifmac6
// Neighbour advertisement guard: owned6 and ifaddr6 again, keyed by the raw target field
// (ruleset.h: DataType::kIpv6Raw), since nft 1.0.6 cannot look an integer up in an ipv6_addr set.
inline constexpr std::string_view kNdOwnedTargetSet = "nd_owned6";  // @th,64,128
inline constexpr std::string_view kNdPortTargetSet = "nd_ifaddr6";  // iifname . @th,64,128

// Chains of the inet table (the base chains are named after their hook: HookName).
std::string EdgeChainName(std::uint32_t source);        // from_g<id>
std::string ToHostEdgeChainName(std::uint32_t source);  // to_host_g<id>
// src_fwd4, src_in4 (forward and input only): entered with the source group in ct mark.
std::string SourceChainName(Hook hook, IpFamily family);
// judge_fwd4, judge_in4, judge_out4: judges a new connection of a managed workload.
std::string JudgeChainName(Hook hook, IpFamily family);
// match_fwd4, match_out4 (forward and output only): edges of a source outside grp.
std::string MatchChainName(Hook hook, IpFamily family);
inline constexpr std::string_view kDestinationGroupChain = "dst_group";
inline constexpr std::string_view kDenyChain = "deny";
inline constexpr std::string_view kWarnChain = "warn";

}  // namespace bulkhead::enforcer
