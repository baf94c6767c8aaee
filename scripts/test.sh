#!/usr/bin/env bash
# The whole test suite: every CTest test (unit, fuzz-corpus replay, CLI, and the root-only kernel
# integration tests in their own network namespaces) in the ASan+UBSan build, which has the same
# -Werror warnings as the others and also catches memory and undefined-behaviour errors. Name
# presets to run others as well: `scripts/test.sh debug asan-ubsan`. Run as root from the
# repository root, after scripts/setup.sh.
set -euo pipefail
if [[ $(id -u) != 0 ]]; then
  echo "scripts/test.sh: run as root (sudo -i first)" >&2
  exit 1
fi
cd "$(dirname "$0")/.."
jobs=$(nproc)
presets=("$@")
if [[ ${#presets[@]} -eq 0 ]]; then
  presets=(asan-ubsan)
fi
for preset in "${presets[@]}"; do
  echo "=== $preset ==="
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs"
done
