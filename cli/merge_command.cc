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
  // One file at a time: read, add, drop, so memory is the merged graph plus one input. Every
  // unreadable file is reported (reading goes on, merging stops); a conflict ends the run.
  policy::ClusterGraphMerge merge;
  bool ok = true;
  for (const auto& path : options.inputs) {
    auto graph = policy::LoadFlowGraphFile(path);
    if (!graph) {
      LogFileErrors(log, graph.error());
      ok = false;
      continue;
    }
    if (!ok) {
      continue;
    }
    if (auto added = merge.Add(*graph, path == "-" ? "standard input" : path); !added) {
      log->error("{}", added.error());
      return 2;
    }
  }
  if (!ok) {
    return 2;
  }
  const policy::FlowGraph merged = merge.Finish();
  auto written = policy::WriteFileAtomically(options.output, policy::WriteFlowGraphYaml(merged));
  if (!written) {
    log->error("{}", written.error());
    return 2;
  }
  log->info("merged: {} graphs, {} nodes, {} groups, {} edges", options.inputs.size(),
            merged.nodes.size(), merged.groups.size(), merged.edges.size());
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
