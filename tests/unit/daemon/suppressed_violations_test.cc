#include "daemon/suppressed_violations.h"

#include <gtest/gtest.h>

namespace bulkhead::daemon {
namespace {

enforcer::SuppressedCount V4(std::uint8_t last, std::uint64_t packets) {
  enforcer::SuppressedCount c;
  c.address = {10, 0, 0, last};
  c.packets = packets;
  return c;
}

std::string GroupOf(const capture::IpAddr& a) {
  return a.ToString() == "10.0.0.2" ? "web" : a.ToString() == "10.0.0.3" ? "api" : "world";
}

TEST(SuppressedViolations, TotalsPerGroupGrowWithTheKernelCounts) {
  SuppressedViolations s;
  s.Update({V4(2, 100), V4(3, 1), V4(9, 5)}, GroupOf);
  s.Update({V4(2, 250), V4(3, 1), V4(9, 5)}, GroupOf);
  EXPECT_EQ(s.by_group().at("web"), 250U);
  EXPECT_EQ(s.by_group().at("api"), 1U);
  EXPECT_EQ(s.by_group().at("world"), 5U);
}

TEST(SuppressedViolations, AFullApplyStartsTheKernelCountsAgainNotTheTotals) {
  SuppressedViolations s;
  s.Update({V4(2, 100)}, GroupOf);
  s.Restart();  // new sets: the kernel counts from 0
  s.Update({V4(2, 30)}, GroupOf);
  EXPECT_EQ(s.by_group().at("web"), 130U);
  // A count lower than the last one read (sets created anew by someone else's repair): from 0.
  s.Update({V4(2, 10)}, GroupOf);
  EXPECT_EQ(s.by_group().at("web"), 140U);
}

TEST(SuppressedViolations, Ipv6SourcesAreTheirOwn) {
  SuppressedViolations s;
  enforcer::SuppressedCount c;
  c.v6 = true;
  c.address = {0xfd, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  c.packets = 7;
  s.Update({c, V4(2, 3)}, [](const capture::IpAddr& a) { return a.v6 ? "v6" : "v4"; });
  EXPECT_EQ(s.by_group().at("v6"), 7U);
  EXPECT_EQ(s.by_group().at("v4"), 3U);
}

}  // namespace
}  // namespace bulkhead::daemon
