// Test driver for the Docker discovery integration test (docker_netns_test.sh): prints what
// inventory::DockerSource sees as JSON, one document per line, so the script can check it with
// python3. Not part of bulkhead; the socket comes from DOCKER_HOST like the docker CLI's.
//   docker_inventory_tool snapshot             one snapshot, then exit (1 with the error on stderr)
//   docker_inventory_tool follow SECONDS       every change (resync, start, die, ...) until then
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "inventory/docker_source.h"

namespace asio = boost::asio;
namespace json = boost::json;
using bulkhead::inventory::DockerEvent;
using bulkhead::inventory::DockerEventKindName;
using bulkhead::inventory::DockerSnapshot;
using bulkhead::inventory::DockerSource;
using bulkhead::inventory::DockerSourceOptions;

namespace {

json::object ToJson(const DockerSnapshot& s) {
  json::array workloads;
  for (const auto& w : s.inventory.workloads) {
    json::object labels;
    for (const auto& [k, v] : w.labels) {
      labels[k] = v;
    }
    json::array addresses(w.addresses.begin(), w.addresses.end());
    workloads.push_back(json::object{{"name", w.name},
                                     {"id", w.id},
                                     {"labels", labels},
                                     {"addresses", addresses},
                                     {"interface", w.interface},
                                     {"mac", w.mac}});
  }
  json::array networks;
  for (const auto& n : s.networks) {
    networks.push_back(json::object{{"name", n.name}, {"id", n.id}, {"bridge", n.bridge}});
  }
  json::array host_addresses(s.inventory.host.addresses.begin(), s.inventory.host.addresses.end());
  return json::object{
      {"host", json::object{{"name", s.inventory.host.name}, {"addresses", host_addresses}}},
      {"workloads", workloads},
      {"networks", networks}};
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode != "snapshot" && !(mode == "follow" && argc > 2)) {
    std::cerr << "usage: docker_inventory_tool snapshot | follow SECONDS\n";
    return 2;
  }
  auto socket = bulkhead::inventory::DockerSocketPath(std::getenv("DOCKER_HOST"));
  if (!socket) {
    std::cerr << socket.error().message << "\n";
    return 1;
  }
  DockerSourceOptions options;
  options.client.socket_path = *socket;
  options.client.request_timeout = std::chrono::milliseconds(3000);
  options.host_name = "node-1";
  options.initial_backoff = std::chrono::milliseconds(100);
  options.max_backoff = std::chrono::milliseconds(1000);
  auto logger = spdlog::stderr_logger_st("docker");

  asio::io_context io;
  DockerSource source(io.get_executor(), options, logger);
  int rc = 0;
  if (mode == "snapshot") {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto snap = co_await source.Snapshot();
          if (!snap) {
            std::cerr << snap.error().message << "\n";
            rc = 1;
            co_return;
          }
          std::cout << json::serialize(ToJson(*snap)) << std::endl;
        },
        asio::detached);
    io.run();
    return rc;
  }

  asio::steady_timer deadline(io, std::chrono::seconds(std::atoi(argv[2])));
  deadline.async_wait([&](const boost::system::error_code&) { source.Stop(); });
  asio::co_spawn(io, source.Run([](const DockerEvent& e, const DockerSnapshot& s) {
    json::object line{{"event", DockerEventKindName(e.kind)},
                      {"id", e.container_id},
                      {"name", e.container_name},
                      {"snapshot", ToJson(s)}};
    std::cout << json::serialize(line) << std::endl;
  }),
                 [&](std::exception_ptr) { deadline.cancel(); });
  io.run();
  const auto& st = source.stats();
  std::cerr << "stats: resyncs " << st.resyncs << " stream_ends " << st.stream_ends << " events "
            << st.events << " bad_events " << st.bad_events << " api_errors " << st.api_errors
            << "\n";
  return 0;
}
