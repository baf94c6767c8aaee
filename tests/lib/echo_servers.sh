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
  wait_listening "$1" "$2" "$3"
}

# wait_listening NS "TCP PORTS" "UDP PORTS": until every port has a socket in NS (5 s), so the
# first probe does not race the server's start on a loaded machine. 1 (with a line) if not.
# An entry ADDR:PORT (IPv6 as [ADDR]:PORT) wants a socket on exactly that address.
wait_listening() {
  local port missing tcp udp end=$((SECONDS + 5))
  while :; do
    missing=""
    tcp=$(ip netns exec "$1" ss -Hltn | awk '{print $4}')
    udp=$(ip netns exec "$1" ss -Hlun | awk '{print $4}')
    for port in $2; do
      has_socket "$port" "$tcp" || missing+=" tcp/$port"
    done
    for port in $3; do
      has_socket "$port" "$udp" || missing+=" udp/$port"
    done
    [ -z "$missing" ] && return 0
    [ $SECONDS -ge $end ] && break
    sleep 0.05
  done
  echo "servers in $1 not listening after 5 s:$missing"
  return 1
}
has_socket() {  # PORT|ADDR:PORT LOCAL_ADDRESSES (one per line)
  if [[ $1 == *:* ]]; then grep -qxF "$1" <<<"$2"; else grep -q ":$1\$" <<<"$2"; fi
}
