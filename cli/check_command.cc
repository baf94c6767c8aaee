// `bulkhead check policy.yaml [--inventory FILE] [--pcap FILE...] [--mode monitor|enforce]`
//
// Without --pcap it validates the policy (every error, file:line:column) and, given an inventory,
// compiles it exactly as `enforce` would. With --pcap it replays recorded traffic offline: the
// learn flow table turns packets into client -> server connections, and the first packet of each
// is judged by the enforcer's evaluator against the compiled ruleset (the same model that is
// sent to the kernel), so "check says blocked" and "the kernel drops" cannot drift apart.
//
// Offline limits: the capture does not say which bridge port a frame came in on, so port
// anti-spoofing and the VLAN/PPPoE drop (bridge table) are not judged; a flow whose server port
// is ephemeral and was never confirmed by a handshake is not a connection to the flow table.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "capture/file_replay.h"
#include "capture/ip_addr.h"
#include "capture/pcap_file_source.h"
#include "cli/command.h"
#include "enforcer/compiler.h"
#include "enforcer/evaluator.h"
#include "inventory/static_file_source.h"
#include "learn/flow_table.h"
#include "learn/graph_builder.h"
#include "policy/atomic_file.h"
#include "policy/grouping.h"
#include "policy/policy_codec.h"

namespace bulkhead::cli {
namespace {

struct CheckOptions {
  std::string policy_file;
  std::string inventory_file;
  std::vector<std::string> pcap_files;
  std::string mode;  // empty: enforce when replaying, the policy's own otherwise
  std::vector<std::string> group_by;
};

// Collects the finished connections of a replay.
class FlowCollector final : public learn::FlowRecordSink {
 public:
  void OnFlow(const learn::FlowRecord& flow) override { flows.push_back(flow); }
  // A refused or unanswered attempt is no edge to learn, but the ruleset still judges it.
  void OnFailedAttempt(const learn::FlowRecord& flow, bool /*refused*/) override {
    flows.push_back(flow);
  }
  std::vector<learn::FlowRecord> flows;
};

// Names an address the way the output reports it: by the policy's groups as the enforcer
// resolved them (default), or by learn's grouping of the inventory (--group-by).
class EndpointNamer {
 public:
  static EndpointNamer FromMembership(const enforcer::Membership& membership) {
    EndpointNamer namer;
    for (const auto& group : membership.groups) {
      for (const auto& member : group.members) {
        for (const auto* values : {&member.v4, &member.v6}) {
          for (const auto& v : *values) {
            namer.names_[ToIpAddr(v)] = group.name;
          }
        }
      }
    }
    for (const auto* values : {&membership.host_v4, &membership.host_v6}) {
      for (const auto& v : *values) {
        namer.host_.push_back(ToIpAddr(v));
        namer.names_[ToIpAddr(v)] = std::string(policy::kHostGroup);
      }
    }
    return namer;
  }

  void UseResolver(learn::GroupResolver resolver) { resolver_.emplace(std::move(resolver)); }

  std::string Name(const capture::IpAddr& address) const {
    if (resolver_) {
      std::string scratch;
      const auto endpoint = resolver_->Resolve(address, scratch);
      return endpoint.managed ? std::string(endpoint.group) : std::string(policy::kWorldGroup);
    }
    const auto it = names_.find(address);
    return it == names_.end() ? std::string(policy::kWorldGroup) : it->second;
  }

  bool IsHost(const capture::IpAddr& address) const {
    return std::find(host_.begin(), host_.end(), address) != host_.end();
  }

 private:
  static capture::IpAddr ToIpAddr(const enforcer::Value& v) {
    return v.type == enforcer::DataType::kIpv4Addr ? capture::IpAddr::FromV4Bytes(v.addr.data())
                                                   : capture::IpAddr::FromV6Bytes(v.addr.data());
  }

  std::map<capture::IpAddr, std::string> names_;
  std::vector<capture::IpAddr> host_;
  std::optional<learn::GroupResolver> resolver_;
};

bool IsIcmp(std::uint8_t proto) { return proto == 1 || proto == 58; }

// The first packet of `flow` as the kernel's inet hooks see it. Returns nullopt for traffic the
// enforcer never judges (the host talking to itself).
std::optional<enforcer::PacketInfo> FirstPacket(const learn::FlowRecord& flow,
                                                const EndpointNamer& namer) {
  const bool client_host = namer.IsHost(flow.client);
  const bool server_host = namer.IsHost(flow.server);
  if (client_host && server_host) {
    return std::nullopt;
  }
  enforcer::PacketInfo packet;
  packet.hook = client_host ? "output" : (server_host ? "input" : "forward");
  auto saddr = enforcer::Value::Address(flow.client.ToString());
  auto daddr = enforcer::Value::Address(flow.server.ToString());
  if (!saddr || !daddr) {
    return std::nullopt;  // cannot happen: the decoder's addresses always print as addresses
  }
  packet.saddr = *saddr;
  packet.daddr = *daddr;
  packet.l4proto = flow.proto;
  if (IsIcmp(flow.proto)) {
    packet.icmp_type = static_cast<std::uint8_t>(flow.server_port);
    packet.icmp_code = 0;
  } else {
    packet.dport = flow.server_port;
  }
  return packet;
}

std::string ProtoName(std::uint8_t proto) {
  if (auto p = policy::ProtocolFromIana(proto)) {
    return std::string(policy::ProtocolName(*p));
  }
  return fmt::format("proto{}", proto);
}

void LogLines(const Logger& log, const std::string& text) {
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    if (end > start) {
      log->error("{}", text.substr(start, end - start));
    }
    start = end + 1;
  }
}

// Reads every capture into a flow table; false on a read error (logged).
bool ReplayCaptures(const std::vector<std::string>& files, learn::FlowTable& table,
                    const Logger& log) {
  std::vector<std::unique_ptr<capture::PacketSource>> sources;
  for (const auto& file : files) {
    auto source = capture::PcapFileSource::Open(file);
    if (!source) {
      log->error("{}", source.error().message);
      return false;
    }
    sources.push_back(std::move(*source));
  }
  capture::FileReplayOptions replay;
  replay.on_warning = [&log](std::string_view warning) { log->warn("{}", warning); };
  auto replayed = capture::ReplayFiles(sources, table, replay);
  if (!replayed) {
    log->error("{}", replayed.error().message);
    return false;
  }
  table.Flush();
  return true;
}

int Replay(const CheckOptions& options, const policy::Inventory& inventory,
           const enforcer::CompiledPolicy& compiled, const Logger& log) {
  EndpointNamer namer = EndpointNamer::FromMembership(compiled.membership);
  if (!options.group_by.empty()) {
    auto groups = policy::AssignGroups(inventory, options.group_by);
    if (!groups) {
      log->error("{}: {}", options.inventory_file, groups.error());
      return 2;
    }
    auto resolver = learn::GroupResolver::Create(inventory, *groups);
    if (!resolver) {
      log->error("{}: {}", options.inventory_file, resolver.error());
      return 2;
    }
    namer.UseResolver(std::move(*resolver));
  }

  FlowCollector collector;
  learn::FlowTable table(learn::FlowTableConfig{}, collector);
  if (!ReplayCaptures(options.pcap_files, table, log)) {
    return 2;
  }

  // (from, to, protocol, port) -> connections, for blocked and for logged-but-passing flows.
  using Key = std::tuple<std::string, std::string, std::string, std::uint16_t>;
  std::map<Key, std::uint64_t> blocked;
  std::map<Key, std::uint64_t> logged;
  std::uint64_t judged = 0;
  for (const auto& flow : collector.flows) {
    auto packet = FirstPacket(flow, namer);
    if (!packet) {
      continue;
    }
    auto verdict = enforcer::Evaluate(compiled.ruleset, *packet);
    if (!verdict) {
      log->error("{} -> {}: {}", flow.client.ToString(), flow.server.ToString(), verdict.error());
      return 2;
    }
    ++judged;
    Key key{namer.Name(flow.client), namer.Name(flow.server), ProtoName(flow.proto),
            flow.server_port};
    if (!verdict->accepted) {
      ++blocked[key];
    } else if (!verdict->verdict_chain.empty()) {
      ++logged[key];  // a violation in monitor mode: logged, passes
    }
  }

  std::string out;
  auto print = [&out](const std::map<Key, std::uint64_t>& flows, std::string_view suffix) {
    for (const auto& [key, connections] : flows) {
      const auto& [from, to, proto, port] = key;
      out += fmt::format("{} -> {} {}/{}: {} connection{}{}\n", from, to, proto, port, connections,
                         connections == 1 ? "" : "s", suffix);
    }
  };
  print(blocked, "");
  print(logged, " (logged, not blocked)");
  auto written = policy::WriteFileAtomically("-", out);
  if (!written) {
    log->error("{}", written.error());
    return 2;
  }
  std::uint64_t blocked_connections = 0;
  for (const auto& entry : blocked) {
    blocked_connections += entry.second;
  }
  std::uint64_t logged_connections = 0;
  for (const auto& entry : logged) {
    logged_connections += entry.second;
  }
  log->info("check: {} connections judged, {} would be blocked, {} logged as violations", judged,
            blocked_connections, logged_connections);
  return blocked.empty() && logged.empty() ? 0 : 1;
}

int RunCheck(const CheckOptions& options, const Logger& log) {
  if (!options.pcap_files.empty() && options.inventory_file.empty()) {
    log->error("check: --pcap needs --inventory (which address is which workload)");
    return 2;
  }
  auto rules = policy::LoadPolicyFile(options.policy_file);
  if (!rules) {
    LogFileErrors(log, rules.error());
    return 2;
  }
  if (options.inventory_file.empty()) {
    fmt::print("{}: ok: {} groups, {} allow rules\n", options.policy_file, rules->groups.size(),
               rules->allow.size());
    return 0;
  }
  auto inventory = inventory::LoadInventoryFile(options.inventory_file);
  if (!inventory) {
    LogLines(log, inventory.error());
    return 2;
  }
  enforcer::CompileOptions compile_options;
  if (!options.mode.empty()) {
    compile_options.mode = policy::ParseMode(options.mode);
  } else if (!options.pcap_files.empty()) {
    // The question a replay answers is "what would enforcing this policy block".
    compile_options.mode = policy::Mode::kEnforce;
  }
  auto compiled = enforcer::CompileRuleset(*rules, *inventory, compile_options);
  if (!compiled) {
    for (const auto& e : compiled.error()) {
      log->error("{}: {}", options.policy_file, e);
    }
    return 2;
  }
  for (const auto& warning : compiled->warnings) {
    log->warn("{}", warning);
  }
  if (options.pcap_files.empty()) {
    fmt::print("{}: ok: {} groups, {} allow rules\n", options.policy_file, rules->groups.size(),
               rules->allow.size());
    return 0;
  }
  return Replay(options, *inventory, *compiled, log);
}

}  // namespace

void AddCheckCommand(CLI::App& app, std::vector<Command>& out) {
  auto options = std::make_shared<CheckOptions>();
  auto* cmd = app.add_subcommand(
      "check",
      "Validate a policy (and compile it for an inventory); with --pcap, list the recorded "
      "flows it would block");
  cmd->add_option("policy", options->policy_file, "Policy file (kind: Policy)")->required();
  cmd->add_option("--inventory", options->inventory_file,
                  "Inventory file: also compile the policy for it");
  cmd->add_option("--pcap", options->pcap_files,
                  "Recorded traffic to judge offline (needs --inventory)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--mode", options->mode,
                  "Judge as this global mode (default with --pcap: enforce; per-group modes "
                  "still apply)")
      ->check(CLI::IsMember({"monitor", "enforce"}));
  cmd->add_option("--group-by", options->group_by,
                  "Name flows by these inventory labels instead of the policy's groups")
      ->delimiter(',');
  out.push_back({cmd, [options](const Logger& log) { return RunCheck(*options, log); }});
}

}  // namespace bulkhead::cli
