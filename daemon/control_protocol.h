#pragma once

#include <string>
#include <string_view>

#include <boost/system/result.hpp>

// The commands of the control socket (control_socket.h carries the lines), parsed and written
// in this one place for both ends: the agent parses what arrives, the CLI client writes what it
// sends. A command line is a word, and for `reload confirm` a number of seconds:
//   status | reload | reload confirm <seconds> | confirm
namespace bulkhead::daemon {

enum class ControlCommandKind { kStatus, kReload, kConfirm };

struct ControlCommand {
  ControlCommandKind kind = ControlCommandKind::kStatus;
  // kReload only: > 0 restores the current policy unless `confirm` comes within this many
  // seconds; 0 applies without confirmation.
  double confirm_seconds = 0;
};

// The longest confirmation window, the same bound as `enforce --confirm`.
inline constexpr double kMaxConfirmSeconds = 86400;

enum class ControlProtocolError {
  kUnknownCommand,     // not one of the words above
  kBadConfirmSeconds,  // `reload confirm` without 0 < seconds <= kMaxConfirmSeconds
};

struct ControlParseError {
  ControlProtocolError code;
  std::string line;  // what arrived, cut to 64 bytes (it is untrusted)
};

// The reply text for a refused line (what the client prints), ending in a newline.
std::string ControlParseErrorText(const ControlParseError& error);

// `line` is untrusted: anything not exactly a command is an error, never an exception.
boost::system::result<ControlCommand, ControlParseError> ParseControlCommand(std::string_view line);

// The line (without its newline) that ParseControlCommand reads back as `command`.
std::string ControlCommandLine(const ControlCommand& command);

}  // namespace bulkhead::daemon
