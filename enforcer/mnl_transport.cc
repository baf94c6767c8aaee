#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "enforcer/internal/netlink_acks.h"
#include "enforcer/netlink_transport.h"

namespace bulkhead::enforcer {
namespace {

constexpr std::size_t kReceiveBuffer = std::size_t{256} * 1024;

struct SocketClose {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};

// Reads the extended-ACK attributes after an nlmsgerr: the reason text (NLMSGERR_ATTR_MSG) and
// the offset of the attribute at fault (NLMSGERR_ATTR_OFFS), when the kernel gives them.
void ReadExtAck(const nlmsghdr* nlh, NetlinkError& out) {
  if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) == 0) {
    return;
  }
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  std::size_t off = sizeof(nlmsgerr);
  if ((nlh->nlmsg_flags & NLM_F_CAPPED) == 0) {
    off += err->msg.nlmsg_len - sizeof(nlmsghdr);
  }
  const auto* base = static_cast<const char*>(mnl_nlmsg_get_payload(nlh));
  const std::size_t payload = nlh->nlmsg_len - mnl_nlmsg_size(0);
  while (off + sizeof(nlattr) <= payload) {
    const auto* a = reinterpret_cast<const nlattr*>(base + off);
    if (a->nla_len < sizeof(nlattr) || off + a->nla_len > payload) {
      break;
    }
    const char* value = base + off + sizeof(nlattr);
    if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      out.message = std::string(value, strnlen(value, a->nla_len - sizeof(nlattr)));
    } else if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_OFFS &&
               a->nla_len >= sizeof(nlattr) + sizeof(std::uint32_t)) {
      std::memcpy(&out.bad_attr_offset, value, sizeof(std::uint32_t));
    }
    off += NLA_ALIGN(a->nla_len);
  }
}

}  // namespace

namespace internal {

boost::system::result<std::vector<NetlinkError>, std::string> ReadAcknowledgements(
    const ReceiveFn& receive, std::span<char> buffer) {
  std::vector<NetlinkError> errors;
  std::size_t overruns = 0;
  for (;;) {
    const ssize_t n = receive(buffer);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      }
      if (errno == ENOBUFS) {
        ++overruns;  // replies were dropped; those still queued are read on
        continue;
      }
      return fmt::format("reading netlink replies: {}", std::strerror(errno));
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(buffer.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) {
        continue;
      }
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error != 0) {
        NetlinkError e{nlh->nlmsg_seq, -err->error, "", 0};
        ReadExtAck(nlh, e);
        errors.push_back(std::move(e));
      }
    }
  }
  if (overruns > 0) {
    errors.push_back({0, ENOBUFS,
                      fmt::format("the receive buffer overflowed {} time(s) and the kernel dropped "
                                  "error reports of this batch",
                                  overruns),
                      0});
  }
  return errors;
}

std::string DescribeSendFailure(int send_error, std::size_t batch_bytes, int sndbuf_force_error) {
  std::string text = fmt::format("sending the netlink batch ({} bytes): {}", batch_bytes,
                                 std::strerror(send_error));
  if (send_error == EMSGSIZE && sndbuf_force_error != 0) {
    text += fmt::format(
        ": the batch of {} bytes exceeds the socket buffer; SO_SNDBUFFORCE was refused: {} "
        "(raise net.core.wmem_max above {} bytes, or run with CAP_NET_ADMIN in the host "
        "namespace)",
        batch_bytes, std::strerror(sndbuf_force_error), batch_bytes);
  }
  return text;
}

}  // namespace internal

namespace {

class MnlTransport final : public NetlinkTransport {
 public:
  explicit MnlTransport(mnl_socket* s)
      : socket_(s), seq_(static_cast<std::uint32_t>(std::time(nullptr))) {}

  boost::system::result<std::vector<NetlinkError>, std::string> SendBatch(
      std::span<const std::uint8_t> batch) override {
    // The whole batch goes in one sendmsg: the kernel processes it in this call, so every
    // error is queued on the socket by the time send returns.
    GrowSendBuffer(batch.size() + 65536);
    ssize_t sent = mnl_socket_sendto(socket_.get(), batch.data(), batch.size());
    if (sent < 0) {
      return internal::DescribeSendFailure(errno, batch.size(), sndbuf_force_error_);
    }
    std::vector<char> buf(kReceiveBuffer);
    const int fd = mnl_socket_get_fd(socket_.get());
    return internal::ReadAcknowledgements(
        [fd](std::span<char> into) { return recv(fd, into.data(), into.size(), MSG_DONTWAIT); },
        buf);
  }

  boost::system::result<std::vector<std::vector<std::uint8_t>>, std::string> Dump(
      std::span<const std::uint8_t> request) override {
    if (mnl_socket_sendto(socket_.get(), request.data(), request.size()) < 0) {
      return fmt::format("sending a netlink dump request: {}", std::strerror(errno));
    }
    std::vector<std::vector<std::uint8_t>> out;
    std::vector<char> buf(kReceiveBuffer);
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(socket_.get(), buf.data(), buf.size());
      if (n < 0) {
        return fmt::format("reading a netlink dump: {}", std::strerror(errno));
      }
      int len = static_cast<int>(n);
      for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
           nlh = mnl_nlmsg_next(nlh, &len)) {
        if (nlh->nlmsg_type == NLMSG_DONE) {
          return out;
        }
        if (nlh->nlmsg_type == NLMSG_ERROR) {
          const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
          if (err->error != 0) {
            return fmt::format("netlink dump: {}", std::strerror(-err->error));
          }
          continue;
        }
        const auto* p = reinterpret_cast<const std::uint8_t*>(nlh);
        out.emplace_back(p, p + nlh->nlmsg_len);
      }
    }
  }

  std::uint32_t NextSeq() override {
    std::uint32_t s = seq_;
    seq_ += 1u << 20;  // room for a batch of a million messages
    return s;
  }

 private:
  // As nftables' mnl_set_sndbuffer: SO_SNDBUFFORCE goes above net.core.wmem_max but needs
  // CAP_NET_ADMIN in the socket's user namespace. Refused, the buffer grows as far as
  // SO_SNDBUF lets it, and the refusal is kept so that a later EMSGSIZE says why.
  void GrowSendBuffer(std::size_t bytes) {
    const int fd = mnl_socket_get_fd(socket_.get());
    int size = static_cast<int>(bytes);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) == 0) {
      sndbuf_force_error_ = 0;
      return;
    }
    sndbuf_force_error_ = errno;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  }

  std::unique_ptr<mnl_socket, SocketClose> socket_;
  std::uint32_t seq_;
  int sndbuf_force_error_ = 0;  // errno of the last refused SO_SNDBUFFORCE, 0: granted
};

}  // namespace

boost::system::result<std::unique_ptr<NetlinkTransport>, std::string> OpenMnlTransport() {
  mnl_socket* s = mnl_socket_open(NETLINK_NETFILTER);
  if (s == nullptr) {
    return fmt::format("opening a netfilter netlink socket: {}", std::strerror(errno));
  }
  std::unique_ptr<mnl_socket, SocketClose> owner(s);
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
    return fmt::format("binding the netlink socket: {}", std::strerror(errno));
  }
  int one = 1;
  // Small error replies (no echo of our message) that carry the kernel's reason text.
  mnl_socket_setsockopt(s, NETLINK_CAP_ACK, &one, sizeof(one));
  mnl_socket_setsockopt(s, NETLINK_EXT_ACK, &one, sizeof(one));
  int rcvbuf = 16 * 1024 * 1024;
  setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
  return std::unique_ptr<NetlinkTransport>(std::make_unique<MnlTransport>(owner.release()));
}

}  // namespace bulkhead::enforcer
