// Policy <-> YAML. Like the other codecs, the reader streams the file item by item through
// codec's reader (every problem recorded with its line and column, reading carries on), then
// ValidatePolicy checks the model; the writer is hand-written so that equal policies give equal
// bytes. A policy is the file a person reviews
// before traffic is blocked, so the reader is strict: no unknown keys, no duplicates, no
// reference to a group it does not define.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "codec/text_escape.h"
#include "codec/yaml_reader.h"
#include "policy/policy_codec.h"
#include "policy/validation.h"

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

using codec::ErrorList;
using codec::Fields;
using codec::Mark;
using codec::Node;
using codec::Quote;
using codec::YamlScalar;

constexpr std::uint64_t kMaxPort = 65535;
constexpr std::uint64_t kMaxIcmpType = 255;  // RFC 792 / RFC 4443: the type is one octet

bool IsIcmp(Protocol p) { return p == Protocol::kIcmp || p == Protocol::kIcmpv6; }

void SortPolicy(Policy& policy) {
  std::sort(policy.groups.begin(), policy.groups.end(),
            [](const PolicyGroup& a, const PolicyGroup& b) { return a.name < b.name; });
  std::sort(policy.allow.begin(), policy.allow.end());
  std::sort(policy.failsafe.begin(), policy.failsafe.end());
  std::sort(policy.alert_on_exec.begin(), policy.alert_on_exec.end());
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

// Where each field of a group or rule was in the file, so that ValidatePolicy's problems,
// which name an object and a field, can be reported at file:line:column.
struct GroupMarks {
  Mark name;
  Mark selector;
  Mark mode;
};
struct RuleMarks {
  Mark item;
  Mark from;
  Mark to;
  Mark ports;
};
// A rule with errors of its own, kept only to check the groups it names.
struct IncompleteRule {
  bool failsafe = false;
  std::optional<std::string> from;
  std::optional<std::string> to;
  RuleMarks marks;
};

// Reads the document item by item into the model, checking what the model cannot hold (syntax,
// types, numbers over 65535, unknown protocols and modes); ValidatePolicy checks the rest.
class PolicyReader {
 public:
  explicit PolicyReader(ErrorList& errors) : errors_(errors) {}

  void Read(std::string_view text, Policy& policy) {
    auto top_node = codec::StreamDocument(
        text, "the Policy",
        {"apiVersion", "kind", "mode", "groupBy", "groups", "allow", "failsafe", "alertOnExec"},
        {{"groups", [&](const Node& item) { ReadGroup(item, policy); }},
         {"allow", [&](const Node& item) { ReadRule(item, false, policy.allow); }},
         {"failsafe", [&](const Node& item) { ReadRule(item, true, policy.failsafe); }}},
        errors_);
    if (!top_node) {
      return;
    }
    Fields top(*top_node, {"apiVersion", "kind", "mode", "groupBy", "alertOnExec"}, "the Policy",
               errors_);
    codec::CheckHeader(top, "Policy", errors_);
    if (const Node* node = top.Find("mode")) {
      if (auto mode = ReadMode(*node, "mode")) {
        policy.mode = *mode;
      }
    }
    if (const Node* node = top.Find("groupBy")) {
      for (auto& [label, item] : codec::ReadStringList(*node, "groupBy", errors_)) {
        policy.group_by.push_back(std::move(label));
        group_by_marks_.push_back(item->Where());
      }
    }
    if (const Node* node = top.Find("alertOnExec")) {
      for (auto& [name, item] : codec::ReadStringList(*node, "alertOnExec", errors_)) {
        policy.alert_on_exec.push_back(std::move(name));
        alert_marks_.push_back(item->Where());
      }
    }
    // Only now: rules may come before the groups they name.
    for (const PolicyProblem& problem : ValidatePolicy(policy)) {
      errors_.Add(MarkOf(problem), MessageOf(problem));
    }
    std::set<std::string_view> listed;
    if (!incomplete_.empty()) {
      for (const PolicyGroup& group : policy.groups) {
        listed.insert(group.name);
      }
    }
    const auto is_listed = [&listed](const std::string& name) { return listed.count(name) != 0; };
    for (const IncompleteRule& rule : incomplete_) {
      const PolicyPart part = rule.failsafe ? PolicyPart::kFailsafe : PolicyPart::kAllow;
      for (const auto& [name, field, mark] :
           {std::tuple(rule.from, PolicyField::kFrom, rule.marks.from),
            std::tuple(rule.to, PolicyField::kTo, rule.marks.to)}) {
        if (!name) {
          continue;
        }
        if (auto problem = GroupRefProblem(is_listed, part, field, *name)) {
          errors_.Add(mark, std::move(*problem));
        }
      }
    }
  }

 private:
  Mark MarkOf(const PolicyProblem& p) const {
    switch (p.part) {
      case PolicyPart::kGroupBy:
        return group_by_marks_.at(p.index);
      case PolicyPart::kAlertOnExec:
        return alert_marks_.at(p.index);
      case PolicyPart::kGroup: {
        const GroupMarks& g = group_marks_.at(p.index);
        return p.field == PolicyField::kSelector ? g.selector
               : p.field == PolicyField::kMode   ? g.mode
                                                 : g.name;
      }
      case PolicyPart::kAllow:
      case PolicyPart::kFailsafe: {
        const RuleMarks& r =
            (p.part == PolicyPart::kAllow ? allow_marks_ : failsafe_marks_).at(p.index);
        // A failsafe `from` left out (meaning any) has no position of its own.
        const Mark field = p.field == PolicyField::kFrom    ? r.from
                           : p.field == PolicyField::kTo    ? r.to
                           : p.field == PolicyField::kPorts ? r.ports
                                                            : r.item;
        return field.line >= 0 ? field : r.item;
      }
    }
    return Mark{};
  }

  std::string MessageOf(const PolicyProblem& p) const {
    if (!p.first) {
      return p.message;
    }
    Mark first;
    if (p.part == PolicyPart::kGroup) {
      first = group_marks_.at(*p.first).name;
    } else if (p.part == PolicyPart::kAllow) {
      first = allow_marks_.at(*p.first).item;
    } else if (p.part == PolicyPart::kFailsafe) {
      first = failsafe_marks_.at(*p.first).item;
    } else if (p.part == PolicyPart::kAlertOnExec) {
      first = alert_marks_.at(*p.first);
    }
    return p.message + " (first at line " + std::to_string(first.line + 1) + ")";
  }

  std::optional<Mode> ReadMode(const Node& node, std::string_view what) {
    auto name = codec::ReadString(node, what, errors_);
    if (!name) {
      return std::nullopt;
    }
    auto mode = ParseMode(*name);
    if (!mode) {
      errors_.Add(
          node, "unknown " + std::string(what) + " " + Quote(*name) + " (learn, monitor, enforce)");
    }
    return mode;
  }

  void ReadGroup(const Node& item, Policy& policy) {
    if (!codec::ExpectMap(item, "a group", errors_)) {
      return;
    }
    Fields fields(item, {"name", "selector", "mode"}, "a group", errors_);
    PolicyGroup group;
    GroupMarks marks;
    const Node* name_node = fields.Require("name");
    std::optional<std::string> name;
    if (name_node != nullptr) {
      name = codec::ReadString(*name_node, "a group name", errors_);
      marks.name = name_node->Where();
    }
    if (const Node* node = fields.Find("selector")) {
      group.selector = codec::ReadStringMap(*node, "selector", errors_);
      marks.selector = node->Where();
    }
    if (const Node* node = fields.Find("mode")) {
      group.mode = ReadMode(*node, "group mode");
      marks.mode = node->Where();
    }
    if (!name) {
      return;
    }
    group.name = std::move(*name);
    policy.groups.push_back(std::move(group));
    group_marks_.push_back(marks);
  }

  // `from`/`to` of a rule. Failsafe entries may leave it out, meaning `any`.
  std::optional<std::string> ReadGroupRef(const Fields& fields, std::string_view key,
                                          const Node& item, std::string_view what, bool failsafe,
                                          Mark& mark) {
    const Node* node = fields.Find(key);
    if (node == nullptr) {
      if (failsafe) {
        return std::string(kAnyGroup);
      }
      errors_.Add(item, "missing " + Quote(key) + " in " + std::string(what));
      return std::nullopt;
    }
    mark = node->Where();
    return codec::ReadString(*node, std::string(what) + " " + std::string(key), errors_);
  }

  std::optional<Protocol> ReadProtocol(Fields& fields, std::string_view what) {
    const Node* node = fields.Require("protocol");
    if (node == nullptr) {
      return std::nullopt;
    }
    auto name = codec::ReadString(*node, std::string(what) + " protocol", errors_);
    if (!name) {
      return std::nullopt;
    }
    auto protocol = ParseProtocol(*name);
    if (!protocol) {
      errors_.Add(*node, "unknown protocol " + Quote(*name) + " (tcp, udp, icmp, icmpv6, sctp)");
    }
    return protocol;
  }

  // `port: N` or `ports: A-B`, as numbers that fit a port. Which numbers are valid for the
  // protocol (ICMP types, no port 0, first <= last) is ValidatePolicy's part.
  std::optional<PortRange> ReadPorts(const Fields& fields, const Node& item,
                                     std::optional<Protocol> protocol, std::string_view what,
                                     Mark& mark) {
    const Node* port_node = fields.Find("port");
    const Node* ports_node = fields.Find("ports");
    if (port_node != nullptr && ports_node != nullptr) {
      errors_.Add(*ports_node, std::string(what) + " has both \"port\" and \"ports\"; give one");
      return std::nullopt;
    }
    if (port_node == nullptr && ports_node == nullptr) {
      errors_.Add(item, std::string(what) + " needs \"port: N\" or \"ports: FIRST-LAST\"");
      return std::nullopt;
    }
    const bool icmp = protocol && IsIcmp(*protocol);
    if (port_node != nullptr) {
      mark = port_node->Where();
      auto port = codec::ReadUnsigned(*port_node, icmp ? "port (the ICMP type)" : "port", kMaxPort,
                                      errors_);
      if (!port) {
        return std::nullopt;
      }
      const auto p = static_cast<std::uint16_t>(*port);
      return PortRange{p, p};
    }
    const Node& node = *ports_node;
    mark = node.Where();
    const std::string form = "ports must be a range FIRST-LAST like 8000-8080";
    // Quoted or not: a range is text in YAML either way, and JSON has to quote it.
    if (!node.IsScalar()) {
      errors_.Add(node, form + ", not " + std::string(codec::KindOf(node)));
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
    const std::uint64_t max = icmp ? kMaxIcmpType : kMaxPort;
    const std::string unit =
        icmp ? "an " + std::string(ProtocolName(*protocol)) + " type" : std::string("a port");
    // The model holds numbers up to 65535; ValidatePolicy judges those, first before last, as
    // the protocol demands. So a number over 65535 is reported here unless the first number
    // already fails (then ValidatePolicy reports that one, and the last is only clamped).
    const bool no_zero = protocol.has_value() && !icmp;
    const bool first_fails = *first > max || (no_zero && *first == 0);
    if (*first > kMaxPort || (!first_fails && *last > kMaxPort)) {
      const std::uint64_t bad = *first > kMaxPort ? *first : *last;
      errors_.Add(node,
                  std::to_string(bad) + " is not " + unit + " (0.." + std::to_string(max) + ")");
      return std::nullopt;
    }
    return PortRange{static_cast<std::uint16_t>(*first),
                     static_cast<std::uint16_t>(std::min(*last, kMaxPort))};
  }

  void ReadRule(const Node& item, bool failsafe, std::vector<AllowRule>& out) {
    const std::string what = failsafe ? "a failsafe entry" : "an allow rule";
    const std::string_view key = failsafe ? "failsafe" : "allow";
    if (!codec::ExpectMap(item, what, errors_)) {
      return;
    }
    Fields fields(item, {"from", "to", "protocol", "port", "ports"}, what, errors_);
    RuleMarks marks;
    marks.item = item.Where();
    auto from = ReadGroupRef(fields, "from", item, key, failsafe, marks.from);
    auto to = ReadGroupRef(fields, "to", item, key, failsafe, marks.to);
    auto protocol = ReadProtocol(fields, what);
    auto ports = ReadPorts(fields, item, protocol, what, marks.ports);
    if (!from || !to || !protocol || !ports) {
      if (incomplete_.size() < ErrorList::kMaxErrors) {
        incomplete_.push_back(IncompleteRule{failsafe, std::move(from), std::move(to), marks});
      }
      return;
    }
    out.push_back(AllowRule{std::move(*from), std::move(*to), *protocol, *ports});
    (failsafe ? failsafe_marks_ : allow_marks_).push_back(marks);
  }

  ErrorList& errors_;
  std::vector<Mark> group_by_marks_;
  std::vector<Mark> alert_marks_;
  std::vector<GroupMarks> group_marks_;
  std::vector<RuleMarks> allow_marks_;
  std::vector<RuleMarks> failsafe_marks_;
  std::vector<IncompleteRule> incomplete_;
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
  auto parsed = codec::ParseDocument<Policy>(
      text, file_name, [](std::string_view input, ErrorList& errors, Policy& policy) {
        PolicyReader(errors).Read(input, policy);
      });
  if (parsed) {
    SortPolicy(*parsed);
  }
  return parsed;
}

boost::system::result<Policy, FileErrors> LoadPolicyFile(const std::string& path) {
  return codec::LoadDocumentFile(path, ParsePolicy);
}

std::string WritePolicyYaml(const Policy& input, const std::vector<AllowComment>& comments) {
  Policy policy = input;
  std::sort(policy.groups.begin(), policy.groups.end(),
            [](const PolicyGroup& a, const PolicyGroup& b) { return a.name < b.name; });
  std::sort(policy.failsafe.begin(), policy.failsafe.end());
  // Allow rules are sorted with their comments: order[i] is the input index of output rule i.
  std::vector<std::size_t> order(policy.allow.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return policy.allow[a] < policy.allow[b]; });
  const bool commented = !comments.empty() && comments.size() == policy.allow.size();

  std::string out = "apiVersion: bulkhead/v1\nkind: Policy\n";
  out += "mode: " + std::string(ModeName(policy.mode)) + "\n";
  out += "groupBy: " + codec::YamlFlowList(policy.group_by) + "\n";
  out += policy.groups.empty() ? "groups: []\n" : "groups:\n";
  for (const auto& group : policy.groups) {
    out += "  - name: " + YamlScalar(group.name) + "\n";
    if (!group.selector.empty()) {
      out += "    selector: " + codec::YamlFlowMap(group.selector) + "\n";
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
  if (!policy.alert_on_exec.empty()) {  // left out when empty: older readers refuse the key
    std::vector<std::string> alert = policy.alert_on_exec;
    std::sort(alert.begin(), alert.end());
    out += "alertOnExec: " + codec::YamlFlowList(alert) + "\n";
  }
  return out;
}

}  // namespace bulkhead::policy
