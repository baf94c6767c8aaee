#!/usr/bin/env bash
# Kernel integration test of the enforcer (CTest label `kernel`): real nftables in network
# namespaces of its own, never the machine's: the shop of tests/lib/shop_netns.sh.
# Policy: policy.spec (4 groups + host + world). Usage: enforcer_netns_test.sh ENFORCER_TOOL SOURCE_DIR
set -u
TOOL=$1
SRC=$2
source "$SRC/../../lib/preconditions.sh" && require_netns_exec
DEADLINE=${BHE_DEADLINE:-200}
ID="bhe$$"
source "$SRC/../../lib/shop_netns.sh"
shop_setup
shop_spec_macs

# br_netfilter: bridged traffic must reach the inet table in this namespace.
require_br_netfilter "$H" "$TOOL" sysctl
[ "$(inh cat /proc/sys/net/bridge/bridge-nf-call-iptables)" = 1 ] || fail "sysctl not on"

ping_ok() { timeout 3 ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1; }

# name ns addr port proto
ALLOWED=(
  "web->api WEB 10.10.0.3 8080 tcp" "web->api WEB fd10::3 8080 tcp"
  "web->api WEB 10.10.0.3 9000 udp" "web->api WEB fd10::3 9000 udp"
  "api->db API 10.10.0.4 5432 tcp" "api->db API fd10::4 5432 tcp"
  "api->cache(routed) API 10.20.0.2 6379 tcp" "api->cache(routed) API fd20::2 6379 tcp"
  "api->cache(routed) API 10.20.0.2 6380 udp" "api->cache(routed) API fd20::2 6380 udp"
  "web->host WEB 10.10.0.1 8000 tcp" "web->host WEB fd10::1 8000 tcp"
  "host->api H 10.10.0.3 9100 tcp" "host->api H fd10::3 9100 tcp"
)
REFUSED=(
  "api->web(reverse) API 10.10.0.2 8080 tcp" "api->web(reverse) API fd10::2 8080 tcp"
  "web->db WEB 10.10.0.4 5432 tcp" "web->db WEB fd10::4 5432 tcp"
  "web->api(other-port) WEB 10.10.0.3 5432 tcp" "web->api(udp-other-port) WEB 10.10.0.3 6380 udp"
  "db->api DB 10.10.0.3 8080 tcp" "cache->api(routed) CACHE 10.10.0.3 8080 tcp"
  "web->cache(routed) WEB 10.20.0.2 6379 tcp" "web->cache(routed) WEB fd20::2 6379 tcp"
  "web->host(outside-policy) WEB 10.10.0.1 8001 tcp" "web->host(outside-policy) WEB fd10::1 8001 tcp"
  "api->host(outside-policy) API 10.10.0.1 8000 tcp" "host->web H 10.10.0.2 8080 tcp"
)
nsvar() { case $1 in WEB) echo "$WEB";; API) echo "$API";; DB) echo "$DB";; CACHE) echo "$CACHE";; H) echo "$H";; esac; }

check_matrix() {  # mode: refused flows must fail in enforce, pass in monitor
  local mode=$1
  for f in "${ALLOWED[@]}"; do
    set -- $f
    probe "$(nsvar "$2")" "$3" "$4" "$5" && pass "$mode allowed $1 $3 $5/$4" || fail "$mode allowed $1 $3 $5/$4 did not connect"
  done
  for f in "${REFUSED[@]}"; do
    set -- $f
    if probe "$(nsvar "$2")" "$3" "$4" "$5"; then
      [ "$mode" = monitor ] && pass "monitor passes $1 $3 $5/$4" || fail "enforce let $1 $3 $5/$4 through"
    else
      [ "$mode" = enforce ] && pass "enforce refused $1 $3 $5/$4" || fail "monitor blocked $1 $3 $5/$4"
    fi
  done
  ping_ok "$WEB" 10.10.0.3 && pass "$mode ping web->api v4" || fail "$mode ping web->api v4"
  ping_ok "$WEB" fd10::3 && pass "$mode ping web->api v6 (needs ND)" || fail "$mode ping web->api v6"
  if ping_ok "$API" 10.10.0.2; then
    [ "$mode" = monitor ] && pass "monitor ping api->web passes" || fail "enforce let ping api->web through"
  else
    [ "$mode" = enforce ] && pass "enforce refused ping api->web" || fail "monitor blocked ping api->web"
  fi
}

counter() { inh "$TOOL" counters "$SRC/policy.spec" | awk -v n="$1" '$1 == n {print $2}'; }

# Control: without bulkhead's tables a tagged frame crosses the bridge (so the test can fail).
mac_api=$(ip -n "$API" link show eth0 | awk '/link\/ether/ {print $2}')
vlan_count() {
  ip netns exec "$API" python3 "$SRC/vlan_frame.py" recv eth0 2 > /tmp/$ID.vlan &
  local r=$!
  sleep 0.5
  ip netns exec "$WEB" python3 "$SRC/vlan_frame.py" send eth0 "$mac_api" 10
  wait $r
  cat /tmp/$ID.vlan; rm -f /tmp/$ID.vlan
}
n=$(vlan_count); [ "$n" -gt 0 ] && pass "control: $n tagged frames cross without the table" || fail "control: tagged frames never arrive ($n)"

# ARP spoofing: web announces api's address to db. Control: without the table db believes it.
mac_web=$(ip -n "$WEB" link show eth0 | awk '/link\/ether/ {print $2}')
arp_poisoned() {
  ip -n "$DB" neigh flush dev eth0
  ip netns exec "$WEB" python3 "$SRC/neighbour_spoof.py" claim eth0 10.10.0.3 10.10.0.4
  sleep 0.2
  local n; n=$(ip -n "$DB" neigh show 10.10.0.3 dev eth0)
  ip -n "$DB" neigh flush dev eth0
  echo "$n" | grep -qi "$mac_web"
}
arp_poisoned && pass "control: a spoofed ARP poisons db's cache without the table" \
  || fail "control: the spoofed ARP never reached db's cache"
# A rogue router advertisement from web: db would route IPv6 through web.
ra_taken() {
  ip netns exec "$WEB" python3 "$SRC/neighbour_spoof.py" ra eth0
  sleep 0.3
  local n; n=$(ip -n "$DB" -6 route show default proto ra)
  ip -n "$DB" -6 route flush proto ra
  [ -n "$n" ]
}
ra_taken && pass "control: a rogue RA gives db a route via web without the table" \
  || fail "control: the rogue RA never reached db"
# A neighbour advertisement from web naming api's IPv6 address: db, which knows api (a cache
# entry with api's MAC), would send api's IPv6 traffic to web.
na_poisoned() {
  ip -n "$DB" -6 neigh replace fd10::3 lladdr "$mac_api" dev eth0 nud stale
  ip netns exec "$WEB" python3 "$SRC/neighbour_spoof.py" na eth0 fd10::3
  sleep 0.2
  local n; n=$(ip -n "$DB" -6 neigh show fd10::3 dev eth0)
  ip -n "$DB" -6 neigh del fd10::3 dev eth0 2>/dev/null
  echo "$n" | grep -qi "$mac_web"
}
na_poisoned && pass "control: a spoofed NA poisons db's IPv6 cache without the table" \
  || fail "control: the spoofed NA never reached db's cache"
# MAC takeover: web sends frames with api's MAC as their source; a bridge that believes them
# moves api's MAC to web's port, and the traffic to api goes to web until api sends again. The
# victim's peer is the host (host->api tcp/9100 is allowed, so the inet table passes it in
# enforce mode too). Prints the number of the host's frames to api that web received.
mac_stolen() {
  ip netns exec "$API" python3 "$SRC/neighbour_spoof.py" announce eth0  # the bridge knows api
  inh ip neigh replace 10.10.0.3 lladdr "$mac_api" dev br0 nud permanent
  ip netns exec "$WEB" python3 "$SRC/neighbour_spoof.py" takeover eth0 "$mac_api" 1.5 > /tmp/$ID.steal &
  local r=$!
  wait_for /tmp/$ID.steal sent || fail "the takeover script did not start"
  bridge -n "$H" fdb show br br0 | grep -i "^$mac_api " | grep -q "dev vweb" && echo moved > /tmp/$ID.fdb
  inh timeout 1 socat -u - TCP:10.10.0.3:9100,connect-timeout=1 </dev/null >/dev/null 2>&1
  wait $r
  tail -1 /tmp/$ID.steal; rm -f /tmp/$ID.steal
  inh ip neigh del 10.10.0.3 dev br0
  ip netns exec "$API" python3 "$SRC/neighbour_spoof.py" announce eth0  # api takes it back
}
fdb_moved() { [ -f /tmp/$ID.fdb ] && rm -f /tmp/$ID.fdb; }
n=$(mac_stolen)
[ "$n" -gt 0 ] && pass "control: web received $n of the host's frames to api after taking api's MAC" \
  || fail "control: the MAC takeover never diverted the host's frames ($n)"
fdb_moved && pass "control: the bridge moved api's MAC to web's port" \
  || fail "control: the bridge's FDB never moved api's MAC"

# --- enforce -------------------------------------------------------------------------------
inh "$TOOL" apply "$SRC/policy.spec" --mode enforce || { fail "apply enforce"; exit 1; }
# Empty neighbour caches: every flow of the matrix resolves its addresses through the table.
for ns in "${NSS[@]}"; do ip -n "$ns" neigh flush all; done
check_matrix enforce
[ "$(counter inet/dropped)" -gt 0 ] && pass "dropped counter $(counter inet/dropped)" || fail "dropped counter is 0"
inh "$TOOL" counters "$SRC/policy.spec" | grep -q "allow web -> api tcp/8080 [1-9]" && pass "per-edge counter web->api tcp/8080" || fail "per-edge counter web->api tcp/8080 not counted"
# Single-port edges count in the dynamic set `hits`; when it is full the edge is still allowed.
size=$(inh nft list set inet bulkhead hits | awk '$1 == "size" {print $2}')
inh nft flush set inet bulkhead hits
inh nft add element inet bulkhead hits "{ $(python3 -c "import sys; n = int(sys.argv[1]); \
  print(', '.join('0x7ffe%04x . tcp . %d' % (i, 1000 + i) for i in range(n)))" "$size") }" \
  || fail "could not fill the hit set"
probe "$WEB" 10.10.0.3 8080 tcp && pass "hit set full ($size elements): web->api tcp/8080 still connects" \
  || fail "hit set full: web->api tcp/8080 refused"
inh nft list set inet bulkhead hits | grep -q "0x00050002 . tcp . 8080" \
  && fail "a full hit set took another element" || pass "a full hit set takes no element"
n=$(vlan_count); [ "$n" = 0 ] && pass "tagged frame blocked" || fail "$n tagged frames crossed"
[ "$(counter bridge/tagged)" -gt 0 ] && pass "tagged counter" || fail "tagged counter is 0"

# Spoofing: web takes api's address (api may send udp/5555 to db); db must not receive it.
ip netns exec "$DB" socat -u UDP6-RECV:5555,ipv6only=0 OPEN:/tmp/$ID.db,creat,append 2>/dev/null & PIDS+=($!)
sleep 0.3
echo LEGIT | ip netns exec "$API" socat -u - UDP:10.10.0.4:5555
ip -n "$WEB" addr add 10.10.0.3/32 dev eth0
echo SPOOF | ip netns exec "$WEB" socat -u - UDP:10.10.0.4:5555,bind=10.10.0.3
sleep 0.5
grep -q LEGIT /tmp/$ID.db && pass "api's own udp/5555 reaches db" || fail "legit udp/5555 lost"
grep -q SPOOF /tmp/$ID.db && fail "spoofed source reached db" || pass "spoofed source got no access"
[ "$(counter bridge/spoofed)" -gt 0 ] && pass "spoofed counter" || fail "spoofed counter is 0"
ip -n "$WEB" addr del 10.10.0.3/32 dev eth0; rm -f /tmp/$ID.db
s0=$(counter bridge/spoofed)
arp_poisoned && fail "a spoofed ARP poisoned db's cache" || pass "a spoofed ARP did not reach db's cache"
[ "$(counter bridge/spoofed)" -gt "$s0" ] && pass "spoofed ARP counted" || fail "spoofed ARP not counted"
[ "$(ip netns exec "$WEB" python3 "$SRC/neighbour_spoof.py" probe eth0 10.10.0.4)" = reply ] \
  && pass "an ARP probe (sender 0.0.0.0) is answered" || fail "an ARP probe got no answer"
s0=$(counter bridge/spoofed)
ra_taken && fail "a rogue RA gave db a route" || pass "a rogue RA did not reach db"
[ "$(counter bridge/spoofed)" -gt "$s0" ] && pass "rogue RA counted" || fail "rogue RA not counted"
s0=$(counter bridge/spoofed)
na_poisoned && fail "a spoofed NA poisoned db's IPv6 cache" || pass "a spoofed NA did not reach db's cache"
[ "$(counter bridge/spoofed)" -gt "$s0" ] && pass "spoofed NA counted" || fail "spoofed NA not counted"
ping_ok "$WEB" fd10::3 && pass "web still resolves api over IPv6 (api's own NA passes)" \
  || fail "web lost api over IPv6 after the NA guard"
# The NA guard's sets are raw-keyed (typeof): nft lists the table and reads the listing back.
inh nft list table bridge bulkhead >/tmp/$ID.bridge.nft || fail "nft cannot list the bridge table"
ip netns add "${ID}l"
ip netns exec "${ID}l" nft -f /tmp/$ID.bridge.nft && pass "nft reads back its listing of the bridge table" \
  || fail "nft refused its own listing of the bridge table"
ip netns del "${ID}l"; rm -f /tmp/$ID.bridge.nft
s0=$(counter bridge/spoofed)
n=$(mac_stolen)
[ "$n" = 0 ] && pass "enforce: web took none of the host's frames to api" || fail "enforce: web received $n of the host's frames to api"
fdb_moved && fail "enforce: the bridge moved api's MAC to web's port" || pass "enforce: api's MAC stays on its port"
[ "$(counter bridge/spoofed)" -gt "$s0" ] && pass "MAC takeover counted" || fail "MAC takeover not counted"
probe "$API" 10.10.0.4 5432 tcp && pass "api still reaches db with its own MAC" || fail "api lost db after the takeover attempt"

# Offline evaluator agrees with the kernel on the same flows.
ev() { inh "$TOOL" eval "$SRC/policy.spec" "$@" --mode enforce | cut -d' ' -f1; }
[ "$(ev forward 10.10.0.2 10.10.0.3 tcp 8080 vweb)" = accept ] && [ "$(ev forward 10.10.0.2 10.10.0.4 tcp 5432 vweb)" = drop ] \
  && [ "$(ev input 10.10.0.2 10.10.0.1 tcp 8001 vweb)" = drop ] && [ "$(ev forward fd10::3 fd20::2 tcp 6379 vapi)" = accept ] \
  && pass "evaluator agrees with the kernel on sample flows" || fail "evaluator disagrees"

# A rejected batch leaves the old ruleset byte-identical.
# The per-source log budgets' elements expire by themselves (their "expires" counts down): left
# out, everything else must be the same bytes.
listing() {
  inh nft -j list table inet bulkhead | python3 -c '
import json, sys
doc = json.load(sys.stdin)
for item in doc["nftables"]:
    if item.get("set", {}).get("name") in ("log_budget4", "log_budget6"):
        item["set"].pop("elem", None)
print(json.dumps(doc))'
}
before=$(listing)
out=$(inh "$TOOL" apply "$SRC/policy2.spec" --mode enforce --bad-element 2>&1) && fail "bad batch accepted"
after=$(listing)
[ "$before" = "$after" ] && pass "rejected batch left the ruleset byte-identical" || fail "ruleset changed after a rejected batch"
echo "$out" | grep -q "injected-bad" && pass "error names the policy object: $(echo "$out" | head -1)" || fail "error does not name the object: $out"

# New policies under traffic: an established allowed connection survives every apply, and a
# disallowed connection never gets through meanwhile.
ip netns exec "$WEB" python3 "$SRC/long_client.py" 10.10.0.3 8080 6 > /tmp/$ID.long 2>&1 & long=$!
leaks=0
for i in $(seq 1 10); do
  spec=$SRC/policy.spec; [ $((i % 2)) = 1 ] && spec=$SRC/policy2.spec
  inh "$TOOL" apply "$spec" --mode enforce >/dev/null || fail "apply $i under traffic"
  probe "$WEB" 10.10.0.4 5432 tcp && leaks=$((leaks + 1))
done
wait $long && pass "$(cat /tmp/$ID.long)" || fail "$(cat /tmp/$ID.long)"
[ $leaks = 0 ] && pass "no disallowed connection during 10 applies" || fail "$leaks disallowed connections during applies"
rm -f /tmp/$ID.long

# --- monitor -------------------------------------------------------------------------------
inh "$TOOL" apply "$SRC/policy.spec" --mode monitor >/dev/null || fail "apply monitor"
m0=$(counter inet/monitored)
check_matrix monitor
m1=$(counter inet/monitored)
[ "$m1" -gt "$m0" ] && pass "monitored counter $m0 -> $m1" || fail "monitor mode did not count ($m0 -> $m1)"
s0=$(counter bridge/spoofed)
arp_poisoned && pass "monitor passes a spoofed ARP" || fail "monitor blocked a spoofed ARP"
[ "$(counter bridge/spoofed)" -gt "$s0" ] && pass "monitor counted the spoofed ARP" || fail "monitor did not count the spoofed ARP"
s0=$(counter bridge/spoofed)
na_poisoned && pass "monitor passes a spoofed NA" || fail "monitor blocked a spoofed NA"
[ "$(counter bridge/spoofed)" -gt "$s0" ] && pass "monitor counted the spoofed NA" || fail "monitor did not count the spoofed NA"
for ns in "${NSS[@]}"; do ip -n "$ns" neigh flush all; done  # the claim was a broadcast
s0=$(counter bridge/spoofed)
n=$(mac_stolen)
[ "$n" -gt 0 ] && pass "monitor passes a MAC takeover ($n frames)" || fail "monitor blocked a MAC takeover"
fdb_moved || true
[ "$(counter bridge/spoofed)" -gt "$s0" ] && pass "monitor counted the MAC takeover" || fail "monitor did not count the MAC takeover"

# --- disable -------------------------------------------------------------------------------
inh nft add table inet someone_else
inh "$TOOL" disable || fail "disable"
left=$(inh nft list tables)
[ "$left" = "table inet someone_else" ] && pass "disable removed only bulkhead's tables" || fail "after disable: $left"

echo "failures: $FAILS"
[ $FAILS = 0 ]
