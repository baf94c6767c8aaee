# The e2e test's application, run by busybox sh inside the containers (bind-mounted at /app).
# Every line written carries the boot-clock time (/proc/uptime is not namespaced, so the test
# compares it with its own reading) and the result, so the test can count and time successes.
#
#   sh /app/app.sh serve PORT NAME [PORT NAME...] -- [TARGET...]
#       answer "NAME-ok" on each PORT, and run `client` over the TARGETs (or sleep)
#   sh /app/app.sh client TARGET...     every 200 ms, one connection per TARGET, in turn
#   sh /app/app.sh probe FILE PERIOD_US COUNT TARGET...
#       every PERIOD_US, one attempt per TARGET started in the background (so a dropped SYN does
#       not hold the next attempt back); COUNT 0: forever; then sleeps (the container stays up).
#       FILE.beat holds "ROUNDS UPTIME", replaced (rename) after each round: the heartbeat by
#       which the test knows the probe is alive before it judges by FILE
# TARGET is name,address,port: a success is a connection whose answer is "name-ok".

attempt() {  # name address port -> "UPTIME ok|fail name address port"
  # `timeout 3`: busybox nc -w does not bound a read on a connection whose packets stop coming
  # (a connection in flight when the first ruleset turns conntrack on in this namespace has its
  # replies judged as new connections and dropped), and one hung attempt would stall the loop.
  if timeout 3 nc -w 1 "$2" "$3" </dev/null 2>/dev/null | grep -q "^$1-ok"; then r=ok; else r=fail; fi
  read -r now _ </proc/uptime
  echo "$now $r $1 $2 $3"
}

split() { echo "$1" | tr , ' '; }

case $1 in
  serve)
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
      nc -ll -p "$1" -e echo "$2-ok" &
      shift 2
    done
    [ $# -gt 0 ] && shift
    if [ $# -gt 0 ]; then exec sh "$0" client "$@"; fi
    exec sleep 100000
    ;;
  client)
    shift
    while :; do
      for t in "$@"; do
        # shellcheck disable=SC2046
        attempt $(split "$t")
      done
      usleep 200000
    done
    ;;
  probe)
    file=$2 period=$3 count=$4
    shift 4
    read -r now _ </proc/uptime
    echo "$now start" >>"$file"
    i=0
    while [ "$count" = 0 ] || [ $i -lt "$count" ]; do
      for t in "$@"; do
        # shellcheck disable=SC2046
        attempt $(split "$t") >>"$file" &
      done
      usleep "$period"
      i=$((i + 1))
      read -r now _ </proc/uptime
      echo "$i $now" >"$file.beat.tmp" && mv -f "$file.beat.tmp" "$file.beat"
    done
    wait
    exec sleep 100000  # the container stays up for the test's docker exec
    ;;
esac
