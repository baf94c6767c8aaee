#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/result.hpp>

#include "enforcer/ruleset_verify.h"
#include "enforcer/ruleset_watch.h"

// Keeps bulkhead's ruleset in the kernel: follows nftables' events (ruleset_watch.h), and when
// someone else changes bulkhead's tables (a deleted table, chain, rule or element, a flushed
// ruleset) asks its owner to re-apply, once per burst; when events were lost, and periodically,
// it compares the kernel with the model (ruleset_verify.h) and repairs what differs. It never
// repairs bulkhead's own commits. The guard does not own the ruleset or the transport: the
// enforcement loop does, and gives the guard callbacks.
namespace bulkhead::enforcer {

struct TamperGuardOptions {
  // Debounce: a repair waits until no foreign change came for `quiet`, but never longer than
  // `max_delay` after the first one. A flush is one commit (one burst of events), a firewall
  // reload is usually two or three commits in a few milliseconds (flush, then its own rules);
  // one repair after the last of them is enough. 50 + 250 ms stays well inside the 1 s budget.
  std::chrono::milliseconds quiet{50};
  std::chrono::milliseconds max_delay{250};
  // The periodic full compare (0: off). It catches what events cannot show (a change made while
  // the socket overflowed and was then repaired by chance, a kernel that lost a commit's events).
  std::chrono::milliseconds verify_interval{std::chrono::seconds(60)};
  // A tool that removes bulkhead's table every time it sees it would make the guard and the
  // tool fight forever; past this many repairs in a minute the next one waits for the window.
  std::size_t max_repairs_per_minute = 20;
};

enum class TamperTrigger : std::uint8_t {
  kForeignChange,   // events showed a change bulkhead did not make
  kLostEvents,      // events were lost (ENOBUFS, undecodable): a compare found differences
  kPeriodicVerify,  // the periodic compare found differences
};
std::string_view TamperTriggerName(TamperTrigger trigger);  // "event", "resync", "periodic"

// One repair's reason: what the owner logs (once) and counts.
struct TamperIncident {
  using Clock = std::chrono::steady_clock;
  TamperTrigger trigger = TamperTrigger::kForeignChange;
  std::vector<CommitReport> commits;  // the first foreign commits of the burst
  std::size_t foreign_commits = 0;
  std::size_t changes = 0;
  std::vector<RulesetDifference> differences;  // kLostEvents, kPeriodicVerify
  std::string reason;                          // kLostEvents: why events were lost
  Clock::time_point first_seen{};              // when the first event of it was read

  // One log line: "nft (pid 4242, portid 4242) deleted table inet bulkhead ... in generation 7"
  std::string Summary() const;
};

// The guard's decisions without sockets or timers (unit-tested): which commits need a repair,
// when (debounce, throttle), and which repairs an own full replacement made unnecessary.
class RepairScheduler {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RepairScheduler(const TamperGuardOptions& options);

  // Takes what the watcher read at `now`. Own commits never start a repair; an own full
  // replacement read after a foreign change has already undone it, so the pending repair is
  // dropped. Lost events make a compare pending.
  void OnUpdate(const WatchUpdate& update, Clock::time_point now);
  // When the pending repair is due (debounced and throttled); nullopt: none pending.
  std::optional<Clock::time_point> RepairDue() const;
  // The pending repair if it is due at `now`.
  std::optional<TamperIncident> TakeRepair(Clock::time_point now);
  // The reason events were lost, once, if a compare is pending.
  std::optional<std::string> TakeResync();
  // A repair (of any trigger) ran at `now`: counts toward the throttle.
  void RecordRepair(Clock::time_point now);
  // When repairs may run again (now or later: the throttle).
  Clock::time_point EarliestRepair(Clock::time_point now) const;

 private:
  static constexpr std::size_t kKeptCommits = 4;
  TamperGuardOptions options_;
  std::optional<TamperIncident> pending_;
  Clock::time_point last_change_{};
  std::optional<std::string> resync_;
  std::deque<Clock::time_point> recent_repairs_;
};

struct TamperStats {
  std::uint64_t repairs = 0;  // repairs that succeeded, every trigger
  std::uint64_t repair_failures = 0;
  std::uint64_t foreign_commits = 0;  // commits by others that touched bulkhead's tables
  std::uint64_t own_commits = 0;
  std::uint64_t resyncs = 0;          // compares after lost events
  std::uint64_t verifies = 0;         // compares run (resync and periodic)
  std::uint64_t verify_failures = 0;  // compares that could not read the kernel
  std::uint64_t malformed_events = 0;
  double last_repair_seconds = 0;  // first event read -> repair done, last repair
};

class TamperGuard {
 public:
  struct Callbacks {
    // Re-applies the ruleset in force (through the OwnCommitTransport that shares the guard's
    // ledger). The owner logs the incident here, once. Called on the io_context's thread.
    std::function<boost::system::result<void, std::string>(const TamperIncident&)> repair;
    // Compares the kernel with the ruleset in force (VerifyRuleset).
    std::function<boost::system::result<std::vector<RulesetDifference>, std::string>()> verify;
    // Errors the owner should log: a failed repair or compare, lost events.
    std::function<void(std::string_view)> warn;
  };

  // Opens the event socket and starts waiting on `io`. Errors: RulesetWatch::Open's.
  static boost::system::result<std::unique_ptr<TamperGuard>, std::string> Start(
      boost::asio::io_context& io, std::shared_ptr<OwnCommitLedger> ledger,
      const TamperGuardOptions& options, Callbacks callbacks, const WatchOptions& watch = {});
  ~TamperGuard();
  TamperGuard(const TamperGuard&) = delete;
  TamperGuard& operator=(const TamperGuard&) = delete;

  // Stops reading and cancels the timers; the handlers already queued do nothing.
  void Stop();
  // Around bulkhead's own big applies (RulesetWatch::Mute): no events while muted, so the
  // owner must compare the kernel with the model after Unmute (the post-apply verify).
  boost::system::result<void, std::string> Mute() { return watch_->Mute(); }
  boost::system::result<void, std::string> Unmute() { return watch_->Unmute(); }
  const TamperStats& stats() const { return stats_; }

 private:
  TamperGuard(boost::asio::io_context& io, std::unique_ptr<RulesetWatch> watch, int wait_fd,
              const TamperGuardOptions& options, Callbacks callbacks);
  void WaitReadable();
  void ReadEvents();
  void ArmRepairTimer();
  void RunDueRepair();
  void Verify(TamperTrigger trigger, std::string reason);
  void Repair(const TamperIncident& incident);
  void ArmPeriodic();

  std::unique_ptr<RulesetWatch> watch_;
  TamperGuardOptions options_;
  Callbacks callbacks_;
  RepairScheduler scheduler_;
  boost::asio::posix::stream_descriptor readable_;
  boost::asio::steady_timer repair_timer_;
  boost::asio::steady_timer periodic_timer_;
  std::shared_ptr<bool> alive_;  // handlers check it: the guard may be gone when they run
  TamperStats stats_;
};

}  // namespace bulkhead::enforcer
