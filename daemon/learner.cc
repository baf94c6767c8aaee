#include "daemon/learner.h"

#include <exception>
#include <future>
#include <utility>

#include <boost/asio/post.hpp>

#include "policy/grouping.h"

namespace bulkhead::daemon {

namespace asio = boost::asio;

Learner::Learner(LearnerOptions options, Metrics& metrics, std::shared_ptr<spdlog::logger> log)
    : options_(std::move(options)),
      metrics_(metrics),
      log_(std::move(log)),
      work_(asio::make_work_guard(io_)) {
  if (options_.group_by.empty()) {
    options_.group_by = policy::DefaultGroupBy();
  }
  // Until the first inventory arrives every address is world: nothing is lost, it is just not
  // attributed (and an agent waits for its first inventory before it opens any interface).
  auto empty = learn::GroupResolver::Create(policy::Inventory{}, policy::GroupAssignment{});
  resolver_ = std::make_unique<learn::GroupResolver>(std::move(*empty));
  builder_ = std::make_unique<learn::GraphBuilder>(*resolver_, options_.max_edges);
  learn::FlowTableConfig config;
  config.max_flows = options_.max_flows;
  table_ = std::make_unique<learn::FlowTable>(config, *builder_);
}

Learner::~Learner() {
  if (!thread_.joinable()) {
    return;
  }
  // A destructor must not throw: a Stop that fails (out of memory building the last graph) is
  // logged, and the thread is ended without it.
  try {
    (void)Stop();
  } catch (const std::exception& e) {
    log_->error("learner: stopping: {}", e.what());
  }
  if (thread_.joinable()) {
    io_.stop();
    thread_.join();
  }
}

void Learner::Start() {
  thread_ = std::thread([this] { io_.run(); });
}

void Learner::SetInventory(policy::Inventory inventory) {
  asio::post(io_, [this, inv = std::move(inventory)] { ApplyInventory(inv); });
}

void Learner::SetInterfaces(std::vector<std::string> interfaces) {
  asio::post(io_, [this, ifs = std::move(interfaces)] { Reopen(ifs); });
}

void Learner::Snapshot(asio::any_io_executor reply, GraphHandler done) {
  asio::post(io_, [this, reply = std::move(reply), done = std::move(done)]() mutable {
    asio::post(reply, [done = std::move(done), graph = BuildGraph(true)]() mutable {
      done(std::move(graph));
    });
  });
}

policy::FlowGraph Learner::Stop() {
  std::promise<policy::FlowGraph> result;
  auto finish = [this, &result] {
    if (capture_) {
      capture_->Stop();
      CollectSourceStats();
      capture_.reset();
    }
    table_->Flush();
    OnTick();
    result.set_value(BuildGraph(false));
  };
  if (!thread_.joinable()) {
    finish();
    return result.get_future().get();
  }
  auto future = result.get_future();
  asio::post(io_, finish);
  work_.reset();
  auto graph = future.get();
  io_.stop();
  thread_.join();
  return graph;
}

void Learner::ApplyInventory(const policy::Inventory& inventory) {
  auto groups = policy::AssignGroups(inventory, options_.group_by);
  if (!groups) {
    log_->error("learning: inventory not used: {}", groups.error());
    return;
  }
  auto resolver = learn::GroupResolver::Create(inventory, *groups);
  if (!resolver) {
    log_->error("learning: inventory not used: {}", resolver.error());
    return;
  }
  auto next = std::make_unique<learn::GroupResolver>(std::move(*resolver));
  builder_->SetResolver(*next);
  resolver_ = std::move(next);
  policy::FlowGraph seen;
  seen.groups = groups->groups;
  policy::MergeFlowGraph(groups_seen_, seen);
}

void Learner::CollectSourceStats() {
  if (!capture_) {
    return;
  }
  for (auto& source : capture_->sources()) {
    closed_stats_.Add(source->Stats());
  }
}

void Learner::Reopen(const std::vector<std::string>& interfaces) {
  if (interfaces == interfaces_ && capture_) {
    return;
  }
  interfaces_ = interfaces;
  if (capture_) {
    capture_->Stop();
    CollectSourceStats();
    capture_.reset();
  }
  std::vector<std::unique_ptr<capture::PacketSource>> sources;
  for (const auto& iface : interfaces) {
    auto source = capture::LiveSource::Open(iface, options_.live);
    if (!source) {
      log_->warn("learning: not capturing on {}: {}", iface, source.error().message);
      continue;
    }
    sources.push_back(std::move(*source));
  }
  if (sources.empty()) {
    log_->warn("learning: no interface to capture on yet");
    return;
  }
  const auto count = sources.size();
  capture_ = std::make_unique<capture::LiveCapture>(io_, std::move(sources), *table_);
  capture_->SetFailureHandler([this](const capture::SourceError& error) {
    log_->error("{}", error.message);
    return capture::LiveCapture::FailureAction::kStopLoop;
  });
  if (auto started = capture_->Start([this] { OnTick(); }); !started) {
    log_->error("{}", started.error().message);
    log_->error("learning: capture could not start");
    capture_.reset();
    return;
  }
  log_->info("learning: capturing on {} interface(s)", count);
}

void Learner::OnTick() {
  table_->ExpireIdle(capture::WallClockUsec());
  capture::SourceStats total = closed_stats_;
  if (capture_) {
    for (auto& source : capture_->sources()) {
      total.Add(source->Stats());
    }
  }
  metrics_.Set("bulkhead_packets_total", {}, static_cast<double>(total.frames));
  metrics_.Set("bulkhead_capture_drops_total", {},
               static_cast<double>(total.kernel_drops + total.iface_drops));
  for (std::size_t i = 0; i < capture::kDecodeOutcomeCount; ++i) {
    const auto outcome = static_cast<capture::DecodeOutcome>(i);
    if (capture::IsMalformed(outcome) && total.decode.by_outcome[i] > 0) {
      metrics_.Set("bulkhead_malformed_total",
                   {{"reason", std::string(capture::DecodeOutcomeName(outcome))}},
                   static_cast<double>(total.decode.by_outcome[i]));
    }
  }
  metrics_.Set("bulkhead_flows_total", {}, static_cast<double>(table_->stats().flows_created));
  metrics_.Set("bulkhead_edges", {}, static_cast<double>(builder_->edge_count()));
  // What learning kept out of the graph, as `bulkhead learn`'s summary line says it: failed
  // attempts, scans, edges over the cap, flows evicted from a full table.
  const learn::FlowTableStats& flows = table_->stats();
  metrics_.Set("bulkhead_learn_refused_total", {}, static_cast<double>(flows.refused));
  metrics_.Set("bulkhead_learn_incomplete_total", {}, static_cast<double>(flows.incomplete));
  metrics_.Set("bulkhead_flow_evictions_total", {}, static_cast<double>(flows.flows_evicted));
  metrics_.Set("bulkhead_scans_total", {}, static_cast<double>(table_->scans().finding_count()));
  metrics_.Set("bulkhead_edges_dropped_total", {},
               static_cast<double>(builder_->stats().edges_dropped));
}

policy::FlowGraph Learner::BuildGraph(bool include_live) const {
  const auto& groups = groups_seen_.groups;
  auto graph = builder_->Build(options_.group_by, groups);
  if (include_live) {
    learn::GraphBuilder live(*resolver_);
    table_->Peek(live);
    policy::MergeFlowGraph(graph, live.Build(options_.group_by, groups));
  }
  // The scans found so far, for the reviewer (they are no edges: their attempts failed).
  // The rest is normalized already (Build, MergeFlowGraph): only the scans are sorted here.
  graph.scans = learn::ScanRecords(table_->scans().Findings(), *resolver_);
  policy::NormalizeScans(graph.scans);
  return graph;
}

}  // namespace bulkhead::daemon
