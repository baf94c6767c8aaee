#!/usr/bin/env bash
# Fuzzing campaigns: builds the libFuzzer binaries (the `fuzz` preset: clang 14, ASan+UBSan) and
# runs each target from a copy of its seed corpus (tests/fuzz/corpus/<target>), two at a time.
#
#   scripts/fuzz.sh [--seconds N | --runs N] [--jobs J] [TARGET...]   (default: 60 s, every target)
#
# One line per target: executions, corpus growth, and the result. A crash, leak or broken promise
# stops that target; its input is kept in build/fuzz/artifacts/ with the command that replays it.
# Commit such an input into the target's corpus with the fix: the `<target>_replay` CTest tests
# replay every corpus file in the sanitizer build, so it stays fixed. Exit 1 when any target
# failed. Needs `scripts/setup.sh --fuzz`.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=(-max_total_time=60)
jobs=2
targets=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) limit=(-max_total_time="$2"); shift ;;
    --runs) limit=(-runs="$2"); shift ;;
    --jobs) jobs=$2; shift ;;
    -*) echo "usage: scripts/fuzz.sh [--seconds N | --runs N] [--jobs J] [TARGET...]" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
if ! command -v clang++-14 >/dev/null; then
  echo "scripts/fuzz.sh: clang++-14 is not installed (scripts/setup.sh --fuzz)" >&2
  exit 2
fi
if [[ ${#targets[@]} -eq 0 ]]; then
  mapfile -t targets < <(sed -n 's/^bulkhead_add_fuzz(\([a-z0-9_]*\) .*/\1/p' tests/fuzz/CMakeLists.txt)
fi
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target "${targets[@]}"

out=build/fuzz/campaign
mkdir -p "$out" build/fuzz/artifacts
run_one() {  # target: runs it, writes $out/<target>.log and one summary line to $out/<target>.line
  local target=$1 corpus=$out/$1.corpus seed=tests/fuzz/corpus/${1%_fuzz}
  rm -rf "$corpus"
  mkdir -p "$corpus"
  cp "$seed"/* "$corpus"/
  local status=0
  (cd "$out" && "../tests/fuzz/$target" "${limit[@]}" -print_final_stats=1 -rss_limit_mb=2048 \
    -artifact_prefix="../artifacts/$target-" "$target.corpus") >"$out/$target.log" 2>&1 ||
    status=$?
  local execs units
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$target.log")
  units=$(sed -n 's/^stat::new_units_added: *//p' "$out/$target.log")
  if [[ $status == 0 ]]; then
    printf '%-16s %12s executions  %5s new inputs  ok\n' "$target" "${execs:-?}" "${units:-?}"
  else
    local input
    input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$out/$target.log" | tail -1)
    printf '%-16s %12s executions  FAILED: %s (log %s; replay: build/fuzz/tests/fuzz/%s %s)\n' \
      "$target" "${execs:-?}" "$(grep -m1 -E 'ERROR|broken promise' "$out/$target.log" || true)" \
      "$out/$target.log" "$target" "build/fuzz/${input#../}"
  fi >"$out/$target.line"
  return "$status"
}

failed=0
pids=()
for target in "${targets[@]}"; do
  run_one "$target" &
  pids+=($!)
  if [[ ${#pids[@]} -ge $jobs ]]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do
  wait "$pid" || failed=1
done
for target in "${targets[@]}"; do
  cat "$out/$target.line"
done
exit "$failed"
