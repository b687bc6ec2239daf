#!/usr/bin/python3
"""make_router_fixtures.py - the synthetic network and data set of tests/test_router.c.

Run with Debian's /usr/bin/python3 (python3-onnx, python3-numpy); the outputs are
committed under tests/fixtures/router/ (about 40 KB):

  synth.onnx   a QDQ network over 6x6 grey images, 4 classes (which quadrant is
               bright), built so the router's optimum is known:
                 conv_a  3x3 conv 1->4, int8 weights all multiples of 4
                 conv_b  3x3 conv 4->4, int8 weights all in 0..3
                 fc      Gemm 144->4, int8 weights all multiples of 4
               s8 activations with zero point 0. perforated-s8:m=2,s=0 drops the
               partial-product rows of weight bits 0 and 1, so it multiplies
               exactly on conv_a and fc (insensitive by construction) and gives 0
               for every product of conv_b (the logits tie, every image falls to
               class 0: accuracy collapses to chance).
  {train,t10k}-{images-idx3,labels-idx1}-ubyte
               400 training and 200 test images, label = i % 4 (so the evenly
               spread subset 0, 100, 200, 300 of the training split is all class 0,
               which a collapsed network gets right: the repair loop's case).
"""
import os
import struct

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "router")
H = W = 6


def f32(v):
    return np.asarray(v, dtype=np.float32)


def images(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 40, size=(n, H, W)).astype(np.uint8)
    y = np.arange(n) % 4
    for i in range(n):
        r, c = (y[i] // 2) * 3, (y[i] % 2) * 3
        x[i, r:r + 3, c:c + 3] = rng.integers(180, 255, size=(3, 3))
    return x, y.astype(np.uint8)


def write_idx(path, arr):
    dims = arr.shape
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, len(dims)))
        for d in dims:
            f.write(struct.pack(">I", d))
        f.write(arr.astype(np.uint8).tobytes())


def qdq_conv(name, x, w_q, w_scale, y_scale, pads=1):
    """Conv on a dequantized input with given int8 weights, ReLU, requantized output."""
    oc = w_q.shape[0]
    init = [numpy_helper.from_array(w_q.astype(np.int8), name + "_wq"),
            numpy_helper.from_array(f32(w_scale), name + "_ws"),
            numpy_helper.from_array(np.zeros(oc, np.int8), name + "_wz"),
            numpy_helper.from_array(f32(y_scale), name + "_ys"),
            numpy_helper.from_array(np.array(np.int8(0)), name + "_yz")]
    nodes = [helper.make_node("DequantizeLinear", [name + "_wq", name + "_ws", name + "_wz"], [name + "_w"],
                              name=name + "_dqw", axis=0),
             helper.make_node("Conv", [x, name + "_w"], [name + "_c"], name=name, kernel_shape=[3, 3],
                              pads=[pads] * 4),
             helper.make_node("Relu", [name + "_c"], [name + "_r"], name=name + "_relu"),
             helper.make_node("QuantizeLinear", [name + "_r", name + "_ys", name + "_yz"], [name + "_q"],
                              name=name + "_q"),
             helper.make_node("DequantizeLinear", [name + "_q", name + "_ys", name + "_yz"], [name + "_out"],
                              name=name + "_dq")]
    return nodes, init


def make_model():
    xs = f32(1.0 / 127)
    init = [numpy_helper.from_array(xs, "xs"), numpy_helper.from_array(np.array(np.int8(0)), "xz")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["x_q"], name="q_x"),
             helper.make_node("DequantizeLinear", ["x_q", "xs", "xz"], ["x_dq"], name="dq_x")]
    # conv_a: 4 channels, each the input (centre 124) plus a little of a neighbour (multiples of 4)
    wa = np.zeros((4, 1, 3, 3), np.int64)
    wa[:, 0, 1, 1] = 124
    for o in range(4):
        wa[o, 0, o // 2 * 2, o % 2 * 2] = 8
    n, i = qdq_conv("conv_a", "x_dq", wa, [1 / 124.0] * 4, 1.1 / 127)
    nodes += n
    init += i
    # conv_b: positive weights 0..3, a blur of the sum of the 4 channels
    wb = np.zeros((4, 4, 3, 3), np.int64)
    wb[:, :, 1, 1] = 3
    wb[:, :, 0, 1] = wb[:, :, 2, 1] = wb[:, :, 1, 0] = wb[:, :, 1, 2] = 1
    n, i = qdq_conv("conv_b", "conv_a_out", wb, [1 / 28.0] * 4, 1.2 / 127)
    nodes += n
    init += i
    # fc: logit q = sum of quadrant q of channel 0 (weight 124), other weights 0 or 4
    wf = np.zeros((4, 4, H, W), np.int64)
    for q in range(4):
        r, c = (q // 2) * 3, (q % 2) * 3
        wf[q, 0, r:r + 3, c:c + 3] = 124
        wf[q, 1, r:r + 3, c:c + 3] = 4
    # ONNX flattens NCHW: weight [N=4][K=4*6*6]
    wf = wf.reshape(4, -1)
    init += [numpy_helper.from_array(wf.astype(np.int8), "fc_wq"),
             numpy_helper.from_array(f32([1 / 124.0] * 4), "fc_ws"),
             numpy_helper.from_array(np.zeros(4, np.int8), "fc_wz")]
    nodes += [helper.make_node("Flatten", ["conv_b_out"], ["flat"], name="flatten"),
              helper.make_node("DequantizeLinear", ["fc_wq", "fc_ws", "fc_wz"], ["fc_w"], name="fc_dqw", axis=0),
              helper.make_node("Gemm", ["flat", "fc_w"], ["y"], name="fc", transB=1)]
    xi = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, H, W])
    yo = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    m = helper.make_model(helper.make_graph(nodes, "synth", [xi], [yo], init),
                          opset_imports=[helper.make_opsetid("", 13)], producer_name="make_router_fixtures")
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, "synth.onnx"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    make_model()
    for split, n, seed in [("train", 400, 1), ("t10k", 200, 2)]:
        x, y = images(n, seed)
        write_idx(os.path.join(OUT, split + "-images-idx3-ubyte"), x)
        write_idx(os.path.join(OUT, split + "-labels-idx1-ubyte"), y)
