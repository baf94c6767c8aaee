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
# dataplane measurement, UPDATES (50), WORKLOADS/NGROUPS/EDGES, OUT (bench/out/enforce).
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

# --- apply ------------------------------------------------------------------------------------
ip netns exec "$A" "$BIN" apply "${SIZE[@]}" --repeat "$REPEAT" | sed 's/^/bulkhead_/' | tee -a "$RAW"
nft_time() {  # ns file label: one `nft -f`, wall and CPU seconds
  /usr/bin/time -f "$3 wall_s %e cpu_s %U %S" ip netns exec "$1" nft -f "$2" 2>&1 >/dev/null \
    | tee -a "$RAW"
}
for i in $(seq 1 "$REPEAT"); do nft_time "$N" "$OUT/bulkhead.nft" nft_f_same; done
ip netns exec "$N" nft delete table inet bulkhead; ip netns exec "$N" nft delete table bridge bulkhead
for i in $(seq 1 "$REPEAT"); do nft_time "$N" "$OUT/naive.nft" nft_f_naive; done

# --- membership update --------------------------------------------------------------------------
ip netns exec "$A" "$BIN" update "${SIZE[@]}" --repeat "$UPDATES" | tee -a "$RAW"

# --- dataplane ----------------------------------------------------------------------------------
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
    naive) ip netns exec "$H" nft -f "$OUT/naive.nft" ;;
  esac
}
denied_port_open() { ip netns exec "$C" timeout 2 bash -c 'echo > /dev/tcp/10.40.0.3/7001' 2>/dev/null; }
for round in $(seq 1 "$ROUNDS"); do
  for cond in none conntrack bulkhead naive; do
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

python3 - "$RAW" <<'PY' | tee "$OUT/summary.txt"
import re, statistics, sys
lines = open(sys.argv[1]).read().splitlines()
med = statistics.median
def vals(prefix, key):
    out = []
    for l in lines:
        if l.startswith(prefix):
            m = re.search(r"\b%s (\S+)" % key, l)
            if m:
                out.append(float(m.group(1)))
    return out
runs = [l for l in lines if l.startswith("bulkhead_run")]
ours = med(vals("bulkhead_run", "total_ms")) / 1e3
ours_cpu = med(vals("bulkhead_run", "cpu_ms")) / 1e3
compile_s = med(vals("bulkhead_run", "compile_ms")) / 1e3
commit_s = med(vals("bulkhead_run", "encode_commit_ms")) / 1e3
def nft(label):
    wall = [float(l.split()[2]) for l in lines if l.startswith(label)]
    cpu = [float(l.split()[4]) + float(l.split()[5]) for l in lines if l.startswith(label)]
    return med(wall), med(cpu)
same_w, same_c = nft("nft_f_same")
naive_w, naive_c = nft("nft_f_naive")
print([l for l in lines if l.startswith("# work")][0][2:])
print(lines[0][2:])
print(f"apply (compile+commit), median of {len(runs)}: {ours:.2f} s wall ({compile_s:.2f} compile + "
      f"{commit_s:.2f} encode+commit), {ours_cpu:.2f} s CPU")
print(f"nft -f same ruleset:  {same_w:.2f} s wall, {same_c:.2f} s CPU  -> bulkhead/nft = "
      f"{ours/same_w:.2f} (wall), {ours_cpu/same_c:.2f} (CPU)")
print(f"nft -f naive (1 rule per edge): {naive_w:.2f} s wall, {naive_c:.2f} s CPU")
u = [l for l in lines if l.startswith("update")][0]
print("membership update:", u[len("update "):])
conds = ["none", "conntrack", "bulkhead", "naive"]
dp = {c: ([], []) for c in conds}
leaks = {}
for l in lines:
    m = re.match(r"dataplane round \d+ cond (\S+) denied_port_open (\d) gbps (\S+) connections (\d+) failed (\d+) per_second (\S+)", l)
    if m:
        dp[m.group(1)][0].append(float(m.group(3)))
        dp[m.group(1)][1].append(float(m.group(6)))
        leaks.setdefault(m.group(1), []).append(int(m.group(2)))
base_g, base_c = med(dp["none"][0]), med(dp["none"][1])
print(f"dataplane (median of {len(dp['none'][0])} rounds):")
for c in conds:
    g, r = med(dp[c][0]), med(dp[c][1])
    print(f"  {c:9s} iperf3 {g:6.2f} Gbit/s ({g/base_g:5.3f} of none)  TCP connections "
          f"{r:7.0f}/s ({r/base_c:5.3f} of none)  denied port open: {leaks[c]}")
PY
