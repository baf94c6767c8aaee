"""Summarizes bench/enforce_bench.sh's raw.txt: medians and ratios of one run."""
import random
import re
import statistics
import sys

lines = open(sys.argv[1]).read().splitlines()
med = statistics.median


def vals(prefix, key):
    out = []
    for line in lines:
        if line.startswith(prefix):
            m = re.search(r"\b%s (\S+)" % key, line)
            if m:
                out.append(float(m.group(1)))
    return out


def nft(label):
    rows = [line.split() for line in lines if line.startswith(label)]
    return med(float(r[2]) for r in rows), med(float(r[4]) + float(r[5]) for r in rows)


runs = [line for line in lines if line.startswith("bulkhead_run")]
for line in lines:
    if line.startswith("# work"):
        print(line[2:])
print(lines[0][2:])
if runs:  # PARTS included apply
    ours = med(vals("bulkhead_run", "total_ms")) / 1e3
    ours_cpu = med(vals("bulkhead_run", "cpu_ms")) / 1e3
    compile_s = med(vals("bulkhead_run", "compile_ms")) / 1e3
    commit_s = med(vals("bulkhead_run", "encode_commit_ms")) / 1e3
    same_w, same_c = nft("nft_f_same")
    naive_w, naive_c = nft("nft_f_naive")
    print(f"apply (compile+commit), median of {len(runs)}: {ours:.2f} s wall ({compile_s:.2f} "
          f"compile + {commit_s:.2f} encode+commit), {ours_cpu:.2f} s CPU")
    print(f"nft -f same ruleset: {same_w:.2f} s wall, {same_c:.2f} s CPU -> bulkhead/nft = "
          f"{ours / same_w:.2f} (wall), {ours_cpu / same_c:.2f} (CPU)")
    print(f"nft -f naive (1 rule per edge): {naive_w:.2f} s wall, {naive_c:.2f} s CPU")
for prefix, what in (("update ", "membership update (MembershipTracker.PlanWorkloads; the agent plans by "
                                "comparing inventories: plan_by_inventory_compare_ms)"),
                     ("update_diff ", "membership update by diffing two full compiles (baseline)")):
    for line in lines:
        if line.startswith(prefix):
            print(what + ":", line[len(prefix):])
# Dataplane: per condition the median, and per round the ratio to a baseline condition of the
# same round (conditions alternate within seconds); median ratio with a bootstrap 95 % interval.
conn, iperf, denied = {}, {}, {}
for line in lines:
    m = re.match(r"dataplane conn round (\d+) cond (\S+) connections \d+ failed (\d+) per_second (\S+)", line)
    if m:
        conn.setdefault(m.group(2), {})[int(m.group(1))] = float(m.group(4))
    m = re.match(r"dataplane iperf round (\d+) cond (\S+) gbps (\S+)", line)
    if m:
        iperf.setdefault(m.group(2), {})[int(m.group(1))] = float(m.group(3))
    m = re.match(r"dataplane cond (\S+) denied_port_open (\d)", line)
    if m:
        denied[m.group(1)] = m.group(2)
for line in lines:
    if line.startswith("dataplane bridge spoofed"):
        print(line)
if not conn:
    sys.exit(0)
rng = random.Random(1)


def ratio(data, cond, base):
    rs = [data[cond][r] / data[base][r] for r in data[cond] if r in data.get(base, {})]
    if not rs:
        return "-"
    boot = sorted(med(rng.choices(rs, k=len(rs))) for _ in range(2000))
    return f"{med(rs):.3f} [{boot[50]:.3f}-{boot[1949]:.3f}]"


bases = [b for b in ("none", "conntrack", "docker", "floor") if b in conn]
for what, data, unit in (("TCP connections/s", conn, "/s"), ("iperf3 Gbit/s", iperf, "")):
    if not data:
        continue
    n = len(next(iter(data.values())))
    print(f"dataplane {what}: median of {n} rounds; ratio to " + ", ".join(bases) +
          " (paired per round, median [95 % CI])")
    for c in sorted(data, key=lambda c: list(denied).index(c) if c in denied else 99):
        print(f"  {c:15s} {med(data[c].values()):9.2f}{unit}  " +
              "  ".join(f"{b}: {ratio(data, c, b)}" for b in bases) +
              f"  denied port open: {denied.get(c, '?')}")
