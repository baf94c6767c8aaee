#!/usr/bin/env bash
# Enforcer benchmark (bench/README.md, "Enforcer"). Root; everything happens in network
# namespaces this script creates and deletes (never the machine's own ruleset). One run reports:
#   apply:     compile + commit of 10,000 workloads / 100,000 edges (enforce_bench apply) vs
#              `nft -f` of the same ruleset text vs `nft -f` of a naive one-rule-per-edge ruleset
#   update:    one workload added / removed by an element-only update (median of many)
#   dataplane: iperf3 throughput and TCP connections/s across a bridge between two namespaces,
#              with no table, conntrack only, bulkhead's ruleset, and the naive ruleset
# Usage: bench/enforce_bench.sh [BUILD_DIR]   (default build/release; needs bench/enforce_bench)
# Environment: REPEAT (5) apply/nft runs, ROUNDS (3) dataplane rounds, DUR (5) seconds per
# dataplane measurement, UPDATES (50), WORKLOADS/NGROUPS/EDGES, OUT (bench/out/enforce),
# PARTS ("apply update dataplane"), CONDITIONS (none conntrack bulkhead bulkhead-inet naive).
set -u
BUILD=${1:-build/release}
BIN=$(realpath "$BUILD/bench/enforce_bench")
REPEAT=${REPEAT:-5}; ROUNDS=${ROUNDS:-3}; DUR=${DUR:-5}; UPDATES=${UPDATES:-50}
SIZE=(--workloads "${WORKLOADS:-10000}" --groups "${NGROUPS:-1000}" --edges "${EDGES:-100000}")
OUT=${OUT:-bench/out/enforce}
mkdir -p "$OUT"; OUT=$(realpath "$OUT")
RAW="$OUT/raw.txt"; : > "$RAW"
ID="bhb$$"
A="${ID}a"; N="${ID}n"; H="${ID}h"; C="${ID}c"; S="${ID}s"
NSS=("$A" "$N" "$H" "$C" "$S")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for ns in "${NSS[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
}
trap cleanup EXIT
[ -x "$BIN" ] || { echo "build $BUILD first (target enforce_bench)"; exit 1; }
for ns in "${NSS[@]}"; do ip netns add "$ns" || exit 1; ip -n "$ns" link set lo up; done
log() { echo "$*" | tee -a "$RAW"; }

log "# $(date -u +%FT%TZ) $(uname -r) nproc $(nproc) load $(cut -d' ' -f1-3 /proc/loadavg) nft $(nft --version | cut -d' ' -f2)"
sizes=$("$BIN" write "$OUT" "${SIZE[@]}") || { echo "enforce_bench write failed"; exit 1; }
log "# $sizes"

PARTS=${PARTS:-apply update dataplane}
part() { [[ " $PARTS " == *" $1 "* ]]; }

# --- apply ------------------------------------------------------------------------------------
if part apply; then
  ip netns exec "$A" "$BIN" apply "${SIZE[@]}" --repeat "$REPEAT" | sed 's/^/bulkhead_/' | tee -a "$RAW"
  nft_time() {  # ns file label: one `nft -f`, wall and CPU seconds
    /usr/bin/time -f "$3 wall_s %e cpu_s %U %S" ip netns exec "$1" nft -f "$2" 2>&1 >/dev/null \
      | tee -a "$RAW"
  }
  for i in $(seq 1 "$REPEAT"); do nft_time "$N" "$OUT/bulkhead.nft" nft_f_same; done
  ip netns exec "$N" nft delete table inet bulkhead; ip netns exec "$N" nft delete table bridge bulkhead
  for i in $(seq 1 "$REPEAT"); do nft_time "$N" "$OUT/naive.nft" nft_f_naive; done
fi

# --- membership update --------------------------------------------------------------------------
if part update; then
  ip netns exec "$A" "$BIN" update "${SIZE[@]}" --repeat "$UPDATES" | tee -a "$RAW"
fi

# --- dataplane ----------------------------------------------------------------------------------
if part dataplane; then
  ip -n "$H" link add br0 type bridge && ip -n "$H" addr add 10.40.0.1/24 dev br0
  ip -n "$H" link set br0 up
  for pair in "$C vbc 10.40.0.2" "$S vbs 10.40.0.3"; do
    set -- $pair
    ip -n "$H" link add "$2" type veth peer name eth0 netns "$1"
    ip -n "$H" link set "$2" master br0 up
    ip -n "$1" addr add "$3/24" dev eth0 && ip -n "$1" link set eth0 up
  done
  # Bridged traffic must reach the inet table (per-namespace switch, this namespace only).
  ip netns exec "$H" sysctl -qw net.bridge.bridge-nf-call-iptables=1 || { echo "no br_netfilter"; exit 1; }
  ip netns exec "$S" iperf3 -s >/dev/null 2>&1 & PIDS+=($!)
  ip netns exec "$S" "$BIN" server 7000 & PIDS+=($!)
  ip netns exec "$S" "$BIN" server 7001 & PIDS+=($!)  # a port the policy does not allow
  sleep 1

  clear_tables() {
    for t in "inet bulkhead" "bridge bulkhead" "inet naive" "inet ctonly"; do
      ip netns exec "$H" nft delete table $t 2>/dev/null
    done
  }
  set_condition() {
    clear_tables
    case $1 in
      none) ;;
      conntrack)
        printf 'table inet ctonly {\n chain forward {\n  type filter hook forward priority 0; policy accept;\n  ct state established,related accept\n }\n}\n' \
          | ip netns exec "$H" nft -f - ;;
      bulkhead) ip netns exec "$H" "$BIN" apply "${SIZE[@]}" --repeat 1 >/dev/null ;;
      bulkhead-inet)  # bulkhead's inet table alone: what its bridge table (every frame) costs
        ip netns exec "$H" "$BIN" apply "${SIZE[@]}" --repeat 1 >/dev/null &&
          ip netns exec "$H" nft delete table bridge bulkhead ;;
      naive) ip netns exec "$H" nft -f "$OUT/naive.nft" ;;
    esac
  }
  denied_port_open() { ip netns exec "$C" timeout 2 bash -c 'echo > /dev/tcp/10.40.0.3/7001' 2>/dev/null; }
  for round in $(seq 1 "$ROUNDS"); do
    for cond in ${CONDITIONS:-none conntrack bulkhead bulkhead-inet naive}; do
      set_condition "$cond" || { echo "cannot set $cond"; exit 1; }
      # The rulesets must really judge: tcp/7001 is refused by bulkhead's and the naive ruleset.
      if denied_port_open; then open=1; else open=0; fi
      bps=$(ip netns exec "$C" iperf3 -c 10.40.0.3 -t "$DUR" -J \
            | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
      cps=$(ip netns exec "$C" "$BIN" client 10.40.0.3 7000 "$DUR")
      log "dataplane round $round cond $cond denied_port_open $open gbps $(python3 -c "print(round($bps/1e9, 3))") $cps"
    done
  done
  clear_tables
fi

python3 "$(dirname "$0")/enforce_summary.py" "$RAW" | tee "$OUT/summary.txt"
