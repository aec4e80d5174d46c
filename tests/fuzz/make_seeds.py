#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora into tests/fuzz/corpus/<harness>/ (scripts/fuzz.sh runs it; the FER2013-shaped CSV seeds are ignored by git, never committed): small valid inputs of each
kind (and a few near misses), so that the fuzzers start from the formats' real structure.
Made by the project, from nothing but the formats' definitions; JPEG seeds are encoded with
stb_image_write (libstb-dev) through a throwaway C program.
Run: python3 tests/fuzz/make_seeds.py [--out DIR]"""
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def put(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def pixels(seed, n=2304):
    x = seed * 2654435761 & 0xFFFFFFFF
    out = []
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out.append(x >> 16 & 255)
    return out


def csv_row(label, seed, usage):
    return "%d,%s,%s\n" % (label, " ".join(map(str, pixels(seed))), usage)


def fer2013_seeds():
    header = "emotion,pixels,Usage\n"
    good = header + csv_row(0, 1, "Training") + csv_row(6, 2, "PublicTest") + csv_row(3, 3, "PrivateTest")
    put("fer2013_file", "plain.csv", good.encode())
    put("fer2013_file", "plain.csv.gz", gzip.compress(good.encode(), 1))
    put("fer2013_file", "crlf_bom.csv", ("\ufeff" + good).replace("\n", "\r\n").encode("utf-8"))
    put("fer2013_file", "no_final_newline.csv", good.rstrip("\n").encode())
    put("fer2013_file", "two_members.csv.gz", gzip.compress(good[:5000].encode()) + gzip.compress(good[5000:].encode()))
    put("fer2013_file", "header_only.csv", header.encode())
    put("fer2013_file", "short_row.csv", (header + "2,1 2 3,Training\n").encode())
    put("fer2013_file", "bad_label.csv", (header + csv_row(7, 4, "Training")).encode())
    put("fer2013_file", "truncated.csv.gz", gzip.compress(good.encode())[:200])


def fnv1a(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def checkpoint(meta, sections):
    b = b"FERNETCK" + struct.pack("<I", 1) + struct.pack("<I", len(meta))
    for k, v in sorted(meta.items()):
        k, v = k.encode(), v.encode()
        b += struct.pack("<I", len(k)) + k + struct.pack("<I", len(v)) + v
    b += struct.pack("<I", len(sections))
    for name, values in sorted(sections.items()):
        n = name.encode()
        b += struct.pack("<I", len(n)) + n + struct.pack("<Q", len(values)) + struct.pack("<%df" % len(values), *values)
    return b


def checkpoint_seeds():
    meta = {"signature": "Input<1,48,48> Linear<2304,7>", "model": "linear-mlp", "epoch": "3", "best_accuracy": "0.25",
            "preprocess.scale": "1", "preprocess.offset": "0", "preprocess.channels": "1", "data": "synthetic"}
    sections = {"parameters": [0.5, -1.0, 2.0, 0.0], "buffers": [], "optimizer.m": [0.1] * 4}
    body = checkpoint(meta, sections)
    put("checkpoint", "valid.fernet", body + struct.pack("<Q", fnv1a(body)))
    # First byte odd: the harness appends the checksum itself, so mutations get past it.
    put("checkpoint", "valid_nosum.bin", b"\x01" + body)
    put("checkpoint", "empty_nosum.bin", b"\x01" + checkpoint({}, {}))
    put("checkpoint", "bad_version_nosum.bin", b"\x01" + body[:8] + struct.pack("<I", 2) + body[12:])
    put("checkpoint", "truncated.fernet", body[: len(body) // 2])


def png(width, height, colour_type, rows, bit_depth=8, palette=None, interlace=0):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + r for r in rows)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0,
                                                               interlace))
    if palette:
        out += chunk(b"PLTE", palette)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def image_seeds():
    w, h = 12, 9
    grey = [bytes((x * 20 + y * 7) & 255 for x in range(w)) for y in range(h)]
    rgb = [bytes(v for x in range(w) for v in ((x * 20) & 255, (y * 25) & 255, 128)) for y in range(h)]
    rgba = [bytes(v for x in range(w) for v in ((x * 20) & 255, (y * 25) & 255, 64, 200)) for y in range(h)]
    pal = [bytes(x % 4 for x in range(w)) for _ in range(h)]
    put("image", "grey.png", png(w, h, 0, grey))
    put("image", "rgb.png", png(w, h, 2, rgb))
    put("image", "rgba.png", png(w, h, 6, rgba))
    put("image", "palette.png", png(w, h, 3, pal, palette=bytes(range(12))))
    put("image", "grey_16bit.png", png(w, h, 0, [r + r for r in grey], bit_depth=16))
    put("image", "interlaced.png", png(w, h, 0, grey, interlace=1))
    put("image", "truncated.png", png(w, h, 2, rgb)[:60])
    put("image", "not_an_image.bmp", b"BM" + bytes(52))
    # JPEG through stb_image_write, baseline, grey and colour.
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "jpeg.c")
        with open(src, "w") as f:
            f.write("""
#include <stb_image_write.h>
int main(void) {
  unsigned char g[16 * 10], c[16 * 10 * 3];
  for (int i = 0; i < 160; ++i) { g[i] = (unsigned char)(i * 7); c[3*i] = (unsigned char)(i * 3);
    c[3*i+1] = (unsigned char)(255 - i); c[3*i+2] = (unsigned char)(i * 11); }
  return !(stbi_write_jpg("grey.jpg", 16, 10, 1, g, 90) && stbi_write_jpg("colour.jpg", 16, 10, 3, c, 50));
}
""")
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "stb"], capture_output=True, text=True,
                               check=True).stdout.split()
        subprocess.run(["cc", src, "-o", os.path.join(tmp, "jpeg")] + flags, check=True)
        subprocess.run([os.path.join(tmp, "jpeg")], cwd=tmp, check=True)
        for name in ("grey.jpg", "colour.jpg"):
            with open(os.path.join(tmp, name), "rb") as f:
                data = f.read()
            put("image", name, data)
        put("image", "truncated.jpg", data[: len(data) // 2])
    finally:
        shutil.rmtree(tmp)


def run_json_seeds():
    settings = {"model": "cnn-adam", "epochs": 15, "batch": 100, "lr": 0.001, "seed": 30, "threads": 0,
                "data": "/data/fer2013.csv.gz", "eval_split": "PublicTest", "init": None, "device": "cpu"}
    doc = {"fernet_version": "0.1.0", "command_line": "fernet train --model cnn-adam --out r",
           "started": "2026-11-30T17:00:00+0000", "settings": settings}
    put("run_json", "valid.json", (json.dumps(doc, indent=2) + "\n").encode())
    put("run_json", "synthetic.json", json.dumps(dict(doc, settings=dict(settings, data=None, init="/x.fernet"))).encode())
    put("run_json", "float_epochs.json", json.dumps(dict(doc, settings=dict(settings, epochs=1e300))).encode())
    put("run_json", "negative.json", json.dumps(dict(doc, settings=dict(settings, epochs=-4, lr=-1))).encode())
    put("run_json", "missing.json", b'{"settings": {"model": "x"}}')


if __name__ == "__main__":
    # --out DIR: write the corpora there instead (CTest's fuzz replays write into the build tree).
    if len(sys.argv) == 3 and sys.argv[1] == "--out":
        CORPUS = sys.argv[2]
    elif len(sys.argv) != 1:
        sys.exit("usage: make_seeds.py [--out DIR]")
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    fer2013_seeds()
    checkpoint_seeds()
    image_seeds()
    run_json_seeds()
    for h in sorted(os.listdir(CORPUS)):
        print(h, len(os.listdir(os.path.join(CORPUS, h))), "seeds")
