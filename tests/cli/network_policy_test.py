#!/usr/bin/env python3
"""`bulkhead export --format networkpolicy` checked against Kubernetes itself.

1. Every exported object deserializes into Debian's python3-kubernetes models (V1NetworkPolicy)
   and serializes back to exactly the document that was read: no key lost, none misnamed.
2. For a generated policy (several namespaces, cross-namespace edges, port ranges, `world`,
   `host`), a small evaluator of NetworkPolicy semantics (below, from the Kubernetes API
   reference) allows exactly the connections the bulkhead policy allows, between every pair of
   pods, the node and outside addresses, over TCP, UDP and SCTP at every port that matters.
3. What NetworkPolicy cannot say is listed on stderr and in the header comment; DNS left out is
   said loudly; bad input is one error line.

Usage: network_policy_test.py PATH/TO/bulkhead   (run from the repository root)
"""
import ipaddress
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest

import yaml
from kubernetes import client

BULKHEAD = None
NS_LABEL = "io.kubernetes.pod.namespace"
CLUSTER_CIDRS = ["10.244.0.0/16", "10.96.0.0/12", "fd00:10:244::/56", "fd00:10:96::/112"]
HOST_ADDRESSES = ["192.168.50.10", "fd00:50::10"]
OUTSIDE = ["203.0.113.7", "2001:db8::7"]
PROTOCOLS = ["tcp", "udp", "sctp"]


def run(*args):
    return subprocess.run([BULKHEAD, *args], capture_output=True, text=True, timeout=120)


# ---- NetworkPolicy semantics (networking.k8s.io/v1) -------------------------------------------

def labels_match(selector, labels):
    """A LabelSelector with matchLabels only (what the export writes); {} selects everything."""
    assert not selector.get("matchExpressions"), selector
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def ip_block_matches(block, address):
    ip = ipaddress.ip_address(address)
    net = ipaddress.ip_network(block["cidr"])
    if ip.version != net.version or ip not in net:
        return False
    return not any(ip in ipaddress.ip_network(e) for e in block.get("except") or [])


def peer_matches(peer, policy_ns, endpoint):
    if "ipBlock" in peer:
        return ip_block_matches(peer["ipBlock"], endpoint["ip"])
    if endpoint["pod"] is None:
        return False  # a pod or namespace selector selects pods only
    if "namespaceSelector" in peer:
        ns_labels = {"kubernetes.io/metadata.name": endpoint["ns"]}
        if not labels_match(peer["namespaceSelector"], ns_labels):
            return False
    elif endpoint["ns"] != policy_ns:
        return False
    return labels_match(peer.get("podSelector") or {}, endpoint["labels"])


def port_matches(ports, protocol, port):
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != protocol.upper():
            continue
        if "port" not in p:
            return True
        first = p["port"]
        last = p.get("endPort", first)
        if first <= port <= last:
            return True
    return False


def direction_allows(policies, pod, other, protocol, port, kind):
    """kind: "ingress" (other is the client) or "egress" (other is the server)."""
    selecting = [p for p in policies if p["metadata"]["namespace"] == pod["ns"] and
                 labels_match(p["spec"]["podSelector"], pod["labels"]) and
                 kind.capitalize() in p["spec"]["policyTypes"]]
    if not selecting:
        return True  # a pod no policy selects is not isolated
    peer_key = "from" if kind == "ingress" else "to"
    for p in selecting:
        for rule in p["spec"].get(kind) or []:
            peers = rule.get(peer_key)
            if peers and not any(peer_matches(x, p["metadata"]["namespace"], other)
                                 for x in peers):
                continue
            if port_matches(rule.get("ports"), protocol, port):
                return True
    return False


def k8s_allows(policies, src, dst, protocol, port):
    if src["pod"] is not None and not direction_allows(policies, src, dst, protocol, port,
                                                       "egress"):
        return False
    if dst["pod"] is not None and not direction_allows(policies, dst, src, protocol, port,
                                                       "ingress"):
        return False
    return True


# ---- the generated policy ---------------------------------------------------------------------

def generate(seed):
    """Namespaces, pod groups (2 pods each, IPv4 + IPv6), and random allow rules between them,
    `world` and `host`, with single ports and ranges."""
    rng = random.Random(seed)
    groups = {}
    for ns, apps in [("shop", ["frontend", "api", "db", "cache"]),
                     ("billing", ["db", "worker"]), ("payments", ["gateway"])]:
        for app in apps:
            key = rng.choice(["app", "app.kubernetes.io/name", "k8s-app"])
            groups[f"{ns}/{app}"] = {NS_LABEL: ns, key: app}
    groups["kube-system/kube-dns"] = {NS_LABEL: "kube-system", "k8s-app": "kube-dns"}
    names = sorted(groups)
    rules = set()
    for g in names:
        if g != "kube-system/kube-dns":
            rules.add((g, "kube-system/kube-dns", "udp", 53, 53))
    ends = names + ["world", "host"]
    while len(rules) < 40:
        a, b = rng.choice(ends), rng.choice(ends)
        if a in ("world", "host") and b in ("world", "host"):
            continue
        first = rng.choice([80, 443, 5432, 6379, 8000, rng.randint(1, 65000)])
        last = first if rng.random() < 0.6 else min(65535, first + rng.randint(1, 500))
        rules.add((a, b, rng.choice(PROTOCOLS), first, last))
    pods = []
    n = 0
    for g in names:
        ns, app = g.split("/")
        for i in range(2):
            n += 1
            labels = {k: v for k, v in groups[g].items() if k != NS_LABEL}
            labels["pod-template-hash"] = f"h{n}"
            pods.append({"pod": f"{app}-{i}", "ns": ns, "group": g, "labels": labels,
                         "ips": [f"10.244.{n}.{i + 2}", f"fd00:10:244::{n:x}:{i + 2}"]})
    return groups, sorted(rules), pods


def policy_yaml(groups, rules):
    lines = ["apiVersion: bulkhead/v1", "kind: Policy", "mode: enforce", "groups:"]
    for name, selector in groups.items():
        lines.append(f"  - name: {name}")
        lines.append(f"    selector: {json.dumps(selector)}")
    lines.append("allow:")
    for a, b, proto, first, last in rules:
        port = f"port: {first}" if first == last else f"ports: {first}-{last}"
        lines.append(f"  - {{from: {a}, to: {b}, protocol: {proto}, {port}}}")
    return "\n".join(lines) + "\n"


def inventory_yaml():
    return ("apiVersion: bulkhead/v1\nkind: Inventory\n"
            f"host: {{name: node-1, addresses: [{', '.join(HOST_ADDRESSES)}]}}\nworkloads: []\n")


def bulkhead_allows(rules, src_group, dst_group, protocol, port):
    return any(a == src_group and b == dst_group and p == protocol and first <= port <= last
               for a, b, p, first, last in rules)


class NetworkPolicyExportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="netpol-cli-")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def export(self, policy_text, *extra):
        policy = self.write("policy.yaml", policy_text)
        out = os.path.join(self.dir, "netpol.yaml")
        r = run("export", policy, "--format", "networkpolicy", "-o", out, *extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            text = f.read()
        return text, [d for d in yaml.safe_load_all(text) if d is not None], r.stderr

    def assert_models_lossless(self, docs):
        api = client.ApiClient()

        class Response:  # what ApiClient.deserialize reads
            def __init__(self, doc):
                self.data = json.dumps(doc)

        for doc in docs:
            model = api.deserialize(Response(doc), "V1NetworkPolicy")
            self.assertIsInstance(model, client.V1NetworkPolicy)
            self.assertEqual(api.sanitize_for_serialization(model), doc)

    def test_generated_policies_allow_exactly_the_bulkhead_connections(self):
        for seed in (1, 2, 3):
            with self.subTest(seed=seed):
                self.check_generated(seed)

    def check_generated(self, seed):
        groups, rules, pods = generate(seed)
        inventory = self.write("inventory.yaml", inventory_yaml())
        text, docs, stderr = self.export(policy_yaml(groups, rules), "--cluster-cidr",
                                         ",".join(CLUSTER_CIDRS), "--inventory", inventory)
        self.assertEqual(len(docs), len(groups))
        self.assert_models_lossless(docs)
        self.assertNotIn("DNS BLOCKED", stderr)
        self.assertIn("Everything in the policy is expressed", text)
        endpoints = []
        for pod in pods:
            for ip in pod["ips"]:
                endpoints.append(dict(pod, ip=ip))
        for ip in HOST_ADDRESSES:
            endpoints.append({"pod": None, "group": "host", "ip": ip})
        for ip in OUTSIDE:
            endpoints.append({"pod": None, "group": "world", "ip": ip})
        ports = {1, 53, 65535}
        for _, _, _, first, last in rules:
            ports.update(p for p in (first - 1, first, last, last + 1) if 1 <= p <= 65535)
        checked = allowed = 0
        for src in endpoints:
            for dst in endpoints:
                if src["pod"] is None and dst["pod"] is None:
                    continue  # NetworkPolicy governs pods only
                if src is dst or (ipaddress.ip_address(src["ip"]).version !=
                                  ipaddress.ip_address(dst["ip"]).version):
                    continue
                for proto in PROTOCOLS:
                    for port in ports:
                        want = bulkhead_allows(rules, src["group"], dst["group"], proto, port)
                        got = k8s_allows(docs, src, dst, proto, port)
                        self.assertEqual(got, want, (src["ip"], src["group"], dst["ip"],
                                                     dst["group"], proto, port))
                        checked += 1
                        allowed += want
        self.assertGreater(allowed, 100)
        self.assertGreater(checked, 10000)

    def test_output_is_deterministic(self):
        groups, rules, _ = generate(7)
        first, _, _ = self.export(policy_yaml(groups, rules))
        second, _, _ = self.export(policy_yaml(dict(reversed(list(groups.items()))),
                                               list(reversed(rules))))
        self.assertEqual(first, second)

    def test_what_cannot_be_expressed_is_listed(self):
        text, docs, stderr = self.export(
            "apiVersion: bulkhead/v1\nkind: Policy\nmode: monitor\ngroups:\n"
            "  - {name: shop/api, selector: {io.kubernetes.pod.namespace: shop, app: api}, "
            "mode: enforce}\n"
            "  - {name: shop/web, selector: {io.kubernetes.pod.namespace: shop}}\n"
            "allow:\n"
            "  - {from: shop/api, to: host, protocol: tcp, port: 10250}\n"
            "  - {from: shop/api, to: shop/web, protocol: tcp, port: 80}\n"
            "  - {from: world, to: shop/api, protocol: icmp, port: 8}\n"
            "failsafe:\n  - {to: host, protocol: tcp, port: 22}\n")
        self.assertEqual([d["metadata"]["name"] for d in docs], ["bulkhead-api"])
        self.assert_models_lossless(docs)
        for needle in ['"shop/api" -> "host" tcp/10250: the node\'s addresses are unknown',
                       '"shop/web": its selector names only the namespace',
                       '"shop/api" -> "shop/web" tcp/80: labels cannot select group',
                       '"world" -> "shop/api" icmp/8: NetworkPolicy has no ICMP',
                       'failsafe "any" -> "host" tcp/22', 'mode monitor',
                       'group "shop/api" mode enforce',
                       'group "shop/api": DNS BLOCKED']:
            self.assertIn(needle, stderr)
            self.assertIn(needle, text)
        self.assertEqual(docs[0]["spec"]["egress"], [])
        self.assertEqual(docs[0]["spec"]["ingress"], [])

    def test_docker_groups_need_a_namespace(self):
        policy = ("apiVersion: bulkhead/v1\nkind: Policy\ngroups:\n"
                  "  - {name: api, selector: {app: api}}\n  - {name: db, selector: {app: db}}\n"
                  "allow:\n  - {from: api, to: db, protocol: tcp, ports: 5432-5433}\n")
        path = self.write("docker.yaml", policy)
        r = run("export", path, "--format", "networkpolicy")
        self.assertNotEqual(r.returncode, 0)
        errors = [l for l in r.stderr.splitlines() if l.startswith("bulkhead: error: ")]
        self.assertEqual(len(errors), 1, r.stderr)
        self.assertIn('group "api" has no io.kubernetes.pod.namespace', errors[0])
        _, docs, _ = self.export(policy, "--namespace", "shop")
        self.assertEqual([(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs],
                         [("shop", "bulkhead-api"), ("shop", "bulkhead-db")])
        self.assertEqual(docs[0]["spec"]["egress"][0]["ports"],
                         [{"protocol": "TCP", "port": 5432, "endPort": 5433}])
        self.assertEqual(docs[1]["spec"]["ingress"][0]["from"],
                         [{"podSelector": {"matchLabels": {"app": "api"}}}])

    def test_bad_input_is_one_error_line(self):
        policy = self.write("p.yaml", "apiVersion: bulkhead/v1\nkind: Policy\n")
        out = os.path.join(self.dir, "never.yaml")
        for args, needle in [(["--cluster-cidr", "10.244.0.1/16"], '"10.244.0.1/16"'),
                             (["--cluster-cidr", "0.0.0.0/0"], '"0.0.0.0/0"'),
                             (["--cluster-cidr", "nonsense"], '"nonsense"'),
                             (["--node-cidr", "192.168.1.1/24"], '"192.168.1.1/24"'),
                             (["--node-cidr", "node-1"], '"node-1"'),
                             (["--namespace", "Not_A_Namespace"], '"Not_A_Namespace"')]:
            r = run("export", policy, "--format", "networkpolicy", "-o", out, *args)
            self.assertNotEqual(r.returncode, 0, args)
            errors = [l for l in r.stderr.splitlines() if l.startswith("bulkhead: error: ")]
            self.assertEqual(len(errors), 1, r.stderr)
            self.assertIn(needle, errors[0])
            self.assertFalse(os.path.exists(out))
        r = run("export", policy, "--format", "json", "--cluster-cidr", "10.0.0.0/8")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("only to --format networkpolicy", r.stderr)


if __name__ == "__main__":
    BULKHEAD = os.path.abspath(sys.argv.pop(1))
    unittest.main()
