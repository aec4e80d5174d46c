#!/usr/bin/env python3
"""Side-by-side training and inference throughput: fernet against PyTorch on this CPU.

Runs each workload alternately in PyTorch and in fernet (the bench_networks Google Benchmark
program), ROUNDS times, and prints the median images/s of each and their ratio. Alternating in
one invocation is what makes the ratio meaningful on a shared, noisy machine. Every run is a
fresh process for both libraries, as users run them: a PyTorch workload timed in the process
that ran another is not the same (glibc's mmap threshold, raised by one network's large frees,
sped PyTorch's TF-CNN up 1.5x after NetAdam); --warm keeps PyTorch in this process instead.

  python compare_pytorch.py --bench build/benchmarks/bench_networks [--rounds 5] [--threads 1 2]
  (benchmarks/compare-pytorch.sh sets up the newest PyTorch from PyPI in a venv and calls this)
"""
import argparse
import json
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import fernet_bench


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(2304, 1024), nn.Linear(1024, 256)
        self.fc3, self.fc4 = nn.Linear(256, 64), nn.Linear(64, 7)
        self.dropout = nn.Dropout(0.2)

    def forward(self, x):
        x = x.view(x.shape[0], -1)
        x = self.dropout(F.relu(self.fc1(x)))
        x = self.dropout(F.relu(self.fc2(x)))
        x = self.dropout(F.relu(self.fc3(x)))
        return F.log_softmax(self.fc4(x), dim=1)


class NetAdam(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3), nn.Conv2d(32, 64, 3)
        self.conv3 = nn.Conv2d(64, 128, 3)
        self.fc1, self.fc2 = nn.Linear(2048, 1024), nn.Linear(1024, 256)
        self.fc3, self.fc4 = nn.Linear(256, 64), nn.Linear(64, 7)
        self.dropout, self.pool = nn.Dropout(0.2), nn.MaxPool2d(2)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = self.pool(F.relu(self.conv3(x)))
        x = x.view(x.shape[0], -1)
        x = self.dropout(F.relu(self.fc1(x)))
        x = self.dropout(F.relu(self.fc2(x)))
        x = self.dropout(F.relu(self.fc3(x)))
        return F.log_softmax(self.fc4(x), dim=1)


class TfCNN(nn.Module):
    """The notebook's TensorFlow network; 'SAME' padding as explicit (asymmetric) pads."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 4, bias=False)
        self.conv2 = nn.Conv2d(8, 16, 2, bias=False)
        self.fc1, self.fc2, self.fc3 = nn.Linear(576, 120), nn.Linear(120, 64), nn.Linear(64, 7)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(F.pad(x, (1, 2, 1, 2)))), 4)
        x = F.max_pool2d(F.relu(self.conv2(F.pad(x, (0, 1, 0, 1)))), 2)
        x = x.flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.down is None else self.down(x)))


class ResNet18(nn.Module):
    """torchvision's resnet18 with conv1 for 1 channel and a 7-way fc without bias."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        blocks, cin = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            blocks += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, 7, bias=False)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1).flatten(1))


# name: (module, input channels, batch, loss on output, fernet benchmark name, train?)
WORKLOADS = {
    "MLP train b100": (MLP, 1, 100, "nll", "MLP_train_b100", True),
    "NetAdam train b100": (NetAdam, 1, 100, "nll", "NetAdam_train_b100", True),
    "TfCNN train b50": (TfCNN, 3, 50, "ce", "TfCNN_train_b50", True),
    "ResNet18 train b100": (ResNet18, 1, 100, "ce", "ResNet18_train_b100", True),
    "NetAdam infer b100": (NetAdam, 1, 100, None, "NetAdam_infer_b100", False),
    "NetAdam infer b1": (NetAdam, 1, 1, None, "NetAdam_infer_b1", False),
    # fernet reading its linear weights as halves (--half-weights) against PyTorch in float32
    "NetAdam infer b1 half": (NetAdam, 1, 1, None, "NetAdam_infer_b1_half", False),
}


def torch_images_per_second(name, threads, seconds):
    cls, channels, batch, loss, _, train = WORKLOADS[name]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = cls()
    x = torch.rand(batch, channels, 48, 48)
    y = torch.randint(0, 7, (batch,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.NLLLoss() if loss == "nll" else nn.CrossEntropyLoss()

    def step():
        if train:
            opt.zero_grad()
            criterion(model(x), y).backward()
            opt.step()
        else:
            with torch.no_grad():
                model(x)

    if not train:
        model.eval()
    for _ in range(3):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n * batch / (time.perf_counter() - t0)


def torch_fresh_images_per_second(name, threads, seconds):
    """The same, timed in a new Python process (this script's --torch-worker mode)."""
    out = subprocess.run([sys.executable, __file__, "--torch-worker", name, str(threads), str(seconds)], check=True,
                         capture_output=True, text=True).stdout
    return float(out.split()[-1])


def fernet_images_per_second(bench, name, threads, seconds, extra_args=()):
    """images/s of workload `name` in a fernet benchmark program (threads=None: no threads
    argument, as in bench_device)."""
    return fernet_bench.images_per_second(bench, WORKLOADS[name][4], threads, seconds, extra_args)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--torch-worker":
        print(torch_images_per_second(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True, help="path to fernet's bench_networks program")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seconds", type=float, default=2.0, help="minimum timing per run")
    ap.add_argument("--only", nargs="*", default=None, help="workload names (default: all)")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--warm", action="store_true", help="time PyTorch in this process, after the workloads before")
    args = ap.parse_args()
    torch_run = torch_images_per_second if args.warm else torch_fresh_images_per_second

    names = args.only or list(WORKLOADS)
    print(f"PyTorch {torch.__version__}, {args.rounds} alternating rounds, medians of images/s, PyTorch "
          f"{'in one warm process' if args.warm else 'in a fresh process per run'}", flush=True)
    print(f"{'workload':22} {'threads':>7} {'PyTorch':>10} {'fernet':>10} {'ratio':>7}")
    results = []
    for name in names:
        for threads in args.threads:
            m = fernet_bench.side_by_side(args.rounds, lambda: torch_run(name, threads, args.seconds),
                                          lambda: fernet_images_per_second(args.bench, name, threads, args.seconds))
            r = dict(workload=name, threads=threads, pytorch=m["other"], fernet=m["fernet"], ratio=m["ratio"],
                     pytorch_runs=m["other_runs"], fernet_runs=m["fernet_runs"])
            results.append(r)
            print(f"{name:22} {threads:>7} {r['pytorch']:>10.1f} {r['fernet']:>10.1f} {r['ratio']:>6.2f}x", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(pytorch=torch.__version__, pytorch_process="warm" if args.warm else "fresh",
                           results=results), f, indent=1)


if __name__ == "__main__":
    main()
