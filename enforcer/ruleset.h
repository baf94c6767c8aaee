#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/system/result.hpp>

// An in-memory model of the nftables objects bulkhead installs: tables, named counters, sets and
// maps with typed elements, chains and rules. One model, three consumers: the nft text renderer
// (render.h), the netlink batch builder (batch_builder.h) and the offline evaluator
// (evaluator.h). Values are semantic (numbers, addresses, names); each consumer encodes them.
namespace bulkhead::enforcer {

enum class Family : std::uint8_t { kInet, kBridge };

// The nftables datatypes bulkhead uses (set keys, map data, match values); their names, ids and
// lengths are in nft_fields.h (kDataTypes, in this order).
enum class DataType : std::uint8_t {
  kIpv4Addr,
  kIpv6Addr,
  kMark,         // 32-bit, host byte order (ct mark)
  kInetProto,    // 8-bit IANA protocol number
  kInetService,  // 16-bit, network byte order
  kIfname,       // 16-byte interface name
  kEtherType,    // 16-bit, network byte order
  kIcmpv6Type,   // 8-bit
  kEtherAddr,    // 6-byte MAC address (bytes as on the wire, in `addr`)
  // An IPv6 address read as a raw 128-bit payload (`@th,64,128`): nft 1.0.6 has no name for the
  // neighbour advertisement's target, and types a raw field as an integer that no ipv6_addr set
  // takes, so its sets are declared `typeof` and their elements written in hex. Bytes in `addr`.
  kIpv6Raw,
  kVerdict,  // map data only
};

// The packet or connection fields a rule reads; how each is loaded, named and typed is one row of
// nft_fields.h (kFields, in this order).
enum class Field : std::uint8_t {
  kNfproto,
  kL4proto,
  kIpSaddr,
  kIpDaddr,
  kIp6Saddr,
  kIp6Daddr,
  kThDport,  // bytes 2-3 of the transport header (tcp/udp/sctp destination port)
  kThSport,  // bytes 0-1 of the transport header; for ICMP this is type << 8 | code
  kIcmpv6Type,
  kIifname,
  kEtherType,
  kArpSaddrIp,  // an ARP frame's sender IPv4 address (Ethernet/IPv4 layout: byte 14)
  kEtherSaddr,  // a frame's source MAC address (bridge family)
  kNdTarget,    // an ICMPv6 neighbour advertisement's target address (bytes 8-23), as kIpv6Raw
  kCtState,
  kCtMark,
};

DataType FieldType(Field f);

struct Value {
  DataType type = DataType::kMark;
  std::uint32_t number = 0;             // integer types
  std::array<std::uint8_t, 16> addr{};  // kIpv4Addr (first 4 bytes), kIpv6Addr, kEtherAddr (6)
  std::string name;                     // kIfname

  static Value Number(DataType type, std::uint32_t n);
  static Value Ifname(std::string name);
  // An IPv6 address (kIpv6Addr) as the raw kIpv6Raw value of the same bytes.
  static Value Ipv6Raw(const Value& address);
  // Parses a textual IPv4 or IPv6 address; nullopt when it is neither.
  static std::optional<Value> Address(std::string_view text);
  // Parses a MAC address written as six colon-separated hex bytes (aa:bb:cc:dd:ee:ff); nullopt
  // for anything else.
  static std::optional<Value> Mac(std::string_view text);

  friend auto operator<=>(const Value&, const Value&) = default;
  friend bool operator==(const Value&, const Value&) = default;
};

// A verdict: a rule's final statement or a verdict map's data.
struct Verdict {
  enum class Kind : std::uint8_t { kAccept, kDrop, kReturn, kJump, kGoto };
  Kind kind = Kind::kAccept;
  std::string chain;  // kJump/kGoto
  friend bool operator==(const Verdict&, const Verdict&) = default;
};

// One set element: a (concatenated) key, an optional key end for interval sets, optional map
// data. `origin` names the policy object that produced it (edge, workload) for error messages
// and counter reports.
struct Element {
  std::vector<Value> key;
  std::vector<Value> key_end;  // empty: a single value (or key == key_end)
  std::optional<Value> data;
  std::optional<Verdict> verdict;
  std::string origin;
};

struct Set {
  std::string name;
  std::vector<DataType> key;     // one entry per concatenated field
  std::optional<DataType> data;  // maps: data type (kVerdict for verdict maps)
  bool interval = false;
  bool counter = false;  // per-element counters
  // The most elements the set takes (nft `size`, 0: unbounded). With a size the kernel picks a
  // fixed-size hash instead of a resizable one, so filling it never rehashes.
  std::uint32_t size = 0;
  // A set the packet path fills (nft `flags dynamic`, `update @set`); the model lists no
  // elements (the hit set, compiler.h: HitNames).
  bool dynamic = false;
  // Seconds an element the packet path added lives without being updated (nft `flags timeout`,
  // `timeout Ns`; 0: forever). The per-source log budgets use it so that a source that went
  // quiet leaves room for others.
  std::uint32_t timeout_seconds = 0;
  // A set of single-port edges (e_g<id>, set_names.h): the source group whose edges it holds.
  // The hit set counts these edges under that group (compiler.h: HitNames), so the group is
  // carried here rather than read back out of the name.
  std::optional<std::uint32_t> single_port_edges_of;
  // Set for keys nft 1.0.6 can only declare by the fields that fill them (`typeof iifname .
  // @th,64,128`): any key with a kIpv6Raw part. Empty: declared by `key` (`type ...`).
  std::vector<Field> key_fields;
  std::vector<Element> elements;
  std::string origin;
};

// A match: `key OP value` or `key [!=] @set`. Several fields make a concatenation (set lookups
// only). Implicit matches are protocol dependencies nft adds by itself (`meta nfproto ipv4`
// before `ip saddr`); they are not rendered but are linearized and evaluated.
struct Match {
  enum class Op : std::uint8_t {
    kEq,
    kNeq,
    kInSet,
    kNotInSet,
    kAnyBit,  // (key & value) != 0, e.g. ct state established,related
    kRange,   // value <= key <= value_end
  };
  std::vector<Field> key;
  Op op = Op::kEq;
  Value value;
  Value value_end;              // kRange
  std::uint8_t prefix_len = 0;  // addresses: 0 means the full address
  std::string set;
  bool implicit = false;
  friend bool operator==(const Match&, const Match&) = default;
};

// `ct mark set <number>` or `ct mark set <field> map @<map>`.
struct SetCtMark {
  std::uint32_t number = 0;
  std::optional<Field> map_key;
  std::string map;
  // `ct mark set ct mark & and_mask | or_bits` (nft lists `| bits` or `& mask`) when `bitwise`.
  bool bitwise = false;
  std::uint32_t and_mask = 0xffffffff;
  std::uint32_t or_bits = 0;
  friend bool operator==(const SetCtMark&, const SetCtMark&) = default;
};

// `<field> vmap @<map>`.
struct VmapLookup {
  Field key = Field::kIpSaddr;
  std::string map;
  friend bool operator==(const VmapLookup&, const VmapLookup&) = default;
};

struct Limit {
  std::uint32_t rate_per_second = 10;
  std::uint32_t burst = 5;
  friend bool operator==(const Limit&, const Limit&) = default;
};

// `update @<set> { <key> counter }`: adds the key to a dynamic set (or finds it there) and counts
// the packet in that element's counter. With `limit`, `update @<set> { <key> limit ... }`: each
// element has a rate limit of its own (a meter), and the rule stops here when the element's is
// used up (or the set is full).
struct UpdateSet {
  std::vector<Field> key;
  std::string set;
  std::optional<Limit> limit;
  friend bool operator==(const UpdateSet&, const UpdateSet&) = default;
};

struct Log {
  std::string prefix;
  std::uint16_t group = 0;
  friend bool operator==(const Log&, const Log&) = default;
};

struct CounterRef {
  std::string name;
  friend bool operator==(const CounterRef&, const CounterRef&) = default;
};

using Statement =
    std::variant<Match, SetCtMark, VmapLookup, UpdateSet, Limit, Log, CounterRef, Verdict>;

struct Rule {
  std::vector<Statement> statements;
  std::string origin;  // the policy object or purpose (for errors)
};

// The netfilter hooks bulkhead's base chains attach to. prerouting is the bridge table's; the
// inet table uses the other three.
enum class Hook : std::uint8_t { kPrerouting, kInput, kForward, kOutput };

// nft's name of a hook (`hook forward`), also the name of bulkhead's base chain there.
std::string_view HookName(Hook hook);
// The hook of an nft hook name; an error for any other text (never a default hook).
boost::system::result<Hook, std::string> ParseHook(std::string_view name);

struct BaseHook {
  Hook hook = Hook::kForward;
  std::int32_t priority = 0;
  friend bool operator==(const BaseHook&, const BaseHook&) = default;
};

struct Chain {
  std::string name;
  std::optional<BaseHook> base;  // base chains have policy accept
  std::vector<Rule> rules;
};

struct Table {
  Family family = Family::kInet;
  std::string name;
  std::vector<std::string> counters;  // named counter objects
  std::vector<Set> sets;
  std::vector<Chain> chains;

  const Set* FindSet(std::string_view set_name) const;
  const Chain* FindChain(std::string_view chain_name) const;
};

struct Ruleset {
  std::vector<Table> tables;
  const Table* FindTable(Family family, std::string_view name) const;
};

std::string_view FamilyName(Family f);

}  // namespace bulkhead::enforcer
