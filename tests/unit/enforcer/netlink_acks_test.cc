#include "enforcer/internal/netlink_acks.h"

#include <linux/netlink.h>

#include <cerrno>
#include <cstring>
#include <variant>

#include <gtest/gtest.h>

namespace bulkhead::enforcer::internal {
namespace {

// One scripted receive: reply bytes, or a failure with this errno.
using Step = std::variant<std::vector<char>, int>;

std::vector<char> ErrorReply(std::uint32_t seq, int error) {
  std::vector<char> bytes(NLMSG_SPACE(sizeof(nlmsgerr)), 0);
  nlmsghdr h{};
  h.nlmsg_len = NLMSG_LENGTH(sizeof(nlmsgerr));
  h.nlmsg_type = NLMSG_ERROR;
  h.nlmsg_seq = seq;
  nlmsgerr e{};
  e.error = -error;
  std::memcpy(bytes.data(), &h, sizeof(h));
  std::memcpy(bytes.data() + NLMSG_HDRLEN, &e, sizeof(e));
  return bytes;
}

// A receive that plays `steps` in order, then reports EAGAIN (nothing left).
ReceiveFn Script(std::vector<Step> steps) {
  auto next = std::make_shared<std::size_t>(0);
  return [steps = std::move(steps), next](std::span<char> into) -> ssize_t {
    if (*next == steps.size()) {
      errno = EAGAIN;
      return -1;
    }
    const Step& step = steps[(*next)++];
    if (const int* error = std::get_if<int>(&step)) {
      errno = *error;
      return -1;
    }
    const auto& bytes = std::get<std::vector<char>>(step);
    std::memcpy(into.data(), bytes.data(), bytes.size());
    return static_cast<ssize_t>(bytes.size());
  };
}

TEST(NetlinkAcks, NoRepliesMeansCommitted) {
  std::vector<char> buf(4096);
  auto acks = ReadAcknowledgements(Script({}), buf);
  ASSERT_TRUE(acks);
  EXPECT_TRUE(acks->empty());
}

TEST(NetlinkAcks, EveryRefusedMessageIsReported) {
  std::vector<char> buf(4096);
  auto acks = ReadAcknowledgements(Script({ErrorReply(7, EINVAL), ErrorReply(9, ENOENT)}), buf);
  ASSERT_TRUE(acks);
  ASSERT_EQ(acks->size(), 2u);
  EXPECT_EQ((*acks)[0].seq, 7u);
  EXPECT_EQ((*acks)[0].error, EINVAL);
  EXPECT_EQ((*acks)[1].seq, 9u);
  EXPECT_EQ((*acks)[1].error, ENOENT);
}

TEST(NetlinkAcks, ReadingGoesOnAfterEnobufsAndCountsIt) {
  std::vector<char> buf(4096);
  auto acks = ReadAcknowledgements(
      Script({ErrorReply(7, EINVAL), ENOBUFS, ErrorReply(12, EEXIST), ENOBUFS}), buf);
  ASSERT_TRUE(acks) << acks.error();
  ASSERT_EQ(acks->size(), 3u);
  EXPECT_EQ((*acks)[0].seq, 7u);
  EXPECT_EQ((*acks)[1].seq, 12u);  // read after the overflow, not given up
  EXPECT_EQ((*acks)[2].seq, 0u);   // the lost reports, last so the first error stays a real one
  EXPECT_EQ((*acks)[2].error, ENOBUFS);
  EXPECT_NE((*acks)[2].message.find("overflowed 2 time(s)"), std::string::npos)
      << (*acks)[2].message;
}

TEST(NetlinkAcks, AnOverflowAloneStillRefusesTheBatch) {
  // No ACK is asked for a message that succeeds: a dropped reply was an error report.
  std::vector<char> buf(4096);
  auto acks = ReadAcknowledgements(Script({ENOBUFS}), buf);
  ASSERT_TRUE(acks);
  ASSERT_EQ(acks->size(), 1u);
  EXPECT_EQ((*acks)[0].error, ENOBUFS);
}

TEST(NetlinkAcks, OtherReceiveFailuresEndTheRead) {
  std::vector<char> buf(4096);
  auto acks = ReadAcknowledgements(Script({ErrorReply(7, EINVAL), EBADF}), buf);
  ASSERT_FALSE(acks);
  EXPECT_EQ(acks.error(), std::string("reading netlink replies: ") + std::strerror(EBADF));
}

TEST(NetlinkAcks, EmsgsizeIsExplainedWhenSndbufforceWasRefused) {
  const std::string text = DescribeSendFailure(EMSGSIZE, 5000000, EPERM);
  EXPECT_EQ(text.rfind(std::string("sending the netlink batch (5000000 bytes): ") +
                           std::strerror(EMSGSIZE) +
                           ": the batch of 5000000 bytes exceeds the socket buffer; "
                           "SO_SNDBUFFORCE was refused: " +
                           std::strerror(EPERM),
                       0),
            0u)
      << text;
}

TEST(NetlinkAcks, SendFailuresWithoutARefusalKeepTheirText) {
  EXPECT_EQ(DescribeSendFailure(EMSGSIZE, 10, 0),
            std::string("sending the netlink batch (10 bytes): ") + std::strerror(EMSGSIZE));
  EXPECT_EQ(DescribeSendFailure(ENOMEM, 10, EPERM),
            std::string("sending the netlink batch (10 bytes): ") + std::strerror(ENOMEM));
}

}  // namespace
}  // namespace bulkhead::enforcer::internal
