// LiveCapture on real interfaces: libpcap on a veth pair in a network namespace of this test's
// own (root; CTest label `kernel`), the Asio loop driving it exactly as the learner and the
// violation reader do.
#include "capture/live_capture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include "capture/live_source.h"
#include "capture/pcap_file_source.h"
#include "tests/unit/capture/netns_veth.h"

namespace bulkhead::capture {
namespace {

struct RecordingSink : PacketSink {
  void OnPacket(const PacketSummary& p) override { packets.push_back(p); }
  std::vector<PacketSummary> packets;
};

std::unique_ptr<PacketSource> OpenLive(const std::string& iface) {
  LiveConfig config;
  config.buffer_bytes = 2 * 1024 * 1024;
  config.filter = "udp";
  auto source = LiveSource::Open(iface, config);
  EXPECT_TRUE(source) << source.error().message;
  return source ? std::unique_ptr<PacketSource>(std::move(*source)) : nullptr;
}

// Runs the loop until `done` or `seconds` have passed.
void RunUntil(boost::asio::io_context& io, const std::function<bool()>& done, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!done() && !io.stopped() && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(50));
  }
}

class LiveCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::EnterNamespaceWithVeth(); }
};

TEST_F(LiveCaptureTest, DeliversFromEverySourceAndTicks) {
  boost::asio::io_context io;
  std::vector<std::unique_ptr<PacketSource>> sources;
  sources.push_back(OpenLive("bh-a"));  // sent here
  sources.push_back(OpenLive("bh-b"));  // and received on the peer
  ASSERT_TRUE(sources[0] && sources[1]);
  RecordingSink sink;
  LiveCapture capture(io, std::move(sources), sink);
  int ticks = 0;
  ASSERT_TRUE(capture.Start([&ticks] { ++ticks; }));

  testing::SendUdp(40000, 53, 5);
  RunUntil(
      io, [&] { return sink.packets.size() >= 10 && ticks >= 1; }, 5);
  capture.Stop();
  ASSERT_EQ(sink.packets.size(), 10U);
  for (const PacketSummary& p : sink.packets) {
    EXPECT_EQ(p.src.ToString(), "10.77.0.1");
    EXPECT_EQ(p.dst.ToString(), "10.77.0.2");
    EXPECT_EQ(p.src_port, 40000);
    EXPECT_EQ(p.dst_port, 53);
  }
  EXPECT_GE(ticks, 1);
  EXPECT_FALSE(capture.failed());
  std::uint64_t delivered = 0;
  for (auto& source : capture.sources()) {
    delivered += source->Stats().delivered;
  }
  EXPECT_EQ(delivered, 10U);
}

TEST_F(LiveCaptureTest, StopReadsWhatTheKernelAlreadyHolds) {
  boost::asio::io_context io;
  std::vector<std::unique_ptr<PacketSource>> sources;
  sources.push_back(OpenLive("bh-a"));
  ASSERT_TRUE(sources[0]);
  RecordingSink sink;
  LiveCapture capture(io, std::move(sources), sink);
  ASSERT_TRUE(capture.Start({}));
  testing::SendUdp(40001, 53, 3);
  // The loop never ran: only Stop's last drain can have read them. TPACKET_V3 hands a block over
  // when it is full or its timeout (100 ms) retires it.
  ::usleep(300'000);
  capture.Stop();
  EXPECT_EQ(sink.packets.size(), 3U);
}

TEST_F(LiveCaptureTest, WithoutDrainOnStopNothingIsReadAfterStop) {
  boost::asio::io_context io;
  std::vector<std::unique_ptr<PacketSource>> sources;
  sources.push_back(OpenLive("bh-a"));
  ASSERT_TRUE(sources[0]);
  RecordingSink sink;
  LiveCaptureOptions options;
  options.drain_on_stop = false;
  LiveCapture capture(io, std::move(sources), sink, options);
  ASSERT_TRUE(capture.Start({}));
  testing::SendUdp(40002, 53, 3);
  ::usleep(300'000);
  capture.Stop();
  io.run_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(sink.packets.empty());
}

TEST_F(LiveCaptureTest, AnInterfaceThatGoesAwayStopsTheLoopByDefault) {
  boost::asio::io_context io;
  std::vector<std::unique_ptr<PacketSource>> sources;
  sources.push_back(OpenLive("bh-b"));
  ASSERT_TRUE(sources[0]);
  RecordingSink sink;
  LiveCapture capture(io, std::move(sources), sink);
  std::vector<std::string> errors;
  capture.SetFailureHandler([&errors](const SourceError& error) {
    errors.push_back(error.message);
    return LiveCapture::FailureAction::kStopLoop;
  });
  ASSERT_TRUE(capture.Start({}));
  ASSERT_EQ(std::system("ip link del bh-a"), 0);  // takes its peer bh-b with it
  RunUntil(
      io, [] { return false; }, 5);
  EXPECT_TRUE(io.stopped());
  EXPECT_TRUE(capture.failed());
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].rfind("bh-b: ", 0), 0U) << errors[0];
}

TEST_F(LiveCaptureTest, RetryLaterKeepsTheLoopRunning) {
  boost::asio::io_context io;
  std::vector<std::unique_ptr<PacketSource>> sources;
  sources.push_back(OpenLive("bh-b"));
  ASSERT_TRUE(sources[0]);
  RecordingSink sink;
  LiveCapture capture(io, std::move(sources), sink);
  int failures = 0;
  capture.SetFailureHandler([&failures](const SourceError&) {
    ++failures;
    return LiveCapture::FailureAction::kRetryLater;
  });
  ASSERT_TRUE(capture.Start({}));
  ASSERT_EQ(std::system("ip link del bh-a"), 0);
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2500);
  while (std::chrono::steady_clock::now() < until) {
    io.run_one_for(std::chrono::milliseconds(50));
  }
  EXPECT_FALSE(io.stopped());
  EXPECT_FALSE(capture.failed());
  // The first failure, then about one a second (retry and tick), not a busy loop.
  EXPECT_GE(failures, 1);
  EXPECT_LE(failures, 8);
  capture.Stop();
}

TEST(LiveCaptureFileTest, ASourceWithoutADescriptorCannotBeWaitedOn) {
  // A pcap file is a source too, but there is nothing to wait on.
  char path[] = "/tmp/bulkhead-live-capture-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  const unsigned char header[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2,    0,    4, 0, 0, 0, 0, 0,
                                    0,    0,    0,    0,    0xff, 0xff, 0, 0, 1, 0, 0, 0};
  ASSERT_EQ(::write(fd, header, sizeof header), static_cast<ssize_t>(sizeof header));
  ::close(fd);
  auto file = PcapFileSource::Open(path);
  ::unlink(path);
  ASSERT_TRUE(file) << file.error().message;
  boost::asio::io_context io;
  std::vector<std::unique_ptr<PacketSource>> sources;
  sources.push_back(std::move(*file));
  RecordingSink sink;
  LiveCapture capture(io, std::move(sources), sink);
  auto started = capture.Start({});
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message.find("no selectable descriptor"), std::string::npos);
}

}  // namespace
}  // namespace bulkhead::capture
