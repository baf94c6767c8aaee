#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "policy/file_error.h"
#include "policy/model.h"

namespace bulkhead::policy {

// YAML is the source of truth (DESIGN.md "File formats"). Output is deterministic: the graph is
// normalized first and keys are written in a fixed order, so equal graphs give equal bytes.
std::string WriteFlowGraphYaml(const FlowGraph& graph);
// JSON mirrors the YAML key for key.
std::string WriteFlowGraphJson(const FlowGraph& graph);
// Graphviz DOT: one node per group, one arrow per edge labelled "proto/port (connections)".
std::string WriteFlowGraphDot(const FlowGraph& graph);

// The largest FlowGraph file the reader accepts. A graph spends ~250 bytes of text per edge (its
// statistics and examples) against ~55 for a policy rule, and its model is not compiled: the
// 24.7 MB, 100,000-edge graph of bench/gen_big_policy.py --graph is approved at 105 MiB peak
// (~4.3x its size), so 48 MiB of graph stays near 210 MiB, inside a 256 MiB container.
inline constexpr std::size_t kMaxFlowGraphBytes = std::size_t{48} << 20;

// Reads `kind: FlowGraph` from YAML (or JSON, which the YAML reader accepts). Unknown keys, a
// wrong kind or apiVersion, bad protocols/ports/timestamps and edges naming unknown groups are
// errors; every error is reported with file:line:column.
boost::system::result<FlowGraph, FileErrors> ParseFlowGraph(std::string_view text,
                                                            std::string_view file_name);

// Reads `path` ("-" = standard input) and parses it; a file that cannot be read is one FileError
// naming the file.
boost::system::result<FlowGraph, FileErrors> LoadFlowGraphFile(const std::string& path);

}  // namespace bulkhead::policy
