#!/usr/bin/env bash
# Docker discovery against a real dockerd (CTest label `kernel`; root). The dockerd is our own,
# in its own network namespace, started and cleaned up by tests/lib/dockerd.sh (why it runs the
# way it does is said there).
#
#   docker_netns_test.sh TOOL SOURCE_DIR      TOOL = docker_inventory_tool
#
# Checks: snapshot (names, labels, IPv4/IPv6 addresses, MAC, bridge names, host-side veth found
# independently via ifindex/iflink), the event stream (start, die; an address reused by a new
# container shows under the new one only), and that the client follows a dockerd restart.
set -u
TOOL=$1
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/preconditions.sh" && require_netns
# shellcheck source=../../lib/dockerd.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/dockerd.sh"
dockerd_init bhd "${BHD_DEADLINE:-200}"
dockerd_start
pass "dockerd up in namespace $NS"
dockerd_image bhd-box:1

"$DOCKER" network create --internal --ipv6 --subnet 10.231.0.0/24 --subnet fd23::/64 \
  -o com.docker.network.bridge.name=bhdbr0 shop >/dev/null || die "network create shop"
BACK_ID=$("$DOCKER" network create --internal --subnet 10.232.0.0/24 back) ||
  die "network create back"

run() {  # name labels... -- args
  "$DOCKER" run -d --init --name "$@" bhd-box:1 sleep 600
}
API1=$(run api-1 --label app=api --network shop) || die "run api-1"
DB1=$(run db-1 --label com.docker.compose.service=db --label tier=data --network shop) ||
  die "run db-1"
"$DOCKER" network connect back db-1 || die "network connect"

# What dockerd and the kernel say, found without the code under test.
facts() {  # name -> "pid ipv4 ipv6 mac" of its shop endpoint
  "$DOCKER" inspect -f '{{.State.Pid}} {{.NetworkSettings.Networks.shop.IPAddress}} {{.NetworkSettings.Networks.shop.GlobalIPv6Address}} {{.NetworkSettings.Networks.shop.MacAddress}}' "$1"
}
# The host-side veth of a container's eth0 whose MAC is given: the interface in our namespace
# whose peer ("@ifN") is that container interface's ifindex.
host_veth() {  # pid mac
  local dev ifindex
  for dev in /proc/"$1"/root/sys/class/net/*; do
    [ "$(cat "$dev/address")" = "$2" ] && ifindex=$(cat "$dev/ifindex")
  done
  ip -n "$NS" -o link show | awk -v want="if$ifindex" '{
    split($2, a, "@"); sub(":", "", a[2]); if (a[2] == want) print a[1] }'
}
read -r API1_PID API1_V4 API1_V6 API1_MAC <<<"$(facts api-1)"
read -r DB1_PID DB1_V4 DB1_V6 DB1_MAC <<<"$(facts db-1)"
DB1_BACK_V4=$("$DOCKER" inspect -f '{{.NetworkSettings.Networks.back.IPAddress}}' db-1)
API1_VETH=$(host_veth "$API1_PID" "$API1_MAC")
DB1_VETH=$(host_veth "$DB1_PID" "$("$DOCKER" inspect -f '{{.NetworkSettings.Networks.back.MacAddress}}' db-1)")
[ -n "$API1_VETH" ] && [ -n "$DB1_VETH" ] || die "could not find the veths independently"
ip -n "$NS" -o link show master bhdbr0 | grep -q "$API1_VETH@" || fail "$API1_VETH not on bhdbr0"

# --- 1. One snapshot --------------------------------------------------------------------------
inns "$TOOL" snapshot >"$WORK/snapshot.json" 2>"$WORK/snapshot.err" ||
  die "snapshot: $(cat "$WORK/snapshot.err")"
python3 - "$WORK/snapshot.json" <<EOF && pass "snapshot: names, labels, addresses, MAC, bridges, veths" || fail "snapshot"
import json, sys
s = json.load(open(sys.argv[1]))
errors = []
def eq(what, got, want):
    if got != want:
        errors.append(f"{what}: got {got!r}, want {want!r}")
w = {x["name"]: x for x in s["workloads"]}
eq("names", sorted(w), ["api-1", "db-1"])
eq("api-1 id", w["api-1"]["id"], "$API1")
eq("api-1 labels", w["api-1"]["labels"], {"app": "api"})
eq("api-1 addresses", w["api-1"]["addresses"], ["$API1_V4", "$API1_V6"])
eq("api-1 mac", w["api-1"]["mac"], "$API1_MAC")
eq("api-1 interface", w["api-1"]["interface"], "$API1_VETH")
eq("db-1 labels", w["db-1"]["labels"], {"com.docker.compose.service": "db", "tier": "data"})
# db-1: endpoints by network name, back before shop; MAC and veth of the first (back).
eq("db-1 addresses", w["db-1"]["addresses"], ["$DB1_BACK_V4", "$DB1_V4", "$DB1_V6"])
eq("db-1 interface", w["db-1"]["interface"], "$DB1_VETH")
n = {x["name"]: x for x in s["networks"]}
eq("networks", sorted(n), ["back", "shop"])
eq("shop bridge", n["shop"]["bridge"], "bhdbr0")
eq("back bridge", n["back"]["bridge"], "br-" + "$BACK_ID"[:12])
eq("host", s["host"], {"name": "node-1", "addresses": ["10.231.0.1", "10.232.0.1", "fd23::1"]})
for e in errors:
    print("  " + e)
sys.exit(1 if errors else 0)
EOF
ip -n "$NS" link show "br-${BACK_ID:0:12}" >/dev/null 2>&1 || fail "bridge br-${BACK_ID:0:12} not found"

# --- 2. Events, address reuse, dockerd restart ------------------------------------------------
FOLLOW="$WORK/follow.jsonl"
inns "$TOOL" follow 120 >"$FOLLOW" 2>"$WORK/follow.err" &
TOOL_PID=$!
PIDS+=("$TOOL_PID")

# wait_for N PYTHON-EXPR: until line N or later of the follow log satisfies EXPR over `e`
# (the event object); prints the number of the matching line.
wait_for() {
  local from=$1 expr=$2 n
  for _ in $(seq 100); do
    n=$(python3 - "$FOLLOW" "$from" "$expr" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
for i, line in enumerate(lines[int(sys.argv[2]):], start=int(sys.argv[2])):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    def w(name):
        return next((x for x in e["snapshot"]["workloads"] if x["name"] == name), None)
    if eval(sys.argv[3]):
        print(i + 1)
        break
EOF
)
    [ -n "$n" ] && { echo "$n"; return 0; }
    sleep 0.1
  done
  return 1
}

L=$(wait_for 0 'e["event"] == "resync" and w("api-1") and w("db-1")') ||
  die "no resync with api-1 and db-1 (log: $(head -c 600 "$FOLLOW"); $(tail -3 "$WORK/follow.err"))"
pass "follow: initial resync"

WEB1=$(run web-1 --label app=web --network shop) || die "run web-1"
L=$(wait_for "$L" "e['event'] == 'start' and e['id'] == '$WEB1' and w('web-1') and w('web-1')['labels'] == {'app': 'web'} and w('web-1')['interface'] != ''") &&
  pass "start event: web-1 appears with labels and veth" || fail "no start event for web-1"

"$DOCKER" kill api-1 >/dev/null
L=$(wait_for "$L" "e['event'] == 'die' and e['id'] == '$API1' and w('api-1') is None") &&
  pass "die event: api-1 gone" || fail "no die event for api-1"

# A new container takes api-1's addresses while api-1 (stopped, not removed) still exists.
API2=$("$DOCKER" run -d --init --name api-2 --label app=api --network shop --ip "$API1_V4" \
  --ip6 "$API1_V6" bhd-box:1 sleep 600) || die "run api-2 on api-1's addresses"
L=$(wait_for "$L" "e['event'] == 'start' and e['id'] == '$API2' and w('api-2') and w('api-2')['addresses'] == ['$API1_V4', '$API1_V6'] and w('api-1') is None and all('$API1_V4' not in x['addresses'] for x in e['snapshot']['workloads'] if x['name'] != 'api-2')") &&
  pass "address reuse: $API1_V4 under api-2 only" || fail "address reuse"

# dockerd restart: the stream ends, the client backs off, reconnects and resyncs (containers
# survive thanks to --live-restore), and events after the restart arrive again.
dockerd_stop
sleep 1  # at least one failed reconnect while dockerd is down
dockerd_start
L=$(wait_for "$L" 'e["event"] == "resync" and w("api-2") and w("db-1") and w("web-1")') &&
  pass "reconnect after dockerd restart: resync with api-2, db-1, web-1" ||
  fail "no resync after dockerd restart"
WEB2=$(run web-2 --label app=web --network shop) || die "run web-2"
L=$(wait_for "$L" "e['event'] == 'start' and e['id'] == '$WEB2' and w('web-2')") &&
  pass "events after reconnect: web-2 start" || fail "no start event for web-2 after restart"
grep -q "retrying in" "$WORK/follow.err" || fail "no reconnect attempt logged"

# --- 3. Clear errors --------------------------------------------------------------------------
out=$(DOCKER_HOST="unix://$WORK/missing.sock" "$TOOL" snapshot 2>&1)
[ "$out" = "cannot connect to Docker at $WORK/missing.sock: No such file or directory" ] &&
  pass "missing socket: one clear line" || fail "missing socket: $out"
out=$(DOCKER_HOST="tcp://127.0.0.1:2375" "$TOOL" snapshot 2>&1)
echo "$out" | grep -q "only unix:// sockets are supported" && pass "tcp:// refused" ||
  fail "tcp://: $out"

kill "$TOOL_PID" 2>/dev/null
if [ "$FAILS" -ne 0 ]; then
  echo "follow log: $FOLLOW; tool stderr: $WORK/follow.err; dockerd log: $WORK/dockerd.log"
  exit 1
fi
echo "all docker discovery checks passed"
