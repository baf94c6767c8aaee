// `bulkhead report graph.yaml [--policy P] [--violations V] [--format html|svg] -o FILE`: the
// review page (policy/report.h). The files are read and `dot` is run here, at the edge; the
// page itself is written by policy/.
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "cli/command.h"
#include "cli/graphviz.h"
#include "policy/atomic_file.h"
#include "policy/flow_graph_codec.h"
#include "policy/policy_codec.h"
#include "policy/report.h"

namespace bulkhead::cli {
namespace {

struct ReportOptions {
  std::string graph_file;
  std::string policy_file;
  std::string violations_file;
  std::string format = "html";
  std::string output = "-";
};

std::string StringAt(const boost::json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : "";
}

// The agent's lines (daemon/violations.h): {"time","verdict","from":{workload,group,address},
// "to":{...},"protocol","port"}; lines of another `kind` (an exec) name one `group`.
std::optional<policy::ReportViolation> ParseViolationLine(std::string_view line) {
  boost::system::error_code ec;
  auto value = boost::json::parse(line, ec);
  if (ec || !value.is_object()) {
    return std::nullopt;
  }
  const auto& object = value.get_object();
  policy::ReportViolation v;
  v.time = StringAt(object, "time");
  v.kind = StringAt(object, "kind");
  v.kind = v.kind.empty() ? "connection" : v.kind;
  v.verdict = StringAt(object, "verdict");
  v.protocol = StringAt(object, "protocol");
  for (auto [key, group, workload] : {std::tuple{"from", &v.from_group, &v.from_workload},
                                      std::tuple{"to", &v.to_group, &v.to_workload}}) {
    if (const auto* end = object.if_contains(key); end != nullptr && end->is_object()) {
      *group = StringAt(end->get_object(), "group");
      *workload = StringAt(end->get_object(), "workload");
    }
  }
  if (v.from_group.empty() && v.to_group.empty()) {
    v.to_group = StringAt(object, "group");
    v.to_workload = StringAt(object, "container");
  }
  if (const auto* port = object.if_contains("port");
      port != nullptr && port->is_int64() && port->get_int64() >= 0 && port->get_int64() <= 65535) {
    v.port = static_cast<std::uint16_t>(port->get_int64());
  }
  return v;
}

boost::system::result<std::vector<policy::ReportViolation>, std::string> LoadViolations(
    const std::string& path) {
  auto text = policy::ReadWholeFile(path);
  if (!text) {
    return text.error();
  }
  std::vector<policy::ReportViolation> out;
  std::istringstream lines(*text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      continue;
    }
    auto v = ParseViolationLine(line);
    if (!v) {
      return path + ":" + std::to_string(number) + ": not a JSON object (one violation per line)";
    }
    out.push_back(std::move(*v));
  }
  return out;
}

int RunReport(const ReportOptions& options, const Logger& log) {
  policy::ReportInput input;
  input.graph_name = options.graph_file;
  auto graph = policy::LoadFlowGraphFile(options.graph_file);
  if (!graph) {
    LogFileErrors(log, graph.error());
    return 2;
  }
  input.graph = std::move(*graph);
  if (!options.policy_file.empty()) {
    auto policy = policy::LoadPolicyFile(options.policy_file);
    if (!policy) {
      LogFileErrors(log, policy.error());
      return 2;
    }
    input.policy = std::move(*policy);
  }
  if (!options.violations_file.empty()) {
    auto violations = LoadViolations(options.violations_file);
    if (!violations) {
      log->error("{}", violations.error());
      return 2;
    }
    input.violations = std::move(*violations);
  }
  auto svg = RenderSvgWithDot(policy::WriteReportDot(input));
  if (!svg) {
    log->error("{}", svg.error().message);
    return 2;
  }
  const std::string picture = policy::InlineSvg(*svg);
  auto written = policy::WriteFileAtomically(
      options.output, options.format == "svg" ? *svg : policy::WriteReportHtml(input, picture));
  if (!written) {
    log->error("{}", written.error());
    return 2;
  }
  return 0;
}

}  // namespace

void AddReportCommand(CLI::App& app, std::vector<Command>& out) {
  auto options = std::make_shared<ReportOptions>();
  auto* cmd = app.add_subcommand(
      "report", "One self-contained HTML review page of a flow graph (or its picture as SVG)");
  cmd->add_option("graph", options->graph_file, "Flow graph (YAML or JSON)")->required();
  cmd->add_option("--policy", options->policy_file,
                  "Policy to compare with: unapproved edges and never-seen rules");
  cmd->add_option("--violations", options->violations_file,
                  "The agent's violations file (JSON lines), grouped by pair");
  cmd->add_option("--format", options->format, "html (default) or svg (the picture alone)")
      ->check(CLI::IsMember({"html", "svg"}));
  cmd->add_option("-o,--output", options->output, "File to write ('-' = stdout, the default)");
  out.push_back({cmd, [options](const Logger& log) { return RunReport(*options, log); }});
}

}  // namespace bulkhead::cli
