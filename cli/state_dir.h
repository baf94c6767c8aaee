#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <boost/system/result.hpp>

#include "daemon/confirm.h"

// The enforcement commands' memory between runs (default /run/bulkhead): the INPUTS of the
// last confirmed apply and of a pending one, not the ruleset itself, because compiling is
// deterministic and `status` needs the compiled model anyway to name set elements. Every
// transition happens under one flock, which is what makes `confirm` at the deadline and the
// watchdog's rollback exclusive: whichever takes the lock first decides.
//
//   lock              flock(2) target; never removed
//   confirmed.state   what the kernel holds when nothing is pending (absent: no bulkhead table)
//   pending.state     an apply waiting for `bulkhead confirm` (token, deadline, watchdog pid)
//   outcome           "<token> <word>" (daemon/confirm.h, ConfirmOutcome): how the last pending
//                     apply ended, for the `enforce --confirm` that waits on it
//   watchdog.log      what detached watchdogs did (they have no terminal)
namespace bulkhead::cli {

// The inputs of one apply. Compiling them again gives the same ruleset.
struct EnforceState {
  std::string mode_override;  // "", "learn", "monitor" or "enforce" (the --mode option)
  std::uint16_t log_group = 100;
  std::string policy_path;  // for messages only
  std::string inventory_path;
  std::string policy_text;
  std::string inventory_text;
  std::int64_t applied_unix_ms = 0;
  // Pending applies only.
  std::string token;
  std::int64_t deadline_mono_ms = 0;  // CLOCK_MONOTONIC: immune to wall clock steps
  std::int64_t deadline_unix_ms = 0;  // for messages
  std::int64_t watchdog_pid = 0;
};

std::string SerializeState(const EnforceState& state);
boost::system::result<EnforceState, std::string> ParseState(const std::string& text);

std::int64_t MonotonicMs();
std::int64_t UnixMs();
// "2026-12-07T17:00:00Z".
std::string FormatUnixMs(std::int64_t ms);

// An exclusive flock on <dir>/lock for as long as the object lives.
class StateLock {
 public:
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;
  StateLock(StateLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  StateLock& operator=(StateLock&&) = delete;
  ~StateLock();

 private:
  friend class StateDir;
  explicit StateLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

class StateDir {
 public:
  explicit StateDir(std::string path) : path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

  // Creates the directory (mode 0700) when needed and takes the lock, waiting for it.
  boost::system::result<StateLock, std::string> Lock() const;

  // Absent files are nullopt; unreadable or corrupt ones an error naming the file.
  boost::system::result<std::optional<EnforceState>, std::string> ReadConfirmed() const;
  boost::system::result<std::optional<EnforceState>, std::string> ReadPending() const;
  boost::system::result<void, std::string> WriteConfirmed(const EnforceState& state) const;
  boost::system::result<void, std::string> WritePending(const EnforceState& state) const;
  boost::system::result<void, std::string> RemoveConfirmed() const;
  boost::system::result<void, std::string> RemovePending() const;

  // "<token> <word>" (daemon::ConfirmOutcomeText): how the last pending apply ended. An
  // absent file or an unknown word reads as nullopt.
  boost::system::result<void, std::string> WriteOutcome(const daemon::EndedApply& ended) const;
  std::optional<daemon::EndedApply> ReadOutcome() const;

  void AppendLog(const std::string& line) const;

 private:
  boost::system::result<std::optional<EnforceState>, std::string> ReadStateFile(
      const std::string& name) const;
  boost::system::result<void, std::string> RemoveFile(const std::string& name) const;

  std::string path_;
};

}  // namespace bulkhead::cli
