#include "daemon/agent.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "daemon/control_socket.h"
#include "daemon/learner.h"
#include "daemon/metrics.h"
#include "daemon/violations.h"
#include "enforcer/br_netfilter.h"
#include "enforcer/compiler.h"
#include "enforcer/kernel_ruleset.h"
#include "enforcer/membership_update.h"
#include "inventory/docker_source.h"
#include "inventory/static_file_source.h"
#include "policy/atomic_file.h"
#include "policy/flow_graph_codec.h"
#include "policy/policy_codec.h"

namespace bulkhead::daemon {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

constexpr const char* kBridgeProcRoot = "/proc/sys/net/bridge";

void DescribeMetrics(Metrics& m) {
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

class Agent {
 public:
  Agent(const policy::AgentConfig& config, std::shared_ptr<spdlog::logger> log)
      : config_(config),
        log_(std::move(log)),
        signals_(io_),
        snapshot_timer_(io_),
        confirm_timer_(io_) {}

  int Run() {
    DescribeMetrics(metrics_);
    if (!Setup()) {
      return 1;
    }
    WaitForSignal();
    io_.run();  // until Shutdown stops it
    // Shutdown cancelled every wait and closed the event stream; let those operations and the
    // coroutines they resume finish now, while the objects they belong to still exist (the
    // io_context would otherwise destroy their frames after those objects, in ~Agent).
    io_.restart();
    io_.run_for(std::chrono::seconds(2));
    return exit_status_;
  }

 private:
  bool learning() const { return config_.mode == policy::Mode::kLearn; }

  bool Setup() {
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.add(SIGHUP);
    if (learning() ? !SetupLearning() : !SetupEnforcing()) {
      return false;
    }
    if (!config_.metrics_host.empty()) {
      auto server =
          MetricsServer::Listen(io_, config_.metrics_host, config_.metrics_port, metrics_, log_);
      if (!server) {
        log_->error("metrics: {}", server.error());
        return false;
      }
      metrics_server_ = std::move(*server);
    }
    if (!config_.control_socket.empty()) {
      auto control = ControlServer::Listen(
          io_, config_.control_socket,
          [this](std::string_view command) { return OnControl(command); }, log_);
      if (!control) {
        log_->error("control: {}", control.error());
        return false;
      }
      control_ = std::move(*control);
    }
    if (!config_.docker_socket.empty()) {
      inventory::DockerSourceOptions options;
      options.client.socket_path = config_.docker_socket;
      options.host_name = config_.host_name;
      docker_ = std::make_unique<inventory::DockerSource>(io_.get_executor(), options, log_);
      asio::co_spawn(io_,
                     docker_->Run([this](const inventory::DockerEvent& event,
                                         const inventory::DockerSnapshot& snapshot) {
                       OnDockerChange(event, snapshot);
                     }),
                     asio::detached);
      log_->info("agent: {} mode, following dockerd at {}", policy::ModeName(config_.mode),
                 config_.docker_socket);
    } else {
      auto inventory = inventory::LoadInventoryFile(config_.inventory_file);
      if (!inventory) {
        log_->error("{}", inventory.error());
        return false;
      }
      log_->info("agent: {} mode, inventory {}", policy::ModeName(config_.mode),
                 config_.inventory_file);
      OnInventory(std::move(*inventory), {});
    }
    return true;
  }

  // --- Learning ---------------------------------------------------------------------------

  bool SetupLearning() {
    // Learning from Docker captures on Docker's bridges; a static inventory names none, so such
    // an agent would run and never learn anything.
    if (config_.docker_socket.empty() && config_.interfaces.empty()) {
      log_->error("learn mode with a static inventory needs `interfaces:` (the bridges to "
                  "capture on)");
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
      baseline_ = std::move(*previous);
      log_->info("learning: continuing {} ({} edges)", config_.graph_file,
                 baseline_.edges.size());
    }
    LearnerOptions options;
    options.group_by = config_.group_by;
    options.live.promiscuous = true;  // a bridge port sees only its own frames otherwise
    learner_ = std::make_unique<Learner>(options, metrics_, log_);
    learner_->Start();
    ArmSnapshot();
    return true;
  }

  void ArmSnapshot() {
    snapshot_timer_.expires_after(config_.snapshot_interval);
    snapshot_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) {
        return;
      }
      learner_->Snapshot(io_.get_executor(), [this](policy::FlowGraph graph) {
        if (!stopping_) {
          (void)WriteGraph(std::move(graph));
        }
      });
      ArmSnapshot();
    });
  }

  bool WriteGraph(policy::FlowGraph graph) {
    policy::FlowGraph out = baseline_;
    policy::MergeFlowGraph(out, graph);
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

  // --- Enforcing --------------------------------------------------------------------------

  bool SetupEnforcing() {
    auto loaded = policy::LoadPolicyFile(config_.policy_file);
    if (!loaded) {
      for (const auto& e : loaded.error().errors) {
        log_->error("{}", e.ToString());
      }
      return false;
    }
    policy_ = std::move(*loaded);
    auto sysctl = enforcer::EnsureBridgeNetfilter(kBridgeProcRoot, true);
    if (!sysctl) {
      log_->error("{}", sysctl.error());
      return false;
    }
    auto transport = enforcer::OpenMnlTransport();
    if (!transport) {
      log_->error("{}", transport.error());
      return false;
    }
    transport_ = std::move(*transport);
    ViolationMonitorOptions options;
    options.nflog_group = config_.nflog_group;
    options.violations_file = config_.violations_file;
    options.log_lines_per_second = config_.violation_log_rate;
    auto monitor = ViolationMonitor::Start(
        io_, options, [this](const capture::IpAddr& a) { return Resolve(a); }, metrics_, log_);
    if (!monitor) {
      log_->error("violations: {}", monitor.error());
      return false;
    }
    violations_ = std::move(*monitor);
    return true;
  }

  // Moves the kernel to the policy and the current inventory. A change of the inventory alone
  // (a container came or went) is planned from the tracked state without a recompile and sent
  // as one batch of set elements; anything else compiles the policy and sends set elements
  // only when just membership changed, else one full replacement. Each is one batch: on any
  // error the previous ruleset stays in force.
  bool Reconcile(const policy::Policy& policy, std::string_view why, bool inventory_only = false) {
    const auto start = Clock::now();
    if (inventory_only && tracker_) {
      if (auto plan = tracker_->PlanChange(inventory_)) {
        if (plan->delta.Empty()) {
          tracker_->Commit(*plan);
          RebuildEndpoints();
          log_->debug("enforce ({}): nothing to change", why);
          return true;
        }
        auto sent = enforcer::ApplyElementDelta(*transport_, plan->delta);
        if (sent) {
          tracker_->Commit(*plan);
          Applied("elements", why,
                  fmt::format(", +{} -{} elements, no recompile", plan->delta.Added(),
                              plan->delta.Removed()),
                  start);
          return true;
        }
        log_->warn("enforce ({}): element update refused ({}); recompiling", why,
                   sent.error().summary);
      }
    }
    enforcer::CompileOptions options;
    options.mode = config_.mode;
    options.log_group = config_.nflog_group;
    auto compiled = enforcer::CompileRuleset(policy, inventory_, options);
    if (!compiled) {
      metrics_.Add("bulkhead_apply_errors_total", {});
      last_error_ = fmt::format("{}", fmt::join(compiled.error(), "; "));
      log_->error("enforce ({}): the ruleset stays as it was: {}", why, last_error_);
      return false;
    }
    for (const auto& w : compiled->warnings) {
      if (warned_.insert(w).second) {
        log_->warn("{}", w);
      }
    }
    std::string kind = "full";
    std::string detail;
    if (tracker_) {
      auto updated =
          enforcer::UpdateElements(*transport_, tracker_->compiled().ruleset, compiled->ruleset);
      if (updated && !updated->structure_changed && updated->stats.messages == 0) {
        log_->debug("enforce ({}): nothing to change", why);  // e.g. a second event, same state
        tracker_.emplace(policy, inventory_, options, std::move(*compiled));
        RebuildEndpoints();
        return true;
      }
      if (updated && !updated->structure_changed) {
        kind = "elements";
        detail = fmt::format(", +{} -{} elements", updated->added, updated->removed);
      } else if (!updated) {
        log_->warn("enforce ({}): element update refused ({}); replacing the whole ruleset", why,
                   updated.error().summary);
      }
    }
    if (kind == "full") {
      auto applied = enforcer::ApplyRuleset(*transport_, compiled->ruleset);
      if (!applied) {
        metrics_.Add("bulkhead_apply_errors_total", {});
        std::string text = applied.error().summary;
        for (const auto& e : applied.error().errors) {
          text += fmt::format("; {}: {}", e.origin.empty() ? "the batch" : e.origin,
                              e.message.empty() ? std::to_string(e.error) : e.message);
        }
        log_->error("enforce ({}): the kernel refused the ruleset, the previous one stays: {}",
                    why, text);
        last_error_ = text;
        return false;
      }
    }
    applied_policy_ = policy;
    tracker_.emplace(policy, inventory_, options, std::move(*compiled));
    Applied(kind, why, detail, start);
    return true;
  }

  void Applied(std::string_view kind, std::string_view why, std::string_view detail,
               Clock::time_point start) {
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    metrics_.Set("bulkhead_apply_seconds", {}, seconds);
    metrics_.Add("bulkhead_applies_total", {{"kind", std::string(kind)}});
    RebuildEndpoints();
    last_apply_ = fmt::format("{} ({}{}), {:.1f} ms", kind, why, detail, seconds * 1000);
    log_->info("enforce: applied {}: {} groups, {} workloads", last_apply_,
               tracker_->compiled().membership.groups.size(), inventory_.workloads.size());
    last_error_.clear();
  }

  // Address -> {workload, group} for violation events, from the applied membership.
  void RebuildEndpoints() {
    endpoints_.clear();
    std::unordered_map<std::string, std::string> group_of;
    for (const auto& g : tracker_->compiled().membership.groups) {
      for (const auto& m : g.members) {
        group_of[m.name] = g.name;
      }
    }
    for (const auto& w : inventory_.workloads) {
      const auto it = group_of.find(w.name);
      for (const auto& a : w.addresses) {
        if (auto ip = capture::IpAddr::Parse(a)) {
          endpoints_[*ip] = {w.name, it == group_of.end() ? "" : it->second, a};
        }
      }
    }
    for (const auto& a : inventory_.host.addresses) {
      if (auto ip = capture::IpAddr::Parse(a)) {
        endpoints_[*ip] = {inventory_.host.name, std::string(policy::kHostGroup), a};
      }
    }
  }

  ViolationEndpoint Resolve(const capture::IpAddr& address) const {
    const auto it = endpoints_.find(address);
    if (it != endpoints_.end()) {
      return it->second;
    }
    return {"", std::string(policy::kWorldGroup), address.ToString()};
  }

  // --- Inventory --------------------------------------------------------------------------

  void OnDockerChange(const inventory::DockerEvent& event,
                      const inventory::DockerSnapshot& snapshot) {
    metrics_.Add("bulkhead_docker_events_total", {});
    std::vector<std::string> bridges;
    for (const auto& n : snapshot.networks) {
      if (!n.bridge.empty()) {
        bridges.push_back(n.bridge);
      }
    }
    std::sort(bridges.begin(), bridges.end());
    bridges.erase(std::unique(bridges.begin(), bridges.end()), bridges.end());
    const std::string why = event.kind == inventory::DockerEventKind::kResync
                                ? std::string("docker resync")
                                : fmt::format("docker {}", event.container_name.empty()
                                                               ? event.container_id.substr(0, 12)
                                                               : event.container_name);
    OnInventory(snapshot.inventory, std::move(bridges), why);
  }

  void OnInventory(policy::Inventory inventory, std::vector<std::string> bridges,
                   std::string_view why = "inventory") {
    inventory_ = std::move(inventory);
    have_inventory_ = true;
    metrics_.Set("bulkhead_workloads", {}, static_cast<double>(inventory_.workloads.size()));
    if (learning()) {
      learner_->SetInventory(inventory_);
      learner_->SetInterfaces(config_.interfaces.empty() ? std::move(bridges)
                                                         : config_.interfaces);
      return;
    }
    (void)Reconcile(policy_, why, /*inventory_only=*/true);
  }

  // --- Signals, reload, control -------------------------------------------------------------

  void WaitForSignal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) {
        return;
      }
      if (signo == SIGHUP) {
        log_->info("SIGHUP: reloading");
        (void)Reload();
        WaitForSignal();
        return;
      }
      log_->info("signal {}: stopping", signo);
      Shutdown();
    });
  }

  // `confirm_seconds` > 0: the previous policy comes back unless `confirm` arrives in time (the
  // same safety net as `bulkhead enforce --confirm`, for a policy pushed to a running agent).
  ControlReply Reload(double confirm_seconds = 0) {
    if (violations_) {
      violations_->Reopen();
    }
    if (!config_.inventory_file.empty()) {
      auto inventory = inventory::LoadInventoryFile(config_.inventory_file);
      if (!inventory) {
        metrics_.Add("bulkhead_policy_reloads_total", {{"result", "error"}});
        log_->error("reload: {}; keeping the current inventory", inventory.error());
        return {false, inventory.error()};
      }
      inventory_ = std::move(*inventory);
      if (learning()) {
        learner_->SetInventory(inventory_);
      }
    }
    if (learning()) {
      metrics_.Add("bulkhead_policy_reloads_total", {{"result", "ok"}});
      return {true, "reloaded the inventory (learn mode has no policy)\n"};
    }
    auto loaded = policy::LoadPolicyFile(config_.policy_file);
    if (!loaded) {
      metrics_.Add("bulkhead_policy_reloads_total", {{"result", "error"}});
      for (const auto& e : loaded.error().errors) {
        log_->error("reload: {}", e.ToString());
      }
      log_->error("reload: keeping the policy in force");
      return {false, loaded.error().ToString()};
    }
    if (!Reconcile(*loaded, "reload")) {
      metrics_.Add("bulkhead_policy_reloads_total", {{"result", "error"}});
      return {false, "the new policy was not applied, the old one stays: " + last_error_ + "\n"};
    }
    if (confirm_seconds > 0) {
      if (!previous_policy_) {
        previous_policy_ = policy_;
      }
      confirm_timer_.expires_after(std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(confirm_seconds)));
      confirm_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopping_ || !previous_policy_) {
          return;
        }
        log_->warn("reload: not confirmed in time; restoring the previous policy");
        if (Reconcile(*previous_policy_, "confirm timeout")) {
          policy_ = std::move(*previous_policy_);
        }
        previous_policy_.reset();
      });
    } else {
      CancelPendingConfirm();
    }
    policy_ = std::move(*loaded);
    metrics_.Add("bulkhead_policy_reloads_total", {{"result", "ok"}});
    return {true, fmt::format("reloaded {}: {}{}\n", config_.policy_file, last_apply_,
                              confirm_seconds > 0
                                  ? fmt::format("; run `bulkhead confirm` within {}s or the "
                                                "previous policy comes back",
                                                confirm_seconds)
                                  : std::string())};
  }

  void CancelPendingConfirm() {
    previous_policy_.reset();
    confirm_timer_.cancel();
  }

  ControlReply OnControl(std::string_view command) {
    if (command == "status") {
      return {true, StatusText()};
    }
    if (command == "reload") {
      return Reload();
    }
    // "reload confirm S": apply, and restore the current policy unless confirmed within S s.
    if (command.starts_with("reload confirm ")) {
      const std::string arg(command.substr(15));
      char* end = nullptr;
      const double seconds = std::strtod(arg.c_str(), &end);
      if (learning() || end == arg.c_str() || *end != '\0' || !(seconds > 0) ||
          seconds > 86400) {
        return {false, "reload confirm: give 0 < seconds <= 86400 (monitor/enforce mode)\n"};
      }
      return Reload(seconds);
    }
    if (command == "confirm") {
      if (!previous_policy_) {
        return {false, "nothing to confirm: no reload is waiting for confirmation\n"};
      }
      CancelPendingConfirm();
      log_->info("reload confirmed");
      return {true, "confirmed: the reloaded policy stays\n"};
    }
    return {false, fmt::format("unknown command \"{}\" (status, reload, confirm)\n",
                               std::string(command.substr(0, 64)))};
  }

  std::string StatusText() const {
    std::string out = fmt::format("mode: {}\n", policy::ModeName(config_.mode));
    out += config_.docker_socket.empty()
               ? fmt::format("inventory: {} ({} workloads)\n", config_.inventory_file,
                             inventory_.workloads.size())
               : fmt::format("inventory: docker unix://{} ({} workloads{})\n",
                             config_.docker_socket, inventory_.workloads.size(),
                             have_inventory_ ? "" : ", waiting for dockerd");
    if (learning()) {
      out += fmt::format("graph: {}{}\n", config_.graph_file,
                         last_snapshot_.empty() ? "" : " (last snapshot: " + last_snapshot_ + ")");
      out += fmt::format("packets: {:.0f}, flows: {:.0f}, edges: {:.0f}\n",
                         metrics_.Get("bulkhead_packets_total"),
                         metrics_.Get("bulkhead_flows_total"), metrics_.Get("bulkhead_edges"));
      return out;
    }
    out += fmt::format("policy: {}\n", config_.policy_file);
    if (!tracker_) {
      out += "applied: nothing yet" +
             (last_error_.empty() ? std::string() : " (" + last_error_ + ")") + "\n";
      return out;
    }
    out += fmt::format("last apply: {}\n", last_apply_);
    if (previous_policy_) {
      out += "pending confirmation: the previous policy comes back unless `bulkhead confirm`\n";
    }
    if (!last_error_.empty()) {
      out += fmt::format("last error: {}\n", last_error_);
    }
    out += fmt::format("groups: {}\n", tracker_->compiled().membership.groups.size());
    for (const auto& g : tracker_->compiled().membership.groups) {
      out += fmt::format("  {} ({}{}): {} workload{}\n", g.name, policy::ModeName(g.mode),
                         g.implicit ? ", implicit" : "", g.members.size(),
                         g.members.size() == 1 ? "" : "s");
    }
    out += fmt::format("edges: {}\n", applied_policy_.allow.size());
    out += fmt::format("violations: {}\n", violations_ ? violations_->count() : 0);
    if (auto counters = enforcer::ReadNamedCounters(*transport_); counters) {
      out += "counters:\n";
      for (const auto& c : *counters) {
        out += fmt::format("  {}: {} packets, {} bytes\n", c.name, c.packets, c.bytes);
      }
    }
    return out;
  }

  void Shutdown() {
    if (stopping_) {
      return;
    }
    stopping_ = true;
    signals_.cancel();
    snapshot_timer_.cancel();
    confirm_timer_.cancel();
    if (docker_) {
      docker_->Stop();
    }
    if (violations_) {
      violations_->Stop();
    }
    if (learner_) {
      auto graph = learner_->Stop();
      if (!WriteGraph(std::move(graph))) {
        exit_status_ = 1;
      } else {
        log_->info("learning: wrote {} ({})", config_.graph_file, last_snapshot_);
      }
    }
    if (transport_) {
      if (config_.remove_rules_on_exit) {
        auto deleted = enforcer::DeleteTables(*transport_);
        if (!deleted) {
          log_->error("removing the rules: {}", deleted.error().summary);
          exit_status_ = 1;
        } else {
          log_->info("removed bulkhead's tables (removeRulesOnExit)");
        }
      } else if (tracker_) {
        log_->info("the rules stay in the kernel (removeRulesOnExit: false)");
      }
    }
    if (control_) {
      control_->Close();
    }
    if (metrics_server_) {
      metrics_server_->Close();
    }
    io_.stop();
  }

  const policy::AgentConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  asio::io_context io_;
  asio::signal_set signals_;
  asio::steady_timer snapshot_timer_;
  asio::steady_timer confirm_timer_;
  Metrics metrics_;
  std::unique_ptr<MetricsServer> metrics_server_;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<inventory::DockerSource> docker_;
  int exit_status_ = 0;
  bool stopping_ = false;

  policy::Inventory inventory_;
  bool have_inventory_ = false;

  // learn mode
  std::unique_ptr<Learner> learner_;
  policy::FlowGraph baseline_;
  std::string last_snapshot_;

  // monitor/enforce mode
  policy::Policy policy_;
  policy::Policy applied_policy_;
  std::optional<policy::Policy> previous_policy_;  // a reload waiting for `confirm`
  std::unique_ptr<enforcer::NetlinkTransport> transport_;
  // The applied ruleset, the policy and inventory it came from (empty before the first apply).
  std::optional<enforcer::MembershipTracker> tracker_;
  std::unique_ptr<ViolationMonitor> violations_;
  std::unordered_map<capture::IpAddr, ViolationEndpoint, capture::IpAddrHash> endpoints_;
  std::set<std::string> warned_;
  std::string last_apply_;
  std::string last_error_;
};

}  // namespace

int RunAgent(const policy::AgentConfig& config, const std::shared_ptr<spdlog::logger>& log) {
  Agent agent(config, log);
  return agent.Run();
}

}  // namespace bulkhead::daemon
