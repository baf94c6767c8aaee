#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/logger.h>
#include <boost/asio/io_context.hpp>
#include <boost/system/result.hpp>

#include "capture/ip_addr.h"
#include "daemon/metrics.h"

// Lateral-movement reports: the enforcer's ruleset logs every judged-and-refused (or, in monitor
// mode, would-be-refused) new connection to an NFLOG group; the agent reads that group through
// libpcap's `nflog:N` device and turns each record into one violation event: a JSON line in the
// violations file, a (rate-limited) log line and a metric.
namespace bulkhead::daemon {

struct ViolationEndpoint {
  std::string workload;  // workload name; the host's name; empty for world
  std::string group;     // group name, "host" or "world"
  std::string address;   // textual address
  std::string node;      // the Kubernetes node it runs on, when the agent knows the cluster
};

struct Violation {
  std::uint64_t ts_usec = 0;  // when the kernel logged it (microseconds since the epoch)
  // From the log prefix the ruleset writes (enforcer/compiler.cc): "bulkhead deny " -> "blocked",
  // "bulkhead warn " -> "monitored" (monitor mode: would be blocked, passed), "bulkhead spoofed "
  // -> "spoofed", "bulkhead tagged " -> "tagged" (both dropped).
  std::string verdict;
  ViolationEndpoint from;
  ViolationEndpoint to;
  std::string protocol;    // tcp, udp, icmp, icmpv6, sctp, or the IANA number as text
  std::uint16_t port = 0;  // destination port; ICMP: the type; 0 when none
  // The interactive exec session(s) running in the source workload when it connected
  // (exec_events.h), so a reviewer sees what someone with a shell did; empty when none.
  std::string exec;
};

// {"time":"2026-11-29T10:00:00.123Z","verdict":"blocked","from":{"workload":..,"group":..,
// "address":..[,"node":..]},"to":{..},"protocol":"tcp","port":5432[,"exec":"<session>"]} with every
// string JSON-escaped (names come from container labels: attacker-controlled). No trailing newline.
std::string ViolationJson(const Violation& v);

// Parses one DLT_NFLOG frame (libpcap's nflog:N record) as the monitor reads it: capture's NFLOG
// walk gives the prefix (the verdict) and the payload, the decoder the IP packet. False for a
// frame that is not a bulkhead record or does not decode (counted as malformed).
struct NflogRecord {
  std::string prefix;  // without trailing spaces
  std::uint64_t ts_usec = 0;
  capture::IpAddr src;
  capture::IpAddr dst;
  std::uint8_t proto = 0;
  std::uint16_t dst_port = 0;  // ICMP: the type
};
bool ParseNflogFrame(const std::uint8_t* data, std::size_t length, std::uint64_t ts_usec,
                     NflogRecord& out);

struct ViolationMonitorOptions {
  std::uint16_t nflog_group = 7;
  std::string violations_file;  // appended to (created 0640); empty: none
  std::uint32_t log_lines_per_second =
      20;  // token bucket for log lines; file lines are not limited
};

// Reads the NFLOG group on the event loop (the descriptor is waited on, never blocks) and turns
// records into violations. Metrics: bulkhead_violations_total{from,to,verdict},
// bulkhead_violation_log_suppressed_total, bulkhead_nflog_malformed_total,
// bulkhead_nflog_drops (kernel drops of the nflog handle).
class ViolationMonitor {
 public:
  // Maps an address to its endpoint with the agent's current inventory (called on the loop).
  using Resolver = std::function<ViolationEndpoint(const capture::IpAddr&)>;
  using Listener = std::function<void(const Violation&)>;  // optional: tests, status
  // The interactive exec session(s) running in a workload (by name) at a time (microseconds since
  // the epoch), empty when none.
  using SessionLookup =
      std::function<std::string(const std::string& workload, std::uint64_t ts_usec)>;

  static boost::system::result<std::unique_ptr<ViolationMonitor>, std::string> Start(
      boost::asio::io_context& io, const ViolationMonitorOptions& options, Resolver resolver,
      Metrics& metrics, std::shared_ptr<spdlog::logger> log, Listener listener = {});
  virtual ~ViolationMonitor() = default;
  // Reopens the violations file (after logrotate moved it; on SIGHUP).
  virtual void Reopen() = 0;
  // Tags each violation from a workload with the sessions running in it (Violation::exec).
  virtual void SetSessionLookup(SessionLookup lookup) = 0;
  virtual void Stop() = 0;
  virtual std::uint64_t count() const = 0;  // violations seen
};

}  // namespace bulkhead::daemon
