// The bare libpcap baseline for bench/run.sh: read a capture file with pcap_next_ex and count
// packets and bytes, nothing else. Whatever `bulkhead learn` costs above this loop is decoding,
// flow tracking and graph building; what this loop costs is the floor set by libpcap and the disk.
//
//   pcap_count FILE   ->   "packets N bytes N captured_bytes N" on stdout

#include <pcap/pcap.h>

#include <cstdint>
#include <cstdio>
#include <memory>

namespace {

struct PcapCloser {
  void operator()(pcap_t* handle) const { pcap_close(handle); }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pcap_count FILE\n");
    return 2;
  }
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  std::unique_ptr<pcap_t, PcapCloser> handle(pcap_open_offline(argv[1], errbuf));
  if (!handle) {
    std::fprintf(stderr, "pcap_count: %s\n", errbuf);
    return 1;
  }
  std::uint64_t packets = 0;
  std::uint64_t wire_bytes = 0;
  std::uint64_t captured_bytes = 0;
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int rc = 0;
  while ((rc = pcap_next_ex(handle.get(), &header, &data)) == 1) {
    ++packets;
    wire_bytes += header->len;
    captured_bytes += header->caplen;
  }
  // -2 is the normal end of a file; -1 is a read error (a truncated or corrupt file).
  if (rc == -1) {
    std::fprintf(stderr, "pcap_count: %s\n", pcap_geterr(handle.get()));
    return 1;
  }
  std::printf("packets %llu bytes %llu captured_bytes %llu\n",
              static_cast<unsigned long long>(packets), static_cast<unsigned long long>(wire_bytes),
              static_cast<unsigned long long>(captured_bytes));
  return 0;
}
