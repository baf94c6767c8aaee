#pragma once

#include <unistd.h>

#include <array>
#include <string>

namespace bulkhead::inventory::internal {

// This machine's hostname, the name of the `host` group's one member; "localhost" when unknown.
inline std::string LocalHostName() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) {
    return "localhost";
  }
  return std::string(buf.data());
}

}  // namespace bulkhead::inventory::internal
