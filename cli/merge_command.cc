// `bulkhead merge a.yaml b.yaml ... -o cluster.yaml`: the graphs of a cluster's nodes (or graphs
// already merged) become one graph that keeps each node's share of every edge. The merge is
// policy::MergeClusterGraphs: commutative, associative and idempotent, so the output has the
// same bytes whatever the order of the files, and merging a node's newer snapshot into a merged
// graph replaces its older one instead of counting it twice.
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "policy/atomic_file.h"
#include "policy/flow_graph_codec.h"
#include "policy/graph_merge.h"

namespace bulkhead::cli {
namespace {

struct MergeOptions {
  std::vector<std::string> inputs;
  std::string output = "-";
};

int RunMerge(const MergeOptions& options, const Logger& log) {
  // Every file is read (and every bad one reported) before anything is merged.
  std::vector<policy::FlowGraph> graphs;
  std::vector<std::string> names;
  bool ok = true;
  for (const auto& path : options.inputs) {
    auto graph = policy::LoadFlowGraphFile(path);
    if (!graph) {
      LogFileErrors(log, graph.error());
      ok = false;
      continue;
    }
    graphs.push_back(std::move(*graph));
    names.push_back(path == "-" ? std::string("standard input") : path);
  }
  if (!ok) {
    return 2;
  }
  std::vector<policy::NamedGraph> named;
  for (std::size_t i = 0; i < graphs.size(); ++i) {
    named.push_back({&graphs[i], names[i]});
  }
  auto merged = policy::MergeClusterGraphs(named);
  if (!merged) {
    log->error("{}", merged.error());
    return 2;
  }
  auto written = policy::WriteFileAtomically(options.output, policy::WriteFlowGraphYaml(*merged));
  if (!written) {
    log->error("{}", written.error());
    return 2;
  }
  log->info("merged: {} graphs, {} nodes, {} groups, {} edges", graphs.size(), merged->nodes.size(),
            merged->groups.size(), merged->edges.size());
  return 0;
}

}  // namespace

void AddMergeCommand(CLI::App& app, std::vector<Command>& out) {
  auto options = std::make_shared<MergeOptions>();
  auto* cmd = app.add_subcommand(
      "merge", "Merge per-node flow graphs (or merged ones) into one cluster graph, in any order");
  cmd->add_option("graphs", options->inputs, "Flow graphs (YAML or JSON), each recording its node")
      ->required();
  cmd->add_option("-o,--output", options->output, "Graph file to write ('-' = stdout)");
  out.push_back({cmd, [options](const Logger& log) { return RunMerge(*options, log); }});
}

}  // namespace bulkhead::cli
