#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "inventory/docker_api.h"

// Finds the host side of a container's veth pair. The container's sysfs (Docker mounts one in
// every container, tied to the container's network namespace) is reachable through
// /proc/<pid>/root/sys/class/net without entering the namespace: the interface whose `address`
// is the endpoint's MAC has an `iflink` that is the ifindex of its peer in the namespace where
// dockerd made the pair, which must be the caller's own (bulkhead runs beside dockerd).
namespace bulkhead::inventory {

// The peer ifindex of the container interface with this MAC. `proc_root` is "/proc" outside
// tests. Errors name the path that could not be read, or say that no interface has the MAC.
boost::system::result<int, DockerError> FindPeerIfindex(const std::string& proc_root,
                                                        std::int64_t pid, std::string_view mac);

// The interface named `ifname` (a pod's "eth0") in the namespace of `pid`: its MAC (lower case)
// and its peer's ifindex. Errors as FindPeerIfindex's.
struct NamespaceLink {
  std::string mac;
  int peer_ifindex = 0;
};
boost::system::result<NamespaceLink, DockerError> FindLinkByName(const std::string& proc_root,
                                                                 std::int64_t pid,
                                                                 std::string_view ifname);

// The name of `ifindex` in the caller's network namespace.
boost::system::result<std::string, DockerError> InterfaceName(int ifindex);

// The Linux bridge (master) `ifindex` is attached to in the caller's network namespace, asked
// from the kernel (rtnetlink RTM_GETLINK, IFLA_MASTER) rather than /sys, whose view is that of
// the namespace it was mounted in; empty when the interface has no master.
boost::system::result<std::string, DockerError> InterfaceMaster(int ifindex);

// FindPeerIfindex, then the name of that ifindex in the caller's network namespace.
boost::system::result<std::string, DockerError> FindHostInterface(std::int64_t pid,
                                                                  std::string_view mac);

}  // namespace bulkhead::inventory
