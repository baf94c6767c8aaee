#!/usr/bin/env bash
# bench/run.sh: how much slower and bigger is `bulkhead learn` than reading the same capture with
# a bare libpcap loop, and than tshark's TCP conversation table? One run, one file, page cache warm.
#
# Measures wall time and peak RSS (GNU time -v) of
#   (a) bulkhead learn --pcap FILE --inventory INV -o OUT
#   (b) bench/pcap_count FILE              (pcap_open_offline + pcap_next_ex, counting only)
#   (c) tshark -q -z conv,tcp -r FILE
# REPEAT times each (median reported), and learn's memory per flow against a tiny capture.
#
# Works from a fresh checkout: builds the release preset if a binary is missing and generates the
# capture if it is missing. Environment (defaults in brackets):
#   BULKHEAD        [build/release/bulkhead]
#   PCAP_COUNT      [build/release/bench/pcap_count]
#   BENCH_PCAP      [bench/out/bench.pcap]     BENCH_INVENTORY [bench/out/bench-inventory.yaml]
#   BENCH_PACKETS   [5000000]                  (only used when the capture has to be generated)
#   REPEAT          [3]
#   SKIP_BUILD=1    never build; SKIP_TSHARK=1 / SKIP_LEARN=1 leave that row out
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BULKHEAD=${BULKHEAD:-build/release/bulkhead}
PCAP_COUNT=${PCAP_COUNT:-build/release/bench/pcap_count}
BENCH_PCAP=${BENCH_PCAP:-bench/out/bench.pcap}
BENCH_INVENTORY=${BENCH_INVENTORY:-bench/out/bench-inventory.yaml}
BENCH_PACKETS=${BENCH_PACKETS:-5000000}
REPEAT=${REPEAT:-3}
SKIP_BUILD=${SKIP_BUILD:-0}
SKIP_TSHARK=${SKIP_TSHARK:-0}
SKIP_LEARN=${SKIP_LEARN:-0}
TIME=/usr/bin/time

die() { echo "run.sh: $*" >&2; exit 1; }
note() { echo "run.sh: $*" >&2; }

[[ -x $TIME ]] || die "$TIME is missing (apt-get install time)"
"$TIME" -v true 2>/dev/null || die "$TIME does not support -v (need GNU time)"
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer"

# --- build what is missing -------------------------------------------------------------------
if [[ $SKIP_BUILD != 1 ]] && { [[ ! -x $PCAP_COUNT ]] || { [[ $SKIP_LEARN != 1 ]] && [[ ! -x $BULKHEAD ]]; }; }; then
  note "building the release preset"
  [[ -f build/release/build.ninja ]] || cmake --preset release >&2
  # pcap_count first and on its own, so a bulkhead that does not build yet still leaves (b) and (c).
  cmake --build --preset release --target pcap_count >&2
  if [[ $SKIP_LEARN != 1 ]]; then
    cmake --build --preset release --target bulkhead >&2 || note "bulkhead did not build"
  fi
fi
[[ -x $PCAP_COUNT ]] || die "no pcap_count at $PCAP_COUNT"
if [[ $SKIP_LEARN != 1 && ! -x $BULKHEAD ]]; then
  note "no bulkhead binary at $BULKHEAD: leaving out the learn row (set BULKHEAD=...)"
  SKIP_LEARN=1
fi
if [[ $SKIP_TSHARK != 1 ]] && ! command -v tshark >/dev/null; then
  note "tshark not installed: leaving out its row"
  SKIP_TSHARK=1
fi

# --- inputs ----------------------------------------------------------------------------------
if [[ ! -f $BENCH_PCAP || ! -f $BENCH_INVENTORY ]]; then
  note "generating $BENCH_PCAP ($BENCH_PACKETS packets; about 90 s per 5 M)"
  python3 tools/gen_traffic.py bench -o "$BENCH_PCAP" --inventory "$BENCH_INVENTORY" \
    --packets "$BENCH_PACKETS" >&2
fi
# The memory baseline: the same inventory (the generator's inventory depends only on the seed)
# with a capture too small to hold more than a handful of flows.
TINY_PCAP=$(dirname "$BENCH_PCAP")/tiny.pcap
if [[ ! -f $TINY_PCAP ]]; then
  python3 tools/gen_traffic.py bench -o "$TINY_PCAP" --inventory "${TINY_PCAP%.pcap}-inventory.yaml" \
    --packets 200 >&2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bulkhead-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- measuring -------------------------------------------------------------------------------
# measure NAME CMD...: runs CMD REPEAT times under GNU time; leaves NAME.wall / NAME.rss (medians,
# seconds and KiB) and NAME.stderr (of the last run) in $WORK.
measure() {
  local name=$1
  shift
  : >"$WORK/$name.walls"
  : >"$WORK/$name.rsss"
  : >"$WORK/$name.cpus"
  for ((i = 1; i <= REPEAT; i++)); do
    local start end
    start=$(date +%s%N)
    if ! "$TIME" -v -o "$WORK/$name.time" "$@" >"$WORK/$name.stdout" 2>"$WORK/$name.stderr"; then
      tail -5 "$WORK/$name.stderr" >&2
      die "$name failed: $*"
    fi
    end=$(date +%s%N)
    # Wall time from the clock around the run: time -v's "Elapsed" has only 10 ms resolution.
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }' >>"$WORK/$name.walls"
    awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/$name.time" >>"$WORK/$name.rsss"
    # CPU time (user + system): less disturbed than wall time when the machine is busy.
    awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ { s += $2 } END { print s }' \
      "$WORK/$name.time" >>"$WORK/$name.cpus"
  done
  local mid=$(((REPEAT + 1) / 2))
  sort -g "$WORK/$name.walls" | sed -n "${mid}p" >"$WORK/$name.wall"
  sort -g "$WORK/$name.rsss" | sed -n "${mid}p" >"$WORK/$name.rss"
  sort -g "$WORK/$name.cpus" | sed -n "${mid}p" >"$WORK/$name.cpu"
  note "$name: wall $(tr '\n' ' ' <"$WORK/$name.walls")s, cpu $(tr '\n' ' ' <"$WORK/$name.cpus")s, rss $(tr '\n' ' ' <"$WORK/$name.rsss")KiB"
}
warm() { cat "$BENCH_PCAP" >/dev/null; }
val() { cat "$WORK/$1.$2"; }

warm
measure bare "$PCAP_COUNT" "$BENCH_PCAP"
read -r _ packets _ wire_bytes _ <"$WORK/bare.stdout"

if [[ $SKIP_LEARN != 1 ]]; then
  # A real output file, not /dev/null: learn writes its graph by rename, which must never be
  # pointed at a device node.
  measure learn_tiny "$BULKHEAD" learn --pcap "$TINY_PCAP" --inventory "$BENCH_INVENTORY" \
    -o "$WORK/tiny-graph.yaml"
  warm
  measure learn "$BULKHEAD" learn --pcap "$BENCH_PCAP" --inventory "$BENCH_INVENTORY" \
    -o "$WORK/graph.yaml"
  summary=$(grep -a 'learned:' "$WORK/learn.stderr" | tail -1 || true)
  learn_flows=$(sed -n 's/.*learned: [0-9]* packets, \([0-9]*\) flows.*/\1/p' <<<"$summary")
  learn_packets=$(sed -n 's/.*learned: \([0-9]*\) packets.*/\1/p' <<<"$summary")
fi
if [[ $SKIP_TSHARK != 1 ]]; then
  warm
  measure tshark tshark -q -z conv,tcp -r "$BENCH_PCAP"
fi

# --- report ----------------------------------------------------------------------------------
stats="$BENCH_PCAP.stats.json"
peak_flows=""
if [[ -f $stats ]]; then
  peak_flows=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["peak_table_flows"])' "$stats")
fi
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
mpps() { awk -v p="$packets" -v s="$1" 'BEGIN { if (s > 0) printf "%.2f", p / s / 1e6; else print "-" }'; }

echo
echo "### bulkhead learn vs bare libpcap vs tshark"
echo
echo "File: \`$BENCH_PCAP\`, $packets packets, $(du -m "$BENCH_PCAP" | cut -f1) MiB on disk," \
  "$(mib $((wire_bytes / 1024))) MiB on the wire. Median of $REPEAT runs, page cache warm." \
  "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')."
echo
echo "| run | wall s | M packets/s | x bare (wall) | CPU s | x bare (CPU) | peak RSS MiB |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
bare_wall=$(val bare wall)
bare_cpu=$(val bare cpu)
row() {  # label name
  local w c
  w=$(val "$2" wall)
  c=$(val "$2" cpu)
  echo "| $1 | $w | $(mpps "$w") | $(ratio "$w" "$bare_wall") | $c | $(ratio "$c" "$bare_cpu") |" \
    "$(mib "$(val "$2" rss)") |"
}
row "bare pcap_next_ex loop" bare
if [[ $SKIP_LEARN != 1 ]]; then
  row "bulkhead learn" learn
fi
if [[ $SKIP_TSHARK != 1 ]]; then
  row "tshark -z conv,tcp" tshark
fi
if [[ $SKIP_LEARN != 1 ]]; then
  rss=$(val learn rss)
  base=$(val learn_tiny rss)
  echo
  echo "learn summary: ${summary:-"(no summary line found)"}"
  if [[ -n ${learn_packets:-} && $learn_packets != "$packets" ]]; then
    echo "WARNING: learn counted $learn_packets packets, the bare loop $packets"
  fi
  echo
  echo "| learn memory | value |"
  echo "| --- | ---: |"
  echo "| peak RSS, tiny capture (base) | $(mib "$base") MiB |"
  echo "| peak RSS, bench capture | $(mib "$rss") MiB |"
  if [[ -n ${learn_flows:-} && ${learn_flows:-0} -gt 0 ]]; then
    echo "| flows reported by learn | $learn_flows |"
    echo "| (rss - base) / flows reported | $(awk -v r="$rss" -v b="$base" -v f="$learn_flows" \
      'BEGIN { printf "%.0f", (r - b) * 1024 / f }') bytes |"
  fi
  if [[ -n $peak_flows && $peak_flows -gt 0 ]]; then
    echo "| live flows at peak (generator estimate) | $peak_flows |"
    echo "| (rss - base) / live flows at peak | $(awk -v r="$rss" -v b="$base" -v f="$peak_flows" \
      'BEGIN { printf "%.0f", (r - b) * 1024 / f }') bytes |"
  fi
fi
