// agent.yaml -> AgentConfig. The agent's own settings file, read once at start: strict like the
// policy reader (unknown keys and duplicates are errors, every problem is reported with its
// line and column), because a typo in `removeRulesOnExit` or `mode` must stop the agent rather
// than silently run it with a default. No apiVersion/kind header is needed (it is a plain config
// file); one that is given must say bulkhead/v1 and AgentConfig.
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/un.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "codec/yaml_reader.h"
#include "daemon/agent_config.h"

namespace bulkhead::daemon {

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  // 18 digits keep value * 3'600'000 (hours) far inside int64 before the range check below.
  constexpr std::size_t kMaxDigits = 18;
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0 || digits > kMaxDigits) {
    return std::nullopt;
  }
  std::int64_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    value = value * 10 + (text[i] - '0');
  }
  const std::string_view unit = text.substr(digits);
  std::int64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else {
    return std::nullopt;
  }
  if (value > std::numeric_limits<std::int64_t>::max() / scale) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(value * scale);
}

std::string FormatDuration(std::chrono::milliseconds duration) {
  const std::int64_t ms = duration.count();
  for (const auto& [scale, unit] :
       {std::pair<std::int64_t, const char*>{3'600'000, "h"}, {60'000, "m"}, {1000, "s"}}) {
    if (ms != 0 && ms % scale == 0) {
      return std::to_string(ms / scale) + unit;
    }
  }
  return std::to_string(ms) + "ms";
}

namespace {

using codec::ErrorList;
using codec::Fields;
using codec::Node;
using codec::Quote;
using policy::FileErrors;
using policy::Mode;

constexpr std::string_view kKind = "AgentConfig";
constexpr std::uint64_t kMaxPort = 65535;
constexpr std::uint64_t kMaxNflogGroup = 65535;
constexpr std::string_view kUnixScheme = "unix://";
// sockaddr_un::sun_path holds 108 bytes including the terminating NUL; a longer path cannot be
// bound, and the agent would only find out at start-up after applying rules.
constexpr std::size_t kMaxSocketPath = sizeof(sockaddr_un::sun_path) - 1;

// "9470": the decimal port of a metrics address, 1..65535, no sign or leading zero.
std::optional<std::uint16_t> ParsePort(std::string_view text) {
  if (text.empty() || text.size() > 5 || text[0] == '0') {
    return std::nullopt;
  }
  std::uint32_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (value > kMaxPort) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

bool IsIpv4(const std::string& text) {
  in_addr addr{};
  return ::inet_pton(AF_INET, text.c_str(), &addr) == 1;
}

bool IsIpv6(const std::string& text) {
  in6_addr addr{};
  return ::inet_pton(AF_INET6, text.c_str(), &addr) == 1;
}

class AgentConfigReader {
 public:
  explicit AgentConfigReader(ErrorList& errors) : errors_(errors) {}

  void Read(const Node& root, AgentConfig& config) {
    if (!codec::ExpectMap(root, "the agent configuration", errors_)) {
      return;
    }
    Fields top(root, {"apiVersion",   "kind",
                      "mode",         "policy",
                      "graph",        "snapshotInterval",
                      "inventory",    "nflogGroup",
                      "metrics",      "control",
                      "violations",   "interfaces",
                      "groupBy",      "removeRulesOnExit",
                      "logFormat",    "violationLogRate",
                      "hostName",     "tamperCheckInterval",
                      "followPolicy", "identity"},
               "the agent configuration", errors_);
    ReadHeader(top);
    const bool mode_known = ReadMode(top, config);
    const Node* policy_node = top.Find("policy");
    if (policy_node != nullptr) {
      ReadPath(*policy_node, "policy", config.policy_file);
    }
    const Node* graph_node = top.Find("graph");
    if (graph_node != nullptr) {
      ReadPath(*graph_node, "graph", config.graph_file);
    }
    if (mode_known && config.mode == Mode::kLearn && graph_node == nullptr) {
      errors_.Add(root, "missing \"graph\": learn mode writes the flow graph there");
    }
    if (mode_known && config.mode != Mode::kLearn && policy_node == nullptr) {
      errors_.Add(root, "missing \"policy\": " + std::string(policy::ModeName(config.mode)) +
                            " mode needs the policy to apply");
    }
    if (const Node* node = top.Find("snapshotInterval")) {
      ReadInterval(*node, config);
    }
    if (const Node* node = top.Find("tamperCheckInterval")) {
      ReadTamperCheckInterval(*node, config);
    }
    if (const Node* node = top.Require("inventory")) {
      ReadInventory(*node, config);
    }
    if (const Node* node = top.Find("identity")) {
      ReadIdentity(*node, config);
    }
    if (const Node* node = top.Find("nflogGroup")) {
      if (auto group = codec::ReadUnsigned(*node, "nflogGroup", kMaxNflogGroup, errors_)) {
        if (*group == 0) {
          // Group 0 is where other tools' unnumbered NFLOG rules log; bulkhead uses its own.
          errors_.Add(*node, "nflogGroup must be 1..65535, not 0");
        } else {
          config.nflog_group = static_cast<std::uint16_t>(*group);
        }
      }
    }
    if (const Node* node = top.Find("metrics")) {
      ReadMetrics(*node, config);
    }
    if (const Node* node = top.Find("control")) {
      if (ReadPath(*node, "control", config.control_socket) &&
          config.control_socket.size() > kMaxSocketPath) {
        errors_.Add(*node, "control socket path is " +
                               std::to_string(config.control_socket.size()) +
                               " bytes; a unix socket path holds at most " +
                               std::to_string(kMaxSocketPath));
      }
    }
    ReadOptionalSettings(top, config);
  }

 private:
  // Required: a missing mode must not quietly mean "learn" (or anything else). Returns whether
  // config.mode was read.
  bool ReadMode(Fields& top, AgentConfig& config) {
    const Node* node = top.Require("mode");
    if (node == nullptr) {
      return false;
    }
    auto name = codec::ReadString(*node, "mode", errors_);
    if (!name) {
      return false;
    }
    if (auto mode = policy::ParseMode(*name)) {
      config.mode = *mode;
      return true;
    }
    errors_.Add(*node, "unknown mode " + Quote(*name) + " (learn, monitor, enforce)");
    return false;
  }

  // The optional settings after "control", in the order they are checked: violations,
  // interfaces, groupBy, removeRulesOnExit, logFormat, violationLogRate, hostName,
  // followPolicy.
  void ReadOptionalSettings(const Fields& top, AgentConfig& config) {
    if (const Node* node = top.Find("violations")) {
      // Empty is allowed: violations go to the log only.
      if (auto text = codec::ReadString(*node, "violations", errors_)) {
        config.violations_file = std::move(*text);
      }
    }
    ReadOptionalKeys(top, config);
  }

 private:
  // The keys that only change a default.
  void ReadOptionalKeys(const Fields& top, AgentConfig& config) {
    if (const Node* node = top.Find("interfaces")) {
      ReadInterfaces(*node, config);
    }
    if (const Node* node = top.Find("groupBy")) {
      config.group_by = codec::ReadGroupBy(*node, errors_);
    }
    if (const Node* node = top.Find("removeRulesOnExit")) {
      if (auto value = ReadBool(*node, "removeRulesOnExit")) {
        config.remove_rules_on_exit = *value;
      }
    }
    if (const Node* node = top.Find("logFormat")) {
      if (auto name = codec::ReadString(*node, "logFormat", errors_)) {
        if (*name == "text") {
          config.log_format = LogFormat::kText;
        } else if (*name == "json") {
          config.log_format = LogFormat::kJson;
        } else {
          errors_.Add(*node, "unknown logFormat " + Quote(*name) + " (text, json)");
        }
      }
    }
    if (const Node* node = top.Find("violationLogRate")) {
      // 0 is allowed: no violation lines in the log (the violations file still gets all).
      if (auto rate = codec::ReadUnsigned(*node, "violationLogRate",
                                          std::numeric_limits<std::uint32_t>::max(), errors_)) {
        config.violation_log_rate = static_cast<std::uint32_t>(*rate);
      }
    }
    if (const Node* node = top.Find("hostName")) {
      if (auto name = codec::ReadString(*node, "hostName", errors_)) {
        config.host_name = std::move(*name);
      }
    }
    if (const Node* node = top.Find("followPolicy")) {
      if (auto value = ReadBool(*node, "followPolicy")) {
        config.follow_policy = *value;
      }
    }
  }

  // Optional, but when given it must be ours: a Policy or FlowGraph passed as --config by
  // mistake is then named as such instead of producing a list of unknown keys only.
  void ReadHeader(const Fields& top) {
    if (const Node* api = top.Find("apiVersion")) {
      if (auto text = codec::ReadString(*api, "apiVersion", errors_);
          text && *text != codec::kApiVersion) {
        errors_.Add(*api, "apiVersion must be " + std::string(codec::kApiVersion) + ", not " +
                              Quote(*text));
      }
    }
    if (const Node* kind = top.Find("kind")) {
      if (auto text = codec::ReadString(*kind, "kind", errors_); text && *text != kKind) {
        errors_.Add(*kind, "kind must be " + std::string(kKind) + ", not " + Quote(*text));
      }
    }
  }

  // A non-empty string (a file path). Returns false when it recorded an error.
  bool ReadPath(const Node& node, std::string_view what, std::string& out) {
    auto text = codec::ReadString(node, what, errors_);
    if (!text) {
      return false;
    }
    if (text->empty()) {
      errors_.Add(node, std::string(what) + " is empty; expected a file path");
      return false;
    }
    out = std::move(*text);
    return true;
  }

  // A duration key: a string ParseDuration reads (`example` in the error when it does not).
  std::optional<std::chrono::milliseconds> ReadDuration(const Node& node, std::string_view key,
                                                        std::string_view example) {
    auto text = codec::ReadString(node, key, errors_);
    if (!text) {
      return std::nullopt;
    }
    auto duration = ParseDuration(*text);
    if (!duration) {
      errors_.Add(node, std::string(key) + " " + Quote(*text) +
                            " is not a duration (a whole number with ms, s, m or h: " +
                            std::string(example) + ")");
    }
    return duration;
  }

  void ReadInterval(const Node& node, AgentConfig& config) {
    auto interval = ReadDuration(node, "snapshotInterval", "30s");
    if (!interval) {
      return;
    }
    if (interval->count() == 0) {
      errors_.Add(node, "snapshotInterval must be longer than 0");
      return;
    }
    config.snapshot_interval = *interval;
  }

  void ReadTamperCheckInterval(const Node& node, AgentConfig& config) {
    auto interval = ReadDuration(node, "tamperCheckInterval", "60s");
    if (!interval) {
      return;
    }
    if (*interval < kMinTamperCheckInterval || *interval > kMaxTamperCheckInterval) {
      // A full compare costs about 2 s of CPU at 100,000 edges: more often than each second
      // would keep the agent busy comparing.
      errors_.Add(node, "tamperCheckInterval \"" + FormatDuration(*interval) +
                            "\" is out of range (1s..24h)");
      return;
    }
    config.tamper_check_interval = *interval;
  }

  void ReadInventory(const Node& node, AgentConfig& config) {
    if (!codec::ExpectMap(node, "inventory", errors_)) {
      return;
    }
    Fields fields(node, {"docker", "cri", "file", "pollInterval"}, "inventory", errors_);
    const Node* docker = fields.Find("docker");
    const Node* cri = fields.Find("cri");
    const Node* file = fields.Find("file");
    const int given =
        (docker != nullptr ? 1 : 0) + (cri != nullptr ? 1 : 0) + (file != nullptr ? 1 : 0);
    if (given != 1) {
      errors_.Add(node, given == 0 ? "inventory needs \"docker: unix:///path\", \"cri: "
                                     "unix:///path\" or \"file: path\""
                                   : "inventory has more than one of \"docker\", \"cri\" and "
                                     "\"file\"; give exactly one");
      return;
    }
    if (const Node* poll = fields.Find("pollInterval")) {
      if (cri == nullptr) {
        errors_.Add(*poll, "pollInterval applies to \"cri\" only (Docker has events)");
      } else {
        ReadPollInterval(*poll, config);
      }
    }
    if (file != nullptr) {
      ReadPath(*file, "inventory file", config.inventory_file);
      return;
    }
    if (docker != nullptr) {
      ReadSocket(*docker, "docker", config.docker_socket);
    } else {
      ReadSocket(*cri, "cri", config.cri_socket);
    }
  }

  // `identity: {kubernetes: {kubeconfig: PATH, nodeName: NAME}}`, both optional.
  void ReadIdentity(const Node& node, AgentConfig& config) {
    if (!codec::ExpectMap(node, "identity", errors_)) {
      return;
    }
    Fields fields(node, {"kubernetes"}, "identity", errors_);
    const Node* kube = fields.Require("kubernetes");
    if (kube == nullptr) {
      return;
    }
    config.kubernetes_identity = true;
    if (kube->IsNull()) {
      return;  // `kubernetes:` alone: in-cluster
    }
    if (!codec::ExpectMap(*kube, "identity kubernetes", errors_)) {
      return;
    }
    Fields settings(*kube, {"kubeconfig", "nodeName"}, "identity kubernetes", errors_);
    if (const Node* path = settings.Find("kubeconfig")) {
      ReadPath(*path, "kubeconfig", config.kubeconfig);
    }
    if (const Node* name = settings.Find("nodeName")) {
      if (auto text = codec::ReadString(*name, "nodeName", errors_)) {
        if (text->empty()) {
          errors_.Add(*name, "nodeName is empty; leave it out to use $NODE_NAME or the hostname");
        } else {
          config.node_name = *text;
        }
      }
    }
  }

  void ReadPollInterval(const Node& node, AgentConfig& config) {
    auto text = codec::ReadString(node, "pollInterval", errors_);
    if (!text) {
      return;
    }
    auto interval = ParseDuration(*text);
    if (!interval || interval->count() == 0) {
      errors_.Add(node, "pollInterval " + Quote(*text) +
                            " is not a duration above 0 (a whole number with ms, s, m or h: 1s)");
      return;
    }
    config.cri_poll_interval = *interval;
  }

  // `docker: unix:///var/run/docker.sock`, `cri: unix:///run/containerd/containerd.sock`.
  void ReadSocket(const Node& node, std::string_view what, std::string& out) {
    auto url = codec::ReadString(node, "inventory " + std::string(what), errors_);
    if (!url) {
      return;
    }
    if (url->rfind(kUnixScheme, 0) != 0 || url->size() == kUnixScheme.size()) {
      errors_.Add(node, "inventory " + std::string(what) + " must be unix:///path/to/" +
                            (what == "docker" ? "docker.sock" : "containerd.sock") + ", not " +
                            Quote(*url) + " (only the local socket is supported)");
      return;
    }
    std::string path = url->substr(kUnixScheme.size());
    if (path.size() > kMaxSocketPath) {
      errors_.Add(node, std::string(what) + " socket path is " + std::to_string(path.size()) +
                            " bytes; a unix socket path holds at most " +
                            std::to_string(kMaxSocketPath));
      return;
    }
    out = std::move(path);
  }

  // "127.0.0.1:9470", "[::1]:9470", "localhost:9470"; "" means no endpoint. The host is what
  // MetricsServer can bind (an address literal or localhost), checked here rather than at start.
  void ReadMetrics(const Node& node, AgentConfig& config) {
    auto text = codec::ReadString(node, "metrics", errors_);
    if (!text || text->empty()) {
      return;
    }
    const std::string_view value = *text;
    const auto colon = value.rfind(':');
    const std::string usage = " (host:port or [ipv6]:port, port 1..65535; \"\" for none)";
    if (colon == std::string_view::npos) {
      errors_.Add(node, "metrics " + Quote(value) + " has no port" + usage);
      return;
    }
    std::string host(value.substr(0, colon));
    const auto port = ParsePort(value.substr(colon + 1));
    if (!port) {
      errors_.Add(node, "metrics " + Quote(value) + " has a bad port" + usage);
      return;
    }
    bool host_ok = false;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
      host_ok = IsIpv6(host);
    } else {
      // An unbracketed IPv6 address would be ambiguous with the port; IsIpv4 refuses it.
      host_ok = host == "localhost" || IsIpv4(host);
    }
    if (!host_ok) {
      errors_.Add(node, "metrics host in " + Quote(value) +
                            " must be an IPv4 address, [IPv6 address] or localhost");
      return;
    }
    config.metrics_host = std::move(host);
    config.metrics_port = *port;
  }

  void ReadInterfaces(const Node& node, AgentConfig& config) {
    std::set<std::string> seen;
    for (auto& [name, item] : codec::ReadStringList(node, "interfaces", errors_)) {
      if (name.empty()) {
        errors_.Add(*item, "an interface name is empty");
      } else if (name.size() >= IFNAMSIZ) {
        errors_.Add(*item, "interface name " + Quote(name) + " is longer than " +
                               std::to_string(IFNAMSIZ - 1) + " bytes");
      } else if (!seen.insert(name).second) {
        errors_.Add(*item, "interface " + Quote(name) + " given twice");
      } else {
        config.interfaces.push_back(std::move(name));
      }
    }
  }

  // A plain YAML boolean. Quoted "true" is a string, and yes/no/on/off (YAML 1.1) are refused:
  // the YAML 1.2 core schema has only true/false, and a safety switch should not depend on
  // which YAML version a reader follows.
  std::optional<bool> ReadBool(const Node& node, std::string_view what) {
    if (node.IsScalar() && node.Tag() != "!") {
      const std::string& text = node.Scalar();
      if (text == "true" || text == "True" || text == "TRUE") {
        return true;
      }
      if (text == "false" || text == "False" || text == "FALSE") {
        return false;
      }
    }
    std::string got = node.IsScalar()
                          ? (node.Tag() == "!" ? "the string " : "") + Quote(node.Scalar())
                          : std::string(codec::KindOf(node));
    errors_.Add(node, std::string(what) + " must be true or false, not " + got);
    return std::nullopt;
  }

  ErrorList& errors_;
};

}  // namespace

boost::system::result<AgentConfig, FileErrors> ParseAgentConfig(std::string_view text,
                                                                const std::string& file_name) {
  // A small file read at start: one Node for the whole document is fine here.
  return codec::ParseDocument<AgentConfig>(
      text, file_name, [](std::string_view input, ErrorList& errors, AgentConfig& config) {
        if (auto root = codec::ReadDocument(input, errors)) {
          AgentConfigReader(errors).Read(*root, config);
        }
      });
}

boost::system::result<AgentConfig, FileErrors> LoadAgentConfigFile(const std::string& path) {
  return codec::LoadDocumentFile(path, [](std::string_view text, std::string_view name) {
    return ParseAgentConfig(text, std::string(name));
  });
}

}  // namespace bulkhead::daemon
