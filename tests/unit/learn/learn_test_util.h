#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "capture/ip_addr.h"
#include "capture/packet.h"
#include "learn/flow_table.h"

namespace bulkhead::learn::testing {

inline capture::IpAddr Ip(std::string_view text) {
  const auto a = capture::IpAddr::Parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(capture::IpAddr{});
}

inline capture::PacketSummary Packet(std::uint8_t proto, std::string_view src, std::uint16_t sport,
                                     std::string_view dst, std::uint16_t dport,
                                     std::uint64_t ts_usec, std::uint32_t ip_len = 60) {
  capture::PacketSummary p;
  p.ts_usec = ts_usec;
  p.src = Ip(src);
  p.dst = Ip(dst);
  p.ip_len = ip_len;
  p.proto = proto;
  p.src_port = sport;
  p.dst_port = dport;
  p.has_ports = true;
  return p;
}

inline capture::PacketSummary Tcp(std::string_view src, std::uint16_t sport, std::string_view dst,
                                  std::uint16_t dport, std::uint8_t flags, std::uint64_t ts_usec,
                                  std::uint32_t ip_len = 60) {
  auto p = Packet(6, src, sport, dst, dport, ts_usec, ip_len);
  p.tcp_flags = flags;
  return p;
}

inline capture::PacketSummary Udp(std::string_view src, std::uint16_t sport, std::string_view dst,
                                  std::uint16_t dport, std::uint64_t ts_usec,
                                  std::uint32_t ip_len = 60) {
  return Packet(17, src, sport, dst, dport, ts_usec, ip_len);
}

// An ICMP (v4 or v6, by `proto`) message as the decoder summarizes it: the echo identifier in
// src_port and 0 in dst_port, whichever the direction.
inline capture::PacketSummary Icmp(std::uint8_t proto, std::string_view src, std::string_view dst,
                                   std::uint8_t type, std::uint16_t identifier,
                                   std::uint64_t ts_usec) {
  auto p = Packet(proto, src, identifier, dst, 0, ts_usec, 84);
  p.icmp_type = type;
  p.has_ports = false;
  return p;
}

class RecordingSink : public FlowRecordSink {
 public:
  void OnFlow(const FlowRecord& flow) override { records.push_back(flow); }
  void OnFailedAttempt(const FlowRecord& attempt, bool refused) override {
    failed.emplace_back(attempt, refused);
  }
  std::vector<FlowRecord> records;
  std::vector<std::pair<FlowRecord, bool>> failed;  // (attempt, refused)
};

}  // namespace bulkhead::learn::testing
