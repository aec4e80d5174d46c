#!/usr/bin/env python3
"""Whole-epoch throughput against the step throughput (issue 14, goal 6), side by side.

  python3 benchmarks/compare_epoch.py --fernet build/bin/fernet \
      --bench build/benchmarks/bench_networks [--data FER2013.csv.gz] [--rounds 3] [--threads 1 2]

For each notebook workload and thread count, each round runs `bench_networks` on that workload
(the training step alone: forward, loss, backward, Adam, on one fixed batch) and `fernet train`
on the real data for a few epochs, alternating their order between rounds so that drift on a
shared machine hits both alike. The epoch figure is `fernet train`'s own (history.csv,
images_per_second of the last epoch: loading, shuffling, preprocessing and the steps; the
evaluation after the epoch is excluded), from the last epoch so that the first epoch's
allocations are not counted. Prints the medians and their ratio epoch / step.

The workloads are those of bench_networks with the fernet model that trains the same network at
the same batch: MLP (linear-mlp, Adam, batch 100), NetAdam (cnn-adam, Adam, 100), TF-CNN
(tf-cnn, Adam, 50) and ResNet-18 (resnet18: SGD where bench_networks steps with Adam; one epoch,
which takes 1.5-2 minutes on one core).
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import tempfile

WORKLOADS = [  # bench_networks name, fernet model, epochs to run (the last one is measured)
    ("MLP_train_b100", "linear-mlp", 3),
    ("NetAdam_train_b100", "cnn-adam", 2),
    ("TfCNN_train_b50", "tf-cnn", 3),
    ("ResNet18_train_b100", "resnet18", 1),
]


def step_rate(bench, name, threads, min_time):
    out = subprocess.run([bench, f"--benchmark_filter=^{name}/threads:{threads}/", f"--benchmark_min_time={min_time}",
                          "--benchmark_format=json"], check=True, capture_output=True, text=True).stdout
    (b,) = json.loads(out)["benchmarks"]
    return b["images/s"]


def epoch_rate(fernet, model, epochs, threads, data, workdir):
    out = os.path.join(workdir, f"{model}-{threads}")
    cmd = [fernet, "train", "--model", model, "--epochs", str(epochs), "--threads", str(threads), "--out", out,
           "--force"]
    if data:
        cmd += ["--data", data]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(out, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    return float(rows[-1]["images_per_second"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fernet", default="build/bin/fernet")
    ap.add_argument("--bench", default="build/benchmarks/bench_networks")
    ap.add_argument("--data", default=None, help="FER2013 file (default: fernet train's own default)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--filter", default="", help="only workloads whose bench name contains this")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="fernet-epoch-") as workdir:
        for name, model, epochs in WORKLOADS:
            if args.filter not in name:
                continue
            for threads in args.threads:
                steps, whole = [], []
                for r in range(args.rounds):
                    runs = [lambda: steps.append(step_rate(args.bench, name, threads, args.min_time)),
                            lambda: whole.append(epoch_rate(args.fernet, model, epochs, threads, args.data, workdir))]
                    for run in (runs if r % 2 == 0 else runs[::-1]):
                        run()
                s, e = statistics.median(steps), statistics.median(whole)
                rows.append((name, model, threads, s, e))
                print(f"{name:22} {model:11} threads {threads}: step {s:9.1f}  epoch {e:9.1f}  epoch/step {e / s:5.2f}",
                      flush=True)
    print(f"\n{'workload':22} {'model':11} {'threads':>7} {'step':>10} {'epoch':>10} {'epoch/step':>10}"
          f"   (images/s, medians of {args.rounds} alternating rounds)")
    for name, model, threads, s, e in rows:
        print(f"{name:22} {model:11} {threads:7} {s:10.1f} {e:10.1f} {e / s:10.2f}")


if __name__ == "__main__":
    main()
