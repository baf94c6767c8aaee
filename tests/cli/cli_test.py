#!/usr/bin/env python3
"""Runs the bulkhead binary the way a user does and checks what it writes and says.

Usage: cli_test.py PATH/TO/bulkhead   (run from the repository root)
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

BULKHEAD = None
FIXTURES = os.path.join("tests", "fixtures")
PCAP = os.path.join(FIXTURES, "learn-fixture.pcap")
INVENTORY = os.path.join(FIXTURES, "learn-fixture-inventory.yaml")
EXPECTED = os.path.join(FIXTURES, "learn-fixture.expected.json")


def run(*args, stdin=None):
    return subprocess.run([BULKHEAD, *args], capture_output=True, text=True, input=stdin,
                          timeout=120)


def pcap_header(linktype=1, snaplen=65535):
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)


def record(data, orig_len=None, ts=1_700_000_000):
    caplen = len(data)
    return struct.pack("<IIII", ts, 0, caplen, orig_len or caplen) + data


class CliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="bulkhead-cli-")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, data):
        path = self.path(name)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return path

    def learn_fixture(self, out):
        r = run("learn", "--pcap", PCAP, "--inventory", INVENTORY, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def assert_one_error_line(self, r, *needles):
        self.assertNotEqual(r.returncode, 0, r.stderr)
        lines = [l for l in r.stderr.splitlines() if l.startswith("bulkhead: error: ")]
        self.assertEqual(len(lines), 1, f"want one error line, got: {r.stderr!r}")
        self.assertNotIn("Traceback", r.stderr)
        for needle in needles:
            self.assertIn(needle, lines[0])

    # --- the learned graph -------------------------------------------------------------------

    def test_fixture_edges_exact(self):
        out = self.path("graph.yaml")
        r = self.learn_fixture(out)
        summary = r.stderr.strip().splitlines()[-1]
        self.assertRegex(summary, r"^learned: [1-9][0-9]* packets, [0-9]+ flows, [0-9]+ edges, "
                                  r"malformed [0-9]+")
        exported = run("export", out, "--format", "json", "-o", "-")
        self.assertEqual(exported.returncode, 0, exported.stderr)
        graph = json.loads(exported.stdout)
        got = sorted((e["from"], e["to"], e["protocol"], e["port"], e["connections"])
                     for e in graph["edges"])
        with open(EXPECTED) as f:
            want = sorted((e["from"], e["to"], e["protocol"], e["port"], e["connections"])
                          for e in json.load(f))
        self.assertEqual(got, want)

    def test_two_runs_are_byte_identical(self):
        a, b = self.path("a.yaml"), self.path("b.yaml")
        self.learn_fixture(a)
        self.learn_fixture(b)
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertEqual(fa.read(), fb.read())

    def test_stdout_output(self):
        r = run("learn", "--pcap", PCAP, "--inventory", INVENTORY)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("apiVersion: bulkhead/v1\nkind: FlowGraph\n"))

    def test_export_formats_round_trip(self):
        graph = self.path("graph.yaml")
        self.learn_fixture(graph)
        for fmt in ("yaml", "json", "dot"):
            out = self.path("graph." + fmt)
            r = run("export", graph, "--format", fmt, "-o", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertGreater(os.path.getsize(out), 0)
        with open(self.path("graph.dot")) as f:
            dot = f.read()
        self.assertTrue(dot.startswith("digraph"))
        # JSON read back and written as YAML gives the original bytes.
        again = run("export", self.path("graph.json"), "--format", "yaml", "-o", "-")
        self.assertEqual(again.returncode, 0, again.stderr)
        with open(graph) as f:
            self.assertEqual(again.stdout, f.read())

    def test_group_by_option(self):
        out = self.path("graph.yaml")
        r = run("learn", "--pcap", PCAP, "--inventory", INVENTORY, "--group-by", "nolabel",
                "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            text = f.read()
        self.assertIn("groupBy: [nolabel]", text)

    # --- bad input: one clear line, non-zero exit, nothing written ----------------------------

    def assert_rejected_pcap(self, data, *needles):
        pcap = self.write("bad.pcap", data)
        out = self.path("out.yaml")
        r = run("learn", "--pcap", pcap, "--inventory", INVENTORY, "-o", out)
        self.assert_one_error_line(r, "bad.pcap", *needles)
        self.assertFalse(os.path.exists(out), "no output may be written for a bad capture")
        self.assertEqual(os.listdir(self.dir), ["bad.pcap"], "no temp file may be left")

    def test_not_a_capture(self):
        self.assert_rejected_pcap(b"this is not a capture file at all, just text\n" * 4)

    def test_truncated_file_header(self):
        self.assert_rejected_pcap(pcap_header()[:10])

    def test_empty_file(self):
        self.assert_rejected_pcap(b"")

    def test_huge_record_length(self):
        frame = bytes(60)
        data = pcap_header() + record(frame) + struct.pack("<IIII", 1, 0, 0x7FFFFFF0, 0x7FFFFFF0)
        self.assert_rejected_pcap(data + bytes(16))

    def test_unsupported_link_type(self):
        self.assert_rejected_pcap(pcap_header(linktype=147) + record(bytes(40)), "link type")

    def test_last_record_cut_short_keeps_the_rest(self):
        with open(PCAP, "rb") as f:
            whole = f.read()
        pcap = self.write("cut.pcap", whole[:-7])
        out = self.path("out.yaml")
        r = run("learn", "--pcap", pcap, "--inventory", INVENTORY, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning", r.stderr)
        self.assertIn("cut.pcap", r.stderr)
        self.assertTrue(os.path.getsize(out) > 0)

    def test_missing_pcap(self):
        r = run("learn", "--pcap", self.path("nope.pcap"), "--inventory", INVENTORY)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("nope.pcap", r.stderr)

    def test_bad_inventory_names_line_and_column(self):
        inv = self.write("inv.yaml", "apiVersion: bulkhead/v1\nkind: Inventory\nworkloads:\n"
                                     "  - name: a\n    adresses: [10.0.0.1]\n")
        r = run("learn", "--pcap", PCAP, "--inventory", inv, "-o", self.path("o.yaml"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("inv.yaml:5:5", r.stderr)
        self.assertIn("adresses", r.stderr)
        self.assertFalse(os.path.exists(self.path("o.yaml")))

    def test_bad_graph_for_export(self):
        graph = self.write("g.yaml", "apiVersion: bulkhead/v1\nkind: FlowGraph\nedges:\n"
                                     "  - from: a\n    to: b\n    protocol: tcpp\n    port: 1\n")
        r = run("export", graph, "--format", "json", "-o", self.path("o.json"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("g.yaml:6:", r.stderr)
        self.assertFalse(os.path.exists(self.path("o.json")))

    def test_unwritable_output_is_one_error(self):
        r = run("learn", "--pcap", PCAP, "--inventory", INVENTORY, "-o",
                self.path("missing/dir/out.yaml"))
        self.assert_one_error_line(r, "missing/dir/out.yaml")
        self.assertFalse(os.path.exists(self.path("missing")))

    def test_usage_errors(self):
        self.assertNotEqual(run("learn", "--inventory", INVENTORY).returncode, 0)
        self.assertNotEqual(run("learn", "--pcap", PCAP).returncode, 0)
        self.assertNotEqual(run("export", PCAP, "--format", "xml").returncode, 0)
        self.assertNotEqual(run("frobnicate").returncode, 0)
        self.assertEqual(run("--help").returncode, 0)
        self.assertEqual(run("learn", "--help").returncode, 0)


if __name__ == "__main__":
    BULKHEAD = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
