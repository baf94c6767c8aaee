// `bulkhead diff policy.yaml graph.yaml`: what a reviewer has to look at after learning again.
//   + from -> to proto/port (N connections)   learned, but no allow (or failsafe) rule covers it
//   - from -> to proto/port[-last]            allowed, but never seen in the graph (stale?)
// Exit status as diff(1): 0 the two agree, 1 they differ, 2 an input could not be read.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "cli/command.h"
#include "policy/atomic_file.h"
#include "policy/flow_graph_codec.h"
#include "policy/policy_codec.h"

namespace bulkhead::cli {
namespace {

struct DiffOptions {
  std::string policy_file;
  std::string graph_file;
};

bool EndMatches(const std::string& rule_end, const std::string& edge_end, bool wildcard_ok) {
  return rule_end == edge_end || (wildcard_ok && rule_end == policy::kAnyGroup);
}

bool Covers(const policy::AllowRule& rule, const policy::EdgeKey& edge, bool wildcard_ok) {
  return EndMatches(rule.from, edge.from, wildcard_ok) &&
         EndMatches(rule.to, edge.to, wildcard_ok) && rule.protocol == edge.protocol &&
         rule.ports.Contains(edge.port);
}

// Edges no policy can express (ApproveGraph leaves them out too): host to host never passes the
// enforcer's hooks, and port 0 of a port protocol is not a service.
bool Comparable(const policy::EdgeKey& edge) {
  const bool icmp =
      edge.protocol == policy::Protocol::kIcmp || edge.protocol == policy::Protocol::kIcmpv6;
  if (edge.from == policy::kHostGroup && edge.to == policy::kHostGroup) {
    return false;
  }
  return icmp || edge.port != 0;
}

std::string PortText(const policy::PortRange& ports) {
  return ports.first == ports.last ? fmt::format("{}", ports.first)
                                   : fmt::format("{}-{}", ports.first, ports.last);
}

struct Line {
  // Sort key: the pair of groups, protocol, first port, then '-' before '+'.
  std::tuple<std::string, std::string, std::string, std::uint16_t, char> key;
  std::string text;
};

int RunDiff(const DiffOptions& options, const Logger& log) {
  auto rules = policy::LoadPolicyFile(options.policy_file);
  auto graph = policy::LoadFlowGraphFile(options.graph_file);
  // Both files' errors, so one run shows everything to fix.
  if (!rules) {
    LogFileErrors(log, rules.error());
  }
  if (!graph) {
    LogFileErrors(log, graph.error());
  }
  if (!rules || !graph) {
    return 2;
  }

  std::vector<Line> lines;
  std::size_t added = 0;
  std::size_t not_comparable = 0;
  for (const auto& edge : graph->edges) {
    if (!Comparable(edge.key)) {
      ++not_comparable;
      continue;
    }
    const auto covered = [&](const policy::AllowRule& rule, bool wildcard_ok) {
      return Covers(rule, edge.key, wildcard_ok);
    };
    if (std::any_of(rules->allow.begin(), rules->allow.end(),
                    [&](const auto& r) { return covered(r, false); }) ||
        std::any_of(rules->failsafe.begin(), rules->failsafe.end(),
                    [&](const auto& r) { return covered(r, true); })) {
      continue;
    }
    const std::string proto(policy::ProtocolName(edge.key.protocol));
    lines.push_back({{edge.key.from, edge.key.to, proto, edge.key.port, '+'},
                     fmt::format("+ {} -> {} {}/{} ({} connection{})", edge.key.from, edge.key.to,
                                 proto, edge.key.port, edge.stats.connections,
                                 edge.stats.connections == 1 ? "" : "s")});
    ++added;
  }
  std::size_t removed = 0;
  for (const auto& rule : rules->allow) {
    const bool seen =
        std::any_of(graph->edges.begin(), graph->edges.end(),
                    [&](const policy::Edge& e) { return Covers(rule, e.key, false); });
    if (seen) {
      continue;
    }
    const std::string proto(policy::ProtocolName(rule.protocol));
    lines.push_back(
        {{rule.from, rule.to, proto, rule.ports.first, '-'},
         fmt::format("- {} -> {} {}/{}", rule.from, rule.to, proto, PortText(rule.ports))});
    ++removed;
  }
  std::sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
    return std::tie(a.key, a.text) < std::tie(b.key, b.text);
  });
  // Duplicate allow rules give duplicate lines; one says it.
  lines.erase(std::unique(lines.begin(), lines.end(),
                          [](const Line& a, const Line& b) { return a.text == b.text; }),
              lines.end());
  std::string out;
  for (const auto& line : lines) {
    out += line.text;
    out += '\n';
  }
  auto written = policy::WriteFileAtomically("-", out);
  if (!written) {
    log->error("{}", written.error());
    return 2;
  }
  if (not_comparable > 0) {
    log->info("diff: {} learned edge{} not comparable (host -> host or port 0)", not_comparable,
              not_comparable == 1 ? "" : "s");
  }
  log->info("diff: {} learned edge{} not allowed, {} allow rule{} never seen", added,
            added == 1 ? "" : "s", removed, removed == 1 ? "" : "s");
  return lines.empty() ? 0 : 1;
}

}  // namespace

void AddDiffCommand(CLI::App& app, std::vector<Command>& out) {
  auto options = std::make_shared<DiffOptions>();
  auto* cmd = app.add_subcommand(
      "diff", "Compare a policy with a learned graph: unapproved edges (+), unseen rules (-)");
  cmd->add_option("policy", options->policy_file, "Policy file (kind: Policy)")->required();
  cmd->add_option("graph", options->graph_file, "Flow graph (YAML or JSON)")->required();
  out.push_back({cmd, [options](const Logger& log) { return RunDiff(*options, log); }});
}

}  // namespace bulkhead::cli
