// `bulkhead diff policy.yaml|graph.yaml graph.yaml [--format text|html]`: what a reviewer has to
// look at after learning again.
//   policy, graph:  + learned, but no allow (or failsafe) rule covers it
//                   - allowed, but never seen in the graph (stale?)
//   graph, graph:   + edge or group in the second graph only, - in the first only
// Exit status as diff(1): 0 the two agree, 1 they differ, 2 an input could not be read.
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "policy/atomic_file.h"
#include "policy/flow_graph_codec.h"
#include "policy/policy_match.h"
#include "policy/report.h"
#include "policy/review_input.h"

namespace bulkhead::cli {
namespace {

struct DiffOptions {
  std::string first_file;
  std::string graph_file;
  std::string format = "text";
  std::string output = "-";
};

int RunDiff(const DiffOptions& options, const Logger& log) {
  auto first = policy::LoadPolicyOrGraphFile(options.first_file);
  auto graph = policy::LoadFlowGraphFile(options.graph_file);
  // Both files' errors, so one run shows everything to fix.
  if (!first) {
    LogFileErrors(log, first.error());
  }
  if (!graph) {
    LogFileErrors(log, graph.error());
  }
  if (!first || !graph) {
    return 2;
  }
  std::vector<policy::DiffLine> lines;
  if (first->policy) {
    const auto comparison = policy::ComparePolicyGraph(*first->policy, *graph);
    lines = policy::DiffPolicyGraph(comparison);
    if (comparison.not_comparable > 0) {
      log->info("diff: {} learned edge{} not comparable (host -> host or port 0)",
                comparison.not_comparable, comparison.not_comparable == 1 ? "" : "s");
    }
    log->info("diff: {} learned edge{} not allowed, {} allow rule{} never seen",
              comparison.unapproved.size(), comparison.unapproved.size() == 1 ? "" : "s",
              comparison.unseen.size(), comparison.unseen.size() == 1 ? "" : "s");
  } else {
    lines = policy::DiffGraphs(*first->graph, *graph);
    log->info("diff: {} change{} between the two graphs", lines.size(),
              lines.size() == 1 ? "" : "s");
  }
  std::string out;
  if (options.format == "html") {
    out = policy::WriteDiffHtml(options.first_file, options.graph_file, lines);
  } else {
    for (const auto& line : lines) {
      out += line.text + "\n";
    }
  }
  auto written = policy::WriteFileAtomically(options.output, out);
  if (!written) {
    log->error("{}", written.error());
    return 2;
  }
  return lines.empty() ? 0 : 1;
}

}  // namespace

void AddDiffCommand(CLI::App& app, std::vector<Command>& out) {
  auto options = std::make_shared<DiffOptions>();
  auto* cmd = app.add_subcommand(
      "diff",
      "Compare a policy (or an older graph) with a learned graph: unapproved or new edges (+), "
      "unseen rules or gone edges (-)");
  cmd->add_option("first", options->first_file, "Policy, or the older flow graph")->required();
  cmd->add_option("graph", options->graph_file, "Flow graph (YAML or JSON)")->required();
  cmd->add_option("--format", options->format, "text (default) or html (one self-contained page)")
      ->check(CLI::IsMember({"text", "html"}));
  cmd->add_option("-o,--output", options->output, "File to write ('-' = stdout, the default)");
  out.push_back({cmd, [options](const Logger& log) { return RunDiff(*options, log); }});
}

}  // namespace bulkhead::cli
