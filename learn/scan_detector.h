#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "capture/ip_addr.h"

namespace bulkhead::learn {

// A source is a scan when its failed connection attempts (refused by the server, or never
// completed) reach either threshold within `window_usec` of packet time. Only failed attempts
// count, as in Zeek's scan detection: a busy client whose connections succeed (a metrics scraper
// reaching every pod) is not a scan. Thresholds above 1024 are taken as 1024.
struct ScanDetectorConfig {
  std::uint32_t port_threshold = 25;        // distinct server ports
  std::uint32_t peer_threshold = 25;        // distinct servers
  std::uint64_t window_usec = 300'000'000;  // 5 min
  std::size_t max_sources = 4096;           // sources followed below the thresholds
  std::size_t max_findings = 256;           // sources reported as scans
};

// One scanning source, however many attempts it made.
struct ScanFinding {
  capture::IpAddr source;
  std::uint64_t first_usec = 0;     // first packet of its first failed attempt
  std::uint64_t last_usec = 0;      // last packet of its last failed attempt
  std::uint64_t ports_touched = 0;  // distinct server ports of its failed attempts (exact)
  std::uint64_t peers_touched = 0;  // distinct servers (exact in practice; an estimate by linear
                                    // counting beyond a few thousand)
  std::uint64_t refused = 0;        // attempts the server refused (TCP RST, ICMP unreachable)
  std::uint64_t incomplete = 0;     // attempts whose handshake never completed
};

struct ScanDetectorStats {
  std::uint64_t sources_evicted = 0;   // followed sources forgotten at max_sources
  std::uint64_t findings_dropped = 0;  // scans not reported because max_findings was reached
                                       // (one source may count more than once)
};

// Folds failed connection attempts into per-source counters and reports the sources that cross
// a threshold as one finding each. Memory is bounded whatever the traffic: at most max_sources
// followed sources of at most (port_threshold + peer_threshold) small entries each (half is
// forgotten, counted, when the cap is reached: those with the fewest attempts first, then the
// least recently active, so a flood of spoofed one-attempt sources cannot push a scanner out
// once it has made two attempts while followed), and max_findings findings of 16 KiB each (a bitmap
// of the 65,536 ports and one of peer hashes). Single-threaded; time comes from the attempts.
class ScanDetector {
 public:
  explicit ScanDetector(const ScanDetectorConfig& config);
  ~ScanDetector();
  ScanDetector(const ScanDetector&) = delete;
  ScanDetector& operator=(const ScanDetector&) = delete;

  // One failed attempt of `client` to `server` on `port` spanning [first_usec, last_usec].
  void OnFailedAttempt(const capture::IpAddr& client, const capture::IpAddr& server,
                       std::uint16_t port, bool refused, std::uint64_t first_usec,
                       std::uint64_t last_usec);

  // The findings so far, ordered by source address.
  std::vector<ScanFinding> Findings() const;
  std::size_t finding_count() const;
  const ScanDetectorStats& stats() const;

 private:
  struct State;
  State* state_;  // owned; keeps the hash map types out of the header
};

}  // namespace bulkhead::learn
