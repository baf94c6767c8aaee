#include "cli/watchdog.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cli/confirm_state.h"
#include "cli/state_dir.h"

namespace bulkhead::cli {
namespace {

// How often the watchdog looks at the state directory.
constexpr auto kPollInterval = std::chrono::milliseconds(50);

// The forked child: only async-signal-safe calls from here to exec.
[[noreturn]] void ExecDetached(int ready_write_fd, std::vector<char*>& argv) {
  ::setsid();
  if (::fork() != 0) {
    ::_exit(0);
  }
  const int null_fd = ::open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(null_fd, 2);
  }
  ::dup2(ready_write_fd, 3);  // dup2 clears O_CLOEXEC on the copy
  ::close_range(4, ~0U, 0);
  ::execv("/proc/self/exe", argv.data());
  ::_exit(127);
}

// Everything the watchdog wrote to the ready pipe until it closed.
std::string ReadAll(int fd) {
  std::string reply;
  char buf[64];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      reply.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      return reply;
    }
  }
}

}  // namespace

boost::system::result<pid_t, std::string> SpawnWatchdog(const std::string& state_dir,
                                                        const std::string& token) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return fmt::format("pipe: {}", std::strerror(errno));
  }
  // Everything exec needs is built before fork.
  std::vector<std::string> args = {
      "bulkhead", kWatchdogCommand, "--state-dir", state_dir, "--token", token, "--ready-fd", "3"};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  const pid_t child = ::fork();
  if (child < 0) {
    const int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return fmt::format("fork: {}", std::strerror(err));
  }
  if (child == 0) {
    ExecDetached(fds[1], argv);
  }
  ::close(fds[1]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  const std::string reply = ReadAll(fds[0]);
  ::close(fds[0]);
  long pid = 0;
  if (std::sscanf(reply.c_str(), "ready %ld", &pid) != 1 || pid <= 0) {
    return std::string("the confirmation watchdog did not start");
  }
  return static_cast<pid_t>(pid);
}

int RunWatchdog(const std::string& state_dir, const std::string& token, int ready_fd) {
  // Detached already; ignore what a dying session or a polite shutdown would send. The window
  // is short, and rolling back is the whole point of this process.
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  const StateDir dir(state_dir);
  if (ready_fd >= 0) {
    const std::string ready = fmt::format("ready {}\n", ::getpid());
    (void)!::write(ready_fd, ready.data(), ready.size());
    ::close(ready_fd);
  }
  const std::string who = fmt::format("watchdog {}", ::getpid());
  for (;;) {
    {
      auto lock = dir.Lock();
      if (!lock) {
        // Cannot read the state: the next command that can will roll back instead.
        return 1;
      }
      auto state = ConfirmState::Load(dir, who);
      if (!state || !state->pending() || state->pending()->token != token) {
        return 0;  // confirmed, failed, cancelled or rolled back by someone else
      }
      if (state->RollBackIfExpired()) {
        return 0;
      }
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace bulkhead::cli
