// The agent's wiring: builds the event loop, the metrics and control endpoints, the inventory
// source (Docker events, a Kubernetes node's container runtime over the CRI, or a static file) and
// the loop of the configured mode, routes signals, inventory changes and control commands to that
// loop, and stops everything in order. What the agent does lives in the loops: learning_loop.*
// (learn mode), enforcement_loop.* (monitor and enforce mode).
#include "daemon/agent.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "daemon/agent_metrics.h"
#include "daemon/control_protocol.h"
#include "daemon/control_socket.h"
#include "daemon/enforcement_loop.h"
#include "daemon/exec_events.h"
#include "daemon/identity_feed.h"
#include "daemon/learning_loop.h"
#include "daemon/metrics.h"
#include "daemon/policy_watch.h"
#include "inventory/cri_source.h"
#include "inventory/docker_source.h"
#include "inventory/static_file_source.h"
#include "policy/grouping.h"

namespace bulkhead::daemon {
namespace {

namespace asio = boost::asio;

class Agent {
 public:
  Agent(const AgentConfig& config, std::shared_ptr<spdlog::logger> log)
      : config_(config), log_(std::move(log)), signals_(io_) {}

  int Run() {
    DescribeAgentMetrics(metrics_);
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
  bool Setup();
  bool ListenMetrics();
  bool ListenControl();
  bool StartInventory();
  bool StartExecEvents();
  void FollowPolicy();
  void OnPolicyFile(const PolicyFileContent& content);
  std::string GroupOf(const std::string& name, const policy::Labels& labels) const;
  void OnDockerChange(const inventory::DockerEvent& event,
                      const inventory::DockerSnapshot& snapshot);
  void OnCriChange(const inventory::CriSnapshot& snapshot, const std::string& why);
  std::string InventoryStatus() const;
  void OnInventory(policy::Inventory inventory, std::vector<std::string> bridges,
                   std::string_view why);
  // Cluster identity (identity.kubernetes): the other nodes' workloads join this node's.
  bool StartIdentity();
  void OnIdentityChange(const IdentityChange& change, const std::string& why);
  void HandOver(std::string_view why);
  void ArmLearnRefresh();
  void WaitForSignal();
  ControlReply Reload(double confirm_seconds);
  ControlReply OnControl(std::string_view line);
  std::string StatusText() const;
  void Shutdown();

  const AgentConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  asio::io_context io_;
  asio::signal_set signals_;
  Metrics metrics_;
  std::unique_ptr<MetricsServer> metrics_server_;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<inventory::DockerSource> docker_;
  std::unique_ptr<inventory::CriSource> cri_;
  std::unique_ptr<ExecMonitor> exec_;  // with docker_: logins into containers
  std::unique_ptr<IdentityFeed> identity_;
  // With identity_: this node's own inventory and bridges, which the other nodes' workloads
  // join before the loops see them; the first hand-over waits for the API's first lists (or
  // kIdentityWait), so a starting agent does not apply a ruleset that calls the cluster `world`.
  policy::Inventory local_inventory_;
  std::vector<std::string> local_bridges_;
  bool handed_over_ = false;
  std::unique_ptr<asio::steady_timer> identity_wait_;
  std::unique_ptr<asio::steady_timer> learn_refresh_;  // learn mode: changes coalesced
  // Exactly one of the two, by mode.
  std::unique_ptr<LearningLoop> learning_;
  std::unique_ptr<EnforcementLoop> enforcement_;
  std::unique_ptr<PolicyWatch> policy_watch_;  // with enforcement_ and followPolicy
  std::size_t workloads_ = 0;                  // in the current inventory, for status
  bool have_inventory_ = false;
  int exit_status_ = 0;
  bool stopping_ = false;
};

bool Agent::Setup() {
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  signals_.add(SIGHUP);
  if (config_.mode == policy::Mode::kLearn) {
    learning_ = std::make_unique<LearningLoop>(config_, io_, metrics_, log_);
    if (!learning_->Start()) {
      return false;
    }
  } else {
    enforcement_ = std::make_unique<EnforcementLoop>(config_, io_, metrics_, log_);
    if (!enforcement_->Start()) {
      return false;
    }
    FollowPolicy();
  }
  return ListenMetrics() && ListenControl() && StartIdentity() && StartInventory();
}

constexpr std::chrono::seconds kIdentityWait{30};
constexpr std::chrono::milliseconds kLearnRefresh{500};

bool Agent::StartIdentity() {
  if (!config_.kubernetes_identity) {
    return true;
  }
  identity_ = std::make_unique<IdentityFeed>(config_, io_, metrics_, log_);
  if (!identity_->Start([this](const IdentityChange& change, const std::string& why) {
        OnIdentityChange(change, why);
      })) {
    return false;
  }
  identity_wait_ = std::make_unique<asio::steady_timer>(io_, kIdentityWait);
  identity_wait_->async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_ || handed_over_ || !have_inventory_) {
      return;
    }
    log_->warn(
        "identity: no complete list from the Kubernetes API after {} s; applying this "
        "node's inventory with the identities known so far (the rest follows as it comes)",
        kIdentityWait.count());
    HandOver("identity wait");
  });
  return true;
}

void Agent::OnIdentityChange(const IdentityChange& change, const std::string& why) {
  if (!have_inventory_) {
    return;  // the first local inventory hands everything over
  }
  if (!handed_over_) {
    if (identity_->Synced()) {
      HandOver(why);
    }
    return;
  }
  if (enforcement_) {
    enforcement_->OnWorkloads(change.came, change.gone, why);
  } else {
    ArmLearnRefresh();
  }
}

// Learning takes whole inventories; a burst of identity changes becomes one.
void Agent::ArmLearnRefresh() {
  if (learn_refresh_) {
    return;
  }
  learn_refresh_ = std::make_unique<asio::steady_timer>(io_, kLearnRefresh);
  learn_refresh_->async_wait([this](const boost::system::error_code& ec) {
    learn_refresh_.reset();
    if (!ec && !stopping_) {
      HandOver("kubernetes");
    }
  });
}

// The combined inventory (this node's, and the cluster's when identity is on) to the loop.
void Agent::HandOver(std::string_view why) {
  handed_over_ = true;
  policy::Inventory inventory = local_inventory_;
  if (identity_) {
    inventory = identity_->Combine(std::move(inventory));
  }
  metrics_.Set("bulkhead_workloads", {}, static_cast<double>(inventory.workloads.size()));
  if (learning_) {
    learning_->OnInventory(inventory, local_bridges_);
  } else {
    enforcement_->OnInventory(std::move(inventory), why);
  }
}

bool Agent::ListenMetrics() {
  if (config_.metrics_host.empty()) {
    return true;
  }
  auto server =
      MetricsServer::Listen(io_, config_.metrics_host, config_.metrics_port, metrics_, log_);
  if (!server) {
    log_->error("metrics: {}", server.error());
    return false;
  }
  metrics_server_ = std::move(*server);
  return true;
}

bool Agent::ListenControl() {
  if (config_.control_socket.empty()) {
    return true;
  }
  auto control = ControlServer::Listen(
      io_, config_.control_socket, [this](std::string_view line) { return OnControl(line); }, log_);
  if (!control) {
    log_->error("control: {}", control.error());
    return false;
  }
  control_ = std::move(*control);
  return true;
}

bool Agent::StartInventory() {
  if (!config_.docker_socket.empty()) {
    if (!StartExecEvents()) {
      return false;
    }
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
    return true;
  }
  if (!config_.cri_socket.empty()) {
    inventory::CriSourceOptions options;
    options.client.socket_path = config_.cri_socket;
    options.host_name = config_.host_name;
    options.poll_interval = config_.cri_poll_interval;
    cri_ = std::make_unique<inventory::CriSource>(io_.get_executor(), options, log_);
    cri_->Start([this](const inventory::CriSnapshot& snapshot, const std::string& why) {
      OnCriChange(snapshot, why);
    });
    log_->info("agent: {} mode, following the container runtime at {}",
               policy::ModeName(config_.mode), config_.cri_socket);
    return true;
  }
  auto inventory = inventory::LoadInventoryFile(config_.inventory_file);
  if (!inventory) {
    log_->error("{}", inventory.error());
    return false;
  }
  log_->info("agent: {} mode, inventory {}", policy::ModeName(config_.mode),
             config_.inventory_file);
  OnInventory(std::move(*inventory), {}, "inventory");
  return true;
}

// The policy watch (followPolicy): a change of the file's bytes reaches the enforcement loop,
// which applies or refuses it. A watch that cannot start leaves the agent running on the policy
// it loaded (reloads still work): said once, and in status.
void Agent::FollowPolicy() {
  if (!config_.follow_policy) {
    return;
  }
  auto watch = PolicyWatch::Start(
      io_, config_.policy_file, enforcement_->policy_version().digest, PolicyWatchOptions{},
      [this](const PolicyFileContent& content) { OnPolicyFile(content); }, log_);
  if (!watch) {
    log_->error("policy watch: {}; the policy changes only on reload", watch.error());
    enforcement_->SetFollowStatus("not following the file: " + watch.error());
    return;
  }
  policy_watch_ = std::move(*watch);
  enforcement_->SetFollowStatus("following changes in " + policy_watch_->directory());
}

void Agent::OnPolicyFile(const PolicyFileContent& content) {
  enforcement_->OnPolicyFile(content);
  if (exec_) {
    exec_->SetAlertGroups(enforcement_->policy().alert_on_exec);
  }
}

// Exec events go to the violations file beside the violations; the violation lines of a container
// carry the interactive sessions running in it.
bool Agent::StartExecEvents() {
  ExecMonitorOptions options;
  options.violations_file = config_.violations_file;
  if (enforcement_) {
    options.alert_groups = enforcement_->policy().alert_on_exec;
  }
  exec_ = std::make_unique<ExecMonitor>(
      options,
      [this](const std::string& name, const policy::Labels& labels) {
        return GroupOf(name, labels);
      },
      metrics_, log_);
  std::string error;
  if (!exec_->Open(error)) {
    log_->error("exec events: {}", error);
    return false;
  }
  if (enforcement_) {
    enforcement_->SetExecSessions([this](const std::string& workload, std::uint64_t ts_usec) {
      return exec_->SessionsIn(workload, ts_usec);
    });
  }
  return true;
}

// The group violation lines name (the applied membership), else the one groupBy gives (learn
// mode, or a container the ruleset does not manage).
std::string Agent::GroupOf(const std::string& name, const policy::Labels& labels) const {
  if (enforcement_) {
    if (std::string group = enforcement_->GroupOf(name); !group.empty()) {
      return group;
    }
  }
  policy::Workload workload;
  workload.name = name;
  workload.labels = labels;
  return policy::DeriveGroup(workload,
                             config_.group_by.empty() ? policy::DefaultGroupBy() : config_.group_by)
      .name;
}

void Agent::OnDockerChange(const inventory::DockerEvent& event,
                           const inventory::DockerSnapshot& snapshot) {
  metrics_.Add("bulkhead_docker_events_total", {});
  using Kind = inventory::DockerEventKind;
  if (event.kind == Kind::kExecCreate || event.kind == Kind::kExecStart ||
      event.kind == Kind::kExecDie) {
    exec_->OnEvent(event, docker_->Container(event.container_id));
    return;  // the inventory did not change
  }
  std::vector<std::string> bridges;
  for (const auto& n : snapshot.networks) {
    if (!n.bridge.empty()) {
      bridges.push_back(n.bridge);
    }
  }
  std::sort(bridges.begin(), bridges.end());
  bridges.erase(std::unique(bridges.begin(), bridges.end()), bridges.end());
  const std::string why =
      event.kind == inventory::DockerEventKind::kResync
          ? std::string("docker resync")
          : fmt::format("docker {}", event.container_name.empty() ? event.container_id.substr(0, 12)
                                                                  : event.container_name);
  OnInventory(snapshot.inventory, std::move(bridges), why);
}

void Agent::OnCriChange(const inventory::CriSnapshot& snapshot, const std::string& why) {
  metrics_.Add("bulkhead_cri_changes_total", {});
  OnInventory(snapshot.inventory, snapshot.bridges, why);
}

void Agent::OnInventory(policy::Inventory inventory, std::vector<std::string> bridges,
                        std::string_view why) {
  workloads_ = inventory.workloads.size();
  have_inventory_ = true;
  local_inventory_ = std::move(inventory);
  local_bridges_ = std::move(bridges);
  if (identity_ && !handed_over_ && !identity_->Synced()) {
    log_->info("{}: waiting for the Kubernetes API's first lists before applying", why);
    return;
  }
  HandOver(why);
}

void Agent::WaitForSignal() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) {
      return;
    }
    if (signo == SIGHUP) {
      log_->info("SIGHUP: reloading");
      (void)Reload(0);
      WaitForSignal();
      return;
    }
    log_->info("signal {}: stopping", signo);
    Shutdown();
  });
}

// SIGHUP or `bulkhead reload`: the violations file is reopened, the inventory file (if that is
// the source) and the policy read again.
ControlReply Agent::Reload(double confirm_seconds) {
  if (enforcement_) {
    enforcement_->ReopenViolationLog();
  }
  if (exec_) {
    exec_->Reopen();
  }
  std::optional<policy::Inventory> inventory;
  if (!config_.inventory_file.empty()) {
    auto loaded = inventory::LoadInventoryFile(config_.inventory_file);
    if (!loaded) {
      metrics_.Add("bulkhead_policy_reloads_total", {{"result", "error"}});
      log_->error("reload: {}; keeping the current inventory", loaded.error());
      return {false, loaded.error()};
    }
    workloads_ = loaded->workloads.size();
    inventory = std::move(*loaded);
    if (identity_) {
      local_inventory_ = *inventory;
      inventory = identity_->Combine(std::move(*inventory));
    }
  }
  if (enforcement_) {
    ControlReply reply = enforcement_->Reload(std::move(inventory), confirm_seconds);
    if (exec_) {
      exec_->SetAlertGroups(enforcement_->policy().alert_on_exec);
    }
    return reply;
  }
  if (inventory) {
    learning_->SetInventory(*inventory);
  }
  metrics_.Add("bulkhead_policy_reloads_total", {{"result", "ok"}});
  return {true, "reloaded the inventory (learn mode has no policy)\n"};
}

ControlReply Agent::OnControl(std::string_view line) {
  auto command = ParseControlCommand(line);
  if (!command) {
    return {false, ControlParseErrorText(command.error())};
  }
  switch (command->kind) {
    case ControlCommandKind::kStatus:
      return {true, StatusText()};
    case ControlCommandKind::kReload:
      if (learning_ && command->confirm_seconds > 0) {
        // Nothing to roll back to: learn mode applies no policy.
        return {false, ControlParseErrorText({ControlProtocolError::kBadConfirmSeconds, ""})};
      }
      return Reload(command->confirm_seconds);
    case ControlCommandKind::kConfirm:
      if (learning_) {
        return {false, "nothing to confirm: no reload is waiting for confirmation\n"};
      }
      return enforcement_->Confirm();
  }
  return {false, "internal error: unhandled command\n"};
}

std::string Agent::StatusText() const {
  std::string out = fmt::format("mode: {}\n", policy::ModeName(config_.mode));
  out += InventoryStatus();
  if (identity_) {
    identity_->AppendStatus(out);
  }
  if (learning_) {
    learning_->AppendStatus(out);
  } else {
    enforcement_->AppendStatus(out);
  }
  return out;
}

std::string Agent::InventoryStatus() const {
  if (!config_.docker_socket.empty()) {
    return fmt::format("inventory: docker unix://{} ({} workloads{})\n", config_.docker_socket,
                       workloads_, have_inventory_ ? "" : ", waiting for dockerd");
  }
  if (!config_.cri_socket.empty()) {
    return fmt::format("inventory: cri unix://{} ({} pods{})\n", config_.cri_socket, workloads_,
                       have_inventory_ ? "" : ", waiting for the container runtime");
  }
  return fmt::format("inventory: {} ({} workloads)\n", config_.inventory_file, workloads_);
}

void Agent::Shutdown() {
  if (stopping_) {
    return;
  }
  stopping_ = true;
  signals_.cancel();
  if (docker_) {
    docker_->Stop();
  }
  if (cri_) {
    cri_->Stop();
  }
  if (identity_) {
    identity_->Stop();
  }
  if (identity_wait_) {
    identity_wait_->cancel();
  }
  if (learn_refresh_) {
    learn_refresh_->cancel();
  }
  if (policy_watch_) {
    policy_watch_->Stop();
  }
  if (learning_ && !learning_->Stop()) {
    exit_status_ = 1;
  }
  if (enforcement_ && !enforcement_->Stop()) {
    exit_status_ = 1;
  }
  if (control_) {
    control_->Close();
  }
  if (metrics_server_) {
    metrics_server_->Close();
  }
  io_.stop();
}

}  // namespace

int RunAgent(const AgentConfig& config, const std::shared_ptr<spdlog::logger>& log) {
  Agent agent(config, log);
  return agent.Run();
}

}  // namespace bulkhead::daemon
