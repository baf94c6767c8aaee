#!/usr/bin/env bash
# Cluster identity benchmark (bench/README.md, "Cluster identity"). Root; the kernel part runs
# in a network namespace this script creates and deletes (never the machine's own ruleset).
# Builds nothing: build the `identity_bench` target of the release preset first.
# Usage: bench/identity_bench.sh [BUILD_DIR] [-- identity_bench options]
#   (default build/release; options: --nodes N --pods P --deployments D --events E --page S
#   --single-stack; the default is 5,000 nodes, 150,000 dual-stack pods, 300 Deployments)
# Environment: OUT (bench/out/identity): raw.txt keeps the program's lines.
set -u
BUILD=build/release
if [[ $# -gt 0 && $1 != -- ]]; then BUILD=$1; shift; fi
[[ ${1:-} == -- ]] && shift
BIN=$(realpath "$BUILD/bench/identity_bench" 2>/dev/null)
[[ -x $BIN ]] || { echo "build $BUILD first (target identity_bench)"; exit 1; }
OUT=${OUT:-bench/out/identity}
mkdir -p "$OUT"; RAW="$(realpath "$OUT")/raw.txt"
NS="bhbench$$"
cleanup() {
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT
ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up
{
  echo "# $(date -u +%FT%TZ) $(uname -r) nproc $(nproc) load $(cut -d' ' -f1-3 /proc/loadavg)"
  /usr/bin/time -f "time wall_s %e max_rss_kb %M" ip netns exec "$NS" "$BIN" "$@" 2>&1
} | tee "$RAW"
status=${PIPESTATUS[0]}
[[ $status == 0 ]] || { echo "identity_bench failed"; exit 1; }

# The table: one "key value" pair per field of each line.
field() { awk -v tag="$1" -v key="$2" '$1 == tag { for (i = 2; i < NF; i += 2) if ($i == key) print $(i + 1) }' "$RAW"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }
echo
printf '%-58s %14s %s\n' "cluster identity ($(field shape nodes) nodes, $(field shape pods) pods)" value "vs / target"
printf '%-58s %14s %s\n' "identity table, bytes per pod (heap, all pods)" "$(field memory identity_bytes_per_pod)" "< 300"
printf '%-58s %14s %s\n' "identity table, bytes per pod (marginal, 2nd half)" "$(field memory marginal_bytes_per_pod)" "< 300"
printf '%-58s %14s %s\n' "process RSS with the table filled (MB)" "$(field memory rss_after_fill_mb)" ""
printf '%-58s %14s %s\n' "enforcement state (tracker + inventory), bytes/workload" "$(field kernel enforcement_state_bytes_per_workload)" ""
printf '%-58s %14s %s\n' "process RSS with table + tracker (MB)" "$(field kernel rss_with_tracker_mb)" ""
printf '%-58s %14s %s\n' "kernel set elements; full compile / apply (ms)" "$(field kernel set_elements)" "$(field kernel compile_ms) / $(field kernel apply_ms)"
ev_med=$(field event median_ms); bare=$(field event bare_one_element_median_ms)
printf '%-58s %14s %s\n' "pod event -> kernel sets, median (ms)" "$ev_med" "$(ratio "$ev_med" "$bare") of a bare 1-element delta ($bare ms); < 1 ms"
printf '%-58s %14s %s\n' "pod event -> kernel sets, p99 (ms)" "$(field event p99_ms)" "< 1 ms"
printf '%-58s %14s %s\n' "  ... with the tracker's commit, median / p99 (ms)" "$(field event with_commit_median_ms)" "$(field event with_commit_p99_ms)"
full=$(field event full_inventory_path_median_ms)
printf '%-58s %14s %s\n' "same event via the whole inventory (PlanChange), median (ms)" "$full" "$(ratio "$full" "$ev_med") of the incremental path"
parse=$(field relist_same parse_ms); total=$(field relist_same total_ms)
printf '%-58s %14s %s\n' "relist, nothing changed: total (ms), elements sent 0" "$total" "$(ratio "$total" "$parse") of parsing alone ($parse ms); < 2000"
total1=$(field relist_1pct total_ms)
printf '%-58s %14s %s\n' "relist, 1% changed: total (ms)" "$total1" "+$(field relist_1pct elements_added) -$(field relist_1pct elements_removed) elements = a full compile's diff"
printf '%-58s %14s %s\n' "  ... of which the tracker's commit (ms)" "$(field relist_1pct commit_ms)" ""
printf '%-58s %14s %s\n' "process RSS at the end / peak (MB)" "$(field process rss_end_mb)" "peak $(( $(field time max_rss_kb) / 1024 ))"
