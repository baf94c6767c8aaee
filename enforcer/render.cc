#include "enforcer/render.h"

#include <arpa/inet.h>

#include <fmt/format.h>

#include "enforcer/nft_fields.h"

namespace bulkhead::enforcer {
namespace {

std::string_view TypeName(DataType t) { return DataTypeInfoOf(t).name; }

std::string_view FieldName(Field f) { return FieldInfoOf(f).name; }

std::string CtStateText(std::uint32_t bits) {
  std::string out;
  // NF_CT_STATE_BIT: invalid 1, established 2, related 4, new 8, untracked 64.
  for (auto [bit, name] :
       {std::pair{2u, "established"}, std::pair{4u, "related"}, std::pair{8u, "new"},
        std::pair{1u, "invalid"}, std::pair{64u, "untracked"}}) {
    if ((bits & bit) != 0) {
      out += out.empty() ? name : fmt::format(",{}", name);
    }
  }
  return out;
}

std::string Key(const std::vector<Field>& key) {
  std::string out;
  for (Field f : key) {
    if (!out.empty()) {
      out += " . ";
    }
    out += FieldName(f);
  }
  return out;
}

std::string LimitText(const Limit& l) {
  return fmt::format("limit rate {}/second burst {} packets", l.rate_per_second, l.burst);
}

std::string VerdictText(const Verdict& v) {
  switch (v.kind) {
    case Verdict::Kind::kAccept:
      return "accept";
    case Verdict::Kind::kDrop:
      return "drop";
    case Verdict::Kind::kReturn:
      return "return";
    case Verdict::Kind::kJump:
      return fmt::format("jump {}", v.chain);
    case Verdict::Kind::kGoto:
      return fmt::format("goto {}", v.chain);
  }
  return "?";
}

// Origins are policy text (group names from YAML): keep comments on one printable line.
std::string Comment(const std::string& text) {
  std::string out;
  for (char c : text) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

std::string ElementText(const Element& e) {
  std::string out;
  for (std::size_t i = 0; i < e.key.size(); ++i) {
    if (i > 0) {
      out += " . ";
    }
    out += RenderValue(e.key[i]);
    if (!e.key_end.empty() && e.key_end[i] != e.key[i]) {
      out += '-';
      out += RenderValue(e.key_end[i]);
    }
  }
  if (e.data) {
    out += " : ";
    out += RenderValue(*e.data);
  }
  if (e.verdict) {
    out += " : ";
    out += VerdictText(*e.verdict);
  }
  return out;
}

void RenderSet(std::string& out, const Set& s, const RenderOptions& o) {
  if (o.comments && !s.origin.empty()) {
    out += fmt::format("\t# {}\n", Comment(s.origin));
  }
  std::string key;
  for (DataType t : s.key) {
    key += key.empty() ? std::string(TypeName(t)) : fmt::format(" . {}", TypeName(t));
  }
  out += fmt::format("\t{} {} {{\n", s.data ? "map" : "set", s.name);
  if (!s.key_fields.empty()) {  // maps are never declared so (ruleset.h: Set::key_fields)
    std::string fields;
    for (Field f : s.key_fields) {
      fields += fields.empty() ? std::string(FieldName(f)) : fmt::format(" . {}", FieldName(f));
    }
    out += fmt::format("\t\ttypeof {}\n", fields);
  } else {
    out += s.data ? fmt::format("\t\ttype {} : {}\n", key, TypeName(*s.data))
                  : fmt::format("\t\ttype {}\n", key);
  }
  if (s.size != 0) {
    out += fmt::format("\t\tsize {}\n", s.size);
  }
  if (s.interval || s.dynamic) {
    out += fmt::format("\t\tflags {}{}\n", s.interval ? "interval" : "dynamic",
                       s.timeout_seconds != 0 ? ",timeout" : "");
  }
  if (s.timeout_seconds != 0) {
    out += fmt::format("\t\ttimeout {}s\n", s.timeout_seconds);
  }
  if (s.counter) {
    out += "\t\tcounter\n";
  }
  if (!s.elements.empty()) {
    out += "\t\telements = {\n";
    for (std::size_t i = 0; i < s.elements.size(); ++i) {
      const Element& e = s.elements[i];
      out += fmt::format("\t\t\t{}{}", ElementText(e), i + 1 < s.elements.size() ? "," : "");
      if (o.comments && !e.origin.empty()) {
        out += fmt::format("  # {}", Comment(e.origin));
      }
      out += "\n";
    }
    out += "\t\t}\n";
  }
  out += "\t}\n";
}

}  // namespace

std::string RenderValue(const Value& v) {
  char buf[INET6_ADDRSTRLEN] = {};
  switch (v.type) {
    case DataType::kIpv4Addr:
      inet_ntop(AF_INET, v.addr.data(), buf, sizeof(buf));
      return buf;
    case DataType::kIpv6Addr:
      inet_ntop(AF_INET6, v.addr.data(), buf, sizeof(buf));
      return buf;
    case DataType::kMark:
      return fmt::format("0x{:08x}", v.number);
    case DataType::kInetProto:
      switch (v.number) {
        case 1:
          return "icmp";
        case 6:
          return "tcp";
        case 17:
          return "udp";
        case 58:
          return "ipv6-icmp";
        case 132:
          return "sctp";
        default:
          return fmt::format("{}", v.number);
      }
    case DataType::kInetService:
    case DataType::kIcmpv6Type:
      return fmt::format("{}", v.number);
    case DataType::kIfname:
      return fmt::format("\"{}\"", v.name);
    case DataType::kEtherType:
      if (v.number == 0x0800 || v.number == 0x86dd) {
        return v.number == 0x0800 ? "ip" : "ip6";
      }
      return fmt::format("0x{:04x}", v.number);
    case DataType::kEtherAddr:
      return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", v.addr[0], v.addr[1],
                         v.addr[2], v.addr[3], v.addr[4], v.addr[5]);
    case DataType::kIpv6Raw: {  // the integer nft reads from the bytes in network order
      std::string hex = "0x";
      for (const std::uint8_t byte : v.addr) {
        hex += fmt::format("{:02x}", byte);
      }
      return hex;
    }
    case DataType::kVerdict:
      return "?";
  }
  return "?";
}

std::string RenderStatement(const Statement& st) {
  if (const auto* m = std::get_if<Match>(&st)) {
    std::string key = Key(m->key);
    switch (m->op) {
      case Match::Op::kEq:
      case Match::Op::kNeq: {
        std::string value = m->key.size() == 1 && m->key[0] == Field::kNfproto
                                ? (m->value.number == 2 ? "ipv4" : "ipv6")
                                : RenderValue(m->value);
        if (m->prefix_len != 0) {
          value += fmt::format("/{}", m->prefix_len);
        }
        return fmt::format("{} {}{}", key, m->op == Match::Op::kNeq ? "!= " : "", value);
      }
      case Match::Op::kInSet:
        return fmt::format("{} @{}", key, m->set);
      case Match::Op::kNotInSet:
        return fmt::format("{} != @{}", key, m->set);
      case Match::Op::kAnyBit:
        return fmt::format("{} {}", key, CtStateText(m->value.number));
      case Match::Op::kRange:
        return fmt::format("{} {}-{}", key, RenderValue(m->value), RenderValue(m->value_end));
    }
  }
  if (const auto* s = std::get_if<SetCtMark>(&st)) {
    if (s->bitwise) {
      return s->or_bits != 0 ? fmt::format("ct mark set ct mark | 0x{:08x}", s->or_bits)
                             : fmt::format("ct mark set ct mark & 0x{:08x}", s->and_mask);
    }
    if (s->map_key) {
      return fmt::format("ct mark set {} map @{}", FieldName(*s->map_key), s->map);
    }
    return fmt::format("ct mark set {}", RenderValue(Value::Number(DataType::kMark, s->number)));
  }
  if (const auto* v = std::get_if<VmapLookup>(&st)) {
    return fmt::format("{} vmap @{}", FieldName(v->key), v->map);
  }
  if (const auto* u = std::get_if<UpdateSet>(&st)) {
    return fmt::format("update @{} {{ {} {} }}", u->set, Key(u->key),
                       u->limit ? LimitText(*u->limit) : "counter");
  }
  if (const auto* l = std::get_if<Limit>(&st)) {
    return LimitText(*l);
  }
  if (const auto* l = std::get_if<Log>(&st)) {
    return fmt::format("log prefix \"{}\" group {}", l->prefix, l->group);
  }
  if (const auto* c = std::get_if<CounterRef>(&st)) {
    return fmt::format("counter name \"{}\"", c->name);
  }
  return VerdictText(std::get<Verdict>(st));
}

std::string RenderNft(const Ruleset& ruleset, const RenderOptions& o) {
  std::string out;
  for (const Table& t : ruleset.tables) {
    std::string head = fmt::format("{} {}", FamilyName(t.family), t.name);
    if (o.replace) {
      out += fmt::format("table {} {{}}\ndelete table {}\n", head, head);
    }
    out += fmt::format("table {} {{\n", head);
    for (const auto& c : t.counters) {
      out += fmt::format("\tcounter {} {{\n\t}}\n", c);
    }
    for (const Set& s : t.sets) {
      RenderSet(out, s, o);
    }
    for (const Chain& c : t.chains) {
      out += fmt::format("\tchain {} {{\n", c.name);
      if (c.base) {
        out += fmt::format("\t\ttype filter hook {} priority {}; policy accept;\n",
                           HookName(c.base->hook), c.base->priority);
      }
      for (const Rule& r : c.rules) {
        if (o.comments && !r.origin.empty()) {
          out += fmt::format("\t\t# {}\n", Comment(r.origin));
        }
        std::string line;
        for (const Statement& st : r.statements) {
          if (const auto* m = std::get_if<Match>(&st); m != nullptr && m->implicit) {
            continue;
          }
          if (!line.empty()) {
            line += ' ';
          }
          line += RenderStatement(st);
        }
        out += fmt::format("\t\t{}\n", line);
      }
      out += "\t}\n";
    }
    out += "}\n";
  }
  return out;
}

}  // namespace bulkhead::enforcer
