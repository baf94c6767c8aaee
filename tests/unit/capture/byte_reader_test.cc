#include "capture/byte_reader.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>

namespace bulkhead::capture {
namespace {

constexpr std::array<std::uint8_t, 8> kData = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};

TEST(ByteReaderTest, ReadsBigEndian) {
  ByteReader r(kData);
  std::uint8_t u8 = 0;
  std::uint16_t u16 = 0;
  std::uint32_t u32 = 0;
  ASSERT_TRUE(r.ReadU8(u8));
  ASSERT_TRUE(r.ReadBe16(u16));
  ASSERT_TRUE(r.ReadBe32(u32));
  EXPECT_EQ(u8, 0x01);
  EXPECT_EQ(u16, 0x0203);
  EXPECT_EQ(u32, 0x04050607U);
  EXPECT_EQ(r.offset(), 7U);
  EXPECT_EQ(r.remaining(), 1U);
}

TEST(ByteReaderTest, FailedReadLeavesReaderUnchanged) {
  ByteReader r(kData);
  ASSERT_TRUE(r.Skip(7));
  std::uint16_t u16 = 0xAAAA;
  std::uint32_t u32 = 0xBBBBBBBB;
  EXPECT_FALSE(r.ReadBe16(u16));
  EXPECT_FALSE(r.ReadBe32(u32));
  EXPECT_FALSE(r.Skip(2));
  std::uint8_t out[2] = {0xCC, 0xCC};
  EXPECT_FALSE(r.ReadBytes(out, 2));
  EXPECT_EQ(u16, 0xAAAA);
  EXPECT_EQ(u32, 0xBBBBBBBBU);
  EXPECT_EQ(out[0], 0xCC);
  EXPECT_EQ(r.offset(), 7U);
  std::uint8_t last = 0;
  EXPECT_TRUE(r.ReadU8(last));
  EXPECT_EQ(last, 0x08);
  EXPECT_FALSE(r.ReadU8(last));
}

TEST(ByteReaderTest, TakeMakesAHardBoundary) {
  ByteReader r(kData);
  ByteReader sub;
  ASSERT_TRUE(r.Take(3, sub));
  EXPECT_EQ(r.offset(), 3U);
  EXPECT_EQ(sub.remaining(), 3U);
  std::uint32_t u32 = 0;
  EXPECT_FALSE(sub.ReadBe32(u32));
  std::uint16_t u16 = 0;
  ASSERT_TRUE(sub.ReadBe16(u16));
  EXPECT_EQ(u16, 0x0102);
  EXPECT_FALSE(r.Take(6, sub));
}

TEST(ByteReaderTest, LimitOnlyNarrows) {
  ByteReader r(kData);
  ASSERT_TRUE(r.Skip(2));
  r.Limit(100);
  EXPECT_EQ(r.remaining(), 6U);
  r.Limit(3);
  EXPECT_EQ(r.remaining(), 3U);
  EXPECT_EQ(r.rest().front(), 0x03);
  EXPECT_FALSE(r.Skip(4));
}

TEST(ByteReaderTest, EmptyReaderReadsNothing) {
  ByteReader r;
  std::uint8_t u8 = 0;
  EXPECT_EQ(r.remaining(), 0U);
  EXPECT_FALSE(r.ReadU8(u8));
  EXPECT_TRUE(r.Skip(0));
}

}  // namespace
}  // namespace bulkhead::capture
