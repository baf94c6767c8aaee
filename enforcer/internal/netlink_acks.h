#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "enforcer/netlink_transport.h"

// The parts of the netlink transport (mnl_transport.cc) that need no socket: reading a batch's
// acknowledgements and explaining a failed send. Private to the enforcer; unit-tested with
// scripted receives (tests/unit/enforcer/netlink_acks_test.cc).
namespace bulkhead::enforcer::internal {

// One non-blocking receive into `buffer`: the bytes read, or -1 with errno set (EAGAIN: nothing
// left to read).
using ReceiveFn = std::function<ssize_t(std::span<char> buffer)>;

// Reads acknowledgements until the socket has none left and returns every refused message.
// ENOBUFS (the receive buffer overflowed and the kernel dropped replies) does not end the read,
// as in nftables' mnl.c: the replies still queued are read, and one more NetlinkError (seq 0,
// ENOBUFS) at the end says how many overflows lost reports. Since bulkhead asks for no ACK of a
// message that succeeds, a lost reply was an error, so the batch was refused either way.
// Error: any other receive failure (then nothing is known).
boost::system::result<std::vector<NetlinkError>, std::string> ReadAcknowledgements(
    const ReceiveFn& receive, std::span<char> buffer);

// The text of a failed send of a `batch_bytes` batch. `sndbuf_force_error` is the errno with which
// the kernel refused SO_SNDBUFFORCE (0: it did not): an EMSGSIZE is then explained, the batch
// did not fit the buffer the socket could get, instead of left as "Message too long".
std::string DescribeSendFailure(int send_error, std::size_t batch_bytes, int sndbuf_force_error);

}  // namespace bulkhead::enforcer::internal
