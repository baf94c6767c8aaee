// `bulkhead analyze policy.yaml|graph.yaml [--json]`: how far an attacker who owns one group can
// move (policy/analysis.h). Text by default, deterministic JSON with --json.
#include <memory>
#include <string>

#include "cli/command.h"
#include "policy/analysis.h"
#include "policy/atomic_file.h"
#include "policy/review_input.h"

namespace bulkhead::cli {
namespace {

struct AnalyzeOptions {
  std::string input;
  bool json = false;
  std::string output = "-";
};

int RunAnalyze(const AnalyzeOptions& options, const Logger& log) {
  auto input = policy::LoadPolicyOrGraphFile(options.input);
  if (!input) {
    LogFileErrors(log, input.error());
    return 2;
  }
  const auto graph = input->graph ? policy::ReachGraphFromFlowGraph(*input->graph)
                                  : policy::ReachGraphFromPolicy(*input->policy);
  const auto analysis = policy::Analyze(graph);
  auto written = policy::WriteFileAtomically(
      options.output,
      options.json ? policy::WriteAnalysisJson(analysis) : policy::WriteAnalysisText(analysis));
  if (!written) {
    log->error("{}", written.error());
    return 2;
  }
  return 0;
}

}  // namespace

void AddAnalyzeCommand(CLI::App& app, std::vector<Command>& out) {
  auto options = std::make_shared<AnalyzeOptions>();
  auto* cmd = app.add_subcommand(
      "analyze", "Blast radius: which groups each group reaches in 1, 2, ... hops, and findings");
  cmd->add_option("input", options->input, "Policy or flow graph (YAML or JSON)")->required();
  cmd->add_flag("--json", options->json, "Write JSON instead of text");
  cmd->add_option("-o,--output", options->output, "File to write ('-' = stdout, the default)");
  out.push_back({cmd, [options](const Logger& log) { return RunAnalyze(*options, log); }});
}

}  // namespace bulkhead::cli
