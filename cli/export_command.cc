#include "cli/export_command.h"

#include "cli/command.h"
#include "policy/atomic_file.h"
#include "policy/flow_graph_codec.h"

namespace bulkhead::cli {

int RunExport(const ExportOptions& options, const std::shared_ptr<spdlog::logger>& log) {
  auto graph = policy::LoadFlowGraphFile(options.input);
  if (!graph) {
    LogFileErrors(log, graph.error());
    return 1;
  }
  std::string out;
  if (options.format == "yaml") {
    out = policy::WriteFlowGraphYaml(*graph);
  } else if (options.format == "json") {
    out = policy::WriteFlowGraphJson(*graph);
  } else if (options.format == "dot") {
    out = policy::WriteFlowGraphDot(*graph);
  } else {
    // CLI11 restricts the choices; this guards the invariant if a caller does not.
    log->error("--format: unknown format '{}' (yaml, json, dot)", options.format);
    return 2;
  }
  auto written = policy::WriteFileAtomically(options.output, out);
  if (!written) {
    log->error("{}", written.error());
    return 1;
  }
  return 0;
}

}  // namespace bulkhead::cli

namespace bulkhead::cli {

void AddExportCommand(CLI::App& app, std::vector<Command>& out) {
  auto exp = std::make_shared<ExportOptions>();
  auto* cmd =
      app.add_subcommand("export", "Write a flow graph in another format (yaml, json, dot)");
  cmd->add_option("graph", exp->input, "Flow graph (YAML or JSON)")->required();
  cmd->add_option("--format", exp->format, "Output format")
      ->check(CLI::IsMember({"yaml", "json", "dot"}));
  cmd->add_option("-o,--output", exp->output, "File to write ('-' = stdout)");
  out.push_back({cmd, [exp](const Logger& log) { return RunExport(*exp, log); }});
}

}  // namespace bulkhead::cli
