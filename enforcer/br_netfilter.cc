#include "enforcer/br_netfilter.h"

#include <fstream>

#include <fmt/format.h>

namespace bulkhead::enforcer {

boost::system::result<BridgeSysctlResult, std::string> EnsureBridgeNetfilter(
    const std::string& proc_root, bool may_write) {
  BridgeSysctlResult out;
  for (const char* name : {"bridge-nf-call-iptables", "bridge-nf-call-ip6tables"}) {
    const std::string path = fmt::format("{}/{}", proc_root, name);
    std::ifstream in(path);
    std::string value;
    if (!in || !(in >> value)) {
      return fmt::format(
          "{} is missing: br_netfilter is not loaded, so bridged traffic would not be judged "
          "(modprobe br_netfilter)",
          path);
    }
    if (value == "1") {
      continue;
    }
    if (!may_write) {
      return fmt::format(
          "{} is {}: bridged traffic would pass unjudged; set it to 1 (sysctl -w "
          "net.bridge.{}=1) or drop --no-sysctl",
          path, value, name);
    }
    std::ofstream outf(path);
    outf << "1\n";
    outf.flush();
    if (!outf) {
      return fmt::format("cannot turn on {}: write refused", path);
    }
    out.changed = true;
  }
  return out;
}

}  // namespace bulkhead::enforcer
