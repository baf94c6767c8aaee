// The confirm-with-rollback rules (daemon/confirm.h) with a clock the test moves by hand.
#include "daemon/confirm.h"

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace bulkhead::daemon {
namespace {

using namespace std::chrono_literals;

// A clock the test sets, and rollback steps that record what was asked of them.
struct Harness {
  ConfirmClock::time_point now{std::chrono::hours(1)};
  std::vector<std::string> calls;
  bool restore_works = true;
  bool remove_works = true;

  ConfirmWindow Window(SecondApply rule) {
    return ConfirmWindow(rule, [this] { return now; });
  }
  RollbackSteps Steps(bool with_previous, bool with_remove = true) {
    RollbackSteps steps;
    if (with_previous) {
      steps.restore = [this] {
        calls.push_back("restore");
        return restore_works;
      };
    }
    if (with_remove) {
      steps.remove = [this] {
        calls.push_back("remove");
        return remove_works;
      };
    }
    return steps;
  }
};

TEST(ConfirmOutcome, WordsRoundTripAndStayTheSame) {
  // The CLI stores these words in its state directory: a rename would strand a pending apply.
  const std::vector<std::pair<ConfirmOutcome, std::string>> words = {
      {ConfirmOutcome::kConfirmed, "confirmed"},
      {ConfirmOutcome::kRestored, "restored"},
      {ConfirmOutcome::kRemoved, "removed"},
      {ConfirmOutcome::kRollbackFailed, "rollback-failed"},
      {ConfirmOutcome::kFailed, "failed"},
      {ConfirmOutcome::kCancelled, "cancelled"}};
  for (const auto& [outcome, word] : words) {
    EXPECT_EQ(ConfirmOutcomeText(outcome), word);
    EXPECT_EQ(ParseConfirmOutcome(word), outcome);
  }
  EXPECT_FALSE(ParseConfirmOutcome("rolled-back"));
  EXPECT_FALSE(ParseConfirmOutcome(""));
}

TEST(ConfirmWindow, ConfirmInTimeKeepsTheNewState) {
  Harness h;
  auto w = h.Window(SecondApply::kRefuse);
  EXPECT_TRUE(w.Begin("t1", 5s));
  h.now += 4999ms;
  EXPECT_FALSE(w.Expired());
  EXPECT_EQ(w.Remaining(), 1ms);
  EXPECT_FALSE(w.RollBackIfExpired(h.Steps(true)));
  EXPECT_EQ(w.Confirm(h.Steps(true)), ConfirmAnswer::kConfirmed);
  EXPECT_TRUE(h.calls.empty());
  EXPECT_FALSE(w.pending());
  ASSERT_TRUE(w.last());
  EXPECT_EQ(w.last()->token, "t1");
  EXPECT_EQ(w.last()->outcome, ConfirmOutcome::kConfirmed);
  // Nothing waits any more; a second confirm has nothing to do and is not "too late".
  EXPECT_EQ(w.Confirm(h.Steps(true)), ConfirmAnswer::kNothingPending);
}

TEST(ConfirmWindow, AtTheDeadlineWhoeverLooksFirstRollsBack) {
  Harness h;
  auto w = h.Window(SecondApply::kRefuse);
  w.Begin("t1", 5s);
  h.now += 5s;  // the deadline itself is past: a confirm at that instant loses
  EXPECT_TRUE(w.Expired());
  EXPECT_EQ(w.Remaining(), 0s);
  EXPECT_EQ(w.RollBackIfExpired(h.Steps(true)), ConfirmOutcome::kRestored);
  EXPECT_EQ(h.calls, std::vector<std::string>{"restore"});
  // The second one to look finds nothing to do.
  EXPECT_FALSE(w.RollBackIfExpired(h.Steps(true)));
  EXPECT_EQ(h.calls.size(), 1u);
}

TEST(ConfirmWindow, ConfirmAfterTheDeadlineRollsBackAndIsTooLate) {
  Harness h;
  auto w = h.Window(SecondApply::kRefuse);
  w.Begin("t1", 1s);
  h.now += 2s;
  // Nobody has rolled back yet: confirm does it, and still refuses.
  EXPECT_EQ(w.Confirm(h.Steps(true)), ConfirmAnswer::kTooLate);
  EXPECT_EQ(h.calls, std::vector<std::string>{"restore"});
  EXPECT_EQ(w.last()->outcome, ConfirmOutcome::kRestored);
  // Asked again later: still too late, not "nothing pending", and no second rollback.
  EXPECT_EQ(w.Confirm(h.Steps(true)), ConfirmAnswer::kTooLate);
  EXPECT_EQ(h.calls.size(), 1u);
}

TEST(ConfirmWindow, WithoutAPreviousStateTheRollbackRemoves) {
  Harness h;
  auto w = h.Window(SecondApply::kRefuse);
  w.Begin("t1", 1s);
  h.now += 1s;
  EXPECT_EQ(w.RollBackIfExpired(h.Steps(false)), ConfirmOutcome::kRemoved);
  EXPECT_EQ(h.calls, std::vector<std::string>{"remove"});
}

TEST(ConfirmWindow, AFailedRestoreFallsBackToRemoving) {
  Harness h;
  h.restore_works = false;
  auto w = h.Window(SecondApply::kRefuse);
  w.Begin("t1", 1s);
  h.now += 1s;
  EXPECT_EQ(w.RollBackIfExpired(h.Steps(true)), ConfirmOutcome::kRemoved);
  EXPECT_EQ(h.calls, (std::vector<std::string>{"restore", "remove"}));
}

TEST(ConfirmWindow, WhenNothingWorksTheRollbackFailedAndTheWindowStillCloses) {
  Harness h;
  h.restore_works = false;
  h.remove_works = false;
  auto w = h.Window(SecondApply::kRefuse);
  w.Begin("t1", 1s);
  h.now += 1s;
  EXPECT_EQ(w.RollBackIfExpired(h.Steps(true)), ConfirmOutcome::kRollbackFailed);
  EXPECT_FALSE(w.pending());
  EXPECT_EQ(w.Confirm(h.Steps(true)), ConfirmAnswer::kTooLate);
}

TEST(ConfirmWindow, WithoutARemoveStepAFailedRestoreIsARollbackFailure) {
  Harness h;  // the agent's steps: restore only
  h.restore_works = false;
  auto w = h.Window(SecondApply::kKeepEarliestPrevious);
  w.Begin("reload-1", 1s);
  h.now += 1s;
  EXPECT_EQ(w.RollBackIfExpired(h.Steps(true, /*with_remove=*/false)),
            ConfirmOutcome::kRollbackFailed);
  EXPECT_EQ(h.calls, std::vector<std::string>{"restore"});
}

TEST(ConfirmWindow, TheCliRefusesASecondApplyWhileOneIsPending) {
  Harness h;
  auto w = h.Window(SecondApply::kRefuse);
  EXPECT_TRUE(w.AdmitsApply());
  w.Begin("t1", 5s);
  EXPECT_FALSE(w.AdmitsApply());
  // Past the deadline it is still pending until somebody rolls it back; then applies resume.
  h.now += 6s;
  EXPECT_FALSE(w.AdmitsApply());
  w.RollBackIfExpired(h.Steps(true));
  EXPECT_TRUE(w.AdmitsApply());
}

TEST(ConfirmWindow, TheAgentKeepsTheEarliestPreviousState) {
  Harness h;
  auto w = h.Window(SecondApply::kKeepEarliestPrevious);
  EXPECT_TRUE(w.Begin("reload-1", 5s));  // new window: the driver saves the current state
  h.now += 3s;
  EXPECT_TRUE(w.AdmitsApply());
  EXPECT_FALSE(w.Begin("reload-2", 5s));  // replaces: the driver keeps what it saved
  EXPECT_EQ(w.pending()->token, "reload-2");
  h.now += 4s;  // 7 s after the first, 4 after the second: the second's deadline counts
  EXPECT_FALSE(w.Expired());
  h.now += 1s;
  EXPECT_EQ(w.RollBackIfExpired(h.Steps(true, false)), ConfirmOutcome::kRestored);
}

TEST(ConfirmWindow, RearmCountsTheWindowFromWhenTheStateIsInPlace) {
  Harness h;
  auto w = h.Window(SecondApply::kRefuse);
  w.Begin("t1", 2s);
  h.now += 1500ms;  // a slow apply
  w.Rearm(2s);
  h.now += 1s;
  EXPECT_FALSE(w.Expired());
  EXPECT_EQ(w.Remaining(), 1s);
}

TEST(ConfirmWindow, EndWithoutRollbackRecordsWhy) {
  Harness h;
  auto w = h.Window(SecondApply::kRefuse);
  w.Begin("t1", 2s);
  w.End(ConfirmOutcome::kFailed);  // the apply itself failed
  EXPECT_FALSE(w.pending());
  EXPECT_EQ(w.last()->outcome, ConfirmOutcome::kFailed);
  EXPECT_EQ(w.Confirm(h.Steps(true)), ConfirmAnswer::kNothingPending);
  EXPECT_TRUE(h.calls.empty());
  w.End(ConfirmOutcome::kCancelled);  // nothing pending: no change
  EXPECT_EQ(w.last()->outcome, ConfirmOutcome::kFailed);
}

TEST(ConfirmWindow, LoadedStateFollowsTheSameRules) {
  // The CLI's driver: another process wrote the pending apply; this one finds it expired.
  Harness h;
  auto w = h.Window(SecondApply::kRefuse);
  w.Load(PendingApply{"abc", h.now - 1ms}, EndedApply{"old", ConfirmOutcome::kConfirmed});
  EXPECT_TRUE(w.Expired());
  EXPECT_EQ(w.Confirm(h.Steps(false)), ConfirmAnswer::kTooLate);
  EXPECT_EQ(w.last()->token, "abc");
  EXPECT_EQ(w.last()->outcome, ConfirmOutcome::kRemoved);
}

}  // namespace
}  // namespace bulkhead::daemon
