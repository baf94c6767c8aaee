#include "policy/model.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>
#include <tuple>
#include <utility>

namespace bulkhead::policy {
namespace {

struct ProtocolInfo {
  Protocol protocol;
  std::string_view name;
  std::uint8_t iana;
};

// IANA "Assigned Internet Protocol Numbers".
constexpr std::array<ProtocolInfo, 5> kProtocols = {{
    {Protocol::kTcp, "tcp", 6},
    {Protocol::kUdp, "udp", 17},
    {Protocol::kIcmp, "icmp", 1},
    {Protocol::kIcmpv6, "icmpv6", 58},
    {Protocol::kSctp, "sctp", 132},
}};

constexpr std::uint64_t kUsecPerSecond = 1'000'000;
constexpr std::uint64_t kSecondsPerDay = 86'400;

// Days since 1970-01-01 <-> proleptic Gregorian civil date (H. Hinnant's algorithms, valid for
// every date this code can meet: years 1970 and later).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

CivilDate CivilFromDays(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2 ? 1 : 0), m, d};
}

bool IsLeap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(std::int64_t y, unsigned m) {
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` decimal digits at `pos`.
std::optional<unsigned> Digits(std::string_view text, std::size_t pos, std::size_t n) {
  if (pos + n > text.size()) {
    return std::nullopt;
  }
  unsigned value = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value;
}

}  // namespace

std::string_view ProtocolName(Protocol p) {
  for (const auto& info : kProtocols) {
    if (info.protocol == p) {
      return info.name;
    }
  }
  return "unknown";
}

std::optional<Protocol> ParseProtocol(std::string_view name) {
  for (const auto& info : kProtocols) {
    if (info.name == name) {
      return info.protocol;
    }
  }
  return std::nullopt;
}

std::optional<Protocol> ProtocolFromIana(std::uint8_t number) {
  for (const auto& info : kProtocols) {
    if (info.iana == number) {
      return info.protocol;
    }
  }
  return std::nullopt;
}

std::vector<std::string> DefaultGroupBy() { return {"app", "com.docker.compose.service"}; }

void EdgeStats::AddExample(const WorkloadPair& pair) {
  const auto it = std::lower_bound(examples.begin(), examples.end(), pair);
  if (it != examples.end() && *it == pair) {
    return;
  }
  // Keep the smallest kMaxEdgeExamples pairs so the result does not depend on arrival order.
  if (examples.size() >= kMaxEdgeExamples && it == examples.end()) {
    return;
  }
  examples.insert(it, pair);
  if (examples.size() > kMaxEdgeExamples) {
    examples.resize(kMaxEdgeExamples);
  }
}

std::uint64_t SaturatingAdd(std::uint64_t a, std::uint64_t b) {
  return b > std::numeric_limits<std::uint64_t>::max() - a
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

std::uint64_t EarliestSeen(std::uint64_t a, std::uint64_t b) {
  if (a == 0) {
    return b;
  }
  return b == 0 ? a : std::min(a, b);
}

namespace {

// Folds `other`'s per-node shares into `into` (both sorted by node), summing a node given twice.
void AddNodeShares(std::vector<NodeEdgeStats>& into, const std::vector<NodeEdgeStats>& other) {
  for (const auto& share : other) {
    auto it = std::lower_bound(
        into.begin(), into.end(), share.node,
        [](const NodeEdgeStats& entry, const std::string& node) { return entry.node < node; });
    if (it == into.end() || it->node != share.node) {
      into.insert(it, share);
      continue;
    }
    it->connections = SaturatingAdd(it->connections, share.connections);
    it->packets = SaturatingAdd(it->packets, share.packets);
    it->bytes = SaturatingAdd(it->bytes, share.bytes);
    it->first_seen_usec = EarliestSeen(it->first_seen_usec, share.first_seen_usec);
    it->last_seen_usec = std::max(it->last_seen_usec, share.last_seen_usec);
  }
}

}  // namespace

void EdgeStats::Merge(const EdgeStats& other) {
  connections = SaturatingAdd(connections, other.connections);
  packets = SaturatingAdd(packets, other.packets);
  bytes = SaturatingAdd(bytes, other.bytes);
  first_seen_usec = EarliestSeen(first_seen_usec, other.first_seen_usec);
  last_seen_usec = std::max(last_seen_usec, other.last_seen_usec);
  for (const auto& pair : other.examples) {
    AddExample(pair);
  }
  AddNodeShares(by_node, other.by_node);
}

void ScanRecord::Combine(const ScanRecord& other) {
  first_seen_usec = EarliestSeen(first_seen_usec, other.first_seen_usec);
  last_seen_usec = std::max(last_seen_usec, other.last_seen_usec);
  ports = std::max(ports, other.ports);
  peers = std::max(peers, other.peers);
  refused = std::max(refused, other.refused);
  incomplete = std::max(incomplete, other.incomplete);
}

void NormalizeScans(std::vector<ScanRecord>& scans) {
  std::sort(scans.begin(), scans.end(), [](const ScanRecord& a, const ScanRecord& b) {
    return std::tie(a.source, a.group) < std::tie(b.source, b.group);
  });
  std::vector<ScanRecord> combined;
  combined.reserve(scans.size());
  for (auto& scan : scans) {
    if (!combined.empty() && combined.back().source == scan.source &&
        combined.back().group == scan.group) {
      combined.back().Combine(scan);
    } else {
      combined.push_back(std::move(scan));
    }
  }
  scans = std::move(combined);
}

void FlowGraph::Normalize() {
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  for (auto& group : groups) {
    std::sort(group.members.begin(), group.members.end());
    group.members.erase(std::unique(group.members.begin(), group.members.end()),
                        group.members.end());
  }
  // Full-value ordering (not only by name) so that even duplicate names sort deterministically.
  std::sort(groups.begin(), groups.end(), [](const Group& a, const Group& b) {
    return std::tie(a.name, a.selector, a.members) < std::tie(b.name, b.selector, b.members);
  });

  for (auto& edge : edges) {
    auto& ex = edge.stats.examples;
    std::sort(ex.begin(), ex.end());
    ex.erase(std::unique(ex.begin(), ex.end()), ex.end());
    if (ex.size() > kMaxEdgeExamples) {
      ex.resize(kMaxEdgeExamples);
    }
    if (nodes.size() <= 1) {
      edge.stats.by_node.clear();  // the totals are the one node's
    } else {
      std::vector<NodeEdgeStats> shares;
      AddNodeShares(shares, edge.stats.by_node);
      edge.stats.by_node = std::move(shares);
    }
  }
  std::sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) { return a.key < b.key; });
  // Two entries for one key are one edge seen twice: fold them (Merge is order independent).
  std::vector<Edge> merged;
  merged.reserve(edges.size());
  for (auto& edge : edges) {
    if (!merged.empty() && merged.back().key == edge.key) {
      merged.back().stats.Merge(edge.stats);
    } else {
      merged.push_back(std::move(edge));
    }
  }
  edges = std::move(merged);
  NormalizeScans(scans);
}

std::string FormatTimestamp(std::uint64_t usec) {
  const std::uint64_t seconds = usec / kUsecPerSecond;
  const auto millis = static_cast<unsigned>((usec % kUsecPerSecond) / 1000);
  const auto days = static_cast<std::int64_t>(seconds / kSecondsPerDay);
  const auto rem = static_cast<unsigned>(seconds % kSecondsPerDay);
  const CivilDate date = CivilFromDays(days);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ",
                static_cast<long long>(date.year), date.month, date.day, rem / 3600, rem / 60 % 60,
                rem % 60, millis);
  return buf;
}

std::optional<std::uint64_t> ParseTimestamp(std::string_view text) {
  // RFC 3339 section 5.6: date-time = full-date "T" full-time. Accepted: any fraction of a
  // second (kept to the millisecond, as FormatTimestamp writes it, so that a graph read and written
  // again is the same graph), "Z" or a numeric offset. Years before 1970 cannot be
  // represented and years past 9999 are not four digits.
  const auto year = Digits(text, 0, 4);
  const auto month = Digits(text, 5, 2);
  const auto day = Digits(text, 8, 2);
  const auto hour = Digits(text, 11, 2);
  const auto minute = Digits(text, 14, 2);
  const auto second = Digits(text, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  if (*year < 1970 || *month < 1 || *month > 12 || *day < 1 || *day > DaysInMonth(*year, *month) ||
      *hour > 23 || *minute > 59 || *second > 59) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::uint64_t fraction_usec = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    std::uint64_t scale = 100'000;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3) {  // digits past the millisecond are dropped
        fraction_usec += static_cast<std::uint64_t>(text[pos] - '0') * scale;
        scale /= 10;
      }
      ++pos;
      ++digits;
    }
    if (digits == 0) {
      return std::nullopt;
    }
  }
  std::int64_t offset_seconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const auto oh = Digits(text, pos + 1, 2);
    const auto om = Digits(text, pos + 4, 2);
    if (!oh || !om || text[pos + 3] != ':' || *oh > 23 || *om > 59) {
      return std::nullopt;
    }
    offset_seconds = (text[pos] == '+' ? 1 : -1) * static_cast<std::int64_t>(*oh * 3600 + *om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) {
    return std::nullopt;
  }
  const std::int64_t local = DaysFromCivil(*year, *month, *day) * 86'400 +
                             static_cast<std::int64_t>(*hour * 3600 + *minute * 60 + *second);
  const std::int64_t utc = local - offset_seconds;
  if (utc < 0) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(utc) * kUsecPerSecond + fraction_usec;
}

void MergeFlowGraph(FlowGraph& into, const FlowGraph& other) {
  if (into.group_by.empty()) {
    into.group_by = other.group_by;
  }
  if (into.nodes.empty()) {
    into.nodes = other.nodes;
  }
  std::map<std::string, Group> groups;
  for (auto& g : into.groups) {
    groups.emplace(g.name, std::move(g));
  }
  for (const auto& g : other.groups) {
    auto [it, inserted] = groups.try_emplace(g.name, g);
    if (!inserted) {
      auto& members = it->second.members;
      members.insert(members.end(), g.members.begin(), g.members.end());
      if (it->second.selector.empty()) {
        it->second.selector = g.selector;
      }
    }
  }
  std::map<EdgeKey, EdgeStats> edges;
  for (auto& e : into.edges) {
    edges.emplace(std::move(e.key), std::move(e.stats));
  }
  for (const auto& e : other.edges) {
    auto [it, inserted] = edges.try_emplace(e.key, e.stats);
    if (!inserted) {
      it->second.Merge(e.stats);
    }
  }
  into.groups.clear();
  for (auto& [name, g] : groups) {
    into.groups.push_back(std::move(g));
  }
  into.edges.clear();
  for (auto& [key, stats] : edges) {
    into.edges.push_back(Edge{key, std::move(stats)});
  }
  // United; Normalize combines the records of one source (ScanRecord::Combine: the maximum of
  // each count rather than the sum, so the same finding carried over twice is not doubled).
  into.scans.insert(into.scans.end(), other.scans.begin(), other.scans.end());
  into.Normalize();
}

}  // namespace bulkhead::policy
