# End to end on MNIST: a small LeNet run must learn (accuracy bar), the model
# must evaluate with the same figure, and predict must read the digit of a
# real test image written as PGM and as PNG-less gray file.
set -eu
data="$CNN_TEST_DATA"
"$CNN" train --net lenet --data "$data" --limit 6000 --test-limit 1000 --epochs 1 \
    --out m.cnn --json > metrics.json
python3 - <<'PY'
import json
rows = [json.loads(l) for l in open("metrics.json")]
assert len(rows) == 1, rows
acc = rows[0]["test_accuracy"]
print("lenet, 6000 images, 1 epoch: test accuracy", acc)
assert acc >= 0.85, acc
PY
"$CNN" eval m.cnn --data "$data" --limit 1000 --json > eval.json
python3 - <<'PY'
import json
e = json.load(open("eval.json"))
t = json.loads(open("metrics.json").read().splitlines()[-1])
assert e["count"] == 1000
assert abs(e["accuracy"] - t["test_accuracy"]) < 1e-6, (e, t)
assert len(e["confusion"]) == 10 and sum(map(sum, e["confusion"])) == 1000
PY
# the first test image (a 7) and the second (a 2) as PGM files
python3 - "$data" <<'PY'
import gzip, sys, os
d = sys.argv[1]
p = os.path.join(d, "t10k-images-idx3-ubyte.gz")
raw = gzip.open(p).read() if os.path.exists(p) else open(p[:-3], "rb").read()
for i, name in ((0, "seven.pgm"), (1, "two.pgm")):
    px = raw[16 + 784 * i: 16 + 784 * (i + 1)]
    open(name, "wb").write(b"P5\n28 28\n255\n" + px)
PY
"$CNN" predict m.cnn seven.pgm two.pgm --json > pred.json
python3 - <<'PY'
import json
p = json.load(open("pred.json"))
assert [r["class"] for r in p] == [7, 2], p
assert all(abs(sum(r["probabilities"]) - 1) < 1e-4 for r in p)
PY
"$CNN" predict m.cnn seven.pgm | grep -q "^seven.pgm: 7 "
