#!/usr/bin/env python3
"""Opens the review page of the bundled example in headless Chromium (Debian's `chromium`).

The example's graph gets one more group whose name is a script tag, then `bulkhead report` writes
the page. Chromium loads it twice: once to dump the DOM after its script ran, once to take the
screenshot kept as a test artifact. Checks: the page logs nothing to the console (no script
error, no refused fetch), the SVG names every group, the hostile name is text and never ran.

Usage: report_browser_test.py PATH/TO/bulkhead ARTIFACT_DIR   (run from the repository root)
"""
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

BULKHEAD = None
ARTIFACTS = None
HOSTILE = "<script>document.title='pwned'</script>"


def run(*args):
    return subprocess.run([BULKHEAD, *args], capture_output=True, text=True, timeout=120)


def chromium(home, *args):
    # --no-sandbox: the tests run as root; HOME: a profile of the test's own.
    return subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                           "--enable-logging=stderr", "--v=0", *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HOME": home})


class ReportBrowserTest(unittest.TestCase):
    def setUp(self):
        self.assertIsNotNone(shutil.which("chromium"),
                             "chromium is not installed (scripts/setup.sh installs it)")
        self.tmp = tempfile.TemporaryDirectory(prefix="review-browser-")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def make_report(self):
        graph = os.path.join(self.dir, "shop.yaml")
        r = run("learn", "--pcap", "examples/shop.pcap", "--inventory",
                "examples/shop-inventory.yaml", "-o", graph)
        self.assertEqual(r.returncode, 0, r.stderr)
        exported = run("export", graph, "--format", "json", "-o", "-")
        self.assertEqual(exported.returncode, 0, exported.stderr)
        doc = json.loads(exported.stdout)
        doc["groups"].append({"name": HOSTILE, "selector": {"app": HOSTILE},
                              "members": ["evil-1"]})
        doc["edges"].append({"from": HOSTILE, "to": "api", "protocol": "tcp", "port": 8080,
                             "connections": 1, "packets": 2, "bytes": 3,
                             "firstSeen": "2026-11-28T10:00:00.000Z",
                             "lastSeen": "2026-11-28T10:00:00.000Z", "examples": []})
        hostile = os.path.join(self.dir, "hostile.json")
        with open(hostile, "w") as f:
            json.dump(doc, f)
        page = os.path.join(self.dir, "review.html")
        r = run("report", hostile, "-o", page)
        self.assertEqual(r.returncode, 0, r.stderr)
        return page, [g["name"] for g in doc["groups"]]

    def test_page_in_chromium(self):
        page, groups = self.make_report()
        url = "file://" + page
        dumped = chromium(self.dir, "--dump-dom", url)
        self.assertEqual(dumped.returncode, 0, dumped.stderr)
        console = [l for l in dumped.stderr.splitlines() if ":CONSOLE" in l]
        self.assertEqual(console, [], "the page logged to the console")
        dom = dumped.stdout
        # The title is the page's own: the hostile script never ran.
        self.assertIn("<title>bulkhead review: ", dom)
        self.assertNotIn("pwned</title>", dom)
        # One script element, the page's filter; the hostile name is text everywhere.
        self.assertEqual(len(re.findall(r"<script\b", dom)), 1)
        self.assertIn(html.escape(HOSTILE, quote=False), dom)
        svg = dom[dom.index("<svg"):dom.index("</svg>")]
        texts = {html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg)}
        for name in groups:
            self.assertIn(name, texts, f"the picture does not name group {name!r}")
        os.makedirs(ARTIFACTS, exist_ok=True)
        shot = os.path.join(ARTIFACTS, "report.png")
        taken = chromium(self.dir, "--window-size=1200,900", "--screenshot=" + shot, url)
        self.assertEqual(taken.returncode, 0, taken.stderr)
        with open(shot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertEqual([l for l in taken.stderr.splitlines() if ":CONSOLE" in l], [])


if __name__ == "__main__":
    BULKHEAD = os.path.abspath(sys.argv.pop(1))
    ARTIFACTS = os.path.abspath(sys.argv.pop(1))
    unittest.main()
