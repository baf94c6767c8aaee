#pragma once

#include <memory>

#include <spdlog/logger.h>

#include "daemon/agent_config.h"

// `bulkhead agent`: the long-running agent (DESIGN.md, "Architecture"). One Asio event loop runs
// discovery (Docker events or a static inventory), the enforcer, the violation reader, the
// metrics endpoint, the control socket, signals and timers; learning captures on a thread of its
// own (learner.h) and is only posted to.
namespace bulkhead::daemon {

// Runs until SIGTERM/SIGINT. Returns the process exit status: 0 after a clean stop, 1 when it
// could not start (the reason logged as one line) or could not write its final graph.
int RunAgent(const AgentConfig& config, const std::shared_ptr<spdlog::logger>& log);

}  // namespace bulkhead::daemon
