#include "inventory/docker_source.h"

#include <algorithm>
#include <set>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "inventory/docker_host_link.h"
#include "inventory/internal/local_host_name.h"

namespace bulkhead::inventory {
namespace {

namespace asio = boost::asio;

constexpr unsigned kHttpNotFound = 404;

}  // namespace

DockerSource::DockerSource(const asio::any_io_executor& executor, DockerSourceOptions options,
                           std::shared_ptr<spdlog::logger> logger)
    : executor_(executor),
      options_(std::move(options)),
      logger_(std::move(logger)),
      client_(executor, options_.client),
      backoff_timer_(executor),
      host_name_(options_.host_name.empty() ? internal::LocalHostName() : options_.host_name) {}

void DockerSource::Rebuild() {
  std::vector<DockerContainer> list;
  list.reserve(containers_.size());
  std::set<std::string> used_networks;
  for (const auto& [id, c] : containers_) {
    list.push_back(c);
    for (const DockerEndpoint& ep : c.endpoints) {
      used_networks.insert(ep.network_id);
    }
  }
  snapshot_.inventory = BuildInventory(host_name_, list, interfaces_);
  snapshot_.networks.clear();
  for (const std::string& id : used_networks) {
    if (auto it = networks_.find(id); it != networks_.end()) {
      snapshot_.networks.push_back(it->second);
    }
  }
  std::sort(snapshot_.networks.begin(), snapshot_.networks.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
}

asio::awaitable<std::string> DockerSource::AddContainer(DockerContainer container) {
  if (!container.running) {
    containers_.erase(container.id);
    interfaces_.erase(container.id);
    co_return std::string();
  }
  for (const DockerEndpoint& ep : container.endpoints) {
    if (networks_.contains(ep.network_id)) {
      continue;
    }
    auto body = co_await client_.Get("/networks/" + ep.network_id);
    if (!body) {
      co_return body.error().message;
    }
    auto network = ParseNetworkInspect(*body);
    if (!network) {
      co_return network.error().message;
    }
    networks_.emplace(ep.network_id, std::move(*network));
  }
  interfaces_.erase(container.id);
  if (options_.resolve_interfaces) {
    // The workload's interface is the veth of its first endpoint (by network name), the same
    // endpoint whose MAC BuildInventory reports.
    auto ep = std::find_if(container.endpoints.begin(), container.endpoints.end(),
                           [](const DockerEndpoint& e) { return !e.mac.empty(); });
    if (ep != container.endpoints.end()) {
      auto name = FindHostInterface(container.pid, ep->mac);
      if (name) {
        interfaces_[container.id] = *name;
      } else if (logger_) {
        logger_->warn("docker: container {}: no host interface: {}", container.name,
                      name.error().message);
      }
    }
  }
  const std::string id = container.id;
  containers_[id] = std::move(container);
  co_return std::string();
}

asio::awaitable<void> DockerSource::Refresh(const std::string& id) {
  unsigned status = 0;
  auto body = co_await client_.Get("/containers/" + id + "/json", &status);
  if (!body) {
    if (status == kHttpNotFound) {  // removed before we asked: it is not running
      containers_.erase(id);
      interfaces_.erase(id);
      co_return;
    }
    ++stats_.api_errors;
    if (logger_) {
      logger_->warn("docker: {}", body.error().message);
    }
    co_return;
  }
  auto container = ParseContainerInspect(*body);
  if (!container) {
    ++stats_.api_errors;
    if (logger_) {
      logger_->warn("docker: {}", container.error().message);
    }
    co_return;
  }
  const std::string error = co_await AddContainer(std::move(*container));
  if (!error.empty()) {
    ++stats_.api_errors;
    if (logger_) {
      logger_->warn("docker: {}", error);
    }
  }
}

asio::awaitable<std::string> DockerSource::Resync() {
  auto version = co_await client_.NegotiateVersion();
  if (!version) {
    co_return version.error().message;
  }
  auto list = co_await client_.Get("/containers/json");
  if (!list) {
    co_return list.error().message;
  }
  auto ids = ParseContainerIds(*list);
  if (!ids) {
    co_return ids.error().message;
  }
  containers_.clear();
  interfaces_.clear();
  networks_.clear();  // a restarted dockerd may have recreated networks under other bridges
  for (const std::string& id : *ids) {
    unsigned status = 0;
    auto body = co_await client_.Get("/containers/" + id + "/json", &status);
    if (!body && status == kHttpNotFound) {
      continue;  // removed between the list and the inspect
    }
    if (!body) {
      co_return body.error().message;
    }
    auto container = ParseContainerInspect(*body);
    if (!container) {
      co_return container.error().message;
    }
    const std::string error = co_await AddContainer(std::move(*container));
    if (!error.empty()) {
      co_return error;
    }
  }
  Rebuild();
  ++stats_.resyncs;
  co_return std::string();
}

asio::awaitable<boost::system::result<DockerSnapshot, DockerError>> DockerSource::Snapshot() {
  const std::string error = co_await Resync();
  if (!error.empty()) {
    co_return DockerFail(error);
  }
  co_return snapshot_;
}

asio::awaitable<void> DockerSource::InspectExec(DockerEvent& event) {
  auto body = co_await client_.Get("/exec/" + event.exec_id + "/json");
  if (!body) {
    // Gone already (a short exec ends before we ask): reported without its details.
    ++stats_.api_errors;
    if (logger_) {
      logger_->debug("docker: {}", body.error().message);
    }
    co_return;
  }
  auto exec = ParseExecInspect(*body);
  if (!exec) {
    ++stats_.api_errors;
    if (logger_) {
      logger_->warn("docker: {}", exec.error().message);
    }
    co_return;
  }
  event.exec = std::move(*exec);
}

asio::awaitable<void> DockerSource::Apply(DockerEvent& event) {
  switch (event.kind) {
    case DockerEventKind::kExecStart:
      co_await InspectExec(event);
      co_return;
    case DockerEventKind::kExecCreate:
    case DockerEventKind::kExecDie:
      co_return;
    case DockerEventKind::kContainerDie:
      // Gone at once, so a new container that gets its address owns it alone.
      containers_.erase(event.container_id);
      interfaces_.erase(event.container_id);
      break;
    case DockerEventKind::kContainerStart:
    case DockerEventKind::kNetworkConnect:
    case DockerEventKind::kNetworkDisconnect:
      co_await Refresh(event.container_id);
      break;
    case DockerEventKind::kOther:
    case DockerEventKind::kResync:
      co_return;
  }
  Rebuild();
}

asio::awaitable<void> DockerSource::Run(ChangeCallback on_change) {
  auto backoff = options_.initial_backoff;
  while (!stopped_) {
    std::string resync_error;
    auto on_open = [&]() -> asio::awaitable<void> {
      if (!stopped_) {
        resync_error = co_await Resync();
      }
      // Stop() may have come while the stream was still opening (nothing to close then).
      if (stopped_ || !resync_error.empty()) {
        client_.CloseEventStream();
        co_return;
      }
      backoff = options_.initial_backoff;
      if (logger_) {
        logger_->info("docker: following {} ({} containers)", options_.client.socket_path,
                      containers_.size());
      }
      DockerEvent resync;
      resync.kind = DockerEventKind::kResync;
      on_change(resync, snapshot_);
    };
    auto on_line = [&](std::string_view line) -> asio::awaitable<void> {
      auto event = ParseEvent(line);
      if (!event) {
        ++stats_.bad_events;
        if (logger_) {
          logger_->warn("docker: {}", event.error().message);
        }
        co_return;
      }
      if (event->kind == DockerEventKind::kOther) {
        co_return;
      }
      ++stats_.events;
      co_await Apply(*event);
      on_change(*event, snapshot_);
    };
    std::string reason = co_await client_.FollowEvents(on_open, on_line);
    ++stats_.stream_ends;
    if (stopped_) {
      break;
    }
    if (logger_) {
      logger_->warn("docker: {}; retrying in {} ms", resync_error.empty() ? reason : resync_error,
                    backoff.count());
    }
    backoff_timer_.expires_after(backoff);
    co_await backoff_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

void DockerSource::Stop() {
  stopped_ = true;
  client_.CloseEventStream();
  backoff_timer_.cancel();
}

}  // namespace bulkhead::inventory
