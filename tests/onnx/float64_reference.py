#!/usr/bin/env python3
"""Diagnostic, not a test: how far fernet, onnxruntime, cv2.dnn and PyTorch float32 each lie from
the same ResNet in float64. It rebuilds torchvision's ResNet (the notebook's 1-channel conv1 and
7-way fc without bias), loads the weights from the exported ONNX file in order, and runs the
images of a fernet_onnx_export directory. This is how the ResNet-152 float32 noise floor in the
README was measured.

    .venv-onnx/bin/python tests/onnx/float64_reference.py DIR resnet152     # needs python3-torch, python3-torchvision
"""
import sys

import cv2
import numpy as np
import onnx
import onnxruntime
import torch
import torch.nn as nn
import torchvision
from onnx import numpy_helper


def main(directory, name):
    model_file = f"{directory}/{name}.onnx"
    weights = [numpy_helper.to_array(t) for t in onnx.load(model_file).graph.initializer
               if not t.name.startswith("const_")]  # the exporter's constants (preprocessing) are not weights
    model = getattr(torchvision.models, name)()
    model.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    model.fc = nn.Linear(model.fc.in_features, 7, bias=False)
    state = model.state_dict()
    keys = [k for k in state if not k.endswith("num_batches_tracked")]
    if len(keys) != len(weights):
        sys.exit(f"{model_file}: {len(weights)} weight tensors, torchvision's {name} has {len(keys)}")
    for key, w in zip(keys, weights):
        if tuple(state[key].shape) != w.shape:
            sys.exit(f"{model_file}: {key} is {tuple(state[key].shape)} in torchvision, {w.shape} in the file")
        state[key] = torch.from_numpy(w.copy())
    model.load_state_dict(state)
    model.eval()

    images = np.fromfile(f"{directory}/images.f32", dtype=np.float32).reshape(-1, 1, 48, 48)
    with torch.no_grad():
        truth = model.double()(torch.from_numpy(images.astype(np.float64) / 255.0)).numpy()
        torch32 = model.float()(torch.from_numpy(images / np.float32(255))).numpy()
    fernet = np.fromfile(f"{directory}/{name}.out.f32", dtype=np.float32).reshape(-1, 7)
    ort = onnxruntime.InferenceSession(model_file, providers=["CPUExecutionProvider"]).run(None, {"input": images})[0]
    net = cv2.dnn.readNetFromONNX(model_file)
    net.setInput(images)
    cv = net.forward()
    for label, out in (("fernet", fernet), ("onnxruntime", ort), ("cv2.dnn", cv), ("PyTorch float32", torch32)):
        print(f"{label:<16} max abs from float64: {np.max(np.abs(out - truth)):.3g}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
