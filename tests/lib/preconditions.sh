# Sourced first by every kernel shell test: checks once what the whole test depends on, and when it
# does not hold names it in ONE line and exits 1, before the test builds anything. Without this,
# a machine where `ip netns exec` cannot work (a chroot, a container without CAP_SYS_ADMIN for
# its mount namespace) failed each test with its first symptom ("servers not listening",
# "br_netfilter unavailable") repeated for every probe.
#
#   source tests/lib/preconditions.sh
#   require_netns                    root, and `ip netns add` works
#   require_netns_exec               that, and `ip netns exec` works
#   require_br_netfilter NS CMD...   CMD (which turns br_netfilter's switches on) works in NS;
#                                    tells a failed `ip netns exec` from an absent sysctl
#
# Both fail the test (exit 1): a kernel test that cannot run is not a pass, and it is not skipped.

# The first line of a command's error output, for a one-line message.
precondition_first_line() {
  local text=${1%%$'\n'*}
  echo "${text:-no error output}"
}

# Root, and network namespaces can be made (the docker tests enter theirs with nsenter).
require_netns() {
  local ns="bhpre$$" err
  if [ "$(id -u)" != 0 ]; then
    echo "precondition: this kernel test needs root (network namespaces, nftables)"
    exit 1
  fi
  if ! command -v ip >/dev/null; then
    echo "precondition: \`ip\` is not installed (apt-get install iproute2)"
    exit 1
  fi
  if ! err=$(ip netns add "$ns" 2>&1); then
    echo "precondition: \`ip netns add\` does not work here ($(precondition_first_line "$err"))"
    exit 1
  fi
  ip netns del "$ns"
}

require_netns_exec() {
  local ns="bhpre$$" err
  require_netns
  ip netns add "$ns" || exit 1
  # `ip netns exec` needs a private mount namespace and a fresh /sys, which a chroot or an
  # unprivileged container refuses; `true` shows that before any server is started.
  if ! err=$(ip netns exec "$ns" true 2>&1); then
    ip netns del "$ns" 2>/dev/null
    echo "precondition: \`ip netns exec\` does not work here ($(precondition_first_line "$err"))"
    exit 1
  fi
  ip netns del "$ns"
}

# br_netfilter hands bridged frames to the inet table; its switches are per namespace
# (/proc/sys/net/bridge/bridge-nf-call-*), present only once the module is loaded.
require_br_netfilter() {  # ns cmd...
  local ns=$1 err
  shift
  if ! err=$(ip netns exec "$ns" true 2>&1); then
    echo "precondition: \`ip netns exec $ns\` failed ($(precondition_first_line "$err"))"
    exit 1
  fi
  local sysctl=/proc/sys/net/bridge/bridge-nf-call-iptables
  if ! ip netns exec "$ns" test -e "$sysctl"; then
    err=$(modprobe br_netfilter 2>&1) && err="modprobe br_netfilter succeeded"
    if ! ip netns exec "$ns" test -e "$sysctl"; then
      echo "precondition: br_netfilter unavailable: no $sysctl in $ns" \
        "($(precondition_first_line "$err"))"
      exit 1
    fi
  fi
  if ! err=$(ip netns exec "$ns" "$@" 2>&1 >/dev/null); then
    echo "precondition: br_netfilter's switches could not be set in $ns by $*" \
      "($(precondition_first_line "$err"))"
    exit 1
  fi
}
