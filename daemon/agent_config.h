#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "policy/file_error.h"
#include "policy/policy.h"

// `bulkhead agent --config agent.yaml`: what the long-running agent does and where it keeps its
// files. Keys are camelCase as documented in deploy/agent.yaml; unknown keys are errors, so a
// typo cannot silently switch a safety setting off.
namespace bulkhead::daemon {

enum class LogFormat : std::uint8_t { kText, kJson };

struct AgentConfig {
  policy::Mode mode = policy::Mode::kLearn;
  std::string policy_file;  // `policy`: required in monitor and enforce mode
  std::string graph_file;   // `graph`: required in learn mode; written on every snapshot
  std::chrono::milliseconds snapshot_interval{30'000};  // `snapshotInterval`: 500ms, 30s, 5m, 1h

  // `inventory`: exactly one of {docker: unix:///path}, {cri: unix:///path} (a Kubernetes
  // node's container runtime; optional `pollInterval`, default 1s) or {file: path}.
  std::string docker_socket;  // the socket path, "unix://" stripped
  std::string cri_socket;     // the socket path, "unix://" stripped
  std::chrono::milliseconds cri_poll_interval{1000};
  std::string inventory_file;

  // `identity: {kubernetes: {}}` (in-cluster: the pod's service account) or
  // `{kubernetes: {kubeconfig: PATH}}`, optional `nodeName`: the pods of the other nodes, the
  // namespaces and the nodes from the Kubernetes API (list + watch), so that a connection from
  // another node's pod is named by its group, not `world`. nodeName tells this node's pods (left
  // to the runtime) from the others; empty: $NODE_NAME (the DaemonSet sets it from
  // spec.nodeName), else hostName, else this machine's hostname.
  bool kubernetes_identity = false;
  std::string kubeconfig;  // empty: in-cluster
  std::string node_name;

  std::uint16_t nflog_group = 7;  // `nflogGroup`: 1..65535
  std::string metrics_host;       // `metrics: host:port` ([v6]:port); empty: no endpoint
  std::uint16_t metrics_port = 0;
  std::string control_socket = "/run/bulkhead/control.sock";  // `control`
  std::string violations_file;  // `violations`: JSON lines; empty: the log only

  // Optional keys.
  std::vector<std::string> interfaces;      // `interfaces`: capture here; empty: Docker's bridges
  std::vector<std::string> group_by;        // `groupBy`: empty: policy::DefaultGroupBy()
  bool remove_rules_on_exit = false;        // `removeRulesOnExit`: production must not fail open
  LogFormat log_format = LogFormat::kText;  // `logFormat`: text | json
  std::uint32_t violation_log_rate = 20;    // `violationLogRate`: log lines/s (file unlimited)
  std::string host_name;                    // `hostName`: empty: this machine's hostname
  // `tamperCheckInterval` (monitor, enforce): how often the agent compares the kernel's tables
  // with the ruleset in full, catching what nftables' events missed. A compare costs about 2 s
  // of CPU at 100,000 edges, hence 1s..24h.
  std::chrono::milliseconds tamper_check_interval{60'000};
  // `followPolicy` (monitor, enforce): watch the policy file (inotify on its directory, so a
  // Kubernetes ConfigMap's `..data` swap counts) and reload it when its bytes change. Off: the
  // policy changes only on SIGHUP or `bulkhead reload`.
  bool follow_policy = true;
};

// The bounds of tamperCheckInterval.
inline constexpr std::chrono::milliseconds kMinTamperCheckInterval{1'000};
inline constexpr std::chrono::milliseconds kMaxTamperCheckInterval{86'400'000};

// "60s", "1500ms", "2m", "1h": the shortest exact form of a duration (ParseDuration's inverse).
std::string FormatDuration(std::chrono::milliseconds duration);

// Parses agent.yaml. Every problem is reported with file:line:column: unknown keys, a bad
// duration, port or mode, both or neither inventory source, a missing policy (monitor/enforce)
// or graph (learn), a socket URL that is not unix://.
boost::system::result<AgentConfig, policy::FileErrors> ParseAgentConfig(
    std::string_view text, const std::string& file_name);
boost::system::result<AgentConfig, policy::FileErrors> LoadAgentConfigFile(const std::string& path);

// "30s" -> 30000 ms. Accepts an unsigned integer followed by ms, s, m or h; nullopt otherwise.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace bulkhead::daemon
