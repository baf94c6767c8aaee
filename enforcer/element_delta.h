#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "enforcer/ruleset.h"

// The difference between two compiled rulesets that differ in set/map elements only: what a
// container start or stop changes (README.md, "Container churn changes elements only"). Such a
// change is applied as one batch of element deletions and additions instead of a full table
// replacement, so it costs in proportion to the change, not to the ruleset, and keeps the
// per-element counters of the untouched edges.
namespace bulkhead::enforcer {

struct SetDelta {
  Family family = Family::kInet;
  std::string table;
  // The set's declaration (as in the new ruleset); `set.elements` holds the elements to add.
  Set set;
  std::vector<Element> removed;  // elements of the previous ruleset that are gone
};

struct ElementDelta {
  std::vector<SetDelta> sets;  // only sets with a change, in ruleset order

  std::size_t Added() const;
  std::size_t Removed() const;
  bool Empty() const { return sets.empty(); }
};

// Elements compare by key and key end (what identifies one in its set), and SameElement also by
// data and verdict; origins do not count.
bool SameKey(const Element& a, const Element& b);
bool SameElement(const Element& a, const Element& b);

// True when the two rulesets declare the same tables, named counters, sets (name, key, data
// type, flags), chains and rules (statements; `origin` texts are not compared): then only
// elements differ.
bool SameStructure(const Ruleset& previous, const Ruleset& next);

// The element changes that turn `previous` into `next`; nullopt when their structure differs
// (only a full replacement gets there). Elements compare by key, key end, data and verdict;
// an element whose data changed (a workload moved to another group) is removed and re-added.
// Costs one pass over each set, plus hashing of the stretch between the first and the last
// difference.
std::optional<ElementDelta> DiffElements(const Ruleset& previous, const Ruleset& next);

}  // namespace bulkhead::enforcer
