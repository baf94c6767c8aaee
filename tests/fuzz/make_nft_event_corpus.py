#!/usr/bin/env python3
"""Writes the seed corpus of nft_event_fuzz (nftables netlink event datagrams).

Deterministic, python3 standard library only. Regenerate with:
    python3 tests/fuzz/make_nft_event_corpus.py
and commit the result. The layout is the kernel's (net/netfilter/nf_tables_api.c notifications):
nlmsghdr and attribute headers in host order (little endian here), numbers big endian, every
attribute padded to 4 bytes. The seeds are the events the tamper kernel test sees: a foreign
flush, a deleted element, a deleted rule, bulkhead's own commit, and a few malformations.
"""

import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "nft_event")

NFNL_SUBSYS_NFTABLES = 10
NFPROTO_INET, NFPROTO_BRIDGE = 1, 7
(NEWTABLE, GETTABLE, DELTABLE, NEWCHAIN, GETCHAIN, DELCHAIN, NEWRULE, GETRULE, DELRULE, NEWSET,
 GETSET, DELSET, NEWSETELEM, GETSETELEM, DELSETELEM, NEWGEN) = range(16)
NLA_F_NESTED = 0x8000


def attr(kind, value):
    data = struct.pack("<HH", 4 + len(value), kind) + value
    return data + b"\0" * (-len(data) % 4)


def string(kind, text):
    return attr(kind, text.encode() + b"\0")


def be32(kind, n):
    return attr(kind, struct.pack(">I", n))


def be64(kind, n):
    return attr(kind, struct.pack(">Q", n))


def message(msg, family, seq, portid, attrs):
    body = struct.pack("<BBH", family, 0, 0) + b"".join(attrs)
    return struct.pack("<IHHII", 16 + len(body), (NFNL_SUBSYS_NFTABLES << 8) | msg, 0, seq,
                       portid) + body


def gen(gen_id, seq, portid, name):
    return message(NEWGEN, 0, seq, portid, [be32(1, gen_id), be32(2, portid), string(3, name)])


def elements(count):
    return attr(NLA_F_NESTED | 3, b"".join(attr(NLA_F_NESTED | 1, b"") for _ in range(count)))


SEEDS = {
    "flush_ruleset.bin": b"".join([
        message(DELRULE, NFPROTO_INET, 7, 4242,
                [string(1, "bulkhead"), string(2, "forward"), be64(3, 54)]),
        message(DELSET, NFPROTO_INET, 7, 4242, [string(1, "bulkhead"), string(2, "grp4")]),
        message(DELCHAIN, NFPROTO_INET, 7, 4242, [string(1, "bulkhead"), string(3, "forward")]),
        message(DELTABLE, NFPROTO_INET, 7, 4242, [string(1, "bulkhead")]),
        message(DELTABLE, NFPROTO_BRIDGE, 7, 4242, [string(1, "bulkhead")]),
        gen(12, 7, 4242, "nft"),
    ]),
    "delete_element.bin": message(DELSETELEM, NFPROTO_INET, 8, 4243,
                                  [string(1, "bulkhead"), string(2, "grp4"), elements(1)]) +
                          gen(13, 8, 4243, "nft"),
    "own_replace.bin": message(DELTABLE, NFPROTO_INET, 101, 77, [string(1, "bulkhead")]) +
                       message(NEWTABLE, NFPROTO_INET, 102, 77, [string(1, "bulkhead")]) +
                       gen(14, 101, 77, "bulkhead"),
    "other_table.bin": message(DELTABLE, NFPROTO_INET, 9, 5, [string(1, "filter")]) +
                       gen(15, 9, 5, "iptables-nft"),
    "truncated_attribute.bin": message(DELTABLE, NFPROTO_INET, 7, 4242,
                                       [string(1, "bulkhead")])[:-4],
    "unterminated_name.bin": message(DELTABLE, NFPROTO_INET, 7, 4242, [attr(1, b"bulk")]),
}


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
