#!/usr/bin/python3
"""Makes the PyTorch fixtures of the ONNX import tests: two small networks,
seeded, in eval mode, exported with torch.onnx.export (opset 13), each with a
batch of 4 inputs uniform in [0,1) and what PyTorch outputs for them.

    /usr/bin/python3 tests/onnx/torch_export.py tests/onnx/fixtures

Writes, for NAME in lenet5 and convbn:
    NAME.onnx         the model; input "input" [N,1,28,28], output "output"
                      [N,10] (N is symbolic: the batch is free)
    NAME.input.bin    4x1x28x28 float32, little-endian, C order
    NAME.output.bin   4x10 float32, little-endian: PyTorch's softmax
    NAME.json         the shapes, files, versions and the graph's op types
lenet5: conv 6 5x5 pad 2, relu, max-pool 2, conv 16 5x5, relu, max-pool 2,
    flatten, dense 120, relu, dense 84, relu, dense 10, softmax.
convbn: conv 8 3x3 pad 1, batch-norm, relu, max-pool 2, conv 16 3x3,
    batch-norm, relu, avg-pool 2, flatten, dense 10, softmax; each batch-norm
    with running statistics, scale and shift set away from 0 and 1.
The last dense layer is scaled (lenet5 by 10, convbn by 0.3), so that the
softmax is neither flat nor one-hot, where an error inside would hardly show.
Exported with TrainingMode.PRESERVE on the eval-mode model: under the default
(EVAL) the exporter folds each batch-norm into the conv before it, and the
file would hold no BatchNormalization for the importer to meet (constant
folding off: it finds nothing to fold here, and it warns under PRESERVE).
PyTorch 1.13 writes each AvgPool2d (count_include_pad, its default) as a
Pad by zeros before the AveragePool: convbn.onnx has Constant -> Pad there,
as anyone's exported file would.
Needs PyTorch (python3-torch: scripts/deps.sh bench) and ONNX (scripts/deps.sh
onnx); the test suite needs no PyTorch: it reads the committed files.
"""
import json
import os
import subprocess
import sys

import onnx
import torch
from torch import nn


def lenet5():
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10), nn.Softmax(dim=1))
    return scale_last(net, 10)  # outputs 0.025 to 0.25


def scale_last(net, k):
    """The last dense layer times k: as initialised, a softmax can come out
    near uniform (or near one-hot), where an error inside hardly shows."""
    with torch.no_grad():
        net[-2].weight.mul_(k)
        net[-2].bias.mul_(k)
    return net


def convbn():
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(16 * 6 * 6, 10), nn.Softmax(dim=1))
    # statistics a fresh layer does not have (mean 0, variance 1, scale 1,
    # shift 0), so that an importer that ignores any of them is caught; the
    # variances log-uniform from 0.001 to 2, where leaving out epsilon
    # (1e-5) moves the outputs by 5e-4
    with torch.no_grad():
        for bn in (m for m in net if isinstance(m, nn.BatchNorm2d)):
            c = bn.num_features
            bn.running_mean.copy_(torch.randn(c) * 0.5)
            bn.running_var.copy_(10 ** (torch.rand(c) * 3.3 - 3))
            bn.weight.copy_(torch.rand(c) + 0.5)
            bn.bias.copy_(torch.randn(c) * 0.2)
    return scale_last(net, 0.3)  # outputs 0.001 to 0.74


def debian_version(package):
    """Debian's version of the package (its torch.__version__ says 1.13.0a0
    for Debian's 1.13.1), or None off Debian."""
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                              capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def export(name, make, out, seed):
    torch.manual_seed(seed)
    net = make().eval()
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(seed + 100))
    with torch.no_grad():
        y = net(x)
    base = os.path.join(out, name)
    torch.onnx.export(net, x, base + ".onnx", opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    x.numpy().astype("<f4").tofile(base + ".input.bin")
    y.numpy().astype("<f4").tofile(base + ".output.bin")
    ops = [n.op_type for n in onnx.load(base + ".onnx").graph.node]
    meta = {"model": name + ".onnx", "opset": 13, "torch": torch.__version__,
            "torch_package": debian_version("python3-torch"),
            "input": {"file": name + ".input.bin", "name": "input", "shape": list(x.shape),
                      "dtype": "float32", "byte_order": "little"},
            "output": {"file": name + ".output.bin", "name": "output", "shape": list(y.shape),
                       "dtype": "float32", "byte_order": "little"},
            "parameters": sum(p.numel() for p in net.parameters()), "ops": ops}
    with open(base + ".json", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"{base}.onnx: {' '.join(ops)}")
    print(f"  output[0]: {' '.join(f'{v:.4f}' for v in y[0].tolist())}")


def main(out):
    torch.set_num_threads(1)  # one summation order, the same bits every run
    os.makedirs(out, exist_ok=True)
    export("lenet5", lenet5, out, seed=5)
    export("convbn", convbn, out, seed=8)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: /usr/bin/python3 tests/onnx/torch_export.py DIR")
    main(sys.argv[1])
