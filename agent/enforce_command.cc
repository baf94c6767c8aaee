// `bulkhead enforce`, `confirm`, `status`, `disable`: registered here once implemented (see
// agent/command.h).
#include "agent/command.h"

namespace bulkhead::agent {

void AddEnforceCommands(CLI::App&, std::vector<Command>&) {}

}  // namespace bulkhead::agent
