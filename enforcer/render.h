#pragma once

#include <string>

#include "enforcer/ruleset.h"

namespace bulkhead::enforcer {

struct RenderOptions {
  // Prefix each table with `table ... {}` + `delete table ...` so that `nft -f` replaces the
  // previous bulkhead tables atomically (what the netlink batch does too).
  bool replace = true;
  // `# origin` comments on sets, rules and elements (off for the benchmark's nft -f baseline).
  bool comments = true;
};

// The ruleset in `nft -f` syntax. Deterministic: same model, same bytes (golden tests).
std::string RenderNft(const Ruleset& ruleset, const RenderOptions& options = {});

// One value / one statement in nft syntax (also used in error messages and the evaluator trace).
std::string RenderValue(const Value& v);
std::string RenderStatement(const Statement& s);

}  // namespace bulkhead::enforcer
