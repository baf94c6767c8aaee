"""Sends or counts encapsulated raw frames (the evasions the bridge table must stop): they skip
br_netfilter, so the inet table never sees the IPv4 packet inside.

send IFACE DST_MAC COUNT [KIND]: IPv4/UDP frames with a marker payload, from a raw socket,
    inside KIND: vlan (one 802.1Q tag, the default), qinq (802.1ad outer tag, 802.1Q inner) or
    pppoe (a PPPoE session frame, RFC 2516, carrying PPP's IPv4 protocol 0x0021).
recv IFACE SECONDS: prints how many frames carrying the marker arrived on IFACE.
"""
import socket
import struct
import sys
import time

MARKER = b"BULKHEAD-VLAN-PROBE"


def encapsulate(kind, ip_packet):
    """The ethertype and payload after the MAC addresses."""
    if kind == "vlan":
        return struct.pack("!HH", 0x8100, 42) + struct.pack("!H", 0x0800) + ip_packet
    if kind == "qinq":
        return struct.pack("!HHHH", 0x88A8, 100, 0x8100, 42) + struct.pack("!H", 0x0800) + ip_packet
    if kind == "pppoe":
        ppp = struct.pack("!H", 0x0021) + ip_packet
        return struct.pack("!HBBHH", 0x8864, 0x11, 0x00, 0x0001, len(ppp)) + ppp
    raise SystemExit("unknown kind " + kind)


def send(iface, dst_mac, count, kind="vlan"):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src = s.getsockname()[4]
    dst = bytes.fromhex(dst_mac.replace(":", ""))
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + len(MARKER), 1, 0, 64, 17, 0,
                     socket.inet_aton("10.10.0.2"), socket.inet_aton("10.10.0.3"))
    udp = struct.pack("!HHHH", 40000, 8080, 8 + len(MARKER), 0)
    frame = dst + src + encapsulate(kind, ip + udp + MARKER)
    for _ in range(count):
        s.send(frame)
        time.sleep(0.02)


def recv(iface, seconds):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((iface, 0))
    s.settimeout(0.2)
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        try:
            data = s.recv(65535)
        except socket.timeout:
            continue
        if MARKER in data:
            n += 1
    print(n)


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else "vlan")
    else:
        recv(sys.argv[2], float(sys.argv[3]))
