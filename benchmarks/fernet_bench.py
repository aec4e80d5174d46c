"""What the side-by-side comparisons share: one fernet benchmark's images/s, read from a Google
Benchmark program (bench_networks, bench_device) run for that benchmark alone, and the
alternating rounds whose medians make a ratio meaningful on a shared, noisy machine.
(compare_pytorch.py, compare_pytorch_gpu.py and compare_onnxruntime.py import it.)"""
import json
import statistics
import subprocess
import sys


def images_per_second(bench, benchmark, threads, seconds, extra_args=()):
    """images/s of `benchmark` (e.g. NetAdam_infer_b1) in the fernet benchmark program `bench`,
    at `threads` threads (None: no threads argument, as in bench_device)."""
    name = benchmark + ("" if threads is None else f"/threads:{threads}")
    out = subprocess.run(
        [bench, *extra_args, f"--benchmark_filter=^{name}/", f"--benchmark_min_time={seconds}",
         "--benchmark_format=json"], check=True, capture_output=True, text=True).stdout
    runs = json.loads(out)["benchmarks"]
    if not runs:
        sys.exit(f"{bench} has no benchmark {name}")
    return runs[0]["images/s"]


def side_by_side(rounds, other, fernet):
    """Calls other() and fernet() alternately, `rounds` times each; returns their runs, medians
    and the median of the per-round ratios fernet / other."""
    others, fernets = [], []
    for _ in range(rounds):
        others.append(other())
        fernets.append(fernet())
    ratios = [f / o for f, o in zip(fernets, others)]
    return dict(other=statistics.median(others), fernet=statistics.median(fernets), ratio=statistics.median(ratios),
                other_runs=others, fernet_runs=fernets)
