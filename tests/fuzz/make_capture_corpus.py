#!/usr/bin/env python3
"""Writes the seed corpora of the capture fuzz targets (decoder_fuzz, pcap_file_fuzz, nflog_fuzz).

Deterministic (no randomness, no timestamps from the clock), python3 standard library only.
Regenerate with:  python3 tests/fuzz/make_capture_corpus.py
and commit the result. Each seed is a small hand-built packet or file covering one layer or one
malformation, so the fuzzer starts from inputs that reach deep into the decoder.
"""

import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# decoder_fuzz: the first byte picks the link type (index into its kLinks table).
LINK_ETH, LINK_RAW, LINK_SLL, LINK_SLL2, LINK_IPV4, LINK_IPV6, LINK_NFLOG = range(7)


def be16(v):
    return struct.pack(">H", v)


def be32(v):
    return struct.pack(">I", v)


def ether(ethertype):
    return bytes([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]) + be16(ethertype)


def vlan(vid, inner):
    return be16(vid) + be16(inner)


def ipv4(proto, payload, ihl=5, total=None, frag=0, src=0x0A000001, dst=0x0A000002):
    options = b"\x01" * (max(ihl, 5) * 4 - 20)
    if total is None:
        total = 20 + len(options) + len(payload)
    header = bytes([0x40 | (ihl & 0xF), 0]) + be16(total) + be16(0x1234) + be16(frag)
    header += bytes([64, proto]) + be16(0) + be32(src) + be32(dst)
    return header + options + payload


def ipv6(next_header, payload, payload_len=None):
    if payload_len is None:
        payload_len = len(payload)
    src = bytes([0xFD] + [0] * 14 + [1])
    dst = bytes([0xFD] + [0] * 14 + [2])
    return be32(6 << 28) + be16(payload_len) + bytes([next_header, 64]) + src + dst + payload


def ext(next_header, units=0):
    return bytes([next_header, units]) + bytes(6 + 8 * units)


def frag6(next_header, offset, more):
    return bytes([next_header, 0]) + be16((offset << 3) | (1 if more else 0)) + be32(0xABCDEF01)


def tcp(sport, dport, flags, option_words=0, offset=None):
    if offset is None:
        offset = 5 + option_words
    header = be16(sport) + be16(dport) + be32(1000) + be32(0)
    header += bytes([offset << 4, flags]) + be16(65535) + be16(0) + be16(0)
    return header + (be32(0x020405B4) + b"\x01\x01\x01\x01" * (option_words - 1)
                     if option_words else b"")


def udp(sport, dport, payload=b""):
    return be16(sport) + be16(dport) + be16(8 + len(payload)) + be16(0) + payload


def icmp(icmp_type, code, ident):
    return bytes([icmp_type, code]) + be16(0) + be16(ident) + be16(1)


def sctp(sport, dport):
    return be16(sport) + be16(dport) + be32(0xDEADBEEF) + be32(0)


def sll(protocol):
    return be16(0) + be16(1) + be16(6) + bytes([2] * 6 + [0, 0]) + be16(protocol)


def sll2(protocol):
    return be16(protocol) + be16(0) + be32(3) + be16(1) + bytes([0, 6]) + bytes([2] * 6 + [0, 0])


def nflog(packet, prefix=b"bulkhead-violation\x00"):
    # TLV length/type in host order; the seeds use little-endian (x86, where CI runs).
    def tlv(kind, value):
        body = struct.pack("<HH", len(value) + 4, kind) + value
        return body + bytes((-len(body)) % 4)

    return bytes([2, 0]) + be16(5) + tlv(1, b"\x08\x00\x01\x00") + tlv(10, prefix) + tlv(9, packet)


def decoder_seeds():
    tcp4 = ipv4(6, tcp(40000, 443, 0x02, 1), ihl=6)
    tcp6 = ipv6(6, tcp(40001, 8443, 0x12, 1))
    chain = ext(60) + ext(43, 1) + frag6(60, 0, True) + ext(6)
    return {
        "eth_tcp4": bytes([LINK_ETH]) + ether(0x0800) + tcp4,
        "eth_tcp6": bytes([LINK_ETH]) + ether(0x86DD) + tcp6,
        "eth_qinq_udp4": bytes([LINK_ETH]) + ether(0x88A8) + vlan(100, 0x8100) + vlan(10, 0x0800)
        + ipv4(17, udp(5353, 53, b"abcd")),
        "eth_vlan_too_deep": bytes([LINK_ETH]) + ether(0x8100) + vlan(1, 0x8100)
        + vlan(2, 0x8100) + vlan(3, 0x0800) + tcp4,
        "eth_ipv6_ext_chain": bytes([LINK_ETH]) + ether(0x86DD)
        + ipv6(0, chain + tcp(1, 22, 0x02)),
        "eth_ipv6_nonfirst_frag": bytes([LINK_ETH]) + ether(0x86DD)
        + ipv6(44, frag6(17, 100, False) + bytes(8)),
        "eth_ipv6_ah": bytes([LINK_ETH]) + ether(0x86DD)
        + ipv6(51, bytes([6, 4]) + bytes(22) + tcp(100, 200, 0x10)),
        "eth_icmp_echo": bytes([LINK_ETH]) + ether(0x0800) + ipv4(1, icmp(8, 0, 0x4242)),
        "eth_icmpv6_echo": bytes([LINK_ETH]) + ether(0x86DD) + ipv6(58, icmp(128, 0, 77)),
        "eth_sctp": bytes([LINK_ETH]) + ether(0x0800) + ipv4(132, sctp(2905, 3868)),
        "eth_ipv4_nonfirst_frag": bytes([LINK_ETH]) + ether(0x0800)
        + ipv4(6, tcp(1, 2, 0), frag=0x2000 | 185),
        "eth_ipv4_bad_ihl": bytes([LINK_ETH]) + ether(0x0800) + ipv4(6, tcp(1, 2, 0), ihl=3),
        "eth_ipv4_lying_length": bytes([LINK_ETH]) + ether(0x0800)
        + ipv4(6, tcp(1, 2, 0), total=1500),
        "eth_tcp_offset_zero": bytes([LINK_ETH]) + ether(0x0800)
        + ipv4(6, tcp(1, 2, 0, offset=0)),
        "eth_truncated_tcp4": bytes([LINK_ETH]) + (ether(0x0800) + tcp4)[:50],
        "eth_arp": bytes([LINK_ETH]) + ether(0x0806) + bytes(28),
        "sll_udp4": bytes([LINK_SLL]) + sll(0x0800) + ipv4(17, udp(68, 67)),
        "sll2_tcp6": bytes([LINK_SLL2]) + sll2(0x86DD) + tcp6,
        "raw_tcp4": bytes([LINK_RAW]) + tcp4,
        "raw_tcp6": bytes([LINK_RAW]) + tcp6,
        "ipv4_udp": bytes([LINK_IPV4]) + ipv4(17, udp(1000, 2000)),
        "ipv6_udp": bytes([LINK_IPV6]) + ipv6(17, udp(1000, 2000)),
        "nflog_tcp4": bytes([LINK_NFLOG]) + nflog(tcp4),
        "nflog_tcp6": bytes([LINK_NFLOG]) + nflog(tcp6),
    }


def nflog_seeds():
    # Whole DLT_NFLOG messages (no link byte): what nflog_fuzz walks.
    def tlv(kind, value, length=None):
        body = struct.pack("<HH", len(value) + 4 if length is None else length, kind) + value
        return body + bytes((-len(body)) % 4)

    tcp4 = ipv4(6, tcp(40000, 5432, 0x02))
    tcp6 = ipv6(6, tcp(40000, 443, 0x02))
    head = bytes([2, 0]) + be16(7)
    return {
        "deny_tcp4.bin": head + tlv(1, b"\x08\x00\x01\x00") + tlv(10, b"bulkhead deny \x00")
        + tlv(5, be32(3)) + tlv(9, tcp4),
        "warn_tcp6.bin": bytes([10, 0]) + be16(7) + tlv(10, b"bulkhead warn \x00") + tlv(9, tcp6),
        "prefix_only.bin": head + tlv(10, b"bulkhead spoofed \x00"),
        "payload_cut.bin": head + tlv(10, b"bulkhead deny \x00") + tlv(9, tcp4, length=1004),
        "zero_length_tlv.bin": head + tlv(1, b"", length=0) + tlv(9, tcp4),
        "tlv_past_end.bin": head + tlv(10, b"bulk", length=0xFFFF),
        "version_1.bin": bytes([2, 1]) + be16(7) + tlv(9, tcp4),
    }


def pcap_file(records, link=1, magic=0xA1B2C3D4, endian="<", snaplen=65535):
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, link)
    for i, rec in enumerate(records):
        data, caplen, wire = rec if isinstance(rec, tuple) else (rec, len(rec), len(rec))
        out += struct.pack(endian + "IIII", 1700000000 + i, 250, caplen, wire) + data
    return out


def pcapng_file(packets, link=1):
    def block(kind, body):
        body += bytes((-len(body)) % 4)
        total = len(body) + 12
        return struct.pack("<II", kind, total) + body + struct.pack("<I", total)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", link, 0, 65535))
    for i, data in enumerate(packets):
        ts = (1700000000 + i) * 1000000 + 500
        out += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data))
                     + data)
    return out


def pcap_seeds():
    seeds = decoder_seeds()

    def frames(prefix):
        return [v[1:] for k, v in sorted(seeds.items()) if k.startswith(prefix)]

    eth = frames("eth_")
    good = pcap_file(eth)
    return {
        "eth.pcap": good,
        "eth_bigendian.pcap": pcap_file(eth[:4], endian=">"),
        "eth_nsec.pcap": pcap_file(eth[:3], magic=0xA1B23C4D),
        "eth_snaplen_cut.pcap": pcap_file([(f[:40], 40, len(f) + 1000) for f in eth[:4]]),
        "eth.pcapng": pcapng_file(eth),
        "eth_truncated_last.pcapng": pcapng_file(eth[:3])[:-20],
        "raw.pcap": pcap_file(frames("raw_"), link=101),
        "sll.pcap": pcap_file(frames("sll_"), link=113),
        "sll2.pcap": pcap_file(frames("sll2_"), link=276),
        "nflog.pcap": pcap_file(frames("nflog_"), link=239),
        "truncated_last_record.pcap": pcap_file(eth[:3])[:-10],
        "huge_record_mid.pcap": pcap_file(eth[:2] + [(eth[0], 0x40000000, 0x40000000)] + eth[:1]),
        "header_only.pcap": pcap_file([]),
        "truncated_header.pcap": pcap_file([])[:10],
        "unsupported_link.pcap": pcap_file(eth[:1], link=105),
        "not_a_capture.txt": b"apiVersion: bulkhead/v1\nkind: FlowGraph\n",
    }


def write_corpus(name, seeds):
    directory = os.path.join(HERE, "corpus", name)
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    os.makedirs(directory)
    for file_name, content in sorted(seeds.items()):
        with open(os.path.join(directory, file_name), "wb") as f:
            f.write(content)
    return len(seeds)


def main():
    n = write_corpus("decoder", {k + ".bin": v for k, v in decoder_seeds().items()})
    m = write_corpus("pcap_file", pcap_seeds())
    k = write_corpus("nflog", nflog_seeds())
    print(f"wrote {n} decoder seeds, {m} pcap_file seeds and {k} nflog seeds", file=sys.stderr)


if __name__ == "__main__":
    main()
