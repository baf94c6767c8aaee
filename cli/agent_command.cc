// `bulkhead agent --config FILE`: reads the configuration and runs the agent (agent.h).
#include <iostream>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/logging.h"
#include "daemon/agent.h"
#include "daemon/agent_config.h"

namespace bulkhead::cli {

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
                     std::cout << o->config << ": ok\n";
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
