// Fuzz target for ParseFlowGraph (STYLE.md rule 15). Beyond "no crash, no sanitizer report", it
// checks the writers' contract on every input the reader accepts: the YAML and the JSON output
// read back to the same graph, and writing is stable; and the cluster merge's idempotence: a graph
// that records its node(s), merged with itself, is itself.
#include <cstdint>
#include <string_view>

#include "policy/flow_graph_codec.h"
#include "policy/graph_merge.h"
#include "tests/fuzz/promise.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace bulkhead::policy;
  using bulkhead::fuzz::Promise;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto graph = ParseFlowGraph(text, "fuzz.yaml");
  if (!graph) {
    // Every rejection carries at least one located message.
    Promise(!graph.error().errors.empty(), "a rejection has at least one located message");
    return 0;
  }
  const std::string yaml = WriteFlowGraphYaml(*graph);
  auto from_yaml = ParseFlowGraph(yaml, "again.yaml");
  Promise(from_yaml && *from_yaml == *graph, "the YAML written reads back as the same graph");
  Promise(WriteFlowGraphYaml(*from_yaml) == yaml, "writing the YAML is stable");
  auto from_json = ParseFlowGraph(WriteFlowGraphJson(*graph), "again.json");
  Promise(from_json && *from_json == *graph, "the JSON written reads back as the same graph");
  if (!graph->nodes.empty()) {
    auto merged = MergeClusterGraphs({{&*graph, "a"}, {&*graph, "b"}});
    Promise(merged && *merged == *graph, "a graph merged with itself is itself");
  }
  (void)WriteFlowGraphDot(*graph);
  return 0;
}
