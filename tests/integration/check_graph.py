#!/usr/bin/env python3
"""Checks a learned flow graph (the JSON export) against the exact expected edges and groups.

Used by learn_live_test.sh. Exit status 0 when everything matches; otherwise prints every
difference (missing and unexpected edges, wrong counters, wrong groups) and exits 1.

  --edge FROM:TO:PROTO:PORT:CONNS   an expected edge; CONNS is an exact count, or N+ for "at least"
  --group NAME=M1,M2                an expected group with exactly these members (empty: none)
  --selector NAME=KEY:VALUE         the group's selector must be exactly {KEY: VALUE}
  --example FROM:TO:PROTO:PORT=A/B  the edge's examples must include the pair {from: A, to: B}
  --summary FILE                    bulkhead's stderr: the last `learned:` line must report packets,
                                    0 kernel drops and as many edges as expected
"""

import argparse
import json
import re
import sys

EDGE_KEYS = ["from", "to", "protocol", "port", "connections", "packets", "bytes",
             "firstSeen", "lastSeen", "examples"]
PROTOCOL_ORDER = ["tcp", "udp", "icmp", "icmpv6", "sctp"]
SUMMARY_RE = re.compile(
    r"learned: (?P<packets>\d+) packets, (?P<flows>\d+) flows, (?P<edges>\d+) edges, "
    r"malformed (?P<malformed>\d+)\b.*kernel drops (?P<drops>\d+)")


def parse_edge_key(text):
    # IPv6 never appears in keys (group names and numbers only), so ':' is a safe separator.
    parts = text.split(":")
    if len(parts) < 4:
        raise SystemExit(f"bad edge spec: {text}")
    return (parts[0], parts[1], parts[2], int(parts[3])), parts[4:]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--graph", required=True)
    parser.add_argument("--summary")
    parser.add_argument("--edge", action="append", default=[])
    parser.add_argument("--group", action="append", default=[])
    parser.add_argument("--selector", action="append", default=[])
    parser.add_argument("--example", action="append", default=[])
    args = parser.parse_args()

    errors = []
    try:
        with open(args.graph, encoding="utf-8") as f:
            graph = json.load(f)
    except (OSError, ValueError) as e:
        print(f"cannot read the exported graph {args.graph}: {e}")
        return 1

    if graph.get("apiVersion") != "bulkhead/v1" or graph.get("kind") != "FlowGraph":
        errors.append(f"header: apiVersion/kind = {graph.get('apiVersion')}/{graph.get('kind')}")

    # --- edges: the set of (from, to, protocol, port), no more and no less ---
    expected = {}
    for spec in args.edge:
        key, rest = parse_edge_key(spec)
        expected[key] = rest[0] if rest else "1+"
    actual = {}
    for edge in graph.get("edges") or []:
        key = (edge.get("from"), edge.get("to"), edge.get("protocol"), edge.get("port"))
        if key in actual:
            errors.append(f"duplicate edge {key}")
        actual[key] = edge
        if list(edge.keys()) != [k for k in EDGE_KEYS if k in edge]:
            errors.append(f"edge {key}: keys out of order: {list(edge.keys())}")
    missing = sorted(set(expected) - set(actual))
    unexpected = sorted(set(actual) - set(expected), key=str)
    for key in missing:
        errors.append("missing edge     %s -> %s %s/%s" % key)
    for key in unexpected:
        errors.append("unexpected edge  %s -> %s %s/%s  %s" %
                      (*key, json.dumps(actual[key], sort_keys=False)))
    keys_in_order = [(e.get("from"), e.get("to"), e.get("protocol"), e.get("port"))
                     for e in graph.get("edges") or []]
    # EdgeKey order (policy/model.h): protocol sorts by the Protocol enum, not by its name.
    def order(k):
        proto = PROTOCOL_ORDER.index(k[2]) if k[2] in PROTOCOL_ORDER else len(PROTOCOL_ORDER)
        return (str(k[0]), str(k[1]), proto, k[3])
    if keys_in_order != sorted(keys_in_order, key=order):
        errors.append(f"edges not sorted by (from, to, protocol, port): {keys_in_order}")

    for key, conns in sorted(expected.items()):
        edge = actual.get(key)
        if edge is None:
            continue
        got = edge.get("connections")
        if conns.endswith("+"):
            if not isinstance(got, int) or got < int(conns[:-1]):
                errors.append(f"edge {key}: connections {got}, expected at least {conns[:-1]}")
        elif got != int(conns):
            errors.append(f"edge {key}: connections {got}, expected {conns}")
        for counter in ("packets", "bytes"):
            if not isinstance(edge.get(counter), int) or edge[counter] <= 0:
                errors.append(f"edge {key}: {counter} = {edge.get(counter)}")
        if not edge.get("firstSeen") or not edge.get("lastSeen") or \
                edge["firstSeen"] > edge["lastSeen"]:
            errors.append(f"edge {key}: firstSeen/lastSeen {edge.get('firstSeen')} "
                          f"{edge.get('lastSeen')}")
        examples = edge.get("examples") or []
        if not 1 <= len(examples) <= 3:
            errors.append(f"edge {key}: {len(examples)} examples (want 1..3)")

    for spec in args.example:
        key_text, pair = spec.split("=", 1)
        key, _ = parse_edge_key(key_text)
        want_from, want_to = pair.split("/", 1)
        edge = actual.get(key)
        if edge is None:
            continue  # already reported as missing
        pairs = [(x.get("from"), x.get("to")) for x in edge.get("examples") or []]
        if (want_from, want_to) not in pairs:
            errors.append(f"edge {key}: examples {pairs} lack {want_from} -> {want_to}")

    # --- groups: exactly the expected names and members ---
    groups = {g.get("name"): g for g in graph.get("groups") or []}
    want_groups = {}
    for spec in args.group:
        name, members = spec.split("=", 1)
        want_groups[name] = [m for m in members.split(",") if m]
    if want_groups:
        for name in sorted(set(want_groups) - set(groups)):
            errors.append(f"missing group {name}")
        for name in sorted(set(groups) - set(want_groups)):
            errors.append(f"unexpected group {name}: {groups[name]}")
        for name, members in want_groups.items():
            if name in groups and (groups[name].get("members") or []) != members:
                errors.append(f"group {name}: members {groups[name].get('members')}, "
                              f"expected {members}")
    names = [g.get("name") for g in graph.get("groups") or []]
    if names != sorted(names):
        errors.append(f"groups not sorted: {names}")
    for spec in args.selector:
        name, kv = spec.split("=", 1)
        k, v = kv.split(":", 1)
        got = (groups.get(name) or {}).get("selector")
        if got != {k: v}:
            errors.append(f"group {name}: selector {got}, expected {{{k}: {v}}}")

    # --- the summary line ---
    if args.summary:
        with open(args.summary, encoding="utf-8", errors="replace") as f:
            lines = [ln for ln in f.read().splitlines() if "learned:" in ln]
        if not lines:
            errors.append("no 'learned: ...' summary line on stderr")
        else:
            m = SUMMARY_RE.search(lines[-1])
            if not m:
                errors.append(f"summary line does not parse: {lines[-1]}")
            else:
                if int(m["packets"]) == 0:
                    errors.append(f"summary reports 0 packets: {lines[-1]}")
                if int(m["drops"]) != 0:
                    errors.append(f"summary reports kernel drops: {lines[-1]}")
                if int(m["edges"]) != len(actual):
                    errors.append(f"summary reports {m['edges']} edges, graph has "
                                  f"{len(actual)}: {lines[-1]}")

    if errors:
        print("learned graph differs from the expectation:")
        for e in errors:
            print("  " + e)
        print("expected edges:")
        for key in sorted(expected):
            mark = " " if key in actual else "-"
            print(f"  {mark} %s -> %s %s/%s" % key)
        print("learned edges:")
        for key in keys_in_order:
            mark = " " if key in expected else "+"
            e = actual[key]
            print(f"  {mark} %s -> %s %s/%s" % key +
                  f"  connections={e.get('connections')} packets={e.get('packets')}"
                  f" examples={e.get('examples')}")
        return 1
    print(f"graph ok: {len(actual)} edges, {len(groups)} groups")
    return 0


if __name__ == "__main__":
    sys.exit(main())
