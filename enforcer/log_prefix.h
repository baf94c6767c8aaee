#pragma once

// The NFLOG prefixes of bulkhead's verdict chains: the compiler writes them into `log prefix`
// statements and the violation reader maps a received prefix back to its verdict. Both read this
// one table, so a new verdict cannot be written by one side and missed by the other.

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace bulkhead::enforcer {

enum class LoggedVerdict {
  kBlocked,    // "deny" chain: dropped, enforce mode
  kMonitored,  // "warn" chain: accepted and logged, monitor mode
  kSpoofed,    // a source address, ARP sender or router advertisement a workload does not own
  kTagged,     // an 802.1Q/802.1ad/PPPoE frame from a workload port (skips br_netfilter)
};

struct LogPrefixEntry {
  LoggedVerdict verdict;
  std::string_view prefix;  // as written in the ruleset; the kernel pads nothing, nft prints it
  std::string_view name;    // the verdict word in violation events and metrics
};

// Every prefix starts with kLogPrefixTag, so the reader can tell bulkhead's records from another
// program's on a shared NFLOG group. The trailing space separates the prefix from the packet
// fields in the kernel log (`log` without a group) and is part of the ruleset's golden files.
inline constexpr std::string_view kLogPrefixTag = "bulkhead ";
inline constexpr std::array<LogPrefixEntry, 4> kLogPrefixes = {{
    {LoggedVerdict::kBlocked, "bulkhead deny ", "blocked"},
    {LoggedVerdict::kMonitored, "bulkhead warn ", "monitored"},
    {LoggedVerdict::kSpoofed, "bulkhead spoofed ", "spoofed"},
    {LoggedVerdict::kTagged, "bulkhead tagged ", "tagged"},
}};

constexpr const LogPrefixEntry& LogPrefixOf(LoggedVerdict verdict) {
  return kLogPrefixes[static_cast<std::size_t>(verdict)];
}

constexpr bool LogPrefixesInEnumOrder() {
  for (std::size_t i = 0; i < kLogPrefixes.size(); ++i) {
    if (static_cast<std::size_t>(kLogPrefixes[i].verdict) != i ||
        !kLogPrefixes[i].prefix.starts_with(kLogPrefixTag) ||
        !kLogPrefixes[i].prefix.ends_with(' ')) {
      return false;
    }
  }
  return true;
}
static_assert(LogPrefixesInEnumOrder(), "kLogPrefixes is indexed by LoggedVerdict");

// The verdict of a received prefix, with or without its trailing blanks (libpcap's nflog reader
// hands over the attribute as the kernel stored it); nullopt for any other text.
constexpr std::optional<LoggedVerdict> ParseLogPrefix(std::string_view prefix) {
  while (!prefix.empty() && (prefix.back() == ' ' || prefix.back() == '\0')) {
    prefix.remove_suffix(1);
  }
  for (const auto& entry : kLogPrefixes) {
    std::string_view want = entry.prefix;
    want.remove_suffix(1);
    if (prefix == want) {
      return entry.verdict;
    }
  }
  return std::nullopt;
}

}  // namespace bulkhead::enforcer
