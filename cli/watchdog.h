#pragma once

#include <sys/types.h>

#include <string>

#include <boost/system/result.hpp>

// The confirmation watchdog of `enforce --confirm`: a detached re-executed `bulkhead` (hidden
// subcommand `confirm-watchdog`) that outlives the enforce process and rolls back at the
// deadline unless the pending apply was resolved (cli/confirm_state.h has the rules).
namespace bulkhead::cli {

inline constexpr const char* kWatchdogCommand = "confirm-watchdog";

// Starts the watchdog detached from us (own session, reparented to init), so that killing
// enforce, its process group or its terminal leaves it running. Returns its pid once it has
// started (it writes "ready <pid>" to a pipe after exec).
boost::system::result<pid_t, std::string> SpawnWatchdog(const std::string& state_dir,
                                                        const std::string& token);

// The watchdog process: waits until the pending apply `token` is resolved, or its deadline
// passes and it rolls back itself. Writes "ready <pid>" to `ready_fd` first (if >= 0).
int RunWatchdog(const std::string& state_dir, const std::string& token, int ready_fd);

}  // namespace bulkhead::cli
