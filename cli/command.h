#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <spdlog/logger.h>
#include <CLI/CLI.hpp>

#include "policy/file_error.h"

// How a subcommand plugs into main.cc: each command file adds its CLI11 subcommand(s), keeps its
// options alive inside the runner, and main runs the one the user chose with the logger it built.
namespace bulkhead::cli {

using Logger = std::shared_ptr<spdlog::logger>;

struct Command {
  CLI::App* subcommand = nullptr;
  // Exit status: 0 success, 1 "differs"/"would block" style answers, 2 usage or input errors.
  std::function<int(const Logger&)> run;
};

// One `bulkhead: error:` line per problem, each with its file:line:column.
inline void LogFileErrors(const Logger& log, const policy::FileErrors& errors) {
  for (const auto& e : errors.errors) {
    log->error("{}", e.ToString());
  }
}

// One per command file; each appends what it registers.
void AddLearnCommand(CLI::App& app, std::vector<Command>& out);    // learn_command.cc
void AddExportCommand(CLI::App& app, std::vector<Command>& out);   // export_command.cc
void AddApproveCommand(CLI::App& app, std::vector<Command>& out);  // approve_command.cc
void AddDiffCommand(CLI::App& app, std::vector<Command>& out);     // diff_command.cc
void AddCheckCommand(CLI::App& app, std::vector<Command>& out);    // check_command.cc
// enforce, confirm, status (AddStatusCommand), reload, disable, confirm-watchdog
void AddEnforceCommands(CLI::App& app, std::vector<Command>& out);  // enforce_command.cc
void AddStatusCommand(CLI::App& app, std::vector<Command>& out);    // status_command.cc
void AddAgentCommand(CLI::App& app, std::vector<Command>& out);     // agent_command.cc
void AddAnalyzeCommand(CLI::App& app, std::vector<Command>& out);   // analyze_command.cc
void AddReportCommand(CLI::App& app, std::vector<Command>& out);    // report_command.cc
void AddMergeCommand(CLI::App& app, std::vector<Command>& out);     // merge_command.cc

}  // namespace bulkhead::cli
