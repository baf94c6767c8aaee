#pragma once

// A network namespace of the test process's own with a veth pair in it, for tests that capture on
// a real interface: unshare(CLONE_NEWNET) moves this whole process (every later test too) out of
// the host's namespace, so nothing the test sends or captures touches the host. Root only.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace bulkhead::capture::testing {

// 10.77.0.1 on `bh-a`, its peer `bh-b` up without an address; 10.77.0.2 is a static neighbour
// behind bh-a, so datagrams to it leave on bh-a at once (no ARP wait) and arrive on bh-b.
inline void EnterNamespaceWithVeth() {
  ASSERT_EQ(::geteuid(), 0U) << "this test needs root: unshare(CLONE_NEWNET), ip link, capture";
  ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << std::strerror(errno);
  const char* commands[] = {
      "ip link set lo up",
      "ip link add bh-a type veth peer name bh-b",
      "ip addr add 10.77.0.1/24 dev bh-a",
      "ip link set bh-a up",
      "ip link set bh-b up",
      "ip neigh add 10.77.0.2 lladdr 02:00:00:00:00:02 dev bh-a",
  };
  for (const char* command : commands) {
    ASSERT_EQ(std::system(command), 0) << command;
  }
}

// Sends `count` one-byte UDP datagrams from 10.77.0.1:sport to 10.77.0.2:dport (the veth pair
// EnterNamespaceWithVeth made).
inline void SendUdp(std::uint16_t sport, std::uint16_t dport, int count) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_port = htons(sport);
  ASSERT_EQ(::inet_pton(AF_INET, "10.77.0.1", &from.sin_addr), 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&from), sizeof from), 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(dport);
  ASSERT_EQ(::inet_pton(AF_INET, "10.77.0.2", &to.sin_addr), 1);
  for (int i = 0; i < count; ++i) {
    ASSERT_EQ(::sendto(fd, "x", 1, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to), 1);
  }
  ::close(fd);
}

}  // namespace bulkhead::capture::testing
