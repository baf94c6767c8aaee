// `bulkhead diff`: registered here once implemented (see agent/command.h).
#include "agent/command.h"

namespace bulkhead::agent {

void AddDiffCommand(CLI::App&, std::vector<Command>&) {}

}  // namespace bulkhead::agent
