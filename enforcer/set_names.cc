#include "enforcer/set_names.h"

#include <cstdlib>

#include <fmt/format.h>

namespace bulkhead::enforcer {
namespace {

std::string_view Suffix(IpFamily family) { return family == IpFamily::kIpv4 ? "4" : "6"; }

// The short hook names of the per-hook chains (src_fwd4, judge_in6).
std::string_view HookAbbreviation(Hook hook) {
  switch (hook) {
    case Hook::kForward:
      return "fwd";
    case Hook::kInput:
      return "in";
    case Hook::kOutput:
      return "out";
    case Hook::kPrerouting:
      break;
  }
  std::abort();  // the inet table has no prerouting chains: a programming error
}

}  // namespace

std::string_view GroupMapName(IpFamily family) {
  return family == IpFamily::kIpv4 ? "grp4" : "grp6";
}

std::string_view EnforceSetName(IpFamily family) {
  return family == IpFamily::kIpv4 ? "enforce4" : "enforce6";
}

std::string_view LogBudgetSetName(IpFamily family) {
  return family == IpFamily::kIpv4 ? "log_budget4" : "log_budget6";
}

std::string_view SuppressedSetName(IpFamily family) {
  return family == IpFamily::kIpv4 ? "suppressed4" : "suppressed6";
}

std::string_view MonitorSetName(IpFamily family) {
  return family == IpFamily::kIpv4 ? "monitor4" : "monitor6";
}

std::string FailsafeMemberSetName(std::uint32_t group, IpFamily family) {
  return fmt::format("fs_g{}_{}", group, Suffix(family));
}

std::string SinglePortEdgeSetName(std::uint32_t source) { return fmt::format("e_g{}", source); }

std::string PortRangeEdgeSetName(std::uint32_t source) { return fmt::format("r_g{}", source); }

std::string IcmpEdgeSetName(std::uint32_t source) { return fmt::format("i_g{}", source); }

std::string_view InterfaceAddressSetName(IpFamily family) {
  return family == IpFamily::kIpv4 ? "ifaddr4" : "ifaddr6";
}

std::string_view OwnedAddressSetName(IpFamily family) {
  return family == IpFamily::kIpv4 ? "owned4" : "owned6";
}

std::string_view InterfaceMacAddressSetName(IpFamily family) {
  return family == IpFamily::kIpv4 ? "ifmac4" : "ifmac6";
}

std::string EdgeChainName(std::uint32_t source) { return fmt::format("from_g{}", source); }

std::string ToHostEdgeChainName(std::uint32_t source) { return fmt::format("to_host_g{}", source); }

std::string SourceChainName(Hook hook, IpFamily family) {
  return fmt::format("src_{}{}", HookAbbreviation(hook), Suffix(family));
}

std::string JudgeChainName(Hook hook, IpFamily family) {
  return fmt::format("judge_{}{}", HookAbbreviation(hook), Suffix(family));
}

std::string MatchChainName(Hook hook, IpFamily family) {
  return fmt::format("match_{}{}", HookAbbreviation(hook), Suffix(family));
}

}  // namespace bulkhead::enforcer
