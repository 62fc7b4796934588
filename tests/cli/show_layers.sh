# cnn show: every layer's output for one image, as PNGs and as numbers that
# fit together (max pooling of the conv output, probabilities summing to 1).
set -eu
"$CNN" train --net seed --data "$CNN_TEST_DATA" --limit 500 --test-limit 200 --epochs 1 \
    --out m.cnn --quiet
python3 - "$CNN_TEST_DATA" <<'PY'
import gzip, os, sys
p = os.path.join(sys.argv[1], "t10k-images-idx3-ubyte.gz")
raw = gzip.open(p).read() if os.path.exists(p) else open(p[:-3], "rb").read()
open("seven.pgm", "wb").write(b"P5\n28 28\n255\n" + raw[16:16 + 784])
PY
"$CNN" show m.cnn seven.pgm --out maps --json > s.json
python3 - <<'PY'
import json, os, struct
s = json.load(open("s.json"))
L = s["layers"]
assert [l["layer"] for l in L] == ["input", "conv", "maxpool", "dense", "softmax"], L
assert [l["shape"] for l in L] == [[1, 28, 28], [8, 26, 26], [8, 13, 13], [10, 1, 1], [10, 1, 1]]
for l in L:
    c, h, w = l["shape"]
    assert len(l["values"]) == c * h * w, l["layer"]
conv, pool = L[1]["values"], L[2]["values"]
for c in range(8):
    for y in range(13):
        for x in range(13):
            m = max(conv[(c * 26 + 2 * y + dy) * 26 + 2 * x + dx] for dy in (0, 1) for dx in (0, 1))
            assert abs(pool[(c * 13 + y) * 13 + x] - m) < 1e-6
# the input as the network saw it: (p / 255 - 0.5) / 1, and the top-left is blank
assert abs(L[0]["values"][0] + 0.5) < 1e-6
assert L[4]["values"] == s["probabilities"] or max(
    abs(a - b) for a, b in zip(L[4]["values"], s["probabilities"])) < 1e-5
assert abs(sum(s["probabilities"]) - 1) < 1e-4
assert s["class"] == max(range(10), key=lambda k: s["probabilities"][k])
def size(p):
    b = open(p, "rb").read(24)
    assert b[:8] == b"\x89PNG\r\n\x1a\n", p
    return struct.unpack(">II", b[16:24])
files = sorted(os.listdir("maps"))
assert files == ["00-input.png", "01-conv-filters.png", "01-conv.png", "02-maxpool.png",
                 "03-dense.png", "04-softmax.png"], files
w, h = size("maps/01-conv.png")
assert w > 8 * 26 and h > 2 * 26, (w, h)
PY
"$CNN" show m.cnn seven.pgm > out.txt # default folder: show/
grep -q "^seven.pgm: " out.txt && [ -f show/01-conv.png ]
set +e
"$CNN" show m.cnn 2>/dev/null; [ $? -eq 2 ] || exit 1
"$CNN" show m.cnn missing.png 2>/dev/null; [ $? -eq 1 ] || exit 1
