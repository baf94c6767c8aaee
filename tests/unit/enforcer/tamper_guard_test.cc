// The tamper guard's decisions (RepairScheduler): own commits never repaired, a burst of
// foreign commits debounced into one repair, an own full replacement making a pending repair
// moot, lost events asking for a compare, and the throttle against a tool that fights back.
// The socket and timer side runs against the kernel in tamper_netns_test.cc.
#include "enforcer/tamper_guard.h"

#include <gtest/gtest.h>

namespace bulkhead::enforcer {
namespace {

using Clock = RepairScheduler::Clock;
using std::chrono::milliseconds;

CommitReport Commit(bool ours, bool full_replace = false, std::uint32_t gen = 1) {
  CommitReport c;
  c.ours = ours;
  c.full_replace = full_replace;
  c.changes = 3;
  c.generation.id = gen;
  c.generation.process = ours ? "bulkhead" : "nft";
  NftChange change;
  change.kind = NftObjectKind::kTable;
  change.removed = true;
  change.family = 1;  // NFPROTO_INET
  change.table = "bulkhead";
  change.name = "bulkhead";
  c.first_changes.push_back(change);
  return c;
}

WatchUpdate Update(std::vector<CommitReport> commits) {
  WatchUpdate u;
  u.commits = std::move(commits);
  return u;
}

TamperGuardOptions Options() {
  TamperGuardOptions o;
  o.quiet = milliseconds(50);
  o.max_delay = milliseconds(250);
  o.max_repairs_per_minute = 3;
  return o;
}

TEST(RepairScheduler, OwnCommitsAreNeverRepaired) {
  RepairScheduler s(Options());
  const auto t0 = Clock::now();
  s.OnUpdate(Update({Commit(true, true), Commit(true, false)}), t0);
  EXPECT_FALSE(s.RepairDue().has_value());
  EXPECT_FALSE(s.TakeRepair(t0 + std::chrono::seconds(5)).has_value());
}

TEST(RepairScheduler, OneForeignCommitIsRepairedAfterTheQuietTime) {
  RepairScheduler s(Options());
  const auto t0 = Clock::now();
  s.OnUpdate(Update({Commit(false)}), t0);
  ASSERT_TRUE(s.RepairDue().has_value());
  EXPECT_EQ(*s.RepairDue(), t0 + milliseconds(50));
  EXPECT_FALSE(s.TakeRepair(t0 + milliseconds(49)).has_value());
  auto incident = s.TakeRepair(t0 + milliseconds(50));
  ASSERT_TRUE(incident.has_value());
  EXPECT_EQ(incident->trigger, TamperTrigger::kForeignChange);
  EXPECT_EQ(incident->foreign_commits, 1U);
  EXPECT_EQ(incident->first_seen, t0);
  EXPECT_EQ(incident->Summary(),
            "nft (pid 0, portid 0) deleted table inet bulkhead (and 2 more changes) in "
            "generation 1");
  // Taken: nothing more to do.
  EXPECT_FALSE(s.RepairDue().has_value());
}

TEST(RepairScheduler, ABurstIsOneRepairNoLaterThanMaxDelay) {
  RepairScheduler s(Options());
  const auto t0 = Clock::now();
  // A commit every 40 ms keeps the quiet time from ever passing.
  for (int i = 0; i < 6; ++i) {
    s.OnUpdate(Update({Commit(false, false, static_cast<std::uint32_t>(i))}),
               t0 + milliseconds(40 * i));
    EXPECT_FALSE(s.TakeRepair(t0 + milliseconds(40 * i)).has_value());
  }
  ASSERT_TRUE(s.RepairDue().has_value());
  EXPECT_EQ(*s.RepairDue(), t0 + milliseconds(250));  // max_delay after the first
  auto incident = s.TakeRepair(t0 + milliseconds(250));
  ASSERT_TRUE(incident.has_value());
  EXPECT_EQ(incident->foreign_commits, 6U);
  EXPECT_EQ(incident->changes, 18U);
  EXPECT_EQ(incident->commits.size(), 4U);  // the first few, for the log line
  EXPECT_NE(incident->Summary().find("(and 4 more commits)"), std::string::npos)
      << incident->Summary();
}

TEST(RepairScheduler, AnOwnReplacementAfterTheChangeMakesTheRepairMoot) {
  RepairScheduler s(Options());
  const auto t0 = Clock::now();
  s.OnUpdate(Update({Commit(false), Commit(true, true)}), t0);
  EXPECT_FALSE(s.RepairDue().has_value());

  // An own element update does not restore a deleted table: the repair stays.
  s.OnUpdate(Update({Commit(false), Commit(true, false)}), t0);
  EXPECT_TRUE(s.RepairDue().has_value());

  // A foreign change after our replacement still needs one.
  RepairScheduler later(Options());
  later.OnUpdate(Update({Commit(true, true), Commit(false)}), t0);
  EXPECT_TRUE(later.RepairDue().has_value());
}

TEST(RepairScheduler, LostEventsAskForOneCompare) {
  RepairScheduler s(Options());
  WatchUpdate u;
  u.NeedResync("ENOBUFS");
  u.NeedResync("a second reason");
  s.OnUpdate(u, Clock::now());
  EXPECT_EQ(s.TakeResync(), std::optional<std::string>("ENOBUFS"));
  EXPECT_EQ(s.TakeResync(), std::nullopt);
  EXPECT_FALSE(s.RepairDue().has_value());
}

TEST(RepairScheduler, ThrottlesATamperingLoop) {
  RepairScheduler s(Options());  // at most 3 repairs a minute
  auto t = Clock::now();
  for (int i = 0; i < 3; ++i) {
    s.OnUpdate(Update({Commit(false)}), t);
    auto incident = s.TakeRepair(t + milliseconds(50));
    ASSERT_TRUE(incident.has_value()) << i;
    s.RecordRepair(t + milliseconds(50));
    t += std::chrono::seconds(1);
  }
  const auto first_repair = t - std::chrono::seconds(3) + milliseconds(50);
  s.OnUpdate(Update({Commit(false)}), t);
  ASSERT_TRUE(s.RepairDue().has_value());
  EXPECT_EQ(*s.RepairDue(), first_repair + std::chrono::minutes(1));
  EXPECT_FALSE(s.TakeRepair(t + std::chrono::seconds(30)).has_value());
  EXPECT_TRUE(s.TakeRepair(first_repair + std::chrono::minutes(1)).has_value());
}

TEST(TamperIncident, SummaryOfACompare) {
  TamperIncident incident;
  incident.trigger = TamperTrigger::kLostEvents;
  incident.reason = "ENOBUFS";
  incident.differences.push_back(
      {RulesetDifference::Kind::kMissing, "table inet bulkhead", "", "absent in the kernel"});
  EXPECT_EQ(incident.Summary(),
            "after lost nftables events (ENOBUFS), the kernel differs: missing: table inet "
            "bulkhead: absent in the kernel");
  EXPECT_EQ(TamperTriggerName(TamperTrigger::kPeriodicVerify), "periodic");
}

}  // namespace
}  // namespace bulkhead::enforcer
