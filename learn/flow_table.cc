#include "learn/flow_table.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "learn/internal/oldest.h"

namespace bulkhead::learn {
namespace {

using capture::L4Proto;
using capture::PacketSummary;

constexpr std::uint8_t kIcmp = static_cast<std::uint8_t>(L4Proto::kIcmp);
constexpr std::uint8_t kTcp = static_cast<std::uint8_t>(L4Proto::kTcp);
constexpr std::uint8_t kUdp = static_cast<std::uint8_t>(L4Proto::kUdp);
constexpr std::uint8_t kIcmpv6 = static_cast<std::uint8_t>(L4Proto::kIcmpv6);
constexpr std::uint8_t kSctp = static_cast<std::uint8_t>(L4Proto::kSctp);

// Automatic idle scans are at least this far apart in packet time, and at least a quarter of the
// shortest timeout (scanning more often would reclaim little). It only
// reclaims memory: a flow whose timeout has passed is split correctly by the check on lookup
// whether or not a scan has removed it yet.
constexpr std::uint64_t kMinScanIntervalUsec = 1'000'000;

// Canonical flow key: endpoint A is the smaller (address, port), so both directions of a
// connection find one entry. For ICMP the "ports" are (echo identifier, 0) and A is simply the
// smaller address, because request and reply both carry the identifier as src_port.
// Ports, protocol and family share one word that is built in a register and stored once: the
// equality check reads whole words, and a word assembled from byte-sized stores would stall
// store-to-load forwarding on every packet (measured: ~30% of OnPacket).
// 40 bytes: with the 32-byte value below a map slot is 72 bytes.
struct FlowKey {
  std::uint64_t addr_a[2];
  std::uint64_t addr_b[2];
  std::uint64_t tail;  // port_a | port_b << 16 | proto << 32 | v6 << 40

  std::uint16_t port_a() const { return static_cast<std::uint16_t>(tail); }
  std::uint16_t port_b() const { return static_cast<std::uint16_t>(tail >> 16); }
  std::uint8_t proto() const { return static_cast<std::uint8_t>(tail >> 32); }
  bool v6() const { return ((tail >> 40) & 1) != 0; }

  static std::uint64_t Tail(std::uint16_t port_a, std::uint16_t port_b, std::uint8_t proto,
                            bool v6) {
    return std::uint64_t{port_a} | std::uint64_t{port_b} << 16 | std::uint64_t{proto} << 32 |
           std::uint64_t{v6 ? 1U : 0U} << 40;
  }

  friend bool operator==(const FlowKey& x, const FlowKey& y) {
    return ((x.addr_a[0] ^ y.addr_a[0]) | (x.addr_a[1] ^ y.addr_a[1]) |
            (x.addr_b[0] ^ y.addr_b[0]) | (x.addr_b[1] ^ y.addr_b[1]) | (x.tail ^ y.tail)) == 0;
  }
};
static_assert(sizeof(FlowKey) == 40);

struct FlowKeyHash {
  std::size_t operator()(const FlowKey& k) const noexcept {
    std::uint64_t h = (k.addr_a[0] ^ 0x9E3779B97F4A7C15ULL) * 0xBF58476D1CE4E5B9ULL;
    h ^= (k.addr_a[1] + (h >> 31)) * 0x94D049BB133111EBULL;
    h ^= (k.addr_b[0] + (h >> 29)) * 0xBF58476D1CE4E5B9ULL;
    h ^= (k.addr_b[1] + (h >> 32)) * 0x94D049BB133111EBULL;
    h ^= (k.tail + (h >> 30)) * 0x9E3779B97F4A7C15ULL;
    return static_cast<std::size_t>(h ^ (h >> 31));
  }
};

// Per-flow flag bits.
enum FlowFlag : std::uint8_t {
  kServerKnown = 0x01,  // the handshake (SYN or SYN-ACK) decided the server side
  kServerIsB = 0x02,    // valid with kServerKnown
  kSynAckSeen = 0x04,   // the server answered the handshake: its port is listening
  kFirstFromB = 0x08,   // the first packet seen was sent by B
  kFinA = 0x10,
  kFinB = 0x20,
  kRst = 0x40,
  kIcmpRequest = 0x80,  // an ICMP request was seen; kServerIsB says who answered it
};

// What each side has sent, by bit pairs (A's bit, B's bit = A's << 1), so the update per packet
// is one shift by the sender's side.
enum SentBits : std::uint8_t {
  kPlainA = 0x01,    // a packet that is neither a refusal nor (TCP) a SYN: the side took part
  kRefusalA = 0x04,  // a TCP RST, or an ICMP port unreachable for a UDP flow
};

struct FlowValue {
  std::uint64_t first_usec = 0;
  std::uint64_t last_usec = 0;
  std::uint64_t bytes = 0;
  // 32 bits keep the slot at 72 bytes; saturates (4 G packets in one flow) rather than wraps.
  std::uint32_t packets = 0;
  std::uint8_t flags = 0;
  std::uint8_t icmp_request_type = 0;
  std::uint8_t sent = 0;  // SentBits; takes a byte of the padding, the slot stays 72 bytes
};
static_assert(sizeof(FlowValue) == 32);

struct ListenerKey {
  std::uint8_t addr[16];
  std::uint16_t port;
  std::uint8_t proto;
  std::uint8_t v6;
  friend bool operator==(const ListenerKey& x, const ListenerKey& y) {
    return std::memcmp(&x, &y, sizeof(ListenerKey)) == 0;
  }
};
static_assert(sizeof(ListenerKey) == 20, "ListenerKey must stay packed: compared with memcmp");

struct ListenerKeyHash {
  std::size_t operator()(const ListenerKey& k) const noexcept {
    std::uint64_t w[2];
    std::memcpy(w, k.addr, 16);
    const std::uint64_t tail = (std::uint64_t{k.port} << 16) | (std::uint64_t{k.proto} << 8) | k.v6;
    std::uint64_t h = (w[0] ^ 0x9E3779B97F4A7C15ULL) * 0xBF58476D1CE4E5B9ULL;
    h ^= (w[1] + (h >> 31)) * 0x94D049BB133111EBULL;
    h ^= (tail + (h >> 30)) * 0x9E3779B97F4A7C15ULL;
    return static_cast<std::size_t>(h ^ (h >> 31));
  }
};

// What an ICMP/ICMPv6 message is to the flow table.
enum class IcmpRole : std::uint8_t { kRequest, kReply, kNone };

struct IcmpClass {
  IcmpRole role = IcmpRole::kNone;
  std::uint8_t request_type = 0;
};

// Query/response pairs only: echo (RFC 792, RFC 4443), timestamp, information and address mask
// (RFC 792, RFC 950), extended echo (RFC 8335), ICMPv6 node information (RFC 4620). Errors, and
// router/neighbour discovery and MLD (RFC 1256, RFC 4861, RFC 2710/3810), are link or control
// chatter that every host must exchange; they are not edges.
IcmpClass ClassifyIcmp(std::uint8_t proto, std::uint8_t type) {
  if (proto == kIcmp) {
    switch (type) {
      case 8:
      case 13:
      case 15:
      case 17:
      case 42:
        return {IcmpRole::kRequest, type};
      case 0:
        return {IcmpRole::kReply, 8};
      case 14:
      case 16:
      case 18:
      case 43:
        return {IcmpRole::kReply, static_cast<std::uint8_t>(type - 1)};
      default:
        return {};
    }
  }
  switch (type) {
    case 128:
    case 139:
    case 160:
      return {IcmpRole::kRequest, type};
    case 129:
    case 140:
    case 161:
      return {IcmpRole::kReply, static_cast<std::uint8_t>(type - 1)};
    default:
      return {};
  }
}

bool IsIcmp(std::uint8_t proto) { return proto == kIcmp || proto == kIcmpv6; }

// Orders two addresses for the canonical key. Any total order will do (it only picks which
// endpoint is "A"), so native-endian words are compared instead of calling memcmp per packet.
int CompareAddr(const capture::IpAddr& x, const capture::IpAddr& y) {
  std::uint64_t a[2];
  std::uint64_t b[2];
  std::memcpy(a, x.bytes.data(), 16);
  std::memcpy(b, y.bytes.data(), 16);
  if (a[0] != b[0]) {
    return a[0] < b[0] ? -1 : 1;
  }
  if (a[1] != b[1]) {
    return a[1] < b[1] ? -1 : 1;
  }
  return 0;
}

}  // namespace

struct FlowTable::State {
  State(const FlowTableConfig& c, FlowRecordSink& s)
      : config(c),
        sink(s),
        scans(c.scan),
        scan_interval_usec(std::max(
            kMinScanIntervalUsec,
            std::min({c.tcp_idle_usec, c.tcp_closed_usec, c.udp_idle_usec, c.other_idle_usec}) /
                4)) {}

  using FlowMap = boost::unordered_flat_map<FlowKey, FlowValue, FlowKeyHash>;
  using ListenerMap = boost::unordered_flat_map<ListenerKey, std::uint64_t, ListenerKeyHash>;

  FlowTableConfig config;
  FlowRecordSink& sink;
  FlowMap flows;
  ListenerMap listeners;
  FlowTableStats stats;
  ScanDetector scans;
  std::uint64_t now_usec = 0;  // newest packet time seen
  std::uint64_t scan_interval_usec;
  std::uint64_t next_scan_usec = 0;  // packet time of the next automatic idle scan
  std::uint64_t packets_since_scan = 0;
  std::vector<std::uint64_t> sample;  // scratch for eviction thresholds, bounded (oldest.h)
  // The entry of the previous packet: consecutive packets mostly belong to one flow, so this
  // skips the hash probe for them. Elements of the flat map move only on rehash (an insert, after
  // which the cache is reset to the new entry) and die only on erase (which clears it).
  // The cached element's own key is compared (not a copy written per packet), which also keeps
  // the check free of store-forwarding stalls.
  FlowMap::value_type* cached = nullptr;

  std::uint64_t IdleTimeout(const FlowKey& k, const FlowValue& v) const {
    switch (k.proto()) {
      case kTcp:
        if ((v.flags & kRst) != 0 || (v.flags & (kFinA | kFinB)) == (kFinA | kFinB)) {
          return config.tcp_closed_usec;
        }
        return config.tcp_idle_usec;
      case kUdp:
        return config.udp_idle_usec;
      default:
        return config.other_idle_usec;
    }
  }

  bool IsIdle(const FlowKey& k, const FlowValue& v, std::uint64_t now) const {
    return now >= v.last_usec && now - v.last_usec >= IdleTimeout(k, v);
  }

  static ListenerKey MakeListenerKey(const FlowKey& k, bool side_b) {
    ListenerKey l;
    std::memcpy(l.addr, side_b ? k.addr_b : k.addr_a, 16);
    l.port = side_b ? k.port_b() : k.port_a();
    l.proto = k.proto();
    l.v6 = k.v6() ? 1 : 0;
    return l;
  }

  bool IsListener(const FlowKey& k, bool side_b) const {
    return listeners.contains(MakeListenerKey(k, side_b));
  }

  void AddListener(const FlowKey& k, bool side_b, std::uint64_t now) {
    const ListenerKey l = MakeListenerKey(k, side_b);
    if (auto it = listeners.find(l); it != listeners.end()) {
      it->second = std::max(it->second, now);
      return;
    }
    if (config.max_listeners == 0) {
      return;
    }
    if (listeners.size() >= config.max_listeners) {
      // Forget the least recently confirmed half at once so the scan is amortized O(1).
      const std::size_t target = std::max<std::size_t>(1, listeners.size() / 2);
      const std::uint64_t threshold = internal::OldestThreshold(
          listeners, target, [](const auto& e) { return e.second; }, sample);
      std::size_t removed = 0;
      boost::unordered::erase_if(listeners, [&](const auto& e) {
        if (removed < target && e.second <= threshold) {
          ++removed;
          return true;
        }
        return false;
      });
      stats.listeners_evicted += removed;
    }
    listeners.emplace(l, now);
  }

  // Decides the direction of a finished flow and hands it to the sink, unless it cannot be an
  // edge (ICMP without a request, a refused or incomplete attempt, an unconfirmed ephemeral
  // server port).
  void Emit(const FlowKey& k, const FlowValue& v) { Emit(k, v, sink, stats, &scans); }

  // `to` receives the record; `counts` what was (not) emitted; `failed` (if any) the failed
  // attempts. Peek passes its own `to` and `counts` and no `failed`, so looking at live flows
  // neither feeds the real sink twice nor moves the table's statistics or findings.
  void Emit(const FlowKey& k, const FlowValue& v, FlowRecordSink& to, FlowTableStats& counts,
            ScanDetector* failed) {
    bool server_b = false;
    DirectionBasis basis = DirectionBasis::kHandshake;
    std::uint16_t server_port = 0;
    if (IsIcmp(k.proto())) {
      if ((v.flags & kIcmpRequest) == 0) {
        ++counts.no_edge_icmp;
        return;
      }
      server_b = (v.flags & kServerIsB) != 0;
      basis = DirectionBasis::kIcmpType;
      server_port = v.icmp_request_type;
    } else {
      const bool confirmed = Orient(k, v, server_b, basis);
      const Fate fate = Judge(k, v, server_b);
      server_port = server_b ? k.port_b() : k.port_a();
      if (fate != Fate::kEdge) {
        const bool refused = fate == Fate::kRefused;
        ++(refused ? counts.refused : counts.incomplete);
        const FlowRecord r = Record(k, v, server_b, server_port, basis);
        if (failed != nullptr) {
          failed->OnFailedAttempt(r.client, r.server, server_port, refused, v.first_usec,
                                  v.last_usec);
        }
        to.OnFailedAttempt(r, refused);
        return;
      }
      if (!confirmed && server_port >= config.ephemeral_port_min) {
        ++counts.no_edge_ephemeral;
        return;
      }
    }
    ++counts.flows_emitted;
    to.OnFlow(Record(k, v, server_b, server_port, basis));
  }

  static FlowRecord Record(const FlowKey& k, const FlowValue& v, bool server_b,
                           std::uint16_t server_port, DirectionBasis basis) {
    FlowRecord r;
    FillAddr(r.client, k, !server_b);
    FillAddr(r.server, k, server_b);
    r.proto = k.proto();
    r.server_port = server_port;
    r.packets = v.packets;
    r.bytes = v.bytes;
    r.first_usec = v.first_usec;
    r.last_usec = v.last_usec;
    r.basis = basis;
    return r;
  }

  // The direction of a TCP/UDP/SCTP flow, strongest evidence first (README: FlowTable);
  // true when a handshake or a known listener confirmed the server's port.
  bool Orient(const FlowKey& k, const FlowValue& v, bool& server_b, DirectionBasis& basis) const {
    if ((v.flags & kServerKnown) != 0) {
      server_b = (v.flags & kServerIsB) != 0;
      basis = DirectionBasis::kHandshake;
      return (v.flags & kSynAckSeen) != 0 || IsListener(k, server_b);
    }
    const bool listen_a = IsListener(k, false);
    const bool listen_b = IsListener(k, true);
    if (listen_a != listen_b) {
      server_b = listen_b;
      basis = DirectionBasis::kListener;
      return true;
    }
    const int class_a = PortClass(k.port_a());
    const int class_b = PortClass(k.port_b());
    if (class_a != class_b) {
      server_b = class_b < class_a;
      basis = DirectionBasis::kPortClass;
    } else if (k.proto() == kTcp && k.port_a() != k.port_b()) {
      // A connection already running when capture started: the lower port is the likelier
      // service.
      server_b = k.port_b() < k.port_a();
      basis = DirectionBasis::kPortClass;
    } else {
      // Request/response: whoever received the first packet answers it.
      server_b = (v.flags & kFirstFromB) == 0;
      basis = DirectionBasis::kFirstPacket;
    }
    return false;
  }

  enum class Fate : std::uint8_t { kEdge, kRefused, kIncomplete };

  // Whether the packets show a connection that took place. A handshake that began (a SYN, or a
  // SYN-ACK when capture started after the SYN) needs the server's answer, a SYN-ACK or more:
  // without it the server refused the attempt (its RST) or it never completed (a flood's
  // unanswered SYN). A client that answers the SYN-ACK only with a RST never completed it either
  // (a half-open scan's SYN, SYN-ACK, RST). Without a handshake (a connection running when
  // capture started, UDP, SCTP) any packet counts, except that a side which sent only refusals
  // (RST, ICMP port unreachable) refused the other: it is then the server, whatever the port
  // classes say.
  static Fate Judge(const FlowKey& k, const FlowValue& v, bool& server_b) {
    if (k.proto() == kTcp && (v.flags & kServerKnown) != 0) {
      const int server = server_b ? 1 : 0;
      const int client = 1 - server;
      if ((v.flags & kSynAckSeen) == 0 && (v.sent & (kPlainA << server)) == 0) {
        return (v.sent & (kRefusalA << server)) != 0 ? Fate::kRefused : Fate::kIncomplete;
      }
      const bool client_reset_only = ((v.sent >> client) & (kPlainA | kRefusalA)) == kRefusalA;
      return client_reset_only ? Fate::kIncomplete : Fate::kEdge;
    }
    constexpr std::uint8_t kSideA = kPlainA | kRefusalA;
    const bool refuser_a = (v.sent & kSideA) == kRefusalA;
    const bool refuser_b = ((v.sent >> 1) & kSideA) == kRefusalA;
    if (!refuser_a && !refuser_b) {
      return Fate::kEdge;
    }
    if (refuser_a != refuser_b) {
      server_b = refuser_b;
    }
    return Fate::kRefused;
  }

  static void FillAddr(capture::IpAddr& out, const FlowKey& k, bool side_b) {
    std::memcpy(out.bytes.data(), side_b ? k.addr_b : k.addr_a, 16);
    out.v6 = k.v6();
  }

  int PortClass(std::uint16_t port) const {
    if (port < 1024) {
      return 0;
    }
    return port < config.ephemeral_port_min ? 1 : 2;
  }

  void ExpireIdle(std::uint64_t now) {
    cached = nullptr;
    packets_since_scan = 0;
    next_scan_usec = now + scan_interval_usec;
    std::uint64_t expired = 0;
    boost::unordered::erase_if(flows, [&](const auto& e) {
      if (IsIdle(e.first, e.second, now)) {
        Emit(e.first, e.second);
        ++expired;
        return true;
      }
      return false;
    });
    stats.flows_expired += expired;
  }

  // Called when the table is full and a new flow arrives: expire what is idle, then push out the
  // least recently active eighth (emitting them, so their edges survive). The O(n) scan is paid
  // for by the n/8 inserts that can happen before the next one.
  void MakeRoom(std::uint64_t now) {
    ExpireIdle(now);  // also clears the cached entry
    if (flows.size() < config.max_flows) {
      return;
    }
    const std::size_t target = std::max<std::size_t>(1, flows.size() / 8);
    const std::uint64_t threshold = internal::OldestThreshold(
        flows, target, [](const auto& e) { return e.second.last_usec; }, sample);
    std::size_t removed = 0;
    boost::unordered::erase_if(flows, [&](const auto& e) {
      if (removed < target && e.second.last_usec <= threshold) {
        Emit(e.first, e.second);
        ++removed;
        return true;
      }
      return false;
    });
    stats.flows_evicted += removed;
  }

  // The entry of `key`, from the cache of the previous packet or the map; a new one (fresh) when
  // there was none, making room when the table is full. nullptr when max_flows is 0.
  FlowMap::value_type* FindOrInsert(const FlowKey& key, std::uint64_t now, bool& fresh) {
    if (cached != nullptr && cached->first == key) {
      return cached;
    }
    if (flows.size() >= config.max_flows) {
      auto it = flows.find(key);
      if (it == flows.end()) {
        if (config.max_flows == 0) {
          return nullptr;
        }
        MakeRoom(now);
        it = flows.try_emplace(key).first;
        fresh = true;
      }
      cached = &*it;
    } else {
      auto [it, inserted] = flows.try_emplace(key);
      cached = &*it;
      fresh = inserted;
    }
    return cached;
  }

  // An ICMP port unreachable that quotes a UDP datagram (the decoder gave its ports as the
  // reply's): marks the sender as having refused that UDP flow. It never starts a flow: an error
  // about a datagram the table has not seen says nothing about an edge.
  void OnPortUnreachable(const PacketSummary& p) {
    const int c = CompareAddr(p.src, p.dst);
    const bool from_b = c > 0 || (c == 0 && p.src_port > p.dst_port);
    FlowKey key;
    std::memcpy(key.addr_a, (from_b ? p.dst : p.src).bytes.data(), 16);
    std::memcpy(key.addr_b, (from_b ? p.src : p.dst).bytes.data(), 16);
    key.tail = FlowKey::Tail(from_b ? p.dst_port : p.src_port, from_b ? p.src_port : p.dst_port,
                             kUdp, p.src.v6);
    const auto it = flows.find(key);
    if (it == flows.end() || IsIdle(key, it->second, now_usec)) {
      return;
    }
    FlowValue& v = it->second;
    v.sent = static_cast<std::uint8_t>(v.sent | (kRefusalA << (from_b ? 1 : 0)));
    v.last_usec = std::max(v.last_usec, p.ts_usec);
  }

  // Folds one packet into its flow entry. `from_b` says whether the sender is endpoint B.
  void Update(const FlowKey& k, FlowValue& v, const PacketSummary& p, bool from_b, bool fresh,
              IcmpClass icmp) {
    if (fresh) {
      v = FlowValue{};
      v.first_usec = p.ts_usec;
      v.last_usec = p.ts_usec;
      if (from_b) {
        v.flags |= kFirstFromB;
      }
      ++stats.flows_created;
    }
    v.first_usec = std::min(v.first_usec, p.ts_usec);
    v.last_usec = std::max(v.last_usec, p.ts_usec);
    if (v.packets != std::numeric_limits<std::uint32_t>::max()) {
      ++v.packets;
    }
    v.bytes += p.ip_len;
    const int side = from_b ? 1 : 0;
    if (k.proto() == kTcp) {
      const std::uint8_t f = p.tcp_flags;
      if ((f & capture::kTcpRst) != 0) {
        v.sent = static_cast<std::uint8_t>(v.sent | (kRefusalA << side));
      } else if ((f & capture::kTcpSyn) == 0) {
        v.sent = static_cast<std::uint8_t>(v.sent | (kPlainA << side));
      }
      if ((f & capture::kTcpSyn) != 0) {
        const bool ack = (f & capture::kTcpAck) != 0;
        if ((v.flags & kServerKnown) == 0) {
          // SYN alone comes from the client, SYN-ACK from the server.
          const bool server_b = ack ? from_b : !from_b;
          v.flags = static_cast<std::uint8_t>(v.flags | kServerKnown | (server_b ? kServerIsB : 0));
        }
        const bool server_b = (v.flags & kServerIsB) != 0;
        if (ack && server_b == from_b) {
          v.flags |= kSynAckSeen;
          AddListener(k, from_b, p.ts_usec);
        }
      }
      if ((f & capture::kTcpFin) != 0) {
        v.flags |= from_b ? kFinB : kFinA;
      }
      if ((f & capture::kTcpRst) != 0) {
        v.flags |= kRst;
      }
    } else if (!IsIcmp(k.proto())) {
      v.sent = static_cast<std::uint8_t>(v.sent | (kPlainA << side));
    } else if (icmp.role == IcmpRole::kRequest && (v.flags & kIcmpRequest) == 0) {
      // The receiver of the first request is the server.
      v.flags = static_cast<std::uint8_t>(v.flags | kIcmpRequest | (from_b ? 0 : kServerIsB));
      v.icmp_request_type = icmp.request_type;
    }
  }
};

FlowTable::FlowTable(const FlowTableConfig& config, FlowRecordSink& sink)
    : state_(new State(config, sink)) {}

FlowTable::~FlowTable() { delete state_; }

void FlowTable::OnPacket(const capture::PacketSummary& p) {
  State& s = *state_;
  ++s.stats.packets;

  FlowKey key;
  std::uint16_t port_a = 0;
  std::uint16_t port_b = 0;
  bool from_b = false;
  IcmpClass icmp;
  if (IsIcmp(p.proto)) {
    icmp = ClassifyIcmp(p.proto, p.icmp_type);
    if (icmp.role == IcmpRole::kNone) {
      ++s.stats.no_edge_icmp;
      if (p.has_ports) {
        s.OnPortUnreachable(p);
      }
      return;
    }
    from_b = CompareAddr(p.src, p.dst) > 0;
    port_a = p.src_port;  // the echo identifier, the same in both directions
    port_b = 0;
  } else if ((p.proto == kTcp || p.proto == kUdp || p.proto == kSctp) && p.has_ports) {
    const int c = CompareAddr(p.src, p.dst);
    from_b = c > 0 || (c == 0 && p.src_port > p.dst_port);
    port_a = from_b ? p.dst_port : p.src_port;
    port_b = from_b ? p.src_port : p.dst_port;
  } else {
    ++s.stats.no_ports;
    return;
  }
  std::memcpy(key.addr_a, (from_b ? p.dst : p.src).bytes.data(), 16);
  std::memcpy(key.addr_b, (from_b ? p.src : p.dst).bytes.data(), 16);
  key.tail = FlowKey::Tail(port_a, port_b, p.proto, p.src.v6);

  if (p.ts_usec > s.now_usec) {
    s.now_usec = p.ts_usec;
  }
  const std::uint64_t now = s.now_usec;
  // Amortized idle scan: it visits every slot of the map, so it waits for as many packets as
  // there are slots (at most one slot visit per packet), besides the packet-time interval.
  ++s.packets_since_scan;
  if (now >= s.next_scan_usec && s.packets_since_scan >= s.flows.bucket_count()) {
    s.ExpireIdle(now);
  }

  bool fresh = false;
  State::FlowMap::value_type* entry = s.FindOrInsert(key, now, fresh);
  if (entry == nullptr) {
    return;
  }
  FlowValue& v = entry->second;
  if (!fresh) {
    const bool idle = s.IsIdle(key, v, now);
    // A new SYN on a closed connection is port reuse: a new flow on the same 5-tuple.
    const bool reopened =
        p.proto == kTcp &&
        (p.tcp_flags & (capture::kTcpSyn | capture::kTcpAck)) == capture::kTcpSyn &&
        (v.flags & (kRst | kFinA | kFinB)) != 0;
    if (idle || reopened) {
      s.Emit(key, v);
      if (idle) {
        ++s.stats.flows_expired;
      }
      fresh = true;
    }
  }
  s.Update(key, v, p, from_b, fresh, icmp);
}

void FlowTable::ExpireIdle(std::uint64_t now_usec) {
  if (now_usec > state_->now_usec) {
    state_->now_usec = now_usec;
  }
  state_->ExpireIdle(now_usec);
}

void FlowTable::Flush() {
  State& s = *state_;
  for (const auto& [k, v] : s.flows) {
    s.Emit(k, v);
  }
  s.flows.clear();
  s.cached = nullptr;
}

void FlowTable::Peek(FlowRecordSink& sink) const {
  FlowTableStats ignored;
  for (const auto& [k, v] : state_->flows) {
    state_->Emit(k, v, sink, ignored, nullptr);
  }
}

std::size_t FlowTable::size() const { return state_->flows.size(); }

const FlowTableStats& FlowTable::stats() const { return state_->stats; }

const ScanDetector& FlowTable::scans() const { return state_->scans; }

}  // namespace bulkhead::learn
