#include "daemon/learning_loop.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "policy/atomic_file.h"
#include "policy/flow_graph_codec.h"
#include "policy/graph_merge.h"

namespace bulkhead::daemon {

LearningLoop::LearningLoop(const AgentConfig& config, boost::asio::io_context& io, Metrics& metrics,
                           std::shared_ptr<spdlog::logger> log)
    : config_(config), io_(io), metrics_(metrics), log_(std::move(log)), snapshot_timer_(io) {}

bool LearningLoop::Start() {
  // Learning from Docker or the CRI captures on the bridges of the containers or pods; a static
  // inventory names none, so such an agent would run and never learn anything.
  if (config_.docker_socket.empty() && config_.cri_socket.empty() && config_.interfaces.empty()) {
    log_->error(
        "learn mode with a static inventory needs `interfaces:` (the bridges to "
        "capture on)");
    return false;
  }
  // A graph directory the agent cannot write to would fail at every snapshot, and at the end
  // lose everything learned: refuse to start instead.
  if (auto writable = policy::CheckWritable(config_.graph_file); !writable) {
    log_->error("learning: cannot write the graph: {}", writable.error());
    return false;
  }
  // A graph file from an earlier run is the start: learning continues across restarts. One
  // that cannot be read is not overwritten (it may be the only copy of weeks of learning).
  std::error_code ec;
  if (std::filesystem::exists(config_.graph_file, ec)) {
    auto previous = policy::LoadFlowGraphFile(config_.graph_file);
    if (!previous) {
      log_->error("{} (refusing to overwrite it; move it away to start afresh)",
                  previous.error().ToString());
      return false;
    }
    if (previous->nodes.size() > 1) {
      log_->error("{} is a merged graph of {} nodes; the agent continues only its own node's graph",
                  config_.graph_file, previous->nodes.size());
      return false;
    }
    baseline_ = std::move(*previous);
    log_->info("learning: continuing {} ({} edges)", config_.graph_file, baseline_.edges.size());
  }
  node_ = policy::NodeNameOf(policy::Inventory{});  // until an inventory names the host
  LearnerOptions options;
  options.group_by = config_.group_by;
  options.live.promiscuous = true;  // a bridge port sees only its own frames otherwise
  learner_ = std::make_unique<Learner>(options, metrics_, log_);
  learner_->Start();
  ArmSnapshot();
  return true;
}

void LearningLoop::OnInventory(const policy::Inventory& inventory,
                               std::vector<std::string> bridges) {
  node_ = policy::NodeNameOf(inventory);
  learner_->SetInventory(inventory);
  if (config_.interfaces.empty()) {
    learner_->SetInterfaces(std::move(bridges));
  } else {
    learner_->SetInterfaces(config_.interfaces);
  }
}

void LearningLoop::SetInventory(const policy::Inventory& inventory) {
  node_ = policy::NodeNameOf(inventory);
  learner_->SetInventory(inventory);
}

void LearningLoop::ArmSnapshot() {
  snapshot_timer_.expires_after(config_.snapshot_interval);
  snapshot_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) {
      return;
    }
    learner_->Snapshot(io_.get_executor(), [this](const policy::FlowGraph& graph) {
      if (!stopping_) {
        (void)WriteGraph(graph);
      }
    });
    ArmSnapshot();
  });
}

bool LearningLoop::WriteGraph(const policy::FlowGraph& graph) {
  policy::FlowGraph out = baseline_;
  policy::MergeFlowGraph(out, graph);
  out.nodes = {node_};  // this node's graph, whatever an earlier run's file said
  auto written = policy::WriteFileAtomically(config_.graph_file, policy::WriteFlowGraphYaml(out));
  if (!written) {
    log_->error("learning: {}", written.error());
    return false;
  }
  metrics_.Add("bulkhead_graph_snapshots_total", {});
  last_snapshot_ = fmt::format("{} edges, {} groups", out.edges.size(), out.groups.size());
  log_->debug("learning: wrote {} ({})", config_.graph_file, last_snapshot_);
  return true;
}

void LearningLoop::AppendStatus(std::string& out) const {
  out += fmt::format("graph: {}{}\n", config_.graph_file,
                     last_snapshot_.empty() ? "" : " (last snapshot: " + last_snapshot_ + ")");
  out += fmt::format("packets: {:.0f}, flows: {:.0f}, edges: {:.0f}\n",
                     metrics_.Get("bulkhead_packets_total"), metrics_.Get("bulkhead_flows_total"),
                     metrics_.Get("bulkhead_edges"));
  out += fmt::format(
      "refused: {:.0f}, incomplete: {:.0f}, scans: {:.0f}, edges over the cap: "
      "{:.0f}, flows evicted: {:.0f}\n",
      metrics_.Get("bulkhead_learn_refused_total"), metrics_.Get("bulkhead_learn_incomplete_total"),
      metrics_.Get("bulkhead_scans_total"), metrics_.Get("bulkhead_edges_dropped_total"),
      metrics_.Get("bulkhead_flow_evictions_total"));
}

bool LearningLoop::Stop() {
  if (stopping_) {
    return true;
  }
  stopping_ = true;
  snapshot_timer_.cancel();
  if (!learner_) {
    return true;
  }
  if (!WriteGraph(learner_->Stop())) {
    return false;
  }
  log_->info("learning: wrote {} ({})", config_.graph_file, last_snapshot_);
  return true;
}

}  // namespace bulkhead::daemon
