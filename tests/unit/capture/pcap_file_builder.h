#pragma once

// pcap and pcapng files written byte by byte for the capture tests (file replay, the file
// source): a test says exactly which record is cut or lies.

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/unit/capture/packet_builder.h"

namespace bulkhead::capture::testing {

// Little-endian writers for the file formats (pcap and pcapng are written in the writer's order;
// little-endian is what x86 tools produce).
inline void Le16(Bytes& b, unsigned v) {
  Put8(b, v & 0xFF);
  Put8(b, (v >> 8) & 0xFF);
}
inline void Le32(Bytes& b, std::uint32_t v) {
  Le16(b, v & 0xFFFF);
  Le16(b, v >> 16);
}

inline Bytes PcapHeader(unsigned link = 1, std::uint32_t magic = 0xa1b2c3d4,
                        std::uint32_t snap = 65535) {
  Bytes b;
  Le32(b, magic);
  Le16(b, 2);
  Le16(b, 4);
  Le32(b, 0);
  Le32(b, 0);
  Le32(b, snap);
  Le32(b, link);
  return b;
}

inline Bytes PcapRecord(const Bytes& data, std::uint32_t sec = 1700000000, std::uint32_t frac = 250,
                        std::int64_t caplen = -1, std::int64_t wire = -1) {
  Bytes b;
  Le32(b, sec);
  Le32(b, frac);
  Le32(b,
       static_cast<std::uint32_t>(caplen >= 0 ? caplen : static_cast<std::int64_t>(data.size())));
  Le32(b, static_cast<std::uint32_t>(wire >= 0 ? wire : static_cast<std::int64_t>(data.size())));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

inline void PadTo4(Bytes& b) {
  while (b.size() % 4 != 0) {
    b.push_back(0);
  }
}

// pcapng: Section Header Block, one Interface Description Block, Enhanced Packet Blocks.
inline Bytes PcapngFile(const std::vector<Bytes>& packets, unsigned link = 1) {
  Bytes b;
  Le32(b, 0x0A0D0D0A);
  Le32(b, 28);
  Le32(b, 0x1A2B3C4D);
  Le16(b, 1);
  Le16(b, 0);
  Le32(b, 0xFFFFFFFF);  // section length unknown
  Le32(b, 0xFFFFFFFF);
  Le32(b, 28);
  Le32(b, 1);  // IDB
  Le32(b, 20);
  Le16(b, link);
  Le16(b, 0);
  Le32(b, 65535);
  Le32(b, 20);
  for (const Bytes& p : packets) {
    Bytes body;
    Le32(body, 0);                                              // interface 0
    const std::uint64_t ts = 1700000000ULL * 1000000ULL + 500;  // default resolution: usec
    Le32(body, static_cast<std::uint32_t>(ts >> 32));
    Le32(body, static_cast<std::uint32_t>(ts & 0xFFFFFFFF));
    Le32(body, static_cast<std::uint32_t>(p.size()));
    Le32(body, static_cast<std::uint32_t>(p.size()));
    body.insert(body.end(), p.begin(), p.end());
    PadTo4(body);
    const auto total = static_cast<std::uint32_t>(body.size() + 12);
    Le32(b, 6);
    Le32(b, total);
    b.insert(b.end(), body.begin(), body.end());
    Le32(b, total);
  }
  return b;
}

class TempFile {
 public:
  explicit TempFile(const Bytes& content) {
    static int counter = 0;  // per test binary: unique names within one process
    path_ = (std::filesystem::temp_directory_path() /
             ("bulkhead_capture_test_" + std::to_string(::getpid()) + "_" +
              std::to_string(counter++) + ".pcap"))
                .string();
    std::ofstream out(path_, std::ios::binary);
    out.write(reinterpret_cast<const char*>(content.data()),
              static_cast<std::streamsize>(content.size()));
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace bulkhead::capture::testing
