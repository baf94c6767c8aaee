#include "daemon/agent_config.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace bulkhead::daemon {
namespace {

using policy::Mode;

using std::chrono::milliseconds;

// The example of the common brief, every optional key given.
constexpr std::string_view kFull = R"(mode: enforce                 # learn | monitor | enforce
policy: /etc/bulkhead/policy.yaml      # required in monitor/enforce
graph: /var/lib/bulkhead/graph.yaml    # required in learn
snapshotInterval: 30s                  # ms, s, m, h
inventory: {docker: unix:///var/run/docker.sock}   # or {file: inventory.yaml}
nflogGroup: 7
metrics: 127.0.0.1:9470
control: /run/bulkhead/control.sock
violations: /var/log/bulkhead/violations.jsonl
interfaces: [br0, docker0]
groupBy: [app, com.docker.compose.service]
removeRulesOnExit: true
logFormat: json
violationLogRate: 50
hostName: node-1
)";

// The smallest valid files of each kind.
constexpr std::string_view kMinimalLearn =
    "mode: learn\ngraph: g.yaml\ninventory: {file: inv.yaml}\n";
constexpr std::string_view kMinimalEnforce =
    "mode: enforce\npolicy: p.yaml\ninventory: {docker: unix:///run/docker.sock}\n";

AgentConfig Parse(std::string_view text) {
  auto result = ParseAgentConfig(text, "agent.yaml");
  EXPECT_TRUE(result) << (result ? "" : result.error().ToString()) << "\nin:\n" << text;
  return result ? *result : AgentConfig{};
}

// Every error of `text` as "line:col: message".
std::vector<std::string> Errors(std::string_view text) {
  auto result = ParseAgentConfig(text, "agent.yaml");
  EXPECT_FALSE(result) << "accepted:\n" << text;
  std::vector<std::string> out;
  if (result) {
    return out;
  }
  for (const auto& e : result.error().errors) {
    EXPECT_EQ(e.file, "agent.yaml");
    out.push_back(std::to_string(e.line) + ":" + std::to_string(e.column) + ": " + e.message);
  }
  return out;
}

// The single error of `text`.
std::string OneError(std::string_view text) {
  const auto errors = Errors(text);
  EXPECT_EQ(errors.size(), 1U) << ::testing::PrintToString(errors);
  return errors.empty() ? "" : errors.front();
}

// The minimal learn file plus `line` (which must be the only problem).
std::string LearnWith(std::string_view line) {
  return std::string(kMinimalLearn) + std::string(line) + "\n";
}

TEST(ParseDuration, UnitsAndRejects) {
  EXPECT_EQ(ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(ParseDuration("30s"), milliseconds(30'000));
  EXPECT_EQ(ParseDuration("5m"), milliseconds(300'000));
  EXPECT_EQ(ParseDuration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(ParseDuration("0s"), milliseconds(0));
  for (const char* bad : {"", "30", "s", "-1s", "+1s", "1.5s", "30 s", " 30s", "30S", "1d", "10sec",
                          "1hms", "1000000000000000000h", "9999999999999999999ms"}) {
    EXPECT_EQ(ParseDuration(bad), std::nullopt) << bad;
  }
  // The largest hour count that fits in int64 milliseconds is accepted; one digit more is not.
  EXPECT_EQ(ParseDuration("999999999999999999ms"), milliseconds(999'999'999'999'999'999));
}

TEST(AgentConfig, FullExample) {
  const AgentConfig c = Parse(kFull);
  EXPECT_EQ(c.mode, Mode::kEnforce);
  EXPECT_EQ(c.policy_file, "/etc/bulkhead/policy.yaml");
  EXPECT_EQ(c.graph_file, "/var/lib/bulkhead/graph.yaml");
  EXPECT_EQ(c.snapshot_interval, milliseconds(30'000));
  EXPECT_EQ(c.docker_socket, "/var/run/docker.sock");
  EXPECT_EQ(c.inventory_file, "");
  EXPECT_EQ(c.nflog_group, 7);
  EXPECT_EQ(c.metrics_host, "127.0.0.1");
  EXPECT_EQ(c.metrics_port, 9470);
  EXPECT_EQ(c.control_socket, "/run/bulkhead/control.sock");
  EXPECT_EQ(c.violations_file, "/var/log/bulkhead/violations.jsonl");
  EXPECT_EQ(c.interfaces, (std::vector<std::string>{"br0", "docker0"}));
  EXPECT_EQ(c.group_by, (std::vector<std::string>{"app", "com.docker.compose.service"}));
  EXPECT_TRUE(c.remove_rules_on_exit);
  EXPECT_EQ(c.log_format, LogFormat::kJson);
  EXPECT_EQ(c.violation_log_rate, 50U);
  EXPECT_EQ(c.host_name, "node-1");
}

TEST(AgentConfig, DefaultsOfAMinimalFile) {
  const AgentConfig c = Parse(kMinimalLearn);
  EXPECT_EQ(c.mode, Mode::kLearn);
  EXPECT_EQ(c.graph_file, "g.yaml");
  EXPECT_EQ(c.inventory_file, "inv.yaml");
  EXPECT_EQ(c.docker_socket, "");
  EXPECT_EQ(c.snapshot_interval, milliseconds(30'000));
  EXPECT_EQ(c.nflog_group, 7);
  EXPECT_EQ(c.metrics_host, "");
  EXPECT_EQ(c.metrics_port, 0);
  EXPECT_EQ(c.control_socket, "/run/bulkhead/control.sock");
  EXPECT_EQ(c.violations_file, "");
  EXPECT_TRUE(c.interfaces.empty());
  EXPECT_TRUE(c.group_by.empty());
  EXPECT_FALSE(c.remove_rules_on_exit);
  EXPECT_EQ(c.log_format, LogFormat::kText);
  EXPECT_EQ(c.violation_log_rate, 20U);
  EXPECT_EQ(c.host_name, "");

  const AgentConfig e = Parse(kMinimalEnforce);
  EXPECT_EQ(e.mode, Mode::kEnforce);
  EXPECT_EQ(e.policy_file, "p.yaml");
  EXPECT_EQ(e.docker_socket, "/run/docker.sock");
  EXPECT_EQ(Parse("mode: monitor\npolicy: p.yaml\ninventory: {file: i.yaml}\n").mode,
            Mode::kMonitor);
}

TEST(AgentConfig, JsonIsAcceptedToo) {
  const AgentConfig c = Parse(
      R"({"mode": "learn", "graph": "g.yaml", "inventory": {"file": "i.yaml"},
          "removeRulesOnExit": false, "nflogGroup": 9})");
  EXPECT_EQ(c.graph_file, "g.yaml");
  EXPECT_EQ(c.nflog_group, 9);
}

TEST(AgentConfig, HeaderIsOptionalButChecked) {
  EXPECT_EQ(
      Parse("apiVersion: bulkhead/v1\nkind: AgentConfig\n" + std::string(kMinimalLearn)).graph_file,
      "g.yaml");
  EXPECT_EQ(OneError(LearnWith("apiVersion: bulkhead/v2")),
            "4:13: apiVersion must be bulkhead/v1, not \"bulkhead/v2\"");
  EXPECT_EQ(OneError(LearnWith("kind: Policy")), "4:7: kind must be AgentConfig, not \"Policy\"");
}

TEST(AgentConfig, UnknownAndDuplicateKeys) {
  EXPECT_EQ(OneError(LearnWith("removeRuleOnExit: true")).substr(0, 46),
            "4:1: unknown key \"removeRuleOnExit\" in the age");
  EXPECT_EQ(OneError(LearnWith("graph: other.yaml")),
            "4:1: key \"graph\" given twice in the agent configuration");
  EXPECT_EQ(
      OneError("mode: learn\ngraph: g.yaml\ninventory: {file: i.yaml, socket: x}\n").substr(0, 39),
      "3:27: unknown key \"socket\" in inventory");
}

TEST(AgentConfig, NotAMap) {
  EXPECT_EQ(OneError("- mode: learn\n"), "1:1: the agent configuration must be a map, not a list");
  EXPECT_EQ(OneError(""), "1:1: the file is empty; expected a YAML or JSON mapping");
  EXPECT_EQ(OneError("mode: [learn\n").substr(0, 4), "2:1:");  // a syntax error, located
}

TEST(AgentConfig, Mode) {
  EXPECT_EQ(OneError("graph: g.yaml\ninventory: {file: i.yaml}\n"),
            "1:1: missing \"mode\" in the agent configuration");
  EXPECT_EQ(OneError("mode: enforcing\ngraph: g.yaml\ninventory: {file: i.yaml}\n"),
            "1:7: unknown mode \"enforcing\" (learn, monitor, enforce)");
  EXPECT_EQ(OneError("mode: [learn]\ngraph: g.yaml\ninventory: {file: i.yaml}\n"),
            "1:7: mode must be a string, not a list");
}

TEST(AgentConfig, PolicyOrGraphRequiredByMode) {
  EXPECT_EQ(OneError("mode: learn\npolicy: p.yaml\ninventory: {file: i.yaml}\n"),
            "1:1: missing \"graph\": learn mode writes the flow graph there");
  EXPECT_EQ(OneError("mode: monitor\ngraph: g.yaml\ninventory: {file: i.yaml}\n"),
            "1:1: missing \"policy\": monitor mode needs the policy to apply");
  EXPECT_EQ(OneError("mode: enforce\ninventory: {file: i.yaml}\n"),
            "1:1: missing \"policy\": enforce mode needs the policy to apply");
  EXPECT_EQ(OneError("mode: enforce\npolicy: \"\"\ninventory: {file: i.yaml}\n"),
            "2:9: policy is empty; expected a file path");
  // An empty value is located at its key, not on the next line.
  EXPECT_EQ(OneError("mode: enforce\npolicy:\ninventory: {file: i.yaml}\n"),
            "2:1: policy must be a string, not an empty value");
}

TEST(AgentConfig, SnapshotInterval) {
  EXPECT_EQ(Parse(LearnWith("snapshotInterval: 250ms")).snapshot_interval, milliseconds(250));
  EXPECT_EQ(Parse(LearnWith("snapshotInterval: 2h")).snapshot_interval, milliseconds(7'200'000));
  EXPECT_EQ(OneError(LearnWith("snapshotInterval: 30")),
            "4:19: snapshotInterval \"30\" is not a duration (a whole number with ms, s, m or "
            "h: 30s)");
  EXPECT_EQ(OneError(LearnWith("snapshotInterval: 1.5m")).substr(0, 34),
            "4:19: snapshotInterval \"1.5m\" is n");
  EXPECT_EQ(OneError(LearnWith("snapshotInterval: 0s")),
            "4:19: snapshotInterval must be longer than 0");
}

TEST(AgentConfig, TamperCheckInterval) {
  EXPECT_EQ(Parse(LearnWith("snapshotInterval: 1s")).tamper_check_interval, milliseconds(60'000));
  EXPECT_EQ(Parse(LearnWith("tamperCheckInterval: 5m")).tamper_check_interval,
            milliseconds(300'000));
  EXPECT_EQ(Parse(LearnWith("tamperCheckInterval: 1s")).tamper_check_interval, milliseconds(1000));
  EXPECT_EQ(Parse(LearnWith("tamperCheckInterval: 24h")).tamper_check_interval,
            milliseconds(86'400'000));
  EXPECT_EQ(OneError(LearnWith("tamperCheckInterval: 999ms")),
            "4:22: tamperCheckInterval \"999ms\" is out of range (1s..24h)");
  EXPECT_EQ(OneError(LearnWith("tamperCheckInterval: 25h")),
            "4:22: tamperCheckInterval \"25h\" is out of range (1s..24h)");
  EXPECT_EQ(OneError(LearnWith("tamperCheckInterval: often")),
            "4:22: tamperCheckInterval \"often\" is not a duration (a whole number with ms, s, m "
            "or h: 60s)");
}

TEST(AgentConfig, KubernetesIdentity) {
  EXPECT_FALSE(Parse(kMinimalLearn).kubernetes_identity);
  const AgentConfig in_cluster = Parse(LearnWith("identity: {kubernetes: {}}"));
  EXPECT_TRUE(in_cluster.kubernetes_identity);
  EXPECT_TRUE(in_cluster.kubeconfig.empty());
  EXPECT_TRUE(Parse(LearnWith("identity:\n  kubernetes:")).kubernetes_identity);
  const AgentConfig file =
      Parse(LearnWith("identity: {kubernetes: {kubeconfig: /etc/kube.conf, nodeName: node-b}}"));
  EXPECT_TRUE(file.kubernetes_identity);
  EXPECT_EQ(file.kubeconfig, "/etc/kube.conf");
  EXPECT_EQ(file.node_name, "node-b");
  EXPECT_EQ(OneError(LearnWith("identity: {kubernetes: {kubeconfg: x}}")).substr(0, 5), "4:25:");
  EXPECT_EQ(OneError(LearnWith("identity: {}")).substr(0, 5), "4:11:");
  EXPECT_EQ(OneError(LearnWith("identity: {kubernetes: {nodeName: \"\"}}")),
            "4:35: nodeName is empty; leave it out to use $NODE_NAME or the hostname");
}

TEST(AgentConfig, FormatDuration) {
  EXPECT_EQ(FormatDuration(milliseconds(60'000)), "1m");
  EXPECT_EQ(FormatDuration(milliseconds(90'000)), "90s");
  EXPECT_EQ(FormatDuration(milliseconds(7'200'000)), "2h");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0ms");
  for (const char* text : {"250ms", "30s", "5m", "1h"}) {
    EXPECT_EQ(FormatDuration(*ParseDuration(text)), text);
  }
}

TEST(AgentConfig, Inventory) {
  const std::string head = "mode: learn\ngraph: g.yaml\n";
  EXPECT_EQ(OneError(head), "1:1: missing \"inventory\" in the agent configuration");
  EXPECT_EQ(OneError(head + "inventory: {file: i.yaml, docker: unix:///d.sock}\n"),
            "3:12: inventory has more than one of \"docker\", \"cri\" and \"file\"; give "
            "exactly one");
  EXPECT_EQ(OneError(head + "inventory: {}\n"),
            "3:12: inventory needs \"docker: unix:///path\", \"cri: unix:///path\" or \"file: "
            "path\"");
  EXPECT_EQ(OneError(head + "inventory: i.yaml\n"), "3:12: inventory must be a map, not a scalar");
  EXPECT_EQ(OneError(head + "inventory:\n  docker: tcp://127.0.0.1:2375\n"),
            "4:11: inventory docker must be unix:///path/to/docker.sock, not "
            "\"tcp://127.0.0.1:2375\" (only the local socket is supported)");
  EXPECT_EQ(OneError(head + "inventory: {docker: unix://}\n").substr(0, 44),
            "3:21: inventory docker must be unix:///path/");
  EXPECT_EQ(OneError(head + "inventory: {docker: /var/run/docker.sock}\n").substr(0, 5), "3:21:");
  EXPECT_EQ(OneError(head + "inventory: {file: \"\"}\n"),
            "3:19: inventory file is empty; expected a file path");
  EXPECT_EQ(OneError(head + "inventory: {docker: unix:///" + std::string(120, 'd') + "}\n"),
            "3:21: docker socket path is 121 bytes; a unix socket path holds at most 107");
}

TEST(AgentConfig, CriInventory) {
  const std::string head = "mode: learn\ngraph: g.yaml\n";
  AgentConfig c = Parse(head + "inventory: {cri: unix:///run/containerd/containerd.sock}\n");
  EXPECT_EQ(c.cri_socket, "/run/containerd/containerd.sock");
  EXPECT_TRUE(c.docker_socket.empty());
  EXPECT_EQ(c.cri_poll_interval, milliseconds(1000));
  c = Parse(head + "inventory: {cri: unix:///var/run/crio/crio.sock, pollInterval: 250ms}\n");
  EXPECT_EQ(c.cri_socket, "/var/run/crio/crio.sock");
  EXPECT_EQ(c.cri_poll_interval, milliseconds(250));
  EXPECT_EQ(OneError(head + "inventory: {cri: /run/containerd/containerd.sock}\n"),
            "3:18: inventory cri must be unix:///path/to/containerd.sock, not "
            "\"/run/containerd/containerd.sock\" (only the local socket is supported)");
  EXPECT_EQ(OneError(head + "inventory: {cri: unix:///c.sock, pollInterval: 0s}\n"),
            "3:48: pollInterval \"0s\" is not a duration above 0 (a whole number with ms, s, m "
            "or h: 1s)");
  EXPECT_EQ(OneError(head + "inventory: {docker: unix:///d.sock, pollInterval: 1s}\n"),
            "3:51: pollInterval applies to \"cri\" only (Docker has events)");
  EXPECT_EQ(OneError(head + "inventory: {cri: unix:///c.sock, docker: unix:///d.sock}\n"),
            "3:12: inventory has more than one of \"docker\", \"cri\" and \"file\"; give "
            "exactly one");
}

TEST(AgentConfig, NflogGroup) {
  EXPECT_EQ(Parse(LearnWith("nflogGroup: 65535")).nflog_group, 65535);
  EXPECT_EQ(OneError(LearnWith("nflogGroup: 0")), "4:13: nflogGroup must be 1..65535, not 0");
  EXPECT_EQ(OneError(LearnWith("nflogGroup: 65536")),
            "4:13: nflogGroup \"65536\" is out of range (0..65535)");
  EXPECT_EQ(OneError(LearnWith("nflogGroup: \"7\"")),
            "4:13: nflogGroup must be an integer (0..65535), not the string \"7\"");
  EXPECT_EQ(OneError(LearnWith("nflogGroup: -1")), "4:13: nflogGroup must not be negative: -1");
}

TEST(AgentConfig, MetricsAddresses) {
  AgentConfig c = Parse(LearnWith("metrics: \"[::1]:9470\""));
  EXPECT_EQ(c.metrics_host, "::1");
  EXPECT_EQ(c.metrics_port, 9470);
  c = Parse(LearnWith("metrics: localhost:1"));
  EXPECT_EQ(c.metrics_host, "localhost");
  EXPECT_EQ(c.metrics_port, 1);
  c = Parse(LearnWith("metrics: 0.0.0.0:65535"));
  EXPECT_EQ(c.metrics_host, "0.0.0.0");
  EXPECT_EQ(c.metrics_port, 65535);
  c = Parse(LearnWith("metrics: \"[fd00::1]:80\""));
  EXPECT_EQ(c.metrics_host, "fd00::1");
  c = Parse(LearnWith("metrics: \"\""));
  EXPECT_EQ(c.metrics_host, "");
  EXPECT_EQ(c.metrics_port, 0);

  const std::string usage = " (host:port or [ipv6]:port, port 1..65535; \"\" for none)";
  EXPECT_EQ(OneError(LearnWith("metrics: 127.0.0.1")),
            "4:10: metrics \"127.0.0.1\" has no port" + usage);
  for (const char* bad_port : {"127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", "127.0.0.1:09470",
                               "127.0.0.1:http", "127.0.0.1:-1"}) {
    EXPECT_EQ(OneError(LearnWith("metrics: \"" + std::string(bad_port) + "\"")),
              "4:10: metrics \"" + std::string(bad_port) + "\" has a bad port" + usage);
  }
  for (const char* bad_host : {"::1:9470", "example.com:9470", ":9470", "[127.0.0.1]:9470",
                               "[::1:9470", "300.1.1.1:9470"}) {
    EXPECT_EQ(OneError(LearnWith("metrics: \"" + std::string(bad_host) + "\"")),
              "4:10: metrics host in \"" + std::string(bad_host) +
                  "\" must be an IPv4 address, [IPv6 address] or localhost");
  }
}

TEST(AgentConfig, ControlAndViolations) {
  AgentConfig c = Parse(LearnWith("control: /tmp/b.sock\nviolations: \"\""));
  EXPECT_EQ(c.control_socket, "/tmp/b.sock");
  EXPECT_EQ(c.violations_file, "");
  EXPECT_EQ(OneError(LearnWith("control: \"\"")), "4:10: control is empty; expected a file path");
  EXPECT_EQ(OneError(LearnWith("control: /" + std::string(107, 'c'))),
            "4:10: control socket path is 108 bytes; a unix socket path holds at most 107");
  EXPECT_EQ(Parse(LearnWith("control: /" + std::string(106, 'c'))).control_socket.size(), 107U);
  EXPECT_EQ(OneError(LearnWith("violations: {file: v.jsonl}")),
            "4:13: violations must be a string, not a map");
}

TEST(AgentConfig, InterfacesAndGroupBy) {
  EXPECT_EQ(OneError(LearnWith("interfaces: [br0, br0]")), "4:19: interface \"br0\" given twice");
  EXPECT_EQ(OneError(LearnWith("interfaces: [\"\"]")), "4:14: an interface name is empty");
  EXPECT_EQ(OneError(LearnWith("interfaces: [abcdefghijklmnop]")),
            "4:14: interface name \"abcdefghijklmnop\" is longer than 15 bytes");
  EXPECT_EQ(Parse(LearnWith("interfaces: [abcdefghijklmno]")).interfaces.size(), 1U);
  EXPECT_EQ(OneError(LearnWith("interfaces: br0")),
            "4:13: interfaces must be a list, not a scalar");
  EXPECT_EQ(OneError(LearnWith("groupBy: [app, app]")), "4:16: groupBy label \"app\" given twice");
}

TEST(AgentConfig, RemoveRulesOnExitIsAPlainBool) {
  EXPECT_FALSE(Parse(LearnWith("removeRulesOnExit: false")).remove_rules_on_exit);
  EXPECT_TRUE(Parse(LearnWith("removeRulesOnExit: True")).remove_rules_on_exit);
  EXPECT_EQ(OneError(LearnWith("removeRulesOnExit: yes")),
            "4:20: removeRulesOnExit must be true or false, not \"yes\"");
  EXPECT_EQ(OneError(LearnWith("removeRulesOnExit: \"true\"")),
            "4:20: removeRulesOnExit must be true or false, not the string \"true\"");
  EXPECT_EQ(OneError(LearnWith("removeRulesOnExit: [true]")),
            "4:20: removeRulesOnExit must be true or false, not a list");
  EXPECT_EQ(OneError(LearnWith("removeRulesOnExit:")),
            "4:1: removeRulesOnExit must be true or false, not an empty value");
}

// Following the policy file is on unless switched off, and the switch is as strict as the others.
TEST(AgentConfig, FollowPolicyDefaultsOnAndIsAPlainBool) {
  EXPECT_TRUE(Parse(LearnWith("")).follow_policy);
  EXPECT_FALSE(Parse(LearnWith("followPolicy: false")).follow_policy);
  EXPECT_TRUE(Parse(LearnWith("followPolicy: true")).follow_policy);
  EXPECT_EQ(OneError(LearnWith("followPolicy: no")),
            "4:15: followPolicy must be true or false, not \"no\"");
  EXPECT_EQ(OneError(LearnWith("followPolicy: [false]")),
            "4:15: followPolicy must be true or false, not a list");
  EXPECT_EQ(OneError(LearnWith("followPolicy: false\nfollowPolicy: false")),
            "5:1: key \"followPolicy\" given twice in the agent configuration");
}

TEST(AgentConfig, LogFormatRateAndHostName) {
  EXPECT_EQ(OneError(LearnWith("logFormat: xml")), "4:12: unknown logFormat \"xml\" (text, json)");
  EXPECT_EQ(Parse(LearnWith("violationLogRate: 0")).violation_log_rate, 0U);
  EXPECT_EQ(Parse(LearnWith("violationLogRate: 4294967295")).violation_log_rate, 4294967295U);
  EXPECT_EQ(OneError(LearnWith("violationLogRate: 4294967296")),
            "4:19: violationLogRate \"4294967296\" is out of range (0..4294967295)");
  EXPECT_EQ(OneError(LearnWith("hostName: [a]")), "4:11: hostName must be a string, not a list");
}

TEST(AgentConfig, ReportsEveryErrorInFileOrder) {
  const auto errors = Errors(R"(mode: enforce
snapshotInterval: soon
inventory: {docker: http://d, file: x}
nflogGroup: 0
metrics: nowhere
typo: 1
removeRulesOnExit: maybe
logFormat: xml
)");
  const std::vector<std::string> locations = [&] {
    std::vector<std::string> out;
    for (const auto& e : errors) {
      out.push_back(e.substr(0, e.find(": ")));
    }
    return out;
  }();
  // The missing policy is located at the document (1:1); the others where they are.
  EXPECT_EQ(locations, (std::vector<std::string>{"1:1", "2:19", "3:12", "4:13", "5:10", "6:1",
                                                 "7:20", "8:12"}))
      << ::testing::PrintToString(errors);
}

TEST(AgentConfig, LoadFile) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("bulkhead-agent-config-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "agent.yaml").string();
  {
    std::ofstream out(path);
    out << kFull;
  }
  auto loaded = LoadAgentConfigFile(path);
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  EXPECT_EQ(loaded->host_name, "node-1");

  {
    std::ofstream out(path);
    out << "mode: learn\n";
  }
  auto bad = LoadAgentConfigFile(path);
  ASSERT_FALSE(bad);
  ASSERT_EQ(bad.error().errors.size(), 2U) << bad.error().ToString();
  EXPECT_EQ(bad.error().errors[0].file, path);

  auto missing = LoadAgentConfigFile((dir / "absent.yaml").string());
  ASSERT_FALSE(missing);
  ASSERT_EQ(missing.error().errors.size(), 1U);
  EXPECT_EQ(missing.error().errors[0].file, (dir / "absent.yaml").string());
  EXPECT_EQ(missing.error().errors[0].line, 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bulkhead::daemon
