#!/usr/bin/env python3
"""Runs the bulkhead binary the way a user does and checks what it writes and says.

Usage: cli_test.py PATH/TO/bulkhead   (run from the repository root)
"""
import json
import os
import re
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

    # --- learn --docker (the real dockerd path is the end-to-end test's) ----------------------

    def test_docker_unreachable_socket_is_one_error(self):
        out = self.path("out.yaml")
        r = run("learn", "--docker", "/nonexistent.sock", "-o", out)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assert_one_error_line(r, "/nonexistent.sock")
        self.assertEqual(r.stdout, "")
        self.assertFalse(os.path.exists(out), "no output may be written without a snapshot")
        self.assertEqual(os.listdir(self.dir), [], "no temp file may be left")
        # The unix:// URL form names the same socket.
        r = run("learn", "--docker", "unix:///nonexistent.sock", "-o", out)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assert_one_error_line(r, "/nonexistent.sock")
        self.assertFalse(os.path.exists(out))

    def test_docker_excludes_other_sources(self):
        for extra in (["--pcap", PCAP], ["--iface", "lo"], ["--inventory", INVENTORY]):
            out = self.path("out.yaml")
            r = run("learn", "--docker", "/nonexistent.sock", *extra, "-o", out)
            self.assertNotIn(r.returncode, (0, 1), f"{extra}: {r.stderr}")
            self.assertIn("excludes", r.stderr)
            self.assertFalse(os.path.exists(out))

    def test_learn_needs_inventory_without_docker(self):
        r = run("learn", "--pcap", PCAP, "-o", self.path("out.yaml"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assert_one_error_line(r, "--inventory")
        self.assertFalse(os.path.exists(self.path("out.yaml")))

    # --- --log-format -------------------------------------------------------------------------

    def test_log_format_json_lines(self):
        out = self.path("graph.yaml")
        r = run("--log-format", "json", "learn", "--pcap", os.path.join("examples", "shop.pcap"),
                "--inventory", os.path.join("examples", "shop-inventory.yaml"), "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stderr.splitlines()
        self.assertTrue(lines, "want at least the summary line")
        for line in lines:
            entry = json.loads(line)
            self.assertEqual(list(entry), ["time", "level", "msg"], line)
            self.assertRegex(entry["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(json.loads(lines[-1])["level"], "info")
        self.assertTrue(json.loads(lines[-1])["msg"].startswith("learned: "), lines[-1])
        # Errors too, with a message that needs escaping (quote, backslash, control character).
        bad = self.path('bad"\\\x01.pcap')
        with open(bad, "w") as f:
            f.write("not a capture")
        r = run("--log-format", "json", "learn", "--pcap", bad, "--inventory", INVENTORY)
        self.assertNotEqual(r.returncode, 0)
        entries = [json.loads(line) for line in r.stderr.splitlines()]
        self.assertEqual([e["level"] for e in entries], ["error"], r.stderr)
        self.assertIn(bad, entries[0]["msg"])
        # The text format is unchanged.
        r = run("--log-format", "text", "learn", "--pcap", PCAP, "--inventory", INVENTORY,
                "-o", out)
        self.assertRegex(r.stderr.splitlines()[-1], r"^learned: ")
        self.assertNotEqual(run("--log-format", "xml", "learn", "--help").returncode, 0)


SHOP_PCAP = os.path.join("examples", "shop.pcap")
SHOP_INVENTORY = os.path.join("examples", "shop-inventory.yaml")
SHOP_POLICY = os.path.join("tests", "cli", "shop-policy.expected.yaml")


class ReviewTest(unittest.TestCase):
    """approve, diff and check on the shop example."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="bulkhead-review-")
        self.dir = self.tmp.name
        self.graph = os.path.join(self.dir, "graph.yaml")
        r = run("learn", "--pcap", SHOP_PCAP, "--inventory", SHOP_INVENTORY, "-o", self.graph)
        self.assertEqual(r.returncode, 0, r.stderr)

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def approved(self):
        out = self.path("policy.yaml")
        r = run("approve", self.graph, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            return f.read()

    def error_lines(self, r):
        return [l for l in r.stderr.splitlines() if l.startswith("bulkhead: error: ")]

    # --- approve ------------------------------------------------------------------------------

    def test_approve_shop_exact(self):
        r = run("approve", self.graph)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(SHOP_POLICY) as f:
            self.assertEqual(r.stdout, f.read())
        self.assertEqual(r.stderr, "approved: 4 groups, 10 allow rules, 0 edges skipped\n")

    def test_approve_file_equals_stdout_and_is_deterministic(self):
        text = self.approved()
        self.assertEqual(text, run("approve", self.graph, "-o", "-").stdout)
        self.assertEqual(sorted(os.listdir(self.dir)), ["graph.yaml", "policy.yaml"])

    def test_approve_min_connections_skips(self):
        r = run("approve", self.graph, "--min-connections", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        rules = [l for l in r.stdout.splitlines() if l.startswith("  - {from:")]
        m = __import__("re").match(r"approved: 4 groups, (\d+) allow rules, (\d+) edges skipped",
                                   r.stderr)
        self.assertIsNotNone(m, r.stderr)
        self.assertEqual(int(m.group(1)), len(rules))
        self.assertEqual(int(m.group(1)) + int(m.group(2)), 10)
        self.assertGreater(int(m.group(2)), 0)
        for line in rules:
            self.assertNotRegex(line, r"# 1 connection,")

    def test_approve_warns_about_scans_and_still_succeeds(self):
        with open(self.graph) as f:
            text = f.read()
        self.assertNotIn("scans:", text)  # the shop capture has no scan
        scanned = self.write("scanned.yaml", text + (
            "scans:\n"
            "  - {source: shop-frontend-1, group: frontend, firstSeen: 2026-11-28T10:00:00.000Z,"
            " lastSeen: 2026-11-28T10:01:00.500Z, ports: 1000, peers: 1, refused: 1000,"
            " incomplete: 0}\n"
            "  - {source: 203.0.113.7, group: world, firstSeen: 2026-11-28T10:00:00.000Z,"
            " lastSeen: 2026-11-28T10:00:00.000Z, ports: 3, peers: 40, refused: 0,"
            " incomplete: 120}\n"))
        r = run("approve", scanned)
        self.assertEqual(r.returncode, 0, r.stderr)
        # The policy is the one without the scans: they are no edges.
        self.assertEqual(r.stdout, run("approve", self.graph).stdout)
        self.assertEqual(r.stderr.splitlines(), [
            f"bulkhead: warning: {scanned}: scan from 203.0.113.7 (group world): 3 ports on 40 "
            "peers, 2026-11-28T10:00:00.000Z to 2026-11-28T10:00:00.000Z, 0 refused, "
            "120 incomplete; its failed attempts are not edges and are not approved",
            f"bulkhead: warning: {scanned}: scan from shop-frontend-1 (group frontend): 1000 "
            "ports on 1 peers, 2026-11-28T10:00:00.000Z to 2026-11-28T10:01:00.500Z, "
            "1000 refused, 0 incomplete; its failed attempts are not edges and are not approved",
            "approved: 4 groups, 10 allow rules, 0 edges skipped"])

    def test_approve_bad_graph_names_location(self):
        bad = self.write("g.yaml", "apiVersion: bulkhead/v1\nkind: FlowGraph\nedges:\n"
                                   "  - from: a\n    to: b\n    protocol: tcpp\n    port: 1\n")
        out = self.path("p.yaml")
        r = run("approve", bad, "-o", out)
        self.assertEqual(r.returncode, 2)
        self.assertTrue(any("g.yaml:6:" in l for l in self.error_lines(r)), r.stderr)
        self.assertFalse(os.path.exists(out))

    # --- diff ---------------------------------------------------------------------------------

    def test_diff_agrees_with_its_own_approval(self):
        policy = self.write("policy.yaml", self.approved())
        r = run("diff", policy, self.graph)
        self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)

    def test_diff_lists_added_and_stale(self):
        text = self.approved()
        lines = text.splitlines(keepends=True)
        drop = [l for l in lines if l.startswith("  - {from: api, to: db, protocol: tcp, port: 5432}")]
        self.assertEqual(len(drop), 1, text)
        text = "".join(l for l in lines if l not in drop)
        text = text.replace("allow:\n", "allow:\n"
                            "  - {from: api, to: db, protocol: udp, port: 5432}\n"
                            "  - {from: frontend, to: api, protocol: tcp, ports: 8000-8100}\n"
                            "  - {from: world, to: api, protocol: tcp, ports: 1-1000}\n")
        policy = self.write("policy.yaml", text)
        r = run("diff", policy, self.graph)
        self.assertEqual(r.returncode, 1, r.stderr)
        # The 8000-8100 range holds the learned 8080, so it counts as seen.
        self.assertEqual(r.stdout,
                         "+ api -> db tcp/5432 (6 connections)\n"
                         "- api -> db udp/5432\n"
                         "- world -> api tcp/1-1000\n")
        self.assertEqual(run("diff", policy, self.graph).stdout, r.stdout)

    def test_diff_failsafe_covers_an_edge(self):
        text = "".join(l for l in self.approved().splitlines(keepends=True)
                       if not l.startswith("  - {from: api, to: host, protocol: udp, port: 53}"))
        text = text.replace("failsafe: []\n",
                            "failsafe:\n  - {from: any, to: host, protocol: udp, port: 53}\n")
        policy = self.write("policy.yaml", text)
        r = run("diff", policy, self.graph)
        self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)

    def test_diff_two_graphs_and_html(self):
        older = self.write("older.yaml", "apiVersion: bulkhead/v1\nkind: FlowGraph\n"
                           "groups: [{name: gone, members: [g-1]}]\n")
        r = run("diff", older, self.graph)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("- group gone (1 members)\n", r.stdout)
        self.assertIn("+ api -> db tcp/5432 (", r.stdout)
        page = self.path("diff.html")
        r = run("diff", older, self.graph, "--format", "html", "-o", page)
        self.assertEqual(r.returncode, 1, r.stderr)
        with open(page) as f:
            self.assertIn('<span class="add">+ api -&gt; db tcp/5432', f.read())

    # --- analyze and report -------------------------------------------------------------------

    def test_analyze_graph_and_policy(self):
        r = run("analyze", self.graph)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("frontend: 3 groups (100%), 4 workloads (100%), host, world\n"
                      "  1 hop:  api, host\n", r.stdout)
        self.assertIn("[sensitive-port] api -> db tcp/5432: reaches PostgreSQL", r.stdout)
        first = run("analyze", SHOP_POLICY, "--json")
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertEqual(run("analyze", SHOP_POLICY, "--json").stdout, first.stdout)
        doc = json.loads(first.stdout)
        self.assertEqual(doc["summary"]["groups"], 4)
        self.assertIsNone(doc["summary"]["workloads"])
        bad = self.write("bad.yaml", "apiVersion: bulkhead/v1\nkind: Policy\nallw: []\n")
        r = run("analyze", bad)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(self.error_lines(r)), 1, r.stderr)
        self.assertIn("bad.yaml:3:1:", r.stderr)

    def test_report_deterministic_and_needs_dot(self):
        a, b = self.path("a.html"), self.path("b.html")
        for out in (a, b):
            r = run("report", self.graph, "--policy", SHOP_POLICY, "-o", out)
            self.assertEqual(r.returncode, 0, r.stderr)
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertEqual(fa.read(), fb.read())
        svg = run("report", self.graph, "--format", "svg")
        self.assertEqual(svg.returncode, 0, svg.stderr)
        self.assertIn("<svg", svg.stdout)
        violations = self.write("v.jsonl", '{"time":"2026-11-28T10:00:00.000Z","verdict":'
                                '"blocked","from":{"workload":"shop-frontend-1","group":'
                                '"frontend","address":"10.0.0.2"},"to":{"workload":"shop-db-1",'
                                '"group":"db","address":"10.0.0.5"},"protocol":"tcp",'
                                '"port":5432}\nnot json\n')
        r = run("report", self.graph, "--violations", violations, "-o", self.path("v.html"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("v.jsonl:2: not a JSON object", r.stderr)
        self.assertFalse(os.path.exists(self.path("v.html")))
        out = self.path("nodot.html")
        r = subprocess.run([BULKHEAD, "report", self.graph, "-o", out], capture_output=True,
                           text=True, timeout=60, env={**os.environ, "PATH": self.dir})
        self.assertEqual(r.returncode, 2)
        self.assertEqual(self.error_lines(r),
                         ["bulkhead: error: Graphviz's `dot` is not on PATH; install graphviz "
                          "(apt-get install graphviz)"])
        self.assertFalse(os.path.exists(out))

    def test_diff_errors_exit_2(self):
        policy = self.write("policy.yaml", self.approved())
        r = run("diff", policy, self.path("missing.yaml"))
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(self.error_lines(r)), 1, r.stderr)
        self.assertIn("missing.yaml", r.stderr)
        bad = self.write("bad.yaml", "apiVersion: bulkhead/v1\nkind: Policy\nallow:\n"
                                     "  - {from: a, to: b, protocol: tcp, port: 99999}\n")
        r = run("diff", bad, self.graph)
        self.assertEqual(r.returncode, 2)
        self.assertTrue(any("bad.yaml:4:" in l for l in self.error_lines(r)), r.stderr)

    # --- check --------------------------------------------------------------------------------

    def test_check_ok(self):
        policy = self.write("policy.yaml", self.approved())
        r = run("check", policy)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, f"{policy}: ok: 4 groups, 10 allow rules\n")
        r = run("check", policy, "--inventory", SHOP_INVENTORY)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, f"{policy}: ok: 4 groups, 10 allow rules\n")

    def test_check_reports_every_error_with_location(self):
        bad = self.write("bad.yaml",
                         "apiVersion: bulkhead/v1\n"
                         "kind: Policy\n"
                         "mode: enforse\n"
                         "groups:\n"
                         "  - {name: api}\n"
                         "allow:\n"
                         "  - {from: api, to: nosuch, protocol: tcp, port: 80}\n"
                         "  - {from: api, to: host, protocol: tcpx, port: 80}\n"
                         "  - {from: api, to: host, protocol: tcp, ports: 90-80}\n")
        r = run("check", bad)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stdout, "")
        errors = self.error_lines(r)
        self.assertGreaterEqual(len(errors), 4, r.stderr)
        for where in ("bad.yaml:3:7", "bad.yaml:7:", "bad.yaml:8:", "bad.yaml:9:"):
            self.assertTrue(any(where in l for l in errors), f"{where} not in {r.stderr!r}")

    def test_check_compile_error(self):
        # api-1 carries app=api and tier=backend: two selectors take it.
        text = self.approved().replace("groups:\n", "groups:\n  - name: backend\n"
                                       "    selector: {tier: backend}\n")
        policy = self.write("policy.yaml", text)
        self.assertEqual(run("check", policy).returncode, 0)
        r = run("check", policy, "--inventory", SHOP_INVENTORY)
        self.assertEqual(r.returncode, 2)
        self.assertTrue(self.error_lines(r), r.stderr)
        self.assertIn("shop-api-1", r.stderr)

    def test_check_pcap_full_policy_blocks_nothing(self):
        policy = self.write("policy.yaml", self.approved())
        r = run("check", policy, "--inventory", SHOP_INVENTORY, "--pcap", SHOP_PCAP)
        self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)
        self.assertRegex(r.stderr, r"check: [1-9][0-9]* connections judged, 0 would be blocked")

    def test_check_pcap_lists_exactly_the_missing_edge(self):
        text = self.approved()
        text = "".join(l for l in text.splitlines(keepends=True)
                       if not l.startswith("  - {from: api, to: db, protocol: tcp, port: 5432}"))
        policy = self.write("policy.yaml", text)
        r = run("check", policy, "--inventory", SHOP_INVENTORY, "--pcap", SHOP_PCAP)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, "api -> db tcp/5432: 6 connections\n")
        # Monitor mode: the same flow is a logged violation that passes.
        r = run("check", policy, "--inventory", SHOP_INVENTORY, "--pcap", SHOP_PCAP,
                "--mode", "monitor")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, "api -> db tcp/5432: 6 connections (logged, not blocked)\n")

    def test_check_pcap_world_and_host(self):
        text = self.approved()
        drop = ("  - {from: world, to: frontend, protocol: tcp, port: 443}",
                "  - {from: frontend, to: host, protocol: udp, port: 53}",
                "  - {from: host, to: api, protocol: tcp, port: 8080}")
        text = "".join(l for l in text.splitlines(keepends=True) if not l.startswith(drop))
        policy = self.write("policy.yaml", text)
        r = run("check", policy, "--inventory", SHOP_INVENTORY, "--pcap", SHOP_PCAP)
        self.assertEqual(r.returncode, 1, r.stderr)
        got = r.stdout.splitlines()
        self.assertEqual(got, sorted(got))
        self.assertEqual([l.split(":")[0] for l in got],
                         ["frontend -> host udp/53", "host -> api tcp/8080",
                          "world -> frontend tcp/443"])

    def test_check_usage_errors(self):
        policy = self.write("policy.yaml", self.approved())
        r = run("check", policy, "--pcap", SHOP_PCAP)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(self.error_lines(r)), 1, r.stderr)
        self.assertNotEqual(run("check", policy, "--mode", "learnx").returncode, 0)
        r = run("check", self.path("nope.yaml"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("nope.yaml", r.stderr)


class MergeTest(unittest.TestCase):
    """merge: two nodes' graphs of the shop, in both orders; the review commands on the result."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="bulkhead-merge-")
        self.dir = self.tmp.name
        with open(SHOP_INVENTORY) as f:
            inventory = f.read()
        self.node_a = self.learn(inventory, "a")
        self.node_b = self.learn(inventory, "b")

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def learn(self, inventory, suffix):
        """The shop as learned on node-<suffix>: the same capture, the inventory's host renamed."""
        renamed = re.sub(r"(host:\s*\{?\s*name:\s*)[^,}\n]+", r"\g<1>node-" + suffix, inventory,
                         count=1)
        self.assertIn("node-" + suffix, renamed)
        inv = self.write("inventory-" + suffix + ".yaml", renamed)
        out = self.path("graph-" + suffix + ".yaml")
        r = run("learn", "--pcap", SHOP_PCAP, "--inventory", inv, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"\nnode: node-" + suffix.encode() + b"\n", self.read(out))
        return out

    def merge(self, *args):
        return run("merge", *args)

    def assert_one_error(self, r, *needles):
        self.assertEqual(r.returncode, 2, r.stderr)
        lines = [l for l in r.stderr.splitlines() if l.startswith("bulkhead: error: ")]
        self.assertEqual(len(lines), 1, r.stderr)
        for needle in needles:
            self.assertIn(needle, lines[0])

    def test_any_order_same_bytes(self):
        ab, ba = self.path("ab.yaml"), self.path("ba.yaml")
        r = self.merge(self.node_a, self.node_b, "-o", ab)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"merged: 2 graphs, 2 nodes, [0-9]+ groups, [0-9]+ edges\n")
        self.assertEqual(self.merge(self.node_b, self.node_a, "-o", ba).returncode, 0)
        merged = self.read(ab)
        self.assertEqual(merged, self.read(ba))
        self.assertIn(b"\nnodes: [node-a, node-b]\n", merged)
        self.assertIn(b"    byNode:\n      - node: node-a\n", merged)
        # Idempotent: a graph merged with itself, or with one of its inputs, is unchanged; one
        # node's file merged alone (or twice) is that file.
        self.assertEqual(self.merge(ab, self.node_a, ab).stdout.encode(), merged)
        self.assertEqual(self.merge(self.node_a, self.node_a).stdout.encode(),
                         self.read(self.node_a))
        # The totals are the two nodes' sums (the same capture: twice the connections).
        single = json.loads(run("export", self.node_a, "--format", "json").stdout)
        both = json.loads(run("export", ab, "--format", "json").stdout)
        self.assertEqual(both["nodes"], ["node-a", "node-b"])
        self.assertEqual([e["connections"] * 2 for e in single["edges"]],
                         [e["connections"] for e in both["edges"]])
        self.assertEqual([[n["node"] for n in e["byNode"]] for e in both["edges"]],
                         [["node-a", "node-b"]] * len(both["edges"]))

    def test_review_commands_read_a_merged_graph(self):
        merged = self.path("cluster.yaml")
        self.assertEqual(self.merge(self.node_a, self.node_b, "-o", merged).returncode, 0)
        # approve: the same rules as one node's graph (only the counts in the comments differ).
        approved = run("approve", merged)
        self.assertEqual(approved.returncode, 0, approved.stderr)
        with open(SHOP_POLICY) as f:
            expected = f.read()
        strip = lambda text: re.sub(r"  # .*", "", text)
        self.assertEqual(strip(approved.stdout), strip(expected))
        self.assertNotEqual(approved.stdout, expected)
        policy = self.write("policy.yaml", approved.stdout)
        r = run("diff", policy, merged)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = run("diff", self.node_a, merged)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)  # same edges, counts only
        r = run("analyze", merged)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, run("analyze", self.node_a).stdout)
        for fmt in ("json", "dot", "yaml"):
            r = run("export", merged, "--format", fmt)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(run("export", merged, "--format", "yaml").stdout.encode(),
                         self.read(merged))
        r = run("report", merged, "-o", self.path("review.html"))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_errors(self):
        out = self.path("out.yaml")
        with open(self.node_a) as f:
            graph_a = f.read()
        no_node = self.write("old.yaml", graph_a.replace("node: node-a\n", ""))
        r = self.merge(self.node_a, no_node, "-o", out)
        self.assert_one_error(r, "old.yaml: the graph does not say which node it was learned on")
        self.assertFalse(os.path.exists(out))

        other = self.write("other.yaml", re.sub(r"selector: \{app: api\}",
                                                "selector: {app: api, tier: web}", graph_a))
        r = self.merge(self.node_a, other, "-o", out)
        self.assert_one_error(r, "other.yaml: group \"api\" has selector {app: api, tier: web}",
                              "graph-a.yaml")
        self.assertFalse(os.path.exists(out))

        grouped = self.write("grouped.yaml", graph_a.replace("groupBy: [", "groupBy: [tier, "))
        r = self.merge(self.node_a, grouped, "-o", out)
        self.assert_one_error(r, "grouped.yaml: groupBy [tier, ", "graph-a.yaml")

        merged = self.merge(self.node_a, self.node_b).stdout
        lines = merged.splitlines(keepends=True)
        at = next(i for i, l in enumerate(lines) if l.startswith("    connections: "))
        lines[at] = "    connections: 999\n"
        bad = self.write("bad.yaml", "".join(lines))
        r = self.merge(bad, self.node_a, "-o", out)
        self.assert_one_error(r, f"bad.yaml:{at + 1}:18: connections 999 is not the sum of "
                                 "byNode's")
        self.assertFalse(os.path.exists(out))

        r = self.merge(self.node_a, self.path("missing.yaml"), "-o", out)
        self.assert_one_error(r, "missing.yaml")
        r = self.merge("-o", out)
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(out))


def configmap_files(path):
    """The literal block scalars (`key: |`) under `data:` of a ConfigMap, without a YAML library."""
    files, key, indent = {}, None, None
    with open(path) as f:
        for line in f:
            stripped = line.strip()
            if key is not None:
                if stripped and not line.startswith(" " * 4):
                    key = None
                else:
                    files[key] += line[4:] if stripped else "\n"
                    continue
            if line.startswith("  ") and not line.startswith("   ") and stripped.endswith(": |"):
                key = stripped[:-3]
                files[key] = ""
    return files


class DeployTest(unittest.TestCase):
    """The shipped configuration files are ones bulkhead accepts."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="bulkhead-deploy-")

    def tearDown(self):
        self.tmp.cleanup()

    def test_example_agent_config_checks(self):
        r = run("agent", "--config", os.path.join("deploy", "agent.yaml"), "--check-config")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertIn("ok", r.stdout)

    def test_check_config_shows_the_tamper_check_interval(self):
        path = os.path.join(self.tmp.name, "agent.yaml")
        base = "mode: enforce\npolicy: p.yaml\ninventory: {file: i.yaml}\n"
        with open(path, "w") as f:
            f.write(base)
        r = run("agent", "--config", path, "--check-config")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertIn("tamperCheckInterval: 1m\n", r.stdout)  # the default, 60s
        with open(path, "w") as f:
            f.write(base + "tamperCheckInterval: 5m\n")
        r = run("agent", "--config", path, "--check-config")
        self.assertIn("tamperCheckInterval: 5m\n", r.stdout)
        with open(path, "w") as f:
            f.write(base + "tamperCheckInterval: 500ms\n")
        r = run("agent", "--config", path, "--check-config")
        self.assertEqual(r.returncode, 2)
        self.assertIn("agent.yaml:4:22: tamperCheckInterval \"500ms\" is out of range (1s..24h)",
                      r.stderr)

    def test_configmap_agent_config_and_policy(self):
        files = configmap_files(os.path.join("deploy", "kubernetes", "configmap.yaml"))
        self.assertEqual(sorted(files), ["agent.yaml", "policy.yaml"])
        paths = {}
        for name, text in files.items():
            paths[name] = os.path.join(self.tmp.name, name)
            with open(paths[name], "w") as f:
                f.write(text)
        r = run("agent", "--config", paths["agent.yaml"], "--check-config")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        # The example policy allows all of the shop example's traffic.
        r = run("check", paths["policy.yaml"], "--inventory", SHOP_INVENTORY, "--pcap", SHOP_PCAP)
        self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)
        self.assertRegex(r.stderr, r"[1-9][0-9]* connections judged, 0 would be blocked")


if __name__ == "__main__":
    BULKHEAD = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
