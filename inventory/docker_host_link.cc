#include "inventory/docker_host_link.h"

#include <net/if.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
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

}  // namespace

boost::system::result<int, DockerError> FindPeerIfindex(const std::string& proc_root,
                                                        std::int64_t pid, std::string_view mac) {
  const fs::path net = fs::path(proc_root) / std::to_string(pid) / "root/sys/class/net";
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
    const fs::path iflink_path = it->path() / "iflink";
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
  char name[IF_NAMESIZE] = {};
  if (::if_indextoname(static_cast<unsigned>(*index), name) == nullptr) {
    return DockerFail("no interface with ifindex " + std::to_string(*index) +
                      " in this network namespace (is bulkhead beside dockerd?)");
  }
  return std::string(name);
}

}  // namespace bulkhead::inventory
