// Fuzz target for ParseFlowGraph (STYLE.md rule 15). Beyond "no crash, no sanitizer report", it
// checks the writers' contract on every input the reader accepts: the YAML and the JSON output
// read back to the same graph, and writing is stable; and the cluster merge's idempotence: a graph
// that records its node(s), merged with itself, is itself.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/flow_graph_codec.h"
#include "policy/graph_merge.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace bulkhead::policy;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto graph = ParseFlowGraph(text, "fuzz.yaml");
  if (!graph) {
    // Every rejection carries at least one located message.
    if (graph.error().errors.empty()) {
      std::abort();
    }
    return 0;
  }
  const std::string yaml = WriteFlowGraphYaml(*graph);
  auto from_yaml = ParseFlowGraph(yaml, "again.yaml");
  if (!from_yaml || *from_yaml != *graph || WriteFlowGraphYaml(*from_yaml) != yaml) {
    std::abort();
  }
  auto from_json = ParseFlowGraph(WriteFlowGraphJson(*graph), "again.json");
  if (!from_json || *from_json != *graph) {
    std::abort();
  }
  if (!graph->nodes.empty()) {
    auto merged = MergeClusterGraphs({{&*graph, "a"}, {&*graph, "b"}});
    if (!merged || *merged != *graph) {
      std::abort();
    }
  }
  (void)WriteFlowGraphDot(*graph);
  return 0;
}
