#include "cli/state_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "policy/atomic_file.h"

namespace bulkhead::cli {
namespace {

constexpr std::string_view kMagic = "bulkhead-state 1";

bool ParseInt(std::string_view text, std::int64_t& out) {
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

// The two texts go last, each as "<key> <length>\n<bytes>\n", so they may contain anything.
void AppendBlob(std::string& out, std::string_view key, const std::string& blob) {
  out += fmt::format("{} {}\n", key, blob.size());
  out += blob;
  out += '\n';
}

}  // namespace

std::string SerializeState(const EnforceState& s) {
  std::string out = fmt::format("{}\n", kMagic);
  out += fmt::format("mode {}\n", s.mode_override.empty() ? "-" : s.mode_override);
  out += fmt::format("log-group {}\n", s.log_group);
  out += fmt::format("applied-unix-ms {}\n", s.applied_unix_ms);
  out += fmt::format("token {}\n", s.token.empty() ? "-" : s.token);
  out += fmt::format("deadline-mono-ms {}\n", s.deadline_mono_ms);
  out += fmt::format("deadline-unix-ms {}\n", s.deadline_unix_ms);
  out += fmt::format("watchdog-pid {}\n", s.watchdog_pid);
  AppendBlob(out, "policy-path", s.policy_path);
  AppendBlob(out, "inventory-path", s.inventory_path);
  AppendBlob(out, "policy", s.policy_text);
  AppendBlob(out, "inventory", s.inventory_text);
  return out;
}

boost::system::result<EnforceState, std::string> ParseState(const std::string& text) {
  EnforceState s;
  std::size_t pos = 0;
  auto next_line = [&](std::string& line) {
    const auto nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      return false;
    }
    line = text.substr(pos, nl - pos);
    pos = nl + 1;
    return true;
  };
  std::string line;
  if (!next_line(line) || line != kMagic) {
    return {boost::system::in_place_error, "not a bulkhead state file"};
  }
  auto word = [&](std::string_view key, std::string& value) {
    if (!next_line(line) || line.rfind(std::string(key) + " ", 0) != 0) {
      return false;
    }
    value = line.substr(key.size() + 1);
    return true;
  };
  auto number = [&](std::string_view key, std::int64_t& value) {
    std::string v;
    return word(key, v) && ParseInt(v, value);
  };
  auto blob = [&](std::string_view key, std::string& value) {
    std::int64_t n = 0;
    if (!number(key, n) || n < 0 || pos + static_cast<std::size_t>(n) + 1 > text.size()) {
      return false;
    }
    value = text.substr(pos, static_cast<std::size_t>(n));
    pos += static_cast<std::size_t>(n);
    return text[pos++] == '\n';
  };
  std::int64_t log_group = 0;
  if (!word("mode", s.mode_override) || !number("log-group", log_group) || log_group < 0 ||
      log_group > 65535 || !number("applied-unix-ms", s.applied_unix_ms) ||
      !word("token", s.token) || !number("deadline-mono-ms", s.deadline_mono_ms) ||
      !number("deadline-unix-ms", s.deadline_unix_ms) || !number("watchdog-pid", s.watchdog_pid) ||
      !blob("policy-path", s.policy_path) || !blob("inventory-path", s.inventory_path) ||
      !blob("policy", s.policy_text) || !blob("inventory", s.inventory_text) ||
      pos != text.size()) {
    return {boost::system::in_place_error, "corrupt bulkhead state file"};
  }
  if (s.mode_override == "-") {
    s.mode_override.clear();
  }
  if (s.token == "-") {
    s.token.clear();
  }
  s.log_group = static_cast<std::uint16_t>(log_group);
  return s;
}

std::int64_t MonotonicMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatUnixMs(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

StateLock::~StateLock() {
  if (fd_ >= 0) {
    ::close(fd_);  // closing the last descriptor releases the flock
  }
}

boost::system::result<StateLock, std::string> StateDir::Lock() const {
  if (::mkdir(path_.c_str(), 0700) != 0 && errno != EEXIST) {
    return fmt::format("cannot create state directory {}: {}", path_, std::strerror(errno));
  }
  const std::string lock_path = File("lock");
  // O_CLOEXEC: the watchdog is forked while the lock is held and must not inherit it.
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return fmt::format("cannot open {}: {}", lock_path, std::strerror(errno));
  }
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      const int err = errno;
      ::close(fd);
      return fmt::format("cannot lock {}: {}", lock_path, std::strerror(err));
    }
  }
  return StateLock(fd);
}

boost::system::result<std::optional<EnforceState>, std::string> StateDir::ReadStateFile(
    const std::string& name) const {
  const std::string file = File(name);
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0 && errno == ENOENT) {
    return std::optional<EnforceState>();
  }
  auto text = policy::ReadWholeFile(file);
  if (!text) {
    return {boost::system::in_place_error, text.error()};
  }
  auto state = ParseState(*text);
  if (!state) {
    return {boost::system::in_place_error, fmt::format("{}: {}", file, state.error())};
  }
  return std::optional<EnforceState>(std::move(*state));
}

boost::system::result<std::optional<EnforceState>, std::string> StateDir::ReadConfirmed() const {
  return ReadStateFile("confirmed.state");
}

boost::system::result<std::optional<EnforceState>, std::string> StateDir::ReadPending() const {
  return ReadStateFile("pending.state");
}

boost::system::result<void, std::string> StateDir::WriteConfirmed(const EnforceState& s) const {
  EnforceState copy = s;
  copy.token.clear();
  copy.deadline_mono_ms = 0;
  copy.deadline_unix_ms = 0;
  copy.watchdog_pid = 0;
  return policy::WriteFileAtomically(File("confirmed.state"), SerializeState(copy));
}

boost::system::result<void, std::string> StateDir::WritePending(const EnforceState& s) const {
  return policy::WriteFileAtomically(File("pending.state"), SerializeState(s));
}

boost::system::result<void, std::string> StateDir::RemoveFile(const std::string& name) const {
  const std::string file = File(name);
  if (::unlink(file.c_str()) != 0 && errno != ENOENT) {
    return fmt::format("cannot remove {}: {}", file, std::strerror(errno));
  }
  return {};
}

boost::system::result<void, std::string> StateDir::RemoveConfirmed() const {
  return RemoveFile("confirmed.state");
}

boost::system::result<void, std::string> StateDir::RemovePending() const {
  return RemoveFile("pending.state");
}

boost::system::result<void, std::string> StateDir::WriteOutcome(
    const daemon::EndedApply& ended) const {
  return policy::WriteFileAtomically(
      File("outcome"),
      fmt::format("{} {}\n", ended.token, daemon::ConfirmOutcomeText(ended.outcome)));
}

std::optional<daemon::EndedApply> StateDir::ReadOutcome() const {
  std::ifstream in(File("outcome"));
  std::string token;
  std::string word;
  if (!(in >> token >> word)) {
    return std::nullopt;
  }
  auto outcome = daemon::ParseConfirmOutcome(word);
  if (!outcome) {
    return std::nullopt;
  }
  return daemon::EndedApply{token, *outcome};
}

void StateDir::AppendLog(const std::string& line) const {
  std::ofstream out(File("watchdog.log"), std::ios::app);
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  out << stamp << " " << line << "\n";
}

}  // namespace bulkhead::cli
