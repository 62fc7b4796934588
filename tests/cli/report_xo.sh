# cnn report on a model that makes no mistakes (the xo preset): the page says
# so instead of an empty table, and every embedded image is a PNG.
set -eu
"$CNN" train --net xo --data xo --epochs 2 --out xo.cnn --quiet
"$CNN" report xo.cnn --data xo --out . > out.txt
python3 - <<'PY'
import base64, re
h = open("report.html").read()
imgs = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([^"]*)">', h)
assert len(imgs) == h.count("<img"), "an image is not an inline PNG"
for b in imgs:
    assert base64.b64decode(b)[:8] == b"\x89PNG\r\n\x1a\n"
# curves, 2 filter grids, 3 images x (input + 8 layers), confusion; no mistakes strip
assert len(imgs) == 1 + 2 + 3 * 9 + 1, len(imgs)
for t in ("layers", "history", "confusion"):
    assert f"<table id={t}>" in h, t
acc = re.search(r"accuracy ([\d.]+)%", h).group(1)
if acc == "100.00":
    assert "No test image was misclassified" in h and "id=mistakes" not in h
else:
    assert "<table id=mistakes>" in h
PY
set +e
"$CNN" report xo.cnn --data /nonexistent 2>/dev/null; [ $? -eq 1 ] || exit 1
"$CNN" report 2>/dev/null; [ $? -eq 2 ] || exit 1
