#include "daemon/identity_feed.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <utility>

#include <fmt/format.h>

#include "inventory/kube_api.h"
#include "inventory/kube_config.h"

namespace bulkhead::daemon {
namespace {

using Clock = std::chrono::steady_clock;

// How often the staleness gauge is brought up to date, and after how long a staleness is
// worth a warning in the log (the source logs each failure already; this says what it means).
constexpr std::chrono::seconds kRefreshEvery{1};
constexpr double kWarnStaleAfterSeconds = 30;

std::string ResourceWord(inventory::KubeResource resource) {
  return std::string(inventory::KubeResourceName(resource));
}

std::string MachineHostName() {
  std::array<char, 256> buffer{};
  if (gethostname(buffer.data(), buffer.size() - 1) != 0) {
    return "";
  }
  return std::string(buffer.data());
}

}  // namespace

IdentityFeed::IdentityFeed(const AgentConfig& config, boost::asio::io_context& io, Metrics& metrics,
                           std::shared_ptr<spdlog::logger> log)
    : config_(config),
      io_(io),
      metrics_(metrics),
      log_(std::move(log)),
      identity_(ResolveNodeName(config)),
      timer_(io) {
  metrics_.Describe("bulkhead_identity_staleness_seconds", MetricType::kGauge,
                    "How far the cluster identities may be behind the Kubernetes API server: 0 "
                    "while every watch is open, else seconds since it was last heard from");
  metrics_.Describe("bulkhead_identity_workloads", MetricType::kGauge,
                    "Workloads of other nodes known from the Kubernetes API, by kind (pod, node)");
  metrics_.Describe("bulkhead_identity_batches_total", MetricType::kCounter,
                    "Lists and watch events from the Kubernetes API applied, by resource and kind");
  metrics_.Describe("bulkhead_identity_relists_total", MetricType::kCounter,
                    "Lists after the first one (after a 410 Gone, an error or a reconnect)");
}

// The source's destructor stops its thread and drops what it posted; the timer's cancels it.
IdentityFeed::~IdentityFeed() = default;

std::string IdentityFeed::ResolveNodeName(const AgentConfig& config) {
  if (!config.node_name.empty()) {
    return config.node_name;
  }
  if (const char* env = std::getenv("NODE_NAME"); env != nullptr && *env != '\0') {
    return env;
  }
  if (!config.host_name.empty()) {
    return config.host_name;
  }
  return MachineHostName();
}

bool IdentityFeed::Start(ChangeCallback on_change) {
  on_change_ = std::move(on_change);
  inventory::KubeConfig settings;
  if (config_.kubeconfig.empty()) {
    auto in_cluster = inventory::InClusterKubeConfig(std::getenv("KUBERNETES_SERVICE_HOST"),
                                                     std::getenv("KUBERNETES_SERVICE_PORT"));
    if (!in_cluster) {
      log_->error("identity: {}", in_cluster.error().message);
      return false;
    }
    settings = std::move(*in_cluster);
  } else {
    auto loaded = inventory::LoadKubeconfig(config_.kubeconfig);
    if (!loaded) {
      log_->error("{}", loaded.error().ToString());
      return false;
    }
    settings = std::move(*loaded);
  }
  server_ = settings.ServerUrl();
  auto source = inventory::KubeSource::Create(io_.get_executor(), std::move(settings),
                                              inventory::KubeSourceOptions{}, log_);
  if (!source) {
    log_->error("identity: {}", source.error().message);
    return false;
  }
  source_ = std::move(*source);
  started_ = Clock::now();
  source_->Start([this](const inventory::KubeBatch& batch) { OnBatch(batch); });
  log_->info("identity: following the Kubernetes API at {} as node {}", server_, node_name());
  PublishMetrics();
  ArmTimer();
  return true;
}

void IdentityFeed::Stop() {
  stopping_ = true;
  timer_.cancel();
  if (source_) {
    source_->Stop();
    source_.reset();
  }
}

void IdentityFeed::OnBatch(const inventory::KubeBatch& batch) {
  if (stopping_) {
    return;
  }
  const std::string resource = ResourceWord(batch.resource);
  metrics_.Add("bulkhead_identity_batches_total",
               {{"resource", resource}, {"kind", batch.relist ? "list" : "watch"}});
  const unsigned bit = 1U << static_cast<unsigned>(batch.resource);
  if (batch.relist && (synced_ & bit) != 0) {
    metrics_.Add("bulkhead_identity_relists_total", {});
  }
  const bool first_list = batch.relist && (synced_ & bit) == 0;
  synced_ |= bit;
  IdentityChange change = identity_.Apply(batch);
  PublishMetrics();
  if (change.Empty() && !(first_list && Synced())) {
    return;
  }
  std::string why;
  if (batch.relist) {
    why = fmt::format("kubernetes list {}", resource);
  } else if (change.came.size() + change.gone.size() == 1) {
    why = fmt::format("kubernetes {}{}", change.came.empty() ? "-" : "+",
                      change.came.empty() ? change.gone.front() : change.came.front().name);
  } else {
    why = fmt::format("kubernetes {} +{} -{}", resource, change.came.size(), change.gone.size());
  }
  on_change_(change, why);
}

policy::Inventory IdentityFeed::Combine(policy::Inventory local) const {
  for (auto& w : local.workloads) {
    w.node = node_name();
  }
  identity_.AppendWorkloads(local.workloads);
  return local;
}

double IdentityFeed::StalenessSeconds() const {
  if (!source_) {
    return 0;
  }
  const inventory::KubeSourceStats stats = source_->stats();
  const auto now = Clock::now();
  double worst = 0;
  for (std::size_t i = 0; i < stats.watching.size(); ++i) {
    if (stats.watching.at(i)) {
      continue;
    }
    const auto since = stats.last_contact.at(i).value_or(started_);
    worst = std::max(worst, std::chrono::duration<double>(now - since).count());
  }
  return worst;
}

void IdentityFeed::PublishMetrics() {
  metrics_.Set("bulkhead_identity_workloads", {{"kind", "pod"}},
               static_cast<double>(identity_.remote_workloads()));
  metrics_.Set("bulkhead_identity_workloads", {{"kind", "node"}},
               static_cast<double>(identity_.nodes()));
  const double stale = StalenessSeconds();
  metrics_.Set("bulkhead_identity_staleness_seconds", {}, stale);
  if (stale >= kWarnStaleAfterSeconds && !warned_stale_) {
    warned_stale_ = true;
    log_->warn(
        "identity: the Kubernetes API server at {} has not been heard from for {:.0f} s; "
        "enforcing with the identities last known until it answers",
        server_, stale);
  } else if (stale == 0 && warned_stale_) {
    warned_stale_ = false;
    log_->info("identity: the Kubernetes API server at {} answers again", server_);
  }
}

void IdentityFeed::ArmTimer() {
  timer_.expires_after(kRefreshEvery);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) {
      return;
    }
    PublishMetrics();
    ArmTimer();
  });
}

void IdentityFeed::AppendStatus(std::string& out) const {
  out += fmt::format(
      "identity: kubernetes {} as node {}: {} pods on other nodes, {} other nodes, {} "
      "namespaces{}\n",
      server_, node_name(), identity_.remote_workloads(), identity_.nodes(), identity_.namespaces(),
      Synced() ? "" : " (listing)");
  if (!source_) {
    return;
  }
  const inventory::KubeSourceStats stats = source_->stats();
  const double stale = StalenessSeconds();
  out += fmt::format(
      "identity staleness: {}; lists {}, relists {}, 410 gone {}, errors {}, events {}\n",
      stale == 0 ? std::string("current (every watch open)")
                 : fmt::format("{:.1f} s since the API server was last heard from", stale),
      stats.lists, stats.relists, stats.gone, stats.errors, stats.events);
}

}  // namespace bulkhead::daemon
