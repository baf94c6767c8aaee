#include "capture/ip_addr.h"

#include <arpa/inet.h>

#include <cstring>

namespace bulkhead::capture {

IpAddr IpAddr::V4(std::uint32_t host_order) {
  IpAddr a;
  a.bytes[0] = static_cast<std::uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<std::uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<std::uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<std::uint8_t>(host_order);
  return a;
}

IpAddr IpAddr::FromV4Bytes(const std::uint8_t* four) {
  IpAddr a;
  std::memcpy(a.bytes.data(), four, 4);
  return a;
}

IpAddr IpAddr::FromV6Bytes(const std::uint8_t* sixteen) {
  IpAddr a;
  std::memcpy(a.bytes.data(), sixteen, 16);
  a.v6 = true;
  return a;
}

std::optional<IpAddr> IpAddr::Parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; the longest textual IPv6 form is 45 characters.
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf)) {
    return std::nullopt;
  }
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddr a;
  if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) {
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
    a.v6 = true;
    return a;
  }
  return std::nullopt;
}

std::string IpAddr::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  const char* s = inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof(buf));
  return s != nullptr ? std::string(s) : std::string("?");
}

bool IpAddr::IsMulticastOrBroadcast() const {
  if (v6) {
    return bytes[0] == 0xff;
  }
  if ((bytes[0] & 0xf0) == 0xe0) {  // 224.0.0.0/4
    return true;
  }
  return bytes[0] == 255 && bytes[1] == 255 && bytes[2] == 255 && bytes[3] == 255;
}

std::size_t IpAddrHash::operator()(const IpAddr& a) const noexcept {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  std::memcpy(&lo, a.bytes.data(), 8);
  std::memcpy(&hi, a.bytes.data() + 8, 8);
  std::uint64_t h = lo * 0x9E3779B97F4A7C15ULL ^ (hi + (a.v6 ? 0x632BE59BD9B4E019ULL : 0));
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ULL;
  h ^= h >> 32;
  return static_cast<std::size_t>(h);
}

}  // namespace bulkhead::capture
