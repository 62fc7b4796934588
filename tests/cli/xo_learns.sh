# The xo preset reaches 100% on a held-out generated X-or-O set.
set -eu
"$CNN" train --net xo --data xo --out xo.cnn --quiet
"$CNN" eval xo.cnn --data xo --json > e.json
python3 -c 'import json; e = json.load(open("e.json")); print(e); assert e["accuracy"] == 1.0 and e["count"] == 500'
