# cnn import, and an .onnx file wherever a MODEL goes: the ONNX project's
# own node tests (Debian's libonnx-testdata) pass within their tolerance for
# every op and attribute the importer takes (tests/onnx/node_tests_pass.txt
# lists them; the others are skipped, each with the reason); PyTorch 1.13's
# exports of a LeNet and of a conv net with BatchNorm (tests/onnx/fixtures)
# give PyTorch's outputs to 1e-5; a model exported and imported back
# predicts the same; and refused or hostile files (an unsupported op,
# truncated, bit-flipped, huge dimensions, a cycle, a missing initializer)
# end with one clear message, exit 1 and nothing saved.
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
conformance="$(dirname "$CNN")/onnx_conformance"
nodes=/usr/include/onnx/backend/test/data/node
[ -d "$nodes" ] || { echo "no $nodes: scripts/deps.sh test installs libonnx-testdata"; exit 1; }

"$conformance" "$nodes"/test_* > conformance.txt || { grep '^FAIL' conformance.txt; exit 1; }
tail -n 1 conformance.txt
while read -r t; do
    grep -q "^pass $t " conformance.txt || { grep " $t[ :]" conformance.txt; echo "$t did not pass"; exit 1; }
done < "$repo/tests/onnx/node_tests_pass.txt"
echo "all $(wc -l < "$repo/tests/onnx/node_tests_pass.txt") node tests the importer takes pass"

for m in lenet5 convbn; do
    f="$repo/tests/onnx/fixtures/$m"
    "$conformance" --raw "$f.onnx" "$f.input.bin" 4 "$f.output.bin" 1e-5
done

# opsets 7 to 17: the same small graph written for each (Softmax's default
# axis, Dropout's ratio and Reshape's shape as each opset has them), run by
# onnxruntime and by cnn
/usr/bin/python3 - <<'PY'
import random, struct
import onnx
from onnx import helper as h, TensorProto as T
rnd = random.Random(3)
def t(name, dims):
    n = 1
    for d in dims:
        n *= d
    return h.make_tensor(name, T.FLOAT, dims, [rnd.uniform(-1, 1) for _ in range(n)])
w, b, g, c = t("w", [4, 1, 3, 3]), t("b", [4]), t("g", [10, 36]), t("c", [10])
shape = h.make_tensor("shape", T.INT64, [2], [0, -1])
for opset in (7, 9, 11, 12, 13, 17):
    drop = ([h.make_node("Dropout", ["p"], ["d"], ratio=0.3)] if opset < 12 else
            [h.make_node("Dropout", ["p", "ratio"], ["d"])])
    inits = [w, b, g, c, shape] + ([] if opset < 12 else [h.make_tensor("ratio", T.FLOAT, [], [0.3])])
    nodes = [h.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             h.make_node("Relu", ["y"], ["r"]),
             h.make_node("MaxPool", ["r"], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1])]
    nodes += drop + [h.make_node("Reshape", ["d", "shape"], ["f"]),
                     h.make_node("Gemm", ["f", "g", "c"], ["z"], transB=1),
                     h.make_node("Softmax", ["z"], ["out"])]
    inputs = [h.make_tensor_value_info("x", T.FLOAT, ["N", 1, 6, 6])]
    if opset < 9:  # IR 3: initializers are graph inputs too
        inputs += [h.make_tensor_value_info(i.name, i.data_type, i.dims) for i in inits]
    graph = h.make_graph(nodes, "g", inputs, [h.make_tensor_value_info("out", T.FLOAT, ["N", 10])],
                         inits)
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 3 if opset < 8 else 7
    onnx.checker.check_model(m)
    onnx.save(m, "opset%d.onnx" % opset)
open("x6.bin", "wb").write(struct.pack("<108f", *[rnd.uniform(0, 1) for _ in range(108)]))
PY
for opset in 7 9 11 12 13 17; do
    node "$repo/tests/onnx/ort_run.js" "opset$opset.onnx" x6.bin 3 1 6 6 > "opset$opset.out"
    "$conformance" --raw "opset$opset.onnx" x6.bin 3 "opset$opset.out" 1e-5
done

# exported and imported back: the same probabilities, the same test score
"$CNN" train --net lenet --data "$CNN_TEST_DATA" --limit 1000 --test-limit 200 --epochs 1 --quiet --out m.cnn
"$CNN" export m.cnn --onnx m.onnx
"$CNN" import m.onnx --out back.cnn
"$CNN" eval m.cnn --data "$CNN_TEST_DATA" --limit 200 --json > a.json
"$CNN" eval back.cnn --data "$CNN_TEST_DATA" --limit 200 --json > b.json
"$CNN" eval m.onnx --data "$CNN_TEST_DATA" --limit 200 --json > c.json
cmp a.json b.json && cmp a.json c.json
echo "round trip: $(cut -c1-40 a.json)"

# refused: one message naming the node, its op and what is supported; no model
refused() { # NAME PATTERN FILE
    local status=0
    "$CNN" import "$3" --out refused.cnn > out.txt 2>&1 || status=$?
    echo "$1: exit $status: $(head -c 200 out.txt)"
    [ "$status" = 1 ] && [ "$(wc -l < out.txt)" = 1 ] && grep -qE "$2" out.txt && [ ! -e refused.cnn ]
}
/usr/bin/python3 - "$CNN_TEST_DATA" <<'PY'
import onnx, random
from onnx import helper as h, TensorProto as T
def model(nodes, inits, name, inputs=None):
    g = h.make_graph(nodes, "g", inputs or [h.make_tensor_value_info("x", T.FLOAT, ["N", 1, 4, 4])],
                     [h.make_tensor_value_info("y", T.FLOAT, None)], inits)
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 13)]), name)
w = h.make_tensor("w", T.FLOAT, [2, 1, 3, 3], [0.5] * 18)
model([h.make_node("Conv", ["x", "w"], ["c"], name="conv0"), h.make_node("Erf", ["c"], ["y"], name="erf1")],
      [w], "unsupported.onnx")
model([h.make_node("Conv", ["x", "nowhere"], ["y"], name="conv0")], [], "missing.onnx")
model([h.make_node("Relu", ["b"], ["a"], name="r0"), h.make_node("Relu", ["a"], ["b"], name="r1"),
       h.make_node("Relu", ["b"], ["y"], name="r2")], [], "cycle.onnx")
big = T(name="w", data_type=T.FLOAT, dims=[1 << 20, 1 << 20, 3, 3], raw_data=b"\0" * 64)
model([h.make_node("Conv", ["x", "w"], ["y"], name="conv0")], [big], "huge.onnx")
# found fuzzing (fuzz/fuzz_onnx.c) and reviewing the importer: a Conv of no
# filters (a BatchNormalization after it divided by 0), a kernel_shape other
# than the weight's, a group and an opset past 2^32 (read as ints: 1 and 13),
# a dimension past 2^28 after a 0 (the product bounded nothing), and an
# empty pads list (memcpy from NULL)
w0 = h.make_tensor("w0", T.FLOAT, [0, 1, 3, 3], [])
none = [h.make_tensor(n, T.FLOAT, [0], []) for n in ("s", "b", "m", "v")]
model([h.make_node("Conv", ["x", "w0"], ["c"], name="conv0"),
       h.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["y"], name="bn1")],
      [w0] + none, "nofilters.onnx")
w9 = h.make_tensor("w", T.FLOAT, [1, 1, 1, 9], [0.5] * 9)
model([h.make_node("Conv", ["x", "w"], ["y"], name="conv0", kernel_shape=[3, 3])], [w9],
      "kernelshape.onnx")
w1 = h.make_tensor("w", T.FLOAT, [1, 1, 1, 1], [0.5])
model([h.make_node("Conv", ["x", "w"], ["y"], name="conv0", group=(1 << 32) + 1)], [w1], "group.onnx")
g = h.make_graph([h.make_node("Relu", ["x"], ["y"])], "g",
                 [h.make_tensor_value_info("x", T.FLOAT, ["N", 3])],
                 [h.make_tensor_value_info("y", T.FLOAT, None)])
onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", (1 << 32) + 13)]), "opset.onnx")
wide = h.make_tensor("w", T.FLOAT, [1, 1, 0, (1 << 32) + 3], [])
model([h.make_node("Conv", ["x", "w"], ["y"], name="conv0", kernel_shape=[3, 3])], [wide], "zerodim.onnx")
pool = h.make_node("MaxPool", ["x"], ["y"], name="pool0", kernel_shape=[2, 2])
pool.attribute.append(onnx.AttributeProto(name="pads", type=onnx.AttributeProto.INTS))
model([pool], [], "emptypads.onnx")
b = open("m.onnx", "rb").read()
open("truncated.onnx", "wb").write(b[: len(b) // 2])
rnd = random.Random(7)
for i in range(40):
    f = bytearray(b)
    for _ in range(8):
        f[rnd.randrange(len(f))] ^= 1 << rnd.randrange(8)
    open("flipped%d.onnx" % i, "wb").write(bytes(f))
PY
refused unsupported "node 'erf1' \(Erf\): not an operator cnn imports; cnn imports Conv" unsupported.onnx
refused missing "node 'conv0' \(Conv\): its weight \('nowhere'\) is not an initializer" missing.onnx
refused cycle "node 'r0' \(Relu\): it does not read 'x'.*without branches or cycles" cycle.onnx
refused huge "tensor 'w': .*(too large|does not match)" huge.onnx
refused truncated "not an ONNX model|does not|tensor" truncated.onnx
refused nofilters "node 'conv0' \(Conv\): a weight of no filters" nofilters.onnx
refused kernelshape "node 'conv0' \(Conv\): a kernel_shape of 3x3 for a weight of 1x9" kernelshape.onnx
refused group "node 'conv0' \(Conv\): group 4294967297 over 1 channels" group.onnx
refused opset "the graph: opset 4294967309 \(cnn reads opsets 7 to 17\)" opset.onnx
refused zerodim "tensor 'w': a negative or too large dimension" zerodim.onnx
"$CNN" import emptypads.onnx --out emptypads.cnn > out.txt
echo "emptypads: $(head -c 100 out.txt)"
# bit flips: each one imports or is refused cleanly, never a crash
for i in $(seq 0 39); do
    status=0
    "$CNN" import "flipped$i.onnx" --out flipped.cnn > out.txt 2>&1 || status=$?
    [ "$status" = 0 ] || [ "$status" = 1 ] || { cat out.txt; echo "flipped$i: exit $status"; exit 1; }
    [ "$status" = 0 ] || [ ! -e flipped.cnn ]
    rm -f flipped.cnn
done
echo "40 bit-flipped files: each imported or refused with a message"
