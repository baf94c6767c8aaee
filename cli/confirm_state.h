#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "cli/state_dir.h"
#include "daemon/confirm.h"
#include "enforcer/compiler.h"
#include "policy/policy.h"

// The CLI's driver of the one confirm-with-rollback design (daemon/confirm.h): the pending
// apply lives in the state directory (cli/state_dir.h), so that `enforce`, `confirm`, `disable`
// and the detached watchdog (cli/watchdog.cc), each a process of its own, apply the same rules to
// it. Every use happens under the directory's flock: whichever process takes it first after the
// deadline rolls back.
namespace bulkhead::cli {

// The inputs of one apply, compiled.
struct CompiledState {
  policy::Policy policy;
  enforcer::CompiledPolicy compiled;
  std::string mode;  // effective global mode
};

// Parses and compiles the inputs of one apply. Errors are complete lines (file and object).
boost::system::result<CompiledState, std::vector<std::string>> CompileState(const EnforceState& s);

// What the rollback did, in the words `enforce`, `confirm` and watchdog.log use.
std::string RollbackText(daemon::ConfirmOutcome outcome);

// The pending apply and the last outcome of one state directory, read under its lock, with the
// rules of daemon::ConfirmWindow (a second apply is refused while one is pending).
class ConfirmState {
 public:
  // `who` names the actor in watchdog.log ("enforce", "confirm", "watchdog 1234").
  static boost::system::result<ConfirmState, std::string> Load(const StateDir& dir,
                                                               std::string who);

  // The pending apply's inputs (nullopt: nothing pending).
  const std::optional<EnforceState>& pending() const { return pending_; }
  const std::optional<daemon::EndedApply>& last() const { return window_.last(); }
  bool AdmitsApply() const { return window_.AdmitsApply(); }

  // Past the deadline: puts confirmed.state back (or removes bulkhead's tables when there is
  // none, or when that fails) and records the outcome. nullopt when there was nothing to do.
  std::optional<daemon::ConfirmOutcome> RollBackIfExpired();
  // `bulkhead confirm`: confirmed.state becomes the pending apply's inputs; after the deadline
  // it rolls back instead and answers too late.
  boost::system::result<daemon::ConfirmAnswer, std::string> Confirm();
  // Records `state` (token set, deadline `window` from now) as the pending apply. Again after
  // the apply: the window counts from when the ruleset is in place.
  boost::system::result<void, std::string> Begin(EnforceState& state,
                                                 daemon::ConfirmClock::duration window);
  boost::system::result<void, std::string> Rearm(EnforceState& state,
                                                 daemon::ConfirmClock::duration window);
  // Ends the pending apply without a rollback: the apply failed, or `disable` removed it all.
  void End(daemon::ConfirmOutcome outcome);

 private:
  ConfirmState(const StateDir& dir, std::string who);
  daemon::RollbackSteps Steps();
  // After the window ended: pending.state goes, the outcome file says how.
  void SaveEnded();
  // After a rollback: also one line in watchdog.log.
  void SaveRollback();
  void WriteDeadline(EnforceState& state) const;

  const StateDir* dir_;
  std::string who_;
  daemon::ConfirmWindow window_;
  std::optional<EnforceState> pending_;
};

}  // namespace bulkhead::cli
