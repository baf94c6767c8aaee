#include "enforcer/compiler.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

namespace bulkhead::enforcer {
namespace {

using policy::Mode;
using policy::Protocol;

constexpr std::uint32_t kNfprotoIpv4 = 2;
constexpr std::uint32_t kNfprotoIpv6 = 10;
constexpr std::uint32_t kEtherTypeIpv4 = 0x0800;
constexpr std::uint32_t kEtherTypeIpv6 = 0x86dd;
constexpr std::uint32_t kEtherTypeArp = 0x0806;
constexpr std::uint32_t kCtStateEstablishedRelated = 0x06;  // NF_CT_STATE_BIT(ESTABLISHED|RELATED)
constexpr std::uint32_t kIcmpv6NextHeader = 58;

std::uint32_t IanaNumber(Protocol p) {
  switch (p) {
    case Protocol::kTcp:
      return 6;
    case Protocol::kUdp:
      return 17;
    case Protocol::kIcmp:
      return 1;
    case Protocol::kIcmpv6:
      return 58;
    case Protocol::kSctp:
      return 132;
  }
  return 0;
}

std::string_view ProtoText(Protocol p) {
  switch (p) {
    case Protocol::kTcp:
      return "tcp";
    case Protocol::kUdp:
      return "udp";
    case Protocol::kIcmp:
      return "icmp";
    case Protocol::kIcmpv6:
      return "icmpv6";
    case Protocol::kSctp:
      return "sctp";
  }
  return "?";
}

bool IsIcmp(Protocol p) { return p == Protocol::kIcmp || p == Protocol::kIcmpv6; }

std::string RuleText(std::string_view what, const policy::AllowRule& r) {
  if (r.ports.first == r.ports.last) {
    return fmt::format("{} {} -> {} {}/{}", what, r.from, r.to, ProtoText(r.protocol),
                       r.ports.first);
  }
  return fmt::format("{} {} -> {} {}/{}-{}", what, r.from, r.to, ProtoText(r.protocol),
                     r.ports.first, r.ports.last);
}

Value Num(DataType t, std::uint32_t n) { return Value::Number(t, n); }

Match M(std::vector<Field> key, Match::Op op, Value v = {}, std::string set = {}) {
  Match m;
  m.key = std::move(key);
  m.op = op;
  m.value = std::move(v);
  m.set = std::move(set);
  return m;
}

Match InSet(std::vector<Field> key, std::string set, bool negate = false) {
  return M(std::move(key), negate ? Match::Op::kNotInSet : Match::Op::kInSet, {}, std::move(set));
}

// The protocol dependency nft inserts before an ip/ip6 field (`meta nfproto ipv4` in inet,
// `ether type ip` in bridge). Kept in the model so the netlink encoding equals nft's.
Match IpDep(Family family, bool v6) {
  Match m = family == Family::kInet
                ? M({Field::kNfproto}, Match::Op::kEq,
                    Num(DataType::kInetProto, v6 ? kNfprotoIpv6 : kNfprotoIpv4))
                : M({Field::kEtherType}, Match::Op::kEq,
                    Num(DataType::kEtherType, v6 ? kEtherTypeIpv6 : kEtherTypeIpv4));
  m.implicit = true;
  return m;
}

// The dependency nft inserts before an `arp` field in the bridge family: `ether type arp`.
Match ArpDep() {
  Match m = M({Field::kEtherType}, Match::Op::kEq, Num(DataType::kEtherType, kEtherTypeArp));
  m.implicit = true;
  return m;
}

// The dependencies nft inserts before an `icmpv6` field: the IPv6 protocol test of the family
// (IpDep) and `meta l4proto ipv6-icmp`.
std::vector<Statement> Icmpv6Dep(Family family) {
  Match l4 = M({Field::kL4proto}, Match::Op::kEq, Num(DataType::kInetProto, kIcmpv6NextHeader));
  l4.implicit = true;
  return {IpDep(family, true), l4};
}

// A hash set's size: at least twice its elements, a power of two, at least 64. With a size the
// kernel builds a hash of that size at once instead of growing (and rehashing) one while a
// quarter of a million elements arrive. Twice leaves room for churn without a change of
// structure (membership_update.h checks the room); the power of two keeps the size the same
// through small changes of a recompiled set. Interval sets stay unbounded.
std::uint32_t SizeFor(std::size_t elements) {
  return std::max<std::uint32_t>(64, std::bit_ceil(static_cast<std::uint32_t>(2 * elements)));
}

// Sizes every hash set of the table (SizeFor); the hit set for every single-port edge.
void SizeSets(Table& t) {
  std::size_t edges = 0;
  for (Set& s : t.sets) {
    s.size = s.interval ? 0 : SizeFor(s.elements.size());
    edges += SinglePortEdgeSource(s.name) ? s.elements.size() : 0;
  }
  for (Set& s : t.sets) {
    if (s.dynamic) {
      s.size = SizeFor(edges);
    }
  }
}

Verdict V(Verdict::Kind k, std::string chain = {}) { return Verdict{k, std::move(chain)}; }

Rule R(std::vector<Statement> s, std::string origin) { return Rule{std::move(s), std::move(origin)}; }

struct Ip {
  bool v6;
  Field saddr;
  Field daddr;
  DataType addr;
  const char* sfx;
  // The per-family membership set names, spelled out (no formatting on the per-element path).
  std::string_view grp, enforce, monitor, ifaddr, owned;
};
constexpr Ip kV4{false,      Field::kIpSaddr, Field::kIpDaddr, DataType::kIpv4Addr, "4",
                 "grp4",     "enforce4",      "monitor4",      "ifaddr4",          "owned4"};
constexpr Ip kV6{true,       Field::kIp6Saddr, Field::kIp6Daddr, DataType::kIpv6Addr, "6",
                 "grp6",     "enforce6",       "monitor6",       "ifaddr6",          "owned6"};

std::string N(std::string_view base, const Ip& ip) { return fmt::format("{}{}", base, ip.sfx); }

Set AddrSet(std::string name, DataType t, std::string origin) {
  Set s;
  s.name = std::move(name);
  s.key = {t};
  s.origin = std::move(origin);
  return s;
}

Element Elem(std::vector<Value> key, std::string origin) {
  Element e;
  e.key = std::move(key);
  e.origin = std::move(origin);
  return e;
}

// Rules that end the judgment of a violation: a rate-limited NFLOG record, then a counted verdict.
Chain VerdictChain(std::string name, std::string_view log_prefix, std::string_view counter,
                   Verdict::Kind kind, const CompileOptions& o) {
  Chain c;
  c.name = std::move(name);
  c.rules.push_back(R({Limit{o.log_rate_per_second, o.log_burst},
                       CounterRef{std::string(kCounterLogged)},
                       Log{std::string(log_prefix), o.log_group}},
                      "violation log"));
  c.rules.push_back(R({CounterRef{std::string(counter)}, V(kind)}, "violation verdict"));
  return c;
}

// The membership elements of one workload in `family`'s table, to `sink(set name, element)`,
// in the order CompileRuleset fills each set (public wrapper: ForEachMemberElement).
template <class Sink>
void EmitMemberElements(Family family, const ResolvedGroup& g, const MemberWorkload& w,
                        bool failsafe_group, Sink&& sink) {
  const bool has_iface = !w.interface.empty();
  if (family == Family::kBridge) {
    if (!has_iface) {
      return;
    }
    std::string origin = fmt::format("workload {}", w.name);
    sink("wl_ifaces", Elem({Value::Ifname(w.interface)}, origin));
    for (const Ip& ip : {kV4, kV6}) {
      for (const Value& a : ip.v6 ? w.v6 : w.v4) {
        sink(ip.ifaddr, Elem({Value::Ifname(w.interface), a}, origin));
        sink(ip.owned, Elem({a}, origin));
      }
    }
    return;
  }
  std::string in_group = fmt::format("workload {} (group {})", w.name, g.name);
  std::string origin = fmt::format("workload {}", w.name);
  for (const Ip& ip : {kV4, kV6}) {
    for (const Value& a : ip.v6 ? w.v6 : w.v4) {
      if (g.mode == Mode::kEnforce) {
        sink(ip.enforce, Elem({a}, in_group));
      } else if (g.mode == Mode::kMonitor) {
        sink(ip.monitor, Elem({a}, in_group));
      }
      Element ge = Elem({a}, in_group);
      ge.data = Num(DataType::kMark, g.id);
      sink(ip.grp, std::move(ge));
      if (has_iface) {
        sink(ip.ifaddr, Elem({Value::Ifname(w.interface), a}, origin));
      }
      if (failsafe_group) {
        sink(fmt::format("fs_g{}_{}", g.id, ip.sfx), Elem({a}, origin));
      }
    }
  }
  if (has_iface) {
    sink("wl_ifaces", Elem({Value::Ifname(w.interface)}, origin));
  }
}

// Fills a table's membership sets (those EmitMemberElements names and the table declares) from
// every member of every group. A shared interface is listed once.
void FillMemberSets(Table& t, const Membership& mem, const std::set<std::string>& failsafe) {
  std::unordered_map<std::string_view, Set*> by_name;
  for (Set& set : t.sets) {
    by_name.emplace(set.name, &set);
  }
  std::set<std::string> seen_ifaces;
  for (const auto& g : mem.groups) {
    const bool fs = failsafe.count(g.name) != 0;
    for (const auto& w : g.members) {
      EmitMemberElements(t.family, g, w, fs, [&](std::string_view set, Element e) {
        if (set == "wl_ifaces" && !seen_ifaces.insert(e.key[0].name).second) {
          return;
        }
        if (auto it = by_name.find(set); it != by_name.end()) {
          it->second->elements.push_back(std::move(e));
        }
      });
    }
  }
}

class Compiler {
 public:
  Compiler(const policy::Policy& p, const policy::Inventory& inv, const CompileOptions& o)
      : policy_(p), inventory_(inv), options_(o) {}

  boost::system::result<CompiledPolicy, std::vector<std::string>> Run() {
    const Mode global = options_.mode.value_or(policy_.mode);
    auto membership = ResolveMembership(policy_, inventory_, global);
    if (!membership) {
      return membership.error();
    }
    out_.membership = std::move(*membership);
    global_ = global;
    if (policy_.groups.size() > kMaxPolicyGroups) {
      return std::vector<std::string>{fmt::format(
          "{} groups: at most {} (a connection carries two group ids in 32 bits)",
          policy_.groups.size(), kMaxPolicyGroups)};
    }
    ids_.emplace(std::string(policy::kWorldGroup), kWorldGroupId);
    ids_.emplace(std::string(policy::kHostGroup), kHostGroupId);
    for (const auto& g : mem().groups) {
      ids_.emplace(g.name, g.id);
    }
    CheckRules();
    if (!errors_.empty()) {
      return errors_;
    }
    BuildInet();
    if (options_.bridge_table) {
      BuildBridge();
    }
    return std::move(out_);
  }

 private:
  const Membership& mem() const { return out_.membership; }

  // Membership::IdOf through a hash map: the compiler asks it for both ends of every edge.
  std::optional<std::uint32_t> IdOf(const std::string& name) const {
    auto it = ids_.find(name);
    return it == ids_.end() ? std::nullopt : std::optional<std::uint32_t>(it->second);
  }

  // Validates every allow/failsafe entry and sorts allow rules by source group.
  void CheckRules() {
    auto check = [&](const policy::AllowRule& r, bool failsafe) {
      const char* what = failsafe ? "failsafe" : "allow";
      for (const std::string* end : {&r.from, &r.to}) {
        bool any = failsafe && *end == policy::kAnyGroup;
        if (!any && !IdOf(*end)) {
          errors_.push_back(fmt::format("{}: unknown group '{}'", RuleText(what, r), *end));
        } else if (!any && IdOf(*end) == kImplicitGroupId) {
          errors_.push_back(fmt::format("{}: unknown group '{}'", RuleText(what, r), *end));
        }
      }
      if (r.ports.first > r.ports.last) {
        errors_.push_back(fmt::format("{}: empty port range", RuleText(what, r)));
      }
      if (IsIcmp(r.protocol) && r.ports.last > 255) {
        errors_.push_back(fmt::format("{}: ICMP type above 255", RuleText(what, r)));
      }
      if (r.from == policy::kHostGroup && r.to == policy::kHostGroup) {
        errors_.push_back(fmt::format("{}: host to host is never judged", RuleText(what, r)));
      }
    };
    for (const auto& r : policy_.allow) {
      check(r, false);
    }
    for (const auto& r : policy_.failsafe) {
      check(r, true);
    }
  }

  void BuildInet() {
    Table t;
    t.family = Family::kInet;
    t.name = std::string(kTableName);
    t.counters = {std::string(kCounterLogged), std::string(kCounterDropped),
                  std::string(kCounterMonitored), std::string(kCounterSpoofed)};

    // Edges by source group: one chain and up to three sets per group with outgoing edges.
    std::map<std::uint32_t, std::vector<const policy::AllowRule*>> by_src;
    for (const auto& r : policy_.allow) {
      by_src[*IdOf(r.from)].push_back(&r);
    }
    std::map<std::uint32_t, std::string> src_chain;  // group id -> chain name
    std::map<std::uint32_t, std::string> to_host_chain;  // groups with edges to the host
    for (auto& [gid, rules] : by_src) {
      BuildEdgeSets(t, gid, rules, src_chain);
      if (gid != kWorldGroupId &&
          std::any_of(rules.begin(), rules.end(),
                      [](const policy::AllowRule* r) { return r->to == policy::kHostGroup; })) {
        to_host_chain[gid] = fmt::format("to_host_g{}", gid);
      }
    }

    const bool any_iface = std::any_of(mem().groups.begin(), mem().groups.end(), [](const auto& g) {
      return std::any_of(g.members.begin(), g.members.end(),
                         [](const MemberWorkload& m) { return !m.interface.empty(); });
    });

    for (const Ip& ip : {kV4, kV6}) {
      Set enforce = AddrSet(std::string(ip.enforce), ip.addr, "workloads in enforce mode");
      Set monitor = AddrSet(std::string(ip.monitor), ip.addr, "workloads in monitor mode");
      // Also the set of managed workloads: `ip saddr @grp4` tests that an address has a group.
      Set grp = AddrSet(std::string(ip.grp), ip.addr, "address -> group id (managed workloads)");
      grp.data = DataType::kMark;
      for (Set* s : {&enforce, &monitor, &grp}) {
        t.sets.push_back(std::move(*s));
      }
    }
    // Source group id -> chain of its edges. Keyed by group, not by address, so that container
    // churn never adds a `jump` element: a new jump element makes the kernel re-check the whole
    // table for loops at commit (O(workloads)); these maps change only with the policy.
    Set edges_fwd = AddrSet("edges_fwd", DataType::kMark, "source group -> chain of its edges");
    edges_fwd.data = DataType::kVerdict;
    Set edges_in =
        AddrSet("edges_in", DataType::kMark, "source group -> chain of its edges to the host");
    edges_in.data = DataType::kVerdict;
    for (const auto& [gid, rules] : by_src) {
      const std::string& from = rules.front()->from;
      if (gid != kHostGroupId) {
        Element e = Elem({Num(DataType::kMark, gid)}, fmt::format("group {}", from));
        e.verdict = V(Verdict::Kind::kJump, src_chain.at(gid));
        edges_fwd.elements.push_back(std::move(e));
      }
      if (to_host_chain.count(gid) != 0) {
        Element e = Elem({Num(DataType::kMark, gid)}, fmt::format("group {}", from));
        e.verdict = V(Verdict::Kind::kJump, to_host_chain.at(gid));
        edges_in.elements.push_back(std::move(e));
      }
    }
    t.sets.push_back(std::move(edges_fwd));
    t.sets.push_back(std::move(edges_in));
    Set hits = AddrSet(std::string(kHitSet), DataType::kMark,
                       "single-port edges in use: (source << 16 | destination, protocol, port)");
    hits.key = {DataType::kMark, DataType::kInetProto, DataType::kInetService};
    hits.dynamic = true;
    t.sets.push_back(std::move(hits));
    if (any_iface) {
      t.sets.push_back(AddrSet("wl_ifaces", DataType::kIfname, "interfaces of managed workloads"));
      for (const Ip& ip : {kV4, kV6}) {
        t.sets.push_back(IfaceAddrSet(ip));
      }
    } else {
      out_.warnings.push_back("no workload has an interface: no anti-spoofing on routed ports");
    }
    Set nd = AddrSet("nd6", DataType::kIcmpv6Type, "ICMPv6 neighbour discovery and MLD");
    // RFC 4861 (133-137) and MLD (130-132, RFC 2710; 143, RFC 3810): IPv6 breaks without them.
    for (std::uint32_t type : {130u, 131u, 132u, 133u, 134u, 135u, 136u, 137u, 143u}) {
      nd.elements.push_back(Elem({Num(DataType::kIcmpv6Type, type)}, "neighbour discovery"));
    }
    t.sets.push_back(std::move(nd));
    BuildFailsafeSets(t);
    FillMemberSets(t, mem(), FailsafeGroups(policy_, mem()));
    SizeSets(t);

    const bool has_host_edges = src_chain.count(kHostGroupId) != 0;

    for (const char* hook : {"forward", "input", "output"}) {
      Chain c;
      c.name = hook;
      c.base = BaseHook{hook, 0};
      std::string h = hook;
      c.rules.push_back(R({M({Field::kCtState}, Match::Op::kAnyBit,
                             Num(DataType::kMark, kCtStateEstablishedRelated)),
                           V(Verdict::Kind::kAccept)},
                          "established and related connections"));
      AddFailsafeRules(c, h);
      {
        std::vector<Statement> s = Icmpv6Dep(Family::kInet);
        s.push_back(InSet({Field::kIcmpv6Type}, "nd6"));
        s.push_back(V(Verdict::Kind::kAccept));
        c.rules.push_back(R(std::move(s), "ICMPv6 neighbour discovery"));
      }
      if (any_iface && h != "output") {
        for (const Ip& ip : {kV4, kV6}) {
          c.rules.push_back(AntiSpoofByPort(Family::kInet, ip));
        }
      }
      for (const Ip& ip : {kV4, kV6}) {
        if (h != "output") {
          // The common case in one rule: a managed source while ct mark is free. Its group goes
          // into ct mark on the way (one lookup where "managed?" and "which group?" took two).
          SetCtMark src;
          src.map_key = ip.saddr;
          src.map = std::string(ip.grp);
          c.rules.push_back(R({M({Field::kCtMark}, Match::Op::kEq, Num(DataType::kMark, 0)),
                               IpDep(Family::kInet, ip.v6), src,
                               V(Verdict::Kind::kGoto, N(h == "forward" ? "src_fwd" : "src_in", ip))},
                              "managed source: its group into ct mark"));
        }
        if (h == "forward") {
          for (Field f : {ip.saddr, ip.daddr}) {
            c.rules.push_back(R({IpDep(Family::kInet, ip.v6), InSet({f}, std::string(ip.grp)),
                                 V(Verdict::Kind::kGoto, N("judge_fwd", ip))},
                                "judge new connections of managed workloads"));
          }
        } else if (h == "input") {
          c.rules.push_back(R({IpDep(Family::kInet, ip.v6), InSet({ip.saddr}, std::string(ip.grp)),
                               V(Verdict::Kind::kGoto, N("judge_in", ip))},
                              "judge new connections from managed workloads to the host"));
        } else {
          c.rules.push_back(R({IpDep(Family::kInet, ip.v6), InSet({ip.daddr}, std::string(ip.grp)),
                               V(Verdict::Kind::kGoto, N("judge_out", ip))},
                              "judge new connections from the host to managed workloads"));
        }
      }
      t.chains.push_back(std::move(c));
    }

    for (const Ip& ip : {kV4, kV6}) {
      BuildJudgeChains(t, ip, has_host_edges, src_chain);
    }
    {
      Chain dst;
      dst.name = "dst_group";
      dst.rules.push_back(R({SetCtMark{}}, "destination group: world unless known"));
      for (const Ip& ip : {kV4, kV6}) {
        SetCtMark s;
        s.map_key = ip.daddr;
        s.map = std::string(ip.grp);
        dst.rules.push_back(R({IpDep(Family::kInet, ip.v6), s}, "destination group into ct mark"));
      }
      t.chains.push_back(std::move(dst));
    }
    for (auto& [gid, rules] : by_src) {
      t.chains.push_back(EdgeChain(gid, src_chain.at(gid), false));
      if (auto it = to_host_chain.find(gid); it != to_host_chain.end()) {
        t.chains.push_back(EdgeChain(gid, it->second, true));
      }
    }
    t.chains.push_back(VerdictChain("deny", "bulkhead deny ", kCounterDropped,
                                    Verdict::Kind::kDrop, options_));
    t.chains.push_back(VerdictChain("warn", "bulkhead warn ", kCounterMonitored,
                                    Verdict::Kind::kAccept, options_));
    t.chains.push_back(SpoofChain(kCounterSpoofed, "bulkhead spoofed "));
    out_.ruleset.tables.push_back(std::move(t));
  }

  Chain SpoofChain(std::string_view counter, std::string_view prefix) const {
    return VerdictChain(std::string(counter), prefix, counter,
                        global_ == Mode::kEnforce ? Verdict::Kind::kDrop : Verdict::Kind::kAccept,
                        options_);
  }

  static Set IfaceAddrSet(const Ip& ip) {
    Set s;
    s.name = std::string(ip.ifaddr);
    s.key = {DataType::kIfname, ip.addr};
    s.origin = "interface . address of each workload";
    return s;
  }

  // `iifname @wl_ifaces iifname . ip saddr != @ifaddr4 goto spoofed`: a workload's interface
  // carries only that workload's addresses (IPv6: link-local and unspecified sources excepted,
  // neighbour discovery needs them).
  Rule AntiSpoofByPort(Family family, const Ip& ip) const {
    // The family first: a new connection of the other family then skips the interface lookup
    // (nft lists the rule the same either way).
    std::vector<Statement> s;
    s.push_back(IpDep(family, ip.v6));
    s.push_back(InSet({Field::kIifname}, "wl_ifaces"));
    if (ip.v6) {
      Value unspecified = *Value::Address("::");
      s.push_back(M({ip.saddr}, Match::Op::kNeq, unspecified));
      Match ll = M({ip.saddr}, Match::Op::kNeq, *Value::Address("fe80::"));
      ll.prefix_len = 10;
      s.push_back(ll);
    }
    s.push_back(InSet({Field::kIifname, ip.saddr}, std::string(ip.ifaddr), true));
    s.push_back(V(Verdict::Kind::kGoto, std::string(kCounterSpoofed)));
    return R(std::move(s), "anti-spoofing: a workload sends only from its own addresses");
  }

  void BuildEdgeSets(Table& t, std::uint32_t gid, const std::vector<const policy::AllowRule*>& rules,
                     std::map<std::uint32_t, std::string>& src_chain) {
    std::string from = rules.front()->from;
    std::string base = fmt::format("g{}", gid);
    src_chain[gid] = "from_" + base;
    Set exact;
    exact.name = "e_" + base;  // SinglePortEdgeSource reads the group back from the name
    exact.key = {DataType::kMark, DataType::kInetProto, DataType::kInetService};
    // Single-port edges are counted lazily: an edge's first connection puts (source group << 16
    // | destination group, protocol, port) in the dynamic set `hits`, with a counter. A counter
    // on each of a hundred thousand e_gN elements would cost a per-CPU allocation each at apply
    // time (about 0.4 s of it), for edges most of which a node never sees. Ranges and ICMP
    // (few) count in their own sets.
    exact.origin = fmt::format("edges from {} (single ports)", from);
    Set ranges = exact;
    ranges.name = "r_" + base;
    ranges.interval = true;
    ranges.counter = true;
    ranges.origin = fmt::format("edges from {} (port ranges)", from);
    Set icmp = ranges;
    icmp.name = "i_" + base;
    icmp.origin = fmt::format("edges from {} (ICMP types; type << 8 | code)", from);
    // (to, protocol, first, last) packed (group ids count policy groups: below 2^24), so that
    // a duplicate allow entry is skipped.
    std::unordered_set<std::uint64_t> seen;
    seen.reserve(rules.size());
    for (const auto* r : rules) {
      std::uint32_t to = *IdOf(r->to);
      std::uint32_t proto = IanaNumber(r->protocol);
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
      Element e = Elem({Num(DataType::kMark, to), Num(DataType::kInetProto, proto),
                        Num(DataType::kInetService, lo)},
                       RuleText("allow", *r));
      if (IsIcmp(r->protocol) || lo != hi) {
        e.key_end = {Num(DataType::kMark, to), Num(DataType::kInetProto, proto),
                     Num(DataType::kInetService, hi)};
        (IsIcmp(r->protocol) ? icmp : ranges).elements.push_back(std::move(e));
      } else {
        exact.elements.push_back(std::move(e));
      }
    }
    with_ranges_[gid] = !ranges.elements.empty();
    with_icmp_[gid] = !icmp.elements.empty();
    for (Set* s : {&exact, &ranges, &icmp}) {
      if (!s->elements.empty() || s == &exact) {
        t.sets.push_back(std::move(*s));
      }
    }
  }

  // from_gN / to_host_gN: the source group's edges, entered with the source group id in ct mark
  // (edges_fwd / edges_in). The chain puts the destination group there instead (from_gN: the
  // grp map, world when unknown; to_host_gN: host) and looks (destination group, protocol,
  // port) up in the group's edge sets. On a hit, ct mark goes back to 0 before accept.
  Chain EdgeChain(std::uint32_t gid, const std::string& name, bool to_host) const {
    Chain c;
    c.name = name;
    if (to_host) {
      SetCtMark host;
      host.number = kHostGroupId;
      c.rules.push_back(R({host}, "destination group: host"));
    } else {
      // One shared chain does the lookup: a rule naming a map binds to it, and the kernel checks
      // every element added to a map against each binding (a thousand groups would make each
      // grp element cost a thousand checks).
      c.rules.push_back(R({V(Verdict::Kind::kJump, "dst_group")}, "destination group"));
    }
    std::string base = fmt::format("g{}", gid);
    auto lookup = [&](const std::string& set, Field port, std::string origin) {
      c.rules.push_back(R({InSet({Field::kCtMark, Field::kL4proto, port}, set), SetCtMark{},
                           V(Verdict::Kind::kAccept)},
                          std::move(origin)));
    };
    // The edge counts in `hits` under (source << 16 | destination) before the accept. Should
    // the hit set be full (the update fails and ends the rule), the next rule still allows the
    // edge, uncounted.
    const std::vector<Field> key{Field::kCtMark, Field::kL4proto, Field::kThDport};
    std::vector<Statement> counted{InSet(key, "e_" + base)};
    if (gid != kWorldGroupId) {
      SetCtMark pair;
      pair.bitwise = true;
      pair.or_bits = gid << 16;
      counted.push_back(pair);
    }
    counted.push_back(UpdateSet{key, std::string(kHitSet)});
    counted.push_back(SetCtMark{});
    counted.push_back(V(Verdict::Kind::kAccept));
    c.rules.push_back(R(std::move(counted), "allowed edges (single ports), counted in hits"));
    std::vector<Statement> uncounted;
    if (gid != kWorldGroupId) {
      SetCtMark unpair;  // the destination group again
      unpair.bitwise = true;
      unpair.and_mask = 0xffff;
      uncounted.push_back(unpair);
    }
    uncounted.push_back(InSet(key, "e_" + base));
    uncounted.push_back(SetCtMark{});
    uncounted.push_back(V(Verdict::Kind::kAccept));
    c.rules.push_back(R(std::move(uncounted), "allowed edges (single ports), the hit set full"));
    if (with_ranges_.at(gid)) {
      lookup("r_" + base, Field::kThDport, "allowed edges (port ranges)");
    }
    if (with_icmp_.at(gid)) {
      lookup("i_" + base, Field::kThSport, "allowed edges (ICMP types)");
    }
    return c;
  }

  // src_* / judge_*: the ct mark is bulkhead's scratch register only while it is 0 (nobody else
  // marked the connection); the chain that set it restores it to 0. A connection someone else
  // already marked cannot be matched and is judged as a violation (README: "ct mark").
  void BuildJudgeChains(Table& t, const Ip& ip, bool host_edges,
                        const std::map<std::uint32_t, std::string>& src_chain) {
    auto dep = [&] { return IpDep(Family::kInet, ip.v6); };
    auto restore = [] { return R({SetCtMark{}}, "restore ct mark"); };
    auto mode_rules = [&](Chain& c, std::vector<Field> ends, std::optional<Mode> host_mode) {
      for (auto [mode, target] : {std::pair{Mode::kEnforce, "deny"}, std::pair{Mode::kMonitor, "warn"}}) {
        std::string set(mode == Mode::kEnforce ? ip.enforce : ip.monitor);
        for (Field f : ends) {
          c.rules.push_back(R({dep(), InSet({f}, set), V(Verdict::Kind::kGoto, target)},
                              fmt::format("violation, {} mode", policy::Mode::kEnforce == mode ? "enforce" : "monitor")));
        }
        if (host_mode == mode) {
          c.rules.push_back(R({V(Verdict::Kind::kGoto, target)}, "violation, host group mode"));
        }
      }
    };
    // src_*: entered from the base chain with the managed source's group in ct mark: that
    // group's edges, then (no edge matched) the verdict.
    auto src_head = [&](const char* name, const char* map, const char* what) {
      Chain c;
      c.name = N(name, ip);
      c.rules.push_back(R({VmapLookup{Field::kCtMark, map}}, what));
      c.rules.push_back(restore());
      return c;
    };
    // Forward: container to container (bridged or routed) and container <-> world. judge_fwd
    // sees what src_fwd did not take: a source outside grp (world: ct mark 0 is its id) to a
    // managed destination, or a connection someone else marked.
    {
      Chain src = src_head("src_fwd", "edges_fwd", "edges of the source group");
      mode_rules(src, {ip.saddr, ip.daddr}, std::nullopt);
      Chain match;
      match.name = N("match_fwd", ip);
      match.rules.push_back(R({VmapLookup{Field::kCtMark, "edges_fwd"}}, "edges from world"));
      match.rules.push_back(restore());
      Chain judge = JudgeHead(N("judge_fwd", ip), match.name);
      mode_rules(judge, {ip.saddr, ip.daddr}, std::nullopt);
      t.chains.push_back(std::move(src));
      t.chains.push_back(std::move(judge));
      t.chains.push_back(std::move(match));
    }
    // Input: managed workload to the host; the destination group is always host. judge_in sees
    // only connections someone else marked (a free ct mark went to src_in).
    {
      Chain src = src_head("src_in", "edges_in", "edges of the source group to the host");
      mode_rules(src, {ip.saddr}, mem().host_mode);
      Chain judge;
      judge.name = N("judge_in", ip);
      mode_rules(judge, {ip.saddr}, mem().host_mode);
      t.chains.push_back(std::move(src));
      t.chains.push_back(std::move(judge));
    }
    // Output: the host to a managed workload; the source group is always host.
    {
      Chain match;
      match.name = N("match_out", ip);
      if (host_edges) {
        match.rules.push_back(R({V(Verdict::Kind::kJump, src_chain.at(kHostGroupId))},
                                "edges from host"));
      }
      match.rules.push_back(restore());
      Chain judge = JudgeHead(N("judge_out", ip), match.name);
      mode_rules(judge, {ip.daddr}, mem().host_mode);
      t.chains.push_back(std::move(judge));
      t.chains.push_back(std::move(match));
    }
  }

  static Chain JudgeHead(std::string name, const std::string& match_chain) {
    Chain c;
    c.name = std::move(name);
    c.rules.push_back(R({M({Field::kCtMark}, Match::Op::kEq, Num(DataType::kMark, 0)),
                         V(Verdict::Kind::kJump, match_chain)},
                        "match against allowed edges while ct mark is free"));
    return c;
  }

  // Failsafe groups get plain address sets (fs_<group>4/6) so that a failsafe rule is one
  // lookup and container churn only changes elements.
  void BuildFailsafeSets(Table& t) {
    for (const auto& name : FailsafeGroups(policy_, mem())) {
      const ResolvedGroup* g = mem().Find(name);
      for (const Ip& ip : {kV4, kV6}) {
        t.sets.push_back(AddrSet(fmt::format("fs_g{}_{}", g->id, ip.sfx), ip.addr,
                                 fmt::format("members of {} (failsafe)", name)));
      }
    }
  }

  // One rule per failsafe entry and address family (a family-neutral one when neither end
  // needs addresses), in the chains the entry can concern.
  void AddFailsafeRules(Chain& c, const std::string& hook) {
    for (const auto& r : policy_.failsafe) {
      const bool from_host = r.from == policy::kHostGroup;
      const bool to_host = r.to == policy::kHostGroup;
      bool applies = false;
      if (hook == "input") {
        applies = (to_host || r.to == policy::kAnyGroup) && !from_host;
      } else if (hook == "output") {
        applies = (from_host || r.from == policy::kAnyGroup) && !to_host;
      } else {
        applies = !from_host && !to_host;
      }
      if (!applies) {
        continue;
      }
      auto end_match = [&](const std::string& end, Field f, const Ip& ip,
                           std::vector<Statement>& s) -> bool {
        if (end == policy::kAnyGroup || end == policy::kHostGroup) {
          return false;
        }
        if (end == policy::kWorldGroup) {
          s.push_back(InSet({f}, std::string(ip.grp), true));
          return true;
        }
        s.push_back(InSet({f}, fmt::format("fs_g{}_{}", *mem().IdOf(end), ip.sfx)));
        return true;
      };
      for (const Ip& ip : {kV4, kV6}) {
        std::vector<Statement> s;
        s.push_back(IpDep(Family::kInet, ip.v6));
        bool needs_family = end_match(r.from, ip.saddr, ip, s);
        needs_family = end_match(r.to, ip.daddr, ip, s) || needs_family;
        if (!needs_family) {
          s.erase(s.begin());
        }
        if (r.protocol == Protocol::kIcmp && ip.v6) {
          continue;
        }
        if (r.protocol == Protocol::kIcmpv6 && !ip.v6) {
          continue;
        }
        s.push_back(M({Field::kL4proto}, Match::Op::kEq,
                      Num(DataType::kInetProto, IanaNumber(r.protocol))));
        std::uint32_t lo = r.ports.first;
        std::uint32_t hi = r.ports.last;
        Field port = Field::kThDport;
        if (IsIcmp(r.protocol)) {
          lo <<= 8;
          hi = (hi << 8) | 0xff;
          port = Field::kThSport;
        }
        if (lo == hi) {
          s.push_back(M({port}, Match::Op::kEq, Num(DataType::kInetService, lo)));
        } else {
          Match range = M({port}, Match::Op::kRange, Num(DataType::kInetService, lo));
          range.value_end = Num(DataType::kInetService, hi);
          s.push_back(range);
        }
        s.push_back(V(Verdict::Kind::kAccept));
        c.rules.push_back(R(std::move(s), RuleText("failsafe", r)));
        if (!needs_family) {
          break;  // one family-neutral rule covers IPv4 and IPv6
        }
      }
    }
  }

  // table bridge bulkhead: tagged frames (802.1Q, 802.1ad, PPPoE) from workload ports skip
  // br_netfilter and so the inet table; they are judged here, and port anti-spoofing runs
  // before br_netfilter for bridged workloads (whose inet iifname is the bridge).
  void BuildBridge() {
    Table t;
    t.family = Family::kBridge;
    t.name = std::string(kTableName);
    t.counters = {std::string(kCounterLogged), std::string(kCounterTagged),
                  std::string(kCounterSpoofed)};
    Set types = AddrSet("tagged_types", DataType::kEtherType, "802.1Q, 802.1ad, PPPoE");
    for (std::uint32_t et : {0x8100u, 0x88a8u, 0x8863u, 0x8864u}) {
      types.elements.push_back(Elem({Num(DataType::kEtherType, et)}, "tagged ethertype"));
    }
    t.sets.push_back(std::move(types));
    bool all_ifaces = true;
    bool any_iface = false;
    for (const auto& g : mem().groups) {
      for (const auto& w : g.members) {
        all_ifaces = all_ifaces && !w.interface.empty();
        any_iface = any_iface || !w.interface.empty();
      }
    }
    Chain pre;
    pre.name = "prerouting";
    pre.base = BaseHook{"prerouting", -300};
    // Every frame crosses this chain (the bridge family has no working `ct state` here), so a
    // workload's own traffic is accepted after one lookup: its (port, address) pair first.
    if (any_iface) {
      for (const Ip& ip : {kV4, kV6}) {
        pre.rules.push_back(R({IpDep(Family::kBridge, ip.v6),
                               InSet({Field::kIifname, ip.saddr}, std::string(ip.ifaddr)),
                               V(Verdict::Kind::kAccept)},
                              "a workload's own address from its own port"));
      }
      // ARP carries the sender's address too, and neighbours believe it: a workload that
      // announces another's address takes that workload's traffic (ARP spoofing).
      pre.rules.push_back(R({ArpDep(), InSet({Field::kIifname, Field::kArpSaddrIp}, std::string(kV4.ifaddr)),
                             V(Verdict::Kind::kAccept)},
                            "a workload's own address in ARP from its own port"));
    }
    {
      std::vector<Statement> s;
      s.push_back(InSet({Field::kEtherType}, "tagged_types"));
      if (all_ifaces && any_iface) {
        s.push_back(InSet({Field::kIifname}, "wl_ifaces"));
      } else {
        out_.warnings.push_back(
            "a workload has no interface: tagged frames are judged on every bridge port");
      }
      s.push_back(V(Verdict::Kind::kGoto, std::string(kCounterTagged)));
      pre.rules.push_back(R(std::move(s), "VLAN/PPPoE-tagged frames skip br_netfilter"));
    }
    if (any_iface || !all_ifaces) {
      // Empty without interfaces: kept so the shape does not depend on it.
      t.sets.push_back(AddrSet("wl_ifaces", DataType::kIfname, "interfaces of managed workloads"));
    }
    if (any_iface) {
      for (const Ip& ip : {kV4, kV6}) {
        t.sets.push_back(IfaceAddrSet(ip));
        t.sets.push_back(
            AddrSet(std::string(ip.owned), ip.addr, "addresses of workloads with an interface"));
      }
      for (const Ip& ip : {kV4, kV6}) {
        std::vector<Statement> s{IpDep(Family::kBridge, ip.v6)};
        // No IPv4 field follows, so `ether type ip` is a match of its own (nft lists it).
        std::get<Match>(s[0]).implicit = ip.v6;
        if (ip.v6) {  // neighbour discovery and DAD use these
          s.push_back(M({ip.saddr}, Match::Op::kNeq, *Value::Address("::")));
          Match ll = M({ip.saddr}, Match::Op::kNeq, *Value::Address("fe80::"));
          ll.prefix_len = 10;
          s.push_back(ll);
        }
        s.push_back(InSet({Field::kIifname}, "wl_ifaces"));
        s.push_back(V(Verdict::Kind::kGoto, std::string(kCounterSpoofed)));
        pre.rules.push_back(
            R(std::move(s), "anti-spoofing: a workload sends only from its own addresses"));
        pre.rules.push_back(R({IpDep(Family::kBridge, ip.v6), InSet({ip.saddr}, std::string(ip.owned)),
                               V(Verdict::Kind::kGoto, std::string(kCounterSpoofed))},
                              "anti-spoofing: a workload's address comes only from its port"));
      }
      // 0.0.0.0 is an ARP probe (RFC 5227): it claims no address.
      pre.rules.push_back(R({ArpDep(), M({Field::kArpSaddrIp}, Match::Op::kNeq,
                                         *Value::Address("0.0.0.0")),
                             InSet({Field::kIifname}, "wl_ifaces"),
                             V(Verdict::Kind::kGoto, std::string(kCounterSpoofed))},
                            "ARP anti-spoofing: a workload announces only its own addresses"));
      pre.rules.push_back(R({ArpDep(), InSet({Field::kArpSaddrIp}, std::string(kV4.owned)),
                             V(Verdict::Kind::kGoto, std::string(kCounterSpoofed))},
                            "ARP anti-spoofing: a workload's address is announced only from its port"));
      // Router advertisements and redirects (RFC 6105, RA guard): a workload that sends them
      // makes itself its neighbours' IPv6 router. They come from link-local addresses, which
      // the rules above let through.
      std::vector<Statement> ra = Icmpv6Dep(Family::kBridge);
      ra.push_back(InSet({Field::kIcmpv6Type}, "router6"));
      ra.push_back(InSet({Field::kIifname}, "wl_ifaces"));
      ra.push_back(V(Verdict::Kind::kGoto, std::string(kCounterSpoofed)));
      pre.rules.push_back(R(std::move(ra), "RA guard: a workload is no router"));
      Set router = AddrSet("router6", DataType::kIcmpv6Type, "ICMPv6 router advertisement, redirect");
      for (std::uint32_t type : {134u, 137u}) {
        router.elements.push_back(Elem({Num(DataType::kIcmpv6Type, type)}, "router message"));
      }
      t.sets.push_back(std::move(router));
    }
    FillMemberSets(t, mem(), {});
    SizeSets(t);
    t.chains.push_back(std::move(pre));
    t.chains.push_back(SpoofChain(kCounterTagged, "bulkhead tagged "));
    t.chains.push_back(SpoofChain(kCounterSpoofed, "bulkhead spoofed "));
    out_.ruleset.tables.push_back(std::move(t));
  }

  const policy::Policy& policy_;
  const policy::Inventory& inventory_;
  const CompileOptions& options_;
  Mode global_ = Mode::kMonitor;
  CompiledPolicy out_;
  std::vector<std::string> errors_;
  std::unordered_map<std::string, std::uint32_t> ids_;
  std::unordered_map<std::uint32_t, bool> with_ranges_;  // group id -> has an r_g set
  std::unordered_map<std::uint32_t, bool> with_icmp_;    // group id -> has an i_g set
};

}  // namespace

boost::system::result<CompiledPolicy, std::vector<std::string>> CompileRuleset(
    const policy::Policy& policy, const policy::Inventory& inventory,
    const CompileOptions& options) {
  return Compiler(policy, inventory, options).Run();
}

void ForEachMemberElement(Family family, const ResolvedGroup& group, const MemberWorkload& w,
                          bool failsafe_group,
                          const std::function<void(std::string_view set, Element)>& sink) {
  EmitMemberElements(family, group, w, failsafe_group, sink);
}

std::set<std::string> FailsafeGroups(const policy::Policy& policy, const Membership& membership) {
  std::set<std::string> names;
  for (const auto& r : policy.failsafe) {
    for (const std::string* end : {&r.from, &r.to}) {
      if (membership.Find(*end) != nullptr) {
        names.insert(*end);
      }
    }
  }
  return names;
}

Set HitNames(const Table& inet_table) {
  Set out;
  out.name = std::string(kHitSet);
  out.key = {DataType::kMark, DataType::kInetProto, DataType::kInetService};
  for (const Set& s : inet_table.sets) {
    const auto src = SinglePortEdgeSource(s.name);
    if (!src) {
      continue;
    }
    for (const Element& e : s.elements) {
      out.elements.push_back(HitElement(*src, e));
    }
  }
  return out;
}

Element HitElement(std::uint32_t source, const Element& edge) {
  Element n = edge;
  n.key[0].number |= source << 16;
  return n;
}

std::optional<std::uint32_t> SinglePortEdgeSource(std::string_view set_name) {
  std::uint32_t src = 0;
  if (set_name.rfind("e_g", 0) != 0 ||
      std::from_chars(set_name.data() + 3, set_name.data() + set_name.size(), src).ec !=
          std::errc()) {
    return std::nullopt;
  }
  return src;
}

}  // namespace bulkhead::enforcer
