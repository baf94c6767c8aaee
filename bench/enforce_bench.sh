#!/usr/bin/env bash
# Enforcer benchmark (bench/README.md, "Enforcer"). Root; everything happens in network
# namespaces this script creates and deletes (never the machine's own ruleset). One run reports:
#   apply:     compile + commit of 10,000 workloads / 100,000 edges (enforce_bench apply) vs
#              `nft -f` of the same ruleset text vs `nft -f` of a naive one-rule-per-edge ruleset
#   update:    one workload added / removed by an element-only update (median of many)
#   dataplane: iperf3 throughput and TCP connections/s between two containers on a bridge of a
#              real dockerd: no table, conntrack only, Docker's rules, + bulkhead, + naive
# Usage: bench/enforce_bench.sh [BUILD_DIR]   (default build/release; needs bench/enforce_bench)
# Environment: REPEAT (5) apply/nft runs, UPDATES (50), WORKLOADS/NGROUPS/EDGES, OUT
# (bench/out/enforce), PARTS ("apply update dataplane"); dataplane knobs below.
set -u
BUILD=${1:-build/release}
BIN=$(realpath "$BUILD/bench/enforce_bench")
REPEAT=${REPEAT:-5}; DUR=${DUR:-5}; UPDATES=${UPDATES:-50}
SIZE=(--workloads "${WORKLOADS:-10000}" --groups "${NGROUPS:-1000}" --edges "${EDGES:-100000}")
OUT=${OUT:-bench/out/enforce}
mkdir -p "$OUT"; OUT=$(realpath "$OUT")
RAW="$OUT/raw.txt"; : > "$RAW"
ID="bhb$$"
A="${ID}a"; N="${ID}n"
NSS=("$A" "$N")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do
    for c in $(pgrep -P "$p"); do kill "$c" 2>/dev/null; done  # a subshell's sleep
    kill "$p" 2>/dev/null
  done
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
# Two real containers on a real dockerd's bridge network, the dockerd with its own iptables rules
# (its own namespace, as in the tests: nothing touches the machine's network). Every condition's
# tables are loaded once; a condition wakes its tables and puts the others to sleep (`flags
# dormant`: no hooks, no per-packet cost), so conditions alternate within seconds and drift of
# this noisy VM falls on all of them alike. Each round runs every condition once, in a random
# order; ratios are taken within a round.
#   none           no table at all (conntrack not running)
#   conntrack      one rule, `ct state established,related accept` (conntrack running)
#   docker         Docker's own rules: what a container host runs without bulkhead
#   bulkhead       Docker's rules + bulkhead's 100,000-edge tables (inet and bridge)
#   bulkhead-inet  Docker's rules + bulkhead's inet table alone (what its bridge table costs)
#   bulkhead-bridge  Docker's rules + bulkhead's bridge table alone (what its inet table costs)
#   docker-ct      Docker's rules + the one-rule conntrack table: the least any table of its
#                  own costs that starts with `ct state established,related accept`
#   floor          docker-ct + a one-rule bridge prerouting chain: the least any design with
#                  bulkhead's two hooks (inet for connections, bridge for per-frame
#                  anti-spoofing) costs before it looks anything up
#   locked         Docker's rules + bulkhead's inet table + the one-rule bridge chain: the
#                  price of the design that binds MACs in the bridge itself (port locking and
#                  static FDB entries) and checks addresses in the inet hook, leaving the bridge
#                  chain only ARP/ND (LOCK_PORTS=1 locks the two ports for the whole run, so
#                  every condition pays the same locked-port FDB lookup)
#   bulkhead-nomac Docker's rules + bulkhead's inet table + its bridge table without the MAC
#                  binding (issue 19's three rules taken out of the rendered text): what binding
#                  MACs to ports costs
#   (bulkhead-bridge, docker-ct, floor, locked and bulkhead-nomac are ablations: not in the
#   default CONDITIONS)
#   naive          Docker's rules + one rule per edge
# CONN_ROUNDS (40) x CONN_DUR (1) s connection loops, client and server pinned to CPU PIN (1;
# "" = unpinned); IPERF_ROUNDS (5) x DUR (5) s iperf3.
if part dataplane; then
  # shellcheck source=../tests/lib/dockerd.sh
  source "$(dirname "$0")/../tests/lib/dockerd.sh"
  cleanup_hook() { cleanup; }
  dockerd_init bhbd 3600
  DOCKERD_IPTABLES=true dockerd_start
  dockerd_image bhbench:1
  "$DOCKER" network create --internal --subnet 10.40.0.0/24 --gateway 10.40.0.1 \
    -o com.docker.network.bridge.name=bhb0 bhbench >/dev/null || die "docker network create"
  declare -A CPID HIF MAC
  for c in client:10.40.0.2 server:10.40.0.3; do
    name=${c%%:*}
    "$DOCKER" run -d --name "bhb-$name-$$" --network bhbench --ip "${c#*:}" bhbench:1 \
      sleep 1000000 >/dev/null || die "docker run $name"
    CPID[$name]=$("$DOCKER" inspect -f '{{.State.Pid}}' "bhb-$name-$$")
    peer=$(nsenter --net="/proc/${CPID[$name]}/ns/net" ip -o link show eth0 | sed -n 's/.*eth0@if\([0-9]*\).*/\1/p')
    HIF[$name]=$(inns ip -o link | awk -F': ' -v i="$peer" '$1 == i {split($2, a, "@"); print a[1]}')
    [ -n "${HIF[$name]}" ] || die "no host interface for $name"
    # (not /sys/class/net: sysfs shows the namespace it was mounted in, not the nsenter'd one)
    MAC[$name]=$(nsenter --net="/proc/${CPID[$name]}/ns/net" ip -o link show eth0 \
                 | sed -n 's|.*link/ether \([0-9a-f:]*\) .*|\1|p')
    [ -n "${MAC[$name]}" ] || die "no MAC for $name"
  done
  cnet() { nsenter --net="/proc/${CPID[client]}/ns/net" "$@"; }
  pin=(); [ -n "${PIN-1}" ] && pin=(taskset -c "${PIN-1}")
  nsenter --net="/proc/${CPID[server]}/ns/net" iperf3 -s >/dev/null 2>&1 & PIDS+=($!)
  nsenter --net="/proc/${CPID[server]}/ns/net" "${pin[@]}" "$BIN" server 7000 & PIDS+=($!)
  nsenter --net="/proc/${CPID[server]}/ns/net" "$BIN" server 7001 & PIDS+=($!)  # not allowed

  DOCKER_TABLES=$(inns nft list tables | sed 's/^table //' | tr ' ' ':' | tr '\n' ' ')
  [ -n "$DOCKER_TABLES" ] || die "dockerd wrote no iptables rules"
  log "# docker's tables: $DOCKER_TABLES; client ${HIF[client]} ${MAC[client]}, server ${HIF[server]} ${MAC[server]}; pin ${PIN-1}"
  printf 'table inet ctonly {\n chain forward {\n  type filter hook forward priority 0; policy accept;\n  ct state established,related accept\n }\n}\n' \
    | inns nft -f - || die "conntrack table"
  printf 'table bridge hookonly {\n chain prerouting {\n  type filter hook prerouting priority -300; policy accept;\n  ether type ip accept\n }\n}\n' \
    | inns nft -f - || die "bridge hook-only table"
  inns "$BIN" apply "${SIZE[@]}" --client-if "${HIF[client]}" --server-if "${HIF[server]}" \
    --client-mac "${MAC[client]}" --server-mac "${MAC[server]}" --repeat 1 >/dev/null || die "bulkhead apply"
  inns nft -f "$OUT/naive.nft" || die "naive ruleset"
  awk '/^table bridge bulkhead \{$/ {on = 1} on' "$OUT/bulkhead.nft" \
    | sed -e 's/^table bridge bulkhead {$/table bridge nomac {/' -e '/@ifmac[46] accept$/d' \
          -e '/!= @port_mac goto spoofed$/d' -e "s/\"vbc\"/\"${HIF[client]}\"/g" \
          -e "s/\"vbs\"/\"${HIF[server]}\"/g" | inns nft -f - || die "bridge table without MACs"
  if [ "${LOCK_PORTS:-0}" = 1 ]; then  # MACs bound by the bridge: only the static entries pass
    for name in client server; do
      inns bridge fdb replace "${MAC[$name]}" dev "${HIF[$name]}" master static || die "static fdb"
      inns bridge link set dev "${HIF[$name]}" locked on learning off || die "port locking"
    done
    log "# ports locked: $(inns bridge -d link show dev "${HIF[client]}" | grep -o 'locked [a-z]*')"
  fi
  ALL="$DOCKER_TABLES inet:ctonly bridge:hookonly inet:bulkhead bridge:bulkhead inet:naive bridge:nomac"
  tables_of() {
    case $1 in
      none) ;;
      conntrack) echo inet:ctonly ;;
      docker) echo "$DOCKER_TABLES" ;;
      bulkhead) echo "$DOCKER_TABLES inet:bulkhead bridge:bulkhead" ;;
      bulkhead-inet) echo "$DOCKER_TABLES inet:bulkhead" ;;
      bulkhead-bridge) echo "$DOCKER_TABLES bridge:bulkhead" ;;
      docker-ct) echo "$DOCKER_TABLES inet:ctonly" ;;
      floor) echo "$DOCKER_TABLES inet:ctonly bridge:hookonly" ;;
      locked) echo "$DOCKER_TABLES inet:bulkhead bridge:hookonly" ;;
      bulkhead-nomac) echo "$DOCKER_TABLES inet:bulkhead bridge:nomac" ;;
      naive) echo "$DOCKER_TABLES inet:naive" ;;
      *) return 1 ;;
    esac
  }
  set_condition() {  # one atomic batch: wake the condition's tables, put the others to sleep
    local on t batch=""
    on=" $(tables_of "$1") " || return 1
    for t in $ALL; do
      if [[ "$on" == *" $t "* ]]; then batch+="add table ${t/:/ }"$'\n'
      else batch+="add table ${t/:/ } { flags dormant; }"$'\n'; fi
    done
    printf '%s' "$batch" | inns nft -f -
  }
  CONDS=${CONDITIONS:-none conntrack docker bulkhead bulkhead-inet naive}
  for cond in $CONDS; do  # the rulesets must really judge: tcp/7001 is refused by bulkhead's and the naive one
    set_condition "$cond" || die "cannot set $cond"
    if cnet timeout 2 bash -c 'echo > /dev/tcp/10.40.0.3/7001' 2>/dev/null; then open=1; else open=0; fi
    log "dataplane cond $cond denied_port_open $open"
  done
  for round in $(seq 1 "${CONN_ROUNDS:-40}"); do
    for cond in $(printf '%s\n' $CONDS | shuf); do
      set_condition "$cond"
      log "dataplane conn round $round cond $cond $(cnet "${pin[@]}" "$BIN" client 10.40.0.3 7000 "${CONN_DUR:-1}")"
    done
  done
  # The bench's own frames must never count as spoofed (a wrong MAC would make every frame do so).
  log "dataplane bridge spoofed $(inns nft list counter bridge bulkhead spoofed 2>/dev/null | awk '$1 == "packets" {print $2}')"
  for round in $(seq 1 "${IPERF_ROUNDS:-5}"); do
    for cond in $(printf '%s\n' $CONDS | shuf); do
      set_condition "$cond"
      bps=$(cnet iperf3 -c 10.40.0.3 -t "$DUR" -J \
            | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
      log "dataplane iperf round $round cond $cond gbps $(python3 -c "print(round($bps/1e9, 3))")"
    done
  done
fi

python3 "$(dirname "$0")/enforce_summary.py" "$RAW" | tee "$OUT/summary.txt"
