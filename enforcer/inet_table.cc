// table inet bulkhead: the policy's edges, and the judgment of every new connection of a managed
// workload (README.md: "The inet table").
#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "enforcer/internal/rule_building.h"
#include "enforcer/internal/table_builders.h"

namespace bulkhead::enforcer::internal {
namespace {

using policy::Mode;

constexpr std::uint32_t kCtStateEstablishedRelated = 0x06;  // NF_CT_STATE_BIT(ESTABLISHED|RELATED)
constexpr std::array<Hook, 3> kInetHooks = {Hook::kForward, Hook::kInput, Hook::kOutput};

Value Mark(std::uint32_t n) { return Value::Number(DataType::kMark, n); }

Rule RestoreCtMark() { return MakeRule({SetCtMark{}}, "restore ct mark"); }

// judge_*: `ct mark 0 jump match_*` first: a connection nobody marked is matched against the
// allowed edges of a source outside grp.
Chain JudgeHead(std::string name, const std::string& match_chain) {
  Chain c;
  c.name = std::move(name);
  c.rules.push_back(MakeRule({FieldMatch({Field::kCtMark}, Match::Op::kEq, Mark(0)),
                              MakeVerdict(Verdict::Kind::kJump, match_chain)},
                             "match against allowed edges while ct mark is free"));
  return c;
}

// The violation rules of a judge or source chain: an address in enforce4 goes to deny, one in
// monitor4 to warn (each of `ends`), and the host group's mode when the host is an end.
void AddModeRules(Chain& c, const AddressFamily& ip, const std::vector<Field>& ends,
                  std::optional<Mode> host_mode) {
  for (auto [mode, target] :
       {std::pair{Mode::kEnforce, kDenyChain}, std::pair{Mode::kMonitor, kWarnChain}}) {
    const std::string_view set =
        mode == Mode::kEnforce ? EnforceSetName(ip.family) : MonitorSetName(ip.family);
    for (Field f : ends) {
      c.rules.push_back(MakeRule(
          {IpDependency(Family::kInet, ip.v6), InSet({f}, set),
           MakeVerdict(Verdict::Kind::kGoto, target)},
          fmt::format("violation, {} mode", mode == Mode::kEnforce ? "enforce" : "monitor")));
    }
    if (host_mode == mode) {
      c.rules.push_back(
          MakeRule({MakeVerdict(Verdict::Kind::kGoto, target)}, "violation, host group mode"));
    }
  }
}

// src_*: entered from the base chain with the managed source's group in ct mark: that group's
// edges, then (no edge matched) the verdict.
Chain SourceChainHead(Hook hook, const AddressFamily& ip, std::string_view edges_map,
                      std::string what) {
  Chain c;
  c.name = SourceChainName(hook, ip.family);
  c.rules.push_back(
      MakeRule({VmapLookup{Field::kCtMark, std::string(edges_map)}}, std::move(what)));
  c.rules.push_back(RestoreCtMark());
  return c;
}

// `iifname @wl_ifaces iifname . ip saddr != @ifaddr4 goto spoofed`: a workload's interface
// carries only that workload's addresses (IPv6: link-local and unspecified sources excepted,
// neighbour discovery needs them).
Rule AntiSpoofByPort(const AddressFamily& ip) {
  // The family first: a new connection of the other family then skips the interface lookup
  // (nft lists the rule the same either way).
  std::vector<Statement> s;
  s.push_back(IpDependency(Family::kInet, ip.v6));
  s.push_back(InSet({Field::kIifname}, kInterfaceSet));
  if (ip.v6) {
    s.push_back(AddressDiffers(ip.saddr, "::"));
    s.push_back(AddressDiffers(ip.saddr, "fe80::", 10));
  }
  s.push_back(InSet({Field::kIifname, ip.saddr}, InterfaceAddressSetName(ip.family), true));
  s.push_back(MakeVerdict(Verdict::Kind::kGoto, kCounterSpoofed));
  return MakeRule(std::move(s), "anti-spoofing: a workload sends only from its own addresses");
}

// Whether a failsafe entry concerns the base chain of `hook`.
bool FailsafeApplies(const policy::AllowRule& r, Hook hook) {
  const bool from_host = r.from == policy::kHostGroup;
  const bool to_host = r.to == policy::kHostGroup;
  switch (hook) {
    case Hook::kInput:
      return (to_host || r.to == policy::kAnyGroup) && !from_host;
    case Hook::kOutput:
      return (from_host || r.from == policy::kAnyGroup) && !to_host;
    case Hook::kForward:
      return !from_host && !to_host;
    case Hook::kPrerouting:
      break;
  }
  return false;  // no failsafe rules outside the inet table's hooks
}

// `meta l4proto P th dport N` (a range: `N-M`); ICMP: `th sport` holds type << 8 | code.
void AddProtocolAndPorts(std::vector<Statement>& s, const policy::AllowRule& r) {
  s.push_back(FieldMatch({Field::kL4proto}, Match::Op::kEq,
                         Value::Number(DataType::kInetProto, IanaProtocolNumber(r.protocol))));
  std::uint32_t lo = r.ports.first;
  std::uint32_t hi = r.ports.last;
  Field port = Field::kThDport;
  if (IsIcmp(r.protocol)) {
    lo <<= 8;
    hi = (hi << 8) | 0xff;
    port = Field::kThSport;
  }
  if (lo == hi) {
    s.push_back(FieldMatch({port}, Match::Op::kEq, Value::Number(DataType::kInetService, lo)));
    return;
  }
  Match range = FieldMatch({port}, Match::Op::kRange, Value::Number(DataType::kInetService, lo));
  range.value_end = Value::Number(DataType::kInetService, hi);
  s.push_back(range);
}

class InetTableBuilder {
 public:
  InetTableBuilder(const CompileContext& context, std::vector<std::string>& warnings)
      : context_(context), warnings_(warnings) {}

  Table Build() {
    table_.family = Family::kInet;
    table_.name = std::string(kTableName);
    table_.counters = {std::string(kCounterLogged), std::string(kCounterDropped),
                       std::string(kCounterMonitored), std::string(kCounterSpoofed)};
    GroupEdgesBySource();
    AddSets();
    for (Hook hook : kInetHooks) {
      table_.chains.push_back(BaseChain(hook));
    }
    for (const auto& ip : kAddressFamilies) {
      AddForwardJudgeChains(ip);
      AddInputJudgeChains(ip);
      AddOutputJudgeChains(ip);
    }
    table_.chains.push_back(DestinationGroupChain());
    for (const auto& [source, rules] : by_source_) {
      table_.chains.push_back(EdgeChain(source, EdgeChainName(source), false));
      if (to_host_.count(source) != 0) {
        table_.chains.push_back(EdgeChain(source, ToHostEdgeChainName(source), true));
      }
    }
    const VerdictChainContext verdicts{Family::kInet, context_.options};
    table_.chains.push_back(VerdictChain(kDenyChain, LoggedVerdict::kBlocked, kCounterDropped,
                                         Verdict::Kind::kDrop, verdicts));
    table_.chains.push_back(VerdictChain(kWarnChain, LoggedVerdict::kMonitored, kCounterMonitored,
                                         Verdict::Kind::kAccept, verdicts));
    table_.chains.push_back(
        SpoofVerdictChain(kCounterSpoofed, LoggedVerdict::kSpoofed, context_.global, verdicts));
    return std::move(table_);
  }

 private:
  const Membership& membership() const { return context_.membership; }

  // Edges by source group: one chain and up to three sets per group with outgoing edges.
  void GroupEdgesBySource() {
    for (const auto& r : context_.policy.allow) {
      by_source_[*context_.IdOf(r.from)].push_back(&r);
    }
    for (const auto& [source, rules] : by_source_) {
      if (source != kWorldGroupId &&
          std::any_of(rules.begin(), rules.end(),
                      [](const policy::AllowRule* r) { return r->to == policy::kHostGroup; })) {
        to_host_.insert(source);
      }
    }
    any_iface_ =
        std::any_of(membership().groups.begin(), membership().groups.end(), [](const auto& g) {
          return std::any_of(g.members.begin(), g.members.end(),
                             [](const MemberWorkload& m) { return !m.interface.empty(); });
        });
  }

  void AddSets() {
    for (const auto& [source, rules] : by_source_) {
      AddEdgeSets(source, rules);
    }
    for (const auto& ip : kAddressFamilies) {
      table_.sets.push_back(
          KeyedSet(EnforceSetName(ip.family), ip.address, "workloads in enforce mode"));
      table_.sets.push_back(
          KeyedSet(MonitorSetName(ip.family), ip.address, "workloads in monitor mode"));
      // Also the set of managed workloads: `ip saddr @grp4` tests that an address has a group.
      Set group_map =
          KeyedSet(GroupMapName(ip.family), ip.address, "address -> group id (managed workloads)");
      group_map.data = DataType::kMark;
      table_.sets.push_back(std::move(group_map));
    }
    AddEdgeMaps();
    Set hits = KeyedSet(kHitSet, DataType::kMark,
                        "single-port edges in use: (source << 16 | destination, protocol, port)");
    hits.key = {DataType::kMark, DataType::kInetProto, DataType::kInetService};
    hits.dynamic = true;
    table_.sets.push_back(std::move(hits));
    if (any_iface_) {
      table_.sets.push_back(
          KeyedSet(kInterfaceSet, DataType::kIfname, "interfaces of managed workloads"));
      for (const auto& ip : kAddressFamilies) {
        table_.sets.push_back(InterfaceAddressSet(ip));
      }
    } else {
      warnings_.push_back("no workload has an interface: no anti-spoofing on routed ports");
    }
    table_.sets.push_back(NeighbourDiscoverySet());
    AddViolationLogSets(table_, context_.options);
    AddFailsafeSets();
    FillMemberSets(table_, membership(), FailsafeGroups(context_.policy, membership()));
    SizeHashSets(table_);
  }

  // Source group id -> chain of its edges. Keyed by group, not by address, so that container
  // churn never adds a `jump` element: a new jump element makes the kernel re-check the whole
  // table for loops at commit (O(workloads)); these maps change only with the policy.
  void AddEdgeMaps() {
    Set forward = KeyedSet(kEdgesForwardMap, DataType::kMark, "source group -> chain of its edges");
    forward.data = DataType::kVerdict;
    Set to_host = KeyedSet(kEdgesToHostMap, DataType::kMark,
                           "source group -> chain of its edges to the host");
    to_host.data = DataType::kVerdict;
    for (const auto& [source, rules] : by_source_) {
      const std::string& from = rules.front()->from;
      if (source != kHostGroupId) {
        Element e = MakeElement({Mark(source)}, fmt::format("group {}", from));
        e.verdict = MakeVerdict(Verdict::Kind::kJump, EdgeChainName(source));
        forward.elements.push_back(std::move(e));
      }
      if (to_host_.count(source) != 0) {
        Element e = MakeElement({Mark(source)}, fmt::format("group {}", from));
        e.verdict = MakeVerdict(Verdict::Kind::kJump, ToHostEdgeChainName(source));
        to_host.elements.push_back(std::move(e));
      }
    }
    table_.sets.push_back(std::move(forward));
    table_.sets.push_back(std::move(to_host));
  }

  static Set NeighbourDiscoverySet() {
    Set nd = KeyedSet(kNeighbourDiscoverySet, DataType::kIcmpv6Type,
                      "ICMPv6 neighbour discovery and MLD");
    // RFC 4861 (133-137) and MLD (130-132, RFC 2710; 143, RFC 3810): IPv6 breaks without them.
    for (std::uint32_t type : {130u, 131u, 132u, 133u, 134u, 135u, 136u, 137u, 143u}) {
      nd.elements.push_back(
          MakeElement({Value::Number(DataType::kIcmpv6Type, type)}, "neighbour discovery"));
    }
    return nd;
  }

  // Failsafe groups get plain address sets (fs_g<id>_4/6) so that a failsafe rule is one
  // lookup and container churn only changes elements.
  void AddFailsafeSets() {
    for (const auto& name : FailsafeGroups(context_.policy, membership())) {
      const ResolvedGroup* g = membership().Find(name);
      for (const auto& ip : kAddressFamilies) {
        table_.sets.push_back(KeyedSet(FailsafeMemberSetName(g->id, ip.family), ip.address,
                                       fmt::format("members of {} (failsafe)", name)));
      }
    }
  }

  void AddEdgeSets(std::uint32_t source, const std::vector<const policy::AllowRule*>& rules);
  Chain BaseChain(Hook hook) const;
  void AddManagedSourceRules(Chain& c, Hook hook, const AddressFamily& ip) const;
  void AddFailsafeRules(Chain& c, Hook hook) const;
  bool AddFailsafeEnd(std::vector<Statement>& s, const std::string& end, Field field,
                      const AddressFamily& ip) const;
  void AddForwardJudgeChains(const AddressFamily& ip);
  void AddInputJudgeChains(const AddressFamily& ip);
  void AddOutputJudgeChains(const AddressFamily& ip);
  static Chain DestinationGroupChain();
  Chain EdgeChain(std::uint32_t source, const std::string& name, bool to_host) const;

  const CompileContext& context_;
  std::vector<std::string>& warnings_;
  Table table_;
  std::map<std::uint32_t, std::vector<const policy::AllowRule*>> by_source_;
  std::set<std::uint32_t> to_host_;                // source groups with edges to the host
  std::unordered_set<std::uint32_t> with_ranges_;  // source groups with an r_g set
  std::unordered_set<std::uint32_t> with_icmp_;    // source groups with an i_g set
  bool any_iface_ = false;
};

void InetTableBuilder::AddEdgeSets(std::uint32_t source,
                                   const std::vector<const policy::AllowRule*>& rules) {
  const std::string& from = rules.front()->from;
  Set exact;
  exact.name = SinglePortEdgeSetName(source);
  exact.key = {DataType::kMark, DataType::kInetProto, DataType::kInetService};
  exact.single_port_edges_of = source;
  // Single-port edges are counted lazily: an edge's first connection puts (source group << 16
  // | destination group, protocol, port) in the dynamic set `hits`, with a counter. A counter
  // on each of a hundred thousand e_gN elements would cost a per-CPU allocation each at apply
  // time (about 0.4 s of it), for edges most of which a node never sees. Ranges and ICMP
  // (few) count in their own sets.
  exact.origin = fmt::format("edges from {} (single ports)", from);
  Set ranges;
  ranges.name = PortRangeEdgeSetName(source);
  ranges.key = exact.key;
  ranges.interval = true;
  ranges.counter = true;
  ranges.origin = fmt::format("edges from {} (port ranges)", from);
  Set icmp = ranges;
  icmp.name = IcmpEdgeSetName(source);
  icmp.origin = fmt::format("edges from {} (ICMP types; type << 8 | code)", from);
  // (to, protocol, first, last) packed (group ids count policy groups: below 2^24), so that
  // a duplicate allow entry is skipped.
  std::unordered_set<std::uint64_t> seen;
  seen.reserve(rules.size());
  for (const auto* r : rules) {
    const std::uint32_t to = *context_.IdOf(r->to);
    const std::uint32_t proto = IanaProtocolNumber(r->protocol);
    std::uint32_t lo = r->ports.first;
    std::uint32_t hi = r->ports.last;
    if (IsIcmp(r->protocol)) {
      lo = lo << 8;
      hi = (hi << 8) | 0xff;
    }
    const std::uint64_t packed = (static_cast<std::uint64_t>(to) << 40) ^
                                 (static_cast<std::uint64_t>(proto) << 32) ^ (lo << 16) ^ hi;
    if (!seen.insert(packed).second) {
      continue;  // a duplicate allow entry: the kernel would refuse the second element
    }
    Element e = MakeElement({Mark(to), Value::Number(DataType::kInetProto, proto),
                             Value::Number(DataType::kInetService, lo)},
                            AllowRuleText("allow", *r));
    if (IsIcmp(r->protocol) || lo != hi) {
      e.key_end = {Mark(to), Value::Number(DataType::kInetProto, proto),
                   Value::Number(DataType::kInetService, hi)};
      (IsIcmp(r->protocol) ? icmp : ranges).elements.push_back(std::move(e));
    } else {
      exact.elements.push_back(std::move(e));
    }
  }
  table_.sets.push_back(std::move(exact));
  if (!ranges.elements.empty()) {
    with_ranges_.insert(source);
    table_.sets.push_back(std::move(ranges));
  }
  if (!icmp.elements.empty()) {
    with_icmp_.insert(source);
    table_.sets.push_back(std::move(icmp));
  }
}

Chain InetTableBuilder::BaseChain(Hook hook) const {
  Chain c;
  c.name = std::string(HookName(hook));
  c.base = BaseHook{hook, 0};
  c.rules.push_back(
      MakeRule({FieldMatch({Field::kCtState}, Match::Op::kAnyBit, Mark(kCtStateEstablishedRelated)),
                MakeVerdict(Verdict::Kind::kAccept)},
               "established and related connections"));
  AddFailsafeRules(c, hook);
  std::vector<Statement> nd = Icmpv6Dependency(Family::kInet);
  nd.push_back(InSet({Field::kIcmpv6Type}, kNeighbourDiscoverySet));
  nd.push_back(MakeVerdict(Verdict::Kind::kAccept));
  c.rules.push_back(MakeRule(std::move(nd), "ICMPv6 neighbour discovery"));
  if (any_iface_ && hook != Hook::kOutput) {
    for (const auto& ip : kAddressFamilies) {
      c.rules.push_back(AntiSpoofByPort(ip));
    }
  }
  for (const auto& ip : kAddressFamilies) {
    AddManagedSourceRules(c, hook, ip);
  }
  return c;
}

// A new connection of a managed workload goes to its source chain (forward, input) or to the
// judge chain of the hook.
void InetTableBuilder::AddManagedSourceRules(Chain& c, Hook hook, const AddressFamily& ip) const {
  const Match dependency = IpDependency(Family::kInet, ip.v6);
  const std::string_view group_map = GroupMapName(ip.family);
  if (hook != Hook::kOutput) {
    // The common case in one rule: a managed source while ct mark is free. Its group goes
    // into ct mark on the way (one lookup where "managed?" and "which group?" took two).
    SetCtMark source_group;
    source_group.map_key = ip.saddr;
    source_group.map = std::string(group_map);
    const Verdict to_source = MakeVerdict(Verdict::Kind::kGoto, SourceChainName(hook, ip.family));
    c.rules.push_back(MakeRule({FieldMatch({Field::kCtMark}, Match::Op::kEq, Mark(0)), dependency,
                                source_group, to_source},
                               "managed source: its group into ct mark"));
  }
  const Verdict judge = MakeVerdict(Verdict::Kind::kGoto, JudgeChainName(hook, ip.family));
  switch (hook) {
    case Hook::kForward:
      for (Field f : {ip.saddr, ip.daddr}) {
        c.rules.push_back(MakeRule({dependency, InSet({f}, group_map), judge},
                                   "judge new connections of managed workloads"));
      }
      break;
    case Hook::kInput:
      c.rules.push_back(MakeRule({dependency, InSet({ip.saddr}, group_map), judge},
                                 "judge new connections from managed workloads to the host"));
      break;
    case Hook::kOutput:
      c.rules.push_back(MakeRule({dependency, InSet({ip.daddr}, group_map), judge},
                                 "judge new connections from the host to managed workloads"));
      break;
    case Hook::kPrerouting:
      std::abort();  // the inet table has no prerouting chain: a programming error
  }
}

// One end of a failsafe entry as a match on `field`: world is "not in grp", a group is its
// fs_g set. False when the end needs no address (any, host).
bool InetTableBuilder::AddFailsafeEnd(std::vector<Statement>& s, const std::string& end,
                                      Field field, const AddressFamily& ip) const {
  if (end == policy::kAnyGroup || end == policy::kHostGroup) {
    return false;
  }
  if (end == policy::kWorldGroup) {
    s.push_back(InSet({field}, GroupMapName(ip.family), true));
    return true;
  }
  s.push_back(InSet({field}, FailsafeMemberSetName(*membership().IdOf(end), ip.family)));
  return true;
}

// One rule per failsafe entry and address family (a family-neutral one when neither end
// needs addresses), in the chains the entry can concern.
void InetTableBuilder::AddFailsafeRules(Chain& c, Hook hook) const {
  for (const auto& r : context_.policy.failsafe) {
    if (!FailsafeApplies(r, hook)) {
      continue;
    }
    for (const auto& ip : kAddressFamilies) {
      std::vector<Statement> s;
      s.push_back(IpDependency(Family::kInet, ip.v6));
      bool needs_family = AddFailsafeEnd(s, r.from, ip.saddr, ip);
      needs_family = AddFailsafeEnd(s, r.to, ip.daddr, ip) || needs_family;
      if (!needs_family) {
        s.erase(s.begin());
      }
      if ((r.protocol == policy::Protocol::kIcmp && ip.v6) ||
          (r.protocol == policy::Protocol::kIcmpv6 && !ip.v6)) {
        continue;
      }
      AddProtocolAndPorts(s, r);
      s.push_back(MakeVerdict(Verdict::Kind::kAccept));
      c.rules.push_back(MakeRule(std::move(s), AllowRuleText("failsafe", r)));
      if (!needs_family) {
        break;  // one family-neutral rule covers IPv4 and IPv6
      }
    }
  }
}

// src_* / judge_*: the ct mark is bulkhead's scratch register only while it is 0 (nobody else
// marked the connection); the chain that set it restores it to 0. A connection someone else
// already marked cannot be matched and is judged as a violation (README: "ct mark").
//
// Forward: container to container (bridged or routed) and container <-> world. judge_fwd sees
// what src_fwd did not take: a source outside grp (world: ct mark 0 is its id) to a managed
// destination, or a connection someone else marked.
void InetTableBuilder::AddForwardJudgeChains(const AddressFamily& ip) {
  Chain source = SourceChainHead(Hook::kForward, ip, kEdgesForwardMap, "edges of the source group");
  AddModeRules(source, ip, {ip.saddr, ip.daddr}, std::nullopt);
  Chain match;
  match.name = MatchChainName(Hook::kForward, ip.family);
  match.rules.push_back(
      MakeRule({VmapLookup{Field::kCtMark, std::string(kEdgesForwardMap)}}, "edges from world"));
  match.rules.push_back(RestoreCtMark());
  Chain judge = JudgeHead(JudgeChainName(Hook::kForward, ip.family), match.name);
  AddModeRules(judge, ip, {ip.saddr, ip.daddr}, std::nullopt);
  table_.chains.push_back(std::move(source));
  table_.chains.push_back(std::move(judge));
  table_.chains.push_back(std::move(match));
}

// Input: managed workload to the host; the destination group is always host. judge_in sees
// only connections someone else marked (a free ct mark went to src_in).
void InetTableBuilder::AddInputJudgeChains(const AddressFamily& ip) {
  Chain source =
      SourceChainHead(Hook::kInput, ip, kEdgesToHostMap, "edges of the source group to the host");
  AddModeRules(source, ip, {ip.saddr}, membership().host_mode);
  Chain judge;
  judge.name = JudgeChainName(Hook::kInput, ip.family);
  AddModeRules(judge, ip, {ip.saddr}, membership().host_mode);
  table_.chains.push_back(std::move(source));
  table_.chains.push_back(std::move(judge));
}

// Output: the host to a managed workload; the source group is always host.
void InetTableBuilder::AddOutputJudgeChains(const AddressFamily& ip) {
  Chain match;
  match.name = MatchChainName(Hook::kOutput, ip.family);
  if (by_source_.count(kHostGroupId) != 0) {
    match.rules.push_back(MakeRule({MakeVerdict(Verdict::Kind::kJump, EdgeChainName(kHostGroupId))},
                                   "edges from host"));
  }
  match.rules.push_back(RestoreCtMark());
  Chain judge = JudgeHead(JudgeChainName(Hook::kOutput, ip.family), match.name);
  AddModeRules(judge, ip, {ip.daddr}, membership().host_mode);
  table_.chains.push_back(std::move(judge));
  table_.chains.push_back(std::move(match));
}

Chain InetTableBuilder::DestinationGroupChain() {
  Chain dst;
  dst.name = std::string(kDestinationGroupChain);
  dst.rules.push_back(MakeRule({SetCtMark{}}, "destination group: world unless known"));
  for (const auto& ip : kAddressFamilies) {
    SetCtMark s;
    s.map_key = ip.daddr;
    s.map = std::string(GroupMapName(ip.family));
    dst.rules.push_back(
        MakeRule({IpDependency(Family::kInet, ip.v6), s}, "destination group into ct mark"));
  }
  return dst;
}

// from_gN / to_host_gN: the source group's edges, entered with the source group id in ct mark
// (edges_fwd / edges_in). The chain puts the destination group there instead (from_gN: the
// grp map, world when unknown; to_host_gN: host) and looks (destination group, protocol,
// port) up in the group's edge sets. On a hit, ct mark goes back to 0 before accept.
Chain InetTableBuilder::EdgeChain(std::uint32_t source, const std::string& name,
                                  bool to_host) const {
  Chain c;
  c.name = name;
  if (to_host) {
    SetCtMark host;
    host.number = kHostGroupId;
    c.rules.push_back(MakeRule({host}, "destination group: host"));
  } else {
    // One shared chain does the lookup: a rule naming a map binds to it, and the kernel checks
    // every element added to a map against each binding (a thousand groups would make each
    // grp element cost a thousand checks).
    c.rules.push_back(
        MakeRule({MakeVerdict(Verdict::Kind::kJump, kDestinationGroupChain)}, "destination group"));
  }
  // The edge counts in `hits` under (source << 16 | destination) before the accept. Should
  // the hit set be full (the update fails and ends the rule), the next rule still allows the
  // edge, uncounted.
  const std::vector<Field> key{Field::kCtMark, Field::kL4proto, Field::kThDport};
  const std::string single_ports = SinglePortEdgeSetName(source);
  std::vector<Statement> counted{InSet(key, single_ports)};
  std::vector<Statement> uncounted;
  if (source != kWorldGroupId) {
    SetCtMark pair;
    pair.bitwise = true;
    pair.or_bits = source << 16;
    counted.push_back(pair);
    SetCtMark unpair;  // the destination group again
    unpair.bitwise = true;
    unpair.and_mask = 0xffff;
    uncounted.push_back(unpair);
  }
  counted.insert(counted.end(), {UpdateSet{key, std::string(kHitSet), std::nullopt}, SetCtMark{},
                                 MakeVerdict(Verdict::Kind::kAccept)});
  c.rules.push_back(MakeRule(std::move(counted), "allowed edges (single ports), counted in hits"));
  uncounted.insert(uncounted.end(),
                   {InSet(key, single_ports), SetCtMark{}, MakeVerdict(Verdict::Kind::kAccept)});
  c.rules.push_back(
      MakeRule(std::move(uncounted), "allowed edges (single ports), the hit set full"));
  auto lookup = [&](const std::string& set, Field port, std::string origin) {
    c.rules.push_back(MakeRule({InSet({Field::kCtMark, Field::kL4proto, port}, set), SetCtMark{},
                                MakeVerdict(Verdict::Kind::kAccept)},
                               std::move(origin)));
  };
  if (with_ranges_.count(source) != 0) {
    lookup(PortRangeEdgeSetName(source), Field::kThDport, "allowed edges (port ranges)");
  }
  if (with_icmp_.count(source) != 0) {
    lookup(IcmpEdgeSetName(source), Field::kThSport, "allowed edges (ICMP types)");
  }
  return c;
}

}  // namespace

Table BuildInetTable(const CompileContext& context, std::vector<std::string>& warnings) {
  return InetTableBuilder(context, warnings).Build();
}

}  // namespace bulkhead::enforcer::internal
