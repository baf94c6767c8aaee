#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "learn/graph_builder.h"

namespace bulkhead::cli {

// `bulkhead learn`: what the command line asked for.
struct LearnOptions {
  std::vector<std::string> pcap_files;
  std::vector<std::string> interfaces;
  std::string inventory_file;
  // --docker: take the inventory from one Docker snapshot and capture on its bridges. The
  // socket is a path or a unix:// URL; empty with `docker` set: DOCKER_HOST, else the default.
  bool docker = false;
  std::string docker_socket;
  // --cri: likewise from a Kubernetes node's container runtime; empty socket: containerd's.
  bool cri = false;
  std::string cri_socket;
  std::vector<std::string> group_by;  // empty: the default (app, com.docker.compose.service)
  double duration_s = 0;              // live capture: stop after this long; 0 = until SIGINT
  std::size_t max_flows = 1'000'000;
  std::size_t max_edges = learn::kDefaultMaxEdges;
  std::size_t buffer_mib = 64;
  int snaplen = 256;
  std::string output = "-";
  bool progress = false;  // packets/s on stderr (set when stderr is a terminal)
};

// Runs learning to completion and writes the graph. Returns the process exit status; errors are
// reported as one line on stderr through `log`.
int RunLearn(const LearnOptions& options, const std::shared_ptr<spdlog::logger>& log);

}  // namespace bulkhead::cli
