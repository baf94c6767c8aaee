#!/usr/bin/env bash
# End-to-end test of bulkhead on a Kubernetes node's container runtime (CTest labels
# kernel;cri;e2e; root). A containerd of the test's own, with its CRI plugin and a dual-stack CNI
# bridge, runs in its own network namespace (tests/lib/containerd.sh); that namespace is the
# node: its addresses on the bridge are the pods' gateway. Pods are made as kubelet makes them
# (RunPodSandbox with the pod's labels and io.kubernetes.pod.*, CreateContainer,
# StartContainer) by cri_pod, the test's CRI client. The app's processes (busybox nc, the same
# app.sh as the Docker test) run in the pods' network namespaces. Nothing is sent anywhere but
# those namespaces, and no nftables rule is written outside them.
#
#   e2e_cri_test.sh BULKHEAD CRI_POD SOURCE_DIR
#
# The app, in namespace shop: frontend -> api (IPv4 and IPv6), api -> db, api -> cache, every
# 200 ms; and in namespace billing a db pod with the same `app: db` label, which nobody uses.
# 1. learn: `bulkhead agent` (inventory: {cri: ...}) and `bulkhead learn --cri` side by side;
#    both graphs hold exactly the app's edges, with shop/db and billing/db apart.
# 2. enforce: approve, the agent in enforce mode; the app works over IPv4 and IPv6; from a
#    compromised frontend, db, cache, billing/db and the node's port are refused, each with a
#    violation line and a metric.
# 3. churn: a new api pod reaches db within 1 s of its sandbox (pollInterval 250ms; the
#    measured latency is printed); once removed, its address leaves the ruleset.
# 4. restarts: under a probe from the frontend to db (forbidden) and api (allowed), containerd
#    restarts and then the agent restarts: no forbidden connection succeeds.
# env: BHK_DEADLINE (seconds, below CTest's TIMEOUT), BHK_KEEP=1 keeps the work directory,
# BHK_POLL the agent's pollInterval (default 250ms; with 1s the churn check measures the
# default's latency and may fail, by design).
set -u
BULKHEAD=$(readlink -f "$1")
CRI_POD=$(readlink -f "$2")
SRC=$(readlink -f "$3")
APP_SH="$SRC/tests/e2e/app.sh"
# shellcheck source=../../lib/preconditions.sh
source "$SRC/tests/lib/preconditions.sh" && require_netns_exec
# shellcheck source=../../lib/dockerd.sh
source "$SRC/tests/lib/dockerd.sh"  # fail, pass, die, inns, inns_bg
# shellcheck source=../../lib/containerd.sh
source "$SRC/tests/lib/containerd.sh"
# shellcheck source=../../lib/echo_servers.sh
source "$SRC/tests/lib/echo_servers.sh"
# shellcheck source=../../lib/e2e_common.sh
source "$SRC/tests/lib/e2e_common.sh"  # phase, pycheck
uptime_now() { cut -d' ' -f1 /proc/uptime; }

AGENT_PID=""
cleanup_hook() {
  local n p
  if [ "$FAILS" -ne 0 ]; then
    for f in "$WORK"/agent-*.log "$WORK"/learn-cri.log; do
      [ -f "$f" ] && { echo "--- last lines of $f"; tail -25 "$f"; }
    done
  fi
  # The app's processes run in the pods' namespaces, outside the sandboxes' cgroups: end them
  # (by namespace) before the sandboxes go.
  if [ -f "$WORK/netns.list" ]; then
    while read -r n; do
      for p in $(ip netns pids "$(basename "$n")" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    done <"$WORK/netns.list"
  fi
}
BR=bhk0
containerd_init bhk "${BHK_DEADLINE:-200}" $BR 10.242.0.0/24 fd42::/64
[ -x "$BULKHEAD" ] || die "bulkhead binary not found: $1"
[ -x "$CRI_POD" ] || die "cri_pod not found: $2"
command -v socat >/dev/null || die "socat not installed"
METRICS=127.0.0.1:9471
CONTROL="$WORK/control.sock"
VIOLATIONS="$WORK/violations.jsonl"
HOST_PORT=2222
mkdir -p "$WORK/probe"

# --- setup -------------------------------------------------------------------------------------
containerd_start
containerd_image
BOX="$WORK/rootfs/bin"  # busybox applets, for the app's processes
events=$(cri events 2>&1) || die "GetContainerEvents check: $events"
echo "containerd $(containerd --version | awk '{print $3}'): GetContainerEvents offered: $events"

# pod NAMESPACE NAME LABEL=VALUE...: runs the pod as kubelet does (the sandbox, then its
# container); sets ID, NETNS, IP4, IP6 and the arrays by pod name (POD_ID, POD_NETNS, POD_IP4,
# POD_IP6); READY_AT, STARTED_AT: /proc/uptime when the sandbox was ready (RunPodSandbox
# returned) and when its container had started. POD_HOOK (a command), when set, runs between
# the two, with the pod's namespace known (the churn probe starts there).
declare -A POD_ID POD_NETNS POD_IP4 POD_IP6
pod() {
  local ns=$1 name=$2 out status ip
  shift 2
  out=$(cri sandbox "$ns" "$name" "$@" 2>"$WORK/run-$name.err") ||
    die "pod $ns/$name: $(tail -1 "$WORK/run-$name.err")"
  READY_AT=$(as_uptime sandbox-ready "$WORK/run-$name.err")
  ID=$out
  status=$(cri status "$ID") || die "pod $ns/$name: no status"
  read -r NETNS status <<<"$status"
  [ "$NETNS" != - ] || die "pod $ns/$name: no network namespace path in the verbose status"
  echo "$NETNS" >>"$WORK/netns.list"
  IP4="" IP6=""
  for ip in $status; do
    if [[ $ip == *:* ]]; then IP6=$ip; else IP4=$ip; fi
  done
  [ -n "$IP4" ] && [ -n "$IP6" ] || die "pod $ns/$name: not dual-stack: $status"
  POD_ID[$name]=$ID POD_NETNS[$name]=$NETNS POD_IP4[$name]=$IP4 POD_IP6[$name]=$IP6
  [ -n "${POD_HOOK:-}" ] && $POD_HOOK "$name"
  cri container "$ID" "$ns" "$name" "$CRI_IMAGE" "$@" 2>>"$WORK/run-$name.err" ||
    die "pod $ns/$name: container: $(tail -1 "$WORK/run-$name.err")"
  STARTED_AT=$(as_uptime container-started "$WORK/run-$name.err")
}
# as_uptime WHAT FILE: cri_pod's "WHAT UNIX_NS" line as /proc/uptime (the clock app.sh stamps
# its lines with): now's uptime less the time since then.
as_uptime() {
  awk -v u="$(uptime_now)" -v n="$(date +%s%N)" -v w="$1" \
    '$1 == w {printf "%.3f", u - (n - $2) / 1e9}' "$2"
}
# inpod POD CMD...: CMD (busybox) in the pod's network namespace; inpod_bg: in the background.
inpod() { local p=$1; shift; nsenter --net="${POD_NETNS[$p]}" env PATH="$BOX" "$@"; }
inpod_bg() { local p=$1; shift; nsenter --net="${POD_NETNS[$p]}" env PATH="$BOX" "$@" & PIDS+=($!); }

FRONT=frontend-7d9f8c6b5-x7k2p API=api-6c4b9d7f8-q5w8z DB=db-0 CACHE=cache-5f6d7c8b9-r2d4b
BDB=db-7b8c9d6f5-m4n6p
pod shop $FRONT app=frontend pod-template-hash=7d9f8c6b5
pod shop $API app=api pod-template-hash=6c4b9d7f8
pod shop $DB app=db statefulset.kubernetes.io/pod-name=$DB controller-revision-hash=db-5c6d
pod shop $CACHE app=cache pod-template-hash=5f6d7c8b9
pod billing $BDB app=db pod-template-hash=7b8c9d6f5
pass "5 pods (shop: frontend, api, db, cache; billing: db), dual-stack"
GW4=10.242.0.1
GW6=$(inns ip -6 addr show dev $BR scope global | awk '/inet6/ {sub("/.*", "", $2); print $2; exit}')
[ -n "$GW6" ] || die "no global IPv6 address on $BR"
for _ in $(seq 100); do
  [ -z "$(inns ip -6 addr show dev $BR tentative)" ] && break
  sleep 0.1
done

# Servers in every pod, clients in frontend and api (app.sh, as in the Docker test).
inpod_bg $DB sh "$APP_SH" serve 5432 db
inpod_bg $BDB sh "$APP_SH" serve 5432 billing-db
inpod_bg $CACHE sh "$APP_SH" serve 6379 cache
inpod_bg $API sh "$APP_SH" serve 8080 api -- "db,${POD_IP4[$DB]},5432" \
  "db,${POD_IP6[$DB]},5432" "cache,${POD_IP4[$CACHE]},6379" >"$WORK/api.log"
inpod_bg $FRONT sh "$APP_SH" serve 80 frontend -- "api,${POD_IP4[$API]},8080" \
  "api,${POD_IP6[$API]},8080" >"$WORK/frontend.log"
inns_bg socat TCP-LISTEN:$HOST_PORT,bind=$GW4,fork,reuseaddr SYSTEM:'echo host-ok' 2>/dev/null
inns_bg socat TCP6-LISTEN:$HOST_PORT,bind="[$GW6]",fork,reuseaddr SYSTEM:'echo host-ok' 2>/dev/null
out=$(wait_listening "$NS" "$GW4:$HOST_PORT [$GW6]:$HOST_PORT" "") || die "$out"

# try POD NAME ADDR PORT: 0 when the connection got NAME's answer (2 s connect timeout).
try() { inpod "$1" timeout 5 nc -w 2 "$3" "$4" </dev/null 2>/dev/null | grep -q "^$2-ok"; }
reaches() {  # as try, for 5 s (the servers start in the background)
  local end=$((SECONDS + 5))
  while [ $SECONDS -lt $end ]; do try "$@" && return 0; sleep 0.1; done
  return 1
}
FORBIDDEN=("db ${POD_IP4[$DB]} 5432" "db ${POD_IP6[$DB]} 5432" "cache ${POD_IP4[$CACHE]} 6379"
  "billing-db ${POD_IP4[$BDB]} 5432" "billing-db ${POD_IP6[$BDB]} 5432"
  "host $GW4 $HOST_PORT" "host $GW6 $HOST_PORT")
for t in "${FORBIDDEN[@]}" "api ${POD_IP4[$API]} 8080" "api ${POD_IP6[$API]} 8080"; do
  # shellcheck disable=SC2086
  reaches $FRONT $t || die "before enforcement, the frontend cannot reach $t"
done
pass "before enforcement: the frontend reaches db, cache, billing/db and the node's port (IPv4 and IPv6)"
count() { grep -c " $3 $1 " "$WORK/$2.log"; }  # NAME CLIENT ok|fail
phase "setup (containerd, image, 5 pods)"

# --- 1. learn ----------------------------------------------------------------------------------
write_config() {  # file mode
  {
    echo "mode: $2"
    if [ "$2" = learn ]; then echo "graph: $WORK/graph.yaml"; else echo "policy: $WORK/policy.yaml"; fi
    echo "snapshotInterval: 2s"
    # 250 ms: a new pod must be in the ruleset within 1 s of its sandbox, which a poll every
    # second (the default) cannot promise (poll period + inspect + apply).
    echo "inventory: {cri: unix://$SOCK, pollInterval: ${BHK_POLL:-250ms}}"
    echo "nflogGroup: 7"
    echo "metrics: $METRICS"
    echo "control: $CONTROL"
    echo "violations: $VIOLATIONS"
    echo "hostName: node-1"
  } >"$1"
}
AGENT_RUNS=0
start_agent() {
  AGENT_RUNS=$((AGENT_RUNS + 1))
  inns_bg "$BULKHEAD" agent --config "$1" >>"$WORK/agent-$AGENT_RUNS.log" 2>&1
  AGENT_PID=$BG_PID
}
stop_agent() {
  local _
  kill -TERM "$AGENT_PID" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$AGENT_PID" 2>/dev/null && { kill -9 "$AGENT_PID"; echo "agent ignored TERM"; }
  wait "$AGENT_PID"
}
write_config "$WORK/learn.yaml" learn
"$BULKHEAD" agent --config "$WORK/learn.yaml" --check-config >"$WORK/check.log" 2>&1 &&
  pass "agent --check-config accepts inventory: {cri: ...}" ||
  fail "agent --check-config: $(tail -1 "$WORK/check.log")"
start_agent "$WORK/learn.yaml"
inns_bg "$BULKHEAD" learn --cri "unix://$SOCK" --duration 7 -o "$WORK/learn-cri.yaml" \
  >"$WORK/learn-cri.log" 2>&1
LEARN_PID=$BG_PID
sleep 8
wait "$LEARN_PID"
rc=$?
[ $rc = 0 ] && pass "learn --cri exited 0 ($(tail -1 "$WORK/learn-cri.log"))" ||
  fail "learn --cri exited $rc: $(tail -5 "$WORK/learn-cri.log")"
stop_agent
rc=$?
[ $rc = 0 ] && pass "learn agent exited 0 on SIGTERM" || fail "learn agent exited $rc on SIGTERM"

check_edges() {  # graph-file what
  "$BULKHEAD" export "$1" --format json -o "$1.json" 2>"$WORK/export.err" ||
    { fail "$2: export of $1: $(cat "$WORK/export.err")"; return; }
  pycheck "$2: exactly the app's edges, shop/db and billing/db apart" "$1.json" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
got = sorted((e["from"], e["to"], e["protocol"], e["port"]) for e in g.get("edges", []))
want = sorted([("shop/frontend", "shop/api", "tcp", 8080), ("shop/api", "shop/db", "tcp", 5432),
               ("shop/api", "shop/cache", "tcp", 6379)])
for e in sorted(set(want) - set(got)):
    print("  missing edge:", e)
for e in sorted(set(got) - set(want)):
    print("  extra edge:", e)
groups = {gr["name"]: gr for gr in g.get("groups", [])}
ok = got == want
for name, app in (("shop/db", "db"), ("billing/db", "db")):
    gr = groups.get(name)
    ns = name.split("/")[0]
    want_sel = {"io.kubernetes.pod.namespace": ns, "app": app}
    if gr is None or gr.get("selector") != want_sel:
        print("  group %s: %s (want selector %s)" % (name, gr, want_sel))
        ok = False
sys.exit(0 if ok else 1)
PY
}
if [ -s "$WORK/graph.yaml" ]; then check_edges "$WORK/graph.yaml" "agent (learn mode)"; else
  fail "agent (learn mode) wrote no graph"; fi
if [ -s "$WORK/learn-cri.yaml" ]; then check_edges "$WORK/learn-cri.yaml" "learn --cri"
else fail "learn --cri wrote no graph"; fi
phase "learn"

if [ "${BHK_LEARN_ONLY:-0}" = 1 ]; then
  [ "$FAILS" -eq 0 ] && echo "learn checks passed" && exit 0
  exit 1
fi

# --- 2. approve and enforce --------------------------------------------------------------------
[ -s "$WORK/graph.yaml" ] || die "no graph to approve"
"$BULKHEAD" approve "$WORK/graph.yaml" -o "$WORK/policy.yaml" 2>"$WORK/approve.err" ||
  die "approve: $(cat "$WORK/approve.err")"
# The approved policy as NetworkPolicy, checked against Kubernetes' own types (Debian's
# python3-kubernetes; /usr/bin/python3 because another python3 on PATH may not see it).
if "$BULKHEAD" export "$WORK/policy.yaml" --format networkpolicy -o "$WORK/netpol.yaml" \
  2>"$WORK/export.err"; then
  if /usr/bin/python3 - "$WORK/netpol.yaml" <<'PY'; then
import json, sys, yaml
from kubernetes import client
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
api = client.ApiClient()
class Response:
    def __init__(self, doc):
        self.data = json.dumps(doc)
for doc in docs:
    model = api.deserialize(Response(doc), "V1NetworkPolicy")
    assert api.sanitize_for_serialization(model) == doc, doc["metadata"]
where = {(d["metadata"]["namespace"], d["spec"]["podSelector"].get("matchLabels", {}).get("app"))
         for d in docs}
for wanted in [("shop", "frontend"), ("shop", "api"), ("shop", "db"), ("shop", "cache"),
               ("billing", "db")]:
    assert wanted in where, (wanted, sorted(where))
PY
    pass "NetworkPolicy export of the approved policy: every object is a lossless V1NetworkPolicy, shop/* and billing/db in their namespaces"
  else
    fail "NetworkPolicy export of the approved policy does not pass Kubernetes' types"
  fi
else
  fail "export --format networkpolicy: $(cat "$WORK/export.err")"
fi
write_config "$WORK/enforce.yaml" enforce
wait_enforcing() {  # what
  local _ out
  for _ in $(seq 150); do
    out=$(timeout 2 "$BULKHEAD" status --control "$CONTROL" 2>&1) && [[ $out == *"mode: enforce"* ]] &&
      [[ $out != *"waiting for the container runtime"* ]] &&
      { pass "$1: status says mode: enforce"; return 0; }
    kill -0 "$AGENT_PID" 2>/dev/null || { fail "$1: the agent exited"; return 1; }
    sleep 0.1
  done
  fail "$1: status never said mode: enforce; last answer: $out"
  return 1
}
start_agent "$WORK/enforce.yaml"
wait_enforcing "enforce" || die "the agent is not enforcing"
phase "approve and start enforcing"

# The app keeps working (judged from 3.5 s after the first apply: app.sh bounds an attempt to
# 3 s, and a connection in flight when conntrack starts is judged as new; see the Docker test).
sleep 3.5
declare -A OK0 FAIL0
PAIRS=("api frontend" "db api" "cache api")  # NAME CLIENT
snap() { local p; for p in "${PAIRS[@]}"; do
  # shellcheck disable=SC2086
  OK0[$p]=$(count $p ok); FAIL0[$p]=$(count $p fail); done; }
grown() {  # pair min what
  local p=$1 ok fl
  # shellcheck disable=SC2086
  ok=$(count $p ok); fl=$(count $p fail)
  if [ $((ok - OK0[$p])) -ge "$2" ] && [ "$fl" = "${FAIL0[$p]}" ]; then
    pass "$3: $p: +$((ok - OK0[$p])) successes, no failure"
  else
    fail "$3: $p: +$((ok - OK0[$p])) successes, +$((fl - FAIL0[$p])) failures"
  fi
}
snap
sleep 3
for p in "${PAIRS[@]}"; do grown "$p" 5 "app under enforcement (IPv4 and IPv6)"; done

refused() {  # POD "NAME ADDR PORT"...: every attempt fails (side by side)
  local c=$1 t i=0 pids=()
  shift
  for t in "$@"; do
    # shellcheck disable=SC2086
    ( try "$c" $t; echo $? >"$WORK/try.$i" ) &
    pids+=($!)
    i=$((i + 1))
  done
  wait "${pids[@]}"
  i=0
  for t in "$@"; do
    if [ "$(cat "$WORK/try.$i")" = 0 ]; then fail "$c -> $t allowed"; else pass "$c -> $t refused"; fi
    i=$((i + 1))
  done
}
refused $FRONT "${FORBIDDEN[@]}"
try $FRONT api "${POD_IP4[$API]}" 8080 && pass "frontend -> api over IPv4 allowed" ||
  fail "frontend -> api over IPv4 refused while enforcing"
try $FRONT api "${POD_IP6[$API]}" 8080 && pass "frontend -> api over IPv6 allowed" ||
  fail "frontend -> api over IPv6 refused while enforcing"
sleep 1
pycheck "violations file: a blocked line for each refused attempt" "$VIOLATIONS" \
  "${POD_IP4[$FRONT]}" "${POD_IP6[$FRONT]}" <<'PY'
import json, sys
a4, a6 = sys.argv[2], sys.argv[3]
want = {("shop/db", 5432, a4), ("shop/db", 5432, a6), ("shop/cache", 6379, a4),
        ("billing/db", 5432, a4), ("billing/db", 5432, a6), ("host", 2222, a4), ("host", 2222, a6)}
seen = set()
try:
    lines = open(sys.argv[1]).read().splitlines()
except OSError as e:
    print("  no violations file:", e)
    sys.exit(1)
for line in lines:
    v = json.loads(line)
    if v["verdict"] == "blocked" and v["from"]["group"] == "shop/frontend" and v["protocol"] == "tcp":
        seen.add((v["to"]["group"], v["port"], v["from"]["address"]))
for w in sorted(want - seen):
    print("  no violation line for the frontend (%s) -> %s tcp %d" % (w[2], w[0], w[1]))
sys.exit(0 if want <= seen else 1)
PY
metrics() {
  inns python3 -c "import urllib.request
print(urllib.request.urlopen('http://$METRICS/metrics', timeout=3).read().decode())" \
    >"$WORK/metrics.txt" 2>"$WORK/metrics.err" || fail "metrics: $(tail -1 "$WORK/metrics.err")"
}
metrics
pycheck "metrics: bulkhead_violations_total per refused pair" "$WORK/metrics.txt" <<'PY'
import re, sys
values = {}
for line in open(sys.argv[1]):
    m = re.match(r'^bulkhead_violations_total\{([^}]*)\}\s+(\S+)', line)
    if m:
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        values[(labels.get("from"), labels.get("to"), labels.get("verdict"))] = float(m.group(2))
ok = True
for to in ("shop/db", "shop/cache", "billing/db", "host"):
    v = values.get(("shop/frontend", to, "blocked"), 0)
    if v < 1:
        print('  bulkhead_violations_total{from="shop/frontend",to="%s",verdict="blocked"} = %g' % (to, v))
        ok = False
sys.exit(0 if ok else 1)
PY
phase "enforcement checks"

# --- 3. churn: a new api pod -------------------------------------------------------------------
# The sandbox is ready when RunPodSandbox returns (READY_AT); its address must be in the ruleset
# within 1 s. A probe in its namespace tries db every 20 ms from then on: the first success
# bounds the latency from above (plus at most one probe period).
API2=api-6c4b9d7f8-z9x8w
rm -f "$WORK/probe/api2.log"
churn_probe() {  # in the new pod's namespace as soon as it has one, before its container
  inpod_bg "$1" sh "$APP_SH" probe "$WORK/probe/api2.log" 20000 150 "db,${POD_IP4[$DB]},5432"
}
POD_HOOK=churn_probe pod shop $API2 app=api pod-template-hash=6c4b9d7f8
sleep 3.5
pycheck "churn: the new api pod reached db within 1 s of its sandbox" "$WORK/probe/api2.log" \
  "$READY_AT" "$STARTED_AT" <<'PY'
import sys
lines = [l.split() for l in open(sys.argv[1]).read().splitlines()]
start = float(next(l[0] for l in lines if l[1] == "start"))
oks = sorted(float(l[0]) for l in lines if len(l) > 1 and l[1] == "ok")
ready, started = float(sys.argv[2]), float(sys.argv[3])
print("  probe from %.3f s after the sandbox was ready; container started at %.3f s"
      % (start - ready, started - ready))
if not oks:
    print("  the new api pod never reached db")
    sys.exit(1)
latency = oks[0] - ready
print("  churn latency: first db connection %.3f s after the sandbox was ready" % latency)
sys.exit(0 if latency < 1.0 else 1)
PY
try $API2 cache "${POD_IP4[$CACHE]}" 6379 && pass "new api -> cache allowed" ||
  fail "new api -> cache refused"
refused $API2 "frontend ${POD_IP4[$FRONT]} 80" "host $GW4 $HOST_PORT"
# Removed: its addresses leave the sets (the ruleset as the kernel has it, in the node's netns).
API2_IP4=${POD_IP4[$API2]} API2_IP6=${POD_IP6[$API2]}
for p in $(ip netns pids "$(basename "${POD_NETNS[$API2]}")" 2>/dev/null); do kill -9 "$p"; done
cri rm "${POD_ID[$API2]}" >/dev/null 2>"$WORK/rm.err" || fail "remove the new api pod: $(cat "$WORK/rm.err")"
gone=0
for _ in $(seq 50); do
  # The membership sets only: the per-source log budgets (log_budget4/6, suppressed4/6) keep a
  # source that was refused until their timeout, by design.
  rules=$(inns nft list table inet bulkhead 2>/dev/null |
    awk '/^\tset (log_budget|suppressed)[46] /{skip=1} skip&&/^\t}/{skip=0; next} !skip')
  # -w: 10.242.0.7 must not match inside 10.242.0.70.
  if ! grep -qFw -e "$API2_IP4" -e "$API2_IP6" <<<"$rules"; then gone=1; break; fi
  sleep 0.1
done
[ $gone = 1 ] && pass "churn: the removed pod's addresses left the ruleset" ||
  fail "churn: $API2_IP4 or $API2_IP6 still in the ruleset 5 s after the pod was removed"
phase "churn"

# --- 4. restarts under a probe -----------------------------------------------------------------
PROBE_LOG="$WORK/probe/frontend.log"
rm -f "$PROBE_LOG" "$PROBE_LOG.beat"
inpod_bg $FRONT sh "$APP_SH" probe "$PROBE_LOG" 100000 0 "db,${POD_IP4[$DB]},5432" \
  "db,${POD_IP6[$DB]},5432" "billing-db,${POD_IP4[$BDB]},5432" "api,${POD_IP4[$API]},8080"
sleep 1
after() {  # UPTIME NAME: the probe succeeded to NAME after that time (waits up to 3 s)
  local _
  for _ in $(seq 30); do
    awk -v t="$1" -v n="$2" '$1 > t && $2 == "ok" && $3 == n {f = 1} END {exit !f}' \
      "$PROBE_LOG" && return 0
    sleep 0.1
  done
  return 1
}
# (a) containerd restart: the pods stay up (their shims are apart); the agent keeps its rules
# and follows the runtime again when it is back.
R0=$(uptime_now)
containerd_stop
sleep 1
containerd_start
R1=$(uptime_now)
after "$R1" api && pass "containerd restart: frontend -> api works after it" ||
  fail "containerd restart: frontend -> api does not work after it"
kill -0 "$AGENT_PID" 2>/dev/null && pass "containerd restart: the agent is still running" ||
  fail "containerd restart: the agent exited"
API3=api-6c4b9d7f8-k2l4m
pod shop $API3 app=api pod-template-hash=6c4b9d7f8
rm -f "$WORK/probe/api3.log"
inpod_bg $API3 sh "$APP_SH" probe "$WORK/probe/api3.log" 50000 60 "db,${POD_IP4[$DB]},5432"
sleep 3
grep -q " ok db " "$WORK/probe/api3.log" &&
  pass "containerd restart: the agent follows the runtime again (a new api pod reaches db)" ||
  fail "containerd restart: a new api pod never reached db"
phase "containerd restart (down $(echo "$R1 $R0" | awk '{printf "%.1f", $1 - $2}') s)"
# (b) agent restart: the rules stay while it is down.
A0=$(uptime_now)
stop_agent
rc=$?
[ $rc = 0 ] && pass "enforce agent exited 0 on SIGTERM" || fail "enforce agent exited $rc on SIGTERM"
sleep 1
start_agent "$WORK/enforce.yaml"
wait_enforcing "agent restart"
A1=$(uptime_now)
after "$A1" api && pass "agent restart: frontend -> api works after it" ||
  fail "agent restart: frontend -> api does not work after it"
phase "agent restart (down $(echo "$A1 $A0" | awk '{printf "%.1f", $1 - $2}') s)"
forbidden_between() { awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b && $3 ~ /db$/' "$PROBE_LOG" | wc -l; }
bad=$(awk '$2 == "ok" && $3 ~ /db$/' "$PROBE_LOG" | head -5)
attempts=$(awk '$3 ~ /db$/' "$PROBE_LOG" | wc -l)
during_containerd=$(forbidden_between "$R0" "$R1")
during_agent=$(forbidden_between "$A0" "$A1")
if [ "$attempts" -le 50 ] || [ "$during_containerd" = 0 ] || [ "$during_agent" = 0 ]; then
  fail "restarts: too few forbidden attempts to judge: $attempts in all (want > 50)," \
    "$during_containerd while containerd was down, $during_agent while the agent was"
elif [ -n "$bad" ]; then
  fail "restarts: forbidden connections succeeded (of $attempts attempts): $bad"
else
  pass "restarts: $attempts forbidden attempts from the frontend ($during_containerd while" \
    "containerd was down, $during_agent while the agent was), none succeeded"
fi
errors=$(grep -hE "^bulkhead: (error|critical):" "$WORK"/agent-*.log | head -5)
[ -z "$errors" ] && pass "no error in the agent logs" || fail "errors in the agent logs: $errors"
phase "end"
if [ "$FAILS" -ne 0 ]; then
  echo "$FAILS check(s) failed; agent logs: $WORK/agent-*.log; containerd: $WORK/containerd.log"
  exit 1
fi
echo "all Kubernetes node end-to-end checks passed"
