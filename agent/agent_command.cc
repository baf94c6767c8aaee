#include "agent/command.h"

namespace bulkhead::agent {

void AddAgentCommand(CLI::App&, std::vector<Command>&) {}

}  // namespace bulkhead::agent
