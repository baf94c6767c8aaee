# Sourced by the kernel tests: echo servers (socat) in a network namespace, so that a refused
# connection is refused by the ruleset, not by a missing listener. Each server's pid is added to
# the caller's PIDS array (the caller's cleanup kills them).
#   serve_echo NS "TCP PORTS" "UDP PORTS"
serve_echo() {
  local port
  for port in $2; do
    ip netns exec "$1" socat TCP6-LISTEN:$port,fork,reuseaddr,ipv6only=0 EXEC:cat 2>/dev/null &
    PIDS+=($!)
  done
  for port in $3; do
    ip netns exec "$1" socat UDP6-RECVFROM:$port,fork,reuseaddr,ipv6only=0 EXEC:cat 2>/dev/null &
    PIDS+=($!)
  done
}
