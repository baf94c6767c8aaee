#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "policy/file_error.h"
#include "policy/model.h"
#include "policy/policy.h"

// The review commands (`analyze`, `diff`) take a policy or a learned graph: the file's `kind`
// says which.
namespace bulkhead::policy {

// Exactly one of the two is set.
struct PolicyOrGraph {
  std::optional<Policy> policy;
  std::optional<FlowGraph> graph;
};

// Parses `text` as a FlowGraph, and as a Policy when its kind is not FlowGraph. The errors are
// those of the kind the file says it is (a FlowGraph's when it says neither).
boost::system::result<PolicyOrGraph, FileErrors> ParsePolicyOrGraph(std::string_view text,
                                                                    std::string_view file_name);
// Reads `path` ("-" = standard input) and parses it as above.
boost::system::result<PolicyOrGraph, FileErrors> LoadPolicyOrGraphFile(const std::string& path);

}  // namespace bulkhead::policy
