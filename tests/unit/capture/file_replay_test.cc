#include "capture/file_replay.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "capture/pcap_file_source.h"
#include "tests/unit/capture/packet_builder.h"
#include "tests/unit/capture/pcap_file_builder.h"

namespace bulkhead::capture {
namespace {

using namespace bulkhead::capture::testing;

// What reached the sink, in order: enough of each packet to tell any two frames of a test apart.
struct RecordingSink : PacketSink {
  void OnPacket(const PacketSummary& p) override {
    if (throw_at >= 0 && static_cast<int>(packets.size()) == throw_at) {
      throw std::runtime_error("boom");
    }
    packets.emplace_back(p.ts_usec, p.src_port, p.dst_port);
  }
  std::vector<std::tuple<std::uint64_t, std::uint16_t, std::uint16_t>> packets;
  int throw_at = -1;
};

Bytes UdpFrame(unsigned sport, unsigned dport) {
  Ipv4Spec ip;
  ip.proto = 17;
  ip.payload_len = 8;
  return Cat({Ether(0x0800), Ipv4(ip), Udp(sport, dport, 0)});
}

// `count` UDP frames whose ports and timestamps number them from `first`, plus one ARP frame
// every 100 (decoded as not_ip: counted, never delivered).
Bytes Capture(int first, int count) {
  Bytes content = PcapHeader();
  for (int i = first; i < first + count; ++i) {
    const auto n = static_cast<unsigned>(i);
    content = Cat({content, PcapRecord(UdpFrame(n % 60000 + 1, 53), 1700000000U + n / 1000,
                                       (n % 1000) * 1000)});
    if (i % 100 == 0) {
      content = Cat({content, PcapRecord(Cat({Ether(0x0806), Bytes(28, 0)}))});
    }
  }
  return content;
}

std::vector<std::unique_ptr<PacketSource>> Open(const std::vector<const TempFile*>& files) {
  std::vector<std::unique_ptr<PacketSource>> sources;
  for (const TempFile* file : files) {
    auto source = PcapFileSource::Open(file->path());
    EXPECT_TRUE(source) << source.error().message;
    if (source) {
      sources.push_back(std::move(*source));
    }
  }
  return sources;
}

struct ReplayRun {
  std::string error;  // "" when the replay succeeded
  RecordingSink sink;
  std::vector<std::uint64_t> progress;
  std::vector<std::string> warnings;
};

void Replay(const std::vector<const TempFile*>& files, bool reader_thread, ReplayRun& run) {
  auto sources = Open(files);
  FileReplayOptions options;
  options.reader_thread = reader_thread;
  options.on_progress = [&run](std::uint64_t frames) { run.progress.push_back(frames); };
  options.on_warning = [&run](std::string_view w) { run.warnings.emplace_back(w); };
  auto replayed = ReplayFiles(sources, run.sink, options);
  run.error = replayed ? "" : replayed.error().message;
}

class FileReplayTest : public ::testing::TestWithParam<bool> {};

// Several thousand frames: many batches of the two-thread pool (1024) and of the one-thread
// loop (4096), so the pool cycles and the hand-over order is what is tested.
TEST_P(FileReplayTest, DeliversEveryFileInOrder) {
  const TempFile a(Capture(0, 5000));
  const TempFile b(Capture(5000, 1500));
  ReplayRun run;
  Replay({&a, &b}, GetParam(), run);
  ASSERT_EQ(run.error, "");
  ASSERT_EQ(run.sink.packets.size(), 6500U);
  for (std::size_t i = 0; i < run.sink.packets.size(); ++i) {
    const auto n = static_cast<unsigned>(i);
    ASSERT_EQ(std::get<1>(run.sink.packets[i]), n % 60000 + 1) << i;
    ASSERT_EQ(std::get<0>(run.sink.packets[i]),
              (1700000000ULL + n / 1000) * 1'000'000ULL + (n % 1000) * 1000ULL)
        << i;
  }
  // Progress counts frames (ARP included) over both files, never goes back, ends at the total.
  ASSERT_FALSE(run.progress.empty());
  for (std::size_t i = 1; i < run.progress.size(); ++i) {
    EXPECT_LE(run.progress[i - 1], run.progress[i]);
  }
  EXPECT_EQ(run.progress.back(), 6500U + 50U + 15U);
  EXPECT_TRUE(run.warnings.empty());
}

TEST_P(FileReplayTest, OneOrTwoThreadsGiveTheSamePackets) {
  const TempFile a(Capture(0, 3000));
  ReplayRun one;
  ReplayRun two;
  Replay({&a}, false, one);
  Replay({&a}, true, two);
  EXPECT_EQ(one.sink.packets, two.sink.packets);
}

TEST_P(FileReplayTest, ALastRecordCutShortIsAWarningAndTheNextFileStillReads) {
  Bytes cut = Capture(0, 10);
  const Bytes last = PcapRecord(UdpFrame(9, 9));
  cut = Cat({cut, Bytes(last.begin(), last.begin() + 20)});
  const TempFile a(cut);
  const TempFile b(Capture(10, 5));
  ReplayRun run;
  Replay({&a, &b}, GetParam(), run);
  EXPECT_EQ(run.error, "");
  EXPECT_EQ(run.sink.packets.size(), 15U);
  ASSERT_EQ(run.warnings.size(), 1U);
  EXPECT_EQ(run.warnings[0],
            a.path() + ": last record truncated after 11 packets; kept what came before");
}

TEST_P(FileReplayTest, AReadErrorEndsTheReplayAndKeepsWhatCameBefore) {
  Bytes content = Capture(1, 4);
  content =
      Cat({content, PcapRecord(UdpFrame(1, 2), 1, 0, 0x40000000), PcapRecord(UdpFrame(1, 2))});
  const TempFile a(content);
  const TempFile b(Capture(10, 5));
  ReplayRun run;
  Replay({&a, &b}, GetParam(), run);
  EXPECT_EQ(run.error.rfind(a.path() + ": corrupt record after 4 packets: ", 0), 0U) << run.error;
  EXPECT_EQ(run.sink.packets.size(), 4U);  // and nothing of the second file
}

TEST_P(FileReplayTest, ASinkThatThrowsEndsTheReplayNamingTheFile) {
  const TempFile a(Capture(0, 2000));
  ReplayRun run;
  run.sink.throw_at = 1500;
  Replay({&a}, GetParam(), run);
  EXPECT_EQ(run.error, a.path() + ": packet handler failed: boom");
  EXPECT_EQ(run.sink.packets.size(), 1500U);
}

TEST_P(FileReplayTest, NoSourcesIsNothingToDo) {
  ReplayRun run;
  Replay({}, GetParam(), run);
  EXPECT_EQ(run.error, "");
  EXPECT_TRUE(run.sink.packets.empty());
}

INSTANTIATE_TEST_SUITE_P(Threads, FileReplayTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return param.param ? "ReaderThread" : "OneThread";
                         });

}  // namespace
}  // namespace bulkhead::capture
