#!/usr/bin/python3
"""Checks an ONNX file the way the ONNX project itself does, and says what is
in it: the opset, the nodes' op types in order, and the shapes that shape
inference gives the graph's inputs and outputs.

    /usr/bin/python3 tests/onnx/check_model.py MODEL.onnx [--json]

/usr/bin/python3, since Debian's python3-onnx (ONNX 1.12; scripts/deps.sh
onnx) is seen by the system Python only.  Exit status 1, with the checker's
message on one line of stderr, on a model that fails; 2 on bad arguments.
--json prints the same summary as one JSON object.  The model is checked as
loaded, not by path: in ONNX 1.12, check_model(path, full_check=True) writes
the inferred shapes back into the file.
"""
import json
import sys

import onnx
from onnx import checker, shape_inference


def shape_of(value):
    """[1, 1, 8, 8], with a symbolic dimension as its name and an unknown
    one as None; None for no shape at all."""
    t = value.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in t.shape.dim]


def describe(value, inferred):
    """A graph input or output by name, element type and shape, the shape as
    inference found it where the graph did not declare one."""
    v = inferred.get(value.name, value)
    elem = v.type.tensor_type.elem_type
    return {"name": value.name,
            "type": onnx.TensorProto.DataType.Name(elem).lower() if elem else None,
            "shape": shape_of(v)}


def main(argv):
    args = [a for a in argv if a != "--json"]
    if len(args) != 1:
        print("usage: /usr/bin/python3 tests/onnx/check_model.py MODEL.onnx [--json]", file=sys.stderr)
        return 2
    path = args[0]
    try:
        model = onnx.load(path)
        checker.check_model(model, full_check=True)
        inferred = shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as e:  # the checker's, the inference's, or protobuf's
        msg = " ".join(str(e).split())  # one line: the checker's can span several
        print(f"check_model.py: {path}: {type(e).__name__}: {msg}", file=sys.stderr)
        return 1
    g = inferred.graph
    known = {v.name: v for v in list(g.value_info) + list(g.input) + list(g.output)}
    weights = {t.name for t in model.graph.initializer}  # inputs too, before IR 4
    summary = {
        "ir_version": model.ir_version,
        "opset": next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None),
        "nodes": [n.op_type for n in model.graph.node],
        "inputs": [describe(v, known) for v in model.graph.input if v.name not in weights],
        "outputs": [describe(v, known) for v in model.graph.output],
    }
    if "--json" in argv:
        print(json.dumps(summary))
        return 0
    print(f"{path}: valid (ir_version {summary['ir_version']}, opset {summary['opset']})")
    print("nodes:", " ".join(summary["nodes"]))
    for kind in ("inputs", "outputs"):
        for v in summary[kind]:
            print(f"{kind[:-1]} {v['name']}: {v['type']} {v['shape']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
