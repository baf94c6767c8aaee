#!/usr/bin/env python3
"""Writes a large Policy and Inventory for bench/formats_bench.sh (bench/README.md, "Formats").

The same shape as `enforce_bench write` (bench/enforce_bench.cc): W workloads labelled
app=gNNNN over G groups, E allow rules where for each k every group g talks to group g+1+k on
port 1024+k (tcp; every tenth k udp), so all rules are distinct, plus one failsafe entry. The
text is what bulkhead's own writers print (WritePolicyYaml, WriteInventoryYaml), so reading it
is what `approve` output costs. Defaults: 10,000 workloads, 1,000 groups, 100,000 edges (a
5.5 MB policy, a 1.1 MB inventory). Deterministic: same arguments, same bytes.

Usage: bench/gen_big_policy.py OUT_DIR [--workloads N] [--groups G] [--edges E] [--graph]
                               [--groups-only N]
--graph also writes OUT_DIR/graph.yaml, a FlowGraph with one example per edge (about 33 MB).
--groups-only N writes OUT_DIR/many-groups.yaml instead: a policy of N groups and two rules (the
compiler's limit is 65,532 groups; `check` must refuse more).
"""
import argparse
import os


def group(g):
    return "g%04d" % g


def write_policy(path, groups, edges):
    with open(path, "w") as out:
        out.write("apiVersion: bulkhead/v1\nkind: Policy\nmode: enforce\ngroupBy: [app]\n")
        out.write("groups:\n" if groups else "groups: []\n")
        for g in range(groups):
            out.write("  - name: %s\n" % group(g))
        rules = [(group(0), group(1), "tcp", 5201), (group(0), group(1), "tcp", 7000)]
        for e in range(2, edges):
            frm = e % groups
            k = e // groups
            to = (frm + 1 + k % (groups - 1)) % groups
            rules.append((group(frm), group(to), "udp" if k % 10 == 9 else "tcp", 1024 + k))
        rules.sort()
        out.write("allow:\n" if rules else "allow: []\n")
        for frm, to, proto, port in rules:
            out.write("  - {from: %s, to: %s, protocol: %s, port: %d}\n" % (frm, to, proto, port))
        out.write("failsafe:\n  - {from: any, to: host, protocol: tcp, port: 22}\n")


def write_inventory(path, workloads, groups):
    with open(path, "w") as out:
        out.write("apiVersion: bulkhead/v1\nkind: Inventory\n")
        out.write("host: {name: node, addresses: [10.40.0.1]}\nworkloads:\n")
        for i in range(workloads):
            if i < 2:
                name = "bench-client" if i == 0 else "bench-server"
                addresses = "[10.40.0.%d]" % (i + 2)
                interface = "vbc" if i == 0 else "vbs"
            else:
                name = "w%06d" % i
                addresses = '[10.%d.%d.%d, "fd64::%x"]' % (100 + i // 65536, (i // 256) % 256,
                                                           i % 256, i)
                interface = "v%06d" % i
            out.write("  - name: %s\n    labels: {app: %s}\n    addresses: %s\n"
                      "    interface: %s\n" % (name, group(i % groups), addresses, interface))


def write_graph(path, groups, edges):
    """The FlowGraph those rules were approved from, as WriteFlowGraphYaml prints it."""
    with open(path, "w") as out:
        out.write("apiVersion: bulkhead/v1\nkind: FlowGraph\ngroupBy: [app]\ngroups:\n")
        for g in range(groups):
            out.write("  - name: %s\n    members: [w%06d]\n" % (group(g), g))
        keys = []
        for e in range(edges):
            frm = e % groups
            k = e // groups
            to = (frm + 1 + k % (groups - 1)) % groups
            keys.append((group(frm), group(to), "udp" if k % 10 == 9 else "tcp", 1024 + k, frm, to))
        keys.sort()
        out.write("edges:\n")
        for frm, to, proto, port, f, t in keys:
            out.write("  - from: %s\n    to: %s\n    protocol: %s\n    port: %d\n"
                      "    connections: 12\n    packets: 140\n    bytes: 18230\n"
                      "    firstSeen: 2026-11-28T10:00:00.000Z\n"
                      "    lastSeen: 2026-11-28T10:05:00.250Z\n"
                      "    examples:\n      - {from: w%06d, to: w%06d}\n" % (frm, to, proto, port, f, t))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--workloads", type=int, default=10000)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--edges", type=int, default=100000)
    parser.add_argument("--groups-only", type=int, default=0)
    parser.add_argument("--graph", action="store_true", help="also write graph.yaml")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    if args.groups_only:
        write_policy(os.path.join(args.out_dir, "many-groups.yaml"), args.groups_only, 0)
        return
    groups = max(args.groups, 2)
    write_policy(os.path.join(args.out_dir, "policy.yaml"), groups, max(args.edges, 2))
    write_inventory(os.path.join(args.out_dir, "inventory.yaml"), args.workloads, groups)
    if args.graph:
        write_graph(os.path.join(args.out_dir, "graph.yaml"), groups, max(args.edges, 2))


if __name__ == "__main__":
    main()
