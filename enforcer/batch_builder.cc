#include "enforcer/batch_builder.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <type_traits>
#include <unordered_map>

#include <fmt/format.h>

#include "enforcer/internal/nftnl_owners.h"
#include "enforcer/nft_fields.h"

namespace bulkhead::enforcer {
namespace {

using internal::ChainPtr;
using internal::ObjPtr;
using internal::RulePtr;
using internal::SetPtr;
using internal::TablePtr;

std::uint32_t TypeLen(DataType t) { return DataTypeInfoOf(t).length; }

// Host-order integers of an interval concatenation are stored in network order (nft inserts a
// byteorder conversion before the lookup).
bool HostOrder(DataType t) { return DataTypeInfoOf(t).encoding == ValueEncoding::kHostInteger; }

std::uint32_t Padded(std::uint32_t len) { return (len + 3) / 4 * 4; }

// A value as register bytes. `big_endian_mark`: interval concatenations hold host-order fields
// in network order (nft inserts a byteorder conversion before the lookup).
void AppendValue(std::vector<std::uint8_t>& out, const Value& v, bool big_endian_mark,
                 bool pad = true) {
  const DataTypeInfo& type = DataTypeInfoOf(v.type);
  const std::uint32_t len = type.length;
  std::size_t start = out.size();
  switch (type.encoding) {
    case ValueEncoding::kAddress:
      out.insert(out.end(), v.addr.begin(), v.addr.begin() + len);
      break;
    case ValueEncoding::kString: {
      std::array<std::uint8_t, 16> name{};
      std::memcpy(name.data(), v.name.data(), std::min<std::size_t>(v.name.size(), len - 1));
      out.insert(out.end(), name.begin(), name.begin() + len);
      break;
    }
    case ValueEncoding::kHostInteger: {
      if (len == 1) {
        out.push_back(static_cast<std::uint8_t>(v.number));
        break;
      }
      std::uint32_t n = big_endian_mark ? htonl(v.number) : v.number;
      std::uint8_t b[4];
      std::memcpy(b, &n, 4);
      out.insert(out.end(), b, b + 4);
      break;
    }
    case ValueEncoding::kBigInteger:
      for (std::uint32_t i = len; i > 0; --i) {
        out.push_back(static_cast<std::uint8_t>(v.number >> (8 * (i - 1))));
      }
      break;
    case ValueEncoding::kVerdict:
      break;
  }
  out.resize(start + (pad ? Padded(len) : len), 0);
}

// The payload expression's base of a payload field.
std::uint32_t PayloadBase(FieldBase base) {
  switch (base) {
    case FieldBase::kLink:
      return NFT_PAYLOAD_LL_HEADER;
    case FieldBase::kNetwork:
      return NFT_PAYLOAD_NETWORK_HEADER;
    case FieldBase::kTransport:
      return NFT_PAYLOAD_TRANSPORT_HEADER;
    case FieldBase::kMeta:
    case FieldBase::kConntrack:
      break;
  }
  return 0;
}

// nft's register numbering for a byte offset into the register file: 16-byte registers where
// the offset is 16-aligned, 32-bit registers otherwise.
std::uint32_t RegAt(std::uint32_t byte_offset) {
  std::uint32_t i = byte_offset / 4;
  return i % 4 == 0 ? NFT_REG_1 + i / 4 : NFT_REG32_00 + i;
}

// `limit rate N/second burst B packets`: a rule's own, or a dynamic set element's (a meter).
nftnl_expr* LimitExpr(const Limit& l) {
  nftnl_expr* e = nftnl_expr_alloc("limit");
  nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, l.rate_per_second);
  nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);
  nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, l.burst);
  nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
  nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
  return e;
}

class RuleEncoder {
 public:
  RuleEncoder(nftnl_rule* r, const std::unordered_map<std::string_view, const Set*>& sets)
      : rule_(r), sets_(sets) {}

  void Add(nftnl_expr* e) { nftnl_rule_add_expr(rule_, e); }

  void Load(Field f, std::uint32_t reg) {
    const FieldInfo& field = FieldInfoOf(f);
    nftnl_expr* e = nullptr;
    switch (field.base) {
      case FieldBase::kMeta:
        e = nftnl_expr_alloc("meta");
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, field.key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, reg);
        break;
      case FieldBase::kConntrack:
        e = nftnl_expr_alloc("ct");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, field.key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, reg);
        break;
      case FieldBase::kLink:
      case FieldBase::kNetwork:
      case FieldBase::kTransport:
        e = nftnl_expr_alloc("payload");
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, reg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, PayloadBase(field.base));
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, field.offset);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, field.length);
        break;
    }
    Add(e);
  }

  void Cmp(std::uint32_t op, const std::vector<std::uint8_t>& data, std::uint32_t len) {
    nftnl_expr* e = nftnl_expr_alloc("cmp");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data.data(), len);
    Add(e);
  }

  // reg 1 = (reg 1 & mask) ^ xor (no xor: zeros).
  void Bitwise(const std::vector<std::uint8_t>& mask, std::uint32_t len,
               std::vector<std::uint8_t> xor_bits = {}) {
    xor_bits.resize(len, 0);
    nftnl_expr* e = nftnl_expr_alloc("bitwise");
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask.data(), len);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor_bits.data(), len);
    Add(e);
  }

  // Loads a (concatenated) key into consecutive registers from NFT_REG_1 on, as nft does
  // (host-order fields of an interval concatenation in network order).
  void LoadKey(const std::vector<Field>& key, bool interval_concat) {
    std::uint32_t off = 0;
    for (Field f : key) {
      std::uint32_t reg = RegAt(off);
      Load(f, reg);
      DataType t = FieldType(f);
      if (interval_concat && HostOrder(t)) {
        // What nft emits for host-order fields of an interval concatenation.
        nftnl_expr* e = nftnl_expr_alloc("byteorder");
        nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, reg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, reg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, TypeLen(t));
        nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, TypeLen(t) == 4 ? 4 : 2);
        Add(e);
      }
      off += Padded(TypeLen(t));
    }
  }

  // A lookup of the key in reg 1 in set `set`: a set test (no dreg; `invert`: not in it), a map
  // (dreg NFT_REG_1) or a verdict map (dreg NFT_REG_VERDICT).
  void Lookup(const std::string& set, std::optional<std::uint32_t> dreg, bool invert = false) {
    nftnl_expr* e = nftnl_expr_alloc("lookup");
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
    if (dreg) {
      nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, *dreg);
    }
    nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set.c_str());
    if (invert) {
      nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
    }
    Add(e);
  }

  void Match(const enforcer::Match& m) {
    if (m.op == Match::Op::kInSet || m.op == Match::Op::kNotInSet) {
      auto set = sets_.find(m.set);
      LoadKey(m.key, set != sets_.end() && set->second->interval && m.key.size() > 1);
      Lookup(m.set, std::nullopt, m.op == Match::Op::kNotInSet);
      return;
    }
    Field f = m.key.front();
    Load(f, NFT_REG_1);
    const std::uint32_t len = FieldInfoOf(f).length;
    std::vector<std::uint8_t> value;
    AppendValue(value, m.value, false);
    switch (m.op) {
      case Match::Op::kAnyBit: {
        Bitwise(value, len);
        Cmp(NFT_CMP_NEQ, std::vector<std::uint8_t>(len, 0), len);
        return;
      }
      case Match::Op::kRange: {
        std::vector<std::uint8_t> hi;
        AppendValue(hi, m.value_end, false);
        Cmp(NFT_CMP_GTE, value, len);
        Cmp(NFT_CMP_LTE, hi, len);
        return;
      }
      default:
        break;
    }
    if (m.prefix_len != 0) {
      std::vector<std::uint8_t> mask(len, 0);
      for (std::uint32_t i = 0; i < len; ++i) {
        int keep = std::min(8, std::max(0, int{m.prefix_len} - int(i) * 8));
        mask[i] = static_cast<std::uint8_t>(0xff00 >> keep);
      }
      Bitwise(mask, len);
    }
    Cmp(m.op == Match::Op::kEq ? NFT_CMP_EQ : NFT_CMP_NEQ, value, len);
  }

  void Immediate(const Verdict& v) {
    nftnl_expr* e = nftnl_expr_alloc("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    int code = NF_ACCEPT;
    switch (v.kind) {
      case Verdict::Kind::kAccept:
        code = NF_ACCEPT;
        break;
      case Verdict::Kind::kDrop:
        code = NF_DROP;
        break;
      case Verdict::Kind::kReturn:
        code = NFT_RETURN;
        break;
      case Verdict::Kind::kJump:
        code = NFT_JUMP;
        break;
      case Verdict::Kind::kGoto:
        code = NFT_GOTO;
        break;
    }
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<std::uint32_t>(code));
    if (!v.chain.empty()) {
      nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, v.chain.c_str());
    }
    Add(e);
  }

  void Encode(const Statement& st) {
    if (const auto* m = std::get_if<enforcer::Match>(&st)) {
      Match(*m);
    } else if (const auto* s = std::get_if<SetCtMark>(&st)) {
      if (s->bitwise) {
        // (mark & and_mask) | or_bits, as nft encodes `|` and `&`: (r & mask) ^ xor.
        Load(Field::kCtMark, NFT_REG_1);
        std::vector<std::uint8_t> mask;
        std::vector<std::uint8_t> bits;
        AppendValue(mask, Value::Number(DataType::kMark, s->and_mask & ~s->or_bits), false);
        AppendValue(bits, Value::Number(DataType::kMark, s->or_bits), false);
        Bitwise(mask, 4, std::move(bits));
      } else if (s->map_key) {
        Load(*s->map_key, NFT_REG_1);
        Lookup(s->map, NFT_REG_1);
      } else {
        nftnl_expr* e = nftnl_expr_alloc("immediate");
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
        nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &s->number, sizeof(s->number));
        Add(e);
      }
      nftnl_expr* e = nftnl_expr_alloc("ct");
      nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_MARK);
      nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, NFT_REG_1);
      Add(e);
    } else if (const auto* u = std::get_if<UpdateSet>(&st)) {
      LoadKey(u->key, false);
      nftnl_expr* e = nftnl_expr_alloc("dynset");
      nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
      nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
      nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, u->set.c_str());
      nftnl_expr_add_expr(e, NFTNL_EXPR_DYNSET_EXPRESSIONS,
                          u->limit ? LimitExpr(*u->limit) : nftnl_expr_alloc("counter"));
      Add(e);
    } else if (const auto* vm = std::get_if<VmapLookup>(&st)) {
      Load(vm->key, NFT_REG_1);
      Lookup(vm->map, NFT_REG_VERDICT);
    } else if (const auto* l = std::get_if<Limit>(&st)) {
      Add(LimitExpr(*l));
    } else if (const auto* lg = std::get_if<Log>(&st)) {
      nftnl_expr* e = nftnl_expr_alloc("log");
      nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, lg->prefix.c_str());
      nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, lg->group);
      Add(e);
    } else if (const auto* c = std::get_if<CounterRef>(&st)) {
      nftnl_expr* e = nftnl_expr_alloc("objref");
      nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
      nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, c->name.c_str());
      Add(e);
    } else {
      Immediate(std::get<Verdict>(st));
    }
  }

 private:
  nftnl_rule* rule_;
  const std::unordered_map<std::string_view, const Set*>& sets_;
};

std::uint16_t NfFamily(Family f) { return f == Family::kInet ? NFPROTO_INET : NFPROTO_BRIDGE; }

std::uint32_t HookNum(Hook hook) {
  switch (hook) {
    case Hook::kPrerouting:
      return NF_INET_PRE_ROUTING;  // NF_BR_PRE_ROUTING has the same value
    case Hook::kInput:
      return NF_INET_LOCAL_IN;
    case Hook::kForward:
      return NF_INET_FORWARD;
    case Hook::kOutput:
      return NF_INET_LOCAL_OUT;
  }
  std::abort();  // a Hook outside the enum is a programming error
}

// Appends netlink messages to one growing buffer. Each message is built in a scratch page
// large enough for the biggest one (elements are chunked to stay below it).
class BatchWriter {
 public:
  explicit BatchWriter(std::uint32_t first_seq) : seq_(first_seq) {
    Raw([&](char* buf) { return nftnl_batch_begin(buf, seq_++); });
  }

  EncodedBatch Finish() {
    Raw([&](char* buf) { return nftnl_batch_end(buf, seq_++); });
    return std::move(out_);
  }

  template <typename Fill>
  void Message(std::uint16_t type, std::uint16_t family, std::uint16_t flags, std::string origin,
               Fill fill) {
    const std::uint32_t seq = seq_++;
    Raw([&](char* buf) {
      nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, type, family, flags, seq);
      if constexpr (std::is_invocable_v<Fill, nlmsghdr*, std::uint32_t>) {
        fill(nlh, seq);
      } else {
        fill(nlh);
      }
      return nlh;
    });
    out_.origins.emplace_back(seq, std::move(origin));
    ++out_.messages;
  }

  // Notes where an element starts in message `seq` (an offset from the message's start).
  void NoteElement(std::uint32_t seq, std::uint32_t offset, const std::string& set,
                   const std::string& origin, bool remove) {
    out_.elements.push_back({seq, offset, &set, &origin, remove});
  }

 private:
  template <typename Build>
  void Raw(Build build) {
    nlmsghdr* nlh = build(scratch_.data());
    const auto* p = reinterpret_cast<const std::uint8_t*>(nlh);
    const std::size_t used = NLMSG_ALIGN(nlh->nlmsg_len);
    out_.bytes.insert(out_.bytes.end(), p, p + used);
    // Back to zeros for the next message: libmnl 1.0.4 leaves an attribute's padding as it
    // finds it, and libnftnl writes an objref's name without its NUL, so a stale byte there
    // became part of the name when the batch is parsed back (the post-apply compare saw
    // "loggedg5," once a rule had two counters).
    std::memset(scratch_.data(), 0, used);
  }

  std::vector<char> scratch_ = std::vector<char>(std::size_t{256} * 1024);
  std::uint32_t seq_;
  EncodedBatch out_;
};

void AddTableMessages(BatchWriter& w, Family family, const std::string& name, bool recreate) {
  const std::uint16_t fam = NfFamily(family);
  auto table_msg = [&](std::uint16_t type, std::uint16_t flags, std::string origin) {
    TablePtr t(nftnl_table_alloc());
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name.c_str());
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, fam);
    // Flags stay 0: never NFT_TABLE_F_OWNER, the table must outlive this process.
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, 0);
    w.Message(type, fam, flags, std::move(origin),
              [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, t.get()); });
  };
  const std::string what = fmt::format("table {} {}", FamilyName(family), name);
  table_msg(NFT_MSG_NEWTABLE, NLM_F_CREATE, what + " (ensure it exists)");
  table_msg(NFT_MSG_DELTABLE, 0, what + " (delete the previous one)");
  if (recreate) {
    table_msg(NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, what);
  }
}

// The `typeof` description nft keeps in a set's user data (NFTNL_UDATA_SET_KEY_TYPEOF), for the
// sets nft 1.0.6 can only declare so (ruleset.h: Set::key_fields): without it `nft list` cannot
// print a raw integer key (it asserts), and with it the listing reads back. nft's layout: an
// expression is {0: its type, 1: its data}; a concatenation's data lists its parts in order.
// Numbers as nft 1.0.6 writes them (read back from a set nft made; enforcer_netns_test checks that
// nft lists and reloads ours).
constexpr std::uint32_t kNftExprPayload = 7;
constexpr std::uint32_t kNftExprMeta = 9;
constexpr std::uint32_t kNftExprConcat = 13;
constexpr std::uint32_t kNftProtoBaseTransport = 3;

void PutTypeofExpr(nftnl_udata_buf* buf, Field field) {
  const FieldInfo& info = FieldInfoOf(field);
  nftnl_udata* data = nullptr;
  if (info.base == FieldBase::kMeta) {
    nftnl_udata_put_u32(buf, 0, kNftExprMeta);
    data = nftnl_udata_nest_start(buf, 1);
    nftnl_udata_put_u32(buf, 0, info.key);
  } else if (info.base == FieldBase::kTransport && info.type == DataType::kIpv6Raw) {
    nftnl_udata_put_u32(buf, 0, kNftExprPayload);  // raw: no protocol description, no field
    data = nftnl_udata_nest_start(buf, 1);
    nftnl_udata_put_u32(buf, 0, 0);
    nftnl_udata_put_u32(buf, 1, 0);
    nftnl_udata_put_u32(buf, 2, kNftProtoBaseTransport);
    nftnl_udata_put_u32(buf, 3, info.offset * 8);
    nftnl_udata_put_u32(buf, 4, info.length * 8);
  } else {
    std::fprintf(stderr, "typeof user data for field %s is not written\n", info.name.data());
    std::abort();  // a programming error: only meta and raw fields key such sets
  }
  nftnl_udata_nest_end(buf, data);
}

void PutKeyTypeof(nftnl_udata_buf* buf, const std::vector<Field>& fields) {
  nftnl_udata* typeof_nest = nftnl_udata_nest_start(buf, NFTNL_UDATA_SET_KEY_TYPEOF);
  if (fields.size() == 1) {
    PutTypeofExpr(buf, fields.front());
  } else {
    nftnl_udata_put_u32(buf, 0, kNftExprConcat);
    nftnl_udata* parts = nftnl_udata_nest_start(buf, 1);
    for (std::size_t i = 0; i < fields.size(); ++i) {
      nftnl_udata* part = nftnl_udata_nest_start(buf, static_cast<std::uint8_t>(i));
      PutTypeofExpr(buf, fields[i]);
      nftnl_udata_nest_end(buf, part);
    }
    nftnl_udata_nest_end(buf, parts);
  }
  nftnl_udata_nest_end(buf, typeof_nest);
}

void AddSet(BatchWriter& w, const Table& t, const Set& s, std::uint32_t set_id) {
  const std::uint16_t fam = NfFamily(t.family);
  SetPtr set(nftnl_set_alloc());
  nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, t.name.c_str());
  nftnl_set_set_str(set.get(), NFTNL_SET_NAME, s.name.c_str());
  nftnl_set_set_u32(set.get(), NFTNL_SET_FAMILY, fam);
  nftnl_set_set_u32(set.get(), NFTNL_SET_ID, set_id);
  std::uint32_t flags = 0;
  std::uint32_t key_type = 0;
  std::uint32_t key_len = 0;
  std::vector<std::uint8_t> field_len;
  for (DataType d : s.key) {
    // nft's concatenated type id (TYPE_BITS = 6).
    key_type = (key_type << 6) | DataTypeInfoOf(d).nft_id;
    key_len += s.key.size() > 1 ? Padded(TypeLen(d)) : TypeLen(d);
    field_len.push_back(static_cast<std::uint8_t>(TypeLen(d)));
  }
  if (s.dynamic) {
    flags |= NFT_SET_EVAL;
  }
  if (s.timeout_seconds != 0) {
    flags |= NFT_SET_TIMEOUT;
    nftnl_set_set_u64(set.get(), NFTNL_SET_TIMEOUT, std::uint64_t{s.timeout_seconds} * 1000);
  }
  if (s.interval) {
    flags |= NFT_SET_INTERVAL;
    if (s.key.size() > 1) {
      flags |= NFT_SET_CONCAT;
    }
  }
  if (s.data) {
    flags |= NFT_SET_MAP;
    nftnl_set_set_u32(set.get(), NFTNL_SET_DATA_TYPE, DataTypeInfoOf(*s.data).nft_id);
    nftnl_set_set_u32(set.get(), NFTNL_SET_DATA_LEN, TypeLen(*s.data));
  }
  nftnl_set_set_u32(set.get(), NFTNL_SET_FLAGS, flags);
  nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_TYPE, key_type);
  nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_LEN, key_len);
  if (s.interval && s.key.size() > 1) {
    // Field lengths only for interval concatenations (pipapo); the kernel refuses a
    // concatenation description on a set without NFT_SET_CONCAT.
    nftnl_set_set_data(set.get(), NFTNL_SET_DESC_CONCAT, field_len.data(),
                       static_cast<std::uint32_t>(field_len.size()));
  }
  // Byte order hints nft keeps in the set's user data so that `nft list` prints host-order
  // values (marks, interface names) as it prints its own sets' (nft: BYTEORDER_HOST_ENDIAN 1,
  // BYTEORDER_BIG_ENDIAN 2).
  auto order = [](DataType d) -> std::uint32_t {
    const ValueEncoding encoding = DataTypeInfoOf(d).encoding;
    return encoding == ValueEncoding::kHostInteger || encoding == ValueEncoding::kString ? 1 : 2;
  };
  std::unique_ptr<nftnl_udata_buf, void (*)(const nftnl_udata_buf*)> udata(
      nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN), nftnl_udata_buf_free);
  if (s.key.size() == 1) {
    nftnl_udata_put_u32(udata.get(), NFTNL_UDATA_SET_KEYBYTEORDER, order(s.key[0]));
  } else if (!s.key_fields.empty()) {
    nftnl_udata_put_u32(udata.get(), NFTNL_UDATA_SET_KEYBYTEORDER, 0);  // mixed, as nft writes it
  }
  if (!s.key_fields.empty()) {
    PutKeyTypeof(udata.get(), s.key_fields);
  }
  if (s.data && *s.data != DataType::kVerdict) {
    nftnl_udata_put_u32(udata.get(), NFTNL_UDATA_SET_DATABYTEORDER, order(*s.data));
  }
  if (nftnl_udata_buf_len(udata.get()) > 0) {
    nftnl_set_set_data(set.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(udata.get()),
                       nftnl_udata_buf_len(udata.get()));
  }
  if (s.size != 0) {
    nftnl_set_set_u32(set.get(), NFTNL_SET_DESC_SIZE, s.size);
  }
  if (s.counter) {
    nftnl_set_add_expr(set.get(), nftnl_expr_alloc("counter"));
  }
  w.Message(NFT_MSG_NEWSET, fam, NLM_F_CREATE | NLM_F_EXCL, "set " + s.name + ": " + s.origin,
            [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, set.get()); });
}

// Adds (or, with `remove`, deletes) `elements` of set `s`. `set_id` 0: the set exists already
// and is found by name. Deletions carry the key (and key end) only: that is what identifies an
// element.
// An element key (or key end) as the kernel stores it: concatenated fields padded to 4 bytes,
// host-order fields of an interval concatenation in network order.
void AppendKey(std::vector<std::uint8_t>& out, const Set& s, const std::vector<Value>& values) {
  for (const Value& v : values) {
    AppendValue(out, v, s.interval && s.key.size() > 1, s.key.size() > 1);
  }
}

void AddElements(BatchWriter& w, Family family, const std::string& table, const Set& s,
                 const std::vector<Element>& elements, std::uint32_t set_id,
                 std::size_t per_message, bool remove = false) {
  const std::uint16_t fam = NfFamily(family);
  const char* verb = remove ? "deleting" : "element";
  std::vector<std::uint8_t> bytes;
  // The attributes libnftnl's set element payload has (element list, then per element its key,
  // key end, data or verdict), written straight into the message: a quarter of a million
  // elements do not need a quarter of a million libnftnl objects.
  auto put_value = [](nlmsghdr* nlh, std::uint16_t type, const std::vector<std::uint8_t>& v) {
    nlattr* nest = mnl_attr_nest_start(nlh, type);
    mnl_attr_put(nlh, NFTA_DATA_VALUE, v.size(), v.data());
    mnl_attr_nest_end(nlh, nest);
  };
  for (std::size_t begin = 0; begin < elements.size(); begin += per_message) {
    const std::size_t end = std::min(elements.size(), begin + per_message);
    std::string origin = fmt::format("set {} {}", s.name, verb);
    for (std::size_t i = begin; i < end && i < begin + 3; ++i) {
      origin += (i == begin ? " " : "; ") + elements[i].origin;
    }
    if (end - begin > 3) {
      origin += fmt::format(" (and {} more in this message)", end - begin - 3);
    }
    // NLM_F_EXCL on additions: an element that is already there means the kernel is not in
    // the state the delta was computed from, and the whole batch must be refused.
    w.Message(remove ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM, fam,
              remove ? std::uint16_t{0} : std::uint16_t{NLM_F_CREATE | NLM_F_EXCL},
              std::move(origin), [&](nlmsghdr* nlh, std::uint32_t seq) {
                mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, s.name.c_str());
                if (set_id != 0) {
                  mnl_attr_put_u32(nlh, NFTA_SET_ELEM_LIST_SET_ID, htonl(set_id));
                }
                mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table.c_str());
                nlattr* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
                for (std::size_t i = begin; i < end; ++i) {
                  const Element& e = elements[i];
                  const auto offset = static_cast<std::uint32_t>(
                      reinterpret_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh)) -
                      reinterpret_cast<const char*>(nlh));
                  w.NoteElement(seq, offset, s.name, e.origin, remove);
                  nlattr* elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
                  bytes.clear();
                  AppendKey(bytes, s, e.key);
                  put_value(nlh, NFTA_SET_ELEM_KEY, bytes);
                  if (s.interval) {
                    bytes.clear();
                    AppendKey(bytes, s, e.key_end.empty() ? e.key : e.key_end);
                    put_value(nlh, NFTA_SET_ELEM_KEY_END, bytes);
                  }
                  if (e.verdict && !remove) {
                    nlattr* data = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_DATA);
                    nlattr* verdict = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
                    mnl_attr_put_u32(
                        nlh, NFTA_VERDICT_CODE,
                        htonl(static_cast<std::uint32_t>(
                            e.verdict->kind == Verdict::Kind::kJump ? NFT_JUMP : NFT_GOTO)));
                    mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, e.verdict->chain.c_str());
                    mnl_attr_nest_end(nlh, verdict);
                    mnl_attr_nest_end(nlh, data);
                  } else if (e.data && !remove) {
                    bytes.clear();
                    AppendValue(bytes, *e.data, false);
                    bytes.resize(TypeLen(e.data->type));
                    put_value(nlh, NFTA_SET_ELEM_DATA, bytes);
                  }
                  mnl_attr_nest_end(nlh, elem);
                }
                mnl_attr_nest_end(nlh, list);
              });
  }
}

}  // namespace

std::vector<std::uint8_t> EncodeElementKey(const Set& set, const Element& element) {
  std::vector<std::uint8_t> key;
  AppendKey(key, set, element.key);
  return key;
}

std::string EncodedBatch::OriginOf(std::uint32_t seq, std::uint32_t bad_attr_offset) const {
  if (bad_attr_offset != 0) {
    // The element whose attribute contains the offset: the last one starting at or before it.
    const ElementAt* best = nullptr;
    for (const auto& e : elements) {
      if (e.seq == seq && e.offset <= bad_attr_offset) {
        best = &e;
      }
    }
    if (best != nullptr) {
      return fmt::format("set {} {} {}", *best->set, best->remove ? "deleting" : "element",
                         *best->origin);
    }
  }
  for (const auto& [s, origin] : origins) {
    if (s == seq) {
      return origin;
    }
  }
  return "";
}

EncodedBatch BuildReplaceBatch(const Ruleset& ruleset, std::uint32_t first_seq,
                               const BatchOptions& options) {
  BatchWriter w(first_seq);
  std::uint32_t set_id = 1;
  for (const Table& t : ruleset.tables) {
    const std::uint16_t fam = NfFamily(t.family);
    AddTableMessages(w, t.family, t.name, true);
    for (const auto& name : t.counters) {
      ObjPtr o(nftnl_obj_alloc());
      nftnl_obj_set_str(o.get(), NFTNL_OBJ_TABLE, t.name.c_str());
      nftnl_obj_set_str(o.get(), NFTNL_OBJ_NAME, name.c_str());
      nftnl_obj_set_u32(o.get(), NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
      nftnl_obj_set_u32(o.get(), NFTNL_OBJ_FAMILY, fam);
      w.Message(NFT_MSG_NEWOBJ, fam, NLM_F_CREATE | NLM_F_EXCL, "counter " + name,
                [&](nlmsghdr* nlh) { nftnl_obj_nlmsg_build_payload(nlh, o.get()); });
    }
    std::vector<std::uint32_t> ids;
    for (const Set& s : t.sets) {
      ids.push_back(set_id);
      AddSet(w, t, s, set_id++);
    }
    for (const Chain& c : t.chains) {
      ChainPtr ch(nftnl_chain_alloc());
      nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TABLE, t.name.c_str());
      nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_NAME, c.name.c_str());
      nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_FAMILY, fam);
      if (c.base) {
        nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_HOOKNUM, HookNum(c.base->hook));
        nftnl_chain_set_s32(ch.get(), NFTNL_CHAIN_PRIO, c.base->priority);
        nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TYPE, "filter");
        nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
      }
      w.Message(NFT_MSG_NEWCHAIN, fam, NLM_F_CREATE | NLM_F_EXCL, "chain " + c.name,
                [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, ch.get()); });
    }
    std::unordered_map<std::string_view, const Set*> sets_by_name;
    for (const Set& s : t.sets) {
      sets_by_name.emplace(s.name, &s);
    }
    for (const Chain& c : t.chains) {
      for (std::size_t i = 0; i < c.rules.size(); ++i) {
        RulePtr r(nftnl_rule_alloc());
        nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, t.name.c_str());
        nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, c.name.c_str());
        nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, fam);
        RuleEncoder enc(r.get(), sets_by_name);
        for (const Statement& st : c.rules[i].statements) {
          enc.Encode(st);
        }
        w.Message(NFT_MSG_NEWRULE, fam, NLM_F_CREATE | NLM_F_APPEND,
                  fmt::format("rule {} of chain {}: {}", i, c.name, c.rules[i].origin),
                  [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, r.get()); });
      }
    }
    for (std::size_t i = 0; i < t.sets.size(); ++i) {
      AddElements(w, t.family, t.name, t.sets[i], t.sets[i].elements, ids[i],
                  options.elements_per_message);
    }
  }
  return w.Finish();
}

EncodedBatch BuildElementUpdateBatch(const ElementDelta& delta, std::uint32_t first_seq,
                                     const BatchOptions& options) {
  BatchWriter w(first_seq);
  // Deletions first: a changed element (same key, new data) is deleted, then added again.
  for (const SetDelta& d : delta.sets) {
    AddElements(w, d.family, d.table, d.set, d.removed, 0, options.elements_per_message, true);
  }
  for (const SetDelta& d : delta.sets) {
    AddElements(w, d.family, d.table, d.set, d.set.elements, 0, options.elements_per_message);
  }
  return w.Finish();
}

EncodedBatch BuildDeleteBatch(const std::vector<std::pair<Family, std::string>>& tables,
                              std::uint32_t first_seq) {
  BatchWriter w(first_seq);
  for (const auto& [family, name] : tables) {
    AddTableMessages(w, family, name, false);
  }
  return w.Finish();
}

}  // namespace bulkhead::enforcer
