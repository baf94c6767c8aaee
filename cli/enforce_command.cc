// `bulkhead enforce`, `confirm`, `status`, `disable`, `reload`, and the hidden
// `confirm-watchdog`.
//
// Confirmation (`enforce --confirm S`): the new ruleset must be confirmed within S seconds or the
// previous one comes back, even if the enforce process is killed. Before applying, enforce
// writes pending.state (the new inputs, a random token, the deadline) and starts a detached
// watchdog (double fork + setsid + re-exec of /proc/self/exe), which waits for the deadline and
// then, unless the pending apply was resolved, re-applies confirmed.state (or deletes bulkhead's
// tables when nothing was ever confirmed). Every step runs under the state directory's flock,
// and every actor (watchdog, the waiting enforce, `confirm`, a later `enforce`) applies the same
// rule: a pending apply whose deadline has passed is rolled back by whoever holds the lock
// first, and `confirm` after the deadline is refused. So a confirm racing the deadline either
// wins (before it) or is told "too late", and a dead watchdog only delays the rollback to the
// next command. A second enforce while a confirmation is pending is refused.
//
// When a long-running agent (`bulkhead agent`) owns the rules, `status` and `confirm` ask it
// through its control socket instead (and `reload` exists only for it): the socket file's
// existence is what says an agent is in charge. Exit status then: 0 "ok", 1 the agent's "error"
// (its reason as one error line), 2 the socket exists but cannot be reached (stale file, not
// root, no answer in time).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cli/command.h"
#include "daemon/control_socket.h"
#include "cli/state_dir.h"
#include "enforcer/br_netfilter.h"
#include "enforcer/compiler.h"
#include "enforcer/kernel_ruleset.h"
#include "enforcer/netlink_transport.h"
#include "enforcer/render.h"
#include "policy/atomic_file.h"
#include "inventory/inventory_codec.h"
#include "policy/policy_codec.h"

namespace bulkhead::cli {
namespace {

constexpr const char* kDefaultStateDir = "/run/bulkhead";
constexpr const char* kDefaultControlSocket = "/run/bulkhead/control.sock";
// The agent answers from its event loop; a reload compiles a policy first, so allow it time.
constexpr auto kControlTimeout = std::chrono::seconds(10);
constexpr const char* kBridgeProcRoot = "/proc/sys/net/bridge";
constexpr const char* kWatchdogCommand = "confirm-watchdog";
// How often waiting processes look at the state directory.
constexpr auto kPollInterval = std::chrono::milliseconds(50);

struct Compiled {
  policy::Policy policy;
  enforcer::CompiledPolicy compiled;
  std::string mode;  // effective global mode
};

// Parses and compiles the inputs of one apply. Errors are complete lines (file and object).
boost::system::result<Compiled, std::vector<std::string>> CompileState(const EnforceState& s) {
  std::vector<std::string> errors;
  auto pol = policy::ParsePolicy(s.policy_text, s.policy_path);
  if (!pol) {
    for (const auto& e : pol.error().errors) {
      errors.push_back(e.ToString());
    }
  }
  auto inv = policy::ParseInventory(s.inventory_text, s.inventory_path);
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
  Compiled out;
  out.mode = std::string(policy::ModeName(options.mode.value_or(pol->mode)));
  out.policy = std::move(*pol);
  out.compiled = std::move(*compiled);
  return out;
}

// One line per kernel error, each naming the policy object behind the refused message.
std::string DescribeApplyError(const enforcer::ApplyError& error) {
  std::string out = error.summary;
  for (const auto& e : error.errors) {
    out += fmt::format("\n  {}: {}{}", e.origin.empty() ? "the batch" : e.origin,
                       std::strerror(e.error), e.message.empty() ? "" : " (" + e.message + ")");
  }
  return out;
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
      return DescribeApplyError(deleted.error());
    }
    return {};
  }
  auto compiled = CompileState(*state);
  if (!compiled) {
    std::string joined;
    for (const auto& e : compiled.error()) {
      joined += (joined.empty() ? "" : "; ") + e;
    }
    return joined;
  }
  auto applied = enforcer::ApplyRuleset(**transport, compiled->compiled.ruleset);
  if (!applied) {
    return DescribeApplyError(applied.error());
  }
  return {};
}

// Under the lock: if the pending apply's deadline has passed, puts the confirmed state back (or
// removes bulkhead's tables when there is none) and records the outcome. Returns the outcome
// word when it rolled back, nullopt when there was nothing to do. A failed restore falls back to
// deleting the tables: the point of --confirm is to never leave a ruleset nobody confirmed.
std::optional<std::string> RollBackIfExpired(const StateDir& dir, const std::string& who) {
  auto pending = dir.ReadPending();
  if (!pending || !*pending || MonotonicMs() < (*pending)->deadline_mono_ms) {
    return std::nullopt;
  }
  const std::string token = (*pending)->token;
  auto confirmed = dir.ReadConfirmed();
  std::optional<EnforceState> previous;
  if (confirmed) {
    previous = *confirmed;
  }
  std::string word = previous ? "restored" : "removed";
  auto restored = ApplyState(previous);
  if (!restored) {
    dir.AppendLog(fmt::format("{}: token {}: restoring the confirmed ruleset failed: {}", who,
                              token, restored.error()));
    word = "removed";
    if (auto removed = ApplyState(std::nullopt); !removed) {
      dir.AppendLog(fmt::format("{}: token {}: removing bulkhead's tables failed too: {}", who,
                                token, removed.error()));
      word = "rollback-failed";
    }
  }
  (void)dir.RemovePending();
  (void)dir.WriteOutcome(token, word);
  dir.AppendLog(fmt::format("{}: token {} not confirmed by the deadline: {}", who, token,
                            word == "restored"   ? "restored the confirmed ruleset"
                            : word == "removed" ? "removed bulkhead's tables"
                                                : "rollback failed"));
  return word;
}

std::string NewToken() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}", rd(), rd());
}

// Starts the watchdog detached from us (own session, reparented to init), so that killing
// enforce, its process group or its terminal leaves it running. Returns its pid once it has
// started (it writes "ready <pid>" to a pipe after exec).
boost::system::result<pid_t, std::string> SpawnWatchdog(const std::string& state_dir,
                                                        const std::string& token) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return fmt::format("pipe: {}", std::strerror(errno));
  }
  // Everything exec needs is built before fork: only async-signal-safe calls after it.
  std::vector<std::string> args = {"bulkhead",   kWatchdogCommand, "--state-dir", state_dir,
                                   "--token",    token,            "--ready-fd",  "3"};
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  const pid_t child = ::fork();
  if (child < 0) {
    const int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return fmt::format("fork: {}", std::strerror(err));
  }
  if (child == 0) {
    ::setsid();
    if (::fork() != 0) {
      ::_exit(0);
    }
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      ::dup2(null_fd, 0);
      ::dup2(null_fd, 1);
      ::dup2(null_fd, 2);
    }
    ::dup2(fds[1], 3);  // dup2 clears O_CLOEXEC on the copy
    ::close_range(4, ~0U, 0);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  std::string reply;
  char buf[64];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      reply.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  long pid = 0;
  if (std::sscanf(reply.c_str(), "ready %ld", &pid) != 1 || pid <= 0) {
    return std::string("the confirmation watchdog did not start");
  }
  return static_cast<pid_t>(pid);
}

std::string FormatUnixMs(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

// ---------------------------------------------------------------------------------------------

struct EnforceOptions {
  std::string policy_file;
  std::string inventory_file;
  std::string mode;
  bool dry_run = false;
  double confirm_s = 0;
  bool no_sysctl = false;
  int log_group = 100;
  std::string state_dir = kDefaultStateDir;
};

// Waits for the pending apply `token` to be resolved; rolls it back itself at the deadline
// (the same rule as the watchdog, so a dead watchdog changes nothing).
int WaitForConfirmation(const StateDir& dir, const std::string& token, double seconds,
                        const Logger& log) {
  log->info("waiting up to {}s for `bulkhead confirm`; without it the previous ruleset comes "
            "back",
            seconds);
  for (;;) {
    std::this_thread::sleep_for(kPollInterval);
    auto lock = dir.Lock();
    if (!lock) {
      log->error("{}", lock.error());
      return 1;
    }
    std::optional<std::string> outcome = dir.ReadOutcome(token);
    if (!outcome) {
      outcome = RollBackIfExpired(dir, "enforce");
    }
    if (!outcome) {
      auto pending = dir.ReadPending();
      if (pending && *pending && (*pending)->token == token) {
        continue;
      }
      outcome = dir.ReadOutcome(token);
      if (!outcome) {
        log->error("the pending apply disappeared from {} without an outcome", dir.path());
        return 1;
      }
    }
    if (*outcome == "confirmed") {
      log->info("confirmed: the new ruleset stays");
      return 0;
    }
    if (*outcome == "restored") {
      log->error("not confirmed within {}s: the previous ruleset is back", seconds);
    } else if (*outcome == "removed") {
      log->error("not confirmed within {}s: bulkhead's tables were removed (nothing had been "
                 "confirmed before)",
                 seconds);
    } else if (*outcome == "cancelled") {
      log->error("cancelled by `bulkhead disable`");
    } else {
      log->error("not confirmed within {}s and the rollback failed (see {}/watchdog.log)",
                 seconds, dir.path());
    }
    return 1;
  }
}

int RunEnforce(const EnforceOptions& o, const Logger& log) {
  EnforceState state;
  state.mode_override = o.mode;
  state.log_group = static_cast<std::uint16_t>(o.log_group);
  state.policy_path = o.policy_file;
  state.inventory_path = o.inventory_file;
  auto policy_text = policy::ReadWholeFile(o.policy_file);
  if (!policy_text) {
    log->error("{}", policy_text.error());
    return 2;
  }
  auto inventory_text = policy::ReadWholeFile(o.inventory_file);
  if (!inventory_text) {
    log->error("{}", inventory_text.error());
    return 2;
  }
  state.policy_text = std::move(*policy_text);
  state.inventory_text = std::move(*inventory_text);
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
  if (o.dry_run) {
    std::cout << enforcer::RenderNft(compiled->compiled.ruleset) << std::flush;
    return 0;
  }

  const StateDir dir(o.state_dir);
  auto locked = dir.Lock();
  if (!locked) {
    log->error("{}", locked.error());
    return 1;
  }
  std::optional<StateLock> lock(std::move(*locked));
  RollBackIfExpired(dir, "enforce");
  auto pending = dir.ReadPending();
  if (!pending) {
    log->error("{}", pending.error());
    return 1;
  }
  if (*pending) {
    log->error("a confirmation is pending until {} ({}): run `bulkhead confirm`, wait for the "
               "rollback, or `bulkhead disable`",
               FormatUnixMs((*pending)->deadline_unix_ms), (*pending)->policy_path);
    return 1;
  }
  auto sysctl = enforcer::EnsureBridgeNetfilter(kBridgeProcRoot, !o.no_sysctl);
  if (!sysctl) {
    log->error("{}", sysctl.error());
    return 1;
  }
  if (sysctl->changed) {
    log->info("turned on net.bridge.bridge-nf-call-iptables/-ip6tables");
  }
  auto transport = enforcer::OpenMnlTransport();
  if (!transport) {
    log->error("{}", transport.error());
    return 1;
  }

  const bool confirm = o.confirm_s > 0;
  const auto window_ms = static_cast<std::int64_t>(o.confirm_s * 1000);
  if (confirm) {
    state.token = NewToken();
    state.deadline_mono_ms = MonotonicMs() + window_ms;
    state.deadline_unix_ms = UnixMs() + window_ms;
    if (auto w = dir.WritePending(state); !w) {
      log->error("{}", w.error());
      return 1;
    }
    auto pid = SpawnWatchdog(dir.path(), state.token);
    if (!pid) {
      (void)dir.RemovePending();
      log->error("{}: not applying without it", pid.error());
      return 1;
    }
    state.watchdog_pid = *pid;
  }

  const auto start = std::chrono::steady_clock::now();
  auto applied = enforcer::ApplyRuleset(**transport, compiled->compiled.ruleset);
  const auto apply_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!applied) {
    if (confirm) {
      (void)dir.RemovePending();  // the watchdog sees its token gone and leaves
      (void)dir.WriteOutcome(state.token, "failed");
    }
    log->error("{}", DescribeApplyError(applied.error()));
    log->error("the kernel refused the ruleset; the previous one is unchanged");
    return 1;
  }
  state.applied_unix_ms = UnixMs();
  if (confirm) {
    // The window starts when the ruleset is in place, however long the apply took.
    state.deadline_mono_ms = MonotonicMs() + window_ms;
    state.deadline_unix_ms = UnixMs() + window_ms;
    if (auto w = dir.WritePending(state); !w) {
      log->error("{}", w.error());  // the watchdog still rolls back on the first deadline
    }
  } else if (auto w = dir.WriteConfirmed(state); !w) {
    log->error("applied, but {}: `status` will not know this ruleset", w.error());
  }

  std::size_t workloads = 0;
  for (const auto& g : compiled->compiled.membership.groups) {
    workloads += g.members.size();
  }
  log->info("enforced: mode {}, {} groups, {} workloads, {} edges, {} messages, applied in {:.1f} "
            "ms{}",
            compiled->mode, compiled->compiled.membership.groups.size(), workloads,
            compiled->policy.allow.size(), applied->messages, apply_ms,
            confirm ? fmt::format(", pending confirmation (watchdog pid {})", state.watchdog_pid)
                    : "");
  if (!confirm) {
    return 0;
  }
  lock.reset();  // `confirm` and the watchdog need it now
  return WaitForConfirmation(dir, state.token, o.confirm_s, log);
}

// Whether a socket file is at `path`. Anything but "it does not exist" counts as yes, so that
// a socket we may not even look at (not root) is reported rather than silently bypassed.
bool ControlSocketExists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 || (errno != ENOENT && errno != ENOTDIR);
}

// Sends `command` to the agent and reports its answer: the text on stdout when "ok" (exit 0),
// one error line with the agent's reason when "error" (exit 1), the client's error when the
// agent cannot be reached (exit 2).
int AskAgent(const std::string& path, std::string_view command, const Logger& log) {
  auto reply = daemon::SendControlCommand(path, command, kControlTimeout);
  if (!reply) {
    log->error("{}", reply.error());
    return 2;
  }
  std::string text = reply->text;
  while (!text.empty() && text.back() == '\n') {
    text.pop_back();
  }
  if (!reply->ok) {
    // One line however the agent wrote it.
    for (auto pos = text.find('\n'); pos != std::string::npos; pos = text.find('\n', pos)) {
      text.replace(pos, 1, "; ");
    }
    log->error("{}", text.empty() ? fmt::format("the agent refused `{}`", command) : text);
    return 1;
  }
  if (!text.empty()) {
    std::cout << text << '\n' << std::flush;
  }
  return 0;
}

int RunReload(const std::string& control, double confirm_s, const Logger& log) {
  if (!ControlSocketExists(control)) {
    log->error("no agent listening on {}", control);
    return 2;
  }
  return AskAgent(control, confirm_s > 0 ? fmt::format("reload confirm {}", confirm_s) : "reload",
                  log);
}

int RunConfirm(const std::string& state_dir, const Logger& log) {
  const StateDir dir(state_dir);
  auto lock = dir.Lock();
  if (!lock) {
    log->error("{}", lock.error());
    return 1;
  }
  auto pending = dir.ReadPending();
  if (!pending) {
    log->error("{}", pending.error());
    return 1;
  }
  if (!*pending) {
    const auto last = dir.ReadLastOutcome();
    if (last == "restored" || last == "removed") {
      log->error("too late: the confirmation window has closed and the {}",
                 last == "restored" ? "previous ruleset is back"
                                    : "tables were removed (nothing was confirmed before)");
    } else {
      log->error("nothing to confirm: no `enforce --confirm` is pending");
    }
    return 1;
  }
  if (auto word = RollBackIfExpired(dir, "confirm")) {
    log->error("too late: the confirmation window had closed; {}",
               *word == "restored" ? "the previous ruleset is back"
                                   : "bulkhead's tables were removed");
    return 1;
  }
  if (auto w = dir.WriteConfirmed(**pending); !w) {
    log->error("{}", w.error());
    return 1;
  }
  (void)dir.RemovePending();
  (void)dir.WriteOutcome((*pending)->token, "confirmed");
  log->info("confirmed: {} stays", (*pending)->policy_path);
  return 0;
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
    log->error("{}", DescribeApplyError(deleted.error()));
    return 1;
  }
  // The tables are gone, so a pending confirmation has nothing left to roll back.
  auto pending = dir.ReadPending();
  if (pending && *pending) {
    (void)dir.WriteOutcome((*pending)->token, "cancelled");
  }
  (void)dir.RemovePending();
  if (auto r = dir.RemoveConfirmed(); !r) {
    log->error("{}", r.error());
    return 1;
  }
  log->info("disabled: bulkhead's tables are removed");
  return 0;
}

int RunStatus(const std::string& state_dir, const Logger& log) {
  const StateDir dir(state_dir);
  std::optional<EnforceState> state;
  bool pending = false;
  {
    auto lock = dir.Lock();
    if (!lock) {
      log->error("{}", lock.error());
      return 1;
    }
    auto p = dir.ReadPending();
    auto c = dir.ReadConfirmed();
    if (!p || !c) {
      log->error("{}", !p ? p.error() : c.error());
      return 1;
    }
    pending = p->has_value();
    state = pending ? *p : *c;
  }
  auto transport = enforcer::OpenMnlTransport();
  if (!transport) {
    log->error("{}", transport.error());
    return 1;
  }
  auto named = enforcer::ReadNamedCounters(**transport);
  if (!named) {
    log->error("{}", named.error());
    return 1;
  }
  bool has_table = false;
  for (const auto& c : *named) {
    has_table = has_table || c.name.rfind("inet/", 0) == 0;
  }
  if (!has_table) {
    std::cout << "not enforcing: bulkhead has no table in this network namespace\n";
    return 1;
  }
  std::optional<Compiled> compiled;
  if (!state) {
    log->warn("{} has no record of the applied policy: groups and edges cannot be named",
              dir.path());
  } else if (auto c = CompileState(*state); c) {
    compiled = std::move(*c);
  } else {
    log->warn("the recorded policy no longer compiles: {}", c.error().front());
  }

  if (compiled) {
    std::cout << fmt::format("mode: {}\npolicy: {} (inventory {}), applied {}\n", compiled->mode,
                             state->policy_path, state->inventory_path,
                             FormatUnixMs(state->applied_unix_ms));
    if (pending) {
      const auto left = static_cast<double>(state->deadline_mono_ms - MonotonicMs()) / 1000.0;
      std::cout << fmt::format("pending confirmation: {:.1f}s left (until {})\n",
                               left > 0 ? left : 0.0, FormatUnixMs(state->deadline_unix_ms));
    }
    std::cout << fmt::format("groups: {}\n", compiled->compiled.membership.groups.size());
    for (const auto& g : compiled->compiled.membership.groups) {
      std::cout << fmt::format("  {} ({}{}): {} workload{}\n", g.name, policy::ModeName(g.mode),
                               g.implicit ? ", implicit" : "", g.members.size(),
                               g.members.size() == 1 ? "" : "s");
    }
    std::cout << fmt::format("edges: {}\n", compiled->policy.allow.size());
    const auto* table =
        compiled->compiled.ruleset.FindTable(enforcer::Family::kInet, enforcer::kTableName);
    if (table != nullptr) {
      auto edges = enforcer::ReadEdgeCounters(**transport, *table);
      if (!edges) {
        log->error("{}", edges.error());
        return 1;
      }
      for (const auto& c : *edges) {
        std::cout << fmt::format("  {}: {} packets, {} bytes\n", c.name, c.packets, c.bytes);
      }
    }
  }
  std::cout << "counters:\n";
  for (const auto& c : *named) {
    std::cout << fmt::format("  {}: {} packets, {} bytes\n", c.name, c.packets, c.bytes);
  }
  return 0;
}

int RunWatchdog(const std::string& state_dir, const std::string& token, int ready_fd) {
  // Detached already; ignore what a dying session or a polite shutdown would send. The window
  // is short, and rolling back is the whole point of this process.
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  const StateDir dir(state_dir);
  if (ready_fd >= 0) {
    const std::string ready = fmt::format("ready {}\n", ::getpid());
    (void)!::write(ready_fd, ready.data(), ready.size());
    ::close(ready_fd);
  }
  for (;;) {
    {
      auto lock = dir.Lock();
      if (!lock) {
        // Cannot read the state: the next command that can will roll back instead.
        return 1;
      }
      auto pending = dir.ReadPending();
      if (!pending || !*pending || (*pending)->token != token) {
        return 0;  // confirmed, failed, cancelled or rolled back by someone else
      }
      if (RollBackIfExpired(dir, fmt::format("watchdog {}", ::getpid()))) {
        return 0;
      }
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace

void AddEnforceCommands(CLI::App& app, std::vector<Command>& out) {
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
  out.push_back({enforce, [o](const Logger& log) { return RunEnforce(*o, log); }});

  auto state_dir = std::make_shared<std::string>(kDefaultStateDir);
  auto control = std::make_shared<std::string>(kDefaultControlSocket);
  auto* confirm = app.add_subcommand(
      "confirm", "Keep the ruleset of a pending `enforce --confirm` (or the running agent's)");
  confirm->add_option("--state-dir", *state_dir, "State directory")->capture_default_str();
  confirm->add_option("--control", *control, "The running agent's control socket, if any")
      ->capture_default_str();
  out.push_back({confirm, [state_dir, control](const Logger& log) {
                   return ControlSocketExists(*control) ? AskAgent(*control, "confirm", log)
                                                        : RunConfirm(*state_dir, log);
                 }});

  auto* status = app.add_subcommand(
      "status", "Mode, groups, edges and counters of the applied policy (from the running agent "
                "or the kernel)");
  status->add_option("--state-dir", *state_dir, "State directory")->capture_default_str();
  status->add_option("--control", *control, "The running agent's control socket, if any")
      ->capture_default_str();
  out.push_back({status, [state_dir, control](const Logger& log) {
                   return ControlSocketExists(*control) ? AskAgent(*control, "status", log)
                                                        : RunStatus(*state_dir, log);
                 }});

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
  out.push_back({disable, [state_dir](const Logger& log) { return RunDisable(*state_dir, log); }});

  // Internal: started by `enforce --confirm`, not by users.
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
  out.push_back({watchdog, [w](const Logger&) {
                   return RunWatchdog(w->state_dir, w->token, w->ready_fd);
                 }});
}

}  // namespace bulkhead::cli
