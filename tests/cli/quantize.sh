# cnn quantize: a trained model made int8 (post-training, calibrated on its
# training images) keeps its test accuracy within 0.3 points and its loss
# within 0.01; it really runs in int8 (its loss is not the float one), the
# same bytes on every SIMD path (the integer products are exact), for every
# layer kind int8 takes; the file is version 3 and a damaged one is refused;
# training an int8 model, exporting it to ONNX and bad options are refused
# with one clear message.
set -eu
data="$CNN_TEST_DATA"
"$CNN" train --net lenet --data "$data" --epochs 3 --out m.cnn > /dev/null
spec='input 28x28x1 mean 0.1307 std 0.3081
conv 6 5x5 pad 2
tanh
avgpool 2
conv 8 3x3 stride 2 pad 1,1,0,0
leaky 0.1
sumpool 3 stride 2 pad 1 ceil
conv 12 3x3 nobias
sigmoid
maxpool 2 stride 1 pad 1
flatten
dropout 0.2
dense 32
relu
dense 10
softmax'
"$CNN" train --net "$spec" --data "$data" --epochs 3 --optimizer adam --lr 0.002 --out kinds.cnn > /dev/null
for m in m kinds; do
    "$CNN" quantize $m.cnn --data "$data" --out ${m}8.cnn
    "$CNN" eval $m.cnn --data "$data" --json > $m.json
    "$CNN" eval ${m}8.cnn --data "$data" --json > ${m}8.json
    CNN_SIMD=generic "$CNN" eval ${m}8.cnn --data "$data" --json > ${m}8-generic.json
    cmp ${m}8.json ${m}8-generic.json
done
python3 - <<'PY'
import json
for m in ("m", "kinds"):
    f = json.load(open(m + ".json"))
    q = json.load(open(m + "8.json"))
    print(f"{m}: float {f['accuracy']:.4f} loss {f['loss']:.5f}, int8 {q['accuracy']:.4f} loss {q['loss']:.5f}")
    assert q["count"] == f["count"] == 1000
    assert abs(q["accuracy"] - f["accuracy"]) <= 0.003, (f["accuracy"], q["accuracy"])
    assert abs(q["loss"] - f["loss"]) <= 0.01, (f["loss"], q["loss"])
    assert q["loss"] != f["loss"], "the int8 model ran in float"
    assert f["accuracy"] >= (0.94 if m == "m" else 0.80), f["accuracy"]
raw = open("m8.cnn", "rb").read()
assert raw[8:12] == b"\x03\0\0\0", raw[8:12]
assert open("m.cnn", "rb").read()[8:12] == b"\x02\0\0\0"
# a range turned inside out (lo > hi), the checksum made right again
import struct, zlib
at = raw.index(b"QUNT") + 4 + 8 + 4
bad = bytearray(raw)
bad[at:at + 8] = struct.pack("<ff", 1.0, -1.0)
bad[-4:] = struct.pack("<I", zlib.crc32(bytes(bad[:-4])))
open("bad8.cnn", "wb").write(bytes(bad))
PY
# the first test image (a 7), through the int8 model
python3 - "$data" <<'PY'
import gzip, os, sys
raw = gzip.open(os.path.join(sys.argv[1], "t10k-images-idx3-ubyte.gz")).read()
open("seven.pgm", "wb").write(b"P5 28 28 255\n" + raw[16:16 + 784])
PY
"$CNN" predict m8.cnn seven.pgm | grep -q ': 7 ('
expect_fail() { # STATUS PATTERN COMMAND...: exits STATUS, says PATTERN
    local want=$1 pattern=$2 rc=0
    shift 2
    "$@" > out.txt 2>&1 || rc=$?
    [ "$rc" = "$want" ] || { cat out.txt; echo "exit $rc, not $want: $*"; exit 1; }
    grep -q "$pattern" out.txt || { cat out.txt; echo "no '$pattern': $*"; exit 1; }
}
expect_fail 1 "corrupt" "$CNN" eval bad8.cnn --data "$data"
expect_fail 1 "int8 network runs inference only" "$CNN" train --net m8.cnn --data "$data" \
    --epochs 1 --out again.cnn
[ ! -e again.cnn ]
expect_fail 1 "int8" "$CNN" export m8.cnn --onnx m8.onnx
[ ! -e m8.onnx ]
expect_fail 2 "quantize" "$CNN" quantize m.cnn
expect_fail 2 "images" "$CNN" quantize m.cnn --out x.cnn --images 0
expect_fail 1 "" "$CNN" quantize no-such.cnn --out x.cnn
[ ! -e x.cnn ]
echo "int8 within 0.3 points and 0.01 loss of float, the same on every path; bad input refused"
