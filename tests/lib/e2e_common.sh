# Shared shell of the end-to-end tests (sourced after dockerd.sh, whose pass/fail it uses):
#
#   phase NAME          "== NAME: <s since the last phase> (total <s since sourcing>)"
#   pycheck WHAT ARGS... <<EOF   the python script on stdin decides: exit 0 passes WHAT
T0=$(date +%s.%N)
TP=$T0
now() { date +%s.%N; }
phase() {
  local t
  t=$(now)
  echo "== $1: $(echo "$t $TP" | awk '{printf "%.1f s", $1 - $2}') (total $(echo "$t $T0" |
    awk '{printf "%.1f s", $1 - $2}'))"
  TP=$t
}
pycheck() {
  local what=$1
  shift
  if python3 - "$@"; then pass "$what"; else fail "$what"; fi
}
