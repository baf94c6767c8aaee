#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "capture/packet_source.h"

namespace bulkhead::capture {

struct FileReplayOptions {
  // Decode on a reader thread while the caller's thread runs the sink (see ReplayFiles). Off,
  // or when no thread can be started, everything runs on the caller's thread.
  bool reader_thread = true;
  // Called on the caller's thread after each batch with the frames read from all sources so far
  // (progress display).
  std::function<void(std::uint64_t frames_done)> on_progress;
  // Called on the caller's thread when a source ends with a Warning() (a last record cut short).
  std::function<void(std::string_view warning)> on_warning;
};

// Replays finite sources (pcap and pcapng files) one after the other into `sink`, in file
// order: the one replay loop of `bulkhead learn --pcap` and `bulkhead check`. The sink only ever
// runs on the caller's thread, and sees exactly the packets, in exactly the order, of a plain
// Dispatch loop, whether or not the reader thread is used, so the result does not depend on it.
//
// With the reader thread, libpcap's read loop and the decoder run on a second thread into
// batches of summaries while the caller's thread folds them into the sink: on the learn
// benchmark the two halves cost about the same per packet, so on two CPUs the replay takes little
// more than the read alone (bench/README.md). Batches cycle through a small fixed pool: the
// reader blocks when the sink falls behind, so memory stays bounded whatever the file size.
//
// Errors (the first read error, or "NAME: packet handler failed: WHAT" when the sink threw) end
// the replay; what the sink received before stays received.
boost::system::result<void, SourceError> ReplayFiles(
    std::vector<std::unique_ptr<PacketSource>>& sources, PacketSink& sink,
    const FileReplayOptions& options = {});

}  // namespace bulkhead::capture
