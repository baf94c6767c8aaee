#include "daemon/control_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace bulkhead::daemon {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<spdlog::logger> NullLogger() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

// The agent's handler in miniature: one known command, everything else refused.
ControlReply TestHandler(std::string_view command) {
  if (command == "status") {
    return {true, "mode: enforce\nworkloads: 3\n"};
  }
  return {false, "unknown command \"" + std::string(command) + "\""};
}

// A raw unix socket bound at `path`, optionally listening; closing it leaves the file behind
// (what a crashed agent leaves).
int RawBound(const std::string& path, bool listening) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  EXPECT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0)
      << std::strerror(errno);
  if (listening) {
    EXPECT_EQ(::listen(fd, 4), 0);
  }
  return fd;
}

// A raw client: sends `request` as is, returns everything the server says until it closes.
std::string RawExchange(const std::string& path, const std::string& request) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  if (!request.empty()) {
    EXPECT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  }
  std::string out;
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      break;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

class ControlSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bulkhead-control-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/run/control.sock";
  }

  void TearDown() override {
    StopLoop();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Listens at `path` with TestHandler; the loop is not running yet.
  boost::system::result<std::unique_ptr<ControlServer>, std::string> Listen(
      const std::string& path) {
    return ControlServer::Listen(io_, path, TestHandler, NullLogger());
  }

  void StartLoop() {
    loop_ = std::thread([this] { io_.run(); });
  }

  void StopLoop() {
    if (loop_.joinable()) {
      work_.reset();
      io_.stop();
      loop_.join();
    }
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      boost::asio::make_work_guard(io_)};
  std::thread loop_;
  std::string dir_;
  std::string path_;
  std::unique_ptr<ControlServer> server_;
};

TEST_F(ControlSocketTest, RoundTripOkAndError) {
  auto server = Listen(path_);
  ASSERT_TRUE(server) << server.error();
  server_ = std::move(*server);
  StartLoop();

  auto status = SendControlCommand(path_, "status", 2s);
  ASSERT_TRUE(status) << status.error();
  EXPECT_TRUE(status->ok);
  EXPECT_EQ(status->text, "mode: enforce\nworkloads: 3\n");

  auto unknown = SendControlCommand(path_, "frobnicate", 2s);
  ASSERT_TRUE(unknown) << unknown.error();
  EXPECT_FALSE(unknown->ok);
  EXPECT_EQ(unknown->text, "unknown command \"frobnicate\"");

  // The wire format, byte for byte; a command without its newline (client closed) works too.
  EXPECT_EQ(RawExchange(path_, "status\n"), "ok\nmode: enforce\nworkloads: 3\n");
  EXPECT_EQ(RawExchange(path_, "status\r\n"), "ok\nmode: enforce\nworkloads: 3\n");
}

TEST_F(ControlSocketTest, SocketIsMode0600InA0700Directory) {
  auto server = Listen(path_);
  ASSERT_TRUE(server) << server.error();
  server_ = std::move(*server);
  struct stat st {};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  ASSERT_EQ(::stat((dir_ + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700U);
}

TEST_F(ControlSocketTest, OtherUsersAreRefused) {
  // As root the mode is not enforced for us; a child that drops to nobody sees it. The socket
  // sits in a world-traversable directory so that only the socket's own mode can refuse.
  ASSERT_EQ(::getuid(), 0U) << "this test runs as root (it checks what another user sees)";
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  const std::string path = dir_ + "/control.sock";
  auto server = Listen(path);
  ASSERT_TRUE(server) << server.error();
  server_ = std::move(*server);
  // Refused at connect(), before any event loop is involved; no thread runs across the fork.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
      ::_exit(3);
    }
    auto reply = SendControlCommand(path, "status", 1s);
    ::_exit(!reply && reply.error() ==
                          "permission denied on " + path + " (the control socket is root-only)"
                ? 0
                : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: not refused as documented, 3: could not drop root";
  // The owner still gets in.
  StartLoop();
  EXPECT_TRUE(SendControlCommand(path, "status", 2s));
}

TEST_F(ControlSocketTest, StaleSocketIsReplaced) {
  std::filesystem::create_directories(dir_ + "/run");
  ::close(RawBound(path_, false));  // a crashed agent's file: nobody listens
  ASSERT_TRUE(std::filesystem::exists(path_));
  auto server = Listen(path_);
  ASSERT_TRUE(server) << server.error();
  server_ = std::move(*server);
  StartLoop();
  auto reply = SendControlCommand(path_, "status", 2s);
  ASSERT_TRUE(reply) << reply.error();
  EXPECT_TRUE(reply->ok);
}

TEST_F(ControlSocketTest, SecondAgentIsRefusedAndTheFirstKeepsItsSocket) {
  auto first = Listen(path_);
  ASSERT_TRUE(first) << first.error();
  server_ = std::move(*first);
  auto second = Listen(path_);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), "another agent is listening on " + path_);
  StartLoop();
  auto reply = SendControlCommand(path_, "status", 2s);
  ASSERT_TRUE(reply) << reply.error();
  EXPECT_TRUE(reply->ok);
}

TEST_F(ControlSocketTest, NonSocketFileIsNeverRemoved) {
  std::filesystem::create_directories(dir_ + "/run");
  std::ofstream(path_) << "precious\n";
  auto server = Listen(path_);
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error(), path_ + " exists and is not a socket");
  std::ifstream in(path_);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "precious");
}

TEST_F(ControlSocketTest, CloseRemovesOnlyItsOwnFile) {
  auto server = Listen(path_);
  ASSERT_TRUE(server) << server.error();
  (*server)->Close();
  EXPECT_FALSE(std::filesystem::exists(path_));
  (*server)->Close();  // twice is harmless

  // A server whose file was replaced (by a newer agent) leaves the newcomer's file alone.
  auto old_server = Listen(path_);
  ASSERT_TRUE(old_server) << old_server.error();
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  const int newcomer = RawBound(path_, true);
  (*old_server)->Close();
  EXPECT_TRUE(std::filesystem::exists(path_));
  ::close(newcomer);
}

TEST_F(ControlSocketTest, OverlongCommandLineIsRefused) {
  auto server = Listen(path_);
  ASSERT_TRUE(server) << server.error();
  server_ = std::move(*server);
  StartLoop();
  EXPECT_EQ(RawExchange(path_, std::string(300, 'x') + "\n"), "error\ncommand line too long");
  // The client refuses to send one in the first place, and multi-line commands.
  auto reply = SendControlCommand(path_, std::string(300, 'x'), 1s);
  ASSERT_FALSE(reply);
  EXPECT_NE(reply.error().find("not a control command"), std::string::npos) << reply.error();
  EXPECT_FALSE(SendControlCommand(path_, "status\nreload", 1s));
}

TEST_F(ControlSocketTest, SilentClientIsDisconnectedAtTheDeadline) {
  auto server = Listen(path_);
  ASSERT_TRUE(server) << server.error();
  server_ = std::move(*server);
  StartLoop();
  const auto start = std::chrono::steady_clock::now();
  // Sends nothing and waits for the server to hang up: about 2 s, answer-less.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  char c = 0;
  EXPECT_EQ(::read(fd, &c, 1), 0);
  ::close(fd);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 1900ms);
  EXPECT_LT(waited, 5s);
  // The server still serves.
  EXPECT_TRUE(SendControlCommand(path_, "status", 2s));
}

TEST_F(ControlSocketTest, ClosedServerAnswersNoMore) {
  auto server = Listen(path_);
  ASSERT_TRUE(server) << server.error();
  server_ = std::move(*server);
  StartLoop();
  std::atomic<bool> closed = false;
  boost::asio::post(io_, [&] {
    server_->Close();
    closed = true;
  });
  while (!closed) {
    std::this_thread::sleep_for(1ms);
  }
  auto reply = SendControlCommand(path_, "status", 1s);
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error(), "no agent listening on " + path_);
}

TEST(SendControlCommand, NoSocketOrStaleSocket) {
  char tmpl[] = "/tmp/bulkhead-control-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string path = dir + "/control.sock";
  auto missing = SendControlCommand(path, "status", 1s);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), "no agent listening on " + path);

  ::close(RawBound(path, false));
  auto stale = SendControlCommand(path, "status", 1s);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error(), "no agent listening on " + path);
  std::filesystem::remove_all(dir);
}

TEST(SendControlCommand, TimesOutWhenTheServerNeverAnswers) {
  char tmpl[] = "/tmp/bulkhead-control-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string path = dir + "/control.sock";
  // Listening but never accepting: connect succeeds through the backlog, no answer comes.
  const int fd = RawBound(path, true);
  const auto start = std::chrono::steady_clock::now();
  auto reply = SendControlCommand(path, "status", 300ms);
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error(), path + ": no answer from the agent within 300 ms");
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 2s);
  ::close(fd);
  std::filesystem::remove_all(dir);
}

// A server thread that accepts one connection, reads the command and answers `answer`.
class FakeAgent {
 public:
  FakeAgent(const std::string& path, std::string answer)
      : fd_(RawBound(path, true)), answer_(std::move(answer)) {
    thread_ = std::thread([this] {
      const int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) {
        return;
      }
      char buf[256];
      (void)!::read(conn, buf, sizeof buf);
      (void)!::write(conn, answer_.data(), answer_.size());
      ::close(conn);
    });
  }
  ~FakeAgent() {
    thread_.join();
    ::close(fd_);
  }

 private:
  int fd_;
  std::string answer_;
  std::thread thread_;
};

TEST(SendControlCommand, MalformedAnswers) {
  char tmpl[] = "/tmp/bulkhead-control-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string path = dir + "/control.sock";
  const auto exchange = [&](const std::string& answer) {
    ::unlink(path.c_str());
    FakeAgent agent(path, answer);
    return SendControlCommand(path, "status", 2s);
  };
  auto hello = exchange("hello\nworld\n");
  ASSERT_FALSE(hello);
  EXPECT_EQ(hello.error(), path + ": malformed answer \"hello\\nworld\\n\"");

  auto empty = exchange("");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error(), path + ": the agent closed the connection without an answer");

  auto okay = exchange("okay\n");
  ASSERT_FALSE(okay);

  // The bare words are answers (no text).
  auto bare = exchange("error");
  ASSERT_TRUE(bare) << bare.error();
  EXPECT_FALSE(bare->ok);
  EXPECT_EQ(bare->text, "");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bulkhead::daemon
