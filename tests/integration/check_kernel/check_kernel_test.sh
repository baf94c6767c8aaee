#!/usr/bin/env bash
# Kernel agreement test of `bulkhead check --pcap` (CTest label `kernel`), in network namespaces
# of its own (never the machine's nftables). Topology, in a "host" namespace H:
#   br0 10.30.0.1/24 fd30::1/64: web-1 (vweb), api-1 (vapi), db-1 (vdb), out (vout, in no
#   inventory: `world`), all bridged; the host serves on br0 too.
# 1. No ruleset: tcpdump records br0 while a matrix of TCP/UDP/ICMP connections (IPv4 and IPv6,
#    allowed and not-allowed pairs and ports, container->host, host->container, world->container)
#    runs; every one must succeed (so a later refusal is the ruleset's doing).
# 2. `bulkhead check policy.yaml --inventory inv.yaml --pcap rec.pcap --mode enforce` lists what
#    it would block.
# 3. The same files go to `bulkhead enforce --mode enforce` in H (its own kernel ruleset); the
#    same attempts run again and the refused ones are recorded.
# 4. check's lines must equal the kernel's refusals, aggregated the same way, exactly.
# Usage: check_kernel_test.sh BULKHEAD
set -u
BULKHEAD=$1
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/preconditions.sh" && require_netns_exec
DEADLINE=${BHC_DEADLINE:-120}
ID="bhc$$"
H="${ID}h"; WEB="${ID}web"; API="${ID}api"; DB="${ID}db"; OUT="${ID}out"
NSS=("$H" "$WEB" "$API" "$DB" "$OUT")
WORK=$(mktemp -d /tmp/bulkhead-check-kernel.XXXXXX)
PIDS=()
FAILS=0
T0=$(date +%s.%N)

cleanup() {
  for p in "${PIDS[@]}"; do
    for c in $(pgrep -P "$p"); do kill "$c" 2>/dev/null; done  # the watchdog's sleep
    kill "$p" 2>/dev/null
  done
  for ns in "${NSS[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  if [ "$FAILS" = 0 ] && [ -z "${BHC_KEEP:-}" ]; then rm -rf "$WORK"; else echo "work dir: $WORK"; fi
}
trap cleanup EXIT
trap "exit 1" TERM INT  # so the deadline (TERM) still runs cleanup
( sleep "$DEADLINE"; echo "deadline reached" >&2; kill -TERM $$ ) & PIDS+=($!)

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }
elapsed() { echo "$(date +%s.%N) $T0" | awk '{printf "%.1fs", $1 - $2}'; }
inh() { ip netns exec "$H" "$@"; }

for ns in "${NSS[@]}"; do ip netns add "$ns" || exit 1; ip -n "$ns" link set lo up; done
ip -n "$H" link add br0 type bridge
ip -n "$H" addr add 10.30.0.1/24 dev br0 && ip -n "$H" addr add fd30::1/64 dev br0 nodad
ip -n "$H" link set br0 up
attach() {  # ns veth v4 v6
  ip -n "$H" link add "$2" type veth peer name eth0 netns "$1"
  ip -n "$H" link set "$2" master br0 up
  ip -n "$1" addr add "$3/24" dev eth0 && ip -n "$1" addr add "$4/64" dev eth0 nodad
  ip -n "$1" link set eth0 up
}
attach "$WEB" vweb 10.30.0.2 fd30::2
attach "$API" vapi 10.30.0.3 fd30::3
attach "$DB" vdb 10.30.0.4 fd30::4
attach "$OUT" vout 10.30.0.9 fd30::9

# One policy and one inventory for both check and enforce.
cat > "$WORK/inv.yaml" <<'EOF'
apiVersion: bulkhead/v1
kind: Inventory
host: {name: node, addresses: [10.30.0.1, "fd30::1"]}
workloads:
  - {name: web-1, labels: {app: web}, addresses: [10.30.0.2, "fd30::2"], interface: vweb}
  - {name: api-1, labels: {app: api}, addresses: [10.30.0.3, "fd30::3"], interface: vapi}
  - {name: db-1, labels: {app: db}, addresses: [10.30.0.4, "fd30::4"], interface: vdb}
EOF
cat > "$WORK/policy.yaml" <<'EOF'
apiVersion: bulkhead/v1
kind: Policy
mode: enforce
groupBy: [app]
groups:
  - {name: api, selector: {app: api}}
  - {name: db, selector: {app: db}}
  - {name: web, selector: {app: web}}
allow:
  - {from: web, to: api, protocol: tcp, port: 8080}
  - {from: web, to: api, protocol: udp, port: 9000}
  - {from: api, to: db, protocol: tcp, port: 5432}
  - {from: api, to: db, protocol: tcp, ports: 6000-6100}
  - {from: web, to: host, protocol: tcp, port: 8000}
  - {from: host, to: api, protocol: tcp, port: 9100}
  - {from: world, to: web, protocol: tcp, port: 8080}
  - {from: web, to: api, protocol: icmp, port: 8}
  - {from: web, to: api, protocol: icmpv6, port: 128}
failsafe: []
EOF

source "$(dirname "$0")/../../lib/echo_servers.sh"
serve() {  # ns
  serve_echo "$1" "8080 5432 6050 6200 9100 8000 8001" "9000 6380"
}
for ns in "$H" "$WEB" "$API" "$DB"; do serve "$ns" || exit 1; done

nsvar() { case $1 in WEB) echo "$WEB";; API) echo "$API";; DB) echo "$DB";; OUT) echo "$OUT";; H) echo "$H";; esac; }

# One attempt: ns addr port proto. Returns 0 when the echo (or ping reply) came back. Timeouts
# are generous: 33 socat forks at once on a loaded CI machine can take over a second to answer,
# and a socat client waits only -t (0.5s by default) for the echo once its stdin hit EOF.
attempt() {
  local ns a=$2
  ns=$(nsvar "$1")
  [[ $a == *:* ]] && a="[$a]"
  case $4 in
    udp) out=$(echo ping | timeout 8 ip netns exec "$ns" socat -T3 -t3 - "UDP:$a:$3" 2>>"$WORK/attempts.err") ;;
    tcp) out=$(echo ping | timeout 8 ip netns exec "$ns" socat -T3 -t3 - "TCP:$a:$3,connect-timeout=3" 2>>"$WORK/attempts.err") ;;
    icmp*) timeout 8 ip netns exec "$ns" ping -c1 -W3 "$2" >/dev/null 2>&1 && out=ping ;;
  esac
  [ "${out:-}" = ping ]
}

# ns addr port proto from to (icmp: port is the request type, as check names it)
MATRIX=(
  "WEB 10.30.0.3 8080 tcp web api" "WEB fd30::3 8080 tcp web api"
  "WEB 10.30.0.3 9000 udp web api" "WEB fd30::3 9000 udp web api"
  "API 10.30.0.4 5432 tcp api db" "API fd30::4 5432 tcp api db"
  "API 10.30.0.4 6050 tcp api db" "API fd30::4 6050 tcp api db"
  "WEB 10.30.0.1 8000 tcp web host" "WEB fd30::1 8000 tcp web host"
  "H 10.30.0.3 9100 tcp host api" "H fd30::3 9100 tcp host api"
  "OUT 10.30.0.2 8080 tcp world web" "OUT fd30::2 8080 tcp world web"
  "WEB 10.30.0.3 8 icmp web api" "WEB fd30::3 128 icmpv6 web api"
  # not allowed: reverse direction, other pair, other port, other protocol, outside a range
  "API 10.30.0.2 8080 tcp api web" "API fd30::2 8080 tcp api web"
  "WEB 10.30.0.4 5432 tcp web db" "WEB fd30::4 5432 tcp web db"
  "WEB 10.30.0.3 5432 tcp web api"
  "WEB 10.30.0.3 6380 udp web api" "WEB fd30::3 6380 udp web api"
  "API 10.30.0.4 6200 tcp api db"
  "DB 10.30.0.3 9000 udp db api"
  "WEB 10.30.0.1 8001 tcp web host" "WEB fd30::1 8001 tcp web host"
  "API 10.30.0.1 8000 tcp api host"
  "H 10.30.0.2 8080 tcp host web" "H fd30::2 8080 tcp host web"
  "OUT 10.30.0.3 8080 tcp world api"
  "API 10.30.0.2 8 icmp api web" "API fd30::2 128 icmpv6 api web"
)

# Runs the whole matrix in parallel; writes "i ok|refused" lines to $1.
run_matrix() {
  local out=$1 i=0 jobs=()
  : > "$out"
  for m in "${MATRIX[@]}"; do
    # shellcheck disable=SC2086
    set -- $m
    ( if attempt "$1" "$2" "$3" "$4"; then echo "$i ok"; else echo "$i refused"; fi ) >> "$out" &
    jobs+=($!)
    i=$((i + 1))
  done
  wait "${jobs[@]}"
}

# Every server listening (7 TCP, 2 UDP per namespace) before the first attempt.
for ns in "$H" "$WEB" "$API" "$DB"; do
  for i in $(seq 1 100); do
    [ "$(ip netns exec "$ns" ss -Hltn | wc -l)" -ge 7 ] && [ "$(ip netns exec "$ns" ss -Hlun | wc -l)" -ge 2 ] && break
    sleep 0.1
  done
done
# Neighbours resolved first: the attempts run in parallel, and a UDP datagram queued behind an
# unresolved ARP/ND entry can be dropped (unres_qlen), which would look like a refusal.
for ns in "$H" "$WEB" "$API" "$DB" "$OUT"; do
  for a in 10.30.0.1 10.30.0.2 10.30.0.3 10.30.0.4 fd30::1 fd30::2 fd30::3 fd30::4; do
    timeout 3 ip netns exec "$ns" ping -c1 -W2 "$a" >/dev/null 2>&1 &
  done
done
wait_pings() { for j in $(jobs -p); do case " ${PIDS[*]} " in *" $j "*) ;; *) wait "$j";; esac; done; }
wait_pings

# --- 1. record without a ruleset ----------------------------------------------------------
inh tcpdump -n -U -i br0 -w "$WORK/rec.pcap" 'tcp or udp or icmp or icmp6' 2> "$WORK/tcpdump.err" &
TCPDUMP=$!; PIDS+=($TCPDUMP)
for i in $(seq 1 50); do grep -q listening "$WORK/tcpdump.err" && break; sleep 0.1; done
t1=$(date +%s.%N)
run_matrix "$WORK/open.txt"
sleep 0.5
kill -TERM "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null  # (async jobs ignore SIGINT)
open_failed=$(grep -c refused "$WORK/open.txt")
[ "$open_failed" = 0 ] && pass "all ${#MATRIX[@]} attempts connect without a ruleset ($(echo "$(date +%s.%N) $t1" | awk '{printf "%.1fs", $1 - $2}'))" \
  || fail "$open_failed attempts failed without any ruleset: $(grep refused "$WORK/open.txt" | tr '\n' ' ')"

# --- 2. check offline ---------------------------------------------------------------------
"$BULKHEAD" check "$WORK/policy.yaml" --inventory "$WORK/inv.yaml" --pcap "$WORK/rec.pcap" \
  --mode enforce > "$WORK/check.out" 2> "$WORK/check.err"
rc=$?
cat "$WORK/check.err"
[ "$rc" = 1 ] && pass "check exits 1 (something would be blocked)" || fail "check exit $rc"
sort "$WORK/check.out" > "$WORK/check.sorted"

# --- 3. the kernel, enforce mode ----------------------------------------------------------
inh "$BULKHEAD" enforce "$WORK/policy.yaml" --inventory "$WORK/inv.yaml" --mode enforce \
  --state-dir "$WORK/state" || { fail "bulkhead enforce"; exit 1; }
t1=$(date +%s.%N)
run_matrix "$WORK/enforce.txt"
pass "matrix under the ruleset ($(echo "$(date +%s.%N) $t1" | awk '{printf "%.1fs", $1 - $2}'))"

# --- 4. compare ---------------------------------------------------------------------------
: > "$WORK/kernel.keys"
: > "$WORK/intended.keys"
i=0
for m in "${MATRIX[@]}"; do
  # shellcheck disable=SC2086
  set -- $m
  key="$5 -> $6 $4/$3"
  grep -qx "$i refused" "$WORK/enforce.txt" && echo "$key" >> "$WORK/kernel.keys"
  # The ones below the comment in MATRIX are meant to be refused: a sanity check that the
  # matrix exercises both outcomes (not the assertion under test).
  [ "$i" -ge 16 ] && echo "$key" >> "$WORK/intended.keys"
  i=$((i + 1))
done
aggregate() { sort "$1" | uniq -c | awk '{n=$1; $1=""; sub(/^ /, ""); printf "%s: %d connection%s\n", $0, n, (n == 1 ? "" : "s")}' | sort; }
aggregate "$WORK/kernel.keys" > "$WORK/kernel.sorted"
aggregate "$WORK/intended.keys" > "$WORK/intended.sorted"
nk=$(wc -l < "$WORK/kernel.keys")
if diff -u "$WORK/kernel.sorted" "$WORK/check.sorted" > "$WORK/agree.diff"; then
  pass "check's blocked set equals the kernel's refusals ($nk connections, $(wc -l < "$WORK/check.sorted") lines)"
else
  fail "check and the kernel disagree (- kernel, + check):"; cat "$WORK/agree.diff"
fi
diff -u "$WORK/intended.sorted" "$WORK/kernel.sorted" > /dev/null \
  && pass "the kernel refused exactly the intended ${#MATRIX[@]}-attempt subset" \
  || { fail "the kernel's refusals are not the intended ones:"; diff -u "$WORK/intended.sorted" "$WORK/kernel.sorted"; }
[ "$nk" -gt 0 ] && [ "$nk" -lt "${#MATRIX[@]}" ] && pass "both outcomes present" || fail "degenerate matrix: $nk refused"
cat "$WORK/check.sorted" | sed 's/^/  check: /'

echo "total $(elapsed), $FAILS failure(s)"
[ "$FAILS" = 0 ]
