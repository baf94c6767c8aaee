#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "enforcer/compiler.h"
#include "enforcer/log_prefix.h"
#include "enforcer/ruleset.h"
#include "enforcer/set_names.h"

// Small constructors of model objects (matches, verdicts, rules, sets) that the inet and bridge
// table builders share. Private to the compiler.
namespace bulkhead::enforcer::internal {

// One address family's fields and types, so one loop builds the IPv4 and IPv6 rules.
struct AddressFamily {
  IpFamily family;
  bool v6;
  Field saddr;
  Field daddr;
  DataType address;
};
inline constexpr AddressFamily kIpv4{IpFamily::kIpv4, false, Field::kIpSaddr, Field::kIpDaddr,
                                     DataType::kIpv4Addr};
inline constexpr AddressFamily kIpv6{IpFamily::kIpv6, true, Field::kIp6Saddr, Field::kIp6Daddr,
                                     DataType::kIpv6Addr};
inline constexpr AddressFamily kAddressFamilies[] = {kIpv4, kIpv6};

// The IANA protocol number of a policy protocol (nft's inet_proto).
std::uint32_t IanaProtocolNumber(policy::Protocol protocol);
bool IsIcmp(policy::Protocol protocol);
// An allow or failsafe entry as error messages and origins name it: `allow web -> api tcp/80`.
std::string AllowRuleText(std::string_view what, const policy::AllowRule& rule);

// `key OP value`.
Match FieldMatch(std::vector<Field> key, Match::Op op, Value value = {});
// `key @set`, or with `negate` `key != @set`.
Match InSet(std::vector<Field> key, std::string_view set, bool negate = false);
// `field != address/prefix_len` (0: the whole address).
Match AddressDiffers(Field field, std::string_view address, std::uint8_t prefix_len = 0);

// The protocol dependency nft inserts before an ip/ip6 field (`meta nfproto ipv4` in inet,
// `ether type ip` in bridge). Kept in the model so the netlink encoding equals nft's.
Match IpDependency(Family family, bool v6);
// The dependency nft inserts before an `arp` field in the bridge family: `ether type arp`.
Match ArpDependency();
// The dependencies nft inserts before an `icmpv6` field: the IPv6 protocol test of the family
// (IpDependency) and `meta l4proto ipv6-icmp`.
std::vector<Statement> Icmpv6Dependency(Family family);

Verdict MakeVerdict(Verdict::Kind kind, std::string_view chain = {});
Rule MakeRule(std::vector<Statement> statements, std::string origin);

// A set of one key type, without elements.
Set KeyedSet(std::string_view name, DataType key, std::string origin);
// interface . address of each workload (ifaddr4/6).
Set InterfaceAddressSet(const AddressFamily& family);
Element MakeElement(std::vector<Value> key, std::string origin);

// Sizes every hash set of the table (a fixed-size hash: see compiler.cc, SizeFor); the hit set
// for every single-port edge.
void SizeHashSets(Table& table);

// The sets the verdict chains log through, in each table: per address family, every source's
// log budget (log_budget4/6) and its suppressed count (suppressed4/6).
void AddViolationLogSets(Table& table, const CompileOptions& options);

// What a verdict chain depends on: the table's family (the IP dependency nft inserts) and the
// log options.
struct VerdictChainContext {
  Family family;
  const CompileOptions& options;
};

// Rules that end the judgment of a violation: an NFLOG record with the verdict's prefix
// (log_prefix.h) within the source's budget, else the source's suppressed count, then the
// counted verdict. The table needs AddViolationLogSets.
Chain VerdictChain(std::string_view name, LoggedVerdict logged, std::string_view counter,
                   Verdict::Kind kind, const VerdictChainContext& context);

// The anti-spoofing verdict chains (spoofed, tagged): drop in enforce mode, accept in monitor.
Chain SpoofVerdictChain(std::string_view counter, LoggedVerdict logged, policy::Mode global,
                        const VerdictChainContext& context);

}  // namespace bulkhead::enforcer::internal
