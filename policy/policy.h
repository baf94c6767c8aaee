#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/model.h"

// `kind: Policy`: the approved graph. Plain values; the YAML codec validates and the enforcer
// compiles them. Example:
//
//   apiVersion: bulkhead/v1
//   kind: Policy
//   mode: monitor                  # learn | monitor | enforce (global)
//   groupBy: [app]
//   groups:
//     - name: api
//       selector: {app: api}       # optional: explicit labels; else derived through groupBy
//       mode: enforce              # optional per-group override
//   allow:
//     - {from: api, to: db, protocol: tcp, port: 5432}
//     - {from: frontend, to: api, protocol: tcp, ports: 8000-8080}
//   failsafe:                      # never blocked, whatever the rest says
//     - {to: host, protocol: tcp, port: 22}
//     - {from: any, to: host, protocol: udp, port: 53}
//   alertOnExec: [db]              # an interactive exec (a shell) into these groups is an alert
namespace bulkhead::policy {

enum class Mode : std::uint8_t { kLearn, kMonitor, kEnforce };

std::string_view ModeName(Mode m);  // "learn", "monitor", "enforce"
std::optional<Mode> ParseMode(std::string_view name);

// An inclusive port range; a single port has first == last. For icmp/icmpv6 it holds the type.
struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  bool Contains(std::uint16_t p) const { return p >= first && p <= last; }
  friend auto operator<=>(const PortRange&, const PortRange&) = default;
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

struct PolicyGroup {
  std::string name;
  Labels selector;           // empty: members are the workloads that groupBy puts in `name`
  std::optional<Mode> mode;  // per-group override of Policy::mode (applies to its members'
                             // outgoing and incoming new connections; enforce wins over monitor
                             // when the two ends disagree)
  friend bool operator==(const PolicyGroup&, const PolicyGroup&) = default;
};

// The wildcard that failsafe entries may use for `from`/`to`.
inline constexpr std::string_view kAnyGroup = "any";

struct AllowRule {
  std::string from;
  std::string to;
  Protocol protocol = Protocol::kTcp;
  PortRange ports;
  friend auto operator<=>(const AllowRule&, const AllowRule&) = default;
  friend bool operator==(const AllowRule&, const AllowRule&) = default;
};

// A connection that is never blocked (SSH to the host, DNS, ...). `from`/`to` may be "any".
using FailsafeRule = AllowRule;

struct Policy {
  Mode mode = Mode::kMonitor;
  std::vector<std::string> group_by;
  std::vector<PolicyGroup> groups;
  std::vector<AllowRule> allow;
  std::vector<FailsafeRule> failsafe;
  // Groups where an interactive exec session (`docker exec -it`) is an alert, not only a
  // logged event. Sorted by the reader; each a listed group.
  std::vector<std::string> alert_on_exec;
  friend bool operator==(const Policy&, const Policy&) = default;
};

}  // namespace bulkhead::policy
