#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

// The seam between bulkhead and the kernel's nf_tables netlink interface. The batch builder
// produces bytes; a transport sends them. Tests use a fake that records messages and scripts
// errors; production uses MnlTransport (libmnl, NETLINK_NETFILTER).
namespace bulkhead::enforcer {

// An error the kernel reported for one message of a batch (an NLMSG_ERROR with error != 0).
struct NetlinkError {
  std::uint32_t seq = 0;
  int error = 0;                      // positive errno
  std::string message;                // the extended ACK text, when the kernel gives one
  std::uint32_t bad_attr_offset = 0;  // NLMSGERR_ATTR_OFFS: where in our message (0: unknown)
};

class NetlinkTransport {
 public:
  virtual ~NetlinkTransport() = default;
  // Sends one complete batch (NFNL_MSG_BATCH_BEGIN ... END). The kernel applies all of it or
  // none; the returned list holds every message it refused (empty: committed). An error result
  // means the batch could not be sent or the replies not read (then nothing is known).
  virtual boost::system::result<std::vector<NetlinkError>, std::string> SendBatch(
      std::span<const std::uint8_t> batch) = 0;
  // Sends one dump request and returns each reply message (nlmsghdr included) until NLMSG_DONE.
  virtual boost::system::result<std::vector<std::vector<std::uint8_t>>, std::string> Dump(
      std::span<const std::uint8_t> request) = 0;
  // A sequence number base for the next request (the kernel echoes sequence numbers back).
  virtual std::uint32_t NextSeq() = 0;
};

// The real transport: one NETLINK_NETFILTER socket in the caller's network namespace.
// Errors: socket/bind failures (EPERM without CAP_NET_ADMIN), send/receive failures.
boost::system::result<std::unique_ptr<NetlinkTransport>, std::string> OpenMnlTransport();

}  // namespace bulkhead::enforcer
