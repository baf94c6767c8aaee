// The control socket, server and client. The server lives on the agent's event loop: one accept
// loop, and per connection one bounded line read (256 bytes, 2 s), one handler call, one reply,
// close. The state shared with pending handlers is reference-counted, so Close() or destroying
// the server while a connection is half-way is safe: the connection finishes or times out and
// never calls the handler of a closed server. Like everything on the loop, Close() and the
// destructor run on the loop thread (or when the loop is not running), before the io_context
// goes away.
//
// The socket file is never reachable by anyone but its owner: it is bound, chmod 0600, and only
// then listen()ed on. A unix stream socket refuses connect() until listen(), and connect()
// checks the file's mode, so the moment between bind and chmod cannot be used. (umask would do
// the same but is process-wide state that other threads' file creation would see.)
#include "daemon/control_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/errc.hpp>

namespace bulkhead::daemon {
namespace {

namespace asio = boost::asio;
using Local = asio::local::stream_protocol;

// A command is a word; 256 bytes is far more than any needs and bounds what a client can make
// the agent buffer.
constexpr std::size_t kMaxCommandLine = 256;
// A client that connects and says nothing must not hold a connection for ever.
constexpr auto kConnectionDeadline = std::chrono::seconds(2);
// The local socket is root-only, but a stuck client script could still open connections in a
// loop; beyond this many at once, new ones are closed at once.
constexpr std::size_t kMaxConnections = 16;
// A status report of a large host is a few KiB; anything past this is not our agent.
constexpr std::size_t kMaxReply = 1 << 20;
// After a failed accept (EMFILE, ENOBUFS) wait before the next, instead of spinning on it.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

std::string ErrnoText(int err) { return std::strerror(err); }

// Creates `dir` and any missing parents with mode 0700. Existing directories are left as they
// are (the administrator may have chosen their mode).
boost::system::result<void, std::string> MakePrivateDirs(const std::filesystem::path& dir) {
  if (dir.empty()) {
    return {};
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return fmt::format("{} exists and is not a directory", dir.string());
    }
    return {};
  }
  if (errno != ENOENT) {
    return fmt::format("{}: {}", dir.string(), ErrnoText(errno));
  }
  if (dir.has_parent_path() && dir.parent_path() != dir) {
    if (auto parent = MakePrivateDirs(dir.parent_path()); !parent) {
      return parent;
    }
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return fmt::format("cannot create {}: {}", dir.string(), ErrnoText(errno));
  }
  return {};
}

// Whether something accepts connections on the socket file `path`: a non-blocking connect
// answers at once (success, ECONNREFUSED for a stale file, EAGAIN when a live listener's
// backlog is full). Returns the errno of a failed connect, 0 when it connected.
int ProbeConnect(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return errno;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());  // the caller checked the length
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int err = rc == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

// What ControlServer and its pending connections share.
struct ServerState {
  ServerState(asio::io_context& io, std::string socket_path, ControlServer::Handler h,
              std::shared_ptr<spdlog::logger> logger)
      : acceptor(io),
        retry(io),
        path(std::move(socket_path)),
        handler(std::move(h)),
        log(std::move(logger)) {}

  Local::acceptor acceptor;
  asio::steady_timer retry;
  std::string path;
  ControlServer::Handler handler;
  std::shared_ptr<spdlog::logger> log;
  dev_t dev = 0;
  ino_t ino = 0;
  bool closed = false;
  std::size_t connections = 0;
};

// One client connection: read a line, answer, close. Keeps itself alive through its handlers.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ServerState> state, Local::socket socket)
      : state_(std::move(state)), socket_(std::move(socket)), timer_(socket_.get_executor()) {
    ++state_->connections;
  }
  ~Connection() { --state_->connections; }

  void Start() {
    auto self = shared_from_this();
    timer_.expires_after(kConnectionDeadline);
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) {
        // Closing the socket fails the pending read or write, which ends the connection.
        self->state_->log->debug("control: a client said nothing for {} s; closed",
                                 kConnectionDeadline.count());
        boost::system::error_code ignored;
        self->socket_.close(ignored);
      }
    });
    asio::async_read_until(
        socket_, asio::dynamic_buffer(line_, kMaxCommandLine), '\n',
        [self](const boost::system::error_code& ec, std::size_t n) { self->OnLine(ec, n); });
  }

 private:
  void OnLine(const boost::system::error_code& ec, std::size_t n) {
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) {
      return;  // timed out and closed
    }
    ControlReply reply;
    if (ec == asio::error::not_found) {
      reply = {false, "command line too long"};
    } else if (ec && !(ec == asio::error::eof && !line_.empty())) {
      // Gone before saying anything (eof) or a socket error: nobody to answer.
      Finish();
      return;
    } else {
      // A line, or (client closed its side) everything it sent: `printf status | socat` works.
      std::string_view command(line_.data(), ec ? line_.size() : n);
      if (!command.empty() && command.back() == '\n') {
        command.remove_suffix(1);
      }
      if (!command.empty() && command.back() == '\r') {
        command.remove_suffix(1);
      }
      reply = Dispatch(command);
    }
    out_ = reply.ok ? "ok\n" : "error\n";
    out_ += reply.text;
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(out_),
                      [self](const boost::system::error_code&, std::size_t) { self->Finish(); });
  }

  ControlReply Dispatch(std::string_view command) {
    if (state_->closed) {
      return {false, "the agent is shutting down"};
    }
    // The handler is the agent's code; an exception from it must not end the event loop.
    try {
      return state_->handler(command);
    } catch (const std::exception& e) {
      state_->log->error("control: command {:?} failed: {}", std::string(command), e.what());
      return {false, std::string("internal error: ") + e.what()};
    }
  }

  void Finish() {
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.shutdown(Local::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  std::shared_ptr<ServerState> state_;
  Local::socket socket_;
  asio::steady_timer timer_;
  std::string line_;
  std::string out_;
};

void Accept(const std::shared_ptr<ServerState>& state) {
  state->acceptor.async_accept([state](const boost::system::error_code& ec, Local::socket socket) {
    if (state->closed || ec == asio::error::operation_aborted) {
      return;
    }
    if (ec) {
      // EMFILE and the like: log, and try again shortly (the next one may work).
      state->log->warn("control: accept on {}: {}", state->path, ec.message());
      state->retry.expires_after(kAcceptRetry);
      state->retry.async_wait([state](const boost::system::error_code& wait_ec) {
        if (!wait_ec && !state->closed) {
          Accept(state);
        }
      });
      return;
    }
    if (state->connections >= kMaxConnections) {
      boost::system::error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<Connection>(state, std::move(socket))->Start();
    }
    Accept(state);
  });
}

class AsioControlServer final : public ControlServer {
 public:
  explicit AsioControlServer(std::shared_ptr<ServerState> state) : state_(std::move(state)) {}
  ~AsioControlServer() override {
    // A destructor must not throw: Close's timer cancel throws only when the reactor fails,
    // and then there is nothing left to cancel for.
    try {
      Close();
    } catch (...) {
    }
  }

  void Close() override {
    if (state_->closed) {
      return;
    }
    state_->closed = true;
    boost::system::error_code ignored;
    state_->acceptor.close(ignored);
    state_->retry.cancel();
    // Only our own file: if another agent has replaced it since, its socket stays.
    struct stat st {};
    if (::lstat(state_->path.c_str(), &st) == 0 && st.st_dev == state_->dev &&
        st.st_ino == state_->ino) {
      ::unlink(state_->path.c_str());
    }
  }

 private:
  std::shared_ptr<ServerState> state_;
};

}  // namespace

boost::system::result<std::unique_ptr<ControlServer>, std::string> ControlServer::Listen(
    boost::asio::io_context& io, const std::string& path, Handler handler,
    std::shared_ptr<spdlog::logger> log) {
  if (path.empty()) {
    return std::string("the control socket path is empty");
  }
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return fmt::format("{}: a unix socket path holds at most {} bytes", path,
                       sizeof(sockaddr_un::sun_path) - 1);
  }
  if (auto dir = MakePrivateDirs(std::filesystem::path(path).parent_path()); !dir) {
    return dir.error();
  }

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      // Never delete what is not a socket: the path may be mistyped onto a real file.
      return fmt::format("{} exists and is not a socket", path);
    }
    const int err = ProbeConnect(path);
    if (err == 0 || err == EAGAIN) {
      return fmt::format("another agent is listening on {}", path);
    }
    if (err != ECONNREFUSED) {
      return fmt::format("{}: cannot tell whether another agent listens: {}", path, ErrnoText(err));
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return fmt::format("cannot remove the stale socket {}: {}", path, ErrnoText(errno));
    }
    log->info("control: replaced the stale socket {}", path);
  } else if (errno != ENOENT) {
    return fmt::format("{}: {}", path, ErrnoText(errno));
  }

  auto state = std::make_shared<ServerState>(io, path, std::move(handler), std::move(log));
  boost::system::error_code ec;
  state->acceptor.open(Local(), ec);
  if (!ec) {
    state->acceptor.bind(Local::endpoint(path), ec);
  }
  if (ec) {
    // EADDRINUSE here: another agent bound it between our check and now.
    return fmt::format("cannot bind {}: {}", path, ec.message());
  }
  // Not connectable before listen(), so restricting the mode here leaves no window (see top).
  if (::chmod(path.c_str(), 0600) != 0 || ::lstat(path.c_str(), &st) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return fmt::format("cannot restrict {} to mode 0600: {}", path, ErrnoText(err));
  }
  state->dev = st.st_dev;
  state->ino = st.st_ino;
  state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    ::unlink(path.c_str());
    return fmt::format("cannot listen on {}: {}", path, ec.message());
  }
  Accept(state);
  return std::unique_ptr<ControlServer>(std::make_unique<AsioControlServer>(std::move(state)));
}

boost::system::result<ControlReply, std::string> SendControlCommand(
    const std::string& path, std::string_view command, std::chrono::milliseconds timeout) {
  if (command.empty() || command.size() >= kMaxCommandLine ||
      command.find('\n') != std::string_view::npos) {
    return fmt::format("{}: not a control command: {:?}", path, std::string(command));
  }
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return fmt::format("{}: a unix socket path holds at most {} bytes", path,
                       sizeof(sockaddr_un::sun_path) - 1);
  }
  // A private loop, so the deadline covers connect, write and read together and the caller
  // needs no event loop of its own.
  asio::io_context io;
  Local::socket socket(io);
  const std::string request = std::string(command) + "\n";
  std::string reply;
  boost::system::error_code result = asio::error::would_block;  // not finished
  std::string step = "connect";

  socket.async_connect(Local::endpoint(path), [&](const boost::system::error_code& ec) {
    if (ec) {
      result = ec;
      return;
    }
    step = "write";
    asio::async_write(
        socket, asio::buffer(request), [&](const boost::system::error_code& wec, std::size_t) {
          if (wec) {
            result = wec;
            return;
          }
          step = "read";
          asio::async_read(
              socket, asio::dynamic_buffer(reply, kMaxReply),
              [&](const boost::system::error_code& rec, std::size_t) { result = rec; });
        });
  });
  io.run_for(timeout);
  if (result == asio::error::would_block) {
    return fmt::format("{}: no answer from the agent within {} ms", path, timeout.count());
  }
  if (step == "connect") {
    if (result == boost::system::errc::no_such_file_or_directory ||
        result == asio::error::connection_refused) {
      return fmt::format("no agent listening on {}", path);
    }
    if (result == asio::error::access_denied || result == asio::error::no_permission) {
      return fmt::format("permission denied on {} (the control socket is root-only)", path);
    }
    return fmt::format("cannot connect to {}: {}", path, result.message());
  }
  // The agent closes after its answer: eof is success (so is a full buffer: the reply is cut
  // at kMaxReply).
  if (result != asio::error::eof && result) {
    return fmt::format("{}: {} failed: {}", path, step, result.message());
  }
  const auto newline = reply.find('\n');
  const std::string_view word =
      std::string_view(reply).substr(0, newline == std::string::npos ? reply.size() : newline);
  ControlReply out;
  if (word == "ok") {
    out.ok = true;
  } else if (word == "error") {
    out.ok = false;
  } else if (reply.empty()) {
    return fmt::format("{}: the agent closed the connection without an answer", path);
  } else {
    return fmt::format("{}: malformed answer {:?}", path, reply.substr(0, 64));
  }
  out.text = newline == std::string::npos ? std::string() : reply.substr(newline + 1);
  return out;
}

}  // namespace bulkhead::daemon
