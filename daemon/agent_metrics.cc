#include "daemon/agent_metrics.h"

namespace bulkhead::daemon {

void DescribeAgentMetrics(Metrics& m) {
  m.Describe("bulkhead_packets_total", MetricType::kCounter, "Frames captured for learning");
  m.Describe("bulkhead_flows_total", MetricType::kCounter, "Flows created by learning");
  m.Describe("bulkhead_edges", MetricType::kGauge, "Edges learned so far");
  m.Describe("bulkhead_malformed_total", MetricType::kCounter,
             "Captured frames that did not decode, by reason");
  m.Describe("bulkhead_capture_drops_total", MetricType::kCounter,
             "Frames the kernel dropped before capture read them");
  m.Describe("bulkhead_violations_total", MetricType::kCounter,
             "Connections outside the policy, by source group, destination group and verdict");
  m.Describe("bulkhead_apply_seconds", MetricType::kGauge,
             "Duration of the last ruleset change (compile and kernel commit)");
  m.Describe("bulkhead_applies_total", MetricType::kCounter,
             "Ruleset changes by kind: full replacement or set elements only");
  m.Describe("bulkhead_apply_errors_total", MetricType::kCounter,
             "Ruleset changes that failed (the previous ruleset stayed)");
  m.Describe("bulkhead_docker_events_total", MetricType::kCounter,
             "Docker events applied to the inventory (resyncs included)");
  m.Describe("bulkhead_workloads", MetricType::kGauge, "Workloads in the current inventory");
  m.Describe("bulkhead_policy_reloads_total", MetricType::kCounter,
             "Policy reloads (SIGHUP or control socket) by result");
  m.Describe("bulkhead_graph_snapshots_total", MetricType::kCounter,
             "Flow graph snapshots written");
}

}  // namespace bulkhead::daemon
