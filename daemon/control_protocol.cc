#include "daemon/control_protocol.h"

#include <charconv>

#include <fmt/format.h>

namespace bulkhead::daemon {
namespace {

constexpr std::string_view kReloadConfirm = "reload confirm ";
constexpr std::size_t kEchoedBytes = 64;

// The whole of `text` as a number, or false. from_chars, unlike strtod, reads no locale and
// no leading blanks, and says where it stopped.
bool ParseSeconds(std::string_view text, double& out) {
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

}  // namespace

std::string ControlParseErrorText(const ControlParseError& error) {
  switch (error.code) {
    case ControlProtocolError::kBadConfirmSeconds:
      return fmt::format("reload confirm: give 0 < seconds <= {} (monitor/enforce mode)\n",
                         kMaxConfirmSeconds);
    case ControlProtocolError::kUnknownCommand:
      break;
  }
  return fmt::format("unknown command \"{}\" (status, reload, confirm)\n", error.line);
}

boost::system::result<ControlCommand, ControlParseError> ParseControlCommand(
    std::string_view line) {
  if (line == "status") {
    return ControlCommand{ControlCommandKind::kStatus, 0};
  }
  if (line == "reload") {
    return ControlCommand{ControlCommandKind::kReload, 0};
  }
  if (line == "confirm") {
    return ControlCommand{ControlCommandKind::kConfirm, 0};
  }
  if (line.starts_with(kReloadConfirm)) {
    double seconds = 0;
    // !(seconds > 0) also refuses NaN.
    if (!ParseSeconds(line.substr(kReloadConfirm.size()), seconds) || !(seconds > 0) ||
        seconds > kMaxConfirmSeconds) {
      return ControlParseError{ControlProtocolError::kBadConfirmSeconds, ""};
    }
    return ControlCommand{ControlCommandKind::kReload, seconds};
  }
  return ControlParseError{ControlProtocolError::kUnknownCommand,
                           std::string(line.substr(0, kEchoedBytes))};
}

std::string ControlCommandLine(const ControlCommand& command) {
  switch (command.kind) {
    case ControlCommandKind::kStatus:
      return "status";
    case ControlCommandKind::kConfirm:
      return "confirm";
    case ControlCommandKind::kReload:
      break;
  }
  // {} writes the shortest text that reads back as the same double.
  return command.confirm_seconds > 0 ? fmt::format("{}{}", kReloadConfirm, command.confirm_seconds)
                                     : "reload";
}

}  // namespace bulkhead::daemon
