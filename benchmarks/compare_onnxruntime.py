#!/usr/bin/env python3
"""Side-by-side inference throughput: fernet against onnxruntime on the same NetAdam model.

fernet exports NetAdam to ONNX (`fernet export`); onnxruntime (CPU execution provider, every
graph optimisation on, intra-op threads = the thread count) runs that file, and fernet's
bench_networks runs NetAdam_infer_b1 / _b100, alternately, ROUNDS times; the medians and the
median ratio are printed. Both compute the same graph (Conv, Relu, MaxPool x3, Gemm, Relu x3,
Gemm, LogSoftmax; the preprocessing is in the model's metadata, not in the graph), on the same
random input, in float32.

  python compare_onnxruntime.py --bench build/benchmarks/bench_networks --fernet build/bin/fernet
  (benchmarks/compare-onnxruntime.sh makes the onnxruntime venv, builds and calls this)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fernet_bench  # noqa: E402

# name: (batch, fernet benchmark)
WORKLOADS = {"NetAdam infer b1": (1, "NetAdam_infer_b1"), "NetAdam infer b100": (100, "NetAdam_infer_b100"),
             # fernet reading its linear weights as halves (--half-weights); onnxruntime in float32
             "NetAdam infer b1 half": (1, "NetAdam_infer_b1_half")}


def export_netadam(fernet, work):
    """A NetAdam checkpoint (one epoch on synthetic faces: the weights do not matter for speed)
    exported to ONNX by fernet; returns the .onnx path."""
    data, run, model = (os.path.join(work, n) for n in ("faces.csv", "run", "netadam.onnx"))
    for cmd in ([fernet, "synth", "--rows", "200", "--out", data],
                [fernet, "train", "--model", "cnn-adam", "--data", data, "--epochs", "1", "--out", run],
                [fernet, "export", "--load", os.path.join(run, "model.fernet"), "--out", model]):
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    return model


def ort_images_per_second(model, batch, threads, seconds):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x = np.random.default_rng(0).uniform(0, 255, (batch, 1, 48, 48)).astype(np.float32)
    for _ in range(3):
        session.run(None, {name: x})
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        session.run(None, {name: x})
        n += 1
    return n * batch / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True, help="path to fernet's bench_networks program")
    ap.add_argument("--fernet", required=True, help="path to the fernet program (exports the model)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seconds", type=float, default=2.0, help="minimum timing per run")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as work:
        model = export_netadam(args.fernet, work)
        print(f"onnxruntime {ort.__version__} (CPUExecutionProvider, ORT_ENABLE_ALL), {args.rounds} alternating rounds, "
              "medians of images/s", flush=True)
        print(f"{'workload':22} {'threads':>7} {'onnxruntime':>12} {'fernet':>10} {'ratio':>7}")
        results = []
        for name, (batch, benchmark) in WORKLOADS.items():
            for threads in args.threads:
                m = fernet_bench.side_by_side(
                    args.rounds, lambda: ort_images_per_second(model, batch, threads, args.seconds),
                    lambda: fernet_bench.images_per_second(args.bench, benchmark, threads, args.seconds))
                r = dict(workload=name, threads=threads, onnxruntime=m["other"], fernet=m["fernet"], ratio=m["ratio"],
                         onnxruntime_runs=m["other_runs"], fernet_runs=m["fernet_runs"])
                results.append(r)
                print(f"{name:22} {threads:>7} {r['onnxruntime']:>12.1f} {r['fernet']:>10.1f} {r['ratio']:>6.2f}x",
                      flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(onnxruntime=ort.__version__, results=results), f, indent=1)


if __name__ == "__main__":
    main()
