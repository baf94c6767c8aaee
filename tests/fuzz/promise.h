// The fuzz targets' one way to fail on purpose: a promise of the code under test that an input
// broke. It names itself on stderr before the abort, so the campaign's summary line
// (scripts/fuzz.sh greps "broken promise") says what went wrong rather than only "deadly signal".
#pragma once

#include <cstdio>
#include <cstdlib>

namespace bulkhead::fuzz {

inline void Promise(bool kept, const char* promise) {
  if (!kept) {
    std::fprintf(stderr, "broken promise: %s\n", promise);
    std::abort();
  }
}

}  // namespace bulkhead::fuzz

// For promises best said by their own expression.
#define BULKHEAD_PROMISE(expr) ::bulkhead::fuzz::Promise(static_cast<bool>(expr), #expr)
