// Micro-benchmark of FlowTable::OnPacket, run by hand (not registered with CTest).
//
//   learn_flow_table_bench [packets=5000000] [flows=100000] [burst=1]
//
// Replays `packets` synthetic TCP packets spread uniformly at random over `flows` concurrent
// connections (bursts of `burst` consecutive packets per flow), 1 us of packet time apart, and
// prints ns/packet for the table alone (the cost of generating the packets is measured in a
// separate pass and subtracted). Then it fills a fresh table with `flows` flows and prints the
// peak-RSS growth per live flow.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "capture/packet.h"
#include "learn/flow_table.h"

namespace {

using bulkhead::capture::IpAddr;
using bulkhead::capture::PacketSummary;
using bulkhead::learn::FlowRecord;
using bulkhead::learn::FlowRecordSink;
using bulkhead::learn::FlowTable;
using bulkhead::learn::FlowTableConfig;

class CountingSink : public FlowRecordSink {
 public:
  void OnFlow(const FlowRecord& flow) override { bytes += flow.bytes; }
  std::uint64_t bytes = 0;
};

class ReadingSink : public bulkhead::capture::PacketSink {
 public:
  void OnPacket(const PacketSummary& p) override { sum += p.ip_len + p.src.bytes[3]; }
  std::uint64_t sum = 0;
};

struct Rng {
  std::uint64_t s = 0x9E3779B97F4A7C15ULL;
  std::uint64_t Next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

// Flow i: client 10.x.y.z:(32768 + i % 28000) -> server 172.16.(i % 64).1:443, direction of the
// packet alternating.
void MakePacket(std::uint64_t flow, std::uint64_t n, PacketSummary& p) {
  const auto client = IpAddr::V4(0x0A000000U | static_cast<std::uint32_t>(flow / 28000 + 1));
  const auto server = IpAddr::V4(0xAC100001U | static_cast<std::uint32_t>((flow % 64) << 8));
  const auto cport = static_cast<std::uint16_t>(32768 + flow % 28000);
  const bool to_server = (n & 1) == 0;
  p.src = to_server ? client : server;
  p.dst = to_server ? server : client;
  p.src_port = to_server ? cport : 443;
  p.dst_port = to_server ? 443 : cport;
  p.proto = 6;
  p.tcp_flags = 0x10;
  p.ip_len = 100;
  p.has_ports = true;
}

long MaxRssKib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

template <typename Fn>
double TimeNs(Fn&& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  const auto t1 = std::chrono::steady_clock::now();
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t packets = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 5'000'000;
  const std::uint64_t flows = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100'000;
  const std::uint64_t burst =
      argc > 3 ? std::max<std::uint64_t>(1, std::strtoull(argv[3], nullptr, 10)) : 1;
  constexpr std::uint64_t kT0 = 1'700'000'000'000'000;

  // Memory: grow a fresh table to `flows` live flows and look at the peak RSS it added.
  {
    const long before = MaxRssKib();
    CountingSink sink;
    FlowTableConfig config;
    config.max_flows = flows;
    FlowTable table(config, sink);
    PacketSummary p;
    for (std::uint64_t i = 0; i < flows; ++i) {
      MakePacket(i, 0, p);
      p.ts_usec = kT0 + i;
      table.OnPacket(p);
    }
    const long after = MaxRssKib();
    std::printf("memory: %zu live flows, peak RSS +%ld KiB = %.1f bytes/flow\n", table.size(),
                after - before,
                static_cast<double>(after - before) * 1024.0 / static_cast<double>(table.size()));
  }

  // Speed: a ring of pre-made packets (so making them costs nothing in the timed loop) replayed
  // through the PacketSink interface, once into a sink that only reads the packet (the
  // baseline) and once into the table.
  const std::uint64_t ring_size = std::min<std::uint64_t>(packets, 1U << 20);
  std::vector<PacketSummary> ring(ring_size);
  {
    Rng rng;
    std::uint64_t flow = 0;
    for (std::uint64_t n = 0; n < ring_size; ++n) {
      if (n % burst == 0) {
        flow = rng.Next() % flows;
      }
      MakePacket(flow, n, ring[n]);
    }
  }
  auto replay = [&](bulkhead::capture::PacketSink& target) {
    return TimeNs([&] {
      for (std::uint64_t n = 0; n < packets; ++n) {
        PacketSummary p = ring[n % ring_size];
        p.ts_usec = kT0 + n;
        target.OnPacket(p);
      }
    });
  };
  ReadingSink reader;
  const double gen_ns = replay(reader);
  CountingSink sink;
  FlowTableConfig config;
  FlowTable table(config, sink);
  const double run_ns = replay(table);
  table.Flush();
  const double per_packet = (run_ns - gen_ns) / static_cast<double>(packets);
  std::printf(
      "speed: %llu packets over %llu flows (burst %llu): %.1f ns/packet in the table "
      "(%.1f ns total, %.1f ns baseline replay)\n",
      static_cast<unsigned long long>(packets), static_cast<unsigned long long>(flows),
      static_cast<unsigned long long>(burst), per_packet, run_ns / static_cast<double>(packets),
      gen_ns / static_cast<double>(packets));
  std::printf("flows created %llu, emitted %llu (guard %llu)\n",
              static_cast<unsigned long long>(table.stats().flows_created),
              static_cast<unsigned long long>(table.stats().flows_emitted),
              static_cast<unsigned long long>(reader.sum + sink.bytes % 2));
  return 0;
}
