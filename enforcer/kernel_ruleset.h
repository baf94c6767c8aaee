#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "enforcer/batch_builder.h"
#include "enforcer/element_delta.h"
#include "enforcer/netlink_transport.h"
#include "enforcer/ruleset.h"

// Applying, reading back and removing bulkhead's tables through a NetlinkTransport.
namespace bulkhead::enforcer {

struct KernelError {
  std::uint32_t seq = 0;
  int error = 0;
  std::string origin;   // the policy object that produced the refused message
  std::string message;  // the kernel's extended ACK text, if any
};

struct ApplyError {
  std::string summary;              // one line for the user
  std::vector<KernelError> errors;  // empty for transport failures
};

struct ApplyStats {
  std::size_t messages = 0;
  std::size_t bytes = 0;
};

// Replaces bulkhead's tables with `ruleset` in one batch: all or nothing. On a kernel error
// the previous tables stay as they were and each error names its policy object.
boost::system::result<ApplyStats, ApplyError> ApplyRuleset(NetlinkTransport& transport,
                                                           const Ruleset& ruleset,
                                                           const BatchOptions& options = {});

struct UpdateResult {
  // The rulesets differ in more than elements (a group, edge or rule came or went): nothing was
  // sent; the caller must ApplyRuleset(next) instead.
  bool structure_changed = false;
  std::size_t added = 0;    // elements
  std::size_t removed = 0;  // elements
  ApplyStats stats;         // messages 0: nothing differed, nothing was sent
};

// Moves the kernel from `previous` (the ruleset last applied) to `next` when they differ in
// set/map elements only: ONE batch of element deletions and additions, all or nothing, leaving
// chains, rules and the counters of unchanged elements alone; a removed single-port edge's
// element of the hit set goes too (read from the kernel first), so its count does not come back
// with the edge. When the structure differs the
// result says so (structure_changed) and nothing is sent. A kernel error (for instance someone
// changed the tables behind bulkhead's back, so an element to delete is gone) leaves the tables
// as they were; ApplyRuleset(next) then repairs them.
boost::system::result<UpdateResult, ApplyError> UpdateElements(NetlinkTransport& transport,
                                                               const Ruleset& previous,
                                                               const Ruleset& next,
                                                               const BatchOptions& options = {});

// The same for a delta computed beforehand (DiffElements).
boost::system::result<UpdateResult, ApplyError> ApplyElementDelta(NetlinkTransport& transport,
                                                                  const ElementDelta& delta,
                                                                  const BatchOptions& options = {});

// Deletes bulkhead's tables (inet and bridge `bulkhead`), and nothing else. Absent tables are
// not an error.
boost::system::result<void, ApplyError> DeleteTables(NetlinkTransport& transport);

struct CounterValue {
  std::string name;  // named counter, or the edge (element origin) of a set counter
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

// Named counters of table inet bulkhead (logged, dropped, monitored, spoofed) and of the
// bridge table, keyed "inet/<name>" and "bridge/<name>".
boost::system::result<std::vector<CounterValue>, std::string> ReadNamedCounters(
    NetlinkTransport& transport);

// Per-element counters of set `set` of table inet bulkhead (as the kernel has it: a dynamic
// set's elements too), each named by the origin of the element of `names` (the compiled model;
// `set` itself by default) with the same key, "unknown element" when none has it.
boost::system::result<std::vector<CounterValue>, std::string> ReadSetCounters(
    NetlinkTransport& transport, const Set& set, const Set* names = nullptr);

// One source address's violations over its log budget: its elements of the suppressed sets
// (suppressed4/6, rule_building.h: VerdictChain) of both tables, summed. They count from the
// last full apply (which creates the sets anew).
struct SuppressedCount {
  std::array<std::uint8_t, 16> address{};  // IPv4: the first 4 bytes
  bool v6 = false;
  std::uint64_t packets = 0;
};
boost::system::result<std::vector<SuppressedCount>, std::string> ReadSuppressedViolations(
    NetlinkTransport& transport);

// Every edge of the compiled inet table `inet_table` with its kernel counter, in the order of
// its sets: ranges and ICMP count in their own sets, single ports in the hit set (HitNames),
// where an edge appears with its first connection; an edge without an element there reads 0.
boost::system::result<std::vector<CounterValue>, std::string> ReadEdgeCounters(
    NetlinkTransport& transport, const Table& inet_table);

}  // namespace bulkhead::enforcer
