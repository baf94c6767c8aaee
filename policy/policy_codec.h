#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "policy/file_error.h"
#include "policy/model.h"
#include "policy/policy.h"

// `kind: Policy` files (the format is documented in policy.h and README.md): the reviewed,
// approved graph that the enforcer compiles.
namespace bulkhead::policy {

// Reads and validates a policy. Every problem is reported (not just the first), each with
// file:line:column and a reason: a wrong kind or apiVersion, an unknown key (typos must not
// pass), a duplicate group, an allow/failsafe entry naming an unknown group (failsafe may say
// `any`), an unknown protocol, a bad port or port range (0, > 65535, first > last, both `port`
// and `ports`, neither), an unknown mode. Groups that allow rules name but the policy does not
// list are errors too, except `host` and `world`, which always exist.
boost::system::result<Policy, FileErrors> ParsePolicy(std::string_view text,
                                                      std::string_view file_name);

// Reads `path` ("-" = standard input) and parses it; a file that cannot be read is one FileError
// naming the file.
boost::system::result<Policy, FileErrors> LoadPolicyFile(const std::string& path);

// What a reviewer sees next to an allow rule: where it came from in the learned graph.
struct AllowComment {
  std::uint64_t connections = 0;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::string first_seen;  // RFC 3339, as in the graph
  std::string last_seen;
};

// Writes a policy deterministically (groups by name, allow/failsafe rules sorted). When
// `comments` has as many entries as policy.allow, each allow rule gets a trailing comment
// "# 12 connections, 140 packets, 18230 bytes, first 2026-..., last 2026-...". ParsePolicy of the
// output gives back `policy`.
std::string WritePolicyYaml(const Policy& policy, const std::vector<AllowComment>& comments = {});

struct ApprovedPolicy {
  Policy policy;
  std::vector<AllowComment> comments;  // one per policy.allow entry, same order
  // Edges below min_connections, and edges a policy cannot express (tcp/udp/sctp port 0,
  // host to host).
  std::size_t skipped_edges = 0;
  // One line per scan the graph records (ScanNote), for the reviewer: a scan is no edge and
  // nothing of it is approved, but whoever approves the graph should know it was there.
  std::vector<std::string> scan_notes;
};

// "scan from web-1 (group web): 1000 ports on 1 peers, 2026-... to 2026-..., 1000 refused,
// 0 incomplete; its failed attempts are not edges and are not approved". The names are
// untrusted: written as YAML scalars (plain when harmless, else quoted with every control
// escaped), so a name cannot break the line.
std::string ScanNote(const ScanRecord& scan);

// Turns a learned graph into a policy: the graph's groupBy and groups (with their selectors),
// one allow rule per edge with at least `min_connections` connections, mode monitor (a new
// policy is watched before it is enforced) and no failsafe entries: traffic from outside to the
// host (an admin's SSH) is not judged at all, and a default hole from containers to the host is
// exactly what an attacker would use.
ApprovedPolicy ApproveGraph(const FlowGraph& graph, std::uint64_t min_connections);

}  // namespace bulkhead::policy
