#pragma once

#include <linux/netfilter/nf_tables.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "enforcer/ruleset.h"

// The one table of the fields bulkhead's rules read and of the datatypes their values have, as
// nftables keeps them in src/proto.c and src/datatype.c. Every consumer reads its column from
// here: the model (FieldType), the nft text renderer (names), the netlink encoder (base, key,
// offset, length, type id, byte order) and the offline evaluator (header, packet part). Adding a
// field is one enumerator in ruleset.h and one row below; the static_asserts keep the rows in
// enumerator order and the tests (nft_fields_test.cc) check each offset against the header
// layout the kernel reads.
namespace bulkhead::enforcer {

// How a datatype's value is laid out in a register (nft's byte order, plus the two non-integers).
enum class ValueEncoding : std::uint8_t {
  kHostInteger,  // host byte order (BYTEORDER_HOST_ENDIAN): marks, protocol numbers
  kBigInteger,   // network byte order: ports, ether types, ICMPv6 types
  kAddress,      // IPv4/IPv6/MAC address bytes as on the wire
  kString,       // NUL-padded name (nft keeps strings host-endian)
  kVerdict,      // map data only, never in a register as bytes
};

struct DataTypeInfo {
  DataType type;
  std::string_view name;  // nft's name (`type ipv4_addr`)
  std::uint32_t nft_id;   // nft's datatype id (src/datatype.h), stored as a set's key type
  std::uint32_t length;   // bytes
  ValueEncoding encoding;
};

inline constexpr std::array<DataTypeInfo, 11> kDataTypes = {{
    {DataType::kIpv4Addr, "ipv4_addr", 7, 4, ValueEncoding::kAddress},
    {DataType::kIpv6Addr, "ipv6_addr", 8, 16, ValueEncoding::kAddress},
    {DataType::kMark, "mark", 19, 4, ValueEncoding::kHostInteger},
    {DataType::kInetProto, "inet_proto", 12, 1, ValueEncoding::kHostInteger},
    {DataType::kInetService, "inet_service", 13, 2, ValueEncoding::kBigInteger},
    {DataType::kIfname, "ifname", 41, 16, ValueEncoding::kString},
    {DataType::kEtherType, "ether_type", 10, 2, ValueEncoding::kBigInteger},
    {DataType::kIcmpv6Type, "icmpv6_type", 29, 1, ValueEncoding::kBigInteger},
    {DataType::kEtherAddr, "ether_addr", 9, 6, ValueEncoding::kAddress},
    {DataType::kIpv6Raw, "integer", 4, 16, ValueEncoding::kAddress},
    {DataType::kVerdict, "verdict", NFT_DATA_VERDICT, 0, ValueEncoding::kVerdict},
}};

// Where a field's bytes come from: a meta or conntrack key, or a payload header (nft's
// NFT_PAYLOAD_LL/NETWORK/TRANSPORT_HEADER bases).
enum class FieldBase : std::uint8_t { kMeta, kConntrack, kLink, kNetwork, kTransport };

// The header a field belongs to: a packet without it has no such field (the kernel's payload
// expression then ends the rule; nft inserts a protocol dependency before it).
enum class FieldHeader : std::uint8_t {
  kAny,              // meta and conntrack keys, the link header, the transport header's first bytes
  kIpv4,             // IPv4 packets (not ARP or tagged frames on a bridge)
  kIpv6,             // IPv6 packets (idem)
  kArp,              // ARP frames on a bridge (Ethernet/IPv4 layout)
  kIcmpv6,           // ICMPv6 messages
  kNeighbourAdvert,  // ICMPv6 neighbour advertisements (type 136)
};

// What a field means for the offline evaluator, whose packets are descriptions (PacketInfo),
// not bytes: several fields read one part in different headers (ip saddr, ip6 saddr and arp
// saddr ip are all the sender's address).
enum class PacketPart : std::uint8_t {
  kNfproto,
  kL4proto,
  kSourceAddress,
  kDestinationAddress,
  kTransportSource,       // th sport: the source port, or ICMP type << 8 | code
  kTransportDestination,  // th dport: the destination port, 0 for ICMP
  kIcmpType,
  kInputInterface,  // the bridge port on a bridge, the input interface in inet
  kEtherType,
  kEtherSource,  // the frame's source MAC (PacketInfo::ether_saddr; absent: not known)
  kNdTarget,     // a neighbour advertisement's target address (PacketInfo::nd_target)
  kCtState,
  kCtMark,
};

struct FieldInfo {
  Field field;
  std::string_view name;  // nft syntax (`ip saddr`)
  DataType type;
  FieldBase base;
  std::uint32_t key;     // NFT_META_* or NFT_CT_* for meta and conntrack fields, else 0
  std::uint32_t offset;  // payload fields: bytes from the start of the base's header
  std::uint32_t length;  // bytes loaded into the register
  FieldHeader header;
  PacketPart part;
};

inline constexpr std::array<FieldInfo, 16> kFields = {{
    {Field::kNfproto, "meta nfproto", DataType::kInetProto, FieldBase::kMeta, NFT_META_NFPROTO, 0,
     1, FieldHeader::kAny, PacketPart::kNfproto},
    {Field::kL4proto, "meta l4proto", DataType::kInetProto, FieldBase::kMeta, NFT_META_L4PROTO, 0,
     1, FieldHeader::kAny, PacketPart::kL4proto},
    {Field::kIpSaddr, "ip saddr", DataType::kIpv4Addr, FieldBase::kNetwork, 0, 12, 4,
     FieldHeader::kIpv4, PacketPart::kSourceAddress},
    {Field::kIpDaddr, "ip daddr", DataType::kIpv4Addr, FieldBase::kNetwork, 0, 16, 4,
     FieldHeader::kIpv4, PacketPart::kDestinationAddress},
    {Field::kIp6Saddr, "ip6 saddr", DataType::kIpv6Addr, FieldBase::kNetwork, 0, 8, 16,
     FieldHeader::kIpv6, PacketPart::kSourceAddress},
    {Field::kIp6Daddr, "ip6 daddr", DataType::kIpv6Addr, FieldBase::kNetwork, 0, 24, 16,
     FieldHeader::kIpv6, PacketPart::kDestinationAddress},
    {Field::kThDport, "th dport", DataType::kInetService, FieldBase::kTransport, 0, 2, 2,
     FieldHeader::kAny, PacketPart::kTransportDestination},
    {Field::kThSport, "th sport", DataType::kInetService, FieldBase::kTransport, 0, 0, 2,
     FieldHeader::kAny, PacketPart::kTransportSource},
    {Field::kIcmpv6Type, "icmpv6 type", DataType::kIcmpv6Type, FieldBase::kTransport, 0, 0, 1,
     FieldHeader::kIcmpv6, PacketPart::kIcmpType},
    {Field::kIifname, "iifname", DataType::kIfname, FieldBase::kMeta, NFT_META_IIFNAME, 0, 16,
     FieldHeader::kAny, PacketPart::kInputInterface},
    {Field::kEtherType, "ether type", DataType::kEtherType, FieldBase::kLink, 0, 12, 2,
     FieldHeader::kAny, PacketPart::kEtherType},
    // The sender's protocol address after the 8-byte ARP header and the 6-byte sender MAC.
    {Field::kArpSaddrIp, "arp saddr ip", DataType::kIpv4Addr, FieldBase::kNetwork, 0, 14, 4,
     FieldHeader::kArp, PacketPart::kSourceAddress},
    // The Ethernet source address, after the 6-byte destination.
    {Field::kEtherSaddr, "ether saddr", DataType::kEtherAddr, FieldBase::kLink, 0, 6, 6,
     FieldHeader::kAny, PacketPart::kEtherSource},
    // The target address of a neighbour advertisement (RFC 4861 4.4): after type, code,
    // checksum and the 4 bytes of flags. Raw, because nft 1.0.6 names no such field.
    {Field::kNdTarget, "@th,64,128", DataType::kIpv6Raw, FieldBase::kTransport, 0, 8, 16,
     FieldHeader::kNeighbourAdvert, PacketPart::kNdTarget},
    {Field::kCtState, "ct state", DataType::kMark, FieldBase::kConntrack, NFT_CT_STATE, 0, 4,
     FieldHeader::kAny, PacketPart::kCtState},
    {Field::kCtMark, "ct mark", DataType::kMark, FieldBase::kConntrack, NFT_CT_MARK, 0, 4,
     FieldHeader::kAny, PacketPart::kCtMark},
}};

constexpr const FieldInfo& FieldInfoOf(Field field) {
  return kFields[static_cast<std::size_t>(field)];
}

constexpr const DataTypeInfo& DataTypeInfoOf(DataType type) {
  return kDataTypes[static_cast<std::size_t>(type)];
}

constexpr bool FieldTablesInEnumOrder() {
  for (std::size_t i = 0; i < kFields.size(); ++i) {
    if (static_cast<std::size_t>(kFields[i].field) != i) {
      return false;
    }
  }
  for (std::size_t i = 0; i < kDataTypes.size(); ++i) {
    if (static_cast<std::size_t>(kDataTypes[i].type) != i) {
      return false;
    }
  }
  return true;
}
static_assert(FieldTablesInEnumOrder(), "kFields and kDataTypes are indexed by their enum");
static_assert(static_cast<std::size_t>(Field::kCtMark) + 1 == kFields.size(),
              "every Field has a row in kFields");
static_assert(static_cast<std::size_t>(DataType::kVerdict) + 1 == kDataTypes.size(),
              "every DataType has a row in kDataTypes");

// A field's register length agrees with its datatype's (a concatenation relies on it).
constexpr bool FieldLengthsMatchTypes() {
  for (const FieldInfo& f : kFields) {
    if (f.length != DataTypeInfoOf(f.type).length) {
      return false;
    }
  }
  return true;
}
static_assert(FieldLengthsMatchTypes(), "a field loads as many bytes as its datatype has");

}  // namespace bulkhead::enforcer
