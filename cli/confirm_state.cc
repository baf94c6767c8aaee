#include "cli/confirm_state.h"

#include <chrono>
#include <utility>

#include <fmt/format.h>

#include "enforcer/apply_error_text.h"
#include "enforcer/kernel_ruleset.h"
#include "enforcer/netlink_transport.h"
#include "inventory/inventory_codec.h"
#include "policy/policy_codec.h"

namespace bulkhead::cli {
namespace {

using daemon::ConfirmClock;
using daemon::ConfirmOutcome;

// CLOCK_MONOTONIC milliseconds (what pending.state holds) as the confirm clock's time: the same
// clock in every process.
ConfirmClock::time_point FromMonotonicMs(std::int64_t ms) {
  return ConfirmClock::time_point(std::chrono::milliseconds(ms));
}

std::int64_t ToMonotonicMs(ConfirmClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Puts `state` (or no table at all) into the kernel. Used by rollbacks; errors are one string.
boost::system::result<void, std::string> ApplyState(const std::optional<EnforceState>& state) {
  auto transport = enforcer::OpenMnlTransport();
  if (!transport) {
    return transport.error();
  }
  if (!state) {
    auto deleted = enforcer::DeleteTables(**transport);
    if (!deleted) {
      return enforcer::ApplyErrorText(deleted.error());
    }
    return {};
  }
  auto compiled = CompileState(*state);
  if (!compiled) {
    return fmt::format("{}", fmt::join(compiled.error(), "; "));
  }
  auto applied = enforcer::ApplyRuleset(**transport, compiled->compiled.ruleset);
  if (!applied) {
    return enforcer::ApplyErrorText(applied.error());
  }
  return {};
}

}  // namespace

boost::system::result<CompiledState, std::vector<std::string>> CompileState(const EnforceState& s) {
  std::vector<std::string> errors;
  auto pol = policy::ParsePolicy(s.policy_text, s.policy_path);
  if (!pol) {
    for (const auto& e : pol.error().errors) {
      errors.push_back(e.ToString());
    }
  }
  auto inv = inventory::ParseInventory(s.inventory_text, s.inventory_path);
  if (!inv) {
    for (const auto& e : inv.error().errors) {
      errors.push_back(e.ToString());
    }
  }
  if (!errors.empty()) {
    return errors;
  }
  enforcer::CompileOptions options;
  options.mode = policy::ParseMode(s.mode_override);
  options.log_group = s.log_group;
  auto compiled = enforcer::CompileRuleset(*pol, *inv, options);
  if (!compiled) {
    for (const auto& e : compiled.error()) {
      errors.push_back(fmt::format("{}: {}", s.policy_path, e));
    }
    return errors;
  }
  CompiledState out;
  out.mode = std::string(policy::ModeName(options.mode.value_or(pol->mode)));
  out.policy = std::move(*pol);
  out.compiled = std::move(*compiled);
  return out;
}

std::string RollbackText(ConfirmOutcome outcome) {
  switch (outcome) {
    case ConfirmOutcome::kRestored:
      return "restored the confirmed ruleset";
    case ConfirmOutcome::kRemoved:
      return "removed bulkhead's tables";
    default:
      return "rollback failed";
  }
}

ConfirmState::ConfirmState(const StateDir& dir, std::string who)
    : dir_(&dir),
      who_(std::move(who)),
      window_(daemon::SecondApply::kRefuse, [] { return ConfirmClock::now(); }) {}

boost::system::result<ConfirmState, std::string> ConfirmState::Load(const StateDir& dir,
                                                                    std::string who) {
  auto pending = dir.ReadPending();
  if (!pending) {
    return pending.error();
  }
  ConfirmState state(dir, std::move(who));
  std::optional<daemon::PendingApply> window;
  if (*pending) {
    window = daemon::PendingApply{(*pending)->token, FromMonotonicMs((*pending)->deadline_mono_ms)};
  }
  state.pending_ = std::move(*pending);
  state.window_.Load(std::move(window), dir.ReadOutcome());
  return state;
}

daemon::RollbackSteps ConfirmState::Steps() {
  daemon::RollbackSteps steps;
  const std::string token = pending_ ? pending_->token : "";
  // Never leave a ruleset nobody confirmed: a failed restore falls back to removing the tables.
  steps.remove = [this, token] {
    auto removed = ApplyState(std::nullopt);
    if (!removed) {
      dir_->AppendLog(fmt::format("{}: token {}: removing bulkhead's tables failed: {}", who_,
                                  token, removed.error()));
    }
    return static_cast<bool>(removed);
  };
  auto confirmed = dir_->ReadConfirmed();
  if (!confirmed || !*confirmed) {
    return steps;  // nothing was confirmed before (or it cannot be read): remove
  }
  steps.restore = [this, token, previous = std::move(*confirmed)] {
    auto restored = ApplyState(previous);
    if (!restored) {
      dir_->AppendLog(fmt::format("{}: token {}: restoring the confirmed ruleset failed: {}", who_,
                                  token, restored.error()));
    }
    return static_cast<bool>(restored);
  };
  return steps;
}

void ConfirmState::SaveEnded() {
  (void)dir_->RemovePending();
  if (window_.last()) {
    (void)dir_->WriteOutcome(*window_.last());
  }
  pending_.reset();
}

void ConfirmState::SaveRollback() {
  SaveEnded();
  dir_->AppendLog(fmt::format("{}: token {} not confirmed by the deadline: {}", who_,
                              window_.last()->token, RollbackText(window_.last()->outcome)));
}

std::optional<ConfirmOutcome> ConfirmState::RollBackIfExpired() {
  auto outcome = window_.RollBackIfExpired(Steps());
  if (outcome) {
    SaveRollback();
  }
  return outcome;
}

boost::system::result<daemon::ConfirmAnswer, std::string> ConfirmState::Confirm() {
  const bool was_pending = window_.pending().has_value();
  const auto answer = window_.Confirm(Steps());
  if (answer == daemon::ConfirmAnswer::kConfirmed) {
    // If confirmed.state cannot be written, pending.state stays as it is on disk and the apply
    // still rolls back at its deadline.
    if (auto written = dir_->WriteConfirmed(*pending_); !written) {
      return written.error();
    }
    SaveEnded();
  } else if (was_pending && !window_.pending()) {
    SaveRollback();  // past the deadline, and this confirm was the first to look
  }
  return answer;
}

void ConfirmState::WriteDeadline(EnforceState& state) const {
  const auto deadline = window_.pending()->deadline;
  state.deadline_mono_ms = ToMonotonicMs(deadline);
  state.deadline_unix_ms =
      UnixMs() +
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - ConfirmClock::now()).count();
}

boost::system::result<void, std::string> ConfirmState::Begin(EnforceState& state,
                                                             ConfirmClock::duration window) {
  (void)window_.Begin(state.token, window);
  WriteDeadline(state);
  pending_ = state;
  return dir_->WritePending(state);
}

boost::system::result<void, std::string> ConfirmState::Rearm(EnforceState& state,
                                                             ConfirmClock::duration window) {
  window_.Rearm(window);
  WriteDeadline(state);
  pending_ = state;
  return dir_->WritePending(state);
}

void ConfirmState::End(ConfirmOutcome outcome) {
  if (!pending_) {
    return;
  }
  window_.End(outcome);
  SaveEnded();
}

}  // namespace bulkhead::cli
