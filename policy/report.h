#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/model.h"
#include "policy/policy.h"
#include "policy/policy_match.h"

// The review page (`bulkhead report`): one self-contained HTML file (no fetches, no external
// scripts, fonts or styles) with the graph drawn by Graphviz as inline SVG, and tables of
// groups, edges, the lateral-movement analysis, the policy comparison and violations. Pure text
// in, text out: the command runs `dot` and reads the files. Every string from a capture, an
// inventory or a label goes through codec::HtmlEscape (or codec::DotEscape into the drawing),
// and the output depends only on the inputs (same inputs, same bytes).
namespace bulkhead::policy {

// One line of the agent's violations file (daemon/violations.h), as far as the report needs it.
// `kind` is "connection" for the enforcer's lines and whatever the line says otherwise ("exec").
struct ReportViolation {
  std::string time;  // RFC 3339 as written by the agent
  std::string kind;
  std::string verdict;
  std::string from_group;
  std::string to_group;
  std::string from_workload;
  std::string to_workload;
  std::string protocol;
  std::uint16_t port = 0;
};

struct ReportInput {
  std::string graph_name;  // the graph file's name, for the title
  FlowGraph graph;
  std::optional<Policy> policy;
  std::optional<std::vector<ReportViolation>> violations;  // set when --violations was given
};

// Graphviz DOT for the picture: one node per group (its member count), one edge per ordered
// pair of groups with every protocol/port between them in its label (so 500 edges stay
// readable), `host` and `world` drawn apart, edges into the host and to sensitive ports marked,
// and, with a policy, unapproved edges and never-seen rules highlighted. Above 150 pairs
// the edge labels become tooltips (layout time; see report_dot.cc). Node and edge `class`
// attributes carry the group indexes the page's filter uses.
std::string WriteReportDot(const ReportInput& input);

// `dot -Tsvg` output made fit to inline: the XML declaration, the DOCTYPE (it names an external
// DTD) and comments (they carry Graphviz's version) removed. Empty when there is no <svg>.
std::string InlineSvg(std::string_view svg);

// The page. `svg` is InlineSvg(dot -Tsvg of WriteReportDot(input)).
std::string WriteReportHtml(const ReportInput& input, std::string_view svg);

// `bulkhead diff --format html`: the lines as a page, additions and removals coloured.
std::string WriteDiffHtml(std::string_view first_name, std::string_view second_name,
                          const std::vector<DiffLine>& lines);

}  // namespace bulkhead::policy
