#!/usr/bin/env bash
# Kernel test of `bulkhead enforce/confirm/status/disable` (CTest label `kernel`): real nftables
# in network namespaces of its own, never the machine's: the shop of tests/lib/shop_netns.sh.
# Policy and inventory: policy.yaml, inventory.yaml. The state directory is a temp dir.
# Usage: enforce_cli_netns_test.sh BULKHEAD SOURCE_DIR
set -u
BH=$1
SRC=$2
source "$SRC/../../lib/preconditions.sh" && require_netns_exec
DEADLINE=${BHC_DEADLINE:-200}
ID="bhc$$"
TMP=$(mktemp -d /tmp/enforce_cli.XXXXXX)
STATE=$TMP/state
SCRATCH="${ID}x"
source "$SRC/../../lib/shop_netns.sh"

bh() { inh "$BH" "$@" --state-dir "$STATE"; }
enforce() { inh "$BH" enforce "$SRC/policy.yaml" --inventory "$SRC/inventory.yaml" --state-dir "$STATE" "$@"; }
# Both of bulkhead's tables, as JSON, with the inet table's handle removed: re-creating a table
# takes the namespace's next table handle, everything inside it is numbered from 1 again.
snapshot() {
  for t in "inet bulkhead" "bridge bulkhead"; do
    inh nft -j list table $t 2>&1 | python3 -c '
import json, sys
d = json.load(sys.stdin)
for o in d["nftables"]:
    if "table" in o:
        o["table"].pop("handle", None)
print(json.dumps(d, sort_keys=True))'
    inh nft list table $t 2>&1
  done
}
shop_setup "$SCRATCH"
counter() {  # status line name -> packets
  bh status 2>/dev/null | awk -v n="$1:" '$1 == n {print $2}'
}

# Someone else's table, which bulkhead must never touch.
inh nft add table inet someone_else
inh nft add chain inet someone_else c '{ type filter hook input priority 10; policy accept; }'
inh nft add rule inet someone_else c tcp dport 4444 counter accept
other_before=$(inh nft list table inet someone_else)

# --- --no-sysctl with br_netfilter's switches off: a clear error, nothing applied -------------
inh sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0
out=$(enforce --no-sysctl 2>&1) && fail "--no-sysctl with the switches off was accepted"
echo "$out" | grep -q "bridge-nf-call" && pass "--no-sysctl: $(echo "$out" | head -1)" \
  || fail "--no-sysctl error does not name the switch: $out"
inh nft list table inet bulkhead >/dev/null 2>&1 && fail "--no-sysctl applied a table anyway"
out=$(bh status 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "no table" && pass "status without a table: $out" \
  || fail "status without a table (rc $rc): $out"

# --- --dry-run equals what nft lists after the apply ----------------------------------------
# Normalized by nft itself: the dry-run text is loaded with nft -f in a scratch namespace and
# listed there, and compared with the listing after bulkhead's own netlink apply in H.
inh "$BH" enforce "$SRC/policy.yaml" --inventory "$SRC/inventory.yaml" --dry-run \
  --state-dir "$TMP/never" > "$TMP/dry.nft" 2> "$TMP/dry.err" || fail "dry-run: $(cat "$TMP/dry.err")"
[ -e "$TMP/never" ] && fail "dry-run created the state directory"
inh nft list table inet bulkhead >/dev/null 2>&1 && fail "dry-run touched the kernel"
ip netns exec "$SCRATCH" nft -f "$TMP/dry.nft" || fail "nft -f refused the dry-run output"
t0=$(date +%s%N)
out=$(enforce 2>&1) || fail "enforce: $out"
t1=$(date +%s%N)
pass "enforce ($(( (t1 - t0) / 1000000 )) ms): $out"
[ "$(inh cat /proc/sys/net/bridge/bridge-nf-call-iptables)" = 1 ] && pass "enforce turned br_netfilter's switch on" || fail "sysctl still off"
echo "$out" | grep -q "enforced: mode enforce, 4 groups, 4 workloads, 10 edges" || fail "summary line: $out"
for t in "inet bulkhead" "bridge bulkhead"; do
  a=$(ip netns exec "$SCRATCH" nft list table $t)
  b=$(inh nft list table $t)
  [ -n "$a" ] && [ "$a" = "$b" ] && pass "dry-run of table $t = nft's listing after the apply" \
    || { fail "dry-run of table $t differs from the applied one"; diff <(echo "$a") <(echo "$b") | head -20; }
done

# --- enforce mode blocks, status counts ------------------------------------------------------
probe "$WEB" 10.10.0.3 8080 && pass "enforce: web->api tcp/8080 allowed" || fail "enforce: web->api tcp/8080 blocked"
probe "$WEB" 10.10.0.4 5432 && fail "enforce: web->db tcp/5432 got through" || pass "enforce: web->db tcp/5432 refused"
status=$(bh status 2>&1)
echo "$status" | grep -q "^mode: enforce" && pass "status names the mode" || fail "status: $status"
echo "$status" | grep -qE "^  web \(enforce\): 1 workload" && pass "status lists groups with members" || fail "status groups: $status"
echo "$status" | grep -qE "allow web -> api tcp/8080: [1-9][0-9]* packets" && pass "status: per-edge counter web->api tcp/8080" \
  || fail "status: no per-edge counter for web->api: $status"
[ "$(counter inet/dropped)" -gt 0 ] && pass "status: dropped $(counter inet/dropped)" || fail "status: dropped is 0"

# --- monitor mode: a disallowed connection passes, NFLOG and counters see it -----------------
out=$(enforce --mode monitor --log-group 7 2>&1) || fail "enforce --mode monitor: $out"
echo "$out" | grep -q "mode monitor" || fail "monitor summary: $out"
ip netns exec "$H" tcpdump -i nflog:7 -l -n >"$TMP/nflog.txt" 2>"$TMP/tcpdump.err" & tcpd=$!; PIDS+=($tcpd)
wait_for "$TMP/tcpdump.err" "listening on" || fail "tcpdump on nflog:7 did not start: $(cat "$TMP/tcpdump.err")"
probe "$WEB" 10.10.0.3 8080 || fail "monitor: web->api tcp/8080 blocked"
# libpcap says "listening" a moment before the kernel delivers to it: retry the violation (each
# attempt must pass) until a record arrives, for at most 10 attempts.
n=0
for i in $(seq 1 10); do
  probe "$WEB" 10.10.0.4 5432 || fail "monitor: web->db tcp/5432 blocked (attempt $i)"
  sleep 0.3
  n=$(grep -c "IP 10.10.0.2.[0-9]* > 10.10.0.4.5432: Flags \[S\]" "$TMP/nflog.txt")
  [ "$n" -gt 0 ] && break
done
pass "monitor: web->db tcp/5432 passes ($i attempt(s))"
kill -INT $tcpd; wait $tcpd 2>/dev/null
[ "$n" -gt 0 ] && pass "NFLOG group 7 carried the violation ($n record(s))" || fail "no NFLOG record of web->db: $(head -5 "$TMP/nflog.txt")"
grep -q "10.10.0.3.8080" "$TMP/nflog.txt" && fail "NFLOG logged an allowed connection"
[ "$(counter inet/monitored)" -gt 0 ] && pass "status: monitored $(counter inet/monitored)" || fail "status: monitored is 0"
[ "$(counter inet/logged)" -gt 0 ] && pass "status: logged $(counter inet/logged)" || fail "status: logged is 0"

# --- a policy the kernel refuses leaves the ruleset byte-identical ---------------------------
out=$(enforce --mode monitor 2>&1) || fail "re-apply: $out"   # fresh counters, then no traffic
before=$(snapshot)
out=$(inh "$BH" enforce "$SRC/policy-overlap.yaml" --inventory "$SRC/inventory.yaml" --state-dir "$STATE" 2>&1) \
  && fail "the kernel accepted the overlapping ranges"
[ "$before" = "$(snapshot)" ] && pass "refused batch left both tables byte-identical" || fail "refused batch changed the ruleset"
echo "$out" | grep -q "allow web -> api tcp/8050-8100" && pass "refusal names the policy object: $(echo "$out" | grep -m1 "allow web")" \
  || fail "refusal does not name the object: $out"

# --- --confirm without confirm: the previous ruleset comes back ------------------------------
t0=$(date +%s%N)
out=$(enforce --mode enforce --confirm 2 2>&1); rc=$?
t1=$(date +%s%N)
[ $rc = 1 ] && echo "$out" | grep -q "previous ruleset is back" && pass "unconfirmed enforce says so after $(( (t1 - t0) / 1000000 )) ms" \
  || fail "unconfirmed enforce (rc $rc): $out"
[ "$before" = "$(snapshot)" ] && pass "--confirm 2 without confirm restored the previous ruleset byte-identically" \
  || { fail "ruleset after the rollback differs"; diff <(echo "$before") <(snapshot) | head -10; }
out=$(bh confirm 2>&1) && fail "confirm after the rollback succeeded"
echo "$out" | grep -q "too late" && pass "late confirm: $out" || fail "late confirm message: $out"

# --- --confirm with enforce SIGKILLed: the watchdog restores ---------------------------------
ip netns exec "$H" "$BH" enforce "$SRC/policy.yaml" --inventory "$SRC/inventory.yaml" --state-dir "$STATE" \
  --mode enforce --confirm 4 2> "$TMP/killed.err" & epid=$!
wait_for "$TMP/killed.err" "enforced:" || fail "enforce --confirm did not apply: $(cat "$TMP/killed.err")"
# The enforce process itself: ip netns exec execs bulkhead, so $epid is bulkhead's pid.
[ "$(cat /proc/$epid/comm 2>&1)" = bulkhead ] || fail "pid $epid is $(cat /proc/$epid/comm 2>&1), not bulkhead"
kill -9 $epid; wait $epid 2>/dev/null
t0=$(date +%s%N)
[ "$before" != "$(snapshot)" ] && pass "the new ruleset is in place while pending" || fail "pending ruleset not applied"
status=$(bh status 2>&1)
echo "$status" | grep -q "pending confirmation" && pass "status shows the pending confirmation" || fail "status while pending: $status"
for _ in $(seq 1 200); do [ -e "$STATE/pending.state" ] || break; sleep 0.05; done
t1=$(date +%s%N)
[ -e "$STATE/pending.state" ] && fail "pending state still there 10 s after enforce was killed"
[ "$before" = "$(snapshot)" ] && pass "enforce SIGKILLed: the watchdog restored the previous ruleset $(( (t1 - t0) / 1000000 )) ms after the kill (window 4 s)" \
  || fail "enforce SIGKILLed: ruleset not restored"
grep -q "restored the confirmed ruleset" "$STATE/watchdog.log" && pass "watchdog.log: $(grep "restored" "$STATE/watchdog.log" | tail -1)" \
  || fail "watchdog.log: $(cat "$STATE/watchdog.log")"

# --- --confirm with confirm in time: the new ruleset stays -----------------------------------
ip netns exec "$H" "$BH" enforce "$SRC/policy.yaml" --inventory "$SRC/inventory.yaml" --state-dir "$STATE" \
  --mode enforce --confirm 5 2> "$TMP/confirmed.err" & epid=$!
wait_for "$TMP/confirmed.err" "enforced:" || fail "enforce --confirm did not apply: $(cat "$TMP/confirmed.err")"
pending_rules=$(snapshot)
out=$(enforce --mode monitor 2>&1) && fail "a second enforce while a confirmation is pending was accepted"
echo "$out" | grep -q "confirmation is pending" && pass "second enforce refused: $(echo "$out" | head -1)" || fail "second enforce: $out"
out=$(bh confirm 2>&1) && pass "confirm: $out" || fail "confirm: $out"
wait $epid; rc=$?
[ $rc = 0 ] && grep -q "confirmed: the new ruleset stays" "$TMP/confirmed.err" && pass "waiting enforce exits 0 once confirmed" \
  || fail "waiting enforce (rc $rc): $(cat "$TMP/confirmed.err")"
sleep 5.5  # past the deadline
[ "$pending_rules" = "$(snapshot)" ] && pass "confirmed ruleset still in place after the deadline" || fail "confirmed ruleset was rolled back"
probe "$WEB" 10.10.0.4 5432 && fail "confirmed enforce: web->db got through" || pass "confirmed enforce refuses web->db"
# A later unconfirmed apply now comes back to THIS one (the confirmed state moved).
out=$(enforce --mode monitor --confirm 1 2>&1)
[ "$pending_rules" = "$(snapshot)" ] && pass "rollback returns to the last confirmed ruleset" || fail "rollback went elsewhere: $out"

# --- confirm racing the deadline: either it wins and the new ruleset stays, or it is told "too
# late" and the previous one is back; never a mix (confirmed but rolled back, or the reverse).
confirmed_rules=$pending_rules
cmode=enforce
for delay in 0.6 0.95 1.0 1.05; do
  nmode=monitor; [ $cmode = monitor ] && nmode=enforce  # the new ruleset always differs
  ip netns exec "$H" "$BH" enforce "$SRC/policy.yaml" --inventory "$SRC/inventory.yaml" --state-dir "$STATE" \
    --mode $nmode --confirm 1 2> "$TMP/race.err" & epid=$!
  wait_for "$TMP/race.err" "enforced:" || fail "race: enforce did not apply"
  sleep $delay
  out=$(bh confirm 2>&1); crc=$?
  wait $epid; erc=$?
  now=$(snapshot)
  if [ $crc = 0 ] && [ $erc = 0 ] && [ "$now" != "$confirmed_rules" ] \
     && bh status 2>/dev/null | grep -q "^mode: $nmode"; then
    pass "confirm after ${delay}s of 1s: won, the new ruleset stays"
    cmode=$nmode; confirmed_rules=$now
  elif [ $crc = 1 ] && [ $erc = 1 ] && [ "$now" = "$confirmed_rules" ] && echo "$out" | grep -q "too late"; then
    pass "confirm after ${delay}s of 1s: too late, the previous ruleset is back"
  else
    fail "confirm after ${delay}s of 1s: confirm rc $crc ($out), enforce rc $erc, ruleset $( [ "$now" = "$confirmed_rules" ] && echo previous || echo new/other)"
  fi
done

# --- disable ---------------------------------------------------------------------------------
out=$(bh disable 2>&1) || fail "disable: $out"
left=$(inh nft list tables)
[ "$left" = "table inet someone_else" ] && pass "disable removed only bulkhead's tables" || fail "after disable: $left"
[ "$other_before" = "$(inh nft list table inet someone_else)" ] && pass "someone else's table untouched" || fail "someone else's table changed"
[ -e "$STATE/confirmed.state" ] && fail "disable left confirmed.state"
out=$(bh status 2>&1); [ $? = 1 ] && pass "status after disable: $out" || fail "status after disable: $out"
out=$(bh disable 2>&1) && pass "disable again is harmless" || fail "second disable: $out"

# No process of ours is left in H besides the echo servers.
left=$(for p in $(ip netns pids "$H"); do cat /proc/$p/comm; done | grep -vc socat)
[ "$left" = 0 ] && pass "no watchdog left running" || fail "$left non-socat processes left in H"

echo "failures: $FAILS"
[ $FAILS = 0 ]
