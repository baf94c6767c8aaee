#!/usr/bin/env bash
# Lint: (1) format drift: `clang-format --dry-run --Werror` on every tracked .cc/.h, against the
# checked-in .clang-format; (2) the curated .clang-tidy checks on the product sources (the modules
# and cli/, not tests/, bench/ or tools/), one clang-tidy per file, $(nproc) at a time, with the
# compile commands of build/<preset> (and the generated protobuf headers). Exit 0 when both are clean, 1 otherwise. Findings in a
# header are reported once, not once per file that includes it.
#
#   scripts/lint.sh [--format] [--tidy] [--preset NAME]   (default: both, preset debug)
#
# Needs clang-format and clang-tidy 14 (`scripts/setup.sh --lint`). The compile commands come from
# configuring the preset (done here when missing); nothing is built but the generated headers.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
preset=debug
run_format=0
run_tidy=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --format) run_format=1 ;;
    --tidy) run_tidy=1 ;;
    --preset) preset=$2; shift ;;
    *) echo "usage: scripts/lint.sh [--format] [--tidy] [--preset NAME]" >&2; exit 2 ;;
  esac
  shift
done
if [[ $run_format == 0 && $run_tidy == 0 ]]; then
  run_format=1
  run_tidy=1
fi

tool() {  # name: the LLVM 14 binary Debian 12 installs, or the unversioned one
  if command -v "$1-14" >/dev/null; then
    echo "$1-14"
  elif command -v "$1" >/dev/null; then
    echo "$1"
  else
    echo "scripts/lint.sh: $1 is not installed (scripts/setup.sh --lint)" >&2
    exit 2
  fi
}
jobs=$(nproc)
status=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

if [[ $run_format == 1 ]]; then
  clang_format=$(tool clang-format)
  mapfile -t files < <(git ls-files '*.cc' '*.h')
  # One line per file that drifts; `clang-format -i FILE` shows what it wants.
  if ! printf '%s\0' "${files[@]}" |
      xargs -0 -n 8 -P "$jobs" "$clang_format" --dry-run --Werror 2>"$scratch/format.log"
  then
    drifted=$(grep -oE '^[^:]+\.(cc|h):' "$scratch/format.log" | sort -u | tr -d :)
    echo "format: $(wc -l <<<"$drifted") of ${#files[@]} files differ from .clang-format:"
    sed 's/^/  /' <<<"$drifted"
    status=1
  else
    echo "format: ${#files[@]} files match .clang-format"
  fi
fi

if [[ $run_tidy == 1 ]]; then
  clang_tidy=$(tool clang-tidy)
  build=build/$preset
  if [[ ! -f $build/compile_commands.json ]]; then
    cmake --preset "$preset" >/dev/null
  fi
  # The CRI client includes protoc's generated headers (inventory/cri_runtime.proto): generate
  # them (protoc only, seconds), or clang-tidy reports every file that includes them.
  cmake --build "$build" --target bulkhead_cri_proto_headers >/dev/null
  mapfile -t sources < <(git ls-files -- \
    'capture/*.cc' 'cli/*.cc' 'codec/*.cc' 'daemon/*.cc' 'enforcer/*.cc' 'inventory/*.cc' 'learn/*.cc' 'policy/*.cc')
  logs=$scratch/tidy
  mkdir "$logs"
  start=$SECONDS
  # Each file's output goes to a log of its own, so parallel runs do not interleave lines.
  # -Wno-unknown-warning-option: the compile commands are GCC's, with warnings clang lacks.
  printf '%s\n' "${sources[@]}" | xargs -P "$jobs" -I{} sh -c \
    '"$1" -p "$2" --quiet --header-filter="^$3/(capture|cli|codec|daemon|enforcer|inventory|learn|policy)/" \
       --extra-arg=-Wno-unknown-warning-option "$4" >"$5/$(echo "$4" | tr / _).log" 2>&1 || true' \
    _ "$clang_tidy" "$build" "$root" {} "$logs"
  # A finding is "path:line:col: warning|error: message [check]"; a header's appear once per
  # includer, so keep each once. The function-size finding's length is on the note after it.
  findings=$(cat "$logs"/*.log | grep -E '^/.*:[0-9]+:[0-9]+: (warning|error): .*\[[^]]+\]$' |
    sed "s#^$root/##" | sort -u || true)
  count=0
  [[ -n $findings ]] && count=$(wc -l <<<"$findings")
  echo "tidy: ${#sources[@]} files, $count findings, $((SECONDS - start)) s ($jobs at a time)"
  if [[ $count != 0 ]]; then
    echo "tidy: findings per check:"
    grep -oE '\[[^]]+\]$' <<<"$findings" | tr -d '[]' | tr , '\n' | grep -vx -- -warnings-as-errors |
      sort | uniq -c | sort -rn |
      sed 's/^/  /'
    echo "tidy: findings:"
    sed 's/^/  /' <<<"$findings"
    echo "tidy: functions over 80 lines (file:line, lines of the body):"
    cat "$logs"/*.log | awk -v root="$root/" '
      /: (warning|error): function .* exceeds recommended size\/complexity/ {
        split($0, p, ":"); loc = p[1] ":" p[2]; sub(root, "", loc); want = 1; next }
      want && /note: [0-9]+ lines including whitespace and comments/ {
        match($0, /[0-9]+ lines/); print loc, substr($0, RSTART, RLENGTH - 6); want = 0 }' |
      sort -u | sort -k2 -rn | sed 's/^/  /'
    status=1
  fi
fi
exit $status
