#!/usr/bin/python3
"""export_torchvision.py - torchvision models with random weights, exported to
ONNX for the import tests, with PyTorch's output on a fixed random input.

Run with Debian's /usr/bin/python3 (python3-torch, python3-torchvision). The
files are a cache, never committed (ResNet-50 is ~100 MB):
  $AX_MODEL_CACHE (default ~/.cache/autoapprox)/NAME.onnx   the model
  NAME.in   2 x 224 x 224 x 3 float32, NHWC (the input)
  NAME.out  2 x 1000 float32 (PyTorch's logits)
tests/test_nn.c (torchvision_models_import_and_run) uses whatever is cached.

Usage: /usr/bin/python3 tools/scripts/export_torchvision.py [NAME ...]
       (default: resnet18 resnet50 mobilenet_v2 squeezenet1_1 vgg11)
"""
import os
import sys

import numpy as np
import torch
import torchvision


def main():
    names = sys.argv[1:] or ["resnet18", "resnet50", "mobilenet_v2", "squeezenet1_1", "vgg11"]
    out = os.environ.get("AX_MODEL_CACHE", os.path.expanduser("~/.cache/autoapprox"))
    os.makedirs(out, exist_ok=True)
    for name in names:
        torch.manual_seed(0)
        m = getattr(torchvision.models, name)(num_classes=1000).eval()
        base = os.path.join(out, name)
        torch.onnx.export(m, torch.zeros(1, 3, 224, 224), base + ".onnx", opset_version=13, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
        x = torch.randn(2, 3, 224, 224)
        with torch.no_grad():
            y = m(x)
        x.permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32).tofile(base + ".in")
        y.numpy().astype(np.float32).tofile(base + ".out")
        print("wrote", base + ".onnx", flush=True)


if __name__ == "__main__":
    main()
