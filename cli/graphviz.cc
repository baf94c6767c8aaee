#include "cli/graphviz.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <utility>
#include <vector>

extern char** environ;  // NOLINT: POSIX's own declaration, needed by posix_spawn

namespace bulkhead::cli {
namespace {

// The first executable `dot` on PATH, or empty.
std::string FindDot() {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
  while (true) {
    const auto colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/dot";
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string_view::npos) {
      return {};
    }
    dirs.remove_prefix(colon + 1);
  }
}

struct Pipe {
  std::array<int, 2> fd = {-1, -1};
  ~Pipe() {
    for (int f : fd) {
      if (f >= 0) {
        ::close(f);
      }
    }
  }
  void Close(std::size_t i) {
    if (fd[i] >= 0) {
      ::close(fd[i]);
      fd[i] = -1;
    }
  }
};

// Feeds `input` to `in` while draining `out` and `err`, so neither side blocks on a full pipe.
void Exchange(std::string_view input, Pipe& in, Pipe& out, Pipe& err, std::string& svg,
              std::string& diagnostics) {
  std::size_t written = 0;
  if (input.empty()) {
    in.Close(1);
  }
  std::array<char, 65536> buf{};
  while (out.fd[0] >= 0 || err.fd[0] >= 0) {
    std::vector<pollfd> fds;
    fds.push_back({out.fd[0], POLLIN, 0});
    fds.push_back({err.fd[0], POLLIN, 0});
    fds.push_back({in.fd[1], POLLOUT, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
      return;
    }
    if (in.fd[1] >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      const ssize_t n = ::write(in.fd[1], input.data() + written, input.size() - written);
      if (n > 0) {
        written += static_cast<std::size_t>(n);
      }
      if (n < 0 || written == input.size()) {
        in.Close(1);
      }
    }
    for (auto [pipe, sink, i] : {std::tuple{&out, &svg, 0}, std::tuple{&err, &diagnostics, 1}}) {
      if (pipe->fd[0] >= 0 && fds[static_cast<std::size_t>(i)].revents != 0) {
        const ssize_t n = ::read(pipe->fd[0], buf.data(), buf.size());
        if (n > 0) {
          sink->append(buf.data(), static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          pipe->Close(0);
        }
      }
    }
  }
}

}  // namespace

boost::system::result<std::string, DotError> RenderSvgWithDot(std::string_view dot_source) {
  const std::string dot = FindDot();
  if (dot.empty()) {
    return DotError{"Graphviz's `dot` is not on PATH; install graphviz (apt-get install graphviz)"};
  }
  Pipe in;
  Pipe out;
  Pipe err;
  if (::pipe2(in.fd.data(), O_CLOEXEC) != 0 || ::pipe2(out.fd.data(), O_CLOEXEC) != 0 ||
      ::pipe2(err.fd.data(), O_CLOEXEC) != 0) {
    return DotError{"cannot create a pipe for dot: " + std::string(std::strerror(errno))};
  }
  // A closed pipe must be an error to write, not a signal that kills bulkhead.
  std::signal(SIGPIPE, SIG_IGN);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.fd[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out.fd[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err.fd[1], STDERR_FILENO);
  std::array<char*, 3> argv = {const_cast<char*>(dot.c_str()), const_cast<char*>("-Tsvg"), nullptr};
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, dot.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return DotError{"cannot run " + dot + ": " + std::strerror(rc)};
  }
  in.Close(0);
  out.Close(1);
  err.Close(1);
  std::string svg;
  std::string diagnostics;
  Exchange(dot_source, in, out, err, svg, diagnostics);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return DotError{dot + " failed: " + diagnostics.substr(0, diagnostics.find('\n'))};
  }
  return {boost::system::in_place_value, std::move(svg)};
}

}  // namespace bulkhead::cli
