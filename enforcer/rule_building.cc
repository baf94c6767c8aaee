#include "enforcer/internal/rule_building.h"

#include <algorithm>
#include <bit>

#include <fmt/format.h>

namespace bulkhead::enforcer::internal {
namespace {

constexpr std::uint32_t kNfprotoIpv4 = 2;
constexpr std::uint32_t kNfprotoIpv6 = 10;
constexpr std::uint32_t kEtherTypeIpv4 = 0x0800;
constexpr std::uint32_t kEtherTypeIpv6 = 0x86dd;
constexpr std::uint32_t kEtherTypeArp = 0x0806;
constexpr std::uint32_t kIcmpv6NextHeader = 58;

Match Implicit(Match m) {
  m.implicit = true;
  return m;
}

// A hash set's size: at least twice its elements, a power of two, at least 64. With a size the
// kernel builds a hash of that size at once instead of growing (and rehashing) one while a
// quarter of a million elements arrive. Twice leaves room for churn without a change of
// structure (membership_update.h checks the room); the power of two keeps the size the same
// through small changes of a recompiled set. Interval sets stay unbounded.
std::uint32_t SizeFor(std::size_t elements) {
  return std::max<std::uint32_t>(64, std::bit_ceil(static_cast<std::uint32_t>(2 * elements)));
}

std::string_view ProtocolText(policy::Protocol protocol) {
  switch (protocol) {
    case policy::Protocol::kTcp:
      return "tcp";
    case policy::Protocol::kUdp:
      return "udp";
    case policy::Protocol::kIcmp:
      return "icmp";
    case policy::Protocol::kIcmpv6:
      return "icmpv6";
    case policy::Protocol::kSctp:
      return "sctp";
  }
  return "?";
}

}  // namespace

std::uint32_t IanaProtocolNumber(policy::Protocol protocol) {
  switch (protocol) {
    case policy::Protocol::kTcp:
      return 6;
    case policy::Protocol::kUdp:
      return 17;
    case policy::Protocol::kIcmp:
      return 1;
    case policy::Protocol::kIcmpv6:
      return 58;
    case policy::Protocol::kSctp:
      return 132;
  }
  return 0;
}

bool IsIcmp(policy::Protocol protocol) {
  return protocol == policy::Protocol::kIcmp || protocol == policy::Protocol::kIcmpv6;
}

std::string AllowRuleText(std::string_view what, const policy::AllowRule& rule) {
  if (rule.ports.first == rule.ports.last) {
    return fmt::format("{} {} -> {} {}/{}", what, rule.from, rule.to, ProtocolText(rule.protocol),
                       rule.ports.first);
  }
  return fmt::format("{} {} -> {} {}/{}-{}", what, rule.from, rule.to, ProtocolText(rule.protocol),
                     rule.ports.first, rule.ports.last);
}

Match FieldMatch(std::vector<Field> key, Match::Op op, Value value) {
  Match m;
  m.key = std::move(key);
  m.op = op;
  m.value = std::move(value);
  return m;
}

Match InSet(std::vector<Field> key, std::string_view set, bool negate) {
  Match m = FieldMatch(std::move(key), negate ? Match::Op::kNotInSet : Match::Op::kInSet);
  m.set = std::string(set);
  return m;
}

Match AddressDiffers(Field field, std::string_view address, std::uint8_t prefix_len) {
  Match m = FieldMatch({field}, Match::Op::kNeq, *Value::Address(address));
  m.prefix_len = prefix_len;
  return m;
}

Match IpDependency(Family family, bool v6) {
  if (family == Family::kInet) {
    const std::uint32_t nfproto = v6 ? kNfprotoIpv6 : kNfprotoIpv4;
    return Implicit(FieldMatch({Field::kNfproto}, Match::Op::kEq,
                               Value::Number(DataType::kInetProto, nfproto)));
  }
  const std::uint32_t ether_type = v6 ? kEtherTypeIpv6 : kEtherTypeIpv4;
  return Implicit(FieldMatch({Field::kEtherType}, Match::Op::kEq,
                             Value::Number(DataType::kEtherType, ether_type)));
}

Match ArpDependency() {
  return Implicit(FieldMatch({Field::kEtherType}, Match::Op::kEq,
                             Value::Number(DataType::kEtherType, kEtherTypeArp)));
}

std::vector<Statement> Icmpv6Dependency(Family family) {
  return {IpDependency(family, true),
          Implicit(FieldMatch({Field::kL4proto}, Match::Op::kEq,
                              Value::Number(DataType::kInetProto, kIcmpv6NextHeader)))};
}

Verdict MakeVerdict(Verdict::Kind kind, std::string_view chain) {
  return Verdict{kind, std::string(chain)};
}

Rule MakeRule(std::vector<Statement> statements, std::string origin) {
  return Rule{std::move(statements), std::move(origin)};
}

Set KeyedSet(std::string_view name, DataType key, std::string origin) {
  Set s;
  s.name = std::string(name);
  s.key = {key};
  s.origin = std::move(origin);
  return s;
}

Set InterfaceAddressSet(const AddressFamily& family) {
  Set s;
  s.name = std::string(InterfaceAddressSetName(family.family));
  s.key = {DataType::kIfname, family.address};
  s.origin = "interface . address of each workload";
  return s;
}

Element MakeElement(std::vector<Value> key, std::string origin) {
  Element e;
  e.key = std::move(key);
  e.origin = std::move(origin);
  return e;
}

void SizeHashSets(Table& table) {
  std::size_t edges = 0;
  for (Set& s : table.sets) {
    if (!s.dynamic) {
      s.size = s.interval ? 0 : SizeFor(s.elements.size());
    }
    edges += s.single_port_edges_of ? s.elements.size() : 0;
  }
  for (Set& s : table.sets) {
    if (s.dynamic && s.size == 0) {
      s.size = SizeFor(edges);
    }
  }
}

void AddViolationLogSets(Table& table, const CompileOptions& options) {
  for (const auto& ip : kAddressFamilies) {
    Set budget = KeyedSet(LogBudgetSetName(ip.family), ip.address,
                          "violation log budget of each source address");
    budget.dynamic = true;
    budget.size = options.log_sources;
    budget.timeout_seconds = options.log_source_timeout_seconds;
    table.sets.push_back(std::move(budget));
    Set suppressed = KeyedSet(SuppressedSetName(ip.family), ip.address,
                              "violations not logged (over the budget), per source address");
    suppressed.dynamic = true;
    suppressed.size = options.log_sources;
    table.sets.push_back(std::move(suppressed));
  }
}

// A violation goes, in this order: to the log within its source's budget (per address family);
// over the budget, to its source's suppressed count; when neither set has room for the source,
// or the frame is neither IPv4 nor IPv6 (a bridge's ARP and tagged frames), to one budget shared
// by all such. Each rule carries the verdict so that a violation is logged or counted once.
Chain VerdictChain(std::string_view name, LoggedVerdict logged, std::string_view counter,
                   Verdict::Kind kind, const VerdictChainContext& context) {
  const CompileOptions& options = context.options;
  const Limit budget{options.log_rate_per_second, options.log_burst};
  const Log log{std::string(LogPrefixOf(logged).prefix), options.log_group};
  const CounterRef logged_counter{std::string(kCounterLogged)};
  const CounterRef verdict_counter{std::string(counter)};
  Chain c;
  c.name = std::string(name);
  for (const auto& ip : kAddressFamilies) {
    c.rules.push_back(
        MakeRule({IpDependency(context.family, ip.v6),
                  UpdateSet{{ip.saddr}, std::string(LogBudgetSetName(ip.family)), budget},
                  logged_counter, log, verdict_counter, MakeVerdict(kind)},
                 "violation log, within its source's budget"));
  }
  for (const auto& ip : kAddressFamilies) {
    c.rules.push_back(
        MakeRule({IpDependency(context.family, ip.v6),
                  UpdateSet{{ip.saddr}, std::string(SuppressedSetName(ip.family)), std::nullopt},
                  verdict_counter, MakeVerdict(kind)},
                 "violation over its source's log budget: counted, not logged"));
  }
  c.rules.push_back(MakeRule({budget, logged_counter, log, verdict_counter, MakeVerdict(kind)},
                             "violation log, shared budget"));
  c.rules.push_back(MakeRule({verdict_counter, MakeVerdict(kind)}, "violation verdict"));
  return c;
}

Chain SpoofVerdictChain(std::string_view counter, LoggedVerdict logged, policy::Mode global,
                        const VerdictChainContext& context) {
  return VerdictChain(
      counter, logged, counter,
      global == policy::Mode::kEnforce ? Verdict::Kind::kDrop : Verdict::Kind::kAccept, context);
}

}  // namespace bulkhead::enforcer::internal
