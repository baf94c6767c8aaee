#include "cli/agent_client.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <iostream>

#include <fmt/format.h>

#include "daemon/control_socket.h"

namespace bulkhead::cli {
namespace {

// The agent answers from its event loop; a reload compiles a policy first, so allow it time.
constexpr auto kControlTimeout = std::chrono::seconds(10);

}  // namespace

bool ControlSocketExists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 || (errno != ENOENT && errno != ENOTDIR);
}

int AskAgent(const std::string& path, const daemon::ControlCommand& command, const Logger& log) {
  const std::string line = daemon::ControlCommandLine(command);
  auto reply = daemon::SendControlCommand(path, line, kControlTimeout);
  if (!reply) {
    log->error("{}", reply.error());
    return 2;
  }
  std::string text = reply->text;
  while (!text.empty() && text.back() == '\n') {
    text.pop_back();
  }
  if (!reply->ok) {
    // One line however the agent wrote it.
    for (auto pos = text.find('\n'); pos != std::string::npos; pos = text.find('\n', pos)) {
      text.replace(pos, 1, "; ");
    }
    log->error("{}", text.empty() ? fmt::format("the agent refused `{}`", line) : text);
    return 1;
  }
  if (!text.empty()) {
    std::cout << text << '\n' << std::flush;
  }
  return 0;
}

}  // namespace bulkhead::cli
