#include "inventory/docker_host_link.h"

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <system_error>

namespace bulkhead::inventory {
namespace {

namespace fs = std::filesystem;

// sysfs attributes are one short line; anything longer is not what we are looking for.
bool ReadSmallFile(const fs::path& path, std::string& out) {
  std::ifstream in(path);
  if (!in) {
    return false;
  }
  std::getline(in, out);
  if (out.size() > 64) {
    out.clear();
  }
  return true;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The `iflink` of one interface directory: the ifindex of its peer.
boost::system::result<int, DockerError> ReadIflink(const fs::path& interface_dir) {
  const fs::path iflink_path = interface_dir / "iflink";
  std::string iflink;
  if (!ReadSmallFile(iflink_path, iflink)) {
    return DockerFail("cannot read " + iflink_path.string());
  }
  int index = 0;
  const auto [end, err] = std::from_chars(iflink.data(), iflink.data() + iflink.size(), index);
  if (err != std::errc() || end != iflink.data() + iflink.size() || index <= 0) {
    return DockerFail(iflink_path.string() + ": not an ifindex: \"" + iflink + "\"");
  }
  return index;
}

fs::path SysClassNet(const std::string& proc_root, std::int64_t pid) {
  return fs::path(proc_root) / std::to_string(pid) / "root/sys/class/net";
}

}  // namespace

boost::system::result<NamespaceLink, DockerError> FindLinkByName(const std::string& proc_root,
                                                                 std::int64_t pid,
                                                                 std::string_view ifname) {
  const fs::path dir = SysClassNet(proc_root, pid) / std::string(ifname);
  std::string address;
  if (ifname.empty() || ifname.find('/') != std::string_view::npos ||
      !ReadSmallFile(dir / "address", address) || address.empty()) {
    return DockerFail("cannot read " + (dir / "address").string());
  }
  auto index = ReadIflink(dir);
  if (!index) {
    return index.error();
  }
  return NamespaceLink{Lower(address), *index};
}

boost::system::result<std::string, DockerError> InterfaceName(int ifindex) {
  char name[IF_NAMESIZE] = {};
  if (ifindex <= 0 || ::if_indextoname(static_cast<unsigned>(ifindex), name) == nullptr) {
    return DockerFail("no interface with ifindex " + std::to_string(ifindex) +
                      " in this network namespace (is bulkhead beside the container runtime?)");
  }
  return std::string(name);
}

namespace {

// libmnl attribute callback (C, so noexcept): the IFLA_MASTER of a link message.
int MasterAttribute(const nlattr* attr, void* data) noexcept {
  if (mnl_attr_get_type(attr) == IFLA_MASTER && mnl_attr_validate(attr, MNL_TYPE_U32) >= 0) {
    *static_cast<std::uint32_t*>(data) = mnl_attr_get_u32(attr);
  }
  return MNL_CB_OK;
}

}  // namespace

boost::system::result<std::string, DockerError> InterfaceMaster(int ifindex) {
  const std::unique_ptr<mnl_socket, decltype(&mnl_socket_close)> nl(mnl_socket_open(NETLINK_ROUTE),
                                                                    &mnl_socket_close);
  if (!nl || mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return DockerFail(std::string("rtnetlink: ") + std::strerror(errno));
  }
  // One link's answer is a few KiB (its statistics included); 32 KiB leaves room.
  std::array<char, 32768> buf{};
  nlmsghdr* request = mnl_nlmsg_put_header(buf.data());
  request->nlmsg_type = RTM_GETLINK;
  request->nlmsg_flags = NLM_F_REQUEST;
  request->nlmsg_seq = 1;
  auto* info = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(request, sizeof(ifinfomsg)));
  info->ifi_family = AF_UNSPEC;
  info->ifi_index = ifindex;
  if (mnl_socket_sendto(nl.get(), request, request->nlmsg_len) < 0) {
    return DockerFail(std::string("rtnetlink: send: ") + std::strerror(errno));
  }
  const ssize_t n = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
  if (n < 0) {
    return DockerFail("rtnetlink: ifindex " + std::to_string(ifindex) + ": " +
                      std::strerror(errno));
  }
  const auto* answer = static_cast<const nlmsghdr*>(static_cast<const void*>(buf.data()));
  if (!mnl_nlmsg_ok(answer, static_cast<int>(n))) {
    return DockerFail("rtnetlink: a truncated answer");
  }
  if (answer->nlmsg_type == NLMSG_ERROR) {
    const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(answer));
    return DockerFail("rtnetlink: ifindex " + std::to_string(ifindex) + ": " +
                      std::strerror(-error->error));
  }
  if (answer->nlmsg_type != RTM_NEWLINK) {
    return DockerFail("rtnetlink: unexpected answer type " + std::to_string(answer->nlmsg_type));
  }
  std::uint32_t master = 0;
  mnl_attr_parse(answer, sizeof(ifinfomsg), &MasterAttribute, &master);
  if (master == 0) {
    return std::string();
  }
  return InterfaceName(static_cast<int>(master));
}

boost::system::result<int, DockerError> FindPeerIfindex(const std::string& proc_root,
                                                        std::int64_t pid, std::string_view mac) {
  const fs::path net = SysClassNet(proc_root, pid);
  std::error_code ec;
  fs::directory_iterator it(net, ec);
  if (ec) {
    return DockerFail("cannot read " + net.string() + ": " + ec.message());
  }
  const std::string want = Lower(mac);
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    std::string address;
    if (!ReadSmallFile(it->path() / "address", address) || Lower(address) != want) {
      continue;
    }
    return ReadIflink(it->path());
  }
  if (ec) {
    return DockerFail("cannot read " + net.string() + ": " + ec.message());
  }
  return DockerFail("no interface with MAC " + std::string(mac) + " in " + net.string());
}

boost::system::result<std::string, DockerError> FindHostInterface(std::int64_t pid,
                                                                  std::string_view mac) {
  auto index = FindPeerIfindex("/proc", pid, mac);
  if (!index) {
    return index.error();
  }
  return InterfaceName(*index);
}

}  // namespace bulkhead::inventory
