#!/usr/bin/env bash
# Logins into containers, end to end on a real dockerd (CTest labels kernel;docker;e2e; root).
# A dockerd of the test's own runs in its own network namespace (tests/lib/dockerd.sh), with an
# internal network and three containers: frontend-1, db-1 (answers on 5432) and health-1 (a
# health check every second). `bulkhead agent` follows it in monitor mode under a policy that
# allows nothing and says `alertOnExec: [frontend]`.
# 1. health checks: counted in bulkhead_healthcheck_execs_total{group="health"}, no line.
# 2. a non-interactive `docker exec frontend-1 cat /etc/hostname`: one exec line (tty false, no
#    alert), bulkhead_execs_total{group="frontend",tty="false"} 1.
# 3. an interactive `docker exec -it frontend-1 sh -c ...` (a tty through `script`) that connects
#    to db-1 (forbidden): one exec line (tty true, "alert": true, start and end), an alert in the
#    log, bulkhead_execs_total{group="frontend",tty="true"} 1, and the violation line of that
#    connection names the session in its "exec" field.
#
#   exec_test.sh BULKHEAD SOURCE_DIR
# env: BHX_DEADLINE (seconds, below CTest's TIMEOUT), BHD_KEEP=1 keeps the work directory.
set -u
BULKHEAD=$(readlink -f "$1")
SRC=$(readlink -f "$2")
# shellcheck source=../lib/preconditions.sh
source "$SRC/tests/lib/preconditions.sh" && require_netns_exec
# shellcheck source=../lib/dockerd.sh
source "$SRC/tests/lib/dockerd.sh"

AGENT_PID=""
cleanup_hook() {
  if [ "$FAILS" -ne 0 ] && [ -f "$WORK/agent.log" ]; then
    echo "--- last lines of $WORK/agent.log"
    tail -25 "$WORK/agent.log"
  fi
}
dockerd_init bhx "${BHX_DEADLINE:-100}"
[ -x "$BULKHEAD" ] || die "bulkhead binary not found: $1"
command -v script >/dev/null || die "script not installed (apt-get install util-linux)"

NET=execnet
V4=10.241.0
FRONT4=$V4.10 DB4=$V4.30
METRICS=127.0.0.1:9471
VIOLATIONS="$WORK/violations.jsonl"

dockerd_start
dockerd_image bhx-box:1
"$DOCKER" network create --internal --subnet "$V4.0/24" -o com.docker.network.bridge.name=bhx0 \
  $NET >/dev/null 2>"$WORK/net.err" || die "network create: $(cat "$WORK/net.err")"
"$DOCKER" run -d --init --name frontend-1 --label app=frontend --network $NET --ip "$FRONT4" \
  bhx-box:1 sleep 1000 >/dev/null || die "run frontend-1"
"$DOCKER" run -d --init --name db-1 --label app=db --network $NET --ip "$DB4" \
  bhx-box:1 nc -ll -p 5432 -e echo db-ok >/dev/null || die "run db-1"
"$DOCKER" run -d --init --name health-1 --label app=health --network $NET \
  --health-cmd 'test -d /bin' --health-interval 1s bhx-box:1 sleep 1000 >/dev/null ||
  die "run health-1"

cat >"$WORK/policy.yaml" <<'EOF'
apiVersion: bulkhead/v1
kind: Policy
mode: monitor
groupBy: [app]
groups:
  - {name: db, selector: {app: db}}
  - {name: frontend, selector: {app: frontend}}
  - {name: health, selector: {app: health}}
allow: []
alertOnExec: [frontend]
EOF
cat >"$WORK/agent.yaml" <<EOF
mode: monitor
policy: $WORK/policy.yaml
inventory: {docker: unix://$SOCK}
nflogGroup: 8
metrics: $METRICS
control: $WORK/control.sock
violations: $VIOLATIONS
hostName: node-1
EOF
inns_bg "$BULKHEAD" agent --config "$WORK/agent.yaml" >>"$WORK/agent.log" 2>&1
AGENT_PID=$BG_PID

metric() {  # NAME LABELS -> the sample's value, 0 when absent
  inns python3 - "$METRICS" "$1" "$2" <<'EOF'
import re, sys, urllib.request
text = urllib.request.urlopen("http://%s/metrics" % sys.argv[1], timeout=3).read().decode()
for line in text.splitlines():
    m = re.match(r"^(\w+)(\{[^}]*\})?\s+(\S+)$", line)
    if m and m.group(1) == sys.argv[2] and (m.group(2) or "{}") == sys.argv[3]:
        print(int(float(m.group(3))))
        sys.exit(0)
print(0)
EOF
}
wait_for() {  # WHAT SECONDS CMD...: until CMD succeeds
  local what=$1 end=$((SECONDS + $2))
  shift 2
  while [ $SECONDS -lt $end ]; do
    "$@" && { pass "$what"; return 0; }
    kill -0 "$AGENT_PID" 2>/dev/null || die "the agent exited"
    sleep 0.2
  done
  fail "$what (after ${end} s)"
  return 1
}
applied() { inns nft list table inet bulkhead >/dev/null 2>&1 && [ -S "$WORK/control.sock" ]; }
wait_for "the agent applied the policy" 20 applied || die "no ruleset"

# --- 1. health checks --------------------------------------------------------------------------
health_counted() { [ "$(metric bulkhead_healthcheck_execs_total '{group="health"}')" -ge 2 ]; }
wait_for "health checks counted (bulkhead_healthcheck_execs_total{group=\"health\"} >= 2)" 15 \
  health_counted

# --- 2. a non-interactive exec -----------------------------------------------------------------
"$DOCKER" exec frontend-1 cat /etc/hostname >/dev/null || fail "docker exec frontend-1 cat"

# --- 3. an interactive exec that connects where the policy allows nothing ----------------------
# `script` gives `docker exec -it` the terminal it insists on. The session outlives the connection
# by 2 s, so the connection is well inside it.
script -qec "$DOCKER exec -it frontend-1 sh -c 'nc -w 2 $DB4 5432 </dev/null; sleep 2'" \
  /dev/null >"$WORK/tty.out" 2>&1 </dev/null || fail "docker exec -it: $(tail -2 "$WORK/tty.out")"
grep -q db-ok "$WORK/tty.out" && pass "monitor mode: the session's connection to db passed" ||
  fail "the session's connection to db-1 got no answer: $(tail -2 "$WORK/tty.out")"

two_lines() { [ "$(grep -c '"kind":"exec"' "$VIOLATIONS" 2>/dev/null)" -ge 2 ]; }
wait_for "two exec lines written" 10 two_lines
tagged() { grep -q '"exec":' "$VIOLATIONS"; }
wait_for "a violation line carries an exec session" 10 tagged

if python3 - "$VIOLATIONS" "$FRONT4" "$DB4" <<'EOF'; then
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
execs = [l for l in lines if l.get("kind") == "exec"]
ok = True
def check(what, cond):
    global ok
    print(("  ok: " if cond else "  FAIL: ") + what)
    ok = ok and cond
check("no exec line for health-1 (health checks are not logged)",
      all(e["container"] != "health-1" for e in execs))
plain = [e for e in execs if e["container"] == "frontend-1" and not e["tty"]]
tty = [e for e in execs if e["container"] == "frontend-1" and e["tty"]]
check("one non-interactive exec line: %s" % plain, len(plain) == 1 and
      plain[0]["command"] == ["cat", "/etc/hostname"] and plain[0]["group"] == "frontend" and
      "alert" not in plain[0] and plain[0]["exitCode"] == 0 and plain[0]["privileged"] is False)
check("one interactive exec line, an alert: %s" % tty, len(tty) == 1 and
      tty[0]["command"][0] == "sh" and tty[0]["alert"] is True and
      tty[0]["start"] < tty[0]["end"] and len(tty[0]["session"]) == 12)
violations = [l for l in lines if l.get("kind") != "exec" and l["from"]["address"] == sys.argv[2]
              and l["to"]["address"] == sys.argv[3] and l["port"] == 5432]
check("the connection to db is a monitored violation", any(v["verdict"] == "monitored"
                                                           for v in violations))
check("... carrying the interactive session",
      bool(tty) and any(v.get("exec") == tty[0]["session"] for v in violations))
check("no other line carries a session", all(l.get("exec") in (None, tty[0]["session"] if tty
                                                               else None) for l in lines))
sys.exit(0 if ok else 1)
EOF
  pass "exec lines and the tagged violation"
else
  fail "exec lines and the tagged violation"
fi
[ "$(metric bulkhead_execs_total '{group="frontend",tty="false"}')" = 1 ] &&
  pass 'bulkhead_execs_total{group="frontend",tty="false"} 1' ||
  fail "bulkhead_execs_total{tty=false}: $(metric bulkhead_execs_total '{group="frontend",tty="false"}')"
[ "$(metric bulkhead_execs_total '{group="frontend",tty="true"}')" = 1 ] &&
  pass 'bulkhead_execs_total{group="frontend",tty="true"} 1' ||
  fail "bulkhead_execs_total{tty=true}: $(metric bulkhead_execs_total '{group="frontend",tty="true"}')"
[ "$(metric bulkhead_execs_total '{group="health",tty="false"}')" = 0 ] &&
  pass "health checks are not in bulkhead_execs_total" || fail "health checks counted as execs"
grep -q "ALERT: interactive exec session" "$WORK/agent.log" && pass "the alert is in the log" ||
  fail "no ALERT line in the agent's log"

kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
rc=$?
[ $rc = 0 ] && pass "agent exited 0 on SIGTERM" || fail "agent exited $rc on SIGTERM"
[ "$FAILS" = 0 ] && echo "PASS: exec_test" || echo "FAILED: $FAILS checks"
exit $((FAILS != 0))
