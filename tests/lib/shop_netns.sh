# Sourced by the kernel tests that need the "shop" in network namespaces of their own (never the
# machine's). Topology, in a "host" namespace $H:
#   br0 10.10.0.1/24 fd10::1/64: web-1 (vweb), api-1 (vapi), db-1 (vdb)    bridged
#   br1 10.20.0.1/24 fd20::1/64: cache-1 (vcache)                           routed via H
# Every namespace runs echo servers (socat) on every port the tests use, so a refused connection
# is refused by the ruleset, not by a missing listener.
#
# Before sourcing, set ID (a short unique prefix, e.g. "bha$$") and DEADLINE (seconds). Then:
#   shop_setup [EXTRA_NS...]   creates H WEB API DB CACHE (+ extras), bridges, addresses, servers
#   fail/pass MESSAGE          count and print a check
#   inh CMD...                 runs CMD in H
#   wait_for FILE TEXT         until FILE contains TEXT (10 s)
#   probe NS ADDR PORT [tcp|udp]   0 when the echo came back
# Cleanup (processes in PIDS, every namespace, TMP) runs on exit; add your own in CLEANUP_HOOK.
source "$(dirname "${BASH_SOURCE[0]}")/echo_servers.sh"
H="${ID}h"; WEB="${ID}web"; API="${ID}api"; DB="${ID}db"; CACHE="${ID}cache"
NSS=("$H" "$WEB" "$API" "$DB" "$CACHE")
PIDS=()
FAILS=0
CLEANUP_HOOK=${CLEANUP_HOOK:-}

shop_cleanup() {
  [ -n "$CLEANUP_HOOK" ] && $CLEANUP_HOOK
  for p in "${PIDS[@]}"; do
    for c in $(pgrep -P "$p"); do kill "$c" 2>/dev/null; done  # the deadline's sleep
    kill "$p" 2>/dev/null
  done
  # Processes detached from us (watchdogs, agents) still live in a namespace.
  for ns in "${NSS[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  [ -n "${TMP:-}" ] && rm -rf "$TMP"
}
trap shop_cleanup EXIT
( sleep "$DEADLINE"; echo "deadline reached" >&2; kill -TERM $$ ) & PIDS+=($!)

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }
inh() { ip netns exec "$H" "$@"; }
wait_for() {
  for _ in $(seq 1 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

shop_attach() {  # ns veth bridge v4 v6 gw4 gw6
  ip -n "$H" link add "$2" type veth peer name eth0 netns "$1"
  ip -n "$H" link set "$2" master "$3" up
  ip -n "$1" addr add "$4/24" dev eth0 && ip -n "$1" addr add "$5/64" dev eth0 nodad
  ip -n "$1" link set eth0 up
  ip -n "$1" route add default via "$6" && ip -n "$1" -6 route add default via "$7"
}

# The ports every shop test uses.
shop_serve() {  # ns
  serve_echo "$1" "8080 5432 6379 9100 8000 8001" "9000 6380"
}

shop_setup() {  # [extra namespaces, created but not attached]
  NSS+=("$@")
  for ns in "${NSS[@]}"; do ip netns add "$ns" || exit 1; ip -n "$ns" link set lo up; done
  inh sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  ip -n "$H" link add br0 type bridge && ip -n "$H" link add br1 type bridge
  ip -n "$H" addr add 10.10.0.1/24 dev br0 && ip -n "$H" addr add fd10::1/64 dev br0 nodad
  ip -n "$H" addr add 10.20.0.1/24 dev br1 && ip -n "$H" addr add fd20::1/64 dev br1 nodad
  ip -n "$H" link set br0 up && ip -n "$H" link set br1 up
  shop_attach "$WEB" vweb br0 10.10.0.2 fd10::2 10.10.0.1 fd10::1
  shop_attach "$API" vapi br0 10.10.0.3 fd10::3 10.10.0.1 fd10::1
  shop_attach "$DB" vdb br0 10.10.0.4 fd10::4 10.10.0.1 fd10::1
  shop_attach "$CACHE" vcache br1 10.20.0.2 fd20::2 10.20.0.1 fd20::1
  modprobe br_netfilter 2>/dev/null
  modprobe nfnetlink_log 2>/dev/null
  for ns in "$H" "$WEB" "$API" "$DB" "$CACHE"; do shop_serve "$ns" || exit 1; done
}

# The bridged workloads' MACs, as tests/integration/enforcer/policy.spec binds them to their
# ports (the enforcer's MAC binding): for the tests that apply that spec.
shop_spec_macs() {
  ip -n "$WEB" link set eth0 address 02:00:0a:0a:00:02
  ip -n "$API" link set eth0 address 02:00:0a:0a:00:03
  ip -n "$DB" link set eth0 address 02:00:0a:0a:00:04
}

probe() {  # ns addr port [tcp|udp] -> 0 when the echo came back
  local a=$2
  [[ $a == *:* ]] && a="[$a]"
  if [ "${4:-tcp}" = udp ]; then
    out=$(echo ping | timeout 3 ip netns exec "$1" socat -T1 - "UDP:$a:$3" 2>/dev/null)
  else
    out=$(echo ping | timeout 3 ip netns exec "$1" socat -T1 - "TCP:$a:$3,connect-timeout=1" 2>/dev/null)
  fi
  [ "$out" = ping ]
}
