#!/usr/bin/env python3
"""Checks that includes inside include/fernet run only downward through the library's tiers.

  scripts/check-layering.py [--tree]

Tiers, lowest first (a header may include headers of its own tier or of lower ones):
  0 base      host_device, version, shape, random, simd, parallel, tensor, atomic_file, hash, read_file
  1 kernels   kernels/               (element rules, GEMM, im2col, geometry)
  2 core      execution, layer, init, chain
  3 layers    layers/
  4 model     sequential, loss, losses/, optim/, networks, gradcheck, checkpoint, summary, fernet, ...
  5 device    device/                (backends, DeviceExec, DeviceModel)   data/ (data sets)
  6 export    onnx/                  vision/ (faces in photos, over OpenCV)
  7 train     train/
  8 dist      dist/                  (data-parallel training over MPI: the fernet::mpi target)
The CUDA sources (cuda/) sit above all of them. Exit status 1 names every upward include;
--tree prints each header with what it includes.
"""
import os
import re
import sys

ROOT = os.path.join(os.environ.get("FERNET_LAYERING_ROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")), "include", "fernet")
BASE = {"host_device.hpp", "version.hpp", "shape.hpp", "random.hpp", "simd.hpp", "parallel.hpp", "tensor.hpp",
        "atomic_file.hpp", "hash.hpp", "read_file.hpp"}
CORE = {"execution.hpp", "layer.hpp", "init.hpp", "chain.hpp"}
DIRS = {"kernels": 1, "layers": 3, "optim": 4, "losses": 4, "device": 5, "data": 5, "onnx": 6, "vision": 6, "train": 7, "dist": 8, "cuda": 9}
NAMES = {0: "base", 1: "kernels", 2: "core", 3: "layers", 4: "model", 5: "device/data", 6: "export/vision", 7: "train", 8: "dist", 9: "cuda"}


def tier(rel):
    parts = rel.split("/")
    if len(parts) > 1:
        if parts[0] not in DIRS:
            raise SystemExit(f"check-layering: {rel}: folder '{parts[0]}' has no tier; add it to DIRS")
        return DIRS[parts[0]]
    if rel in BASE:
        return 0
    if rel in CORE:
        return 2
    return 4


def includes(path):
    rel_dir = os.path.dirname(os.path.relpath(path, ROOT))
    with open(path) as f:
        for n, line in enumerate(f, 1):
            m = re.match(r'\s*#\s*include\s*(["<])([^">]+)[">]', line)
            if not m:
                continue
            quote, name = m.groups()
            if quote == '"':
                target = os.path.normpath(os.path.join(rel_dir, name))
            elif name.startswith("fernet/"):
                target = name[len("fernet/"):]
            else:
                continue  # system and third-party headers
            yield n, target


def main():
    headers = []
    for d, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith((".hpp", ".def")):
                headers.append(os.path.relpath(os.path.join(d, f), ROOT))
    bad = []
    for rel in sorted(headers):
        deps = list(includes(os.path.join(ROOT, rel)))
        if "--tree" in sys.argv:
            print(f"[{NAMES[tier(rel)]}] {rel}: " + ", ".join(t for _, t in deps))
        for line, target in deps:
            if not os.path.exists(os.path.join(ROOT, target)):
                bad.append(f"include/fernet/{rel}:{line}: includes {target}, which does not exist")
            elif tier(target) > tier(rel):
                bad.append(f"include/fernet/{rel}:{line}: includes {target} ({NAMES[tier(target)]}), "
                           f"a higher tier than {NAMES[tier(rel)]}")
    for b in bad:
        print(b)
    print(f"check-layering: {len(headers)} headers, {len(bad)} upward or broken includes")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
