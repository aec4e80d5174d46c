#!/usr/bin/env python3
"""The PyTorch half of the safetensors exchange (run_check.sh runs both halves).

  check.py DIR

For each notebook network: reads DIR/NAME.safetensors (fernet's export) with a reader written
here (8-byte header size, JSON header, raw little-endian data; no safetensors package needed),
loads it into the equivalent PyTorch module with load_state_dict(strict=True), runs DIR/NAME.in.f32 in eval
mode and compares with fernet's DIR/NAME.out.f32 (within 1e-4 of the outputs' scale). Then writes torch_NAME.safetensors from a
PyTorch-initialised module (random batch-norm statistics, num_batches_tracked included as I64),
with torch_NAME.in.f32 and torch_NAME.out.f32, for the C++ import half.
"""
import json
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

BATCH = 4
DTYPES = {"F32": np.float32, "I64": np.int64}


class Classifier(nn.Module):  # the notebook's section 3 MLP
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2304, 1024)
        self.fc2 = nn.Linear(1024, 256)
        self.fc3 = nn.Linear(256, 64)
        self.fc4 = nn.Linear(64, 7)
        self.dropout = nn.Dropout(p=0.2)

    def forward(self, x):
        x = x.view(x.shape[0], -1)
        x = self.dropout(F.relu(self.fc1(x)))
        x = self.dropout(F.relu(self.fc2(x)))
        x = self.dropout(F.relu(self.fc3(x)))
        return F.log_softmax(self.fc4(x), dim=1)


class NetAdam(nn.Module):  # the notebook's sections 4.1 (p = 0.2) and 4.2 (NetSGD, p = 0.3)
    def __init__(self, p=0.2):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.conv3 = nn.Conv2d(64, 128, kernel_size=3)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, 256)
        self.fc3 = nn.Linear(256, 64)
        self.fc4 = nn.Linear(64, 7)
        self.dropout = nn.Dropout(p=p)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = self.pool(F.relu(self.conv3(x)))
        x = x.view(x.shape[0], -1)
        x = self.dropout(F.relu(self.fc1(x)))
        x = self.dropout(F.relu(self.fc2(x)))
        x = self.dropout(F.relu(self.fc3(x)))
        return F.log_softmax(self.fc4(x), dim=1)


def same_pad(x, k, s):
    """TensorFlow's padding='SAME': total padding for ceil(in / s) outputs, the odd one at the end."""
    h, w = x.shape[2], x.shape[3]
    ph = max((-(-h // s) - 1) * s + k - h, 0)
    pw = max((-(-w // s) - 1) * s + k - w, 0)
    return ph, pw


class TfCNN(nn.Module):  # the notebook's section 5 TensorFlow network, as a PyTorch module
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 4, bias=False)
        self.conv2 = nn.Conv2d(8, 16, 2, bias=False)
        self.fc1 = nn.Linear(576, 120)
        self.fc2 = nn.Linear(120, 64)
        self.fc3 = nn.Linear(64, 7)

    @staticmethod
    def conv_same(conv, x):
        ph, pw = same_pad(x, conv.kernel_size[0], 1)
        return conv(F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)))

    @staticmethod
    def pool_same(x, k):
        ph, pw = same_pad(x, k, k)
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=float("-inf"))
        return F.max_pool2d(x, k, k)

    def forward(self, x):
        x = self.pool_same(F.relu(self.conv_same(self.conv1, x)), 4)
        x = self.pool_same(F.relu(self.conv_same(self.conv2, x)), 2)
        x = x.reshape(x.shape[0], -1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def resnet(depth):
    """The notebook's section 6: torchvision's ResNet with a 1-channel conv1 and a 7-way fc."""
    model = getattr(torchvision.models, f"resnet{depth}")()
    model.conv1 = nn.Conv2d(1, 64, model.conv1.kernel_size, model.conv1.stride, model.conv1.padding, bias=False)
    model.fc = nn.Linear(model.fc.in_features, 7, bias=False)
    return model


NETWORKS = {
    "linear-mlp": (Classifier, (1, 48, 48), 1e-4),
    "cnn-adam": (lambda: NetAdam(0.2), (1, 48, 48), 1e-4),
    "cnn-sgd": (lambda: NetAdam(0.3), (1, 48, 48), 1e-4),
    "tf-cnn": (TfCNN, (3, 48, 48), 1e-4),
    "resnet18": (lambda: resnet(18), (1, 48, 48), 1e-4),
    "resnet50": (lambda: resnet(50), (1, 48, 48), 1e-4),
    "resnet152": (lambda: resnet(152), (1, 48, 48), 1e-4),
}


def difference(y, expected):
    """Max |y - expected| relative to the outputs' scale, max(1, max |expected|): seeded ResNet-152
    outputs reach about 20, where float32 rounding through 155 layers alone moves them by 1e-3."""
    return (y - expected).abs().max().item() / max(1.0, expected.abs().max().item())


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors, header.get("__metadata__", {})


def write_safetensors(path, tensors, metadata):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        array = t.detach().cpu().contiguous().numpy()
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[array.dtype]
        raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def floats(path, shape):
    return torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(shape))


def main():
    directory = sys.argv[1]
    torch.manual_seed(0)
    torch.set_num_threads(2)
    failures = []
    for name, (make, in_shape, bar) in NETWORKS.items():
        # fernet -> PyTorch
        model = make().eval()
        tensors, metadata = read_safetensors(f"{directory}/{name}.safetensors")
        try:
            model.load_state_dict(tensors, strict=True)
        except RuntimeError as e:
            failures.append(name)
            print(f"{name}: names differ from PyTorch's: {e}")
            continue
        x = floats(f"{directory}/{name}.in.f32", (BATCH, *in_shape))
        expected = floats(f"{directory}/{name}.out.f32", (BATCH, 7))
        with torch.no_grad():
            worst = difference(model(x), expected)
        ok = worst <= bar
        print(f"export {name}: {len(tensors)} tensors ({metadata.get('fernet.network', '?')[:40]}...), "
              f"max |PyTorch - fernet| / max(1, max |fernet|) = {worst:.3g} {'ok' if ok else 'FAILED'} (bar {bar:g})")
        if not ok:
            failures.append(name)

        # PyTorch -> fernet: a PyTorch-initialised module with random batch-norm state.
        model = make().eval()
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
                    m.running_mean.uniform_(-0.1, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
                    m.num_batches_tracked.fill_(1000)
            x = torch.rand(BATCH, *in_shape)
            y = model(x)
        write_safetensors(f"{directory}/torch_{name}.safetensors", model.state_dict(), {"source": "PyTorch"})
        x.numpy().astype(np.float32).tofile(f"{directory}/torch_{name}.in.f32")
        y.numpy().astype(np.float32).tofile(f"{directory}/torch_{name}.out.f32")
    if failures:
        print("FAILED:", ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
