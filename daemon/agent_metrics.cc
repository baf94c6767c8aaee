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
  m.Describe("bulkhead_cri_changes_total", MetricType::kCounter,
             "Changes of the pods the container runtime (CRI) reports (resyncs included)");
  m.Describe("bulkhead_workloads", MetricType::kGauge, "Workloads in the current inventory");
  m.Describe("bulkhead_policy_reloads_total", MetricType::kCounter,
             "Policy reloads (SIGHUP, control socket, or a change of the followed policy file) by "
             "result: ok, or error (the policy was refused and the one in force stayed)");
  m.Describe("bulkhead_policy_info", MetricType::kGauge,
             "1 for the policy in force, labelled with the sha256 digest of its file's bytes");
  m.Describe("bulkhead_policy_loaded_timestamp_seconds", MetricType::kGauge,
             "When the policy in force was loaded (Unix time)");
  m.Describe("bulkhead_graph_snapshots_total", MetricType::kCounter,
             "Flow graph snapshots written");
  m.Describe("bulkhead_learn_refused_total", MetricType::kCounter,
             "Connection attempts the server refused (TCP RST, ICMP unreachable): not edges");
  m.Describe("bulkhead_learn_incomplete_total", MetricType::kCounter,
             "Connection attempts whose handshake never completed: not edges");
  m.Describe("bulkhead_scans_total", MetricType::kCounter,
             "Sources reported as scans (many ports or peers in failed attempts)");
  m.Describe("bulkhead_edges_dropped_total", MetricType::kCounter,
             "Flows not learned because their new edge would have passed the edge cap");
  m.Describe("bulkhead_flow_evictions_total", MetricType::kCounter,
             "Live flows pushed out of the full flow table (finished early)");
  m.Describe("bulkhead_tamper_repairs_total", MetricType::kCounter,
             "Restorations of bulkhead's ruleset after a change it did not make, by trigger "
             "(event, resync, periodic)");
  m.Describe("bulkhead_tamper_repair_errors_total", MetricType::kCounter,
             "Restorations of bulkhead's ruleset that the kernel refused");
  m.Describe("bulkhead_tamper_foreign_commits_total", MetricType::kCounter,
             "nftables commits by others that changed bulkhead's tables");
  m.Describe("bulkhead_nft_events_lost_total", MetricType::kCounter,
             "Times nftables events were lost or undecodable (a compare with the kernel followed)");
  m.Describe("bulkhead_ruleset_verifies_total", MetricType::kCounter,
             "Compares of the kernel's tables with the ruleset (after applies, lost events, "
             "periodic)");
  m.Describe("bulkhead_ruleset_verify_differences_total", MetricType::kCounter,
             "Differences found between the kernel's tables and a ruleset just applied");
  m.Describe("bulkhead_tamper_repair_seconds", MetricType::kGauge,
             "The last restoration: from the first event of the change to the ruleset restored");
}

}  // namespace bulkhead::daemon
