#include "enforcer/ruleset_watch.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "enforcer/compiler.h"

namespace bulkhead::enforcer {
namespace {

// NFT_MSG_DESTROY* (Linux 6.3) are missing from this distribution's 6.1 uapi headers. The
// kernel reports a destroy as a DEL*, but a message of these types is decoded the same way.
constexpr std::uint8_t kMsgDestroyTable = 26;
constexpr std::uint8_t kMsgDestroyFlowtable = 32;

constexpr std::size_t kNlmsgHeader = 16;  // struct nlmsghdr
constexpr std::size_t kNfgenHeader = 4;   // struct nfgenmsg
constexpr std::size_t kAttrHeader = 4;    // struct nlattr

std::size_t Align4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

std::uint32_t HostU32(std::span<const std::uint8_t> b, std::size_t at) {
  std::uint32_t v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}
std::uint16_t HostU16(std::span<const std::uint8_t> b, std::size_t at) {
  std::uint16_t v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

// Calls f(type, value) for each attribute of `payload` (types without NLA_F_NESTED and
// NLA_F_NET_BYTEORDER). Every nla_len is checked against what remains, so a length field never
// reads past the message; false when an attribute does not fit. Trailing padding shorter than an
// attribute header is allowed (the kernel aligns messages to 4 bytes).
template <typename F>
bool ForEachAttribute(std::span<const std::uint8_t> payload, F f) {
  std::size_t off = 0;
  while (payload.size() - off >= kAttrHeader) {
    const std::uint16_t len = HostU16(payload, off);
    const auto type =
        static_cast<std::uint16_t>(HostU16(payload, off + 2) & 0x3fff);  // NLA_TYPE_MASK
    if (len < kAttrHeader || len > payload.size() - off) {
      return false;
    }
    if (!f(type, payload.subspan(off + kAttrHeader, len - kAttrHeader))) {
      return false;
    }
    off += std::min<std::size_t>(Align4(len), payload.size() - off);
  }
  return true;
}

// A NUL-terminated netlink string (NLA_STRING as nf_tables sends it); false if unterminated.
bool ReadString(std::span<const std::uint8_t> v, std::string& out) {
  const auto* text = reinterpret_cast<const char*>(v.data());
  const std::size_t len = strnlen(text, v.size());
  if (len == v.size()) {
    return false;
  }
  out.assign(text, len);
  return true;
}

bool ReadBe32(std::span<const std::uint8_t> v, std::uint32_t& out) {
  if (v.size() != 4) {
    return false;
  }
  out = (std::uint32_t{v[0]} << 24) | (std::uint32_t{v[1]} << 16) | (std::uint32_t{v[2]} << 8) |
        std::uint32_t{v[3]};
  return true;
}

bool ReadBe64(std::span<const std::uint8_t> v, std::uint64_t& out) {
  if (v.size() != 8) {
    return false;
  }
  out = 0;
  for (std::uint8_t b : v) {
    out = (out << 8) | b;
  }
  return true;
}

struct MsgKind {
  NftObjectKind kind;
  bool removed;
};

std::optional<MsgKind> KindOf(std::uint8_t type) {
  using K = NftObjectKind;
  switch (type) {
    case NFT_MSG_NEWTABLE:
      return MsgKind{K::kTable, false};
    case NFT_MSG_DELTABLE:
      return MsgKind{K::kTable, true};
    case NFT_MSG_NEWCHAIN:
      return MsgKind{K::kChain, false};
    case NFT_MSG_DELCHAIN:
      return MsgKind{K::kChain, true};
    case NFT_MSG_NEWRULE:
      return MsgKind{K::kRule, false};
    case NFT_MSG_DELRULE:
      return MsgKind{K::kRule, true};
    case NFT_MSG_NEWSET:
      return MsgKind{K::kSet, false};
    case NFT_MSG_DELSET:
      return MsgKind{K::kSet, true};
    case NFT_MSG_NEWSETELEM:
      return MsgKind{K::kElement, false};
    case NFT_MSG_DELSETELEM:
      return MsgKind{K::kElement, true};
    case NFT_MSG_NEWOBJ:
      return MsgKind{K::kObject, false};
    case NFT_MSG_DELOBJ:
      return MsgKind{K::kObject, true};
    case NFT_MSG_NEWFLOWTABLE:
      return MsgKind{K::kFlowtable, false};
    case NFT_MSG_DELFLOWTABLE:
      return MsgKind{K::kFlowtable, true};
    default:
      break;
  }
  if (type >= kMsgDestroyTable && type <= kMsgDestroyFlowtable) {
    // DESTROYTABLE, CHAIN, RULE, SET, SETELEM, OBJ, FLOWTABLE: in this order.
    constexpr K kinds[] = {K::kTable,   K::kChain,  K::kRule,     K::kSet,
                           K::kElement, K::kObject, K::kFlowtable};
    return MsgKind{kinds[type - kMsgDestroyTable], true};
  }
  return std::nullopt;
}

// The attribute numbers of the table and the name in each object's message (nf_tables.h:
// NFTA_CHAIN_TABLE/NAME, NFTA_RULE_TABLE/CHAIN, NFTA_SET_TABLE/NAME,
// NFTA_SET_ELEM_LIST_TABLE/SET, NFTA_OBJ_TABLE/NAME, NFTA_FLOWTABLE_TABLE/NAME).
struct NameAttrs {
  std::uint16_t table;
  std::uint16_t name;
};

NameAttrs NameAttrsOf(NftObjectKind kind) {
  switch (kind) {
    case NftObjectKind::kTable:
      return {NFTA_TABLE_NAME, 0};
    case NftObjectKind::kChain:
      return {NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME};
    case NftObjectKind::kRule:
      return {NFTA_RULE_TABLE, NFTA_RULE_CHAIN};
    case NftObjectKind::kSet:
      return {NFTA_SET_TABLE, NFTA_SET_NAME};
    case NftObjectKind::kElement:
      return {NFTA_SET_ELEM_LIST_TABLE, NFTA_SET_ELEM_LIST_SET};
    case NftObjectKind::kObject:
      return {NFTA_OBJ_TABLE, NFTA_OBJ_NAME};
    case NftObjectKind::kFlowtable:
      return {NFTA_FLOWTABLE_TABLE, NFTA_FLOWTABLE_NAME};
  }
  return {0, 0};
}

boost::system::result<std::optional<NftEvent>, NftEventError> DecodeChange(
    MsgKind what, std::uint8_t family, std::uint32_t portid, std::uint32_t seq,
    std::span<const std::uint8_t> attrs) {
  NftChange c;
  c.kind = what.kind;
  c.removed = what.removed;
  c.family = family;
  c.portid = portid;
  c.seq = seq;
  const NameAttrs names = NameAttrsOf(what.kind);
  bool has_table = false;
  const bool ok = ForEachAttribute(attrs, [&](std::uint16_t type, std::span<const std::uint8_t> v) {
    if (type == names.table) {
      has_table = true;
      return ReadString(v, c.table);
    }
    if (names.name != 0 && type == names.name) {
      return ReadString(v, c.name);
    }
    if (what.kind == NftObjectKind::kRule && type == NFTA_RULE_HANDLE) {
      return ReadBe64(v, c.handle);
    }
    if (what.kind == NftObjectKind::kElement && type == NFTA_SET_ELEM_LIST_ELEMENTS) {
      return ForEachAttribute(v, [&](std::uint16_t t, std::span<const std::uint8_t>) {
        if (t == NFTA_LIST_ELEM && c.elements < UINT32_MAX) {
          ++c.elements;
        }
        return true;
      });
    }
    return true;  // attributes we do not need (and ones newer kernels add)
  });
  if (!ok) {
    return NftEventError::kBadAttribute;
  }
  if (!has_table) {
    return NftEventError::kMissingAttribute;
  }
  if (what.kind == NftObjectKind::kTable) {
    c.name = c.table;
  }
  return std::optional<NftEvent>(std::move(c));
}

boost::system::result<std::optional<NftEvent>, NftEventError> DecodeGeneration(
    std::uint32_t portid, std::uint32_t seq, std::span<const std::uint8_t> attrs) {
  NftGeneration g;
  g.portid = portid;
  g.seq = seq;
  bool has_id = false;
  const bool ok = ForEachAttribute(attrs, [&](std::uint16_t type, std::span<const std::uint8_t> v) {
    switch (type) {
      case NFTA_GEN_ID:
        has_id = true;
        return ReadBe32(v, g.id);
      case NFTA_GEN_PROC_PID:
        return ReadBe32(v, g.pid);
      case NFTA_GEN_PROC_NAME:
        return ReadString(v, g.process);
      default:
        return true;
    }
  });
  if (!ok) {
    return NftEventError::kBadAttribute;
  }
  if (!has_id) {
    return NftEventError::kMissingAttribute;
  }
  return std::optional<NftEvent>(std::move(g));
}

std::string_view FamilyText(std::uint8_t family) {
  switch (family) {
    case NFPROTO_INET:
      return "inet";
    case NFPROTO_IPV4:
      return "ip";
    case NFPROTO_IPV6:
      return "ip6";
    case NFPROTO_ARP:
      return "arp";
    case NFPROTO_BRIDGE:
      return "bridge";
    case NFPROTO_NETDEV:
      return "netdev";
    default:
      return "family?";
  }
}

bool IsFullReplace(std::span<const std::uint8_t> batch) {
  // BuildReplaceBatch recreates each table with NLM_F_EXCL after deleting it; a batch with such
  // a NEWTABLE replaces the table whole. Only headers are read (our own bytes, but bounded).
  bool deleted = false;
  for (std::size_t off = 0; batch.size() - off >= kNlmsgHeader;) {
    const std::uint32_t len = HostU32(batch, off);
    if (len < kNlmsgHeader || len > batch.size() - off) {
      break;
    }
    const std::uint16_t type = HostU16(batch, off + 4);
    const std::uint16_t flags = HostU16(batch, off + 6);
    if (type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE)) {
      deleted = true;
    } else if (deleted && type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE) &&
               (flags & NLM_F_EXCL) != 0) {
      return true;
    }
    off += std::min<std::size_t>(Align4(len), batch.size() - off);
  }
  return false;
}

// The seqs of a batch's first and last message (BATCH_BEGIN, BATCH_END).
std::optional<std::pair<std::uint32_t, std::uint32_t>> SeqRange(
    std::span<const std::uint8_t> batch) {
  std::optional<std::pair<std::uint32_t, std::uint32_t>> out;
  for (std::size_t off = 0; batch.size() - off >= kNlmsgHeader;) {
    const std::uint32_t len = HostU32(batch, off);
    if (len < kNlmsgHeader || len > batch.size() - off) {
      break;
    }
    const std::uint32_t seq = HostU32(batch, off + 8);
    out = out ? std::make_pair(out->first, seq) : std::make_pair(seq, seq);
    off += std::min<std::size_t>(Align4(len), batch.size() - off);
  }
  return out;
}

struct MnlSocketClose {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};

}  // namespace

std::string_view NftObjectKindName(NftObjectKind kind) {
  switch (kind) {
    case NftObjectKind::kTable:
      return "table";
    case NftObjectKind::kChain:
      return "chain";
    case NftObjectKind::kRule:
      return "rule";
    case NftObjectKind::kSet:
      return "set";
    case NftObjectKind::kElement:
      return "element";
    case NftObjectKind::kObject:
      return "object";
    case NftObjectKind::kFlowtable:
      return "flowtable";
  }
  return "object";
}

std::string_view NftEventErrorName(NftEventError error) {
  switch (error) {
    case NftEventError::kTruncated:
      return "truncated";
    case NftEventError::kBadAttribute:
      return "bad_attribute";
    case NftEventError::kMissingAttribute:
      return "missing_attribute";
  }
  return "unknown";
}

std::string NftChange::Describe() const {
  const std::string_view verb = removed ? "deleted" : "added";
  const std::string where = fmt::format("{} {}", FamilyText(family), table);
  switch (kind) {
    case NftObjectKind::kTable:
      return fmt::format("{} table {}", verb, where);
    case NftObjectKind::kRule:
      return fmt::format("{} rule (handle {}) of chain {} {}", verb, handle, where, name);
    case NftObjectKind::kElement:
      return fmt::format("{} {} element{} of set {} {}", verb, elements, elements == 1 ? "" : "s",
                         where, name);
    default:
      return fmt::format("{} {} {} {}", verb, NftObjectKindName(kind), where, name);
  }
}

boost::system::result<std::optional<NftEvent>, NftEventError> DecodeNftEvent(
    std::span<const std::uint8_t> message) {
  if (message.size() < kNlmsgHeader) {
    return NftEventError::kTruncated;
  }
  const std::uint32_t len = HostU32(message, 0);
  if (len < kNlmsgHeader || len > message.size()) {
    return NftEventError::kTruncated;
  }
  message = message.first(len);
  const std::uint16_t type = HostU16(message, 4);
  const std::uint32_t seq = HostU32(message, 8);
  const std::uint32_t portid = HostU32(message, 12);
  if ((type >> 8) != NFNL_SUBSYS_NFTABLES) {
    return std::optional<NftEvent>();  // NLMSG_DONE, errors, other subsystems
  }
  if (message.size() < kNlmsgHeader + kNfgenHeader) {
    return NftEventError::kTruncated;
  }
  const std::uint8_t family = message[kNlmsgHeader];
  const std::span<const std::uint8_t> attrs = message.subspan(kNlmsgHeader + kNfgenHeader);
  const auto msg = static_cast<std::uint8_t>(type & 0xff);
  if (msg == NFT_MSG_NEWGEN) {
    return DecodeGeneration(portid, seq, attrs);
  }
  const std::optional<MsgKind> what = KindOf(msg);
  if (!what) {
    return std::optional<NftEvent>();  // GET*, TRACE, GEN requests
  }
  return DecodeChange(*what, family, portid, seq, attrs);
}

// --- OwnCommitLedger --------------------------------------------------------------------------

void OwnCommitLedger::Expect(std::uint32_t first_seq, std::uint32_t last_seq, bool full_replace) {
  std::lock_guard lock(mutex_);
  if (pending_.size() == kMaxPending) {
    pending_.pop_front();
  }
  pending_.push_back(
      {first_seq, last_seq, full_replace, next_id_++, std::chrono::steady_clock::now()});
}

std::uint64_t OwnCommitLedger::Mark() const {
  std::lock_guard lock(mutex_);
  return next_id_;
}

void OwnCommitLedger::DropFrom(std::uint64_t mark) {
  std::lock_guard lock(mutex_);
  std::erase_if(pending_, [&](const Batch& b) { return b.id >= mark; });
}

void OwnCommitLedger::Cancel(std::uint32_t first_seq) {
  std::lock_guard lock(mutex_);
  const auto it = std::find_if(pending_.begin(), pending_.end(),
                               [&](const Batch& b) { return b.first == first_seq; });
  if (it != pending_.end()) {
    pending_.erase(it);
  }
}

std::optional<bool> OwnCommitLedger::Take(std::uint32_t seq) {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(pending_, [&](const Batch& b) { return now - b.sent > kMaxAge; });
  // Unsigned distance: a range that wraps past 2^32 still holds its seqs.
  const auto it = std::find_if(pending_.begin(), pending_.end(),
                               [&](const Batch& b) { return seq - b.first <= b.last - b.first; });
  if (it == pending_.end()) {
    return std::nullopt;
  }
  const bool full = it->full_replace;
  pending_.erase(it);
  return full;
}

std::size_t OwnCommitLedger::pending() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

// --- OwnCommitTransport -----------------------------------------------------------------------

OwnCommitTransport::OwnCommitTransport(std::unique_ptr<NetlinkTransport> inner,
                                       std::shared_ptr<OwnCommitLedger> ledger)
    : inner_(std::move(inner)), ledger_(std::move(ledger)) {}

boost::system::result<std::vector<NetlinkError>, std::string> OwnCommitTransport::SendBatch(
    std::span<const std::uint8_t> batch) {
  const std::optional<std::pair<std::uint32_t, std::uint32_t>> seqs = SeqRange(batch);
  if (seqs) {
    ledger_->Expect(seqs->first, seqs->second, IsFullReplace(batch));
  }
  auto sent = inner_->SendBatch(batch);
  if (seqs && sent && !sent->empty()) {
    ledger_->Cancel(seqs->first);  // refused: nothing was committed, no NEWGEN will come
  }
  return sent;
}

boost::system::result<std::vector<std::vector<std::uint8_t>>, std::string> OwnCommitTransport::Dump(
    std::span<const std::uint8_t> request) {
  return inner_->Dump(request);
}

std::uint32_t OwnCommitTransport::NextSeq() { return inner_->NextSeq(); }

// --- CommitReport / WatchUpdate -----------------------------------------------------------------

std::string CommitReport::Summary() const {
  std::string who = generation.process.empty()
                        ? fmt::format("an unknown process (portid {})", generation.portid)
                        : fmt::format("{} (pid {}, portid {})", generation.process, generation.pid,
                                      generation.portid);
  std::string what;
  const std::size_t shown = std::min<std::size_t>(first_changes.size(), 3);
  for (std::size_t i = 0; i < shown; ++i) {
    what += (i == 0 ? "" : ", ") + first_changes[i].Describe();
  }
  if (changes > shown) {
    what += fmt::format(" (and {} more changes)", changes - shown);
  }
  return fmt::format("{} {} in generation {}", who, what, generation.id);
}

void WatchUpdate::NeedResync(std::string reason) {
  if (!resync_needed) {
    resync_reason = std::move(reason);
  }
  resync_needed = true;
}

// --- CommitClassifier -------------------------------------------------------------------------

CommitClassifier::CommitClassifier(std::shared_ptr<OwnCommitLedger> ledger,
                                   std::vector<std::pair<Family, std::string>> tables)
    : ledger_(std::move(ledger)) {
  for (auto& table : tables) {
    tables_.emplace_back(table.first == Family::kInet ? NFPROTO_INET : NFPROTO_BRIDGE,
                         std::move(table.second));
  }
}

bool CommitClassifier::Ours(const NftChange& change) const {
  return std::any_of(tables_.begin(), tables_.end(), [&](const auto& t) {
    return t.first == change.family && t.second == change.table;
  });
}

void CommitClassifier::Feed(const NftEvent& event, WatchUpdate& out) {
  if (const auto* change = std::get_if<NftChange>(&event)) {
    if (Ours(*change)) {
      ++open_changes_;
      if (change->kind == NftObjectKind::kTable) {
        // A table's fate says the most (a flush lists every rule before the table): keep
        // tables first.
        const auto after_tables =
            std::find_if(open_first_.begin(), open_first_.end(),
                         [](const NftChange& c) { return c.kind != NftObjectKind::kTable; });
        open_first_.insert(after_tables, *change);
        if (open_first_.size() > kKeptChanges) {
          open_first_.pop_back();
        }
      } else if (open_first_.size() < kKeptChanges) {
        open_first_.push_back(*change);
      }
    }
    return;
  }
  const auto& gen = std::get<NftGeneration>(event);
  const std::optional<bool> own = ledger_->Take(gen.seq);
  if (open_changes_ == 0) {
    if (!own) {
      ++out.foreign_elsewhere;
    }
    return;
  }
  CommitReport report;
  report.generation = gen;
  report.ours = own.has_value();
  report.full_replace = own.value_or(false);
  report.changes = open_changes_;
  report.first_changes = std::move(open_first_);
  out.commits.push_back(std::move(report));
  Reset();
}

void CommitClassifier::Reset() {
  open_changes_ = 0;
  open_first_.clear();
}

void CommitClassifier::FeedDatagram(std::span<const std::uint8_t> datagram, WatchUpdate& out) {
  std::size_t off = 0;
  while (datagram.size() - off >= kNlmsgHeader) {
    const std::uint32_t len = HostU32(datagram, off);
    if (len < kNlmsgHeader || len > datagram.size() - off) {
      ++out.malformed;
      out.NeedResync("a malformed nftables event (bad message length)");
      Reset();
      return;
    }
    auto decoded = DecodeNftEvent(datagram.subspan(off, len));
    if (!decoded) {
      ++out.malformed;
      out.NeedResync(
          fmt::format("an undecodable nftables event ({})", NftEventErrorName(decoded.error())));
      Reset();  // the commit it belonged to cannot be judged from events
    } else if (decoded->has_value()) {
      Feed(**decoded, out);
    }
    off += std::min<std::size_t>(Align4(len), datagram.size() - off);
  }
}

// --- RulesetWatch -----------------------------------------------------------------------------

std::vector<std::pair<Family, std::string>> BulkheadTables() {
  return {{Family::kInet, std::string(kTableName)}, {Family::kBridge, std::string(kTableName)}};
}

RulesetWatch::RulesetWatch(void* socket, std::shared_ptr<OwnCommitLedger> ledger)
    : socket_(socket),
      fd_(mnl_socket_get_fd(static_cast<mnl_socket*>(socket))),
      classifier_(std::move(ledger), BulkheadTables()),
      // The largest nf_tables notification is a rule with many expressions or an element
      // message; 64 KiB covers them (a bigger one would come back MSG_TRUNC: resync).
      buffer_(std::size_t{64} * 1024) {}

RulesetWatch::~RulesetWatch() { mnl_socket_close(static_cast<mnl_socket*>(socket_)); }

boost::system::result<std::unique_ptr<RulesetWatch>, std::string> RulesetWatch::Open(
    std::shared_ptr<OwnCommitLedger> ledger, const WatchOptions& options) {
  std::unique_ptr<mnl_socket, MnlSocketClose> s(
      mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC));
  if (!s) {
    return fmt::format("opening the nftables event socket: {}", std::strerror(errno));
  }
  if (mnl_socket_bind(s.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return fmt::format("binding the nftables event socket: {}", std::strerror(errno));
  }
  int group = NFNLGRP_NFTABLES;
  if (mnl_socket_setsockopt(s.get(), NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
    return fmt::format("joining the nftables event group: {}", std::strerror(errno));
  }
  int rcvbuf = options.receive_buffer;
  // FORCE needs CAP_NET_ADMIN, which subscribing needs anyway; a failure leaves the default
  // buffer, so more bursts end as resyncs, not as silent losses.
  setsockopt(mnl_socket_get_fd(s.get()), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  return std::unique_ptr<RulesetWatch>(new RulesetWatch(s.release(), std::move(ledger)));
}

boost::system::result<void, std::string> RulesetWatch::Mute() {
  muted_from_ = classifier_.ledger().Mark();
  int group = NFNLGRP_NFTABLES;
  if (mnl_socket_setsockopt(static_cast<mnl_socket*>(socket_), NETLINK_DROP_MEMBERSHIP, &group,
                            sizeof group) < 0) {
    return fmt::format("leaving the nftables event group: {}", std::strerror(errno));
  }
  return {};
}

boost::system::result<void, std::string> RulesetWatch::Unmute() {
  int group = NFNLGRP_NFTABLES;
  if (mnl_socket_setsockopt(static_cast<mnl_socket*>(socket_), NETLINK_ADD_MEMBERSHIP, &group,
                            sizeof group) < 0) {
    return fmt::format("joining the nftables event group: {}", std::strerror(errno));
  }
  // A commit whose NEWGEN came while muted would otherwise absorb the next commit's events;
  // the batches sent while muted will never see theirs.
  classifier_.Reset();
  classifier_.ledger().DropFrom(muted_from_);
  return {};
}

WatchUpdate RulesetWatch::Drain() {
  WatchUpdate out;
  for (;;) {
    sockaddr_nl from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = recvfrom(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT | MSG_TRUNC,
                               reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      }
      if (errno == ENOBUFS) {
        // The kernel dropped notifications: some change may never be seen.
        out.NeedResync("the kernel dropped nftables events (ENOBUFS: the event socket was full)");
        classifier_.Reset();
        continue;
      }
      out.NeedResync(fmt::format("reading nftables events: {}", std::strerror(errno)));
      break;
    }
    if (static_cast<std::size_t>(n) > buffer_.size()) {
      out.NeedResync(fmt::format("an nftables event of {} bytes was cut at {}", n, buffer_.size()));
      classifier_.Reset();
      continue;
    }
    if (from.nl_pid != 0) {
      // Only the kernel speaks to a multicast group; a unicast from another process (which
      // needs CAP_NET_ADMIN) is not an event.
      ++out.malformed;
      continue;
    }
    classifier_.FeedDatagram({buffer_.data(), static_cast<std::size_t>(n)}, out);
  }
  return out;
}

}  // namespace bulkhead::enforcer
