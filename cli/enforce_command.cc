// `bulkhead enforce`, `confirm`, `disable`, `reload`, and the hidden `confirm-watchdog`.
//
// Confirmation (`enforce --confirm S`): the new ruleset must be confirmed within S seconds or the
// previous one comes back, even if the enforce process is killed. The rules are the one
// confirm-with-rollback design (daemon/confirm.h); this command drives it through the state
// directory (cli/confirm_state.h): before applying, enforce records the pending apply (the new
// inputs, a random token, the deadline) and starts a detached watchdog (cli/watchdog.h) that
// rolls back at the deadline unless the apply was resolved. Every actor (watchdog, the waiting
// enforce, `confirm`, a later `enforce`) takes the state directory's flock and applies the same
// rules, so a confirm racing the deadline either wins or is told "too late", and a dead watchdog
// only delays the rollback to the next command. A second enforce while a confirmation is pending
// is refused.
//
// When a long-running agent (`bulkhead agent`) owns the rules, `status` (status_command.cc) and
// `confirm` ask it through its control socket instead (and `reload` exists only for it): the
// socket file's existence is what says an agent is in charge. Exit status then: 0 "ok", 1 the
// agent's "error" (its reason as one error line), 2 the socket exists but cannot be reached
// (stale file, not root, no answer in time).
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cli/agent_client.h"
#include "cli/command.h"
#include "cli/confirm_state.h"
#include "cli/state_dir.h"
#include "cli/watchdog.h"
#include "enforcer/apply_error_text.h"
#include "enforcer/br_netfilter.h"
#include "enforcer/kernel_ruleset.h"
#include "enforcer/netlink_transport.h"
#include "enforcer/render.h"
#include "policy/atomic_file.h"

namespace bulkhead::cli {
namespace {

using daemon::ConfirmAnswer;
using daemon::ConfirmOutcome;

constexpr const char* kDefaultStateDir = "/run/bulkhead";
constexpr const char* kBridgeProcRoot = "/proc/sys/net/bridge";
// How often the waiting enforce looks at the state directory.
constexpr auto kPollInterval = std::chrono::milliseconds(50);

struct EnforceOptions {
  std::string policy_file;
  std::string inventory_file;
  std::string mode;
  bool dry_run = false;
  double confirm_s = 0;
  bool no_sysctl = false;
  int log_group = 100;
  std::string state_dir = kDefaultStateDir;
  std::string control = kDefaultControlSocket;
};

std::string NewToken() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}", rd(), rd());
}

// How a pending apply ended, said to the enforce that waited for it.
int ReportOutcome(ConfirmOutcome outcome, double seconds, const StateDir& dir, const Logger& log) {
  switch (outcome) {
    case ConfirmOutcome::kConfirmed:
      log->info("confirmed: the new ruleset stays");
      return 0;
    case ConfirmOutcome::kRestored:
      log->error("not confirmed within {}s: the previous ruleset is back", seconds);
      break;
    case ConfirmOutcome::kRemoved:
      log->error(
          "not confirmed within {}s: bulkhead's tables were removed (nothing had been "
          "confirmed before)",
          seconds);
      break;
    case ConfirmOutcome::kCancelled:
      log->error("cancelled by `bulkhead disable`");
      break;
    case ConfirmOutcome::kRollbackFailed:
    case ConfirmOutcome::kFailed:
      log->error("not confirmed within {}s and the rollback failed (see {}/watchdog.log)", seconds,
                 dir.path());
      break;
  }
  return 1;
}

// Waits for the pending apply `token` to be resolved; rolls it back itself at the deadline
// (the same rule as the watchdog, so a dead watchdog changes nothing).
int WaitForConfirmation(const StateDir& dir, const std::string& token, double seconds,
                        const Logger& log) {
  log->info(
      "waiting up to {}s for `bulkhead confirm`; without it the previous ruleset comes "
      "back",
      seconds);
  for (;;) {
    std::this_thread::sleep_for(kPollInterval);
    auto lock = dir.Lock();
    if (!lock) {
      log->error("{}", lock.error());
      return 1;
    }
    auto state = ConfirmState::Load(dir, "enforce");
    if (!state) {
      log->error("{}", state.error());
      return 1;
    }
    if (state->pending() && state->pending()->token == token && !state->RollBackIfExpired()) {
      continue;
    }
    const auto& last = state->last();
    if (!last || last->token != token) {
      log->error("the pending apply disappeared from {} without an outcome", dir.path());
      return 1;
    }
    return ReportOutcome(last->outcome, seconds, dir, log);
  }
}

// The inputs of `enforce`, read and compiled (exit status 2 on bad input).
boost::system::result<CompiledState, int> ReadInputs(const EnforceOptions& o, EnforceState& state,
                                                     const Logger& log) {
  state.mode_override = o.mode;
  state.log_group = static_cast<std::uint16_t>(o.log_group);
  state.policy_path = o.policy_file;
  state.inventory_path = o.inventory_file;
  for (auto [file, text] : {std::pair{&o.policy_file, &state.policy_text},
                            std::pair{&o.inventory_file, &state.inventory_text}}) {
    auto read = policy::ReadWholeFile(*file);
    if (!read) {
      log->error("{}", read.error());
      return 2;
    }
    *text = std::move(*read);
  }
  auto compiled = CompileState(state);
  if (!compiled) {
    for (const auto& e : compiled.error()) {
      log->error("{}", e);
    }
    return 2;
  }
  for (const auto& w : compiled->compiled.warnings) {
    log->warn("{}", w);
  }
  return std::move(*compiled);
}

// Under the lock: an expired pending apply is rolled back; one still waiting refuses us.
bool AdmitApply(ConfirmState& confirm, const Logger& log) {
  confirm.RollBackIfExpired();
  if (confirm.AdmitsApply()) {
    return true;
  }
  log->error(
      "a confirmation is pending until {} ({}): run `bulkhead confirm`, wait for the "
      "rollback, or `bulkhead disable`",
      FormatUnixMs(confirm.pending()->deadline_unix_ms), confirm.pending()->policy_path);
  return false;
}

// br_netfilter's switches on, and the netlink transport open.
boost::system::result<std::unique_ptr<enforcer::NetlinkTransport>, std::string> PrepareKernel(
    bool no_sysctl, const Logger& log) {
  auto sysctl = enforcer::EnsureBridgeNetfilter(kBridgeProcRoot, !no_sysctl);
  if (!sysctl) {
    return sysctl.error();
  }
  if (sysctl->changed) {
    log->info("turned on net.bridge.bridge-nf-call-iptables/-ip6tables");
  }
  return enforcer::OpenMnlTransport();
}

// Records the pending apply and starts its watchdog; without a watchdog nothing is applied.
bool OpenConfirmWindow(ConfirmState& confirm, EnforceState& state,
                       daemon::ConfirmClock::duration window, const StateDir& dir,
                       const Logger& log) {
  state.token = NewToken();
  if (auto w = confirm.Begin(state, window); !w) {
    log->error("{}", w.error());
    return false;
  }
  auto pid = SpawnWatchdog(dir.path(), state.token);
  if (!pid) {
    confirm.End(ConfirmOutcome::kFailed);
    log->error("{}: not applying without it", pid.error());
    return false;
  }
  state.watchdog_pid = *pid;
  return true;
}

void LogEnforced(const CompiledState& compiled, const enforcer::ApplyStats& applied,
                 double apply_ms, const EnforceState& state, bool confirm, const Logger& log) {
  std::size_t workloads = 0;
  for (const auto& g : compiled.compiled.membership.groups) {
    workloads += g.members.size();
  }
  log->info(
      "enforced: mode {}, {} groups, {} workloads, {} edges, {} messages, applied in {:.1f} "
      "ms{}",
      compiled.mode, compiled.compiled.membership.groups.size(), workloads,
      compiled.policy.allow.size(), applied.messages, apply_ms,
      confirm ? fmt::format(", pending confirmation (watchdog pid {})", state.watchdog_pid) : "");
}

int RunEnforce(const EnforceOptions& o, const Logger& log) {
  if (!o.dry_run &&
      AgentOwnsRuleset(o.control,
                       "change the policy file in its agent.yaml and run `bulkhead reload` (with "
                       "--confirm S to try it), or stop the agent first",
                       log)) {
    return 1;
  }
  EnforceState state;
  auto compiled = ReadInputs(o, state, log);
  if (!compiled) {
    return compiled.error();
  }
  if (o.dry_run) {
    std::cout << enforcer::RenderNft(compiled->compiled.ruleset) << std::flush;
    return 0;
  }
  const StateDir dir(o.state_dir);
  auto locked = dir.Lock();
  auto confirm = locked ? ConfirmState::Load(dir, "enforce")
                        : boost::system::result<ConfirmState, std::string>(locked.error());
  if (!confirm) {
    log->error("{}", confirm.error());
    return 1;
  }
  std::optional<StateLock> lock(std::move(*locked));
  if (!AdmitApply(*confirm, log)) {
    return 1;
  }
  auto transport = PrepareKernel(o.no_sysctl, log);
  if (!transport) {
    log->error("{}", transport.error());
    return 1;
  }
  const bool confirming = o.confirm_s > 0;
  const auto window = std::chrono::duration_cast<daemon::ConfirmClock::duration>(
      std::chrono::milliseconds(static_cast<std::int64_t>(o.confirm_s * 1000)));
  if (confirming && !OpenConfirmWindow(*confirm, state, window, dir, log)) {
    return 1;
  }
  const auto start = std::chrono::steady_clock::now();
  auto applied = enforcer::ApplyRuleset(**transport, compiled->compiled.ruleset);
  const auto apply_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!applied) {
    confirm->End(ConfirmOutcome::kFailed);  // the watchdog sees its token gone and leaves
    log->error("{}", enforcer::ApplyErrorText(applied.error()));
    log->error("the kernel refused the ruleset; the previous one is unchanged");
    return 1;
  }
  state.applied_unix_ms = UnixMs();
  if (confirming) {
    if (auto w = confirm->Rearm(state, window); !w) {
      log->error("{}", w.error());  // the watchdog still rolls back on the first deadline
    }
  } else if (auto w = dir.WriteConfirmed(state); !w) {
    log->error("applied, but {}: `status` will not know this ruleset", w.error());
  }
  LogEnforced(*compiled, *applied, apply_ms, state, confirming, log);
  if (!confirming) {
    return 0;
  }
  lock.reset();  // `confirm` and the watchdog need it now
  return WaitForConfirmation(dir, state.token, o.confirm_s, log);
}

int RunConfirm(const std::string& state_dir, const Logger& log) {
  const StateDir dir(state_dir);
  auto lock = dir.Lock();
  auto confirm = lock ? ConfirmState::Load(dir, "confirm")
                      : boost::system::result<ConfirmState, std::string>(lock.error());
  if (!confirm) {
    log->error("{}", confirm.error());
    return 1;
  }
  const std::string policy_path = confirm->pending() ? confirm->pending()->policy_path : "";
  auto answer = confirm->Confirm();
  if (!answer) {
    log->error("{}", answer.error());
    return 1;
  }
  switch (*answer) {
    case ConfirmAnswer::kConfirmed:
      log->info("confirmed: {} stays", policy_path);
      return 0;
    case ConfirmAnswer::kTooLate:
      log->error("too late: the confirmation window has closed; {}",
                 confirm->last()->outcome == ConfirmOutcome::kRestored
                     ? "the previous ruleset is back"
                 : confirm->last()->outcome == ConfirmOutcome::kRemoved
                     ? "bulkhead's tables were removed (nothing was confirmed before)"
                     : fmt::format("the rollback failed (see {}/watchdog.log)", dir.path()));
      return 1;
    case ConfirmAnswer::kNothingPending:
      break;
  }
  log->error("nothing to confirm: no `enforce --confirm` is pending");
  return 1;
}

int RunDisable(const std::string& state_dir, const Logger& log) {
  const StateDir dir(state_dir);
  auto lock = dir.Lock();
  if (!lock) {
    log->error("{}", lock.error());
    return 1;
  }
  auto transport = enforcer::OpenMnlTransport();
  if (!transport) {
    log->error("{}", transport.error());
    return 1;
  }
  auto deleted = enforcer::DeleteTables(**transport);
  if (!deleted) {
    log->error("{}", enforcer::ApplyErrorText(deleted.error()));
    return 1;
  }
  // The tables are gone, so a pending confirmation has nothing left to roll back.
  if (auto confirm = ConfirmState::Load(dir, "disable")) {
    confirm->End(ConfirmOutcome::kCancelled);
  }
  (void)dir.RemovePending();
  if (auto r = dir.RemoveConfirmed(); !r) {
    log->error("{}", r.error());
    return 1;
  }
  log->info("disabled: bulkhead's tables are removed");
  return 0;
}

int RunReload(const std::string& control, double confirm_s, const Logger& log) {
  if (!ControlSocketExists(control)) {
    log->error("no agent listening on {}", control);
    return 2;
  }
  return AskAgent(control, {daemon::ControlCommandKind::kReload, confirm_s}, log);
}

void AddEnforceCommand(CLI::App& app, std::vector<Command>& out) {
  auto o = std::make_shared<EnforceOptions>();
  auto* enforce = app.add_subcommand(
      "enforce", "Compile a policy for this host's workloads and apply it (one netlink batch)");
  enforce->add_option("policy", o->policy_file, "Policy file (kind: Policy)")->required();
  enforce->add_option("--inventory", o->inventory_file, "Inventory file (kind: Inventory)")
      ->required();
  enforce->add_option("--mode", o->mode, "Global mode, overriding the policy's")
      ->check(CLI::IsMember({"monitor", "enforce"}));
  enforce->add_flag("--dry-run", o->dry_run,
                    "Print the ruleset in nft syntax; do not touch the kernel");
  enforce
      ->add_option("--confirm", o->confirm_s,
                   "Roll back unless `bulkhead confirm` arrives within SECONDS")
      ->check(CLI::Range(0.1, 86400.0));
  enforce->add_flag("--no-sysctl", o->no_sysctl,
                    "Never turn on br_netfilter's switches (fail if they are off)");
  enforce->add_option("--log-group", o->log_group, "NFLOG group of violation records")
      ->check(CLI::Range(0, 65535));
  enforce->add_option("--state-dir", o->state_dir, "State directory")->capture_default_str();
  enforce
      ->add_option("--control", o->control,
                   "A running agent's control socket: while one enforces, `enforce` is refused")
      ->capture_default_str();
  out.push_back({enforce, [o](const Logger& log) { return RunEnforce(*o, log); }});
}

// Internal: started by `enforce --confirm`, not by users.
void AddWatchdogCommand(CLI::App& app, std::vector<Command>& out) {
  struct WatchdogOptions {
    std::string state_dir;
    std::string token;
    int ready_fd = -1;
  };
  auto w = std::make_shared<WatchdogOptions>();
  auto* watchdog = app.add_subcommand(kWatchdogCommand, "");
  watchdog->group("");
  watchdog->add_option("--state-dir", w->state_dir)->required();
  watchdog->add_option("--token", w->token)->required();
  watchdog->add_option("--ready-fd", w->ready_fd);
  out.push_back(
      {watchdog, [w](const Logger&) { return RunWatchdog(w->state_dir, w->token, w->ready_fd); }});
}

}  // namespace

void AddEnforceCommands(CLI::App& app, std::vector<Command>& out) {
  AddEnforceCommand(app, out);

  auto state_dir = std::make_shared<std::string>(kDefaultStateDir);
  auto control = std::make_shared<std::string>(kDefaultControlSocket);
  auto* confirm = app.add_subcommand(
      "confirm", "Keep the ruleset of a pending `enforce --confirm` (or the running agent's)");
  confirm->add_option("--state-dir", *state_dir, "State directory")->capture_default_str();
  confirm->add_option("--control", *control, "The running agent's control socket, if any")
      ->capture_default_str();
  out.push_back({confirm, [state_dir, control](const Logger& log) {
                   return ControlSocketExists(*control)
                              ? AskAgent(*control, {daemon::ControlCommandKind::kConfirm, 0}, log)
                              : RunConfirm(*state_dir, log);
                 }});

  AddStatusCommand(app, out);

  auto* reload = app.add_subcommand(
      "reload",
      "Make the running agent read its policy again (a bad one is refused; the old stays)");
  reload->add_option("--control", *control, "The running agent's control socket")
      ->capture_default_str();
  auto reload_confirm = std::make_shared<double>(0);
  reload
      ->add_option("--confirm", *reload_confirm,
                   "Restore the previous policy unless `bulkhead confirm` comes within S seconds")
      ->check(CLI::Range(0.001, 86400.0));
  out.push_back({reload, [control, reload_confirm](const Logger& log) {
                   return RunReload(*control, *reload_confirm, log);
                 }});

  auto* disable = app.add_subcommand("disable", "Remove bulkhead's tables and nothing else");
  disable->add_option("--state-dir", *state_dir, "State directory")->capture_default_str();
  disable
      ->add_option("--control", *control,
                   "A running agent's control socket: while one enforces, `disable` is refused")
      ->capture_default_str();
  out.push_back({disable, [state_dir, control](const Logger& log) {
                   if (AgentOwnsRuleset(*control,
                                        "stop the agent (with removeRulesOnExit: true in its "
                                        "agent.yaml it removes its tables as it exits), or run "
                                        "`bulkhead disable` after it stopped",
                                        log)) {
                     return 1;
                   }
                   return RunDisable(*state_dir, log);
                 }});

  AddWatchdogCommand(app, out);
}

}  // namespace bulkhead::cli
