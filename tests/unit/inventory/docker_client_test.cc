#include "inventory/docker_client.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace bulkhead::inventory {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace fs = std::filesystem;
using local = asio::local::stream_protocol;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

std::string Answer(int status, std::string_view reason, std::string_view body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

std::string Chunk(std::string_view data) {
  char size[16];
  std::snprintf(size, sizeof(size), "%zx", data.size());
  return std::string(size) + "\r\n" + std::string(data) + "\r\n";
}

// A stand-in dockerd on a unix socket: for each connection, reads one request and writes what
// `respond(target)` gives, piece by piece (a small pause between pieces so the client sees them
// arrive separately); an empty list means never answer.
class FakeDockerd {
 public:
  using Responder = std::function<std::vector<std::string>(const std::string& target)>;

  FakeDockerd(asio::io_context& io, Responder respond)
      : io_(io), acceptor_(io), respond_(std::move(respond)) {
    std::string tmpl = (fs::temp_directory_path() / "bulkhead-dockerd-XXXXXX").string();
    EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "docker.sock").string();
    acceptor_.open();
    acceptor_.bind(local::endpoint(path_));
    acceptor_.listen();
    asio::co_spawn(io_, Accept(), asio::detached);
  }
  ~FakeDockerd() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    fs::remove_all(dir_);
  }
  const std::string& path() const { return path_; }
  const std::vector<std::string>& targets() const { return targets_; }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
      if (ec) {
        co_return;
      }
      asio::co_spawn(io_, Serve(std::move(socket)), asio::detached);
    }
  }
  asio::awaitable<void> Serve(local::socket socket) {
    boost::beast::flat_buffer buffer;
    http::request<http::empty_body> req;
    auto [ec, n] = co_await http::async_read(socket, buffer, req, kNoThrow);
    if (ec) {
      co_return;
    }
    const std::string target(req.target());
    targets_.push_back(target);
    const std::vector<std::string> pieces = respond_(target);
    if (pieces.empty()) {  // hang: keep the connection open, answer nothing
      asio::steady_timer t(io_, std::chrono::seconds(30));
      co_await t.async_wait(kNoThrow);
      co_return;
    }
    for (const std::string& piece : pieces) {
      auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(piece), kNoThrow);
      if (wec) {
        co_return;
      }
      asio::steady_timer t(io_, std::chrono::milliseconds(5));
      co_await t.async_wait(kNoThrow);
    }
  }

  asio::io_context& io_;
  local::acceptor acceptor_;
  Responder respond_;
  fs::path dir_;
  std::string path_;
  std::vector<std::string> targets_;
};

// Runs `body` on `io` until it finishes (or 5 s pass: then the test fails).
void RunUntilDone(asio::io_context& io, std::function<asio::awaitable<void>()> body) {
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await body();
        done = true;
        io.stop();
      },
      asio::detached);
  io.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(done) << "did not finish within 5 s";
}

DockerClientOptions Options(const std::string& path) {
  DockerClientOptions o;
  o.socket_path = path;
  o.request_timeout = std::chrono::milliseconds(300);
  return o;
}

TEST(DockerClientTest, NegotiatesVersionThenPrefixesRequests) {
  asio::io_context io;
  FakeDockerd dockerd(io, [](const std::string& target) -> std::vector<std::string> {
    if (target == "/version") {
      return {Answer(200, "OK", R"({"ApiVersion":"1.45","MinAPIVersion":"1.24"})")};
    }
    return {Answer(200, "OK", "[]")};
  });
  DockerClient client(io.get_executor(), Options(dockerd.path()));
  RunUntilDone(io, [&]() -> asio::awaitable<void> {
    auto v = co_await client.NegotiateVersion();
    EXPECT_TRUE(v.has_value());
    if (v) {
      EXPECT_EQ(*v, "1.41");  // capped: the shapes bulkhead was written against
    }
    auto body = co_await client.Get("/containers/json");
    EXPECT_TRUE(body.has_value());
    if (body) {
      EXPECT_EQ(*body, "[]");
    }
  });
  EXPECT_EQ(dockerd.targets(), (std::vector<std::string>{"/version", "/v1.41/containers/json"}));
}

TEST(DockerClientTest, ErrorStatusCarriesDockersMessage) {
  asio::io_context io;
  FakeDockerd dockerd(io, [](const std::string&) -> std::vector<std::string> {
    return {Answer(404, "Not Found", R"({"message":"No such container: abc"})")};
  });
  DockerClient client(io.get_executor(), Options(dockerd.path()));
  RunUntilDone(io, [&]() -> asio::awaitable<void> {
    unsigned status = 0;
    auto r = co_await client.Get("/containers/abc/json", &status);
    EXPECT_FALSE(r.has_value());
    EXPECT_EQ(status, 404u);
    if (!r) {
      EXPECT_EQ(r.error().message, "GET /containers/abc/json on " + dockerd.path() +
                                       ": HTTP 404 Not Found: No such container: abc");
    }
  });
}

TEST(DockerClientTest, SilentDockerdTimesOut) {
  asio::io_context io;
  FakeDockerd dockerd(io, [](const std::string&) { return std::vector<std::string>{}; });
  DockerClient client(io.get_executor(), Options(dockerd.path()));
  const auto start = std::chrono::steady_clock::now();
  RunUntilDone(io, [&]() -> asio::awaitable<void> {
    auto r = co_await client.Get("/containers/json");
    EXPECT_FALSE(r.has_value());
    if (!r) {
      EXPECT_NE(r.error().message.find("GET /containers/json on " + dockerd.path() + ": "),
                std::string::npos);
      EXPECT_NE(r.error().message.find("timeout"), std::string::npos) << r.error().message;
    }
  });
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(DockerClientTest, MissingSocketIsOneClearLine) {
  asio::io_context io;
  const std::string path = "/nonexistent-bulkhead-dir/docker.sock";
  DockerClient client(io.get_executor(), Options(path));
  RunUntilDone(io, [&]() -> asio::awaitable<void> {
    auto r = co_await client.Get("/version");
    EXPECT_FALSE(r.has_value());
    if (!r) {
      EXPECT_EQ(r.error().message,
                "cannot connect to Docker at " + path + ": No such file or directory");
    }
  });
}

TEST(DockerClientTest, OversizedAnswerIsRefused) {
  asio::io_context io;
  FakeDockerd dockerd(io, [](const std::string&) -> std::vector<std::string> {
    return {Answer(200, "OK", std::string(4096, ' '))};
  });
  DockerClientOptions o = Options(dockerd.path());
  o.max_body_bytes = 1024;
  DockerClient client(io.get_executor(), o);
  RunUntilDone(io, [&]() -> asio::awaitable<void> {
    auto r = co_await client.Get("/containers/json");
    EXPECT_FALSE(r.has_value());
    if (!r) {
      EXPECT_NE(r.error().message.find("body limit"), std::string::npos) << r.error().message;
    }
  });
}

// Event lines split across chunk boundaries (and two in one chunk) arrive whole and in order,
// after on_open; the end of the stream is reported.
TEST(DockerClientTest, EventStreamDeliversWholeLinesInOrder) {
  asio::io_context io;
  FakeDockerd dockerd(io, [](const std::string& target) -> std::vector<std::string> {
    if (target.rfind("/events?filters=", 0) != 0) {
      return {Answer(400, "Bad Request", "{}")};
    }
    return {
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
        Chunk("{\"a\":1}\n{\"b\""), Chunk(":2}\n"), Chunk("{\"c\":3}\n{\"d\":4}\n"),
        Chunk("{\"e\":5}\n")};  // then the connection closes without the last chunk
  });
  DockerClient client(io.get_executor(), Options(dockerd.path()));
  std::vector<std::string> seen;
  RunUntilDone(io, [&]() -> asio::awaitable<void> {
    std::string reason = co_await client.FollowEvents(
        [&]() -> asio::awaitable<void> {
          seen.push_back("open");
          co_return;
        },
        [&](std::string_view line) -> asio::awaitable<void> {
          seen.emplace_back(line);
          co_return;
        });
    EXPECT_EQ(reason.rfind("event stream on " + dockerd.path() + ": ", 0), 0u) << reason;
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"open", R"({"a":1})", R"({"b":2})", R"({"c":3})",
                                            R"({"d":4})", R"({"e":5})"}));
}

TEST(DockerClientTest, EventStreamRefusedIsReported) {
  asio::io_context io;
  FakeDockerd dockerd(io, [](const std::string&) -> std::vector<std::string> {
    return {Answer(500, "Internal Server Error", R"({"message":"boom"})")};
  });
  DockerClient client(io.get_executor(), Options(dockerd.path()));
  bool opened = false;
  RunUntilDone(io, [&]() -> asio::awaitable<void> {
    std::string reason = co_await client.FollowEvents(
        [&]() -> asio::awaitable<void> {
          opened = true;
          co_return;
        },
        [&](std::string_view) -> asio::awaitable<void> { co_return; });
    EXPECT_EQ(reason, "event stream on " + dockerd.path() + ": HTTP 500 Internal Server Error");
  });
  EXPECT_FALSE(opened);
}

}  // namespace
}  // namespace bulkhead::inventory
