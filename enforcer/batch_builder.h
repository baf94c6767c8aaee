#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "enforcer/element_delta.h"
#include "enforcer/ruleset.h"

// Encodes a Ruleset as ONE nf_tables netlink batch through libnftnl, in a fixed order: for each
// table, [add table, delete table] (the atomic replacement of the previous one, so these two
// deletions necessarily come first), add table, counters, sets, chains, rules, elements. Each
// message's sequence number is recorded with the policy object that produced it, so that a
// kernel error names the rule, set, edge or workload at fault.
namespace bulkhead::enforcer {

struct EncodedBatch {
  std::vector<std::uint8_t> bytes;
  // (seq, origin) for every message between BEGIN and END, in order.
  std::vector<std::pair<std::uint32_t, std::string>> origins;
  std::size_t messages = 0;
  // For element messages: (seq, offset of each element's attribute in the message, its set and
  // origin), so that the kernel's NLMSGERR_ATTR_OFFS names the one element refused. The names
  // point into the ruleset or delta the batch was built from (texts are made only for an
  // error): an EncodedBatch must not outlive it.
  struct ElementAt {
    std::uint32_t seq;
    std::uint32_t offset;
    const std::string* set;
    const std::string* origin;
    bool remove;
  };
  std::vector<ElementAt> elements;

  // The origin of a message, or "" when seq is not part of the batch. With the offset of the
  // attribute at fault (0: unknown), the origin of that very element when there is one.
  std::string OriginOf(std::uint32_t seq, std::uint32_t bad_attr_offset = 0) const;
};

struct BatchOptions {
  std::size_t elements_per_message = 256;  // bounds each message far below 64 KiB
};

// Replaces bulkhead's tables with `ruleset` (creates them when absent).
EncodedBatch BuildReplaceBatch(const Ruleset& ruleset, std::uint32_t first_seq,
                               const BatchOptions& options = {});

// Applies `delta` (element_delta.h) to the existing tables: all its element deletions, then all
// its additions, in one batch (empty when the delta is). Additions use NLM_F_EXCL and deletions
// of absent elements fail, so a kernel that is not in the delta's starting state refuses the
// whole batch instead of ending in a mixed state.
EncodedBatch BuildElementUpdateBatch(const ElementDelta& delta, std::uint32_t first_seq,
                                     const BatchOptions& options = {});

// The key bytes of an element as the kernel stores them (to match counters read back).
std::vector<std::uint8_t> EncodeElementKey(const Set& set, const Element& element);

// Deletes the given tables if they exist (add + delete each, so an absent table is no error);
// nothing else is touched.
EncodedBatch BuildDeleteBatch(const std::vector<std::pair<Family, std::string>>& tables,
                              std::uint32_t first_seq);

}  // namespace bulkhead::enforcer
