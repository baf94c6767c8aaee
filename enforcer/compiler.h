#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "enforcer/group_members.h"
#include "enforcer/ruleset.h"
#include "enforcer/set_names.h"
#include "policy/model.h"
#include "policy/policy.h"
#include "policy/validation.h"

namespace bulkhead::enforcer {

inline constexpr std::string_view kTableName = "bulkhead";
// Policy groups get ids from 2; while a connection is matched, ct mark holds the source group
// in its upper and the destination in its lower 16 bits, and 0xffff is never an id. Validation
// refuses more (policy/validation.h); the encoding is the enforcer's, hence the name here.
inline constexpr std::size_t kMaxPolicyGroups = policy::kMaxPolicyGroups;

struct CompileOptions {
  std::optional<policy::Mode> mode;  // replaces Policy::mode (not per-group overrides)
  std::uint16_t log_group = 100;     // NFLOG group of violation records
  // Violation records each source address may log (a budget per source, so that one noisy
  // workload cannot use up another's); what is over it is counted per source instead.
  std::uint32_t log_rate_per_second = 10;
  std::uint32_t log_burst = 20;
  // Sources the budgets and the suppressed counts track at once (per address family): a fixed
  // hash, bounded whatever a flood of spoofed sources does. A budget unused for
  // log_source_timeout_seconds is forgotten; once the sets are full, a new source shares one
  // budget of log_rate_per_second with every other such source.
  std::uint32_t log_sources = 65536;
  std::uint32_t log_source_timeout_seconds = 60;
  bool bridge_table = true;  // VLAN/PPPoE drop and port anti-spoofing on bridges
};

struct CompiledPolicy {
  Ruleset ruleset;
  Membership membership;
  std::vector<std::string> warnings;  // e.g. workloads without an interface (no anti-spoofing)
};

// Compiles Policy + Inventory into bulkhead's tables (the shape is described in README.md).
// Errors: every membership error (group_members.h), allow/failsafe entries naming unknown
// groups, bad port ranges, a protocol/port combination the ruleset cannot express.
boost::system::result<CompiledPolicy, std::vector<std::string>> CompileRuleset(
    const policy::Policy& policy, const policy::Inventory& inventory,
    const CompileOptions& options);

// The set elements one workload contributes to bulkhead's table of `family`, as
// sink(set name, element): its addresses in managed/enforce/monitor/grp (and fs_g<id> when
// `failsafe_group`), interface and interface . address, and the bridge table's port sets.
// CompileRuleset fills every membership set from exactly this (a shared interface once), so a
// container start or stop adds or removes these elements and nothing else
// (membership_update.h).
void ForEachMemberElement(Family family, const ResolvedGroup& group, const MemberWorkload& w,
                          bool failsafe_group,
                          const std::function<void(std::string_view set, Element)>& sink);

// Policy groups a failsafe entry names (they get address sets of their own: fs_g<id>_4/6).
std::set<std::string> FailsafeGroups(const policy::Policy& policy, const Membership& membership);

// The edges the hit set counts, as a set of that key type: one element per single-port edge
// (element of a set with single_port_edges_of), keyed (source << 16 | destination, protocol, port),
// its origin the edge's. `status` reads the kernel's hit set against it; an edge without an element
// there had no connection.
Set HitNames(const Table& inet_table);

// The hit-set element of one element of a single-port edge set of `source`: its key with the
// source group in the upper 16 bits of the mark (what HitNames lists for it).
Element HitElement(std::uint32_t source, const Element& edge);

// Names used by the compiled ruleset that other parts (status, evaluator, tests) look up.
inline constexpr std::string_view kCounterLogged = "logged";
inline constexpr std::string_view kCounterDropped = "dropped";
inline constexpr std::string_view kCounterMonitored = "monitored";
inline constexpr std::string_view kCounterSpoofed = "spoofed";
inline constexpr std::string_view kCounterTagged = "tagged";

}  // namespace bulkhead::enforcer
