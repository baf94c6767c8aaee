// `bulkhead check`: registered here once implemented (see agent/command.h).
#include "agent/command.h"

namespace bulkhead::agent {

void AddCheckCommand(CLI::App&, std::vector<Command>&) {}

}  // namespace bulkhead::agent
