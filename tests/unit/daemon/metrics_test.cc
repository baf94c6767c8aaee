#include "daemon/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <boost/asio/io_context.hpp>

namespace bulkhead::daemon {
namespace {

std::shared_ptr<spdlog::logger> NullLogger() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

TEST(MetricsTest, RendersFamiliesSortedWithHelpAndType) {
  Metrics m;
  m.Describe("bulkhead_packets_total", MetricType::kCounter, "Packets seen.");
  m.Describe("bulkhead_edges", MetricType::kGauge, "Edges in the graph.");
  m.Add("bulkhead_packets_total", {}, 3);
  m.Add("bulkhead_packets_total", {});
  m.Set("bulkhead_edges", {}, 12);
  EXPECT_EQ(m.Render(),
            "# HELP bulkhead_edges Edges in the graph.\n"
            "# TYPE bulkhead_edges gauge\n"
            "bulkhead_edges 12\n"
            "# HELP bulkhead_packets_total Packets seen.\n"
            "# TYPE bulkhead_packets_total counter\n"
            "bulkhead_packets_total 4\n");
  EXPECT_EQ(m.Get("bulkhead_packets_total"), 4);
  EXPECT_EQ(m.Get("bulkhead_edges"), 12);
  EXPECT_EQ(m.Get("absent"), 0);
}

TEST(MetricsTest, DescribedFamilyWithoutSamplesStillRenders) {
  Metrics m;
  m.Describe("bulkhead_violations_total", MetricType::kCounter, "Violations.");
  EXPECT_EQ(m.Render(),
            "# HELP bulkhead_violations_total Violations.\n"
            "# TYPE bulkhead_violations_total counter\n");
}

TEST(MetricsTest, SamplesSortedByLabelSet) {
  Metrics m;
  m.Describe("x_total", MetricType::kCounter, "x");
  m.Add("x_total", {{"reason", "truncated_tcp"}}, 2);
  m.Add("x_total", {{"reason", "bad_ipv4_header"}}, 1);
  m.Add("x_total", {{"from", "a"}, {"to", "b"}}, 5);
  EXPECT_EQ(m.Render(),
            "# HELP x_total x\n"
            "# TYPE x_total counter\n"
            "x_total{from=\"a\",to=\"b\"} 5\n"
            "x_total{reason=\"bad_ipv4_header\"} 1\n"
            "x_total{reason=\"truncated_tcp\"} 2\n");
  EXPECT_EQ(m.Get("x_total", {{"reason", "truncated_tcp"}}), 2);
  EXPECT_EQ(m.Get("x_total", {{"reason", "other"}}), 0);
}

// An info gauge whose label changes (the policy digest) drops its old sample; HELP stays.
TEST(MetricsTest, RemoveDropsOneSample) {
  Metrics m;
  m.Describe("bulkhead_policy_info", MetricType::kGauge, "Policy in force.");
  m.Set("bulkhead_policy_info", {{"digest", "sha256:aa"}}, 1);
  m.Remove("bulkhead_policy_info", {{"digest", "sha256:aa"}});
  m.Set("bulkhead_policy_info", {{"digest", "sha256:bb"}}, 1);
  m.Remove("bulkhead_policy_info", {{"digest", "sha256:cc"}});  // absent: nothing happens
  m.Remove("absent_family", {});
  EXPECT_EQ(m.Render(),
            "# HELP bulkhead_policy_info Policy in force.\n"
            "# TYPE bulkhead_policy_info gauge\n"
            "bulkhead_policy_info{digest=\"sha256:bb\"} 1\n");
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  Metrics m;
  m.Describe("y", MetricType::kGauge, "line one\nback\\slash \"quoted\"");
  m.Set("y", {{"name", "a\"b\\c\nd"}}, 1);
  EXPECT_EQ(m.Render(),
            "# HELP y line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE y gauge\n"
            "y{name=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(MetricsTest, ValueFormatting) {
  Metrics m;
  m.Set("g", {{"k", "a"}}, 0.25);
  m.Set("g", {{"k", "b"}}, -3);
  m.Set("g", {{"k", "c"}}, 1e15);
  m.Set("g", {{"k", "d"}}, 1.5e300);
  m.Set("g", {{"k", "e"}}, std::numeric_limits<double>::infinity());
  m.Set("g", {{"k", "f"}}, std::numeric_limits<double>::quiet_NaN());
  m.Set("g", {{"k", "g"}}, 0);
  EXPECT_EQ(m.Render(),
            "# TYPE g gauge\n"
            "g{k=\"a\"} 0.25\n"
            "g{k=\"b\"} -3\n"
            "g{k=\"c\"} 1000000000000000\n"
            "g{k=\"d\"} 1.5e+300\n"
            "g{k=\"e\"} +Inf\n"
            "g{k=\"f\"} NaN\n"
            "g{k=\"g\"} 0\n");
}

TEST(MetricsTest, UndescribedFamiliesGetATypeFromFirstUse) {
  Metrics m;
  m.Add("c_total", {});
  m.Set("g", {}, 2);
  EXPECT_EQ(m.Render(), "# TYPE c_total counter\nc_total 1\n# TYPE g gauge\ng 2\n");
}

TEST(MetricsTest, ConcurrentUpdatesFromThreads) {
  Metrics m;
  m.Describe("c_total", MetricType::kCounter, "c");
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < kPerThread; ++i) {
        m.Add("c_total", {});
        m.Add("c_total", {{"thread", std::to_string(t)}});
        if (i % 1000 == 0) {
          (void)m.Render();  // readers interleave with writers
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(m.Get("c_total"), kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(m.Get("c_total", {{"thread", std::to_string(t)}}), kPerThread);
  }
}

// A blocking client on a plain socket, run on its own thread while the test thread runs the
// io_context: it sends `request` verbatim and returns everything the server sent until it closed.
std::string Exchange(std::uint16_t port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return "socket failed";
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "connect failed";
  }
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      break;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string reply;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      break;
    }
    reply.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return reply;
}

// Runs the server's loop on this thread until the client thread is done.
std::string RoundTrip(boost::asio::io_context& io, std::uint16_t port, const std::string& request) {
  std::string reply;
  std::atomic<bool> done{false};
  std::thread client([&] {
    reply = Exchange(port, request);
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(20));
    io.restart();
  }
  client.join();
  return reply;
}

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    metrics_.Describe("bulkhead_packets_total", MetricType::kCounter, "Packets seen.");
    metrics_.Add("bulkhead_packets_total", {}, 42);
    auto server = MetricsServer::Listen(io_, "127.0.0.1", 0, metrics_, NullLogger());
    ASSERT_TRUE(server.has_value()) << server.error();
    server_ = std::move(*server);
    ASSERT_NE(server_->port(), 0);
  }

  boost::asio::io_context io_;
  Metrics metrics_;
  std::unique_ptr<MetricsServer> server_;
};

TEST_F(MetricsServerTest, GetMetricsReturnsTheRenderedPage) {
  const std::string reply =
      RoundTrip(io_, server_->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << reply;
  EXPECT_NE(reply.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << reply;
  const std::size_t body = reply.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  EXPECT_EQ(reply.substr(body + 4), metrics_.Render());
  EXPECT_NE(reply.find("bulkhead_packets_total 42\n"), std::string::npos);
}

TEST_F(MetricsServerTest, OtherPathIs404) {
  const std::string reply = RoundTrip(io_, server_->port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0U) << reply;
}

TEST_F(MetricsServerTest, OtherMethodIs405) {
  const std::string reply = RoundTrip(
      io_, server_->port(), "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_EQ(reply.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0U) << reply;
  EXPECT_NE(reply.find("Allow: GET, HEAD"), std::string::npos) << reply;
}

TEST_F(MetricsServerTest, GarbageIsDroppedAndServerKeepsServing) {
  const std::string garbage = RoundTrip(io_, server_->port(), "\x01\x02 not http\r\n\r\n");
  EXPECT_EQ(garbage.find("200 OK"), std::string::npos);
  const std::string reply = RoundTrip(io_, server_->port(), "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.0 200 OK\r\n", 0), 0U) << reply;
}

TEST_F(MetricsServerTest, BindErrorNamesTheAddress) {
  boost::asio::io_context other;
  auto second = MetricsServer::Listen(other, "127.0.0.1", server_->port(), metrics_, NullLogger());
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().find("127.0.0.1:" + std::to_string(server_->port())), std::string::npos)
      << second.error();
  EXPECT_NE(second.error().find("in use"), std::string::npos) << second.error();
}

TEST_F(MetricsServerTest, CloseStopsAccepting) {
  server_->Close();
  const std::string reply =
      RoundTrip(io_, server_->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(reply, "connect failed");
}

// Connects without sending anything; -1 on failure.
int IdleConnection(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True when the server closed `fd` (recv sees end of stream) within `wait` of running the loop.
bool ClosedByServer(boost::asio::io_context& io, int fd, std::chrono::milliseconds wait) {
  timeval tv{0, 10'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(20));
    io.restart();
    char c = 0;
    if (::recv(fd, &c, 1, 0) == 0) {
      return true;
    }
  }
  return false;
}

// The server's cap on open connections (kMaxConnections in metrics.cc).
constexpr int kCap = 32;

// At the cap a new connection is kept and the oldest one still waiting for a request is shed.
TEST_F(MetricsServerTest, AtTheCapTheOldestIdleConnectionIsShed) {
  std::vector<int> idle;
  for (int i = 0; i < kCap; ++i) {
    idle.push_back(IdleConnection(server_->port()));
    ASSERT_GE(idle.back(), 0);
    io_.run_for(std::chrono::milliseconds(10));  // accept them in order
    io_.restart();
  }
  io_.run_for(std::chrono::milliseconds(200));
  io_.restart();
  const int extra = IdleConnection(server_->port());
  ASSERT_GE(extra, 0);
  EXPECT_TRUE(ClosedByServer(io_, idle[0], std::chrono::milliseconds(1000)));
  EXPECT_FALSE(ClosedByServer(io_, extra, std::chrono::milliseconds(100)));
  EXPECT_FALSE(ClosedByServer(io_, idle[1], std::chrono::milliseconds(100)));
  ::close(extra);
  for (const int fd : idle) {
    ::close(fd);
  }
  const std::string reply =
      RoundTrip(io_, server_->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << reply;
}

// A slowloris: the request is never finished, one byte each 100 ms. It is cut off within the
// request deadline (2 s) of its first byte although it keeps sending.
TEST_F(MetricsServerTest, SlowRequestIsCutOffFromItsFirstByte) {
  const int fd = IdleConnection(server_->port());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::send(fd, "GET /metrics HTTP/1.1\r\n", 23, MSG_NOSIGNAL), 23);
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() - start < std::chrono::seconds(4)) {
    closed = ClosedByServer(io_, fd, std::chrono::milliseconds(100));
    if (!closed) {
      ::send(fd, "x", 1, MSG_NOSIGNAL);
    }
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(closed);
  EXPECT_LT(took, std::chrono::milliseconds(2600));
  EXPECT_GT(took, std::chrono::milliseconds(1500));
  ::close(fd);
}

// What a hostile local process does to the liveness probe (issue 18: with 16 idle connections
// held, 0 of 100 scrapes were answered): it holds `idle` connections open, reopening each one
// the server closes, and runs `slow` slowloris connections (a byte per 100 ms, reconnecting when
// cut off), until `stop`.
struct HostileClients {
  std::uint16_t port = 0;
  int idle = 0;
  int slow = 0;
  std::atomic<bool> stop{false};
  std::atomic<int> reopened{0};  // idle and slow connections the server closed
  std::atomic<int> held{0};      // connections open at the last round

  void Run() {
    std::vector<int> fds(static_cast<std::size_t>(idle + slow), -1);
    const auto is_slow = [&](std::size_t i) { return i >= static_cast<std::size_t>(idle); };
    auto next_byte = std::chrono::steady_clock::now();
    while (!stop) {
      const bool tick = std::chrono::steady_clock::now() >= next_byte;
      if (tick) {
        next_byte += std::chrono::milliseconds(100);
      }
      int open = 0;
      for (std::size_t i = 0; i < fds.size(); ++i) {
        char c = 0;
        if (fds[i] >= 0 && ::recv(fds[i], &c, 1, MSG_DONTWAIT) == 0) {
          ::close(fds[i]);
          fds[i] = -1;
          ++reopened;
        }
        if (fds[i] < 0) {
          fds[i] = IdleConnection(port);
        }
        if (fds[i] >= 0 && is_slow(i) && tick) {
          ::send(fds[i], "G", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        open += fds[i] >= 0 ? 1 : 0;
      }
      held = open;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (const int fd : fds) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  }
};

// One scrape with a client-side timeout, as kubelet's probe has: true on a 200 answer.
bool ScrapeAnswered(std::uint16_t port, std::chrono::milliseconds timeout) {
  const int fd = IdleConnection(port);
  if (fd < 0) {
    return false;
  }
  timeval tv{0, static_cast<suseconds_t>(timeout.count() * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string reply;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
      static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        break;
      }
      reply.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return reply.rfind("HTTP/1.1 200 OK\r\n", 0) == 0;
}

TEST_F(MetricsServerTest, ScrapesAreAnsweredWhileIdleSocketsAndSlowlorisHoldOn) {
  std::atomic<bool> stop{false};
  std::thread loop([&] {
    while (!stop) {
      io_.run_for(std::chrono::milliseconds(20));
      io_.restart();
    }
  });
  HostileClients hostile;
  hostile.port = server_->port();
  hostile.idle = 2 * kCap;  // more idle sockets than the server has slots
  hostile.slow = 4;
  std::thread attacker([&] { hostile.Run(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  int answered = 0;
  constexpr int kScrapes = 100;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kScrapes; ++i) {
    answered += ScrapeAnswered(server_->port(), std::chrono::milliseconds(1000)) ? 1 : 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  hostile.stop = true;
  attacker.join();
  stop = true;
  loop.join();
  std::printf(
      "scrapes answered: %d of %d in %lld ms; hostile sockets held at the end %d, "
      "closed by the server and reopened %d\n",
      answered, kScrapes, static_cast<long long>(took.count()), hostile.held.load(),
      hostile.reopened.load());
  EXPECT_EQ(answered, kScrapes);
  EXPECT_GT(hostile.reopened.load(), 0);  // the attack really hit the cap
}

TEST_F(MetricsServerTest, IdleConnectionIsClosedAtTheDeadline) {
  const int fd = IdleConnection(server_->port());
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(ClosedByServer(io_, fd, std::chrono::milliseconds(4000)));
  EXPECT_TRUE(ClosedByServer(io_, fd, std::chrono::milliseconds(2500)));
  ::close(fd);
}

TEST(MetricsServerListenTest, RejectsANonAddress) {
  boost::asio::io_context io;
  Metrics m;
  auto server = MetricsServer::Listen(io, "example.com", 0, m, NullLogger());
  ASSERT_FALSE(server.has_value());
  EXPECT_NE(server.error().find("example.com"), std::string::npos) << server.error();
}

TEST(MetricsServerListenTest, ListensOnIpv6Loopback) {
  boost::asio::io_context io;
  Metrics m;
  auto server = MetricsServer::Listen(io, "::1", 0, m, NullLogger());
  if (!server.has_value()) {
    // Only a kernel without IPv6 refuses; then the error must still name the address.
    EXPECT_NE(server.error().find("[::1]"), std::string::npos) << server.error();
    return;
  }
  EXPECT_NE((*server)->port(), 0);
}

}  // namespace
}  // namespace bulkhead::daemon
