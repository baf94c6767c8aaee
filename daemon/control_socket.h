#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/logger.h>
#include <boost/asio/io_context.hpp>
#include <boost/system/result.hpp>

// The agent's control socket: a unix stream socket, mode 0600 (root only), through which
// `bulkhead status`, `bulkhead confirm` and `bulkhead reload` reach a running agent.
// Wire format: the client sends one command line ("status\n", "confirm\n", "reload\n"); the
// agent answers "ok\n" or "error\n", then free text, and closes the connection.
namespace bulkhead::daemon {

struct ControlReply {
  bool ok = true;
  std::string text;  // what the command prints (status report, error reason)
};

class ControlServer {
 public:
  // Runs on the event loop thread; `command` is the line without its newline.
  using Handler = std::function<ControlReply(std::string_view command)>;

  // Creates the socket at `path` (its directory 0700 if missing) with mode 0600. A stale socket
  // file nobody listens on is replaced; one that answers means another agent runs: error.
  static boost::system::result<std::unique_ptr<ControlServer>, std::string> Listen(
      boost::asio::io_context& io, const std::string& path, Handler handler,
      std::shared_ptr<spdlog::logger> log);
  virtual ~ControlServer() = default;
  // Stops accepting and removes the socket file.
  virtual void Close() = 0;
};

// Client side: sends `command`, waits at most `timeout`. Errors: no agent (no socket, refused),
// permission denied, timeout, a malformed answer; each one line naming the socket.
boost::system::result<ControlReply, std::string> SendControlCommand(
    const std::string& path, std::string_view command, std::chrono::milliseconds timeout);

}  // namespace bulkhead::daemon
