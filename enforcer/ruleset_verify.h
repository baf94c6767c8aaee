#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "enforcer/netlink_transport.h"
#include "enforcer/ruleset.h"

// The "kernel-verified ruleset": reads bulkhead's tables back from the kernel and compares them
// with what applying a Ruleset sends.
//
// The expected side is the replace batch itself (BuildReplaceBatch of the model, not sent),
// parsed message by message, so the comparison is with the bytes bulkhead sends and not with a
// second rendering of the model that could drift from the encoder.
//
// What is compared, per table of the model (inet and bridge `bulkhead`):
// - the table exists and its flags (0: a `dormant` table is present but inactive);
// - named objects (counters): the same names; their values are not compared (traffic);
// - chains: the same names; for base chains type, hook, priority and policy;
// - sets: the same names, flags, key and data type and length, and size;
// - rules of each chain: the same count in the same order, each compared by content (its
//   expressions as libnftnl prints them) without its handle, position or counter values. A
//   rule's identity in the kernel is its handle, which changes at every apply, so handles are
//   never compared;
// - set and map elements: exactly (key, key end, data or verdict), except for dynamic sets,
//   which the packet path fills (the hit set).
// What is not compared: set user data (nft's byte-order hints for printing), per-element and
// per-set counter values, element expiry, the chains' and rules' user data (comments; bulkhead
// sets none), and anything outside bulkhead's tables. Objects of another kind than counters
// (quotas, limits, ...) in bulkhead's tables are not read.
namespace bulkhead::enforcer {

struct RulesetDifference {
  enum class Kind : std::uint8_t { kMissing, kUnexpected, kChanged };
  Kind kind = Kind::kMissing;
  // The object at fault in nft terms: "table inet bulkhead", "chain inet bulkhead forward",
  // "rule 3 of chain inet bulkhead forward", "set inet bulkhead grp4",
  // "element of set inet bulkhead grp4".
  std::string object;
  // The policy object that produced it, where the model carries one (rules, sets, elements).
  std::string origin;
  // What differs ("absent in the kernel", "flags 0x1, expected 0x0", the kernel's rule).
  std::string detail;

  // "missing: element of set inet bulkhead grp4 (workload web-1 (group web)): absent in the kernel"
  std::string ToString() const;
};

struct VerifyOptions {
  // Stop after this many differences: a deleted table is one difference, not thousands.
  std::size_t max_differences = 16;
};

// Compares the kernel's bulkhead tables with `ruleset`. An empty list: they match. Errors:
// the kernel could not be read (transport failures, unparseable replies).
boost::system::result<std::vector<RulesetDifference>, std::string> VerifyRuleset(
    NetlinkTransport& transport, const Ruleset& ruleset, const VerifyOptions& options = {});

}  // namespace bulkhead::enforcer
