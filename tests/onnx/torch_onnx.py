#!/usr/bin/env python3
"""The PyTorch half of the ONNX weight exchange (run_check.sh runs it after check_onnx.py).

  torch_onnx.py DIR

1. fernet -> PyTorch. For each network in DIR/manifest.tsv: the weights of DIR/NAME.onnx
   (fernet's export) are read with the onnx package and given, in graph order, to the Conv2d,
   Linear and BatchNorm2d modules of the equivalent PyTorch module (tests/safetensors/check.py's,
   Debian's python3-torch) in their order. PyTorch's outputs on DIR/images.f32, preprocessed as
   the manifest says, must be within 1e-4 of fernet's (DIR/NAME.out.f32; relative to
   max(1, max |output|) as check.py's difference) with the same argmax on every image.
2. PyTorch -> fernet. A PyTorch-initialised NetAdam is exported with torch.onnx.export (opset 13)
   as DIR/torch_cnn-adam.onnx, with its input (the images, preprocessed) and its outputs, for
   `fernet_onnx_export --import-torch DIR`.
"""
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "safetensors"))
from check import NETWORKS, NetAdam, difference  # noqa: E402  (the PyTorch twins of the networks)

BAR = 1e-4
WEIGHT_OPS = ("Conv", "Gemm", "BatchNormalization")


def onnx_weights(path):
    """The weight lists of the file's Conv, Gemm and BatchNormalization nodes, in graph order."""
    model = onnx.load(path)
    stored = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    layers = []
    for node in model.graph.node:
        if node.op_type not in WEIGHT_OPS:
            continue
        arrays = [stored[i] for i in node.input[1:] if i in stored]
        if node.op_type == "Gemm":
            attrs = {a.name: a.i for a in node.attribute}
            if attrs.get("transB", 0) == 0:
                arrays[0] = arrays[0].T
        layers.append((node.op_type, node.name, arrays))
    return layers


def load_into(module, layers):
    targets = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d))]
    if len(targets) != len(layers):
        raise ValueError(f"the file has {len(layers)} layers with weights, the PyTorch module {len(targets)}")
    kinds = {nn.Conv2d: "Conv", nn.Linear: "Gemm", nn.BatchNorm2d: "BatchNormalization"}
    with torch.no_grad():
        for m, (op, name, arrays) in zip(targets, layers):
            if kinds[type(m)] != op:
                raise ValueError(f"node {name} is {op} where the PyTorch module has {type(m).__name__}")
            if isinstance(m, nn.BatchNorm2d):
                slots = [m.weight, m.bias, m.running_mean, m.running_var]
            else:
                slots = [m.weight] + ([m.bias] if m.bias is not None else [])
            if len(slots) != len(arrays):
                raise ValueError(f"node {name} has {len(arrays)} weights, {type(m).__name__} {len(slots)}")
            for slot, a in zip(slots, arrays):
                if tuple(slot.shape) != a.shape:
                    raise ValueError(f"node {name}: shape {a.shape}, PyTorch's {tuple(slot.shape)}")
                slot.copy_(torch.from_numpy(np.array(a, dtype=np.float32)))


def preprocess(images, scale, offset, channels):
    x = images * np.float32(scale) + np.float32(offset)
    return torch.from_numpy(np.repeat(x, channels, axis=1).astype(np.float32))


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    directory = sys.argv[1]
    torch.manual_seed(0)
    torch.set_num_threads(2)
    rows = []
    with open(os.path.join(directory, "manifest.tsv")) as f:
        for line in f:
            name, n, classes, _kind, _weights, scale, offset = line.rstrip("\n").split("\t")
            rows.append((name, int(n), int(classes), float(scale), float(offset)))
    n = rows[0][1]
    images = np.fromfile(os.path.join(directory, "images.f32"), dtype=np.float32).reshape(n, 1, 48, 48)

    failures = []
    for name, count, classes, scale, offset in rows:
        make, in_shape, _ = NETWORKS[name]
        model = make().eval()
        try:
            load_into(model, onnx_weights(os.path.join(directory, name + ".onnx")))
        except (ValueError, KeyError) as e:
            failures.append(f"{name}: the ONNX weights do not fit the PyTorch module: {e}")
            continue
        expected = torch.from_numpy(
            np.fromfile(os.path.join(directory, name + ".out.f32"), dtype=np.float32).reshape(count, classes))
        with torch.no_grad():
            y = torch.cat([model(preprocess(images[i:i + 20], scale, offset, in_shape[0]))
                           for i in range(0, count, 20)])
        worst = difference(y, expected)
        agree = int((y.argmax(1) == expected.argmax(1)).sum())
        ok = worst <= BAR and agree == count
        print(f"fernet ONNX -> PyTorch {name}: max |PyTorch - fernet| / max(1, max |fernet|) = {worst:.3g}, "
              f"argmax agrees on {agree} of {count} {'ok' if ok else 'FAILED'}")
        if not ok:
            failures.append(f"{name}: outputs differ by {worst:.3g} (bar {BAR:g}), argmax agrees on {agree} of {count}")

    # PyTorch -> fernet: NetAdam as torch.onnx.export writes it, on the cnn-adam preprocessing.
    _, _, _, scale, offset = next(r for r in rows if r[0] == "cnn-adam")
    model = NetAdam(0.2).eval()
    x = preprocess(images, scale, offset, 1)
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, x[:1], os.path.join(directory, "torch_cnn-adam.onnx"), opset_version=13,
                      input_names=["input"], output_names=["output"], dynamic_axes={"input": {0: "batch"}})
    x.numpy().tofile(os.path.join(directory, "torch_cnn-adam.in.f32"))
    y.numpy().astype(np.float32).tofile(os.path.join(directory, "torch_cnn-adam.out.f32"))
    print(f"PyTorch NetAdam exported with torch.onnx.export (torch {torch.__version__}) for the import check")

    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
