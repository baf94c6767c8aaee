#include "cli/export_command.h"

#include "cli/command.h"
#include "inventory/static_file_source.h"
#include "policy/atomic_file.h"
#include "policy/flow_graph_codec.h"
#include "policy/network_policy.h"
#include "policy/policy_codec.h"

namespace bulkhead::cli {
namespace {

// A Policy as NetworkPolicy objects. What they cannot express, and groups left without DNS, go to
// standard error as warnings as well as into the file's header comment.
int RunNetworkPolicyExport(const ExportOptions& options, const Logger& log) {
  auto policy = policy::LoadPolicyFile(options.input);
  if (!policy) {
    LogFileErrors(log, policy.error());
    return 1;
  }
  policy::NetworkPolicyOptions np;
  np.cluster_cidrs = options.cluster_cidrs;
  np.node_cidrs = options.node_cidrs;
  np.group_namespace = options.group_namespace;
  np.source = options.input;
  if (!options.inventory_file.empty()) {
    auto inventory = inventory::LoadInventoryFile(options.inventory_file);
    if (!inventory) {
      log->error("{}", inventory.error());
      return 1;
    }
    np.host_addresses = inventory->host.addresses;
  }
  auto exported = policy::ExportNetworkPolicies(*policy, np);
  if (!exported) {
    log->error("{}", exported.error().message);
    return 1;
  }
  for (const std::string& warning : exported->dns_warnings) {
    log->warn("{}", warning);
  }
  for (const std::string& note : exported->not_expressible) {
    log->warn("not expressible in NetworkPolicy, not exported: {}", note);
  }
  auto written = policy::WriteFileAtomically(options.output, exported->yaml);
  if (!written) {
    log->error("{}", written.error());
    return 1;
  }
  return 0;
}

}  // namespace

int RunExport(const ExportOptions& options, const std::shared_ptr<spdlog::logger>& log) {
  if (options.format == "networkpolicy") {
    return RunNetworkPolicyExport(options, log);
  }
  if (!options.cluster_cidrs.empty() || !options.inventory_file.empty() ||
      !options.group_namespace.empty() || !options.node_cidrs.empty()) {
    log->error(
        "--cluster-cidr, --node-cidr, --inventory and --namespace apply only to --format "
        "networkpolicy");
    return 2;
  }
  auto graph = policy::LoadFlowGraphFile(options.input);
  if (!graph) {
    LogFileErrors(log, graph.error());
    return 1;
  }
  std::string out;
  if (options.format == "yaml") {
    out = policy::WriteFlowGraphYaml(*graph);
  } else if (options.format == "json") {
    out = policy::WriteFlowGraphJson(*graph);
  } else if (options.format == "dot") {
    out = policy::WriteFlowGraphDot(*graph);
  } else {
    // CLI11 restricts the choices; this guards the invariant if a caller does not.
    log->error("--format: unknown format '{}' (yaml, json, dot, networkpolicy)", options.format);
    return 2;
  }
  auto written = policy::WriteFileAtomically(options.output, out);
  if (!written) {
    log->error("{}", written.error());
    return 1;
  }
  return 0;
}

}  // namespace bulkhead::cli

namespace bulkhead::cli {

void AddExportCommand(CLI::App& app, std::vector<Command>& out) {
  auto exp = std::make_shared<ExportOptions>();
  auto* cmd = app.add_subcommand(
      "export",
      "Write a flow graph in another format (yaml, json, dot), or a policy as Kubernetes "
      "NetworkPolicy objects (networkpolicy)");
  cmd->add_option("graph", exp->input, "Flow graph (YAML or JSON); a Policy for networkpolicy")
      ->required();
  cmd->add_option("--format", exp->format, "Output format")
      ->check(CLI::IsMember({"yaml", "json", "dot", "networkpolicy"}));
  cmd->add_option("-o,--output", exp->output, "File to write ('-' = stdout)");
  cmd->add_option("--cluster-cidr", exp->cluster_cidrs,
                  "networkpolicy: pod and service ranges (CIDR,...), cut out of `world`")
      ->delimiter(',');
  cmd->add_option("--node-cidr", exp->node_cidrs,
                  "networkpolicy: the cluster's node addresses or networks (ADDR[/N],...), which "
                  "stand for `nodes`")
      ->delimiter(',');
  cmd->add_option("--inventory", exp->inventory_file,
                  "networkpolicy: an Inventory whose host addresses stand for `host`");
  cmd->add_option("--namespace", exp->group_namespace,
                  "networkpolicy: the namespace of groups without a pod namespace (Docker hosts)");
  out.push_back({cmd, [exp](const Logger& log) { return RunExport(*exp, log); }});
}

}  // namespace bulkhead::cli
