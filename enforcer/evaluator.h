#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "enforcer/ruleset.h"

// An offline interpreter of a compiled Ruleset: what the kernel would do with the first packet
// of a new connection. It reads the model (the same one that is rendered and sent over
// netlink), not the Policy, so a compiler bug shows up in both places alike. `limit` is taken
// as passing (the evaluator does not model rates); logging is reported, not rate-limited.
namespace bulkhead::enforcer {

struct PacketInfo {
  std::string hook = "forward";  // forward, input, output (inet table)
  Value saddr;                   // kIpv4Addr or kIpv6Addr
  Value daddr;
  std::uint8_t l4proto = 6;
  std::uint16_t sport = 0;     // tcp/udp/sctp source port
  std::uint16_t dport = 0;     // tcp/udp/sctp destination port
  std::uint8_t icmp_type = 0;  // icmp / icmpv6
  std::uint8_t icmp_code = 0;
  std::string iifname;           // as the inet family sees it (the bridge, for bridged packets)
  std::string bridge_port;       // ingress bridge port; non-empty: the bridge table runs first
  std::uint16_t ether_type = 0;  // 0: from the address family; else e.g. 0x8100 (tagged frame)
                                 // or 0x0806 (ARP: saddr is the sender address, daddr unused)
  // The frame's source MAC (kEtherAddr, bridge table). Unset: not known (a replayed capture
  // from the inet side), and the MAC binding is not judged: the rules that read it end as the
  // kernel's would for a missing field, so the (port, address) checks decide alone.
  std::optional<Value> ether_saddr;
  // A neighbour advertisement's target address (kIpv6Addr; l4proto 58, icmp_type 136).
  std::optional<Value> nd_target;
};

struct EvalResult {
  bool accepted = true;
  bool logged = false;
  std::string verdict_chain;       // deny / warn / spoofed / tagged, empty for none
  std::string matched;             // origin of the element or rule that decided
  std::vector<std::string> trace;  // chain:rule-index steps, for debugging
};

// Errors: a packet the model cannot judge (addresses of two families, a chain loop).
boost::system::result<EvalResult, std::string> Evaluate(const Ruleset& ruleset,
                                                        const PacketInfo& packet);

}  // namespace bulkhead::enforcer
