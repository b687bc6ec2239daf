#!/usr/bin/python3
"""make_nn_fixtures.py - the tiny ONNX models tests/test_nn.c reads.

Run with Debian's /usr/bin/python3 (python3-torch, python3-onnx); the outputs
are committed under tests/fixtures/nn/ (a few KB each):

  ops_mix.onnx / ops_mix.json   every supported op that PyTorch exports (grouped
                                conv, standalone BatchNormalization, Clip, Mul and
                                Add by constants, Concat, AveragePool, MaxPool with
                                ceil_mode, GlobalAveragePool, Reshape, MatMul,
                                Softmax) with an input and PyTorch's output
  unsupported_op.onnx           a Sin node named 'weird_sin'
  bad_opset.onnx                opset 3
  missing_initializer.onnx      a Conv whose weights are not in the graph
  shape_mismatch.onnx           Conv weights for 2 input channels on a 3-channel input
  bad_attribute.onnx            a Conv with auto_pad=SAME_UPPER
  qdq_hand.onnx / qdq_hand.json a QDQ model built by hand (uint8 activations with zero
                                point 128, per-channel int8 conv weights, int32 bias,
                                per-tensor int8 FC weights) and its output computed
                                here with integer arithmetic (ONNX Runtime's rule)
  bad_zero_point.onnx           a QuantizeLinear whose int8 zero point, stored in
                                int32_data, is 1000

`make_nn_fixtures.py NAME...` makes only the named ones (bad_zero_point needs no torch).
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

try:  # only ops_mix needs PyTorch
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    torch = None

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "nn")


def ops_mix_module():
    class OpsMix(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.gconv = nn.Conv2d(8, 8, 3, padding=1, groups=2)
            self.bn = nn.BatchNorm2d(8)
            self.dw = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)
            self.pw = nn.Conv2d(16, 12, 1)
            self.bias = nn.Parameter(torch.randn(1, 12, 1, 1) * 0.1)
            self.w = nn.Parameter(torch.randn(12, 6) * 0.3)

        def forward(self, x):
            a = F.relu(self.conv(x))
            b = self.bn(self.gconv(a) + a)                       # standalone BatchNormalization
            b = F.relu6(b) * 0.5                                 # Clip, Mul by a constant
            c = F.max_pool2d(b, 3, stride=2, ceil_mode=True)     # 12x12 -> 6x6 (ceil)
            d = F.relu(self.dw(b))                               # 12x12 -> 6x6
            e = torch.cat([c, d], 1)                             # Concat
            e = self.pw(e) + self.bias                           # Add of a per-channel constant
            e = F.avg_pool2d(e, 3, stride=1, padding=1, count_include_pad=False)
            g = F.adaptive_avg_pool2d(e, 1)                      # GlobalAveragePool
            g = g.reshape(-1, 12)                                # Reshape to [N, 12]
            return F.softmax(g @ self.w, dim=1)                  # MatMul, Softmax

    return OpsMix()


def make_ops_mix():
    if torch is None:
        sys.exit("make_nn_fixtures.py: ops_mix needs PyTorch (python3-torch)")
    torch.manual_seed(1)
    m = ops_mix_module()
    with torch.no_grad():  # a BN that does something
        m.bn.running_mean.uniform_(-0.5, 0.5)
        m.bn.running_var.uniform_(0.5, 2.0)
        m.bn.weight.uniform_(0.5, 1.5)
        m.bn.bias.uniform_(-0.2, 0.2)
    m.eval()
    x = torch.randn(4, 3, 12, 12)
    path = os.path.join(OUT, "ops_mix.onnx")
    torch.onnx.export(m, x[:1], path, opset_version=13, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, do_constant_folding=True)
    ops = sorted({n.op_type for n in onnx.load(path).graph.node})
    with torch.no_grad():
        y = m(x)
    with open(os.path.join(OUT, "ops_mix.json"), "w") as f:
        json.dump({"input_nchw": list(x.shape), "input": x.flatten().tolist(), "output": y.tolist(), "ops": ops}, f)
    print("ops_mix ops:", ops)


def tiny_graph(nodes, inits, opset=13, in_ch=1):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", in_ch, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    g = helper.make_graph(nodes, "tiny", [x], [y], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_nn_fixtures")


def weights(shape):
    return numpy_helper.from_array(np.full(shape, 0.25, dtype=np.float32), "w")


def make_bad():
    conv = helper.make_node("Conv", ["x", "w"], ["c"], name="conv0", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    sin = helper.make_node("Sin", ["c"], ["y"], name="weird_sin")
    onnx.save(tiny_graph([conv, sin], [weights([2, 1, 3, 3])]), os.path.join(OUT, "unsupported_op.onnx"))
    relu = helper.make_node("Relu", ["c"], ["y"], name="relu0")
    onnx.save(tiny_graph([conv, relu], [weights([2, 1, 3, 3])], opset=3), os.path.join(OUT, "bad_opset.onnx"))
    onnx.save(tiny_graph([conv, relu], []), os.path.join(OUT, "missing_initializer.onnx"))
    onnx.save(tiny_graph([conv, relu], [weights([2, 2, 3, 3])], in_ch=3), os.path.join(OUT, "shape_mismatch.onnx"))


def f32(v):
    return np.asarray(v, dtype=np.float32)


def make_qdq_hand():
    rng = np.random.default_rng(7)
    xs, xz, ys = f32(0.05), np.uint8(128), f32(0.1)
    wq = rng.integers(-127, 128, size=(3, 2, 3, 3)).astype(np.int8)
    ws = f32(rng.uniform(0.002, 0.01, size=3))
    bq = rng.integers(-300, 300, size=3).astype(np.int32)
    fq = rng.integers(-127, 128, size=(4, 75)).astype(np.int8)
    fs, fb = f32(0.004), f32(rng.normal(size=4) * 0.1)
    x = f32(rng.normal(size=(3, 2, 5, 5)))
    # integer reference: Q(x), conv, requantize with ReLU, DQ, flatten, float FC
    q = np.clip(np.rint(x / xs) + 128, 0, 255).astype(np.int64)
    qp = np.pad(q - 128, ((0, 0), (0, 0), (1, 1), (1, 1)))
    acc = np.zeros((3, 3, 5, 5), dtype=np.int64)
    for b in range(3):
        for o in range(3):
            for yy in range(5):
                for xx in range(5):
                    acc[b, o, yy, xx] = (qp[b, :, yy:yy + 3, xx:xx + 3] * wq[o].astype(np.int64)).sum() + bq[o]
    s = (xs * ws) / ys
    yq = np.clip(np.rint(acc.astype(np.float32) * s.reshape(1, 3, 1, 1)), 0, 255)
    yf = (yq.astype(np.float32) * ys).reshape(3, 75)
    out = yf @ (fq.astype(np.float32) * fs).T + fb
    init = [numpy_helper.from_array(v, n) for v, n in [
        (xs, "xs"), (np.array(xz), "xz"), (ys, "ys"), (np.array(np.uint8(0)), "yz"), (wq, "wq"), (ws, "ws"),
        (np.zeros(3, np.int8), "wz"), (bq, "bq"), (xs * ws, "bs"), (np.zeros(3, np.int32), "bz"),
        (fq, "fq"), (fs, "fs"), (np.array(np.int8(0)), "fz"), (fb, "fb")]]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["x_q"], name="q_x"),
        helper.make_node("DequantizeLinear", ["x_q", "xs", "xz"], ["x_dq"], name="dq_x"),
        helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], name="dq_w", axis=0),
        helper.make_node("DequantizeLinear", ["bq", "bs", "bz"], ["b"], name="dq_b", axis=0),
        helper.make_node("Conv", ["x_dq", "w", "b"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("QuantizeLinear", ["r", "ys", "yz"], ["r_q"], name="q_r"),
        helper.make_node("DequantizeLinear", ["r_q", "ys", "yz"], ["r_dq"], name="dq_r"),
        helper.make_node("Flatten", ["r_dq"], ["flat"], name="flatten"),
        helper.make_node("DequantizeLinear", ["fq", "fs", "fz"], ["fw"], name="dq_fw"),
        helper.make_node("Gemm", ["flat", "fw", "fb"], ["y"], name="fc", transB=1),
    ]
    xi = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 5, 5])
    yo = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    m = helper.make_model(helper.make_graph(nodes, "qdq_hand", [xi], [yo], init),
                          opset_imports=[helper.make_opsetid("", 13)], producer_name="make_nn_fixtures")
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, "qdq_hand.onnx"))
    with open(os.path.join(OUT, "qdq_hand.json"), "w") as f:
        json.dump({"input_nchw": list(x.shape), "input": x.flatten().tolist(), "output": out.tolist()}, f)


def make_bad_attribute():
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv_same", kernel_shape=[3, 3], auto_pad="SAME_UPPER")
    onnx.save(tiny_graph([conv], [weights([2, 1, 3, 3])]), os.path.join(OUT, "bad_attribute.onnx"))


def make_bad_zero_point():
    """int8 values travel in int32_data, which can hold any int32: 1000 must be refused"""
    zp = helper.make_tensor("x_zp", TensorProto.INT8, [], [0])
    zp.int32_data[0] = 1000
    scale = numpy_helper.from_array(f32(0.05), "x_scale")
    q = helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zp"], ["xq"], name="quant_x")
    dq = helper.make_node("DequantizeLinear", ["xq", "x_scale", "x_zp"], ["y"], name="dequant_x")
    onnx.save(tiny_graph([q, dq], [scale, zp]), os.path.join(OUT, "bad_zero_point.onnx"))


MAKERS = {"ops_mix": make_ops_mix, "bad": make_bad, "bad_attribute": make_bad_attribute,
          "qdq_hand": make_qdq_hand, "bad_zero_point": make_bad_zero_point}

if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name in sys.argv[1:] or MAKERS:
        MAKERS[name]()
