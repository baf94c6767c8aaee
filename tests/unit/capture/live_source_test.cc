#include "capture/live_source.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <vector>

namespace bulkhead::capture {
namespace {

struct RecordingSink : PacketSink {
  void OnPacket(const PacketSummary& p) override { packets.push_back(p); }
  std::vector<PacketSummary> packets;
};

TEST(LiveSourceTest, NonexistentInterfaceIsAClearError) {
  auto source = LiveSource::Open("bulkhead-nope0", LiveConfig{});
  ASSERT_FALSE(source);
  EXPECT_EQ(source.error().message.rfind("bulkhead-nope0: no such device", 0), 0U)
      << source.error().message;
}

TEST(LiveSourceTest, DefaultsAreHeadersOnlyWithABigRing) {
  const LiveConfig config;
  EXPECT_EQ(config.snaplen, 256);
  EXPECT_EQ(config.buffer_bytes, 64U * 1024U * 1024U);
  EXPECT_EQ(config.timeout_ms, 100);
  EXPECT_FALSE(config.promiscuous);
  EXPECT_TRUE(config.filter.empty());
}

// The tests below capture on loopback, which needs CAP_NET_RAW (CI runs as root).

TEST(LiveSourceTest, BadFilterIsAClearError) {
  LiveConfig config;
  config.filter = "udp port banana";
  auto source = LiveSource::Open("lo", config);
  ASSERT_FALSE(source);
  EXPECT_EQ(source.error().message.rfind("lo: bad capture filter 'udp port banana': ", 0), 0U)
      << source.error().message;
}

TEST(LiveSourceTest, AnyDeviceUsesCookedHeaders) {
  auto source = LiveSource::Open("any", LiveConfig{});
  ASSERT_TRUE(source) << source.error().message;
  EXPECT_TRUE((*source)->link_type() == LinkType::kLinuxSll2 ||
              (*source)->link_type() == LinkType::kLinuxSll);
  EXPECT_GE((*source)->SelectableFd(), 0);
}

TEST(LiveSourceTest, CapturesLoopbackUdpWithoutBlocking) {
  LiveConfig config;
  config.filter = "udp and dst port 47123";
  config.buffer_bytes = 4 * 1024 * 1024;
  auto opened = LiveSource::Open("lo", config);
  ASSERT_TRUE(opened) << opened.error().message;
  LiveSource& source = **opened;
  EXPECT_EQ(source.link_type(), LinkType::kEthernet);
  RecordingSink sink;
  // Nothing is waiting: Dispatch returns at once with nothing read.
  auto idle = source.Dispatch(16, sink);
  ASSERT_TRUE(idle);
  EXPECT_EQ(*idle, DispatchState::kMore);

  const int sock = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(47123);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(::sendto(sock, "hello", 5, 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to)), 5);
  }
  ::close(sock);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (sink.packets.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{source.SelectableFd(), POLLIN, 0};
    ::poll(&pfd, 1, 200);
    auto state = source.Dispatch(16, sink);
    ASSERT_TRUE(state) << state.error().message;
  }
  ASSERT_EQ(sink.packets.size(), 3U);
  EXPECT_EQ(sink.packets[0].dst_port, 47123);
  EXPECT_EQ(sink.packets[0].proto, 17);
  EXPECT_EQ(sink.packets[0].dst.ToString(), "127.0.0.1");
  EXPECT_GE(source.Stats().frames, 3U);
  EXPECT_EQ(source.Stats().delivered, 3U);

  source.BreakLoop();
  auto after = source.Dispatch(16, sink);
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, DispatchState::kEndOfInput);
}

TEST(LiveSourceTest, NflogGroupOpensWithNflogLinkType) {
  auto source = LiveSource::Open("nflog:4242", LiveConfig{});
  ASSERT_TRUE(source) << source.error().message;
  EXPECT_EQ((*source)->link_type(), LinkType::kNflog);
  EXPECT_GE((*source)->SelectableFd(), 0);
}

}  // namespace
}  // namespace bulkhead::capture
