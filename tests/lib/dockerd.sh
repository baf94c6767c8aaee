# Shared shell for the tests that run a real dockerd (sourced, not run): tests/integration/docker
# and tests/e2e. The dockerd is the test's own: its own network namespace (so its bridges, veths,
# sysctls and nftables never touch the machine's), its own data/exec roots and socket under a temp
# dir, --iptables=false --ip6tables=false (without them dockerd neither writes iptables rules nor
# loads br_netfilter, which is global and would change bridged traffic in other tests'
# namespaces), --bridge=none (no docker0) and --live-restore (containers survive a dockerd
# restart). Never run a dockerd in the root namespace: it sets the FORWARD policy to DROP.
# DOCKERD_IPTABLES=true (bench/enforce_bench.sh) lets this dockerd write its iptables rules, as
# on a real host: they stay in its own namespace, but it also turns br_netfilter on there.
#
#   source tests/lib/dockerd.sh
#   dockerd_init PREFIX DEADLINE   # sets NS, WORK, SOCK, DOCKER_HOST, DOCKER; traps; watchdog
#   dockerd_start                  # dockerd up in $NS, answering on $SOCK
#   dockerd_image NAME             # a busybox-static image (no registry is reachable)
#   ... pass/fail/die, inns CMD (run in $NS), inns_bg CMD (in the background: BG_PID),
#   PIDS+=(pid) for anything else to kill at exit ...
#
# Cleanup (EXIT, also after the deadline's TERM or a Ctrl-C) ends only what the test started, by
# pid or name: its background jobs (PIDS), its containers, dockerd, the containerd and shims under
# its exec root, every process left in its namespace, its mounts; then deletes the namespace. A
# caller may define `cleanup_hook` (run first). The work directory is kept when a check failed
# or BHD_KEEP=1.

# NS, WORK, SOCK, DOCKER, PIDS, FAILS are the caller's too (the tests read them).
dockerd_init() {  # prefix deadline-seconds
  NS="$1$$"
  WORK=$(mktemp -d "/tmp/$NS.XXXXXX")
  SOCK="$WORK/docker.sock"
  export DOCKER_HOST="unix://$SOCK"
  # The docker CLI of docker.io; another one earlier in PATH works too (it negotiates the version).
  DOCKER=$(command -v docker)
  PIDS=()
  FAILS=0
  trap dockerd_cleanup EXIT
  # The deadline (TERM) and Ctrl-C still run the EXIT trap, and count as a failure (logs kept).
  trap 'echo "FAIL: interrupted"; FAILS=$((FAILS + 1)); exit 1' INT TERM
  ( sleep "$2"; echo "deadline of $2 s reached" >&2; kill -TERM $$ ) & PIDS+=($!)

  [ "$(id -u)" = 0 ] || die "needs root (network namespaces, dockerd)"
  local cmd
  for cmd in dockerd containerd runc nsenter python3 ip; do
    command -v "$cmd" >/dev/null || die "$cmd not installed (apt-get install docker.io)"
  done
  [ -n "$DOCKER" ] || die "docker CLI not installed"
  ip netns add "$NS" || die "ip netns add $NS"
  ip -n "$NS" link set lo up
}

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }
die() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); exit 1; }
inns() { nsenter --net="/var/run/netns/$NS" "$@"; }
# In the background, killed at exit; BG_PID is the command itself (nsenter execs it), not a
# subshell (`inns CMD &` would give a subshell's pid, whose TERM leaves CMD running).
inns_bg() {
  nsenter --net="/var/run/netns/$NS" "$@" &
  BG_PID=$!
  PIDS+=("$BG_PID")
}

dockerd_pid() { cat "$WORK/dockerd.pid" 2>/dev/null; }

dockerd_start() {
  rm -f "$WORK/dockerd.pid"
  inns dockerd --data-root "$WORK/data" --exec-root "$WORK/exec" --pidfile "$WORK/dockerd.pid" \
    -H "unix://$SOCK" --bridge=none --iptables="${DOCKERD_IPTABLES:-false}" --ip6tables=false --live-restore \
    >>"$WORK/dockerd.log" 2>&1 &
  local _
  for _ in $(seq 150); do
    timeout 2 "$DOCKER" version >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  tail -20 "$WORK/dockerd.log"
  die "dockerd did not answer on $SOCK"
}

dockerd_stop() {  # TERM, then KILL after 10 s; containers stay up (--live-restore)
  local d _
  d=$(dockerd_pid)
  [ -n "$d" ] && kill "$d" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$d" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$d" 2>/dev/null
}

# A busybox-static rootfs with every applet linked (the image has no libc for a dynamic one).
dockerd_image() {  # name:tag
  local busybox a
  busybox=$(command -v busybox) || die "busybox not installed (apt-get install busybox-static)"
  mkdir -p "$WORK/rootfs/bin"
  cp "$busybox" "$WORK/rootfs/bin/busybox"
  for a in $("$busybox" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$WORK/rootfs/bin/$a"
  done
  tar -C "$WORK/rootfs" -c . | "$DOCKER" import - "$1" >/dev/null || die "docker import $1"
}

dockerd_cleanup() {
  set +e
  declare -F cleanup_hook >/dev/null && cleanup_hook
  local p c d m ids
  for p in "${PIDS[@]}"; do
    for c in $(pgrep -P "$p"); do kill "$c" 2>/dev/null; done  # the watchdog's sleep
    kill "$p" 2>/dev/null
  done
  if [ -S "$SOCK" ] && [ -n "$(dockerd_pid)" ]; then
    ids=$(timeout 10 "$DOCKER" ps -aq 2>/dev/null)
    [ -n "$ids" ] && timeout 20 "$DOCKER" rm -f $ids >/dev/null 2>&1
  fi
  dockerd_stop
  # containerd and its shims run from our exec root (a path no other process names); end exactly
  # those, by pid.
  for p in $(pgrep -f "$WORK/exec" 2>/dev/null); do kill "$p" 2>/dev/null; done
  sleep 0.5
  for p in $(pgrep -f "$WORK/exec" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  for m in $(awk -v w="$WORK" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null
  done
  ip netns del "$NS" 2>/dev/null
  if [ "$FAILS" -eq 0 ] && [ "${BHD_KEEP:-0}" != 1 ]; then
    rm -rf "$WORK"
  else
    echo "work directory kept: $WORK"
  fi
}
