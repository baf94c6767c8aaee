#pragma once

#include <cstddef>
#include <cstdint>

#include "capture/ip_addr.h"
#include "capture/packet.h"
#include "capture/packet_source.h"
#include "learn/scan_detector.h"

namespace bulkhead::learn {

// How the client/server direction of a flow was decided, strongest first.
enum class DirectionBasis : std::uint8_t {
  kHandshake,    // SYN without ACK from the client, or SYN-ACK from the server
  kListener,     // one side's (address, protocol, port) was seen listening in a handshake
  kIcmpType,     // ICMP/ICMPv6 request type
  kPortClass,    // well-known < registered < ephemeral: the lower class is the server
  kFirstPacket,  // same class: the receiver of the first packet seen (UDP request/response)
};

struct FlowTableConfig {
  std::size_t max_flows = 1'000'000;           // hard cap on live entries; evicts beyond it
  std::size_t max_listeners = 65'536;          // hard cap on remembered listening sockets
  std::uint64_t tcp_idle_usec = 300'000'000;   // 5 min (established TCP may idle long)
  std::uint64_t tcp_closed_usec = 10'000'000;  // after FIN/RST from both sides or RST
  std::uint64_t udp_idle_usec = 60'000'000;
  std::uint64_t other_idle_usec = 30'000'000;  // ICMP, SCTP without activity
  // Ports at or above this are ephemeral (Linux ip_local_port_range starts at 32768). A flow
  // whose server port is ephemeral and was not confirmed by a handshake or a known listener
  // never becomes an edge.
  std::uint16_t ephemeral_port_min = 32768;
  ScanDetectorConfig scan;  // failed attempts (refused, incomplete) feed it
};

// A finished flow, oriented client -> server. Emitted on idle expiry, on eviction and on Flush.
struct FlowRecord {
  capture::IpAddr client;
  capture::IpAddr server;
  std::uint8_t proto = 0;         // IANA number
  std::uint16_t server_port = 0;  // ICMP/ICMPv6: the request type
  std::uint64_t packets = 0;      // both directions
  std::uint64_t bytes = 0;        // IP bytes, both directions
  std::uint64_t first_usec = 0;
  std::uint64_t last_usec = 0;
  DirectionBasis basis = DirectionBasis::kHandshake;
};

class FlowRecordSink {
 public:
  virtual ~FlowRecordSink() = default;
  virtual void OnFlow(const FlowRecord& flow) = 0;
  // A connection attempt that failed (refused, or its handshake never completed), oriented the
  // same way: no evidence of an edge, so a graph ignores it (the default), but a consumer that
  // judges traffic rather than learning services (`bulkhead check`) still sees it.
  virtual void OnFailedAttempt(const FlowRecord& /*attempt*/, bool /*refused*/) {}
};

struct FlowTableStats {
  std::uint64_t packets = 0;  // packets given to the table
  std::uint64_t flows_created = 0;
  std::uint64_t flows_expired = 0;      // idle timeout
  std::uint64_t flows_evicted = 0;      // pushed out by max_flows
  std::uint64_t listeners_evicted = 0;  // pushed out by max_listeners
  std::uint64_t flows_emitted = 0;      // handed to the sink
  std::uint64_t no_edge_ephemeral = 0;  // server port ephemeral and unconfirmed: no edge
  std::uint64_t no_edge_icmp = 0;       // ICMP replies/errors/neighbour discovery only
  // Failed attempts, never edges (a scan or a flood is not evidence of a service in use):
  std::uint64_t refused = 0;     // answered only by TCP RST / ICMP port unreachable
  std::uint64_t incomplete = 0;  // a handshake begun (SYN or SYN-ACK) but never completed
  std::uint64_t no_ports = 0;    // packets without ports (non-first fragments etc.)
};

// The flow table: both directions of a 5-tuple map to one entry, which learns its direction from
// the handshake or, failing that, from known listeners and port classes. Memory is bounded by
// max_flows and max_listeners. Time comes only from packet timestamps, so replaying a file gives
// the same result on any machine. Single-threaded.
class FlowTable : public capture::PacketSink {
 public:
  FlowTable(const FlowTableConfig& config, FlowRecordSink& sink);
  ~FlowTable() override;
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  void OnPacket(const capture::PacketSummary& packet) override;

  // Emits and removes every flow idle since before now_usec - its timeout. OnPacket calls this
  // itself as packet time advances; a live capture also calls it from a timer.
  void ExpireIdle(std::uint64_t now_usec);

  // Emits and removes every flow (end of capture).
  void Flush();

  // Emits every live flow to `sink` as if it ended now, keeping it in the table and leaving the
  // table's sink and statistics alone: what a periodic snapshot of a running capture needs.
  void Peek(FlowRecordSink& sink) const;

  std::size_t size() const;
  const FlowTableStats& stats() const;
  // The sources whose failed attempts made them scans (complete once the flows have ended, e.g.
  // after Flush).
  const ScanDetector& scans() const;

 private:
  struct State;
  State* state_;  // owned; hidden so the hash map type stays out of the header
};

}  // namespace bulkhead::learn
