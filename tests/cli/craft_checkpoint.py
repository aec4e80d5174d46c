#!/usr/bin/env python3
"""craft_checkpoint.py IN OUT KEY=VALUE...: a copy of the fernet checkpoint IN with metadata KEY
set to VALUE (Python escapes such as \\x1b allowed), checksum recomputed, as an attacker would
write one. For the CLI's hostile-input case."""
import struct
import sys


def fnv1a(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    src, dst, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
    data = open(src, "rb").read()
    assert data[:8] == b"FERNETCK", "not a checkpoint"
    pos = 12
    (n,) = struct.unpack_from("<I", data, pos)
    pos += 4
    meta = {}
    for _ in range(n):
        (k,) = struct.unpack_from("<I", data, pos)
        key = data[pos + 4:pos + 4 + k]
        pos += 4 + k
        (v,) = struct.unpack_from("<I", data, pos)
        meta[key] = data[pos + 4:pos + 4 + v]
        pos += 4 + v
    rest = data[pos:-8]  # the sections, unchanged
    for pair in pairs:
        key, value = pair.split("=", 1)
        meta[key.encode()] = value.encode().decode("unicode_escape").encode("latin-1")
    out = data[:12] + struct.pack("<I", len(meta))
    for k in sorted(meta):
        out += struct.pack("<I", len(k)) + k + struct.pack("<I", len(meta[k])) + meta[k]
    out += rest
    open(dst, "wb").write(out + struct.pack("<Q", fnv1a(out)))


if __name__ == "__main__":
    main()
