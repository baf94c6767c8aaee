#pragma once

#include <string>

#include <boost/system/result.hpp>

// br_netfilter's per-namespace switches: bridged IPv4/IPv6 traffic reaches the inet table only
// when net.bridge.bridge-nf-call-iptables and -ip6tables are 1 (DESIGN.md, "Enforcement").
namespace bulkhead::enforcer {

struct BridgeSysctlResult {
  bool changed = false;  // at least one switch was turned on
};

// Checks both switches under `proc_root` (normally "/proc/sys/net/bridge") and turns them on
// unless `may_write` is false. Errors, with the remedy in the text: br_netfilter not loaded
// (the directory is missing), a switch off under --no-sysctl, a write refused.
boost::system::result<BridgeSysctlResult, std::string> EnsureBridgeNetfilter(
    const std::string& proc_root, bool may_write);

}  // namespace bulkhead::enforcer
