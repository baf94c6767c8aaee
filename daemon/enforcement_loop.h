#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include <spdlog/logger.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "capture/ip_addr.h"
#include "daemon/agent_config.h"
#include "daemon/confirm.h"
#include "daemon/control_socket.h"
#include "daemon/metrics.h"
#include "daemon/policy_watch.h"
#include "daemon/suppressed_violations.h"
#include "daemon/violations.h"
#include "enforcer/kernel_ruleset.h"
#include "enforcer/membership_update.h"
#include "enforcer/netlink_transport.h"
#include "enforcer/ruleset.h"
#include "enforcer/ruleset_watch.h"
#include "enforcer/tamper_guard.h"
#include "policy/model.h"
#include "policy/policy.h"

// Monitor and enforce mode of the agent: owns the policy in force, the ruleset applied to the
// kernel (and the inventory it was compiled for), a reload waiting for confirmation, and the
// violation reader whose names come from the applied membership. Runs on the agent's event loop.
//
// Which apply path runs when a container starts: the agent hands the new inventory to
// OnInventory, which reconciles "inventory only": the membership tracker plans the change of set
// elements without a recompile and sends it as one batch (ApplyElementsOnly). Only when that plan
// is refused does it compile the policy again, and then sends set elements alone when only
// membership changed (UpdateElements), else one full replacement (ApplyRuleset). Reloads and the
// confirmation's rollback take the compile path directly. See enforcement_loop.cc, Reconcile.
//
// Tampering: every batch goes through an OwnCommitTransport, so the tamper guard (started after
// the first apply) tells bulkhead's own commits from others' and has a foreign change to
// bulkhead's tables (a deleted table, a flushed ruleset) repaired by re-applying the tracked
// ruleset. A full apply is read back and compared with what was sent.
//
// Which policy is in force: the digest of its file's bytes (PolicyDigest), the same as
// `sha256sum` prints, shown in `status` and as bulkhead_policy_info{digest}. A new policy comes
// from SIGHUP or `bulkhead reload` (Reload) or from the policy watch (OnPolicyFile, when
// `followPolicy` is on); one that does not parse, compile or apply is refused: its errors are
// logged with file:line:column, counted, kept for `status`, and the policy in force stays. The
// watch does not try a refused digest again; only a new file (or an explicit reload) does.
namespace bulkhead::daemon {

using WallClock = std::chrono::system_clock;

// The policy in force, by the digest of the file it came from.
struct PolicyVersion {
  std::string digest;  // PolicyDigest of the file's bytes
  WallClock::time_point loaded_at{};
};

// The last policy refused, for `status`.
struct RefusedPolicy {
  std::string digest;
  std::string first_error;  // "file:line:column: message", or the compiler's or kernel's error
  WallClock::time_point at{};
};

class EnforcementLoop {
 public:
  EnforcementLoop(const AgentConfig& config, boost::asio::io_context& io, Metrics& metrics,
                  std::shared_ptr<spdlog::logger> log);

  // Loads the policy, turns on br_netfilter, opens the netlink transport and starts the
  // violation reader. Nothing is applied until the first inventory. False, with the reason
  // logged, when it cannot start.
  bool Start();
  // A new inventory (a container came or went, a resync, the static file): moves the kernel to
  // it. `why` names the cause in log lines.
  void OnInventory(policy::Inventory inventory, std::string_view why);
  // Workloads that came or changed (`came`, by name) and went (`gone`), the rest unchanged: the
  // cluster's identities (pods of other nodes). Planned from the tracked state in O(change) and
  // sent as one batch of set elements; a change that plan cannot make takes OnInventory's path.
  // Before the first apply it only updates the inventory the first apply will use.
  void OnWorkloads(const std::vector<policy::Workload>& came, const std::vector<std::string>& gone,
                   std::string_view why);
  // Reopens the violations file (logrotate; SIGHUP).
  void ReopenViolationLog();
  // The group of a workload (by name) in the applied membership; empty when it is in none.
  std::string GroupOf(const std::string& workload) const;
  // The policy in force (its alertOnExec groups, for exec events).
  const policy::Policy& policy() const { return policy_; }
  // Violation lines from a workload carry the exec sessions `lookup` names for it.
  void SetExecSessions(ViolationMonitor::SessionLookup lookup);
  // Reads the policy file again and applies it (with `inventory`, when the inventory file was
  // read again too). `confirm_seconds` > 0: the previous policy comes back unless Confirm comes
  // in time (daemon/confirm.h, the same rules as `bulkhead enforce --confirm`).
  ControlReply Reload(std::optional<policy::Inventory> inventory, double confirm_seconds);
  ControlReply Confirm();
  // The policy file's new bytes, from the policy watch: applied unless they are the policy in
  // force or the policy last refused.
  void OnPolicyFile(const PolicyFileContent& content);
  const PolicyVersion& policy_version() const { return version_; }
  // What `status` says about following the file ("following changes", or why not).
  void SetFollowStatus(std::string text) { follow_status_ = std::move(text); }
  // The monitor/enforce part of `bulkhead status`.
  void AppendStatus(std::string& out) const;
  // Stops the violation reader and the confirmation timer; removes bulkhead's tables when the
  // configuration says so. False when that removal failed.
  bool Stop();

 private:
  bool Reconcile(const policy::Policy& policy, std::string_view why, bool inventory_only = false);
  // The inventory-only fast path; nullopt when it cannot be used (then compile).
  std::optional<bool> ApplyElementsOnly(std::string_view why, ConfirmClock::time_point start);
  void Applied(std::string_view kind, std::string_view why, std::string_view detail,
               ConfirmClock::time_point start);
  void Failed(std::string_view why, std::string_view what, std::string error);
  void RebuildEndpoints();
  void AddEndpoints(const policy::Workload& w);
  // OnWorkloads' parts: the inventory in memory follows the change (returns the addresses of
  // the workloads replaced or removed); the violation names follow the applied plan.
  std::vector<std::string> PatchInventory(const std::vector<policy::Workload>& came,
                                          const std::vector<std::string>& gone);
  void PatchEndpoints(const enforcer::MembershipTracker::Plan& plan,
                      const std::vector<std::string>& old_addresses);
  void IndexInventory();
  ViolationEndpoint Resolve(const capture::IpAddr& address) const;
  // Parses `content` and moves the kernel to it (the inventory is already current); the reply
  // says what happened. `why` starts the log lines ("reload", "policy file").
  ControlReply ApplyPolicyFile(const PolicyFileContent& content, std::string_view why,
                               double confirm_seconds);
  // Logs, counts and records a refused policy; the reply carries `reply_text`.
  ControlReply Refuse(const std::string& digest, std::string_view why, std::string first_error,
                      std::string reply_text);
  // The policy in force is now `version` (the info metric follows).
  void SetVersion(PolicyVersion version);
  void AppendPolicyStatus(std::string& out) const;
  void ArmConfirmTimer();
  void RollBackIfExpired();
  RollbackSteps Rollback();
  void AppendAppliedStatus(std::string& out) const;
  // A full replacement, with the tamper guard muted around it (see TamperGuard::Mute).
  boost::system::result<enforcer::ApplyStats, enforcer::ApplyError> ApplyFull(
      const enforcer::Ruleset& ruleset);
  void VerifyApplied(std::string_view why, const enforcer::Ruleset& ruleset);
  void StartTamperGuard();
  boost::system::result<void, std::string> RepairTampering(
      const enforcer::TamperIncident& incident);
  // Copies the guard's counters into the metrics (they change inside the guard's handlers).
  void PublishTamperStats() const;
  void AppendTamperStatus(std::string& out) const;
  // Reads the kernel's counts of violations over their source's log budget into suppressed_
  // and the metrics; the timer does it every few seconds.
  void RefreshSuppressed();
  void ArmSuppressedTimer();

  const AgentConfig& config_;
  boost::asio::io_context& io_;
  Metrics& metrics_;
  std::shared_ptr<spdlog::logger> log_;
  bool stopping_ = false;

  policy::Inventory inventory_;
  std::unordered_map<std::string, std::size_t> inventory_index_;  // workload name -> position
  policy::Policy policy_;          // in force (a pending reload's, until it is rolled back)
  policy::Policy applied_policy_;  // the last one the kernel accepted
  PolicyVersion version_;          // policy_'s
  std::optional<RefusedPolicy> refused_;
  std::string follow_status_ = "not following the file (followPolicy: false)";
  bool have_inventory_ = false;  // nothing is applied before the first inventory
  // The ledger of bulkhead's own batches, shared by transport_ (an OwnCommitTransport) and the
  // tamper guard's event reader.
  std::shared_ptr<enforcer::OwnCommitLedger> ledger_;
  std::unique_ptr<enforcer::NetlinkTransport> transport_;
  std::unique_ptr<enforcer::TamperGuard> guard_;  // after the first successful apply
  std::string guard_error_;                       // why it is not running
  std::uint64_t apply_verifies_ = 0;              // post-apply compares (the guard counts its own)
  std::string last_repair_;                       // trigger and summary of the last repair
  ConfirmClock::time_point last_repair_at_{};
  // The applied ruleset, the policy and inventory it came from (empty before the first apply).
  std::optional<enforcer::MembershipTracker> tracker_;
  std::set<std::string> warned_;  // compiler warnings already logged once
  std::string last_apply_;
  std::string last_error_;

  // A reload waiting for `confirm`: the rules, the policy to go back to, and the timer.
  ConfirmWindow confirm_;
  std::optional<policy::Policy> previous_policy_;
  PolicyVersion previous_version_;  // previous_policy_'s
  boost::asio::steady_timer confirm_timer_;
  std::uint64_t reloads_ = 0;  // names the pending reload's token

  // Violations over their source's log budget, read from the kernel every few seconds.
  SuppressedViolations suppressed_;
  boost::asio::steady_timer suppressed_timer_;
  bool suppressed_armed_ = false;

  std::unique_ptr<ViolationMonitor> violations_;
  // Address -> {workload, group} for violation lines, from the applied membership.
  std::unordered_map<capture::IpAddr, ViolationEndpoint, capture::IpAddrHash> endpoints_;
  std::unordered_map<std::string, std::string> group_of_;  // workload -> group, likewise
};

}  // namespace bulkhead::daemon
