#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bulkhead::capture {

// An IPv4 or IPv6 address as a plain value, cheap to copy, hash and compare on the per-packet
// path. IPv4 addresses are kept in the first four bytes with the rest zero, so the two families
// never compare equal.
struct IpAddr {
  std::array<std::uint8_t, 16> bytes{};
  bool v6 = false;

  static IpAddr V4(std::uint32_t host_order);
  static IpAddr FromV4Bytes(const std::uint8_t* four);
  static IpAddr FromV6Bytes(const std::uint8_t* sixteen);

  // Parses dotted-quad IPv4 or any textual IPv6 form; nullopt for anything else.
  static std::optional<IpAddr> Parse(std::string_view text);
  // Canonical text: dotted quad, or RFC 5952 IPv6.
  std::string ToString() const;

  // Multicast, broadcast (255.255.255.255) or IPv6 link-local-scope traffic that no workload
  // "talks to" in the sense of an edge.
  bool IsMulticastOrBroadcast() const;

  friend auto operator<=>(const IpAddr&, const IpAddr&) = default;
  friend bool operator==(const IpAddr&, const IpAddr&) = default;
};

struct IpAddrHash {
  std::size_t operator()(const IpAddr& a) const noexcept;
};

}  // namespace bulkhead::capture
