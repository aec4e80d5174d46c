#!/usr/bin/env python3
"""Side-by-side training and inference throughput on one GPU: fernet's CUDA backend against
PyTorch with cuDNN, alternating runs in one invocation (median images/s and their ratio).

Both sides do the same work per step: upload the batch and labels from host memory, forward,
loss, backward, optimiser (Adam; SGD for ResNet-18), and bring the loss back to the host. Both
compute in full FP32 (TF32 is switched off in PyTorch, fernet never uses it).

  python3 compare_pytorch_gpu.py --bench build-cuda/benchmarks/bench_device [--rounds 3]
  (scripts/gpu-check.sh runs it; the network definitions are those of compare_pytorch.py)
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import fernet_bench  # noqa: E402
from compare_pytorch import WORKLOADS, fernet_images_per_second  # noqa: E402


def torch_images_per_second(name, seconds):
    cls, channels, batch, loss, _, train = WORKLOADS[name]
    dev = torch.device("cuda")
    torch.manual_seed(0)
    model = cls().to(dev)
    x_host = torch.rand(batch, channels, 48, 48)
    y_host = torch.randint(0, 7, (batch,))
    if "ResNet" in name:
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.NLLLoss() if loss == "nll" else nn.CrossEntropyLoss()

    def step():
        x, y = x_host.to(dev), y_host.to(dev)
        if train:
            opt.zero_grad(set_to_none=True)
            out = criterion(model(x), y)
            out.backward()
            opt.step()
            return out.item()
        with torch.no_grad():
            return model(x).cpu()

    if not train:
        model.eval()
    for _ in range(10):
        step()
    torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    torch.cuda.synchronize()
    return n * batch / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True, help="path to fernet's bench_device program (CUDA build)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0, help="minimum timing per run")
    ap.add_argument("--only", nargs="*", default=None, help="workload names (default: all)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("PyTorch sees no CUDA device")
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False

    names = args.only or list(WORKLOADS)
    print(f"PyTorch {torch.__version__} (cuDNN {torch.backends.cudnn.version()}) on {torch.cuda.get_device_name(0)}, "
          f"{args.rounds} alternating rounds, medians of images/s", flush=True)
    print(f"{'workload':22} {'PyTorch':>10} {'fernet':>10} {'ratio':>7}")
    results = []
    for name in names:
        m = fernet_bench.side_by_side(
            args.rounds, lambda: torch_images_per_second(name, args.seconds),
            lambda: fernet_images_per_second(args.bench, name, None, args.seconds, ["--device=cuda"]))
        r = dict(workload=name, pytorch=m["other"], fernet=m["fernet"], ratio=m["ratio"], pytorch_runs=m["other_runs"],
                 fernet_runs=m["fernet_runs"])
        results.append(r)
        print(f"{name:22} {r['pytorch']:>10.0f} {r['fernet']:>10.0f} {r['ratio']:>6.2f}x", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(pytorch=torch.__version__, device=torch.cuda.get_device_name(0), results=results), f, indent=1)


if __name__ == "__main__":
    main()
