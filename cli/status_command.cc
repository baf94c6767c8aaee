// `bulkhead status`: the policy in force (its path and the SHA-256 of its bytes, what
// `sha256sum` prints), mode, groups, edges and counters of the applied policy. From the running
// agent when one is in charge (its control socket exists), else from the state directory's
// record of the last apply (recompiled, to name groups and set elements) and the kernel's
// counters.
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "cli/agent_client.h"
#include "cli/command.h"
#include "cli/confirm_state.h"
#include "cli/state_dir.h"
#include "daemon/policy_watch.h"
#include "enforcer/kernel_ruleset.h"
#include "enforcer/netlink_transport.h"

namespace bulkhead::cli {
namespace {

constexpr const char* kDefaultStateDir = "/run/bulkhead";

struct Recorded {
  std::optional<EnforceState> state;  // pending if one is, else confirmed
  bool pending = false;
};

boost::system::result<Recorded, std::string> ReadRecord(const StateDir& dir) {
  auto lock = dir.Lock();
  if (!lock) {
    return lock.error();
  }
  auto p = dir.ReadPending();
  auto c = dir.ReadConfirmed();
  if (!p || !c) {
    return !p ? p.error() : c.error();
  }
  Recorded out;
  out.pending = p->has_value();
  out.state = out.pending ? *p : *c;
  return out;
}

// The part of the report that needs the recorded policy: mode, groups, edges with counters.
bool PrintPolicy(const Recorded& record, const CompiledState& compiled,
                 enforcer::NetlinkTransport& transport, const Logger& log) {
  const EnforceState& state = *record.state;
  // The digest of the recorded bytes: what was applied, even if the file changed since.
  std::cout << fmt::format("mode: {}\npolicy: {} {} (inventory {}), applied {}\n", compiled.mode,
                           state.policy_path, daemon::PolicyDigest(state.policy_text),
                           state.inventory_path, FormatUnixMs(state.applied_unix_ms));
  if (record.pending) {
    const auto left = static_cast<double>(state.deadline_mono_ms - MonotonicMs()) / 1000.0;
    std::cout << fmt::format("pending confirmation: {:.1f}s left (until {})\n",
                             left > 0 ? left : 0.0, FormatUnixMs(state.deadline_unix_ms));
  }
  std::cout << fmt::format("groups: {}\n", compiled.compiled.membership.groups.size());
  for (const auto& g : compiled.compiled.membership.groups) {
    std::cout << fmt::format("  {} ({}{}): {} workload{}\n", g.name, policy::ModeName(g.mode),
                             g.implicit ? ", implicit" : "", g.members.size(),
                             g.members.size() == 1 ? "" : "s");
  }
  std::cout << fmt::format("edges: {}\n", compiled.policy.allow.size());
  const auto* table =
      compiled.compiled.ruleset.FindTable(enforcer::Family::kInet, enforcer::kTableName);
  if (table == nullptr) {
    return true;
  }
  auto edges = enforcer::ReadEdgeCounters(transport, *table);
  if (!edges) {
    log->error("{}", edges.error());
    return false;
  }
  for (const auto& c : *edges) {
    std::cout << fmt::format("  {}: {} packets, {} bytes\n", c.name, c.packets, c.bytes);
  }
  return true;
}

int RunStatus(const std::string& state_dir, const Logger& log) {
  const StateDir dir(state_dir);
  auto record = ReadRecord(dir);
  if (!record) {
    log->error("{}", record.error());
    return 1;
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
  if (!record->state) {
    log->warn("{} has no record of the applied policy: groups and edges cannot be named",
              dir.path());
  } else if (auto compiled = CompileState(*record->state); !compiled) {
    log->warn("the recorded policy no longer compiles: {}", compiled.error().front());
  } else if (!PrintPolicy(*record, *compiled, **transport, log)) {
    return 1;
  }
  std::cout << "counters:\n";
  for (const auto& c : *named) {
    std::cout << fmt::format("  {}: {} packets, {} bytes\n", c.name, c.packets, c.bytes);
  }
  return 0;
}

}  // namespace

void AddStatusCommand(CLI::App& app, std::vector<Command>& out) {
  auto state_dir = std::make_shared<std::string>(kDefaultStateDir);
  auto control = std::make_shared<std::string>(kDefaultControlSocket);
  auto* status = app.add_subcommand(
      "status",
      "The policy in force (path, sha256 digest), mode, groups, edges and counters (from the "
      "running agent or the kernel)");
  status->add_option("--state-dir", *state_dir, "State directory")->capture_default_str();
  status->add_option("--control", *control, "The running agent's control socket, if any")
      ->capture_default_str();
  out.push_back({status, [state_dir, control](const Logger& log) {
                   return ControlSocketExists(*control)
                              ? AskAgent(*control, {daemon::ControlCommandKind::kStatus, 0}, log)
                              : RunStatus(*state_dir, log);
                 }});
}

}  // namespace bulkhead::cli
