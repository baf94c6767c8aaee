"""Prints `nft -j list ruleset` (stdin) in a form that compares equal for equal rulesets:
handles, counter values, the kernel's element order and the elements of bulkhead's dynamic sets
that traffic fills (`hits`, and the violation log's per-source budgets and suppressed counts;
nft 1.0.6's JSON does not show the dynamic flag) dropped."""
import json
import sys


def norm(x):
    if isinstance(x, dict):
        out = {}
        for k, v in x.items():
            if k in ("handle", "packets", "bytes"):
                continue
            if k == "elem" and isinstance(v, list):
                out[k] = sorted((norm(e) for e in v), key=lambda e: json.dumps(e, sort_keys=True))
            else:
                out[k] = norm(v)
        return out
    if isinstance(x, list):
        return [norm(e) for e in x]
    return x


doc = json.load(sys.stdin)
for i in doc["nftables"]:
    s = i.get("set")
    if s and s.get("table") == "bulkhead" and s.get("name") in (
            "hits", "log_budget4", "log_budget6", "suppressed4", "suppressed6"):
        s.pop("elem", None)
items = [norm(i) for i in doc["nftables"] if "metainfo" not in i]
print(json.dumps(items, sort_keys=True, indent=1))
