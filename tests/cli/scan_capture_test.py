#!/usr/bin/env python3
"""A capture with a port scan and a SYN flood learns exactly the real edges (issue 18, section 3:
a 65,535-port scan had become 65,535 edges, and `approve` allowed them all).

Usage: scan_capture_test.py PATH/TO/bulkhead   (run from the repository root)

Generates the shop example with tools/gen_traffic.py plus shop-frontend-1 SYN-scanning every
port of shop-db-1 and unanswered SYNs from spoofed addresses, runs `bulkhead learn --pcap` on it,
and prints the edges, wall time and peak RSS of that run.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

BULKHEAD = None
SCAN_PORTS = 65535
SYN_FLOOD = 20000


def run(*args):
    return subprocess.run([BULKHEAD, *args], capture_output=True, text=True, timeout=300)


class ScanCaptureTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="bulkhead-scan-")
        cls.pcap = os.path.join(cls.tmp.name, "hostile.pcap")
        cls.inventory = os.path.join(cls.tmp.name, "hostile-inventory.yaml")
        cls.expected = os.path.join(cls.tmp.name, "hostile.expected.json")
        gen = subprocess.run(
            [sys.executable, os.path.join("tools", "gen_traffic.py"), "example", "-o", cls.pcap,
             "--inventory", cls.inventory, "--expected", cls.expected,
             "--scan-ports", str(SCAN_PORTS), "--syn-flood", str(SYN_FLOOD)],
            capture_output=True, text=True, timeout=300)
        assert gen.returncode == 0, gen.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_scan_and_flood_leave_exactly_the_real_edges(self):
        graph = os.path.join(self.tmp.name, "graph.yaml")
        # The learn run alone, measured with wait4 (its own peak RSS, not the generator's).
        start = time.monotonic()
        with open(os.path.join(self.tmp.name, "learn.err"), "w+") as err:
            child = subprocess.Popen([BULKHEAD, "learn", "--pcap", self.pcap, "--inventory",
                                      self.inventory, "-o", graph], stderr=err)
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            wall = time.monotonic() - start
            err.seek(0)
            stderr = err.read()
        self.assertEqual(child.returncode, 0, stderr)
        peak_mib = usage.ru_maxrss / 1024

        exported = run("export", graph, "--format", "json", "-o", "-")
        self.assertEqual(exported.returncode, 0, exported.stderr)
        got = sorted((e["from"], e["to"], e["protocol"], e["port"], e["connections"])
                     for e in json.loads(exported.stdout)["edges"])
        with open(self.expected) as f:
            want = sorted((e["from"], e["to"], e["protocol"], e["port"], e["connections"])
                          for e in json.load(f))
        self.assertEqual(got, want)

        lines = stderr.strip().splitlines()
        summary = lines[-1]
        m = re.search(r"refused (\d+), incomplete (\d+), scans (\d+), evicted (\d+)", summary)
        self.assertIsNotNone(m, summary)
        refused, incomplete, scans, _ = (int(x) for x in m.groups())
        # Every closed port refused; the open one (5432) half-open; every flood SYN incomplete.
        self.assertEqual(refused, SCAN_PORTS - 1, summary)
        self.assertEqual(incomplete, SYN_FLOOD + 1, summary)
        self.assertEqual(scans, 1, summary)
        scan_lines = [l for l in lines if "scan from " in l]
        self.assertEqual(len(scan_lines), 1, stderr)
        self.assertIn(f"scan from 172.20.0.10 (shop-frontend-1, group frontend): {SCAN_PORTS} "
                      "ports on 1 peers", scan_lines[0])
        self.assertIn(f"{SCAN_PORTS - 1} refused, 1 incomplete", scan_lines[0])

        # The scan is in the graph for the reviewer (named as the edges name it), not as edges.
        with open(graph) as f:
            text = f.read()
        self.assertRegex(text, re.compile(
            r"\nscans:\n  - source: shop-frontend-1\n    group: frontend\n"
            r"    firstSeen: \S+Z\n    lastSeen: \S+Z\n"
            rf"    ports: {SCAN_PORTS}\n    peers: 1\n    refused: {SCAN_PORTS - 1}\n"
            r"    incomplete: 1\n$"), text[-400:])
        scans = json.loads(exported.stdout)["scans"]
        self.assertEqual([(s["source"], s["group"], s["ports"], s["peers"], s["refused"],
                           s["incomplete"]) for s in scans],
                         [("shop-frontend-1", "frontend", SCAN_PORTS, 1, SCAN_PORTS - 1, 1)])
        self.assertLessEqual(scans[0]["firstSeen"], scans[0]["lastSeen"])
        # approve leaves it out of the policy and says so.
        approved = run("approve", graph)
        self.assertEqual(approved.returncode, 0, approved.stderr)
        self.assertIn(f"bulkhead: warning: {graph}: scan from shop-frontend-1 (group frontend): "
                      f"{SCAN_PORTS} ports on 1 peers", approved.stderr)
        self.assertNotIn("shop-frontend-1", approved.stdout)
        print(f"\n{len(got)} edges (want {len(want)}), wall {wall:.2f} s, peak RSS "
              f"{peak_mib:.1f} MiB; {summary}", file=sys.stderr)
        # Bounded: the scan's flows pass through the table, the graph stays the shop's.
        self.assertLess(peak_mib, 256)

    def test_unwritable_output_fails_before_reading(self):
        out = os.path.join(self.tmp.name, "no-such-dir", "graph.yaml")
        r = run("learn", "--pcap", self.pcap, "--inventory", self.inventory, "-o", out)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot create a temporary file", r.stderr)
        self.assertNotIn("learned:", r.stderr)  # failed before any packet was read


if __name__ == "__main__":
    BULKHEAD = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
