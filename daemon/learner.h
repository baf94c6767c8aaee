#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/logger.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "capture/live_capture.h"
#include "capture/live_source.h"
#include "daemon/metrics.h"
#include "learn/flow_table.h"
#include "learn/graph_builder.h"
#include "policy/model.h"

// The agent's continuous learning: live capture, the flow table and the graph builder, all on a
// thread of their own (with its own io_context) so a slow apply, a Docker resync or a metrics
// scrape on the agent's loop never stalls the capture. The agent talks to it only by posting:
// a new inventory, a new set of interfaces, a request for a snapshot of the graph.
namespace bulkhead::daemon {

struct LearnerOptions {
  std::vector<std::string> group_by;  // the grouping labels (policy::DefaultGroupBy() if empty)
  std::size_t max_flows = 1'000'000;
  std::size_t max_edges = learn::kDefaultMaxEdges;  // beyond it, new edges are counted, dropped
  capture::LiveConfig live;
};

class Learner {
 public:
  using GraphHandler = std::function<void(policy::FlowGraph)>;

  Learner(LearnerOptions options, Metrics& metrics, std::shared_ptr<spdlog::logger> log);
  ~Learner();
  Learner(const Learner&) = delete;
  Learner& operator=(const Learner&) = delete;

  void Start();
  // From now on flows resolve through this inventory's groups (the groups of earlier
  // inventories stay in the graph: their edges were seen).
  void SetInventory(policy::Inventory inventory);
  // Captures on exactly these interfaces (re-opened when the set changes; an interface that
  // cannot be opened is logged and skipped, and tried again with the next change).
  void SetInterfaces(std::vector<std::string> interfaces);
  // The graph so far (finished flows plus the live ones as if they ended now), handed to
  // `done` on `reply`.
  void Snapshot(boost::asio::any_io_executor reply, GraphHandler done);
  // Stops capture, flushes every flow and returns the final graph. Joins the thread.
  policy::FlowGraph Stop();

 private:
  void ApplyInventory(const policy::Inventory& inventory);
  void Reopen(const std::vector<std::string>& interfaces);
  void OnTick();
  void CollectSourceStats();
  policy::FlowGraph BuildGraph(bool include_live) const;

  LearnerOptions options_;
  Metrics& metrics_;
  std::shared_ptr<spdlog::logger> log_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;

  // Worker-thread state.
  std::unique_ptr<learn::GroupResolver> resolver_;
  std::unique_ptr<learn::GraphBuilder> builder_;
  std::unique_ptr<learn::FlowTable> table_;
  std::unique_ptr<capture::LiveCapture> capture_;
  std::vector<std::string> interfaces_;
  // Every group any inventory so far had (members united): departed containers' edges were seen.
  policy::FlowGraph groups_seen_;
  capture::SourceStats closed_stats_;  // of sources closed by a re-open
};

}  // namespace bulkhead::daemon
