#include "policy/review_input.h"

#include "codec/yaml_reader.h"
#include "policy/flow_graph_codec.h"
#include "policy/policy_codec.h"

namespace bulkhead::policy {

boost::system::result<PolicyOrGraph, FileErrors> ParsePolicyOrGraph(std::string_view text,
                                                                    std::string_view file_name) {
  // The file's own `kind` picks the reader; without one (or with another) the FlowGraph reader
  // says what is wrong, as it did when graphs were the only input.
  if (codec::PeekKind(text) == "Policy") {
    auto policy = ParsePolicy(text, file_name);
    if (!policy) {
      return policy.error();
    }
    return PolicyOrGraph{std::move(*policy), std::nullopt};
  }
  auto graph = ParseFlowGraph(text, file_name);
  if (!graph) {
    return graph.error();
  }
  return PolicyOrGraph{std::nullopt, std::move(*graph)};
}

boost::system::result<PolicyOrGraph, FileErrors> LoadPolicyOrGraphFile(const std::string& path) {
  return codec::LoadDocumentFile(path, ParsePolicyOrGraph, kMaxFlowGraphBytes);
}

}  // namespace bulkhead::policy
