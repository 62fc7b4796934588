# cnn export writes ONNX that ONNX's own checker passes (full check, strict
# shape inference) and that onnxruntime runs to the probabilities cnn gives
# for the same pixels (1e-5), for seed, lenet, convnet, xo and networks over
# every layer kind and option, and that cnn imports back to the same
# probabilities, bit for bit; a trained lenet scores the same test accuracy
# in onnxruntime as in cnn eval.  Needs scripts/deps.sh test (ONNX, node,
# onnxruntime-node in tests/onnx/node_modules).
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
ort() { node "$repo/tests/onnx/ort_run.js" "$@"; }
check() { /usr/bin/python3 "$repo/tests/onnx/check_model.py" "$@"; }
data="$CNN_TEST_DATA"

# N random pixel images of H x W as PGM files, and their pixels as float32
pixels() { # N H W
    /usr/bin/python3 - "$@" <<'PY'
import random, struct, sys
n, h, w = map(int, sys.argv[1:])
random.seed(h * 1000 + w)
raw = b""
for i in range(n):
    px = bytes(random.randrange(256) for _ in range(h * w))
    open("img%d.pgm" % i, "wb").write(b"P5 %d %d 255\n" % (w, h) + px)
    raw += struct.pack("<%df" % (h * w), *px)
open("pixels.bin", "wb").write(raw)
PY
}

# same MODEL.cnn H W: cnn predict and onnxruntime on 4 random images
same() {
    local model=$1 h=$2 w=$3
    "$CNN" export "$model" --onnx model.onnx
    check model.onnx > check.txt || { cat check.txt; exit 1; }
    pixels 4 "$h" "$w"
    "$CNN" predict "$model" img0.pgm img1.pgm img2.pgm img3.pgm --json > cnn.json
    ort model.onnx pixels.bin 4 1 "$h" "$w" --json > ort.json
    # and imported back (the .onnx as the MODEL): the same probabilities
    "$CNN" predict model.onnx img0.pgm img1.pgm img2.pgm img3.pgm --json > back.json
    cmp cnn.json back.json || { echo "$model: imported back, other probabilities"; exit 1; }
    /usr/bin/python3 - "$model" <<'PY'
import json, sys
cnn = [p["probabilities"] for p in json.load(open("cnn.json"))]
ort = json.load(open("ort.json"))
k = ort["dims"][1]
worst = max(abs(cnn[i][j] - ort["data"][i * k + j]) for i in range(4) for j in range(k))
print("%-60s ops %s: worst |cnn - onnxruntime| %.2g" % (sys.argv[1][:60],
      open("check.txt").read().split("nodes: ")[1].split("\n")[0][:60], worst))
assert worst <= 1e-5, worst
PY
}

train() { # NAME NET [DATA] [LIMIT]
    "$CNN" train --net "$2" --data "${3:-$data}" --limit "${4:-300}" --test-limit 100 --epochs 1 \
        --quiet --out "$1.cnn"
}
train seed seed && same seed.cnn 28 28
train lenet lenet && same lenet.cnn 28 28
train convnet convnet && same convnet.cnn 28 28
train xo xo xo 200 && same xo.cnn 9 9
# every kind and option: pads, strides, ceil, the three poolings, the four
# activations, dropout, flatten, nobias, non-square windows
i=0
while read -r net; do
    i=$((i + 1))
    train "net$i" "$net" && same "net$i.cnn" 28 28
done <<'NETS'
input 28x28 mean 0.2 std 0.4; conv 6 3x5 stride 2 pad 1; tanh; avgpool 3 stride 2 ceil; conv 5 3x3 nobias; sigmoid; sumpool 2; flatten; dense 20; leaky 0.1; dropout 0.3; dense 10; softmax
input 28x28; conv 4 5x5 pad same; leaky 0.2; maxpool 3 stride 2; conv 8 3x3 stride 2; relu; avgpool 2 ceil; dense 12 nobias; tanh; dense 10; softmax
input 28x28 mean 0.5 std 0.25; conv 16 3x3; relu; conv 16 3x3 pad 1; relu; maxpool 2; sumpool 3 stride 2 ceil; dense 10; softmax
input 28x28; maxpool 2; avgpool 3 stride 3 ceil; dense 10; sigmoid; dense 10; softmax
input 28x28; conv 6 3x3 pad 1,0,2,1; relu; maxpool 3 stride 2 pad 1; avgpool 3 stride 2 pad 1,1,0,2 countpad; sumpool 2 pad 1 ceil; dense 10; softmax
input 28x28; conv 16 3x3 pad 1; relu; conv 16 3x3 pad 0,1,1,0; relu; avgpool 2 pad 1 countpad ceil; maxpool 3 stride 2 pad 1 ceil; dense 10; softmax
NETS

# and random networks, drawn from a seed: any kind, window, stride, pads
/usr/bin/python3 - > random_nets.txt <<'PY'
import random
rnd = random.Random(11)
for _ in range(6):
    size, depth, parts = 28, 1, ["input 28x28 mean %.2f std %.2f" % (rnd.uniform(0, 0.5), rnd.uniform(0.2, 1))]
    for _ in range(rnd.randrange(1, 5)):
        k = rnd.choice([1, 2, 3, 5]); s = rnd.choice([1, 1, 2]); p = [rnd.randrange(k) for _ in range(4)]
        kind = rnd.choice(["conv", "conv", "maxpool", "avgpool", "sumpool"])
        if (size + p[0] + p[2] - k) // s + 1 < 2 or (size + p[1] + p[3] - k) // s + 1 < 2:
            continue
        pad = "pad %d,%d,%d,%d" % tuple(p)
        if kind == "conv":
            depth = rnd.choice([2, 4, 16])
            parts.append("conv %d %dx%d stride %d %s%s" % (depth, k, k, s, pad, rnd.choice(["", " nobias"])))
        else:
            parts.append("%s %d stride %d %s%s%s" % (kind, k, s, pad, rnd.choice(["", " ceil"]),
                         " countpad" if kind == "avgpool" and rnd.random() < 0.5 else ""))
        size = (size + p[0] + p[2] - k) // s + 1
        parts.append(rnd.choice(["relu", "tanh", "sigmoid", "leaky 0.05", "dropout 0.2"]))
    parts += ["dense %d" % rnd.randrange(5, 30), rnd.choice(["relu", "tanh"]), "dense 10", "softmax"]
    print("; ".join(parts))
PY
while read -r net; do
    i=$((i + 1))
    train "net$i" "$net" && same "net$i.cnn" 28 28
done < random_nets.txt

# the trained lenet's test accuracy, in onnxruntime and in cnn eval
"$CNN" train --net lenet --data "$data" --limit 3000 --test-limit 1000 --epochs 1 --quiet --out acc.cnn
"$CNN" export acc.cnn --onnx acc.onnx
/usr/bin/python3 - "$data" <<'PY'
import gzip, struct, sys
d = sys.argv[1]
def idx(name):
    for suffix in ("", ".gz"):
        try:
            return (gzip.open if suffix else open)(d + "/" + name + suffix, "rb").read()
        except FileNotFoundError:
            pass
img, lab = idx("t10k-images-idx3-ubyte"), idx("t10k-labels-idx1-ubyte")
n = 1000
open("test.bin", "wb").write(struct.pack("<%df" % (n * 784), *img[16:16 + n * 784]))
open("labels.bin", "wb").write(lab[8:8 + n])
PY
ort acc.onnx test.bin 1000 1 28 28 > probs.bin
"$CNN" eval acc.cnn --data "$data" --limit 1000 --json > eval.json
/usr/bin/python3 - <<'PY'
import json, struct
p = struct.unpack("<10000f", open("probs.bin", "rb").read())
labels = open("labels.bin", "rb").read()
right = sum(max(range(10), key=lambda j: p[i * 10 + j]) == labels[i] for i in range(1000))
cnn = json.load(open("eval.json"))["accuracy"]
print("lenet test accuracy: onnxruntime %.4f, cnn eval %.4f" % (right / 1000, cnn))
assert abs(right / 1000 - cnn) < 1e-9
PY
