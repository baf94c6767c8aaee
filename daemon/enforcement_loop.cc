#include "daemon/enforcement_loop.h"

#include <unordered_map>
#include <utility>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/asio/post.hpp>

#include "enforcer/apply_error_text.h"
#include "enforcer/br_netfilter.h"
#include "enforcer/compiler.h"
#include "enforcer/kernel_ruleset.h"
#include "enforcer/ruleset_verify.h"
#include "policy/policy_codec.h"

namespace bulkhead::daemon {
namespace {

constexpr const char* kBridgeProcRoot = "/proc/sys/net/bridge";
// The tamper guard's periodic full compare. Fixed for now: the configuration key
// (`tamperCheckInterval`) comes with the rewritten configuration reader.
// How often the kernel's suppressed violation counts are read into the metrics (one dump of
// four small sets per table).
constexpr std::chrono::seconds kSuppressedReadInterval{2};
constexpr std::string_view kSuppressedViolationsTotal = "bulkhead_violations_suppressed_total";

// "2026-12-07T23:00:00Z".
std::string FormatUtc(WallClock::time_point at) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(WallClock::to_time_t(at)));
}

}  // namespace

EnforcementLoop::EnforcementLoop(const AgentConfig& config, boost::asio::io_context& io,
                                 Metrics& metrics, std::shared_ptr<spdlog::logger> log)
    : config_(config),
      io_(io),
      metrics_(metrics),
      log_(std::move(log)),
      confirm_(SecondApply::kKeepEarliestPrevious, [] { return ConfirmClock::now(); }),
      confirm_timer_(io),
      suppressed_timer_(io) {
  metrics_.Describe(kSuppressedViolationsTotal, MetricType::kCounter,
                    "Violations the kernel did not log because their source was over its log "
                    "budget (logRate per source), by source group");
}

bool EnforcementLoop::Start() {
  auto content = ReadPolicyFile(config_.policy_file);
  if (!content) {
    log_->error("{}", content.error().message);
    return false;
  }
  auto loaded = policy::ParsePolicy(content->bytes, config_.policy_file);
  if (!loaded) {
    for (const auto& e : loaded.error().errors) {
      log_->error("{}", e.ToString());
    }
    return false;
  }
  policy_ = std::move(*loaded);
  SetVersion({content->digest, WallClock::now()});
  log_->info("policy {} ({})", config_.policy_file, content->digest);
  auto sysctl = enforcer::EnsureBridgeNetfilter(kBridgeProcRoot, true);
  if (!sysctl) {
    log_->error("{}", sysctl.error());
    return false;
  }
  auto transport = enforcer::OpenMnlTransport();
  if (!transport) {
    log_->error("{}", transport.error());
    return false;
  }
  // Every batch the agent sends (applies, element updates, the deletion at exit) goes through
  // the ledger, so the tamper guard never takes bulkhead's own commits for tampering.
  ledger_ = std::make_shared<enforcer::OwnCommitLedger>();
  transport_ = std::make_unique<enforcer::OwnCommitTransport>(std::move(*transport), ledger_);
  ViolationMonitorOptions options;
  options.nflog_group = config_.nflog_group;
  options.violations_file = config_.violations_file;
  options.log_lines_per_second = config_.violation_log_rate;
  auto monitor = ViolationMonitor::Start(
      io_, options, [this](const capture::IpAddr& a) { return Resolve(a); }, metrics_, log_);
  if (!monitor) {
    log_->error("violations: {}", monitor.error());
    return false;
  }
  violations_ = std::move(*monitor);
  return true;
}

void EnforcementLoop::OnInventory(policy::Inventory inventory, std::string_view why) {
  inventory_ = std::move(inventory);
  IndexInventory();
  have_inventory_ = true;
  (void)Reconcile(policy_, why, /*inventory_only=*/true);
}

void EnforcementLoop::IndexInventory() {
  inventory_index_.clear();
  inventory_index_.reserve(inventory_.workloads.size());
  for (std::size_t i = 0; i < inventory_.workloads.size(); ++i) {
    inventory_index_[inventory_.workloads[i].name] = i;
  }
}

void EnforcementLoop::OnWorkloads(const std::vector<policy::Workload>& came,
                                  const std::vector<std::string>& gone, std::string_view why) {
  const auto start = ConfirmClock::now();
  // Only what the tracker knows can leave it; the rest was never applied.
  std::vector<std::string> leaving;
  for (const auto& name : gone) {
    if (inventory_index_.count(name) != 0) {
      leaving.push_back(name);
    }
  }
  std::optional<enforcer::MembershipTracker::Plan> plan;
  if (tracker_) {
    plan = tracker_->PlanWorkloads(came, leaving);
  }
  const std::vector<std::string> old_addresses = PatchInventory(came, leaving);
  if (!tracker_) {
    return;  // nothing applied yet: the first full inventory takes these
  }
  if (!plan) {
    (void)Reconcile(policy_, why, /*inventory_only=*/true);
    return;
  }
  if (!plan->delta.Empty()) {
    auto sent = enforcer::ApplyElementDelta(*transport_, plan->delta);
    if (!sent) {
      log_->warn("enforce ({}): element update refused ({}); recompiling", why,
                 sent.error().summary);
      (void)Reconcile(policy_, why, /*inventory_only=*/false);
      return;
    }
  }
  tracker_->Commit(*plan);
  PatchEndpoints(*plan, old_addresses);
  if (!plan->delta.Empty()) {
    Applied(
        "elements", why,
        fmt::format(", +{} -{} elements, no recompile", plan->delta.Added(), plan->delta.Removed()),
        start);
  }
}

std::vector<std::string> EnforcementLoop::PatchInventory(const std::vector<policy::Workload>& came,
                                                         const std::vector<std::string>& gone) {
  std::vector<std::string> old_addresses;
  auto remove = [&](const std::string& name) {
    const auto it = inventory_index_.find(name);
    if (it == inventory_index_.end()) {
      return;
    }
    const std::size_t at = it->second;
    auto& slot = inventory_.workloads[at];
    old_addresses.insert(old_addresses.end(), slot.addresses.begin(), slot.addresses.end());
    inventory_index_.erase(it);
    if (at + 1 != inventory_.workloads.size()) {
      slot = std::move(inventory_.workloads.back());
      inventory_index_[slot.name] = at;
    }
    inventory_.workloads.pop_back();
  };
  for (const auto& name : gone) {
    remove(name);
  }
  for (const auto& w : came) {
    remove(w.name);
    inventory_index_[w.name] = inventory_.workloads.size();
    inventory_.workloads.push_back(w);
  }
  return old_addresses;
}

void EnforcementLoop::PatchEndpoints(const enforcer::MembershipTracker::Plan& plan,
                                     const std::vector<std::string>& old_addresses) {
  for (const auto& a : old_addresses) {
    if (auto ip = capture::IpAddr::Parse(a)) {
      endpoints_.erase(*ip);
    }
  }
  for (const auto& m : plan.removed) {
    group_of_.erase(m.workload.name);
  }
  for (const auto& m : plan.added) {
    group_of_[m.workload.name] = m.group;
  }
  for (const auto& w : plan.came) {
    AddEndpoints(w);
  }
}

void EnforcementLoop::ReopenViolationLog() {
  if (violations_) {
    violations_->Reopen();
  }
}

// Moves the kernel to `policy` and the current inventory. A change of the inventory alone (a
// container came or went) is planned from the tracked state without a recompile and sent as one
// batch of set elements; anything else compiles the policy and sends set elements only when
// just membership changed, else one full replacement. Each is one batch: on any error the
// previous ruleset stays in force.
bool EnforcementLoop::Reconcile(const policy::Policy& policy, std::string_view why,
                                bool inventory_only) {
  const auto start = ConfirmClock::now();
  if (inventory_only) {
    if (auto done = ApplyElementsOnly(why, start)) {
      return *done;
    }
  }
  enforcer::CompileOptions options;
  options.mode = config_.mode;
  options.log_group = config_.nflog_group;
  auto compiled = enforcer::CompileRuleset(policy, inventory_, options);
  if (!compiled) {
    Failed(why, "the ruleset stays as it was",
           fmt::format("{}", fmt::join(compiled.error(), "; ")));
    return false;
  }
  for (const auto& w : compiled->warnings) {
    if (warned_.insert(w).second) {
      log_->warn("{}", w);
    }
  }
  std::string kind = "full";
  std::string detail;
  if (tracker_) {
    auto updated =
        enforcer::UpdateElements(*transport_, tracker_->compiled().ruleset, compiled->ruleset);
    if (updated && !updated->structure_changed && updated->stats.messages == 0) {
      log_->debug("enforce ({}): nothing to change", why);  // e.g. a second event, same state
      tracker_.emplace(policy, inventory_, options, std::move(*compiled));
      RebuildEndpoints();
      return true;
    }
    if (updated && !updated->structure_changed) {
      kind = "elements";
      detail = fmt::format(", +{} -{} elements", updated->added, updated->removed);
    } else if (!updated) {
      log_->warn("enforce ({}): element update refused ({}); replacing the whole ruleset", why,
                 updated.error().summary);
    }
  }
  if (kind == "full") {
    auto applied = ApplyFull(compiled->ruleset);
    if (!applied) {
      Failed(why, "the kernel refused the ruleset, the previous one stays",
             enforcer::ApplyErrorText(applied.error()));
      return false;
    }
  }
  applied_policy_ = policy;
  tracker_.emplace(policy, inventory_, options, std::move(*compiled));
  Applied(kind, why, detail, start);
  // Only after full replacements: a full compare costs about 2 s at 100,000 edges, too much for
  // every container start; element-only updates are covered by the guard's periodic compare.
  if (kind == "full") {
    VerifyApplied(why, tracker_->compiled().ruleset);
  }
  StartTamperGuard();
  ArmSuppressedTimer();
  return true;
}

std::optional<bool> EnforcementLoop::ApplyElementsOnly(std::string_view why,
                                                       ConfirmClock::time_point start) {
  if (!tracker_) {
    return std::nullopt;
  }
  auto plan = tracker_->PlanChange(inventory_);
  if (!plan) {
    return std::nullopt;
  }
  if (plan->delta.Empty()) {
    tracker_->Commit(*plan);
    RebuildEndpoints();
    log_->debug("enforce ({}): nothing to change", why);
    return true;
  }
  auto sent = enforcer::ApplyElementDelta(*transport_, plan->delta);
  if (!sent) {
    log_->warn("enforce ({}): element update refused ({}); recompiling", why, sent.error().summary);
    return std::nullopt;
  }
  tracker_->Commit(*plan);
  Applied(
      "elements", why,
      fmt::format(", +{} -{} elements, no recompile", plan->delta.Added(), plan->delta.Removed()),
      start);
  return true;
}

void EnforcementLoop::Applied(std::string_view kind, std::string_view why, std::string_view detail,
                              ConfirmClock::time_point start) {
  const double seconds = std::chrono::duration<double>(ConfirmClock::now() - start).count();
  metrics_.Set("bulkhead_apply_seconds", {}, seconds);
  metrics_.Add("bulkhead_applies_total", {{"kind", std::string(kind)}});
  RebuildEndpoints();
  last_apply_ = fmt::format("{} ({}{}), {:.1f} ms", kind, why, detail, seconds * 1000);
  log_->info("enforce: applied {}: {} groups, {} workloads", last_apply_,
             tracker_->compiled().membership.groups.size(), inventory_.workloads.size());
  last_error_.clear();
}

void EnforcementLoop::Failed(std::string_view why, std::string_view what, std::string error) {
  metrics_.Add("bulkhead_apply_errors_total", {});
  last_error_ = std::move(error);
  log_->error("enforce ({}): {}: {}", why, what, last_error_);
}

// A workload's addresses as violation lines name them, with its group from group_of_.
void EnforcementLoop::AddEndpoints(const policy::Workload& w) {
  const auto group = group_of_.find(w.name);
  for (const auto& a : w.addresses) {
    if (auto ip = capture::IpAddr::Parse(a)) {
      endpoints_[*ip] = {w.name, group == group_of_.end() ? "" : group->second, a, w.node};
    }
  }
}

void EnforcementLoop::RebuildEndpoints() {
  endpoints_.clear();
  group_of_.clear();
  auto& group_of = group_of_;
  for (const auto& g : tracker_->compiled().membership.groups) {
    for (const auto& m : g.members) {
      group_of[m.name] = g.name;
    }
  }
  for (const auto& w : inventory_.workloads) {
    AddEndpoints(w);
  }
  for (const auto& a : inventory_.host.addresses) {
    if (auto ip = capture::IpAddr::Parse(a)) {
      endpoints_[*ip] = {inventory_.host.name, std::string(policy::kHostGroup), a, ""};
    }
  }
}

std::string EnforcementLoop::GroupOf(const std::string& workload) const {
  const auto it = group_of_.find(workload);
  return it == group_of_.end() ? std::string() : it->second;
}

void EnforcementLoop::SetExecSessions(ViolationMonitor::SessionLookup lookup) {
  if (violations_) {
    violations_->SetSessionLookup(std::move(lookup));
  }
}

ViolationEndpoint EnforcementLoop::Resolve(const capture::IpAddr& address) const {
  const auto it = endpoints_.find(address);
  if (it != endpoints_.end()) {
    return it->second;
  }
  return {"", std::string(policy::kWorldGroup), address.ToString(), ""};
}

// --- Violations over their source's log budget ------------------------------------------------

void EnforcementLoop::RefreshSuppressed() {
  if (!tracker_ || !transport_) {
    return;  // nothing applied yet: no sets to read
  }
  auto counts = enforcer::ReadSuppressedViolations(*transport_);
  if (!counts) {
    log_->debug("reading the suppressed violation counts: {}", counts.error());
    return;
  }
  suppressed_.Update(*counts, [this](const capture::IpAddr& a) { return Resolve(a).group; });
  for (const auto& [group, count] : suppressed_.by_group()) {
    metrics_.Set(kSuppressedViolationsTotal, {{"group", group}}, static_cast<double>(count));
  }
}

void EnforcementLoop::ArmSuppressedTimer() {
  if (suppressed_armed_ || stopping_) {
    return;
  }
  suppressed_armed_ = true;
  suppressed_timer_.expires_after(kSuppressedReadInterval);
  suppressed_timer_.async_wait([this](const boost::system::error_code& ec) {
    suppressed_armed_ = false;
    if (ec || stopping_) {
      return;
    }
    RefreshSuppressed();
    ArmSuppressedTimer();
  });
}

// --- Kernel verification and tamper repair ---------------------------------------------------

boost::system::result<enforcer::ApplyStats, enforcer::ApplyError> EnforcementLoop::ApplyFull(
    const enforcer::Ruleset& ruleset) {
  // Unmuted, the kernel would build a notification for every element of the apply (slower, and
  // the event socket overflows anyway); the post-apply compare sees what the events would have.
  if (guard_) {
    if (auto muted = guard_->Mute(); !muted) {
      log_->warn("tamper: {}", muted.error());
    }
  }
  // The suppressed counts start again with the new sets: what the old ones counted is read
  // first.
  RefreshSuppressed();
  auto applied = enforcer::ApplyRuleset(*transport_, ruleset);
  if (applied) {
    suppressed_.Restart();
  }
  if (guard_) {
    if (auto unmuted = guard_->Unmute(); !unmuted) {
      log_->warn("tamper: {}", unmuted.error());
    }
  }
  return applied;
}

// The "kernel-verified ruleset": the tables read back must be what was sent. A difference is an
// error naming the objects at fault; it is not repaired here (a kernel that changes what it
// accepted would make a repair loop), the periodic compare repairs foreign changes.
void EnforcementLoop::VerifyApplied(std::string_view why, const enforcer::Ruleset& ruleset) {
  ++apply_verifies_;
  PublishTamperStats();
  auto differences = enforcer::VerifyRuleset(*transport_, ruleset);
  if (!differences) {
    log_->warn("enforce ({}): reading the ruleset back failed: {}", why, differences.error());
    return;
  }
  if (differences->empty()) {
    return;
  }
  metrics_.Add("bulkhead_ruleset_verify_differences_total", {},
               static_cast<double>(differences->size()));
  std::vector<std::string> listed;
  listed.reserve(differences->size());
  for (const auto& d : *differences) {
    listed.push_back(d.ToString());
  }
  last_error_ = fmt::format("the kernel's ruleset differs from what was applied: {}",
                            fmt::join(listed, "; "));
  log_->error("enforce ({}): {}", why, last_error_);
}

void EnforcementLoop::StartTamperGuard() {
  if (guard_ || stopping_ || !guard_error_.empty()) {
    return;
  }
  enforcer::TamperGuardOptions options;
  options.verify_interval = config_.tamper_check_interval;
  enforcer::TamperGuard::Callbacks callbacks;
  callbacks.repair = [this](const enforcer::TamperIncident& incident) {
    return RepairTampering(incident);
  };
  callbacks.verify = [this]() {
    // The guard's counters change after this returns: publish them once it has.
    boost::asio::post(io_, [this] { PublishTamperStats(); });
    return enforcer::VerifyRuleset(*transport_, tracker_->compiled().ruleset);
  };
  callbacks.warn = [this](std::string_view message) {
    log_->warn("tamper: {}", message);
    boost::asio::post(io_, [this] { PublishTamperStats(); });
  };
  auto guard = enforcer::TamperGuard::Start(io_, ledger_, options, std::move(callbacks));
  if (!guard) {
    // Enforcement goes on; only the repair of foreign changes is missing. Said once, and in
    // status.
    guard_error_ = guard.error();
    log_->error("tamper: not watching nftables for changes to bulkhead's tables: {}", guard_error_);
    return;
  }
  guard_ = std::move(*guard);
}

boost::system::result<void, std::string> EnforcementLoop::RepairTampering(
    const enforcer::TamperIncident& incident) {
  const std::string trigger(enforcer::TamperTriggerName(incident.trigger));
  log_->warn("tamper: {}; restoring bulkhead's ruleset", incident.Summary());
  boost::asio::post(io_, [this] { PublishTamperStats(); });
  last_repair_ = fmt::format("{}: {}", trigger, incident.Summary());
  last_repair_at_ = ConfirmClock::now();
  auto applied = ApplyFull(tracker_->compiled().ruleset);
  if (!applied) {
    return enforcer::ApplyErrorText(applied.error());
  }
  metrics_.Add("bulkhead_tamper_repairs_total", {{"trigger", trigger}});
  return {};
}

void EnforcementLoop::PublishTamperStats() const {
  const enforcer::TamperStats stats = guard_ ? guard_->stats() : enforcer::TamperStats{};
  metrics_.Set("bulkhead_tamper_repair_errors_total", {},
               static_cast<double>(stats.repair_failures));
  metrics_.Set("bulkhead_tamper_foreign_commits_total", {},
               static_cast<double>(stats.foreign_commits));
  metrics_.Set("bulkhead_nft_events_lost_total", {}, static_cast<double>(stats.resyncs));
  metrics_.Set("bulkhead_ruleset_verifies_total", {},
               static_cast<double>(stats.verifies + apply_verifies_));
  if (stats.repairs > 0) {
    metrics_.Set("bulkhead_tamper_repair_seconds", {}, stats.last_repair_seconds);
  }
}

void EnforcementLoop::AppendTamperStatus(std::string& out) const {
  if (!guard_) {
    out += fmt::format("tamper: not watching{}\n",
                       guard_error_.empty() ? std::string() : " (" + guard_error_ + ")");
    return;
  }
  PublishTamperStats();
  const enforcer::TamperStats& stats = guard_->stats();
  out +=
      fmt::format("tamper: {} repairs, {} failed, {} foreign commits, {} compares\n", stats.repairs,
                  stats.repair_failures, stats.foreign_commits, stats.verifies + apply_verifies_);
  if (!last_repair_.empty()) {
    const double ago = std::chrono::duration<double>(ConfirmClock::now() - last_repair_at_).count();
    out += fmt::format("last repair: {:.1f} s ago, took {:.1f} ms ({})\n", ago,
                       stats.last_repair_seconds * 1000, last_repair_);
  }
}

// --- Reload and confirmation -----------------------------------------------------------------

ControlReply EnforcementLoop::Reload(std::optional<policy::Inventory> inventory,
                                     double confirm_seconds) {
  if (inventory) {
    inventory_ = std::move(*inventory);
    have_inventory_ = true;
  }
  auto content = ReadPolicyFile(config_.policy_file);
  if (!content) {
    log_->error("reload: {}", content.error().message);
    return Refuse("", "reload", content.error().message, content.error().message + "\n");
  }
  // An explicit reload applies even the digest in force (the inventory may be new) or the one
  // last refused (the kernel may take it now).
  return ApplyPolicyFile(*content, "reload", confirm_seconds);
}

void EnforcementLoop::OnPolicyFile(const PolicyFileContent& content) {
  if (content.digest == version_.digest) {
    log_->debug("policy file: {} is the policy in force", ShortDigest(content.digest));
    return;
  }
  if (refused_ && content.digest == refused_->digest) {
    log_->debug("policy file: {} was refused already", ShortDigest(content.digest));
    return;
  }
  log_->info("policy file: {} changed to {}; reloading", config_.policy_file, content.digest);
  (void)ApplyPolicyFile(content, "policy file", 0);
}

ControlReply EnforcementLoop::ApplyPolicyFile(const PolicyFileContent& content,
                                              std::string_view why, double confirm_seconds) {
  auto loaded = policy::ParsePolicy(content.bytes, config_.policy_file);
  if (!loaded) {
    for (const auto& e : loaded.error().errors) {
      log_->error("{}: {}", why, e.ToString());
    }
    return Refuse(content.digest, why, loaded.error().errors.front().ToString(),
                  loaded.error().ToString());
  }
  RollBackIfExpired();  // a window already past its deadline ends before anything new starts
  // Before the first inventory nothing is applied (a CRI agent still waiting for its runtime):
  // the first inventory applies the policy in force.
  if (have_inventory_ && !Reconcile(*loaded, why)) {
    return Refuse(content.digest, why, last_error_,
                  "the new policy was not applied, the old one stays: " + last_error_ + "\n");
  }
  if (confirm_seconds > 0) {
    const auto window = std::chrono::duration_cast<ConfirmClock::duration>(
        std::chrono::duration<double>(confirm_seconds));
    if (confirm_.Begin(fmt::format("reload-{}", ++reloads_), window)) {
      previous_policy_ = policy_;  // a second reload keeps this, the earliest one
      previous_version_ = version_;
    }
    ArmConfirmTimer();
  } else if (confirm_.pending()) {
    confirm_.End(ConfirmOutcome::kCancelled);  // this reload replaces the pending one for good
    previous_policy_.reset();
    confirm_timer_.cancel();
  }
  policy_ = std::move(*loaded);
  SetVersion({content.digest, WallClock::now()});
  if (refused_ && refused_->digest == content.digest) {
    refused_.reset();  // refused once (the kernel, an inventory), in force now
  }
  metrics_.Add("bulkhead_policy_reloads_total", {{"result", "ok"}});
  log_->info("{}: {} in force ({})", why, content.digest,
             have_inventory_ ? last_apply_ : std::string("applied with the first inventory"));
  return {true, fmt::format(
                    "reloaded {} ({}): {}{}\n", config_.policy_file, ShortDigest(content.digest),
                    have_inventory_ ? last_apply_ : "applied with the first inventory",
                    confirm_seconds > 0 ? fmt::format("; run `bulkhead confirm` within {}s or the "
                                                      "previous policy comes back",
                                                      confirm_seconds)
                                        : std::string())};
}

ControlReply EnforcementLoop::Refuse(const std::string& digest, std::string_view why,
                                     std::string first_error, std::string reply_text) {
  metrics_.Add("bulkhead_policy_reloads_total", {{"result", "error"}});
  log_->error("{}: refused {}; keeping the policy in force ({})", why,
              digest.empty() ? config_.policy_file : digest, ShortDigest(version_.digest));
  refused_ = RefusedPolicy{digest, std::move(first_error), WallClock::now()};
  return {false, std::move(reply_text)};
}

void EnforcementLoop::SetVersion(PolicyVersion version) {
  if (!version_.digest.empty() && version_.digest != version.digest) {
    metrics_.Remove("bulkhead_policy_info", {{"digest", version_.digest}});
  }
  version_ = std::move(version);
  metrics_.Set("bulkhead_policy_info", {{"digest", version_.digest}}, 1);
  metrics_.Set("bulkhead_policy_loaded_timestamp_seconds", {},
               std::chrono::duration<double>(version_.loaded_at.time_since_epoch()).count());
}

void EnforcementLoop::ArmConfirmTimer() {
  confirm_timer_.expires_after(confirm_.Remaining());
  confirm_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopping_) {
      RollBackIfExpired();
    }
  });
}

RollbackSteps EnforcementLoop::Rollback() {
  RollbackSteps steps;
  // No `remove`: when the previous policy cannot be applied again, the unconfirmed one stays
  // rather than no rules at all (the agent protects a running host).
  steps.restore = [this] {
    log_->warn("reload: not confirmed in time; restoring the previous policy");
    if (!previous_policy_ || !Reconcile(*previous_policy_, "confirm timeout")) {
      return false;
    }
    policy_ = *previous_policy_;
    SetVersion(previous_version_);
    return true;
  };
  return steps;
}

void EnforcementLoop::RollBackIfExpired() {
  if (auto outcome = confirm_.RollBackIfExpired(Rollback())) {
    if (*outcome == ConfirmOutcome::kRollbackFailed) {
      log_->error("reload: the previous policy could not be restored; the unconfirmed one stays");
    }
    previous_policy_.reset();
  }
}

ControlReply EnforcementLoop::Confirm() {
  const ConfirmAnswer answer = confirm_.Confirm(Rollback());
  if (!confirm_.pending()) {
    previous_policy_.reset();
    confirm_timer_.cancel();
  }
  switch (answer) {
    case ConfirmAnswer::kConfirmed:
      log_->info("reload confirmed");
      return {true, "confirmed: the reloaded policy stays\n"};
    case ConfirmAnswer::kTooLate:
      return {false, confirm_.last()->outcome == ConfirmOutcome::kRestored
                         ? "too late: the confirmation window has closed; the previous policy "
                           "is back\n"
                         : "too late: the confirmation window has closed; restoring the "
                           "previous policy failed, the reloaded one stays\n"};
    case ConfirmAnswer::kNothingPending:
      break;
  }
  return {false, "nothing to confirm: no reload is waiting for confirmation\n"};
}

// --- Status and stop -------------------------------------------------------------------------

void EnforcementLoop::AppendStatus(std::string& out) const {
  AppendPolicyStatus(out);
  if (!tracker_) {
    out += "applied: nothing yet" +
           (last_error_.empty() ? std::string() : " (" + last_error_ + ")") + "\n";
    return;
  }
  out += fmt::format("last apply: {}\n", last_apply_);
  if (confirm_.pending()) {
    out += "pending confirmation: the previous policy comes back unless `bulkhead confirm`\n";
  }
  if (!last_error_.empty()) {
    out += fmt::format("last error: {}\n", last_error_);
  }
  AppendAppliedStatus(out);
  AppendTamperStatus(out);
}

// "policy: PATH sha256:HEX, loaded TIME (following changes)" and, when one was refused since,
// "policy refused: sha256:HEX at TIME: file:line:column: message". The full digest, so that it
// compares with `sha256sum PATH` as it is.
void EnforcementLoop::AppendPolicyStatus(std::string& out) const {
  out += fmt::format("policy: {} {}, loaded {} ({})\n", config_.policy_file, version_.digest,
                     FormatUtc(version_.loaded_at), follow_status_);
  if (refused_) {
    out += fmt::format("policy refused: {} at {}: {}\n",
                       refused_->digest.empty() ? std::string("the file") : refused_->digest,
                       FormatUtc(refused_->at), refused_->first_error);
  }
}

void EnforcementLoop::AppendAppliedStatus(std::string& out) const {
  out += fmt::format("groups: {}\n", tracker_->compiled().membership.groups.size());
  for (const auto& g : tracker_->compiled().membership.groups) {
    out += fmt::format("  {} ({}{}): {} workload{}\n", g.name, policy::ModeName(g.mode),
                       g.implicit ? ", implicit" : "", g.members.size(),
                       g.members.size() == 1 ? "" : "s");
  }
  out += fmt::format("edges: {}\n", applied_policy_.allow.size());
  out += fmt::format("violations: {}\n", violations_ ? violations_->count() : 0);
  if (!suppressed_.by_group().empty()) {
    out += "violations not logged (source over its log budget):\n";
    for (const auto& [group, count] : suppressed_.by_group()) {
      out += fmt::format("  {}: {}\n", group, count);
    }
  }
  if (auto counters = enforcer::ReadNamedCounters(*transport_); counters) {
    out += "counters:\n";
    for (const auto& c : *counters) {
      out += fmt::format("  {}: {} packets, {} bytes\n", c.name, c.packets, c.bytes);
    }
  }
}

bool EnforcementLoop::Stop() {
  if (stopping_) {
    return true;
  }
  stopping_ = true;
  confirm_timer_.cancel();
  suppressed_timer_.cancel();
  // Before the tables go: removing them is bulkhead's own commit, but nothing must repair them.
  if (guard_) {
    guard_->Stop();
  }
  if (violations_) {
    violations_->Stop();
  }
  if (!transport_) {
    return true;
  }
  if (!config_.remove_rules_on_exit) {
    if (tracker_) {
      log_->info("the rules stay in the kernel (removeRulesOnExit: false)");
    }
    return true;
  }
  auto deleted = enforcer::DeleteTables(*transport_);
  if (!deleted) {
    log_->error("removing the rules: {}", enforcer::ApplyErrorText(deleted.error()));
    return false;
  }
  log_->info("removed bulkhead's tables (removeRulesOnExit)");
  return true;
}

}  // namespace bulkhead::daemon
