// Policy <-> YAML. Like the other codecs, the reader walks yaml-cpp's tree with the internal
// helpers (every problem recorded with its line and column, reading carries on) and the writer
// is hand-written so that equal policies give equal bytes. A policy is the file a person reviews
// before traffic is blocked, so the reader is strict: no unknown keys, no duplicates, no
// reference to a group it does not define.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <string>
#include <string_view>
#include <utility>

#include "policy/atomic_file.h"
#include "policy/internal/text_escape.h"
#include "policy/internal/yaml_util.h"
#include "policy/policy_codec.h"

namespace bulkhead::policy {

std::string_view ModeName(Mode m) {
  switch (m) {
    case Mode::kLearn:
      return "learn";
    case Mode::kMonitor:
      return "monitor";
    case Mode::kEnforce:
      return "enforce";
  }
  return "monitor";
}

std::optional<Mode> ParseMode(std::string_view name) {
  for (const Mode m : {Mode::kLearn, Mode::kMonitor, Mode::kEnforce}) {
    if (name == ModeName(m)) {
      return m;
    }
  }
  return std::nullopt;
}

namespace {

using internal::ErrorList;
using internal::Fields;
using internal::Quote;
using internal::YamlScalar;

constexpr std::uint64_t kMaxPort = 65535;
constexpr std::uint64_t kMaxIcmpType = 255;  // RFC 792 / RFC 4443: the type is one octet

bool IsIcmp(Protocol p) { return p == Protocol::kIcmp || p == Protocol::kIcmpv6; }

bool IsReserved(std::string_view name) { return name == kHostGroup || name == kWorldGroup; }

void SortPolicy(Policy& policy) {
  std::sort(policy.groups.begin(), policy.groups.end(),
            [](const PolicyGroup& a, const PolicyGroup& b) { return a.name < b.name; });
  std::sort(policy.allow.begin(), policy.allow.end());
  std::sort(policy.failsafe.begin(), policy.failsafe.end());
}

std::string RuleText(const AllowRule& r) {
  std::string out = Quote(r.from) + " -> " + Quote(r.to) + " " +
                    std::string(ProtocolName(r.protocol)) + "/" + std::to_string(r.ports.first);
  if (r.ports.last != r.ports.first) {
    out += "-" + std::to_string(r.ports.last);
  }
  return out;
}

// ---- reader -------------------------------------------------------------------------------

// A decimal number in a port range, with ReadUnsigned's rules (no sign, no leading zero).
std::optional<std::uint64_t> ParseDecimal(std::string_view text) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

class PolicyReader {
 public:
  explicit PolicyReader(ErrorList& errors) : errors_(errors) {}

  void Read(const YAML::Node& root, Policy& policy) {
    if (!internal::ExpectMap(root, "the Policy document", errors_)) {
      return;
    }
    Fields top(root, {"apiVersion", "kind", "mode", "groupBy", "groups", "allow", "failsafe"},
               "the Policy", errors_);
    internal::CheckHeader(top, "Policy", errors_);
    if (const YAML::Node* node = top.Find("mode")) {
      if (auto mode = ReadMode(*node, "mode")) {
        policy.mode = *mode;
      }
    }
    if (const YAML::Node* node = top.Find("groupBy")) {
      policy.group_by = internal::ReadGroupBy(*node, errors_);
    }
    // Groups first, whatever the key order in the file: rules refer to them.
    if (const YAML::Node* node = top.Find("groups")) {
      if (internal::ExpectSequence(*node, "groups", errors_)) {
        for (const auto& item : *node) {
          ReadGroup(YAML::Node(item), policy);
        }
      }
    }
    ReadRules(top, "allow", false, policy.allow);
    ReadRules(top, "failsafe", true, policy.failsafe);
  }

 private:
  std::optional<Mode> ReadMode(const YAML::Node& node, std::string_view what) {
    auto name = internal::ReadString(node, what, errors_);
    if (!name) {
      return std::nullopt;
    }
    auto mode = ParseMode(*name);
    if (!mode) {
      errors_.Add(node, "unknown " + std::string(what) + " " + Quote(*name) +
                            " (learn, monitor, enforce)");
    }
    return mode;
  }

  void ReadGroup(const YAML::Node& item, Policy& policy) {
    if (!internal::ExpectMap(item, "a group", errors_)) {
      return;
    }
    Fields fields(item, {"name", "selector", "mode"}, "a group", errors_);
    PolicyGroup group;
    bool ok = false;
    const YAML::Node* name_node = fields.Require("name");
    if (name_node != nullptr) {
      if (auto name = internal::ReadString(*name_node, "a group name", errors_)) {
        group.name = std::move(*name);
        ok = true;
        if (group.name.empty()) {
          errors_.Add(*name_node, "a group name is empty");
          ok = false;
        } else if (group.name == kAnyGroup) {
          errors_.Add(*name_node, "\"any\" is reserved for failsafe entries; it cannot be a group");
          ok = false;
        }
      }
    }
    if (const YAML::Node* node = fields.Find("selector")) {
      group.selector = internal::ReadStringMap(*node, "selector", errors_);
      if (IsReserved(group.name)) {
        errors_.Add(*node, "the special group " + Quote(group.name) + " has no selector");
      }
    }
    if (const YAML::Node* node = fields.Find("mode")) {
      group.mode = ReadMode(*node, "group mode");
      if (group.name == kWorldGroup) {
        // The enforcer judges connections at the workload end; world has no such end.
        errors_.Add(*node, "the special group \"world\" has no mode; set it on the other end");
      }
    }
    if (!ok) {
      return;
    }
    const auto [it, inserted] = group_lines_.emplace(group.name, name_node->Mark().line + 1);
    if (!inserted) {
      errors_.Add(*name_node, "group " + Quote(group.name) + " given twice (first at line " +
                                  std::to_string(it->second) + ")");
      return;
    }
    policy.groups.push_back(std::move(group));
  }

  void ReadRules(const Fields& top, std::string_view key, bool failsafe,
                 std::vector<AllowRule>& out) {
    const YAML::Node* node = top.Find(key);
    if (node == nullptr || !internal::ExpectSequence(*node, key, errors_)) {
      return;
    }
    std::map<AllowRule, int> lines;
    for (const auto& entry : *node) {
      const YAML::Node item(entry);
      auto rule = ReadRule(item, key, failsafe);
      if (!rule) {
        continue;
      }
      const auto [it, inserted] = lines.emplace(*rule, item.Mark().line + 1);
      if (!inserted) {
        errors_.Add(item, std::string(key) + " rule " + RuleText(*rule) +
                              " given twice (first at line " + std::to_string(it->second) + ")");
        continue;
      }
      out.push_back(std::move(*rule));
    }
  }

  // `from`/`to` of a rule. Failsafe entries may say (or leave out, meaning) `any`.
  std::optional<std::string> ReadGroupRef(const Fields& fields, std::string_view key,
                                          const YAML::Node& item, std::string_view what,
                                          bool failsafe) {
    const YAML::Node* node = fields.Find(key);
    if (node == nullptr) {
      if (failsafe) {
        return std::string(kAnyGroup);
      }
      errors_.Add(item, "missing " + Quote(key) + " in " + std::string(what));
      return std::nullopt;
    }
    auto name = internal::ReadString(*node, std::string(what) + " " + std::string(key), errors_);
    if (!name) {
      return std::nullopt;
    }
    if (failsafe && *name == kAnyGroup) {
      return name;
    }
    if (!IsReserved(*name) && group_lines_.count(*name) == 0) {
      std::string message = std::string(what) + " " + std::string(key) + " names group " +
                            Quote(*name) + ", which is not in groups";
      if (*name == kAnyGroup) {
        message = "\"any\" is only allowed in failsafe entries";
      }
      errors_.Add(*node, message);
      return std::nullopt;
    }
    return name;
  }

  std::optional<Protocol> ReadProtocol(Fields& fields, std::string_view what) {
    const YAML::Node* node = fields.Require("protocol");
    if (node == nullptr) {
      return std::nullopt;
    }
    auto name = internal::ReadString(*node, std::string(what) + " protocol", errors_);
    if (!name) {
      return std::nullopt;
    }
    auto protocol = ParseProtocol(*name);
    if (!protocol) {
      errors_.Add(*node, "unknown protocol " + Quote(*name) + " (tcp, udp, icmp, icmpv6, sctp)");
    }
    return protocol;
  }

  // `port: N` or `ports: A-B`. The bounds depend on the protocol (an ICMP type is one octet;
  // port 0 is not a port) and are only checked when the protocol was read.
  std::optional<PortRange> ReadPorts(const Fields& fields, const YAML::Node& item,
                                     std::optional<Protocol> protocol, std::string_view what) {
    const YAML::Node* port_node = fields.Find("port");
    const YAML::Node* ports_node = fields.Find("ports");
    if (port_node != nullptr && ports_node != nullptr) {
      errors_.Add(*ports_node, std::string(what) + " has both \"port\" and \"ports\"; give one");
      return std::nullopt;
    }
    if (port_node == nullptr && ports_node == nullptr) {
      errors_.Add(item, std::string(what) + " needs \"port: N\" or \"ports: FIRST-LAST\"");
      return std::nullopt;
    }
    const bool icmp = protocol && IsIcmp(*protocol);
    const std::uint64_t max = icmp ? kMaxIcmpType : kMaxPort;
    const std::string unit = icmp ? "an " + std::string(ProtocolName(*protocol)) + " type"
                                  : std::string("a port");
    if (port_node != nullptr) {
      auto port = internal::ReadUnsigned(*port_node, icmp ? "port (the ICMP type)" : "port",
                                         kMaxPort, errors_);
      if (!port) {
        return std::nullopt;
      }
      if (!CheckBound(*port_node, *port, max, protocol.has_value() && !icmp, unit)) {
        return std::nullopt;
      }
      const auto p = static_cast<std::uint16_t>(*port);
      return PortRange{p, p};
    }
    const YAML::Node& node = *ports_node;
    const std::string form = "ports must be a range FIRST-LAST like 8000-8080";
    // Quoted or not: a range is text in YAML either way, and JSON has to quote it.
    if (!node.IsScalar()) {
      errors_.Add(node, form + ", not " + std::string(internal::KindOf(node)));
      return std::nullopt;
    }
    const std::string& text = node.Scalar();
    const auto dash = text.find('-');
    std::optional<std::uint64_t> first;
    std::optional<std::uint64_t> last;
    if (dash != std::string::npos) {
      first = ParseDecimal(std::string_view(text).substr(0, dash));
      last = ParseDecimal(std::string_view(text).substr(dash + 1));
    }
    if (!first || !last) {
      errors_.Add(node, form + " (decimal, no leading zeros), not " + Quote(text) +
                            (dash == std::string::npos ? "; a single port is \"port: N\"" : ""));
      return std::nullopt;
    }
    const bool no_zero = protocol.has_value() && !icmp;
    if (!CheckBound(node, *first, max, no_zero, unit) ||
        !CheckBound(node, *last, max, no_zero, unit)) {
      return std::nullopt;
    }
    if (*first > *last) {
      errors_.Add(node, "port range " + Quote(text) + " is empty: " + std::to_string(*first) +
                            " is above " + std::to_string(*last));
      return std::nullopt;
    }
    return PortRange{static_cast<std::uint16_t>(*first), static_cast<std::uint16_t>(*last)};
  }

  bool CheckBound(const YAML::Node& node, std::uint64_t value, std::uint64_t max, bool no_zero,
                  const std::string& unit) {
    if (value > max) {
      errors_.Add(node, std::to_string(value) + " is not " + unit + " (0.." + std::to_string(max) +
                            ")");
      return false;
    }
    if (no_zero && value == 0) {
      errors_.Add(node, "port 0 is not a port (1..65535)");
      return false;
    }
    return true;
  }

  std::optional<AllowRule> ReadRule(const YAML::Node& item, std::string_view key, bool failsafe) {
    const std::string what = failsafe ? "a failsafe entry" : "an allow rule";
    if (!internal::ExpectMap(item, what, errors_)) {
      return std::nullopt;
    }
    Fields fields(item, {"from", "to", "protocol", "port", "ports"}, what, errors_);
    auto from = ReadGroupRef(fields, "from", item, key, failsafe);
    auto to = ReadGroupRef(fields, "to", item, key, failsafe);
    auto protocol = ReadProtocol(fields, what);
    auto ports = ReadPorts(fields, item, protocol, what);
    if (!from || !to || !protocol || !ports) {
      return std::nullopt;
    }
    if (*from == kHostGroup && *to == kHostGroup) {
      // The node's own loopback traffic never passes the enforcer's hooks.
      errors_.Add(item, "host to host traffic is never judged; remove this " +
                            std::string(key) + " entry");
      return std::nullopt;
    }
    return AllowRule{std::move(*from), std::move(*to), *protocol, *ports};
  }

  ErrorList& errors_;
  std::map<std::string, int> group_lines_;
};

// ---- writer -------------------------------------------------------------------------------

std::string RuleYaml(const AllowRule& r) {
  std::string out = "{from: " + YamlScalar(r.from) + ", to: " + YamlScalar(r.to) +
                    ", protocol: " + std::string(ProtocolName(r.protocol));
  if (r.ports.first == r.ports.last) {
    out += ", port: " + std::to_string(r.ports.first);
  } else {
    out += ", ports: " + std::to_string(r.ports.first) + "-" + std::to_string(r.ports.last);
  }
  return out + "}";
}

// A comment holds only printable ASCII: anything else (a newline in a caller's timestamp) could
// end the comment and inject YAML.
std::string CommentText(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) {
      c = '?';
    }
  }
  return out;
}

std::string Counted(std::uint64_t n, std::string_view noun) {
  return std::to_string(n) + " " + std::string(noun) + (n == 1 ? "" : "s");
}

std::string CommentYaml(const AllowComment& c) {
  return "  # " + Counted(c.connections, "connection") + ", " + Counted(c.packets, "packet") +
         ", " + Counted(c.bytes, "byte") + ", first " + CommentText(c.first_seen) + ", last " +
         CommentText(c.last_seen);
}

}  // namespace

boost::system::result<Policy, FileErrors> ParsePolicy(std::string_view text,
                                                      std::string_view file_name) {
  auto parsed = internal::ParseDocument<Policy>(
      text, file_name, [](const YAML::Node& root, ErrorList& errors, Policy& policy) {
        PolicyReader(errors).Read(root, policy);
      });
  if (parsed) {
    SortPolicy(*parsed);
  }
  return parsed;
}

boost::system::result<Policy, FileErrors> LoadPolicyFile(const std::string& path) {
  return internal::LoadDocumentFile(path, ParsePolicy);
}

std::string WritePolicyYaml(const Policy& input, const std::vector<AllowComment>& comments) {
  Policy policy = input;
  std::sort(policy.groups.begin(), policy.groups.end(),
            [](const PolicyGroup& a, const PolicyGroup& b) { return a.name < b.name; });
  std::sort(policy.failsafe.begin(), policy.failsafe.end());
  // Allow rules are sorted with their comments: order[i] is the input index of output rule i.
  std::vector<std::size_t> order(policy.allow.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return policy.allow[a] < policy.allow[b];
  });
  const bool commented = !comments.empty() && comments.size() == policy.allow.size();

  std::string out = "apiVersion: bulkhead/v1\nkind: Policy\n";
  out += "mode: " + std::string(ModeName(policy.mode)) + "\n";
  out += "groupBy: " + internal::YamlFlowList(policy.group_by) + "\n";
  out += policy.groups.empty() ? "groups: []\n" : "groups:\n";
  for (const auto& group : policy.groups) {
    out += "  - name: " + YamlScalar(group.name) + "\n";
    if (!group.selector.empty()) {
      out += "    selector: " + internal::YamlFlowMap(group.selector) + "\n";
    }
    if (group.mode) {
      out += "    mode: " + std::string(ModeName(*group.mode)) + "\n";
    }
  }
  out += policy.allow.empty() ? "allow: []\n" : "allow:\n";
  for (const std::size_t i : order) {
    out += "  - " + RuleYaml(policy.allow[i]);
    if (commented) {
      out += CommentYaml(comments[i]);
    }
    out += "\n";
  }
  out += policy.failsafe.empty() ? "failsafe: []\n" : "failsafe:\n";
  for (const auto& rule : policy.failsafe) {
    out += "  - " + RuleYaml(rule) + "\n";
  }
  return out;
}

}  // namespace bulkhead::policy
