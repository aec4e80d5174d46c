#!/usr/bin/env python3
"""Measures how FER2013 frames a face, as OpenCV's Haar detector sees it.

  measure_margin.py [--data FILE] [--count N] [--cascade XML]

Each of the first N Training images of the FER2013 file is upscaled 48 -> 192 px (bicubic),
placed at the centre of a 384 x 384 mid-grey canvas and given to the frontal-face Haar cascade
with fernet::vision's settings (no histogram equalisation, scale factor 1.1, 5 neighbours, faces
of at least 32 px). For each image with one detection it records the FER2013 image's side over the
box's side, and the offset of the image's centre from the box's centre in box widths. The medians
are the framing fernet::vision crops with (include/fernet/vision/face_crop.hpp): a detected box
grown by `scale` about a centre moved by (dx, dy) box widths gives the square FER2013 would have
cut. Prints the medians, quartiles and the detection rate; reads the data, writes nothing.
"""
import argparse
import csv
import gzip
import io
import os
import statistics
import sys

try:
    import cv2
    import numpy as np
except ImportError as e:
    print(f"measure_margin: needs python3-opencv and python3-numpy ({e})")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "data", "fer2013-dev.csv.gz"))
UP, CANVAS = 192, 384


def rows(path, count):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        for row in csv.DictReader(f):
            if row["Usage"] != "Training":
                continue
            yield np.array(row["pixels"].split(), dtype=np.uint8).reshape(48, 48)
            count -= 1
            if count == 0:
                return


def quartiles(values):
    q = statistics.quantiles(values, n=4)
    return f"median {statistics.median(values):.4f} (quartiles {q[0]:.4f} .. {q[2]:.4f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--cascade", default="/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml")
    a = ap.parse_args()
    if not os.path.exists(a.data):
        print(f"measure_margin: skipped: the FER2013 file {a.data} is absent")
        return 77
    detector = cv2.CascadeClassifier(a.cascade)
    if detector.empty():
        print(f"measure_margin: cannot load the cascade {a.cascade} (Debian: apt-get install opencv-data)")
        return 1
    scale, dx, dy = [], [], []
    seen = none = several = 0
    for face in rows(a.data, a.count):
        seen += 1
        canvas = np.full((CANVAS, CANVAS), 128, np.uint8)
        o = (CANVAS - UP) // 2
        canvas[o:o + UP, o:o + UP] = cv2.resize(face, (UP, UP), interpolation=cv2.INTER_CUBIC)
        boxes = detector.detectMultiScale(canvas, scaleFactor=1.1, minNeighbors=5, minSize=(32, 32))
        if len(boxes) == 0:
            none += 1
            continue
        if len(boxes) > 1:
            several += 1
            continue
        x, y, w, h = boxes[0]
        scale.append(UP / w)
        dx.append((CANVAS / 2 - (x + w / 2)) / w)
        dy.append((CANVAS / 2 - (y + h / 2)) / w)
    print(f"{seen} FER2013 Training images upscaled to {UP} px on a {CANVAS} px canvas: {len(scale)} with one face "
          f"({len(scale) / seen:.3f}), {none} with none, {several} with more than one")
    print(f"image side / box side: {quartiles(scale)}")
    print(f"centre offset x in box widths: {quartiles(dx)}")
    print(f"centre offset y in box widths: {quartiles(dy)}")
    print(f"framing: scale {statistics.median(scale):.3f}, dx {statistics.median(dx):.3f}, dy {statistics.median(dy):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
