#include "policy/review_input.h"

#include <algorithm>

#include "codec/yaml_reader.h"
#include "policy/flow_graph_codec.h"
#include "policy/policy_codec.h"

namespace bulkhead::policy {

boost::system::result<PolicyOrGraph, FileErrors> ParsePolicyOrGraph(std::string_view text,
                                                                    std::string_view file_name) {
  auto graph = ParseFlowGraph(text, file_name);
  if (graph) {
    return PolicyOrGraph{std::nullopt, std::move(*graph)};
  }
  // CheckHeader's words when the file names another kind: "kind must be FlowGraph, not ...".
  // (result::error() returns a copy: keep one.)
  FileErrors graph_errors = graph.error();
  const bool says_policy = std::any_of(
      graph_errors.errors.begin(), graph_errors.errors.end(),
      [](const auto& e) { return e.message == "kind must be FlowGraph, not \"Policy\""; });
  if (!says_policy) {
    return graph_errors;
  }
  auto policy = ParsePolicy(text, file_name);
  if (!policy) {
    return policy.error();
  }
  return PolicyOrGraph{std::move(*policy), std::nullopt};
}

boost::system::result<PolicyOrGraph, FileErrors> LoadPolicyOrGraphFile(const std::string& path) {
  return codec::LoadDocumentFile(path, ParsePolicyOrGraph, kMaxFlowGraphBytes);
}

}  // namespace bulkhead::policy
