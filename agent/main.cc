// The composition root (STYLE.md rule 5): parses the command line, builds the logger and hands
// it to the subcommand, which builds the modules it needs. Nothing else in bulkhead creates
// global state.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "agent/command.h"

namespace {

// Prefixes warnings and errors with their level and leaves ordinary progress lines bare, so the
// summary line reads "learned: ..." and an error reads "bulkhead: error: FILE:3:7: ...".
class LevelPrefix : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string_view prefix;
    switch (msg.level) {
      case spdlog::level::warn:
        prefix = "bulkhead: warning: ";
        break;
      case spdlog::level::err:
      case spdlog::level::critical:
        prefix = "bulkhead: error: ";
        break;
      case spdlog::level::debug:
      case spdlog::level::trace:
        prefix = "bulkhead: debug: ";
        break;
      default:
        break;
    }
    dest.append(prefix.data(), prefix.data() + prefix.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return spdlog::details::make_unique<LevelPrefix>();
  }
};

std::shared_ptr<spdlog::logger> MakeLogger(bool verbose) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("bulkhead", sink);
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<LevelPrefix>('*').set_pattern("%*%v");
  logger->set_formatter(std::move(formatter));
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  return logger;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bulkhead: learn which container groups talk to which, review, enforce"};
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "More log output");

  std::vector<bulkhead::agent::Command> commands;
  bulkhead::agent::AddLearnCommand(app, commands);
  bulkhead::agent::AddExportCommand(app, commands);
  bulkhead::agent::AddApproveCommand(app, commands);
  bulkhead::agent::AddDiffCommand(app, commands);
  bulkhead::agent::AddCheckCommand(app, commands);
  bulkhead::agent::AddEnforceCommands(app, commands);
  bulkhead::agent::AddAgentCommand(app, commands);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  auto log = MakeLogger(verbose);
  for (const auto& command : commands) {
    if (command.subcommand->parsed()) {
      return command.run(log);
    }
  }
  return 2;
}
