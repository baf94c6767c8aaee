#!/usr/bin/env python3
"""`bulkhead enforce/confirm` without the kernel: argument errors, input errors that name the
file and the policy object, and --dry-run on the shop example. Nothing here reaches the kernel
(every case fails before it or is a --dry-run), so it is safe to run as root in the machine's
own namespace. Usage: enforce_cli_args_test.py BULKHEAD SOURCE_DIR (run from the source root)."""
import os
import subprocess
import sys
import tempfile

BH = sys.argv[1]
SRC = sys.argv[2]
POLICY = os.path.join(SRC, "policy.yaml")
INVENTORY = os.path.join(SRC, "inventory.yaml")
SHOP_POLICY = os.path.join(SRC, "shop-policy.yaml")
SHOP_INVENTORY = "examples/shop-inventory.yaml"
failures = []


def run(*args):
    return subprocess.run([BH, *args], capture_output=True, text=True, timeout=30)


def check(name, ok, detail=""):
    print(("ok: " if ok else "FAIL: ") + name + ("" if ok else f"\n  {detail}"))
    if not ok:
        failures.append(name)


def expect_error(name, args, code, *needles):
    r = run(*args)
    text = r.stderr + r.stdout
    good = (r.returncode == code if code is not None else r.returncode != 0) and all(
        n in text for n in needles)
    check(f"{name} -> exit {r.returncode}", good, f"exit {r.returncode}: {text.strip()}")
    return r


with tempfile.TemporaryDirectory() as tmp:
    state = os.path.join(tmp, "state")
    dry = ["--dry-run", "--state-dir", state]

    # Command line errors (CLI11).
    expect_error("enforce without a policy", ["enforce"], None, "policy")
    expect_error("enforce without --inventory", ["enforce", POLICY, *dry], None, "--inventory")
    expect_error("--mode bogus", ["enforce", POLICY, "--inventory", INVENTORY, "--mode", "bogus",
                                  *dry], None, "--mode")
    expect_error("--confirm 0", ["enforce", POLICY, "--inventory", INVENTORY, "--confirm", "0",
                                 *dry], None, "--confirm")
    expect_error("--log-group 70000", ["enforce", POLICY, "--inventory", INVENTORY,
                                       "--log-group", "70000", *dry], None, "--log-group")

    # Input errors: exit 2, one line each, naming the file and the object.
    missing = os.path.join(tmp, "nope.yaml")
    expect_error("missing policy file", ["enforce", missing, "--inventory", INVENTORY, *dry], 2,
                 missing)
    expect_error("missing inventory file", ["enforce", POLICY, "--inventory", missing, *dry], 2,
                 missing)
    unknown = os.path.join(tmp, "unknown-group.yaml")
    with open(POLICY) as f, open(unknown, "w") as out:
        out.write(f.read().replace(
            "allow:\n", "allow:\n  - {from: web, to: nowhere, protocol: tcp, port: 1}\n"))
    expect_error("allow naming an unknown group", ["enforce", unknown, "--inventory", INVENTORY,
                                                   *dry], 2, unknown, "nowhere")
    # A membership error the compiler finds: web-1 is selected by two groups.
    twice = os.path.join(tmp, "two-groups.yaml")
    with open(POLICY) as f, open(twice, "w") as out:
        out.write(f.read().replace("  - name: web\n", "  - name: web\n  - name: also-web\n"
                                   "    selector: {app: web}\n"))
    expect_error("workload in two groups", ["enforce", twice, "--inventory", INVENTORY, *dry], 2,
                 twice, "web-1")

    # --dry-run on the shop example: nft text, deterministic, --mode changes it, no state dir.
    a = run("enforce", SHOP_POLICY, "--inventory", SHOP_INVENTORY, *dry)
    b = run("enforce", SHOP_POLICY, "--inventory", SHOP_INVENTORY, *dry)
    e = run("enforce", SHOP_POLICY, "--inventory", SHOP_INVENTORY, "--mode", "enforce", *dry)
    check("shop --dry-run exits 0", a.returncode == 0, a.stderr)
    check("shop --dry-run prints both tables",
          a.stdout.startswith("table inet bulkhead {}\ndelete table inet bulkhead\n")
          and "table bridge bulkhead {" in a.stdout, a.stdout[:200])
    check("shop --dry-run names edges", "# allow frontend -> api tcp/8080" in a.stdout,
          a.stdout[:200])
    check("shop --dry-run is deterministic", a.stdout == b.stdout and a.stdout != "")
    check("--mode enforce changes the ruleset", e.returncode == 0 and e.stdout != a.stdout)
    check("--dry-run does not create the state directory", not os.path.exists(state))
    check("--dry-run is quiet on stderr", a.stderr == "", a.stderr)

    # confirm with nothing pending (no kernel involved).
    expect_error("confirm with nothing pending", ["confirm", "--state-dir", state], 1,
                 "nothing to confirm")
    h = run("--help")
    check("the watchdog subcommand is hidden", "confirm-watchdog" not in h.stdout, h.stdout)

print(f"failures: {len(failures)}")
sys.exit(1 if failures else 0)
