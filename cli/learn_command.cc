#include "cli/learn_command.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "capture/file_replay.h"
#include "capture/live_capture.h"
#include "capture/live_source.h"
#include "capture/pcap_file_source.h"
#include "cli/command.h"
#include "cli/progress_meter.h"
#include "inventory/cri_client.h"
#include "inventory/cri_source.h"
#include "inventory/docker_client.h"
#include "inventory/docker_source.h"
#include "inventory/static_file_source.h"
#include "learn/flow_table.h"
#include "learn/graph_builder.h"
#include "policy/atomic_file.h"
#include "policy/flow_graph_codec.h"
#include "policy/graph_merge.h"
#include "policy/grouping.h"

namespace bulkhead::cli {
namespace {

namespace asio = boost::asio;

// The one summary line every run ends with. Failed attempts (refused, incomplete), scans and
// evictions are there so a capture full of scans or floods says so even when its graph looks
// clean.
std::string SummaryLine(const capture::SourceStats& stats, const learn::FlowTableStats& flows,
                        const learn::GraphBuilder& builder, std::size_t scans, bool live) {
  const std::size_t edges = builder.edge_count();
  std::string malformed;
  for (std::size_t i = 0; i < capture::kDecodeOutcomeCount; ++i) {
    const auto outcome = static_cast<capture::DecodeOutcome>(i);
    if (capture::IsMalformed(outcome) && stats.decode.Get(outcome) > 0) {
      malformed += fmt::format("{}{}={}", malformed.empty() ? "" : " ",
                               capture::DecodeOutcomeName(outcome), stats.decode.Get(outcome));
    }
  }
  std::string line =
      fmt::format("learned: {} packets, {} flows, {} edges, malformed {}", stats.frames,
                  flows.flows_created, edges, stats.decode.Malformed());
  if (!malformed.empty()) {
    line += fmt::format(" ({})", malformed);
  }
  line += fmt::format(", refused {}, incomplete {}, scans {}, evicted {}", flows.refused,
                      flows.incomplete, scans, flows.flows_evicted);
  if (builder.stats().edges_dropped > 0) {
    line += fmt::format(", edges over the cap {}", builder.stats().edges_dropped);
  }
  if (live) {
    line += fmt::format(", kernel drops {}", stats.kernel_drops + stats.iface_drops);
  }
  return line;
}

capture::SourceStats TotalStats(std::vector<std::unique_ptr<capture::PacketSource>>& sources) {
  capture::SourceStats total;
  for (auto& source : sources) {
    total.Add(source->Stats());
  }
  return total;
}

// Replays pcap files one after the other into `table`. Returns false on a read error (logged).
bool ReplayFiles(std::vector<std::unique_ptr<capture::PacketSource>>& sources,
                 learn::FlowTable& table, ProgressMeter& progress, spdlog::logger& log) {
  capture::FileReplayOptions options;
  options.on_progress = [&](std::uint64_t frames) {
    progress.Update(frames, table.stats().flows_created);
  };
  options.on_warning = [&log](std::string_view warning) { log.warn("{}", warning); };
  auto replayed = capture::ReplayFiles(sources, table, options);
  if (!replayed) {
    log.error("{}", replayed.error().message);
    return false;
  }
  return true;
}

// Captures live until SIGINT/SIGTERM or the duration. Returns false if capture failed.
bool CaptureLive(std::vector<std::unique_ptr<capture::PacketSource>>& sources,
                 learn::FlowTable& table, ProgressMeter& progress, double duration_s,
                 const std::shared_ptr<spdlog::logger>& log) {
  asio::io_context io;
  capture::LiveCapture live(io, std::move(sources), table);
  live.SetFailureHandler([&log](const capture::SourceError& error) {
    log->error("{}", error.message);
    return capture::LiveCapture::FailureAction::kStopLoop;
  });
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer deadline(io);
  auto stop = [&] {
    live.Stop();
    signals.cancel();
    deadline.cancel();
  };
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (!ec) {
      log->info("signal {}: stopping capture", signo);
      stop();
    }
  });
  if (duration_s > 0) {
    deadline.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(duration_s)));
    deadline.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) {
        stop();
      }
    });
  }
  auto& live_sources = live.sources();
  const auto started = live.Start([&] {
    table.ExpireIdle(capture::WallClockUsec());
    std::uint64_t frames = 0;
    for (auto& source : live_sources) {
      frames += source->Stats().frames;
    }
    progress.Update(frames, table.stats().flows_created);
  });
  if (!started) {
    log->error("{}", started.error().message);
    sources = std::move(live_sources);
    return false;
  }
  log->info("capturing on {} interface(s){}", live_sources.size(),
            duration_s > 0 ? fmt::format(" for {}s", duration_s) : std::string(" until SIGINT"));
  io.run();
  live.Stop();
  sources = std::move(live_sources);
  return !live.failed();
}

// The learned graph, recording the node it was learned on (what `bulkhead merge` keeps apart).
policy::FlowGraph NodeGraph(const learn::GraphBuilder& builder,
                            const std::vector<std::string>& group_by,
                            const policy::GroupAssignment& groups,
                            const policy::Inventory& inventory) {
  auto graph = builder.Build(group_by, groups.groups);
  graph.nodes = {policy::NodeNameOf(inventory)};
  return graph;
}

// The capture's sources: the live interfaces, or else the pcap files; nullopt (said in one line)
// when one cannot be opened.
std::optional<std::vector<std::unique_ptr<capture::PacketSource>>> OpenSources(
    const LearnOptions& options, spdlog::logger& log) {
  std::vector<std::unique_ptr<capture::PacketSource>> sources;
  if (!options.interfaces.empty()) {
    capture::LiveConfig config;
    config.buffer_bytes = options.buffer_mib * 1024 * 1024;
    config.snaplen = options.snaplen;
    // A bridge port only sees frames addressed to it; learning needs every container's traffic.
    config.promiscuous = true;
    for (const auto& iface : options.interfaces) {
      auto source = capture::LiveSource::Open(iface, config);
      if (!source) {
        log.error("{}", source.error().message);
        return std::nullopt;
      }
      sources.push_back(std::move(*source));
    }
    return sources;
  }
  for (const auto& file : options.pcap_files) {
    auto source = capture::PcapFileSource::Open(file);
    if (!source) {
      log.error("{}", source.error().message);
      return std::nullopt;
    }
    sources.push_back(std::move(*source));
  }
  return sources;
}

// One warning per scan, naming its source as the graph's `scans:` does (`records`, in the same
// order as `scans`).
void LogScans(const std::vector<learn::ScanFinding>& scans,
              const std::vector<policy::ScanRecord>& records, spdlog::logger& log) {
  for (std::size_t i = 0; i < scans.size(); ++i) {
    const learn::ScanFinding& scan = scans[i];
    const policy::ScanRecord& record = records[i];
    const std::string address = scan.source.ToString();
    log.warn(
        "scan from {} ({}group {}): {} ports on {} peers, {} to {}, {} refused, {} incomplete "
        "(in the graph's scans, not its edges)",
        address, record.source == address ? std::string() : record.source + ", ", record.group,
        scan.ports_touched, scan.peers_touched, policy::FormatTimestamp(scan.first_usec),
        policy::FormatTimestamp(scan.last_usec), scan.refused, scan.incomplete);
  }
}

// Learns with `inventory` (named `inventory_name` in messages) from the sources the options
// name, and writes the graph. Shared by the file and Docker paths, so both capture, summarise
// and write exactly alike.
int LearnWithInventory(const LearnOptions& options, const policy::Inventory& inventory,
                       const std::string& inventory_name,
                       const std::shared_ptr<spdlog::logger>& log) {
  const auto group_by = options.group_by.empty() ? policy::DefaultGroupBy() : options.group_by;
  auto groups = policy::AssignGroups(inventory, group_by);
  if (!groups) {
    log->error("{}: {}", inventory_name, groups.error());
    return 1;
  }
  auto resolver = learn::GroupResolver::Create(inventory, *groups);
  if (!resolver) {
    log->error("{}: {}", inventory_name, resolver.error());
    return 1;
  }

  // A live capture runs for its whole duration before writing: find out now if it cannot.
  if (auto writable = policy::CheckWritable(options.output); !writable) {
    log->error("{}", writable.error());
    return 1;
  }

  // Open every source before reading any, so a bad file or interface fails fast.
  const bool live = !options.interfaces.empty();
  auto opened = OpenSources(options, *log);
  if (!opened) {
    return 1;
  }
  auto& sources = *opened;

  learn::GraphBuilder builder(*resolver, options.max_edges);
  learn::FlowTableConfig table_config;
  table_config.max_flows = options.max_flows;
  learn::FlowTable table(table_config, builder);
  ProgressMeter progress(options.progress);

  const bool ok = live ? CaptureLive(sources, table, progress, options.duration_s, log)
                       : ReplayFiles(sources, table, progress, *log);
  progress.Finish();
  if (!ok && !live) {
    return 1;  // a file that cannot be read: no graph, nothing written
  }
  table.Flush();

  // The scans go into the graph (its `scans:`) for the reviewer, not as edges: their attempts
  // failed, so there is nothing to allow.
  const auto scans = table.scans().Findings();
  auto records = learn::ScanRecords(scans, *resolver);
  auto graph = NodeGraph(builder, group_by, *groups, inventory);
  graph.scans = records;
  auto written = policy::WriteFileAtomically(options.output, policy::WriteFlowGraphYaml(graph));
  const auto stats = TotalStats(sources);
  LogScans(scans, records, *log);
  log->info("{}", SummaryLine(stats, table.stats(), builder, scans.size(), live));
  if (!written) {
    log->error("{}", written.error());
    return 1;
  }
  // A live capture that failed midway still wrote what it learned, but says so in its status.
  return ok ? 0 : 1;
}

// The socket --docker names: its value (a path or unix:// URL), else DOCKER_HOST when that is a
// unix:// URL, else the default socket (the docker CLI's order).
std::string DockerSocketFor(const LearnOptions& options,
                            const std::shared_ptr<spdlog::logger>& log) {
  constexpr std::string_view kUnix = "unix://";
  std::string_view value = options.docker_socket;
  if (value.starts_with(kUnix)) {
    value.remove_prefix(kUnix.size());
  }
  if (!value.empty()) {
    return std::string(value);
  }
  auto from_env = inventory::DockerSocketPath(std::getenv("DOCKER_HOST"));
  if (!from_env) {
    log->warn("{}; using {}", from_env.error().message, inventory::kDefaultDockerSocket);
    return std::string(inventory::kDefaultDockerSocket);
  }
  return *from_env;
}

// One Docker snapshot, taken on an io_context of its own: the inventory and the bridges to
// capture on. The capture that follows runs on another io_context (CaptureLive), after this one
// has finished.
boost::system::result<inventory::DockerSnapshot, inventory::DockerError> TakeDockerSnapshot(
    const std::string& socket, const std::shared_ptr<spdlog::logger>& log) {
  inventory::DockerSourceOptions source_options;
  source_options.client.socket_path = socket;
  // Learning resolves addresses to groups; host-side veths are not needed (and finding them
  // needs dockerd's network namespace).
  source_options.resolve_interfaces = false;
  asio::io_context io;
  inventory::DockerSource source(io.get_executor(), source_options, log);
  boost::system::result<inventory::DockerSnapshot, inventory::DockerError> snapshot =
      inventory::DockerFail("docker snapshot did not finish");
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { snapshot = co_await source.Snapshot(); },
      [&](const std::exception_ptr& error) {
        if (error) {
          try {
            std::rethrow_exception(error);
          } catch (const std::exception& e) {
            snapshot = inventory::DockerFail(socket + ": " + e.what());
          } catch (...) {
            snapshot = inventory::DockerFail(socket + ": unknown error");
          }
        }
      });
  io.run();
  return snapshot;
}

// Live learning on the bridges a runtime's containers or pods hang off, with its inventory.
// `source` names the runtime in messages ("docker /var/run/docker.sock").
int LearnOnBridges(const LearnOptions& options, const policy::Inventory& inventory,
                   const std::vector<std::string>& bridges, const std::string& source,
                   const std::shared_ptr<spdlog::logger>& log) {
  LearnOptions live = options;
  live.interfaces.clear();
  for (const auto& bridge : bridges) {
    // Two networks never share a bridge today, but capturing one twice would count every
    // packet twice, so do not rely on it.
    if (!bridge.empty() && std::find(live.interfaces.begin(), live.interfaces.end(), bridge) ==
                               live.interfaces.end()) {
      live.interfaces.push_back(bridge);
    }
  }
  if (live.interfaces.empty()) {
    log->error(
        "learn: no running workload on a bridge network at {} ({} running): nothing to "
        "capture",
        source, inventory.workloads.size());
    return 1;
  }
  log->info("{}: {} running workload(s) on bridge(s) {}", source, inventory.workloads.size(),
            fmt::join(live.interfaces, ", "));
  return LearnWithInventory(live, inventory, source, log);
}

int LearnFromDocker(const LearnOptions& options, const std::shared_ptr<spdlog::logger>& log) {
  const std::string socket = DockerSocketFor(options, log);
  auto snapshot = TakeDockerSnapshot(socket, log);
  if (!snapshot) {
    log->error("learn --docker: {}", snapshot.error().message);
    return 1;
  }
  std::vector<std::string> bridges;
  for (const auto& network : snapshot->networks) {
    bridges.push_back(network.bridge);
  }
  return LearnOnBridges(options, snapshot->inventory, bridges, "docker " + socket, log);
}

// One snapshot of the node's pods from its container runtime; the capture is on the bridges
// their veths are attached to (found through the pods' network namespaces, so as root beside
// the runtime).
int LearnFromCri(const LearnOptions& options, const std::shared_ptr<spdlog::logger>& log) {
  auto socket = inventory::CriSocketPath(options.cri_socket.empty() ? inventory::kDefaultCriSocket
                                                                    : options.cri_socket);
  if (!socket) {
    log->error("learn --cri: {}", socket.error().message);
    return 2;
  }
  inventory::CriSourceOptions source_options;
  source_options.client.socket_path = *socket;
  asio::io_context io;  // Snapshot() posts nothing; the source just needs an executor
  inventory::CriSource source(io.get_executor(), source_options, log);
  auto snapshot = source.Snapshot();
  if (!snapshot) {
    log->error("learn --cri: {}", snapshot.error().message);
    return 1;
  }
  if (snapshot->host_network_pods > 0) {
    log->info("cri {}: {} host-network pod(s): their traffic is the node's (host)", *socket,
              snapshot->host_network_pods);
  }
  return LearnOnBridges(options, snapshot->inventory, snapshot->bridges, "cri " + *socket, log);
}

}  // namespace

int RunLearn(const LearnOptions& options, const std::shared_ptr<spdlog::logger>& log) {
  const int sources = (options.pcap_files.empty() ? 0 : 1) + (options.interfaces.empty() ? 0 : 1) +
                      (options.docker ? 1 : 0) + (options.cri ? 1 : 0);
  if (sources != 1) {
    log->error(
        "learn: give one of --pcap FILE..., --iface IF..., --docker [SOCKET] or --cri [SOCKET]");
    return 2;
  }
  if (options.cri) {
    if (!options.inventory_file.empty()) {
      log->error("learn: --cri takes the inventory from the container runtime; drop --inventory");
      return 2;
    }
    return LearnFromCri(options, log);
  }
  if (options.docker) {
    if (!options.inventory_file.empty()) {
      log->error("learn: --docker takes the inventory from Docker; drop --inventory");
      return 2;
    }
    return LearnFromDocker(options, log);
  }
  if (options.inventory_file.empty()) {
    log->error("learn: --pcap and --iface need --inventory FILE");
    return 2;
  }
  auto inventory = inventory::LoadInventoryFile(options.inventory_file);
  if (!inventory) {
    log->error("{}", inventory.error());
    return 1;
  }
  return LearnWithInventory(options, *inventory, options.inventory_file, log);
}

}  // namespace bulkhead::cli

namespace bulkhead::cli {

void AddLearnCommand(CLI::App& app, std::vector<Command>& out) {
  auto learn = std::make_shared<LearnOptions>();
  auto* cmd = app.add_subcommand(
      "learn",
      "Capture traffic (pcap files, live interfaces, Docker's or a Kubernetes node's bridges) and "
      "learn the flow graph");
  cmd->footer(
      "--docker takes one snapshot of the running containers when learning starts: containers "
      "started later are not in the inventory (their traffic counts as world). The long-running "
      "agent (bulkhead agent, mode: learn) follows Docker's events instead. --cri likewise takes "
      "one snapshot of the node's pods from its container runtime (containerd, CRI-O); pods are "
      "grouped per namespace (shop/db) by app.kubernetes.io/name, app, k8s-app.");
  auto* pcap_opt = cmd->add_option("--pcap", learn->pcap_files, "pcap/pcapng file(s) to read")
                       ->check(CLI::ExistingFile);
  auto* iface_opt =
      cmd->add_option("--iface", learn->interfaces, "Interface(s) to capture on, live");
  auto* inventory_opt =
      cmd->add_option("--inventory", learn->inventory_file,
                      "Inventory file (kind: Inventory); required with --pcap and --iface");
  auto* docker_opt =
      cmd->add_option("--docker", learn->docker_socket,
                      "Inventory from Docker, live capture on its bridges. SOCKET: a path or "
                      "unix:// URL (default: DOCKER_HOST if unix://, else "
                      "/var/run/docker.sock)")
          ->expected(0, 1)
          ->type_name("[SOCKET]");
  pcap_opt->excludes(iface_opt);
  docker_opt->excludes(pcap_opt)->excludes(iface_opt)->excludes(inventory_opt);
  auto* cri_opt =
      cmd->add_option("--cri", learn->cri_socket,
                      "Inventory from a Kubernetes node's container runtime (CRI), live capture "
                      "on its pods' bridges. SOCKET: a path or unix:// URL (default: "
                      "/run/containerd/containerd.sock; CRI-O: /var/run/crio/crio.sock)")
          ->expected(0, 1)
          ->type_name("[SOCKET]");
  cri_opt->excludes(pcap_opt)->excludes(iface_opt)->excludes(inventory_opt)->excludes(docker_opt);
  cmd->add_option("--group-by", learn->group_by,
                  "Labels that name a group, in order (default: app,com.docker.compose.service)")
      ->delimiter(',');
  cmd->add_option("--duration", learn->duration_s, "Live capture: stop after S seconds")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-flows", learn->max_flows, "Flow table cap (evicts beyond it)")
      ->check(CLI::Range(static_cast<std::size_t>(1), static_cast<std::size_t>(100'000'000)));
  cmd->add_option("--max-edges", learn->max_edges,
                  "Graph cap: flows that would add an edge beyond it are counted and dropped")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--buffer-mib", learn->buffer_mib, "Live capture ring buffer, MiB")
      ->check(CLI::Range(static_cast<std::size_t>(1), static_cast<std::size_t>(4096)));
  cmd->add_option("--snaplen", learn->snaplen, "Bytes kept per packet (headers only)")
      ->check(CLI::Range(96, 65535));
  cmd->add_option("-o,--output", learn->output, "Graph file to write ('-' = stdout)");
  out.push_back({cmd, [learn, docker_opt, cri_opt](const Logger& log) {
                   learn->docker = docker_opt->count() > 0;
                   learn->cri = cri_opt->count() > 0;
                   learn->progress = ::isatty(STDERR_FILENO) == 1;
                   return RunLearn(*learn, log);
                 }});
}

}  // namespace bulkhead::cli
