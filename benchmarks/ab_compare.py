#!/usr/bin/env python3
"""A/B comparison of two builds of the same Google Benchmark program, alternating runs.

  python3 benchmarks/ab_compare.py OLD_BINARY NEW_BINARY --filter 'NetAdam.*threads:1' \
      [--rounds 3] [--min-time 0.3] [--counter images/s]

Each round runs OLD then NEW (then NEW then OLD in the next round) with the same filter, so
that drift on a shared machine hits both alike; prints the median counter of each benchmark
and the ratio NEW / OLD (the median of the per-round ratios).
"""
import argparse
import json
import statistics
import subprocess


def run(binary, flt, min_time):
    out = subprocess.run([binary, f"--benchmark_filter={flt}", f"--benchmark_min_time={min_time}",
                          "--benchmark_format=json"], check=True, capture_output=True, text=True).stdout
    return {b["name"]: b for b in json.loads(out)["benchmarks"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--filter", default=".")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--counter", default="images/s")
    args = ap.parse_args()
    old, new = {}, {}
    for r in range(args.rounds):
        order = [(args.old, old), (args.new, new)]
        for binary, store in (order if r % 2 == 0 else order[::-1]):
            for name, b in run(binary, args.filter, args.min_time).items():
                store.setdefault(name, []).append(b.get(args.counter, 0.0))
    print(f"{'benchmark':60} {'old':>10} {'new':>10} {'new/old':>8}   ({args.counter}, medians of {args.rounds})")
    for name in old:
        if name not in new:
            continue
        o, n = old[name], new[name]
        ratios = [b / a for a, b in zip(o, n) if a > 0]
        print(f"{name:60} {statistics.median(o):10.1f} {statistics.median(n):10.1f} "
              f"{statistics.median(ratios) if ratios else 0:8.2f}")


if __name__ == "__main__":
    main()
