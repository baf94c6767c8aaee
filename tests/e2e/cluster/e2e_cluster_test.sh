#!/usr/bin/env bash
# End-to-end test of bulkhead on a two-node Kubernetes cluster made on this machine (CTest
# labels kernel;cri;e2e; root). Each node is a network namespace of the test's own with its own
# containerd (CRI plugin, dual-stack CNI bridge, its own pod ranges: tests/lib/containerd.sh);
# the two are joined by a third namespace, the LAN (a bridge), and route each other's pod ranges
# over it as a host-gw network does. The LAN also holds the Kubernetes API server: the test's own
# (tests/lib/kube_api_server.py; no kube-apiserver runs here), speaking the real wire format over
# HTTPS with a CA and a bearer token the test makes, and serving exactly the pods the test made
# through the runtimes (as kubelet reports them). One bulkhead agent per node, `inventory: {cri}`
# plus `identity: {kubernetes: {kubeconfig}}`. Nothing is sent anywhere but these namespaces.
#
#   e2e_cluster_test.sh BULKHEAD CRI_POD SOURCE_DIR
#
# The app (namespace shop): frontend on node a -> api on node b (IPv4 and IPv6), api -> db on
# node b. Phases:
# 1. learn on both nodes; both graphs name the cross-node edge with the same groups; `merge` of
#    the two is the same bytes in either order and holds exactly the app's edges.
# 2. enforce the approved policy, given to each agent as a kubelet-mounted ConfigMap directory:
#    frontend -> api works across nodes; frontend -> db is refused on a (egress) with a violation
#    line naming both groups and both nodes; with node a's agent gone and its rules deleted (a
#    compromised node), b refuses it itself (ingress), its line naming both nodes too.
# 3. a new frontend pod on a reaches api on b (the time from its sandbox to its first
#    connection is printed); a frontend pod deleted on a and made again on b keeps its group and
#    access, and its old address leaves b's sets.
# 4. the API server answers nothing for 30 s under a loop of forbidden attempts: none succeeds,
#    the allowed traffic keeps working, both agents report staleness; afterwards, an expired
#    resourceVersion (410 Gone) makes both relist.
# 5. a new policy via a `..data` symlink swap reaches both agents (status shows its digest); a
#    broken one is refused by both, and the previous one stays.
# env: BHC_DEADLINE (seconds, below CTest's TIMEOUT), BHK_KEEP=1 keeps the work directory,
# BHC_DEBUG=1 prints the nodes' addresses and routes when the pods cannot reach each other.
set -u
BULKHEAD=$(readlink -f "$1")
CRI_POD=$(readlink -f "$2")
SRC=$(readlink -f "$3")
APP_SH="$SRC/tests/e2e/app.sh"
KUBE_API="$SRC/tests/lib/kube_api_server.py"
# shellcheck source=../../lib/preconditions.sh
source "$SRC/tests/lib/preconditions.sh" && require_netns_exec
# shellcheck source=../../lib/dockerd.sh
source "$SRC/tests/lib/dockerd.sh"  # fail, pass, die
# shellcheck source=../../lib/containerd.sh
source "$SRC/tests/lib/containerd.sh"
# shellcheck source=../../lib/e2e_common.sh
source "$SRC/tests/lib/e2e_common.sh"  # phase, pycheck

# --- the cluster's parts -----------------------------------------------------------------------
TOP=$(mktemp -d "/tmp/bhc$$.XXXXXX")
CRI_IMAGE="bulkhead.test/box:1"
PIDS=()
FAILS=0
LAN=bhcl$$
declare -A N_NS N_IP4 N_IP6 N_SUB4 N_SUB6 N_GW4 AGENT_PID AGENT_RUNS
N_NS[a]=bhca$$ N_IP4[a]=192.168.77.1 N_IP6[a]=fd77::1 N_SUB4[a]=10.88.1.0/24 N_SUB6[a]=fd88:1::/64
N_NS[b]=bhcb$$ N_IP4[b]=192.168.77.2 N_IP6[b]=fd77::2 N_SUB4[b]=10.88.2.0/24 N_SUB6[b]=fd88:2::/64
N_GW4[a]=10.88.1.1 N_GW4[b]=10.88.2.1
API_IP=192.168.77.254
AGENT_RUNS[a]=0 AGENT_RUNS[b]=0
AGENT_PID[a]="" AGENT_PID[b]=""
# node N: makes node N current for containerd.sh's functions (NS, WORK, SOCK).
node() { NS=${N_NS[$1]} WORK=$TOP/$1 SOCK=$TOP/$1/containerd.sock; }
innode() { local n=$1; shift; nsenter --net="/var/run/netns/${N_NS[$n]}" "$@"; }
inlan() { nsenter --net="/var/run/netns/$LAN" "$@"; }

cluster_cleanup() {
  set +e
  local n p f
  if [ "$FAILS" -ne 0 ]; then
    for f in "$TOP"/*/agent-*.log "$TOP/api.log"; do
      [ -f "$f" ] && { echo "--- last lines of $f"; tail -30 "$f"; }
    done
  fi
  for p in "${PIDS[@]}"; do
    # The deadline's sleep is a child of its subshell: left alone it would hold CTest's pipe.
    for c in $(pgrep -P "$p"); do kill "$c" 2>/dev/null; done
    kill "$p" 2>/dev/null
  done
  for n in a b; do
    node $n
    # The app's processes run in the pods' namespaces, outside the sandboxes' cgroups.
    if [ -f "$WORK/netns.list" ]; then
      while read -r f; do
        for p in $(ip netns pids "$(basename "$f")" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
      done <"$WORK/netns.list"
    fi
    [ -d "$WORK" ] && containerd_node_cleanup
  done
  for p in $(ip netns pids "$LAN" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  ip netns del "$LAN" 2>/dev/null
  if [ "$FAILS" -eq 0 ] && [ "${BHK_KEEP:-0}" != 1 ]; then
    rm -rf "$TOP"
  else
    echo "work directory kept: $TOP"
  fi
}
trap cluster_cleanup EXIT
trap 'echo "FAIL: interrupted"; FAILS=$((FAILS + 1)); exit 1' INT TERM
( sleep "${BHC_DEADLINE:-330}"; echo "deadline reached" >&2; kill -TERM $$ ) & PIDS+=($!)
containerd_requirements
[ -x "$BULKHEAD" ] || die "bulkhead binary not found: $1"
[ -x "$CRI_POD" ] || die "cri_pod not found: $2"
command -v openssl >/dev/null || die "openssl not installed (the API server makes its CA with it)"

ip netns add "$LAN" || die "ip netns add $LAN"
ip -n "$LAN" link set lo up
ip -n "$LAN" link add lan0 type bridge
ip -n "$LAN" addr add $API_IP/24 dev lan0
ip -n "$LAN" link set lan0 up
for n in a b; do
  mkdir -p "$TOP/$n"
  containerd_configure "${N_NS[$n]}" "$TOP/$n" cni0 "${N_SUB4[$n]}" "${N_SUB6[$n]}"
  ip -n "$LAN" link add "v$n" type veth peer name eth0 netns "${N_NS[$n]}" || die "veth of node $n"
  ip -n "$LAN" link set "v$n" master lan0 up
  ip -n "${N_NS[$n]}" addr add "${N_IP4[$n]}/24" dev eth0
  ip -n "${N_NS[$n]}" addr add "${N_IP6[$n]}/64" dev eth0 nodad
  ip -n "${N_NS[$n]}" link set eth0 up
  innode $n sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 ||
    die "forwarding on node $n"
done
# host-gw: each node routes the other's pod ranges to it.
ip -n "${N_NS[a]}" route add "${N_SUB4[b]}" via "${N_IP4[b]}"
ip -n "${N_NS[a]}" -6 route add "${N_SUB6[b]}" via "${N_IP6[b]}"
ip -n "${N_NS[b]}" route add "${N_SUB4[a]}" via "${N_IP4[a]}"
ip -n "${N_NS[b]}" -6 route add "${N_SUB6[a]}" via "${N_IP6[a]}"
for n in a b; do
  node $n
  containerd_start
  containerd_image
done
BOX="$TOP/a/rootfs/bin"  # busybox applets, for the app's processes

# The API server, in the LAN; the agents reach it at https://$API_IP:PORT.
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$TOKEN" >"$TOP/token"
inlan python3 "$KUBE_API" --dir "$TOP/api" --bind $API_IP --san "IP:$API_IP" --token "$TOKEN" \
  >"$TOP/api.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$TOP/api/ready" ] && break; sleep 0.1; done
[ -s "$TOP/api/ready" ] || die "the API server did not start: $(tail -3 "$TOP/api.log")"
read -r API_PORT CONTROL_PORT < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]));
print(r["port"], r["control_port"])' "$TOP/api/ready")
# kapi JSON: one command to the API server's control port (it listens on the LAN's loopback).
kapi() {
  inlan python3 -c 'import sys, urllib.request
req = urllib.request.Request("http://127.0.0.1:%s/" % sys.argv[1], data=sys.argv[2].encode(),
                             headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req, timeout=5).read().decode())' "$CONTROL_PORT" "$1" >/dev/null ||
    fail "API server control: $1"
}
cat >"$TOP/kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
  - name: test
    cluster:
      server: https://$API_IP:$API_PORT
      certificate-authority: $TOP/api/ca.crt
users:
  - name: bulkhead
    user:
      tokenFile: $TOP/token
contexts:
  - name: test
    context: {cluster: test, user: bulkhead}
current-context: test
YAML
kapi '{"cmd": "upsert", "kind": "namespace", "name": "shop", "labels": {"kubernetes.io/metadata.name": "shop"}}'
for n in a b; do
  kapi "{\"cmd\": \"upsert\", \"kind\": \"node\", \"name\": \"node-$n\", \"addresses\": [\"${N_IP4[$n]}\", \"${N_IP6[$n]}\"]}"
done

# pod NODE NAMESPACE NAME LABEL=VALUE...: runs the pod on NODE as kubelet does (sandbox, then
# its container) and reports it to the API server as kubelet would (node, labels, podIPs).
declare -A POD_ID POD_NETNS POD_IP4 POD_IP6 POD_NODE POD_READY
pod() {
  local n=$1 ns=$2 name=$3 out status ip labels="" kv
  shift 3
  node "$n"
  out=$(cri sandbox "$ns" "$name" "$@" 2>"$WORK/run-$name.err") ||
    die "pod $ns/$name on $n: $(tail -1 "$WORK/run-$name.err")"
  POD_READY[$name]=$(awk '$1 == "sandbox-ready" {print $2}' "$WORK/run-$name.err")
  status=$(cri status "$out") || die "pod $ns/$name: no status"
  POD_ID[$name]=$out POD_NODE[$name]=$n
  read -r POD_NETNS[$name] status <<<"$status"
  echo "${POD_NETNS[$name]}" >>"$WORK/netns.list"
  for ip in $status; do
    if [[ $ip == *:* ]]; then POD_IP6[$name]=$ip; else POD_IP4[$name]=$ip; fi
  done
  [ -n "${POD_IP4[$name]:-}" ] && [ -n "${POD_IP6[$name]:-}" ] || die "pod $name: not dual-stack"
  for kv in "$@"; do labels="$labels\"${kv%%=*}\": \"${kv#*=}\", "; done
  kapi "{\"cmd\": \"upsert\", \"kind\": \"pod\", \"namespace\": \"$ns\", \"name\": \"$name\",
    \"uid\": \"$ns-$name-uid\", \"labels\": {${labels%, }}, \"node\": \"node-$n\",
    \"ips\": [\"${POD_IP4[$name]}\", \"${POD_IP6[$name]}\"], \"phase\": \"Running\"}"
  cri container "$out" "$ns" "$name" "$CRI_IMAGE" "$@" 2>>"$WORK/run-$name.err" ||
    die "pod $ns/$name: container: $(tail -1 "$WORK/run-$name.err")"
}
unpod() {  # NAME: removed from its node and from the API
  node "${POD_NODE[$1]}"
  for p in $(ip netns pids "$(basename "${POD_NETNS[$1]}")" 2>/dev/null); do kill -9 "$p"; done
  cri rm "${POD_ID[$1]}" >/dev/null || fail "cri rm $1"
  kapi "{\"cmd\": \"delete\", \"kind\": \"pod\", \"namespace\": \"shop\", \"name\": \"$1\"}"
}
inpod() { local p=$1; shift; nsenter --net="${POD_NETNS[$p]}" env PATH="$BOX" "$@"; }
inpod_bg() { local p=$1; shift; nsenter --net="${POD_NETNS[$p]}" env PATH="$BOX" "$@" & PIDS+=($!); }

FRONT=frontend-7d9f8c6b5-x7k2p API=api-6c4b9d7f8-q5w8z DB=db-0
pod a shop $FRONT app=frontend pod-template-hash=7d9f8c6b5
pod b shop $API app=api pod-template-hash=6c4b9d7f8
pod b shop $DB app=db statefulset.kubernetes.io/pod-name=$DB controller-revision-hash=db-5c6d
pass "3 pods: frontend on node a, api and db on node b, dual-stack"
inpod_bg $DB sh "$APP_SH" serve 5432 db
inpod_bg $API sh "$APP_SH" serve 8080 api -- "db,${POD_IP4[$DB]},5432" "db,${POD_IP6[$DB]},5432" \
  >"$TOP/api-app.log"
inpod_bg $FRONT sh "$APP_SH" serve 80 frontend -- "api,${POD_IP4[$API]},8080" \
  "api,${POD_IP6[$API]},8080" >"$TOP/frontend-app.log"

# try POD NAME ADDR PORT: 0 when the connection got NAME's answer.
try() { inpod "$1" timeout 5 nc -w 2 "$3" "$4" </dev/null 2>/dev/null | grep -q "^$2-ok"; }
reaches() {  # as try, for up to 8 s
  local end=$((SECONDS + 8))
  while [ $SECONDS -lt $end ]; do try "$@" && return 0; sleep 0.1; done
  return 1
}
refused() {  # POD NAME ADDR PORT: three attempts, none answered
  local i
  for i in 1 2 3; do try "$@" && return 1; done
  return 0
}
debug_net() {
  for n in a b; do echo "-- node $n"; innode $n ip addr; innode $n ip route; innode $n ip -6 route; done
  inpod $FRONT ip route; inpod $FRONT ping -c 1 -W 1 ${N_GW4[a]}; inpod $FRONT ping -c 1 -W 1 ${N_IP4[b]}
  inpod $FRONT ping -c 1 -W 1 ${POD_IP4[$API]}; innode b ss -ltn; inpod $API netstat -ltn
}
for t in "api ${POD_IP4[$API]} 8080" "api ${POD_IP6[$API]} 8080" "db ${POD_IP4[$DB]} 5432" \
  "db ${POD_IP6[$DB]} 5432"; do
  # shellcheck disable=SC2086
  reaches $FRONT $t || {
    [ "${BHC_DEBUG:-0}" = 1 ] && debug_net
    die "before enforcement, the frontend on node a cannot reach $t on node b"
  }
done
pass "before enforcement: frontend on node a reaches api and db on node b (IPv4 and IPv6, routed)"
phase "setup (2 nodes, 2 containerds, the API server, 3 pods)"

# --- agents ------------------------------------------------------------------------------------
write_config() {  # NODE MODE
  local n=$1
  {
    echo "mode: $2"
    if [ "$2" = learn ]; then echo "graph: $TOP/$n/graph.yaml"
    else echo "policy: $TOP/$n/policy/policy.yaml"; fi
    echo "snapshotInterval: 1s"
    echo "inventory: {cri: unix://$TOP/$n/containerd.sock, pollInterval: 250ms}"
    echo "identity: {kubernetes: {kubeconfig: $TOP/kubeconfig, nodeName: node-$n}}"
    echo "nflogGroup: 7"
    echo "metrics: 127.0.0.1:9472"
    echo "control: $TOP/$n/control.sock"
    echo "violations: $TOP/$n/violations.jsonl"
    echo "hostName: node-$n"
  } >"$TOP/$n/agent-$2.yaml"
}
start_agent() {  # NODE MODE
  local n=$1
  AGENT_RUNS[$n]=$((AGENT_RUNS[$n] + 1))
  write_config "$n" "$2"
  # nsenter itself, not innode: $! must be the agent (nsenter execs it), not a subshell.
  nsenter --net="/var/run/netns/${N_NS[$n]}" "$BULKHEAD" agent --config "$TOP/$n/agent-$2.yaml" \
    >>"$TOP/$n/agent-${AGENT_RUNS[$n]}.log" 2>&1 &
  AGENT_PID[$n]=$!
  PIDS+=($!)
}
stop_agent() {  # NODE
  local p=${AGENT_PID[$1]} _
  [ -n "$p" ] || return 0
  kill -TERM "$p" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && { kill -9 "$p"; fail "agent of node $1 ignored TERM"; }
  wait "$p" 2>/dev/null
  AGENT_PID[$1]=""
}
status() { timeout 3 "$BULKHEAD" status --control "$TOP/$1/control.sock" 2>&1; }
metric() {  # NODE NAME: the sum of that metric's samples on NODE's agent
  innode "$1" python3 -c 'import sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:9472/metrics", timeout=3).read().decode()
print(sum(float(l.split()[-1]) for l in text.splitlines()
          if l.startswith(sys.argv[1]) and not l.startswith("#")))' "$2" 2>/dev/null || echo -1
}
wait_status() {  # NODE SUBSTRING WHAT: status contains SUBSTRING within 15 s
  local _ out
  for _ in $(seq 150); do
    out=$(status "$1") && [[ $out == *"$2"* ]] && { pass "$3"; return 0; }
    sleep 0.1
  done
  fail "$3: status never said \"$2\"; last answer: $out"
  return 1
}

# --- 1. learn ----------------------------------------------------------------------------------
for n in a b; do start_agent $n learn; done
for n in a b; do wait_status $n "pods on other nodes" "node $n: learning with the cluster's identities"; done
sleep 6
for n in a b; do stop_agent $n; done
for n in a b; do
  "$BULKHEAD" export "$TOP/$n/graph.yaml" --format json -o "$TOP/$n/graph.json" 2>"$TOP/export.err" ||
    fail "export of node $n's graph: $(cat "$TOP/export.err")"
done
pycheck "both nodes' graphs name the cross-node edge shop/frontend -> shop/api with the same groups" \
  "$TOP/a/graph.json" "$TOP/b/graph.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
edges = lambda g: {(e["from"], e["to"], e["protocol"], e["port"]) for e in g.get("edges", [])}
ok = True
for name, g, want in (("a", a, {("shop/frontend", "shop/api", "tcp", 8080)}),
                      ("b", b, {("shop/frontend", "shop/api", "tcp", 8080),
                                ("shop/api", "shop/db", "tcp", 5432)})):
    if edges(g) != want:
        print("  node %s: edges %s, want %s" % (name, sorted(edges(g)), sorted(want)))
        ok = False
sel = lambda g, n: next((gr.get("selector") for gr in g["groups"] if gr["name"] == n), None)
for n in ("shop/frontend", "shop/api"):
    if sel(a, n) != sel(b, n) or sel(a, n) is None:
        print("  group %s: node a %s, node b %s" % (n, sel(a, n), sel(b, n)))
        ok = False
sys.exit(0 if ok else 1)
PY
"$BULKHEAD" merge "$TOP/a/graph.yaml" "$TOP/b/graph.yaml" -o "$TOP/ab.yaml" 2>"$TOP/merge.err" ||
  fail "merge a b: $(cat "$TOP/merge.err")"
"$BULKHEAD" merge "$TOP/b/graph.yaml" "$TOP/a/graph.yaml" -o "$TOP/ba.yaml" 2>"$TOP/merge.err" ||
  fail "merge b a: $(cat "$TOP/merge.err")"
cmp -s "$TOP/ab.yaml" "$TOP/ba.yaml" && pass "merge of the two graphs: the same bytes in either order" ||
  fail "merge a b and merge b a differ: $(diff "$TOP/ab.yaml" "$TOP/ba.yaml" | head -5)"
"$BULKHEAD" export "$TOP/ab.yaml" --format json -o "$TOP/ab.json" 2>"$TOP/export.err" ||
  fail "export of the merged graph: $(cat "$TOP/export.err")"
pycheck "the merged graph: exactly the app's edges, covering node-a and node-b" "$TOP/ab.json" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
got = sorted((e["from"], e["to"], e["protocol"], e["port"]) for e in g.get("edges", []))
want = [("shop/api", "shop/db", "tcp", 5432), ("shop/frontend", "shop/api", "tcp", 8080)]
nodes = g.get("nodes")
if got != want or nodes != ["node-a", "node-b"]:
    print("  edges %s (want %s), nodes %s" % (got, want, nodes))
    sys.exit(1)
PY
phase "learn on both nodes, merge"

# --- 2. enforce --------------------------------------------------------------------------------
"$BULKHEAD" approve "$TOP/ab.yaml" -o "$TOP/policy-1.yaml" 2>"$TOP/approve.err" ||
  die "approve: $(cat "$TOP/approve.err")"
# configmap_swap NODE FILE: the policy as kubelet updates a mounted ConfigMap: a new timestamped
# directory, a ..data_tmp symlink renamed over ..data, the old directory removed.
configmap_swap() {
  local dir=$TOP/$1/policy stamp old
  stamp="..$(date +%Y_%m_%d_%H_%M_%S.%N)"
  mkdir -p "$dir/$stamp"
  cp "$2" "$dir/$stamp/policy.yaml"
  old=$(readlink "$dir/..data" 2>/dev/null)
  ln -s "$stamp" "$dir/..data_tmp"
  mv -T "$dir/..data_tmp" "$dir/..data"
  [ -L "$dir/policy.yaml" ] || ln -s ..data/policy.yaml "$dir/policy.yaml"
  [ -n "$old" ] && rm -rf "${dir:?}/$old"
}
digest() { sha256sum "$1" | cut -c1-12; }
for n in a b; do configmap_swap $n "$TOP/policy-1.yaml"; start_agent $n enforce; done
for n in a b; do
  wait_status $n "mode: enforce" "node $n: enforcing" &&
    wait_status $n "$(digest "$TOP/policy-1.yaml")" "node $n: status shows the policy's digest"
done
sleep 3.5  # connections in flight when the rules came are judged as new (see the CRI test)
for t in "api ${POD_IP4[$API]} 8080" "api ${POD_IP6[$API]} 8080"; do
  # shellcheck disable=SC2086
  reaches $FRONT $t && pass "enforcing: frontend (node a) reaches $t (node b)" ||
    fail "enforcing: frontend (node a) cannot reach $t (node b)"
done
# violation NODE FROM_GROUP FROM_NODE TO_GROUP TO_NODE PORT: such a blocked line within 5 s.
violation() {
  local _
  for _ in $(seq 50); do
    python3 - "$TOP/$1/violations.jsonl" "$2" "$3" "$4" "$5" "$6" <<'PY' && return 0
import json, sys
path, fg, fn, tg, tn, port = sys.argv[1:]
try:
    lines = [json.loads(l) for l in open(path) if l.strip()]
except FileNotFoundError:
    sys.exit(1)
sys.exit(0 if any(v.get("verdict") == "blocked" and v["from"]["group"] == fg and
                  v["from"].get("node") == fn and v["to"]["group"] == tg and
                  v["to"].get("node") == tn and v["port"] == int(port) for v in lines) else 1)
PY
    sleep 0.1
  done
  return 1
}
refused $FRONT db "${POD_IP4[$DB]}" 5432 && refused $FRONT db "${POD_IP6[$DB]}" 5432 &&
  pass "frontend (node a) -> db (node b) refused over IPv4 and IPv6" ||
  fail "frontend (node a) reached db (node b)"
violation a shop/frontend node-a shop/db node-b 5432 &&
  pass "node a (egress): a blocked line shop/frontend@node-a -> shop/db@node-b" ||
  fail "node a wrote no blocked line naming both groups and both nodes"
# Node a compromised: its agent gone and its rules deleted. Node b still refuses.
stop_agent a
innode a nft delete table inet bulkhead 2>/dev/null
innode a nft delete table bridge bulkhead 2>/dev/null
refused $FRONT db "${POD_IP4[$DB]}" 5432 && refused $FRONT db "${POD_IP6[$DB]}" 5432 &&
  pass "node a's rules gone: node b itself refuses frontend -> db (ingress)" ||
  fail "node a's rules gone: frontend reached db on node b"
violation b shop/frontend node-a shop/db node-b 5432 &&
  pass "node b (ingress): a blocked line shop/frontend@node-a -> shop/db@node-b" ||
  fail "node b wrote no blocked line naming both groups and both nodes"
reaches $FRONT api "${POD_IP4[$API]}" 8080 && pass "node a's rules gone: frontend still reaches api" ||
  fail "node a's rules gone: frontend cannot reach api"
start_agent a enforce
wait_status a "mode: enforce" "node a: enforcing again"
phase "enforce across nodes"

# --- 3. pods come and move ---------------------------------------------------------------------
FRONT2=frontend-7d9f8c6b5-b2c4d
pod a shop $FRONT2 app=frontend pod-template-hash=7d9f8c6b5
for _ in $(seq 200); do try $FRONT2 api "${POD_IP4[$API]}" 8080 && break; sleep 0.05; done
ALLOWED_AT=$(date +%s%N)
if try $FRONT2 api "${POD_IP4[$API]}" 8080; then
  pass "a new frontend pod on node a reaches api on node b: $(( (ALLOWED_AT - POD_READY[$FRONT2]) / 1000000 )) ms after its sandbox was ready"
else
  fail "a new frontend pod on node a never reached api on node b"
fi
refused $FRONT2 db "${POD_IP4[$DB]}" 5432 && pass "the new frontend pod is refused db" ||
  fail "the new frontend pod reached db"
OLD_IP=${POD_IP4[$FRONT2]}
unpod $FRONT2
FRONT3=frontend-7d9f8c6b5-m5n7p
pod b shop $FRONT3 app=frontend pod-template-hash=7d9f8c6b5
reaches $FRONT3 api "${POD_IP4[$API]}" 8080 && pass "frontend made again on node b reaches api" ||
  fail "frontend made again on node b cannot reach api"
refused $FRONT3 db "${POD_IP4[$DB]}" 5432 && pass "frontend made again on node b is refused db" ||
  fail "frontend made again on node b reached db"
gone_from_b() {
  local _
  for _ in $(seq 50); do
    innode b nft list set inet bulkhead grp4 2>/dev/null | grep -qw "$OLD_IP" || return 0
    sleep 0.1
  done
  return 1
}
gone_from_b && pass "the deleted pod's address ($OLD_IP) left node b's sets" ||
  fail "the deleted pod's address ($OLD_IP) is still in node b's sets"
phase "pods come and move"

# --- 4. the API server away --------------------------------------------------------------------
inpod_bg $FRONT sh "$APP_SH" probe "$TOP/probe" 200000 0 "db,${POD_IP4[$DB]},5432" \
  "api,${POD_IP4[$API]},8080"
sleep 1
API_OK0=$(grep -c ' ok api ' "$TOP/probe" 2>/dev/null || echo 0)
kapi '{"cmd": "pause", "seconds": 30}'
sleep 12
for n in a b; do
  out=$(status $n)
  [[ $out == *"since the API server was last heard from"* ]] &&
    pass "node $n: status reports stale identities while the API server is away" ||
    fail "node $n: status during the outage: $out"
  s=$(metric $n bulkhead_identity_staleness_seconds)
  awk -v s="$s" 'BEGIN {exit !(s >= 5)}' && pass "node $n: bulkhead_identity_staleness_seconds $s" ||
    fail "node $n: bulkhead_identity_staleness_seconds $s during the outage"
done
sleep 20
API_OK1=$(grep -c ' ok api ' "$TOP/probe")
DB_OK=$(grep -c ' ok db ' "$TOP/probe")
[ "$DB_OK" = 0 ] && pass "API server away 30 s: no forbidden attempt succeeded ($(grep -c ' db ' "$TOP/probe") tried)" ||
  fail "API server away: $DB_OK forbidden attempts succeeded"
[ $((API_OK1 - API_OK0)) -ge 50 ] && pass "API server away: allowed traffic kept working (+$((API_OK1 - API_OK0)))" ||
  fail "API server away: allowed traffic +$((API_OK1 - API_OK0)) only"
R0a=$(metric a bulkhead_identity_relists_total) R0b=$(metric b bulkhead_identity_relists_total)
kapi '{"cmd": "compact"}'
kapi '{"cmd": "expire_watches"}'
relisted() {  # NODE BEFORE
  local _
  for _ in $(seq 150); do
    awk -v a="$(metric "$1" bulkhead_identity_relists_total)" -v b="$2" 'BEGIN {exit !(a > b)}' &&
      return 0
    sleep 0.1
  done
  return 1
}
relisted a "$R0a" && grep -q "is gone; listing again" "$TOP"/a/agent-*.log &&
  pass "node a: 410 Gone answered by a relist" || fail "node a did not relist after 410"
relisted b "$R0b" && grep -q "is gone; listing again" "$TOP"/b/agent-*.log &&
  pass "node b: 410 Gone answered by a relist" || fail "node b did not relist after 410"
for n in a b; do wait_status $n "current (every watch open)" "node $n: identities current again"; done
phase "API server away, 410"

# --- 5. policy rollout -------------------------------------------------------------------------
python3 - "$TOP/policy-1.yaml" "$TOP/policy-2.yaml" <<'PY'
import sys
text = open(sys.argv[1]).read()
rule = "  - {from: shop/frontend, to: shop/db, protocol: tcp, port: 5432}\n"
head, sep, tail = text.partition("allow:\n")
assert sep, "no allow: in the policy"
open(sys.argv[2], "w").write(head + sep + rule + tail)
PY
for n in a b; do configmap_swap $n "$TOP/policy-2.yaml"; done
for n in a b; do
  wait_status $n "$(digest "$TOP/policy-2.yaml")" "node $n: took the new policy from the ..data swap"
done
reaches $FRONT db "${POD_IP4[$DB]}" 5432 && pass "the new policy's edge frontend -> db works across nodes" ||
  fail "the new policy's edge frontend -> db does not work"
printf 'apiVersion: bulkhead/v1\nkind: Policy\ngroups:\n  - {name: [broken\n' >"$TOP/policy-3.yaml"
for n in a b; do configmap_swap $n "$TOP/policy-3.yaml"; done
sleep 2
for n in a b; do
  out=$(status $n)
  [[ $out == *"$(digest "$TOP/policy-2.yaml")"* ]] && grep -q "policy.yaml:[0-9]*:[0-9]*" "$TOP"/$n/agent-*.log &&
    pass "node $n: the broken policy is refused (file:line:column logged), the previous one stays" ||
    fail "node $n: broken policy: status $out"
done
reaches $FRONT db "${POD_IP4[$DB]}" 5432 && pass "after the broken policy: frontend -> db still allowed" ||
  fail "after the broken policy: frontend -> db refused"
phase "policy rollout"

for n in a b; do stop_agent $n; done
[ "$FAILS" -eq 0 ] && echo "all cluster checks passed" && exit 0
exit 1
