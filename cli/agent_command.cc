// `bulkhead agent --config FILE`: reads the configuration and runs the agent (agent.h).
#include <iostream>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/logging.h"
#include "daemon/agent.h"
#include "daemon/agent_config.h"
#include "policy/policy.h"

namespace bulkhead::cli {
namespace {

// `--check-config`: the file is valid, and the settings that have a default and shape what the
// agent does (so a value left out shows what it will be).
void PrintCheckedConfig(const std::string& file, const daemon::AgentConfig& config) {
  std::cout << file << ": ok\n";
  std::cout << "mode: " << policy::ModeName(config.mode) << "\n";
  if (config.mode == policy::Mode::kLearn) {
    std::cout << "snapshotInterval: " << daemon::FormatDuration(config.snapshot_interval) << "\n";
  } else {
    std::cout << "tamperCheckInterval: " << daemon::FormatDuration(config.tamper_check_interval)
              << "\n";
  }
  std::cout << "violationLogRate: " << config.violation_log_rate << "\n";
  std::cout << "removeRulesOnExit: " << (config.remove_rules_on_exit ? "true" : "false") << "\n";
}

}  // namespace

void AddAgentCommand(CLI::App& app, std::vector<Command>& out) {
  struct Options {
    std::string config;
    bool check = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "agent", "Run the long-running agent: discover containers, learn or enforce continuously");
  cmd->add_option("--config", o->config, "Agent configuration (see deploy/agent.yaml)")->required();
  cmd->add_flag("--check-config", o->check, "Validate the configuration and exit");
  out.push_back({cmd, [o](const Logger& log) {
                   auto config = daemon::LoadAgentConfigFile(o->config);
                   if (!config) {
                     LogFileErrors(log, config.error());
                     return 2;
                   }
                   if (o->check) {
                     PrintCheckedConfig(o->config, *config);
                     return 0;
                   }
                   // The configuration may ask for JSON log lines: from here on every line
                   // goes through a logger built for it.
                   auto agent_log =
                       config->log_format == daemon::LogFormat::kText
                           ? log
                           : MakeLogger(log->level() <= spdlog::level::debug, config->log_format);
                   return daemon::RunAgent(*config, agent_log);
                 }});
}

}  // namespace bulkhead::cli
