// The violation reader against the real kernel: nftables logs to NFLOG, libpcap's nflog:N reads
// it, the monitor turns it into JSON lines and metrics. Runs as root in a network namespace of its
// own (unshare in this process), so the host's rules and traffic are never touched; the ruleset
// only logs, it never drops.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <boost/asio/io_context.hpp>

#include "daemon/violations.h"

namespace bulkhead::daemon {
namespace {

constexpr char kRuleset[] = R"(table inet bhtest {
  chain out {
    type filter hook output priority 0; policy accept;
    tcp dport 9999 log prefix "bulkhead deny " group 7
    udp dport 9998 log prefix "bulkhead warn " group 7
  }
}
)";

sockaddr_in Loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// A SYN to a port nobody listens on: the output hook sees (and logs) it, the RST ends it.
void ConnectTcp(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  const sockaddr_in addr = Loopback(port);
  ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  ::close(fd);
}

void SendUdp(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  const sockaddr_in addr = Loopback(port);
  ASSERT_EQ(::sendto(fd, "hi", 2, 0, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 2)
      << std::strerror(errno);
  ::close(fd);
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

class ViolationMonitorNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0U) << "this test needs root: unshare(CLONE_NEWNET), nft, nflog";
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << std::strerror(errno);
    ASSERT_EQ(std::system("ip link set lo up"), 0);
    char dir_template[] = "/tmp/bulkhead-violations-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_template), nullptr) << std::strerror(errno);
    dir_ = dir_template;
    const std::string ruleset = dir_ + "/ruleset.nft";
    std::ofstream(ruleset) << kRuleset;
    ASSERT_EQ(std::system(("nft -f " + ruleset).c_str()), 0);
    log_ = std::make_shared<spdlog::logger>(
        "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text_));
  }

  void TearDown() override {
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  // Runs the loop until `n` violations have arrived in total, or 5 s have passed.
  void RunUntil(boost::asio::io_context& io, std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (seen_.size() < n && std::chrono::steady_clock::now() < deadline) {
      io.run_one_for(std::chrono::milliseconds(50));
    }
  }

  std::string dir_;
  std::ostringstream log_text_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<Violation> seen_;
};

TEST_F(ViolationMonitorNetnsTest, KernelLogRecordsBecomeViolations) {
  boost::asio::io_context io;
  Metrics metrics;
  ViolationMonitorOptions options;
  options.nflog_group = 7;
  options.violations_file = dir_ + "/violations.jsonl";
  options.log_lines_per_second = 1;  // the second violation in a burst is not logged
  const auto resolver = [](const capture::IpAddr& address) {
    if (address.ToString() == "127.0.0.1") {
      return ViolationEndpoint{"a", "ga", "", ""};
    }
    return ViolationEndpoint{};
  };
  auto started = ViolationMonitor::Start(io, options, resolver, metrics, log_,
                                         [this](const Violation& v) { seen_.push_back(v); });
  ASSERT_TRUE(started.has_value()) << started.error();
  auto& monitor = *started;

  ConnectTcp(9999);
  SendUdp(9998);
  RunUntil(io, 2);
  ASSERT_EQ(seen_.size(), 2U) << log_text_.str();
  EXPECT_EQ(monitor->count(), 2U);

  const Violation* tcp = seen_[0].protocol == "tcp" ? &seen_[0] : &seen_[1];
  const Violation* udp = seen_[0].protocol == "tcp" ? &seen_[1] : &seen_[0];
  EXPECT_EQ(tcp->verdict, "blocked");
  EXPECT_EQ(tcp->protocol, "tcp");
  EXPECT_EQ(tcp->port, 9999);
  EXPECT_EQ(tcp->from.workload, "a");
  EXPECT_EQ(tcp->from.group, "ga");
  EXPECT_EQ(tcp->from.address, "127.0.0.1");
  EXPECT_EQ(tcp->to.group, "ga");
  EXPECT_EQ(udp->verdict, "monitored");
  EXPECT_EQ(udp->protocol, "udp");
  EXPECT_EQ(udp->port, 9998);
  // The kernel's timestamp (or, without one, the read time) is now, not zero.
  const auto now_usec =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  EXPECT_LT(now_usec - tcp->ts_usec, 10'000'000U);

  const std::vector<std::string> lines = ReadLines(options.violations_file);
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(lines[0], ViolationJson(seen_[0]));
  EXPECT_EQ(lines[1], ViolationJson(seen_[1]));
  EXPECT_NE(
      lines[0].find("\"from\":{\"workload\":\"a\",\"group\":\"ga\",\"address\":\"127.0.0.1\"}"),
      std::string::npos)
      << lines[0];
  struct stat st {};
  ASSERT_EQ(::stat(options.violations_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640U);

  EXPECT_EQ(metrics.Get("bulkhead_violations_total",
                        {{"from", "ga"}, {"to", "ga"}, {"verdict", "blocked"}}),
            1);
  EXPECT_EQ(metrics.Get("bulkhead_violations_total",
                        {{"from", "ga"}, {"to", "ga"}, {"verdict", "monitored"}}),
            1);
  EXPECT_EQ(metrics.Get("bulkhead_nflog_malformed_total"), 0);
  EXPECT_EQ(metrics.Get("bulkhead_violation_log_suppressed_total"), 1);
  EXPECT_NE(metrics.Render().find("# TYPE bulkhead_violations_total counter"), std::string::npos);
  EXPECT_NE(log_text_.str().find("violation blocked: a (group ga, 127.0.0.1)"), std::string::npos)
      << log_text_.str();

  // After logrotate moved the file, Reopen starts a new one; the next log line owns up to the
  // line that was suppressed.
  const std::string rotated = options.violations_file + ".1";
  ASSERT_EQ(std::rename(options.violations_file.c_str(), rotated.c_str()), 0);
  monitor->Reopen();
  const auto refill = std::chrono::steady_clock::now() + std::chrono::milliseconds(1100);
  while (std::chrono::steady_clock::now() < refill) {
    io.run_one_for(std::chrono::milliseconds(50));
  }
  ConnectTcp(9999);
  RunUntil(io, 3);
  ASSERT_EQ(seen_.size(), 3U) << log_text_.str();
  EXPECT_EQ(ReadLines(options.violations_file).size(), 1U);
  EXPECT_EQ(ReadLines(rotated).size(), 2U);
  EXPECT_NE(log_text_.str().find("(1 more violations not logged)"), std::string::npos)
      << log_text_.str();

  // Traffic the ruleset does not log is not reported; after Stop nothing more is read.
  SendUdp(9997);
  monitor->Stop();
  SendUdp(9998);
  io.restart();
  io.run_for(std::chrono::milliseconds(300));
  EXPECT_EQ(seen_.size(), 3U);
}

}  // namespace
}  // namespace bulkhead::daemon

namespace bulkhead::daemon {
namespace {

TEST_F(ViolationMonitorNetnsTest, StartErrorsNameWhatFailed) {
  boost::asio::io_context io;
  Metrics metrics;
  ViolationMonitorOptions options;
  options.nflog_group = 8;
  options.violations_file = dir_ + "/no/such/dir/violations.jsonl";
  auto bad_file = ViolationMonitor::Start(io, options, {}, metrics, log_);
  ASSERT_FALSE(bad_file.has_value());
  EXPECT_NE(bad_file.error().find(options.violations_file), std::string::npos) << bad_file.error();

  // The kernel gives an NFLOG group to one reader at a time.
  options.violations_file.clear();
  auto first = ViolationMonitor::Start(io, options, {}, metrics, log_);
  ASSERT_TRUE(first.has_value()) << first.error();
  auto second = ViolationMonitor::Start(io, options, {}, metrics, log_);
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().find("nflog:8"), std::string::npos) << second.error();
}

}  // namespace
}  // namespace bulkhead::daemon
