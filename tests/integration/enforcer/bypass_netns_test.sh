#!/usr/bin/env bash
# Kernel test of the bypasses the field knows that the enforcer test does not cover (CTest label
# `kernel`): each one tried against the shop of tests/lib/shop_netns.sh in network namespaces of
# its own, with policy.spec applied in enforce mode and then in monitor mode, and each first tried
# without bulkhead's tables where that shows the attempt itself works (so the test can fail).
#   - IPv6 source spoofing: web sends from api's IPv6 address (api may send udp/5555 to db);
#   - QinQ (802.1ad + 802.1Q) and PPPoE session frames from a workload port (one 802.1Q tag is
#     the enforcer test's);
#   - the cloud metadata address 169.254.169.254 and an address of the host that the inventory
#     does not list;
#   - published ports: DNAT on the host to db (forbidden for web) and to api (allowed), judged on
#     the real destination, IPv4 and IPv6.
# Usage: bypass_netns_test.sh ENFORCER_TOOL SOURCE_DIR
set -u
TOOL=$1
SRC=$2
source "$SRC/../../lib/preconditions.sh" && require_netns_exec
DEADLINE=${BHE_DEADLINE:-150}
ID="bhb$$"
source "$SRC/../../lib/shop_netns.sh"
shop_setup
shop_spec_macs
require_br_netfilter "$H" "$TOOL" sysctl
TMP=$(mktemp -d "/tmp/$ID.XXXXXX")

counter() { inh "$TOOL" counters "$SRC/policy.spec" | awk -v n="$1" '$1 == n {print $2}'; }
mac_api=$(ip -n "$API" link show eth0 | awk '/link\/ether/ {print $2}')

# frames KIND: how many of 10 KIND frames from web reach api.
frames() {
  ip netns exec "$API" python3 "$SRC/vlan_frame.py" recv eth0 2 >"$TMP/frames" &
  local r=$!
  sleep 0.5
  ip netns exec "$WEB" python3 "$SRC/vlan_frame.py" send eth0 "$mac_api" 10 "$1"
  wait $r
  cat "$TMP/frames"
}
# spoofed6: whether db received a udp/5555 datagram web sent from api's IPv6 address.
ip netns exec "$DB" socat -u UDP6-RECV:5555,ipv6only=0 OPEN:"$TMP/db",creat,append 2>/dev/null &
PIDS+=($!)
sleep 0.3
spoofed6() {
  : >"$TMP/db"
  ip -n "$WEB" addr add fd10::3/128 dev eth0 nodad
  echo SPOOF6 | ip netns exec "$WEB" socat -u - "UDP6:[fd10::4]:5555,bind=[fd10::3]" 2>/dev/null
  sleep 0.5
  ip -n "$WEB" addr del fd10::3/128 dev eth0
  ip -n "$DB" neigh flush all
  grep -q SPOOF6 "$TMP/db"
}

# The metadata address and an unlisted address of the host (on its loopback: this kernel has no
# dummy interfaces), both answering on every port; web reaches them by its default route.
ip -n "$H" addr add 169.254.169.254/32 dev lo
ip -n "$H" addr add 10.99.0.1/32 dev lo
# Published ports on the host (what Docker's -p and kube-proxy's NodePorts do): 18080 -> db
# tcp/5432 (web may not), 18081 -> api tcp/8080 (web may).
inh nft -f - <<'NFT' || fail "the DNAT table"
table ip published {
  chain prerouting {
    type nat hook prerouting priority dstnat;
    tcp dport 18080 dnat to 10.10.0.4:5432
    tcp dport 18081 dnat to 10.10.0.3:8080
  }
}
table ip6 published {
  chain prerouting {
    type nat hook prerouting priority dstnat;
    tcp dport 18080 dnat to [fd10::4]:5432
    tcp dport 18081 dnat to [fd10::3]:8080
  }
}
NFT

# --- without bulkhead's tables: every attempt works -----------------------------------------
spoofed6 && pass "control: a spoofed IPv6 source reaches db without the table" ||
  fail "control: the spoofed IPv6 datagram never reached db"
for kind in qinq pppoe; do
  n=$(frames $kind)
  [ "$n" -gt 0 ] && pass "control: $n $kind frames cross without the table" ||
    fail "control: $kind frames never arrive ($n)"
done
probe "$WEB" 169.254.169.254 8001 && pass "control: web reaches 169.254.169.254 without the table" ||
  fail "control: web cannot reach 169.254.169.254"
probe "$WEB" 10.99.0.1 8001 && pass "control: web reaches the host's unlisted address" ||
  fail "control: web cannot reach 10.99.0.1"
for a in 10.10.0.1 fd10::1; do
  probe "$WEB" $a 18080 && pass "control: web reaches db through the published port on $a" ||
    fail "control: the published port 18080 on $a does not reach db"
done

# check MODE: every bypass refused (enforce) or let through and counted (monitor).
check() {
  local mode=$1 s0 t0 m0 n kind a
  inh "$TOOL" apply "$SRC/policy.spec" --mode "$mode" >/dev/null || { fail "apply $mode"; return; }
  for ns in "${NSS[@]}"; do ip -n "$ns" neigh flush all; done
  s0=$(counter bridge/spoofed)
  if spoofed6; then
    [ "$mode" = monitor ] && pass "monitor passes a spoofed IPv6 source" ||
      fail "enforce let a spoofed IPv6 source (api's fd10::3, from web) reach db"
  else
    [ "$mode" = enforce ] && pass "enforce refused a spoofed IPv6 source" ||
      fail "monitor blocked a spoofed IPv6 source"
  fi
  [ "$(counter bridge/spoofed)" -gt "$s0" ] && pass "$mode counted the spoofed IPv6 source" ||
    fail "$mode did not count the spoofed IPv6 source"
  for kind in qinq pppoe; do
    t0=$(counter bridge/tagged)
    n=$(frames $kind)
    if [ "$mode" = enforce ]; then
      [ "$n" = 0 ] && pass "enforce dropped every $kind frame" || fail "$n $kind frames crossed"
    else
      [ "$n" -gt 0 ] && pass "monitor passes $kind frames ($n)" || fail "monitor dropped $kind frames"
    fi
    [ "$(counter bridge/tagged)" -gt "$t0" ] && pass "$mode counted the $kind frames" ||
      fail "$mode did not count the $kind frames"
  done
  m0=$(counter inet/monitored)
  for a in 169.254.169.254 10.99.0.1; do
    if probe "$WEB" $a 8001; then
      [ "$mode" = monitor ] && pass "monitor passes web -> $a tcp/8001" ||
        fail "enforce let web reach $a tcp/8001"
    else
      [ "$mode" = enforce ] && pass "enforce refused web -> $a tcp/8001" ||
        fail "monitor blocked web -> $a tcp/8001"
    fi
  done
  for a in 10.10.0.1 fd10::1; do
    if probe "$WEB" $a 18080; then
      [ "$mode" = monitor ] && pass "monitor passes web -> db through the published port on $a" ||
        fail "enforce let web reach db through the published port on $a"
    else
      [ "$mode" = enforce ] && pass "enforce judged the published port on $a by its real destination (db): refused" ||
        fail "monitor blocked the published port on $a"
    fi
    probe "$WEB" $a 18081 && pass "$mode: the published port to api on $a works (web -> api tcp/8080 is allowed)" ||
      fail "$mode: the published port to api on $a is refused"
  done
  if [ "$mode" = monitor ]; then
    [ "$(counter inet/monitored)" -gt "$m0" ] && pass "monitor counted the metadata, host and DNAT attempts" ||
      fail "monitor did not count them"
  fi
}
check enforce
check monitor

echo "failures: $FAILS"
[ $FAILS = 0 ]
