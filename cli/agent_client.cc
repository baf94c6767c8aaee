#include "cli/agent_client.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <iostream>
#include <string_view>

#include <fmt/format.h>

#include "daemon/control_socket.h"

namespace bulkhead::cli {
namespace {

// The agent answers from its event loop; a reload compiles a policy first, so allow it time.
constexpr auto kControlTimeout = std::chrono::seconds(10);

// A status answer is quick; a socket nobody answers on must not hold the command up long.
constexpr auto kStatusTimeout = std::chrono::seconds(3);

}  // namespace

bool AgentOwnsRuleset(const std::string& path, std::string_view instead, const Logger& log) {
  if (!ControlSocketExists(path)) {
    return false;
  }
  const std::string line = daemon::ControlCommandLine({daemon::ControlCommandKind::kStatus, 0});
  auto reply = daemon::SendControlCommand(path, line, kStatusTimeout);
  if (!reply || !reply->ok) {
    return false;
  }
  const std::string_view text = reply->text;
  for (const std::string_view mode : {"enforce", "monitor"}) {
    if (text.rfind(fmt::format("mode: {}\n", mode), 0) == 0) {
      log->error(
          "the running agent (control socket {}, mode {}) owns bulkhead's ruleset and would "
          "restore it: {}",
          path, mode, instead);
      return true;
    }
  }
  return false;
}

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
