// table bridge bulkhead: tagged frames (802.1Q, 802.1ad, PPPoE) from workload ports skip
// br_netfilter and so the inet table; they are judged here, and port anti-spoofing runs before
// br_netfilter for bridged workloads (whose inet iifname is the bridge).
#include "enforcer/internal/rule_building.h"
#include "enforcer/internal/table_builders.h"

namespace bulkhead::enforcer::internal {
namespace {

constexpr std::int32_t kBridgePreroutingPriority = -300;
constexpr std::uint32_t kNeighbourAdvertType = 136;  // ICMPv6 (RFC 4861)

// Which workloads have an interface (a bridge port bulkhead can name).
struct PortCoverage {
  bool all = true;
  bool any = false;
};

PortCoverage CoverageOf(const Membership& membership) {
  PortCoverage out;
  for (const auto& g : membership.groups) {
    for (const auto& w : g.members) {
      out.all = out.all && !w.interface.empty();
      out.any = out.any || !w.interface.empty();
    }
  }
  return out;
}

Verdict GotoCounter(std::string_view counter) { return MakeVerdict(Verdict::Kind::kGoto, counter); }

// A neighbour advertisement names its target address, and a neighbour that holds that address
// in its cache believes the advertisement's MAC (with the override flag, at once). So a workload
// advertises only its own addresses: a target that is another workload's address, from a port
// that does not own it, is spoofed. Other targets (link-local, the host's, unmanaged) pass, as
// the source address checks let them. Before the IPv6 own-traffic rule, which would accept the
// frame on its (port, MAC, source) alone.
void AddNeighbourAdvertGuard(Chain& pre) {
  std::vector<Statement> na = Icmpv6Dependency(Family::kBridge);
  na.push_back(FieldMatch({Field::kIcmpv6Type}, Match::Op::kEq,
                          Value::Number(DataType::kIcmpv6Type, kNeighbourAdvertType)));
  na.push_back(InSet({Field::kNdTarget}, kNdOwnedTargetSet));
  na.push_back(InSet({Field::kIifname, Field::kNdTarget}, kNdPortTargetSet, true));
  na.push_back(GotoCounter(kCounterSpoofed));
  pre.rules.push_back(
      MakeRule(std::move(na), "NA guard: a workload advertises only its own addresses"));
}

// Every frame crosses prerouting (the bridge family has no working `ct state` here), so a
// workload's own traffic is accepted after one lookup: its (port, MAC, address) triple first
// (workloads with a MAC), and a bound port's frames with another source MAC are spoofed before
// anything else can accept them. Workloads without a MAC in the inventory are not bound: their
// (port, address) pair follows.
void AddOwnTrafficRules(Chain& pre) {
  for (const auto& ip : kAddressFamilies) {
    if (ip.v6) {  // IPv4 frames do not pay for it
      AddNeighbourAdvertGuard(pre);
    }
    pre.rules.push_back(MakeRule({IpDependency(Family::kBridge, ip.v6),
                                  InSet({Field::kIifname, Field::kEtherSaddr, ip.saddr},
                                        InterfaceMacAddressSetName(ip.family)),
                                  MakeVerdict(Verdict::Kind::kAccept)},
                                 "a workload's own MAC and address from its own port"));
  }
  // Any frame (IP, ARP, ND, multicast, tagged, other ethertypes) from a bound port carries that
  // workload's MAC, or it would move the MAC to this port in the bridge's forwarding table and
  // take the owner's traffic. Ports of other software and unbound ports miss the first lookup.
  pre.rules.push_back(MakeRule({InSet({Field::kIifname}, kMacPortSet),
                                InSet({Field::kIifname, Field::kEtherSaddr}, kPortMacSet, true),
                                GotoCounter(kCounterSpoofed)},
                               "MAC binding: a workload's port carries only its MAC"));
  for (const auto& ip : kAddressFamilies) {
    pre.rules.push_back(
        MakeRule({IpDependency(Family::kBridge, ip.v6),
                  InSet({Field::kIifname, ip.saddr}, InterfaceAddressSetName(ip.family)),
                  MakeVerdict(Verdict::Kind::kAccept)},
                 "a workload's own address from its own port"));
  }
  // ARP carries the sender's address too, and neighbours believe it: a workload that
  // announces another's address takes that workload's traffic (ARP spoofing).
  pre.rules.push_back(MakeRule(
      {ArpDependency(),
       InSet({Field::kIifname, Field::kArpSaddrIp}, InterfaceAddressSetName(IpFamily::kIpv4)),
       MakeVerdict(Verdict::Kind::kAccept)},
      "a workload's own address in ARP from its own port"));
}

Rule TaggedFramesRule(const PortCoverage& ports, std::vector<std::string>& warnings) {
  std::vector<Statement> s;
  s.push_back(InSet({Field::kEtherType}, kTaggedTypesSet));
  if (ports.all && ports.any) {
    s.push_back(InSet({Field::kIifname}, kInterfaceSet));
  } else {
    warnings.push_back(
        "a workload has no interface: tagged frames are judged on every bridge port");
  }
  s.push_back(GotoCounter(kCounterTagged));
  return MakeRule(std::move(s), "VLAN/PPPoE-tagged frames skip br_netfilter");
}

// A workload port carries only its workload's addresses, and a workload's address comes only
// from its port (IPv4, IPv6, ARP), and a workload sends no router advertisement.
void AddAntiSpoofingRules(Chain& pre) {
  for (const auto& ip : kAddressFamilies) {
    std::vector<Statement> s{IpDependency(Family::kBridge, ip.v6)};
    // No IPv4 field follows, so `ether type ip` is a match of its own (nft lists it).
    std::get<Match>(s[0]).implicit = ip.v6;
    if (ip.v6) {  // neighbour discovery and DAD use these
      s.push_back(AddressDiffers(ip.saddr, "::"));
      s.push_back(AddressDiffers(ip.saddr, "fe80::", 10));
    }
    s.push_back(InSet({Field::kIifname}, kInterfaceSet));
    s.push_back(GotoCounter(kCounterSpoofed));
    pre.rules.push_back(
        MakeRule(std::move(s), "anti-spoofing: a workload sends only from its own addresses"));
    pre.rules.push_back(
        MakeRule({IpDependency(Family::kBridge, ip.v6),
                  InSet({ip.saddr}, OwnedAddressSetName(ip.family)), GotoCounter(kCounterSpoofed)},
                 "anti-spoofing: a workload's address comes only from its port"));
  }
  // 0.0.0.0 is an ARP probe (RFC 5227): it claims no address.
  pre.rules.push_back(
      MakeRule({ArpDependency(), AddressDiffers(Field::kArpSaddrIp, "0.0.0.0"),
                InSet({Field::kIifname}, kInterfaceSet), GotoCounter(kCounterSpoofed)},
               "ARP anti-spoofing: a workload announces only its own addresses"));
  pre.rules.push_back(
      MakeRule({ArpDependency(), InSet({Field::kArpSaddrIp}, OwnedAddressSetName(IpFamily::kIpv4)),
                GotoCounter(kCounterSpoofed)},
               "ARP anti-spoofing: a workload's address is announced only from its port"));
  // Router advertisements and redirects (RFC 6105, RA guard): a workload that sends them
  // makes itself its neighbours' IPv6 router. They come from link-local addresses, which
  // the rules above let through.
  std::vector<Statement> ra = Icmpv6Dependency(Family::kBridge);
  ra.push_back(InSet({Field::kIcmpv6Type}, kRouterMessageSet));
  ra.push_back(InSet({Field::kIifname}, kInterfaceSet));
  ra.push_back(GotoCounter(kCounterSpoofed));
  pre.rules.push_back(MakeRule(std::move(ra), "RA guard: a workload is no router"));
}

Set TaggedTypesSet() {
  Set types = KeyedSet(kTaggedTypesSet, DataType::kEtherType, "802.1Q, 802.1ad, PPPoE");
  for (std::uint32_t ether_type : {0x8100u, 0x88a8u, 0x8863u, 0x8864u}) {
    types.elements.push_back(
        MakeElement({Value::Number(DataType::kEtherType, ether_type)}, "tagged ethertype"));
  }
  return types;
}

Set RouterMessageSet() {
  Set router =
      KeyedSet(kRouterMessageSet, DataType::kIcmpv6Type, "ICMPv6 router advertisement, redirect");
  for (std::uint32_t type : {134u, 137u}) {
    router.elements.push_back(
        MakeElement({Value::Number(DataType::kIcmpv6Type, type)}, "router message"));
  }
  return router;
}

}  // namespace

Table BuildBridgeTable(const CompileContext& context, std::vector<std::string>& warnings) {
  Table t;
  t.family = Family::kBridge;
  t.name = std::string(kTableName);
  t.counters = {std::string(kCounterLogged), std::string(kCounterTagged),
                std::string(kCounterSpoofed)};
  t.sets.push_back(TaggedTypesSet());
  const PortCoverage ports = CoverageOf(context.membership);
  Chain pre;
  pre.name = std::string(HookName(Hook::kPrerouting));
  pre.base = BaseHook{Hook::kPrerouting, kBridgePreroutingPriority};
  if (ports.any) {
    AddOwnTrafficRules(pre);
  }
  pre.rules.push_back(TaggedFramesRule(ports, warnings));
  if (ports.any || !ports.all) {
    // Empty without interfaces: kept so the shape does not depend on it.
    t.sets.push_back(KeyedSet(kInterfaceSet, DataType::kIfname, "interfaces of managed workloads"));
  }
  if (ports.any) {
    t.sets.push_back(KeyedSet(kMacPortSet, DataType::kIfname, "ports of workloads with a MAC"));
    Set port_mac = KeyedSet(kPortMacSet, DataType::kIfname, "port . MAC of each bound workload");
    port_mac.key.push_back(DataType::kEtherAddr);
    t.sets.push_back(std::move(port_mac));
    for (const auto& ip : kAddressFamilies) {
      Set triples = InterfaceAddressSet(ip);
      triples.name = std::string(InterfaceMacAddressSetName(ip.family));
      triples.key.insert(triples.key.begin() + 1, DataType::kEtherAddr);
      triples.origin = "port . MAC . address of each bound workload";
      t.sets.push_back(std::move(triples));
      t.sets.push_back(InterfaceAddressSet(ip));
      t.sets.push_back(KeyedSet(OwnedAddressSetName(ip.family), ip.address,
                                "addresses of workloads with an interface"));
    }
    Set nd_owned = KeyedSet(kNdOwnedTargetSet, DataType::kIpv6Raw,
                            "IPv6 addresses of workloads with an interface, as NA targets");
    nd_owned.key_fields = {Field::kNdTarget};
    t.sets.push_back(std::move(nd_owned));
    Set nd_port = KeyedSet(kNdPortTargetSet, DataType::kIfname,
                           "interface . IPv6 address of each workload, as NA targets");
    nd_port.key.push_back(DataType::kIpv6Raw);
    nd_port.key_fields = {Field::kIifname, Field::kNdTarget};
    t.sets.push_back(std::move(nd_port));
    AddAntiSpoofingRules(pre);
    t.sets.push_back(RouterMessageSet());
  }
  FillMemberSets(t, context.membership, {});
  AddViolationLogSets(t, context.options);
  SizeHashSets(t);
  t.chains.push_back(std::move(pre));
  const VerdictChainContext verdicts{Family::kBridge, context.options};
  t.chains.push_back(
      SpoofVerdictChain(kCounterTagged, LoggedVerdict::kTagged, context.global, verdicts));
  t.chains.push_back(
      SpoofVerdictChain(kCounterSpoofed, LoggedVerdict::kSpoofed, context.global, verdicts));
  return t;
}

}  // namespace bulkhead::enforcer::internal
