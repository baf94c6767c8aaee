#!/usr/bin/env bash
# Kernel test of following the policy file (agent.yaml `followPolicy`, on by default) the way a
# Kubernetes node mounts a ConfigMap (CTest label `kernel`): the policy is DIR/policy.yaml ->
# ..data/policy.yaml, ..data -> ..<timestamp>/, and a new version comes as kubelet writes it: a
# new timestamped directory, a ..data_tmp symlink renamed over ..data, the old directory removed.
# The agent runs with a static inventory in the shop's namespace H (tests/lib/shop_netns.sh).
# Checks: a new policy swapped in is in force within a few seconds (`bulkhead status` shows the
# digest `sha256sum` gives, bulkhead_policy_info says so, the kernel's ruleset changed, web->db
# connects); a broken policy swapped in is refused (file:line:column in the log, the metric, the
# refused digest in status, the old digest kept, the ruleset unchanged) and not tried again when
# the same bytes come back; a policy that loads but cannot be applied on this node is refused the
# same way; a good one after them is applied.
# Usage: agent_policy_follow_test.sh BULKHEAD SOURCE_DIR
set -u
BH=$1
SRC=$2
source "$SRC/../../lib/preconditions.sh" && require_netns_exec
ID="bpf$$"
DEADLINE=${BPF_DEADLINE:-80}
TMP=$(mktemp -d /tmp/agent_policy_follow.XXXXXX)
source "$SRC/../../lib/shop_netns.sh"
shop_setup

CM=$TMP/configmap  # the ConfigMap's volume, as kubelet lays it out
CTL=$TMP/control.sock
METRICS=127.0.0.1:19471
STAMP=0
# Writes a new version of the ConfigMap from FILE the way kubelet's AtomicWriter does.
project() {  # file
  local old new
  old=$(readlink "$CM/..data" 2>/dev/null)
  STAMP=$((STAMP + 1))
  new="..2026_12_07_23_00_00.00000000$STAMP"
  mkdir -p "$CM/$new" && cp "$1" "$CM/$new/policy.yaml"
  if [ -z "$old" ]; then
    ln -s "$new" "$CM/..data" && ln -s ..data/policy.yaml "$CM/policy.yaml"
    return
  fi
  ln -s "$new" "$CM/..data_tmp" && mv -T "$CM/..data_tmp" "$CM/..data" && rm -rf "${CM:?}/$old"
}
digest() { echo "sha256:$(sha256sum < "$1" | cut -d' ' -f1)"; }
metric() {  # name{labels} -> value
  inh python3 -c "
import sys, urllib.request
text = urllib.request.urlopen('http://$METRICS/metrics', timeout=3).read().decode()
for line in text.splitlines():
    if line.startswith(sys.argv[1] + ' '):
        print(line.split()[-1])
" "$1"
}
status() { "$BH" status --control "$CTL" 2>&1; }
# The ruleset without counters (a probe changes those, not the rules).
rules() { inh nft -s list table inet bulkhead; }

cp "$SRC/../enforce_cli/policy.yaml" "$TMP/v1.yaml"
python3 - "$TMP/v1.yaml" "$TMP/v2.yaml" <<'PY'
import sys
s = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(
    s.replace("allow:\n", "allow:\n  - {from: web, to: db, protocol: tcp, port: 5432}\n", 1))
PY
# Loads, but cannot be applied on this node: web-1 would be in two groups.
python3 - "$TMP/v2.yaml" "$TMP/unapplicable.yaml" <<'PY'
import sys
s = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(
    s.replace("groups:\n", "groups:\n  - name: webcopy\n    selector: {app: web}\n", 1))
PY
cp "$TMP/v2.yaml" "$TMP/bad.yaml"
echo "allow_typo: []" >> "$TMP/bad.yaml"
BAD_LINE=$(wc -l < "$TMP/bad.yaml")
mkdir "$CM"
project "$TMP/v1.yaml"
cat > "$TMP/agent.yaml" <<CONF
mode: enforce
policy: $CM/policy.yaml
inventory: {file: $SRC/../enforce_cli/inventory.yaml}
nflogGroup: 7
metrics: $METRICS
control: $CTL
violations: $TMP/violations.jsonl
CONF
ip netns exec "$H" "$BH" agent --config "$TMP/agent.yaml" >> "$TMP/agent.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do status | grep -q "^last apply" && break; sleep 0.1; done
D1=$(digest "$TMP/v1.yaml"); D2=$(digest "$TMP/v2.yaml"); DBAD=$(digest "$TMP/bad.yaml")
status | grep -q "^policy: $CM/policy.yaml $D1, loaded .*(following changes in $CM)" \
  && pass "status names the policy by its sha256sum: $(status | grep '^policy:')" \
  || fail "status before the swap: $(status)"
[ "$(metric "bulkhead_policy_info{digest=\"$D1\"}")" = 1 ] && pass "bulkhead_policy_info for $D1" \
  || fail "bulkhead_policy_info for $D1: $(metric "bulkhead_policy_info{digest=\"$D1\"}")"
probe "$WEB" 10.10.0.4 5432 && fail "web->db connected under v1" || pass "web->db refused under v1"
RULES1=$(rules)

# --- A new policy through kubelet's ..data swap --------------------------------------------------
t0=$(date +%s%N)
project "$TMP/v2.yaml"
took=""
for _ in $(seq 1 100); do
  if status | grep -q "^policy: $CM/policy.yaml $D2"; then took=$(( ($(date +%s%N) - t0) / 1000000 )); break; fi
  sleep 0.05
done
[ -n "$took" ] && [ "$took" -le 5000 ] && pass "the swapped policy is in force after $took ms" \
  || fail "status after the swap: $(status)"
RULES2=$(rules)
[ "$RULES2" != "$RULES1" ] && pass "the kernel's ruleset changed" || fail "the ruleset did not change"
probe "$WEB" 10.10.0.4 5432 && pass "web->db connects under v2" || fail "web->db refused under v2"
[ "$(metric "bulkhead_policy_info{digest=\"$D2\"}")" = 1 ] && [ -z "$(metric "bulkhead_policy_info{digest=\"$D1\"}")" ] \
  && pass "bulkhead_policy_info moved to $D2" || fail "bulkhead_policy_info after the swap"
[ "$(metric 'bulkhead_policy_reloads_total{result="ok"}')" = 1 ] && pass "one reload counted" \
  || fail "reloads ok: $(metric 'bulkhead_policy_reloads_total{result="ok"}')"

# --- A broken policy through the same swap: refused, the old one stays -----------------------------
RULES2=$(rules)  # after the probe: no traffic from here until the compare
project "$TMP/bad.yaml"
if wait_for "$TMP/agent.log" "$CM/policy.yaml:$BAD_LINE:1: .*allow_typo"; then
  pass "refused with file:line:column: $(grep -m1 "policy.yaml:$BAD_LINE:1" "$TMP/agent.log" | sed 's/.*\] //')"
else
  fail "no file:line:column line for the broken policy: $(tail -5 "$TMP/agent.log")"
fi
[ "$(metric 'bulkhead_policy_reloads_total{result="error"}')" = 1 ] && pass "the refusal is counted" \
  || fail "reloads error: $(metric 'bulkhead_policy_reloads_total{result="error"}')"
status > "$TMP/status"
grep -q "^policy: $CM/policy.yaml $D2" "$TMP/status" \
  && grep -q "^policy refused: $DBAD at .*policy.yaml:$BAD_LINE:1:" "$TMP/status" \
  && pass "status keeps $D2 and names the refused one: $(grep '^policy refused' "$TMP/status")" \
  || fail "status after the broken swap: $(cat "$TMP/status")"
[ "$(rules)" = "$RULES2" ] && pass "the ruleset is unchanged" || fail "the ruleset changed after a refused policy"
# The same broken bytes again (a new timestamped directory): not tried again.
project "$TMP/bad.yaml"
sleep 1
[ "$(metric 'bulkhead_policy_reloads_total{result="error"}')" = 1 ] \
  && [ "$(grep -c "refused $DBAD" "$TMP/agent.log")" = 1 ] && pass "the same broken digest is not retried" \
  || fail "the broken digest was tried again: $(grep -c "refused" "$TMP/agent.log") refusals"
probe "$WEB" 10.10.0.4 5432 && pass "web->db still connects (v2 in force)" || fail "v2 is no longer in force"

# --- A policy that loads but cannot be applied here: refused the same way -------------------------
DUN=$(digest "$TMP/unapplicable.yaml")
project "$TMP/unapplicable.yaml"
for _ in $(seq 1 60); do status | grep -q "^policy refused: $DUN" && break; sleep 0.05; done
status > "$TMP/status"
grep -q "^policy: $CM/policy.yaml $D2" "$TMP/status" && grep -q "^policy refused: $DUN at .*webcopy" "$TMP/status" \
  && [ "$(metric 'bulkhead_policy_reloads_total{result="error"}')" = 2 ] && [ "$(rules)" = "$RULES2" ] \
  && pass "a policy that cannot be applied is refused: $(grep '^policy refused' "$TMP/status")" \
  || fail "the unapplicable policy: $(cat "$TMP/status")"

# --- A good policy after the broken one is applied --------------------------------------------------
project "$TMP/v1.yaml"
for _ in $(seq 1 100); do status | grep -q "^policy: $CM/policy.yaml $D1" && break; sleep 0.05; done
status | grep -q "^policy: $CM/policy.yaml $D1" && ! probe "$WEB" 10.10.0.4 5432 \
  && pass "v1 swapped back in and enforced" || fail "v1 after the broken policy: $(status)"
grep -q "differs from what was applied" "$TMP/agent.log" \
  && fail "the kernel's ruleset differed after an apply" || pass "every apply read back as sent"

if [ "$FAILS" -gt 0 ]; then
  echo "--- agent log"; cat "$TMP/agent.log"
  echo "$FAILS check(s) failed"; exit 1
fi
grep -E "policy file|enforce: applied" "$TMP/agent.log" | sed 's/^/agent: /'
echo "all checks passed"
