#!/usr/bin/python3
"""Writes a tiny ONNX model built with ONNX's helper API, a broken twin of it,
an input batch and the output numpy computes for it, to check the checking
tools themselves (tests/onnx/selftest.sh):

    /usr/bin/python3 tests/onnx/tiny_model.py DIR

DIR/tiny.onnx         opset 13: Conv 4 3x3 pad 1 -> Relu -> MaxPool 2 ->
                      Flatten -> Gemm 10 (transB=1) -> Softmax(axis=1);
                      input x [N,1,8,8], output y [N,10]
DIR/broken-out.onnx   the same with a Gemm of 12 outputs where y is declared
                      [N,10]: ONNX's checker rejects it
DIR/broken-k.onnx     the same with a Gemm weight of [10,63] against 64
                      features: ONNX 1.12's checker lets it through (its Gemm
                      shape inference does not compare K), onnxruntime
                      rejects it as it loads it
DIR/broken-c.onnx     the same with a Conv weight of [4,2,3,3] on 1 channel:
                      ONNX 1.12's checker and onnxruntime's loader let it
                      through, running it fails
DIR/input.bin         2x1x8x8 float32 little-endian, uniform in [0,1)
DIR/expected.bin      y for that input, 2x10 float32 little-endian, by numpy
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save


def build(gemm_out=10, gemm_in=64, conv_in=1):
    rng = np.random.default_rng(1)
    w = {"conv_w": rng.normal(0, 0.5, (4, conv_in, 3, 3)), "conv_b": rng.normal(0, 0.1, 4),
         "fc_w": rng.normal(0, 0.3, (gemm_out, gemm_in)), "fc_b": rng.normal(0, 0.1, gemm_out)}
    w = {k: v.astype(np.float32) for k, v in w.items()}
    nodes = [
        helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["g"], transB=1),
        helper.make_node("Softmax", ["g"], ["y"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(v, k) for k, v in w.items()])
    # IR 8 and opset 13: what ONNX 1.12 writes and every runtime here reads
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), w


def forward(x, w):
    """The same network in numpy, written out for a person to follow:
    cross-correlation (no filter flip), as ONNX's Conv is."""
    n, h, wd = x.shape[0], x.shape[2], x.shape[3]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    c = np.zeros((n, 4, h, wd), np.float64)
    for i in range(3):
        for j in range(3):
            c += np.einsum("nchw,oc->nohw", xp[:, :, i:i + h, j:j + wd], w["conv_w"][:, :, i, j])
    c = np.maximum(c + w["conv_b"][None, :, None, None], 0)
    p = c.reshape(n, 4, h // 2, 2, wd // 2, 2).max(axis=(3, 5))
    g = p.reshape(n, -1) @ w["fc_w"].T.astype(np.float64) + w["fc_b"]
    e = np.exp(g - g.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def main(out):
    os.makedirs(out, exist_ok=True)
    model, w = build()
    save(model, os.path.join(out, "tiny.onnx"))
    save(build(gemm_out=12)[0], os.path.join(out, "broken-out.onnx"))
    save(build(gemm_in=63)[0], os.path.join(out, "broken-k.onnx"))
    save(build(conv_in=2)[0], os.path.join(out, "broken-c.onnx"))
    x = np.random.default_rng(2).random((2, 1, 8, 8), dtype=np.float32)
    x.astype("<f4").tofile(os.path.join(out, "input.bin"))
    forward(x, w).astype("<f4").tofile(os.path.join(out, "expected.bin"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: /usr/bin/python3 tests/onnx/tiny_model.py DIR")
    main(sys.argv[1])
