#!/usr/bin/python3
"""train_fashion_mnist.py - trains the small CNN shipped as models/fashion_cnn.onnx.

Uses Debian's python3-torch and python3-onnx (run with /usr/bin/python3) on the
IDX files of the Debian package dataset-fashion-mnist. CPU only, a few epochs
(< 5 min on 2 cores). Never runs in CI: the model and the fixtures it writes
are committed.

Writes:
  models/fashion_cnn.onnx              float model as PyTorch exports it (BN folded)
  tests/fixtures/nn/fashion_cnn.json   PyTorch's float accuracy, its own int8
                                       fake-quant accuracy, logits of a few images
  tests/fixtures/nn/*.onnx             tiny op fixtures (see make_fixtures.py)

Usage: /usr/bin/python3 tools/scripts/train_fashion_mnist.py [--epochs N] [--data DIR]
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training-set pixel statistics (x/255)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data[4 + 4 * ndim:], dtype=np.uint8).reshape(dims)


def load(data_dir, split):
    x = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"))
    x = (torch.from_numpy(x.astype(np.float32)) / 255.0 - MEAN) / STD
    return x.unsqueeze(1), torch.from_numpy(y.astype(np.int64))


def conv_bn(cin, cout, k, groups=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout))


class FashionCNN(nn.Module):
    """conv+BN+ReLU, pool, conv+BN+ReLU, residual (depthwise + pointwise), pool, FC, FC."""

    def __init__(self):
        super().__init__()
        self.conv1 = conv_bn(1, 16, 3)
        self.conv2 = conv_bn(16, 32, 3)
        self.dw = conv_bn(32, 32, 3, groups=32)
        self.pw = conv_bn(32, 32, 1)
        self.fc1 = nn.Linear(32 * 7 * 7, 64)
        self.drop = nn.Dropout(0.2)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.relu(self.conv2(x))
        r = self.pw(F.relu(self.dw(x)))
        x = F.max_pool2d(F.relu(x + r), 2)
        x = torch.flatten(x, 1)
        return self.fc2(self.drop(F.relu(self.fc1(x))))


def accuracy(model, x, y, bs=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), bs):
            correct += (model(x[i:i + bs]).argmax(1) == y[i:i + bs]).sum().item()
    return correct / len(x)


def train(model, x, y, epochs, budget_s):
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=epochs * ((len(x) + 127) // 128))
    t0 = time.time()
    g = torch.Generator().manual_seed(0)
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 128):
            idx = perm[i:i + 128]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {ep + 1}: loss {loss.item():.3f}  {time.time() - t0:.0f} s", flush=True)
        if time.time() - t0 > budget_s:
            print("time budget reached, stopping", flush=True)
            break


# ---- int8 fake quantization mirroring autoapprox's defaults ------------------
# Per-channel symmetric s8 weights, symmetric s8 activations (min-max over
# calibration images from the training split), BN folded, ReLU fused.

def fq(x, scale):
    return torch.clamp(torch.round(x / scale), -128, 127) * scale


def fold(conv_bn_seq):
    conv, bn = conv_bn_seq[0], conv_bn_seq[1]
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    w = conv.weight * s.reshape(-1, 1, 1, 1)
    b = bn.bias - bn.running_mean * s
    return w.detach(), b.detach(), conv.groups


def fq_weight(w):
    m = w.abs().reshape(w.shape[0], -1).max(1).values.clamp(min=1e-12) / 127
    return fq(w, m.reshape([-1] + [1] * (w.dim() - 1)))


def fake_quant_accuracy(model, calib, x, y):
    model.eval()
    layers = {n: fold(getattr(model, n)) for n in ["conv1", "conv2", "dw", "pw"]}
    fcs = {n: (getattr(model, n).weight.detach(), getattr(model, n).bias.detach()) for n in ["fc1", "fc2"]}
    ranges = {}

    def q(name, t, calibrating):
        if calibrating:
            ranges[name] = max(ranges.get(name, 0.0), t.abs().max().item())
            return t
        return fq(t, max(ranges[name], 1e-12) / 127)

    def run(t, cal):
        def conv(n, t):
            w, b, g = layers[n]
            return F.conv2d(t, w if cal else fq_weight(w), b, padding=w.shape[-1] // 2, groups=g)

        def fc(n, t):
            w, b = fcs[n]
            return F.linear(t, w if cal else fq_weight(w), b)

        t = q("input", t, cal)
        t = q("c1", F.relu(conv("conv1", t)), cal)
        t = F.max_pool2d(t, 2)
        t = q("c2", F.relu(conv("conv2", t)), cal)
        r = q("dw", F.relu(conv("dw", t)), cal)
        r = q("pw", conv("pw", r), cal)
        t = q("add", F.relu(t + r), cal)
        t = torch.flatten(F.max_pool2d(t, 2), 1)
        t = q("fc1", F.relu(fc("fc1", t)), cal)
        return fc("fc2", t)

    with torch.no_grad():
        run(calib, True)
        pred = torch.cat([run(x[i:i + 1000], False).argmax(1) for i in range(0, len(x), 1000)])
    return (pred == y).float().mean().item()


def export(model, path):
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(model, dummy, path, opset_version=13, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, do_constant_folding=True)
    m = onnx.load(path)
    onnx.helper.set_model_props(m, {
        "autoapprox.input": "idx-u8 NCHW 1x28x28",
        "autoapprox.input.scale": repr(1.0 / 255.0),
        "autoapprox.input.mean": repr(MEAN),
        "autoapprox.input.std": repr(STD),
        "autoapprox.dataset": "fashion-mnist",
    })
    onnx.checker.check_model(m)
    onnx.save(m, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--budget", type=float, default=240.0, help="stop after the epoch that passes this many seconds")
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    xtr, ytr = load(a.data, "train")
    xte, yte = load(a.data, "t10k")
    model = FashionCNN()
    train(model, xtr, ytr, a.epochs, a.budget)
    acc = accuracy(model, xte, yte)
    fq_acc = fake_quant_accuracy(model, xtr[:1000], xte, yte)
    print(f"float test top-1 {acc:.4f}, int8 fake-quant top-1 {fq_acc:.4f}")
    out = os.path.join(ROOT, "models", "fashion_cnn.onnx")
    export(model, out)
    model.eval()
    with torch.no_grad():
        logits = model(xte[:4]).tolist()
    fixture = {
        "model": "models/fashion_cnn.onnx",
        "dataset": "fashion-mnist t10k (10000 images)",
        "float_top1": acc,
        "int8_fakequant_top1": fq_acc,
        "int8_fakequant_scheme": "per-channel symmetric s8 weights, symmetric s8 activations, "
                                 "min-max over the first 1000 training images, BN folded, ReLU fused",
        "first_logits": logits,
        "first_labels": yte[:4].tolist(),
        "input_mean": MEAN, "input_std": STD,
    }
    os.makedirs(os.path.join(ROOT, "tests", "fixtures", "nn"), exist_ok=True)
    with open(os.path.join(ROOT, "tests", "fixtures", "nn", "fashion_cnn.json"), "w") as f:
        json.dump(fixture, f, indent=1)
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    sys.exit(main())
