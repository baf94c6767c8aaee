// The tamper guard against the real kernel: nftables' events for bulkhead's tables, told apart
// into bulkhead's own commits and everyone else's, the kernel-verified ruleset, and a repair
// after a flush. Runs as root in a network namespace of its own (unshare in this process), so
// the host's ruleset is never touched; `nft` runs as a child process in that namespace.
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include "enforcer/compiler.h"
#include "enforcer/kernel_ruleset.h"
#include "enforcer/ruleset_verify.h"
#include "enforcer/ruleset_watch.h"
#include "enforcer/tamper_guard.h"
#include "tests/unit/enforcer/sample_policy.h"

namespace bulkhead::enforcer {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Runs a shell command (nft as a foreign committer) and returns its output.
std::string Shell(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) {
    return out;
  }
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) {
    out.append(buf, n);
  }
  const int status = ::pclose(p);
  if (status != 0) {
    out += fmt::format("\n(exit status {})", status);
  }
  return out;
}

class TamperNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0U) << "this test needs root: unshare(CLONE_NEWNET), nft";
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << std::strerror(errno);
    auto compiled = CompileRuleset(testing::SamplePolicy(policy::Mode::kEnforce),
                                   testing::SampleInventory(), {});
    ASSERT_TRUE(compiled.has_value());
    ruleset_ = std::move(compiled->ruleset);
    auto inner = OpenMnlTransport();
    ASSERT_TRUE(inner.has_value()) << inner.error();
    transport_ = std::make_unique<OwnCommitTransport>(std::move(*inner), ledger_);
    auto watch = RulesetWatch::Open(ledger_);
    ASSERT_TRUE(watch.has_value()) << watch.error();
    watch_ = std::move(*watch);
  }

  void Apply() {
    auto applied = ApplyRuleset(*transport_, ruleset_);
    ASSERT_TRUE(applied.has_value()) << applied.error().summary;
  }

  // Reads events until `done` holds for what was read, or `timeout` passed.
  template <typename Done>
  WatchUpdate ReadUntil(Done done, std::chrono::milliseconds timeout = std::chrono::seconds(1)) {
    WatchUpdate all;
    const auto deadline = Clock::now() + timeout;
    while (!done(all)) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        break;
      }
      pollfd p{watch_->fd(), POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
      WatchUpdate u = watch_->Drain();
      for (auto& c : u.commits) {
        all.commits.push_back(std::move(c));
      }
      all.malformed += u.malformed;
      all.foreign_elsewhere += u.foreign_elsewhere;
      if (u.resync_needed) {
        all.NeedResync(u.resync_reason);
      }
    }
    return all;
  }

  static bool HasForeign(const WatchUpdate& u) {
    for (const auto& c : u.commits) {
      if (!c.ours) {
        return true;
      }
    }
    return false;
  }

  // Runs `nft <args>` in this namespace and waits (at most 1 s) for the watcher to report a
  // foreign commit; returns it and the time from the command's end to its report.
  CommitReport ForeignChange(const std::string& args) {
    const std::string out = Shell("nft " + args + " 2>&1");
    EXPECT_EQ(out, "") << "nft " << args;
    const auto done = Clock::now();
    WatchUpdate u = ReadUntil(HasForeign);
    const double ms = Ms(Clock::now() - done);
    EXPECT_TRUE(HasForeign(u)) << "no foreign commit reported for: nft " << args;
    EXPECT_FALSE(u.resync_needed) << u.resync_reason;
    std::printf("[ measured ] nft %s: reported %.2f ms after the command ended\n", args.c_str(),
                ms);
    for (const auto& c : u.commits) {
      if (!c.ours) {
        return c;
      }
    }
    return {};
  }

  std::vector<RulesetDifference> Verify() {
    auto diffs = VerifyRuleset(*transport_, ruleset_);
    EXPECT_TRUE(diffs.has_value()) << diffs.error();
    return diffs ? *diffs : std::vector<RulesetDifference>{};
  }

  std::string RuleHandle(const std::string& chain) {
    // `nft -a` prints "... # handle N" after each rule; the first rule of the chain.
    const std::string listing = Shell("nft -a list chain inet bulkhead " + chain);
    const auto policy = listing.find("policy");
    const auto rule = policy == std::string::npos ? policy : listing.find("# handle", policy);
    return rule == std::string::npos
               ? ""
               : listing.substr(rule + 9, listing.find('\n', rule) - rule - 9);
  }

  // The agent's callbacks: each incident recorded in `incidents` and repaired by applying the
  // ruleset again (its time in `restored`, when given), verified against the ruleset, warnings
  // kept in `warnings`.
  TamperGuard::Callbacks Repairing(std::vector<TamperIncident>& incidents,
                                   std::vector<std::string>& warnings,
                                   Clock::time_point* restored = nullptr) {
    TamperGuard::Callbacks callbacks;
    callbacks.repair =
        [this, &incidents,
         restored](const TamperIncident& incident) -> boost::system::result<void, std::string> {
      incidents.push_back(incident);
      auto applied = ApplyRuleset(*transport_, ruleset_);
      if (!applied) {
        return applied.error().summary;
      }
      if (restored != nullptr) {
        *restored = Clock::now();
      }
      return {};
    };
    callbacks.verify = [this]() { return VerifyRuleset(*transport_, ruleset_); };
    callbacks.warn = [&warnings](std::string_view w) { warnings.emplace_back(w); };
    return callbacks;
  }

  std::shared_ptr<OwnCommitLedger> ledger_ = std::make_shared<OwnCommitLedger>();
  Ruleset ruleset_;
  std::unique_ptr<NetlinkTransport> transport_;
  std::unique_ptr<RulesetWatch> watch_;
};

std::string Changes(const CommitReport& c) {
  std::string out;
  for (const auto& ch : c.first_changes) {
    out += ch.Describe() + "; ";
  }
  return out;
}

TEST_F(TamperNetnsTest, OwnAppliesAreOurs) {
  Apply();
  WatchUpdate first = ReadUntil([](const WatchUpdate& u) { return !u.commits.empty(); });
  ASSERT_FALSE(first.resync_needed) << first.resync_reason;
  ASSERT_EQ(first.commits.size(), 1U);
  EXPECT_TRUE(first.commits[0].ours);
  EXPECT_TRUE(first.commits[0].full_replace);
  EXPECT_GT(first.commits[0].changes, 10U);
  std::printf("[ measured ] one apply of the sample: %zu events for bulkhead's tables\n",
              first.commits[0].changes);

  // A re-apply replaces the tables: deletions and additions, all ours.
  Apply();
  WatchUpdate second = ReadUntil([](const WatchUpdate& u) { return !u.commits.empty(); });
  ASSERT_EQ(second.commits.size(), 1U);
  EXPECT_TRUE(second.commits[0].ours);
  EXPECT_TRUE(second.commits[0].full_replace);
  ASSERT_FALSE(second.commits[0].first_changes.empty());
  EXPECT_TRUE(second.commits[0].first_changes[0].removed) << Changes(second.commits[0]);
  EXPECT_EQ(ledger_->pending(), 0U);

  // A batch the kernel refuses commits nothing and leaves no entry behind. (An element update
  // that adds an element already there.)
  ElementDelta delta;
  SetDelta add;
  add.family = Family::kInet;
  add.table = std::string(kTableName);
  add.set = *ruleset_.FindTable(Family::kInet, kTableName)->FindSet("grp4");
  add.set.elements.resize(1);
  delta.sets.push_back(add);
  auto refused = ApplyElementDelta(*transport_, delta);
  EXPECT_FALSE(refused.has_value());
  EXPECT_EQ(ledger_->pending(), 0U);

  // Another table's commit is not about bulkhead.
  EXPECT_EQ(Shell("nft add table inet other 2>&1"), "");
  WatchUpdate other = ReadUntil([](const WatchUpdate& u) { return u.foreign_elsewhere > 0; });
  EXPECT_TRUE(other.commits.empty());
  EXPECT_EQ(other.foreign_elsewhere, 1U);
}

TEST_F(TamperNetnsTest, ForeignChangesAreReportedAndVerifyNamesTheObject) {
  Apply();
  ReadUntil([](const WatchUpdate& u) { return !u.commits.empty(); });
  EXPECT_TRUE(Verify().empty());

  // A deleted element: reported, and the compare names the workload it belonged to.
  CommitReport element = ForeignChange("delete element inet bulkhead grp4 { 10.0.0.2 }");
  EXPECT_EQ(Changes(element), "deleted 1 element of set inet bulkhead grp4; ");
  EXPECT_NE(element.generation.process, "");
  auto diffs = Verify();
  ASSERT_EQ(diffs.size(), 1U);
  EXPECT_EQ(diffs[0].kind, RulesetDifference::Kind::kMissing);
  EXPECT_EQ(diffs[0].object, "element of set inet bulkhead grp4");
  EXPECT_NE(diffs[0].origin.find("web-1"), std::string::npos) << diffs[0].ToString();
  std::printf("[ verify   ] %s\n", diffs[0].ToString().c_str());
  Apply();
  ReadUntil([](const WatchUpdate& u) { return !u.commits.empty(); });
  EXPECT_TRUE(Verify().empty());

  // A deleted rule: the first rule of forward (ct state established,related accept).
  const std::string handle = RuleHandle("forward");
  ASSERT_FALSE(handle.empty());
  CommitReport rule = ForeignChange("delete rule inet bulkhead forward handle " + handle);
  EXPECT_EQ(Changes(rule),
            fmt::format("deleted rule (handle {}) of chain inet bulkhead forward; ", handle));
  diffs = Verify();
  ASSERT_EQ(diffs.size(), 1U);
  EXPECT_EQ(diffs[0].kind, RulesetDifference::Kind::kMissing);
  EXPECT_EQ(diffs[0].object, "rule 0 of chain inet bulkhead forward");
  EXPECT_EQ(diffs[0].origin,
            ruleset_.FindTable(Family::kInet, kTableName)->FindChain("forward")->rules[0].origin);
  std::printf("[ verify   ] %s\n", diffs[0].ToString().c_str());
  Apply();
  ReadUntil([](const WatchUpdate& u) { return !u.commits.empty(); });

  // A dormant table stays listed but enforces nothing.
  CommitReport dormant = ForeignChange("add table inet bulkhead '{ flags dormant; }'");
  diffs = Verify();
  ASSERT_EQ(diffs.size(), 1U);
  EXPECT_EQ(diffs[0].object, "table inet bulkhead");
  EXPECT_NE(diffs[0].detail.find("dormant"), std::string::npos) << diffs[0].ToString();
  Apply();
  ReadUntil([](const WatchUpdate& u) { return !u.commits.empty(); });

  // A deleted table.
  CommitReport table = ForeignChange("delete table inet bulkhead");
  EXPECT_NE(Changes(table).find("deleted table inet bulkhead"), std::string::npos)
      << Changes(table);
  diffs = Verify();
  ASSERT_EQ(diffs.size(), 1U);
  EXPECT_EQ(diffs[0].object, "table inet bulkhead");
  EXPECT_EQ(diffs[0].kind, RulesetDifference::Kind::kMissing);
  Apply();
  ReadUntil([](const WatchUpdate& u) { return !u.commits.empty(); });

  // A flushed ruleset: both tables go, in one commit.
  CommitReport flush = ForeignChange("flush ruleset");
  EXPECT_NE(Changes(flush).find("deleted"), std::string::npos);
  std::printf("[ summary  ] %s\n", flush.Summary().c_str());
  diffs = Verify();
  ASSERT_EQ(diffs.size(), 2U);
  EXPECT_EQ(diffs[0].object, "table inet bulkhead");
  EXPECT_EQ(diffs[1].object, "table bridge bulkhead");
}

TEST_F(TamperNetnsTest, MutedApplyIsSilentAndVerifyCoversTheGap) {
  Apply();
  ReadUntil([](const WatchUpdate& u) { return !u.commits.empty(); });
  ASSERT_TRUE(watch_->Mute().has_value());
  Apply();
  // A foreign change while muted is not reported...
  ASSERT_EQ(Shell("nft delete element inet bulkhead grp4 '{ 10.0.0.3 }' 2>&1"), "");
  ASSERT_TRUE(watch_->Unmute().has_value());
  WatchUpdate muted = ReadUntil([](const WatchUpdate& u) { return !u.commits.empty(); },
                                std::chrono::milliseconds(300));
  EXPECT_TRUE(muted.commits.empty());
  EXPECT_EQ(ledger_->pending(), 0U);  // the muted apply's NEWGEN never comes: its entry is gone
  // ...the compare after Unmute finds it.
  auto diffs = Verify();
  ASSERT_EQ(diffs.size(), 1U);
  EXPECT_NE(diffs[0].origin.find("api-1"), std::string::npos) << diffs[0].ToString();
  // After Unmute, events flow again.
  CommitReport table = ForeignChange("delete table bridge bulkhead");
  EXPECT_EQ(Changes(table).rfind("deleted table bridge bulkhead", 0), 0U) << Changes(table);
}

TEST_F(TamperNetnsTest, GuardRestoresAFlushedRulesetOnce) {
  Apply();
  ReadUntil([](const WatchUpdate& u) { return !u.commits.empty(); });
  watch_.reset();  // the guard has its own

  boost::asio::io_context io;
  std::vector<TamperIncident> incidents;
  std::vector<std::string> warnings;
  Clock::time_point restored{};
  const TamperGuard::Callbacks callbacks = Repairing(incidents, warnings, &restored);
  auto guard = TamperGuard::Start(io, ledger_, {}, callbacks);
  ASSERT_TRUE(guard.has_value()) << guard.error();

  auto run_for = [&](std::chrono::milliseconds d) {
    const auto until = Clock::now() + d;
    while (Clock::now() < until) {
      io.run_one_for(std::chrono::milliseconds(10));
    }
  };
  // Our own re-apply: no repair.
  Apply();
  run_for(std::chrono::milliseconds(400));
  EXPECT_TRUE(incidents.empty());
  EXPECT_EQ((*guard)->stats().own_commits, 1U);

  for (int round = 0; round < 3; ++round) {
    const std::size_t before = incidents.size();
    const auto start = Clock::now();
    ASSERT_EQ(Shell("nft flush ruleset 2>&1"), "");
    const auto flushed = Clock::now();
    while (incidents.size() == before && Clock::now() - start < std::chrono::seconds(2)) {
      io.run_one_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(incidents.size(), before + 1) << "no repair within 2 s";
    const TamperIncident& incident = incidents.back();
    EXPECT_EQ(incident.trigger, TamperTrigger::kForeignChange);
    EXPECT_EQ(incident.foreign_commits, 1U);
    std::printf(
        "[ measured ] flush -> restored: %.1f ms after nft ended (event read -> restored %.1f ms, "
        "debounce %lld ms included)\n",
        Ms(restored - flushed), Ms(restored - incident.first_seen),
        static_cast<long long>(TamperGuardOptions{}.quiet.count()));
    EXPECT_LT(restored - flushed, std::chrono::seconds(1));
    // Our repair's events come back as ours: no second repair.
    run_for(std::chrono::milliseconds(400));
    EXPECT_EQ(incidents.size(), before + 1);
    EXPECT_TRUE(VerifyRuleset(*transport_, ruleset_)->empty());
  }
  std::printf("[ summary  ] %s\n", incidents.front().Summary().c_str());
  EXPECT_EQ((*guard)->stats().repairs, 3U);
  EXPECT_EQ((*guard)->stats().foreign_commits, 3U);
  EXPECT_TRUE(warnings.empty()) << warnings.front();

  // Three deletions in a row (a script removing elements one by one): one repair.
  const std::size_t before = incidents.size();
  ASSERT_EQ(Shell("nft delete element inet bulkhead grp4 '{ 10.0.0.2 }' && "
                  "nft delete element inet bulkhead grp4 '{ 10.0.0.3 }' && "
                  "nft delete element inet bulkhead grp4 '{ 10.0.0.4 }' 2>&1"),
            "");
  run_for(std::chrono::milliseconds(700));
  ASSERT_EQ(incidents.size(), before + 1);
  EXPECT_EQ(incidents.back().foreign_commits, 3U);
  EXPECT_TRUE(VerifyRuleset(*transport_, ruleset_)->empty());
}

TEST_F(TamperNetnsTest, PeriodicCompareRepairsWhatEventsMissed) {
  Apply();
  ReadUntil([](const WatchUpdate& u) { return !u.commits.empty(); });
  watch_.reset();
  boost::asio::io_context io;
  std::vector<TamperIncident> incidents;
  std::vector<std::string> warnings;
  const TamperGuard::Callbacks callbacks = Repairing(incidents, warnings);
  TamperGuardOptions options;
  options.verify_interval = std::chrono::milliseconds(300);
  auto guard = TamperGuard::Start(io, ledger_, options, callbacks);
  ASSERT_TRUE(guard.has_value()) << guard.error();
  // A change the events do not show (the guard is muted, as during an apply).
  ASSERT_TRUE((*guard)->Mute().has_value());
  ASSERT_EQ(Shell("nft delete element inet bulkhead grp4 '{ 10.0.0.5 }' 2>&1"), "");
  ASSERT_TRUE((*guard)->Unmute().has_value());
  const auto until = Clock::now() + std::chrono::seconds(2);
  while (incidents.empty() && Clock::now() < until) {
    io.run_one_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(incidents.size(), 1U);
  EXPECT_EQ(incidents[0].trigger, TamperTrigger::kPeriodicVerify);
  ASSERT_EQ(incidents[0].differences.size(), 1U);
  EXPECT_NE(incidents[0].differences[0].origin.find("db-1"), std::string::npos)
      << incidents[0].Summary();
  std::printf("[ summary  ] %s\n", incidents[0].Summary().c_str());
  EXPECT_TRUE(VerifyRuleset(*transport_, ruleset_)->empty());
  EXPECT_EQ((*guard)->stats().repairs, 1U);
  EXPECT_GE((*guard)->stats().verifies, 1U);
}

TEST_F(TamperNetnsTest, LostEventsMakeTheGuardCompare) {
  Apply();
  ReadUntil([](const WatchUpdate& u) { return !u.commits.empty(); });
  watch_.reset();
  boost::asio::io_context io;
  std::vector<TamperIncident> incidents;
  std::vector<std::string> warnings;
  const TamperGuard::Callbacks callbacks = Repairing(incidents, warnings);
  // A receive buffer so small that one apply's events overflow it.
  WatchOptions tiny;
  tiny.receive_buffer = 4096;
  auto guard = TamperGuard::Start(io, ledger_, {}, callbacks, tiny);
  ASSERT_TRUE(guard.has_value()) << guard.error();
  // Events lost while the loop is not reading: a flush, then a foreign table the kernel has
  // to report too (it overflows the buffer).
  ASSERT_EQ(Shell("nft flush ruleset 2>&1"), "");
  Apply();
  ASSERT_EQ(Shell("nft delete element inet bulkhead grp4 '{ 10.0.0.2 }' 2>&1"), "");
  const auto until = Clock::now() + std::chrono::seconds(1);
  while (incidents.empty() && Clock::now() < until) {
    io.run_one_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE((*guard)->stats().resyncs, 1U);
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings.front().find("ENOBUFS"), std::string::npos) << warnings.front();
  ASSERT_FALSE(incidents.empty());
  EXPECT_TRUE(VerifyRuleset(*transport_, ruleset_)->empty());
}

}  // namespace
}  // namespace bulkhead::enforcer
