#pragma once

#include <string>

#include "enforcer/kernel_ruleset.h"

namespace bulkhead::enforcer {

// An apply error as one line, the way every command and the agent print it: the summary, then
// for each message the kernel refused, the policy object behind it, the errno text and the
// kernel's extended ACK text when it gave one. One line, because it goes into log lines, the
// agent's status report and its control socket replies alike.
std::string ApplyErrorText(const ApplyError& error);

}  // namespace bulkhead::enforcer
