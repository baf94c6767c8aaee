#pragma once

#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>

namespace bulkhead::cli {

struct ExportOptions {
  std::string input;
  std::string format = "yaml";  // yaml | json | dot | networkpolicy
  std::string output = "-";
  // networkpolicy only:
  std::vector<std::string> cluster_cidrs;  // pod and service ranges, cut out of `world`
  std::string inventory_file;              // the node's addresses stand for `host`
  std::string group_namespace;             // where groups without a pod namespace go
  std::vector<std::string> node_cidrs;     // the cluster's node addresses stand for `nodes`
};

// `bulkhead export`: reads a FlowGraph (YAML or JSON) and writes it in another format, or reads a
// Policy and writes Kubernetes NetworkPolicy objects (`--format networkpolicy`).
int RunExport(const ExportOptions& options, const std::shared_ptr<spdlog::logger>& log);

}  // namespace bulkhead::cli
