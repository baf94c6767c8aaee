#include "enforcer/kernel_ruleset.h"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>

#include <fmt/format.h>

#include "enforcer/compiler.h"
#include "enforcer/render.h"
#include "enforcer/set_names.h"

namespace bulkhead::enforcer {
namespace {

struct ObjFree {
  void operator()(nftnl_obj* o) const { nftnl_obj_free(o); }
};
struct SetFree {
  void operator()(nftnl_set* s) const { nftnl_set_free(s); }
};
struct IterFree {
  void operator()(nftnl_set_elems_iter* i) const { nftnl_set_elems_iter_destroy(i); }
};

ApplyError MapErrors(const EncodedBatch& batch, const std::vector<NetlinkError>& errors) {
  ApplyError out;
  for (const auto& e : errors) {
    KernelError k{e.seq, e.error, batch.OriginOf(e.seq, e.bad_attr_offset), e.message};
    if (k.origin.empty()) {
      k.origin = "the batch itself";
    }
    out.errors.push_back(std::move(k));
  }
  const KernelError& first = out.errors.front();
  out.summary = fmt::format("the kernel refused the ruleset ({}{}{}) at {}; nothing was changed",
                            std::strerror(first.error), first.message.empty() ? "" : ": ",
                            first.message, first.origin);
  if (out.errors.size() > 1) {
    out.summary += fmt::format(" (and {} more errors)", out.errors.size() - 1);
  }
  return out;
}

struct CounterRead {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  bool found = false;
};

int ReadCounterExpr(nftnl_expr* e, void* data) {
  auto* out = static_cast<CounterRead*>(data);
  const char* name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
  if (name != nullptr && std::strcmp(name, "counter") == 0) {
    out->packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
    out->bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
    out->found = true;
  }
  return 0;
}

struct KernelElement {
  std::string key;  // the key's bytes as the kernel has them (EncodeElementKey's form)
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

// Every element of set `set_name` of bulkhead's table of `family` (inet by default), with its
// counter if it has one.
boost::system::result<std::vector<KernelElement>, std::string> DumpElements(
    NetlinkTransport& transport, const std::string& set_name, Family family = Family::kInet) {
  std::vector<char> buf(4096);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETSETELEM,
                                        family == Family::kInet ? NFPROTO_INET : NFPROTO_BRIDGE,
                                        NLM_F_DUMP, transport.NextSeq());
  std::unique_ptr<nftnl_set, SetFree> filter(nftnl_set_alloc());
  nftnl_set_set_str(filter.get(), NFTNL_SET_TABLE, std::string(kTableName).c_str());
  nftnl_set_set_str(filter.get(), NFTNL_SET_NAME, set_name.c_str());
  nftnl_set_elems_nlmsg_build_payload(nlh, filter.get());
  auto replies = transport.Dump(
      {reinterpret_cast<const std::uint8_t*>(nlh), static_cast<std::size_t>(nlh->nlmsg_len)});
  if (!replies) {
    return replies.error();
  }
  std::vector<KernelElement> out;
  for (const auto& msg : *replies) {
    std::unique_ptr<nftnl_set, SetFree> s(nftnl_set_alloc());
    if (nftnl_set_elems_nlmsg_parse(reinterpret_cast<const nlmsghdr*>(msg.data()), s.get()) < 0) {
      return std::string("unparseable set elements from the kernel");
    }
    std::unique_ptr<nftnl_set_elems_iter, IterFree> it(nftnl_set_elems_iter_create(s.get()));
    for (nftnl_set_elem* e = nftnl_set_elems_iter_next(it.get()); e != nullptr;
         e = nftnl_set_elems_iter_next(it.get())) {
      std::uint32_t len = 0;
      const auto* key = static_cast<const char*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len));
      CounterRead c;
      nftnl_set_elem_expr_foreach(e, ReadCounterExpr, &c);
      out.push_back({key == nullptr ? std::string() : std::string(key, len), c.packets, c.bytes});
    }
  }
  return out;
}

// The hit set's elements of the single-port edges `delta` removes, as far as the kernel has
// them (an edge gets its element with its first connection): without this a removed edge's
// count would stay in the set, come back if the edge is allowed again, and take room from
// other edges. Only present elements are deleted: the kernel refuses deleting an absent one.
boost::system::result<SetDelta, std::string> StaleHits(NetlinkTransport& transport,
                                                       const Ruleset& next,
                                                       const ElementDelta& delta) {
  SetDelta out;
  const Table* table = next.FindTable(Family::kInet, kTableName);
  if (table == nullptr) {
    return out;
  }
  const auto hits = std::find_if(table->sets.begin(), table->sets.end(),
                                 [](const Set& s) { return s.name == kHitSet; });
  if (hits == table->sets.end()) {
    return out;
  }
  // An e_g<source> key leaves only with its edge (a plain set: no data to change), so the
  // removed elements are exactly the removed edges.
  std::map<std::string, Element> gone;  // encoded hit key -> hit element
  for (const SetDelta& d : delta.sets) {
    const auto source = d.set.single_port_edges_of;
    if (d.family != Family::kInet || !source) {
      continue;
    }
    for (const Element& e : d.removed) {
      Element hit = HitElement(*source, e);
      std::vector<std::uint8_t> k = EncodeElementKey(*hits, hit);
      gone.emplace(std::string(k.begin(), k.end()), std::move(hit));
    }
  }
  if (gone.empty()) {
    return out;
  }
  auto present = DumpElements(transport, hits->name);
  if (!present) {
    return present.error();
  }
  for (const KernelElement& e : *present) {
    const auto it = gone.find(e.key);
    if (it != gone.end()) {
      out.removed.push_back(it->second);
    }
  }
  out.family = Family::kInet;
  out.table = std::string(kTableName);
  out.set = *hits;
  out.set.elements.clear();
  return out;
}

}  // namespace

boost::system::result<ApplyStats, ApplyError> ApplyRuleset(NetlinkTransport& transport,
                                                           const Ruleset& ruleset,
                                                           const BatchOptions& options) {
  EncodedBatch batch = BuildReplaceBatch(ruleset, transport.NextSeq(), options);
  auto sent = transport.SendBatch(batch.bytes);
  if (!sent) {
    return ApplyError{sent.error(), {}};
  }
  if (!sent->empty()) {
    return MapErrors(batch, *sent);
  }
  return ApplyStats{batch.messages, batch.bytes.size()};
}

boost::system::result<UpdateResult, ApplyError> ApplyElementDelta(NetlinkTransport& transport,
                                                                  const ElementDelta& delta,
                                                                  const BatchOptions& options) {
  UpdateResult out;
  out.added = delta.Added();
  out.removed = delta.Removed();
  if (delta.Empty()) {
    return out;
  }
  EncodedBatch batch = BuildElementUpdateBatch(delta, transport.NextSeq(), options);
  auto sent = transport.SendBatch(batch.bytes);
  if (!sent) {
    return ApplyError{sent.error(), {}};
  }
  if (!sent->empty()) {
    return MapErrors(batch, *sent);
  }
  out.stats = ApplyStats{batch.messages, batch.bytes.size()};
  return out;
}

boost::system::result<UpdateResult, ApplyError> UpdateElements(NetlinkTransport& transport,
                                                               const Ruleset& previous,
                                                               const Ruleset& next,
                                                               const BatchOptions& options) {
  std::optional<ElementDelta> delta = DiffElements(previous, next);
  if (!delta) {
    UpdateResult out;
    out.structure_changed = true;
    return out;
  }
  auto stale = StaleHits(transport, next, *delta);
  if (!stale) {
    return ApplyError{"reading the hit set before removing edges: " + stale.error(), {}};
  }
  if (!stale->removed.empty()) {
    delta->sets.push_back(std::move(*stale));
  }
  return ApplyElementDelta(transport, *delta, options);
}

boost::system::result<void, ApplyError> DeleteTables(NetlinkTransport& transport) {
  EncodedBatch batch = BuildDeleteBatch(
      {{Family::kInet, std::string(kTableName)}, {Family::kBridge, std::string(kTableName)}},
      transport.NextSeq());
  auto sent = transport.SendBatch(batch.bytes);
  if (!sent) {
    return ApplyError{sent.error(), {}};
  }
  if (!sent->empty()) {
    return MapErrors(batch, *sent);
  }
  return {};
}

boost::system::result<std::vector<CounterValue>, std::string> ReadNamedCounters(
    NetlinkTransport& transport) {
  std::vector<CounterValue> out;
  for (Family family : {Family::kInet, Family::kBridge}) {
    const std::uint16_t fam = family == Family::kInet ? NFPROTO_INET : NFPROTO_BRIDGE;
    std::vector<char> buf(4096);
    nlmsghdr* nlh =
        nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETOBJ, fam, NLM_F_DUMP, transport.NextSeq());
    std::unique_ptr<nftnl_obj, ObjFree> filter(nftnl_obj_alloc());
    nftnl_obj_set_str(filter.get(), NFTNL_OBJ_TABLE, std::string(kTableName).c_str());
    nftnl_obj_set_u32(filter.get(), NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
    nftnl_obj_nlmsg_build_payload(nlh, filter.get());
    auto replies = transport.Dump(
        {reinterpret_cast<const std::uint8_t*>(nlh), static_cast<std::size_t>(nlh->nlmsg_len)});
    if (!replies) {
      return replies.error();
    }
    for (const auto& msg : *replies) {
      std::unique_ptr<nftnl_obj, ObjFree> obj(nftnl_obj_alloc());
      if (nftnl_obj_nlmsg_parse(reinterpret_cast<const nlmsghdr*>(msg.data()), obj.get()) < 0) {
        return std::string("unparseable counter object from the kernel");
      }
      const char* table = nftnl_obj_get_str(obj.get(), NFTNL_OBJ_TABLE);
      if (table == nullptr || kTableName != table) {
        continue;  // a dump may include other tables' objects: not ours
      }
      out.push_back(
          {fmt::format("{}/{}", FamilyName(family), nftnl_obj_get_str(obj.get(), NFTNL_OBJ_NAME)),
           nftnl_obj_get_u64(obj.get(), NFTNL_OBJ_CTR_PKTS),
           nftnl_obj_get_u64(obj.get(), NFTNL_OBJ_CTR_BYTES)});
    }
  }
  return out;
}

boost::system::result<std::vector<CounterValue>, std::string> ReadSetCounters(
    NetlinkTransport& transport, const Set& set, const Set* names) {
  if (names == nullptr) {
    names = &set;
  }
  auto elements = DumpElements(transport, set.name);
  if (!elements) {
    return elements.error();
  }
  // Keys as strings: GCC 12 at -O3 warns falsely (-Wstringop-overread) on vector<uint8_t> keys.
  std::map<std::string, const Element*> by_key;
  for (const Element& e : names->elements) {
    std::vector<std::uint8_t> k = EncodeElementKey(*names, e);
    by_key[std::string(k.begin(), k.end())] = &e;
  }
  std::vector<CounterValue> out;
  for (const KernelElement& e : *elements) {
    const auto found = by_key.find(e.key);
    out.push_back(
        {found == by_key.end() ? "unknown element" : found->second->origin, e.packets, e.bytes});
  }
  return out;
}

boost::system::result<std::vector<SuppressedCount>, std::string> ReadSuppressedViolations(
    NetlinkTransport& transport) {
  std::map<std::pair<bool, std::string>, std::uint64_t> by_source;
  for (Family family : {Family::kInet, Family::kBridge}) {
    for (IpFamily ip : {IpFamily::kIpv4, IpFamily::kIpv6}) {
      auto elements = DumpElements(transport, std::string(SuppressedSetName(ip)), family);
      if (!elements) {
        return elements.error();
      }
      const std::size_t length = ip == IpFamily::kIpv4 ? 4 : 16;
      for (const KernelElement& e : *elements) {
        if (e.key.size() == length) {
          by_source[{ip == IpFamily::kIpv6, e.key}] += e.packets;
        }
      }
    }
  }
  std::vector<SuppressedCount> out;
  for (const auto& [source, packets] : by_source) {
    SuppressedCount c;
    c.v6 = source.first;
    std::copy(source.second.begin(), source.second.end(), c.address.begin());
    c.packets = packets;
    out.push_back(c);
  }
  return out;
}

boost::system::result<std::vector<CounterValue>, std::string> ReadEdgeCounters(
    NetlinkTransport& transport, const Table& inet_table) {
  const Set hit_names = HitNames(inet_table);
  std::vector<CounterValue> out;
  for (const Set& set : inet_table.sets) {
    // Edge counters are in the hit set and in the sets with per-element counters; the other
    // dynamic sets (the violation log's, rule_building.h) count sources, not edges.
    const bool hits = set.name == kHitSet;
    if (!set.counter && !hits) {
      continue;
    }
    const Set& edges = hits ? hit_names : set;
    auto counters = ReadSetCounters(transport, set, &edges);
    if (!counters) {
      return counters.error();
    }
    std::unordered_map<std::string, const CounterValue*> seen;
    for (const auto& c : *counters) {
      seen.emplace(c.name, &c);
    }
    for (const Element& e : edges.elements) {
      const auto it = seen.find(e.origin);
      out.push_back({e.origin, it == seen.end() ? 0 : it->second->packets,
                     it == seen.end() ? 0 : it->second->bytes});
    }
  }
  return out;
}

}  // namespace bulkhead::enforcer
