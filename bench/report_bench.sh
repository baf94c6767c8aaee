#!/usr/bin/env bash
# The review page's cost (bench/README.md, "Report"): `bulkhead report` on the bundled example
# and on a 50-group, 500-edge graph (bench/gen_big_policy.py --graph), against the baseline of
# drawing the same graph with the plain DOT export and `dot -Tsvg`. Median wall time of REPEAT
# runs, and the page's size.
set -euo pipefail
cd "$(dirname "$0")/.."
BULKHEAD=${BULKHEAD:-build/release/bulkhead}
REPEAT=${REPEAT:-5}
out=$(mktemp -d /tmp/bulkhead-report-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT

"$BULKHEAD" learn --pcap examples/shop.pcap --inventory examples/shop-inventory.yaml \
  -o "$out/shop.yaml" 2>/dev/null
python3 bench/gen_big_policy.py "$out/big" --workloads 50 --groups 50 --edges 500 --graph

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
wall() {  # wall seconds of "$@", REPEAT times, median
  for _ in $(seq "$REPEAT"); do
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null
    end=$(date +%s.%N)
    python3 -c "print($end - $start)"
  done | median
}
printf '%-8s %10s %10s %8s %12s\n' graph report_s dot_s ratio page_bytes
for graph in "$out/shop.yaml" "$out/big/graph.yaml"; do
  report=$(wall "$BULKHEAD" report "$graph" -o "$out/page.html")
  plain=$(wall sh -c "'$BULKHEAD' export '$graph' --format dot -o - | dot -Tsvg")
  printf '%-8s %10.3f %10.3f %8.2f %12d\n' "$(basename "$(dirname "$graph")")/$(basename "$graph")" \
    "$report" "$plain" "$(python3 -c "print($report / $plain)")" "$(stat -c %s "$out/page.html")"
done
