#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "capture/decoder.h"
#include "capture/packet_source.h"
#include "capture/pcap_handle.h"

namespace bulkhead::capture {

// Replays a pcap or pcapng file (anything pcap_open_offline reads). Errors name the file:
//   "FILE: no such file", "FILE: not a pcap or pcapng capture (...)", "FILE: truncated file
//   header (...)", "FILE: unsupported link type N (NAME)", "FILE: corrupt record after N
//   packets: ..." (e.g. a record length far beyond any snaplen).
// The first record is read at Open, so a file that is broken from its first record fails before
// any other source is read. A last record cut short (a capture killed mid-write) ends the file
// with a Warning() instead of an error: everything before it is good data.
class PcapFileSource final : public PacketSource {
 public:
  static boost::system::result<std::unique_ptr<PcapFileSource>, SourceError> Open(
      const std::string& path);

  boost::system::result<DispatchState, SourceError> Dispatch(int max_frames,
                                                             PacketSink& sink) override;
  int SelectableFd() const override { return -1; }
  SourceStats Stats() override { return stats_; }
  std::string Warning() const override { return warning_; }
  std::string_view Name() const override { return path_; }

  LinkType link_type() const { return link_; }

 private:
  PcapFileSource(std::string path, std::unique_ptr<char[]> read_buffer, PcapHandle handle,
                 LinkType link)
      : path_(std::move(path)),
        read_buffer_(std::move(read_buffer)),
        handle_(std::move(handle)),
        link_(link) {}

  // One pcap_next_ex. Returns 1 (a record in header_/bytes_), 0 (end of file, possibly after a
  // truncated last record, which sets warning_) or -1 (error_ set).
  int ReadRecord();

  std::string path_;
  // The stdio buffer of the FILE libpcap reads from (null when libpcap opened the file itself).
  // Declared before handle_ so that it outlives the FILE, which pcap_close closes.
  std::unique_ptr<char[]> read_buffer_;
  PcapHandle handle_;
  LinkType link_;
  SourceStats stats_;
  std::string warning_;
  std::string error_;
  // The record read ahead (at Open) or by the last ReadRecord; valid until the next pcap call.
  const pcap_pkthdr* header_ = nullptr;
  const u_char* bytes_ = nullptr;
  bool pending_ = false;
  bool eof_ = false;
};

}  // namespace bulkhead::capture
