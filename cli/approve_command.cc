// `bulkhead approve graph.yaml [--min-connections N] -o policy.yaml`: turns a learned flow graph
// into a policy draft for review. Each allow rule carries a comment with what learning saw, so a
// reviewer can tell a busy edge from a one-off before approving it.
#include <cstdint>
#include <memory>
#include <string>

#include "cli/command.h"
#include "policy/atomic_file.h"
#include "policy/flow_graph_codec.h"
#include "policy/policy_codec.h"

namespace bulkhead::cli {
namespace {

struct ApproveOptions {
  std::string input;
  std::uint64_t min_connections = 1;
  std::string output = "-";
};

int RunApprove(const ApproveOptions& options, const Logger& log) {
  auto graph = policy::LoadFlowGraphFile(options.input);
  if (!graph) {
    LogFileErrors(log, graph.error());
    return 2;
  }
  const auto approved = policy::ApproveGraph(*graph, options.min_connections);
  // Warnings, not errors: the policy is still right (a scan is no edge), the reviewer is told.
  for (const auto& note : approved.scan_notes) {
    log->warn("{}: {}", options.input, note);
  }
  auto written = policy::WriteFileAtomically(
      options.output, policy::WritePolicyYaml(approved.policy, approved.comments));
  if (!written) {
    log->error("{}", written.error());
    return 2;
  }
  log->info("approved: {} groups, {} allow rules, {} edges skipped", approved.policy.groups.size(),
            approved.policy.allow.size(), approved.skipped_edges);
  return 0;
}

}  // namespace

void AddApproveCommand(CLI::App& app, std::vector<Command>& out) {
  auto options = std::make_shared<ApproveOptions>();
  auto* cmd = app.add_subcommand(
      "approve", "Turn a learned flow graph into a policy draft (mode monitor) for review");
  cmd->add_option("graph", options->input, "Flow graph (YAML or JSON)")->required();
  cmd->add_option("--min-connections", options->min_connections,
                  "Leave out edges seen in fewer connections (they are counted as skipped)");
  cmd->add_option("-o,--output", options->output, "Policy file to write ('-' = stdout)");
  out.push_back({cmd, [options](const Logger& log) { return RunApprove(*options, log); }});
}

}  // namespace bulkhead::cli
