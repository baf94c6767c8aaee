#include "enforcer/nft_fields.h"

#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>

#include <cstddef>
#include <set>

#include <gtest/gtest.h>

#include "enforcer/render.h"

namespace bulkhead::enforcer {
namespace {

struct Layout {
  std::size_t offset;
  std::size_t length;
};

// Where each payload field is in the header the kernel reads, from the C library's own structs
// (not from the table): a wrong row cannot agree with both.
Layout HeaderLayout(Field f) {
  switch (f) {
    case Field::kIpSaddr:
      return {offsetof(iphdr, saddr), sizeof(iphdr::saddr)};
    case Field::kIpDaddr:
      return {offsetof(iphdr, daddr), sizeof(iphdr::daddr)};
    case Field::kIp6Saddr:
      return {offsetof(ip6_hdr, ip6_src), sizeof(ip6_hdr::ip6_src)};
    case Field::kIp6Daddr:
      return {offsetof(ip6_hdr, ip6_dst), sizeof(ip6_hdr::ip6_dst)};
    case Field::kThDport:
      EXPECT_EQ(offsetof(tcphdr, th_dport), offsetof(udphdr, uh_dport));
      return {offsetof(tcphdr, th_dport), sizeof(tcphdr::th_dport)};
    case Field::kThSport:
      EXPECT_EQ(offsetof(tcphdr, th_sport), offsetof(udphdr, uh_sport));
      return {offsetof(tcphdr, th_sport), sizeof(tcphdr::th_sport)};
    case Field::kIcmpv6Type:
      return {offsetof(icmp6_hdr, icmp6_type), sizeof(icmp6_hdr::icmp6_type)};
    case Field::kEtherType:
      return {offsetof(ether_header, ether_type), sizeof(ether_header::ether_type)};
    case Field::kEtherSaddr:
      return {offsetof(ether_header, ether_shost), sizeof(ether_header::ether_shost)};
    case Field::kNdTarget:  // struct nd_neighbor_advert: icmp6_hdr (8 bytes), then the target
      return {offsetof(nd_neighbor_advert, nd_na_target), sizeof(in6_addr)};
    case Field::kArpSaddrIp:  // struct arphdr, then the sender's hardware address (Ethernet)
      return {sizeof(arphdr) + ETHER_ADDR_LEN, 4};
    default:
      ADD_FAILURE() << "not a payload field: " << FieldInfoOf(f).name;
      return {0, 0};
  }
}

TEST(NftFields, PayloadRowsAgreeWithTheHeaderLayout) {
  for (const FieldInfo& row : kFields) {
    if (row.base == FieldBase::kMeta || row.base == FieldBase::kConntrack) {
      EXPECT_EQ(row.offset, 0u) << row.name;
      continue;
    }
    const Layout want = HeaderLayout(row.field);
    EXPECT_EQ(row.offset, want.offset) << row.name;
    EXPECT_EQ(row.length, want.length) << row.name;
  }
}

TEST(NftFields, MetaAndConntrackRowsLoadTheirKeysSize) {
  EXPECT_EQ(FieldInfoOf(Field::kIifname).length, static_cast<std::uint32_t>(IFNAMSIZ));
  EXPECT_EQ(FieldInfoOf(Field::kCtMark).length, sizeof(std::uint32_t));
  EXPECT_EQ(FieldInfoOf(Field::kCtState).length, sizeof(std::uint32_t));
  EXPECT_EQ(FieldInfoOf(Field::kNfproto).length, 1u);
  EXPECT_EQ(FieldInfoOf(Field::kL4proto).length, 1u);
}

TEST(NftFields, BasesMatchTheHeaderEachFieldNeeds) {
  for (const FieldInfo& row : kFields) {
    switch (row.header) {
      case FieldHeader::kIpv4:
      case FieldHeader::kIpv6:
      case FieldHeader::kArp:
        EXPECT_EQ(row.base, FieldBase::kNetwork) << row.name;
        break;
      case FieldHeader::kIcmpv6:
      case FieldHeader::kNeighbourAdvert:
        EXPECT_EQ(row.base, FieldBase::kTransport) << row.name;
        break;
      case FieldHeader::kAny:
        break;
    }
  }
}

TEST(NftFields, NamesAreUniqueAndRendered) {
  std::set<std::string_view> names;
  for (const FieldInfo& row : kFields) {
    EXPECT_TRUE(names.insert(row.name).second) << row.name;
    VmapLookup lookup{row.field, "m"};
    EXPECT_EQ(RenderStatement(lookup), std::string(row.name) + " vmap @m");
  }
}

TEST(NftFields, DataTypesHaveNftIdsAndLengths) {
  std::set<std::uint32_t> ids;
  for (const DataTypeInfo& row : kDataTypes) {
    EXPECT_TRUE(ids.insert(row.nft_id).second) << row.name;
    EXPECT_EQ(row.length == 0, row.type == DataType::kVerdict) << row.name;
  }
  EXPECT_EQ(DataTypeInfoOf(DataType::kIpv6Addr).length, sizeof(in6_addr));
  EXPECT_EQ(DataTypeInfoOf(DataType::kIfname).length, static_cast<std::uint32_t>(IFNAMSIZ));
}

}  // namespace
}  // namespace bulkhead::enforcer
