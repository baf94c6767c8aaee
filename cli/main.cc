// The composition root (STYLE.md rule 5): parses the command line, builds the logger and hands
// it to the subcommand, which builds the modules it needs. Nothing else in bulkhead creates
// global state.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/command.h"
#include "cli/logging.h"
#include "daemon/agent_config.h"

namespace {

int Run(int argc, char** argv) {
  CLI::App app{"bulkhead: learn which container groups talk to which, review, enforce"};
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "More log output");
  // Before the subcommand: `bulkhead --log-format json learn ...`. The agent command applies
  // its config's logFormat on top of this once it has read the config.
  std::string log_format = "text";
  app.add_option("--log-format", log_format,
                 "Log lines on stderr: text, or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}));

  std::vector<bulkhead::cli::Command> commands;
  bulkhead::cli::AddLearnCommand(app, commands);
  bulkhead::cli::AddExportCommand(app, commands);
  bulkhead::cli::AddApproveCommand(app, commands);
  bulkhead::cli::AddDiffCommand(app, commands);
  bulkhead::cli::AddCheckCommand(app, commands);
  bulkhead::cli::AddEnforceCommands(app, commands);
  bulkhead::cli::AddAgentCommand(app, commands);
  bulkhead::cli::AddAnalyzeCommand(app, commands);
  bulkhead::cli::AddReportCommand(app, commands);
  bulkhead::cli::AddMergeCommand(app, commands);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  auto log =
      bulkhead::cli::MakeLogger(verbose, log_format == "json" ? bulkhead::daemon::LogFormat::kJson
                                                              : bulkhead::daemon::LogFormat::kText);
  for (const auto& command : commands) {
    if (command.subcommand->parsed()) {
      return command.run(log);
    }
  }
  return 2;
}

}  // namespace

// What a command does not turn into an error of its own (std::bad_alloc, a library's exception)
// ends here as one line and a non-zero exit, not as std::terminate's abort.
int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bulkhead: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "bulkhead: unknown exception\n");
  }
  return 1;
}
