#!/usr/bin/env python3
"""Regenerates tests/fuzz/corpus/{v5,v9,ipfix}/ and corpus/NOTICE from ../shared/testdata/flows,
and the crafted captures of corpus/capture/.

Only files under permissive licences are read (Apache-2.0, MIT, BSD); akvorado (AGPL),
libnetflow9 (LGPL) and pmacct (GPL) are never copied. Every seed is ONE datagram (a UDP
payload): concatenated raw files are split, pcaps are reduced to their UDP payloads, and at
most a few datagrams are taken from each source so that the corpus stays small. A few seeds
crafted here (no upstream source) reach the fuzz targets' built-in template (see fuzz-common.h).
The seeds of fuzz-capture are small captures crafted here around crafted datagrams (no packet
of any upstream capture); the other parsers' seeds (stored/, args/, settings/) are written by
hand and only described in the NOTICE.

Usage: tests/fuzz/make-corpus.py [../shared/testdata/flows]
"""

import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

# source dir -> (repository, commit, upstream dir, licence); taken from the corpus README.
SOURCES = {
    "flowbeat": ("andrewkroh/flowbeat", "6f3992862c522343922182622fc0063f1c173637",
                 "testdata/", "Apache-2.0"),
    "fluent-plugin-netflow": ("repeatedly/fluent-plugin-netflow",
                              "a12092128406b25bcee6952779f87ecbaf0bafc0", "test/dump/",
                              "Apache-2.0"),
    "graylog-plugin-netflow": ("Graylog2/graylog-plugin-netflow",
                               "752c5ebfd2885c7886c27cb83a2a1cdc607698ec",
                               "src/test/resources/netflow-data/", "Apache-2.0"),
    "ipfixcol2": ("CESNET/ipfixcol2", "85009a8ac2c2a29a7eba073a644a46237ee480e5",
                  "doc/data/ipfix/", "BSD-3-Clause"),
    "logstash-codec-netflow": ("logstash-plugins/logstash-codec-netflow",
                               "a4e9621385e8867728d850a423638b88bc7fbc48", "spec/codecs/",
                               "Apache-2.0"),
    "telegraf": ("influxdata/telegraf", "b27263146617cefe16c0b300107b58b111a7fa57",
                 "plugins/inputs/netflow/testcases/", "MIT"),
}
# The corpora of the other parsers: nothing in them is taken from another project.
PARSER_NOTICE = """
capture/
  portsurge-*: crafted by portsurge (tests/fuzz/make-corpus.py, capture_seeds()): pcap,
    pcapng and raw files around datagrams crafted there too (no packet of any upstream
    capture), Apache-2.0

stored/, args/, settings/
  written by hand for portsurge (outbox entries, stored states, Redis replies, command-line
  values, collector configuration files), Apache-2.0
"""
FORBIDDEN = ("akvorado", "libnetflow9", "pmacct")
MAX_PER_FILE = 3       # datagrams taken from one pcap or concatenated file
MAX_SEED_BYTES = 2048  # larger datagrams teach the fuzzer nothing a small one does not


def udp_payloads(blob):
    """UDP payloads of a classic pcap (Ethernet or Linux SLL; IPv4 or IPv6)."""
    magic = blob[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(endian + "I", blob[20:24])[0]
    pos = 24
    while pos + 16 <= len(blob):
        caplen = struct.unpack(endian + "I", blob[pos + 8:pos + 12])[0]
        frame = blob[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen
        if linktype == 1:
            ethertype, at = struct.unpack(">H", frame[12:14])[0], 14
            while ethertype == 0x8100:
                ethertype, at = struct.unpack(">H", frame[at + 2:at + 4])[0], at + 4
        elif linktype == 113:
            ethertype, at = struct.unpack(">H", frame[14:16])[0], 16
        else:
            continue
        if ethertype == 0x0800 and frame[at + 9] == 17:
            at += (frame[at] & 0x0F) * 4
        elif ethertype == 0x86DD and frame[at + 6] == 17:
            at += 40
        else:
            continue
        udp_len = struct.unpack(">H", frame[at + 4:at + 6])[0]
        yield frame[at + 8:at + udp_len]


def split_raw(blob):
    """Datagrams of a raw file that may hold several concatenated ones."""
    pos = 0
    while len(blob) - pos >= 4:
        version = struct.unpack(">H", blob[pos:pos + 2])[0]
        if version == 5:
            n = 24 + 48 * struct.unpack(">H", blob[pos + 2:pos + 4])[0]
        elif version == 10:
            n = struct.unpack(">H", blob[pos + 2:pos + 4])[0]
        elif version == 9:
            n = v9_length(blob, pos)
        else:
            n = len(blob) - pos
        if n <= 0:
            n = len(blob) - pos
        yield blob[pos:pos + n]
        pos += n


def v9_length(blob, start):
    """A v9 datagram ends where the next header (version 9 where a flowset id would be) starts."""
    pos = start + 20
    while len(blob) - pos >= 4:
        flowset_id, length = struct.unpack(">HH", blob[pos:pos + 4])
        if flowset_id == 9 and len(blob) - pos >= 20:
            break
        if length < 4:
            return len(blob) - start
        pos += length
    return min(pos, len(blob)) - start


def version_dir(datagram):
    version = struct.unpack(">H", datagram[:2])[0] if len(datagram) >= 2 else 0
    return {5: "v5", 9: "v9", 10: "ipfix"}.get(version)


def crafted_seeds():
    """Datagrams that use the fuzz targets' built-in template 256 (fuzz-common.h): the first
    byte's top bit asks the target to feed that template first."""
    record = struct.pack(">IIHHBBQQQQ", 0xC0000201, 0xC6336401, 49152, 443, 6, 0x12, 3, 180,
                         1700000000000, 1700000001000)
    ipfix = struct.pack(">HHIII", 10, 16 + 4 + len(record), 1700000002, 1, 1)
    ipfix += struct.pack(">HH", 256, 4 + len(record)) + record
    v9 = struct.pack(">HHIIII", 9, 1, 100000, 1700000002, 1, 1)
    v9 += struct.pack(">HH", 256, 4 + len(record)) + record
    return [("v9", "portsurge-data256", bytes([v9[0] | 0x80]) + v9[1:]),
            ("ipfix", "portsurge-data256", bytes([ipfix[0] | 0x80]) + ipfix[1:])]


def v5_datagram(count=1):
    """A NetFlow v5 datagram of count TCP flows to port 445."""
    out = struct.pack(">HHIIIIBBH", 5, count, 100000, 1700000002, 0, 1, 0, 0, 0)
    for i in range(count):
        out += struct.pack(">IIIHHIIIIHHBBBBHHBBH", 0xC0000201 + i, 0xC6336401, 0, 1, 2, 3, 180,
                           99000, 99900, 49152 + i, 445, 0, 0x02, 6, 0, 0, 0, 24, 24, 0)
    return out


def udp(payload, dport=2055):
    return struct.pack(">HHHH", 50000, dport, 8 + len(payload), 0) + payload


def ipv4(body, proto=17, fragment=0x4000, src=b"\xc0\x00\x02\x0a"):
    header = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, fragment, 64, proto, 0,
                         src, b"\xc0\x00\x02\x01")
    return header + body


def ipv6(body, next_header=17, extensions=b""):
    src = bytes.fromhex("20010db8000000000000000000000a0a")
    dst = bytes.fromhex("20010db8000000000000000000000001")
    return struct.pack(">IHBB16s16s", 0x60000000, len(extensions) + len(body), next_header, 64,
                       src, dst) + extensions + body


def ether(ethertype, body, tags=()):
    out = bytes.fromhex("02000000000102000000000a")
    for tpid, tci in tags:
        out += struct.pack(">HH", tpid, tci)
    return out + struct.pack(">H", ethertype) + body


def pcap(linktype, frames, big_endian=False, nanosecond=False):
    """A classic pcap file (libpcap format 2.4)."""
    e = ">" if big_endian else "<"
    out = struct.pack(e + "IHHiIII", 0xA1B23C4D if nanosecond else 0xA1B2C3D4, 2, 4, 0, 0, 65535,
                      linktype)
    for i, frame in enumerate(frames):
        out += struct.pack(e + "IIII", 1700000000 + i, 500000 if nanosecond else 500, len(frame),
                           len(frame)) + frame
    return out


def pcapng_block(block_type, body):
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", block_type, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def pcapng(linktype, frames):
    """A pcapng file: section header, one interface, an enhanced packet block per frame."""
    out = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += pcapng_block(1, struct.pack("<HHI", linktype, 0, 65535))
    for i, frame in enumerate(frames):
        micros = (1700000000 + i) * 1000000
        out += pcapng_block(6, struct.pack("<IIIII", 0, micros >> 32, micros & 0xFFFFFFFF,
                                           len(frame), len(frame)) + frame)
    return out


def capture_seeds():
    """Small captures for fuzz-capture: every link layer and header walk of collector/capture.c,
    around crafted datagrams (v5 here, v9 and IPFIX as in crafted_seeds())."""
    v5 = v5_datagram()
    v9, ipfix = (bytes([d[0] & 0x7F]) + d[1:] for _, _, d in crafted_seeds())
    hop_by_hop = struct.pack(">BB", 17, 0) + b"\x01\x04\0\0\0\0"  # next UDP, PadN
    fragment = struct.pack(">BBHI", 17, 0, 0x0001, 7)  # first fragment of a larger datagram
    sll = struct.pack(">HHH8s", 0, 1, 6, bytes.fromhex("020000000001") + b"\0\0")
    sll2_v6 = struct.pack(">HHIHBB8s", 0x86DD, 0, 2, 1, 0, 6, bytes(8))
    truncated = ipv4(struct.pack(">HHHH", 50000, 2055, 400, 0) + v5[:40])
    return [
        ("portsurge-ether-ipv4-v5.pcap", pcap(1, [
            ether(0x0800, ipv4(udp(v5))),
            ether(0x0806, bytes.fromhex("0001080006040001") + bytes(20)),  # ARP
            ether(0x0800, ipv4(bytes(20), proto=6)),                        # TCP (BMP, BGP)
            ether(0x0800, truncated)])),
        ("portsurge-qinq-ipv6-ipfix.pcap", pcap(1, [
            ether(0x86DD, ipv6(udp(ipfix, 4739), 0, hop_by_hop), ((0x88A8, 10), (0x8100, 20))),
            ether(0x86DD, ipv6(udp(ipfix, 4739)[:24], 44, fragment))], big_endian=True,
            nanosecond=True)),
        ("portsurge-sll-ipv4-fragments.pcap", pcap(113, [
            sll + struct.pack(">H", 0x0800) + ipv4(udp(v9)),
            sll + struct.pack(">H", 0x0800) + ipv4(udp(v9)[:32], fragment=0x2000),
            sll + struct.pack(">H", 0x0800) + ipv4(udp(v9)[32:], fragment=0x0004)])),
        ("portsurge-sll2-ipv6-v9.pcap", pcap(276, [sll2_v6 + ipv6(udp(v9))])),
        ("portsurge-null-loopback.pcap", pcap(0, [
            struct.pack("<I", 2) + ipv4(udp(v5)),
            struct.pack("<I", 30) + ipv6(udp(ipfix, 4739))])),
        ("portsurge-raw-ip.pcap", pcap(101, [ipv4(udp(v5)), ipv6(udp(v9))], big_endian=True)),
        ("portsurge-ether-v5.pcapng", pcapng(1, [ether(0x0800, ipv4(udp(v5)))])),
        ("portsurge-raw-v5-v5.bin", v5 + v5_datagram(2)),
    ]


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..",
                                                                "shared", "testdata", "flows")
    seen = set()
    notice = {"v5": [], "v9": [], "ipfix": []}
    for kind in notice:
        os.makedirs(os.path.join(CORPUS, kind), exist_ok=True)
        for name in os.listdir(os.path.join(CORPUS, kind)):
            os.unlink(os.path.join(CORPUS, kind, name))

    for source in sorted(SOURCES):
        assert source not in FORBIDDEN
        repo, commit, upstream, licence = SOURCES[source]
        for dirpath, _, names in sorted(os.walk(os.path.join(root, source))):
            for name in sorted(names):
                path = os.path.join(dirpath, name)
                relative = os.path.relpath(path, os.path.join(root, source))
                with open(path, "rb") as f:
                    blob = f.read()
                if name.endswith(".pcap"):
                    datagrams = list(udp_payloads(blob))
                elif name.endswith((".dat", ".bin", ".dump", ".ipfix")):
                    datagrams = list(split_raw(blob))
                else:
                    continue
                for i, datagram in enumerate(datagrams[:MAX_PER_FILE]):
                    kind = version_dir(datagram)
                    digest = hashlib.sha1(datagram).hexdigest()
                    if kind is None or len(datagram) > MAX_SEED_BYTES or digest in seen:
                        continue
                    seen.add(digest)
                    stem = (source.split("-")[0] + "-" + relative.replace("/", "-"))
                    seed = stem + (f"-{i + 1}" if len(datagrams) > 1 else "")
                    with open(os.path.join(CORPUS, kind, seed), "wb") as f:
                        f.write(datagram)
                    what = f"datagram {i + 1} of {len(datagrams)}" if len(datagrams) > 1 \
                        else "whole file"
                    notice[kind].append(f"{seed}: {repo} @ {commit[:12]}, "
                                        f"{upstream}{relative} ({what}), {licence}")

    for kind, seed, datagram in crafted_seeds():
        with open(os.path.join(CORPUS, kind, seed), "wb") as f:
            f.write(datagram)
        notice[kind].append(f"{seed}: crafted by portsurge (tests/fuzz/make-corpus.py), "
                            "Apache-2.0")

    os.makedirs(os.path.join(CORPUS, "capture"), exist_ok=True)
    for seed, blob in capture_seeds():
        with open(os.path.join(CORPUS, "capture", seed), "wb") as f:
            f.write(blob)

    with open(os.path.join(CORPUS, "NOTICE"), "w") as f:
        f.write("Seed corpora of the portsurge fuzz targets\n"
                "==========================================\n\n"
                "Each seed is one UDP payload taken byte for byte from a test file of the\n"
                "open-source project named beside it, under that project's licence (Apache-2.0,\n"
                "MIT or BSD-3-Clause; copies of the licence texts are in those repositories).\n"
                "Files were taken from ../shared/testdata/flows, where the README gives the\n"
                "full commit of each source. Nothing comes from akvorado (AGPL-3.0),\n"
                "libnetflow9 (LGPL-3.0) or pmacct (GPL-2.0). Regenerate with\n"
                "tests/fuzz/make-corpus.py. Seeds named crash-*, leak-* or timeout-* are\n"
                "reproducers found by fuzzing (derived from the seeds, same licence).\n")
        for kind in ("v5", "v9", "ipfix"):
            f.write(f"\n{kind}/\n")
            for line in sorted(notice[kind]):
                f.write(f"  {line}\n")
        f.write(PARSER_NOTICE)


if __name__ == "__main__":
    main()
