#include "enforcer/evaluator.h"

#include <optional>

#include <fmt/format.h>

#include "enforcer/compiler.h"
#include "enforcer/nft_fields.h"

namespace bulkhead::enforcer {
namespace {

constexpr std::uint32_t kCtStateNew = 8;
constexpr int kMaxDepth = 16;  // nftables' own jump stack limit

bool ValueLess(const Value& a, const Value& b) {
  if (a.type == DataType::kIfname) {
    return a.name < b.name;
  }
  if (a.type == DataType::kIpv4Addr || a.type == DataType::kIpv6Addr ||
      a.type == DataType::kIpv6Raw || a.type == DataType::kEtherAddr) {
    return a.addr < b.addr;
  }
  return a.number < b.number;
}

bool ValueEq(const Value& a, const Value& b) { return !ValueLess(a, b) && !ValueLess(b, a); }

class Interpreter {
 public:
  Interpreter(const Table& t, const PacketInfo& p, bool bridge)
      : table_(t), p_(p), bridge_(bridge) {}

  // nullopt: the base chain ended with its policy (accept).
  boost::system::result<EvalResult, std::string> Run(const std::string& base) {
    EvalResult r;
    auto v = RunChain(base, 0, r);
    if (!v) {
      return v.error();
    }
    if (*v && (*v)->kind == Verdict::Kind::kDrop) {
      r.accepted = false;
    }
    return r;
  }

 private:
  bool V6() const { return p_.saddr.type == DataType::kIpv6Addr; }

  std::uint16_t EtherType() const {
    if (p_.ether_type != 0) {
      return p_.ether_type;
    }
    return V6() ? 0x86dd : 0x0800;
  }

  // Whether the packet carries the header a field is read from (FieldInfo::header).
  bool HasHeader(FieldHeader header) const {
    const bool non_ip = bridge_ && EtherType() != 0x0800 && EtherType() != 0x86dd;
    switch (header) {
      case FieldHeader::kAny:
        return true;
      case FieldHeader::kIpv4:
        return !V6() && !non_ip;
      case FieldHeader::kIpv6:
        return V6() && !non_ip;
      case FieldHeader::kArp:  // saddr is an ARP frame's sender address
        return bridge_ && EtherType() == 0x0806;
      case FieldHeader::kIcmpv6:
        return p_.l4proto == 58;
      case FieldHeader::kNeighbourAdvert:
        return p_.l4proto == 58 && p_.icmp_type == 136 && p_.nd_target.has_value();
    }
    return false;
  }

  // The field's value for this packet; nullopt when the packet does not have it (the kernel's
  // payload/meta expression then ends the rule).
  std::optional<Value> Read(Field f) const {
    const FieldInfo& field = FieldInfoOf(f);
    if (!HasHeader(field.header)) {
      return std::nullopt;
    }
    auto num = [&](std::uint32_t n) { return Value::Number(field.type, n); };
    switch (field.part) {
      case PacketPart::kNfproto:
        return num(V6() ? 10 : 2);
      case PacketPart::kL4proto:
        return num(p_.l4proto);
      case PacketPart::kSourceAddress:
        return p_.saddr;
      case PacketPart::kDestinationAddress:
        return p_.daddr;
      case PacketPart::kTransportDestination:
        return num(IsIcmp() ? 0 : p_.dport);
      case PacketPart::kTransportSource:
        return num(IsIcmp() ? (std::uint32_t{p_.icmp_type} << 8) | p_.icmp_code : p_.sport);
      case PacketPart::kIcmpType:
        return num(p_.icmp_type);
      case PacketPart::kInputInterface:
        return Value::Ifname(bridge_ ? p_.bridge_port : p_.iifname);
      case PacketPart::kEtherType:
        return num(EtherType());
      case PacketPart::kEtherSource:
        return p_.ether_saddr;  // nullopt when the caller does not know it: not judged
      case PacketPart::kNdTarget:
        return Value::Ipv6Raw(*p_.nd_target);
      case PacketPart::kCtState:
        return num(kCtStateNew);
      case PacketPart::kCtMark:
        return num(ct_mark_);
    }
    return std::nullopt;
  }

  bool IsIcmp() const { return p_.l4proto == 1 || p_.l4proto == 58; }

  const Element* Lookup(const std::string& set_name, const std::vector<Value>& key) const {
    const Set* s = table_.FindSet(set_name);
    if (s == nullptr) {
      return nullptr;
    }
    for (const Element& e : s->elements) {
      bool hit = e.key.size() == key.size();
      for (std::size_t i = 0; hit && i < key.size(); ++i) {
        const Value& hi = e.key_end.empty() ? e.key[i] : e.key_end[i];
        hit = !ValueLess(key[i], e.key[i]) && !ValueLess(hi, key[i]);
      }
      if (hit) {
        return &e;
      }
    }
    return nullptr;
  }

  std::optional<std::vector<Value>> ReadKey(const std::vector<Field>& fields) const {
    std::vector<Value> key;
    for (Field f : fields) {
      auto v = Read(f);
      if (!v) {
        return std::nullopt;
      }
      key.push_back(*v);
    }
    return key;
  }

  static bool PrefixEq(const Value& a, const Value& b, std::uint8_t bits) {
    for (std::size_t i = 0; i < a.addr.size(); ++i) {
      int keep = std::min(8, std::max(0, int{bits} - int(i) * 8));
      auto mask = static_cast<std::uint8_t>(0xff00 >> keep);
      if ((a.addr[i] & mask) != (b.addr[i] & mask)) {
        return false;
      }
    }
    return true;
  }

  // Result: true when the match holds.
  bool Holds(const Match& m, const Element** hit) const {
    auto key = ReadKey(m.key);
    if (!key) {
      return false;
    }
    switch (m.op) {
      case Match::Op::kEq:
      case Match::Op::kNeq: {
        bool eq = m.prefix_len != 0 ? PrefixEq((*key)[0], m.value, m.prefix_len)
                                    : ValueEq((*key)[0], m.value);
        return m.op == Match::Op::kEq ? eq : !eq;
      }
      case Match::Op::kInSet: {
        const Element* e = Lookup(m.set, *key);
        const Set* s = table_.FindSet(m.set);
        // An edge set (its elements are edges, counted there or in the hit set): name the edge.
        if (s != nullptr && (s->counter || s->single_port_edges_of)) {
          *hit = e;  // an edge: name it rather than the rule
        }
        return e != nullptr;
      }
      case Match::Op::kNotInSet:
        return Lookup(m.set, *key) == nullptr;
      case Match::Op::kAnyBit:
        return ((*key)[0].number & m.value.number) != 0;
      case Match::Op::kRange:
        return !ValueLess((*key)[0], m.value) && !ValueLess(m.value_end, (*key)[0]);
    }
    return false;
  }

  // Runs one rule's statements: its verdict, or nullopt when a match failed (or a lookup
  // missed) or the rule has none. `hit`: the edge element that matched, if any.
  std::optional<Verdict> RunRule(const Rule& rule, EvalResult& r, const Element** hit) {
    std::optional<Verdict> verdict;
    for (const Statement& st : rule.statements) {
      if (const auto* m = std::get_if<Match>(&st)) {
        if (!Holds(*m, hit)) {
          return std::nullopt;
        }
      } else if (const auto* s = std::get_if<SetCtMark>(&st)) {
        if (s->bitwise) {
          ct_mark_ = (ct_mark_ & s->and_mask) | s->or_bits;
          continue;
        }
        if (!s->map_key) {
          ct_mark_ = s->number;
          continue;
        }
        auto key = Read(*s->map_key);
        const Element* e = key ? Lookup(s->map, {*key}) : nullptr;
        if (e == nullptr || !e->data) {
          return std::nullopt;
        }
        ct_mark_ = e->data->number;
      } else if (const auto* vm = std::get_if<VmapLookup>(&st)) {
        auto key = Read(vm->key);
        const Element* e = key ? Lookup(vm->map, {*key}) : nullptr;
        if (e == nullptr || !e->verdict) {
          return std::nullopt;
        }
        verdict = *e->verdict;
      } else if (std::get_if<UpdateSet>(&st) != nullptr) {
        // Counts the edge in the kernel; no effect on the verdict.
      } else if (std::get_if<Log>(&st) != nullptr) {
        r.logged = true;
      } else if (const auto* v = std::get_if<Verdict>(&st)) {
        verdict = *v;
      }
    }
    return verdict;
  }

  // Returns the terminal verdict (accept/drop), or nullopt when the chain ran to its end or
  // returned.
  boost::system::result<std::optional<Verdict>, std::string> RunChain(const std::string& name,
                                                                      int depth, EvalResult& r) {
    if (depth > kMaxDepth) {
      return fmt::format("chain depth above {} at {}", kMaxDepth, name);
    }
    const Chain* c = table_.FindChain(name);
    if (c == nullptr) {
      return fmt::format("no chain {}", name);
    }
    for (std::size_t i = 0; i < c->rules.size(); ++i) {
      const Rule& rule = c->rules[i];
      r.trace.push_back(fmt::format("{}:{}", name, i));
      const Element* hit = nullptr;
      const std::optional<Verdict> verdict = RunRule(rule, r, &hit);
      if (!verdict) {
        continue;
      }
      switch (verdict->kind) {
        case Verdict::Kind::kAccept:
        case Verdict::Kind::kDrop:
          if (hit != nullptr) {
            r.matched = hit->origin;
          } else if (r.matched.empty()) {
            r.matched = rule.origin;
          }
          return std::optional<Verdict>(*verdict);
        case Verdict::Kind::kReturn:
          return std::optional<Verdict>();
        case Verdict::Kind::kJump:
        case Verdict::Kind::kGoto: {
          if (verdict->chain == kCounterSpoofed || verdict->chain == kCounterTagged ||
              verdict->chain == kDenyChain || verdict->chain == kWarnChain) {
            r.verdict_chain = verdict->chain;
          }
          auto sub = RunChain(verdict->chain, depth + 1, r);
          if (!sub) {
            return sub.error();
          }
          if (*sub || verdict->kind == Verdict::Kind::kGoto) {
            return *sub;
          }
          break;
        }
      }
    }
    return std::optional<Verdict>();
  }

  const Table& table_;
  const PacketInfo& p_;
  bool bridge_;
  std::uint32_t ct_mark_ = 0;
};

}  // namespace

boost::system::result<EvalResult, std::string> Evaluate(const Ruleset& ruleset,
                                                        const PacketInfo& packet) {
  const bool non_ip =
      packet.ether_type != 0 && packet.ether_type != 0x0800 && packet.ether_type != 0x86dd;
  if (!non_ip && packet.saddr.type != packet.daddr.type) {
    return std::string("source and destination are of different address families");
  }
  const auto hook = ParseHook(packet.hook);
  if (!hook) {
    return hook.error();
  }
  EvalResult out;
  if (!packet.bridge_port.empty()) {
    if (const Table* bt = ruleset.FindTable(Family::kBridge, kTableName)) {
      auto r = Interpreter(*bt, packet, true).Run(std::string(HookName(Hook::kPrerouting)));
      if (!r) {
        return r.error();
      }
      if (!r->accepted || !r->verdict_chain.empty()) {
        return r;
      }
      out.trace = r->trace;
    }
    if (non_ip) {
      return out;  // br_netfilter passes neither tagged frames nor ARP to the inet hooks
    }
  }
  const Table* t = ruleset.FindTable(Family::kInet, kTableName);
  if (t == nullptr) {
    return out;
  }
  auto r = Interpreter(*t, packet, false).Run(std::string(HookName(*hook)));
  if (!r) {
    return r.error();
  }
  r->trace.insert(r->trace.begin(), out.trace.begin(), out.trace.end());
  return r;
}

}  // namespace bulkhead::enforcer
