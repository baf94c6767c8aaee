#pragma once
// A NetlinkTransport that keeps every batch instead of sending it (and fails one message of it
// when told to), and the netlink messages of a batch read back as (type, flags, seq): what the
// batch builder and element delta tests check.

#include <linux/netlink.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/system/result.hpp>

#include "enforcer/netlink_transport.h"

namespace bulkhead::enforcer::testing {

struct BatchMessage {
  std::uint16_t type;  // NFT_MSG_* (subsystem stripped) or NFNL_MSG_BATCH_*
  std::uint16_t flags;
  std::uint32_t seq;
};

inline std::vector<BatchMessage> ParseBatch(std::span<const std::uint8_t> bytes) {
  std::vector<BatchMessage> out;
  std::size_t off = 0;
  while (off + sizeof(nlmsghdr) <= bytes.size()) {
    nlmsghdr h;
    std::memcpy(&h, bytes.data() + off, sizeof(h));
    if (h.nlmsg_len < sizeof(nlmsghdr)) {
      ADD_FAILURE() << "bad message length " << h.nlmsg_len;
      break;
    }
    out.push_back({static_cast<std::uint16_t>(h.nlmsg_type & 0xff), h.nlmsg_flags, h.nlmsg_seq});
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
  EXPECT_EQ(off, bytes.size());
  return out;
}

class RecordingTransport final : public NetlinkTransport {
 public:
  // `next_seq` is what NextSeq answers; `fail_errno` the error of the scripted failure.
  RecordingTransport(std::uint32_t next_seq, int fail_errno)
      : next_seq_(next_seq), fail_errno_(fail_errno) {}

  boost::system::result<std::vector<NetlinkError>, std::string> SendBatch(
      std::span<const std::uint8_t> batch) override {
    batches.emplace_back(batch.begin(), batch.end());
    std::vector<NetlinkError> errors;
    if (fail_message_index) {
      errors.push_back({ParseBatch(batch).at(*fail_message_index).seq, fail_errno_, "scripted"});
    }
    return errors;
  }
  boost::system::result<std::vector<std::vector<std::uint8_t>>, std::string> Dump(
      std::span<const std::uint8_t>) override {
    return std::vector<std::vector<std::uint8_t>>{};
  }
  std::uint32_t NextSeq() override { return next_seq_; }

  std::vector<std::vector<std::uint8_t>> batches;
  std::optional<std::size_t> fail_message_index;  // of the next batches, this message fails

 private:
  std::uint32_t next_seq_;
  int fail_errno_;
};

}  // namespace bulkhead::enforcer::testing
