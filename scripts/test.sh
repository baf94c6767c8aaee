#!/usr/bin/env bash
# The whole test suite: a debug build and an ASan+UBSan build, each running every CTest test
# (unit, fuzz-corpus replay, CLI, and the root-only kernel integration tests in their own network
# namespaces). Run as root from the repository root, after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
for preset in debug asan-ubsan; do
  echo "=== $preset ==="
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs"
done
