#pragma once

#include <memory>

#include <spdlog/logger.h>

#include "daemon/agent_config.h"

namespace bulkhead::cli {

// The one logger every command and the agent write through, to standard error (stdout carries
// command output such as `learn -o -`). Built by the composition root (main.cc) and again by the
// agent once its config names a format; modules only ever receive it.
//   text: progress lines bare ("learned: ..."), warnings and errors prefixed
//         ("bulkhead: error: FILE:3:7: ..."), debug lines "bulkhead: debug: ...".
//   json: one object per line, {"time":"2026-11-29T10:00:00.123Z","level":"info","msg":"..."},
//         for log collectors; the message is JSON-escaped (it can carry container names and
//         labels, which are attacker-controlled).
// `verbose` turns debug lines on.
std::shared_ptr<spdlog::logger> MakeLogger(bool verbose, daemon::LogFormat format);

}  // namespace bulkhead::cli
