#include "inventory/docker_client.h"

#include <charconv>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "inventory/docker_api.h"

namespace bulkhead::inventory {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Stream = beast::basic_stream<asio::local::stream_protocol, asio::any_io_executor,
                                   beast::unlimited_rate_policy>;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// Starts the deadline that covers connecting and the whole exchange after it.
asio::awaitable<std::string> Connect(Stream& stream, const DockerClientOptions& options) {
  stream.expires_after(options.request_timeout);
  auto [ec] = co_await stream.async_connect(
      asio::local::stream_protocol::endpoint(options.socket_path), kNoThrow);
  if (ec) {
    co_return "cannot connect to Docker at " + options.socket_path + ": " + ec.message();
  }
  co_return std::string();
}

http::request<http::empty_body> MakeRequest(const std::string& target) {
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "docker");  // HTTP/1.1 requires one; dockerd ignores its value
  req.set(http::field::user_agent, "bulkhead");
  return req;
}

std::string StatusError(const std::string& what, unsigned status, std::string_view reason,
                        std::string_view body) {
  std::string out = what + ": HTTP " + std::to_string(status) + " " + std::string(reason);
  const std::string message = DockerErrorMessage(body);
  if (!message.empty()) {
    out += ": " + message;
  }
  return out;
}

// "1.41" -> 1041, for ordering versions; -1 when malformed (ParseApiVersion already checked).
int VersionOrder(std::string_view v) {
  const auto dot = v.find('.');
  int major = 0;
  int minor = 0;
  if (dot == std::string_view::npos ||
      std::from_chars(v.data(), v.data() + dot, major).ec != std::errc() ||
      std::from_chars(v.data() + dot + 1, v.data() + v.size(), minor).ec != std::errc()) {
    return -1;
  }
  return major * 1000 + minor;
}

}  // namespace

boost::system::result<std::string, DockerError> DockerSocketPath(const char* docker_host) {
  if (docker_host == nullptr || *docker_host == '\0') {
    return std::string(kDefaultDockerSocket);
  }
  const std::string_view host(docker_host);
  constexpr std::string_view kUnix = "unix://";
  if (!host.starts_with(kUnix)) {
    return DockerFail("DOCKER_HOST=" + std::string(host) +
                      ": only unix:// sockets are supported (e.g. unix:///var/run/docker.sock)");
  }
  if (host.size() == kUnix.size()) {
    return DockerFail("DOCKER_HOST=" + std::string(host) + ": no socket path after unix://");
  }
  return std::string(host.substr(kUnix.size()));
}

DockerClient::DockerClient(asio::any_io_executor executor, DockerClientOptions options)
    : executor_(std::move(executor)), options_(std::move(options)) {}

asio::awaitable<DockerClient::Result> DockerClient::NegotiateVersion() {
  api_prefix_.clear();
  Result body = co_await Get("/version");
  if (!body) {
    co_return body.error();
  }
  auto version = ParseApiVersion(*body);
  if (!version) {
    co_return version.error();
  }
  std::string chosen = *version;
  if (VersionOrder(chosen) > VersionOrder(kMaxApiVersion)) {
    chosen = std::string(kMaxApiVersion);
  }
  api_prefix_ = "/v" + chosen;
  co_return chosen;
}

asio::awaitable<DockerClient::Result> DockerClient::Get(std::string target, unsigned* status) {
  if (status != nullptr) {
    *status = 0;
  }
  const std::string full = api_prefix_ + target;
  const std::string what = "GET " + full + " on " + options_.socket_path;
  Stream stream(executor_);
  std::string error = co_await Connect(stream, options_);
  if (!error.empty()) {
    co_return DockerFail(error);
  }
  const auto req = MakeRequest(full);
  auto [wec, wn] = co_await http::async_write(stream, req, kNoThrow);
  if (wec) {
    co_return DockerFail(what + ": " + wec.message());
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(options_.max_body_bytes);
  auto [rec, rn] = co_await http::async_read(stream, buffer, parser, kNoThrow);
  if (rec) {
    co_return DockerFail(what + ": " + rec.message());
  }
  auto& res = parser.get();
  if (status != nullptr) {
    *status = res.result_int();
  }
  if (res.result() != http::status::ok) {
    co_return DockerFail(StatusError(what, res.result_int(), res.reason(), res.body()));
  }
  co_return std::move(res.body());
}

void DockerClient::CloseEventStream() {
  if (close_events_) {
    close_events_();
  }
}

asio::awaitable<std::string> DockerClient::FollowEvents(
    std::function<asio::awaitable<void>()> on_open,
    std::function<asio::awaitable<void>(std::string_view line)> on_line) {
  const std::string full = api_prefix_ + EventsTarget();
  const std::string what = "event stream on " + options_.socket_path;
  Stream stream(executor_);
  std::string error = co_await Connect(stream, options_);
  if (!error.empty()) {
    co_return error;
  }
  const auto req = MakeRequest(full);
  auto [wec, wn] = co_await http::async_write(stream, req, kNoThrow);
  if (wec) {
    co_return what + ": " + wec.message();
  }

  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> parser;
  parser.body_limit(boost::none);  // a stream, not a document; lines are bounded below
  std::string pending;
  const std::size_t max_line = options_.max_event_line_bytes;
  auto on_chunk = [&pending, max_line](std::uint64_t, std::string_view body,
                                       beast::error_code& ec) -> std::size_t {
    pending.append(body);
    if (pending.size() > max_line && pending.find('\n') == std::string::npos) {
      ec = http::error::body_limit;
    }
    return body.size();
  };
  parser.on_chunk_body(on_chunk);

  auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, kNoThrow);
  if (hec) {
    co_return what + ": " + hec.message();
  }
  if (parser.get().result() != http::status::ok) {
    co_return StatusError(what, parser.get().result_int(), parser.get().reason(), "");
  }
  if (!parser.chunked()) {
    co_return what + ": expected a chunked stream";
  }
  stream.expires_never();

  // Lets CloseEventStream end the read below; cleared on every way out of this frame.
  close_events_ = [&stream] {
    beast::error_code ignored;
    stream.socket().shutdown(asio::local::stream_protocol::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
  };
  struct ClearOnExit {
    std::function<void()>& f;
    ~ClearOnExit() { f = nullptr; }
  } clear{close_events_};

  co_await on_open();
  for (;;) {
    auto [ec, n] = co_await http::async_read_some(stream, buffer, parser, kNoThrow);
    std::size_t start = 0;
    for (std::size_t end; (end = pending.find('\n', start)) != std::string::npos; start = end + 1) {
      std::string line = pending.substr(start, end - start);
      if (!line.empty()) {
        co_await on_line(line);
      }
    }
    pending.erase(0, start);
    if (ec == http::error::end_of_stream || ec == asio::error::eof) {
      co_return what + ": dockerd closed the stream";
    }
    if (ec) {
      co_return what + ": " + ec.message();
    }
    if (parser.is_done()) {
      co_return what + ": dockerd ended the stream";
    }
  }
}

}  // namespace bulkhead::inventory
