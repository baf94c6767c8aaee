#!/usr/bin/env bash
# Formats benchmark (bench/README.md, "Formats"): a 10,000-workload, 100,000-edge policy and its
# inventory, read by whole `bulkhead` processes as a user runs them, against `nft -c -f` of the
# very ruleset `enforce --dry-run` prints (nft's own parse and check of that text, in a network
# namespace this script creates and deletes; -c commits nothing).
#
# Usage: bench/formats_bench.sh AFTER_BINARY [BEFORE_BINARY]
#   e.g. bench/formats_bench.sh build/release/bulkhead /tmp/bh-before-build/bulkhead
# Environment: REPEAT (3) runs per row, median reported; OUT (bench/out/formats);
# WORKLOADS/NGROUPS/EDGES (10000/1000/100000). Root for the nft baseline (skipped otherwise).
set -u
AFTER=$(realpath "$1")
BEFORE=${2:+$(realpath "$2")}
REPEAT=${REPEAT:-3}
OUT=${OUT:-bench/out/formats}
HERE=$(dirname "$(realpath "$0")")
mkdir -p "$OUT"; OUT=$(realpath "$OUT")
NS="bhfmt$$"
cleanup() { ip netns del "$NS" 2>/dev/null; }
trap cleanup EXIT

python3 "$HERE/gen_big_policy.py" "$OUT" --workloads "${WORKLOADS:-10000}" \
  --groups "${NGROUPS:-1000}" --edges "${EDGES:-100000}" || exit 1
python3 "$HERE/gen_big_policy.py" "$OUT" --groups-only 65533 || exit 1
POLICY="$OUT/policy.yaml"; INV="$OUT/inventory.yaml"
cat "$POLICY" "$INV" > /dev/null  # into the page cache
echo "# $(date -u +%FT%TZ) $(uname -r) nproc $(nproc) load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# policy $(stat -c %s "$POLICY") bytes, inventory $(stat -c %s "$INV") bytes"

# One row: REPEAT runs of a command under GNU time -v; prints the median wall seconds and the
# median peak RSS (MiB) and the exit status of the last run.
measure() {
  local label=$1; shift
  local walls=() rsses=() rc=0
  for _ in $(seq "$REPEAT"); do
    local t
    /usr/bin/time -v -o "$OUT/time.txt" "$@" > /dev/null 2> "$OUT/stderr.txt"
    t=$(cat "$OUT/time.txt")
    rc=$(awk -F': ' '/Exit status/ {print $2}' <<<"$t")
    walls+=("$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0;
      for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' <<<"$t")")
    rsses+=("$(awk -F': ' '/Maximum resident/ {printf "%.1f", $2 / 1024}' <<<"$t")")
  done
  local wall rss
  wall=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(( (REPEAT + 1) / 2 ))p")
  rss=$(printf '%s\n' "${rsses[@]}" | sort -g | sed -n "$(( (REPEAT + 1) / 2 ))p")
  printf '%-34s wall_s %6.2f  peak_rss_mib %7.1f  exit %s\n' "$label" "$wall" "$rss" "$rc"
}

run_binary() {  # name binary
  local name=$1 bin=$2
  measure "$name check" "$bin" check "$POLICY" --inventory "$INV"
  measure "$name enforce --dry-run" "$bin" enforce "$POLICY" --inventory "$INV" --dry-run
  measure "$name check 65,533 groups" "$bin" check "$OUT/many-groups.yaml"
  head -c 300 "$OUT/stderr.txt" | sed 's/^/#   /'
}

if [ "$(id -u)" = 0 ] && command -v nft > /dev/null; then
  "$AFTER" enforce "$POLICY" --inventory "$INV" --dry-run > "$OUT/dry-run.nft" || exit 1
  ip netns add "$NS" || exit 1
  measure "baseline nft -c -f dry-run.nft" ip netns exec "$NS" nft -c -f "$OUT/dry-run.nft"
fi
[ -n "$BEFORE" ] && run_binary before "$BEFORE"
run_binary after "$AFTER"
