#pragma once

#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "daemon/agent_config.h"
#include "daemon/learner.h"
#include "daemon/metrics.h"
#include "policy/model.h"

// Learn mode of the agent: owns the learner (which captures on a thread of its own), the graph
// of earlier runs it continues from, and the snapshot timer that writes the graph file. Runs on
// the agent's event loop; the learner is only posted to.
namespace bulkhead::daemon {

class LearningLoop {
 public:
  LearningLoop(const AgentConfig& config, boost::asio::io_context& io, Metrics& metrics,
               std::shared_ptr<spdlog::logger> log);

  // Reads the graph file of an earlier run (learning continues across restarts), starts the
  // learner and the snapshot timer. False, with the reason logged, when it cannot start.
  bool Start();
  // A new inventory; `bridges` are the interfaces to capture on unless the configuration names
  // its own (`interfaces:`).
  void OnInventory(const policy::Inventory& inventory, std::vector<std::string> bridges);
  // The inventory alone (a reload of the inventory file): the interfaces stay.
  void SetInventory(const policy::Inventory& inventory);
  // The learn part of `bulkhead status`.
  void AppendStatus(std::string& out) const;
  // Stops the timer and the learner and writes the final graph. False when it could not write.
  bool Stop();

 private:
  void ArmSnapshot();
  bool WriteGraph(const policy::FlowGraph& graph);

  const AgentConfig& config_;
  boost::asio::io_context& io_;
  Metrics& metrics_;
  std::shared_ptr<spdlog::logger> log_;
  boost::asio::steady_timer snapshot_timer_;
  std::unique_ptr<Learner> learner_;
  policy::FlowGraph baseline_;  // the graph file of earlier runs, merged into every snapshot
  std::string node_;  // recorded in the graph: the inventory's host name, else gethostname()
  std::string last_snapshot_;
  bool stopping_ = false;
};

}  // namespace bulkhead::daemon
