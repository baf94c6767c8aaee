"""Summarizes bench/enforce_bench.sh's raw.txt: medians and ratios of one run."""
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
for prefix, what in (("update ", "membership update (MembershipTracker, what the agent does)"),
                     ("update_diff ", "membership update by diffing two full compiles (baseline)")):
    for line in lines:
        if line.startswith(prefix):
            print(what + ":", line[len(prefix):])
pat = (r"dataplane round \d+ cond (\S+) denied_port_open (\d) gbps (\S+) connections (\d+) "
       r"failed (\d+) per_second (\S+)")
conds = []
dp = {}
for line in lines:
    m = re.match(pat, line)
    if m:
        if m.group(1) not in dp:
            conds.append(m.group(1))
            dp[m.group(1)] = ([], [], [])
        dp[m.group(1)][0].append(float(m.group(3)))
        dp[m.group(1)][1].append(float(m.group(6)))
        dp[m.group(1)][2].append(int(m.group(2)))
if "none" not in dp or "conntrack" not in dp:
    sys.exit(0)
base_g, base_c = med(dp["none"][0]), med(dp["none"][1])
ct_g, ct_c = med(dp["conntrack"][0]), med(dp["conntrack"][1])
print(f"dataplane (median of {len(dp['none'][0])} rounds; ratios: of none / of conntrack-only):")
for c in conds:
    g, r = med(dp[c][0]), med(dp[c][1])
    print(f"  {c:13s} iperf3 {g:6.2f} Gbit/s ({g / base_g:5.3f} / {g / ct_g:5.3f})  TCP connections "
          f"{r:7.0f}/s ({r / base_c:5.3f} / {r / ct_c:5.3f})  denied port open: {dp[c][2]}")
