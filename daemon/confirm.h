#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

// Confirm-with-rollback, the one design behind `bulkhead enforce --confirm S` and
// `bulkhead reload --confirm S` (DESIGN.md, "Enforcement"): a new state is applied, and unless
// `bulkhead confirm` arrives before the deadline the previous state comes back. This file owns
// the rules; the two drivers own how the pending apply is kept:
//   - the CLI (cli/confirm_state.*): in a state directory under a flock, shared between short
//     processes, with a detached watchdog that looks at the deadline (cli/watchdog.cc);
//   - the agent (daemon/enforcement_loop.*): in memory, with a timer on its event loop.
// The rules:
//   - a pending apply has a token and a deadline, counted from when the new state is in place;
//   - past the deadline, whoever looks first (watchdog, timer, `confirm`, the next apply) rolls
//     back: the previous state if there is one, else (CLI) everything bulkhead installed;
//   - `confirm` after the deadline is "too late", never a late success;
//   - a second apply while one is pending is refused (CLI: nobody could say which of the two a
//     `confirm` meant), or (agent) the earliest previous state is kept, so that confirming
//     nothing in a series of reloads still returns to the last state somebody confirmed.
// Not thread-safe: each driver calls it from one thread (the agent's loop, or under the flock).
namespace bulkhead::daemon {

using ConfirmClock = std::chrono::steady_clock;

// How a pending apply ended. The words (ConfirmOutcomeText) are also what the CLI stores in its
// state directory, so they do not change.
enum class ConfirmOutcome {
  kConfirmed,       // `confirm` in time: the new state stays
  kRestored,        // deadline passed: the previous state is back
  kRemoved,         // deadline passed, no previous state (or it failed): bulkhead's rules removed
  kRollbackFailed,  // deadline passed and neither restoring nor removing worked
  kFailed,          // the apply itself failed: nothing to roll back
  kCancelled,       // ended by something else: `bulkhead disable`, a reload without --confirm
};

std::string_view ConfirmOutcomeText(ConfirmOutcome outcome);
std::optional<ConfirmOutcome> ParseConfirmOutcome(std::string_view text);
// restored, removed, rollback-failed: the deadline passed.
bool IsRollback(ConfirmOutcome outcome);

// What happens to an apply while another waits for confirmation.
enum class SecondApply {
  kRefuse,                // the CLI
  kKeepEarliestPrevious,  // the agent
};

// What `confirm` gets.
enum class ConfirmAnswer {
  kConfirmed,
  kTooLate,  // the deadline had passed; last() says how the rollback went
  kNothingPending,
};

struct PendingApply {
  std::string token;
  ConfirmClock::time_point deadline;
};

struct EndedApply {
  std::string token;
  ConfirmOutcome outcome = ConfirmOutcome::kConfirmed;
};

// How to roll back, given by the driver. Each step logs its own failure and says whether it
// worked. An empty `restore` means there is no previous state (nothing was ever confirmed); an
// empty `remove` that the driver has no such fallback (the agent keeps the unconfirmed policy
// rather than leave the host without rules).
struct RollbackSteps {
  std::function<bool()> restore;
  std::function<bool()> remove;
};

class ConfirmWindow {
 public:
  using Now = std::function<ConfirmClock::time_point()>;

  // `now` is injected for tests; the drivers pass steady_clock (CLOCK_MONOTONIC, the same in
  // every process, and immune to wall clock steps).
  ConfirmWindow(SecondApply rule, Now now);

  // For a driver that keeps the state elsewhere (the CLI reads it under its lock).
  void Load(std::optional<PendingApply> pending, std::optional<EndedApply> last);
  const std::optional<PendingApply>& pending() const { return pending_; }
  const std::optional<EndedApply>& last() const { return last_; }

  // A pending apply whose deadline has passed.
  bool Expired() const;
  // Until the deadline (zero when expired or nothing is pending).
  ConfirmClock::duration Remaining() const;
  // Whether an apply may start now. False only under kRefuse while one is pending (roll back an
  // expired one first: RollBackIfExpired).
  bool AdmitsApply() const;

  // Opens a window for the apply `token`, ending `window` from now. Returns true when this
  // starts a new window (the driver keeps the current state as the previous one), false when it
  // replaces a pending apply under kKeepEarliestPrevious (the driver keeps the previous state it
  // has). A programming error when !AdmitsApply().
  bool Begin(std::string token, ConfirmClock::duration window);
  // The window starts again from now: the deadline counts from when the new state is in place,
  // however long the apply took.
  void Rearm(ConfirmClock::duration window);
  // Ends the pending apply without a rollback (kFailed, kCancelled).
  void End(ConfirmOutcome outcome);

  // If the deadline has passed, rolls back with `steps` and returns how it went; nullopt when
  // nothing is pending or the deadline is still ahead.
  std::optional<ConfirmOutcome> RollBackIfExpired(const RollbackSteps& steps);
  // `confirm`: in time it ends the pending apply as confirmed; after the deadline it rolls back
  // first (if nobody has yet) and answers too late.
  ConfirmAnswer Confirm(const RollbackSteps& steps);

 private:
  void Finish(ConfirmOutcome outcome);

  SecondApply rule_;
  Now now_;
  std::optional<PendingApply> pending_;
  std::optional<EndedApply> last_;
};

}  // namespace bulkhead::daemon
