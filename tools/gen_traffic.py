#!/usr/bin/env python3
"""Deterministic traffic generator for bulkhead: a classic pcap (Ethernet) plus its inventory.

Profiles:
  example  the small shop app in examples/ (readable in Wireshark, a few hundred packets)
  fixture  the learn test fixture in tests/fixtures/: the example plus every direction case the
           flow table must get right, and the exact edge set it must produce (computed here from
           what each flow is meant to be, never by running bulkhead)
  bench    a large capture for bench/ (5 M packets by default, 500 workloads in 20 groups)

The same seed gives byte-identical files: all randomness comes from one random.Random(seed),
packets are ordered by (timestamp, creation order), and nothing reads the clock or the
environment. Python 3 standard library only.

  tools/gen_traffic.py example
  tools/gen_traffic.py fixture
  tools/gen_traffic.py bench --packets 5000000 -o bench/out/bench.pcap
  tools/gen_traffic.py example --scan-ports 65535 --syn-flood 100000 -o /tmp/hostile.pcap
"""

import argparse
import calendar
import heapq
import ipaddress
import json
import os
import random
import struct
import sys
from array import array

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Capture start: 2026-11-28T10:00:00Z, as in the FlowGraph example of the brief.
BASE_USEC = calendar.timegm((2026, 11, 28, 10, 0, 0)) * 1_000_000

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_VLAN = 0x8100  # 802.1Q
ETH_QINQ = 0x88A8  # 802.1ad service tag
ETH_IPV6 = 0x86DD

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMPV6 = 58
PROTO_NAME = {PROTO_TCP: "tcp", PROTO_UDP: "udp", PROTO_ICMP: "icmp", PROTO_ICMPV6: "icmpv6"}
# policy::Protocol's order (tcp, udp, icmp, icmpv6, sctp): how FlowGraph sorts its edges.
PROTO_SORT = {"tcp": 0, "udp": 1, "icmp": 2, "icmpv6": 3, "sctp": 4}

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

# MSS 1460, SACK permitted, window scale 7: what a Linux SYN carries, minus timestamps.
SYN_OPTIONS = bytes.fromhex("020405b4" "01010402" "01030307")
MSS = 1448

CLIENT, SERVER = 0, 1


# ------------------------------------------------------------------------------------------------
# Output


class PcapWriter:
    """Classic pcap (microsecond timestamps, little endian), written in big buffered chunks to
    PATH.tmp and renamed into place on close, so a killed run never leaves a half file."""

    def __init__(self, path, snaplen):
        self.path = path
        self.snaplen = snaplen
        self.tmp = path + ".tmp"
        d = os.path.dirname(path)
        if d:
            os.makedirs(d, exist_ok=True)
        self.f = open(self.tmp, "wb", buffering=0)
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1))
        self.parts = []
        self.pending = 0
        self.packets = 0
        self.bytes = 0

    def write(self, ts_usec, frame, wire_len=None):
        if wire_len is None:
            wire_len = len(frame)
        cap = frame[: self.snaplen]
        sec, usec = divmod(ts_usec, 1_000_000)
        self.parts.append(struct.pack("<IIII", sec, usec, len(cap), wire_len))
        self.parts.append(cap)
        self.pending += 16 + len(cap)
        self.packets += 1
        self.bytes += wire_len
        if self.pending >= (8 << 20):
            self.flush()

    def flush(self):
        self.f.write(b"".join(self.parts))
        self.parts = []
        self.pending = 0

    def close(self):
        self.flush()
        self.f.close()
        os.replace(self.tmp, self.path)


def write_text(path, text):
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def yaml_scalar(s):
    # IPv6 addresses and MACs are quoted: a colon in a plain scalar is legal YAML but trips
    # some readers inside flow sequences.
    if ":" in s or s == "" or s[0] in "&*!|>'\"%@`#,[]{}-?":
        return '"' + s + '"'
    return s


def inventory_yaml(header, host, workloads):
    out = [f"# {header}", "apiVersion: bulkhead/v1", "kind: Inventory"]
    addrs = ", ".join(yaml_scalar(a) for a in host.addresses())
    out.append(f"host: {{name: {host.name}, addresses: [{addrs}]}}")
    out.append("workloads:")
    for w in workloads:
        out.append(f"  - name: {w.name}")
        if w.labels:
            labels = ", ".join(f"{k}: {yaml_scalar(v)}" for k, v in w.labels.items())
            out.append(f"    labels: {{{labels}}}")
        out.append(f"    addresses: [{', '.join(yaml_scalar(a) for a in w.addresses())}]")
        if w.interface:
            out.append(f"    interface: {w.interface}")
        out.append(f'    mac: "{w.mac_text()}"')
        if w.wid:
            out.append(f"    id: {w.wid}")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------------
# Endpoints and header building


class Endpoint:
    """A workload, the host, or a world address. `group` is what bulkhead should resolve it to."""

    def __init__(self, name, group, v4=None, v6=None, mac=None, labels=None, interface="",
                 wid=""):
        self.name = name
        self.group = group
        self.v4 = ipaddress.IPv4Address(v4) if v4 else None
        self.v6 = ipaddress.IPv6Address(v6) if v6 else None
        self.mac = mac
        self.labels = labels or {}
        self.interface = interface
        self.wid = wid

    def addresses(self):
        return [str(a) for a in (self.v4, self.v6) if a is not None]

    def ip(self, v6):
        a = self.v6 if v6 else self.v4
        if a is None:
            raise ValueError(f"{self.name} has no IPv{6 if v6 else 4} address")
        return a.packed

    def mac_text(self):
        return ":".join(f"{b:02x}" for b in self.mac)


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


def csum_fold(s):
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def csum_sum(data):
    if len(data) % 2:
        data += b"\0"
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


def ethernet(dst_mac, src_mac, ethertype, payload, vlans=()):
    """vlans: outer first, each (tpid, vid)."""
    hdr = dst_mac + src_mac
    for tpid, vid in vlans:
        hdr += struct.pack("!HH", tpid, vid & 0x0FFF)
    return hdr + struct.pack("!H", ethertype) + payload


def ip_datagram(src, dst, proto, l4, ip_id, ttl=64, csum_offset=None):
    """An IPv4 or IPv6 datagram around `l4` (family from the address length). When csum_offset
    is given, the transport checksum there is filled in (with the pseudo-header, except ICMPv4)."""
    v6 = len(src) == 16
    if csum_offset is not None:
        s = csum_sum(l4)
        if proto != PROTO_ICMP:
            s += csum_sum(src + dst) + proto + len(l4)
        c = csum_fold(s)
        if proto == PROTO_UDP and c == 0:
            c = 0xFFFF
        l4 = l4[:csum_offset] + struct.pack("!H", c) + l4[csum_offset + 2:]
    if v6:
        return struct.pack("!IHBB", 0x60000000, len(l4), proto, ttl) + src + dst + l4
    hdr = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(l4), ip_id, 0x4000, ttl, proto, 0) + src + dst
    c = csum_fold(csum_sum(hdr))
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + l4


def tcp_segment(sport, dport, seq, ack, flags, payload=b"", window=502):
    opts = SYN_OPTIONS if flags & SYN else b""
    doff = (20 + len(opts)) // 4
    if flags & SYN:
        window = 64240
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, doff << 4,
                       flags, window, 0, 0) + opts + payload


def udp_datagram(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def dns_name(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


def dns_query(qid, name, qtype):
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + dns_name(name) + struct.pack(
        "!HH", qtype, 1)


def dns_answer(qid, name, qtype, rdata):
    q = dns_name(name) + struct.pack("!HH", qtype, 1)
    ans = struct.pack("!HHHIH", 0xC00C, qtype, 1, 30, len(rdata)) + rdata
    return struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q + ans


# ------------------------------------------------------------------------------------------------
# Small profiles: a scenario of readable flows with correct checksums


class Scenario:
    """Collects packets of intended flows and what each flow should become in the graph."""

    def __init__(self, seed, host_mac):
        self.rng = random.Random(seed)
        self.packets = []  # (ts_usec, creation order, frame)
        self.intents = []  # (client group, server group, proto name, port, makes an edge)
        self.host_mac = host_mac
        self.ip_id = self.rng.randrange(1, 0xFFFF)

    def _mac_for(self, ep):
        # World traffic reaches the bridge through the host: its L2 peer is the host's MAC.
        return ep.mac if ep.mac else self.host_mac

    def emit(self, ts, src, dst, v6, proto, l4, csum_offset, vlans=()):
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        dgram = ip_datagram(src.ip(v6), dst.ip(v6), proto, l4, self.ip_id, csum_offset=csum_offset)
        frame = ethernet(self._mac_for(dst), self._mac_for(src), ETH_IPV6 if v6 else ETH_IPV4,
                         dgram, vlans)
        self.raw(ts, frame)

    def raw(self, ts, frame):
        self.packets.append((ts, len(self.packets), frame))

    def intend(self, client, server, proto, port, edge=True):
        self.intents.append((client.group, server.group, PROTO_NAME[proto], port, edge))

    def rtt(self):
        return self.rng.randrange(150, 900)

    def tcp(self, t, client, server, sport, dport, exchanges, mode="full", v6=False, vlans=(),
            fin=True, edge=True):
        """One TCP connection starting at t. exchanges: [(request, response)], responses split at
        the MSS. mode: full handshake, "synack" (capture starts after the SYN) or "midstream"
        (connection established before the capture). Returns the time of its last packet."""
        rng = self.rng
        seq = [rng.randrange(1 << 32), rng.randrange(1 << 32)]
        ends = [(client, sport), (server, dport)]

        def send(t, d, flags, payload=b""):
            src, sp = ends[d]
            dst, dp = ends[1 - d]
            ack = seq[1 - d] if flags & ACK else 0
            seg = tcp_segment(sp, dp, seq[d], ack, flags, payload)
            self.emit(t, src, dst, v6, PROTO_TCP, seg, 16, vlans)
            seq[d] += len(payload) + (1 if flags & (SYN | FIN) else 0)

        rtt = self.rtt()
        if mode == "full":
            send(t, CLIENT, SYN)
            t += rtt // 2
        if mode in ("full", "synack"):
            if mode == "synack":
                seq[CLIENT] += 1  # the SYN happened before the capture
            send(t, SERVER, SYN | ACK)
            t += rtt // 2
            send(t, CLIENT, ACK)
            t += rng.randrange(20, 200)
        for request, response in exchanges:
            send(t, CLIENT, PSH | ACK, request)
            t += rtt // 2 + rng.randrange(200, 3000)  # server think time
            for i in range(0, max(len(response), 1), MSS):
                send(t, SERVER, PSH | ACK, response[i:i + MSS])
                t += rng.randrange(5, 40)
            t += rtt // 2
            send(t, CLIENT, ACK)
            t += rng.randrange(1000, 40000)  # client think time between requests
        if fin:
            send(t, CLIENT, FIN | ACK)
            t += rtt // 2
            send(t, SERVER, FIN | ACK)
            t += rtt // 2
            send(t, CLIENT, ACK)
        self.intend(client, server, PROTO_TCP, dport, edge)
        return t

    def udp(self, t, client, server, sport, dport, messages, v6=False, vlans=(), edge=True):
        """messages: [(direction, payload)], client speaks first."""
        ends = [(client, sport), (server, dport)]
        for d, payload in messages:
            src, sp = ends[d]
            dst, dp = ends[1 - d]
            self.emit(t, src, dst, v6, PROTO_UDP, udp_datagram(sp, dp, payload), 6, vlans)
            t += self.rng.randrange(100, 2000)
        self.intend(client, server, PROTO_UDP, dport, edge)
        return t

    def dns(self, t, client, server, sport, name, answer_ep, v6=False):
        qid = self.rng.randrange(1 << 16)
        qtype = 28 if v6 else 1
        rdata = answer_ep.ip(v6)
        return self.udp(t, client, server, sport, 53, [
            (CLIENT, dns_query(qid, name, qtype)),
            (SERVER, dns_answer(qid, name, qtype, rdata)),
        ], v6=v6)

    def echo(self, t, client, server, ident, v6=False, request=True, reply=True):
        """One echo request/reply pair with its own identifier. A reply without its request is
        never an edge."""
        proto = PROTO_ICMPV6 if v6 else PROTO_ICMP
        req_type, rep_type = (128, 129) if v6 else (8, 0)
        payload = bytes(range(48))
        if request:
            msg = struct.pack("!BBHHH", req_type, 0, 0, ident, 1) + payload
            self.emit(t, client, server, v6, proto, msg, 2)
            t += self.rtt()
        if reply:
            msg = struct.pack("!BBHHH", rep_type, 0, 0, ident, 1) + payload
            self.emit(t, server, client, v6, proto, msg, 2)
        if request:
            self.intend(client, server, proto, req_type)
        return t

    def write(self, pcap_path):
        w = PcapWriter(pcap_path, 262144)
        for ts, _, frame in sorted(self.packets, key=lambda p: (p[0], p[1])):
            w.write(ts, frame)
        w.close()
        return w.packets

    def expected_edges(self):
        counts = {}
        for cg, sg, proto, port, edge in self.intents:
            if not edge or (cg == "world" and sg == "world"):
                continue
            key = (cg, sg, proto, port)
            counts[key] = counts.get(key, 0) + 1
        keys = sorted(counts, key=lambda k: (k[0], k[1], PROTO_SORT[k[2]], k[3]))
        return [{"from": k[0], "to": k[1], "protocol": k[2], "port": k[3],
                 "connections": counts[k]} for k in keys]


def tls_record(content_type, handshake_type, length):
    """A TLS 1.2 record of `length` bytes: a handshake message (ClientHello 1, ServerHello 2) with
    an opaque body, or application data. Only the framing is real; nothing here is a session."""
    if content_type == 0x16:
        body = bytes([handshake_type]) + (length - 4).to_bytes(3, "big") + bytes(length - 4)
    else:
        body = bytes(length)
    return bytes([content_type, 0x03, 0x03]) + struct.pack("!H", length) + body


def http_get(path, host):
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: shop/1.0\r\n\r\n".encode()


def http_ok(body):
    body = body.encode()
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head + body


def redis_cmd(*args):
    out = f"*{len(args)}\r\n"
    for a in args:
        out += f"${len(a)}\r\n{a}\r\n"
    return out.encode()


def pg_query(sql):
    body = sql.encode() + b"\0"
    return b"Q" + struct.pack("!I", 4 + len(body)) + body


def pg_result(rows):
    # RowDescription-less reply is enough for a capture: DataRow per row, then CommandComplete.
    out = b""
    for r in rows:
        col = r.encode()
        out += b"D" + struct.pack("!IHI", 4 + 2 + 4 + len(col), 1, len(col)) + col
    tag = f"SELECT {len(rows)}".encode() + b"\0"
    return out + b"C" + struct.pack("!I", 4 + len(tag)) + tag + b"Z\0\0\0\x05I"


def shop_endpoints(fixture):
    def w(name, group, n, labels, iface):
        return Endpoint(name, group, v4=f"172.20.0.{n}", v6=f"fd00:20::{n:x}",
                        mac=bytes([0x02, 0x42, 0xAC, 0x14, 0x00, n]), labels=labels,
                        interface=iface)

    host = Endpoint("node-1", "host", v4="172.20.0.1", v6="fd00:20::1",
                    mac=mac_bytes("02:42:8e:5a:00:01"))
    ws = [
        w("shop-frontend-1", "frontend", 10, {"app": "frontend"}, "veth-fe1"),
        w("shop-frontend-2", "frontend", 11, {"app": "frontend"}, "veth-fe2"),
        w("shop-api-1", "api", 20, {"app": "api", "tier": "backend"}, "veth-api1"),
        w("shop-api-2", "api", 21, {"app": "api", "tier": "backend"}, "veth-api2"),
        w("shop-db-1", "db", 30, {"app": "db"}, "veth-db1"),
        # Compose label only: grouped by the second groupBy key.
        w("shop-cache-1", "cache", 40, {"com.docker.compose.service": "cache"}, "veth-cache1"),
    ]
    if fixture:
        ws.append(w("shop-cache-2", "cache", 41, {"com.docker.compose.service": "cache"},
                    "veth-cache2"))
        # No groupBy label at all: a group of its own, named after the workload.
        ws.append(w("batch-job-1", "batch-job-1", 50, {"role": "cron"}, ""))
    return host, {x.name: x for x in ws}


def shop_scenario(seed, fixture):
    host, W = shop_endpoints(fixture)
    sc = Scenario(seed, host.mac)
    rng = sc.rng
    fe1, fe2 = W["shop-frontend-1"], W["shop-frontend-2"]
    api1, api2 = W["shop-api-1"], W["shop-api-2"]
    db, cache = W["shop-db-1"], W["shop-cache-1"]
    customer = Endpoint("203.0.113.9", "world", v4="203.0.113.9")
    psp = Endpoint("203.0.113.80", "world", v4="203.0.113.80")  # the payment provider's API

    port = [45000 + rng.randrange(0, 500)]

    def eph():
        port[0] += rng.randrange(1, 60)
        return port[0]

    t0 = BASE_USEC
    ms = 1000

    # Connections that were already open when the capture began: data, no SYN.
    sc.tcp(t0 + 3 * ms, api1, db, eph(), 5432,
           [(pg_query("SELECT id, qty FROM cart_items WHERE cart_id = 42"),
             pg_result(["1|2", "7|1"]))], mode="midstream", fin=False)

    # Customers browse: world -> frontend (TLS), frontend -> api (HTTP), api -> db / cache.
    t = t0 + 20 * ms
    pages = ["/api/products", "/api/cart/42", "/api/products/7", "/api/cart/42/items",
             "/api/recommendations"]
    for i in range(5):
        fe = fe1 if i % 2 == 0 else fe2
        api = api1 if i % 3 else api2
        start = t + i * 700 * ms + rng.randrange(0, 100 * ms)
        sc.tcp(start, customer, fe, eph(), 443, [(tls_record(0x16, 1, 200), tls_record(0x16, 2, 900)),
                                                 (tls_record(0x17, 0, 300), tls_record(0x17, 0, 2600))])
        # frontend resolves the api through the host's DNS, then calls it (IPv6 every third call).
        v6 = i % 3 == 2
        sc.dns(start + 2 * ms, fe, host, eph(), "api.shop.internal", api, v6=False)
        sc.tcp(start + 5 * ms, fe, api, eph(), 8080,
               [(http_get(pages[i], "api:8080"), http_ok('{"items": [1, 7], "total": 3998}'))],
               v6=v6)
        sc.tcp(start + 9 * ms, api, db, eph(), 5432,
               [(pg_query("SELECT * FROM products LIMIT 20"), pg_result(["p%d" % k for k in range(20)]))])
        sc.tcp(start + 12 * ms, api, cache, eph(), 6379,
               [(redis_cmd("GET", f"cart:{40 + i}"), b"$12\r\n{\"items\":[]}\r\n"),
                (redis_cmd("EXPIRE", f"cart:{40 + i}", "3600"), b":1\r\n")],
               vlans=((ETH_VLAN, 20),) if i == 1 else ())

    # api resolves the db through the host's DNS.
    sc.dns(t0 + 30 * ms, api1, host, eph(), "db.shop.internal", db)
    sc.dns(t0 + 1200 * ms, api2, host, eph(), "db.shop.internal", db)
    # Checkout: api -> payment provider on the internet.
    sc.tcp(t0 + 2100 * ms, api2, psp, eph(), 443,
           [(tls_record(0x16, 1, 200), tls_record(0x16, 2, 1400))])
    # The node's health checks: host -> api.
    for k, api in enumerate((api1, api2)):
        sc.tcp(t0 + 1500 * ms + k * 10 * ms, host, api, eph(), 8080,
               [(http_get("/healthz", "localhost:8080"), http_ok('{"ok": true}'))])
    # Reachability checks: ICMP echo frontend -> api, ICMPv6 echo api -> db.
    sc.echo(t0 + 2500 * ms, fe1, api1, 0x1F01)
    sc.echo(t0 + 2600 * ms, api2, db, 0x1F02, v6=True)

    # Not IP: an ARP request for the gateway.
    arp = struct.pack("!HHBBH", 1, ETH_IPV4, 6, 4, 1) + fe1.mac + fe1.ip(False) + bytes(6) + \
        host.ip(False)
    sc.raw(t0 + 1 * ms, ethernet(b"\xff" * 6, fe1.mac, ETH_ARP, arp))
    # Malformed: an IPv4 header cut after 12 bytes, and an IHL of 3 (less than the minimum 5).
    good = ip_datagram(fe2.ip(False), api1.ip(False), PROTO_TCP,
                       tcp_segment(eph(), 8080, 1, 0, SYN), 7)
    sc.raw(t0 + 2800 * ms, ethernet(api1.mac, fe2.mac, ETH_IPV4, good[:12]))
    bad_ihl = bytes([0x43]) + good[1:]
    sc.raw(t0 + 2810 * ms, ethernet(api1.mac, fe2.mac, ETH_IPV4, bad_ihl))

    if fixture:
        fixture_cases(sc, host, W, customer, eph, t0 + 3000 * ms)
    return sc, host, W


def fixture_cases(sc, host, W, customer, eph, t0):
    """The direction cases of learn/flow_table.h, each with the outcome it must have."""
    ms = 1000
    fe1, fe2 = W["shop-frontend-1"], W["shop-frontend-2"]
    api1, api2 = W["shop-api-1"], W["shop-api-2"]
    db, cache1, cache2 = W["shop-db-1"], W["shop-cache-1"], W["shop-cache-2"]
    job = W["batch-job-1"]
    other = Endpoint("198.51.100.7", "world", v4="198.51.100.7")
    get = http_get("/internal/stock", "api")
    ok = http_ok('{"stock": 12}')

    # Handshake on a server port in the ephemeral range: the SYN confirms it, so it is an edge.
    sc.tcp(t0, fe1, api1, eph(), 40000, [(get, ok)])
    # ... and a later connection to that listener without a handshake: the known listener
    # decides (both ports are ephemeral, so the port class could not).
    sc.tcp(t0 + 400 * ms, fe2, api1, eph(), 40000, [(get, ok)], mode="midstream")
    # Capture starts at the SYN-ACK: the server's SYN-ACK marks it, even on an ephemeral port.
    sc.tcp(t0 + 100 * ms, api2, db, 41000, 36000, [(b"replicate", b"ok")], mode="synack")
    # Mid-stream between two ephemeral ports, no handshake, no listener: never an edge.
    sc.tcp(t0 + 200 * ms, fe1, api2, 44000, 38765, [(b"x" * 100, b"y" * 100)],
           mode="midstream", fin=False, edge=False)
    # UDP between two ephemeral ports: unconfirmed, never an edge.
    sc.udp(t0 + 250 * ms, api1, db, 39001, 39002, [(CLIENT, b"rtp" * 40), (SERVER, b"rtp" * 40)],
           edge=False)
    # UDP with both ports in one class (memberlist gossip, 7946 <-> 7946): the receiver of the
    # first packet is the server.
    sc.udp(t0 + 300 * ms, cache1, cache2, 7946, 7946, [(CLIENT, b"ping" * 8), (SERVER, b"ack" * 8)])
    # UDP request/response by port class: NTP to the host (container -> host).
    sc.udp(t0 + 350 * ms, db, host, eph(), 123, [(CLIENT, bytes([0x23]) + bytes(47)),
                                                 (SERVER, bytes([0x24]) + bytes(47))])
    # IPv6 DNS to the host, asking for AAAA.
    sc.dns(t0 + 360 * ms, api2, host, eph(), "cache.shop.internal", cache1, v6=True)
    # An echo reply whose request was not captured: never an edge.
    sc.echo(t0 + 450 * ms, fe2, db, 0x2A01, request=False)
    # ICMPv6 neighbour solicitation to a solicited-node multicast address: never an edge.
    target = api2.ip(True)
    ns = struct.pack("!BBHI", 135, 0, 0, 0) + target + bytes([1, 1]) + api1.mac
    mcast = Endpoint("ff02::1:ff00:21", "world", v6="ff02::1:ff00:21",
                     mac=bytes([0x33, 0x33, 0xFF, 0x00, 0x00, 0x21]))
    sc.emit(t0 + 460 * ms, api1, mcast, True, PROTO_ICMPV6, ns, 2)
    # world -> world (routed through the host, e.g. a port forward): about no workload, no edge.
    sc.tcp(t0 + 500 * ms, customer, other, eph(), 80, [(http_get("/", "example"), http_ok("{}"))])
    # A workload without groupBy labels is a group of its own.
    sc.tcp(t0 + 600 * ms, job, db, eph(), 5432,
           [(pg_query("DELETE FROM sessions WHERE expired"), pg_result([]))])
    # Double-tagged (802.1ad + 802.1Q) frames.
    sc.tcp(t0 + 700 * ms, api2, cache1, eph(), 6379, [(redis_cmd("PING"), b"+PONG\r\n")],
           vlans=((ETH_QINQ, 100), (ETH_VLAN, 20)))
    # api -> db over IPv6 adds to the same edge as over IPv4.
    sc.tcp(t0 + 800 * ms, api1, db, eph(), 5432, [(pg_query("SELECT 1"), pg_result(["1"]))],
           v6=True)
    # More malformations: a TCP header cut short, and an IPv6 payload length past the frame.
    seg = tcp_segment(eph(), 8080, 1, 0, SYN)
    short = ip_datagram(fe1.ip(False), api2.ip(False), PROTO_TCP, seg[:10], 9)
    sc.raw(t0 + 900 * ms, ethernet(api2.mac, fe1.mac, ETH_IPV4, short))
    v6 = ip_datagram(fe1.ip(True), api2.ip(True), PROTO_TCP, seg, 0)
    v6 = v6[:4] + struct.pack("!H", 400) + v6[6:]
    sc.raw(t0 + 910 * ms, ethernet(api2.mac, fe1.mac, ETH_IPV6, v6))


def hostile_traffic(sc, W, scan_ports, syn_flood, t0):
    """What an attacker adds to a capture; none of it may become an edge (no intents).
    scan_ports: shop-frontend-1 SYN-scans ports 1..N of shop-db-1 from one source port, 20 us
    apart; closed ports answer RST/ACK, the db's listening port SYN-ACK, which the scanner
    resets (a half-open scan, as nmap -sS does). syn_flood: N SYNs from spoofed internet
    addresses (198.18.0.0/15) to shop-frontend-1:443, 5 us apart, never answered."""
    fe1, db = W["shop-frontend-1"], W["shop-db-1"]
    rng = sc.rng
    listening = {5432}
    sport = 61234
    t = t0
    for port in range(1, scan_ports + 1):
        seq = rng.randrange(1 << 32)
        sc.emit(t, fe1, db, False, PROTO_TCP, tcp_segment(sport, port, seq, 0, SYN), 16)
        if port in listening:
            sc.emit(t + 40, db, fe1, False, PROTO_TCP,
                    tcp_segment(port, sport, rng.randrange(1 << 32), seq + 1, SYN | ACK), 16)
            sc.emit(t + 80, fe1, db, False, PROTO_TCP, tcp_segment(sport, port, seq + 1, 0, RST),
                    16)
        else:
            sc.emit(t + 40, db, fe1, False, PROTO_TCP,
                    tcp_segment(port, sport, 0, seq + 1, RST | ACK), 16)
        t += 20
    t = t0
    for _ in range(syn_flood):
        a = 0xC6120000 | rng.randrange(1 << 17)  # 198.18.0.0/15
        spoofed = Endpoint(str(ipaddress.IPv4Address(a)), "world", v4=str(ipaddress.IPv4Address(a)))
        sc.emit(t, spoofed, fe1, False, PROTO_TCP,
                tcp_segment(rng.randrange(1024, 65536), 443, rng.randrange(1 << 32), 0, SYN), 16)
        t += 5


def run_small(args, fixture):
    sc, host, W = shop_scenario(args.seed, fixture)
    if args.scan_ports or args.syn_flood:
        hostile_traffic(sc, W, args.scan_ports, args.syn_flood, BASE_USEC + 2_900_000)
    n = sc.write(args.output)
    profile = "fixture" if fixture else "example"
    header = (f"Generated by tools/gen_traffic.py {profile} --seed {args.seed}; "
              f"regenerate, do not edit.")
    write_text(args.inventory, inventory_yaml(header, host, W.values()))
    edges = sc.expected_edges()
    if args.expected:
        write_text(args.expected, json.dumps(edges, indent=2) + "\n")
    print(f"{profile}: {n} packets, {len(sc.intents)} flows, {len(edges)} edges -> {args.output}",
          file=sys.stderr)


# ------------------------------------------------------------------------------------------------
# Bench profile: a large capture written by an event-driven simulation


# (group, replicas, server port, label key). Half the groups carry a compose label instead of
# `app`, as a mixed Docker/Compose host would.
BENCH_GROUPS = [
    ("web", 50, 443, "app"),
    ("gateway", 10, 8443, "app"),
    ("auth", 20, 9000, "app"),
    ("users", 25, 8080, "app"),
    ("catalog", 30, 8080, "app"),
    ("search", 35, 9200, "app"),
    ("cart", 30, 8080, "app"),
    ("orders", 30, 8080, "app"),
    ("payments", 15, 8080, "app"),
    ("inventory", 25, 8080, "app"),
    ("shipping", 15, 8080, "com.docker.compose.service"),
    ("notify", 15, 8080, "com.docker.compose.service"),
    ("reviews", 20, 8080, "com.docker.compose.service"),
    ("recommend", 25, 8501, "com.docker.compose.service"),
    ("postgres", 50, 5432, "com.docker.compose.service"),
    ("redis", 50, 6379, "com.docker.compose.service"),
    ("rabbitmq", 20, 5672, "com.docker.compose.service"),
    ("coredns", 5, 53, "com.docker.compose.service"),
    ("statsd", 10, 8125, "com.docker.compose.service"),
    ("fluentd", 20, 24224, "com.docker.compose.service"),
]

# Request/response dependencies (client group -> server groups). "world" as a server means an
# external API on 443.
BENCH_DEPS = {
    "world": ["web"],
    "web": ["gateway", "catalog", "search", "recommend", "cart"],
    "gateway": ["auth", "users", "cart", "orders", "catalog"],
    "auth": ["postgres", "redis"],
    "users": ["postgres", "redis", "auth"],
    "catalog": ["postgres", "redis", "search"],
    "search": ["search"],
    "cart": ["redis", "catalog", "inventory"],
    "orders": ["postgres", "payments", "inventory", "shipping", "rabbitmq"],
    "payments": ["postgres", "world"],
    "inventory": ["postgres", "redis"],
    "shipping": ["postgres", "rabbitmq", "world"],
    "notify": ["rabbitmq", "world"],
    "reviews": ["postgres", "redis", "users"],
    "recommend": ["redis", "catalog", "search"],
}
# Pooled, long-lived connections that were open before the capture began.
BENCH_POOLS = {
    "postgres": ["auth", "users", "catalog", "orders", "payments", "inventory", "shipping",
                 "reviews", "postgres"],
    "redis": ["auth", "users", "catalog", "cart", "inventory", "reviews", "recommend"],
    "rabbitmq": ["orders", "shipping", "notify", "rabbitmq"],
    "fluentd": [g[0] for g in BENCH_GROUPS if g[0] not in ("fluentd", "coredns")],
}
# Flow-table timeouts of learn/flow_table.h, to estimate how many entries the table holds.
TIMEOUT_TCP_CLOSED = 10_000_000
TIMEOUT_TCP_IDLE = 300_000_000
TIMEOUT_UDP = 60_000_000
TIMEOUT_ICMP = 30_000_000


def bench_inventory(seed):
    """500 workloads in 20 groups, 10.42.<group>.<n>/16 and fd42::<group>:<n>. Depends only on
    the seed, so a short run and a long run share one inventory."""
    rng = random.Random(seed * 7919 + 1)
    host = Endpoint("node-7", "host", v4="10.42.0.1", v6="fd42::1",
                    mac=mac_bytes("02:42:0a:2a:00:01"))
    groups = {}
    for gi, (name, replicas, port, key) in enumerate(BENCH_GROUPS, start=1):
        members = []
        for i in range(replicas):
            n = i + 2
            wid = "%012x" % rng.randrange(1 << 48)
            members.append(Endpoint(
                f"{name}-{i + 1}", name, v4=f"10.42.{gi}.{n}", v6=f"fd42::{gi:x}:{n:x}",
                mac=bytes([0x02, 0x42, 0x0A, 0x2A, gi, n]), labels={key: name},
                interface=f"veth{wid[:7]}", wid=wid))
        groups[name] = (members, port)
    return host, groups


class BenchFlow:
    __slots__ = ("gen", "proto", "v6", "l2", "fixsum", "addrs", "v6pre", "ports", "seq", "ipid",
                 "first", "last", "timeout", "fins", "next", "kind", "n")


class BenchEngine:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.host, self.groups = bench_inventory(args.seed)
        self.snaplen = args.snaplen
        self.zeros = bytes(65536)
        self.starts = array("q")
        self.ends = array("q")
        self.ends_live = array("q")
        self.kinds = {}
        self.kind_packets = {}
        self.v6_packets = 0
        self.vlan_packets = 0
        self.world_v4 = [f"{p}.{i}" for p in ("192.0.2", "198.51.100", "203.0.113")
                         for i in range(1, 255)]
        self.world_v6 = [f"2001:db8:{i // 256:x}:{i % 256:x}::{i % 7 + 1:x}" for i in range(1024)]
        self.world_ep = {}

    # -- endpoints

    def world(self, v6):
        rng = self.rng
        a = rng.choice(self.world_v6) if v6 else rng.choice(self.world_v4)
        ep = self.world_ep.get(a)
        if ep is None:
            ep = Endpoint(a, "world", v4=None if v6 else a, v6=a if v6 else None)
            self.world_ep[a] = ep
        return ep

    def member(self, group):
        return self.rng.choice(self.groups[group][0])

    # -- flow construction

    def make_flow(self, client, server, sport, dport, proto, v6, gen, t, timeout):
        rng = self.rng
        f = BenchFlow()
        f.gen = gen
        f.proto = proto
        f.v6 = v6
        vlans = ((ETH_VLAN, 100 + rng.randrange(8)),) if rng.random() < 0.05 else ()
        cmac = client.mac or self.host.mac
        smac = server.mac or self.host.mac
        et = ETH_IPV6 if v6 else ETH_IPV4
        f.l2 = (ethernet(smac, cmac, et, b"", vlans), ethernet(cmac, smac, et, b"", vlans))
        csrc, sdst = client.ip(v6), server.ip(v6)
        ttlproto = (64 << 8) | proto
        if v6:
            fl = rng.randrange(1 << 20)
            f.v6pre = (0x60000000 | fl, 0x60000000 | rng.randrange(1 << 20))
            f.addrs = (bytes([proto, 64]) + csrc + sdst, bytes([proto, 64]) + sdst + csrc)
        else:
            base = 0x4500 + 0x4000 + ttlproto + csum_sum(csrc + sdst)
            f.fixsum = (base, base)
            # (TTL and protocol, then the addresses of each direction)
            f.addrs = (struct.pack("!H", ttlproto), csrc + sdst, sdst + csrc)
        f.ports = ((sport, dport), (dport, sport))
        f.seq = [rng.randrange(1 << 32), rng.randrange(1 << 32)]
        f.ipid = [rng.randrange(1 << 16), rng.randrange(1 << 16)]
        f.first = t
        f.last = t
        f.timeout = timeout
        f.fins = 0
        f.n = 0
        return f

    def finish(self, f):
        self.kind_packets[f.kind] = self.kind_packets.get(f.kind, 0) + f.n
        self.starts.append(f.first)
        self.ends.append(f.last)
        self.ends_live.append(f.last + (TIMEOUT_TCP_CLOSED if f.fins == 3 else f.timeout))

    # -- packet encoding (fast path: per-flow precomputed headers, zero transport checksums as
    # with checksum offload, payload cut at the snaplen)

    def encode(self, f, t, d, a, b, paylen):
        """d: direction; for TCP a = flags; for ICMP a = type, b = sequence."""
        proto = f.proto
        sp, dp = f.ports[d]
        if proto == PROTO_TCP:
            flags = a
            if flags & SYN:
                l4 = struct.pack("!HHIIHHHH", sp, dp, f.seq[d] & 0xFFFFFFFF,
                                 f.seq[1 - d] & 0xFFFFFFFF if flags & ACK else 0,
                                 0x8000 | flags, 64240, 0, 0) + SYN_OPTIONS
            else:
                l4 = struct.pack("!HHIIHHHH", sp, dp, f.seq[d] & 0xFFFFFFFF,
                                 f.seq[1 - d] & 0xFFFFFFFF, 0x5000 | flags, 502, 0, 0)
            f.seq[d] += paylen + (1 if flags & (SYN | FIN) else 0)
            if flags & FIN:
                f.fins |= 1 << d
        elif proto == PROTO_UDP:
            l4 = struct.pack("!HHHH", sp, dp, 8 + paylen, 0)
        else:
            icmp_type = a if proto == PROTO_ICMP else (128 if a == 8 else 129)
            l4 = struct.pack("!BBHHH", icmp_type, 0, 0, f.ports[0][0], b)
        l4len = len(l4) + paylen
        if f.v6:
            ip = struct.pack("!IH", f.v6pre[d], l4len) + f.addrs[d]
            wire = len(f.l2[d]) + 40 + l4len
        else:
            tot = 20 + l4len
            ipid = f.ipid[d] = (f.ipid[d] + 1) & 0xFFFF
            s = f.fixsum[d] + tot + ipid
            s = (s & 0xFFFF) + (s >> 16)
            s = (s & 0xFFFF) + (s >> 16)
            ip = struct.pack("!HHHH2sH", 0x4500, tot, ipid, 0x4000, f.addrs[0],
                             ~s & 0xFFFF) + f.addrs[1 + d]
            wire = len(f.l2[d]) + tot
        hdr = f.l2[d] + ip + l4
        cap = wire if wire < self.snaplen else self.snaplen
        pad = cap - len(hdr)
        sec, usec = divmod(t, 1_000_000)
        rec = struct.pack("<IIII", sec, usec, cap, wire)
        if pad > 0:
            return rec + hdr + self.zeros[:pad]
        return rec + hdr[:cap]

    # -- flow behaviours: generators of (delay_usec, direction, a, b, payload length)

    def g_http(self, requests, first_delay=0):
        rng = self.rng
        rtt = int(rng.uniform(80, 1500))
        yield (first_delay, CLIENT, SYN, 0, 0)
        yield (rtt // 2, SERVER, SYN | ACK, 0, 0)
        yield (rtt // 2, CLIENT, ACK, 0, 0)
        for _ in range(requests):
            yield (rng.randrange(10, 300), CLIENT, PSH | ACK, 0, rng.randrange(120, 1400))
            resp = int(rng.expovariate(1 / 6000)) + 60
            think = int(rng.expovariate(1 / 4000)) + 100
            yield (rtt // 2 + think, SERVER, PSH | ACK, 0, min(resp, MSS))
            resp -= MSS
            segs = 1
            while resp > 0:
                yield (rng.randrange(2, 60), SERVER, ACK if resp > MSS else PSH | ACK, 0,
                       min(resp, MSS))
                resp -= MSS
                segs += 1
                if segs % 2 == 0 and resp > 0:  # delayed ACK: one per two full segments
                    yield (rtt // 2, CLIENT, ACK, 0, 0)
            yield (rtt // 2, CLIENT, ACK, 0, 0)
        yield (rng.randrange(100, 20000), CLIENT, FIN | ACK, 0, 0)
        yield (rtt // 2, SERVER, FIN | ACK, 0, 0)
        yield (rtt // 2, CLIENT, ACK, 0, 0)

    def g_session(self, lifetime):
        """A keep-alive connection (websocket, AMQP consumer): sparse messages, then close."""
        rng = self.rng
        rtt = int(rng.uniform(80, 1500))
        yield (0, CLIENT, SYN, 0, 0)
        yield (rtt // 2, SERVER, SYN | ACK, 0, 0)
        yield (rtt // 2, CLIENT, ACK, 0, 0)
        left = lifetime
        while left > 0:
            gap = int(rng.expovariate(1 / 4_000_000)) + 1000
            left -= gap
            d = SERVER if rng.random() < 0.6 else CLIENT
            yield (gap, d, PSH | ACK, 0, rng.randrange(40, 900))
            yield (rtt // 2, 1 - d, ACK, 0, 0)
        yield (1000, CLIENT, FIN | ACK, 0, 0)
        yield (rtt // 2, SERVER, FIN | ACK, 0, 0)
        yield (rtt // 2, CLIENT, ACK, 0, 0)

    def g_pool(self, interval):
        """A pooled connection open before the capture: mid-stream, request/response forever."""
        rng = self.rng
        rtt = int(rng.uniform(60, 600))
        delay = int(rng.uniform(0, interval))
        while True:
            yield (delay, CLIENT, PSH | ACK, 0, rng.randrange(60, 600))
            yield (rtt // 2 + rng.randrange(50, 2000), SERVER, PSH | ACK, 0,
                   rng.randrange(20, 1400))
            yield (rtt // 2, CLIENT, ACK, 0, 0)
            delay = int(rng.expovariate(1 / interval)) + 100

    def g_udp_reqresp(self, resp_len):
        rng = self.rng
        yield (0, CLIENT, 0, 0, rng.randrange(30, 60))
        if rng.random() < 0.97:  # a few queries go unanswered
            yield (rng.randrange(100, 3000), SERVER, 0, 0, resp_len)

    def g_udp_oneway(self, n):
        rng = self.rng
        for i in range(n):
            yield (0 if i == 0 else rng.randrange(1000, 200_000), CLIENT, 0, 0,
                   rng.randrange(20, 400))

    def g_ping(self, n):
        rng = self.rng
        rtt = rng.randrange(50, 800)
        for i in range(n):
            yield (0 if i == 0 else 1_000_000 - rtt, CLIENT, 8, i + 1, 56)
            yield (rtt, SERVER, 0, i + 1, 56)

    # -- the traffic mix

    def new_flow(self, t):
        rng = self.rng
        r = rng.random()
        v6 = rng.random() < 0.10
        if r < 0.50:  # short HTTP/TLS/DB request-response connections
            cg = "world" if rng.random() < 0.15 else rng.choice(self.client_groups)
            client = self.world(v6) if cg == "world" else self.member(cg)
            sg = rng.choice(BENCH_DEPS[cg])
            if sg == "world":
                server, port = self.world(v6), 443
            else:
                server = self.member(sg)
                port = self.groups[sg][1]
            kind = "http"
            gen = self.g_http(1 + int(rng.expovariate(1 / 1.5)))
            proto, timeout = PROTO_TCP, TIMEOUT_TCP_IDLE
        elif r < 0.55:  # keep-alive sessions: world websockets to web, consumers to rabbitmq
            if rng.random() < 0.5:
                client, server, port = self.world(v6), self.member("web"), 443
            else:
                cg = rng.choice(("orders", "shipping", "notify"))
                client, server, port = self.member(cg), self.member("rabbitmq"), 5672
            kind = "session"
            gen = self.g_session(int(rng.uniform(10, 240) * 1_000_000))
            proto, timeout = PROTO_TCP, TIMEOUT_TCP_IDLE
        elif r < 0.77:  # DNS to the DNS group
            client = self.member(rng.choice(self.client_groups[1:]))
            server, port = self.member("coredns"), 53
            kind = "dns"
            gen = self.g_udp_reqresp(rng.randrange(60, 300))
            proto, timeout = PROTO_UDP, TIMEOUT_UDP
        elif r < 0.85:  # DNS to the host's resolver
            client = self.member(rng.choice(self.client_groups[1:]))
            server, port = self.host, 53
            kind = "dns-host"
            gen = self.g_udp_reqresp(rng.randrange(60, 300))
            proto, timeout = PROTO_UDP, TIMEOUT_UDP
        elif r < 0.93:  # metrics: one-way statsd datagrams
            client = self.member(rng.choice(self.client_groups[1:]))
            server, port = self.member("statsd"), 8125
            kind = "statsd"
            gen = self.g_udp_oneway(rng.randrange(1, 6))
            proto, timeout = PROTO_UDP, TIMEOUT_UDP
        elif r < 0.98:  # the node's health probes
            sg = rng.choice(self.client_groups[1:])
            client, server, port = self.host, self.member(sg), self.groups[sg][1]
            kind = "probe"
            gen = self.g_http(1)
            proto, timeout = PROTO_TCP, TIMEOUT_TCP_IDLE
        else:  # ping
            client = self.host if rng.random() < 0.5 else self.member(
                rng.choice(self.client_groups[1:]))
            server = self.member(rng.choice(self.client_groups[1:]))
            kind = "ping"
            gen = self.g_ping(rng.randrange(1, 5))
            proto = PROTO_ICMPV6 if v6 else PROTO_ICMP
            port = rng.randrange(1 << 16)  # the echo identifier
            timeout = TIMEOUT_ICMP
            return self.make_flow(client, server, port, 0, proto, v6, gen, t, timeout), kind
        sport = rng.randrange(32768, 61000)
        return self.make_flow(client, server, sport, port, proto, v6, gen, t, timeout), kind

    def run(self):
        args = self.args
        rng = self.rng
        self.client_groups = ["world"] + [g for g in BENCH_DEPS if g != "world"]
        total = args.packets
        duration = int(args.duration * 1_000_000)
        t0 = BASE_USEC
        w = PcapWriter(args.output, self.snaplen)
        heap = []
        counter = 0

        def schedule(f, t):
            nonlocal counter
            try:
                step = next(f.gen)
            except StopIteration:
                self.finish(f)
                return
            f.next = step
            counter += 1
            heapq.heappush(heap, (t + step[0], counter, f))

        # Pools carry about 18% of the packets over the whole capture.
        pool_count = max(20, total * 1500 // 5_000_000)
        interval = max(1000, int(3 * duration * pool_count / (0.18 * total)))
        for sg, clients in BENCH_POOLS.items():
            share = pool_count // len(BENCH_POOLS)
            for _ in range(share):
                client = self.member(rng.choice(clients))
                server = self.member(sg)
                v6 = rng.random() < 0.10
                f = self.make_flow(client, server, rng.randrange(32768, 61000),
                                   self.groups[sg][1], PROTO_TCP, v6, self.g_pool(interval),
                                   t0, TIMEOUT_TCP_IDLE)
                f.kind = "pool"
                self.kinds["pool"] = self.kinds.get("pool", 0) + 1
                schedule(f, t0)
        # New flows arrive as a Poisson process; MEAN_PACKETS is the measured mean of the mix.
        mean_packets = 16.0
        rate = max(1.0, (total * 0.82) / mean_packets / (duration / 1_000_000))
        next_arrival = t0
        written = 0
        last_t = t0
        parts = []
        pending = 0
        f_out = w.f
        encode = self.encode
        heappop, heappush = heapq.heappop, heapq.heappush
        while written < total:
            if next_arrival <= (heap[0][0] if heap else next_arrival):
                f, kind = self.new_flow(next_arrival)
                f.kind = kind
                self.kinds[kind] = self.kinds.get(kind, 0) + 1
                schedule(f, next_arrival)
                next_arrival += int(rng.expovariate(rate) * 1_000_000) + 1
                continue
            t, _, f = heappop(heap)
            _, d, a, b, paylen = f.next
            rec = encode(f, t, d, a, b, paylen)
            parts.append(rec)
            pending += len(rec)
            written += 1
            f.last = last_t = t
            f.n += 1
            if pending >= (8 << 20):
                f_out.write(b"".join(parts))
                parts = []
                pending = 0
            try:
                step = next(f.gen)
            except StopIteration:
                self.finish(f)
                continue
            f.next = step
            counter += 1
            heappush(heap, (t + step[0], counter, f))
        f_out.write(b"".join(parts))
        end = heap[0][0] if heap else next_arrival
        for _, _, f in heap:
            # Cut by the end of the capture: the table still holds them at the end. A flow whose
            # first packet fell after the cut never existed.
            if f.n == 0:
                self.kinds[f.kind] -= 1
                continue
            self.kind_packets[f.kind] = self.kind_packets.get(f.kind, 0) + f.n
            self.starts.append(f.first)
            self.ends.append(f.last)
            self.ends_live.append(max(f.last, end))
        w.packets = written
        w.close()
        write_text(args.inventory, inventory_yaml(
            f"Generated by tools/gen_traffic.py bench --seed {args.seed}; regenerate, do not edit.",
            self.host, [m for ms, _ in self.groups.values() for m in ms]))
        stats = {
            "packets": written,
            "flows": len(self.starts),
            "flows_by_kind": dict(sorted(self.kinds.items())),
            "packets_by_kind": dict(sorted(self.kind_packets.items())),
            "seconds": round((last_t - t0) / 1e6, 3),
            "peak_open_flows": peak(self.starts, self.ends),
            "peak_table_flows": peak(self.starts, self.ends_live),
            "workloads": sum(len(m) for m, _ in self.groups.values()),
            "groups": len(self.groups),
            "file_bytes": os.path.getsize(args.output),
        }
        write_text(args.output + ".stats.json", json.dumps(stats, indent=2) + "\n")
        print(json.dumps(stats), file=sys.stderr)


def peak(starts, ends):
    """Largest number of [start, end] intervals that overlap at one instant."""
    s = sorted(starts)
    e = sorted(ends)
    best = cur = j = 0
    for x in s:
        while j < len(e) and e[j] < x:
            cur -= 1
            j += 1
        cur += 1
        best = max(best, cur)
    return best


# ------------------------------------------------------------------------------------------------


def main(argv):
    defaults = {
        "example": ("examples/shop.pcap", "examples/shop-inventory.yaml", None),
        "fixture": ("tests/fixtures/learn-fixture.pcap",
                    "tests/fixtures/learn-fixture-inventory.yaml",
                    "tests/fixtures/learn-fixture.expected.json"),
        "bench": ("bench/out/bench.pcap", None, None),
    }
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("profile", choices=sorted(defaults))
    p.add_argument("-o", "--output", help="pcap to write (default: the profile's path)")
    p.add_argument("--inventory", help="inventory YAML to write (default: beside the pcap)")
    p.add_argument("--expected", help="fixture: expected edge list JSON to write")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--packets", type=int, default=5_000_000, help="bench: packets to write")
    p.add_argument("--duration", type=float, default=600.0, help="bench: seconds of traffic")
    p.add_argument("--scan-ports", type=int, default=0,
                   help="example/fixture: add a SYN scan of ports 1..N of shop-db-1")
    p.add_argument("--syn-flood", type=int, default=0,
                   help="example/fixture: add N unanswered SYNs from spoofed addresses")
    p.add_argument("--snaplen", type=int, default=128,
                   help="bench: bytes kept per packet (headers only, as bulkhead captures)")
    args = p.parse_args(argv)
    out_default, inv_default, exp_default = defaults[args.profile]
    if args.output is None:
        args.output = os.path.join(REPO_ROOT, out_default)
    if args.inventory is None:
        if inv_default and args.output == os.path.join(REPO_ROOT, out_default):
            args.inventory = os.path.join(REPO_ROOT, inv_default)
        else:
            stem = args.output[:-5] if args.output.endswith(".pcap") else args.output
            args.inventory = stem + "-inventory.yaml"
    if args.expected is None and exp_default and args.output == os.path.join(REPO_ROOT,
                                                                             out_default):
        args.expected = os.path.join(REPO_ROOT, exp_default)
    if args.profile == "fixture" and args.expected is None:
        stem = args.output[:-5] if args.output.endswith(".pcap") else args.output
        args.expected = stem + ".expected.json"
    if not 0 <= args.scan_ports <= 65535 or args.syn_flood < 0:
        p.error("--scan-ports must be 0..65535 and --syn-flood not negative")
    if args.profile == "bench":
        if args.packets < 1 or args.snaplen < 96:
            p.error("--packets must be positive and --snaplen at least 96")
        BenchEngine(args).run()
    else:
        run_small(args, args.profile == "fixture")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
