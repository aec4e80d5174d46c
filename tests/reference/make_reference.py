#!/usr/bin/python3
"""Writes tests/reference/reference_values.hpp: PyTorch's values for the networks of
tests/test_reference.cpp, so that the C++ test can compare fernet against them without Python.

    /usr/bin/python3 tests/reference/make_reference.py

Parameters, inputs and gradients fed to the optimisers are float32 values; everything computed
from them runs in float64 and is rounded to float32 once, so the reference carries no float32
summation error of its own and the tolerances of the test measure fernet alone.
"""
import math
import os
import re

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 3
CLASSES = 5


class Residual(nn.Module):
    """y = body(x) + shortcut(x); parameters body first, as fernet's Residual<Body, Shortcut>."""

    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


class SamePad(nn.Module):
    """TensorFlow padding="SAME": output ceil(size / stride), the odd extra row/column of padding
    at the bottom/right. Max pooling pads with -inf so that padding never wins."""

    def __init__(self, k, stride, value=0.0):
        super().__init__()
        self.k, self.stride, self.value = k, stride, value

    def pad(self, size):
        total = max((math.ceil(size / self.stride) - 1) * self.stride + self.k - size, 0)
        return total // 2, total - total // 2

    def forward(self, x):
        top, bottom = self.pad(x.shape[2])
        left, right = self.pad(x.shape[3])
        return F.pad(x, (left, right, top, bottom), value=self.value)


def conv_same(cin, cout, k, stride=1, bias=True):
    return nn.Sequential(SamePad(k, stride), nn.Conv2d(cin, cout, k, stride, bias=bias))


def pool_same(k, stride):
    return nn.Sequential(SamePad(k, stride, -math.inf), nn.MaxPool2d(k, stride))


def randomise_batchnorm(model):
    """Non-trivial affine parameters and running statistics, so that every one of them matters."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
                m.running_mean.normal_(0.0, 0.5)
                m.running_var.uniform_(0.5, 2.0)


def flat_params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def flat_grads(model):
    return torch.cat([p.grad.detach().reshape(-1) for p in model.parameters()])


def flat_buffers(model):
    """running_mean then running_var of each batch norm, in layer order (fernet's buffers())."""
    parts = []
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            parts += [m.running_mean.detach(), m.running_var.detach()]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)


# ---- the networks (the C++ test spells the same ones as fernet Sequential types) ------------

def net_plain():
    """Input 2x8x8; LogSoftmax + NLLLoss."""
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False), nn.ReLU(),
        nn.Flatten(), nn.Linear(24, CLASSES), nn.LogSoftmax(dim=1)), (2, 8, 8), "nll"


def net_residual():
    """Input 3x6x6; identity and projection residual blocks, global average pool;
    CrossEntropyLoss on the raw scores."""
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
        Residual(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                               nn.Conv2d(4, 4, 3, padding=1))),
        Residual(nn.Sequential(nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(6)),
                 nn.Sequential(nn.Conv2d(4, 6, 1, stride=2, bias=False), nn.BatchNorm2d(6))),
        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, CLASSES)), (3, 6, 6), "ce"


def net_same():
    """Input 3x9x7 (odd sizes: the SAME padding is asymmetric); LogSoftmax + NLLLoss."""
    return nn.Sequential(
        conv_same(3, 4, 4), nn.ReLU(), pool_same(2, 2),            # 4x9x7 -> 4x5x4
        conv_same(4, 5, 2, bias=False), nn.ReLU(), pool_same(3, 2),  # 5x5x4 -> 5x3x2
        conv_same(5, 4, 3, stride=2),                                # -> 4x2x1
        nn.Flatten(), nn.Linear(8, CLASSES), nn.LogSoftmax(dim=1)), (3, 9, 7), "nll"


def run_network(name, builder, seed, out):
    torch.manual_seed(seed)
    model, (c, h, w), loss_kind = builder()
    randomise_batchnorm(model)
    x32 = torch.randn(BATCH, c, h, w)
    labels = torch.randint(0, CLASSES, (BATCH,))
    model = model.double()  # float32 initial values, float64 arithmetic
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in model.modules())

    out[f"{name}_params"] = flat_params(model)
    if has_bn:
        out[f"{name}_buffers"] = flat_buffers(model)
    out[f"{name}_input"] = x32
    out[f"{name}_labels"] = labels

    model.train()
    x = x32.double().requires_grad_(True)
    y = model(x)
    loss = F.nll_loss(y, labels) if loss_kind == "nll" else F.cross_entropy(y, labels)
    loss.backward()
    out[f"{name}_output"] = y.detach()
    out[f"{name}_loss"] = loss.detach().reshape(1)
    out[f"{name}_input_grad"] = x.grad
    out[f"{name}_grads"] = flat_grads(model)
    if has_bn:
        out[f"{name}_buffers_after"] = flat_buffers(model)
        # One SGD(lr=0.1) step with these gradients, then the running statistics in eval mode.
        torch.optim.SGD(model.parameters(), lr=0.1).step()
        model.eval()
        with torch.no_grad():
            out[f"{name}_eval_output"] = model(x32.double())
    return out[f"{name}_params"], out[f"{name}_grads"]


# ---- one or two optimiser steps from the same parameters and (fixed) gradients ---------------

# The second step of the momentum methods uses the momentum buffer; that of Adam checks that the
# bias corrections advance once per step. Only the steps listed are written (the file stays small).
OPTIMISERS = [
    # name, constructor, steps written
    ("sgd", lambda p: torch.optim.SGD(p, lr=0.1), [1]),
    ("sgd_momentum_wd", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-2), [1, 2]),
    ("sgd_nesterov", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True), [2]),
    ("sgd_dampening", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.5), [2]),
    ("adam", lambda p: torch.optim.Adam(p, lr=1e-2), [1, 2]),
    ("adam_wd", lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=1e-2), [2]),
    ("adamw", lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=1e-1), [2]),
]


def run_optimisers(params, grads, out):
    params = params.float().double()  # exactly the float32 values the C++ test starts from
    grads = grads.float().double()
    for name, make, written in OPTIMISERS:
        p = params.clone().requires_grad_(True)
        opt = make([p])
        for s in range(1, max(written) + 1):
            p.grad = grads.clone()
            opt.step()
            if s in written:
                out[f"opt_{name}_step{s}"] = p.detach().clone()


# ---- C++ output --------------------------------------------------------------------------------

# ---- element-wise activations: one line each in tests/activation_cases.def ----------------------

ACTIVATION_SHAPE = (2, 3, 3)


def activation_cases():
    """The PyTorch column of tests/activation_cases.def, in order."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "activation_cases.def")
    with open(path) as f:
        return re.findall(r'^FERNET_ACTIVATION_CASE\((.+), "(.+)"\)\s*$', f.read(), re.M)


def run_activations(out):
    torch.manual_seed(20)
    x32 = torch.randn(BATCH, *ACTIVATION_SHAPE)
    x32.view(-1)[0] = 0.0  # the kink: PyTorch's convention at 0 is part of the rule
    dy = torch.randn(BATCH, *ACTIVATION_SHAPE)
    out["activation_input"] = x32
    out["activation_output_grad"] = dy
    outputs, grads = [], []
    for _, module in activation_cases():
        act = eval(module, {"nn": nn, "torch": torch}).double()
        x = x32.double().requires_grad_(True)
        y = act(x)
        y.backward(dy.double())
        outputs.append(y.detach().reshape(-1))
        grads.append(x.grad.reshape(-1))
    out["activation_outputs"] = torch.cat(outputs)
    out["activation_input_grads"] = torch.cat(grads)


def shortest_float(v):
    """The shortest %g spelling that the C++ compiler reads back as the same float32 (literal
    parsed as double, then converted to float, exactly as np.float32(float(s)))."""
    v = np.float32(v)
    if v == 0:
        return "0"
    for digits in range(6, 10):
        s = "%.*g" % (digits, v)
        if np.float32(float(s)) == v:
            return s
    raise AssertionError(v)


def write_header(out, path):
    lines = [
        "#pragma once",
        "// Generated by tests/reference/make_reference.py with PyTorch %s; do not edit." % torch.__version__,
        "// Reference values for tests/test_reference.cpp: float32 inputs, float64 arithmetic.",
        "",
        "namespace fernet_reference {",
        "",
        "inline constexpr int batch = %d;" % BATCH,
        "inline constexpr int classes = %d;" % CLASSES,
        "// tests/activation_cases.def when these were made: one PyTorch module per line.",
        "inline constexpr const char* activation_modules[] = {%s};"
        % ", ".join('"%s"' % m.replace('"', '\\"') for _, m in activation_cases()),
    ]
    for name, t in out.items():
        flat = t.detach().reshape(-1)
        if flat.dtype == torch.int64:
            body = ", ".join(str(int(v)) for v in flat)
            lines.append(f"inline constexpr int {name}[] = {{{body}}};")
            continue
        values = [shortest_float(v) for v in flat.float().numpy()]
        rows = [", ".join(values[i:i + 10]) for i in range(0, len(values), 10)]
        lines.append(f"inline constexpr float {name}[] = {{")
        lines += ["    " + r + "," for r in rows]
        lines.append("};")
    lines += ["", "}  // namespace fernet_reference", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main():
    out = {}
    params, grads = run_network("plain", net_plain, 1, out)
    run_network("residual", net_residual, 2, out)
    run_network("same", net_same, 3, out)
    run_optimisers(params, grads, out)
    run_activations(out)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_values.hpp")
    write_header(out, path)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
