#pragma once

#include <memory>
#include <string>

#include <spdlog/logger.h>

namespace bulkhead::cli {

struct ExportOptions {
  std::string input;
  std::string format = "yaml";  // yaml | json | dot
  std::string output = "-";
};

// `bulkhead export`: reads a FlowGraph (YAML or JSON) and writes it in another format.
int RunExport(const ExportOptions& options, const std::shared_ptr<spdlog::logger>& log);

}  // namespace bulkhead::cli
