#!/usr/bin/env python3
"""The paper model of data-parallel speed-up behind the README's table (README "Data-parallel
training with MPI"): every rank computes a share of b images (t_img seconds each), then the
gradients (4 bytes per parameter) go through one ring all-reduce, not overlapped with compute:

  t_allreduce(p) = 2 (p - 1) / p * bytes / bandwidth + 2 (p - 1) * latency
  speed-up(p)    = p * t_compute / (t_compute + t_allreduce(p)),  t_compute = b * t_img

  scripts/scaling-model.py NAME:PARAMETERS:SECONDS_PER_IMAGE ... [--share B] [--gbit G] [--latency-us L]
"""
import argparse


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="NAME:PARAMETERS:SECONDS_PER_IMAGE (one rank's compute per image)")
    ap.add_argument("--share", type=int, nargs="+", default=[32], help="images per rank per step")
    ap.add_argument("--gbit", type=float, default=100.0, help="network bandwidth per rank, Gbit/s")
    ap.add_argument("--latency-us", type=float, default=5.0, help="per-message latency, microseconds")
    ap.add_argument("--ranks", type=int, nargs="+", default=[8, 64, 512])
    a = ap.parse_args()
    bandwidth = a.gbit * 1e9 / 8
    latency = a.latency_us * 1e-6
    print(f"ring all-reduce, {a.gbit:g} Gbit/s, {a.latency_us:g} us per message, no overlap with compute")
    print("| model | gradients | images/rank/step | compute/step | " +
          " | ".join(f"all-reduce at {p}" for p in a.ranks) + " | " +
          " | ".join(f"speed-up at {p}" for p in a.ranks) + " |")
    print("|" + "---|" * (4 + 2 * len(a.ranks)))
    for m in a.models:
        name, params, t_img = m.split(":")
        nbytes = 4 * int(params)
        for b in a.share:
            tc = b * float(t_img)
            ar = [2 * (p - 1) / p * nbytes / bandwidth + 2 * (p - 1) * latency for p in a.ranks]
            sp = [p * tc / (tc + t) for p, t in zip(a.ranks, ar)]
            print(f"| {name} | {nbytes / 1e6:.1f} MB | {b} | {tc * 1e3:.0f} ms | " +
                  " | ".join(f"{t * 1e3:.1f} ms" for t in ar) + " | " +
                  " | ".join(f"{s:.0f}x ({s / p:.0%})" for s, p in zip(sp, a.ranks)) + " |")


if __name__ == "__main__":
    main()
