#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <spdlog/logger.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "daemon/agent_config.h"
#include "daemon/cluster_identity.h"
#include "daemon/metrics.h"
#include "inventory/kube_source.h"
#include "policy/model.h"

// The agent's view of the cluster (`identity: {kubernetes: ...}` in agent.yaml): the Kubernetes
// API source (inventory/kube_source.h) feeding the ClusterIdentity table, on the agent's event
// loop. It hands the loops what changed in the other nodes' workloads, adds them to this node's
// own inventory for a full apply, and says how current it is.
//
// When the API server is away the table is kept as it was (never emptied: the agents go on
// enforcing with the identities they last knew) and the feed reports its age: the metric
// bulkhead_identity_staleness_seconds and `status`. It is 0 while every watch is open (an open
// watch is the server's word that nothing changed) and otherwise the time since the oldest of
// the three resources was last heard from. The source then lists again, and that one relist is
// the catch-up: what it no longer lists leaves the sets.
namespace bulkhead::daemon {

class IdentityFeed {
 public:
  using ChangeCallback = std::function<void(const IdentityChange& change, const std::string& why)>;

  IdentityFeed(const AgentConfig& config, boost::asio::io_context& io, Metrics& metrics,
               std::shared_ptr<spdlog::logger> log);
  ~IdentityFeed();
  IdentityFeed(const IdentityFeed&) = delete;
  IdentityFeed& operator=(const IdentityFeed&) = delete;

  // Reads the kubeconfig (or the in-cluster settings) and starts following the API. False, with
  // the reason logged, when the settings cannot be used.
  bool Start(ChangeCallback on_change);
  void Stop();

  // This node's name (agent.yaml nodeName, $NODE_NAME, hostName, the hostname).
  const std::string& node_name() const { return identity_.own_node(); }
  // Whether every resource has been listed once (before that a full apply would leave out
  // workloads the cluster has).
  bool Synced() const { return synced_ == 0b111; }
  // `local` (this node's workloads, marked with this node) plus every remote workload.
  policy::Inventory Combine(policy::Inventory local) const;
  // Seconds the identities may be behind the API server (see above); 0 when current.
  double StalenessSeconds() const;
  void AppendStatus(std::string& out) const;

  static std::string ResolveNodeName(const AgentConfig& config);

 private:
  void OnBatch(const inventory::KubeBatch& batch);
  void PublishMetrics();
  void ArmTimer();

  const AgentConfig& config_;
  boost::asio::io_context& io_;
  Metrics& metrics_;
  std::shared_ptr<spdlog::logger> log_;
  ClusterIdentity identity_;
  std::unique_ptr<inventory::KubeSource> source_;
  std::string server_;
  ChangeCallback on_change_;
  unsigned synced_ = 0;  // bit per KubeResource listed at least once
  std::chrono::steady_clock::time_point started_;
  boost::asio::steady_timer timer_;
  bool stopping_ = false;
  bool warned_stale_ = false;
};

}  // namespace bulkhead::daemon
