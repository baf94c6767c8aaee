// Fuzz target for capture::PcapFileSource: the input is a whole pcap or pcapng file. It goes
// through the real Open(path) by way of a memfd (/proc/self/fd/N), so libpcap's file reader and
// our error mapping both see it, without temporary files on disk. Every outcome (open error,
// read error, warning, packets) is fine; crashing, leaking or hanging is not.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "capture/pcap_file_source.h"

namespace {

struct DiscardSink : bulkhead::capture::PacketSink {
  void OnPacket(const bulkhead::capture::PacketSummary& packet) override {
    ports += packet.src_port;
  }
  std::uint64_t ports = 0;
};

bool WriteAll(int fd, const std::uint8_t* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n <= 0) {
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fd = ::memfd_create("pcap_file_fuzz", MFD_CLOEXEC);
  if (fd < 0) {
    return 0;
  }
  if (WriteAll(fd, data, size)) {
    auto source = bulkhead::capture::PcapFileSource::Open("/proc/self/fd/" + std::to_string(fd));
    if (source) {
      DiscardSink sink;
      // A file of n bytes holds fewer than n records; the bound only guards against a hang.
      for (std::size_t batches = 0; batches <= size; ++batches) {
        auto state = (*source)->Dispatch(64, sink);
        if (!state || *state == bulkhead::capture::DispatchState::kEndOfInput) {
          break;
        }
      }
    }
  }
  ::close(fd);
  return 0;
}
