#include "enforcer/ruleset_verify.h"

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "enforcer/batch_builder.h"
#include "enforcer/internal/nftnl_owners.h"

namespace bulkhead::enforcer {
namespace {

using internal::ChainPtr;
using internal::ElemIterPtr;
using internal::ExprIterPtr;
using internal::ObjPtr;
using internal::RulePtr;
using internal::SetPtr;
using internal::TablePtr;

// One side of the comparison (the batch bulkhead sends, or the kernel's dump), reduced to what
// is compared (see the header). Texts are canonical forms, equal when the objects are.
struct RuleView {
  std::string text;
};
struct SetView {
  std::string desc;
  bool dynamic = false;
};
struct TableView {
  std::uint32_t flags = 0;
  std::set<std::string> counters;
  std::map<std::string, std::string> chains;  // name -> base chain description
  std::map<std::string, std::vector<RuleView>> rules;
  std::map<std::string, SetView> sets;
  // set -> element text -> origin ("" on the kernel's side)
  std::map<std::string, std::unordered_map<std::string, std::string>> elements;
};
using TableKey = std::pair<std::uint8_t, std::string>;  // (NFPROTO_*, name)
using View = std::map<TableKey, TableView>;

std::uint8_t NfFamilyOf(Family f) { return f == Family::kInet ? NFPROTO_INET : NFPROTO_BRIDGE; }

std::string_view FamilyText(std::uint8_t family) {
  return family == NFPROTO_INET ? "inet" : family == NFPROTO_BRIDGE ? "bridge" : "other";
}

std::uint8_t MessageFamily(const nlmsghdr* nlh) {
  return static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh))->nfgen_family;
}

std::string Str(const char* s) { return s == nullptr ? std::string() : std::string(s); }

// Appends hex digits; a table, not fmt per byte: a big ruleset has a million element bytes.
void AppendHex(std::string& out, const void* data, std::uint32_t len) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const auto* p = static_cast<const std::uint8_t*>(data);
  for (std::uint32_t i = 0; i < len; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 0xf];
  }
}

int ZeroCounter(nftnl_expr* e, void*) {
  const char* name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
  if (name != nullptr && std::string_view(name) == "counter") {
    nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_PACKETS, 0);
    nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_BYTES, 0);
  }
  return 0;
}

// Attributes the kernel always reports but bulkhead leaves out when they are 0 (a lookup's
// flags, a dynset's timeout): set to 0 on both sides so that absent and 0 print alike.
void FillDefaults(nftnl_expr* e, std::string_view name) {
  if (name == "lookup" && !nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS)) {
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, 0);
  } else if (name == "dynset" && !nftnl_expr_is_set(e, NFTNL_EXPR_DYNSET_TIMEOUT)) {
    nftnl_expr_set_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT, 0);
  }
}

// An object reference by its printable name. libnftnl 1.2.4 writes an objref's name without
// its terminating NUL (the kernel copies it bounded), so parsing our own request reads on past
// the attribute; the name ends at the first control byte (counter names are identifiers).
std::string ObjrefText(nftnl_expr* e) {
  const std::string name = Str(nftnl_expr_get_str(e, NFTNL_EXPR_OBJREF_IMM_NAME));
  const auto end = std::find_if(name.begin(), name.end(),
                                [](char c) { return static_cast<unsigned char>(c) < 0x20; });
  return fmt::format("type {} name {} ", nftnl_expr_get_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE),
                     std::string(name.begin(), end));
}

// A rule's expressions as libnftnl prints them (`nft --debug=netlink` style), counter values
// zeroed, no handle or position: equal for the rule bulkhead sent and the kernel's copy of it.
std::string RuleText(nftnl_rule* r) {
  std::string out;
  ExprIterPtr it(nftnl_expr_iter_create(r));
  std::array<char, 4096> buf{};
  for (nftnl_expr* e = nftnl_expr_iter_next(it.get()); e != nullptr;
       e = nftnl_expr_iter_next(it.get())) {
    const std::string name = Str(nftnl_expr_get_str(e, NFTNL_EXPR_NAME));
    ZeroCounter(e, nullptr);
    FillDefaults(e, name);
    if (name == "dynset") {
      // Its per-element counter. (libnftnl's foreach has no check for expressions without
      // nested ones: call it on dynset only.)
      nftnl_expr_expr_foreach(e, ZeroCounter, nullptr);
    }
    if (name == "objref") {
      out += "[ objref " + ObjrefText(e) + "] ";
      continue;
    }
    nftnl_expr_snprintf(buf.data(), buf.size(), e, NFTNL_OUTPUT_DEFAULT, 0);
    out += fmt::format("[ {} {}] ", name, buf.data());
  }
  return out;
}

std::string ChainDesc(nftnl_chain* c) {
  if (!nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
    return "regular chain";
  }
  return fmt::format(
      "type {} hook {} priority {} policy {}", Str(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE)),
      nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO),
      nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) ? nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY)
                                                : std::uint32_t{NF_ACCEPT});
}

std::string SetDesc(nftnl_set* s) {
  auto u32 = [&](nftnl_set_attr a) { return nftnl_set_is_set(s, a) ? nftnl_set_get_u32(s, a) : 0; };
  if (u32(NFTNL_SET_DATA_TYPE) == NFT_DATA_VERDICT) {
    // A verdict map's data length is the kernel's business (it reports sizeof(struct
    // nft_verdict)); bulkhead sends 0.
    nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 0);
  }
  return fmt::format(
      "flags {:#x} key type {} length {} data type {} length {} size {} timeout {} ms",
      u32(NFTNL_SET_FLAGS), u32(NFTNL_SET_KEY_TYPE), u32(NFTNL_SET_KEY_LEN),
      u32(NFTNL_SET_DATA_TYPE), u32(NFTNL_SET_DATA_LEN), u32(NFTNL_SET_DESC_SIZE),
      nftnl_set_is_set(s, NFTNL_SET_TIMEOUT) ? nftnl_set_get_u64(s, NFTNL_SET_TIMEOUT) : 0);
}

std::string ElementText(nftnl_set_elem* e) {
  std::uint32_t len = 0;
  std::string out = "key ";
  if (const void* key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len); key != nullptr) {
    AppendHex(out, key, len);
  }
  if (const void* end = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len); end != nullptr) {
    out += " end ";
    AppendHex(out, end, len);
  }
  if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT)) {
    out += fmt::format(" verdict {} {}",
                       static_cast<std::int32_t>(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT)),
                       Str(nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN)));
  } else if (const void* data = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &len); data != nullptr) {
    out += " data ";
    AppendHex(out, data, len);
  }
  if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS)) {
    // Only the interval-end flag is a property of the element; the kernel reports no others.
    out += fmt::format(" flags {:#x}",
                       nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END);
  }
  return out;
}

// Origins of the elements of the batch bulkhead would send: message seq -> element index ->
// origin (EncodedBatch records them in order).
using ElementOrigins = std::unordered_map<std::uint32_t, std::vector<const std::string*>>;

// A table message: NEWTABLE (created, with its flags) or DELTABLE (the batch's replacement of
// the previous table).
boost::system::result<void, std::string> AbsorbTable(const nlmsghdr* nlh, std::uint8_t family,
                                                     const std::set<TableKey>& wanted, View& view) {
  TablePtr t(nftnl_table_alloc());
  if (nftnl_table_nlmsg_parse(nlh, t.get()) < 0) {
    return std::string("an unparseable table");
  }
  const TableKey key{family, Str(nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME))};
  if (!wanted.contains(key)) {
    return {};
  }
  if ((nlh->nlmsg_type & 0xff) == NFT_MSG_DELTABLE) {
    view.erase(key);
  } else {
    view[key].flags = nftnl_table_get_u32(t.get(), NFTNL_TABLE_FLAGS);
  }
  return {};
}

// An element message: each element's canonical text, with its origin when the message is one
// of the batch's.
template <typename TableOf>
boost::system::result<void, std::string> AbsorbElements(const nlmsghdr* nlh, TableOf table_of,
                                                        const ElementOrigins* origins) {
  SetPtr s(nftnl_set_alloc());
  if (nftnl_set_elems_nlmsg_parse(nlh, s.get()) < 0) {
    return std::string("unparseable set elements");
  }
  TableView* t = table_of(nftnl_set_get_str(s.get(), NFTNL_SET_TABLE));
  if (t == nullptr) {
    return {};
  }
  auto& elements = t->elements[Str(nftnl_set_get_str(s.get(), NFTNL_SET_NAME))];
  const std::vector<const std::string*>* names = nullptr;
  if (origins != nullptr) {
    const auto it = origins->find(nlh->nlmsg_seq);
    names = it == origins->end() ? nullptr : &it->second;
  }
  ElemIterPtr it(nftnl_set_elems_iter_create(s.get()));
  std::size_t i = 0;
  for (nftnl_set_elem* e = nftnl_set_elems_iter_next(it.get()); e != nullptr;
       e = nftnl_set_elems_iter_next(it.get()), ++i) {
    elements[ElementText(e)] = names != nullptr && i < names->size() ? *(*names)[i] : "";
  }
  return {};
}

// Adds one message (a NEW*/DEL* of the batch, or a dump reply) to `view`. Objects of tables
// outside `wanted` are skipped (a dump may carry them). `origins`: the batch's element origins.
boost::system::result<void, std::string> Absorb(const nlmsghdr* nlh,
                                                const std::set<TableKey>& wanted,
                                                const ElementOrigins* origins, View& view) {
  if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES) {
    return {};  // BATCH_BEGIN/END
  }
  const std::uint8_t family = MessageFamily(nlh);
  auto table_of = [&](const char* name) -> TableView* {
    const TableKey key{family, Str(name)};
    if (!wanted.contains(key)) {
      return nullptr;
    }
    const auto it = view.find(key);
    return it == view.end() ? nullptr : &it->second;
  };
  switch (nlh->nlmsg_type & 0xff) {
    case NFT_MSG_NEWTABLE:
    case NFT_MSG_DELTABLE:
      return AbsorbTable(nlh, family, wanted, view);
    case NFT_MSG_NEWOBJ: {
      ObjPtr o(nftnl_obj_alloc());
      if (nftnl_obj_nlmsg_parse(nlh, o.get()) < 0) {
        return std::string("an unparseable object");
      }
      if (TableView* t = table_of(nftnl_obj_get_str(o.get(), NFTNL_OBJ_TABLE))) {
        t->counters.insert(Str(nftnl_obj_get_str(o.get(), NFTNL_OBJ_NAME)));
      }
      return {};
    }
    case NFT_MSG_NEWCHAIN: {
      ChainPtr c(nftnl_chain_alloc());
      if (nftnl_chain_nlmsg_parse(nlh, c.get()) < 0) {
        return std::string("an unparseable chain");
      }
      if (TableView* t = table_of(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE))) {
        t->chains[Str(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME))] = ChainDesc(c.get());
      }
      return {};
    }
    case NFT_MSG_NEWSET: {
      SetPtr s(nftnl_set_alloc());
      if (nftnl_set_nlmsg_parse(nlh, s.get()) < 0) {
        return std::string("an unparseable set");
      }
      if (TableView* t = table_of(nftnl_set_get_str(s.get(), NFTNL_SET_TABLE))) {
        const bool dynamic = (nftnl_set_get_u32(s.get(), NFTNL_SET_FLAGS) & NFT_SET_EVAL) != 0;
        t->sets[Str(nftnl_set_get_str(s.get(), NFTNL_SET_NAME))] = {SetDesc(s.get()), dynamic};
      }
      return {};
    }
    case NFT_MSG_NEWRULE: {
      RulePtr r(nftnl_rule_alloc());
      if (nftnl_rule_nlmsg_parse(nlh, r.get()) < 0) {
        return std::string("an unparseable rule");
      }
      if (TableView* t = table_of(nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE))) {
        t->rules[Str(nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN))].push_back({RuleText(r.get())});
      }
      return {};
    }
    case NFT_MSG_NEWSETELEM:
      return AbsorbElements(nlh, table_of, origins);
    default:
      return {};
  }
}

// What applying `ruleset` sends, as a View.
boost::system::result<View, std::string> ExpectedView(const Ruleset& ruleset,
                                                      const std::set<TableKey>& wanted) {
  const EncodedBatch batch = BuildReplaceBatch(ruleset, 1);
  ElementOrigins origins;
  for (const auto& e : batch.elements) {
    origins[e.seq].push_back(e.origin);
  }
  View view;
  int len = static_cast<int>(batch.bytes.size());
  for (const auto* nlh = reinterpret_cast<const nlmsghdr*>(batch.bytes.data());
       mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
    auto absorbed = Absorb(nlh, wanted, &origins, view);
    if (!absorbed) {
      return "encoding the expected ruleset: " + absorbed.error();
    }
  }
  return view;
}

// Sends one dump request (built by `fill` on a header) and absorbs every reply into `view`.
template <typename Fill>
boost::system::result<void, std::string> DumpInto(NetlinkTransport& transport, std::uint16_t type,
                                                  std::uint8_t family, const char* what,
                                                  const std::set<TableKey>& wanted, View& view,
                                                  Fill fill) {
  std::vector<char> buf(8192);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf.data(), type, family, NLM_F_DUMP, transport.NextSeq());
  fill(nlh);
  auto replies = transport.Dump(
      {reinterpret_cast<const std::uint8_t*>(nlh), static_cast<std::size_t>(nlh->nlmsg_len)});
  if (!replies) {
    return fmt::format("reading the kernel's {}: {}", what, replies.error());
  }
  for (const auto& msg : *replies) {
    const auto* reply = reinterpret_cast<const nlmsghdr*>(msg.data());
    if (msg.size() < sizeof(nlmsghdr) + sizeof(nfgenmsg) || reply->nlmsg_len > msg.size()) {
      return fmt::format("reading the kernel's {}: a truncated reply", what);
    }
    auto absorbed = Absorb(reply, wanted, nullptr, view);
    if (!absorbed) {
      return fmt::format("reading the kernel's {}: {}", what, absorbed.error());
    }
  }
  return {};
}

// The kernel's copy of the tables in `wanted`, each object kind dumped per table (the kernel
// filters by table name), elements per set.
boost::system::result<View, std::string> KernelView(NetlinkTransport& transport,
                                                    const std::set<TableKey>& wanted) {
  View view;
  std::set<std::uint8_t> families;
  for (const auto& [family, name] : wanted) {
    families.insert(family);
  }
  for (std::uint8_t family : families) {
    auto tables =
        DumpInto(transport, NFT_MSG_GETTABLE, family, "tables", wanted, view, [](nlmsghdr*) {});
    if (!tables) {
      return tables.error();
    }
  }
  for (auto& [key, table] : view) {
    const char* name = key.second.c_str();
    const std::uint8_t fam = key.first;
    auto objects =
        DumpInto(transport, NFT_MSG_GETOBJ, fam, "counters", wanted, view, [&](nlmsghdr* n) {
          ObjPtr o(nftnl_obj_alloc());
          nftnl_obj_set_str(o.get(), NFTNL_OBJ_TABLE, name);
          nftnl_obj_set_u32(o.get(), NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
          nftnl_obj_nlmsg_build_payload(n, o.get());
        });
    auto chains =
        DumpInto(transport, NFT_MSG_GETCHAIN, fam, "chains", wanted, view, [&](nlmsghdr* n) {
          ChainPtr c(nftnl_chain_alloc());
          nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, name);
          nftnl_chain_nlmsg_build_payload(n, c.get());
        });
    auto sets = DumpInto(transport, NFT_MSG_GETSET, fam, "sets", wanted, view, [&](nlmsghdr* n) {
      SetPtr s(nftnl_set_alloc());
      nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, name);
      nftnl_set_nlmsg_build_payload(n, s.get());
    });
    auto rules = DumpInto(transport, NFT_MSG_GETRULE, fam, "rules", wanted, view, [&](nlmsghdr* n) {
      RulePtr r(nftnl_rule_alloc());
      nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, name);
      nftnl_rule_nlmsg_build_payload(n, r.get());
    });
    for (auto* step : {&objects, &chains, &sets, &rules}) {
      if (!*step) {
        return step->error();
      }
    }
    std::vector<std::string> set_names;
    for (const auto& [set_name, set] : table.sets) {
      if (!set.dynamic) {
        set_names.push_back(set_name);
      }
    }
    for (const std::string& set_name : set_names) {
      table.elements[set_name];  // an empty set has no reply, but is no missing set
      auto elements = DumpInto(transport, NFT_MSG_GETSETELEM, fam, "set elements", wanted, view,
                               [&](nlmsghdr* n) {
                                 SetPtr s(nftnl_set_alloc());
                                 nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, name);
                                 nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set_name.c_str());
                                 nftnl_set_elems_nlmsg_build_payload(n, s.get());
                               });
      if (!elements) {
        return elements.error();
      }
    }
  }
  return view;
}

// Collects differences up to the limit.
class Differences {
 public:
  explicit Differences(std::size_t limit) : limit_(limit) {}
  bool full() const { return out_.size() >= limit_; }
  void Add(RulesetDifference::Kind kind, std::string object, std::string origin,
           std::string detail) {
    if (!full()) {
      out_.push_back({kind, std::move(object), std::move(origin), std::move(detail)});
    }
  }
  std::vector<RulesetDifference> Take() { return std::move(out_); }

 private:
  std::size_t limit_;
  std::vector<RulesetDifference> out_;
};

using Kind = RulesetDifference::Kind;

// The rules of one chain: the first place where the kernel's list departs from the expected
// one, named as a missing, an unexpected or a changed rule (one difference per chain: after a
// deletion every later position differs, and that is one fault).
void CompareRules(const std::string& chain_name, const std::vector<RuleView>& expected,
                  const std::vector<RuleView>& actual, const Chain* model, Differences& diffs) {
  std::size_t i = 0;
  while (i < expected.size() && i < actual.size() && expected[i].text == actual[i].text) {
    ++i;
  }
  if (i == expected.size() && i == actual.size()) {
    return;
  }
  auto origin = [&](std::size_t at) {
    return model != nullptr && at < model->rules.size() ? model->rules[at].origin : std::string();
  };
  auto tail_equal = [](const std::vector<RuleView>& a, std::size_t from_a,
                       const std::vector<RuleView>& b, std::size_t from_b) {
    return a.size() - from_a == b.size() - from_b &&
           std::equal(a.begin() + static_cast<std::ptrdiff_t>(from_a), a.end(),
                      b.begin() + static_cast<std::ptrdiff_t>(from_b),
                      [](const RuleView& x, const RuleView& y) { return x.text == y.text; });
  };
  const std::string object = fmt::format("rule {} of {}", i, chain_name);
  if (i < expected.size() && tail_equal(expected, i + 1, actual, i)) {
    diffs.Add(Kind::kMissing, object, origin(i), "absent in the kernel");
  } else if (i >= expected.size() ||
             (i < actual.size() && tail_equal(expected, i, actual, i + 1))) {
    // An extra rule: past the expected end, or one after which the rest matches again.
    diffs.Add(Kind::kUnexpected, object, "", "the kernel has an extra rule: " + actual[i].text);
  } else if (i < actual.size()) {
    diffs.Add(Kind::kChanged, object, origin(i),
              fmt::format("the kernel has {}, expected {}", actual[i].text, expected[i].text));
  } else {
    diffs.Add(Kind::kMissing, object, origin(i),
              fmt::format("absent in the kernel ({} of {} rules)", actual.size(), expected.size()));
  }
}

using ElementTexts = std::unordered_map<std::string, std::string>;

void CompareElements(const std::string& set_name, const ElementTexts& expected,
                     const ElementTexts& actual, Differences& diffs) {
  const std::string object = "element of set " + set_name;
  for (const auto& [text, origin] : expected) {
    if (diffs.full()) {
      return;
    }
    if (!actual.contains(text)) {
      diffs.Add(Kind::kMissing, object, origin, "absent in the kernel (" + text + ")");
    }
  }
  for (const auto& [text, unused] : actual) {
    if (diffs.full()) {
      return;
    }
    if (!expected.contains(text)) {
      diffs.Add(Kind::kUnexpected, object, "", "the kernel has " + text);
    }
  }
}

void CompareTable(const TableKey& key, const TableView& want, const TableView& have,
                  const Table* model, Differences& diffs) {
  const std::string table = fmt::format("{} {}", FamilyText(key.first), key.second);
  if (want.flags != have.flags) {
    diffs.Add(Kind::kChanged, "table " + table, "",
              fmt::format("flags {:#x}, expected {:#x}{}", have.flags, want.flags,
                          (have.flags & NFT_TABLE_F_DORMANT) != 0 ? " (dormant: inactive)" : ""));
  }
  for (const auto& name : want.counters) {
    if (!have.counters.contains(name)) {
      diffs.Add(Kind::kMissing, fmt::format("counter {} {}", table, name), "",
                "absent in the kernel");
    }
  }
  for (const auto& name : have.counters) {
    if (!want.counters.contains(name)) {
      diffs.Add(Kind::kUnexpected, fmt::format("counter {} {}", table, name), "", "not bulkhead's");
    }
  }
  for (const auto& [name, desc] : want.chains) {
    const auto it = have.chains.find(name);
    const std::string object = fmt::format("chain {} {}", table, name);
    if (it == have.chains.end()) {
      diffs.Add(Kind::kMissing, object, "", "absent in the kernel");
      continue;
    }
    if (it->second != desc) {
      diffs.Add(Kind::kChanged, object, "", fmt::format("{}, expected {}", it->second, desc));
    }
    const auto want_rules = want.rules.find(name);
    const auto have_rules = have.rules.find(name);
    static const std::vector<RuleView> kNone;
    CompareRules(object, want_rules == want.rules.end() ? kNone : want_rules->second,
                 have_rules == have.rules.end() ? kNone : have_rules->second,
                 model != nullptr ? model->FindChain(name) : nullptr, diffs);
  }
  for (const auto& [name, desc] : have.chains) {
    if (!want.chains.contains(name)) {
      diffs.Add(Kind::kUnexpected, fmt::format("chain {} {}", table, name), "", "not bulkhead's");
    }
  }
  for (const auto& [name, set] : want.sets) {
    const std::string object = fmt::format("set {} {}", table, name);
    const Set* model_set = model != nullptr ? model->FindSet(name) : nullptr;
    const std::string origin = model_set != nullptr ? model_set->origin : "";
    const auto it = have.sets.find(name);
    if (it == have.sets.end()) {
      diffs.Add(Kind::kMissing, object, origin, "absent in the kernel");
      continue;
    }
    if (it->second.desc != set.desc) {
      diffs.Add(Kind::kChanged, object, origin,
                fmt::format("{}, expected {}", it->second.desc, set.desc));
    }
    if (set.dynamic) {
      continue;  // filled by the packet path
    }
    static const ElementTexts kEmpty;
    const auto want_elements = want.elements.find(name);
    const auto have_elements = have.elements.find(name);
    CompareElements(fmt::format("{} {}", table, name),
                    want_elements == want.elements.end() ? kEmpty : want_elements->second,
                    have_elements == have.elements.end() ? kEmpty : have_elements->second, diffs);
  }
  for (const auto& [name, set] : have.sets) {
    if (!want.sets.contains(name)) {
      diffs.Add(Kind::kUnexpected, fmt::format("set {} {}", table, name), "", "not bulkhead's");
    }
  }
}

}  // namespace

std::string RulesetDifference::ToString() const {
  const std::string_view what = kind == Kind::kMissing      ? "missing"
                                : kind == Kind::kUnexpected ? "unexpected"
                                                            : "changed";
  return fmt::format("{}: {}{}{}{}: {}", what, object, origin.empty() ? "" : " (", origin,
                     origin.empty() ? "" : ")", detail);
}

boost::system::result<std::vector<RulesetDifference>, std::string> VerifyRuleset(
    NetlinkTransport& transport, const Ruleset& ruleset, const VerifyOptions& options) {
  std::set<TableKey> wanted;
  for (const Table& t : ruleset.tables) {
    wanted.emplace(NfFamilyOf(t.family), t.name);
  }
  auto expected = ExpectedView(ruleset, wanted);
  if (!expected) {
    return expected.error();
  }
  auto actual = KernelView(transport, wanted);
  if (!actual) {
    return actual.error();
  }
  Differences diffs(options.max_differences);
  for (const Table& t : ruleset.tables) {
    const TableKey key{NfFamilyOf(t.family), t.name};
    const auto want = expected->find(key);
    const auto have = actual->find(key);
    if (want == expected->end()) {
      continue;  // not reachable: every model table is in the batch
    }
    if (have == actual->end()) {
      diffs.Add(Kind::kMissing, fmt::format("table {} {}", FamilyName(t.family), t.name), "",
                "absent in the kernel: nothing of it is enforced");
      continue;
    }
    CompareTable(key, want->second, have->second, &t, diffs);
  }
  return diffs.Take();
}

}  // namespace bulkhead::enforcer
