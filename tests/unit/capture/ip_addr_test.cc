#include "capture/ip_addr.h"

#include <gtest/gtest.h>

#include <unordered_set>

namespace bulkhead::capture {
namespace {

TEST(IpAddrTest, ParseFormatRoundTrips) {
  for (const char* text : {"10.0.0.1", "0.0.0.0", "255.255.255.255", "::", "::1", "fd00::1",
                           "2001:db8::8:800:200c:417a", "fe80::1:2:3:4", "::ffff:10.0.0.1"}) {
    const auto a = IpAddr::Parse(text);
    ASSERT_TRUE(a.has_value()) << text;
    EXPECT_EQ(a->ToString(), text);
    EXPECT_EQ(IpAddr::Parse(a->ToString()), a);
  }
}

TEST(IpAddrTest, FormatIsCanonical) {
  EXPECT_EQ(IpAddr::Parse("2001:0DB8:0000:0000:0000:0000:0000:0001")->ToString(), "2001:db8::1");
  EXPECT_EQ(IpAddr::Parse("fd00:0:0:0:0:0:0:2")->ToString(), "fd00::2");
}

TEST(IpAddrTest, RejectsGarbage) {
  for (const char* text : {"", "10.0.0", "10.0.0.256", "1.2.3.4.5", "fd00:::1", "host",
                           "10.0.0.1/24", " 10.0.0.1", "::1%eth0"}) {
    EXPECT_FALSE(IpAddr::Parse(text).has_value()) << text;
  }
  EXPECT_FALSE(IpAddr::Parse(std::string(200, '1')).has_value());
}

TEST(IpAddrTest, FamiliesNeverCompareEqual) {
  const IpAddr v4 = *IpAddr::Parse("0.0.0.0");
  const IpAddr v6 = *IpAddr::Parse("::");
  EXPECT_NE(v4, v6);
  EXPECT_FALSE(v4.v6);
  EXPECT_TRUE(v6.v6);
  EXPECT_NE(IpAddrHash{}(v4), IpAddrHash{}(v6));
}

TEST(IpAddrTest, ConstructorsAgreeWithParse) {
  EXPECT_EQ(IpAddr::V4(0x0A000001), *IpAddr::Parse("10.0.0.1"));
  const std::uint8_t four[4] = {192, 168, 1, 9};
  EXPECT_EQ(IpAddr::FromV4Bytes(four), *IpAddr::Parse("192.168.1.9"));
  std::uint8_t sixteen[16] = {0xfd};
  sixteen[15] = 7;
  EXPECT_EQ(IpAddr::FromV6Bytes(sixteen), *IpAddr::Parse("fd00::7"));
}

TEST(IpAddrTest, MulticastAndBroadcast) {
  EXPECT_TRUE(IpAddr::Parse("224.0.0.251")->IsMulticastOrBroadcast());
  EXPECT_TRUE(IpAddr::Parse("239.255.255.250")->IsMulticastOrBroadcast());
  EXPECT_TRUE(IpAddr::Parse("255.255.255.255")->IsMulticastOrBroadcast());
  EXPECT_TRUE(IpAddr::Parse("ff02::1")->IsMulticastOrBroadcast());
  EXPECT_FALSE(IpAddr::Parse("10.0.0.255")->IsMulticastOrBroadcast());
  EXPECT_FALSE(IpAddr::Parse("fd00::1")->IsMulticastOrBroadcast());
}

}  // namespace
}  // namespace bulkhead::capture
