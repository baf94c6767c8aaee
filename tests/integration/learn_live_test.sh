#!/usr/bin/env bash
# Kernel integration test of live learning: `bulkhead learn --iface` on a real Linux bridge.
#
# Network namespaces stand in for containers (frontend, two api replicas, db, cache, and one
# stranger that is not in the inventory) and for the node itself (the "host" namespace owns the
# bridge, which carries an IPv4 and an IPv6 address). Real servers (socat) and real clients (socat,
# ping) talk TCP, UDP and ICMP over IPv4 and IPv6 while bulkhead captures on the bridge; the learned
# graph must equal the expected edges exactly. The machine's root namespace is never touched: every
# interface, address and route is created inside namespaces this script owns, and the EXIT trap
# removes them (and kills every process it started, by pid) however the script ends.
#
# usage: learn_live_test.sh /path/to/bulkhead
# env:   BHIT_KEEP=1      keep the work directory (inventory, graphs, logs) even on success
#        BHIT_PCAP=1      also record the bridge with tcpdump into the work directory (debugging)
#        BHIT_DEADLINE=N  internal deadline in seconds (default 100; CTest's TIMEOUT is larger)

set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 /path/to/bulkhead" >&2
  exit 2
fi
BULKHEAD=$(readlink -f "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/preconditions.sh
source "$HERE/../lib/preconditions.sh" && require_netns_exec
PYTHON=$(command -v python3)
if [[ $(id -u) -ne 0 ]]; then
  echo "FAIL: this test needs root (network namespaces)" >&2
  exit 1
fi
for tool in ip socat ping timeout "$PYTHON"; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: missing tool: $tool" >&2
    exit 1
  fi
done
if [[ ! -x $BULKHEAD ]]; then
  echo "FAIL: bulkhead binary not found: $1" >&2
  exit 1
fi

# Everything this run creates carries this prefix, so a leftover from a run that was killed with
# SIGKILL (where no trap runs) can be recognised and removed by the next run.
readonly PREFIX="bhit$$"
readonly BRIDGE=br0
readonly LEARN_DURATION=12
DEADLINE=${BHIT_DEADLINE:-100}
WORK=$(mktemp -d "/tmp/${PREFIX}.XXXXXX")
NAMESPACES=()
PIDS=()
WATCHDOG_PID=""

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() {
  log "FAIL: $*"
  exit 1
}

kill_ns_processes() {  # [--children]: spare the processes in PIDS
  local ns pid
  local -A spare=()
  if [[ ${1:-} == --children ]]; then
    for pid in "${PIDS[@]}"; do
      spare[$pid]=1
    done
  fi
  for ns in "${NAMESPACES[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      [[ -n ${spare[$pid]:-} ]] || kill -KILL "$pid" 2>/dev/null
    done
  done
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  # bash reports every job it reaps as "Killed"; that is expected here, not news.
  exec 3>&2 2>/dev/null
  local ns pid
  # socat's forked children are not in PIDS, but anything living in our namespaces is ours. Kill
  # them first, while their parents still live to reap them (an orphan would become a zombie
  # under a container init that may never reap it), then the processes we started ourselves.
  kill_ns_processes --children
  sleep 0.2
  for pid in "${PIDS[@]}"; do
    kill -KILL "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null
  done
  kill_ns_processes
  for ns in "${NAMESPACES[@]}"; do
    ip netns del "$ns" 2>/dev/null
  done
  if [[ -n $WATCHDOG_PID ]]; then
    kill -TERM "$WATCHDOG_PID" 2>/dev/null
    wait "$WATCHDOG_PID" 2>/dev/null
  fi
  exec 2>&3 3>&-
  if [[ $rc -eq 0 && ${BHIT_KEEP:-0} != 1 ]]; then
    rm -rf "$WORK"
  else
    log "work directory kept: $WORK"
  fi
  if [[ $rc -eq 0 ]]; then
    log "PASS"
  else
    log "FAILED (exit $rc)"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated (deadline of ${DEADLINE}s reached?)"; exit 124' TERM

# A watchdog turns a hang into a clean failure (with cleanup) before CTest's own timeout, which
# would SIGKILL us and leave the namespaces behind.
(
  watchdog_pid=$BASHPID
  sleep "$DEADLINE" &
  sleep_pid=$!
  trap 'kill $sleep_pid 2>/dev/null; wait $sleep_pid; exit 0' TERM
  wait "$sleep_pid"
  # Only while the test shell is still our parent: if it was SIGKILLed, its pid may be reused.
  if [[ $(ps -o ppid= -p "$watchdog_pid" | tr -d ' ') == "$$" ]]; then
    echo "watchdog: deadline of ${DEADLINE}s reached" >&2
    kill -TERM $$
  fi
) &
WATCHDOG_PID=$!

# Leftovers of earlier runs that died without cleanup: only our own naming pattern, only when the
# run that made them is gone.
for ns in $(ip netns list | awk '{print $1}' | grep -E '^bhit[0-9]+-' || true); do
  owner=${ns#bhit}
  owner=${owner%%-*}
  if ! kill -0 "$owner" 2>/dev/null; then
    log "removing stale namespace $ns"
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      kill -KILL "$pid" 2>/dev/null || true
    done
    ip netns del "$ns" 2>/dev/null || true
  fi
done

# --- topology ------------------------------------------------------------------------------------

ns_name() { echo "$PREFIX-$1"; }
nsx() {
  local ns=$1
  shift
  ip netns exec "$(ns_name "$ns")" "$@"
}
add_ns() {
  ip netns add "$(ns_name "$1")"
  NAMESPACES+=("$(ns_name "$1")")
  nsx "$1" ip link set lo up
}

# name   ipv4         ipv6
CONTAINERS=(
  "fe     10.77.0.10   fd77::10"
  "api1   10.77.0.21   fd77::21"
  "api2   10.77.0.22   fd77::22"
  "db     10.77.0.30   fd77::30"
  "cache  10.77.0.40   fd77::40"
  "ext    10.77.0.200  fd77::200"
)
declare -A V4 V6
V4[host]=10.77.0.1
V6[host]=fd77::1

log "setting up namespaces with prefix $PREFIX (work dir $WORK)"
add_ns host
nsx host ip link add "$BRIDGE" type bridge stp_state 0
nsx host ip addr add "${V4[host]}/24" dev "$BRIDGE"
nsx host ip addr add "${V6[host]}/64" dev "$BRIDGE" nodad
nsx host ip link set "$BRIDGE" up
for entry in "${CONTAINERS[@]}"; do
  read -r name v4 v6 <<<"$entry"
  V4[$name]=$v4
  V6[$name]=$v6
  add_ns "$name"
  # Both ends are created from inside the host namespace: the root namespace never sees them.
  nsx host ip link add "v-$name" type veth peer name eth0 netns "$(ns_name "$name")"
  nsx host ip link set "v-$name" master "$BRIDGE"
  nsx host ip link set "v-$name" up
  nsx "$name" ip addr add "$v4/24" dev eth0
  nsx "$name" ip addr add "$v6/64" dev eth0 nodad
  nsx "$name" ip link set eth0 up
done

# The inventory: every container but `ext` (which must therefore show up as `world`).
cat >"$WORK/inventory.yaml" <<EOF
apiVersion: bulkhead/v1
kind: Inventory
host: {name: node-it, addresses: [${V4[host]}, "${V6[host]}"]}
workloads:
  - name: frontend-1
    labels: {app: frontend, tier: web}
    addresses: [${V4[fe]}, "${V6[fe]}"]
    interface: v-fe
  - name: api-1
    labels: {app: api}
    addresses: [${V4[api1]}, "${V6[api1]}"]
    interface: v-api1
  - name: api-2
    labels: {app: api}
    addresses: [${V4[api2]}, "${V6[api2]}"]
    interface: v-api2
  - name: db-1
    labels: {com.docker.compose.service: db}
    addresses: [${V4[db]}, "${V6[db]}"]
  - name: cache-1
    labels: {app: cache}
    addresses: [${V4[cache]}, "${V6[cache]}"]
EOF

# --- servers -------------------------------------------------------------------------------------

start_bg() {  # start_bg <logname> <ns> <command...>: runs in the background, remembers the pid
  local logname=$1 ns=$2
  shift 2
  # Not through nsx: a backgrounded function is a subshell, and $! would be that shell's pid.
  ip netns exec "$(ns_name "$ns")" "$@" >"$WORK/$logname.log" 2>&1 &
  PIDS+=($!)
}
# Every server answers with its own name, so a client can tell it reached the right one.
tcp_server() {  # tcp_server <ns> <port>: one listener for IPv4 and IPv6
  start_bg "srv-$1-tcp$2" "$1" socat "TCP6-LISTEN:$2,ipv6only=0,reuseaddr,fork" \
    "SYSTEM:read -r line; echo $1/tcp$2 \$line"
}
udp_server() {  # udp_server <ns> <port>: one listener per family, bound to the namespace's address
  start_bg "srv-$1-udp4-$2" "$1" socat "UDP4-RECVFROM:$2,bind=${V4[$1]},fork" \
    "SYSTEM:read -r line; echo $1/udp$2 \$line"
  start_bg "srv-$1-udp6-$2" "$1" socat "UDP6-RECVFROM:$2,bind=[${V6[$1]}],fork" \
    "SYSTEM:read -r line; echo $1/udp$2 \$line"
}
wait_listening() {  # wait_listening <ns> <t|u> <port>
  local i
  for ((i = 0; i < 50; i++)); do
    if nsx "$1" ss -Hln"$2" "sport = :$3" | grep -q .; then
      return 0
    fi
    sleep 0.1
  done
  fail "server in $1 never listened on $2/$3"
}

tcp_server api1 8080
tcp_server api2 8080
tcp_server db 5432
tcp_server cache 6379
udp_server cache 11211
udp_server host 53
wait_listening api1 t 8080
wait_listening api2 t 8080
wait_listening db t 5432
wait_listening cache t 6379
wait_listening cache u 11211
wait_listening host u 53

# --- clients -------------------------------------------------------------------------------------

# Each exchange runs in the background and leaves <id>.out and <id>.rc; check_clients verifies that
# every one got the expected answer, so a broken network setup fails the test.
CLIENTS=()
bracket() { [[ $1 == *:* ]] && echo "[$1]" || echo "$1"; }
ask() {  # ask <id> <ns> <tcp|udp> <address> <port> <expected answer>
  local id=$1 ns=$2 proto=$3 addr=$4 port=$5 expect=$6
  local target
  target="$(echo "$proto" | tr a-z A-Z):$(bracket "$addr"):$port"
  (
    set +e
    out=$(echo "hello-$id" | nsx "$ns" timeout 8 socat -t 1 - "$target" 2>"$WORK/client-$id.err")
    echo $? >"$WORK/client-$id.rc"
    printf '%s\n' "$out" >"$WORK/client-$id.out"
  ) &
  PIDS+=($!)
  CLIENTS+=("$id|$expect hello-$id|$ns $proto $target")
}
ping_check() {  # ping_check <id> <ns> <address>: two echo requests, both answered
  local id=$1 ns=$2 addr=$3
  (
    set +e
    nsx "$ns" timeout 8 ping -n -c 2 -i 0.2 -W 3 "$addr" >"$WORK/client-$id.out" 2>&1
    echo $? >"$WORK/client-$id.rc"
  ) &
  PIDS+=($!)
  CLIENTS+=("$id|2 received|$ns ping $addr")
}
check_clients() {
  local entry id expect what bad=0
  wait_clients
  for entry in "${CLIENTS[@]}"; do
    IFS='|' read -r id expect what <<<"$entry"
    local rc out
    rc=$(cat "$WORK/client-$id.rc" 2>/dev/null || echo missing)
    out=$(cat "$WORK/client-$id.out" 2>/dev/null || true)
    if [[ $rc != 0 || $out != *"$expect"* ]]; then
      log "client $id ($what): exit $rc, expected '$expect', got: $out" \
        "$(cat "$WORK/client-$id.err" 2>/dev/null || true)"
      bad=1
    fi
  done
  CLIENTS=()
  [[ $bad -eq 0 ]] || fail "client exchanges failed: the namespace network is broken"
}
CLIENT_PIDS_START=0
wait_clients() {
  local i
  for ((i = CLIENT_PIDS_START; i < ${#PIDS[@]}; i++)); do
    # Only client subshells are waited for here; servers never end on their own.
    if [[ -n ${CLIENT_PID_SET[${PIDS[$i]}]:-} ]]; then
      wait "${PIDS[$i]}" 2>/dev/null || true
    fi
  done
}
declare -A CLIENT_PID_SET
track_clients() {  # marks the pids started since the last call as clients
  local i
  for ((i = CLIENT_PIDS_START; i < ${#PIDS[@]}; i++)); do
    CLIENT_PID_SET[${PIDS[$i]}]=1
  done
}

# The full traffic mix of the first run. Expected edges are listed in run_learn_duration.
full_traffic() {
  CLIENT_PIDS_START=${#PIDS[@]}
  local fam addr
  for fam in 4 6; do
    # frontend -> api: both replicas, both families
    for api in api1 api2; do
      [[ $fam == 4 ]] && addr=${V4[$api]} || addr=${V6[$api]}
      ask "fe-$api-v$fam" fe tcp "$addr" 8080 "$api/tcp8080"
    done
    # api -> db, api -> cache (tcp and udp): one replica per family
    local api
    [[ $fam == 4 ]] && api=api1 || api=api2
    [[ $fam == 4 ]] && addr=${V4[db]} || addr=${V6[db]}
    ask "$api-db-v$fam" "$api" tcp "$addr" 5432 db/tcp5432
    [[ $fam == 4 ]] && addr=${V4[cache]} || addr=${V6[cache]}
    ask "$api-cache-v$fam" "$api" tcp "$addr" 6379 cache/tcp6379
    # the other replica for udp, so both appear as members in examples
    local other
    [[ $api == api1 ]] && other=api2 || other=api1
    ask "$other-memcache-v$fam" "$other" udp "$addr" 11211 cache/udp11211
    # everyone -> host DNS on the bridge address
    [[ $fam == 4 ]] && addr=${V4[host]} || addr=${V6[host]}
    for ns in fe api1 api2 db cache; do
      ask "$ns-dns-v$fam" "$ns" udp "$addr" 53 host/udp53
    done
    # host -> api (a health check from the node) and a stranger -> api (world)
    [[ $fam == 4 ]] && addr=${V4[api2]} || addr=${V6[api2]}
    ask "host-api2-v$fam" host tcp "$addr" 8080 api2/tcp8080
    [[ $fam == 4 ]] && addr=${V4[api1]} || addr=${V6[api1]}
    ask "ext-api1-v$fam" ext tcp "$addr" 8080 api1/tcp8080
  done
  ping_check fe-ping4 fe "${V4[api1]}"
  ping_check fe-ping6 fe "${V6[api2]}"
  track_clients
  check_clients
}

# --- bulkhead ------------------------------------------------------------------------------------

LEARN_PID=""
start_learn() {  # start_learn <tag> <duration>
  local tag=$1 duration=$2
  ip netns exec "$(ns_name host)" "$BULKHEAD" learn --iface "$BRIDGE" --inventory "$WORK/inventory.yaml" \
    --duration "$duration" -o "$WORK/$tag.yaml" >"$WORK/$tag.stdout" 2>"$WORK/$tag.stderr" &
  LEARN_PID=$!
  PIDS+=("$LEARN_PID")
  # `ip netns exec` execs bulkhead, so LEARN_PID is bulkhead itself and signals reach it (a
  # shell function here would put a subshell, which ignores SIGINT, in between).
  # Traffic must start only once it captures: wait for its "capturing on ..." line (at most 5 s),
  # then a little more for the ring to be live. A process that dies at once fails here.
  local i
  for ((i = 0; i < 50; i++)); do
    sleep 0.1
    kill -0 "$LEARN_PID" 2>/dev/null || break
    if grep -qi 'captur' "$WORK/$tag.stderr"; then
      sleep 0.5
      break
    fi
  done
  if ! kill -0 "$LEARN_PID" 2>/dev/null; then
    wait "$LEARN_PID" || true
    fail "bulkhead learn ($tag) exited at once: $(cat "$WORK/$tag.stderr")"
  fi
}
wait_learn() {  # wait_learn <tag> <max seconds>: waits for the exit, checks status 0
  local tag=$1 max=$2 i
  for ((i = 0; i < max * 10; i++)); do
    kill -0 "$LEARN_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$LEARN_PID" 2>/dev/null; then
    fail "bulkhead learn ($tag) still running ${max}s after it should have stopped"
  fi
  local rc=0
  wait "$LEARN_PID" || rc=$?
  log "bulkhead learn ($tag) stderr:"
  sed 's/^/    /' "$WORK/$tag.stderr" >&2
  [[ $rc -eq 0 ]] || fail "bulkhead learn ($tag) exited with status $rc"
  [[ -s $WORK/$tag.yaml ]] || fail "bulkhead learn ($tag) wrote no graph"
}
check_graph() {  # check_graph <tag> <checker args...>
  local tag=$1
  shift
  local rc=0
  "$BULKHEAD" export "$WORK/$tag.yaml" --format json -o - >"$WORK/$tag.json" \
    2>"$WORK/$tag.export.err" || rc=$?
  [[ $rc -eq 0 ]] || fail "bulkhead export ($tag) exited $rc: $(cat "$WORK/$tag.export.err")"
  "$PYTHON" "$HERE/check_graph.py" --graph "$WORK/$tag.json" \
    --summary "$WORK/$tag.stderr" "$@" || fail "learned graph ($tag) is not the expected one"
}

if [[ -n ${BHIT_PCAP:-} ]]; then
  # -p and "any": the bridge must stay as bulkhead left it (not promiscuous unless bulkhead made
  # it so); the ports are promiscuous anyway (bridge ports always are), so "any" sees every frame,
  # once per interface it crosses.
  start_bg tcpdump host tcpdump -p -n -U -i any -w "$WORK/bridge.pcap"
  sleep 0.5
fi

# Run 1: full traffic mix, ended by --duration.
log "run 1: bulkhead learn --duration $LEARN_DURATION, full traffic mix"
started=$SECONDS
start_learn run1 "$LEARN_DURATION"
full_traffic
elapsed=$((SECONDS - started))
log "traffic done after ${elapsed}s"
# Traffic must end well inside the capture window, or the expectation would be wrong, not the
# binary.
((elapsed <= LEARN_DURATION - 3)) || fail "traffic took ${elapsed}s, too close to the window"
wait_learn run1 $((LEARN_DURATION + 5))
check_graph run1 \
  --group api=api-1,api-2 --group cache=cache-1 --group db=db-1 \
  --group frontend=frontend-1 --group host=node-it --group world= \
  --selector api=app:api --selector db=com.docker.compose.service:db \
  --edge frontend:api:tcp:8080:4 \
  --edge frontend:api:icmp:8:1 \
  --edge frontend:api:icmpv6:128:1 \
  --edge api:db:tcp:5432:2 \
  --edge api:cache:tcp:6379:2 \
  --edge api:cache:udp:11211:2 \
  --edge frontend:host:udp:53:2 \
  --edge api:host:udp:53:4 \
  --edge db:host:udp:53:2 \
  --edge cache:host:udp:53:2 \
  --edge host:api:tcp:8080:2 \
  --edge world:api:tcp:8080:2 \
  --example frontend:api:tcp:8080=frontend-1/api-1 \
  --example world:api:tcp:8080=10.77.0.200/api-1

# Run 2: a long window stopped with SIGINT must still write a valid graph and exit 0.
log "run 2: bulkhead learn --duration 120 stopped by SIGINT"
start_learn run2 120
CLIENT_PIDS_START=${#PIDS[@]}
ask fe-api2-v6-int fe tcp "${V6[api2]}" 8080 api2/tcp8080
ask cache-dns-v4-int cache udp "${V4[host]}" 53 host/udp53
track_clients
check_clients
sleep 0.5
kill -INT "$LEARN_PID"
wait_learn run2 5
check_graph run2 \
  --group api=api-1,api-2 --group cache=cache-1 --group db=db-1 \
  --group frontend=frontend-1 --group host=node-it \
  --edge frontend:api:tcp:8080:1 \
  --edge cache:host:udp:53:1
log "total time ${SECONDS}s"
