#pragma once

#include "daemon/metrics.h"

namespace bulkhead::daemon {

// HELP and TYPE of the agent's metrics (learning, enforcement, discovery, reloads), in one list
// so that /metrics describes them before the first sample. The violation reader describes the
// few of its own it adds (violations.cc).
void DescribeAgentMetrics(Metrics& metrics);

}  // namespace bulkhead::daemon
