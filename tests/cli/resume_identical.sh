# A run stopped after epoch 1 and resumed reaches the same weights, bit for
# bit, as an uninterrupted run with the same seed.
set -eu
data="$CNN_TEST_DATA"
args="--net lenet --data $data --limit 1500 --test-limit 200 --seed 5 --quiet"
"$CNN" train $args --epochs 2 --out full.cnn
"$CNN" train $args --epochs 1 --out part.cnn
"$CNN" train $args --epochs 2 --out part.cnn --resume

python3 - <<'PY'
# the weights (PARM section) must match exactly; the dates differ
def params(path):
    b = open(path, "rb").read()
    i = b.index(b"PARM")
    n = int.from_bytes(b[i + 4:i + 12], "little")
    return b[i + 12:i + 12 + n]
assert params("full.cnn") == params("part.cnn"), "resumed weights differ"
print("resumed run is bit-identical")
PY
