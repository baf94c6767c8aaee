#!/usr/bin/env bash
# Agent benchmark (bench/README.md, "Agent"): `bulkhead agent` in enforce mode with the
# 10,000-workload, 100,000-edge policy and inventory of gen_big_policy.py (a static inventory),
# in a network namespace this script creates and deletes. One run reports, each REPEAT times:
#   start:   from the agent's exec to its first apply done (`status` says "last apply"), and the
#            agent's peak RSS (VmHWM) then
#   reload:  SIGHUP to the reload's apply logged (parse, compile, one full apply), wall time
#   nft -f:  of the very ruleset `enforce --dry-run` prints, in a fresh namespace: the baseline
# Ratios are against the nft -f median of the same run (the machine is shared: only ratios within
# one run are worth comparing).
# Usage: bench/agent_bench.sh [BINARY]   (default build/release/bulkhead). Root.
# Environment: REPEAT (3), OUT (bench/out/agent), WORKLOADS/NGROUPS/EDGES (10000/1000/100000).
set -u
BH=$(realpath "${1:-build/release/bulkhead}")
REPEAT=${REPEAT:-3}
OUT=${OUT:-bench/out/agent}
HERE=$(dirname "$(realpath "$0")")
mkdir -p "$OUT"; OUT=$(realpath "$OUT")
NS="bhag$$"
AGENT=""
cleanup() {
  [ -n "$AGENT" ] && kill -TERM "$AGENT" 2>/dev/null && wait "$AGENT" 2>/dev/null
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT
[ -x "$BH" ] || { echo "no binary $BH"; exit 1; }
python3 "$HERE/gen_big_policy.py" "$OUT" --workloads "${WORKLOADS:-10000}" \
  --groups "${NGROUPS:-1000}" --edges "${EDGES:-100000}" > /dev/null || exit 1
POLICY="$OUT/policy.yaml"; INV="$OUT/inventory.yaml"; CTL="$OUT/control.sock"
"$BH" enforce "$POLICY" --inventory "$INV" --dry-run > "$OUT/dry-run.nft" || exit 1
# The agent reads a copy; the reload gives it one group in monitor mode (a real change: a reload
# of the same policy changes nothing and applies nothing).
sed 's/^  - name: g0000$/  - {name: g0000, mode: monitor}/' "$POLICY" > "$OUT/reload-policy.yaml"
cat > "$OUT/agent.yaml" <<CONF
mode: enforce
policy: $OUT/agent-policy.yaml
inventory: {file: $INV}
control: $CTL
removeRulesOnExit: true
CONF
modprobe br_netfilter 2>/dev/null
echo "# $(date -u +%FT%TZ) $(uname -r) nproc $(nproc) load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $BH; policy $(stat -c %s "$POLICY") bytes, inventory $(stat -c %s "$INV") bytes"

now() { date +%s.%N; }
median() { sort -g | sed -n "$(( (REPEAT + 1) / 2 ))p"; }
fresh_ns() { ip netns del "$NS" 2>/dev/null; ip netns add "$NS" && ip -n "$NS" link set lo up; }

nft_runs=() start_runs=() reload_runs=() rss_runs=()
for _ in $(seq "$REPEAT"); do
  fresh_ns || exit 1
  t0=$(now); ip netns exec "$NS" nft -f "$OUT/dry-run.nft" || exit 1; t1=$(now)
  nft_runs+=("$(echo "$t1 - $t0" | bc)")

  fresh_ns || exit 1
  cp "$POLICY" "$OUT/agent-policy.yaml"
  t0=$(now)
  ip netns exec "$NS" "$BH" agent --config "$OUT/agent.yaml" 2> "$OUT/agent.log" &
  AGENT=$!
  until "$BH" status --control "$CTL" 2> /dev/null | grep -q "^last apply"; do
    kill -0 "$AGENT" 2> /dev/null || { echo "the agent exited: $(tail -3 "$OUT/agent.log")"; exit 1; }
    sleep 0.02
  done
  t1=$(now)
  start_runs+=("$(echo "$t1 - $t0" | bc)")
  rss_runs+=("$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$AGENT/status")")
  # SIGHUP, not `bulkhead reload`: at this size on a loaded machine a reload can outlast the
  # client's 10 s answer timeout. Done when the second apply line is logged.
  cp "$OUT/reload-policy.yaml" "$OUT/agent-policy.yaml"
  t0=$(now); kill -HUP "$AGENT"
  until [ "$(grep -c "enforce: applied" "$OUT/agent.log")" -ge 2 ]; do
    kill -0 "$AGENT" 2> /dev/null || { echo "the agent exited: $(tail -3 "$OUT/agent.log")"; exit 1; }
    sleep 0.02
  done
  t1=$(now)
  reload_runs+=("$(echo "$t1 - $t0" | bc)")
  kill -TERM "$AGENT"; wait "$AGENT"; AGENT=""
done
nft=$(printf '%s\n' "${nft_runs[@]}" | median)
start=$(printf '%s\n' "${start_runs[@]}" | median)
reload=$(printf '%s\n' "${reload_runs[@]}" | median)
rss=$(printf '%s\n' "${rss_runs[@]}" | median)
printf 'nft -f (baseline)        wall_s %6.2f\n' "$nft"
printf 'agent start to applied   wall_s %6.2f  x_nft %5.2f  peak_rss_mib %7.1f\n' "$start" \
  "$(echo "$start / $nft" | bc -l)" "$rss"
printf 'agent reload             wall_s %6.2f  x_nft %5.2f\n' "$reload" "$(echo "$reload / $nft" | bc -l)"
