#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include "inventory/docker_api.h"

// HTTP/1.1 over the Docker Engine API's unix socket (Boost.Asio + Beast, C++20 coroutines).
// One connection per request (dockerd accepts any number; nothing to keep alive or pool), every
// step under a deadline. Errors are one line that names the socket or the request and what went
// wrong; the bodies are returned unparsed (docker_api.h parses them). Not thread-safe: use it from
// the one strand/thread that runs its executor.
namespace bulkhead::inventory {

inline constexpr std::string_view kDefaultDockerSocket = "/var/run/docker.sock";

// The socket path from the value of DOCKER_HOST (nullptr or empty: the default socket).
// Only unix:// is supported; any other scheme (tcp://, ssh://, npipe://) is an error saying so.
boost::system::result<std::string, DockerError> DockerSocketPath(const char* docker_host);

struct DockerClientOptions {
  std::string socket_path = std::string(kDefaultDockerSocket);
  // For connecting, sending and reading each whole answer; and for the event stream's headers.
  std::chrono::milliseconds request_timeout{5000};
  // An answer above this is refused (a list of thousands of containers is a few MiB).
  std::size_t max_body_bytes = std::size_t{64} << 20;
  // An event line above this ends the stream with an error (events are ~1 KiB).
  std::size_t max_event_line_bytes = std::size_t{1} << 20;
};

class DockerClient {
 public:
  using Result = boost::system::result<std::string, DockerError>;

  DockerClient(boost::asio::any_io_executor executor, DockerClientOptions options);

  const DockerClientOptions& options() const { return options_; }
  // "/v1.41" after NegotiateVersion, empty before (unversioned requests).
  const std::string& api_prefix() const { return api_prefix_; }

  // GET /version, then uses min(server ApiVersion, kMaxApiVersion) as the prefix of every later
  // request, so field shapes stay those bulkhead was written against. Returns the version used.
  boost::asio::awaitable<Result> NegotiateVersion();

  // GET api_prefix + target. 200: the body. Any other status: an error with the status and
  // Docker's "message" when there is one. `status` (optional) receives the HTTP status, 0 when
  // no answer came.
  boost::asio::awaitable<Result> Get(std::string target, unsigned* status = nullptr);

  // Follows GET api_prefix + EventsTarget(). `on_open` runs once the answer's headers arrived
  // (the stream is live: nothing after this point is missed) and may suspend (it resyncs);
  // `on_line` runs for every complete line, in order, and may suspend too (reads pause meanwhile;
  // dockerd's events wait in the socket). Returns only when the stream ends: the reason, e.g.
  // "event stream: end of stream" when dockerd went away. There is no idle deadline once the
  // stream is open (an idle host sends nothing for hours); a dead dockerd closes its socket.
  boost::asio::awaitable<std::string> FollowEvents(
      std::function<boost::asio::awaitable<void>()> on_open,
      std::function<boost::asio::awaitable<void>(std::string_view line)> on_line);

  // Closes the event stream's socket, if one is open: FollowEvents returns soon after.
  void CloseEventStream();

  static constexpr std::string_view kMaxApiVersion = "1.41";

 private:
  boost::asio::any_io_executor executor_;
  DockerClientOptions options_;
  std::string api_prefix_;
  std::function<void()> close_events_;
};

}  // namespace bulkhead::inventory
