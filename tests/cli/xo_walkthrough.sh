# cnn xo: the walkthrough's numbers come out of the real layers with the
# shapes of the classic explanation (9x9 -> 7x7 -> 4x4 -> 2x2, 12 votes), match
# values a person can check, the votes pick the right letter, the trained
# preset reaches 100% held out, and --out writes the pictures.
set -eu
"$CNN" xo --json > xo.json
python3 - <<'PY'
import json
j = json.load(open("xo.json"))
def dims(a):
    return [len(a)] + dims(a[0]) if isinstance(a, list) else []
for k in ("x", "o", "deformed"):
    w = j[k]
    assert dims(w["input"]) == [9, 9], k
    assert dims(w["match"]) == [3, 7, 7] and dims(w["relu"]) == [3, 7, 7], k
    assert dims(w["pool1"]) == [3, 4, 4] and dims(w["pool2"]) == [3, 2, 2], k
    assert len(w["votes"]) == 12, k
    for f in range(3):
        for y in range(7):
            for x in range(7):
                assert w["relu"][f][y][x] == max(0.0, w["match"][f][y][x])
    flat = [v for f in w["pool2"] for row in f for v in row]
    assert flat == w["votes"], (flat, w["votes"])
    assert abs(sum(w["probabilities"]) - 1) < 1e-5
x = j["x"]
assert x["match"][0][1][1] == 1.0          # '\' on the X's stroke from (1,1)
assert abs(x["match"][0][0][0] - 7 / 9) < 1e-6  # with the black border: 7 of 9
assert x["match"][1][3][3] == 1.0          # the crossing at the centre
assert x["pool1"][0][0][0] == 1.0 and abs(x["pool2"][0][0][1] - 5 / 9) < 1e-6
assert (j["x"]["class"], j["o"]["class"], j["deformed"]["class"]) == ("x", "o", "x")
assert len(j["features"]) == 3 and j["features"][0] == [[1, -1, -1], [-1, 1, -1], [-1, -1, 1]]
assert abs(sum(j["vote_weights"]["x"]) - 1) < 1e-5 and abs(sum(j["vote_weights"]["o"]) - 1) < 1e-5
t = j["trained"]
print("trained xo preset:", {k: t[k] for k in ("epochs", "accuracy", "test_images", "test_in_train")})
assert t["accuracy"] == 1.0 and t["test_images"] == 500
assert dims(t["filters"]) == [8, 3, 3]
assert t["canonical"]["x"][0] > 0.5 and t["canonical"]["o"][1] > 0.5
PY
"$CNN" xo --out pics > xo.txt
grep -q "held-out accuracy 100.00%" xo.txt
grep -q "vote for X .* -> X" xo.txt
python3 - <<'PY'
import os, struct
def size(p):
    b = open(p, "rb").read(24)
    assert b[:8] == b"\x89PNG\r\n\x1a\n", p
    return struct.unpack(">II", b[16:24])
names = sorted(os.listdir("pics"))
assert len(names) == 17, names
for n in ("x", "o", "deformed"):
    for s in ("0-input", "1-match", "2-relu", "3-pool1", "4-pool2"):
        w, h = size(f"pics/xo-{n}-{s}.png")
        assert w > 100 and h > 50, (n, s, w, h)
size("pics/xo-features.png"); size("pics/xo-trained-filters.png")
PY
# the command line's own mistakes are usage errors
set +e
"$CNN" xo --bogus 2>/dev/null; [ $? -eq 2 ] || exit 1
"$CNN" xo extra 2>/dev/null; [ $? -eq 2 ] || exit 1
"$CNN" xo --help | grep -q "usage: cnn xo"
