#include "daemon/confirm.h"

#include <array>
#include <cstdlib>
#include <utility>

namespace bulkhead::daemon {
namespace {

struct OutcomeWord {
  ConfirmOutcome outcome;
  std::string_view word;
};

// One table for both directions: the words are on disk (cli/state_dir.h, "outcome").
constexpr std::array<OutcomeWord, 6> kOutcomeWords = {{
    {ConfirmOutcome::kConfirmed, "confirmed"},
    {ConfirmOutcome::kRestored, "restored"},
    {ConfirmOutcome::kRemoved, "removed"},
    {ConfirmOutcome::kRollbackFailed, "rollback-failed"},
    {ConfirmOutcome::kFailed, "failed"},
    {ConfirmOutcome::kCancelled, "cancelled"},
}};

}  // namespace

std::string_view ConfirmOutcomeText(ConfirmOutcome outcome) {
  for (const auto& w : kOutcomeWords) {
    if (w.outcome == outcome) {
      return w.word;
    }
  }
  std::abort();  // every enumerator is in the table
}

std::optional<ConfirmOutcome> ParseConfirmOutcome(std::string_view text) {
  for (const auto& w : kOutcomeWords) {
    if (w.word == text) {
      return w.outcome;
    }
  }
  return std::nullopt;
}

bool IsRollback(ConfirmOutcome outcome) {
  return outcome == ConfirmOutcome::kRestored || outcome == ConfirmOutcome::kRemoved ||
         outcome == ConfirmOutcome::kRollbackFailed;
}

ConfirmWindow::ConfirmWindow(SecondApply rule, Now now) : rule_(rule), now_(std::move(now)) {}

void ConfirmWindow::Load(std::optional<PendingApply> pending, std::optional<EndedApply> last) {
  pending_ = std::move(pending);
  last_ = std::move(last);
}

bool ConfirmWindow::Expired() const { return pending_ && now_() >= pending_->deadline; }

ConfirmClock::duration ConfirmWindow::Remaining() const {
  if (!pending_) {
    return ConfirmClock::duration::zero();
  }
  const auto left = pending_->deadline - now_();
  return left > ConfirmClock::duration::zero() ? left : ConfirmClock::duration::zero();
}

bool ConfirmWindow::AdmitsApply() const { return !(pending_ && rule_ == SecondApply::kRefuse); }

bool ConfirmWindow::Begin(std::string token, ConfirmClock::duration window) {
  if (!AdmitsApply()) {
    std::abort();  // the driver asks AdmitsApply() before applying anything
  }
  const bool started = !pending_;
  pending_ = PendingApply{std::move(token), now_() + window};
  return started;
}

void ConfirmWindow::Rearm(ConfirmClock::duration window) {
  if (pending_) {
    pending_->deadline = now_() + window;
  }
}

void ConfirmWindow::End(ConfirmOutcome outcome) {
  if (pending_) {
    Finish(outcome);
  }
}

void ConfirmWindow::Finish(ConfirmOutcome outcome) {
  last_ = EndedApply{pending_->token, outcome};
  pending_.reset();
}

std::optional<ConfirmOutcome> ConfirmWindow::RollBackIfExpired(const RollbackSteps& steps) {
  if (!Expired()) {
    return std::nullopt;
  }
  // Never leave a state nobody confirmed: the previous one, else nothing of bulkhead's.
  ConfirmOutcome outcome = ConfirmOutcome::kRollbackFailed;
  if (steps.restore && steps.restore()) {
    outcome = ConfirmOutcome::kRestored;
  } else if (steps.remove && steps.remove()) {
    outcome = ConfirmOutcome::kRemoved;
  }
  Finish(outcome);
  return outcome;
}

ConfirmAnswer ConfirmWindow::Confirm(const RollbackSteps& steps) {
  if (RollBackIfExpired(steps)) {
    return ConfirmAnswer::kTooLate;
  }
  if (!pending_) {
    return last_ && IsRollback(last_->outcome) ? ConfirmAnswer::kTooLate
                                               : ConfirmAnswer::kNothingPending;
  }
  Finish(ConfirmOutcome::kConfirmed);
  return ConfirmAnswer::kConfirmed;
}

}  // namespace bulkhead::daemon
