#!/usr/bin/env bash
# Kernel test of element-only membership updates (CTest label `kernel`), in namespaces of its
# own. One bridge br0 10.30.0.1/24 fd30::1/64 in a "host" namespace; web-1, web-2, api-1, db-1
# bridged. update_a.spec manages web-1, api-1, db-1; update_b.spec has web-2 started and db-1
# stopped (same groups and edges). Checks that `enforcer_tool update` sends elements only, that
# real verdicts follow the membership, that the result lists like a full apply of the new spec,
# that an established connection survives, that a structural change is refused as such, and
# that an update against a kernel that diverged is refused without changing anything, and that
# a removed edge's element of the hit set goes with it (update_d/e.spec).
# Usage: enforcer_update_netns_test.sh ENFORCER_TOOL SOURCE_DIR
set -u
TOOL=$1
SRC=$2
source "$SRC/../../lib/preconditions.sh" && require_netns_exec
DEADLINE=${BHE_DEADLINE:-150}
ID="bhu$$"
H="${ID}h"; WEB1="${ID}w1"; WEB2="${ID}w2"; API="${ID}api"; DB="${ID}db"
NSS=("$H" "$WEB1" "$WEB2" "$API" "$DB")
PIDS=()
FAILS=0

cleanup() {
  for p in "${PIDS[@]}"; do
    for c in $(pgrep -P "$p"); do kill "$c" 2>/dev/null; done
    kill "$p" 2>/dev/null
  done
  for ns in "${NSS[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -f /tmp/$ID.*
}
trap cleanup EXIT
( sleep "$DEADLINE"; echo "deadline reached" >&2; kill -TERM $$ ) & PIDS+=($!)

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }
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
attach "$WEB1" vweb1 10.30.0.2 fd30::2
attach "$WEB2" vweb2 10.30.0.5 fd30::5
attach "$API" vapi1 10.30.0.3 fd30::3
attach "$DB" vdb1 10.30.0.4 fd30::4
require_br_netfilter "$H" "$TOOL" sysctl

# shellcheck source=../../lib/echo_servers.sh
source "$(dirname "$0")/../../lib/echo_servers.sh"
for ns in "$API" "$DB"; do serve_echo "$ns" "8080 5432" "" || exit 1; done

probe() {  # ns addr port -> 0 when the echo came back
  local a=$2
  [[ $a == *:* ]] && a="[$a]"
  out=$(echo ping | timeout 3 ip netns exec "$1" socat -T1 - "TCP:$a:$3,connect-timeout=1" 2>/dev/null)
  [ "$out" = ping ]
}
expect() {  # allowed|refused what ns addr port
  if probe "$3" "$4" "$5"; then
    [ "$1" = allowed ] && pass "$2" || fail "$2: connected, should be refused"
  else
    [ "$1" = refused ] && pass "$2" || fail "$2: refused, should connect"
  fi
}
listing() { inh nft -j list ruleset | python3 "$SRC/nft_normal.py"; }
raw_listing() { inh nft -j list ruleset; }

# Control: without any table everything connects (so the refusals below are the ruleset's).
expect allowed "control: web-2 -> api 8080 without tables" "$WEB2" 10.30.0.3 8080

# --- before: A --------------------------------------------------------------------------------
inh "$TOOL" apply "$SRC/update_a.spec" >/dev/null || { fail "apply A"; exit 1; }
expect allowed "A: web-1 -> api 8080" "$WEB1" 10.30.0.3 8080
expect refused "A: web-2 (not started yet) -> api 8080" "$WEB2" 10.30.0.3 8080
expect refused "A: web-2 (not started yet) -> api 8080 v6" "$WEB2" fd30::3 8080
expect allowed "A: api -> db-1 5432" "$API" 10.30.0.4 5432
expect allowed "A: api -> db-1 5432 v6" "$API" fd30::4 5432

# --- update A -> B under traffic ----------------------------------------------------------------
ip netns exec "$WEB1" python3 "$SRC/long_client.py" 10.30.0.3 8080 3 > /tmp/$ID.long 2>&1 & long=$!
sleep 0.5
out=$(inh "$TOOL" update "$SRC/update_a.spec" "$SRC/update_b.spec") && pass "update A -> B: $out" \
  || fail "update A -> B: $out"
echo "$out" | grep -q "^updated +[1-9][0-9]* -[1-9]" || fail "update sent no additions/removals: $out"
expect allowed "B: web-2 (started) -> api 8080" "$WEB2" 10.30.0.3 8080
expect allowed "B: web-2 (started) -> api 8080 v6" "$WEB2" fd30::3 8080
expect allowed "B: web-1 -> api 8080" "$WEB1" 10.30.0.3 8080
expect refused "B: api -> db-1 (stopped: now world) 5432" "$API" 10.30.0.4 5432
expect refused "B: api -> db-1 (stopped: now world) 5432 v6" "$API" fd30::4 5432
wait $long && pass "established connection across the update: $(cat /tmp/$ID.long)" \
  || fail "$(cat /tmp/$ID.long)"

# The updated tables list exactly like a full apply of B (element order, handles and counter
# values aside), and the set shows web-2 and not db-1.
updated=$(listing)
inh nft list map inet bulkhead grp4 | grep -q "10.30.0.5" && pass "grp4 lists web-2" \
  || fail "grp4 lacks web-2"
inh nft list map inet bulkhead grp4 | grep -q "10.30.0.4" && fail "grp4 still lists db-1" \
  || pass "grp4 no longer lists db-1"
inh "$TOOL" apply "$SRC/update_b.spec" >/dev/null || fail "full apply B"
full=$(listing)
[ -n "$full" ] && [ "$updated" = "$full" ] && pass "update lists identically to a full apply of B" \
  || { fail "update differs from a full apply of B"; diff <(echo "$updated") <(echo "$full") | head -20; }

# --- a structural change is not an element update ------------------------------------------------
before=$(raw_listing)
out=$(inh "$TOOL" update "$SRC/update_b.spec" "$SRC/update_c.spec"); rc=$?
[ $rc = 3 ] && [ "$out" = "structure changed" ] && pass "new group: structure changed (exit 3)" \
  || fail "new group: rc $rc, $out"
[ "$before" = "$(raw_listing)" ] && pass "structure change sent nothing" || fail "structure change modified the tables"

# --- a kernel that diverged refuses the whole update -------------------------------------------
inh nft delete element inet bulkhead grp4 '{ 10.30.0.5 }' || fail "manual element delete"
before=$(raw_listing)
out=$(inh "$TOOL" update "$SRC/update_b.spec" "$SRC/update_a.spec" 2>&1) && fail "update against a diverged kernel accepted"
[ "$before" = "$(raw_listing)" ] && pass "refused update left the tables byte-identical" \
  || fail "refused update changed the tables"
echo "$out" | grep -q "web-2" && pass "error names the element: $(echo "$out" | head -1)" \
  || fail "error does not name web-2: $out"

# --- back B -> A by update after a repair -------------------------------------------------------
inh "$TOOL" apply "$SRC/update_b.spec" >/dev/null || fail "repair apply B"
out=$(inh "$TOOL" update "$SRC/update_b.spec" "$SRC/update_a.spec") && pass "update B -> A: $out" \
  || fail "update B -> A: $out"
expect refused "A again: web-2 (stopped) -> api 8080" "$WEB2" 10.30.0.3 8080
expect allowed "A again: api -> db-1 (started) 5432" "$API" 10.30.0.4 5432

# --- a removed edge's hit goes with it -----------------------------------------------------------
# Single-port edges count in the dynamic hit set, an element per edge from its first connection.
# update_e.spec is update_d.spec without web -> api tcp/8080 (same structure).
edge_count() {  # spec edge -> its packets in `counters`
  inh "$TOOL" counters "$SRC/$1" | grep -F "$2 " | awk '{print $(NF-1)}'
}
hit_listed() { inh nft list set inet bulkhead hits | grep -q "tcp \. 8080 "; }
E8080="allow web -> api tcp/8080"
inh "$TOOL" apply "$SRC/update_d.spec" >/dev/null || fail "apply D"
expect allowed "D: web-1 -> api 8080" "$WEB1" 10.30.0.3 8080
n=$(edge_count update_d.spec "$E8080")
[ "${n:-0}" -gt 0 ] && hit_listed && pass "D: $E8080 counted $n packets in the hit set" \
  || fail "D: $E8080 not counted ($n): $(inh nft list set inet bulkhead hits)"
out=$(inh "$TOOL" update "$SRC/update_d.spec" "$SRC/update_e.spec" 2>&1)
echo "$out" | grep -q "^updated +0 -2 " && pass "D -> E removes the edge and its hit: $out" \
  || fail "D -> E: $out"
hit_listed && fail "E: the hit set still holds web -> api 8080" || pass "E: the hit set dropped web -> api 8080"
expect refused "E: web-1 -> api 8080" "$WEB1" 10.30.0.3 8080
out=$(inh "$TOOL" update "$SRC/update_e.spec" "$SRC/update_d.spec" 2>&1) || fail "E -> D: $out"
n=$(edge_count update_d.spec "$E8080")
[ "$n" = 0 ] && pass "D again: the re-added edge counts from 0" || fail "D again: $E8080 reads $n"
# Removing an edge that never had a connection (no hit element) is not an error.
out=$(inh "$TOOL" update "$SRC/update_d.spec" "$SRC/update_e.spec" 2>&1)
echo "$out" | grep -q "^updated +0 -1 " && pass "D -> E without a hit: $out" || fail "D -> E without a hit: $out"

inh "$TOOL" disable || fail "disable"
echo "failures: $FAILS"
[ $FAILS = 0 ]
