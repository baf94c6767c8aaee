#include "learn/scan_detector.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include <boost/unordered/unordered_flat_map.hpp>

#include "learn/internal/oldest.h"

namespace bulkhead::learn {
namespace {

// A finding's bitmaps: one bit per port (exact), and one per peer hash (linear counting).
constexpr std::size_t kBitmapWords = 65536 / 64;

// Upper bound of either threshold (ScanDetectorConfig): bounds a followed source's lists.
constexpr std::uint32_t kMaxThreshold = 1024;

std::uint64_t PeerHash(const capture::IpAddr& a) {
  std::uint64_t w[2];
  std::memcpy(w, a.bytes.data(), 16);
  std::uint64_t h = (w[0] ^ (a.v6 ? 0x5851F42D4C957F2DULL : 0)) * 0xBF58476D1CE4E5B9ULL;
  h ^= (w[1] + (h >> 31)) * 0x94D049BB133111EBULL;
  return h ^ (h >> 29);
}

void SetBit(std::vector<std::uint64_t>& bits, std::uint64_t index) {
  index &= 65535;
  bits[index / 64] |= std::uint64_t{1} << (index % 64);
}

// Distinct values set in `bits`: the exact count of set bits for ports; for peer hashes the
// linear-counting estimate -m ln(zeros / m), which corrects for hash collisions (exact to within
// one below a few hundred peers, within about 1% up to tens of thousands).
std::uint64_t CountSet(const std::vector<std::uint64_t>& bits) {
  std::uint64_t set = 0;
  for (const std::uint64_t w : bits) {
    set += static_cast<std::uint64_t>(std::popcount(w));
  }
  return set;
}

std::uint64_t EstimateDistinct(const std::vector<std::uint64_t>& bits) {
  const double m = 65536.0;
  const double zeros = m - static_cast<double>(CountSet(bits));
  if (zeros < 1.0) {
    return std::uint64_t{65536} * 11;  // saturated: m ln m, the estimate's ceiling
  }
  return static_cast<std::uint64_t>(std::llround(-m * std::log(zeros / m)));
}

}  // namespace

struct ScanDetector::State {
  explicit State(const ScanDetectorConfig& c) : config(c) {
    // The candidate lists are searched linearly and held per followed source: a threshold
    // beyond this would make both the search and the memory bound meaningless.
    config.port_threshold = std::min(config.port_threshold, kMaxThreshold);
    config.peer_threshold = std::min(config.peer_threshold, kMaxThreshold);
  }

  // A source below the thresholds: its distinct ports and peer hashes in this window, kept as
  // short unsorted lists (at most a threshold long, so a linear search is cheap).
  struct Candidate {
    std::uint64_t window_start = 0;
    std::uint64_t first_usec = 0;
    std::uint64_t last_usec = 0;
    std::uint64_t refused = 0;
    std::uint64_t incomplete = 0;
    std::vector<std::uint16_t> ports;
    std::vector<std::uint64_t> peers;
  };
  struct Finding {
    std::uint64_t first_usec = 0;
    std::uint64_t last_usec = 0;
    std::uint64_t refused = 0;
    std::uint64_t incomplete = 0;
    std::vector<std::uint64_t> ports = std::vector<std::uint64_t>(kBitmapWords);
    std::vector<std::uint64_t> peers = std::vector<std::uint64_t>(kBitmapWords);
  };

  ScanDetectorConfig config;
  boost::unordered_flat_map<capture::IpAddr, Candidate, capture::IpAddrHash> candidates;
  boost::unordered_flat_map<capture::IpAddr, Finding, capture::IpAddrHash> findings;
  ScanDetectorStats stats;
  std::vector<std::uint64_t> sample;  // scratch for OldestThreshold

  // Which followed sources are forgotten first: those with the fewest distinct ports and peers
  // (a spoofed flood's one-attempt sources), then the least recently active. A scanner that has
  // made two attempts outlives any number of one-attempt sources.
  static std::uint64_t EvictionKey(const Candidate& c) {
    constexpr std::uint64_t kTimeBits = 56;  // microseconds since 1970 fit until year 4253
    const std::uint64_t touched = std::min<std::uint64_t>(c.ports.size() + c.peers.size(), 255);
    return touched << kTimeBits | std::min(c.last_usec, (std::uint64_t{1} << kTimeBits) - 1);
  }

  // Forgets half of the followed sources, in EvictionKey order.
  void MakeRoom() {
    const std::size_t target = std::max<std::size_t>(1, candidates.size() / 2);
    const std::uint64_t threshold = internal::OldestThreshold(
        candidates, target, [](const auto& e) { return EvictionKey(e.second); }, sample);
    std::size_t removed = 0;
    boost::unordered::erase_if(candidates, [&](const auto& e) {
      if (removed < target && EvictionKey(e.second) <= threshold) {
        ++removed;
        return true;
      }
      return false;
    });
    stats.sources_evicted += removed;
  }

  void Promote(const capture::IpAddr& client, const Candidate& c) {
    if (findings.size() >= config.max_findings) {
      ++stats.findings_dropped;
      return;
    }
    Finding& f = findings[client];
    f.first_usec = c.first_usec;
    f.last_usec = c.last_usec;
    f.refused = c.refused;
    f.incomplete = c.incomplete;
    for (const std::uint16_t port : c.ports) {
      SetBit(f.ports, port);
    }
    for (const std::uint64_t peer : c.peers) {
      SetBit(f.peers, peer);
    }
  }
};

ScanDetector::ScanDetector(const ScanDetectorConfig& config) : state_(new State(config)) {}

ScanDetector::~ScanDetector() { delete state_; }

void ScanDetector::OnFailedAttempt(const capture::IpAddr& client, const capture::IpAddr& server,
                                   std::uint16_t port, bool refused, std::uint64_t first_usec,
                                   std::uint64_t last_usec) {
  State& s = *state_;
  const std::uint64_t peer = PeerHash(server);
  if (auto it = s.findings.find(client); it != s.findings.end()) {
    State::Finding& f = it->second;
    f.first_usec = std::min(f.first_usec, first_usec);
    f.last_usec = std::max(f.last_usec, last_usec);
    ++(refused ? f.refused : f.incomplete);
    SetBit(f.ports, port);
    SetBit(f.peers, peer);
    return;
  }
  if (s.config.max_sources == 0) {
    return;
  }
  auto it = s.candidates.find(client);
  if (it == s.candidates.end()) {
    if (s.candidates.size() >= s.config.max_sources) {
      s.MakeRoom();
    }
    it = s.candidates.try_emplace(client).first;
    it->second.window_start = first_usec;
    it->second.first_usec = first_usec;
  }
  State::Candidate& c = it->second;
  // Attempts may arrive out of time order (flows end in any order), so the window is a span
  // around its start in both directions; an attempt outside it starts the window again.
  const std::uint64_t window = s.config.window_usec;
  if (first_usec > c.window_start + window || first_usec + window < c.window_start) {
    c = State::Candidate{};
    c.window_start = first_usec;
    c.first_usec = first_usec;
  }
  c.window_start = std::min(c.window_start, first_usec);
  c.first_usec = std::min(c.first_usec, first_usec);
  c.last_usec = std::max(c.last_usec, last_usec);
  ++(refused ? c.refused : c.incomplete);
  if (std::find(c.ports.begin(), c.ports.end(), port) == c.ports.end()) {
    c.ports.push_back(port);
  }
  if (std::find(c.peers.begin(), c.peers.end(), peer) == c.peers.end()) {
    c.peers.push_back(peer);
  }
  if (c.ports.size() >= s.config.port_threshold || c.peers.size() >= s.config.peer_threshold) {
    s.Promote(client, c);
    s.candidates.erase(it);
  }
}

std::vector<ScanFinding> ScanDetector::Findings() const {
  std::vector<ScanFinding> out;
  out.reserve(state_->findings.size());
  for (const auto& [source, f] : state_->findings) {
    out.push_back(ScanFinding{source, f.first_usec, f.last_usec, CountSet(f.ports),
                              EstimateDistinct(f.peers), f.refused, f.incomplete});
  }
  std::sort(out.begin(), out.end(), [](const ScanFinding& x, const ScanFinding& y) {
    if (x.source.v6 != y.source.v6) {
      return !x.source.v6;
    }
    return x.source.bytes < y.source.bytes;
  });
  return out;
}

std::size_t ScanDetector::finding_count() const { return state_->findings.size(); }

const ScanDetectorStats& ScanDetector::stats() const { return state_->stats; }

}  // namespace bulkhead::learn
