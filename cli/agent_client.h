#pragma once

#include <string>
#include <string_view>

#include "cli/command.h"
#include "daemon/control_protocol.h"

// The CLI's side of the running agent's control socket (daemon/control_socket.h): `status`,
// `confirm` and `reload` go there when an agent is in charge. The socket file's existence is
// what says one is.
namespace bulkhead::cli {

inline constexpr const char* kDefaultControlSocket = "/run/bulkhead/control.sock";

// Whether a socket file is at `path`. Anything but "it does not exist" counts as yes, so that
// a socket we may not even look at (not root) is reported rather than silently bypassed.
bool ControlSocketExists(const std::string& path);

// Sends `command` to the agent and reports its answer: the text on stdout when "ok" (exit 0),
// one error line with the agent's reason when "error" (exit 1), the client's error when the
// agent cannot be reached (exit 2).
int AskAgent(const std::string& path, const daemon::ControlCommand& command, const Logger& log);

// For the commands that change bulkhead's ruleset themselves (`enforce`, `disable`): true, with
// one error line naming the agent's socket and `instead` (what to run), when an agent answers on
// `path` in monitor or enforce mode. Its tamper guard would restore its own ruleset within a
// second, undoing the command. A socket nobody answers on (left by an agent that died) or a
// learning agent is no owner.
bool AgentOwnsRuleset(const std::string& path, std::string_view instead, const Logger& log);

}  // namespace bulkhead::cli
