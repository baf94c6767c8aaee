#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/result.hpp>

#include "inventory/docker_api.h"
#include "inventory/docker_client.h"
#include "policy/model.h"

// Workload discovery from the Docker Engine API: a full snapshot on demand, or a live one kept
// current by dockerd's event stream, surviving dockerd restarts. All of it runs on one executor
// (the agent's io_context); nothing here is thread-safe.
namespace bulkhead::inventory {

// What discovery knows at one moment: the inventory, plus the Linux bridges of the networks the
// running containers are attached to (sorted by name), which the enforcer needs because a
// bridged packet shows the bridge as its input interface.
struct DockerSnapshot {
  policy::Inventory inventory;
  std::vector<DockerNetwork> networks;
};

struct DockerSourceOptions {
  DockerClientOptions client;
  std::string host_name;  // empty: this machine's hostname
  // Waits between attempts to reach dockerd: doubling from initial to max, back to initial once
  // a resync succeeds.
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10000};
  // Look up each container's host-side veth (docker_host_link.h). Needs root and the process in
  // dockerd's network namespace; when a lookup fails the workload just has no interface.
  bool resolve_interfaces = true;
};

struct DockerSourceStats {
  std::uint64_t resyncs = 0;      // full re-lists that succeeded
  std::uint64_t stream_ends = 0;  // event streams that ended or failed to open
  std::uint64_t events = 0;       // event lines applied
  std::uint64_t bad_events = 0;   // event lines that did not parse (logged, skipped)
  std::uint64_t api_errors = 0;   // requests that failed (logged)
};

class DockerSource {
 public:
  // Called after every change: the event (kResync after each full re-list) and the new state.
  using ChangeCallback = std::function<void(const DockerEvent&, const DockerSnapshot&)>;

  // `logger` may be null (tests); then nothing is logged.
  DockerSource(const boost::asio::any_io_executor& executor, DockerSourceOptions options,
               std::shared_ptr<spdlog::logger> logger);

  // One full snapshot: negotiate the API version, list and inspect every running container,
  // inspect their networks, find their veths. Errors (dockerd unreachable, a malformed answer)
  // are one line naming the socket, request or field.
  boost::asio::awaitable<boost::system::result<DockerSnapshot, DockerError>> Snapshot();

  // Follows dockerd until Stop(): opens the event stream, re-lists everything (reported as
  // kResync), then applies each start/die/connect/disconnect and reports it. Exec events are
  // reported as they come, exec_start with the exec's inspect (DockerEvent::exec); they do not
  // change the snapshot. When the stream
  // ends or dockerd cannot be reached, waits (exponential backoff) and starts over, re-listing
  // so that nothing missed while disconnected stays missed.
  boost::asio::awaitable<void> Run(ChangeCallback on_change);

  // Ends Run soon after (it returns at its next suspension point).
  void Stop();

  const DockerSnapshot& current() const { return snapshot_; }
  // A running container as last inspected (its health check, labels), or null.
  const DockerContainer* Container(const std::string& id) const {
    auto it = containers_.find(id);
    return it == containers_.end() ? nullptr : &it->second;
  }
  const DockerSourceStats& stats() const { return stats_; }

 private:
  boost::asio::awaitable<std::string> Resync();
  // Inspects one container and updates the state (removes it when gone or not running).
  boost::asio::awaitable<void> Refresh(const std::string& id);
  boost::asio::awaitable<std::string> AddContainer(DockerContainer container);
  boost::asio::awaitable<void> Apply(DockerEvent& event);
  boost::asio::awaitable<void> InspectExec(DockerEvent& event);
  void Rebuild();

  boost::asio::any_io_executor executor_;
  DockerSourceOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  DockerClient client_;
  boost::asio::steady_timer backoff_timer_;
  bool stopped_ = false;
  std::string host_name_;

  std::map<std::string, DockerContainer> containers_;  // running, by id
  std::map<std::string, std::string> interfaces_;      // container id -> host veth
  std::map<std::string, DockerNetwork> networks_;      // by id; cache, refreshed on resync
  DockerSnapshot snapshot_;
  DockerSourceStats stats_;
};

}  // namespace bulkhead::inventory
