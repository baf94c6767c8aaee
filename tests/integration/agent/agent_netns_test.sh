#!/usr/bin/env bash
# Kernel test of `bulkhead agent` with a static inventory (CTest label `kernel`): the shop in
# namespaces of its own (tests/lib/shop_netns.sh), the agent in the host namespace
# H. Checks what the Docker end-to-end test cannot reach cheaply: a bad policy on SIGHUP keeps the
# old one, reload over the control socket, reload with confirmation (timeout restores, confirm
# keeps), violations JSONL and metrics, the rules staying in the kernel on exit (and going with
# removeRulesOnExit), a flood of violations from web beside 3 lateral connections from api (all
# 3 logged: a log budget per source), `enforce` and `disable` refused while the agent runs, a
# bad config refused with its line and column, an unwritable graph directory refused at start,
# and tampering (a flushed ruleset, a deleted table) repaired within 1 s while the agent's own
# reloads are never taken for tampering.
# Usage: agent_netns_test.sh BULKHEAD SOURCE_DIR
set -u
BH=$1
SRC=$2
source "$SRC/../../lib/preconditions.sh" && require_netns_exec
ID="bha$$"
DEADLINE=${BHA_DEADLINE:-150}
TMP=$(mktemp -d /tmp/agent_netns.XXXXXX)
AGENT_PID=""
source "$SRC/../../lib/shop_netns.sh"
shop_setup

POLICY=$TMP/policy.yaml
cp "$SRC/../enforce_cli/policy.yaml" "$POLICY"
CTL=$TMP/control.sock
VIOL=$TMP/violations.jsonl
METRICS=127.0.0.1:19470
# followPolicy: false: the checks below edit the policy file and then reload by hand (SIGHUP,
# `reload --confirm`); following would apply each edit first. agent_policy_follow_test.sh
# tests following.
config() {  # file [extra line]
  cat > "$1" <<CONF
mode: enforce
policy: $POLICY
inventory: {file: $SRC/../enforce_cli/inventory.yaml}
nflogGroup: 7
metrics: $METRICS
control: $CTL
violations: $VIOL
followPolicy: false
${2:-}
CONF
}
config "$TMP/agent.yaml"
start_agent() {  # config
  # Not through a shell function: $! must be the agent itself (ip netns exec execs it), or the
  # signals below would hit a subshell.
  ip netns exec "$H" "$BH" agent --config "$1" >> "$TMP/agent.log" 2>&1 &
  AGENT_PID=$!
  PIDS+=("$AGENT_PID")
  for _ in $(seq 1 100); do
    "$BH" status --control "$CTL" 2>/dev/null | grep -q "^last apply" && return 0
    sleep 0.1
  done
  return 1
}
stop_agent() {
  kill -TERM "$AGENT_PID"
  local rc=0
  wait "$AGENT_PID" || rc=$?
  return $rc
}
metric() {  # name{labels} -> value
  inh python3 -c "
import sys, urllib.request
text = urllib.request.urlopen('http://$METRICS/metrics', timeout=3).read().decode()
for line in text.splitlines():
    if line.startswith(sys.argv[1] + ' '):
        print(line.split()[-1])
" "$1"
}
allowed() { probe "$WEB" 10.10.0.3 8080 && probe "$API" fd10::4 5432; }

# --- A bad config: refused with file:line:column, nothing started -----------------------------
printf 'mode: enforce\npolicy: %s\ninventory: {file: x.yaml}\nnflogGrup: 7\n' "$POLICY" > "$TMP/bad.yaml"
out=$(inh "$BH" agent --config "$TMP/bad.yaml" 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "bad.yaml:4:1" && pass "bad config: $(echo "$out" | head -1)" \
  || fail "bad config (rc $rc): $out"

# Learning with a static inventory and no interfaces would never learn anything: refused.
printf 'mode: learn\ngraph: %s\ninventory: {file: %s}\ncontrol: %s\n' "$TMP/g.yaml" \
  "$SRC/../enforce_cli/inventory.yaml" "$TMP/learn.sock" > "$TMP/learn.yaml"
out=$(inh "$BH" agent --config "$TMP/learn.yaml" 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "needs \`interfaces:\`" && [ ! -e "$TMP/g.yaml" ] \
  && pass "learn without interfaces: $(echo "$out" | tail -1)" || fail "learn without interfaces (rc $rc): $out"

# A graph directory the agent cannot write to: refused at start, not at every snapshot.
mkdir "$TMP/ro" && mount -t tmpfs -o ro,size=1m tmpfs "$TMP/ro" 2>/dev/null; RO_MOUNTED=$?
if [ $RO_MOUNTED = 0 ]; then
  printf 'mode: learn\ngraph: %s\ninventory: {file: %s}\ninterfaces: [lo]\n' "$TMP/ro/g.yaml" \
    "$SRC/../enforce_cli/inventory.yaml" > "$TMP/learn_ro.yaml"
  out=$(inh "$BH" agent --config "$TMP/learn_ro.yaml" 2>&1); rc=$?
  umount "$TMP/ro"
  [ $rc = 1 ] && [ "$(echo "$out" | grep -c "cannot write the graph")" = 1 ] \
    && pass "unwritable graph directory refused: $(echo "$out" | grep "cannot write")" \
    || fail "unwritable graph directory (rc $rc): $out"
else
  fail "could not mount a read-only tmpfs for the graph directory check"
fi

# --- Enforce: allowed edges pass, others are refused and reported -----------------------------
start_agent "$TMP/agent.yaml" && pass "agent applied the policy" || fail "agent did not apply: $(cat "$TMP/agent.log")"
"$BH" status --control "$CTL" > "$TMP/status" 2>&1
grep -q "^mode: enforce" "$TMP/status" && grep -q "web (enforce): 1 workload" "$TMP/status" \
  && pass "status over the control socket" || fail "status: $(cat "$TMP/status")"
[ "$(stat -c %a "$CTL")" = 600 ] && pass "control socket is 0600" || fail "control socket mode $(stat -c %a "$CTL")"
allowed && pass "allowed edges connect" || fail "an allowed edge is refused"
probe "$WEB" 10.10.0.4 5432 && fail "web->db connected" || pass "web->db refused"
probe "$WEB" fd10::1 8001 && fail "web->host:8001 connected" || pass "web->host:8001 refused"
if wait_for "$VIOL" '"port":8001'; then
  python3 - "$VIOL" <<'PY' && pass "violations JSONL" || fail "violations JSONL: $(cat "$VIOL")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
want = {("web", "db", 5432), ("web", "host", 8001)}
got = {(v["from"]["group"], v["to"]["group"], v["port"]) for v in lines
       if v["verdict"] == "blocked" and v["protocol"] == "tcp"}
assert want <= got, got
v = next(v for v in lines if v["to"]["group"] == "db")
assert v["from"] == {"workload": "web-1", "group": "web", "address": "10.10.0.2"}, v
assert v["to"]["workload"] == "db-1" and v["time"].endswith("Z"), v
PY
else
  fail "no violation line for web->host:8001: $(cat "$VIOL" 2>/dev/null)"
fi
v=$(metric 'bulkhead_violations_total{from="web",to="db",verdict="blocked"}')
[ -n "$v" ] && [ "${v%.*}" -ge 1 ] && pass "metrics: web->db violations $v" || fail "metrics: web->db violations '$v'"

# --- enforce and disable while the agent enforces: refused in one line, nothing touched ---------
# The agent's tamper guard would restore its ruleset within a second: the commands would seem to
# work and be undone. The line says what to run instead.
out=$(inh "$BH" enforce "$POLICY" --inventory "$SRC/../enforce_cli/inventory.yaml" \
  --control "$CTL" --state-dir "$TMP/state" 2>&1); rc=$?
[ $rc = 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "owns bulkhead's ruleset.*bulkhead reload" \
  && pass "enforce refused while the agent runs: $out" || fail "enforce while the agent runs (rc $rc): $out"
out=$(inh "$BH" disable --control "$CTL" --state-dir "$TMP/state" 2>&1); rc=$?
[ $rc = 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "owns bulkhead's ruleset.*stop the agent" \
  && inh nft list table inet bulkhead >/dev/null 2>&1 \
  && pass "disable refused while the agent runs: $out" || fail "disable while the agent runs (rc $rc): $out"
allowed && ! probe "$WEB" 10.10.0.4 5432 && pass "the agent's ruleset is untouched" \
  || fail "the agent's ruleset changed after refused commands"

# --- A flood of violations does not hide a quiet attacker --------------------------------------
# web floods forbidden connections (web->db tcp/5432, fresh SYNs from fresh ports) while api
# makes 3 lateral ones: each source has its own log budget, so all 3 of api's are logged, and
# what web sent over its budget is counted for web.
inh_web_flood() {
  ip netns exec "$WEB" python3 - <<'PY'
import socket, time
end, n = time.monotonic() + 4, 0
while time.monotonic() < end:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(("10.10.0.4", 5432))
    except BlockingIOError:
        pass
    s.close()  # in SYN_SENT: closed without a RST
    n += 1
print(n)
PY
}
inh_web_flood > "$TMP/flood_sent" &
FLOOD=$!
PIDS+=("$FLOOD")
sleep 1  # the flood has used up web's burst by now
for target in "$WEB 10.10.0.2 8080" "$WEB 10.10.0.2 9100" "$DB 10.10.0.4 6379"; do
  set -- $target
  probe "$API" "$2" "$3" && fail "api->$2:$3 connected"
done
wait "$FLOOD"
lateral() {
  python3 - "$VIOL" <<'PY'
import json, sys
want = {("10.10.0.2", 8080), ("10.10.0.2", 9100), ("10.10.0.4", 6379)}
got = {(v["to"]["address"], v["port"]) for v in map(json.loads, open(sys.argv[1]))
       if v["from"]["group"] == "api"}
print(len(want & got))
PY
}
for _ in $(seq 1 40); do [ "$(lateral)" = 3 ] && break; sleep 0.1; done
web_logged=$(python3 -c '
import json, sys
print(sum(1 for v in map(json.loads, open(sys.argv[1]))
          if v["from"]["group"] == "web" and v["to"]["group"] == "db"))' "$VIOL")
suppressed=""
for _ in $(seq 1 40); do  # the agent reads the kernel's counts every 2 s
  suppressed=$(metric 'bulkhead_violations_suppressed_total{group="web"}')
  [ -n "$suppressed" ] && break; sleep 0.1
done
echo "flood: web sent $(cat "$TMP/flood_sent") forbidden SYNs, $web_logged logged, ${suppressed:-0} suppressed;" \
  "api: $(lateral) of 3 lateral connections logged"
[ "$(lateral)" = 3 ] && pass "all 3 of api's lateral connections logged beside the flood" \
  || fail "api's lateral connections logged: $(lateral) of 3"
[ -n "$suppressed" ] && [ "${suppressed%.*}" -gt 0 ] && [ "$web_logged" -lt "$(cat "$TMP/flood_sent")" ] \
  && pass "web's flood suppressed and counted: $suppressed" || fail "web's flood not counted: '$suppressed'"
"$BH" status --control "$CTL" > "$TMP/status" 2>&1
grep -q "^  web: [1-9]" "$TMP/status" && grep -q "not logged" "$TMP/status" \
  && pass "status: suppressed violations per group" || fail "status: $(cat "$TMP/status")"
api_suppressed=$(metric 'bulkhead_violations_suppressed_total{group="api"}')
[ -z "$api_suppressed" ] && pass "nothing of api's suppressed" || fail "api suppressed: $api_suppressed"

# --- Tampering: a flushed ruleset and a deleted table come back within 1 s ----------------------
# Runs `nft ARGS` in the agent's namespace, then polls for the table every 50 ms; prints the
# milliseconds until it was back. 1: not back within 2 s.
restored_ms() {
  local t0 t1
  t0=$(date +%s%N)
  inh nft "$@" || return 1
  for _ in $(seq 1 40); do
    if inh nft list table inet bulkhead >/dev/null 2>&1; then
      t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); return 0
    fi
    sleep 0.05
  done
  return 1
}
tamper_lines() { grep -c "tamper: .*restoring bulkhead's ruleset" "$TMP/agent.log"; }
repairs() { metric 'bulkhead_tamper_repairs_total{trigger="event"}'; }
for what in "flush ruleset" "delete table inet bulkhead"; do
  before=$(tamper_lines)
  # shellcheck disable=SC2086  # the words are nft's arguments
  if ms=$(restored_ms $what); then
    [ "$ms" -le 1000 ] && pass "nft $what: table back in $ms ms" || fail "nft $what: table back only after $ms ms"
  else
    fail "nft $what: the table did not come back: $(tail -3 "$TMP/agent.log")"
  fi
  sleep 0.3  # the repair's log line and counter come with the apply; let a second one show
  [ "$(tamper_lines)" = $((before + 1)) ] && pass "nft $what: logged once" \
    || fail "nft $what: $(( $(tamper_lines) - before )) tamper lines: $(grep tamper: "$TMP/agent.log")"
  allowed && ! probe "$WEB" 10.10.0.4 5432 && pass "nft $what: the policy is enforced again" \
    || fail "nft $what: the policy is not enforced after the repair"
done
[ "$(repairs)" = 2 ] && pass "metrics: 2 tamper repairs" || fail "metrics: tamper repairs '$(repairs)'"
"$BH" status --control "$CTL" > "$TMP/status" 2>&1
grep -q "^tamper: 2 repairs, 0 failed" "$TMP/status" && grep -q "^last repair: " "$TMP/status" \
  && pass "status: $(grep '^tamper:' "$TMP/status")" || fail "status without tamper counters: $(cat "$TMP/status")"
grep -q "differs from what was applied" "$TMP/agent.log" \
  && fail "the kernel's ruleset differed after an apply: $(grep differs "$TMP/agent.log")" \
  || pass "every full apply read back as sent"

# --- SIGHUP with a broken policy: logged, the old policy stays --------------------------------
cp "$POLICY" "$TMP/good.yaml"
echo "allow_typo: []" >> "$POLICY"
kill -HUP "$AGENT_PID"
if wait_for "$TMP/agent.log" "keeping the policy in force"; then
  grep -q "allow_typo" "$TMP/agent.log" && pass "SIGHUP with a bad policy: logged" || fail "the bad key is not named"
else
  fail "SIGHUP with a bad policy: nothing logged: $(tail -5 "$TMP/agent.log")"
fi
allowed && ! probe "$WEB" 10.10.0.4 5432 && pass "the old policy stays" || fail "the old policy did not stay"
[ "$(metric 'bulkhead_policy_reloads_total{result="error"}')" = 1 ] && pass "reload error counted" \
  || fail "reload error metric"

# --- reload over the control socket: web->db allowed from now on ------------------------------
cp "$TMP/good.yaml" "$POLICY"
echo '  - {from: web, to: db, protocol: tcp, port: 5432}' > "$TMP/extra"
python3 - "$POLICY" "$TMP/extra" <<'PY'
import sys
p, extra = sys.argv[1], open(sys.argv[2]).read()
s = open(p).read().replace("allow:\n", "allow:\n" + extra, 1)
open(p, "w").write(s)
PY
out=$("$BH" reload --control "$CTL" 2>&1) && pass "reload: $out" || fail "reload: $out"
probe "$WEB" 10.10.0.4 5432 && pass "web->db allowed after reload" || fail "web->db still refused after reload"
sleep 0.5  # a repair would have run by now
[ "$(repairs)" = 2 ] && pass "reload is not tampering" || fail "reload counted as tampering: '$(repairs)'"

# --- reload with confirmation: a timeout restores, confirm keeps ------------------------------
cp "$TMP/good.yaml" "$POLICY"
# 3 s: a refused probe retransmits its SYN after 1 s, which must not meet the rollback.
out=$("$BH" reload --control "$CTL" --confirm 3 2>&1) || fail "reload --confirm: $out"
probe "$WEB" 10.10.0.4 5432 && fail "web->db allowed right after reload --confirm" || pass "reload --confirm applied"
sleep 2.5
probe "$WEB" 10.10.0.4 5432 && pass "unconfirmed reload rolled back" || fail "unconfirmed reload stayed"
out=$("$BH" reload --control "$CTL" --confirm 5 2>&1) || fail "reload --confirm 5: $out"
out=$("$BH" confirm --control "$CTL" 2>&1) && pass "confirm: $out" || fail "confirm: $out"
sleep 5.5
probe "$WEB" 10.10.0.4 5432 && fail "the confirmed policy was rolled back" || pass "confirmed policy stays"
[ "$(repairs)" = 2 ] && [ "$(tamper_lines)" = 2 ] && pass "reloads and a rollback are not tampering" \
  || fail "reloads counted as tampering: '$(repairs)' repairs, $(tamper_lines) lines"

# --- Exit: the rules stay; with removeRulesOnExit they go -------------------------------------
stop_agent && pass "agent exits 0 on SIGTERM" || fail "agent exit status on SIGTERM"
[ -e "$CTL" ] && fail "control socket left behind" || pass "control socket removed"
inh nft list table inet bulkhead >/dev/null 2>&1 && probe "$WEB" 10.10.0.3 8080 \
  && ! probe "$WEB" 10.10.0.4 5432 && pass "rules stay in force after the agent exits" \
  || fail "rules gone or changed after exit"
# With the agent gone (its socket removed), disable is the user's again.
out=$(inh "$BH" disable --control "$CTL" --state-dir "$TMP/state" 2>&1) \
  && ! inh nft list table inet bulkhead >/dev/null 2>&1 && pass "disable after the agent exited" \
  || fail "disable after the agent exited: $out"
config "$TMP/remove.yaml" "removeRulesOnExit: true"
start_agent "$TMP/remove.yaml" || fail "agent (removeRulesOnExit) did not start: $(tail -3 "$TMP/agent.log")"
stop_agent || fail "agent (removeRulesOnExit) exit status"
inh nft list table inet bulkhead >/dev/null 2>&1 && fail "removeRulesOnExit left the table" \
  || pass "removeRulesOnExit removed the table"

if [ "$FAILS" -gt 0 ]; then
  echo "--- agent log"; cat "$TMP/agent.log"
  echo "$FAILS check(s) failed"; exit 1
fi
echo "all checks passed"
