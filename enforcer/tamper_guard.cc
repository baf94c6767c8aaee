#include "enforcer/tamper_guard.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace bulkhead::enforcer {

std::string_view TamperTriggerName(TamperTrigger trigger) {
  switch (trigger) {
    case TamperTrigger::kForeignChange:
      return "event";
    case TamperTrigger::kLostEvents:
      return "resync";
    case TamperTrigger::kPeriodicVerify:
      return "periodic";
  }
  return "event";
}

std::string TamperIncident::Summary() const {
  std::string out;
  if (trigger == TamperTrigger::kForeignChange) {
    for (std::size_t i = 0; i < commits.size() && i < 2; ++i) {
      out += (i == 0 ? "" : "; ") + commits[i].Summary();
    }
    if (foreign_commits > 2) {
      out += fmt::format(" (and {} more commits)", foreign_commits - 2);
    }
    return out;
  }
  out = trigger == TamperTrigger::kLostEvents
            ? fmt::format("after lost nftables events ({}), the kernel differs", reason)
            : std::string("the periodic compare found the kernel different");
  for (std::size_t i = 0; i < differences.size() && i < 3; ++i) {
    out += (i == 0 ? ": " : "; ") + differences[i].ToString();
  }
  if (differences.size() > 3) {
    out += fmt::format(" (and {} more differences)", differences.size() - 3);
  }
  return out;
}

// --- RepairScheduler --------------------------------------------------------------------------

RepairScheduler::RepairScheduler(const TamperGuardOptions& options) : options_(options) {}

void RepairScheduler::OnUpdate(const WatchUpdate& update, Clock::time_point now) {
  for (const CommitReport& commit : update.commits) {
    if (commit.ours) {
      if (commit.full_replace) {
        // Events arrive in commit order: this replacement came after the foreign change and
        // restored the whole table, so there is nothing left to repair.
        pending_.reset();
      }
      continue;
    }
    if (!pending_) {
      pending_.emplace();
      pending_->first_seen = now;
    }
    ++pending_->foreign_commits;
    pending_->changes += commit.changes;
    if (pending_->commits.size() < kKeptCommits) {
      pending_->commits.push_back(commit);
    }
    last_change_ = now;
  }
  if (update.resync_needed && !resync_) {
    resync_ = update.resync_reason;
  }
}

RepairScheduler::Clock::time_point RepairScheduler::EarliestRepair(Clock::time_point now) const {
  if (options_.max_repairs_per_minute == 0 ||
      recent_repairs_.size() < options_.max_repairs_per_minute) {
    return now;
  }
  // The oldest repair of the full window must leave it first.
  const auto index = recent_repairs_.size() - options_.max_repairs_per_minute;
  return std::max(now, recent_repairs_[index] + std::chrono::minutes(1));
}

std::optional<RepairScheduler::Clock::time_point> RepairScheduler::RepairDue() const {
  if (!pending_) {
    return std::nullopt;
  }
  const Clock::time_point debounced =
      std::min(last_change_ + options_.quiet, pending_->first_seen + options_.max_delay);
  return std::max(debounced, EarliestRepair(debounced));
}

std::optional<TamperIncident> RepairScheduler::TakeRepair(Clock::time_point now) {
  const auto due = RepairDue();
  if (!due || *due > now) {
    return std::nullopt;
  }
  std::optional<TamperIncident> out = std::move(pending_);
  pending_.reset();
  return out;
}

std::optional<std::string> RepairScheduler::TakeResync() {
  std::optional<std::string> out = std::move(resync_);
  resync_.reset();
  return out;
}

void RepairScheduler::RecordRepair(Clock::time_point now) {
  recent_repairs_.push_back(now);
  while (!recent_repairs_.empty() && recent_repairs_.front() + std::chrono::minutes(1) <= now) {
    recent_repairs_.pop_front();
  }
}

// --- TamperGuard ------------------------------------------------------------------------------

TamperGuard::TamperGuard(boost::asio::io_context& io, std::unique_ptr<RulesetWatch> watch,
                         int wait_fd, const TamperGuardOptions& options, Callbacks callbacks)
    : watch_(std::move(watch)),
      options_(options),
      callbacks_(std::move(callbacks)),
      scheduler_(options),
      readable_(io, wait_fd),
      repair_timer_(io),
      periodic_timer_(io),
      alive_(std::make_shared<bool>(true)) {}

TamperGuard::~TamperGuard() {
  // A destructor must not throw: Stop's timer cancels throw only when the reactor fails, and
  // then there is nothing left to cancel for.
  try {
    Stop();
  } catch (...) {
  }
}

boost::system::result<std::unique_ptr<TamperGuard>, std::string> TamperGuard::Start(
    boost::asio::io_context& io, std::shared_ptr<OwnCommitLedger> ledger,
    const TamperGuardOptions& options, Callbacks callbacks, const WatchOptions& watch) {
  auto opened = RulesetWatch::Open(std::move(ledger), watch);
  if (!opened) {
    return opened.error();
  }
  // A duplicate to wait on: the descriptor closes what it holds, the watch its own socket.
  const int wait_fd = ::dup((*opened)->fd());
  if (wait_fd < 0) {
    return fmt::format("duplicating the nftables event socket: {}", std::strerror(errno));
  }
  std::unique_ptr<TamperGuard> guard(
      new TamperGuard(io, std::move(*opened), wait_fd, options, std::move(callbacks)));
  guard->WaitReadable();
  guard->ArmPeriodic();
  return guard;
}

void TamperGuard::Stop() {
  alive_.reset();
  boost::system::error_code ignored;
  readable_.cancel(ignored);
  readable_.close(ignored);
  repair_timer_.cancel();
  periodic_timer_.cancel();
}

void TamperGuard::WaitReadable() {
  readable_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                       [this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
                         if (ec || alive.expired()) {
                           return;
                         }
                         ReadEvents();
                         WaitReadable();
                       });
}

// Reads what is queued and lets the scheduler decide; repairs run from the timer, so a burst
// read in several wake-ups still makes one repair.
void TamperGuard::ReadEvents() {
  const WatchUpdate update = watch_->Drain();
  stats_.malformed_events += update.malformed;
  for (const CommitReport& c : update.commits) {
    ++(c.ours ? stats_.own_commits : stats_.foreign_commits);
  }
  scheduler_.OnUpdate(update, RepairScheduler::Clock::now());
  if (auto reason = scheduler_.TakeResync()) {
    ++stats_.resyncs;
    Verify(TamperTrigger::kLostEvents, std::move(*reason));
  }
  ArmRepairTimer();
}

void TamperGuard::ArmRepairTimer() {
  const auto due = scheduler_.RepairDue();
  if (!due) {
    repair_timer_.cancel();
    return;
  }
  repair_timer_.expires_at(*due);
  repair_timer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
        if (ec || alive.expired()) {
          return;
        }
        RunDueRepair();
      });
}

void TamperGuard::RunDueRepair() {
  // Fold in what arrived since the last read: an own replacement there makes the repair moot,
  // and foreign changes there join this repair instead of causing another.
  const WatchUpdate update = watch_->Drain();
  stats_.malformed_events += update.malformed;
  for (const CommitReport& c : update.commits) {
    ++(c.ours ? stats_.own_commits : stats_.foreign_commits);
  }
  scheduler_.OnUpdate(update, RepairScheduler::Clock::now());
  if (auto incident = scheduler_.TakeRepair(RepairScheduler::Clock::now())) {
    Repair(*incident);
  }
  if (auto reason = scheduler_.TakeResync()) {
    ++stats_.resyncs;
    Verify(TamperTrigger::kLostEvents, std::move(*reason));
  }
  ArmRepairTimer();
}

void TamperGuard::Repair(const TamperIncident& incident) {
  const auto now = RepairScheduler::Clock::now();
  scheduler_.RecordRepair(now);
  auto repaired = callbacks_.repair(incident);
  if (!repaired) {
    ++stats_.repair_failures;
    callbacks_.warn(fmt::format("repairing bulkhead's ruleset failed: {}", repaired.error()));
    return;
  }
  ++stats_.repairs;
  const auto first =
      incident.first_seen == RepairScheduler::Clock::time_point{} ? now : incident.first_seen;
  stats_.last_repair_seconds =
      std::chrono::duration<double>(RepairScheduler::Clock::now() - first).count();
}

void TamperGuard::Verify(TamperTrigger trigger, std::string reason) {
  if (trigger == TamperTrigger::kLostEvents) {
    callbacks_.warn(
        fmt::format("nftables events: {}; comparing the kernel with the ruleset", reason));
  }
  ++stats_.verifies;
  auto differences = callbacks_.verify();
  if (!differences) {
    ++stats_.verify_failures;
    callbacks_.warn(
        fmt::format("comparing the kernel with the ruleset failed: {}", differences.error()));
    return;
  }
  if (differences->empty()) {
    return;
  }
  TamperIncident incident;
  incident.trigger = trigger;
  incident.reason = std::move(reason);
  incident.differences = std::move(*differences);
  incident.first_seen = RepairScheduler::Clock::now();
  Repair(incident);
}

void TamperGuard::ArmPeriodic() {
  if (options_.verify_interval.count() <= 0) {
    return;
  }
  periodic_timer_.expires_after(options_.verify_interval);
  periodic_timer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
        if (ec || alive.expired()) {
          return;
        }
        Verify(TamperTrigger::kPeriodicVerify, "");
        ArmPeriodic();
      });
}

}  // namespace bulkhead::enforcer
